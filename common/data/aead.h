/* A prepared AEAD key for the data plane: one GnuTLS AEAD handle per key, made once when the
 * key is installed and reused for every packet, so sealing and opening allocate nothing.
 * Ciphers are the two the channel negotiates (chanparams.h): AES-256-GCM and
 * ChaCha20-Poly1305, both with 12-byte nonces and 16-byte tags. The handle owns the key
 * schedule; aead_free() releases it and wipes what GnuTLS gives back. */
#ifndef INSEL_AEAD_H
#define INSEL_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chanparams.h"

#define AEAD_NONCE_LEN 12
#define AEAD_TAG_LEN 16

struct aead {
	void *handle;  /* gnutls_aead_cipher_hd_t; NULL when no key is installed */
	enum sec_cipher cipher;
};

/* Installs key (SEC_KEY_LEN bytes); 0, -EINVAL for an unknown cipher, or INSEL_E_CRYPTO. */
int aead_init(struct aead *a, enum sec_cipher cipher, const uint8_t key[SEC_KEY_LEN]);
bool aead_ready(const struct aead *a);
/* Releases the handle (GnuTLS wipes the key schedule); safe on a zeroed or freed aead. */
void aead_free(struct aead *a);

/* Encrypts ptext (plen bytes) into out as ciphertext followed by the tag, authenticating
 * ad too; out needs plen + AEAD_TAG_LEN bytes of room (out_cap). Returns the bytes written
 * or INSEL_E_NOSPACE / INSEL_E_CRYPTO. */
long aead_seal(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const void *ad,
	       size_t ad_len, const void *ptext, size_t plen, uint8_t *out, size_t out_cap);
/* Verifies and decrypts ctext (clen bytes, tag included) into out. Returns the plaintext
 * length, INSEL_E_AUTH if the tag does not verify (out is then garbage), INSEL_E_TRUNCATED
 * if ctext is shorter than a tag, or INSEL_E_NOSPACE. */
long aead_open(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN], const void *ad,
	       size_t ad_len, const void *ctext, size_t clen, uint8_t *out, size_t out_cap);

#endif
