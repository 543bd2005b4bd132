/* API ops for call records: the caller's secondary records a call's start and end, and
 * only for its own LAN's callers (db_call_start checks it). Their wire form is
 * principal_ops_records.c's. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "call_rates.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "principal_ops.h"
#include "wire_errors.h"

void call_start_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct pop_call_start_req req;
	char why[POP_WHY_LEN], *channels_text;
	int rc;

	if ((rc = pop_call_start_req_decode(msg, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	channels_text = req.channels ? json_dumps(req.channels, JSON_COMPACT) : NULL;
	struct db_call_start c = {req.call_id, req.caller, req.caller_lan, req.callee,
				  req.callee_lan, channels_text, p->id.name, req.signalling,
				  req.path, req.path_remote};

	rc = db_call_start(p->srv->db, &c, p->srv->now());
	free(channels_text);
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	log_info("call %s: %s -> %s (recorded by %s)", req.call_id, req.caller, req.callee,
		 p->id.name);
	api_event(p->srv, "call_answered",
		  json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s, s:s?}", "call", req.call_id,
			    "caller", req.caller, "callee", req.callee, "caller_lan",
			    req.caller_lan, "callee_lan", req.callee_lan, "recorded_by",
			    p->id.name, "path", req.path));
	api_reply_ok(p, id, pop_call_reply_encode(req.call_id));
}

static int end_call(struct api_peer *p, const struct pop_call_end_req *req,
		    const char *reason)
{
	char *history = NULL;
	int rc;

	if (!req->path.present)
		return db_call_end(p->srv->db, req->call_id, req->bytes_up, req->bytes_down,
				   reason, p->srv->now());
	json_t *steps = pop_path_history_encode(&req->path);
	struct db_call_path path = {req->path.final, req->path.remote, req->path.changes, NULL};

	history = json_dumps(steps, JSON_COMPACT);
	json_decref(steps);
	path.history = history;
	rc = db_call_end_path(p->srv->db, req->call_id, req->bytes_up, req->bytes_down, reason,
			      &path, p->srv->now());
	free(history);
	return rc;
}

void call_end_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct pop_call_end_req req;
	char reporter[DB_NAME_MAX + 1], why[POP_WHY_LEN];
	const char *reason;
	int rc;

	if ((rc = pop_call_end_req_decode(msg, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	reason = req.reason ? req.reason : WIRE(HANGUP);
	rc = db_call_reporter(p->srv->db, req.call_id, reporter, sizeof reporter);
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	if (strcmp(reporter, p->id.name) != 0) {
		api_reply_error(p, id, INSEL_E_FORBIDDEN, "call %s was recorded by another secondary",
				req.call_id);
		return;
	}
	rc = end_call(p, &req, reason);
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	log_info("call %s ended (%s)", req.call_id, reason);
	api_event(p->srv, "call_ended",
		  json_pack("{s:s, s:s, s:I, s:I, s:s}", "call", req.call_id, "reason", reason,
			    "bytes_up", (json_int_t)req.bytes_up, "bytes_down",
			    (json_int_t)req.bytes_down, "recorded_by", p->id.name));
	if (p->srv->rates)
		call_rates_forget(p->srv->rates, req.call_id);
	relay_call_ended(p->srv, req.call_id);
	api_reply_ok(p, id, pop_call_reply_encode(req.call_id));
}

/* The caller's secondary placed a call, or it ended before it came up: an event only (the
 * call has no record until it is up), from a secondary that serves the caller's LAN. */
void call_event_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct pop_call_event_req req;
	char why[POP_WHY_LEN];
	const char *at, *lan;
	bool refused;
	int rc;

	if ((rc = pop_call_event_req_decode(msg, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	at = strchr(req.caller, '@');
	lan = at ? at + 1 : req.caller;
	if (!db_secondary_serves(p->srv->db, p->id.name, lan)) {
		api_reply_error(p, id, INSEL_E_FORBIDDEN, "secondary %s does not serve LAN %s, "
				"the caller's", p->id.name, lan);
		return;
	}
	refused = strcmp(req.event, "refused") == 0;
	api_event(p->srv, refused ? "call_refused" : "call_placed",
		  refused ? json_pack("{s:s, s:s, s:s, s:s, s:s}", "call", req.call_id,
				      "caller", req.caller, "callee", req.callee, "reason",
				      req.reason, "recorded_by", p->id.name)
			  : json_pack("{s:s, s:s, s:s, s:s}", "call", req.call_id, "caller",
				      req.caller, "callee", req.callee, "recorded_by",
				      p->id.name));
	api_reply_ok(p, id, pop_call_reply_encode(req.call_id));
}
