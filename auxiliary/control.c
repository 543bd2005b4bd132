/* The control socket to the parent (fd 3): framed JSON requests, dispatched by the one
 * dispatcher (dispatch.h) from a table that also says in which states each is allowed;
 * the replies, the stats object, and the orderly close at the end. The first request must be "hello" from the parent's role
 * ("secondary"); anything else before it is refused and changes nothing. The parent is
 * trusted but may be buggy: a malformed or unexpected message gets an error reply and
 * changes nothing. bind, start and rekey live in ctl_bind.c, ctl_start.c and
 * ctl_rekey.c; stats and hangup are small enough to live here. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "auxiliary.h"
#include "cmd.h"
#include "dispatch.h"
#include "err.h"
#include "log.h"
#include "wire_errors.h"

static void hello_handle(void *ctx, json_int_t id, const json_t *msg);
static void stats_handle(void *ctx, json_int_t id, const json_t *msg);
static void hangup_handle(void *ctx, json_int_t id, const json_t *msg);

/* The parent is the one role here: a secondary (it says so in its hello). */
#define BY_PARENT DISPATCH_ROLE(0)

static const struct dispatch_op control_ops[] = {
	{"hello", hello_handle, BY_PARENT, AUX_NEW},
	{"bind", bind_handle, BY_PARENT, AUX_NEW},
	{"start", start_handle, BY_PARENT, AUX_BOUND},
	{"rekey", rekey_handle, BY_PARENT, AUX_RUNNING},
	{"stats", stats_handle, BY_PARENT, AUX_ANY_LIVE},
	{"hangup", hangup_handle, BY_PARENT, AUX_ANY_LIVE},
};

static const char *state_name(enum aux_state s)
{
	switch (s) {
	case AUX_NEW: return "new";
	case AUX_BOUND: return "bound";
	case AUX_RUNNING: return "running";
	case AUX_ENDING: return "ending";
	}
	return "unknown";
}

void control_reply(struct bridge *br, json_t *reply)
{
	if (!reply) {
		log_error("out of memory building a reply");
		return;
	}
	if (br->control)
		msg_stream_send(br->control, reply);
	json_decref(reply);
}

void control_reply_error(struct bridge *br, json_int_t id, int err, const char *code,
			 const char *fmt, ...)
{
	char text[512];
	va_list ap;
	json_t *reply;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (!code)
		code = wire_error_name(wire_error_of(err));
	log_warn("request %lld refused: %s: %s", (long long)id, code, text);
	reply = msg_reply_error(id < 0 ? 0 : id, code, "%s", text);
	/* A message we could not identify is answered with "id":null. */
	if (reply && id < 0)
		json_object_set_new(reply, "id", json_null());
	control_reply(br, reply);
}

/* ---- the stats object ---- */

static json_t *lan_json(const struct aux_lan *l)
{
	char from[IP_STRLEN];

	return json_pack("{s:i, s:s?, s:I, s:I, s:I, s:I}",
			 "lan_port", (int)l->port,
			 "from", l->has_from ? ip_endpoint_format(&l->from, from, sizeof from) : NULL,
			 "datagrams_in", (json_int_t)l->datagrams_in,
			 "datagrams_out", (json_int_t)l->datagrams_out,
			 "dropped", (json_int_t)l->dropped,
			 "foreign_lan_sender", (json_int_t)l->foreign_lan_sender);
}

int bridge_stats_into(const struct bridge *br, json_t *obj)
{
	json_t *channels = json_array(), *lans = json_array();
	int rc = 0;

	for (unsigned i = 0; i < br->n_lan && channels && lans; i++) {
		json_t *st = br->lan[i].ch ? channel_status_json(br->lan[i].ch) : json_null();

		rc |= json_array_append_new(channels, st);
		rc |= json_array_append_new(lans, lan_json(&br->lan[i]));
	}
	if (!channels || !lans || rc) {
		json_decref(channels);
		json_decref(lans);
		return -ENOMEM;
	}
	rc |= json_object_set_new(obj, "state", json_string(state_name(br->state)));
	if (br->wan_open)
		rc |= json_object_set_new(obj, "wan_port", json_integer(br->wan_port));
	if (br->wan6_open)
		rc |= json_object_set_new(obj, "wan_port6", json_integer(br->wan_port6));
	rc |= json_object_set_new(obj, "channels", channels);
	rc |= json_object_set_new(obj, "lan", lans);
	if (br->tun_mode && br->tun.open)
		rc |= json_object_set_new(obj, "tun", tun_stats_json(br));
	if (br->path.phase != PATH_IDLE)
		rc |= json_object_set_new(obj, "path", path_stats_json(br));
	if (br->prime.ttl)
		rc |= json_object_set_new(obj, "prime", prime_stats_json(br));
	if (br->tcp.state != TCP_LEG_OFF || br->tcp.connects)
		rc |= json_object_set_new(obj, "tcp", tcp_leg_stats_json(br));
	if (br->relay_leg.relay.port)
		rc |= json_object_set_new(obj, "relay_leg", relay_leg_stats_json(br));
	if (br->pmtu_on)
		rc |= json_object_set_new(obj, "pmtu", pmtu_stats_json(br));
	rc |= json_object_set_new(obj, "wan",
				  json_pack("{s:I, s:I, s:I}",
					    "unknown_session", (json_int_t)br->wan_unknown_session,
					    "truncated", (json_int_t)br->wan_truncated,
					    "errors", (json_int_t)br->wan_errors));
	rc |= json_object_set_new(obj, "stun", discover_stats_json(br));
	return rc ? -ENOMEM : 0;
}

