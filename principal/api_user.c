/* API op verify_user: a secondary checks the password of a user of a LAN it serves. The
 * principal holds the hashes; the slow KDF runs off the event loop (run_verify). An
 * unknown user's password is checked for real against a dummy hash of the same cost, and
 * gets the same answer as a wrong one.
 *
 * Guessing is slowed per user and per source address (the LAN host, as its secondary
 * reports it): after a few failures in a row each further one doubles the wait, and a
 * source or user may have only a couple of checks running at once. A check refused for
 * that is answered "busy" at once, without running the KDF, and never as a wrong
 * password. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "buf.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "principal_ops.h"
#include "rand.h"

/* A user's failures: a user who mistypes a few times waits seconds, a guesser far more;
 * the first success clears them. */
static const struct backoff_policy user_policy = {
	.free_failures = 5,
	.base_ms = 1000,
	.max_ms = 30000,
	.forget_ms = 15 * 60 * 1000,
	.max_inflight = 2,
	.success_resets = true,
};
/* A source's failures, whatever the names tried; a success on one account does not clear
 * them, so guesses cannot be laundered through a known password. */
static const struct backoff_policy source_policy = {
	.free_failures = 5,
	.base_ms = 1000,
	.max_ms = 60000,
	.forget_ms = 15 * 60 * 1000,
	.max_inflight = 2,
	.success_resets = false,
};

int api_auth_init(struct api_server *s, unsigned iterations)
{
	uint8_t secret[32];
	char password[2 * sizeof secret + 1];
	int rc;

	s->guess_by_user = backoff_new(&user_policy, API_GUESS_KEYS);
	s->guess_by_source = backoff_new(&source_policy, API_GUESS_KEYS);
	if (!s->guess_by_user || !s->guess_by_source) {
		api_auth_free(s);
		return -ENOMEM;
	}
	/* Nobody knows this password, not even us. */
	rand_key(secret, sizeof secret);
	for (size_t i = 0; i < sizeof secret; i++)
		snprintf(password + 2 * i, 3, "%02x", secret[i]);
	rc = passwd_hash(password, iterations, s->dummy_hash, sizeof s->dummy_hash);
	s->hash_iterations = iterations;
	secure_wipe(secret, sizeof secret);
	secure_wipe(password, sizeof password);
	if (rc)
		api_auth_free(s);
	return rc;
}

void api_auth_free(struct api_server *s)
{
	backoff_free(s->guess_by_user);
	backoff_free(s->guess_by_source);
	s->guess_by_user = s->guess_by_source = NULL;
	secure_wipe(s->dummy_hash, sizeof s->dummy_hash);
}

static uint64_t clock_ms(const struct api_server *s)
{
	return s->clock_ms ? s->clock_ms() : (uint64_t)s->now() * 1000;
}

/* The source key: the secondary and the LAN address it reports (older secondaries send
 * none: then all their users share the secondary's key). */
static void source_key(const struct api_peer *p, const struct pop_verify_user_req *req,
		       char *out, size_t outlen, char *shown, size_t shownlen)
{
	char addr[IP_STRLEN];

	if (!req->has_source) {
		snprintf(out, outlen, "%s", p->id.name);
		snprintf(shown, shownlen, "secondary %s", p->id.name);
		return;
	}
	ip_addr_format(&req->source, addr, sizeof addr);
	snprintf(shown, shownlen, "%s", addr);
	snprintf(out, outlen, "%s %s", p->id.name, addr);
}

static void reply_busy(struct api_peer *p, json_int_t id, const char *who, uint64_t retry_ms)
{
	if (retry_ms)
		api_reply_error(p, id, INSEL_E_BUSY, "too many failed logins %s; try again in %llu s",
				who, (unsigned long long)((retry_ms + 999) / 1000));
	else
		api_reply_error(p, id, INSEL_E_BUSY, "a login %s is already being checked; try "
				"again in a moment", who);
}

/* Takes a check slot for the source and the user; on refusal replies busy. */
static int begin_guards(struct api_peer *p, json_int_t id, const char *skey, const char *shown,
			const char *user)
{
	struct api_server *s = p->srv;
	uint64_t now = clock_ms(s), retry;
	char who[POP_TEXT_MAX];

	if (backoff_begin(s->guess_by_source, skey, now, &retry)) {
		snprintf(who, sizeof who, "from %s", shown);
		reply_busy(p, id, who, retry);
		return INSEL_E_BUSY;
	}
	if (backoff_begin(s->guess_by_user, user, now, &retry)) {
		backoff_end(s->guess_by_source, skey, BACKOFF_CANCELLED, now);
		snprintf(who, sizeof who, "for %s", user);
		reply_busy(p, id, who, retry);
		return INSEL_E_BUSY;
	}
	return 0;
}

static void end_guards(struct api_server *s, const char *skey, const char *user,
		       enum backoff_outcome outcome)
{
	uint64_t now = clock_ms(s);

