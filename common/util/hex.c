/* Hexadecimal encoding (see hex.h). */
#include "hex.h"

#include <stdint.h>

#include "err.h"

void hex_encode(const void *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *text, size_t textlen, void *out, size_t n)
{
	uint8_t *b = out;

	if (textlen != 2 * n)
		return INSEL_E_MALFORMED;
	for (size_t i = 0; i < n; i++) {
		int hi = digit_value(text[2 * i]), lo = digit_value(text[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return INSEL_E_MALFORMED;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
