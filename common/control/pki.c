/* The organisation's PKI on GnuTLS's X.509 API (see pki.h): a self-signed CA and the
 * certificates it issues to the principal, the secondaries and users.
 *
 * Keys are ECDSA P-256: every GnuTLS priority string (and FIPS mode) accepts it for TLS 1.3
 * signatures, operators can inspect the files with openssl or certtool, and the strength
 * (128-bit) matches the AES-256/ChaCha20 data channel's weakest link, the TLS handshake.
 *
 * Where the identity lives in a certificate (the CA is dedicated to insel, so everything it
 * signs in a subject is an assertion of the organisation):
 *   - the name (pki_name_valid) in the subject CN and in a dNSName subjectAltName; the SAN
 *     is authoritative when both are present;
 *   - the role in the subject's single OU ("principal", "secondary", "user", "operator",
 *     "ca"), the
 *     way Kubernetes carries groups in O. A private extension under a UUID arc (2.25.<uuid>,
 *     X.667) was the first choice, but libtasn1 cannot encode an OID arc wider than 63
 *     bits and silently saturates it; a certificate with more than one OU has no role.
 * Serial numbers are 128 random bits (top bit cleared so the DER integer stays positive).
 * Files are created with O_EXCL, so nothing is ever overwritten; keys with mode 0600. */
#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "hex.h"
#include "pki_priv.h"
#include "rand.h"

#define SERIAL_BYTES 16
/* Certificates start a little in the past so that a peer whose clock lags still accepts
 * a certificate issued a moment ago. */
#define BACKDATE_SECONDS (10 * 60)

static const char *const role_names[] = {
	[PKI_ROLE_NONE] = "none",
	[PKI_ROLE_CA] = "ca",
	[PKI_ROLE_PRINCIPAL] = "principal",
	[PKI_ROLE_SECONDARY] = "secondary",
	[PKI_ROLE_USER] = "user",
	[PKI_ROLE_OPERATOR] = "operator",
};

const char *pki_role_name(enum pki_role r)
{
	if ((unsigned)r < sizeof role_names / sizeof role_names[0])
		return role_names[r];
	return "none";
}

enum pki_role pki_role_from_name(const char *name)
{
	for (size_t i = PKI_ROLE_CA; i < sizeof role_names / sizeof role_names[0]; i++)
		if (name && strcmp(name, role_names[i]) == 0)
			return (enum pki_role)i;
	return PKI_ROLE_NONE;
}

bool pki_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	if (n == 0 || n > PKI_NAME_MAX)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_'))
			return false;
	}
	return true;
}

/* ---- files ---- */

/* Creates path exclusively with exactly `mode` (umask notwithstanding); returns the fd. */
static int create_exclusive(const char *path, mode_t mode, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0) {
		int e = errno;

		if (e == EEXIST)
			return err_set(err, errlen, INSEL_E_EXISTS,
				    "%s already exists; refusing to overwrite it", path);
		return err_set(err, errlen, -e, "cannot create %s: %s", path, strerror(e));
	}
	if (fchmod(fd, mode) != 0) {
		int e = errno;

		close(fd);
		unlink(path);
		return err_set(err, errlen, -e, "cannot set the mode of %s: %s", path, strerror(e));
	}
	return fd;
}

