/* The call state machine (DESIGN.md, "Calls"). A call joins the local party's client
 * connection, one TLS connection to the peer secondary, and one auxiliary process.
 *
 * Caller side:  LOOKUP (principal: where is the callee?) -> DIALING (TLS to the callee's
 *               secondary, fingerprint checked against the directory) -> BINDING (our
 *               auxiliary binds its sockets) -> RINGING (call_request with our offer
 *               waits for the callee) -> UP (keys derived, auxiliary started, client told).
 * Callee side:  call_request arrives -> the caller's secondary is checked against the
 *               directory -> RINGING (our client is asked) -> BINDING -> UP (answer sent).
 * Any failure or hang-up goes through call_end, which tells every party still there,
 * stops the auxiliary, and has the caller's side record the call with the principal.
 *
 * Network calls have one tun channel and an authorised set of prefixes per side, which
 * the caller's secondary sets and the callee's checks against the directory:
 *   host to host: caller host /32 <-> callee host /32 (the callee named by host name or
 *                 address, so that the directory gives its address; its client listens
 *                 with --tun);
 *   trunk:        the two LANs' prefixes (trunk.c); the callee's side accepts a trunk
 *                 only from a LAN it has a trunk configured for, and rings nobody. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "msg.h"
#include "secondary.h"
#include "tls.h"

#define AUX_START_TIMEOUT_MS 5000
#define AUX_HANGUP_TIMEOUT_MS 2000
#define PEER_REPLY_MARGIN_MS 10000  /* on top of the ring time-out */

static const char *const state_names[] = {"lookup", "dialing", "binding", "ringing", "up",
					  "ended"};

/* ---- life cycle ---- */

static struct call *call_new(struct secondary *s, bool outgoing, uint64_t id)
{
	struct call *call = calloc(1, sizeof *call);

	if (!call)
		return NULL;
	call->sec = s;
	call->outgoing = outgoing;
	call->id = id ? id : rand_id64();
	id_format(call->id, call->id_hex);
	call->state = outgoing ? CALL_LOOKUP : CALL_RINGING;
	call->client_request = -1;
	call->peer_request = -1;
	call->started = time(NULL);
	uv_timer_init(s->loop, &call->timer);
	call->timer.data = call;
	call->next = s->calls;
	if (s->calls)
		s->calls->prev = call;
	s->calls = call;
	return call;
}

static void unlink_call(struct call *call)
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
	free(call);
}

static void call_free(struct call *call)
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

unsigned call_tun_mtu(const struct secondary *s)
{
	unsigned ip_udp = s->cfg.wan_address.family == AF_INET6 ? 48 : 28;

	return s->cfg.path_mtu - ip_udp - FRAME_OVERHEAD;
}

static json_t *prefixes_json(const struct ip_prefix *p, size_t n)
{
	json_t *a = json_array();
	char text[IP_STRLEN];

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(ip_prefix_format(&p[i], text, sizeof text)));
	return a;
}

/* 1..SECONDARY_MAX_PREFIXES IPv4 prefixes, host bits clear. */
static int prefixes_from_json(const json_t *a, struct ip_prefix *out, size_t *n)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > SECONDARY_MAX_PREFIXES)
		return INSEL_E_BAD_FIELD;
	json_array_foreach(a, i, v) {
		const char *text = json_string_value(v);

		if (!text || ip_prefix_parse(text, true, &out[i]) || out[i].addr.family != AF_INET)
			return INSEL_E_BAD_FIELD;
	}
	*n = json_array_size(a);
	return 0;
}

static bool prefixes_within(const struct ip_prefix *inner, size_t n,
			    const struct ip_prefix *outer, size_t m)
{
	for (size_t i = 0; i < n; i++) {
		bool covered = false;

		for (size_t j = 0; j < m && !covered; j++)
			covered = ip_prefix_covers(&outer[j], &inner[i]);
		if (!covered)
			return false;
	}
	return true;
}

static void host_prefix(const struct ip_addr *a, struct ip_prefix *out)
{
	out->addr = *a;
	out->len = ip_family_bits(a->family);
}

/* The entry for LAN name in a reply to {"op":"list","what":"lans"}, or NULL. */
static const json_t *directory_lan(const json_t *reply, const char *name)
{
	const json_t *item;
	size_t i;

	json_array_foreach(json_object_get(reply, "items"), i, item) {
		const char *lan = json_string_value(json_object_get(item, "name"));

		if (lan && strcmp(lan, name) == 0)
			return item;
	}
	return NULL;
}

static size_t directory_prefixes(const json_t *entry, struct ip_prefix *out, size_t max)
{
	const json_t *v;
	size_t i, n = 0;

	json_array_foreach(json_object_get(entry, "prefixes"), i, v) {
		const char *text = json_string_value(v);

		if (n < max && text && ip_prefix_parse(text, false, &out[n]) == 0)
			n++;
	}
	return n;
}

static int request_lan_list(struct call *call, rpc_reply_cb cb)
{
	json_t *req = msg_request("list", 0);

	json_object_set_new(req, "what", json_string("lans"));
	json_object_set_new(req, "limit", json_integer(500));  /* the API's page maximum */
	return principal_request(call->sec, req, cb, call);
}

static json_t *tun_channel_json(const struct call *call)
{
	json_t *ch = json_pack("{s:s, s:o, s:o}", "kind", "tun",
			       "local_prefixes", prefixes_json(call->tun_local, call->ntun_local),
			       "remote_prefixes", prefixes_json(call->tun_remote,
								call->ntun_remote));

	if (call->tun_ifname[0]) {
		json_object_set_new(ch, "interface", json_string(call->tun_ifname));
		json_object_set_new(ch, "mtu", json_integer(call->tun_mtu));
	}
	if (call->trunk)
		json_object_set_new(ch, "trunk", json_string(call->trunk->cfg->name + 6));
	return ch;
}

