/* A private key that another process holds (the secondary's key holder): GnuTLS gets an
 * external key whose signatures are asked of a struct tls_signer, so the key itself is
 * never read into a process that talks to the network. Used by tls_creds.c for
 * tls_creds_load_signer and tls_creds_replace. */
#include "tls.h"

#include <gnutls/abstract.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "tls_priv.h"

#define TLS_CHAIN_MAX 8

/* What GnuTLS's external key calls back with; owned by that key (freed with it), so that
 * credentials replaced while sessions still use them keep signing with their own key. */
struct external_key {
	struct tls_signer signer;
	uint8_t spki[TLS_SPKI_MAX];  /* signer.spki points here */
};

/* GnuTLS hashes before it calls an external ECDSA key, so this gets the digest. */
static int external_sign_hash(gnutls_privkey_t key, gnutls_sign_algorithm_t algo,
			      void *userdata, unsigned flags, const gnutls_datum_t *digest,
			      gnutls_datum_t *signature)
{
	const struct tls_signer *sg = &((struct external_key *)userdata)->signer;
	uint8_t sig[1024];
	int n;

	(void)key;
	(void)flags;
	n = sg->sign(sg->ctx, sg->spki, sg->spki_len, (unsigned)algo, digest->data,
		     digest->size, sig, sizeof sig);
	if (n <= 0)
		return GNUTLS_E_PK_SIGN_FAILED;
	signature->data = gnutls_malloc((size_t)n);
	if (!signature->data)
		return GNUTLS_E_MEMORY_ERROR;
	memcpy(signature->data, sig, (size_t)n);
	signature->size = (unsigned)n;
	return 0;
}

static int external_info(gnutls_privkey_t key, unsigned flags, void *userdata)
{
	const struct tls_signer *sg = &((struct external_key *)userdata)->signer;

	(void)key;
	if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO)
		return sg->can_sign(sg->ctx, sg->pk_algo, sg->bits,
				    GNUTLS_FLAGS_TO_SIGN_ALGO(flags))
			       ? 1
			       : 0;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO)
		return (int)sg->pk_algo;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS)
		return (int)sg->bits;
	return -1;
}

static void external_free(gnutls_privkey_t key, void *userdata)
{
	(void)key;
	free(userdata);
}

/* The certificate's public key must be the one the signer holds: the same DER. */
static int check_signer_key(const struct tls_signer *sg, gnutls_pcert_st *pcert,
			    const char *cert_file, char *err, size_t errlen)
{
	gnutls_datum_t der = {NULL, 0};
	bool same;

	if (gnutls_pubkey_export2(pcert->pubkey, GNUTLS_X509_FMT_DER, &der) < 0)
		return err_set(err, errlen, INSEL_E_CONFIG, "cannot read the public key of %s",
				  cert_file);
	same = der.size == sg->spki_len && memcmp(der.data, sg->spki, der.size) == 0;
	gnutls_free(der.data);
	if (!same)
		return err_set(err, errlen, INSEL_E_CONFIG,
				  "%s is not the certificate of the key the key holder has",
				  cert_file);
	return 0;
}

/* A GnuTLS private key whose operations are signer's; NULL if out of memory. */
static gnutls_privkey_t external_key_new(const struct tls_signer *signer)
{
	struct external_key *ek = calloc(1, sizeof *ek);
	gnutls_privkey_t key = NULL;

	if (!ek || signer->spki_len > sizeof ek->spki)
		goto fail;
	ek->signer = *signer;
	memcpy(ek->spki, signer->spki, signer->spki_len);
	ek->signer.spki = ek->spki;
	if (gnutls_privkey_init(&key) < 0)
		goto fail;
	if (gnutls_privkey_import_ext4(key, ek, NULL, external_sign_hash, NULL, external_free,
				       external_info, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0)
		goto fail;
	return key;  /* it owns ek now */
fail:
	if (key)
		gnutls_privkey_deinit(key);
	free(ek);
	return NULL;
}

int tls_signer_install(gnutls_certificate_credentials_t cred, const gnutls_datum_t *cert,
		       const char *cert_file, const struct tls_signer *signer, char *err,
		       size_t errlen)
{
	gnutls_pcert_st pcerts[TLS_CHAIN_MAX];
	unsigned n = TLS_CHAIN_MAX;
	gnutls_privkey_t key = NULL;
	int rc, grc;

	grc = gnutls_pcert_list_import_x509_raw(pcerts, &n, cert, GNUTLS_X509_FMT_PEM, 0);
	if (grc < 0 || n == 0)
		return err_set(err, errlen, INSEL_E_CONFIG, "%s is not a PEM certificate",
				  cert_file);
	rc = check_signer_key(signer, &pcerts[0], cert_file, err, errlen);
	if (!rc && !(key = external_key_new(signer)))
		rc = err_set(err, errlen, INSEL_E_CRYPTO, "cannot set up the external key");
	/* The match was checked above on the public key; GnuTLS's own check would ask for
	 * a signature of a test message, which the holder rightly refuses. */
	if (!rc) {
		gnutls_certificate_set_flags(cred, GNUTLS_CERTIFICATE_SKIP_KEY_CERT_MATCH);
		grc = gnutls_certificate_set_key(cred, NULL, 0, pcerts, n, key);
		if (grc < 0)
			rc = err_set(err, errlen, INSEL_E_CONFIG, "cannot use %s: %s", cert_file,
					gnutls_strerror(grc));
	}
	if (rc) {  /* on success, the credentials own the certificates and the key */
		for (unsigned i = 0; i < n; i++)
			gnutls_pcert_deinit(&pcerts[i]);
		if (key)
			gnutls_privkey_deinit(key);
	}
	return rc;
}