static int write_and_close(int fd, const char *path, const gnutls_datum_t *d, char *err,
			   size_t errlen)
{
	size_t off = 0;

	while (off < d->size) {
		ssize_t n = write(fd, d->data + off, d->size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			close(fd);
			return err_set(err, errlen, -e, "cannot write %s: %s", path, strerror(e));
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0)
		return err_set(err, errlen, -errno, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* Writes a key and a certificate as a pair: both files are created (exclusively) before
 * either is written, and neither is left behind on failure. */
static int write_pair(const char *cert_path, const gnutls_datum_t *cert_pem,
		      const char *key_path, const gnutls_datum_t *key_pem, char *err,
		      size_t errlen)
{
	int kfd, cfd, rc;

	kfd = create_exclusive(key_path, 0600, err, errlen);
	if (kfd < 0)
		return kfd;
	cfd = create_exclusive(cert_path, 0644, err, errlen);
	if (cfd < 0) {
		close(kfd);
		unlink(key_path);
		return cfd;
	}
	rc = write_and_close(kfd, key_path, key_pem, err, errlen);
	if (rc) {
		close(cfd);
	} else {
		rc = write_and_close(cfd, cert_path, cert_pem, err, errlen);
	}
	if (rc) {
		unlink(key_path);
		unlink(cert_path);
	}
	return rc;
}

static int load_file(const char *path, gnutls_datum_t *out, char *err, size_t errlen)
{
	int rc = gnutls_load_file(path, out);

	if (rc < 0) {
		int e = errno ? errno : EIO;

		return err_set(err, errlen, -e, "cannot read %s: %s", path, strerror(e));
	}
	return 0;
}

/* ---- certificate pieces ---- */

static int gnutls_fail(char *err, size_t errlen, const char *what, int grc)
{
	return err_set(err, errlen, INSEL_E_CRYPTO, "%s: %s", what, gnutls_strerror(grc));
}

int pki_key_generate(gnutls_x509_privkey_t *key, char *err, size_t errlen)
{
	int rc = gnutls_x509_privkey_init(key);

	if (rc < 0)
		return gnutls_fail(err, errlen, "cannot allocate a key", rc);
	rc = gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
					  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (rc < 0) {
		gnutls_x509_privkey_deinit(*key);
		return gnutls_fail(err, errlen, "cannot generate an ECDSA P-256 key", rc);
	}
	return 0;
}

static int set_serial(gnutls_x509_crt_t crt)
{
	uint8_t serial[SERIAL_BYTES];

	rand_nonce(serial, sizeof serial);
	/* Positive and exactly 16 bytes long: no leading zero byte to strip. */
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);
	return gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
}

int pki_crt_set_dates(gnutls_x509_crt_t crt, long long not_before, long long not_after)
{
	int rc = gnutls_x509_crt_set_version(crt, 3);

	if (rc >= 0)
		rc = set_serial(crt);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_activation_time(crt, (time_t)not_before);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_expiration_time(crt, (time_t)not_after);
	return rc;
}

static int set_subject(gnutls_x509_crt_t crt, const char *org, const char *unit,
		       const char *cn)
{
	int rc = 0;

	if (org && *org)
		rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, org,
						   (unsigned)strlen(org));
	if (rc >= 0 && unit)
		rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME,
						   0, unit, (unsigned)strlen(unit));
	if (rc >= 0)
		rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
						   (unsigned)strlen(cn));
	return rc;
}

/* Version, serial, validity, public key and subject key id. */
static int set_common(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, long long not_before,
		      long long not_after)
{
	uint8_t keyid[64];
	size_t keyidlen = sizeof keyid;
	int rc = pki_crt_set_dates(crt, not_before, not_after);

	if (rc >= 0)
		rc = gnutls_x509_crt_set_key(crt, key);
	if (rc >= 0)
		rc = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA1, keyid, &keyidlen);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_subject_key_id(crt, keyid, keyidlen);
	return rc;
}

static int export_pem(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
		      gnutls_datum_t *cert_pem, gnutls_datum_t *key_pem)
{
	int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, cert_pem);

	if (rc < 0)
		return rc;
	rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
					       key_pem);
	if (rc < 0) {
		gnutls_free(cert_pem->data);
		cert_pem->data = NULL;
	}
	return rc;
}

static void free_pem(gnutls_datum_t *cert_pem, gnutls_datum_t *key_pem)
{
	gnutls_free(cert_pem->data);
	if (key_pem->data) {
		secure_wipe(key_pem->data, key_pem->size);
		gnutls_free(key_pem->data);
	}
}

/* Signs, exports and writes the pair; owns nothing. */
static int sign_and_write(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer,
			  gnutls_x509_privkey_t issuer_key, gnutls_x509_privkey_t key,
			  const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	gnutls_datum_t cert_pem = {NULL, 0}, key_pem = {NULL, 0};
	int rc = gnutls_x509_crt_sign2(crt, issuer, issuer_key, GNUTLS_DIG_SHA256, 0);

	if (rc < 0)
		return gnutls_fail(err, errlen, "cannot sign the certificate", rc);
	rc = export_pem(crt, key, &cert_pem, &key_pem);
	if (rc < 0)
		return gnutls_fail(err, errlen, "cannot encode the certificate", rc);
	rc = write_pair(cert_path, &cert_pem, key_path, &key_pem, err, errlen);
	free_pem(&cert_pem, &key_pem);
	return rc;
}