json_t *call_to_json(const struct call *call)
{
	json_t *j = json_object(), *channels = json_array();
	char text[IP_STRLEN];
	struct ip_endpoint local = {.addr = call->sec->cfg.lan_address};

	json_object_set_new(j, "id", json_string(call->id_hex));
	json_object_set_new(j, "caller", json_string(call->caller));
	json_object_set_new(j, "callee", json_string(call->callee));
	json_object_set_new(j, "direction", json_string(call->outgoing ? "out" : "in"));
	json_object_set_new(j, "state", json_string(state_names[call->state]));
	if (call->cipher != SEC_CIPHER_NONE)
		json_object_set_new(j, "cipher", json_string(sec_cipher_name(call->cipher)));
	if (call->compress != SEC_COMPRESS_NONE)
		json_object_set_new(j, "compression", json_string(sec_compress_name(call->compress)));
	json_object_set_new(j, "started", json_integer((json_int_t)call->started));
	for (size_t i = 0; i < call->nchannels; i++) {
		json_t *ch;

		if (call->tun) {
			json_array_append_new(channels, tun_channel_json(call));
			continue;
		}
		ch = json_object();
		local.port = call->channels[i].lan_port;
		json_object_set_new(ch, "port", json_integer(call->channels[i].port));
		if (local.port)
			json_object_set_new(ch, "local", json_string(ip_endpoint_format(
								 &local, text, sizeof text)));
		if (call->channels[i].deliver.port)
			json_object_set_new(ch, "deliver",
					    json_string(ip_endpoint_format(&call->channels[i].deliver,
									   text, sizeof text)));
		json_array_append_new(channels, ch);
	}
	json_object_set_new(j, "channels", channels);
	return j;
}

/* ---- recording with the principal (caller's side only, so each call is one row) ---- */

static void record_start(struct call *call)
{
	json_t *req, *channels;
	const char *at = strchr(call->callee, '@');

	if (!call->outgoing)
		return;
	req = msg_request("call_start", 0);
	channels = json_array();
	for (size_t i = 0; i < call->nchannels; i++)
		json_array_append_new(channels, call->tun ? tun_channel_json(call)
				      : json_pack("{s:s, s:i}", "kind", "udp", "port",
						  call->channels[i].port));
	json_object_set_new(req, "call_id", json_string(call->id_hex));
	json_object_set_new(req, "caller", json_string(call->caller));
	json_object_set_new(req, "caller_lan", json_string(call->sec->cfg.lan));
	json_object_set_new(req, "callee", json_string(call->callee));
	if (call->callee_lan[0])
		json_object_set_new(req, "callee_lan", json_string(call->callee_lan));
	else if (at)
		json_object_set_new(req, "callee_lan", json_string(at + 1));
	json_object_set_new(req, "channels", channels);
	principal_record(call->sec, req);
	call->recorded = true;
}

/* bytes_up: from the caller towards the callee, as the caller's auxiliary sent them. */
static void record_end(struct call *call, const char *reason)
{
	json_t *req;

	if (!call->outgoing || !call->recorded)
		return;
	req = msg_request("call_end", 0);
	json_object_set_new(req, "call_id", json_string(call->id_hex));
	json_object_set_new(req, "reason", json_string(reason));
	json_object_set_new(req, "bytes_up", json_integer((json_int_t)call->bytes_out));
	json_object_set_new(req, "bytes_down", json_integer((json_int_t)call->bytes_in));
	principal_record(call->sec, req);
}

/* ---- ending ---- */

static void notify_client_ended(struct call *call, const char *reason)
{
	json_t *notice;

	if (!call->client)
		return;
	notice = json_pack("{s:s, s:s, s:s}", "op", "call_ended", "call", call->id_hex,
			   "reason", reason);
	client_send(call->client, notice);
}

/* Sums the wire bytes of the auxiliary's final channel reports. */
static void take_final_counts(struct call *call, const json_t *reply)
{
	const json_t *ch;
	size_t i;

	json_array_foreach(json_object_get(reply, "channels"), i, ch) {
		const json_t *stats = json_object_get(ch, "stats");

		call->bytes_in += (uint64_t)json_integer_value(json_object_get(stats, "bytes_in"));
		call->bytes_out += (uint64_t)json_integer_value(json_object_get(stats, "bytes_out"));
	}
}

struct ending {
	struct call *call;
	char reason[32];
};

