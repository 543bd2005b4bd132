/* The secondary's link to the principal: connect over mutual TLS (only to a certificate of
 * role principal with the configured name, and fingerprint if pinned), say hello,
 * register the LAN's prefixes and peer endpoint, heartbeat, keep the revocation list
 * (fetched whole, and pushed by the principal as it changes), and reconnect whenever the
 * link drops. Calls in progress never depend on this link being up.
 *
 * A directory may have several principals ([principal] address = A, B, ...; docs/
 * principals.md). The link uses one at a time: when it drops, or a connection or
 * registration fails, the next in the list is tried at once; only when the whole list
 * failed does the link wait, with exponential back-off (with jitter, so that many
 * secondaries do not return in lock-step), and start again from the first. While a
 * later principal serves us, a more preferred one is probed every heartbeat, and the
 * link moves back as soon as one answers a TLS handshake; a move back that does not
 * hold (refused registration, a link dropped within FAILBACK_PROOF_BEATS heartbeats)
 * makes the next probes wait, doubling from one heartbeat to PRINCIPAL_BACKOFF_MAX_MS.
 *
 * Call records are the one thing that must reach the directory whichever principal is
 * up: each stays in the outbox until a principal answered it, and one sent on a link
 * that died before the answer is sent again on the next (a repeat is answered exists or
 * conflict, which settles it as well). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "msg.h"
#include "rand.h"
#include "secondary.h"
#include "timeouts.h"
#include "tls.h"
#include "wire_errors.h"

#define OUTBOX_MAX 10000  /* records kept while the principal is away */
#define REVOCATION_REFRESH_BEATS 6
#define REVOCATION_PAGE POP_LIST_MAX
#define FAILBACK_PROOF_BEATS 3  /* a link moved back holds once up this many heartbeats */

static void link_connect(struct principal_link *l);
static void probe_cb(uv_timer_t *t);
static void flush_outbox(struct principal_link *l);

static bool is_revoked_serial(const struct principal_link *l, const char *serial)
{
	return l->revoked && json_object_get(l->revoked, serial) != NULL;
}

static const char *const state_names[] = {"down", "connecting", "registering", "up"};

static void set_state(struct principal_link *l, enum principal_link_state st)
{
	if (l->state != st)
		log_debug("principal link %s -> %s", state_names[l->state], state_names[st]);
	l->state = st;
}

static void retry_cb(uv_timer_t *t)
{
	link_connect(t->data);
}

static const struct ip_endpoint *current_principal(const struct principal_link *l)
{
	return &l->owner->cfg.principals[l->current];
}

/* After a link lost or an attempt that failed: the next principal at once while this
 * round has not tried them all, else a back-off and the first (preferred) again. */
/* A move back ended before the link proved itself (FAILBACK_PROOF_BEATS heartbeats up):
 * the next probes of more preferred principals wait, twice as long each time. */
static void failback_failed(struct principal_link *l)
{
	uint64_t hb = (uint64_t)l->owner->cfg.heartbeat_ms, hold;
	unsigned shift = l->failback_failures < 10 ? l->failback_failures : 10;
	char at[IP_STRLEN];

	l->failback_failures++;
	hold = hb << shift;
	if (hold > PRINCIPAL_BACKOFF_MAX_MS)
		hold = hb > PRINCIPAL_BACKOFF_MAX_MS ? hb : PRINCIPAL_BACKOFF_MAX_MS;
	l->probe_hold_until_ms = uv_now(l->owner->loop) + hold;
	log_warn("moving back to the principal at %s did not hold (%u time%s in a row); the "
		 "next try in %llu ms", ip_endpoint_format(current_principal(l), at, sizeof at),
		 l->failback_failures, l->failback_failures == 1 ? "" : "s",
		 (unsigned long long)hold);
}

static bool link_proved(const struct principal_link *l)
{
	return l->up_since_ms && uv_now(l->owner->loop) - l->up_since_ms >=
		FAILBACK_PROOF_BEATS * (uint64_t)l->owner->cfg.heartbeat_ms;
}

