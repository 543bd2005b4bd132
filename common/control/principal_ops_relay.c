/* The principal's `relay` op (principal_ops.h): a secondary asks for an allocation on
 * the principal's relay for one call, and gets it as a candidate of kind relay. */
#include <string.h>

#include "buf.h"
#include "err.h"
#include "msg.h"
#include "principal_ops.h"
#include "principal_ops_priv.h"
#include "rand.h"

json_t *pop_relay_req_encode(json_int_t id, const struct pop_relay_req *r)
{
	char call[ID_STRLEN];
	json_t *req = msg_request("relay", id);

	if (req && json_object_set_new(req, "call", json_string(id_format(r->call, call)))) {
		json_decref(req);
		return NULL;
	}
	return req;
}

int pop_relay_req_decode(const json_t *msg, struct pop_relay_req *out, char why[POP_WHY_LEN])
{
	const char *call;
	uint64_t id;

	if (msg_get_str(msg, "call", &call))
		return pop_field_fail(why);
	if (id_parse(call, &id) != 0 || id == 0)
		return pop_fail(why, INSEL_E_BAD_FIELD, "call: must be 16 hex digits, not all zero");
	out->call = id;
	return 0;
}

json_t *pop_relay_reply_encode(const struct pop_relay_reply *r)
{
	json_t *cand = candidate_to_json(&r->relay);

	return cand ? json_pack("{s:o}", "relay", cand) : NULL;
}

int pop_relay_reply_decode(const json_t *msg, struct pop_relay_reply *out,
			   char why[POP_WHY_LEN])
{
	struct candidate c;
	json_t *relay;
	int rc;

	if (msg_get_object(msg, "relay", &relay))
		return pop_field_fail(why);
	if ((rc = candidate_from_json(relay, &c, why, POP_WHY_LEN)) != 0)
		return rc;
	if (c.kind != CAND_RELAY) {
		secure_wipe(&c, sizeof c);
		return pop_fail(why, INSEL_E_BAD_FIELD, "relay: must be a candidate of kind relay");
	}
	out->relay = c;
	secure_wipe(&c, sizeof c);
	return 0;
}
