/* A call's life (docs/protocol.md). A call joins the local party's client connection,
 * one TLS connection to the peer secondary, and one auxiliary process. call_state.c holds
 * its states, the transitions allowed between them and what each event from those three
 * means in each state; this file carries that out, and call_out.c (the caller's side) and
 * call_in.c (the callee's) walk the set-up:
 *
 * Caller side:  LOOKUP (principal: where is the callee?) -> DIALING (TLS to the callee's
 *               secondary, fingerprint checked against the directory) -> BINDING (our
 *               auxiliary binds its sockets) -> RINGING (call_request with our offer
 *               waits for the callee) -> UP (keys derived, auxiliary started, client
 *               told).
 * Callee side:  call_request arrives -> RINGING (the caller's secondary is checked
 *               against the directory, then our client is asked) -> BINDING -> UP
 *               (answer sent).
 * Any failure or hang-up goes through call_end, which tells every party still there,
 * stops the auxiliary (timeouts.h: the hang-up wait, then the kill grace), and has the
 * caller's side record the call with the principal.
 *
 * Network calls have one tun channel and an authorised set of prefixes per side, which
 * the caller's secondary sets and the callee's checks against the directory:
 *   host to host: caller host /32 <-> callee host /32 (the callee named by host name or
 *                 address, so that the directory gives its address; its client listens
 *                 with --tun);
 *   trunk:        the two LANs' prefixes (trunk.c); the callee's side accepts a trunk
 *                 only from a LAN it has a trunk configured for, and rings nobody.
 * A host call's routes live in a table of its own, used only for packets from its local
 * host to its remote one ("source_routing"), so two host calls to one remote host can
 * coexist and a host call takes no traffic from a trunk; its auxiliary reports the table
 * and the rules are removed here once it has exited (rules.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call_internal.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "netlink.h"
#include "timeouts.h"
#include "tls.h"
#include "wire_errors.h"


/* ---- life cycle ---- */

struct call *call_new(struct secondary *s, bool outgoing, uint64_t id)
{
	struct call *call = calloc(1, sizeof *call);

	if (!call)
		return NULL;
	call->sec = s;
	call->outgoing = outgoing;
	call->id = id ? id : rand_id64();
	id_format(call->id, call->id_hex);
	if (call_set_state(call, outgoing ? CALL_LOOKUP : CALL_RINGING,
			   outgoing ? "placed" : "requested by a peer")) {
		free(call);
		return NULL;
	}
	call->client_request = -1;
	call->peer_request = -1;
	call->started = time(NULL);
	call->created_ms = uv_now(s->loop);
	uv_timer_init(s->loop, &call->timer);
	call->timer.data = call;
	call->next = s->calls;
	if (s->calls)
		s->calls->prev = call;
	s->calls = call;
	return call;
}

void unlink_call(struct call *call)
{
	struct secondary *s = call->sec;

	if (call->prev)
		call->prev->next = call->next;
	else if (s->calls == call)
		s->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
}

static void call_freed(uv_handle_t *h)
{
	struct call *call = h->data;

	json_decref(call->offer);
	json_decref(call->last_stats);
	free(call);
}

void call_free(struct call *call)
{
	uv_close((uv_handle_t *)&call->timer, call_freed);
}

size_t call_count(const struct secondary *s)
{
	size_t n = 0;

	for (const struct call *c = s->calls; c; c = c->next)
		n++;
	return n;
}

struct call *call_find(struct secondary *s, const char *id_hex)
{
	for (struct call *c = s->calls; c; c = c->next)
		if (strcmp(c->id_hex, id_hex) == 0)
			return c;
	return NULL;
}

/* ---- network calls: prefixes and the directory's word on them ---- */

/* A host-to-host network call: source-routed, unlike a trunk (docs/tun.md, "Routing"). */
static bool source_routed(const struct call *call)
{
	return call->tun && !call->trunk && !call->room_leg;
}

unsigned call_tun_mtu(const struct secondary *s)
{
	/* A dual-stack wan may carry the call over IPv6: size for its larger header. */
	bool ipv6 = s->cfg.wan_address.family == AF_INET6 || s->cfg.has_wan_address6;
	unsigned ip_udp = ipv6 ? 48 : 28;

	return s->cfg.path_mtu - ip_udp - FRAME_OVERHEAD;
}