static void finish_end(struct call *call, const char *reason)
{
	if (call->aux) {
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

	if (!err && msg_reply_is_ok(reply, NULL, NULL))
		take_final_counts(e->call, reply);
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

	if (was == CALL_ENDED)
		return;
	call->state = CALL_ENDED;
	unlink_call(call);
	uv_timer_stop(&call->timer);
	log_debug("call %s: %s -> ended (%s: %s)", call->id_hex, state_names[was], reason,
		  message ? message : "");
	if (call->client && call->client->ringing == call)
		call->client->ringing = NULL;
	if (call->client) {
		rpc_forget_ctx(&call->client->rpc, call);
		if (call->client_request >= 0)
			client_send(call->client, msg_reply_error(call->client_request, reason, "%s",
								  message ? message : reason));
		else if (was == CALL_UP)
			notify_client_ended(call, reason);
	}
	if (call->peer) {
		struct peer_conn *p = call->peer;

		rpc_forget_ctx(&p->rpc, call);
		if (call->peer_request >= 0)
			peer_send(p, msg_reply_error(call->peer_request, reason, "%s",
						     message ? message : reason));
		else
			peer_send(p, json_pack("{s:s, s:s, s:s}", "op", "hangup", "call",
					       call->id_hex, "reason", reason));
		call->peer = NULL;
		peer_close(p);
	}
	if (call->aux)
		rpc_forget_ctx(&call->aux->rpc, call);
	/* A directory request may still be out (look-up, check): its reply must not
	 * find a freed call. */
	rpc_forget_ctx(&call->sec->principal.rpc, call);
	if (call->trunk)
		trunk_call_ended(call->trunk, call, reason);
	stop_aux_then_finish(call, reason);
}

/* ---- hooks from the connections and the auxiliary ---- */

void call_aux_ended(struct call *call, const json_t *notice)
{
	const char *reason = json_string_value(json_object_get(notice, "reason"));
	const char *message = json_string_value(json_object_get(notice, "message"));

	take_final_counts(call, notice);
	if (call->aux) {
		call->aux->call = NULL;
		aux_release(call->aux);
		call->aux = NULL;
	}
	call_end(call, reason ? reason : "aux_failed", message ? message : "the relay ended");
}

void call_aux_exited(struct call *call)
{
	call->aux = NULL;
	call_end(call, "aux_failed", "the call's auxiliary process exited");
}

void call_peer_closed(struct call *call)
{
	call->peer = NULL;
	call_end(call, call->state == CALL_UP ? "peer_lost" : "peer_down",
		 "the connection to the other site's gateway was lost");
}

void call_client_closed(struct call *call, struct client_conn *c)
{
	rpc_forget_ctx(&c->rpc, call);
	call->client = NULL;
	call->client_request = -1;
	if (c->ringing == call)
		c->ringing = NULL;
	/* A call that is up goes on without its client (`insel hangup` or the idle time-out
	 * ends it); one still being set up has nobody left to tell, so it ends. */
	if (call->state != CALL_UP)
		call_end(call, call->outgoing ? "caller_gone" : "no_answer",
			 "the local party disconnected before the call was up");
}

/* ---- starting the auxiliary's relay, shared by both sides ---- */

typedef void (*started_fn)(struct call *call);

struct starting {
	struct call *call;
	started_fn next;
};

static void aux_started(void *ctx, const json_t *reply, int err)
{
	struct starting *st = ctx;
	struct call *call = st->call;
	started_fn next = st->next;
	const char *code, *message;

	free(st);
	if (err || !msg_reply_is_ok(reply, &code, &message)) {
		call_end(call, "aux_failed", err ? insel_strerror(err) : message);
		return;
	}
	call->state = CALL_UP;
	call->answered = time(NULL);
	next(call);
}

static void start_relay(struct call *call, const struct sec_channel_params *params,
			started_fn next)
{
	json_t *req = msg_request("start", 0), *channels = json_array();
	struct starting *st = calloc(1, sizeof *st);
	char text[IP_STRLEN];

	for (size_t i = 0; i < call->nchannels; i++) {
		json_t *ch = json_object();

		json_object_set_new(ch, "params", chanparams_to_json(&params[i]));
		if (call->tun && call->has_remote_gateway)
			json_object_set_new(ch, "remote_gateway",
					    json_string(ip_addr_format(&call->remote_gateway, text,
								       sizeof text)));
		if (call->channels[i].deliver.port)
			json_object_set_new(ch, "deliver",
					    json_string(ip_endpoint_format(&call->channels[i].deliver,
									   text, sizeof text)));
		json_array_append_new(channels, ch);
	}
	json_object_set_new(req, "channels", channels);
	/* A trunk is kept up whether or not traffic flows. */
	json_object_set_new(req, "idle_timeout_ms",
			    json_integer(call->trunk ? 0 : (json_int_t)call->sec->cfg.idle_timeout_ms));
	if (!st) {
		json_decref(req);
		call_end(call, "internal", "out of memory");
		return;
	}
	st->call = call;
	st->next = next;
	if (aux_request(call->aux, req, AUX_START_TIMEOUT_MS, aux_started, st)) {
		free(st);
		call_end(call, "aux_failed", "cannot talk to the call's auxiliary");
	}
}

static json_t *bind_request(struct call *call)
{
	struct secondary *s = call->sec;
	json_t *req = msg_request("bind", 0), *channels = json_array();
	char text[IP_STRLEN];

	for (size_t i = 0; i < call->nchannels && !call->tun; i++)
		json_array_append_new(channels, json_pack("{s:i}", "lan_port",
							  call->outgoing ? call->channels[i].port : 0));
	if (call->tun) {
		/* Named after the peer LAN: a trunk's caller is a LAN, a host's user@lan. */
		const char *peer_lan = call->outgoing ? call->callee_lan
				     : call->trunk ? call->caller : strchr(call->caller, '@');

		peer_lan = peer_lan && *peer_lan == '@' ? peer_lan + 1 : peer_lan;
		json_array_append_new(channels, json_pack(
			"{s:{s:s, s:i, s:o, s:o}}", "tun", "name_hint",
			peer_lan && *peer_lan ? peer_lan : "insel", "mtu", (int)call_tun_mtu(s),
			"local", prefixes_json(call->tun_local, call->ntun_local),
			"remote", prefixes_json(call->tun_remote, call->ntun_remote)));
	}
	json_object_set_new(req, "call", json_string(call->id_hex));
	json_object_set_new(req, "lan_addr",
			    json_string(ip_addr_format(&s->cfg.lan_address, text, sizeof text)));
	json_object_set_new(req, "wan_addr",
			    json_string(ip_addr_format(&s->cfg.wan_address, text, sizeof text)));
	json_object_set_new(req, "channels", channels);
	if (s->cfg.aux_user)
		json_object_set_new(req, "user", json_string(s->cfg.aux_user));
	return req;
}

/* Reads the bind reply: the WAN port and each channel's LAN port. */
static int take_bound(struct call *call, const json_t *reply, int err, const char **why)
{
	const json_t *channels = json_object_get(reply, "channels");
	const char *code;
	json_int_t port;

	if (err) {
		*why = insel_strerror(err);
		return err;
	}
	if (!msg_reply_is_ok(reply, &code, why))
		return INSEL_E_REFUSED;
	if (msg_get_int(reply, "wan_port", 1, 65535, &port) ||
	    json_array_size(channels) != call->nchannels) {
		*why = "the auxiliary's bind reply is malformed";
		return INSEL_E_PROTOCOL;
	}
	call->wan_port = (uint16_t)port;
	if (call->tun) {
		const json_t *ch = json_array_get(channels, 0);
		const char *name;
		json_int_t mtu;

		if (msg_get_str(ch, "interface", &name) || strlen(name) >= sizeof call->tun_ifname ||
		    msg_get_int(ch, "mtu", 68, 65535, &mtu)) {
			*why = "the auxiliary's bind reply is malformed";
			return INSEL_E_PROTOCOL;
		}
		snprintf(call->tun_ifname, sizeof call->tun_ifname, "%s", name);
		call->tun_mtu = (unsigned)mtu;
		return 0;
	}
	for (size_t i = 0; i < call->nchannels; i++) {
		if (msg_get_int(json_array_get(channels, i), "lan_port", 1, 65535, &port)) {
			*why = "the auxiliary's bind reply is malformed";
			return INSEL_E_PROTOCOL;
		}
		call->channels[i].lan_port = (uint16_t)port;
	}
	return 0;
}

static int spawn_aux(struct call *call, aux_bound_cb cb)
{
	json_t *req = bind_request(call);
	int rc;

	call->state = CALL_BINDING;
	rc = aux_spawn(call->sec, call, req, cb, &call->aux);
	json_decref(req);
	return rc;
}

/* ---- caller side ---- */

static void caller_up(struct call *call)
{
	json_t *reply = msg_reply_ok(call->client_request);

	log_info("call %s from %s to %s is up (%s)", call->id_hex, call->caller, call->callee,
		 sec_cipher_name(call->cipher));
	json_object_set_new(reply, "call", call_to_json(call));
	if (call->client) {
		client_send(call->client, reply);
		call->client_request = -1;
	} else {
		json_decref(reply);
	}
	if (call->trunk)
		trunk_call_up(call->trunk, call);
	record_start(call);
}

static void call_request_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	struct sec_channel_params params[SEC_MAX_CHANNELS];
	const char *code, *message;
	char why[256];

	if (err) {
		call_end(call, err == INSEL_E_TIMEOUT ? "no_answer" : "peer_down",
			 insel_strerror(err));
		return;
	}
	if (!msg_reply_is_ok(reply, &code, &message)) {
		call_end(call, code, message);
		return;
	}
	if (call->tun) {
		const char *gw = json_string_value(json_object_get(json_object_get(reply, "tun"),
								   "callee_gateway"));

		call->has_remote_gateway = gw && ip_addr_parse(gw, &call->remote_gateway) == 0 &&
					   call->remote_gateway.family == AF_INET;
	}
	if (negotiation_finish(call, json_object_get(reply, "answer"), params, why,
			       sizeof why)) {
		call_end(call, "no_common", why);
		return;
	}
	start_relay(call, params, caller_up);
	for (size_t i = 0; i < call->nchannels; i++)
		chanparams_wipe(&params[i]);
}