static void schedule_retry(struct principal_link *l)
{
	size_t n = l->owner->cfg.nprincipals;
	uint64_t delay = 0;

	if (l->owner->stopping)
		return;
	set_state(l, LINK_DOWN);
	if (l->failback && !link_proved(l))
		failback_failed(l);
	l->failback = false;
	l->up_since_ms = 0;
	if (l->move_pending) {
		l->move_pending = false;
		l->current = l->move_to;
		l->tried = 0;
		l->failback = true;
	} else if (++l->tried < n) {
		l->current = (l->current + 1) % n;
	} else {
		delay = rand_backoff_ms(&l->backoff_ms, PRINCIPAL_BACKOFF_FIRST_MS,
					PRINCIPAL_BACKOFF_MAX_MS);
		l->current = 0;
		l->tried = 0;
	}
	uv_timer_start(&l->retry, retry_cb, delay, 0);
}

static int send_on_link(void *conn, const json_t *msg)
{
	return tls_conn_send(conn, msg);
}

static void heartbeat_reply(void *ctx, const json_t *reply, int err)
{
	struct principal_link *l = ctx;
	const char *code, *message;

	if (err) {
		log_warn("principal did not answer a heartbeat (%s); reconnecting",
			 insel_strerror(err));
		if (l->conn)
			tls_conn_close(l->conn, err);
		return;
	}
	if (!msg_reply_is_ok(reply, &code, &message)) {
		log_warn("principal refused a heartbeat: %s (%s)", message, code);
		return;
	}
	if (l->failback && link_proved(l)) {
		l->failback = false;  /* the move back held */
		l->failback_failures = 0;
	}
}

/* ---- revocations ----
 * The list is kept as an object of serials so that every peer handshake can ask it. It
 * is fetched whole (page after page until the principal's total) after registering and
 * every few heartbeats; in between, the principal pushes each new revocation at once
 * ("revoked" notice). Whenever a serial joins the list, every call and trunk whose peer
 * gateway presented that certificate ends with reason "revoked". */

/* Ends every call whose peer secondary's certificate is now revoked. */
static void end_revoked_calls(struct principal_link *l)
{
	for (struct call *call = l->owner->calls, *next; call; call = next) {
		next = call->next;
		if (call->peer && call->peer->serial[0] && is_revoked_serial(l, call->peer->serial)) {
			log_warn("call %s: the certificate of '%s' (serial %s) was revoked; ending it",
				 call->id_hex, call->peer->name, call->peer->serial);
			call_event(call, CALL_EV_REVOKED, NULL);
		}
	}
}

/* Adds serials (a JSON array) to set; how many were new. */
static size_t add_serials(json_t *set, const json_t *serials)
{
	const json_t *serial;
	size_t i, added = 0;

	json_array_foreach(serials, i, serial) {
		const char *text = json_string_value(serial);

		if (text && strlen(text) <= PKI_SERIAL_MAX && !json_object_get(set, text)) {
			json_object_set_new(set, text, json_true());
			added++;
		}
	}
	return added;
}

static void fetch_revocations_page(struct principal_link *l, size_t offset);

/* One page of the list: gathered into l->revoked_next until the total is reached, which
 * then replaces the list (so serials the operator un-revoked drop out too). */
