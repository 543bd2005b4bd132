/* API ops for call records: the caller's secondary records a call's start and end, and
 * only for its own LAN's callers (db_call_start checks it). */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "wire_errors.h"

#define API_MAX_CHANNELS 16

/* {"op":"call_start","id":N,"call_id":"16 hex","caller":"alice@lan-a","caller_lan":"lan-a",
 *  "callee":"bob@lan-b","callee_lan":"lan-b","channels":[{...}]} -> {call_id} */
void call_start_handle(struct api_peer *p, json_int_t id, const json_t *msg)
{
	const char *call_id, *caller, *caller_lan, *callee, *callee_lan;
	json_t *channels = NULL;
	char *channels_text;
	int rc;

	if (api_get_text(p, id, msg, "call_id", true, &call_id) ||
	    api_get_text(p, id, msg, "caller", true, &caller) ||
	    api_get_text(p, id, msg, "caller_lan", true, &caller_lan) ||
	    api_get_text(p, id, msg, "callee", true, &callee) ||
	    api_get_text(p, id, msg, "callee_lan", false, &callee_lan))
		return;
	if (json_object_get(msg, "channels") &&
	    msg_get_array(msg, "channels", API_MAX_CHANNELS, &channels)) {
		api_reply_field_error(p, id);
		return;
	}
	channels_text = channels ? json_dumps(channels, JSON_COMPACT) : NULL;
	struct db_call_start c = {call_id, caller, caller_lan, callee, callee_lan,
				  channels_text, p->id.name};

	rc = db_call_start(p->srv->db, &c, p->srv->now());
	free(channels_text);
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	log_info("call %s: %s -> %s (recorded by %s)", call_id, caller, callee, p->id.name);
	api_reply_ok(p, id, json_pack("{s:s}", "call_id", call_id));
}

/* {"op":"call_end","id":N,"call_id":"16 hex","bytes_up":0,"bytes_down":0,
 *  "reason":"hangup"} -> {call_id} */
void call_end_handle(struct api_peer *p, json_int_t id, const json_t *msg)
{
	const char *call_id, *reason;
	char reporter[DB_NAME_MAX + 1];
	json_int_t up, down;
	int rc;

	if (api_get_text(p, id, msg, "call_id", true, &call_id) ||
	    api_get_text(p, id, msg, "reason", false, &reason))
		return;
	if (msg_get_int_opt(msg, "bytes_up", 0, INT64_MAX, 0, &up) ||
	    msg_get_int_opt(msg, "bytes_down", 0, INT64_MAX, 0, &down)) {
		api_reply_field_error(p, id);
		return;
	}
	rc = db_call_reporter(p->srv->db, call_id, reporter, sizeof reporter);
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	if (strcmp(reporter, p->id.name) != 0) {
		api_reply_error(p, id, INSEL_E_FORBIDDEN, "call %s was recorded by another secondary",
				call_id);
		return;
	}
	rc = db_call_end(p->srv->db, call_id, up, down, reason ? reason : WIRE(HANGUP),
			 p->srv->now());
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	log_info("call %s ended (%s)", call_id, reason ? reason : WIRE(HANGUP));
	api_reply_ok(p, id, json_pack("{s:s}", "call_id", call_id));
}