static void caller_bound(struct call *call, const json_t *reply, int err)
{
	json_t *req, *channels = json_array();
	const char *why = NULL;

	if (take_bound(call, reply, err, &why)) {
		call_end(call, "aux_failed", why);
		return;
	}
	call->offer = negotiation_offer(call);
	if (!call->offer) {
		call_end(call, "internal", "cannot build the offer");
		return;
	}
	for (size_t i = 0; i < call->nchannels; i++)
		json_array_append_new(channels, call->tun ? json_pack("{s:s}", "kind", "tun")
				      : json_pack("{s:s, s:i}", "kind", "udp", "port",
						  call->channels[i].port));
	req = msg_request("call_request", 0);
	if (call->tun) {
		char gw[IP_STRLEN];

		json_object_set_new(req, "tun", json_pack(
			"{s:o, s:o, s:s}",
			"caller", prefixes_json(call->tun_local, call->ntun_local),
			"callee", prefixes_json(call->tun_remote, call->ntun_remote),
			"caller_gateway", ip_addr_format(&call->sec->cfg.lan_address, gw,
							 sizeof gw)));
		if (call->trunk)
			json_object_set_new(req, "trunk", json_true());
	}
	json_object_set_new(req, "call", json_string(call->id_hex));
	json_object_set_new(req, "caller", json_string(call->caller));
	json_object_set_new(req, "callee", json_string(call->callee));
	if (call->callee_user[0])
		json_object_set_new(req, "callee_user", json_string(call->callee_user));
	if (call->has_callee_addr) {
		char text[IP_STRLEN];

		json_object_set_new(req, "callee_address",
				    json_string(ip_addr_format(&call->callee_addr, text,
							       sizeof text)));
	}
	json_object_set_new(req, "channels", channels);
	json_object_set_new(req, "offer", json_incref(call->offer));
	call->state = CALL_RINGING;
	if (rpc_call(&call->peer->rpc, req,
		     (uint32_t)(call->sec->cfg.ring_timeout_ms + PEER_REPLY_MARGIN_MS),
		     call_request_reply, call))
		call_end(call, "peer_down", "cannot send the call request");
}

void call_peer_ready(struct call *call, int status, const char *why)
{
	int rc;

	if (status) {
		log_warn("call %s: cannot reach the callee's gateway: %s", call->id_hex,
			 why ? why : insel_strerror(status));
		call->peer = NULL;
		call_end(call, "peer_down", why ? why : insel_strerror(status));
		return;
	}
	rc = spawn_aux(call, caller_bound);
	if (rc)
		call_end(call, "aux_failed", insel_strerror(rc));
}

