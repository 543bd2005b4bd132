/* Certificate requests and issuing from them (see pki_csr.h), on GnuTLS's X.509 API.
 *
 * A request is built the usual way (version 1, subject CN, the new key, signed by that
 * key with SHA-256). Checking one is the principal's first contact with bytes a gateway
 * chose, so it is strict and cheap first: a length bound and no NUL before GnuTLS sees
 * anything, then the parse, then the self-signature (proof of possession), then the key
 * type (ECDSA on P-256 only, what insel makes) and the CN.
 *
 * The certificate issued copies nothing from the request but its public key: serial,
 * dates, subject, SAN, usages and the authority key id are the same profile pki_issue
 * writes (pki_leaf_set_identity), with the caller's role and name. */
#include "pki_csr.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "hex.h"
#include "pki_priv.h"
#include "rand.h"

struct pki_issuer {
	struct pki_ca ca;
	struct pki_identity self;
};

static int gnutls_fail(char *err, size_t errlen, const char *what, int grc)
{
	return err_set(err, errlen, INSEL_E_CRYPTO, "%s: %s", what, gnutls_strerror(grc));
}

/* A GnuTLS datum as a malloc'd NUL-terminated string (the datum is freed). */
static char *datum_to_string(gnutls_datum_t *d, bool secret)
{
	char *s = malloc((size_t)d->size + 1);

	if (s) {
		memcpy(s, d->data, d->size);
		s[d->size] = '\0';
	}
	if (secret)
		secure_wipe(d->data, d->size);
	gnutls_free(d->data);
	d->data = NULL;
	return s;
}

void pki_secret_free(char *secret)
{
	if (secret) {
		secure_wipe(secret, strlen(secret));
		free(secret);
	}
}

static gnutls_datum_t text_datum(const char *text, size_t len)
{
	gnutls_datum_t d = {(unsigned char *)text, (unsigned)len};

	return d;
}

/* ---- keys ---- */

static int import_key(const char *key_pem, size_t len, gnutls_x509_privkey_t *key)
{
	gnutls_datum_t d = text_datum(key_pem, len);
	int rc;

	if (len > UINT32_MAX || gnutls_x509_privkey_init(key) < 0)
		return INSEL_E_CRYPTO;
	rc = gnutls_x509_privkey_import2(*key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		gnutls_x509_privkey_deinit(*key);
		return INSEL_E_MALFORMED;
	}
	return 0;
}

int pki_key_new_pem(char **key_pem, char *err, size_t errlen)
{
	gnutls_x509_privkey_t key;
	gnutls_datum_t d = {NULL, 0};
	int rc = pki_key_generate(&key, err, errlen);

	if (rc)
		return rc;
	rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
					       &d);
	gnutls_x509_privkey_deinit(key);
	if (rc < 0)
		return gnutls_fail(err, errlen, "cannot encode the new key", rc);
	*key_pem = datum_to_string(&d, true);
	return *key_pem ? 0 : err_set(err, errlen, -ENOMEM, "out of memory");
}

static int key_id_hex(unsigned char *raw, size_t rawlen, char out[PKI_KEYID_LEN + 1])
{
	if (rawlen != PKI_KEYID_LEN / 2)
		return INSEL_E_CRYPTO;
	hex_encode(raw, rawlen, out);
	return 0;
}

int pki_key_id(const char *key_pem, size_t key_len, char out[PKI_KEYID_LEN + 1])
{
	gnutls_x509_privkey_t key;
	unsigned char raw[64];
	size_t rawlen = sizeof raw;
	int rc = import_key(key_pem, key_len, &key);

	if (rc)
		return rc;
	rc = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, raw, &rawlen);
	gnutls_x509_privkey_deinit(key);
	return rc < 0 ? INSEL_E_CRYPTO : key_id_hex(raw, rawlen, out);
}

/* ---- requests ---- */

static int build_request(gnutls_x509_crq_t crq, gnutls_x509_privkey_t key, const char *name)
{
	int rc = gnutls_x509_crq_set_version(crq, 1);

	if (rc >= 0)
		rc = gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, name,
						   (unsigned)strlen(name));
	if (rc >= 0)
		rc = gnutls_x509_crq_set_key(crq, key);
	if (rc >= 0)
		rc = gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0);
	return rc;
}

