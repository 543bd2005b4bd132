/* Inside the key holder process: the keys it holds and its answer to each request
 * (secondary/keyholder.h has the protocol). It holds the current key (KEY), and at most one
 * other: the pending key of a renewal (KEY.pending, loaded at start-up if an earlier run
 * left one), or, after a commit, the key it replaced, which still signs for handshakes
 * under the old certificate.
 *
 * Every request is parsed with the bounds-checked reader and refused whole if anything is
 * off; a signature is made only for one digest in the key's own TLS 1.3 scheme. Files are
 * reached through a descriptor of the key file's directory opened before the syscall
 * filter, which allows creating, renaming and removing files there and nowhere else: a
 * pending key is written to KEY.pending (exclusive, 0600, the owner of KEY, fsynced), a
 * commit renames it over KEY and fsyncs the directory. */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "keyholder_proc.h"
#include "log.h"
#include "pki.h"

#define PENDING_SUFFIX ".pending"

/* ---- one key ---- */

static void key_free(struct held_key *k)
{
	if (k->priv)
		gnutls_privkey_deinit(k->priv);
	if (k->x509)
		gnutls_x509_privkey_deinit(k->x509);
	memset(k, 0, sizeof *k);
}

/* Fills the public description (algorithm, size, spki, id) and the signing handle. */
static int key_describe(struct held_key *k, char *err, size_t errlen)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t der = {NULL, 0};
	unsigned bits = 0;
	int algo = gnutls_x509_privkey_get_pk_algorithm2(k->x509, &bits);
	int rc = 0;

	if (algo != GNUTLS_PK_ECDSA || (bits != 256 && bits != 384 && bits != 521))
		return err_set(err, errlen, INSEL_E_CONFIG,
				  "not an ECDSA P-256, P-384 or P-521 key (%s, %u bits)",
				  gnutls_pk_get_name((gnutls_pk_algorithm_t)algo), bits);
	if (gnutls_privkey_init(&k->priv) < 0 ||
	    gnutls_privkey_import_x509(k->priv, k->x509, 0) < 0 ||
	    gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_privkey(pub, k->priv, 0, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0 ||
	    der.size > sizeof k->pub.spki)
		rc = err_set(err, errlen, INSEL_E_CRYPTO, "cannot derive the public key");
	if (!rc) {
		k->pub.pk_algo = (uint16_t)algo;
		k->pub.bits = (uint16_t)bits;
		memcpy(k->pub.spki, der.data, der.size);
		k->pub.spki_len = der.size;
		rc = keyholder_key_set_id(&k->pub);
	}
	gnutls_free(der.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	return rc;
}

static int key_import(struct held_key *k, const gnutls_datum_t *pem, const char *path,
		      char *err, size_t errlen)
{
	int rc = gnutls_x509_privkey_init(&k->x509);

	if (rc >= 0)
		rc = gnutls_x509_privkey_import2(k->x509, pem, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0)
		return err_set(err, errlen, INSEL_E_CONFIG, "%s is not a usable private key: %s",
				  path, gnutls_strerror(rc));
	rc = key_describe(k, err, errlen);
	if (rc) {
		char why[160];

		snprintf(why, sizeof why, "%s", err);
		return err_set(err, errlen, rc, "%s: %s", path, why);
	}
	return 0;
}

/* ---- loading ---- */

static int open_key_dir(struct holder *h, const char *key_file, char *err, size_t errlen)
{
	const char *slash = strrchr(key_file, '/');
	char dir[4096];

	if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - key_file + 1), key_file);
	else
		snprintf(dir, sizeof dir, ".");
	if (snprintf(h->name, sizeof h->name, "%s", slash ? slash + 1 : key_file) >=
		    (int)sizeof h->name - (int)sizeof PENDING_SUFFIX ||
	    h->name[0] == '\0')
		return err_set(err, errlen, INSEL_E_CONFIG, "%s: unusable key file name",
				  key_file);
	h->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->dirfd < 0)
		return err_set(err, errlen, -errno, "cannot open the directory of %s: %s",
				  key_file, strerror(errno));
	return 0;
}