/* The principal's answer to "where is the callee?". */
static void lookup_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	const char *code, *message, *name, *endpoint_text, *fingerprint, *state, *lan, *text;
	struct ip_endpoint endpoint;
	int rc;

	if (err) {
		call_end(call, "principal_unreachable", insel_strerror(err));
		return;
	}
	if (!msg_reply_is_ok(reply, &code, &message)) {
		if (strcmp(code, "not_found") == 0)
			call_end(call, "unknown_callee", message);
		else if (strcmp(code, "unavailable") == 0)
			call_end(call, "peer_down", message);
		else
			call_end(call, code, message);
		return;
	}
	if (msg_get_str(reply, "lan", &lan) || msg_get_str(reply, "secondary", &name) ||
	    msg_get_str(reply, "endpoint", &endpoint_text) ||
	    msg_get_str(reply, "fingerprint", &fingerprint) ||
	    msg_get_str_opt(reply, "state", "up", &state) ||
	    ip_endpoint_parse(endpoint_text, &endpoint)) {
		call_end(call, "internal", "the directory's answer is malformed");
		return;
	}
	snprintf(call->callee_lan, sizeof call->callee_lan, "%s", lan);
	if (strcmp(lan, call->sec->cfg.lan) == 0) {
		call_end(call, "same_lan", "the callee is on this LAN: no call needed");
		return;
	}
	if (strcmp(state, "up") != 0) {
		call_end(call, "peer_down", "the callee's gateway is not reachable");
		return;
	}
	if ((text = json_string_value(json_object_get(reply, "user"))))
		snprintf(call->callee_user, sizeof call->callee_user, "%s", text);
	if ((text = json_string_value(json_object_get(reply, "address"))) &&
	    ip_addr_parse(text, &call->callee_addr) == 0)
		call->has_callee_addr = true;
	if (call->tun) {
		if (!call->has_callee_addr || call->callee_addr.family != AF_INET) {
			call_end(call, "bad_request", "a network call (--tun) needs the callee's "
				 "host name or IPv4 address, not a user name");
			return;
		}
		host_prefix(&call->callee_addr, &call->tun_remote[0]);
		call->ntun_remote = 1;
	}
	call->state = CALL_DIALING;
	rc = peer_connect(call->sec, call, &endpoint, name, fingerprint, &call->peer);
	if (rc)
		call_end(call, "peer_down", insel_strerror(rc));
}

static int parse_channels(struct call *call, const json_t *channels, const char **why)
{
	const json_t *ch;
	size_t i;

	if (json_array_size(channels) == 0) {
		*why = "a call needs at least one channel";
		return INSEL_E_BAD_FIELD;
	}
	json_array_foreach(channels, i, ch) {
		const char *kind;
		json_int_t port;

		if (msg_get_str(ch, "kind", &kind)) {
			*why = msg_field_error();
			return INSEL_E_BAD_FIELD;
		}
		if (strcmp(kind, "tun") == 0) {
			if (json_array_size(channels) != 1) {
				*why = "a tun channel must be the call's only channel";
				return INSEL_E_BAD_FIELD;
			}
			call->tun = true;
			call->channels[0].tun = true;
			break;
		}
		if (msg_get_int(ch, "port", 1, 65535, &port)) {
			*why = msg_field_error();
			return INSEL_E_BAD_FIELD;
		}
		if (strcmp(kind, "udp") != 0) {
			*why = "channels are of kind udp or tun";
			return INSEL_E_BAD_FIELD;
		}
		call->channels[i].port = (uint16_t)port;
	}
	call->nchannels = json_array_size(channels);
	return 0;
}

void call_place(struct secondary *s, struct client_conn *c, json_int_t request_id,
		const char *callee, const json_t *channels)
{
	struct call *call;
	const char *why;
	json_t *req;

	if ((long long)call_count(s) >= s->cfg.max_calls) {
		client_send(c, msg_reply_error(request_id, "limit",
					       "this gateway carries at most %lld calls",
					       s->cfg.max_calls));
		return;
	}
	if (strlen(callee) == 0 || strlen(callee) >= CALL_PARTY_MAX) {
		client_send(c, msg_reply_error(request_id, "unknown_callee", "no such callee"));
		return;
	}
	call = call_new(s, true, 0);
	if (!call) {
		client_send(c, msg_reply_error(request_id, "internal", "out of memory"));
		return;
	}
	if (parse_channels(call, channels, &why)) {
		client_send(c, msg_reply_error(request_id, "bad_request", "%s", why));
		unlink_call(call);
		call->state = CALL_ENDED;
		call_free(call);
		return;
	}
	call->client = c;
	call->client_request = request_id;
	call->caller_addr = c->addr;
	snprintf(call->caller, sizeof call->caller, "%s@%s", c->user, s->cfg.lan);
	snprintf(call->callee, sizeof call->callee, "%s", callee);
	for (size_t i = 0; i < call->nchannels && !call->tun; i++) {
		call->channels[i].deliver.addr = c->addr;
		call->channels[i].deliver.port = call->channels[i].port;
	}
	if (call->tun) {
		if (c->addr.family != AF_INET) {
			client_send(c, msg_reply_error(request_id, "bad_request",
						       "network calls are IPv4 only"));
			unlink_call(call);
			call->state = CALL_ENDED;
			call_free(call);
			return;
		}
		host_prefix(&c->addr, &call->tun_local[0]);
		call->ntun_local = 1;
	}
	log_info("call %s: %s calls %s%s", call->id_hex, call->caller, callee,
		 call->tun ? " (network call)" : "");
	req = msg_request("lookup", 0);
	json_object_set_new(req, "callee", json_string(callee));
	if (principal_request(s, req, lookup_reply, call))
		call_end(call, "principal_unreachable",
			 "the directory cannot be reached, so new calls cannot be placed");
}

/* ---- callee side ---- */