static void revocations_reply(void *ctx, const json_t *reply, int err)
{
	struct principal_link *l = ctx;
	struct pop_revocations_reply page;
	char why[POP_WHY_LEN];
	size_t n;

	if (err || !msg_reply_is_ok(reply, NULL, NULL) ||
	    pop_revocations_reply_decode(reply, &page, why) || !l->revoked_next) {
		json_decref(l->revoked_next);
		l->revoked_next = NULL;  /* tried again at the next refresh */
		return;
	}
	n = json_array_size(page.serials);
	add_serials(l->revoked_next, page.serials);
	if (n > 0 && page.offset + (int64_t)n < page.total) {
		fetch_revocations_page(l, (size_t)page.offset + n);
		return;
	}
	json_decref(l->revoked);
	l->revoked = l->revoked_next;
	l->revoked_next = NULL;
	if (json_object_size(l->revoked) != l->revoked_count)
		log_info("revocation list: %zu certificate%s", json_object_size(l->revoked),
			 json_object_size(l->revoked) == 1 ? "" : "s");
	l->revoked_count = json_object_size(l->revoked);
	end_revoked_calls(l);
}

static void fetch_revocations_page(struct principal_link *l, size_t offset)
{
	struct pop_page page = {(int64_t)offset, REVOCATION_PAGE};
	json_t *req = pop_revocations_req_encode(0, &page);

	if (rpc_call(&l->rpc, req, PRINCIPAL_REQUEST_TIMEOUT_MS, revocations_reply, l)) {
		json_decref(l->revoked_next);
		l->revoked_next = NULL;
	}
}

static void fetch_revocations(struct principal_link *l)
{
	if (l->revoked_next)
		return;  /* a fetch is under way */
	l->revoked_next = json_object();
	fetch_revocations_page(l, 0);
}

/* {"op":"revoked","serials":[...]} from the principal: no reply. */
static void revoked_notice(struct principal_link *l, const json_t *msg)
{
	const json_t *serials;
	char why[POP_WHY_LEN];
	size_t added;

	if (pop_revoked_notice_decode(msg, &serials, why)) {
		log_warn("unreadable revocation notice from the principal: %s", why);
		return;
	}
	if (!l->revoked)
		l->revoked = json_object();
	added = add_serials(l->revoked, serials);
	if (l->revoked_next)  /* a fetch under way must not drop them */
		add_serials(l->revoked_next, serials);
	if (added == 0)
		return;
	l->revoked_count = json_object_size(l->revoked);
	log_info("the principal revoked %zu certificate%s; revocation list: %zu", added,
		 added == 1 ? "" : "s", l->revoked_count);
	end_revoked_calls(l);
}

/* {"op":"dial_back",...}: a caller cannot dial us (we are behind NAT); we dial it, or
 * the principal's splice (docs/nat.md). No reply. */
static void dial_back_notice(struct principal_link *l, const json_t *msg)
{
	struct pop_dial_back n;
	char why[POP_WHY_LEN], call[ID_STRLEN], to[IP_STRLEN];
	int rc;

	if (pop_dial_back_notice_decode(msg, &n, why)) {
		log_warn("unreadable dial_back notice from the principal: %s", why);
		return;
	}
	log_info("call %s: secondary %s cannot dial us; dialling %s %s",
		 id_format(n.call_id, call), n.caller,
		 n.mode == POP_SIG_REVERSED ? "it back at" : "the principal's splice at",
		 ip_endpoint_format(&n.to, to, sizeof to));
	if ((rc = peer_dial_back(l->owner, &n)))
		log_warn("call %s: cannot dial %s: %s", call, to, insel_strerror(rc));
}

static bool is_revoked(void *ctx, const char *serial)
{
	return is_revoked_serial(ctx, serial);
}

static void heartbeat_cb(uv_timer_t *t)
{
	struct principal_link *l = t->data;

	if (l->state == LINK_REGISTERING)
		l->reregister = true;  /* the registration under way states the old role */
	if (l->state != LINK_UP)
		return;
	if (++l->heartbeats % REVOCATION_REFRESH_BEATS == 0)
		fetch_revocations(l);
	flush_outbox(l);  /* records a principal could not take (its directory failing) */
	rpc_call(&l->rpc, pop_heartbeat_req_encode(0),
		 (uint32_t)(HEARTBEAT_REPLY_BEATS * l->owner->cfg.heartbeat_ms), heartbeat_reply, l);
}

/* ---- call records ---- */

