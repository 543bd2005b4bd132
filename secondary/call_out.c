/* The caller's side of a call (see call.c for the whole state machine): LOOKUP (the
 * principal says where the callee is) -> DIALING (TLS to the callee's secondary, name and
 * fingerprint checked against the directory; when it cannot be dialled, the principal
 * has it dial us back or both dial its splice, docs/nat.md) -> BINDING (our auxiliary
 * binds) -> RINGING (call_request with our offer waits for the callee) -> CONNECTING
 * (keys derived, the auxiliary started and probing) -> UP (a probe answered, the client
 * told). Trunks are placed here too, without a client. */
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
#include "preamble.h"
#include "timeouts.h"
#include "tls.h"
#include "wire_errors.h"


/* ---- caller side ---- */

void caller_up(struct call *call)
{
	struct client_call c;

	log_info("call %s from %s to %s is up (%s)", call->id_hex, call->caller, call->callee,
		 sec_cipher_name(call->cipher));
	if (call->client) {
		call_describe(call, &c);
		client_send(call->client, client_call_reply_encode(call->client_request, &c));
		call->client_request = -1;
	}
	if (call->trunk)
		trunk_call_up(call->trunk, call);
	if (call->room_leg)
		room_leg_call_up(call->room_leg, call);
	record_start(call);
}

static void call_request_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	struct sec_channel_params params[SEC_MAX_CHANNELS];
	struct peer_call_answer answer;
	const char *code, *message, *bad;
	char why[256];
	int rc;

	if (err) {
		call_end(call, err == INSEL_E_TIMEOUT ? WIRE(NO_ANSWER) : WIRE(PEER_DOWN),
			 insel_strerror(err));
		return;
	}
	if (!msg_reply_is_ok(reply, &code, &message)) {
		call_end(call, code, message);
		return;
	}
	if (peer_call_answer_decode(reply, &answer, &bad)) {
		call_end(call, WIRE(NO_COMMON), bad);
		return;
	}
	if (call->tun) {
		call->has_remote_gateway = answer.has_callee_gateway;
		call->remote_gateway = answer.callee_gateway;
		call->has_remote_gateway6 = answer.has_callee_gateway6;
		call->remote_gateway6 = answer.callee_gateway6;
		if (!gateways_within(call, call->peer_prefixes, call->npeer_prefixes)) {
			log_warn("call %s: the callee's gateway names a LAN address outside LAN "
				 "%s's prefixes", call->id_hex, call->callee_lan);
			call_end(call, WIRE(GATEWAY_OUTSIDE_LAN), "the callee's gateway gave a LAN "
				 "address outside its LAN's prefixes in the directory");
			return;
		}
	}
	if ((rc = negotiation_finish(call, answer.answer, params, why, sizeof why)) != 0) {
		call_end(call, rc == INSEL_E_VERSION ? WIRE(RELIABLE_UNSUPPORTED) : WIRE(NO_COMMON),
			 why);
		return;
	}
	start_relay(call, params, NULL);
	for (size_t i = 0; i < call->nchannels; i++)
		chanparams_wipe(&params[i]);
}

/* What the callee's secondary is asked: our side of the call, and for a network call
 * what may cross and our gateway's LAN addresses. */
static const struct peer_call_request *call_request_of(const struct call *call,
						       struct peer_call_request *r)
{
	const struct secondary_config *cfg = &call->sec->cfg;

