/* Mutually authenticated TLS 1.3 on libuv (see tls.h), and the session set-up and peer
 * verification that the blocking secure sockets share (tls_priv.h).
 *
 * GnuTLS never touches the socket: its push function appends records to conn->out, which
 * flush() hands to uv_write; its pull function reads from conn->in, which the libuv read
 * callback fills. Every wake-up ends in drive(), which advances the handshake or decrypts
 * what arrived into the msg_reader. A timer bounds the handshake (a silent peer cannot
 * hold a slot) and, once closing, bounds the wait for close_notify to drain; in between,
 * it carries the owner's deadline (a login, an idle time-out). Handles are freed only from
 * their close callbacks; the conn when both its handles are closed.
 *
 * A server counts the connections it accepted: pending ones (not yet authenticated) in
 * total and per source, authenticated ones apart, and resets at accept whatever is over a
 * pending cap. The server struct lives until its listener and its last counted connection
 * are both gone. */
#include "tls.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "tls_priv.h"

#define TLS_IN_MAX (256 * 1024)   /* ciphertext read but not yet decrypted */
#define TLS_CLOSE_GRACE_MS 2000   /* how long close_notify may take to drain */
#define TLS_LISTEN_BACKLOG 128
#define TLS_REFUSAL_LOG_MS 10000  /* at most one line per listener this often */
#define TLS_SILENT_DISPLACE_MS 1000  /* a pending connection silent this long may give way */
#define TLS_DEADLINE_TEXT_MAX 96

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

struct tls_server {
	uv_tcp_t tcp;
	struct tls_creds *creds;
	enum pki_role roles[TLS_MAX_ROLES];
	size_t nroles;
	tls_accept_fn on_accept;
	void *data;
	uint16_t port;
	struct tls_server_limits limits;
	struct tls_server_counts counts;
	struct tls_conn *pending;       /* pending connections, to count them per source */
	size_t nconns;                  /* accepted connections not yet closing */
	bool closed;                    /* listener closed: freed with its last connection */
	bool refusal_logged;
	uint64_t refusal_logged_at;     /* uv_now() of the last line about refusals */
	uint64_t refusals_since_log;
};

enum conn_state { CONN_CONNECTING, CONN_HANDSHAKE, CONN_OPEN, CONN_CLOSING };

struct tls_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;      /* handshake time-out, then the close grace period */
	uv_connect_t connect_req;
	uv_shutdown_t shutdown_req;
	int open_handles;      /* handles whose close callback is still to come */
	gnutls_session_t session;
	struct tls_policy policy;
	struct tls_conn_callbacks cb;
	void *data;
	enum conn_state state;
	bool ready_reported;
	bool eof;              /* the peer closed its side of the TCP stream */
	int close_reason;
	struct buf in;         /* ciphertext from the socket; in_off bytes already pulled */
	size_t in_off;
	struct buf out;        /* ciphertext from GnuTLS, not yet handed to uv_write */
	struct buf frame;      /* the message being sent, framed (plaintext: wiped after) */
	struct msg_reader reader;
	unsigned handshake_ms; /* this connection's handshake deadline */
	char deadline_what[TLS_DEADLINE_TEXT_MAX];  /* why the owner's deadline ends it */
	/* Accepted connections: the server that counts them, until they close. */
	struct tls_server *server;
	struct tls_conn *pending_prev, *pending_next;
	struct ip_addr source; /* as the per-source cap counts it */
	bool pending;          /* not authenticated yet */
	bool authenticated;
	bool spoke;            /* the peer has sent at least one byte */
	uint64_t accepted_ms;  /* uv_now() at accept */
};

struct tls_write {
	uv_write_t req;
	uint8_t *bytes;  /* lives until the write callback */
	size_t len;
};

