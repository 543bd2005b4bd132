/* The principal's `relay` op (principal_ops.h): a secondary asks for an allocation on
 * the principal's relay for one call, and gets it as a candidate of kind relay. */
#include <string.h>

#include "buf.h"
#include "err.h"
#include "hex.h"
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
	char addr[IP_STRLEN], id[ID_STRLEN], token[2 * POP_RELAY_TOKEN_LEN + 1];
	json_t *reply;

	ip_endpoint_format(&r->addr, addr, sizeof addr);
	hex_encode(r->token, POP_RELAY_TOKEN_LEN, token);
	reply = json_pack("{s:{s:s, s:s, s:s, s:s}}", "relay", "kind", "relay", "addr", addr,
			  "relay_id", id_format(r->relay_id, id), "token", token);
	secure_wipe(token, sizeof token);
	return reply;
}

int pop_relay_reply_decode(const json_t *msg, struct pop_relay_reply *out,
			   char why[POP_WHY_LEN])
{
	struct pop_relay_reply r = {0};
	const char *kind, *addr, *id, *token;
	json_t *relay;

	if (msg_get_object(msg, "relay", &relay) || msg_get_str(relay, "kind", &kind) ||
	    msg_get_str(relay, "addr", &addr) || msg_get_str(relay, "relay_id", &id) ||
	    msg_get_str(relay, "token", &token))
		return pop_field_fail(why);
	if (strcmp(kind, "relay") != 0)
		return pop_fail(why, INSEL_E_BAD_FIELD, "relay.kind: must be relay");
	if (ip_endpoint_parse(addr, &r.addr) != 0 || r.addr.port == 0)
		return pop_fail(why, INSEL_E_BAD_FIELD, "relay.addr: must be ADDRESS:PORT");
	if (id_parse(id, &r.relay_id) != 0 || r.relay_id == 0)
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"relay.relay_id: must be 16 hex digits, not all zero");
	if (strlen(token) != 2 * POP_RELAY_TOKEN_LEN ||
	    hex_decode(token, strlen(token), r.token, POP_RELAY_TOKEN_LEN) != 0) {
		secure_wipe(&r, sizeof r);
		return pop_fail(why, INSEL_E_BAD_FIELD, "relay.token: must be 32 hex digits");
	}
	*out = r;
	secure_wipe(&r, sizeof r);
	return 0;
}