int request_lan_list(struct call *call, const char *lan, rpc_reply_cb cb)
{
	struct pop_list_req list = {.what = POP_LIST_LANS, .name = lan};

	return principal_request(call->sec, pop_list_req_encode(0, &list), cb, call);
}

/* A network call's one channel: what may cross, and its interface once it exists. */
static void tun_channel_describe(const struct call *call, struct client_call_channel *ch)
{
	ch->tun = true;
	memcpy(ch->local_prefixes, call->tun_local, call->ntun_local * sizeof call->tun_local[0]);
	ch->nlocal_prefixes = call->ntun_local;
	memcpy(ch->remote_prefixes, call->tun_remote,
	       call->ntun_remote * sizeof call->tun_remote[0]);
	ch->nremote_prefixes = call->ntun_remote;
	snprintf(ch->interface, sizeof ch->interface, "%s", call->tun_ifname);
	ch->mtu = call->tun_mtu;
	if (call->trunk)
		snprintf(ch->trunk, sizeof ch->trunk, "%s", call->trunk->cfg->name + 6);
	else if (call->room_leg)
		snprintf(ch->trunk, sizeof ch->trunk, "room %s", call->room_leg->room);
}

void call_describe(const struct call *call, struct client_call *out)
{
	memset(out, 0, sizeof *out);
	out->id = call->id;
	snprintf(out->caller, sizeof out->caller, "%s", call->caller);
	snprintf(out->callee, sizeof out->callee, "%s", call->callee);
	out->outgoing = call->outgoing;
	snprintf(out->state, sizeof out->state, "%s", call_state_name(call->state));
	out->cipher = call->cipher;
	out->compress = call->compress;
	out->started = (int64_t)call->started;
	if (call->signalling)
		snprintf(out->path.signalling, sizeof out->path.signalling, "%s",
			 pop_signalling_name(call->signalling));
	out->nchannels = call->nchannels;
	for (size_t i = 0; i < call->nchannels; i++) {
		struct client_call_channel *ch = &out->channels[i];

		if (call->tun) {
			tun_channel_describe(call, ch);
			continue;
		}
		ch->port = call->channels[i].port;
		ch->has_local = call->channels[i].lan_port != 0;
		ch->local.addr = call->sec->cfg.lan_address;
		ch->local.port = call->channels[i].lan_port;
		ch->has_deliver = call->channels[i].deliver.port != 0;
		ch->deliver = call->channels[i].deliver;
		ch->mode = call->channels[i].mode;
		ch->has_token = ch->mode != NEGOTIATE_DATAGRAM;
		memcpy(ch->token, call->channels[i].token, sizeof ch->token);
	}
	call_rekey_describe(call, out);
	if (call->has_path)
		snprintf(out->path.data, sizeof out->path.data, "%s",
			 aux_path_kind(call->path_relayed, call->path_tcp));
	snprintf(out->path.remote, sizeof out->path.remote, "%s", call->path_remote);
	snprintf(out->path.reason, sizeof out->path.reason, "%s", call->path_reason);
}

json_t *call_to_json(const struct call *call)
{
	struct client_call c;

	call_describe(call, &c);
	return client_call_encode(&c);
}

/* ---- recording with the principal (caller's side only, so each call is one row) ---- */

void record_start(struct call *call)
{
	const char *at = strchr(call->callee, '@');
	struct client_call_channel tun = {0};
	json_t *channels;

	if (!call->outgoing)
		return;
	channels = json_array();
	if (call->tun)
		tun_channel_describe(call, &tun);
	for (size_t i = 0; i < call->nchannels; i++)
		json_array_append_new(channels, call->tun ? client_call_channel_encode(&tun)
				      : json_pack("{s:s, s:i}", "kind", "udp", "port",
						  call->channels[i].port));
	struct pop_call_start_req rec = {
		.call_id = call->id_hex,
		.caller = call->caller,
		.caller_lan = call->sec->cfg.lan,
		.callee = call->callee,
		.callee_lan = call->callee_lan[0] ? call->callee_lan : at ? at + 1 : NULL,
		.channels = channels,
		.signalling = call->signalling ? pop_signalling_name(call->signalling) : NULL,
		.path = call->has_path ? aux_path_kind(call->path_relayed, call->path_tcp) : NULL,
		.path_remote = call->has_path ? call->path_remote : NULL,
	};

	principal_record(call->sec, pop_call_start_req_encode(0, &rec));
	json_decref(channels);
	call->recorded = true;
}

