/* Certificate renewal run from the principal, on the gateway's side.
 *
 * When less than renew_before (default: a third of its lifetime) of the gateway's
 * certificate remains, the key holder (keyholder.h) makes a new key and a PKCS#10 request
 * for it, and the gateway sends the request over its authenticated link (API op renew).
 * The new key never enters this process. The principal issues at once or queues the
 * request for an operator; the gateway asks again every renew_poll until it has an
 * answer. Then it switches:
 *
 *   1. CERT.new is written and fsynced;
 *   2. the TLS credentials are replaced (secondary_creds_replace: the new certificate,
 *      signed for by the holder's new key), which also checks that the certificate is the
 *      new key's and chains to the CA: every connection made from now on presents it,
 *      every open one (calls, trunks, auxiliaries) goes on (the holder signs with both);
 *   3. the holder writes the new key over KEY (COMMIT), then CERT.new becomes CERT, and
 *      the directory is synced: renew_recover_files finishes a switch interrupted between
 *      the two;
 *   4. the link to the principal is reopened once idle, so that it registers with the new
 *      certificate (which ends the window in which peers accept both).
 * The holder keeps the pending key in KEY.pending: a restart while a request waits asks
 * again with the same key, which finds the same request at the principal.
 *
 * Expiry of the CA, the principal and this gateway's certificate are reported in the
 * client's `insel status` and logged when within expiry_warning. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "pki_csr.h"
#include "secondary.h"
#include "timeouts.h"
#include "tls.h"
#include "wire_errors.h"

#define FILE_MAX (64 * 1024)

enum renew_state {
	RENEW_IDLE,      /* waiting until the certificate is due */
	RENEW_ASKING,    /* a renew request is in flight */
	RENEW_WAITING,   /* the principal queued it: asking again every renew_poll */
};

static const char *const state_names[] = {"idle", "asking", "waiting for approval"};

struct renew {
	struct secondary *sec;
	uv_timer_t timer;
	uv_timer_t recycle;
	int open_handles;         /* freed when both timers have closed */
	unsigned recycle_checks;
	enum renew_state state;
	bool enabled;
	uint64_t renew_before_s;  /* 0: a third of the lifetime */
	uint64_t poll_ms;
	int64_t warning_s;
	char new_cert[PATH_MAX];
	struct keyholder_key pending;  /* the holder's new key, while renewing */
	char *csr_pem;                 /* the request for it */
	int64_t request;          /* the principal's number for our request */
	struct pki_identity ca;
	bool have_ca;
	unsigned renewals;
	char last_error[256];
};

/* ---- files ---- */

static int read_text(const char *path, char **out)
{
	struct stat st;
	char *text;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > FILE_MAX ||
	    !(text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return INSEL_E_TOO_BIG;
	}
	n = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(text);
		return -EIO;
	}
	text[n] = '\0';
	*out = text;
	return 0;
}

/* Writes text to path with mode (exclusive: refuses an existing file), synced. */
static int write_text(const char *path, const char *text, mode_t mode, bool exclusive)
{
	size_t off = 0, len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
				    (exclusive ? O_EXCL : O_TRUNC), mode);

	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) != 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;

			close(fd);
			unlink(path);
			return e;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0)
		return -errno;
	return 0;
}