static void conn_fail(struct tls_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void server_detach(struct tls_conn *c);
static bool server_handshake_done(struct tls_conn *c);

/* ---- credentials ---- */

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

/* ---- a key held by another process ---- */

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

#define TLS_CHAIN_MAX 8

static int set_external_key(struct tls_creds *c, const gnutls_datum_t *cert,
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
		gnutls_certificate_set_flags(c->cred, GNUTLS_CERTIFICATE_SKIP_KEY_CERT_MATCH);
		grc = gnutls_certificate_set_key(c->cred, NULL, 0, pcerts, n, key);
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
		rc = set_external_key(c, &cert, cert_file, signer, err, errlen);
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

/* A session made with c is gone: its credentials may go too if they were replaced. */
static void release_session_cred(struct tls_creds *c, gnutls_certificate_credentials_t used)
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

void tls_session_free(gnutls_session_t s, struct tls_creds *creds)
{
	void *used = NULL;

	if (gnutls_credentials_get(s, GNUTLS_CRD_CERTIFICATE, &used) < 0)
		used = NULL;
	gnutls_deinit(s);
	if (used)
		release_session_cred(creds, used);
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

/* ---- the one peer verification ---- */

static int policy_fail(struct tls_policy *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int policy_fail(struct tls_policy *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof p->error, fmt, ap);
	va_end(ap);
	p->verified = false;
	return INSEL_E_VERIFY;
}

int tls_policy_init(struct tls_policy *p, const struct tls_creds *creds,
		    const enum pki_role *roles, size_t nroles, const char *expect_name)
{
	memset(p, 0, sizeof *p);
	if (nroles == 0 || nroles > TLS_MAX_ROLES)
		return INSEL_E_BAD_FIELD;
	if (expect_name && strlen(expect_name) > PKI_NAME_MAX)
		return INSEL_E_BAD_FIELD;
	p->creds = creds;
	memcpy(p->roles, roles, nroles * sizeof *roles);
	p->nroles = nroles;
	if (expect_name)
		snprintf(p->expect_name, sizeof p->expect_name, "%s", expect_name);
	return 0;
}

static void format_date(long long t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, n, "%lld", t);
}

static bool role_allowed(const struct tls_policy *p, enum pki_role r)
{
	for (size_t i = 0; i < p->nroles; i++)
		if (p->roles[i] == r)
			return true;
	return false;
}

static int check_role(struct tls_policy *p)
{
	char expected[64] = "";

	if (role_allowed(p, p->peer.role))
		return 0;
	for (size_t i = 0; i < p->nroles; i++) {
		size_t len = strlen(expected);

		snprintf(expected + len, sizeof expected - len, "%s'%s'", i ? " or " : "",
			 pki_role_name(p->roles[i]));
	}
	return policy_fail(p, "peer '%s' has role '%s', expected %s", p->peer.name,
			   pki_role_name(p->peer.role), expected);
}

/* What GnuTLS's chain check found, as one of our sentences. */
static int check_chain_status(struct tls_policy *p, unsigned status)
{
	const unsigned not_ours = GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNATURE_FAILURE |
				  GNUTLS_CERT_SIGNER_NOT_CA | GNUTLS_CERT_INSECURE_ALGORITHM |
				  GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE;
	long long now = (long long)time(NULL);
	char date[48];

	if (status == 0)
		return 0;
	if (status & not_ours)
		return policy_fail(p, "certificate presented as '%s' is not signed by this "
				      "organisation's CA", p->peer.name);
	if ((status & GNUTLS_CERT_EXPIRED) && p->peer.not_after < now) {
		format_date(p->peer.not_after, date, sizeof date);
		return policy_fail(p, "certificate of '%s' expired on %s", p->peer.name, date);
	}
	if ((status & GNUTLS_CERT_NOT_ACTIVATED) && p->peer.not_before > now) {
		format_date(p->peer.not_before, date, sizeof date);
		return policy_fail(p, "certificate of '%s' is not valid before %s", p->peer.name,
				   date);
	}
	if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED))
		return policy_fail(p, "this organisation's CA certificate is outside its "
				      "validity dates");
	return policy_fail(p, "certificate of '%s' did not verify (status 0x%x)", p->peer.name,
			   status);
}

int tls_verify_peer(gnutls_session_t s, struct tls_policy *p)
{
	const gnutls_datum_t *certs;
	unsigned n = 0, status = 0;
	char why[TLS_ERROR_MAX];
	int rc;

	p->verified = false;
	certs = gnutls_certificate_get_peers(s, &n);
	if ((!certs || n == 0) && role_allowed(p, PKI_ROLE_NONE)) {
		/* A server that takes PKI_ROLE_NONE lets users in without a certificate; they
		 * prove who they are inside the connection (a password). */
		memset(&p->peer, 0, sizeof p->peer);
		p->verified = true;
		p->error[0] = '\0';
		return 0;
	}
	if (!certs || n == 0)
		return policy_fail(p, "peer sent no certificate");
	if (pki_identity_from_der(certs[0].data, certs[0].size, &p->peer, why, sizeof why))
		return policy_fail(p, "peer certificate is unusable: %s", why);
	rc = gnutls_certificate_verify_peers2(s, &status);
	if (rc < 0)
		return policy_fail(p, "cannot verify the certificate of '%s': %s", p->peer.name,
				   gnutls_strerror(rc));
	rc = check_chain_status(p, status);
	if (rc)
		return rc;
	rc = check_role(p);
	if (rc)
		return rc;
	if (p->expect_name[0] && strcmp(p->expect_name, p->peer.name) != 0)
		return policy_fail(p, "peer is '%s', expected '%s'", p->peer.name, p->expect_name);
	if (p->creds->revoked && p->creds->revoked(p->creds->revoked_ctx, p->peer.serial))
		return policy_fail(p, "certificate of '%s' is revoked (serial %s)", p->peer.name,
				   p->peer.serial);
	p->verified = true;
	p->error[0] = '\0';
	return 0;
}

