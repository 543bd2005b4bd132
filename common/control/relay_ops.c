/* The principal <-> insel-relay control messages (relay_ops.h). */
#include "relay_ops.h"

#include <string.h>

#include "buf.h"
#include "err.h"
#include "hex.h"
#include "msg.h"
#include "rand.h"

static json_t *with_allocation(json_t *msg, uint64_t allocation)
{
	char hex[ID_STRLEN];

	if (msg && json_object_set_new(msg, "allocation", json_string(id_format(allocation, hex)))) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

json_t *relay_allocate_to_json(json_int_t id, const struct relay_allocate *a)
{
	char token[2 * RELAY_OPS_TOKEN_LEN + 1];
	json_t *msg = with_allocation(msg_request("allocate", id), a->allocation);

	hex_encode(a->token, RELAY_OPS_TOKEN_LEN, token);
	if (msg && (json_object_set_new(msg, "token", json_string(token)) ||
		    (a->rate && json_object_set_new(msg, "rate", json_integer((json_int_t)a->rate))))) {
		json_decref(msg);
		msg = NULL;
	}
	secure_wipe(token, sizeof token);
	return msg;
}

json_t *relay_free_to_json(json_int_t id, uint64_t allocation)
{
	return with_allocation(msg_request("free", id), allocation);
}

json_t *relay_expired_to_json(uint64_t allocation)
{
	return with_allocation(json_pack("{s:s}", "op", "expired"), allocation);
}

int relay_allocation_from_json(const json_t *msg, uint64_t *out, char *why, size_t whylen)
{
	const char *hex;
	uint64_t id;

	if (msg_get_str(msg, "allocation", &hex))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	if (id_parse(hex, &id) != 0 || id == 0)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "allocation: must be 16 hex digits, not all zero");
	*out = id;
	return 0;
}

int relay_allocate_from_json(const json_t *msg, struct relay_allocate *out, char *why,
			     size_t whylen)
{
	struct relay_allocate a = {0};
	const char *token;
	json_int_t rate;
	int rc;

	if ((rc = relay_allocation_from_json(msg, &a.allocation, why, whylen)) != 0)
		return rc;
	if (msg_get_str(msg, "token", &token) ||
	    msg_get_int_opt(msg, "rate", 1, (json_int_t)RELAY_OPS_RATE_MAX, 0, &rate))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	if (strlen(token) != 2 * RELAY_OPS_TOKEN_LEN ||
	    hex_decode(token, strlen(token), a.token, RELAY_OPS_TOKEN_LEN) != 0) {
		secure_wipe(&a, sizeof a);
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "token: must be %d hex digits",
			       2 * RELAY_OPS_TOKEN_LEN);
	}
	a.rate = (uint64_t)rate;
	*out = a;
	secure_wipe(&a, sizeof a);
	return 0;
}
