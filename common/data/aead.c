/* AEAD keys prepared once and reused per packet (see aead.h). */
#include "aead.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "buf.h"
#include "err.h"

static gnutls_cipher_algorithm_t gnutls_algorithm(enum sec_cipher c)
{
	switch (c) {
	case SEC_CIPHER_AES256GCM:
		return GNUTLS_CIPHER_AES_256_GCM;
	case SEC_CIPHER_CHACHA20POLY1305:
		return GNUTLS_CIPHER_CHACHA20_POLY1305;
	case SEC_CIPHER_NONE:
		break;
	}
	return GNUTLS_CIPHER_UNKNOWN;
}

int aead_init(struct aead *a, enum sec_cipher cipher, const uint8_t key[SEC_KEY_LEN])
{
	gnutls_cipher_algorithm_t alg = gnutls_algorithm(cipher);
	uint8_t copy[SEC_KEY_LEN];
	gnutls_datum_t datum = {copy, SEC_KEY_LEN};
	gnutls_aead_cipher_hd_t hd;
	int rc;

	a->handle = NULL;
	a->cipher = SEC_CIPHER_NONE;
	if (alg == GNUTLS_CIPHER_UNKNOWN)
		return -EINVAL;
	/* GnuTLS takes a non-const datum; give it a copy we can wipe. */
	memcpy(copy, key, SEC_KEY_LEN);
	rc = gnutls_aead_cipher_init(&hd, alg, &datum);
	secure_wipe(copy, sizeof copy);
	if (rc < 0)
		return INSEL_E_CRYPTO;
	a->handle = hd;
	a->cipher = cipher;
	return 0;
}

bool aead_ready(const struct aead *a)
{
	return a->handle != NULL;
}

void aead_free(struct aead *a)
{
	if (a->handle)
		gnutls_aead_cipher_deinit(a->handle);
	a->handle = NULL;
	a->cipher = SEC_CIPHER_NONE;
}

long aead_seal(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const void *ad,
	       size_t ad_len, const void *ptext, size_t plen, uint8_t *out, size_t out_cap)
{
	size_t out_len = out_cap;

	if (!a->handle)
		return -EINVAL;
	if (plen > out_cap || out_cap - plen < AEAD_TAG_LEN)
		return INSEL_E_NOSPACE;
	if (gnutls_aead_cipher_encrypt(a->handle, nonce, AEAD_NONCE_LEN, ad, ad_len,
				       AEAD_TAG_LEN, ptext, plen, out, &out_len) < 0)
		return INSEL_E_CRYPTO;
	return (long)out_len;
}

long aead_open(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const void *ad,
	       size_t ad_len, const void *ctext, size_t clen, uint8_t *out, size_t out_cap)
{
	size_t out_len = out_cap;

	if (!a->handle)
		return -EINVAL;
	if (clen < AEAD_TAG_LEN)
		return INSEL_E_TRUNCATED;
	if (out_cap < clen - AEAD_TAG_LEN)
		return INSEL_E_NOSPACE;
	if (gnutls_aead_cipher_decrypt(a->handle, nonce, AEAD_NONCE_LEN, ad, ad_len,
				       AEAD_TAG_LEN, ctext, clen, out, &out_len) < 0)
		return INSEL_E_AUTH;
	return (long)out_len;
}