static int verify_during_handshake(gnutls_session_t s)
{
	struct tls_policy *p = gnutls_session_get_ptr(s);

	return tls_verify_peer(s, p) == 0 ? 0 : GNUTLS_E_CERTIFICATE_ERROR;
}

int tls_session_new(gnutls_session_t *out, struct tls_creds *creds, bool server,
		    struct tls_policy *policy, unsigned extra_flags)
{
	gnutls_session_t s;
	int rc = gnutls_init(&s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_TICKETS |
				 extra_flags);

	if (rc < 0)
		return INSEL_E_CRYPTO;
	rc = gnutls_priority_set_direct(s, TLS_PRIORITY, NULL);
	if (rc >= 0)
		rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds->cred);
	if (rc < 0) {
		gnutls_deinit(s);
		return INSEL_E_CRYPTO;
	}
	if (server) {
		gnutls_certificate_server_set_request(s, role_allowed(policy, PKI_ROLE_NONE)
							      ? GNUTLS_CERT_REQUEST
							      : GNUTLS_CERT_REQUIRE);
		/* No CA names in the request: a client of another organisation then still sends
		 * its certificate, and the refusal can say what is wrong with it. */
		gnutls_certificate_send_x509_rdn_sequence(s, 1);
	}
	gnutls_session_set_ptr(s, policy);
	gnutls_session_set_verify_function(s, verify_during_handshake);
	creds->sessions++;
	*out = s;
	return 0;
}

static int describe(struct tls_policy *p, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int describe(struct tls_policy *p, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof p->error, fmt, ap);
	va_end(ap);
	return code;
}

int tls_handshake_failure(gnutls_session_t s, struct tls_policy *p, int grc)
{
	if (grc == GNUTLS_E_CERTIFICATE_ERROR && p->error[0])
		return INSEL_E_VERIFY;
	switch (grc) {
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		return describe(p, INSEL_E_REFUSED, "the peer refused the handshake (alert: %s)",
				gnutls_alert_get_name(gnutls_alert_get(s)));
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_CERTIFICATE_REQUIRED:
		return describe(p, INSEL_E_VERIFY, "peer sent no certificate");
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
		return describe(p, INSEL_E_CLOSED, "the peer closed the connection during the "
						   "TLS handshake");
	default:
		return describe(p, INSEL_E_PROTOCOL, "TLS handshake failed: %s",
				gnutls_strerror(grc));
	}
}

/* ---- memory transport ---- */

static ssize_t push_cb(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	struct tls_conn *c = ptr;

	if (buf_append(&c->out, data, len) != 0) {
		gnutls_transport_set_errno(c->session, ENOMEM);
		return -1;
	}
	return (ssize_t)len;
}

static ssize_t pull_cb(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct tls_conn *c = ptr;
	size_t avail = c->in.len - c->in_off;

	if (avail == 0) {
		if (c->eof)
			return 0;
		gnutls_transport_set_errno(c->session, EAGAIN);
		return -1;
	}
	if (len > avail)
		len = avail;
	memcpy(data, c->in.data + c->in_off, len);
	c->in_off += len;
	return (ssize_t)len;
}

static int pull_timeout_cb(gnutls_transport_ptr_t ptr, unsigned ms)
{
	struct tls_conn *c = ptr;

	(void)ms;
	return (c->in.len > c->in_off || c->eof) ? 1 : 0;
}

static void write_cb(uv_write_t *req, int status)
{
	struct tls_write *w = (struct tls_write *)req;
	struct tls_conn *c = req->handle->data;

	free(w->bytes);
	free(w);
	if (status < 0 && status != UV_ECANCELED && c->state != CONN_CLOSING)
		conn_fail(c, status, "cannot write to the peer: %s", uv_strerror(status));
}

static size_t queued_bytes(const struct tls_conn *c)
{
	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) + c->out.len;
}

/* Hands what GnuTLS produced to libuv; the bytes move to the write request. */
static int flush(struct tls_conn *c)
{
	struct tls_write *w;
	uv_buf_t b;
	int rc;

	if (c->out.len == 0)
		return 0;
	if (queued_bytes(c) > MSG_MAX_QUEUED)
		return INSEL_E_LIMIT;
	/* With nothing queued in libuv, write at once: usually all of it goes, and the
	 * buffer stays for the next message instead of moving to a write request. */
	if (uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) == 0) {
		uv_buf_t now = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
		int n = uv_try_write((uv_stream_t *)&c->tcp, &now, 1);

		if (n < 0 && n != UV_EAGAIN)
			return n;
		if (n > 0)
			buf_consume(&c->out, (size_t)n);
		if (c->out.len == 0)
			return 0;
	}
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->bytes = c->out.data;
	w->len = c->out.len;
	buf_init(&c->out, c->out.max);
	b = uv_buf_init((char *)w->bytes, (unsigned)w->len);
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
	if (rc) {
		free(w->bytes);
		free(w);
	}
	return rc;
}

