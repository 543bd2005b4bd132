/* TLS credentials: the organisation CA that peers must chain to, this party's own
 * certificate and its private key (a file, or a key another process holds: tls_signer.c),
 * checked against each other when loaded so that a mix-up names the wrong file at start
 * instead of failing every handshake later.
 *
 * A renewed certificate replaces the credentials for new sessions only; the credentials
 * that open sessions were made with are kept (retired) until the last of them is freed.
 * Sessions tell us when they open and close (tls_session.c). */
#include "tls.h"

#include <errno.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "tls_priv.h"

/* Credentials replaced while sessions made with them were still open (a renewed
 * certificate): kept until the last of those sessions is freed. */
struct tls_retired_cred {
	gnutls_certificate_credentials_t cred;
	unsigned sessions;
	struct tls_retired_cred *next;
};

struct tls_creds {
	gnutls_certificate_credentials_t cred;
	unsigned sessions;          /* open sessions made with cred */
	struct tls_retired_cred *retired;
	char *ca_file;              /* for tls_creds_replace */
	struct pki_identity self;
	tls_revoked_fn revoked;
	void *revoked_ctx;
	unsigned handshake_timeout_ms;
};

static int read_file(const char *path, gnutls_datum_t *out, char *err, size_t errlen)
{
	errno = 0;
	if (gnutls_load_file(path, out) < 0) {
		int e = errno ? errno : EIO;

		return err_set(err, errlen, -e, "cannot read %s: %s", path, strerror(e));
	}
	return 0;
}

static void free_secret(gnutls_datum_t *d)
{
	if (d->data) {
		secure_wipe(d->data, d->size);
		gnutls_free(d->data);
		d->data = NULL;
	}
}

/* Our own certificate must chain to the CA we will demand of peers: catching a mix-up
 * here says which file is wrong, instead of failing every handshake later. */
static int check_own_chain(const gnutls_datum_t *ca_pem, const gnutls_datum_t *cert_pem,
			   const char *ca_file, const char *cert_file, char *err, size_t errlen)
{
	gnutls_x509_crt_t *cas = NULL, own;
	unsigned ncas = 0, status = 0;
	int rc;

	if (gnutls_x509_crt_list_import2(&cas, &ncas, ca_pem, GNUTLS_X509_FMT_PEM, 0) < 0 ||
	    ncas == 0)
		return err_set(err, errlen, INSEL_E_CONFIG, "%s holds no PEM certificate",
				  ca_file);
	rc = gnutls_x509_crt_init(&own);
	if (rc >= 0) {
		rc = gnutls_x509_crt_import(own, cert_pem, GNUTLS_X509_FMT_PEM);
		if (rc >= 0)
			rc = gnutls_x509_crt_verify(own, cas, ncas,
						    GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
							    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
						    &status);
		gnutls_x509_crt_deinit(own);
	}
	for (unsigned i = 0; i < ncas; i++)
		gnutls_x509_crt_deinit(cas[i]);
	gnutls_free(cas);
	if (rc < 0)
		return err_set(err, errlen, INSEL_E_CONFIG, "%s is not a PEM certificate: %s",
				  cert_file, gnutls_strerror(rc));
	if (status)
		return err_set(err, errlen, INSEL_E_CONFIG,
				  "%s is not signed by the CA in %s", cert_file, ca_file);
	return 0;
}

/* What every party with a certificate loads: the CA (trusted for peers), and its own
 * certificate, checked against the CA and read for its identity. */
static int load_public(struct tls_creds *c, const char *ca_file, const char *cert_file,
		       gnutls_datum_t *ca, gnutls_datum_t *cert, char *err, size_t errlen)
{
	int rc = read_file(cert_file, cert, err, errlen);

	if (!rc)
		rc = pki_read_identity(cert_file, &c->self, err, errlen);
	if (!rc)
		rc = check_own_chain(ca, cert, ca_file, cert_file, err, errlen);
	/* Loading still works, so that the peer's refusal names the problem; but say so now. */
	if (!rc && c->self.not_after < (long long)time(NULL))
		log_warn("%s has expired: peers will refuse it", cert_file);
	if (!rc && c->self.not_before > (long long)time(NULL))
		log_warn("%s is not valid yet: peers will refuse it", cert_file);
	if (!rc && gnutls_certificate_set_x509_trust_mem(c->cred, ca, GNUTLS_X509_FMT_PEM) <= 0)
		rc = err_set(err, errlen, INSEL_E_CONFIG, "%s holds no usable CA certificate",
				ca_file);
	return rc;
}