static void event_reply(void *ctx, const json_t *reply, int err)
{
	const char *code, *message;

	(void)ctx;
	if (!err && !msg_reply_is_ok(reply, &code, &message))
		log_warn("principal refused a call event: %s (%s)", message, code);
}

/* For the principal's event log (call_placed, call_refused): a call a LAN user placed, and
 * why it ended if it never came up. Trunks and room legs, which the gateway places
 * itself and places again, are left out. Sent only while the link is up, not kept like
 * the records: while the principal is away calls fail at their look-up, and their events
 * must not push the records of real calls out of the bounded outbox. */
void record_event(struct call *call, const char *event, const char *reason)
{
	struct pop_call_event_req rec = {event, call->id_hex, call->caller, call->callee,
					 reason};

	if (!call->outgoing || call->trunk || call->room_leg)
		return;
	if (principal_request(call->sec, pop_call_event_req_encode(0, &rec), event_reply,
			      NULL) == 0)
		call->told_placed = true;
}

/* bytes_up: from the caller towards the callee, as the caller's auxiliary sent them. */
static void record_end(struct call *call, const char *reason)
{
	struct pop_call_end_req rec = {call->id_hex, reason, (int64_t)call->bytes_out,
				       (int64_t)call->bytes_in, call->path_moves};

	if (!call->outgoing || !call->recorded)
		return;
	principal_record(call->sec, pop_call_end_req_encode(0, &rec));
}

/* ---- ending ---- */

static void notify_client_ended(struct call *call, const char *reason)
{
	struct client_call_ended ended = {.call_id = call->id};

	if (!call->client)
		return;
	snprintf(ended.reason, sizeof ended.reason, "%s", reason);
	client_send(call->client, client_call_ended_encode(&ended));
}

/* Adds the wire bytes of the auxiliary's final channel reports. */
static void take_final_counts(struct call *call, const struct aux_traffic *t)
{
	call->bytes_in += t->bytes_in;
	call->bytes_out += t->bytes_out;
}

struct ending {
	struct call *call;
	char reason[32];
};

static void finish_end(struct call *call, const char *reason)
{
	if (call->aux) {
		sec_metrics_call_gone(call);
		call->aux->call = NULL;
		aux_release(call->aux);
		call->aux = NULL;
	}
	record_end(call, reason);
	log_info("call %s ended: %s (in %llu B, out %llu B)", call->id_hex, reason,
		 (unsigned long long)call->bytes_in, (unsigned long long)call->bytes_out);
	call_free(call);
}

static void aux_final_reply(void *ctx, const json_t *reply, int err)
{
	struct ending *e = ctx;

	struct aux_traffic traffic;
	char why[160];

	if (!err && msg_reply_is_ok(reply, NULL, NULL)) {
		if (aux_traffic_from_json(reply, &traffic, why, sizeof why))
			log_warn("call %s: the auxiliary's final stats: %s", e->call->id_hex, why);
		take_final_counts(e->call, &traffic);
		sec_metrics_call_final(e->call, reply);
	}
	finish_end(e->call, e->reason);
	free(e);
}

static void stop_aux_then_finish(struct call *call, const char *reason)
{
	struct ending *e = calloc(1, sizeof *e);

	if (!e || !call->aux) {
		free(e);
		finish_end(call, reason);
		return;
	}
	e->call = call;
	snprintf(e->reason, sizeof e->reason, "%s", reason);
	if (aux_request(call->aux, msg_request("hangup", 0), AUX_HANGUP_TIMEOUT_MS,
			aux_final_reply, e)) {
		free(e);
		finish_end(call, reason);
	}
}