int pki_csr_make(const char *key_pem, const char *name, char **csr_pem, char *err,
		 size_t errlen)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crq_t crq;
	gnutls_datum_t d = {NULL, 0};
	int rc;

	if (!pki_name_valid(name))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "'%s' is not a valid name",
			       name ? name : "");
	if (import_key(key_pem, strlen(key_pem), &key))
		return err_set(err, errlen, INSEL_E_MALFORMED, "the new key is not a PEM key");
	rc = gnutls_x509_crq_init(&crq);
	if (rc >= 0) {
		rc = build_request(crq, key, name);
		if (rc >= 0)
			rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &d);
		gnutls_x509_crq_deinit(crq);
	}
	gnutls_x509_privkey_deinit(key);
	if (rc < 0)
		return gnutls_fail(err, errlen, "cannot make the certificate request", rc);
	*csr_pem = datum_to_string(&d, false);
	return *csr_pem ? 0 : err_set(err, errlen, -ENOMEM, "out of memory");
}

/* The request's key: ECDSA on P-256 only. Fills the key id. */
static int check_request_key(gnutls_x509_crq_t crq, struct pki_csr_info *out, char *err,
			     size_t errlen)
{
	gnutls_pubkey_t pub;
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
	unsigned char raw[64];
	size_t rawlen = sizeof raw;
	int rc;

	if (gnutls_pubkey_init(&pub) < 0)
		return err_set(err, errlen, INSEL_E_CRYPTO, "cannot allocate a public key");
	rc = gnutls_pubkey_import_x509_crq(pub, crq, 0);
	if (rc >= 0 && gnutls_pubkey_get_pk_algorithm(pub, NULL) == GNUTLS_PK_ECDSA)
		rc = gnutls_pubkey_export_ecc_raw(pub, &curve, &x, &y);
	gnutls_free(x.data);
	gnutls_free(y.data);
	if (rc >= 0 && curve == GNUTLS_ECC_CURVE_SECP256R1)
		rc = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, raw, &rawlen);
	gnutls_pubkey_deinit(pub);
	if (rc < 0)
		return err_set(err, errlen, INSEL_E_MALFORMED, "the request's key does not parse: %s",
			       gnutls_strerror(rc));
	if (curve != GNUTLS_ECC_CURVE_SECP256R1)
		return err_set(err, errlen, INSEL_E_MALFORMED,
			       "the request's key must be ECDSA on P-256");
	if (key_id_hex(raw, rawlen, out->key_id))
		return err_set(err, errlen, INSEL_E_CRYPTO, "cannot identify the request's key");
	return 0;
}

static int check_request_name(gnutls_x509_crq_t crq, struct pki_csr_info *out, char *err,
			      size_t errlen)
{
	char cn[PKI_NAME_MAX + 2];
	size_t len = sizeof cn - 1;

	if (gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len) < 0 ||
	    len >= sizeof cn)
		return err_set(err, errlen, INSEL_E_MALFORMED,
			       "the request names no subject (CN) of at most %d characters",
			       PKI_NAME_MAX);
	cn[len] = '\0';
	if (strlen(cn) != len || !pki_name_valid(cn))
		return err_set(err, errlen, INSEL_E_MALFORMED,
			       "the request's subject is not a valid name");
	memcpy(out->name, cn, len + 1);
	return 0;
}

/* Parses the request bytes into crq; INSEL_E_TOO_BIG or INSEL_E_MALFORMED with err. */
static int import_request(const char *pem, size_t len, gnutls_x509_crq_t *crq, char *err,
			  size_t errlen)
{
	gnutls_datum_t d = text_datum(pem, len);
	int rc;

	if (len > PKI_CSR_MAX)
		return err_set(err, errlen, INSEL_E_TOO_BIG,
			       "the request is %zu bytes; at most %d are accepted", len,
			       PKI_CSR_MAX);
	if (len == 0 || memchr(pem, '\0', len))
		return err_set(err, errlen, INSEL_E_MALFORMED, "the request is not PEM text");
	if (gnutls_x509_crq_init(crq) < 0)
		return err_set(err, errlen, INSEL_E_CRYPTO, "cannot allocate a request");
	rc = gnutls_x509_crq_import(*crq, &d, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		gnutls_x509_crq_deinit(*crq);
		return err_set(err, errlen, INSEL_E_MALFORMED,
			       "not a PEM certificate request: %s", gnutls_strerror(rc));
	}
	return 0;
}