	memset(r, 0, sizeof *r);
	r->call_id = call->id;
	snprintf(r->caller, sizeof r->caller, "%s", call->caller);
	snprintf(r->callee, sizeof r->callee, "%s", call->callee);
	snprintf(r->callee_user, sizeof r->callee_user, "%s", call->callee_user);
	r->has_callee_addr = call->has_callee_addr;
	r->callee_addr = call->callee_addr;
	call_channel_list(call, &r->channels);
	r->offer = call->offer;
	if (!call->tun)
		return r;
	r->trunk = call->trunk != NULL || call->room_leg != NULL;
	if (call->room_leg)
		snprintf(r->room, sizeof r->room, "%s", call->room_leg->room);
	memcpy(r->tun_caller, call->tun_local, call->ntun_local * sizeof call->tun_local[0]);
	r->ntun_caller = call->ntun_local;
	memcpy(r->tun_callee, call->tun_remote, call->ntun_remote * sizeof call->tun_remote[0]);
	r->ntun_callee = call->ntun_remote;
	r->has_caller_gateway = true;
	r->caller_gateway = cfg->lan_address;
	r->has_caller_gateway6 = cfg->has_lan_address6;
	r->caller_gateway6 = cfg->lan_address6;
	return r;
}

void caller_send_offer(struct call *call)
{
	struct peer_call_request r;
	json_t *req;

	call->offer = negotiation_offer(call);
	if (!call->offer) {
		call_end(call, WIRE(INTERNAL), "cannot build the offer");
		return;
	}
	req = peer_call_request_encode(call_request_of(call, &r));
	if (call_set_state(call, CALL_RINGING, "call_request sent")) {
		json_decref(req);
		call_end(call, WIRE(INTERNAL), "the call was not binding");
		return;
	}
	if (rpc_call(&call->peer->rpc, req,
		     (uint32_t)(call->sec->cfg.ring_timeout_ms + PEER_REPLY_MARGIN_MS),
		     call_request_reply, call))
		call_end(call, WIRE(PEER_DOWN), "cannot send the call request");
}

static void caller_bound(struct call *call, const json_t *reply, int err)
{
	const char *why = NULL;

	if (take_bound(call, reply, err, &why)) {
		call_end(call, WIRE(AUX_FAILED), why);
		return;
	}
	call_relay_then_offer(call);
}

void caller_peer_ready(struct call *call)
{
	int rc = spawn_aux(call, caller_bound);

	if (rc)
		call_end(call, WIRE(AUX_FAILED), insel_strerror(rc));
}

/* ---- signalling across NAT: the principal connects us (docs/nat.md) ---- */

static void ask_connect(struct call *call, bool splice);

/* Nobody dialled back in time: the splice, where both of us dial out. */
static void reversal_overdue(uv_timer_t *t)
{
	struct call *call = t->data;

	if (!call->awaiting_reversal || call->state != CALL_DIALING)
		return;
	call->awaiting_reversal = false;
	log_info("call %s: secondary %s did not dial back within %d ms; asking for a splice",
		 call->id_hex, call->peer_name, REVERSAL_WAIT_MS);
	ask_connect(call, true);
}

static void dial_splice(struct call *call, const struct pop_connect_reply *r)
{
	char to[IP_STRLEN];
	int rc;

	call->signalling = POP_SIG_SPLICED;
	log_info("call %s: both gateways dial the principal's splice at %s", call->id_hex,
		 ip_endpoint_format(&r->splice, to, sizeof to));
	rc = peer_connect_spliced(call->sec, call, &r->splice, call->reverse_token,
				  call->peer_name, call->peer_fingerprint, &call->peer);
	if (rc)
		call_end(call, WIRE(PEER_DOWN), insel_strerror(rc));
	else
		peer_also_accept(call->peer, call->peer_previous);
}

static void connect_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	struct pop_connect_reply r;
	const char *code, *message;
	char why[POP_WHY_LEN], to[IP_STRLEN];

	if (call->state != CALL_DIALING)
		return;
	if (err || !msg_reply_is_ok(reply, &code, &message) ||
	    pop_connect_reply_decode(reply, &r, why)) {
		call_end(call, WIRE(PEER_DOWN), "the callee's gateway cannot be dialled, and the "
			 "principal could not connect us");
		return;
	}
	if (r.mode == POP_SIG_SPLICED) {
		call->awaiting_reversal = false;
		uv_timer_stop(&call->timer);
		dial_splice(call, &r);
		return;
	}
	if (call->awaiting_reversal && r.has_to)
		log_info("call %s: waiting for secondary %s to dial back at %s (%s)",
			 call->id_hex, call->peer_name, ip_endpoint_format(&r.to, to, sizeof to),
			 r.to.addr.family == AF_INET6 ? "IPv6" : "IPv4");
	else if (call->awaiting_reversal)
		log_info("call %s: waiting for secondary %s to dial back", call->id_hex,
			 call->peer_name);
}

