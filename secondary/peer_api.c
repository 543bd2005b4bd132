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
 * Losing the connection ends the call on both sides. The dialled side takes hello first
 * and once, then one call_request; hangup and rekey only for the connection's call; on
 * the dialling side the peer may only hang up and rekey (its hello was our own). Every request must come from a
 * secondary's certificate (the listener refuses others at the handshake; checked again
 * here before anything is served). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "msg.h"
#include "peer_codec.h"
#include "secondary.h"
#include "tls.h"
#include "wire_errors.h"

#define PEER_HELLO_TIMEOUT_MS 5000

typedef void (*peer_handler)(struct peer_conn *p, json_t *req);

static void hello_handle(struct peer_conn *p, json_t *req)
{
	json_int_t version;
	json_t *reply;

	if (p->hello_done) {
		peer_send(p, msg_reply_error(msg_id(req), WIRE(PROTOCOL), "hello was already said"));
		return;
	}
	if (msg_get_int(req, "version", 1, 1000, &version) || version != MSG_PROTOCOL_VERSION) {
		peer_send(p, msg_reply_error(msg_id(req), WIRE(UNSUPPORTED_VERSION),
					     "this secondary speaks peer protocol version 1"));
		return;
	}
	p->hello_done = true;
	reply = msg_reply_ok(msg_id(req));
	json_object_set_new(reply, "secondary", json_string(p->sec->cfg.name));
	peer_send(p, reply);
}

static void call_request_handle(struct peer_conn *p, json_t *req)
{
	if (p->call) {
		peer_send(p, msg_reply_error(msg_id(req), WIRE(BAD_REQUEST),
					     "this connection already carries a call"));
		return;
	}
	call_incoming(p->sec, p, req);
	/* The idle deadline stops once the connection carries a call (which closes it when
	 * it ends); a refused request leaves it running. */
	if (p->call && p->tls)
		tls_conn_set_deadline(p->tls, 0, NULL);
}

static void hangup_handle(struct peer_conn *p, json_t *req)
{
	struct peer_hangup h;
	const char *why;

	if (peer_hangup_decode(req, &h, &why)) {
		peer_send(p, msg_reply_error(msg_id(req), WIRE(BAD_REQUEST), "%s", why));
		return;
	}
	if (!p->call || p->call->id != h.call_id) {
		peer_send(p, msg_reply_error(msg_id(req), WIRE(UNKNOWN_CALL),
					     "this connection carries no such call"));
		return;
	}
	peer_send(p, msg_reply_ok(msg_id(req)));
	/* The other side says why the call ended (hangup, idle, aux_failed...): both
	 * gateways then record and report the same reason. */
	call_end(p->call, h.reason, "ended by the other site");
}

/* "rekey" and "rekey_done" (call_rekey.c) name the connection's own call. */
static struct call *this_call(struct peer_conn *p, json_t *req)
{
	uint64_t id = peer_call_of(req);

	if (id == 0 || !p->call || p->call->id != id)
		return NULL;
	return p->call;
}

static void rekey_handle(struct peer_conn *p, json_t *req)
{
	struct call *call = this_call(p, req);

	if (!call) {
		peer_send(p, msg_reply_error(msg_id(req), WIRE(UNKNOWN_CALL),
					     "this connection carries no such call"));
		return;
	}
	call_rekey_request(call, req);
}

static void rekey_done_handle(struct peer_conn *p, json_t *req)
{
	struct call *call = this_call(p, req);

	if (call)
		call_rekey_done(call, req);
}
/* Who may send what: the side that was dialled (incoming) or the side that dialled. */
#define PEER_INCOMING 1u
#define PEER_OUTGOING 2u