/* A record sent and not yet answered. */
struct record_flight {
	struct principal_link *link;
	uint64_t seq;
	json_t *req;
};

/* Puts a record back in its place by seq (a call's start before its end), taking req. */
static void outbox_put(struct principal_link *l, uint64_t seq, json_t *req)
{
	size_t at;

	if (!l->outbox) {  /* stopped */
		json_decref(req);
		return;
	}
	if (json_array_size(l->outbox) >= OUTBOX_MAX) {
		log_warn("principal away too long: dropping the oldest call record");
		json_array_remove(l->outbox, 0);
	}
	for (at = json_array_size(l->outbox); at > 0; at--)
		if ((uint64_t)json_integer_value(json_array_get(json_array_get(l->outbox, at - 1),
								0)) < seq)
			break;
	json_array_insert_new(l->outbox, at, json_pack("[I, o]", (json_int_t)seq, req));
}

/* A refusal that sending again cannot change: the record is there already (exists,
 * conflict: a repeat after a link died before its answer), or it never will be. Any
 * other (the directory failing, a principal stopping) keeps it for the next try. */
static bool refusal_is_final(const char *code)
{
	return code && (wire_error_is(code, WERR_EXISTS) || wire_error_is(code, WERR_CONFLICT) ||
			wire_error_is(code, WERR_NOT_FOUND) ||
			wire_error_is(code, WERR_FORBIDDEN) ||
			wire_error_is(code, WERR_BAD_FIELD));
}

static void record_reply(void *ctx, const json_t *reply, int err)
{
	struct record_flight *f = ctx;
	const char *code = NULL, *message = NULL;

	if (!err && msg_reply_is_ok(reply, &code, &message)) {
		json_decref(f->req);
	} else if (!err && refusal_is_final(code)) {
		if (!wire_error_is(code, WERR_EXISTS) && !wire_error_is(code, WERR_CONFLICT))
			log_warn("principal refused a call record: %s (%s)", message, code);
		json_decref(f->req);
	} else {
		if (!err)
			log_warn("principal could not take a call record (%s); keeping it", message);
		outbox_put(f->link, f->seq, f->req);
	}
	free(f);
}

/* Sends one record (taking req); kept in the outbox if it cannot go now. */
static void record_send(struct principal_link *l, uint64_t seq, json_t *req)
{
	struct record_flight *f = malloc(sizeof *f);

	if (!f || l->state != LINK_UP ||
	    rpc_call(&l->rpc, json_incref(req), PRINCIPAL_REQUEST_TIMEOUT_MS, record_reply, f)) {
		free(f);
		outbox_put(l, seq, req);
		return;
	}
	*f = (struct record_flight){l, seq, req};
}

static void flush_outbox(struct principal_link *l)
{
	size_t n = json_array_size(l->outbox);
	json_t *queued;

	if (n == 0 || l->state != LINK_UP)
		return;
	log_info("sending %zu call record%s kept while the principal was away", n,
		 n == 1 ? "" : "s");
	queued = l->outbox;
	l->outbox = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(queued, i);

		record_send(l, (uint64_t)json_integer_value(json_array_get(e, 0)),
			    json_incref(json_array_get(e, 1)));
	}
	json_decref(queued);
}

static bool session_reply_ok(const json_t *reply, int err)
{
	return !err && msg_reply_is_ok(reply, NULL, NULL);
}

/* Why a step of the session (hello, register) failed, or NULL if its reply is ok; an ok
 * reply that does not decode (decoded non-zero, why saying how) is no answer either. */
static const char *session_refusal(const json_t *reply, int err, int decoded, const char *why)
{
	const char *message = NULL;

	if (err)
		return insel_strerror(err);
	if (!msg_reply_is_ok(reply, NULL, &message))
		return message;
	return decoded ? why : NULL;
}

/* A refused step of the session closes the link. A refused registration (overlap, unknown
 * LAN) will not fix itself quickly; the back-off keeps us from hammering the principal
 * meanwhile. */