/* The token is ours to draw: the callee may dial back before the principal's reply
 * reaches us, and its preamble must find the call waiting already. */
static void ask_connect(struct call *call, bool splice)
{
	struct pop_connect_req r = {call->id, call->callee_lan, splice, {0}};

	rand_key(call->reverse_token, sizeof call->reverse_token);
	memcpy(r.token, call->reverse_token, sizeof r.token);
	call->asked_splice = call->asked_splice || splice;
	call->signalling = splice ? POP_SIG_SPLICED : POP_SIG_REVERSED;
	call->awaiting_reversal = !splice;
	if (!splice)
		uv_timer_start(&call->timer, reversal_overdue, REVERSAL_WAIT_MS, 0);
	if (principal_request(call->sec, pop_connect_req_encode(0, &r), connect_reply, call))
		call_end(call, WIRE(PEER_DOWN), "the callee's gateway cannot be dialled, and the "
			 "principal cannot be reached to connect us");
}

/* Errors that say the dial did not get through (a NAT, a firewall, no route), as
 * opposed to a peer that answered and was refused (its certificate, say). */
static bool not_dialled(int status)
{
	return status != INSEL_E_VERIFY && status != INSEL_E_REFUSED &&
	       status != INSEL_E_PROTOCOL && status != INSEL_E_LIMIT;
}

bool call_dial_failed(struct call *call, int status, const char *message)
{
	bool splice = call->signalling == POP_SIG_REVERSED;

	if (!call->outgoing || call->state != CALL_DIALING || !not_dialled(status) ||
	    call->signalling == POP_SIG_SPLICED || (splice && call->asked_splice) ||
	    !principal_link_up(&call->sec->principal))
		return false;
	log_info("call %s: cannot reach secondary %s %s (%s); asking the principal to connect "
		 "us", call->id_hex, call->peer_name, splice ? "dialling back" : "directly",
		 message && message[0] ? message : insel_strerror(status));
	ask_connect(call, splice);
	return true;
}

struct call *call_awaiting_reversal(struct secondary *s, uint64_t id,
				    const uint8_t token[POP_TOKEN_LEN])
{
	for (struct call *call = s->calls; call; call = call->next)
		if (call->id == id && call->outgoing && call->awaiting_reversal &&
		    call->state == CALL_DIALING && !call->peer &&
		    preamble_token_equal(call->reverse_token, token))
			return call;
	return NULL;
}

/* TLS to the peer secondary the directory named (call->peer_*); when the directory says
 * it cannot be dialled, the principal connects us instead. */
static void dial(struct call *call)
{
	int rc;

	if ((rc = call_set_state(call, CALL_DIALING, "dialling the callee's gateway"))) {
		call_end(call, WIRE(INTERNAL), "the call was not looking its callee up");
		return;
	}
	if (call->peer_reachable == POP_REACH_NO) {
		log_info("call %s: secondary %s cannot be dialled (behind NAT); asking the principal "
			 "to connect us", call->id_hex, call->peer_name);
		ask_connect(call, false);
		return;
	}
	call->signalling = POP_SIG_DIRECT;
	rc = peer_connect(call->sec, call, &call->peer_endpoint, call->peer_name,
			  call->peer_fingerprint, &call->peer);
	if (rc && !call_dial_failed(call, rc, NULL))
		call_end(call, WIRE(PEER_DOWN), insel_strerror(rc));
	else if (!rc)
		peer_also_accept(call->peer, call->peer_previous);
}