void call_end(struct call *call, const char *reason, const char *message)
{
	enum call_state was = call->state;

	if (was == CALL_ENDED || call_set_state(call, CALL_ENDED, reason))
		return;
	sec_metrics_call_ended(call->sec, reason, was == CALL_UP);
	if (call->told_placed && was != CALL_UP)
		record_event(call, "refused", reason);
	unlink_call(call);
	uv_timer_stop(&call->timer);
	call_rekey_stop(call);
	log_debug("call %s ends: %s", call->id_hex, message ? message : reason);
	if (call->client && call->client->ringing == call)
		call->client->ringing = NULL;
	if (call->client) {
		rpc_forget_ctx(&call->client->rpc, call);
		if (call->client_request >= 0)
			client_send(call->client, msg_reply_error(call->client_request, reason, "%s",
								  message ? message : reason));
		else if (was == CALL_UP || was == CALL_CONNECTING)
			notify_client_ended(call, reason);
	}
	if (call->peer) {
		struct peer_conn *p = call->peer;
		struct peer_hangup hangup = {.call_id = call->id};

		snprintf(hangup.reason, sizeof hangup.reason, "%s", reason);

		rpc_forget_ctx(&p->rpc, call);
		if (call->peer_request >= 0)
			peer_send(p, msg_reply_error(call->peer_request, reason, "%s",
						     message ? message : reason));
		else
			peer_send(p, peer_hangup_encode(&hangup));
		call->peer = NULL;
		peer_close(p);
	}
	if (call->aux)
		rpc_forget_ctx(&call->aux->rpc, call);
	/* A directory request may still be out (look-up, check): its reply must not
	 * find a freed call. */
	rpc_forget_ctx(&call->sec->principal.rpc, call);
	call_relay_forget(call);
	if (call->trunk)
		trunk_call_ended(call->trunk, call, reason);
	if (call->room_leg) {
		/* Its peer members' routes leave the room's interface, which may stay for
		 * the room's other legs; the leg may be gone before the call is finished. */
		room_leg_routes(call, false);
		room_leg_call_ended(call->room_leg, call, reason);
		call->room_leg = NULL;
	}
	stop_aux_then_finish(call, reason);
}

/* ---- events from the connections and the auxiliary (call_state.c decides) ---- */

static void forget_client(struct call *call, struct client_conn *c)
{
	rpc_forget_ctx(&c->rpc, call);
	call->client = NULL;
	call->client_request = -1;
	if (c->ringing == call)
		c->ringing = NULL;
}

/* Our requests to the auxiliary (start) must not answer to a call that has let it go. */
static void forget_aux(struct call *call)
{
	if (call->aux) {
		sec_metrics_call_gone(call);
		rpc_forget_ctx(&call->aux->rpc, call);
		call->aux = NULL;
	}
}

static void release_aux(struct call *call)
{
	if (call->aux) {
		sec_metrics_call_gone(call);
		rpc_forget_ctx(&call->aux->rpc, call);
		call->aux->call = NULL;
		aux_release(call->aux);
		call->aux = NULL;
	}
}

/* The path moved to kind towards remote (or came up): the end record says so. Only a
 * move to another kind or another endpoint counts (a NAT rebinding moves the endpoint). */
static void note_path_move(struct call *call, const char *kind, const char *remote)
{
	struct pop_path_summary *m = &call->path_moves;
	struct pop_path_step *step;

	if (m->present && strcmp(m->final, kind) == 0 && strcmp(m->remote, remote) == 0)
		return;
	if (m->present)
		m->changes++;
	if (m->nhistory == POP_PATH_HISTORY_MAX) {
		memmove(&m->history[0], &m->history[1], (m->nhistory - 1) * sizeof m->history[0]);
		m->nhistory--;
	}
	step = &m->history[m->nhistory++];
	step->at = (int64_t)(time(NULL) - call->started);
	snprintf(step->path, sizeof step->path, "%s", kind);
	snprintf(step->remote, sizeof step->remote, "%s", remote);
	snprintf(m->final, sizeof m->final, "%s", kind);
	snprintf(m->remote, sizeof m->remote, "%s", remote);
	m->present = true;
}

