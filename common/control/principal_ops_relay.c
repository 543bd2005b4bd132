/* The principal's `relay` op (principal_ops.h): a secondary asks for an allocation on a
 * relay for one call, and gets it as a candidate of kind relay; and the ops by which the
 * principal drives a relay that a secondary runs. */
#include <string.h>

#include "buf.h"
#include "err.h"
#include "msg.h"
#include "principal_ops.h"
#include "principal_ops_priv.h"
#include "rand.h"
#include "relay_ops.h"

json_t *pop_relay_req_encode(json_int_t id, const struct pop_relay_req *r)
{
	char call[ID_STRLEN];
	json_t *req = msg_request("relay", id);

	if (req && (json_object_set_new(req, "call", json_string(id_format(r->call, call))) ||
		    (r->callee && json_object_set_new(req, "callee", json_string(r->callee))))) {
		json_decref(req);
		return NULL;
	}
	return req;
}

int pop_relay_req_decode(const json_t *msg, struct pop_relay_req *out, char why[POP_WHY_LEN])
{
	const char *call;
	uint64_t id;

	int rc;

	if (msg_get_str(msg, "call", &call))
		return pop_field_fail(why);
	if (id_parse(call, &id) != 0 || id == 0)
		return pop_fail(why, INSEL_E_BAD_FIELD, "call: must be 16 hex digits, not all zero");
	if ((rc = pop_get_text(msg, "callee", false, &out->callee, why)))
		return rc;
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

/* ---- a secondary's relay ---- */

/* The relay's own message with the op renamed for the principal's link. */
static json_t *renamed(json_t *msg, const char *op)
{
	if (msg && json_object_set_new(msg, "op", json_string(op))) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

json_t *pop_relay_allocate_encode(json_int_t id, const struct relay_allocate *a)
{
	return renamed(relay_allocate_to_json(id, a), "relay_allocate");
}

int pop_relay_allocate_decode(const json_t *msg, struct relay_allocate *out,
			      char why[POP_WHY_LEN])
{
	return relay_allocate_from_json(msg, out, why, POP_WHY_LEN);
}

json_t *pop_relay_free_encode(json_int_t id, uint64_t allocation)
{
	return renamed(relay_free_to_json(id, allocation), "relay_free");
}

json_t *pop_relay_expired_encode(json_int_t id, uint64_t allocation)
{
	return renamed(relay_free_to_json(id, allocation), "relay_expired");
}

int pop_relay_allocation_decode(const json_t *msg, uint64_t *out, char why[POP_WHY_LEN])
{
	return relay_allocation_from_json(msg, out, why, POP_WHY_LEN);
}

json_t *pop_relay_stats_encode(json_int_t id)
{
	return msg_request("relay_stats", id);
}

int pop_relay_stats_decode(const json_t *msg, struct pop_relay_stats *out,
			   char why[POP_WHY_LEN])
{
	json_int_t allocations, n;
	json_t *datagrams, *value;
	const char *outcome;
	struct pop_relay_stats st = {0};

	if (msg_get_int(msg, "allocations", 0, INT64_MAX, &allocations) ||
	    msg_get_object(msg, "datagrams", &datagrams))
		return pop_field_fail(why);
	st.allocations = allocations;
	json_object_foreach(datagrams, outcome, value) {
		if (!json_is_integer(value) || (n = json_integer_value(value)) < 0)
			return pop_fail(why, INSEL_E_BAD_FIELD,
					"datagrams: each count must be a whole number >= 0");
		if (strcmp(outcome, "forwarded") == 0)
			st.forwarded = n;
		else if (strcmp(outcome, "registered") != 0 && st.dropped <= INT64_MAX - n)
			st.dropped += n;
	}
	*out = st;
	return 0;
}
