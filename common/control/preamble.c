/* The peer-connection preamble (preamble.h): 32 bytes read through the bounds-checked
 * reader, refused at the first byte that cannot belong to one, so that a listener never
 * waits for the rest of something that is not a preamble. */
#include "preamble.h"

#include <string.h>

#include "buf.h"
#include "err.h"
#include "hex.h"

static const uint8_t magic[4] = {'I', 'N', 'S', 'L'};

void preamble_encode(const struct preamble *p, uint8_t out[PREAMBLE_LEN])
{
	struct buf_writer w;

	bw_init(&w, out, PREAMBLE_LEN);
	bw_bytes(&w, magic, sizeof magic);
	bw_u8(&w, PREAMBLE_VERSION);
	bw_u8(&w, (uint8_t)p->end);
	bw_u16(&w, 0);
	bw_u64(&w, p->call_id);
	bw_bytes(&w, p->token, PREAMBLE_TOKEN_LEN);
}

/* Whether the first n bytes at hand (n < PREAMBLE_LEN) can still begin a preamble: the
 * fixed bytes are checked as far as they have come. */
static bool prefix_plausible(const uint8_t *data, size_t n)
{
	static const uint8_t fixed[8] = {'I', 'N', 'S', 'L', PREAMBLE_VERSION, 0, 0, 0};

	for (size_t i = 0; i < n && i < sizeof fixed; i++) {
		if (i == 5) {
			if (data[i] != PREAMBLE_CALLER && data[i] != PREAMBLE_CALLEE)
				return false;
		} else if (data[i] != fixed[i]) {
			return false;
		}
	}
	return true;
}

int preamble_decode(const uint8_t *data, size_t len, struct preamble *out)
{
	struct buf_reader r;
	uint8_t head[4], version, end;
	uint16_t reserved;

	if (len < PREAMBLE_LEN)
		return prefix_plausible(data, len) ? 0 : INSEL_E_MALFORMED;
	br_init(&r, data, PREAMBLE_LEN);
	br_copy(&r, head, sizeof head);
	br_u8(&r, &version);
	br_u8(&r, &end);
	br_u16(&r, &reserved);
	br_u64(&r, &out->call_id);
	br_copy(&r, out->token, PREAMBLE_TOKEN_LEN);
	if (br_error(&r) || memcmp(head, magic, sizeof magic) != 0 ||
	    version != PREAMBLE_VERSION || reserved != 0 || out->call_id == 0 ||
	    (end != PREAMBLE_CALLER && end != PREAMBLE_CALLEE))
		return INSEL_E_MALFORMED;
	out->end = (enum preamble_end)end;
	return PREAMBLE_LEN;
}

bool preamble_token_equal(const uint8_t a[PREAMBLE_TOKEN_LEN],
			  const uint8_t b[PREAMBLE_TOKEN_LEN])
{
	uint8_t diff = 0;

	for (size_t i = 0; i < PREAMBLE_TOKEN_LEN; i++)
		diff |= (uint8_t)(a[i] ^ b[i]);
	return diff == 0;
}

void preamble_token_hex(const uint8_t token[PREAMBLE_TOKEN_LEN],
			char out[PREAMBLE_TOKEN_HEX + 1])
{
	hex_encode(token, PREAMBLE_TOKEN_LEN, out);
}

int preamble_token_parse(const char *hex, uint8_t out[PREAMBLE_TOKEN_LEN])
{
	if (!hex || strlen(hex) != PREAMBLE_TOKEN_HEX ||
	    hex_decode(hex, PREAMBLE_TOKEN_HEX, out, PREAMBLE_TOKEN_LEN) != 0)
		return INSEL_E_BAD_FIELD;
	return 0;
}

const char *preamble_end_name(enum preamble_end e)
{
	return e == PREAMBLE_CALLER ? "caller" : e == PREAMBLE_CALLEE ? "callee" : "?";
}