static char *join_path(const char *dir, const char *file)
{
	size_t n = strlen(dir) + strlen(file) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, file);
	return p;
}

/* ---- identity ---- */

static enum pki_role read_role(gnutls_x509_crt_t crt)
{
	char unit[32], extra[32];
	size_t len = sizeof unit - 1, extralen = sizeof extra;

	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, 0, 0,
					  unit, &len) < 0 || len >= sizeof unit)
		return PKI_ROLE_NONE;
	/* Exactly one OU: two could be read differently by different tools. */
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, 1, 0,
					  extra, &extralen) != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return PKI_ROLE_NONE;
	unit[len] = '\0';
	return pki_role_from_name(unit);
}

/* The name: the first dNSName SAN, else the CN. */
static int read_name(gnutls_x509_crt_t crt, char *out, size_t cap)
{
	char buf[256];
	size_t len = sizeof buf - 1;
	unsigned critical;
	int rc;

	for (unsigned seq = 0; seq < 16; seq++) {
		len = sizeof buf - 1;
		rc = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &len, &critical);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc == GNUTLS_SAN_DNSNAME && len < cap) {
			memcpy(out, buf, len);
			out[len] = '\0';
			return 0;
		}
	}
	len = sizeof buf - 1;
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &len) < 0)
		return INSEL_E_NOT_FOUND;
	/* A CA's CN may be longer than a name; keep what fits. */
	if (len >= cap)
		len = cap - 1;
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

int pki_crt_identity(gnutls_x509_crt_t crt, struct pki_identity *out)
{
	uint8_t digest[32], serial[PKI_SERIAL_MAX / 2];
	size_t dlen = sizeof digest, slen = sizeof serial;

	memset(out, 0, sizeof *out);
	out->role = read_role(crt);
	if (read_name(crt, out->name, sizeof out->name) != 0)
		return INSEL_E_NOT_FOUND;
	if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, digest, &dlen) < 0 ||
	    dlen != sizeof digest)
		return INSEL_E_CRYPTO;
	hex_encode(digest, dlen, out->fingerprint);
	if (gnutls_x509_crt_get_serial(crt, serial, &slen) < 0)
		return INSEL_E_MALFORMED;
	hex_encode(serial, slen, out->serial);
	out->not_before = (long long)gnutls_x509_crt_get_activation_time(crt);
	out->not_after = (long long)gnutls_x509_crt_get_expiration_time(crt);
	return 0;
}

int pki_identity_from_der(const void *der, size_t len, struct pki_identity *out, char *err,
			  size_t errlen)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
	int rc;

	if (len > UINT32_MAX || gnutls_x509_crt_init(&crt) < 0)
		return err_set(err, errlen, INSEL_E_CRYPTO, "cannot allocate a certificate");
	rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
	if (rc < 0)
		rc = err_set(err, errlen, INSEL_E_MALFORMED, "certificate does not parse: %s",
			  gnutls_strerror(rc));
	else if (pki_crt_identity(crt, out) != 0)
		rc = err_set(err, errlen, INSEL_E_MALFORMED, "certificate carries no usable name");
	gnutls_x509_crt_deinit(crt);
	return rc < 0 ? rc : 0;
}

static int import_crt_file(const char *path, gnutls_x509_crt_t *crt, char *err,
			   size_t errlen)
{
	gnutls_datum_t pem;
	int rc = load_file(path, &pem, err, errlen);

	if (rc)
		return rc;
	rc = gnutls_x509_crt_init(crt);
	if (rc >= 0) {
		rc = gnutls_x509_crt_import(*crt, &pem, GNUTLS_X509_FMT_PEM);
		if (rc < 0)
			gnutls_x509_crt_deinit(*crt);
	}
	gnutls_free(pem.data);
	if (rc < 0)
		return err_set(err, errlen, INSEL_E_MALFORMED,
			    "%s is not a PEM certificate: %s", path, gnutls_strerror(rc));
	return 0;
}

