/* The callee's side of a call (see call.c for the whole state machine): a peer's
 * call_request is read (peer_codec.c), the caller's secondary is checked against the
 * directory (for network calls, its prefixes too), our client is rung -> BINDING ->
 * CONNECTING (answer sent, our auxiliary probing) -> UP (a probe answered). A trunk from a LAN we have a trunk for is accepted without ringing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call_internal.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "msg.h"
#include "tls.h"
#include "wire_errors.h"

/* ---- callee side ---- */

/* Our auxiliary relays: the answer goes out, so that the caller's starts and the two
 * can probe each other. */
static void callee_started(struct call *call)
{
	if (call->peer && call->peer_request >= 0) {
		struct peer_call_answer a = {
			.answer = call->offer,
			.tun = call->tun,
			.has_callee_gateway = call->tun,
			.callee_gateway = call->sec->cfg.lan_address,
			.has_callee_gateway6 = call->tun && call->sec->cfg.has_lan_address6,
			.callee_gateway6 = call->sec->cfg.lan_address6,
		};

		peer_send(call->peer, peer_call_answer_encode(call->peer_request, &a));
		call->peer_request = -1;
	}
}

void callee_up(struct call *call)
{
	struct client_call c;

	log_info("call %s from %s to %s is up (%s)", call->id_hex, call->caller, call->callee,
		 sec_cipher_name(call->cipher));
	if (call->client) {
		call_describe(call, &c);
		client_send(call->client, client_call_up_encode(&c));
	}
	if (call->trunk)
		trunk_call_up(call->trunk, call);
	if (call->room_leg)
		room_leg_call_up(call->room_leg, call);
}

static void callee_bound(struct call *call, const json_t *reply, int err)
{
	struct sec_channel_params params[SEC_MAX_CHANNELS];
	const char *why = NULL;
	char reason[256];
	json_t *offer = call->offer;

	if (take_bound(call, reply, err, &why)) {
		call_end(call, WIRE(AUX_FAILED), why);
		return;
	}
	/* call->offer held the caller's offer; it now holds our answer. */
	call->offer = NULL;
	if (negotiation_answer(call, offer, &call->offer, params, reason, sizeof reason)) {
		json_decref(offer);
		call_end(call, WIRE(NO_COMMON), reason);
		return;
	}
	json_decref(offer);
	start_relay(call, params, callee_started);
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
		call_end(call, WIRE(NO_ANSWER), err == INSEL_E_TIMEOUT ? "nobody answered in time"
								    : "the callee went away");
		return;
	}
	if (!client_answer_accepts(reply)) {
		call_end(call, WIRE(REJECTED), "the callee declined the call");
		return;
	}
	rc = spawn_aux(call, callee_bound);
	if (rc)
		call_end(call, WIRE(AUX_FAILED), insel_strerror(rc));
}

static void ring(struct call *call)
{
	struct client_conn *c = call->client;
	struct client_call described;
	json_t *req;

	call_describe(call, &described);
	req = client_incoming_encode(&described);
	/* The call has been RINGING since its call_request arrived; now the client is. */
	c->ringing = call;
	log_info("call %s: ringing %s for %s", call->id_hex, call->callee, call->caller);
	if (rpc_call(&c->rpc, req, (uint32_t)call->sec->cfg.ring_timeout_ms, answer_reply, call))
		call_end(call, WIRE(NO_ANSWER), "cannot reach the callee's client");
}