/* ---- connection life cycle ---- */

static void conn_free(struct tls_conn *c)
{
	tls_session_free(c->session, (struct tls_creds *)c->policy.creds);
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->frame);
	msg_reader_free(&c->reader);
	secure_wipe(&c->policy, sizeof c->policy);
	free(c);
}

static void handle_closed(uv_handle_t *h)
{
	struct tls_conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	if (c->cb.close)
		c->cb.close(c);
	conn_free(c);
}

static void close_handles(struct tls_conn *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, handle_closed);
	if (!uv_is_closing((uv_handle_t *)&c->timer))
		uv_close((uv_handle_t *)&c->timer, handle_closed);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	(void)status;
	close_handles(req->data);
}

static void grace_expired(uv_timer_t *t)
{
	close_handles(t->data);
}

void tls_conn_close(struct tls_conn *c, int reason)
{
	bool was_open = c->state == CONN_OPEN;
	bool connected = c->state != CONN_CONNECTING;

	if (c->state == CONN_CLOSING)
		return;
	server_detach(c);
	c->state = CONN_CLOSING;
	c->close_reason = reason;
	uv_timer_stop(&c->timer);
	if (connected)
		uv_read_stop((uv_stream_t *)&c->tcp);
	if (was_open && gnutls_bye(c->session, GNUTLS_SHUT_WR) == 0)
		flush(c);
	c->shutdown_req.data = c;
	if (!connected || uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, shutdown_cb)) {
		close_handles(c);
		return;
	}
	uv_timer_start(&c->timer, grace_expired, TLS_CLOSE_GRACE_MS, 0);
}

static void report_ready(struct tls_conn *c, int status)
{
	if (c->ready_reported)
		return;
	c->ready_reported = true;
	if (c->cb.ready)
		c->cb.ready(c, status);
}

/* A failure: the reason (if given) becomes tls_conn_error, the owner hears of it through
 * ready if the handshake had not finished, and the connection closes. */
static void conn_fail(struct tls_conn *c, int err, const char *fmt, ...)
{
	char peer[IP_STRLEN] = "?";
	struct ip_endpoint ep;
	va_list ap;

	if (c->state == CONN_CLOSING)
		return;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(c->policy.error, sizeof c->policy.error, fmt, ap);
		va_end(ap);
	}
	if (tls_conn_peer_endpoint(c, &ep) == 0)
		ip_endpoint_format(&ep, peer, sizeof peer);
	if (!c->ready_reported)
		log_info("TLS connection with %s failed: %s", peer, tls_conn_error(c));
	else
		log_debug("TLS connection with %s ended: %s", peer, tls_conn_error(c));
	c->close_reason = err;
	report_ready(c, err);
	tls_conn_close(c, err);
}

static void handshake_timed_out(uv_timer_t *t)
{
	struct tls_conn *c = t->data;

	if (c->server)
		c->server->counts.timed_out++;
	conn_fail(c, INSEL_E_TIMEOUT, "no TLS handshake within %u ms", c->handshake_ms);
}

static void deadline_passed(uv_timer_t *t)
{
	struct tls_conn *c = t->data;

	if (c->server && c->pending)
		c->server->counts.timed_out++;
	conn_fail(c, INSEL_E_TIMEOUT, "%s", c->deadline_what);
}

void tls_conn_set_deadline(struct tls_conn *c, unsigned ms, const char *what)
{
	if (c->state != CONN_OPEN)
		return;
	if (ms == 0) {
		uv_timer_stop(&c->timer);
		return;
	}
	snprintf(c->deadline_what, sizeof c->deadline_what, "%s", what ? what : "time-out");
	uv_timer_start(&c->timer, deadline_passed, ms, 0);
}

static int frame_cb(void *ctx, json_t *msg, int err)
{
	struct tls_conn *c = ctx;

	if (c->cb.message)
		c->cb.message(c, msg, err);
	return c->state == CONN_CLOSING ? INSEL_E_CLOSED : 0;
}