static void session_refused(struct principal_link *l, int err)
{
	if (l->conn)
		tls_conn_close(l->conn, err ? err : INSEL_E_REFUSED);
}

static bool addr_unspecified(const struct ip_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

/* Where the principal answers STUN, for [nat] stun = principal: bound to every address,
 * it is the address we reach it at. */
static void take_stun(struct principal_link *l, const struct pop_register_reply *r)
{
	const struct secondary_config *cfg = &l->owner->cfg;
	char text[IP_STRLEN];

	l->has_stun = r->has_stun;
	if (!r->has_stun) {
		if (cfg->stun_principal)
			log_info("the principal runs no STUN responder: calls learn no public "
				 "endpoint from it");
		return;
	}
	l->stun = r->stun;
	if (addr_unspecified(&l->stun.addr))
		l->stun.addr = current_principal(l)->addr;
	l->has_stun_alternate = r->has_stun_alternate;
	l->stun_alternate = r->stun_alternate;
	l->stun_alternate.addr = l->stun.addr;  /* the same responder: the same address */
	if (cfg->stun_principal)
		log_info("the principal answers STUN at %s%s", ip_endpoint_format(&l->stun, text,
										   sizeof text),
			 l->has_stun_alternate ? " and on its alternate port" : "");
}

static void register_reply(void *ctx, const json_t *reply, int err)
{
	struct principal_link *l = ctx;
	const struct secondary_config *cfg = &l->owner->cfg;
	struct pop_register_reply registered;
	char why[POP_WHY_LEN], at[IP_STRLEN];
	int bad = session_reply_ok(reply, err) ? pop_register_reply_decode(reply, &registered,
									    why) : 0;
	const char *refused = session_refusal(reply, err, bad, why);

	if (refused) {
		log_error("registration of LAN '%s' refused: %s", cfg->lan, refused);
		session_refused(l, err);
		return;
	}
	set_state(l, LINK_UP);
	l->up_since_ms = uv_now(l->owner->loop);
	l->backoff_ms = 0;
	l->failures = 0;
	l->tried = 0;
	log_info("registered LAN '%s' with the principal at %s%s", cfg->lan,
		 ip_endpoint_format(current_principal(l), at, sizeof at),
		 secondary_is_active(l->owner) ? "" : " as a standby gateway");
	take_stun(l, &registered);
	if (l->reregister) {
		l->reregister = false;
		principal_link_reregister(l);
	}
	fetch_revocations(l);
	flush_outbox(l);
	uv_timer_start(&l->heartbeat, heartbeat_cb, cfg->heartbeat_ms, cfg->heartbeat_ms);
	if (l->current > 0)
		uv_timer_start(&l->probe, probe_cb, cfg->heartbeat_ms, cfg->heartbeat_ms);
}

static json_t *register_request(const struct secondary *s)
{
	const struct secondary_config *cfg = &s->cfg;
	static_assert(SECONDARY_MAX_PREFIXES <= POP_MAX_PREFIXES, "a LAN's prefixes");
	struct pop_register_req r = {.lan = cfg->lan, .nprefixes = cfg->nprefixes,
				     .endpoint = cfg->peer_public,
				     .reachable = cfg->peer_reachable,
				     .endpoint6 = cfg->peer_public6,
				     .has_endpoint6 = cfg->has_peer_public6,
				     .standby = !secondary_is_active(s)};

	memcpy(r.prefixes, cfg->prefixes, cfg->nprefixes * sizeof cfg->prefixes[0]);
	secondary_relay_announce(s, &r);
	return pop_register_req_encode(0, &r);
}

static void hello_reply(void *ctx, const json_t *reply, int err)
{
	struct principal_link *l = ctx;
	struct pop_hello_reply hello;
	char why[POP_WHY_LEN];
	int bad = session_reply_ok(reply, err) ? pop_hello_reply_decode(reply, &hello, why) : 0;
	const char *refused = session_refusal(reply, err, bad, why);

	if (refused) {
		log_error("principal refused hello: %s", refused);
		session_refused(l, err);
		return;
	}
	rpc_call(&l->rpc, register_request(l->owner), PRINCIPAL_REQUEST_TIMEOUT_MS,
		 register_reply, l);
}

/* With principal_fingerprint configured, the directory is that certificate (one of
 * those listed: a directory with several principals may give each its own key). */
static bool principal_pinned_ok(struct principal_link *l, struct tls_conn *c)
{
	const char *want = l->owner->cfg.principal_fingerprint;
	const struct pki_identity *id = tls_conn_peer(c);
	const char *at = want ? strstr(want, id->fingerprint) : NULL;

	if (!want || (at && (at == want || at[-1] == ',' || at[-1] == ' ') &&
		      strlen(id->fingerprint) == PKI_FINGERPRINT_LEN))
		return true;
	log_error("principal '%s' presented certificate %.16s..., not the pinned %.16s...; "
		  "refusing it", id->name, id->fingerprint, want);
	return false;
}

static void on_ready(struct tls_conn *c, int status)
{
	struct principal_link *l = tls_conn_data(c);

	if (status) {
		char at[IP_STRLEN];

		if (l->failures++ == 0 || l->owner->cfg.nprincipals > 1)
			log_warn("cannot reach the principal at %s: %s",
				 ip_endpoint_format(current_principal(l), at, sizeof at),
				 tls_conn_error(c));
		return;  /* on_close follows and schedules the retry */
	}
	if (!principal_pinned_ok(l, c)) {
		tls_conn_close(c, INSEL_E_VERIFY);
		return;
	}
	set_state(l, LINK_REGISTERING);
	rpc_call(&l->rpc, pop_hello_req_encode(0, &(struct pop_hello_req){MSG_PROTOCOL_VERSION,
									 "secondary"}),
		 PRINCIPAL_REQUEST_TIMEOUT_MS, hello_reply, l);
}

/* ---- a LAN's gateway changed (docs/standby.md) ---- */

/* The LAN at the other end of a call: the callee's for ours; for theirs, a trunk's caller
 * is a LAN and a host's caller user@lan. */
static const char *call_peer_lan(const struct call *call)
{
	const char *at;

	if (call->outgoing)
		return call->callee_lan;
	if (call->trunk || call->room_leg)
		return call->caller;
	at = strchr(call->caller, '@');
	return at ? at + 1 : "";
}

/* LAN n.lan is served by its gateway n.secondary now (a standby took over): our calls
 * with its old gateway end (they would otherwise wait out dead_after when the old one
 * died without closing its connections), and our trunk to that LAN is placed again now
 * rather than after its back-off. */
static void gateway_notice(struct principal_link *l, const json_t *msg)
{
	struct secondary *s = l->owner;
	struct pop_gateway_notice n;
	char why[POP_WHY_LEN];
	struct trunk *t;

	if (pop_gateway_notice_decode(msg, &n, why) != 0) {
		log_warn("unreadable gateway notice from the principal: %s", why);
		return;
	}
	if (strcmp(n.lan, s->cfg.lan) == 0)
		return;
	log_info("LAN %s is served by its gateway %s now", n.lan, n.secondary);
	for (struct call *call = s->calls, *next; call; call = next) {
		next = call->next;
		if (call->peer && call->peer->name[0] && strcmp(call->peer->name, n.secondary) &&
		    strcmp(call_peer_lan(call), n.lan) == 0 && call->state != CALL_ENDED)
			call_end(call, WIRE(GATEWAY_FAILOVER),
				 "the peer LAN's gateway failed over");
	}
	if ((t = trunk_for_lan(s, n.lan)) != NULL)
		trunk_redial_soon(t);
}

static void on_message(struct tls_conn *c, json_t *msg, int err)
{
	struct principal_link *l = tls_conn_data(c);

	if (err) {
		log_warn("unreadable message from the principal: %s", insel_strerror(err));
		return;
	}
	if (rpc_take_reply(&l->rpc, msg))
		return;
	if (msg_op(msg) && strcmp(msg_op(msg), "revoked") == 0) {
		revoked_notice(l, msg);
		return;
	}
	if (msg_op(msg) && strcmp(msg_op(msg), "gateway") == 0) {
		gateway_notice(l, msg);
		return;
	}
	if (msg_op(msg) && strcmp(msg_op(msg), "dial_back") == 0) {
		dial_back_notice(l, msg);
		return;
	}
	if (msg_op(msg) && strcmp(msg_op(msg), "rooms") == 0) {
		rooms_notice(l->owner, msg);
		return;
	}
	if (l->state == LINK_UP && secondary_relay_handle(l->owner, msg))
		return;
	tls_conn_send_new(c, msg_reply_error(msg_id(msg), WIRE(UNKNOWN_OP),
					     "a secondary does not serve '%s'",
					     msg_op(msg) ? msg_op(msg) : "?"));
}

static void on_close(struct tls_conn *c)
{
	struct principal_link *l = tls_conn_data(c);

	if (l->state == LINK_UP && !l->move_pending)
		log_warn("lost the link to the principal; calls go on, reconnecting%s",
			 l->owner->cfg.nprincipals > 1 ? " to the next principal" : "");
	l->conn = NULL;
	l->generation++;
	uv_timer_stop(&l->probe);
	/* Down at once, even when stopping (no retry then): nothing may be sent on the
	 * connection being freed, e.g. a call record from a call ending at shutdown. */
	set_state(l, LINK_DOWN);
	uv_timer_stop(&l->heartbeat);
	rpc_fail_all(&l->rpc, INSEL_E_CLOSED);
	json_decref(l->revoked_next);  /* a fetch cut short starts over */
	l->revoked_next = NULL;
	schedule_retry(l);
}

static const struct tls_conn_callbacks link_callbacks = {
	.ready = on_ready,
	.message = on_message,
	.close = on_close,
};

static void link_connect(struct principal_link *l)
{
	struct secondary *s = l->owner;
	int rc;

	set_state(l, LINK_CONNECTING);
	/* Only a principal-role certificate with the configured name is the directory. */
	rc = tls_connect(s->loop, s->creds, current_principal(l), PKI_ROLE_PRINCIPAL,
			 s->cfg.principal_name, &link_callbacks, l, &l->conn);
	if (rc) {
		log_warn("cannot connect to the principal: %s", insel_strerror(rc));
		l->conn = NULL;
		schedule_retry(l);
		return;
	}
	rpc_init(&l->rpc, s->loop, send_on_link, l->conn);
}

/* ---- failing back to a more preferred principal ---- */

static void probe_ready(struct tls_conn *c, int status)
{
	struct principal_link *l = tls_conn_data(c);
	char at[IP_STRLEN];

	if (status == 0 && principal_pinned_ok(l, c) && l->state == LINK_UP && l->conn &&
	    l->probe_target < l->current) {
		log_info("the principal at %s answers again; moving the link back to it",
			 ip_endpoint_format(&l->owner->cfg.principals[l->probe_target], at,
					    sizeof at));
		l->move_pending = true;
		l->move_to = l->probe_target;
		tls_conn_close(l->conn, 0);
	}
	tls_conn_close(c, 0);
}

static void probe_message(struct tls_conn *c, json_t *msg, int err)
{
	(void)c;
	(void)msg;
	(void)err;
}

static void probe_closed(struct tls_conn *c)
{
	struct principal_link *l = tls_conn_data(c);

	if (l->probe_conn == c)
		l->probe_conn = NULL;
}

static const struct tls_conn_callbacks probe_callbacks = {
	.ready = probe_ready,
	.message = probe_message,
	.close = probe_closed,
};

/* Every heartbeat while a later principal serves us: one of the more preferred ones in
 * turn, with a TLS handshake (the same checks as the link's). */
static void probe_cb(uv_timer_t *t)
{
	struct principal_link *l = t->data;
	struct secondary *s = l->owner;

	if (l->state != LINK_UP || l->current == 0 || l->probe_conn || s->stopping ||
	    uv_now(s->loop) < l->probe_hold_until_ms)
		return;
	l->probe_target = l->probe_next++ % l->current;
	if (tls_connect(s->loop, s->creds, &s->cfg.principals[l->probe_target],
			PKI_ROLE_PRINCIPAL, s->cfg.principal_name, &probe_callbacks, l,
			&l->probe_conn) != 0)
		l->probe_conn = NULL;
}

void principal_link_start(struct principal_link *l, struct secondary *s)
{
	l->owner = s;
	l->conn = NULL;
	l->state = LINK_DOWN;
	l->backoff_ms = 0;
	l->failures = 0;
	rpc_init(&l->rpc, s->loop, send_on_link, NULL);
	l->outbox = json_array();
	l->revoked = NULL;
	l->revoked_next = NULL;
	l->revoked_count = 0;
	tls_creds_set_revocation_check(s->creds, is_revoked, l);
	l->current = 0;
	l->tried = 0;
	l->move_pending = false;
	l->probe_conn = NULL;
	l->probe_next = 0;
	l->failback = false;
	l->up_since_ms = 0;
	l->failback_failures = 0;
	l->probe_hold_until_ms = 0;
	uv_timer_init(s->loop, &l->retry);
	uv_timer_init(s->loop, &l->heartbeat);
	uv_timer_init(s->loop, &l->probe);
	l->retry.data = l;
	l->heartbeat.data = l;
	l->probe.data = l;
	link_connect(l);
}

void principal_link_stop(struct principal_link *l)
{
	uv_timer_stop(&l->retry);
	uv_timer_stop(&l->heartbeat);
	uv_timer_stop(&l->probe);
	uv_close((uv_handle_t *)&l->retry, NULL);
	uv_close((uv_handle_t *)&l->heartbeat, NULL);
	uv_close((uv_handle_t *)&l->probe, NULL);
	set_state(l, LINK_DOWN);
	if (l->probe_conn)
		tls_conn_close(l->probe_conn, 0);
	if (l->conn)
		tls_conn_close(l->conn, 0);
	json_decref(l->outbox);
	l->outbox = NULL;
	json_decref(l->revoked);
	l->revoked = NULL;
	json_decref(l->revoked_next);
	l->revoked_next = NULL;
}

void principal_link_reregister(struct principal_link *l)
{
	/* A link not up yet registers with the role of the moment when it gets there. */
	if (l->state == LINK_REGISTERING)
		l->reregister = true;  /* the registration under way states the old role */
	if (l->state != LINK_UP)
		return;
	rpc_call(&l->rpc, register_request(l->owner), PRINCIPAL_REQUEST_TIMEOUT_MS,
		 register_reply, l);
}

bool principal_link_up(const struct principal_link *l)
{
	return l->state == LINK_UP;
}

void principal_record(struct secondary *s, json_t *req)
{
	struct principal_link *l = &s->principal;

	if (!req)
		return;
	record_send(l, ++l->record_seq, req);
}

void principal_reply(struct secondary *s, unsigned generation, json_t *reply)
{
	struct principal_link *l = &s->principal;

	if (l->conn && l->state == LINK_UP && l->generation == generation)
		tls_conn_send_new(l->conn, reply);
	else
		json_decref(reply);
}

int principal_request(struct secondary *s, json_t *req, rpc_reply_cb cb, void *ctx)
{
	if (!principal_link_up(&s->principal)) {
		json_decref(req);
		return INSEL_E_UNAVAILABLE;
	}
	return rpc_call(&s->principal.rpc, req, PRINCIPAL_REQUEST_TIMEOUT_MS, cb, ctx);
}