static void callee_up(struct call *call)
{
	json_t *notice;

	log_info("call %s from %s to %s is up (%s)", call->id_hex, call->caller, call->callee,
		 sec_cipher_name(call->cipher));
	if (call->peer && call->peer_request >= 0) {
		json_t *reply = msg_reply_ok(call->peer_request);

		json_object_set_new(reply, "answer", json_incref(call->offer));
		if (call->tun) {
			char gw[IP_STRLEN];

			json_object_set_new(reply, "tun", json_pack(
				"{s:s}", "callee_gateway",
				ip_addr_format(&call->sec->cfg.lan_address, gw, sizeof gw)));
		}
		peer_send(call->peer, reply);
		call->peer_request = -1;
	}
	if (call->client) {
		notice = json_pack("{s:s, s:o}", "op", "call_up", "call", call_to_json(call));
		client_send(call->client, notice);
	}
	if (call->trunk)
		trunk_call_up(call->trunk, call);
}

static void callee_bound(struct call *call, const json_t *reply, int err)
{
	struct sec_channel_params params[SEC_MAX_CHANNELS];
	const char *why = NULL;
	char reason[256];
	json_t *offer = call->offer;

	if (take_bound(call, reply, err, &why)) {
		call_end(call, "aux_failed", why);
		return;
	}
	/* call->offer held the caller's offer; it now holds our answer. */
	call->offer = NULL;
	if (negotiation_answer(call, offer, &call->offer, params, reason, sizeof reason)) {
		json_decref(offer);
		call_end(call, "no_common", reason);
		return;
	}
	json_decref(offer);
	start_relay(call, params, callee_up);
	for (size_t i = 0; i < call->nchannels; i++)
		chanparams_wipe(&params[i]);
}

static void answer_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	int rc;

	if (call->client)
		call->client->ringing = NULL;
	if (err) {
		call_end(call, "no_answer", err == INSEL_E_TIMEOUT ? "nobody answered in time"
								    : "the callee went away");
		return;
	}
	if (!msg_reply_is_ok(reply, NULL, NULL) ||
	    !json_is_true(json_object_get(reply, "accept"))) {
		call_end(call, "rejected", "the callee declined the call");
		return;
	}
	rc = spawn_aux(call, callee_bound);
	if (rc)
		call_end(call, "aux_failed", insel_strerror(rc));
}

static void ring(struct call *call)
{
	struct client_conn *c = call->client;
	json_t *req = json_pack("{s:s, s:o}", "op", "incoming", "call", call_to_json(call));

	c->ringing = call;
	call->state = CALL_RINGING;
	log_info("call %s: ringing %s for %s", call->id_hex, call->callee, call->caller);
	if (rpc_call(&c->rpc, req, (uint32_t)call->sec->cfg.ring_timeout_ms, answer_reply, call))
		call_end(call, "no_answer", "cannot reach the callee's client");
}

/* The callee's listening client, then ringing it. */
static void find_callee(struct call *call)
{
	struct client_conn *listener;

	listener = client_find_listener(call->sec, call->callee_user,
					call->has_callee_addr ? &call->callee_addr : NULL);
	if (!listener) {
		call_end(call, "not_listening", "the callee is not waiting for calls");
		return;
	}
	if (listener->ringing) {
		call_end(call, "busy", "the callee is answering another call");
		return;
	}
	if (call->tun && (!listener->accept_tun || !ip_addr_equal(&listener->addr,
								  &call->callee_addr))) {
		call_end(call, "rejected", "the callee does not take network calls "
			 "(insel listen --tun)");
		return;
	}
	call->client = listener;
	for (size_t i = 0; i < call->nchannels && !call->tun; i++) {
		call->channels[i].deliver.addr = listener->addr;
		call->channels[i].deliver.port = call->channels[i].port;
	}
	ring(call);
}

static bool inside_our_lan(const struct secondary *s, const struct ip_prefix *p, size_t n)
{
	return prefixes_within(p, n, s->cfg.prefixes, s->cfg.nprefixes);
}

/* Host to host: the caller's address must be in the caller's LAN by the directory. */
static void caller_addr_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	const char *lan = strchr(call->caller, '@'), *found;

	if (err) {
		call_end(call, "principal_unreachable", "cannot check the caller with the directory");
		return;
	}
	if (!msg_reply_is_ok(reply, NULL, NULL) || msg_get_str(reply, "lan", &found) || !lan ||
	    strcmp(found, lan + 1) != 0) {
		log_warn("call %s: network call from an address outside the caller's LAN",
			 call->id_hex);
		call_end(call, "forbidden", "the caller's address is not in the caller's LAN");
		return;
	}
	find_callee(call);
}

/* Host to host: callee host /32 here, caller host /32 there, checked before ringing. */
static void check_tun_caller(struct call *call)
{
	char text[IP_STRLEN];
	json_t *req;

	if (call->ntun_local != 1 || call->ntun_remote != 1 || call->tun_local[0].len != 32 ||
	    call->tun_remote[0].len != 32 || !call->has_callee_addr ||
	    !ip_addr_equal(&call->tun_local[0].addr, &call->callee_addr) ||
	    !inside_our_lan(call->sec, call->tun_local, 1)) {
		call_end(call, "forbidden", "a host-to-host network call joins one caller "
			 "address to the callee's address");
		return;
	}
	req = msg_request("lookup", 0);
	json_object_set_new(req, "callee", json_string(ip_addr_format(&call->tun_remote[0].addr,
								      text, sizeof text)));
	if (principal_request(call->sec, req, caller_addr_reply, call))
		call_end(call, "principal_unreachable",
			 "the callee's gateway cannot reach the directory");
}

/* Trunk, callee side: the directory's record of the caller's LAN names the secondary that
 * connected and covers the prefixes it wants to reach us from; ours are ours to give. */
