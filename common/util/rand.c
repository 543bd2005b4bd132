/* Randomness for keys and identifiers (see rand.h). */
#include "rand.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static void rng_fill(gnutls_rnd_level_t level, void *out, size_t len)
{
	if (gnutls_rnd(level, out, len) != 0) {
		fputs("insel: the random number generator failed; stopping\n", stderr);
		abort();
	}
}

void rand_key(void *out, size_t len)
{
	rng_fill(GNUTLS_RND_KEY, out, len);
}

void rand_nonce(void *out, size_t len)
{
	rng_fill(GNUTLS_RND_NONCE, out, len);
}

uint64_t rand_id64(void)
{
	uint64_t v;

	do
		rand_nonce(&v, sizeof v);
	while (v == 0);
	return v;
}

uint32_t rand_id32(void)
{
	uint32_t v;

	do
		rand_nonce(&v, sizeof v);
	while (v == 0);
	return v;
}

uint64_t rand_backoff_ms(uint64_t *backoff_ms, uint64_t first_ms, uint64_t max_ms)
{
	uint32_t jitter;

	*backoff_ms = *backoff_ms ? *backoff_ms * 2 : first_ms;
	if (*backoff_ms > max_ms)
		*backoff_ms = max_ms;
	rand_nonce(&jitter, sizeof jitter);
	return *backoff_ms / 2 + jitter % (*backoff_ms / 2 + 1);
}

char *id_format(uint64_t id, char out[ID_STRLEN])
{
	snprintf(out, ID_STRLEN, "%016llx", (unsigned long long)id);
	return out;
}

int id_parse(const char *text, uint64_t *out)
{
	uint64_t v = 0;

	if (!text || strlen(text) != 16)
		return INSEL_E_MALFORMED;
	for (int i = 0; i < 16; i++) {
		char ch = text[i];
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return INSEL_E_MALFORMED;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}