static void sync_dir_of(const char *path)
{
	char copy[PATH_MAX];
	int fd;

	snprintf(copy, sizeof copy, "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static void sibling(char *out, size_t n, const char *path, const char *suffix)
{
	snprintf(out, n, "%s%s", path, suffix);
}

/* Whether the PEM certificate in path certifies the key whose public half is spki. */
static bool cert_file_is_of_key(const char *path, const uint8_t *spki, size_t spki_len)
{
	unsigned char der[KEYHOLDER_SPKI_MAX];
	size_t n = 0;
	char *cert = NULL;
	bool yes = read_text(path, &cert) == 0 &&
		   pki_cert_spki(cert, strlen(cert), der, sizeof der, &n) == 0 && n == spki_len &&
		   memcmp(der, spki, n) == 0;

	free(cert);
	return yes;
}

static int install_cert(const char *new_cert, const char *cert)
{
	if (rename(new_cert, cert) != 0)
		return -errno;
	sync_dir_of(cert);
	return 0;
}

void renew_recover_files(const struct secondary_config *cfg, struct keyholder *kh)
{
	const struct keyholder_key *key = &kh->current;
	char new_cert[PATH_MAX];

	sibling(new_cert, sizeof new_cert, cfg->cert, ".new");
	if (access(new_cert, F_OK) != 0)
		return;
	/* Stopped before the holder committed the key: commit it now. */
	if (kh->has_pending &&
	    cert_file_is_of_key(new_cert, kh->pending.spki, kh->pending.spki_len) &&
	    keyholder_commit(kh, kh->pending.id) == 0) {
		kh->current = kh->pending;
		kh->has_pending = false;
	}
	if (cert_file_is_of_key(new_cert, key->spki, key->spki_len)) {
		log_warn("finishing a certificate switch that was interrupted: installing %s",
			 new_cert);
		if (install_cert(new_cert, cfg->cert) != 0)
			log_error("cannot install %s: %s", new_cert, strerror(errno));
	} else {
		log_warn("removing %s: it is not the certificate of this gateway's key", new_cert);
		unlink(new_cert);
	}
}

/* ---- the credentials ---- */

int secondary_creds_replace(struct secondary *s, const char *cert_path,
			    const struct keyholder_key *key, char *err, size_t errlen)
{
	struct tls_signer signer;

	keyholder_tls_signer(&s->keyholder, key, &signer);
	return tls_creds_replace(s->creds, cert_path, NULL, &signer, err, errlen);
}

/* ---- when ---- */

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* When the certificate in use is due for renewal (seconds since the epoch). */
static int64_t due_at(const struct renew *r)
{
	const struct pki_identity *self = tls_creds_identity(r->sec->creds);
	int64_t before = r->renew_before_s ? (int64_t)r->renew_before_s
					   : (self->not_after - self->not_before) / 3;

	return self->not_after - before;
}

static void check_cb(uv_timer_t *t);

static void schedule(struct renew *r, uint64_t ms)
{
	if (r->sec->stopping)
		return;
	uv_timer_start(&r->timer, check_cb, ms, 0);
}

/* The next look at the clock: when the certificate is due, at least hourly, and never
 * sooner than renew_poll (renewal off, or a certificate issued already due, must not
 * spin). */
static void schedule_next_check(struct renew *r)
{
	int64_t wait = due_at(r) - now_s();
	uint64_t ms = wait <= 0 ? r->poll_ms : (uint64_t)wait * 1000;

	schedule(r, ms > RENEW_CHECK_MAX_MS ? RENEW_CHECK_MAX_MS : ms);
}

/* Forgets the request; the holder drops the pending key at the next GENERATE. */
static void forget_pending(struct renew *r)
{
	free(r->csr_pem);
	r->csr_pem = NULL;
	r->request = 0;
	memset(&r->pending, 0, sizeof r->pending);
}

/* ---- the key and the request ---- */

/* A new key in the holder and a request for it, unless we have one already. */
static int prepare_request(struct renew *r)
{
	uint8_t der[KEYHOLDER_CSR_MAX];
	size_t len = 0;
	int rc;

	if (r->csr_pem)
		return 0;
	rc = keyholder_generate(&r->sec->keyholder, r->sec->cfg.name, &r->pending, der,
				sizeof der, &len);
	if (!rc)
		rc = pki_csr_der_to_pem(der, len, &r->csr_pem);
	if (rc) {
		snprintf(r->last_error, sizeof r->last_error,
			 "the key holder cannot make a new key: %s", insel_strerror(rc));
		log_error("renewal: %s", r->last_error);
		forget_pending(r);
	}
	return rc;
}

/* ---- the switch ---- */

static void recycle_cb(uv_timer_t *t)
{
	struct renew *r = t->data;
	struct principal_link *l = &r->sec->principal;

	if (!l->conn || r->sec->stopping)
		return;  /* down already: it reconnects with the new certificate */
	if (l->rpc.outstanding && ++r->recycle_checks < RECYCLE_GIVE_UP_CHECKS) {
		uv_timer_start(&r->recycle, recycle_cb, RECYCLE_CHECK_MS, 0);
		return;
	}
	log_info("reconnecting to the principal with the new certificate");
	tls_conn_close(l->conn, 0);
}

/* The certificate the principal sent: ours (name, role, the pending key), newer. */
static int check_issued(struct renew *r, const char *cert, struct pki_identity *id)
{
	const struct pki_identity *self = tls_creds_identity(r->sec->creds);
	unsigned char spki[KEYHOLDER_SPKI_MAX];
	size_t spki_len = 0;
	char err[256];

	if (pki_identity_from_pem(cert, strlen(cert), id, err, sizeof err) ||
	    pki_cert_spki(cert, strlen(cert), spki, sizeof spki, &spki_len))
		return err_set(r->last_error, sizeof r->last_error, INSEL_E_MALFORMED,
			       "the principal sent an unusable certificate: %s", err);
	if (id->role != PKI_ROLE_SECONDARY || strcmp(id->name, r->sec->cfg.name) != 0 ||
	    spki_len != r->pending.spki_len || memcmp(spki, r->pending.spki, spki_len) != 0)
		return err_set(r->last_error, sizeof r->last_error, INSEL_E_VERIFY,
			       "the principal sent a certificate for another name, role or key");
	if (id->not_after <= self->not_after)
		return err_set(r->last_error, sizeof r->last_error, INSEL_E_VERIFY,
			       "the certificate sent expires no later than the current one");
	return 0;
}

static int switch_to(struct renew *r, const char *cert)
{
	const struct secondary_config *cfg = &r->sec->cfg;
	struct pki_identity id;
	char err[256];
	int rc = check_issued(r, cert, &id);

	if (rc)
		return rc;
	rc = write_text(r->new_cert, cert, 0644, false);
	if (rc)
		return err_set(r->last_error, sizeof r->last_error, rc, "cannot write %s: %s",
			       r->new_cert, insel_strerror(rc));
	rc = secondary_creds_replace(r->sec, r->new_cert, &r->pending, err, sizeof err);
	if (rc) {
		unlink(r->new_cert);
		return err_set(r->last_error, sizeof r->last_error, rc, "%s", err);
	}
	rc = keyholder_commit(&r->sec->keyholder, r->pending.id);
	if (rc == 0) {
		r->sec->keyholder.current = r->pending;
		rc = install_cert(r->new_cert, cfg->cert);
		if (rc)
			log_error("renewal: the new certificate is in use but cannot be installed "
				  "as %s (%s); it is in %s", cfg->cert, insel_strerror(rc),
				  r->new_cert);
	} else {
		/* In use until the daemon stops; on disk the old pair stays, and the next start
		 * removes CERT.new (not the key's) and renews again. */
		log_error("renewal: the key holder cannot write the new key over %s (%s); the "
			  "new certificate is in use until the daemon stops", cfg->key,
			  insel_strerror(rc));
	}
	r->renewals++;
	r->last_error[0] = '\0';
	log_info("certificate renewed: serial %s, fingerprint %.16s..., valid until %lld; new "
		 "connections use it, calls in progress go on", id.serial, id.fingerprint,
		 id.not_after);
	forget_pending(r);
	r->recycle_checks = 0;
	uv_timer_start(&r->recycle, recycle_cb, 0, 0);
	return 0;
}

/* ---- asking ---- */

static void renew_reply(void *ctx, const json_t *reply, int err)
{
	struct renew *r = ctx;
	const char *code = NULL, *message = NULL;
	bool was_waiting = r->state == RENEW_WAITING;
	struct pop_renew_reply answer;
	char why[POP_WHY_LEN];
	int bad = 0;

	r->state = RENEW_IDLE;
	if (!err && msg_reply_is_ok(reply, &code, &message))
		bad = pop_renew_reply_decode(reply, &answer, why);
	if (err || bad || code) {
		snprintf(r->last_error, sizeof r->last_error, "%s",
			 err ? insel_strerror(err) : bad ? why : message ? message : "refused");
		log_warn("renewal: the principal did not renew the certificate: %s", r->last_error);
		/* A refused request will not be answered otherwise: the next one gets a new key. */
		if (!err && code && wire_error_is(code, WERR_REFUSED)) {
			keyholder_discard(&r->sec->keyholder, r->pending.id);
			forget_pending(r);
		}
		schedule(r, r->poll_ms);
		return;
	}
	r->request = answer.request;
	if (answer.state == POP_RENEW_ISSUED) {
		if (switch_to(r, answer.certificate) != 0) {
			log_error("renewal: %s", r->last_error);
			schedule(r, r->poll_ms);
			return;
		}
		schedule_next_check(r);
		return;
	}
	if (!was_waiting)
		log_warn("renewal request %lld waits for approval at the principal "
			 "('insel-principal pki approve %lld'); asking again every %llus",
			 (long long)answer.request, (long long)answer.request,
			 (unsigned long long)(r->poll_ms / 1000));
	r->state = RENEW_WAITING;
	schedule(r, r->poll_ms);
}

static void ask(struct renew *r)
{
	json_t *req;
	int rc;

	if (prepare_request(r) != 0) {
		schedule(r, r->poll_ms);
		return;
	}
	req = pop_renew_req_encode(0, &(struct pop_renew_req){r->csr_pem, strlen(r->csr_pem)});
	rc = principal_request(r->sec, req, renew_reply, r);
	if (rc) {
		snprintf(r->last_error, sizeof r->last_error, "the principal is unreachable");
		schedule(r, r->poll_ms);
		return;
	}
	if (r->state != RENEW_WAITING)
		r->state = RENEW_ASKING;
}

/* The principal's certificate, while the link is up. */
static const struct pki_identity *principal_identity(const struct secondary *s)
{
	return s->principal.conn && principal_link_up(&s->principal)
		       ? tls_conn_peer(s->principal.conn) : NULL;
}

static void warn_of_expiries(struct renew *r)
{
	const struct pki_identity *self = tls_creds_identity(r->sec->creds);
	int64_t now = now_s();

	if (self->not_after - now < r->warning_s)
		log_warn("this gateway's certificate expires in %llds (%s)",
			 (long long)(self->not_after - now),
			 r->enabled ? "renewing it" : "renewal is off: renew = no");
	if (r->have_ca && r->ca.not_after - now < r->warning_s)
		log_warn("the organisation CA expires in %llds: every certificate stops with it",
			 (long long)(r->ca.not_after - now));
	if (principal_identity(r->sec) &&
	    principal_identity(r->sec)->not_after - now < r->warning_s)
		log_warn("the principal's certificate expires in %llds: tell its operator",
			 (long long)(principal_identity(r->sec)->not_after - now));
}

static void check_cb(uv_timer_t *t)
{
	struct renew *r = t->data;

	if (r->state == RENEW_ASKING)
		return;  /* the reply reschedules */
	warn_of_expiries(r);
	if (!r->enabled || (r->state != RENEW_WAITING && now_s() < due_at(r))) {
		schedule_next_check(r);
		return;
	}
	ask(r);
}

/* ---- start, stop, status ---- */

int renew_start(struct secondary *s)
{
	const struct cfg *f = &s->cfg.file;
	struct renew *r = calloc(1, sizeof *r);
	char err[256];

	if (!r)
		return -ENOMEM;
	r->sec = s;
	r->enabled = cfg_bool(f, "tls", "renew");
	r->renew_before_s = cfg_str(f, "tls", "renew_before")
				    ? cfg_duration_ms(f, "tls", "renew_before") / 1000 : 0;
	r->poll_ms = cfg_duration_ms(f, "tls", "renew_poll");
	r->warning_s = (int64_t)(cfg_duration_ms(f, "tls", "expiry_warning") / 1000);
	sibling(r->new_cert, sizeof r->new_cert, s->cfg.cert, ".new");
	r->have_ca = pki_read_identity(s->cfg.ca, &r->ca, err, sizeof err) == 0;
	uv_timer_init(s->loop, &r->timer);
	uv_timer_init(s->loop, &r->recycle);
	r->timer.data = r->recycle.data = r;
	r->open_handles = 2;
	s->renew = r;
	/* The first check waits for the principal link to come up. */
	schedule(r, r->poll_ms < 2000 ? r->poll_ms : 2000);
	return 0;
}

static void renew_closed(uv_handle_t *h)
{
	struct renew *r = h->data;

	if (--r->open_handles == 0)
		free(r);
}

void renew_stop(struct secondary *s)
{
	struct renew *r = s->renew;

	if (!r)
		return;
	s->renew = NULL;
	rpc_forget_ctx(&s->principal.rpc, r);
	forget_pending(r);
	uv_close((uv_handle_t *)&r->timer, renew_closed);
	uv_close((uv_handle_t *)&r->recycle, renew_closed);
}

static json_t *expiry_json(const char *role, const struct pki_identity *id, int64_t now)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I}", "role", role, "name", id->name, "serial",
			 id->serial, "not_after", (json_int_t)id->not_after, "seconds_left",
			 (json_int_t)(id->not_after - now));
}