/* The callee's listening client, then ringing it. */
static void find_callee(struct call *call)
{
	struct client_conn *listener;

	listener = client_find_listener(call->sec, call->callee_user,
					call->has_callee_addr ? &call->callee_addr : NULL);
	if (!listener) {
		call_end(call, WIRE(NOT_LISTENING), "the callee is not waiting for calls");
		return;
	}
	if (listener->ringing) {
		call_end(call, WIRE(BUSY), "the callee is answering another call");
		return;
	}
	if (call->tun && (!listener->accept_tun || !ip_addr_equal(&listener->addr,
								  &call->callee_addr))) {
		call_end(call, WIRE(REJECTED), "the callee does not take network calls "
			 "(insel listen --tun)");
		return;
	}
	if (!call->tun && listener->addr.family != call->sec->cfg.lan_address.family) {
		call_end(call, WIRE(REJECTED), "the callee listens over another IP family than the "
			 "gateway's LAN address, which UDP calls use");
		return;
	}
	call->client = listener;
	call->party_addr = listener->addr;
	snprintf(call->party_user, sizeof call->party_user, "%s", listener->user);
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

static void refuse_gateway(struct call *call)
{
	log_warn("call %s: the caller's gateway names a LAN address outside LAN %s's prefixes",
		 call->id_hex, call->caller);
	call_end(call, WIRE(GATEWAY_OUTSIDE_LAN), "the caller's gateway gave a LAN address outside "
		 "its LAN's prefixes in the directory");
}

/* Host to host: the caller's address, and its gateway's, must be in the caller's LAN by
 * the directory. */
static void caller_lan_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	const char *lan = strchr(call->caller, '@');
	struct ip_prefix dir[SECONDARY_MAX_PREFIXES];
	struct pop_lan_entry entry;
	size_t ndir = 0;

	if (err || !msg_reply_is_ok(reply, NULL, NULL)) {
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE), "cannot check the caller with the directory");
		return;
	}
	if (lan && directory_lan(reply, lan + 1, &entry) == 0)
		ndir = directory_prefixes(&entry, dir, SECONDARY_MAX_PREFIXES);
	if (!prefixes_within(call->tun_remote, call->ntun_remote, dir, ndir)) {
		log_warn("call %s: network call from an address outside the caller's LAN",
			 call->id_hex);
		call_end(call, WIRE(FORBIDDEN), "the caller's address is not in the caller's LAN");
		return;
	}
	if (!gateways_within(call, dir, ndir)) {
		refuse_gateway(call);
		return;
	}
	/* A caller's LAN with a mapped prefix is seen on ours through it (overlap.md). */
	call->has_tun_map = entry.has_mapped && call->tun_remote[0].addr.family == AF_INET;
	for (size_t i = 0; call->has_tun_map && i < ndir; i++)
		if (dir[i].addr.family == AF_INET && dir[i].len == entry.mapped.len &&
		    prefixes_within(call->tun_remote, 1, &dir[i], 1)) {
			call->tun_map_real = dir[i];
			call->tun_map_as = entry.mapped;
			break;
		}
	call->has_tun_map = call->has_tun_map && call->tun_map_as.len;
	find_callee(call);
}

/* Host to host: callee host /32 (/128) here, caller host /32 (/128) there, checked before
 * ringing. */
static void check_tun_caller(struct call *call)
{
	const char *caller_lan;

	if (call->ntun_local != 1 || call->ntun_remote != 1 ||
	    call->tun_local[0].len != ip_family_bits(call->tun_local[0].addr.family) ||
	    call->tun_remote[0].len != ip_family_bits(call->tun_remote[0].addr.family) ||
	    call->tun_local[0].addr.family != call->tun_remote[0].addr.family ||
	    !call->has_callee_addr ||
	    !ip_addr_equal(&call->tun_local[0].addr, &call->callee_addr) ||
	    !inside_our_lan(call->sec, call->tun_local, 1)) {
		call_end(call, WIRE(FORBIDDEN), "a host-to-host network call joins one caller "
			 "address to the callee's address");
		return;
	}
	caller_lan = strchr(call->caller, '@');
	if (request_lan_list(call, caller_lan ? caller_lan + 1 : call->caller, caller_lan_reply))
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE),
			 "the callee's gateway cannot reach the directory");
}

/* Trunk, callee side: the directory's record of the caller's LAN names the secondary that
 * connected and covers the prefixes it wants to reach us from; ours are ours to give. */
static void trunk_caller_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	struct trunk *t = call->trunk;
	struct ip_prefix dir[SECONDARY_MAX_PREFIXES];
	struct pop_lan_entry entry;
	size_t ndir;

	if (err || !msg_reply_is_ok(reply, NULL, NULL)) {
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE), "cannot check the trunk with the directory");
		return;
	}
	if (!call->peer) {
		call_end(call, WIRE(PEER_LOST), "the caller's gateway went away");
		return;
	}
	if (directory_lan(reply, call->caller, &entry) ||
	    !pop_serving_names_certificate(&entry.serving,
					   tls_conn_peer(call->peer->tls)->fingerprint)) {
		log_warn("call %s: trunk from LAN %s by a secondary the directory does not name",
			 call->id_hex, call->caller);
		call_end(call, WIRE(FORBIDDEN), "the calling gateway does not serve that LAN");
		return;
	}
	ndir = directory_prefixes(&entry, dir, SECONDARY_MAX_PREFIXES);
	if (!prefixes_within(call->tun_remote, call->ntun_remote, dir, ndir) ||
	    (t->cfg->nremote && !prefixes_within(call->tun_remote, call->ntun_remote,
						 t->cfg->remote, t->cfg->nremote)) ||
	    !prefixes_within(call->tun_local, call->ntun_local, t->cfg->local, t->cfg->nlocal)) {
		log_warn("call %s: trunk from LAN %s asks for prefixes outside the configured "
			 "and directory ones", call->id_hex, call->caller);
		call_end(call, WIRE(FORBIDDEN), "the trunk's prefixes do not match this gateway's "
			 "trunk configuration and the directory");
		return;
	}
	if (!gateways_within(call, dir, ndir)) {
		refuse_gateway(call);
		return;
	}
	if (t->call && t->call != call) {
		log_info("trunk to LAN %s: a new call replaces call %s", call->caller,
			 t->call->id_hex);
		call_end(t->call, WIRE(REPLACED), "the peer gateway placed the trunk again");
	}
	if (trunk_map(call, t->cfg))
		return;
	t->call = call;
	if (spawn_aux(call, callee_bound))
		call_end(call, WIRE(AUX_FAILED), "cannot start the call's auxiliary");
}