/* The auxiliary's "path" notice: where the data goes now, and why (calls lists it). */
static void take_path(struct call *call, const struct aux_path_notice *n)
{
	char remote[IP_STRLEN];

	if (n->has_endpoints) {
		call->has_path = true;
		call->path_relayed = n->relayed;
		call->path_tcp = n->tcp;
		snprintf(call->path_remote, sizeof call->path_remote, "%s",
			 ip_endpoint_format(&n->remote, remote, sizeof remote));
		note_path_move(call, aux_path_kind(n->relayed, n->tcp), call->path_remote);
	}
	snprintf(call->path_reason, sizeof call->path_reason, "%s", n->reason);
	if (n->state == AUX_PATH_LOST)
		log_warn("call %s: path lost: %s", call->id_hex, n->reason);
	else
		log_info("call %s: path %s, %s to %s: %s", call->id_hex,
			 aux_path_state_name(n->state), aux_path_kind(n->relayed, n->tcp),
			 call->path_remote, n->reason);
}

static void path_up(struct call *call);

/* Whatever the state, the call lets go of what the event took away. */
static void let_go(struct call *call, enum call_event event,
		   const struct call_event_detail *d)
{
	switch (event) {
	case CALL_EV_PEER_FAILED:
		log_warn("call %s: cannot reach the callee's gateway: %s", call->id_hex,
			 d->message ? d->message : insel_strerror(d->status));
		call->peer = NULL;
		break;
	case CALL_EV_PEER_CLOSED:
		call->peer = NULL;
		break;
	case CALL_EV_CLIENT_GONE:
		if (d->client)
			forget_client(call, d->client);
		break;
	case CALL_EV_AUX_ENDED:
		if (d->notice)
			take_final_counts(call, &d->notice->traffic);
		release_aux(call);
		break;
	case CALL_EV_AUX_EXITED:
		forget_aux(call);
		break;
	case CALL_EV_AUX_PATH:
		if (d->notice)
			take_path(call, &d->notice->path);
		break;
	default:
		break;
	}
}

/* The reason and message an ending event gives, where the outcome lets it. */
static void event_says_why(enum call_event event, const struct call_event_detail *d,
			   const char **reason, const char **message)
{
	const char *r = d->reason, *m = d->message;

	if (event == CALL_EV_AUX_ENDED && d->notice) {
		r = d->notice->reason;
		m = d->notice->message;
	}
	if (event == CALL_EV_AUX_PATH && d->notice && d->notice->path.reason[0])
		m = d->notice->path.reason;
	if (!m && d->status)
		m = insel_strerror(d->status);
	*reason = r ? r : *reason;
	*message = m ? m : *message;
}

/* An event from elsewhere that may end the call and leaves the call as it was until it
 * is handled (a peer connection or client already gone would not: not these). */
static bool may_end_from_elsewhere(enum call_event event)
{
	switch (event) {
	case CALL_EV_PEER_HANGUP:
	case CALL_EV_HANGUP:
	case CALL_EV_PATH_TIMEOUT:
	case CALL_EV_REVOKED:
	case CALL_EV_SHUTDOWN:
		return true;
	default:
		return false;
	}
}

void call_event(struct call *call, enum call_event event,
		const struct call_event_detail *detail)
{
	static const struct call_event_detail none;
	const struct call_event_detail *d = detail ? detail : &none;
	struct call_outcome o;
	const char *reason, *message;

	/* An auxiliary that ended before this event (the peer went silent, say) has said
	 * why, with its final counters, in its socket, which the loop may not have read
	 * yet: the other site's hang-up, sent when its own auxiliary failed, can come
	 * first. Heard now, as if read first, its word ends the call, and this event then
	 * finds the call ended. */
	if (call->aux && call->state != CALL_ENDED && may_end_from_elsewhere(event))
		aux_read_pending(call->aux);
	let_go(call, event, d);
	o = event == CALL_EV_AUX_PATH && d->notice
	    ? call_path_outcome(call->state, call->outgoing, d->notice->path.state)
	    : call_event_outcome(call->state, call->outgoing, event);
	log_debug("call %s: %s in state %s", call->id_hex, call_event_name(event),
		  call_state_name(call->state));
	switch (o.action) {
	case CALL_ACT_IGNORE:
	case CALL_ACT_STAY:
		break;
	case CALL_ACT_BIND:
		caller_peer_ready(call);
		break;
	case CALL_ACT_REKEY:
		call_rekey_due(call);
		break;
	case CALL_ACT_UP:
		path_up(call);
		break;
	case CALL_ACT_END:
		reason = o.reason;
		message = o.message;
		if (o.detail_says_why)
			event_says_why(event, d, &reason, &message);
		call_end(call, reason, message);
		break;
	}
}