/* Decrypts every complete record and feeds the plaintext to the message reader. */
static void read_records(struct tls_conn *c)
{
	static _Thread_local uint8_t plain[16384];

	while (c->state == CONN_OPEN) {
		ssize_t n = gnutls_record_recv(c->session, plain, sizeof plain);

		if (n > 0) {
			msg_reader_feed(&c->reader, plain, (size_t)n, frame_cb, c);
		} else if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
			conn_fail(c, INSEL_E_CLOSED, "the peer closed the connection");
		} else if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			/* A post-handshake message (a TLS 1.3 session ticket from a peer
			 * that sends them) also gives AGAIN, with records still at hand. */
			if (c->in.len == c->in_off && gnutls_record_check_pending(c->session) == 0)
				break;
		} else if (n == GNUTLS_E_FATAL_ALERT_RECEIVED) {
			conn_fail(c, INSEL_E_REFUSED, "the peer ended the connection (alert: %s)",
				  gnutls_alert_get_name(gnutls_alert_get(c->session)));
		} else if (gnutls_error_is_fatal((int)n)) {
			conn_fail(c, INSEL_E_PROTOCOL, "TLS error: %s", gnutls_strerror((int)n));
		}
	}
}

static void handshake_step(struct tls_conn *c)
{
	int rc = gnutls_handshake(c->session);

	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
		return;
	if (rc < 0) {
		int err = tls_handshake_failure(c->session, &c->policy, rc);

		if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED && rc != GNUTLS_E_PREMATURE_TERMINATION)
			gnutls_alert_send_appropriate(c->session, rc);
		flush(c);
		conn_fail(c, err, NULL);
		return;
	}
	/* The verify function ran during the handshake; refuse if it somehow did not. */
	if (!c->policy.verified && tls_verify_peer(c->session, &c->policy) != 0) {
		gnutls_alert_send(c->session, GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
		flush(c);
		conn_fail(c, INSEL_E_VERIFY, NULL);
		return;
	}
	uv_timer_stop(&c->timer);
	c->state = CONN_OPEN;
	if (c->server && !server_handshake_done(c))
		return;
	report_ready(c, 0);
}

/* Advances whatever can advance with the bytes at hand, then writes what that produced. */
static void drive(struct tls_conn *c)
{
	int rc;

	if (c->state == CONN_HANDSHAKE)
		handshake_step(c);
	if (c->state == CONN_OPEN)
		read_records(c);
	buf_consume(&c->in, c->in_off);
	c->in_off = 0;
	if (c->state == CONN_CLOSING)
		return;
	rc = flush(c);
	if (rc)
		conn_fail(c, rc, "cannot write to the peer: %s", insel_strerror(rc));
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static _Thread_local char scratch[64 * 1024];

	(void)h;
	(void)suggested;
	*b = uv_buf_init(scratch, sizeof scratch);
}

static void read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *b)
{
	struct tls_conn *c = stream->data;

	if (c->state == CONN_CLOSING)
		return;
	if (n == UV_EOF) {
		c->eof = true;
		uv_read_stop(stream);
	} else if (n < 0) {
		conn_fail(c, (int)n, "cannot read from the peer: %s", uv_strerror((int)n));
		return;
	} else if (buf_append(&c->in, b->base, (size_t)n) != 0) {
		conn_fail(c, INSEL_E_LIMIT, "the peer sent more than %d bytes of unread records",
			  TLS_IN_MAX);
		return;
	}
	if (n > 0)
		c->spoke = true;
	drive(c);
	if (c->eof && c->state == CONN_HANDSHAKE)
		conn_fail(c, INSEL_E_CLOSED,
			  "the peer closed the connection during the TLS handshake");
}

static int start_io(struct tls_conn *c)
{
	int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);

	if (rc)
		return rc;
	c->state = CONN_HANDSHAKE;
	return 0;
}

static struct tls_conn *conn_new(uv_loop_t *loop, struct tls_creds *creds, bool server,
				 const enum pki_role *roles, size_t nroles,
				 const char *expect_name)
{
	struct tls_conn *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	if (tls_policy_init(&c->policy, creds, roles, nroles, expect_name) != 0 ||
	    tls_session_new(&c->session, creds, server, &c->policy, GNUTLS_NONBLOCK) != 0) {
		free(c);
		return NULL;
	}
	gnutls_transport_set_ptr(c->session, c);
	gnutls_transport_set_push_function(c->session, push_cb);
	gnutls_transport_set_pull_function(c->session, pull_cb);
	gnutls_transport_set_pull_timeout_function(c->session, pull_timeout_cb);
	buf_init(&c->in, TLS_IN_MAX);
	buf_init(&c->out, MSG_MAX_QUEUED + 64 * 1024);
	buf_init(&c->frame, MSG_HEADER_LEN + MSG_MAX_DEFAULT);
	msg_reader_init(&c->reader, MSG_MAX_DEFAULT);
	uv_tcp_init(loop, &c->tcp);
	/* Control messages are small request/reply exchanges: without this, Nagle holds a
	 * reply behind the unacknowledged previous one until a delayed ACK (tens of ms).
	 * libuv applies it once the socket exists (accepted or connecting). */
	uv_tcp_nodelay(&c->tcp, 1);
	uv_timer_init(loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->state = CONN_CONNECTING;
	c->handshake_ms = creds->handshake_timeout_ms;
	uv_timer_start(&c->timer, handshake_timed_out, c->handshake_ms, 0);
	return c;
}

/* ---- server ---- */

/* The per-source cap counts an IPv4 address, or an IPv6 /64 (what one host or one
 * subscriber usually holds). */
static void source_of(const struct ip_endpoint *from, struct ip_addr *out)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	*out = from->addr;
	if (out->family == AF_INET6 && memcmp(out->bytes, v4mapped, sizeof v4mapped) != 0)
		memset(out->bytes + 8, 0, 8);
}