/* A network call: the callee LAN's prefixes, which must hold its gateway's addresses. */
static void callee_lan_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	struct pop_lan_entry entry;

	if (err || !msg_reply_is_ok(reply, NULL, NULL)) {
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE), "cannot read the callee's LAN from the "
			 "directory");
		return;
	}
	call->npeer_prefixes = directory_lan(reply, call->callee_lan, &entry) == 0
			       ? directory_prefixes(&entry, call->peer_prefixes,
						    SECONDARY_MAX_PREFIXES) : 0;
	dial(call);
}


static const struct secondary_config *cfg_of(const struct call *call)
{
	return &call->sec->cfg;
}

static bool wan_ipv4(const struct secondary_config *c)
{
	return c->wan_address.family == AF_INET;
}

static bool wan_ipv6(const struct secondary_config *c)
{
	return c->wan_address.family == AF_INET6 || c->has_wan_address6;
}

/* The principal's answer to "where is the callee?". */
static void lookup_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	struct pop_lookup_reply found;
	const struct pop_serving *serving = &found.serving;
	const char *code, *message, *state;
	char why[POP_WHY_LEN];
	struct ip_endpoint endpoint;

	if (err) {
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE), insel_strerror(err));
		return;
	}
	if (!msg_reply_is_ok(reply, &code, &message)) {
		if (wire_error_is(code, WERR_NOT_FOUND))
			call_end(call, WIRE(UNKNOWN_CALLEE), message);
		else if (wire_error_is(code, WERR_UNAVAILABLE))
			call_end(call, WIRE(PEER_DOWN), message);
		else
			call_end(call, code, message);
		return;
	}
	if (pop_lookup_reply_decode(reply, &found, why) || !serving->secondary[0] ||
	    !serving->fingerprint[0] || ip_endpoint_parse(serving->endpoint, &endpoint)) {
		call_end(call, WIRE(INTERNAL), "the directory's answer is malformed");
		return;
	}
	/* Its IPv6 one (a dual-stack callee's endpoint6) when our wan has IPv6 and not the
	 * endpoint's family, or when only the IPv6 one can be dialled (docs/nat.md). */
	pop_serving_choose_endpoint(serving, wan_ipv4(cfg_of(call)), wan_ipv6(cfg_of(call)),
				    &endpoint);
	state = serving->state[0] ? serving->state : "up";
	snprintf(call->callee_lan, sizeof call->callee_lan, "%s", found.lan);
	if (strcmp(found.lan, call->sec->cfg.lan) == 0) {
		call_end(call, WIRE(SAME_LAN), "the callee is on this LAN: no call needed");
		return;
	}
	if (strcmp(state, "up") != 0) {
		call_end(call, WIRE(PEER_DOWN), "the callee's gateway is not reachable");
		return;
	}
	if (found.user[0])
		snprintf(call->callee_user, sizeof call->callee_user, "%s", found.user);
	if (found.has_address) {
		call->callee_addr = found.address;
		call->has_callee_addr = true;
	}
	if (call->tun) {
		if (!call->has_callee_addr) {
			call_end(call, WIRE(BAD_REQUEST), "a network call (--tun) needs the callee's "
				 "host name or IP address, not a user name");
			return;
		}
		/* The caller's address is the one its gateway sees: of the same family. */
		if (call->callee_addr.family != call->caller_addr.family) {
			call_end(call, WIRE(BAD_REQUEST), call->callee_addr.family == AF_INET6
				 ? "a network call to an IPv6 address must be placed over IPv6 "
				   "(connect to the gateway's IPv6 address)"
				 : "a network call to an IPv4 address must be placed over IPv4 "
				   "(connect to the gateway's IPv4 address)");
			return;
		}
		host_prefix(&call->callee_addr, &call->tun_remote[0]);
		call->ntun_remote = 1;
		/* A LAN reached through its mapped prefix: our LAN sees the callee there. */
		call->has_tun_map = found.mapped_prefix[0] && call->callee_addr.family == AF_INET &&
				    ip_prefix_parse(found.prefix, true, &call->tun_map_real) == 0 &&
				    ip_prefix_parse(found.mapped_prefix, true,
						    &call->tun_map_as) == 0 &&
				    call->tun_map_real.len == call->tun_map_as.len;
	}
	call->peer_endpoint = endpoint;
	call->peer_reachable = pop_serving_reach_of(serving, &endpoint);
	snprintf(call->peer_name, sizeof call->peer_name, "%s", serving->secondary);
	snprintf(call->peer_fingerprint, sizeof call->peer_fingerprint, "%s",
		 serving->fingerprint);
	snprintf(call->peer_previous, sizeof call->peer_previous, "%s",
		 serving->previous_fingerprint);
	if (!call->tun)
		dial(call);
	else if (request_lan_list(call, call->callee_lan, callee_lan_reply))
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE), "the directory cannot be reached");
}