/* A probe was answered: authenticated frames crossed both ways, the call is up. */
static void path_up(struct call *call)
{
	uv_timer_stop(&call->timer);
	if (call_set_state(call, CALL_UP, "a probe was answered")) {
		call_end(call, WIRE(INTERNAL), "the call was not connecting");
		return;
	}
	call->answered = time(NULL);
	sec_metrics_call_up(call->sec, uv_now(call->sec->loop) - call->created_ms);
	if (call->outgoing)
		caller_up(call);
	else
		callee_up(call);
}

static void on_path_timeout(uv_timer_t *t)
{
	call_event(t->data, CALL_EV_PATH_TIMEOUT, NULL);
}

/* The start request's context is the call, so that call_end forgets it with the call's
 * other requests: a reply never reaches a call that has ended. */
static void aux_started(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	started_fn next = call->relay_started;
	const char *code, *message;

	call->relay_started = NULL;
	if (err || !msg_reply_is_ok(reply, &code, &message)) {
		call_end(call, WIRE(AUX_FAILED), err ? insel_strerror(err) : message);
		return;
	}
	if (call_set_state(call, CALL_CONNECTING, "the auxiliary relays and probes")) {
		call_end(call, WIRE(INTERNAL), "the call was not waiting for its auxiliary");
		return;
	}
	uv_timer_start(&call->timer, on_path_timeout, PATH_CONNECT_TIMEOUT_MS, 0);
	call_rekey_start(call);
	if (next)
		next(call);
}

/* Priming (docs/nat.md, "Both behind port-preserving NATs"): only the callee's auxiliary,
 * which starts first, primes; its window covers the time until the caller's starts (see
 * PRIME_WINDOW_BASE_MS). The auxiliary primes only if both sides are behind NAT. */
static void prime_request(const struct call *call, struct aux_start_request *req)
{
	unsigned rtt = 0, window;

	if (call->outgoing || call->sec->cfg.prime_ttl == 0)
		return;
	if (call->peer && call->peer->tls && tls_conn_rtt_ms(call->peer->tls, &rtt) != 0)
		rtt = 0;
	window = PRIME_WINDOW_BASE_MS + 2 * rtt * (call->signalling == POP_SIG_SPLICED ? 2 : 1);
	req->prime_ttl = (uint8_t)call->sec->cfg.prime_ttl;
	req->prime_window_ms = window < PRIME_WINDOW_MAX_MS ? window : PRIME_WINDOW_MAX_MS;
}

/* Where each channel delivers (a network call: which peer gateway may send ICMP errors),
 * and its keys; the request is wiped once encoded. */
static json_t *start_request(struct call *call, const struct sec_channel_params *params)
{
	struct aux_start_request *req = calloc(1, sizeof *req);
	json_t *j;

	if (!req)
		return NULL;
	/* A trunk is kept up whether or not traffic flows. */
	req->idle_timeout_ms = call->trunk || call->room_leg ? 0 : call->sec->cfg.idle_timeout_ms;
	req->failover_after_ms = call->sec->cfg.failover_after_ms;
	req->probe_space = call->probe_space;
	req->nchannels = (unsigned)call->nchannels;
	for (size_t i = 0; i < call->nchannels; i++) {
		struct aux_start_channel *c = &req->channels[i];

		c->params = params[i];
		c->remote_gateway = call->remote_gateway;
		c->has_remote_gateway = call->tun && call->has_remote_gateway;
		c->remote_gateway6 = call->remote_gateway6;
		c->has_remote_gateway6 = call->tun && call->has_remote_gateway6;
		c->deliver = call->channels[i].deliver;
		c->has_deliver = call->channels[i].deliver.port != 0;
		c->mode = call->channels[i].mode;
		memcpy(c->token, call->channels[i].token, sizeof c->token);
	}
	memcpy(req->peer_cand, call->peer_cand, sizeof req->peer_cand);
	req->npeer_cand = call->npeer_cand;
	prime_request(call, req);
	call_relay_start(call, req);
	/* A relay with a TLS fallback: the auxiliary checks its certificate against our CA. */
	if (req->has_relay && req->relay.has_tcp && call->sec->relay_ca_len) {
		memcpy(req->relay_ca, call->sec->relay_ca, call->sec->relay_ca_len);
		req->relay_ca_len = call->sec->relay_ca_len;
	}
	j = aux_start_request_to_json(req);
	aux_start_wipe(req);
	secure_wipe(req->relay.relay_token, sizeof req->relay.relay_token);
	free(req);
	return j;
}