static void pending_name(const struct holder *h, char *out, size_t n)
{
	snprintf(out, n, "%s%s", h->name, PENDING_SUFFIX);
}

/* KEY.pending, if an earlier run left one: a renewal still waiting for its certificate. */
static void load_pending(struct holder *h, const char *key_file)
{
	char name[sizeof h->name + sizeof PENDING_SUFFIX], path[4096], err[256];
	gnutls_datum_t pem = {NULL, 0};
	int rc;

	pending_name(h, name, sizeof name);
	snprintf(path, sizeof path, "%s%s", key_file, PENDING_SUFFIX);
	if (faccessat(h->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
		return;
	if (gnutls_load_file(path, &pem) < 0) {
		log_warn("cannot read %s: %s; a renewal will make a new key", path,
			 strerror(errno ? errno : EIO));
		return;
	}
	rc = key_import(&h->other, &pem, path, err, sizeof err);
	secure_wipe(pem.data, pem.size);
	gnutls_free(pem.data);
	if (rc) {
		log_warn("%s; a renewal will make a new key", err);
		key_free(&h->other);
		return;
	}
	h->other_pending = true;
	log_info("a renewal's key is pending in %s", path);
}

int holder_load(struct holder *h, const char *key_file, char *err, size_t errlen)
{
	gnutls_datum_t pem = {NULL, 0};
	int rc;

	memset(h, 0, sizeof *h);
	h->dirfd = -1;
	errno = 0;
	if (gnutls_load_file(key_file, &pem) < 0) {
		int e = errno ? errno : EIO;

		return err_set(err, errlen, -e, "cannot read %s: %s", key_file, strerror(e));
	}
	rc = key_import(&h->current, &pem, key_file, err, errlen);
	secure_wipe(pem.data, pem.size);
	gnutls_free(pem.data);
	if (!rc)
		rc = open_key_dir(h, key_file, err, errlen);
	if (!rc)
		load_pending(h, key_file);
	if (rc)
		holder_free(h);
	return rc;
}

void holder_free(struct holder *h)
{
	key_free(&h->current);
	key_free(&h->other);
	if (h->dirfd >= 0)
		close(h->dirfd);
	h->dirfd = -1;
}

/* ---- requests ---- */

static struct held_key *find_key(struct holder *h, const uint8_t *id)
{
	if (h->current.priv && memcmp(h->current.pub.id, id, KEYHOLDER_ID_LEN) == 0)
		return &h->current;
	if (h->other.priv && memcmp(h->other.pub.id, id, KEYHOLDER_ID_LEN) == 0)
		return &h->other;
	return NULL;
}

static uint16_t do_sign(struct holder *h, const struct keyholder_msg *req,
			struct keyholder_msg *reply, gnutls_datum_t *sig)
{
	struct held_key *k = find_key(h, req->key_id);
	gnutls_datum_t digest = {(unsigned char *)req->data, (unsigned)req->data_len};

	if (!k)
		return KEYHOLDER_UNKNOWN_KEY;
	if (!keyholder_sign_allowed(k->pub.pk_algo, k->pub.bits, req->sign_algo,
				    req->data_len))
		return KEYHOLDER_REFUSED;
	if (gnutls_privkey_sign_hash2(k->priv, (gnutls_sign_algorithm_t)req->sign_algo, 0,
				      &digest, sig) < 0)
		return KEYHOLDER_FAILED;
	if (sig->size > KEYHOLDER_SIG_MAX)
		return KEYHOLDER_FAILED;
	h->signatures++;
	reply->sig = sig->data;
	reply->sig_len = sig->size;
	return KEYHOLDER_OK;
}

static int make_csr(struct held_key *k, const char *name, gnutls_datum_t *der)
{
	gnutls_x509_crq_t crq;
	int rc = gnutls_x509_crq_init(&crq);

	if (rc < 0)
		return rc;
	rc = gnutls_x509_crq_set_version(crq, 1);
	if (rc >= 0)
		rc = gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, name,
						   (unsigned)strlen(name));
	if (rc >= 0)
		rc = gnutls_x509_crq_set_key(crq, k->x509);
	if (rc >= 0)
		rc = gnutls_x509_crq_sign2(crq, k->x509, GNUTLS_DIG_SHA256, 0);
	if (rc >= 0)
		rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, der);
	gnutls_x509_crq_deinit(crq);
	return rc;
}

