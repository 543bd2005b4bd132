/* The peer protocol between secondaries, over mutual TLS (both certificates from the
 * organisation CA, role secondary; the caller's side also checks the callee secondary's
 * name and fingerprint against the directory). One connection carries one call:
 *
 *   hello         {version}                                   -> {secondary}
 *   call_request  {call, caller, callee, callee_user?, callee_address?, channels, offer}
 *                 -> {answer} once the callee accepted, or an error
 *                    (unknown_callee, not_listening, busy, rejected, no_answer, limit,
 *                     no_common)
 *   hangup        {call, reason}                              -> {}
 *   rekey         {call, epoch, public}                       -> {public}  (call_rekey.c)
 *   rekey_done    {call, epoch}                                  (a notice, no reply)
 *
 * Each message is encoded and decoded by peer_codec.c, on both sides.
 * Losing the connection ends the call on both sides. The table below says who may send
 * what, checked by the one dispatcher (dispatch.h): the dialled side takes hello first and
 * once, then one call_request; hangup and rekey only for the connection's call; on the
 * dialling side the peer may only hang up and rekey, once it answered our hello. Every
 * request must come from a secondary's certificate (the listener refuses others at the
 * handshake; the table refuses them again before anything is served). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "peer_codec.h"
#include "preamble.h"
#include "secondary.h"
#include "timeouts.h"
#include "tls.h"
#include "wire_errors.h"


static void hello_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct peer_conn *p = ctx;
	json_int_t version;
	json_t *reply;

	if (msg_get_int(req, "version", 1, 1000, &version) || version != MSG_PROTOCOL_VERSION) {
		peer_send(p, msg_reply_error(id, WIRE(UNSUPPORTED_VERSION),
					     "this secondary speaks peer protocol version 1"));
		return;
	}
	p->hello_done = true;
	reply = msg_reply_ok(id);
	json_object_set_new(reply, "secondary", json_string(p->sec->cfg.name));
	peer_send(p, reply);
}

static void call_request_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct peer_conn *p = ctx;

	if (p->call) {
		peer_send(p, msg_reply_error(id, WIRE(BAD_REQUEST),
					     "this connection already carries a call"));
		return;
	}
	if (!secondary_is_active(p->sec)) {
		peer_send(p, msg_reply_error(id, WIRE(UNAVAILABLE), "this gateway is its LAN's "
					     "standby (docs/standby.md); look the LAN up again"));
		return;
	}
	call_incoming(p->sec, p, req);
	if (p->call)
		p->call->signalling = p->signalling ? p->signalling : POP_SIG_DIRECT;
	/* The idle deadline stops once the connection carries a call (which closes it when
	 * it ends); a refused request leaves it running. */
	if (p->call && p->tls)
		tls_conn_set_deadline(p->tls, 0, NULL);
}

static void hangup_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct peer_conn *p = ctx;
	struct peer_hangup h;
	const char *why;

	if (peer_hangup_decode(req, &h, &why)) {
		peer_send(p, msg_reply_error(id, WIRE(BAD_REQUEST), "%s", why));
		return;
	}
	if (!p->call || p->call->id != h.call_id) {
		peer_send(p, msg_reply_error(id, WIRE(UNKNOWN_CALL),
					     "this connection carries no such call"));
		return;
	}
	peer_send(p, msg_reply_ok(id));
	/* The other side says why the call ended (hangup, idle, aux_failed...): both
	 * gateways then record and report the same reason. */
	call_event(p->call, CALL_EV_PEER_HANGUP,
		   &(struct call_event_detail){.reason = h.reason});
}

/* "rekey" and "rekey_done" (call_rekey.c) name the connection's own call. */
static struct call *this_call(struct peer_conn *p, const json_t *req)
{
	uint64_t id = peer_call_of(req);

	if (id == 0 || !p->call || p->call->id != id)
		return NULL;
	return p->call;
}

static void rekey_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct peer_conn *p = ctx;
	struct call *call = this_call(p, req);

	if (!call) {
		peer_send(p, msg_reply_error(id, WIRE(UNKNOWN_CALL),
					     "this connection carries no such call"));
		return;
	}
	call_rekey_request(call, req);
}

static void rekey_done_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct peer_conn *p = ctx;
	struct call *call = this_call(p, req);

	if (call)
		call_rekey_done(call, req);
}

/* Only secondaries speak the peer protocol (the listener refuses other certificates at
 * the handshake; a connection with another role has no role here, so the table refuses
 * it too). */
