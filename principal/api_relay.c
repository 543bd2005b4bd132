/* The `relay` op (docs/principal-api.md): a secondary setting up a call asks for an
 * allocation on the principal's relay, and gets a candidate of kind relay for its offer.
 * The principal picks the relay (today its own) and has it allocate; a secondary holds at
 * most [relay] per_secondary allocations at once, each gone a minute after its legs
 * stopped registering. */
#include <string.h>

#include "api.h"
#include "buf.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "principal_ops.h"
#include "rand.h"
#include "relay_link.h"
#include "wire_errors.h"

static void refuse(struct api_peer *p, json_int_t id, const char *why)
{
	p->srv->errors++;
	log_info("secondary %s: no relay: %s", p->id.name, why);
	p->send(p, msg_reply_error(id, WIRE(NO_RELAY), "%s", why));
}

void relay_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct pop_relay_req req;
	struct pop_relay_reply reply;
	struct relay_grant grant;
	char why[POP_WHY_LEN], call[ID_STRLEN];
	int rc;

	if ((rc = pop_relay_req_decode(msg, &req, why)) != 0) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	if (!p->srv->relay) {
		refuse(p, id, "this principal runs no relay");
		return;
	}
	rc = relay_link_allocate(p->srv->relay, p->id.name, req.call,
				 p->has_local ? &p->local : NULL, &grant);
	if (rc == INSEL_E_LIMIT) {
		refuse(p, id, "this secondary holds as many relay allocations as it may");
		return;
	}
	if (rc) {
		refuse(p, id, "the relay is not running right now");
		return;
	}
	reply = (struct pop_relay_reply){.relay = {.kind = CAND_RELAY, .ep = grant.ep,
						   .relay_id = grant.allocation,
						   .has_tcp = grant.has_tcp, .tcp = grant.tcp}};
	memcpy(reply.relay.relay_token, grant.token, sizeof reply.relay.relay_token);
	secure_wipe(&grant, sizeof grant);
	log_debug("secondary %s: relay allocation for call %s", p->id.name,
		  id_format(req.call, call));
	api_reply_ok(p, id, pop_relay_reply_encode(&reply));
	secure_wipe(&reply, sizeof reply);
}