int pki_read_identity(const char *cert_path, struct pki_identity *out, char *err,
		      size_t errlen)
{
	gnutls_x509_crt_t crt;
	int rc = import_crt_file(cert_path, &crt, err, errlen);

	if (rc)
		return rc;
	rc = pki_crt_identity(crt, out);
	gnutls_x509_crt_deinit(crt);
	if (rc)
		return err_set(err, errlen, INSEL_E_MALFORMED,
			    "%s: certificate carries no usable name", cert_path);
	return 0;
}

/* ---- the CA ---- */

static int build_ca(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *org,
		    unsigned days)
{
	long long now = (long long)time(NULL);
	char cn[PKI_NAME_MAX * 2];
	int rc;

	snprintf(cn, sizeof cn, "%s CA", org);
	rc = set_common(crt, key, now - BACKDATE_SECONDS,
			now + (long long)days * 86400);
	if (rc >= 0)
		rc = set_subject(crt, org, "ca", cn);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_basic_constraints(crt, 1, 0);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN |
							GNUTLS_KEY_CRL_SIGN |
							GNUTLS_KEY_DIGITAL_SIGNATURE);
	return rc;
}

int pki_ca_init(const char *dir, const char *organisation, unsigned days, char *err,
		size_t errlen)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	char *cert_path, *key_path;
	int rc;

	if (!organisation || !*organisation || strlen(organisation) > PKI_NAME_MAX)
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			    "the organisation name must be 1 to %d characters", PKI_NAME_MAX);
	if (days == 0 || days > 36500)
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			    "the validity must be 1 to 36500 days, not %u", days);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(err, errlen, -errno, "cannot create directory %s: %s", dir,
			    strerror(errno));
	cert_path = join_path(dir, "ca.crt");
	key_path = join_path(dir, "ca.key");
	if (!cert_path || !key_path) {
		free(cert_path);
		free(key_path);
		return err_set(err, errlen, -ENOMEM, "out of memory");
	}
	rc = pki_key_generate(&key, err, errlen);
	if (rc == 0) {
		if (gnutls_x509_crt_init(&crt) < 0) {
			rc = err_set(err, errlen, INSEL_E_CRYPTO, "cannot allocate a certificate");
		} else {
			int grc = build_ca(crt, key, organisation, days);

			rc = grc < 0 ? gnutls_fail(err, errlen, "cannot build the CA certificate", grc)
				     : sign_and_write(crt, crt, key, key, cert_path, key_path, err,
						      errlen);
			gnutls_x509_crt_deinit(crt);
		}
		gnutls_x509_privkey_deinit(key);
	}
	free(cert_path);
	free(key_path);
	return rc;
}

/* ---- issuing ---- */

static int load_ca_key(const char *path, gnutls_x509_privkey_t *key, char *err,
		       size_t errlen)
{
	gnutls_datum_t pem;
	int rc = load_file(path, &pem, err, errlen);

	if (rc)
		return rc;
	rc = gnutls_x509_privkey_init(key);
	if (rc >= 0) {
		rc = gnutls_x509_privkey_import2(*key, &pem, GNUTLS_X509_FMT_PEM, NULL, 0);
		if (rc < 0)
			gnutls_x509_privkey_deinit(*key);
	}
	secure_wipe(pem.data, pem.size);
	gnutls_free(pem.data);
	if (rc < 0)
		return err_set(err, errlen, INSEL_E_MALFORMED, "%s is not a PEM private key: %s",
			    path, gnutls_strerror(rc));
	return 0;
}

int pki_ca_load(const char *cert_path, const char *key_path, struct pki_ca *ca, char *err,
		size_t errlen)
{
	size_t len = sizeof ca->org - 1;
	int rc;

	memset(ca, 0, sizeof *ca);
	rc = import_crt_file(cert_path, &ca->crt, err, errlen);
	if (rc == 0) {
		rc = load_ca_key(key_path, &ca->key, err, errlen);
		if (rc)
			gnutls_x509_crt_deinit(ca->crt);
	}
	if (rc == 0 && read_role(ca->crt) != PKI_ROLE_CA) {
		rc = err_set(err, errlen, INSEL_E_VERIFY, "%s is not an insel CA certificate",
			  cert_path);
		gnutls_x509_crt_deinit(ca->crt);
		gnutls_x509_privkey_deinit(ca->key);
	}
	if (rc == 0 && gnutls_x509_crt_get_dn_by_oid(ca->crt, GNUTLS_OID_X520_ORGANIZATION_NAME,
						     0, 0, ca->org, &len) < 0)
		ca->org[0] = '\0';
	return rc;
}