static void add_warning(json_t *warnings, const char *what, int64_t left, const char *then)
{
	char text[300];

	if (left <= 0)
		snprintf(text, sizeof text, "%s has EXPIRED", what);
	else
		snprintf(text, sizeof text, "%s expires in %llds%s", what, (long long)left, then);
	json_array_append_new(warnings, json_string(text));
}

void renew_status(struct secondary *s, json_t *reply)
{
	struct renew *r = s->renew;
	const struct pki_identity *self = tls_creds_identity(s->creds);
	json_t *certs = json_array(), *warnings = json_array(), *renewal;
	int64_t now = now_s();

	json_array_append_new(certs, expiry_json("secondary", self, now));
	if (r && r->have_ca)
		json_array_append_new(certs, expiry_json("ca", &r->ca, now));
	if (principal_identity(s))
		json_array_append_new(certs, expiry_json("principal", principal_identity(s), now));
	if (r && self->not_after - now < r->warning_s)
		add_warning(warnings, "the gateway's certificate", self->not_after - now,
			    r->state == RENEW_WAITING ? "; its renewal waits for the operator's "
							"approval at the principal"
						      : "; the gateway renews it by itself");
	if (r && r->have_ca && r->ca.not_after - now < r->warning_s)
		add_warning(warnings, "the organisation's CA", r->ca.not_after - now,
			    "; tell the operator: every certificate stops with it");
	if (r && principal_identity(s) && principal_identity(s)->not_after - now < r->warning_s)
		add_warning(warnings, "the principal's certificate",
			    principal_identity(s)->not_after - now, "; tell the operator");
	renewal = json_pack("{s:s, s:b, s:I, s:I}", "state",
			    r ? state_names[r->state] : "off", "enabled", r && r->enabled,
			    "renewals", (json_int_t)(r ? r->renewals : 0), "due_at",
			    (json_int_t)(r ? due_at(r) : 0));
	if (r && r->request)
		json_object_set_new(renewal, "request", json_integer(r->request));
	if (r && r->last_error[0])
		json_object_set_new(renewal, "last_error", json_string(r->last_error));
	json_object_set_new(reply, "certificates", certs);
	json_object_set_new(reply, "warnings", warnings);
	json_object_set_new(reply, "renewal", renewal);
}