static unsigned pending_from(const struct tls_server *s, const struct ip_addr *source)
{
	unsigned n = 0;

	for (const struct tls_conn *c = s->pending; c; c = c->pending_next)
		n += ip_addr_equal(&c->source, source);
	return n;
}

/* A flood is summed up, not logged line by line. */
static void log_refusal(struct tls_server *s, const struct ip_addr *source, const char *why)
{
	uint64_t now = uv_now(s->tcp.loop);
	char from[IP_STRLEN];

	s->refusals_since_log++;
	if (s->refusal_logged && now - s->refusal_logged_at < TLS_REFUSAL_LOG_MS)
		return;
	log_warn("port %u: refusing connections not yet authenticated: %s (the latest from "
		 "%s; %llu refused since the last such line)", s->port, why,
		 ip_addr_format(source, from, sizeof from),
		 (unsigned long long)s->refusals_since_log);
	s->refusal_logged = true;
	s->refusal_logged_at = now;
	s->refusals_since_log = 0;
}

/* When the slots are short, a pending connection that has sent nothing for a second (an
 * idle holder: a real client sends its ClientHello at once) gives way to the newcomer; the
 * oldest such, from source (NULL: from anyone). False if there is none. */
static bool displace_silent(struct tls_server *s, const struct ip_addr *source)
{
	uint64_t now = uv_now(s->tcp.loop);
	struct tls_conn *pick = NULL;

	for (struct tls_conn *c = s->pending; c; c = c->pending_next)
		if (!c->spoke && now - c->accepted_ms >= TLS_SILENT_DISPLACE_MS &&
		    (!source || ip_addr_equal(&c->source, source)) &&
		    (!pick || c->accepted_ms <= pick->accepted_ms))
			pick = c;
	if (!pick)
		return false;
	s->counts.displaced++;
	conn_fail(pick, INSEL_E_LIMIT, "silent for over %d ms while pending slots were short",
		  TLS_SILENT_DISPLACE_MS);
	return true;
}

/* 0 if the caps leave room for one more pending connection from source (if need be by
 * displacing a silent one). */
static int admit(struct tls_server *s, const struct ip_addr *source)
{
	const struct tls_server_limits *l = &s->limits;

	if (l->max_pending && s->counts.pending >= l->max_pending && !displace_silent(s, NULL)) {
		s->counts.refused_pending++;
		log_refusal(s, source, "all pending slots are taken");
		return INSEL_E_LIMIT;
	}
	if (l->max_pending_per_source && pending_from(s, source) >= l->max_pending_per_source &&
	    !displace_silent(s, source)) {
		s->counts.refused_source++;
		log_refusal(s, source, "that source holds its share of pending slots");
		return INSEL_E_LIMIT;
	}
	return 0;
}

static void server_attach(struct tls_server *s, struct tls_conn *c, const struct ip_addr *src)
{
	c->server = s;
	c->source = *src;
	c->accepted_ms = uv_now(s->tcp.loop);
	c->pending = true;
	c->pending_next = s->pending;
	if (s->pending)
		s->pending->pending_prev = c;
	s->pending = c;
	s->counts.pending++;
	s->nconns++;
	if (s->limits.handshake_timeout_ms) {
		c->handshake_ms = s->limits.handshake_timeout_ms;
		uv_timer_start(&c->timer, handshake_timed_out, c->handshake_ms, 0);
	}
}

static void leave_pending(struct tls_conn *c)
{
	struct tls_server *s = c->server;

	if (!c->pending)
		return;
	if (c->pending_prev)
		c->pending_prev->pending_next = c->pending_next;
	else
		s->pending = c->pending_next;
	if (c->pending_next)
		c->pending_next->pending_prev = c->pending_prev;
	c->pending_prev = c->pending_next = NULL;
	c->pending = false;
	s->counts.pending--;
}

static void server_detach(struct tls_conn *c)
{
	struct tls_server *s = c->server;

	if (!s)
		return;
	leave_pending(c);
	if (c->authenticated)
		s->counts.authenticated--;
	c->authenticated = false;
	c->server = NULL;
	if (--s->nconns == 0 && s->closed)
		free(s);
}