static gnutls_ecc_curve_t curve_of(const struct held_key *k)
{
	switch (k->pub.bits) {
	case 384:
		return GNUTLS_ECC_CURVE_SECP384R1;
	case 521:
		return GNUTLS_ECC_CURVE_SECP521R1;
	default:
		return GNUTLS_ECC_CURVE_SECP256R1;
	}
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The key in PKCS#8 PEM, as the PKI writes keys, to KEY.pending: exclusive, 0600, with
 * KEY's owner, fsynced. */
static int write_pending_file(struct holder *h, struct held_key *k)
{
	char name[sizeof h->name + sizeof PENDING_SUFFIX];
	gnutls_datum_t pem = {NULL, 0};
	struct stat old;
	int fd, rc = -1;

	pending_name(h, name, sizeof name);
	if (gnutls_x509_privkey_export2_pkcs8(k->x509, GNUTLS_X509_FMT_PEM, NULL,
					      GNUTLS_PKCS_PLAIN, &pem) < 0)
		return -1;
	unlinkat(h->dirfd, name, 0);  /* one we could not read */
	fd = openat(h->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (fstatat(h->dirfd, h->name, &old, AT_SYMLINK_NOFOLLOW) == 0 &&
		    fchown(fd, old.st_uid, old.st_gid) != 0)
			log_warn("cannot give %s the owner of %s: %s", name, h->name,
				 strerror(errno));
		rc = write_all(fd, pem.data, pem.size) == 0 && fsync(fd) == 0 ? 0 : -1;
		if (close(fd) != 0)
			rc = -1;
		if (rc == 0)
			fsync(h->dirfd);
		else
			unlinkat(h->dirfd, name, 0);
	}
	if (rc != 0)
		log_error("cannot write %s: %s", name, strerror(errno));
	secure_wipe(pem.data, pem.size);
	gnutls_free(pem.data);
	return rc;
}

/* A new key of the current one's kind, written to KEY.pending; replaces the previous key
 * kept after a commit. */
static int make_pending(struct holder *h)
{
	struct held_key fresh = {0};
	char err[160];

	if (gnutls_x509_privkey_init(&fresh.x509) < 0 ||
	    gnutls_x509_privkey_generate(fresh.x509, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(curve_of(&h->current)), 0) < 0 ||
	    key_describe(&fresh, err, sizeof err) != 0 || write_pending_file(h, &fresh) != 0) {
		key_free(&fresh);
		return -1;
	}
	key_free(&h->other);
	h->other = fresh;
	h->other_pending = true;
	log_info("generated a new key for a renewal (not in use until committed)");
	return 0;
}

/* The pending key (made first if there is none) and a certificate request signed by it. */
static uint16_t do_generate(struct holder *h, const struct keyholder_msg *req,
			    struct keyholder_msg *reply, gnutls_datum_t *csr)
{
	char name[KEYHOLDER_NAME_MAX + 1];

	memcpy(name, req->name, req->name_len);
	name[req->name_len] = '\0';
	if (!pki_name_valid(name))
		return KEYHOLDER_MALFORMED;
	if (!h->other_pending && make_pending(h) != 0)
		return KEYHOLDER_FAILED;
	if (make_csr(&h->other, name, csr) < 0 || csr->size > KEYHOLDER_CSR_MAX)
		return KEYHOLDER_FAILED;
	reply->key = h->other.pub;
	reply->csr = csr->data;
	reply->csr_len = csr->size;
	return KEYHOLDER_OK;
}

static struct held_key *find_pending(struct holder *h, const uint8_t *id)
{
	return h->other_pending && find_key(h, id) == &h->other ? &h->other : NULL;
}

/* KEY.pending becomes KEY, and the pending key the current one; the old one keeps
 * signing. */
static uint16_t do_commit(struct holder *h, const struct keyholder_msg *req)
{
	char name[sizeof h->name + sizeof PENDING_SUFFIX];
	struct held_key old;

	if (!find_pending(h, req->key_id))
		return KEYHOLDER_NO_PENDING;
	pending_name(h, name, sizeof name);
	if (renameat(h->dirfd, name, h->dirfd, h->name) != 0) {
		log_error("cannot rename %s over %s: %s", name, h->name, strerror(errno));
		return KEYHOLDER_FAILED;
	}
	fsync(h->dirfd);
	old = h->current;
	h->current = h->other;
	h->other = old;
	h->other_pending = false;
	log_info("the renewed key is now in use, in %s", h->name);
	return KEYHOLDER_OK;
}

static uint16_t do_discard(struct holder *h, const struct keyholder_msg *req)
{
	char name[sizeof h->name + sizeof PENDING_SUFFIX];

	if (!find_pending(h, req->key_id))
		return KEYHOLDER_NO_PENDING;
	pending_name(h, name, sizeof name);
	if (unlinkat(h->dirfd, name, 0) != 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", name, strerror(errno));
	key_free(&h->other);
	h->other_pending = false;
	log_info("the pending renewal key is discarded");
	return KEYHOLDER_OK;
}

int holder_handle(struct holder *h, const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	struct keyholder_msg req, reply = {0};
	gnutls_datum_t extra = {NULL, 0};  /* a signature or a CSR, until encoded */
	int rc = keyholder_parse_request(msg, len, &req);
	int n;

	reply.op = req.op;
	reply.seq = req.seq;
	if (rc) {
		log_warn("refusing a malformed request: %s", insel_strerror(rc));
		reply.status = KEYHOLDER_MALFORMED;
	} else if (req.op == KEYHOLDER_INFO) {
		reply.key = h->current.pub;
		reply.has_pending = h->other_pending;
		if (h->other_pending)
			reply.pending = h->other.pub;
	} else if (req.op == KEYHOLDER_SIGN) {
		reply.status = do_sign(h, &req, &reply, &extra);
	} else if (req.op == KEYHOLDER_GENERATE) {
		reply.status = do_generate(h, &req, &reply, &extra);
	} else if (req.op == KEYHOLDER_COMMIT) {
		reply.status = do_commit(h, &req);
	} else {
		reply.status = do_discard(h, &req);
	}
	if (reply.status != KEYHOLDER_OK && reply.status != KEYHOLDER_MALFORMED)
		log_warn("refused: %s", keyholder_status_str(reply.status));
	n = keyholder_encode_reply(&reply, out, cap);
	gnutls_free(extra.data);
	return n;
}

int holder_serve(struct holder *h, int fd)
{
	uint8_t in[KEYHOLDER_MSG_MAX], out[KEYHOLDER_MSG_MAX];

	for (;;) {
		ssize_t n = recv(fd, in, sizeof in, MSG_TRUNC);
		int m;

		if (n == 0)
			return 0;  /* the daemon closed its end: it is stopping */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("cannot read requests: %s", strerror(errno));
			return 1;
		}
		m = holder_handle(h, in, (size_t)n > sizeof in ? sizeof in + 1 : (size_t)n,
				  out, sizeof out);
		if (m < 0 || send(fd, out, (size_t)m, MSG_NOSIGNAL) != m) {
			log_error("cannot answer: %s", m < 0 ? insel_strerror(m) : strerror(errno));
			return 1;
		}
	}
}
