/* Codecs of the call records (see principal_ops.h): the caller's secondary records each
 * call's start (who, whom, which channels, the data path at up) and end (bytes each way,
 * why it ended, how the data path moved meanwhile). */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "principal_ops_priv.h"

static bool path_kind_valid(const char *kind)
{
	return strcmp(kind, "direct") == 0 || strcmp(kind, "relayed") == 0 ||
	       strcmp(kind, "tcp") == 0;
}

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

	if (out->path && !path_kind_valid(out->path))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'path' must be \"direct\", "
				"\"relayed\" or \"tcp\"");
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

json_t *pop_path_history_encode(const struct pop_path_summary *s)
{
	json_t *history = json_array();

	for (size_t i = 0; i < s->nhistory; i++)
		json_array_append_new(history, json_pack("{s:I, s:s, s:s}",
							 "at", (json_int_t)s->history[i].at,
							 "path", s->history[i].path,
							 "remote", s->history[i].remote));
	return history;
}

static json_t *path_summary_encode(const struct pop_path_summary *s)
{
	return json_pack("{s:s, s:s, s:I, s:o}", "final", s->final, "remote", s->remote,
			 "changes", (json_int_t)s->changes,
			 "history", pop_path_history_encode(s));
}

/* KIND and ADDRESS:PORT of a path, from fields kind_key and remote_key of obj, copied. */
static int get_path_point(const json_t *obj, const char *kind_key, char kind[8],
			  char remote[IP_STRLEN], char why[POP_WHY_LEN])
{
	const char *k, *r;
	struct ip_endpoint ep;
	int rc;

	if ((rc = pop_get_text(obj, kind_key, true, &k, why)) ||
	    (rc = pop_get_text(obj, "remote", true, &r, why)))
		return rc;
	if (!path_kind_valid(k))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field '%s' must be \"direct\", "
				"\"relayed\" or \"tcp\"", kind_key);
	if (ip_endpoint_parse(r, &ep))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'remote' must be ADDRESS:PORT");
	snprintf(kind, 8, "%s", k);
	ip_endpoint_format(&ep, remote, IP_STRLEN);
	return 0;
}

static int path_step_decode(const json_t *j, struct pop_path_step *out,
			    char why[POP_WHY_LEN])
{
	json_int_t at;
	int rc;

	if (!json_is_object(j))
		return pop_fail(why, INSEL_E_BAD_FIELD, "each of 'history' must be an object");
	if (msg_get_int(j, "at", 0, INT64_MAX, &at))
		return pop_field_fail(why);
	if ((rc = get_path_point(j, "path", out->path, out->remote, why)))
		return rc;
	out->at = at;
	return 0;
}

static int path_summary_decode(const json_t *j, struct pop_path_summary *out,
			       char why[POP_WHY_LEN])
{
	json_t *history;
	json_int_t changes;
	int rc;

	if ((rc = get_path_point(j, "final", out->final, out->remote, why)))
		return rc;
	if (msg_get_int(j, "changes", 0, INT64_MAX, &changes) ||
	    msg_get_array(j, "history", POP_PATH_HISTORY_MAX, &history))
		return pop_field_fail(why);
	out->changes = changes;
	out->nhistory = json_array_size(history);
	for (size_t i = 0; i < out->nhistory; i++)
		if ((rc = path_step_decode(json_array_get(history, i), &out->history[i], why)))
			return rc;
	out->present = true;
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
	if (r->path.present)
		json_object_set_new(req, "path", path_summary_encode(&r->path));
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
	if (json_object_get(msg, "path")) {
		json_t *path;

		if (msg_get_object(msg, "path", &path))
			return pop_field_fail(why);
		return path_summary_decode(path, &out->path, why);
	}
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

/* ---- call_event ---- */

static bool hex_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n != 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static bool reason_valid(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > POP_EVENT_REASON_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '_'))
			return false;
	return true;
}

json_t *pop_call_event_req_encode(json_int_t id, const struct pop_call_event_req *r)
{
	json_t *req = msg_request("call_event", id);

	json_object_set_new(req, "event", json_string(r->event));
	json_object_set_new(req, "call_id", json_string(r->call_id));
	json_object_set_new(req, "caller", json_string(r->caller));
	json_object_set_new(req, "callee", json_string(r->callee));
	if (r->reason)
		json_object_set_new(req, "reason", json_string(r->reason));
	return req;
}

int pop_call_event_req_decode(const json_t *msg, struct pop_call_event_req *out,
			      char why[POP_WHY_LEN])
{
	bool refused;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = pop_get_text(msg, "event", true, &out->event, why)) ||
	    (rc = pop_get_text(msg, "call_id", true, &out->call_id, why)) ||
	    (rc = pop_get_text(msg, "caller", true, &out->caller, why)) ||
	    (rc = pop_get_text(msg, "callee", true, &out->callee, why)) ||
	    (rc = pop_get_text(msg, "reason", false, &out->reason, why)))
		return rc;
	refused = strcmp(out->event, "refused") == 0;
	if (!refused && strcmp(out->event, "placed") != 0)
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'event' must be \"placed\" or "
				"\"refused\"");
	if (!hex_id_valid(out->call_id))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'call_id' must be 16 lowercase "
				"hex digits");
	if (refused != (out->reason != NULL))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'reason' goes with \"refused\" "
				"only, and \"refused\" needs it");
	if (out->reason && !reason_valid(out->reason))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'reason' must be a wire code "
				"([a-z0-9_], at most %d)", POP_EVENT_REASON_MAX);
	return 0;
}