int tls_conn_authenticated(struct tls_conn *c)
{
	struct tls_server *s = c->server;

	if (!s || !c->pending)
		return 0;
	if (s->limits.max_authenticated && s->counts.authenticated >= s->limits.max_authenticated) {
		s->counts.refused_authenticated++;
		return INSEL_E_LIMIT;
	}
	leave_pending(c);
	c->authenticated = true;
	s->counts.authenticated++;
	if (c->state == CONN_OPEN)
		uv_timer_stop(&c->timer);
	return 0;
}

/* The handshake of an accepted connection has succeeded: either that authenticates it,
 * or the owner's login deadline starts. False if the connection is failing instead. */
static bool server_handshake_done(struct tls_conn *c)
{
	struct tls_server *s = c->server;
	char what[TLS_DEADLINE_TEXT_MAX];

	if (s->limits.login_timeout_ms) {
		snprintf(what, sizeof what, "no login within %u ms", s->limits.login_timeout_ms);
		tls_conn_set_deadline(c, s->limits.login_timeout_ms, what);
		return true;
	}
	if (tls_conn_authenticated(c) == 0)
		return true;
	conn_fail(c, INSEL_E_LIMIT, "the server holds its limit of %u authenticated connections",
		  s->limits.max_authenticated);
	return false;
}

/* Over a cap: reset at once (no TIME_WAIT here, no handshake work). */
static void refuse(struct tls_conn *c)
{
	struct linger hard = {.l_onoff = 1, .l_linger = 0};
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
	tls_conn_close(c, INSEL_E_LIMIT);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct tls_server *s = listener->data;
	struct ip_endpoint from;
	struct ip_addr source;
	struct tls_conn *c;

	if (status < 0) {
		log_warn("accept failed: %s", uv_strerror(status));
		return;
	}
	c = conn_new(listener->loop, s->creds, true, s->roles, s->nroles, NULL);
	if (!c) {
		log_error("out of memory for a new TLS connection");
		return;
	}
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 ||
	    tls_conn_peer_endpoint(c, &from) != 0) {
		tls_conn_close(c, INSEL_E_CLOSED);
		return;
	}
	source_of(&from, &source);
	if (admit(s, &source) != 0) {
		refuse(c);
		return;
	}
	if (start_io(c) != 0) {
		tls_conn_close(c, INSEL_E_CLOSED);
		return;
	}
	server_attach(s, c, &source);
	if (s->on_accept)
		s->on_accept(s, c);
}

void tls_server_set_limits(struct tls_server *s, const struct tls_server_limits *l)
{
	s->limits = *l;
}

void tls_server_counts(const struct tls_server *s, struct tls_server_counts *out)
{
	*out = s->counts;
}

static void server_closed(uv_handle_t *h)
{
	struct tls_server *s = h->data;

	s->closed = true;
	if (s->nconns == 0)
		free(s);
}

int tls_server_listen(uv_loop_t *loop, struct tls_creds *creds, const struct ip_endpoint *bind,
		      const enum pki_role *allowed_roles, size_t nroles, tls_accept_fn on_accept,
		      void *data, struct tls_server **out)
{
	struct tls_server *s;
	struct sockaddr_storage ss;
	struct ip_endpoint bound;
	int len = sizeof ss;
	int rc;

	if (nroles == 0 || nroles > TLS_MAX_ROLES)
		return INSEL_E_BAD_FIELD;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->creds = creds;
	memcpy(s->roles, allowed_roles, nroles * sizeof *allowed_roles);
	s->nroles = nroles;
	s->on_accept = on_accept;
	s->data = data;
	uv_tcp_init(loop, &s->tcp);
	s->tcp.data = s;
	ip_endpoint_to_sockaddr(bind, &ss);
	rc = uv_tcp_bind(&s->tcp, (struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&s->tcp, TLS_LISTEN_BACKLOG, on_connection);
	if (!rc)
		rc = uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len);
	if (!rc)
		rc = ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &bound);
	if (rc) {
		uv_close((uv_handle_t *)&s->tcp, server_closed);
		return rc;
	}
	s->port = bound.port;
	*out = s;
	return 0;
}

void *tls_server_data(const struct tls_server *s)
{
	return s->data;
}

uint16_t tls_server_port(const struct tls_server *s)
{
	return s->port;
}

void tls_server_close(struct tls_server *s)
{
	if (s && !uv_is_closing((uv_handle_t *)&s->tcp))
		uv_close((uv_handle_t *)&s->tcp, server_closed);
}

/* ---- client ---- */

static void connect_cb(uv_connect_t *req, int status)
{
	struct tls_conn *c = req->data;
	int rc;

	if (c->state == CONN_CLOSING)
		return;
	if (status < 0) {
		conn_fail(c, status, "cannot connect: %s", uv_strerror(status));
		return;
	}
	rc = start_io(c);
	if (rc) {
		conn_fail(c, rc, "cannot read from the peer: %s", uv_strerror(rc));
		return;
	}
	drive(c);  /* sends the ClientHello */
}