#define BY_SECONDARY DISPATCH_ROLE(PKI_ROLE_SECONDARY)

/* A connection's state is its direction: the side that was dialled (incoming: the peer is
 * the caller's secondary) or the side that dialled (outgoing: the peer is the callee's,
 * and the hello was ours). */
#define PEER_INCOMING 1u
#define PEER_OUTGOING 2u
#define PEER_ANY (PEER_INCOMING | PEER_OUTGOING)

static const struct dispatch_op peer_ops[] = {
	{"hello", hello_handle, BY_SECONDARY, PEER_INCOMING},
	{"call_request", call_request_handle, BY_SECONDARY, PEER_INCOMING},
	{"hangup", hangup_handle, BY_SECONDARY, PEER_ANY},
	{"rekey", rekey_handle, BY_SECONDARY, PEER_ANY},
	{"rekey_done", rekey_done_handle, BY_SECONDARY, PEER_ANY},
};

static void refuse(void *ctx, json_int_t id, enum wire_error code, const char *message)
{
	peer_send(ctx, msg_reply_error(id, wire_error_name(code), "%s", message));
}

static const struct dispatch_table peer_table = {
	.ops = peer_ops,
	.n_ops = sizeof peer_ops / sizeof peer_ops[0],
	.state_refusal = WERR_BAD_STATE,
	.notices = true,  /* rekey_done */
	.refuse = refuse,
};

static void peer_message(struct tls_conn *t, json_t *msg, int err)
{
	struct peer_conn *p = tls_conn_data(t);
	const struct pki_identity *id = tls_conn_peer(t);
	struct dispatch_caller who = {
		.role = id ? DISPATCH_ROLE(id->role) : 0,
		.role_name = id ? pki_role_name(id->role) : "connection without a handshake",
		.state = p->outgoing ? PEER_OUTGOING : PEER_INCOMING,
		.state_name = p->outgoing ? "outgoing" : "incoming",
		.hello_done = p->outgoing ? p->ready : p->hello_done,
		.rpc = &p->rpc,
	};

	dispatch_message(&peer_table, &who, p, msg, err);
}

/* A dial_back connection leaves the count of those in their handshake. */
static void dial_back_settled(struct peer_conn *p)
{
	if (p->dialled_back) {
		p->dialled_back = false;
		p->sec->dialing_back--;
	}
}

static void peer_closed(struct tls_conn *t)
{
	struct peer_conn *p = tls_conn_data(t);

	p->tls = NULL;
	dial_back_settled(p);
	rpc_fail_all(&p->rpc, INSEL_E_CLOSED);
	if (p->call) {
		struct call *call = p->call;

		p->call = NULL;
		call->peer = NULL;
		if (p->ready || !p->outgoing)
			call_event(call, CALL_EV_PEER_CLOSED, NULL);
		/* Not dialled (behind NAT, say): the principal may connect us instead. */
		else if (!call_dial_failed(call, tls_conn_close_reason(t), tls_conn_error(t)))
			call_event(call, CALL_EV_PEER_FAILED, &(struct call_event_detail){
				.status = INSEL_E_CLOSED, .message = tls_conn_error(t)});
	}
	free(p);
}

int peer_send(struct peer_conn *p, json_t *msg)
{
	int rc = p->tls ? tls_conn_send(p->tls, msg) : INSEL_E_CLOSED;

	json_decref(msg);
	return rc;
}

static int send_raw(void *conn, const json_t *msg)
{
	struct peer_conn *p = conn;

	return p->tls ? tls_conn_send(p->tls, msg) : INSEL_E_CLOSED;
}

static struct peer_conn *peer_new(struct secondary *s, struct tls_conn *t)
{
	struct peer_conn *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->sec = s;
	p->tls = t;
	rpc_init(&p->rpc, s->loop, send_raw, p);
	return p;
}

static void remember_peer(struct peer_conn *p, const struct tls_conn *t)
{
	snprintf(p->name, sizeof p->name, "%s", tls_conn_peer(t)->name);
	snprintf(p->serial, sizeof p->serial, "%s", tls_conn_peer(t)->serial);
}

static void incoming_ready(struct tls_conn *t, int status)
{
	struct peer_conn *p = tls_conn_data(t);

	if (status) {
		log_warn("refused a peer connection: %s", tls_conn_error(t));
		return;
	}
	/* The principal checking that we can be dialled (docs/nat.md): that is all. */
	if (tls_conn_peer(t)->role == PKI_ROLE_PRINCIPAL) {
		log_debug("the principal dialled our peer port: it can reach us");
		tls_conn_close(t, 0);
		return;
	}
	p->ready = true;
	remember_peer(p, t);
	log_debug("peer secondary '%s' connected", tls_conn_peer(t)->name);
	tls_conn_set_deadline(t, p->sec->cfg.peer_idle_ms, "no call on this peer connection");
}