static int set_key_file(struct tls_creds *c, const gnutls_datum_t *cert,
			const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	gnutls_datum_t key = {NULL, 0};
	int rc = read_file(key_file, &key, err, errlen);
	int grc;

	if (rc)
		return rc;
	grc = gnutls_certificate_set_x509_key_mem(c->cred, cert, &key, GNUTLS_X509_FMT_PEM);
	if (grc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
		rc = err_set(err, errlen, INSEL_E_CONFIG, "%s is not the private key of %s",
				key_file, cert_file);
	else if (grc < 0)
		rc = err_set(err, errlen, INSEL_E_CONFIG, "cannot use %s with %s: %s", key_file,
				cert_file, gnutls_strerror(grc));
	free_secret(&key);
	return rc;
}

/* key_file, or else signer, provides the private key; neither: no certificate. */
static int load_into(struct tls_creds *c, const char *ca_file, const char *cert_file,
		     const char *key_file, const struct tls_signer *signer, char *err,
		     size_t errlen)
{
	gnutls_datum_t ca = {NULL, 0}, cert = {NULL, 0};
	int rc;

	rc = read_file(ca_file, &ca, err, errlen);
	if (!rc && !cert_file && !key_file && !signer) {
		/* A party without a certificate (an end user's client): it can only check
		 * servers, and servers that accept it identify it by other means. */
		if (gnutls_certificate_set_x509_trust_mem(c->cred, &ca, GNUTLS_X509_FMT_PEM) <= 0)
			rc = err_set(err, errlen, INSEL_E_CONFIG,
					"%s holds no usable CA certificate", ca_file);
		gnutls_free(ca.data);
		return rc;
	}
	if (!rc)
		rc = load_public(c, ca_file, cert_file, &ca, &cert, err, errlen);
	if (!rc && signer)
		rc = tls_signer_install(c->cred, &cert, cert_file, signer, err, errlen);
	else if (!rc)
		rc = set_key_file(c, &cert, cert_file, key_file, err, errlen);
	gnutls_free(ca.data);
	gnutls_free(cert.data);
	return rc;
}

/* The CA file, kept for tls_creds_replace. */
static int keep_ca_file(struct tls_creds *c, const char *ca_file, char *err, size_t errlen)
{
	if (!(c->ca_file = strdup(ca_file)))
		return err_set(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

static int creds_new(struct tls_creds **out, char *err, size_t errlen)
{
	struct tls_creds *c = calloc(1, sizeof *c);

	if (!c)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	if (gnutls_certificate_allocate_credentials(&c->cred) < 0) {
		free(c);
		return err_set(err, errlen, INSEL_E_CRYPTO, "cannot allocate TLS credentials");
	}
	c->handshake_timeout_ms = TLS_HANDSHAKE_TIMEOUT_MS;
	*out = c;
	return 0;
}

/* Credentials whose private key is a file (key_file) or an external signer. */
static int creds_build(struct tls_creds **out, const char *ca_file, const char *cert_file,
		       const char *key_file, const struct tls_signer *signer, char *err,
		       size_t errlen)
{
	struct tls_creds *c = NULL;
	int rc = creds_new(&c, err, errlen);

	if (rc)
		return rc;
	rc = load_into(c, ca_file, cert_file, key_file, signer, err, errlen);
	if (!rc)
		rc = keep_ca_file(c, ca_file, err, errlen);
	if (rc) {
		tls_creds_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int tls_creds_load(struct tls_creds **out, const char *ca_file, const char *cert_file,
		   const char *key_file, char *err, size_t errlen)
{
	return creds_build(out, ca_file, cert_file, key_file, NULL, err, errlen);
}

int tls_creds_load_signer(struct tls_creds **out, const char *ca_file, const char *cert_file,
			  const struct tls_signer *signer, char *err, size_t errlen)
{
	if (!signer || !signer->sign || !signer->can_sign || !cert_file ||
	    signer->spki_len == 0 || signer->spki_len > TLS_SPKI_MAX)
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "no usable external key");
	return creds_build(out, ca_file, cert_file, NULL, signer, err, errlen);
}

int tls_creds_load_ca_pem(struct tls_creds **out, const void *pem, size_t len, char *err,
			  size_t errlen)
{
	gnutls_datum_t ca = {(unsigned char *)pem, (unsigned)len};
	struct tls_creds *c = NULL;
	int rc;

	if (!pem || len == 0 || len > UINT32_MAX)
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "no CA certificate given");
	rc = creds_new(&c, err, errlen);
	if (rc)
		return rc;
	if (gnutls_certificate_set_x509_trust_mem(c->cred, &ca, GNUTLS_X509_FMT_PEM) <= 0) {
		tls_creds_free(c);
		return err_set(err, errlen, INSEL_E_CONFIG, "the CA given holds no usable PEM "
			       "certificate");
	}
	*out = c;
	return 0;
}

void tls_creds_free(struct tls_creds *c)
{
	if (!c)
		return;
	gnutls_certificate_free_credentials(c->cred);
	while (c->retired) {
		struct tls_retired_cred *r = c->retired;

		c->retired = r->next;
		gnutls_certificate_free_credentials(r->cred);
		free(r);
	}
	free(c->ca_file);
	free(c);
}

int tls_creds_replace(struct tls_creds *c, const char *cert_file, const char *key_file,
		      const struct tls_signer *signer, char *err, size_t errlen)
{
	struct tls_creds next = {.handshake_timeout_ms = c->handshake_timeout_ms};
	struct tls_retired_cred *r = NULL;
	int rc;

	if (!cert_file || !key_file == !signer || !c->ca_file)
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			       "a certificate and either a key file or a key holder are needed");
	if (gnutls_certificate_allocate_credentials(&next.cred) < 0)
		return err_set(err, errlen, INSEL_E_CRYPTO, "cannot allocate TLS credentials");
	rc = load_into(&next, c->ca_file, cert_file, key_file, signer, err, errlen);
	if (!rc && c->sessions && !(r = calloc(1, sizeof *r)))
		rc = err_set(err, errlen, -ENOMEM, "out of memory");
	if (rc) {
		gnutls_certificate_free_credentials(next.cred);
		return rc;
	}
	if (r) {
		r->cred = c->cred;
		r->sessions = c->sessions;
		r->next = c->retired;
		c->retired = r;
	} else {
		gnutls_certificate_free_credentials(c->cred);
	}
	c->cred = next.cred;
	c->sessions = 0;
	c->self = next.self;
	return 0;
}

gnutls_certificate_credentials_t tls_creds_current(const struct tls_creds *c)
{
	return c->cred;
}

void tls_creds_session_opened(struct tls_creds *c)
{
	c->sessions++;
}

void tls_creds_session_closed(struct tls_creds *c, gnutls_certificate_credentials_t used)
{
	struct tls_retired_cred **pp;

	if (used == c->cred) {
		if (c->sessions)
			c->sessions--;
		return;
	}
	for (pp = &c->retired; *pp; pp = &(*pp)->next) {
		struct tls_retired_cred *r = *pp;

		if (r->cred != used)
			continue;
		if (--r->sessions == 0) {
			*pp = r->next;
			gnutls_certificate_free_credentials(r->cred);
			free(r);
		}
		return;
	}
}

bool tls_creds_revoked(const struct tls_creds *c, const char *serial_hex)
{
	return c->revoked && c->revoked(c->revoked_ctx, serial_hex);
}

void tls_creds_set_revocation_check(struct tls_creds *c, tls_revoked_fn fn, void *ctx)
{
	c->revoked = fn;
	c->revoked_ctx = ctx;
}

const struct pki_identity *tls_creds_identity(const struct tls_creds *c)
{
	return &c->self;
}

void tls_creds_set_handshake_timeout(struct tls_creds *c, unsigned ms)
{
	c->handshake_timeout_ms = ms ? ms : TLS_HANDSHAKE_TIMEOUT_MS;
}

unsigned tls_creds_handshake_timeout(const struct tls_creds *c)
{
	return c->handshake_timeout_ms;
}
