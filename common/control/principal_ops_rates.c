/* The principal's `call_rates` op (principal_ops.h): the caller's secondary reports the
 * byte counters of its live calls, as their auxiliaries last counted them, so that the
 * principal can show each call's rate (docs/webview.md). At most POP_MAX_CALL_RATES calls
 * per report, every number bounded, so a report is a few kilobytes at most. */
#include <stddef.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "principal_ops.h"
#include "principal_ops_priv.h"

static bool call_id_valid(const char *id)
{
	if (strlen(id) != POP_CALL_ID_LEN)
		return false;
	for (const char *c = id; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return false;
	return true;
}

json_t *pop_call_rates_req_encode(json_int_t id, const struct pop_call_rates_req *r)
{
	json_t *req = msg_request("call_rates", id), *arr = json_array();

	if (!req || !arr)
		goto fail;
	for (size_t i = 0; i < r->ncalls && i < POP_MAX_CALL_RATES; i++) {
		const struct pop_call_count *c = &r->calls[i];

		if (json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I}", "call_id",
							 c->call_id, "bytes_up",
							 (json_int_t)c->bytes_up, "bytes_down",
							 (json_int_t)c->bytes_down, "at_ms",
							 (json_int_t)c->at_ms)))
			goto fail;
	}
	if (json_object_set_new(req, "calls", arr) == 0)
		return req;
	arr = NULL;
fail:
	json_decref(arr);
	json_decref(req);
	return NULL;
}

static int count_from_json(const json_t *j, size_t i, void *item, char why[POP_WHY_LEN])
{
	struct pop_call_count *out = item;
	const char *call_id;
	json_int_t up, down, at;

	if (!json_is_object(j))
		return pop_fail(why, INSEL_E_BAD_FIELD, "calls[%zu]: must be an object", i);
	if (msg_get_str(j, "call_id", &call_id) ||
	    msg_get_int(j, "bytes_up", 0, POP_CALL_BYTES_MAX, &up) ||
	    msg_get_int(j, "bytes_down", 0, POP_CALL_BYTES_MAX, &down) ||
	    msg_get_int(j, "at_ms", 0, POP_CALL_BYTES_MAX, &at))
		return pop_fail(why, INSEL_E_BAD_FIELD, "calls[%zu]: %s", i, msg_field_error());
	if (!call_id_valid(call_id))
		return pop_fail(why, INSEL_E_BAD_FIELD, "calls[%zu]: call_id: must be %d "
				"lowercase hex digits", i, POP_CALL_ID_LEN);
	memcpy(out->call_id, call_id, POP_CALL_ID_LEN + 1);
	out->bytes_up = (uint64_t)up;
	out->bytes_down = (uint64_t)down;
	out->at_ms = (uint64_t)at;
	return 0;
}

int pop_call_rates_req_decode(const json_t *msg, struct pop_call_rates_req *out,
			      char why[POP_WHY_LEN])
{
	return pop_get_unique_entries(msg, "calls", POP_MAX_CALL_RATES, out->calls,
				      sizeof out->calls[0], offsetof(struct pop_call_count, call_id),
				      "call", count_from_json, &out->ncalls, why);
}

json_t *pop_call_rates_reply_encode(const struct pop_call_rates_reply *r)
{
	return json_pack("{s:I}", "calls", (json_int_t)r->taken);
}

int pop_call_rates_reply_decode(const json_t *msg, struct pop_call_rates_reply *out,
				char why[POP_WHY_LEN])
{
	return pop_get_count(msg, "calls", POP_MAX_CALL_RATES, &out->taken, why);
}