void call_place(struct secondary *s, struct client_conn *c, json_int_t request_id,
		const struct client_call_request *r)
{
	const char *callee = r->callee;
	struct call *call;
	const char *why = NULL;
	json_t *req;

	/* A standby gateway (docs/standby.md) serves nobody until it holds the LAN address. */
	if (!secondary_is_active(s)) {
		client_send(c, msg_reply_error(request_id, WIRE(UNAVAILABLE),
					       "this gateway is its LAN's standby; call through "
					       "the active one, at the LAN address"));
		return;
	}
	if ((long long)call_count(s) >= s->cfg.max_calls) {
		client_send(c, msg_reply_error(request_id, WIRE(LIMIT),
					       "this gateway carries at most %lld calls",
					       s->cfg.max_calls));
		return;
	}
	if (strlen(callee) == 0 || strlen(callee) >= CALL_PARTY_MAX) {
		client_send(c, msg_reply_error(request_id, WIRE(UNKNOWN_CALLEE), "no such callee"));
		return;
	}
	call = call_new(s, true, 0);
	if (!call) {
		client_send(c, msg_reply_error(request_id, WIRE(INTERNAL), "out of memory"));
		return;
	}
	call_set_channels(call, &r->channels);
	if (!call->tun && c->addr.family != s->cfg.lan_address.family)
		why = s->cfg.lan_address.family == AF_INET
		      ? "UDP calls are placed over IPv4: connect to the gateway's IPv4 address"
		      : "UDP calls are placed over IPv6: connect to the gateway's IPv6 address";
	if (why) {
		client_send(c, msg_reply_error(request_id, WIRE(BAD_REQUEST), "%s", why));
		unlink_call(call);
		call_set_state(call, CALL_ENDED, WIRE(BAD_REQUEST));
		call_free(call);
		return;
	}
	call->client = c;
	call->client_request = request_id;
	call->caller_addr = c->addr;
	call->party_addr = c->addr;
	snprintf(call->party_user, sizeof call->party_user, "%s", c->user);
	snprintf(call->caller, sizeof call->caller, "%s@%s", c->user, s->cfg.lan);
	snprintf(call->callee, sizeof call->callee, "%s", callee);
	for (size_t i = 0; i < call->nchannels && !call->tun; i++) {
		call->channels[i].deliver.addr = c->addr;
		call->channels[i].deliver.port = call->channels[i].port;
	}
	if (call->tun) {
		host_prefix(&c->addr, &call->tun_local[0]);
		call->ntun_local = 1;
	}
	log_info("call %s: %s calls %s%s", call->id_hex, call->caller, callee,
		 call->tun ? " (network call)" : "");
	record_event(call, "placed", NULL);
	if (call->tun && s->unprivileged) {
		call_end(call, WIRE(TUN_UNAVAILABLE), "this gateway runs without root, which network "
			 "calls need");
		return;
	}
	call_relay_ask(call);  /* in parallel with the look-up and the dial */
	req = pop_lookup_req_encode(0, &(struct pop_lookup_req){callee});
	if (principal_request(s, req, lookup_reply, call))
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE),
			 "the directory cannot be reached, so new calls cannot be placed");
}