static json_t *reply_with_stats(const struct bridge *br, json_int_t id)
{
	json_t *reply = msg_reply_ok(id);

	if (reply && bridge_stats_into(br, reply) != 0) {
		json_decref(reply);
		return NULL;
	}
	return reply;
}

static void hello_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct bridge *br = ctx;
	json_int_t version;
	const char *role;
	json_t *reply;

	if (msg_get_int(msg, "version", 1, INT32_MAX, &version) != 0) {
		control_reply_error(br, id, INSEL_E_BAD_FIELD, NULL, "%s", msg_field_error());
		return;
	}
	if (version != MSG_PROTOCOL_VERSION) {
		control_reply_error(br, id, INSEL_E_VERSION, NULL, "version %lld not supported",
				    (long long)version);
		return;
	}
	if (msg_get_str(msg, "role", &role) != 0 || strcmp(role, "secondary") != 0) {
		control_reply_error(br, id, INSEL_E_FORBIDDEN, NULL,
				    "only the secondary that started this process may drive it");
		return;
	}
	br->hello_done = true;
	reply = msg_reply_ok(id);
	if (reply && (json_object_set_new(reply, "version", json_integer(MSG_PROTOCOL_VERSION)) ||
		      json_object_set_new(reply, "role", json_string("auxiliary")))) {
		json_decref(reply);
		reply = NULL;
	}
	control_reply(br, reply);
}

static void stats_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct bridge *br = ctx;

	control_reply(br, reply_with_stats(br, id));
}

static void hangup_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct bridge *br = ctx;

	control_reply(br, reply_with_stats(br, id));
	bridge_end(br, WIRE(HANGUP), "hung up by the parent", EXIT_OK, false);
}

/* ---- dispatch ---- */

static void refuse(void *ctx, json_int_t id, enum wire_error code, const char *message)
{
	control_reply_error(ctx, id, 0, wire_error_name(code), "%s", message);
}

static const struct dispatch_table control_table = {
	.ops = control_ops,
	.n_ops = sizeof control_ops / sizeof control_ops[0],
	.state_refusal = WERR_BAD_STATE,
	.refuse = refuse,
};

static void on_control_msg(struct msg_stream *s, json_t *msg, int err)
{
	struct bridge *br = s->data;

	struct dispatch_caller parent = {
		.role = BY_PARENT,
		.role_name = "secondary",
		.state = br->state,
		.state_name = state_name(br->state),
		.hello_done = br->hello_done,
	};

	if (br->state == AUX_ENDING)
		return;
	dispatch_message(&control_table, &parent, br, msg, err);
}

static void linger_closed(uv_handle_t *h)
{
	(void)h;
}

static void on_control_close(struct msg_stream *s)
{
	struct bridge *br = s->data;
	int reason = s->close_reason;

	br->control = NULL;
	if (!uv_is_closing((uv_handle_t *)&br->linger_timer))
		uv_close((uv_handle_t *)&br->linger_timer, linger_closed);
	if (br->state == AUX_ENDING)
		return;
	if (reason == INSEL_E_CLOSED)
		bridge_end(br, WIRE(HANGUP), "the parent closed the control socket", EXIT_OK, false);
	else
		bridge_end(br, WIRE(ERROR), insel_strerror(reason), EXIT_FAILURE_GENERIC, false);
}

int control_start(struct bridge *br, int fd)
{
	br->control = msg_stream_open_fd(br->loop, fd, MSG_MAX_DEFAULT);
	if (!br->control)
		return -ENOMEM;
	br->control->data = br;
	return msg_stream_start(br->control, on_control_msg, on_control_close);
}

/* ---- the orderly close ---- */

static void on_control_flushed(uv_shutdown_t *req, int status)
{
	struct bridge *br = req->data;

	if (br->control)
		msg_stream_close(br->control, 0);
}

static void on_linger_expired(uv_timer_t *t)
{
	struct bridge *br = t->data;

	log_warn("the parent did not read the last control messages in time");
	if (br->control)
		msg_stream_close(br->control, INSEL_E_TIMEOUT);
}

void control_finish(struct bridge *br)
{
	if (!br->control || br->control->closing) {
		if (!uv_is_closing((uv_handle_t *)&br->linger_timer))
			uv_close((uv_handle_t *)&br->linger_timer, linger_closed);
		return;
	}
	/* Stop reading so that nothing else is dispatched; shut down the write side once
	 * the queued replies are written, so that the parent reads them before EOF. */
	uv_read_stop(&br->control->h.stream);
	br->control_shutdown.data = br;
	if (uv_shutdown(&br->control_shutdown, &br->control->h.stream, on_control_flushed) != 0) {
		msg_stream_close(br->control, 0);
		return;
	}
	uv_timer_start(&br->linger_timer, on_linger_expired, AUX_LINGER_MS, 0);
}
