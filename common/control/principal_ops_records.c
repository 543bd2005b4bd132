/* Codecs of the call records (see principal_ops.h): the caller's secondary records each
 * call's start (who, whom, which channels) and end (bytes each way, why it ended). */
#include <string.h>

#include "err.h"
#include "msg.h"
#include "principal_ops_priv.h"

json_t *pop_call_start_req_encode(json_int_t id, const struct pop_call_start_req *r)
{
	json_t *req = msg_request("call_start", id);

	json_object_set_new(req, "call_id", json_string(r->call_id));
	json_object_set_new(req, "caller", json_string(r->caller));
	json_object_set_new(req, "caller_lan", json_string(r->caller_lan));
	json_object_set_new(req, "callee", json_string(r->callee));
	if (r->callee_lan)
		json_object_set_new(req, "callee_lan", json_string(r->callee_lan));
	if (r->channels)
		json_object_set(req, "channels", (json_t *)r->channels);
	if (r->signalling)
		json_object_set_new(req, "signalling", json_string(r->signalling));
	if (r->path)
		json_object_set_new(req, "path", json_string(r->path));
	if (r->path_remote)
		json_object_set_new(req, "path_remote", json_string(r->path_remote));
	return req;
}

int pop_call_start_req_decode(const json_t *msg, struct pop_call_start_req *out,
			      char why[POP_WHY_LEN])
{
	json_t *channels = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = pop_get_text(msg, "call_id", true, &out->call_id, why)) ||
	    (rc = pop_get_text(msg, "caller", true, &out->caller, why)) ||
	    (rc = pop_get_text(msg, "caller_lan", true, &out->caller_lan, why)) ||
	    (rc = pop_get_text(msg, "callee", true, &out->callee, why)) ||
	    (rc = pop_get_text(msg, "callee_lan", false, &out->callee_lan, why)) ||
	    (rc = pop_get_text(msg, "signalling", false, &out->signalling, why)) ||
	    (rc = pop_get_text(msg, "path", false, &out->path, why)) ||
	    (rc = pop_get_text(msg, "path_remote", false, &out->path_remote, why)))
		return rc;
	enum pop_signalling sig;
	struct ip_endpoint remote;

	if (out->path && strcmp(out->path, "direct") != 0 && strcmp(out->path, "relayed") != 0)
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'path' must be \"direct\" or "
				"\"relayed\"");
	if (out->path_remote && ip_endpoint_parse(out->path_remote, &remote))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'path_remote' must be ADDRESS:PORT");

	if (out->signalling && pop_signalling_parse(out->signalling, &sig))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'signalling' must be \"direct\", "
				"\"reversed\" or \"spliced\"");
	if (json_object_get(msg, "channels") &&
	    msg_get_array(msg, "channels", POP_MAX_CALL_CHANNELS, &channels))
		return pop_field_fail(why);
	out->channels = channels;
	return 0;
}

json_t *pop_call_end_req_encode(json_int_t id, const struct pop_call_end_req *r)
{
	json_t *req = msg_request("call_end", id);

	json_object_set_new(req, "call_id", json_string(r->call_id));
	if (r->reason)
		json_object_set_new(req, "reason", json_string(r->reason));
	json_object_set_new(req, "bytes_up", json_integer(r->bytes_up));
	json_object_set_new(req, "bytes_down", json_integer(r->bytes_down));
	return req;
}

int pop_call_end_req_decode(const json_t *msg, struct pop_call_end_req *out,
			    char why[POP_WHY_LEN])
{
	json_int_t up, down;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = pop_get_text(msg, "call_id", true, &out->call_id, why)) ||
	    (rc = pop_get_text(msg, "reason", false, &out->reason, why)))
		return rc;
	if (msg_get_int_opt(msg, "bytes_up", 0, INT64_MAX, 0, &up) ||
	    msg_get_int_opt(msg, "bytes_down", 0, INT64_MAX, 0, &down))
		return pop_field_fail(why);
	out->bytes_up = up;
	out->bytes_down = down;
	return 0;
}

json_t *pop_call_reply_encode(const char *call_id)
{
	return json_pack("{s:s}", "call_id", call_id);
}

int pop_call_reply_decode(const json_t *msg, const char **call_id, char why[POP_WHY_LEN])
{
	return pop_get_text(msg, "call_id", true, call_id, why);
}