static int load_ca(const char *dir, struct pki_ca *ca, char *err, size_t errlen)
{
	char *cert_path = join_path(dir, "ca.crt"), *key_path = join_path(dir, "ca.key");
	int rc = cert_path && key_path ? pki_ca_load(cert_path, key_path, ca, err, errlen)
				       : err_set(err, errlen, -ENOMEM, "out of memory");

	free(cert_path);
	free(key_path);
	return rc;
}

void pki_ca_free(struct pki_ca *ca)
{
	gnutls_x509_crt_deinit(ca->crt);
	gnutls_x509_privkey_deinit(ca->key);
}

int pki_leaf_set_identity(gnutls_x509_crt_t crt, const struct pki_ca *ca, enum pki_role role,
			  const char *name)
{
	uint8_t keyid[64];
	size_t keyidlen = sizeof keyid;
	int rc = set_subject(crt, ca->org, pki_role_name(role), name);

	if (rc >= 0)
		rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
							  (unsigned)strlen(name), GNUTLS_FSAN_SET);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
	/* Secondaries are servers to each other and clients of the principal: both purposes. */
	if (rc >= 0)
		rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
	if (rc >= 0)
		rc = gnutls_x509_crt_get_subject_key_id(ca->crt, keyid, &keyidlen, NULL);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_authority_key_id(crt, keyid, keyidlen);
	return rc;
}

static int build_leaf(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const struct pki_ca *ca,
		      enum pki_role role, const char *name, long long not_before,
		      long long not_after)
{
	int rc = set_common(crt, key, not_before, not_after);

	if (rc >= 0)
		rc = pki_leaf_set_identity(crt, ca, role, name);
	return rc;
}

int pki_issue_validity(const char *ca_dir, enum pki_role role, const char *name,
		       long long not_before, long long not_after, const char *cert_path,
		       const char *key_path, struct pki_identity *out, char *err, size_t errlen)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	struct pki_ca ca;
	int rc;

	if (role != PKI_ROLE_PRINCIPAL && role != PKI_ROLE_SECONDARY && role != PKI_ROLE_USER &&
	    role != PKI_ROLE_OPERATOR)
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			    "the role must be principal, secondary, user or operator");
	if (!pki_name_valid(name))
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			    "'%s' is not a valid name (1 to %d of a-z 0-9 . _ -, starting with a "
			    "letter or digit)", name ? name : "", PKI_NAME_MAX);
	if (not_after <= not_before)
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			    "the certificate would expire before it becomes valid");
	rc = load_ca(ca_dir, &ca, err, errlen);
	if (rc)
		return rc;
	rc = pki_key_generate(&key, err, errlen);
	if (rc == 0) {
		if (gnutls_x509_crt_init(&crt) < 0) {
			rc = err_set(err, errlen, INSEL_E_CRYPTO, "cannot allocate a certificate");
		} else {
			int grc = build_leaf(crt, key, &ca, role, name, not_before, not_after);

			rc = grc < 0 ? gnutls_fail(err, errlen, "cannot build the certificate", grc)
				     : sign_and_write(crt, ca.crt, ca.key, key, cert_path,
						      key_path, err, errlen);
			if (rc == 0 && out && pki_crt_identity(crt, out) != 0)
				rc = err_set(err, errlen, INSEL_E_CRYPTO,
					  "cannot read back the new certificate");
			gnutls_x509_crt_deinit(crt);
		}
		gnutls_x509_privkey_deinit(key);
	}
	pki_ca_free(&ca);
	return rc;
}

int pki_issue(const char *ca_dir, enum pki_role role, const char *name, unsigned days,
	      const char *cert_path, const char *key_path, struct pki_identity *out, char *err,
	      size_t errlen)
{
	long long now = (long long)time(NULL);

	if (days == 0 || days > 36500)
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			    "the validity must be 1 to 36500 days, not %u", days);
	return pki_issue_validity(ca_dir, role, name, now - BACKDATE_SECONDS,
				  now + (long long)days * 86400, cert_path, key_path, out, err,
				  errlen);
}