int tls_connect(uv_loop_t *loop, struct tls_creds *creds, const struct ip_endpoint *to,
		enum pki_role expect_role, const char *expect_name,
		const struct tls_conn_callbacks *cb, void *data, struct tls_conn **out)
{
	return tls_connect_from(loop, creds, NULL, to, expect_role, expect_name, cb, data,
				out);
}

/* Binds the socket to a local address (any port) before it connects. */
static int bind_source(struct tls_conn *c, const struct ip_addr *from)
{
	struct ip_endpoint local = {.addr = *from, .port = 0};
	struct sockaddr_storage ss;

	ip_endpoint_to_sockaddr(&local, &ss);
	return uv_tcp_bind(&c->tcp, (struct sockaddr *)&ss, 0);
}

int tls_connect_from(uv_loop_t *loop, struct tls_creds *creds, const struct ip_addr *from,
		     const struct ip_endpoint *to, enum pki_role expect_role,
		     const char *expect_name, const struct tls_conn_callbacks *cb, void *data,
		     struct tls_conn **out)
{
	struct sockaddr_storage ss;
	struct tls_conn *c;
	int rc = 0;

	if (expect_name && !pki_name_valid(expect_name))
		return INSEL_E_BAD_FIELD;
	c = conn_new(loop, creds, false, &expect_role, 1, expect_name);
	if (!c)
		return -ENOMEM;
	ip_endpoint_to_sockaddr(to, &ss);
	c->connect_req.data = c;
	if (from)
		rc = bind_source(c, from);
	if (rc == 0)
		rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&ss,
				    connect_cb);
	if (rc) {
		tls_conn_close(c, rc);  /* no callbacks set yet: the owner hears nothing */
		return rc;
	}
	tls_conn_set_callbacks(c, cb, data);
	*out = c;
	return 0;
}

/* ---- connection accessors and sending ---- */

void tls_conn_set_callbacks(struct tls_conn *c, const struct tls_conn_callbacks *cb,
			    void *data)
{
	if (cb)
		c->cb = *cb;
	else
		memset(&c->cb, 0, sizeof c->cb);
	c->data = data;
}

void *tls_conn_data(const struct tls_conn *c)
{
	return c->data;
}

int tls_conn_send(struct tls_conn *c, const json_t *msg)
{
	struct buf *frame = &c->frame;
	size_t off = 0;
	int rc;

	if (c->state != CONN_OPEN)
		return INSEL_E_CLOSED;
	if (queued_bytes(c) > MSG_MAX_QUEUED) {
		conn_fail(c, INSEL_E_LIMIT, "the peer does not read: over %d bytes queued",
			  MSG_MAX_QUEUED);
		return INSEL_E_LIMIT;
	}
	rc = msg_encode(msg, frame);
	while (rc == 0 && off < frame->len) {
		ssize_t n = gnutls_record_send(c->session, frame->data + off, frame->len - off);

		if (n < 0 && n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
			rc = INSEL_E_CRYPTO;
		else if (n > 0)
			off += (size_t)n;
	}
	buf_consume(frame, frame->len);  /* wipes the plaintext, keeps the memory */
	/* A message too big to encode is the caller's problem; the connection is fine. */
	if (rc == INSEL_E_TOO_BIG || rc == INSEL_E_MALFORMED || rc == INSEL_E_NOSPACE)
		return rc;
	if (rc == 0)
		rc = flush(c);
	if (rc)
		conn_fail(c, rc, "cannot send to the peer: %s", insel_strerror(rc));
	return rc;
}

int tls_conn_send_new(struct tls_conn *c, json_t *msg)
{
	int rc = msg ? tls_conn_send(c, msg) : -ENOMEM;

	json_decref(msg);
	return rc;
}

const struct pki_identity *tls_conn_peer(const struct tls_conn *c)
{
	return &c->policy.peer;
}

int tls_conn_peer_endpoint(const struct tls_conn *c, struct ip_endpoint *out)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	int rc = uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len);

	return rc ? rc : ip_endpoint_from_sockaddr((struct sockaddr *)&ss, out);
}

int tls_conn_export_keying(struct tls_conn *c, const char *label, const void *context,
			   size_t context_len, void *out, size_t out_len)
{
	if (c->state != CONN_OPEN)
		return INSEL_E_CLOSED;
	if (gnutls_prf_rfc5705(c->session, strlen(label), label, context_len, context, out_len,
			       out) < 0)
		return INSEL_E_CRYPTO;
	return 0;
}

int tls_conn_close_reason(const struct tls_conn *c)
{
	return c->close_reason;
}

const char *tls_conn_error(const struct tls_conn *c)
{
	if (c->policy.error[0])
		return c->policy.error;
	return c->close_reason ? insel_strerror(c->close_reason) : "";
}
