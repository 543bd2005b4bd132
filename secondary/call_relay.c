/* A call's relay (docs/relay.md): the caller's secondary asks the principal for an
 * allocation on its relay as soon as the call is placed, in parallel with the look-up and
 * the dial, and puts the relay candidate it gets into its offer; the callee's takes it
 * from the offer. Both give it to their auxiliary's "start" with their leg (the caller's
 * auxiliary 0, the callee's 1), and each auxiliary registers its leg; the path logic
 * then uses the relay when nothing direct answers. A relay is never required: when the
 * principal has none for us (no_relay), the call is offered without one. An answer still
 * out when our auxiliary has bound holds the offer, for at most RELAY_WAIT_MS: two
 * gateways behind NATs that map every destination apart have no path without it. */
#include <string.h>

#include "buf.h"
#include "call_internal.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "principal_ops.h"
#include "secondary.h"
#include "timeouts.h"

static void take_relay(struct call *call, const json_t *reply, int err)
{
	struct pop_relay_reply r;
	const char *code, *message;
	char why[POP_WHY_LEN], ep[IP_STRLEN];

	if (err || !msg_reply_is_ok(reply, &code, &message)) {
		log_debug("call %s: no relay: %s", call->id_hex,
			  err ? insel_strerror(err) : message);
		return;
	}
	if (pop_relay_reply_decode(reply, &r, why) != 0) {
		log_warn("call %s: the principal's relay answer is malformed: %s", call->id_hex,
			 why);
		return;
	}
	if (call->state != CALL_LOOKUP && call->state != CALL_DIALING &&
	    call->state != CALL_BINDING) {
		log_debug("call %s: the relay came after the offer; offered without it",
			  call->id_hex);
		secure_wipe(&r, sizeof r);
		return;
	}
	call->relay = r.relay;
	call->has_relay = true;
	call->relay_ours = true;
	call->relay_leg = 0;
	secure_wipe(&r, sizeof r);
	log_info("call %s: relay allocation %016llx at %s", call->id_hex,
		 (unsigned long long)call->relay.relay_id,
		 ip_endpoint_format(&call->relay.ep, ep, sizeof ep));
}

/* Sends the offer that waited for the relay, if one did. */
static void release_offer(struct call *call)
{
	if (!call->offer_waits_relay)
		return;
	call->offer_waits_relay = false;
	uv_timer_stop(&call->timer);
	caller_send_offer(call);
}

static void relay_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;

	call->relay_asked = false;
	take_relay(call, reply, err);
	release_offer(call);
}

static void relay_overdue(uv_timer_t *t)
{
	struct call *call = t->data;

	if (!call->offer_waits_relay || call->state != CALL_BINDING)
		return;
	log_info("call %s: the principal gave no relay within %d ms; offered without one",
		 call->id_hex, RELAY_WAIT_MS);
	release_offer(call);
}

void call_relay_then_offer(struct call *call)
{
	if (!call->relay_asked) {
		caller_send_offer(call);
		return;
	}
	log_debug("call %s: bound; the offer waits for the principal's relay", call->id_hex);
	call->offer_waits_relay = true;
	uv_timer_start(&call->timer, relay_overdue, RELAY_WAIT_MS, 0);
}

void call_relay_ask(struct call *call)
{
	/* The callee as named, so that the principal never picks its gateway's relay. */
	json_t *req = pop_relay_req_encode(0, &(struct pop_relay_req){
		call->id, call->callee[0] ? call->callee : NULL});

	if (principal_request(call->sec, req, relay_reply, call) != 0)
		log_debug("call %s: no relay: the principal is not connected", call->id_hex);
	else
		call->relay_asked = true;
}

void call_relay_offer(const struct call *call, struct negotiate_side *side)
{
	if (!call->relay_ours)
		return;
	/* A side with no candidates is read as its endpoint alone: with the relay added,
	 * that host candidate must be said. */
	if (side->ncand == 0)
		side->cand[side->ncand++] = (struct candidate){.kind = CAND_HOST,
							       .ep = side->endpoint};
	if (side->ncand < CAND_MAX)
		side->cand[side->ncand++] = call->relay;
}

void call_relay_take_peer(struct call *call, const struct negotiate_side *peer)
{
	for (size_t i = 0; i < peer->ncand && !call->relay_ours; i++) {
		if (peer->cand[i].kind != CAND_RELAY)
			continue;
		call->relay = peer->cand[i];
		call->has_relay = true;
		call->relay_leg = 1;
		return;
	}
}

void call_relay_start(const struct call *call, struct aux_start_request *req)
{
	req->has_relay = call->has_relay;
	if (!call->has_relay)
		return;
	req->relay = call->relay;
	req->relay_leg = call->relay_leg;
}

void call_relay_forget(struct call *call)
{
	secure_wipe(&call->relay, sizeof call->relay);
	call->has_relay = call->relay_ours = false;
}