int pki_csr_check(const char *pem, size_t len, struct pki_csr_info *out, char *err,
		  size_t errlen)
{
	gnutls_x509_crq_t crq;
	int rc = import_request(pem, len, &crq, err, errlen);

	if (rc)
		return rc;
	memset(out, 0, sizeof *out);
	/* The self-signature: the requester holds the private key of what it asks for. */
	if (gnutls_x509_crq_verify(crq, 0) < 0)
		rc = err_set(err, errlen, INSEL_E_VERIFY,
			     "the request's signature does not verify with its own key");
	if (!rc)
		rc = check_request_key(crq, out, err, errlen);
	if (!rc)
		rc = check_request_name(crq, out, err, errlen);
	gnutls_x509_crq_deinit(crq);
	return rc;
}

/* ---- issuing ---- */

int pki_issuer_load(const char *ca_cert_path, const char *ca_key_path,
		    struct pki_issuer **out, char *err, size_t errlen)
{
	struct pki_issuer *is = calloc(1, sizeof *is);
	int rc;

	if (!is)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	rc = pki_ca_load(ca_cert_path, ca_key_path, &is->ca, err, errlen);
	if (rc) {
		free(is);
		return rc;
	}
	if (pki_crt_identity(is->ca.crt, &is->self) != 0) {
		pki_ca_free(&is->ca);
		free(is);
		return err_set(err, errlen, INSEL_E_MALFORMED, "%s carries no usable name",
			       ca_cert_path);
	}
	*out = is;
	return 0;
}

void pki_issuer_free(struct pki_issuer *is)
{
	if (!is)
		return;
	pki_ca_free(&is->ca);
	free(is);
}

const struct pki_identity *pki_issuer_identity(const struct pki_issuer *is)
{
	return &is->self;
}

static int set_request_key(gnutls_x509_crt_t crt, gnutls_x509_crq_t crq)
{
	gnutls_pubkey_t pub;
	unsigned char keyid[64];
	size_t keyidlen = sizeof keyid;
	int rc = gnutls_pubkey_init(&pub);

	if (rc < 0)
		return rc;
	rc = gnutls_pubkey_import_x509_crq(pub, crq, 0);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_pubkey(crt, pub);
	if (rc >= 0)
		rc = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA1, keyid, &keyidlen);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_subject_key_id(crt, keyid, keyidlen);
	gnutls_pubkey_deinit(pub);
	return rc;
}

static int build_from_request(gnutls_x509_crt_t crt, gnutls_x509_crq_t crq,
			      const struct pki_issuer *is, enum pki_role role, const char *name,
			      long long not_before, long long not_after)
{
	int rc = pki_crt_set_dates(crt, not_before, not_after);

	if (rc >= 0)
		rc = set_request_key(crt, crq);
	if (rc >= 0)
		rc = pki_leaf_set_identity(crt, &is->ca, role, name);
	if (rc >= 0)
		rc = gnutls_x509_crt_sign2(crt, is->ca.crt, is->ca.key, GNUTLS_DIG_SHA256, 0);
	return rc;
}

static int check_issue_args(enum pki_role role, const char *name, long long not_before,
			    long long not_after, char *err, size_t errlen)
{
	if (role != PKI_ROLE_PRINCIPAL && role != PKI_ROLE_SECONDARY && role != PKI_ROLE_USER)
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			       "the role must be principal, secondary or user");
	if (!pki_name_valid(name))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "'%s' is not a valid name",
			       name ? name : "");
	if (not_after <= not_before)
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			       "the certificate would expire before it becomes valid");
	return 0;
}