/* A room's leg, callee side: the directory's record of the caller's LAN names the
 * secondary that connected (and holds its gateway address); the room addresses were
 * checked against the principal's notice already. */
static void room_caller_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	struct room_leg *leg = call->room_leg;
	struct ip_prefix dir[SECONDARY_MAX_PREFIXES];
	struct pop_lan_entry entry;
	size_t ndir;

	if (err || !msg_reply_is_ok(reply, NULL, NULL)) {
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE), "cannot check the room's leg with the "
			 "directory");
		return;
	}
	if (!call->peer) {
		call_end(call, WIRE(PEER_LOST), "the caller's gateway went away");
		return;
	}
	if (!leg) {
		call_end(call, WIRE(FORBIDDEN), "the room has no leg to the calling LAN any more");
		return;
	}
	if (directory_lan(reply, call->caller, &entry) ||
	    !pop_serving_names_certificate(&entry.serving,
					   tls_conn_peer(call->peer->tls)->fingerprint)) {
		log_warn("call %s: room %s's leg from LAN %s by a secondary the directory does "
			 "not name", call->id_hex, leg->room, call->caller);
		call_end(call, WIRE(FORBIDDEN), "the calling gateway does not serve that LAN");
		return;
	}
	ndir = directory_prefixes(&entry, dir, SECONDARY_MAX_PREFIXES);
	if (!gateways_within(call, dir, ndir)) {
		refuse_gateway(call);
		return;
	}
	if (leg->call && leg->call != call) {
		struct call *old = leg->call;

		log_info("room %s: a new call from LAN %s replaces call %s", leg->room,
			 call->caller, old->id_hex);
		old->room_leg = NULL;
		call_end(old, WIRE(REPLACED), "the peer gateway placed the room's leg again");
	}
	leg->call = call;
	if (spawn_aux(call, callee_bound))
		call_end(call, WIRE(AUX_FAILED), "cannot start the call's auxiliary");
}

/* A room's leg from the caller's LAN: only one the principal's notice wants, carrying
 * exactly the room addresses it names on both sides. */
static void accept_room_leg(struct secondary *s, struct call *call, const char *room)
{
	struct room_leg *leg = room_leg_find(s, room, call->caller);

	if (!leg) {
		log_warn("call %s: room %s's leg from LAN %s, which has no members with us",
			 call->id_hex, room, call->caller);
		call_end(call, WIRE(FORBIDDEN), "the room has no members on the callee's LAN, "
			 "as far as its gateway knows");
		return;
	}
	call->room_leg = leg;
	snprintf(call->room, sizeof call->room, "%s", leg->room);
	snprintf(call->room_site, sizeof call->room_site, "%s", leg->peer_lan);
	if (!room_leg_matches(leg, call)) {
		call->room_leg = NULL;
		call_end(call, WIRE(FORBIDDEN), "the room's members differ from what the callee's "
			 "gateway knows (a change on its way?)");
		return;
	}
	if (request_lan_list(call, call->caller, room_caller_reply))
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE),
			 "the callee's gateway cannot reach the directory");
}