/* ---- trunks, caller side (trunk.c decides when) ---- */

static bool family_in(const struct ip_prefix *p, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].addr.family == family)
			return true;
	return false;
}

/* The directory's record of the peer LAN: its secondary and its prefixes. */
static void trunk_lookup_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	const struct trunk_config *cfg = call->trunk->cfg;
	struct ip_prefix dir[SECONDARY_MAX_PREFIXES];
	struct pop_lan_entry entry;
	const char *code, *message;
	size_t ndir;

	if (err || !msg_reply_is_ok(reply, &code, &message)) {
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE),
			 err ? insel_strerror(err) : message);
		return;
	}
	if (directory_lan(reply, cfg->peer_lan, &entry)) {
		call_end(call, WIRE(UNKNOWN_CALLEE), "the directory has no such LAN");
		return;
	}
	if (!pop_serving_reachable_from(&entry.serving, wan_ipv4(cfg_of(call)),
					wan_ipv6(cfg_of(call)), &call->peer_endpoint)) {
		call_end(call, WIRE(PEER_DOWN), "the peer LAN's gateway is not reachable");
		return;
	}
	ndir = directory_prefixes(&entry, dir, SECONDARY_MAX_PREFIXES);
	if (cfg->nremote) {
		if (!prefixes_within(cfg->remote, cfg->nremote, dir, ndir)) {
			call_end(call, WIRE(FORBIDDEN), "the trunk's remote prefixes are not all the "
				 "peer LAN's in the directory");
			return;
		}
		memcpy(call->tun_remote, cfg->remote, sizeof call->tun_remote);
		call->ntun_remote = cfg->nremote;
	} else {
		/* The peer's prefixes of the families we have local prefixes of. */
		call->ntun_remote = 0;
		for (size_t i = 0; i < ndir; i++)
			if (family_in(cfg->local, cfg->nlocal, dir[i].addr.family))
				call->tun_remote[call->ntun_remote++] = dir[i];
		if (call->ntun_remote == 0) {
			call_end(call, WIRE(NO_COMMON), "the peer LAN has no prefix of our LAN's "
				 "address families");
			return;
		}
	}
	if (trunk_map(call, cfg))
		return;
	memcpy(call->peer_prefixes, dir, sizeof call->peer_prefixes);
	call->npeer_prefixes = ndir;
	call->peer_reachable = pop_serving_reach_of(&entry.serving, &call->peer_endpoint);
	snprintf(call->peer_name, sizeof call->peer_name, "%s", entry.serving.secondary);
	snprintf(call->peer_fingerprint, sizeof call->peer_fingerprint, "%s",
		 entry.serving.fingerprint);
	snprintf(call->peer_previous, sizeof call->peer_previous, "%s",
		 entry.serving.previous_fingerprint);
	dial(call);
}

/* ---- rooms' legs, caller side (room_path.c decides when) ---- */

/* The directory's record of the peer LAN: its secondary, and its prefixes, which must
 * hold the gateway address the callee answers with. The room addresses are the
 * principal's word already (its "rooms" notice). */