	backoff_end(s->guess_by_source, skey, outcome, now);
	backoff_end(s->guess_by_user, user, outcome, now);
}

/* A password check: answered {user, lan}, or auth_failed, or busy, once the KDF has run
 * (api_verify_finish). The wire form is principal_ops_auth.c's. */
void verify_user_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	static_assert(POP_PASSWORD_MAX == PASSWD_MAX_LEN, "the longest password");
	char skey[BACKOFF_KEY_MAX + 1], why[POP_WHY_LEN];
	char user_key[2 * DB_NAME_MAX + 2], shown[IP_STRLEN + PKI_NAME_MAX + 16];
	struct pop_verify_user_req req;
	const char *name, *lan;
	struct api_verify *v;
	int rc;

	if ((rc = pop_verify_user_req_decode(msg, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	name = req.name;
	lan = req.lan;
	source_key(p, &req, skey, sizeof skey, shown, sizeof shown);
	if (!db_secondary_serves(p->srv->db, p->id.name, lan)) {
		api_reply_error(p, id, INSEL_E_FORBIDDEN, "secondary %s does not serve LAN %s",
				p->id.name, lan);
		return;
	}
	if (!p->srv->guess_by_user || !p->srv->dummy_hash[0]) {
		api_reply_error(p, id, INSEL_E_UNAVAILABLE, "password checks are not set up");
		return;
	}
	snprintf(user_key, sizeof user_key, "%s@%s", name, lan);
	if (p->verify_pending >= API_MAX_VERIFY_PENDING) {
		api_reply_error(p, id, INSEL_E_BUSY, "too many password checks in flight for "
				"secondary %s; try again in a moment", p->id.name);
		return;
	}
	if (begin_guards(p, id, skey, shown, user_key))
		return;
	v = calloc(1, sizeof *v);
	if (!v) {
		end_guards(p->srv, skey, user_key, BACKOFF_CANCELLED);
		api_reply_error(p, id, -ENOMEM, "out of memory");
		return;
	}
	v->peer = p;
	v->id = id;
	snprintf(v->user, sizeof v->user, "%s", user_key);
	snprintf(v->lan, sizeof v->lan, "%s", lan);
	snprintf(v->password, sizeof v->password, "%s", req.password);
	snprintf(v->source_key, sizeof v->source_key, "%s", skey);
	rc = db_user_hash(p->srv->db, name, lan, v->hash, sizeof v->hash);
	v->known = rc == 0;
	if (rc == INSEL_E_NOT_FOUND)
		snprintf(v->hash, sizeof v->hash, "%s", p->srv->dummy_hash);
	else if (rc) {
		end_guards(p->srv, skey, user_key, BACKOFF_CANCELLED);
		secure_wipe(v, sizeof *v);
		free(v);
		api_reply_db_error(p, id, rc);
		return;
	}
	p->verify_pending++;
	p->srv->run_verify(p->srv, v);
}

/* The same work for a known and an unknown user: one PBKDF2 run at the stored count. */
void api_verify_compute(struct api_verify *v)
{
	if (v->compute) {
		v->compute(v);
		return;
	}
	v->result = passwd_verify(v->password, v->hash);
	if (v->result == INSEL_E_MALFORMED || !v->known)
		v->result = INSEL_E_AUTH;
}

void api_verify_finish(struct api_verify *v)
{
	struct api_peer *p = v->peer;

	p->verify_pending--;
	if (v->finish) {
		v->finish(v);
		if (p->gone && api_peer_idle(p))
			p->release(p);
		return;
	}
	if (v->result == INSEL_E_AUTH) {
		p->srv->logins_failed++;
		api_event(p->srv, "login_failed", json_pack("{s:s, s:s}", "user", v->user,
							    "secondary", p->id.name));
	}
	/* Only a verdict counts: a check that could not run (the pool refused it) is neither. */
	end_guards(p->srv, v->source_key, v->user,
		   v->result == 0 ? BACKOFF_SUCCESS
		   : v->result == INSEL_E_AUTH ? BACKOFF_FAILURE : BACKOFF_CANCELLED);
	if (!p->gone) {
		if (v->result == 0)
			api_reply_ok(p, v->id, pop_verify_user_reply_encode(
					     &(struct pop_verify_user_reply){v->user, v->lan}));
		else if (v->result == INSEL_E_AUTH)
			api_reply_error(p, v->id, INSEL_E_AUTH, "wrong user name or password");
		else
			api_reply_error(p, v->id, INSEL_E_BUSY, "the password could not be checked "
					"now (%s); try again in a moment", insel_strerror(v->result));
		log_info("secondary %s: password of %s %s", p->id.name, v->user,
			 v->result == 0 ? "accepted" : v->result == INSEL_E_AUTH ? "refused"
										: "not checked");
	}
	secure_wipe(v, sizeof *v);
	free(v);
	if (p->gone && api_peer_idle(p))
		p->release(p);
}