static const struct {
	const char *op;
	peer_handler handle;
	unsigned sides;     /* PEER_INCOMING and/or PEER_OUTGOING */
	bool before_hello;  /* allowed before hello was said */
} peer_ops[] = {
	{"hello", hello_handle, PEER_INCOMING, true},
	{"call_request", call_request_handle, PEER_INCOMING, false},
	{"hangup", hangup_handle, PEER_INCOMING | PEER_OUTGOING, false},
	{"rekey", rekey_handle, PEER_INCOMING | PEER_OUTGOING, false},
	{"rekey_done", rekey_done_handle, PEER_INCOMING | PEER_OUTGOING, false},
};

/* Refuses (with a reply) a request this connection may not carry now; true if refused. */
static bool peer_refuses(struct peer_conn *p, struct tls_conn *t, size_t op, json_t *msg)
{
	const struct pki_identity *id = tls_conn_peer(t);
	const char *name = peer_ops[op].op;
	json_int_t req = msg_id(msg);

	if (!id || id->role != PKI_ROLE_SECONDARY) {
		peer_send(p, msg_reply_error(req, WIRE(FORBIDDEN), "'%s': only secondaries speak the "
					     "peer protocol", name));
		return true;
	}
	if (!(peer_ops[op].sides & (p->outgoing ? PEER_OUTGOING : PEER_INCOMING))) {
		peer_send(p, msg_reply_error(req, WIRE(BAD_STATE), "'%s' is not allowed on a "
					     "connection this gateway dialled", name));
		return true;
	}
	if (!peer_ops[op].before_hello && !(p->outgoing ? p->ready : p->hello_done)) {
		peer_send(p, msg_reply_error(req, WIRE(PROTOCOL), "'%s': say hello first", name));
		return true;
	}
	return false;
}

static void peer_message(struct tls_conn *t, json_t *msg, int err)
{
	struct peer_conn *p = tls_conn_data(t);
	const char *op;

	if (err) {
		peer_send(p, msg_reply_error(-1, wire_error_name(wire_error_of(err)), "%s", insel_strerror(err)));
		return;
	}
	if (rpc_take_reply(&p->rpc, msg))
		return;
	op = msg_op(msg);
	for (size_t i = 0; op && i < sizeof peer_ops / sizeof peer_ops[0]; i++) {
		if (strcmp(peer_ops[i].op, op) == 0) {
			if (!peer_refuses(p, t, i, msg))
				peer_ops[i].handle(p, msg);
			return;
		}
	}
	peer_send(p, msg_reply_error(msg_id(msg), WIRE(UNKNOWN_OP), "unknown request '%s'",
				     op ? op : "(none)"));
}

static void peer_closed(struct tls_conn *t)
{
	struct peer_conn *p = tls_conn_data(t);

	p->tls = NULL;
	rpc_fail_all(&p->rpc, INSEL_E_CLOSED);
	if (p->call) {
		struct call *call = p->call;

		p->call = NULL;
		call->peer = NULL;
		if (!p->ready && p->outgoing)
			call_peer_ready(call, INSEL_E_CLOSED, tls_conn_error(t));
		else
			call_peer_closed(call);
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
	p->ready = true;
	remember_peer(p, t);
	log_debug("peer secondary '%s' connected", tls_conn_peer(t)->name);
	tls_conn_set_deadline(t, p->sec->cfg.peer_idle_ms, "no call on this peer connection");
}

static const struct tls_conn_callbacks incoming_callbacks = {
	incoming_ready, peer_message, peer_closed,
};

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
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	int rc = tls_server_listen(s->loop, s->creds, &s->cfg.peer_listen, roles, 1, peer_accept,
				   s, &s->peer_server);

	if (rc)
		log_error("cannot listen for peer secondaries: %s", insel_strerror(rc));
	else
		tls_server_set_limits(s->peer_server, &s->cfg.peer_limits);
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
		call_peer_ready(call, err ? err : INSEL_E_REFUSED,
				err ? insel_strerror(err) : message);
		return;
	}
	p->ready = true;
	call_peer_ready(p->call, 0, NULL);
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