static const struct tls_conn_callbacks incoming_callbacks = {
	incoming_ready, peer_message, peer_closed,
};
static const struct tls_conn_callbacks outgoing_callbacks;

/* A connection to our peer port that starts with a preamble (preamble.h): the callee of
 * a call we placed, dialling back because we could not dial it. It must name a call that
 * waits for it, with the token the principal gave us; then we are the TLS client, and
 * check the callee's certificate against the directory as if we had dialled. */
static int peer_preamble(struct tls_conn *t, const uint8_t *data, size_t len)
{
	struct peer_conn *p = tls_conn_data(t);
	struct preamble pre;
	struct call *call;
	int n = preamble_decode(data, len, &pre);

	if (n <= 0)
		return n;
	call = pre.end == PREAMBLE_CALLEE ? call_awaiting_reversal(p->sec, pre.call_id, pre.token)
					  : NULL;
	if (!call) {
		log_info("refused a reversed peer connection: no call of ours waits for it");
		return INSEL_E_REFUSED;
	}
	if (tls_conn_become_client(t, PKI_ROLE_SECONDARY, call->peer_name))
		return INSEL_E_REFUSED;
	p->call = call;
	p->outgoing = true;
	p->signalling = POP_SIG_REVERSED;
	snprintf(p->expected_fingerprint, sizeof p->expected_fingerprint, "%s",
		 call->peer_fingerprint);
	peer_also_accept(p, call->peer_previous);
	tls_conn_set_callbacks(t, &outgoing_callbacks, p);
	call->peer = p;
	call->awaiting_reversal = false;
	call->signalling = POP_SIG_REVERSED;
	uv_timer_stop(&call->timer);
	log_info("call %s: secondary %s dialled back", call->id_hex, call->peer_name);
	return n;
}

static void peer_accept(struct tls_server *srv, struct tls_conn *t)
{
	struct peer_conn *p = peer_new(tls_server_data(srv), t);

	if (!p) {
		tls_conn_close(t, -ENOMEM);
		return;
	}
	tls_conn_set_callbacks(t, &incoming_callbacks, p);
}

int peer_api_start(struct secondary *s)
{
	/* The principal's certificate too: it dials us to find out whether peers can
	 * (reach.c); the table below serves it nothing, and incoming_ready closes it. */
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY, PKI_ROLE_PRINCIPAL};
	int rc = tls_server_listen(s->loop, s->creds, &s->cfg.peer_listen, roles, 2, peer_accept,
				   s, &s->peer_server);

	if (rc) {
		log_error("cannot listen for peer secondaries: %s", insel_strerror(rc));
	} else {
		tls_server_set_limits(s->peer_server, &s->cfg.peer_limits);
		tls_server_set_preamble(s->peer_server, peer_preamble);
	}
	return rc;
}

void peer_api_stop(struct secondary *s)
{
	if (s->peer_server)
		tls_server_close(s->peer_server);
	s->peer_server = NULL;
}

/* ---- outgoing ---- */

static void hello_reply(void *ctx, const json_t *reply, int err)
{
	struct peer_conn *p = ctx;
	struct call *call = p->call;
	const char *code, *message;

	/* A connection already gone is reported by peer_closed, with its reason. */
	if (!call || !p->tls)
		return;
	if (err || !msg_reply_is_ok(reply, &code, &message)) {
		/* The call lets go of the connection, which must not keep pointing at it. */
		peer_close(p);
		call_event(call, CALL_EV_PEER_FAILED, &(struct call_event_detail){
			.status = err ? err : INSEL_E_REFUSED,
			.message = err ? insel_strerror(err) : message});
		return;
	}
	p->ready = true;
	call_event(p->call, CALL_EV_PEER_READY, NULL);
}