static void trunk_caller_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	struct trunk *t = call->trunk;
	struct ip_prefix dir[SECONDARY_MAX_PREFIXES];
	const json_t *entry;
	const char *fingerprint;
	size_t ndir;

	if (err || !msg_reply_is_ok(reply, NULL, NULL)) {
		call_end(call, "principal_unreachable", "cannot check the trunk with the directory");
		return;
	}
	if (!call->peer) {
		call_end(call, "peer_lost", "the caller's gateway went away");
		return;
	}
	entry = directory_lan(reply, call->caller);
	fingerprint = json_string_value(json_object_get(entry, "fingerprint"));
	if (!entry || !fingerprint ||
	    strcmp(fingerprint, tls_conn_peer(call->peer->tls)->fingerprint) != 0) {
		log_warn("call %s: trunk from LAN %s by a secondary the directory does not name",
			 call->id_hex, call->caller);
		call_end(call, "forbidden", "the calling gateway does not serve that LAN");
		return;
	}
	ndir = directory_prefixes(entry, dir, SECONDARY_MAX_PREFIXES);
	if (!prefixes_within(call->tun_remote, call->ntun_remote, dir, ndir) ||
	    (t->cfg->nremote && !prefixes_within(call->tun_remote, call->ntun_remote,
						 t->cfg->remote, t->cfg->nremote)) ||
	    !prefixes_within(call->tun_local, call->ntun_local, t->cfg->local, t->cfg->nlocal)) {
		log_warn("call %s: trunk from LAN %s asks for prefixes outside the configured "
			 "and directory ones", call->id_hex, call->caller);
		call_end(call, "forbidden", "the trunk's prefixes do not match this gateway's "
			 "trunk configuration and the directory");
		return;
	}
	if (t->call && t->call != call) {
		log_info("trunk to LAN %s: a new call replaces call %s", call->caller,
			 t->call->id_hex);
		call_end(t->call, "replaced", "the peer gateway placed the trunk again");
	}
	t->call = call;
	if (spawn_aux(call, callee_bound))
		call_end(call, "aux_failed", "cannot start the call's auxiliary");
}

/* The directory's record of the caller's LAN must name the secondary that connected. */
static void caller_check_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	const char *fingerprint;
	const struct pki_identity *peer;

	if (err) {
		call_end(call, "principal_unreachable", "cannot check the caller with the directory");
		return;
	}
	if (!call->peer) {
		call_end(call, "peer_lost", "the caller's gateway went away");
		return;
	}
	peer = tls_conn_peer(call->peer->tls);
	if (!msg_reply_is_ok(reply, NULL, NULL) || msg_get_str(reply, "fingerprint", &fingerprint) ||
	    strcmp(fingerprint, peer->fingerprint) != 0) {
		log_warn("call %s: secondary '%s' is not the directory's gateway for caller %s",
			 call->id_hex, peer->name, call->caller);
		call_end(call, "forbidden", "the caller does not belong to the calling gateway");
		return;
	}
	if (call->tun) {
		check_tun_caller(call);
		return;
	}
	find_callee(call);
}

/* Reads the untrusted call_request into the call; on failure *why says what is wrong. */
/* The "tun" object of a call_request, from the callee's point of view. */
static int read_tun_request(struct call *call, const json_t *req, const char **why)
{
	const json_t *tun = json_object_get(req, "tun");
	const char *gw = json_string_value(json_object_get(tun, "caller_gateway"));

	if (!call->tun)
		return 0;
	if (prefixes_from_json(json_object_get(tun, "caller"), call->tun_remote,
			       &call->ntun_remote) ||
	    prefixes_from_json(json_object_get(tun, "callee"), call->tun_local,
			       &call->ntun_local)) {
		*why = "a tun channel needs 'tun' with caller and callee IPv4 prefixes";
		return INSEL_E_BAD_FIELD;
	}
	call->has_remote_gateway = gw && ip_addr_parse(gw, &call->remote_gateway) == 0 &&
				   call->remote_gateway.family == AF_INET;
	return 0;
}

static int read_call_request(struct call *call, const json_t *req, const char **why)
{
	const char *caller, *callee, *user, *address;
	json_t *channels, *offer;
	bool trunk = json_is_true(json_object_get(req, "trunk"));
	int rc;

	if (msg_get_str(req, "caller", &caller) || msg_get_str(req, "callee", &callee) ||
	    msg_get_str_opt(req, "callee_user", "", &user) ||
	    msg_get_str_opt(req, "callee_address", NULL, &address) ||
	    msg_get_array(req, "channels", SEC_MAX_CHANNELS, &channels) ||
	    msg_get_object(req, "offer", &offer)) {
		*why = msg_field_error();
		return INSEL_E_BAD_FIELD;
	}
	if (strlen(caller) >= CALL_PARTY_MAX || strlen(callee) >= CALL_PARTY_MAX ||
	    strlen(user) >= CALL_PARTY_MAX || (!trunk && !strchr(caller, '@')) ||
	    (trunk && !pki_name_valid(caller))) {
		*why = "caller or callee malformed";
		return INSEL_E_BAD_FIELD;
	}
	if (address) {
		if (ip_addr_parse(address, &call->callee_addr)) {
			*why = "callee_address is not an address";
			return INSEL_E_BAD_FIELD;
		}
		call->has_callee_addr = true;
	}
	snprintf(call->caller, sizeof call->caller, "%s", caller);
	snprintf(call->callee, sizeof call->callee, "%s", callee);
	snprintf(call->callee_user, sizeof call->callee_user, "%s", user);
	call->offer = json_incref(offer);
	rc = parse_channels(call, channels, why);
	if (rc == 0 && trunk && !call->tun) {
		*why = "a trunk is a network call: one tun channel";
		return INSEL_E_BAD_FIELD;
	}
	return rc ? rc : read_tun_request(call, req, why);
}