void start_relay(struct call *call, const struct sec_channel_params *params,
		 started_fn next)
{
	json_t *req = start_request(call, params);

	if (!req) {
		call_end(call, WIRE(INTERNAL), "out of memory");
		return;
	}
	call->relay_started = next;
	if (aux_request(call->aux, req, AUX_START_TIMEOUT_MS, aux_started, call)) {
		call->relay_started = NULL;
		call_end(call, WIRE(AUX_FAILED), "cannot talk to the call's auxiliary");
	}
}

/* A network call's interface is named after the peer LAN: a trunk's caller is a LAN, a
 * host's caller user@lan. */
static const char *tun_name_hint(const struct call *call)
{
	const char *peer_lan;

	if (call->room_leg)  /* a room's interface is named after the room */
		return call->room_leg->room;
	peer_lan = call->outgoing ? call->callee_lan
			     : call->trunk ? call->caller : strchr(call->caller, '@');

	peer_lan = peer_lan && *peer_lan == '@' ? peer_lan + 1 : peer_lan;
	return peer_lan && *peer_lan ? peer_lan : "insel";
}

/* [nat] stun: the principal's responder (when it runs and is asked for), then the
 * servers configured, at most AUX_STUN_MAX. */
static void stun_servers(const struct secondary *s, struct aux_bind_request *req)
{
	const struct principal_link *l = &s->principal;

	req->nstun = 0;
	req->stun_timeout_ms = (uint32_t)s->cfg.stun_timeout_ms;
	if (s->cfg.stun_principal && l->has_stun) {
		req->stun[req->nstun++] = l->stun;
		if (l->has_stun_alternate)
			req->stun[req->nstun++] = l->stun_alternate;
	}
	for (size_t i = 0; i < s->cfg.nstun && req->nstun < AUX_STUN_MAX; i++)
		req->stun[req->nstun++] = s->cfg.stun[i];
}

/* The bind request, but for the uid to become (the supervisor adds it); its strings
 * point into the call and the configuration. */
static void bind_request(const struct call *call, struct aux_bind_request *req)
{
	const struct secondary *s = call->sec;

	memset(req, 0, sizeof *req);
	req->call_id = call->id;
	req->lan_addr = s->cfg.lan_address;
	req->wan_addr = s->cfg.wan_address;
	req->wan_addr6 = s->cfg.wan_address6;
	req->has_wan_addr6 = s->cfg.has_wan_address6;
	req->lan_addr6 = s->cfg.lan_address6;
	req->has_lan_addr6 = call->tun && s->cfg.has_lan_address6;
	req->party = call->party_addr;
	req->nchannels = (unsigned)call->nchannels;
	for (size_t i = 0; i < call->nchannels && !call->tun; i++) {
		req->lan_ports[i] = call->outgoing ? call->channels[i].port : 0;
		req->stream[i] = call->channels[i].mode != NEGOTIATE_DATAGRAM;
	}
	req->tun = call->tun;
	if (call->tun) {
		struct aux_bind_tun *t = &req->tun_req;

		t->name_hint = tun_name_hint(call);
		t->mtu = call_tun_mtu(s);
		t->source_routing = source_routed(call);
		memcpy(t->local, call->tun_local, call->ntun_local * sizeof t->local[0]);
		memcpy(t->remote, call->tun_remote, call->ntun_remote * sizeof t->remote[0]);
		t->nlocal = call->ntun_local;
		t->nremote = call->ntun_remote;
		if (call->room_leg) {
			t->nmap = room_leg_hosts(call->room_leg, t->local, t->nlocal, t->map);
			t->has_room_net = true;
			t->room_net = call->room_leg->network;
			t->has_room_net6 = call->room_leg->has_network6;
			t->room_net6 = call->room_leg->network6;
		}
		if (call->has_tun_map) {
			t->remote_real[0] = call->tun_map_real;
			t->remote_as[0] = call->tun_map_as;
			t->nremote_map = 1;
		}
	}
	req->user = s->cfg.aux_user;
	stun_servers(s, req);
}