static void outgoing_ready(struct tls_conn *t, int status)
{
	struct peer_conn *p = tls_conn_data(t);
	if (!p->call)
		return;
	if (status) {
		/* peer_closed follows and reports the failure with the reason. */
		return;
	}
	if (p->expected_fingerprint[0] &&
	    strcmp(tls_conn_peer(t)->fingerprint, p->expected_fingerprint) != 0 &&
	    strcmp(tls_conn_peer(t)->fingerprint, p->expected_previous) != 0) {
		log_error("secondary '%s' presented a certificate the directory does not know "
			  "(fingerprint %s)", tls_conn_peer(t)->name, tls_conn_peer(t)->fingerprint);
		tls_conn_close(t, INSEL_E_VERIFY);
		return;
	}
	remember_peer(p, t);
	rpc_call(&p->rpc, msg_hello(0, "secondary"), PEER_HELLO_TIMEOUT_MS, hello_reply, p);
}

static const struct tls_conn_callbacks outgoing_callbacks = {
	outgoing_ready, peer_message, peer_closed,
};

int peer_connect_spliced(struct secondary *s, struct call *call, const struct ip_endpoint *to,
			 const uint8_t token[POP_TOKEN_LEN], const char *name,
			 const char *fingerprint, struct peer_conn **out)
{
	struct preamble pre = {.end = PREAMBLE_CALLER, .call_id = call->id};
	uint8_t bytes[PREAMBLE_LEN];
	struct peer_conn *p = peer_new(s, NULL);
	int rc;

	if (!p)
		return -ENOMEM;
	p->call = call;
	p->outgoing = true;
	p->signalling = POP_SIG_SPLICED;
	snprintf(p->expected_fingerprint, sizeof p->expected_fingerprint, "%s",
		 fingerprint ? fingerprint : "");
	memcpy(pre.token, token, POP_TOKEN_LEN);
	preamble_encode(&pre, bytes);
	rc = tls_connect_preamble(s->loop, s->creds, to, bytes, sizeof bytes, false,
				  PKI_ROLE_SECONDARY, name, &outgoing_callbacks, p, &p->tls);
	secure_wipe(bytes, sizeof bytes);
	if (rc) {
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static void dial_back_ready(struct tls_conn *t, int status)
{
	struct peer_conn *p = tls_conn_data(t);

	dial_back_settled(p);
	incoming_ready(t, status);
}

static const struct tls_conn_callbacks dial_back_callbacks = {
	dial_back_ready, peer_message, peer_closed,
};

int peer_dial_back(struct secondary *s, const struct pop_dial_back *n)
{
	struct preamble pre = {.end = PREAMBLE_CALLEE, .call_id = n->call_id};
	uint8_t bytes[PREAMBLE_LEN];
	struct peer_conn *p;
	int rc;

	/* As many as the peer listener would let in before authentication. */
	if (s->cfg.peer_limits.max_pending && s->dialing_back >= s->cfg.peer_limits.max_pending)
		return INSEL_E_LIMIT;
	if (!(p = peer_new(s, NULL)))
		return -ENOMEM;
	p->signalling = n->mode;
	memcpy(pre.token, n->token, POP_TOKEN_LEN);
	preamble_encode(&pre, bytes);
	/* We are the TLS server, the caller's secondary (that name) the client: from here on
	 * the connection is an incoming one, checked and served as if it had dialled us. */
	rc = tls_connect_preamble(s->loop, s->creds, &n->to, bytes, sizeof bytes, true,
				  PKI_ROLE_SECONDARY, n->caller, &dial_back_callbacks, p, &p->tls);
	secure_wipe(bytes, sizeof bytes);
	if (rc) {
		free(p);
		return rc;
	}
	p->dialled_back = true;
	s->dialing_back++;
	return 0;
}

int peer_connect(struct secondary *s, struct call *call, const struct ip_endpoint *to,
		 const char *name, const char *fingerprint, struct peer_conn **out)
{
	struct peer_conn *p = peer_new(s, NULL);
	int rc;

	if (!p)
		return -ENOMEM;
	p->call = call;
	p->outgoing = true;
	snprintf(p->expected_fingerprint, sizeof p->expected_fingerprint, "%s",
		 fingerprint ? fingerprint : "");
	rc = tls_connect(s->loop, s->creds, to, PKI_ROLE_SECONDARY, name, &outgoing_callbacks, p,
			 &p->tls);
	if (rc) {
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void peer_also_accept(struct peer_conn *p, const char *previous_fingerprint)
{
	if (previous_fingerprint && strlen(previous_fingerprint) == PKI_FINGERPRINT_LEN)
		memcpy(p->expected_previous, previous_fingerprint, PKI_FINGERPRINT_LEN + 1);
}

void peer_close(struct peer_conn *p)
{
	p->call = NULL;
	if (p->tls)
		tls_conn_close(p->tls, 0);
}