void call_incoming(struct secondary *s, struct peer_conn *p, const json_t *request)
{
	const char *id_text, *why;
	uint64_t id;
	struct call *call;
	json_t *req;

	if (msg_get_str(request, "call", &id_text) || id_parse(id_text, &id) || id == 0) {
		peer_send(p, msg_reply_error(msg_id(request), "bad_request", "bad call id"));
		return;
	}
	if (call_find(s, id_text)) {
		peer_send(p, msg_reply_error(msg_id(request), "bad_request", "duplicate call id"));
		return;
	}
	if ((long long)call_count(s) >= s->cfg.max_calls) {
		peer_send(p, msg_reply_error(msg_id(request), "limit",
					     "the callee's gateway is at its call limit"));
		return;
	}
	call = call_new(s, false, id);
	if (!call) {
		peer_send(p, msg_reply_error(msg_id(request), "internal", "out of memory"));
		return;
	}
	call->peer = p;
	call->peer_request = msg_id(request);
	p->call = call;
	if (read_call_request(call, request, &why)) {
		call_end(call, "bad_request", why);
		return;
	}
	if (json_is_true(json_object_get(request, "trunk"))) {
		call->trunk = trunk_for_lan(s, call->caller);
		if (!call->trunk) {
			log_warn("call %s: trunk call from LAN %s, which has no [trunk] here",
				 call->id_hex, call->caller);
			call_end(call, "forbidden", "no trunk to the calling LAN is configured on "
				 "the callee's gateway");
			return;
		}
		if (request_lan_list(call, trunk_caller_reply))
			call_end(call, "principal_unreachable",
				 "the callee's gateway cannot reach the directory");
		return;
	}
	/* Who the caller claims to be is checked against who connected. */
	req = msg_request("lookup", 0);
	json_object_set_new(req, "callee", json_string(call->caller));
	if (principal_request(s, req, caller_check_reply, call))
		call_end(call, "principal_unreachable",
			 "the callee's gateway cannot reach the directory");
}

/* ---- trunks, caller side (trunk.c decides when) ---- */

/* The directory's record of the peer LAN: its secondary and its prefixes. */
static void trunk_lookup_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	const struct trunk_config *cfg = call->trunk->cfg;
	struct ip_prefix dir[SECONDARY_MAX_PREFIXES];
	const char *name, *endpoint, *fingerprint, *state;
	const json_t *entry;
	const char *code, *message;
	size_t ndir;
	int rc;

	if (err || !msg_reply_is_ok(reply, &code, &message)) {
		call_end(call, "principal_unreachable",
			 err ? insel_strerror(err) : message);
		return;
	}
	entry = directory_lan(reply, cfg->peer_lan);
	if (!entry) {
		call_end(call, "unknown_callee", "the directory has no such LAN");
		return;
	}
	name = json_string_value(json_object_get(entry, "secondary"));
	endpoint = json_string_value(json_object_get(entry, "endpoint"));
	fingerprint = json_string_value(json_object_get(entry, "fingerprint"));
	state = json_string_value(json_object_get(entry, "state"));
	if (!name || !endpoint || !fingerprint || ip_endpoint_parse(endpoint, &call->peer_endpoint) ||
	    !state || strcmp(state, "up") != 0) {
		call_end(call, "peer_down", "the peer LAN's gateway is not reachable");
		return;
	}
	ndir = directory_prefixes(entry, dir, SECONDARY_MAX_PREFIXES);
	if (cfg->nremote) {
		if (!prefixes_within(cfg->remote, cfg->nremote, dir, ndir)) {
			call_end(call, "forbidden", "the trunk's remote prefixes are not all the "
				 "peer LAN's in the directory");
			return;
		}
		memcpy(call->tun_remote, cfg->remote, sizeof call->tun_remote);
		call->ntun_remote = cfg->nremote;
	} else {
		call->ntun_remote = 0;
		for (size_t i = 0; i < ndir; i++)
			if (dir[i].addr.family == AF_INET)
				call->tun_remote[call->ntun_remote++] = dir[i];
		if (call->ntun_remote == 0) {
			call_end(call, "no_common", "the peer LAN has no IPv4 prefix");
			return;
		}
	}
	snprintf(call->peer_name, sizeof call->peer_name, "%s", name);
	snprintf(call->peer_fingerprint, sizeof call->peer_fingerprint, "%s", fingerprint);
	call->state = CALL_DIALING;
	rc = peer_connect(call->sec, call, &call->peer_endpoint, call->peer_name,
			  call->peer_fingerprint, &call->peer);
	if (rc)
		call_end(call, "peer_down", insel_strerror(rc));
}

int call_place_trunk(struct secondary *s, struct trunk *t)
{
	struct call *call;

	if ((long long)call_count(s) >= s->cfg.max_calls)
		return INSEL_E_LIMIT;
	call = call_new(s, true, 0);
	if (!call)
		return -ENOMEM;
	call->tun = true;
	call->nchannels = 1;
	call->channels[0].tun = true;
	call->trunk = t;
	t->call = call;
	snprintf(call->caller, sizeof call->caller, "%s", s->cfg.lan);
	snprintf(call->callee, sizeof call->callee, "%s", t->cfg->peer_lan);
	snprintf(call->callee_lan, sizeof call->callee_lan, "%s", t->cfg->peer_lan);
	memcpy(call->tun_local, t->cfg->local, sizeof call->tun_local);
	call->ntun_local = t->cfg->nlocal;
	log_info("call %s: trunk %s from LAN %s to LAN %s", call->id_hex, t->cfg->name + 6,
		 s->cfg.lan, t->cfg->peer_lan);
	if (request_lan_list(call, trunk_lookup_reply))
		call_end(call, "principal_unreachable", "the directory cannot be reached");
	return 0;
}
