/* Salted PBKDF2-SHA256 password hashes (see passwd.h). */
#include "passwd.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "hex.h"
#include "rand.h"

static int derive(const char *password, const uint8_t *salt, size_t salt_len,
		  unsigned iterations, uint8_t key[PASSWD_KEY_LEN])
{
	gnutls_datum_t pw = {(unsigned char *)password, (unsigned)strlen(password)};
	gnutls_datum_t s = {(unsigned char *)salt, (unsigned)salt_len};

	if (gnutls_pbkdf2(GNUTLS_MAC_SHA256, &pw, &s, iterations, key, PASSWD_KEY_LEN) < 0)
		return INSEL_E_CRYPTO;
	return 0;
}

static bool password_acceptable(const char *password)
{
	size_t len = password ? strnlen(password, PASSWD_MAX_LEN + 1) : 0;

	return len > 0 && len <= PASSWD_MAX_LEN;
}

int passwd_hash(const char *password, unsigned iterations, char *out, size_t outlen)
{
	uint8_t salt[PASSWD_SALT_LEN], key[PASSWD_KEY_LEN];
	char salt_hex[2 * PASSWD_SALT_LEN + 1], key_hex[2 * PASSWD_KEY_LEN + 1];
	int rc, n;

	if (!password_acceptable(password) || iterations < PASSWD_MIN_ITERATIONS ||
	    iterations > PASSWD_MAX_ITERATIONS)
		return INSEL_E_BAD_FIELD;
	rand_nonce(salt, sizeof salt);
	rc = derive(password, salt, sizeof salt, iterations, key);
	if (rc)
		return rc;
	hex_encode(salt, sizeof salt, salt_hex);
	hex_encode(key, sizeof key, key_hex);
	secure_wipe(key, sizeof key);
	n = snprintf(out, outlen, PASSWD_SCHEME "$%u$%s$%s", iterations, salt_hex, key_hex);
	secure_wipe(key_hex, sizeof key_hex);
	return n < 0 || (size_t)n >= outlen ? INSEL_E_NOSPACE : 0;
}

struct parsed_hash {
	unsigned iterations;
	uint8_t salt[PASSWD_SALT_LEN];
	uint8_t key[PASSWD_KEY_LEN];
};

static int parse_hash(const char *stored, struct parsed_hash *h)
{
	const char *p = stored, *dollar;
	char *end;
	unsigned long iter;

	if (strncmp(p, PASSWD_SCHEME "$", sizeof PASSWD_SCHEME) != 0)
		return INSEL_E_MALFORMED;
	p += sizeof PASSWD_SCHEME;
	if (*p < '1' || *p > '9')
		return INSEL_E_MALFORMED;
	iter = strtoul(p, &end, 10);
	if (*end != '$' || iter < PASSWD_MIN_ITERATIONS || iter > PASSWD_MAX_ITERATIONS)
		return INSEL_E_MALFORMED;
	h->iterations = (unsigned)iter;
	p = end + 1;
	dollar = strchr(p, '$');
	if (!dollar || hex_decode(p, (size_t)(dollar - p), h->salt, sizeof h->salt))
		return INSEL_E_MALFORMED;
	p = dollar + 1;
	return hex_decode(p, strlen(p), h->key, sizeof h->key);
}

int passwd_verify(const char *password, const char *stored)
{
	struct parsed_hash h;
	uint8_t key[PASSWD_KEY_LEN];
	int rc;

	if (!stored || parse_hash(stored, &h))
		return INSEL_E_MALFORMED;
	if (!password_acceptable(password)) {
		passwd_verify_dummy("x", h.iterations);
		return INSEL_E_AUTH;
	}
	rc = derive(password, h.salt, sizeof h.salt, h.iterations, key);
	if (!rc)
		rc = gnutls_memcmp(key, h.key, sizeof key) == 0 ? 0 : INSEL_E_AUTH;
	secure_wipe(key, sizeof key);
	secure_wipe(&h, sizeof h);
	return rc;
}

void passwd_verify_dummy(const char *password, unsigned iterations)
{
	static const uint8_t salt[PASSWD_SALT_LEN];
	uint8_t key[PASSWD_KEY_LEN];

	if (iterations < PASSWD_MIN_ITERATIONS || iterations > PASSWD_MAX_ITERATIONS)
		iterations = PASSWD_DEFAULT_ITERATIONS;
	derive(password_acceptable(password) ? password : "x", salt, sizeof salt, iterations,
	       key);
	secure_wipe(key, sizeof key);
}
