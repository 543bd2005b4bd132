/* libFuzzer target: the key holder's message parsers (secondary/keyholder.h). The holder
 * parses what the daemon asks (the daemon may be compromised); the daemon parses what the
 * holder answers. Whatever the bytes, a parser must not read past them, every view it
 * returns must lie inside them and within its limit, and a message it accepts must encode
 * back to exactly the same bytes (one message, one encoding: nothing may trail it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyholder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *msg, size_t size, const uint8_t *p, size_t n, size_t max)
{
	if (n > max || (n && (p < msg || p + n > msg + size)))
		abort();
}

static void same_again(const uint8_t *msg, size_t size, int n, const uint8_t *again)
{
	if (n < 0 || (size_t)n != size || memcmp(msg, again, size) != 0)
		abort();
}

static void check_request(const uint8_t *msg, size_t size)
{
	uint8_t again[KEYHOLDER_MSG_MAX];
	struct keyholder_msg m;

	if (keyholder_parse_request(msg, size, &m) != 0)
		return;
	inside(msg, size, m.data, m.data_len, KEYHOLDER_DATA_MAX);
	inside(msg, size, m.name, m.name_len, KEYHOLDER_NAME_MAX);
	(void)keyholder_sign_allowed(0x04, 256, m.sign_algo, m.data_len);
	same_again(msg, size, keyholder_encode_request(&m, again, sizeof again), again);
}

static void check_reply(const uint8_t *msg, size_t size)
{
	uint8_t again[KEYHOLDER_MSG_MAX];
	struct keyholder_msg m;

	if (keyholder_parse_reply(msg, size, &m) != 0)
		return;
	inside(msg, size, m.sig, m.sig_len, KEYHOLDER_SIG_MAX);
	inside(msg, size, m.csr, m.csr_len, KEYHOLDER_CSR_MAX);
	if (m.key.spki_len > KEYHOLDER_SPKI_MAX)
		abort();
	same_again(msg, size, keyholder_encode_reply(&m, again, sizeof again), again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy of exactly size bytes, so that ASan sees any over-read. */
	uint8_t *msg = malloc(size ? size : 1);

	if (!msg)
		return 0;
	memcpy(msg, data, size);
	check_request(msg, size);
	check_reply(msg, size);
	free(msg);
	return 0;
}