/* The directory's record of the caller's LAN must name the secondary that connected. */
static void caller_check_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	const struct pki_identity *peer;
	struct pop_lookup_reply found;
	char why[POP_WHY_LEN];

	if (err) {
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE), "cannot check the caller with the directory");
		return;
	}
	if (!call->peer) {
		call_end(call, WIRE(PEER_LOST), "the caller's gateway went away");
		return;
	}
	peer = tls_conn_peer(call->peer->tls);
	if (!msg_reply_is_ok(reply, NULL, NULL) || pop_lookup_reply_decode(reply, &found, why) ||
	    !pop_serving_names_certificate(&found.serving, peer->fingerprint)) {
		log_warn("call %s: secondary '%s' is not the directory's gateway for caller %s",
			 call->id_hex, peer->name, call->caller);
		call_end(call, WIRE(FORBIDDEN), "the caller does not belong to the calling gateway");
		return;
	}
	if (call->tun) {
		check_tun_caller(call);
		return;
	}
	find_callee(call);
}

/* The caller's side of the call, as its secondary asked for it. */
static void take_request(struct call *call, const struct peer_call_request *r)
{
	snprintf(call->caller, sizeof call->caller, "%s", r->caller);
	snprintf(call->callee, sizeof call->callee, "%s", r->callee);
	snprintf(call->callee_user, sizeof call->callee_user, "%s", r->callee_user);
	call->has_callee_addr = r->has_callee_addr;
	call->callee_addr = r->callee_addr;
	call->offer = json_incref(r->offer);
	call_set_channels(call, &r->channels);
	if (!call->tun)
		return;
	memcpy(call->tun_remote, r->tun_caller, r->ntun_caller * sizeof r->tun_caller[0]);
	call->ntun_remote = r->ntun_caller;
	memcpy(call->tun_local, r->tun_callee, r->ntun_callee * sizeof r->tun_callee[0]);
	call->ntun_local = r->ntun_callee;
	call->has_remote_gateway = r->has_caller_gateway;
	call->remote_gateway = r->caller_gateway;
	call->has_remote_gateway6 = r->has_caller_gateway6;
	call->remote_gateway6 = r->caller_gateway6;
}

void call_incoming(struct secondary *s, struct peer_conn *p, const json_t *request)
{
	struct peer_call_request r;
	char id_text[ID_STRLEN];
	const char *why;
	struct call *call;
	json_t *req;
	int rc;

	rc = peer_call_request_decode(request, &r, &why);
	if (r.call_id == 0) {
		peer_send(p, msg_reply_error(msg_id(request), WIRE(BAD_REQUEST), "bad call id"));
		return;
	}
	if (call_find(s, id_format(r.call_id, id_text))) {
		peer_send(p, msg_reply_error(msg_id(request), WIRE(BAD_REQUEST), "duplicate call id"));
		return;
	}
	if ((long long)call_count(s) >= s->cfg.max_calls) {
		peer_send(p, msg_reply_error(msg_id(request), WIRE(LIMIT),
					     "the callee's gateway is at its call limit"));
		return;
	}
	call = call_new(s, false, r.call_id);
	if (!call) {
		peer_send(p, msg_reply_error(msg_id(request), WIRE(INTERNAL), "out of memory"));
		return;
	}
	call->peer = p;
	call->peer_request = msg_id(request);
	p->call = call;
	/* The caller's gateway, as its certificate names it: whom our link measures go to. */
	snprintf(call->peer_name, sizeof call->peer_name, "%s", p->name);
	if (rc) {
		call_end(call, WIRE(BAD_REQUEST), why);
		return;
	}
	take_request(call, &r);
	if (call->tun && s->unprivileged) {  /* a network call or a trunk */
		call_end(call, WIRE(TUN_UNAVAILABLE), "the callee's gateway runs without root, which "
			 "network calls need");
		return;
	}
	if (r.trunk && r.room[0]) {
		accept_room_leg(s, call, r.room);
		return;
	}
	if (r.trunk) {
		call->trunk = trunk_for_lan(s, call->caller);
		if (!call->trunk) {
			log_warn("call %s: trunk call from LAN %s, which has no [trunk] here",
				 call->id_hex, call->caller);
			call_end(call, WIRE(FORBIDDEN), "no trunk to the calling LAN is configured on "
				 "the callee's gateway");
			return;
		}
		if (request_lan_list(call, call->caller, trunk_caller_reply))
			call_end(call, WIRE(PRINCIPAL_UNREACHABLE),
				 "the callee's gateway cannot reach the directory");
		return;
	}
	/* Who the caller claims to be is checked against who connected. */
	req = pop_lookup_req_encode(0, &(struct pop_lookup_req){call->caller});
	if (principal_request(s, req, caller_check_reply, call))
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE),
			 "the callee's gateway cannot reach the directory");
}