static void room_lookup_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;
	struct pop_lan_entry entry;
	const char *code, *message;

	if (err || !msg_reply_is_ok(reply, &code, &message)) {
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE), err ? insel_strerror(err) : message);
		return;
	}
	if (directory_lan(reply, call->callee_lan, &entry)) {
		call_end(call, WIRE(UNKNOWN_CALLEE), "the directory has no such LAN");
		return;
	}
	if (!pop_serving_reachable_from(&entry.serving, wan_ipv4(cfg_of(call)),
					wan_ipv6(cfg_of(call)), &call->peer_endpoint)) {
		call_end(call, WIRE(PEER_DOWN), "the peer LAN's gateway is not reachable");
		return;
	}
	call->npeer_prefixes = directory_prefixes(&entry, call->peer_prefixes,
						  SECONDARY_MAX_PREFIXES);
	call->peer_reachable = pop_serving_reach_of(&entry.serving, &call->peer_endpoint);
	snprintf(call->peer_name, sizeof call->peer_name, "%s", entry.serving.secondary);
	snprintf(call->peer_fingerprint, sizeof call->peer_fingerprint, "%s",
		 entry.serving.fingerprint);
	snprintf(call->peer_previous, sizeof call->peer_previous, "%s",
		 entry.serving.previous_fingerprint);
	dial(call);
}

/* A network call the gateway places itself (a trunk, a room's leg) from its LAN to
 * peer_lan, carrying local; NULL past the call limit (*rc INSEL_E_LIMIT) or memory. */
static struct call *gateway_call_new(struct secondary *s, const char *peer_lan,
				     const struct ip_prefix *local, size_t nlocal, int *rc)
{
	struct call *call;

	*rc = INSEL_E_LIMIT;
	if ((long long)call_count(s) >= s->cfg.max_calls)
		return NULL;
	*rc = -ENOMEM;
	if (!(call = call_new(s, true, 0)))
		return NULL;
	call->tun = true;
	call->nchannels = 1;
	call->channels[0].tun = true;
	snprintf(call->caller, sizeof call->caller, "%s", s->cfg.lan);
	snprintf(call->callee, sizeof call->callee, "%s", peer_lan);
	snprintf(call->callee_lan, sizeof call->callee_lan, "%s", peer_lan);
	memcpy(call->tun_local, local, sizeof call->tun_local);
	call->ntun_local = nlocal;
	*rc = 0;
	return call;
}

/* Asks for a relay and for the peer LAN's gateways; the call ends if the directory
 * cannot be asked. */
static void gateway_call_dial(struct call *call, rpc_reply_cb on_lan_list)
{
	call_relay_ask(call);
	if (request_lan_list(call, call->callee_lan, on_lan_list))
		call_end(call, WIRE(PRINCIPAL_UNREACHABLE), "the directory cannot be reached");
}

int call_place_room_leg(struct secondary *s, struct room_leg *leg)
{
	int rc;
	struct call *call = gateway_call_new(s, leg->peer_lan, leg->local, leg->nlocal, &rc);

	if (!call)
		return rc;
	call->room_leg = leg;
	snprintf(call->room, sizeof call->room, "%s", leg->room);
	snprintf(call->room_site, sizeof call->room_site, "%s", leg->peer_lan);
	leg->call = call;
	memcpy(call->tun_remote, leg->remote, sizeof call->tun_remote);
	call->ntun_remote = leg->nremote;
	log_info("call %s: room %s's leg from LAN %s to LAN %s (%zu and %zu members)",
		 call->id_hex, leg->room, s->cfg.lan, leg->peer_lan, leg->nlocal, leg->nremote);
	gateway_call_dial(call, room_lookup_reply);
	return 0;
}

int call_place_trunk(struct secondary *s, struct trunk *t)
{
	int rc;
	struct call *call = gateway_call_new(s, t->cfg->peer_lan, t->cfg->local, t->cfg->nlocal,
					     &rc);

	if (!call)
		return rc;
	call->trunk = t;
	t->call = call;
	log_info("call %s: trunk %s from LAN %s to LAN %s", call->id_hex, t->cfg->name + 6,
		 s->cfg.lan, t->cfg->peer_lan);
	gateway_call_dial(call, trunk_lookup_reply);
	return 0;
}