static int malformed_reply(const struct call *call, const char *detail, const char **why)
{
	log_warn("call %s: %s", call->id_hex, detail);
	*why = "the auxiliary's bind reply is malformed";
	return INSEL_E_PROTOCOL;
}

/* Reads the bind reply: the WAN port and each channel's LAN port (a network call's:
 * its interface, MTU and, for a host call, routing table, kept with the auxiliary, which
 * may outlive the call, so that its rules are removed when it exits). */
/* What discovery found, kept for the offer or answer and logged (the NAT behaviour is
 * part of why a call takes the path it takes). */
static void take_candidates(struct call *call, const struct aux_bind_reply *bound)
{
	char list[CAND_LIST_STRLEN];

	memcpy(call->cand, bound->cand, sizeof call->cand);
	call->ncand = bound->ncand;
	call->has_nat = bound->has_nat;
	call->nat_mapping = bound->mapping;
	if (!bound->has_nat)
		return;
	log_info("call %s: candidates %s; NAT mapping %s", call->id_hex,
		 candidates_format(call->cand, call->ncand, list, sizeof list),
		 nat_mapping_name(call->nat_mapping));
}

int take_bound(struct call *call, const json_t *reply, int err, const char **why)
{
	struct aux_bind_reply bound;
	char detail[160];
	const char *code;

	/* The call ended while its auxiliary was binding: the hang-up is queued behind. */
	if (call->state == CALL_ENDED) {
		*why = "the call has ended";
		return INSEL_E_CLOSED;
	}
	if (err) {
		*why = insel_strerror(err);
		return err;
	}
	if (!msg_reply_is_ok(reply, &code, why))
		return INSEL_E_REFUSED;
	if (aux_bind_reply_from_json(reply, &bound, detail, sizeof detail))
		return malformed_reply(call, detail, why);
	if (bound.nchannels != call->nchannels || bound.tun != call->tun ||
	    (source_routed(call) && bound.table <= NL_CALL_TABLE_BASE))
		return malformed_reply(call, "the auxiliary's bind reply is not for this call",
				       why);
	call->wan_port = bound.wan_port;
	take_candidates(call, &bound);
	call->wan_port6 = bound.wan_port6;
	if (call->tun) {
		snprintf(call->tun_ifname, sizeof call->tun_ifname, "%s", bound.interface);
		call->tun_mtu = bound.mtu;
		room_leg_routes(call, true);  /* the room's auxiliary routes none itself */
		if (source_routed(call))
			call->aux->rule_table = bound.table;
		return 0;
	}
	for (size_t i = 0; i < call->nchannels; i++)
		call->channels[i].lan_port = bound.lan_ports[i];
	return 0;
}

int spawn_aux(struct call *call, aux_bound_cb cb)
{
	struct aux_bind_request req;
	int rc;

	if ((rc = call_set_state(call, CALL_BINDING, "spawning the auxiliary")))
		return rc;
	bind_request(call, &req);
	if (call->room_leg) {  /* the room's one auxiliary carries every leg of the room */
		struct aux *room = room_aux_for(call->sec, call->room_leg->room);

		return room ? aux_attach(call->sec, room, call, &req, cb, &call->aux)
			    : INSEL_E_UNAVAILABLE;
	}
	rc = aux_spawn(call->sec, call, &req, cb, &call->aux);
	if (call->aux)
		call->aux->source_routed = source_routed(call);
	return rc;
}