int pki_issue_csr(const struct pki_issuer *is, const char *csr_pem, size_t len,
		  enum pki_role role, const char *name, long long not_before,
		  long long not_after, char **cert_pem, struct pki_identity *out, char *err,
		  size_t errlen)
{
	gnutls_x509_crq_t crq;
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = {NULL, 0};
	int rc;

	/* Nothing the CA signs outlives the CA. */
	if (not_after > is->self.not_after)
		not_after = is->self.not_after;
	rc = check_issue_args(role, name, not_before, not_after, err, errlen);
	if (rc)
		return rc;
	rc = import_request(csr_pem, len, &crq, err, errlen);
	if (rc)
		return rc;
	if (gnutls_x509_crt_init(&crt) < 0) {
		gnutls_x509_crq_deinit(crq);
		return err_set(err, errlen, INSEL_E_CRYPTO, "cannot allocate a certificate");
	}
	rc = build_from_request(crt, crq, is, role, name, not_before, not_after);
	if (rc >= 0)
		rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);
	if (rc < 0)
		rc = gnutls_fail(err, errlen, "cannot issue the certificate", rc);
	else if (pki_crt_identity(crt, out) != 0)
		rc = err_set(err, errlen, INSEL_E_CRYPTO, "cannot read back the new certificate");
	else if (!(*cert_pem = datum_to_string(&d, false)))
		rc = err_set(err, errlen, -ENOMEM, "out of memory");
	gnutls_free(d.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crq_deinit(crq);
	return rc < 0 ? rc : 0;
}

/* ---- certificates in memory ---- */

static int import_cert(const char *pem, size_t len, gnutls_x509_crt_t *crt)
{
	gnutls_datum_t d = text_datum(pem, len);

	if (len > PKI_CERT_PEM_MAX || gnutls_x509_crt_init(crt) < 0)
		return INSEL_E_TOO_BIG;
	if (gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM) < 0) {
		gnutls_x509_crt_deinit(*crt);
		return INSEL_E_MALFORMED;
	}
	return 0;
}

int pki_identity_from_pem(const char *pem, size_t len, struct pki_identity *out, char *err,
			  size_t errlen)
{
	gnutls_x509_crt_t crt;
	int rc = import_cert(pem, len, &crt);

	if (rc)
		return err_set(err, errlen, rc, "not a PEM certificate of at most %d bytes",
			       PKI_CERT_PEM_MAX);
	rc = pki_crt_identity(crt, out);
	gnutls_x509_crt_deinit(crt);
	return rc ? err_set(err, errlen, INSEL_E_MALFORMED, "certificate carries no usable name")
		  : 0;
}

bool pki_cert_matches_key(const char *cert_pem, size_t cert_len, const char *key_pem,
			  size_t key_len)
{
	gnutls_x509_crt_t crt;
	unsigned char raw[64];
	size_t rawlen = sizeof raw;
	char cert_id[PKI_KEYID_LEN + 1], key_id[PKI_KEYID_LEN + 1];
	int rc;

	if (import_cert(cert_pem, cert_len, &crt))
		return false;
	rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, raw, &rawlen);
	gnutls_x509_crt_deinit(crt);
	if (rc < 0 || key_id_hex(raw, rawlen, cert_id))
		return false;
	return pki_key_id(key_pem, key_len, key_id) == 0 && strcmp(cert_id, key_id) == 0;
}

int pki_csr_der_to_pem(const void *der, size_t len, char **pem)
{
	gnutls_datum_t in = {(unsigned char *)der, (unsigned)len}, out = {NULL, 0};
	gnutls_x509_crq_t crq;
	int rc;

	if (len > PKI_CSR_MAX || gnutls_x509_crq_init(&crq) < 0)
		return INSEL_E_TOO_BIG;
	rc = gnutls_x509_crq_import(crq, &in, GNUTLS_X509_FMT_DER);
	if (rc >= 0)
		rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &out);
	gnutls_x509_crq_deinit(crq);
	if (rc < 0)
		return INSEL_E_MALFORMED;
	*pem = datum_to_string(&out, false);
	return *pem ? 0 : -ENOMEM;
}

int pki_cert_spki(const char *pem, size_t len, unsigned char *out, size_t cap,
		  size_t *out_len)
{
	gnutls_x509_crt_t crt;
	gnutls_pubkey_t pub;
	size_t n = cap;
	int rc = import_cert(pem, len, &crt);

	if (rc)
		return rc;
	rc = gnutls_pubkey_init(&pub);
	if (rc >= 0) {
		rc = gnutls_pubkey_import_x509(pub, crt, 0);
		if (rc >= 0)
			rc = gnutls_pubkey_export(pub, GNUTLS_X509_FMT_DER, out, &n);
		gnutls_pubkey_deinit(pub);
	}
	gnutls_x509_crt_deinit(crt);
	if (rc < 0)
		return INSEL_E_MALFORMED;
	*out_len = n;
	return 0;
}
