/* The relay's control socket (fd 3): framed JSON from its principal, served by the one
 * dispatcher (dispatch.h) from the table below. hello first ({"version":1,
 * "role":"principal"} -> {"version":1,"role":"relay","port":N}), then allocate, free and
 * stats (codec: common/control/relay_ops.h); the relay tells the principal of each
 * allocation that expired with a notice. The principal is trusted but may be buggy: a
 * malformed or unexpected request gets an error reply and changes nothing. The end of
 * the socket is the end of the relay. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "dispatch.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "relay.h"
#include "relay_ops.h"
#include "wire_errors.h"

static void hello_handle(void *ctx, json_int_t id, const json_t *msg);
static void allocate_handle(void *ctx, json_int_t id, const json_t *msg);
static void free_handle(void *ctx, json_int_t id, const json_t *msg);
static void stats_handle(void *ctx, json_int_t id, const json_t *msg);

/* The parent is the one role here: a principal (it says so in its hello). */
#define BY_PRINCIPAL DISPATCH_ROLE(0)

static const struct dispatch_op control_ops[] = {
	{"hello", hello_handle, BY_PRINCIPAL, RELAY_NEW},
	{"allocate", allocate_handle, BY_PRINCIPAL, RELAY_SERVING},
	{"free", free_handle, BY_PRINCIPAL, RELAY_SERVING},
	{"stats", stats_handle, BY_PRINCIPAL, RELAY_SERVING},
};

static const char *state_name(enum relay_state s)
{
	switch (s) {
	case RELAY_NEW: return "new";
	case RELAY_SERVING: return "serving";
	case RELAY_ENDING: return "ending";
	}
	return "unknown";
}

static void reply(struct relay *r, json_t *msg)
{
	if (!msg) {
		log_error("out of memory building a reply");
		return;
	}
	if (r->control)
		msg_stream_send(r->control, msg);
	json_decref(msg);
}

static void reply_error(struct relay *r, json_int_t id, int err, const char *text)
{
	json_t *msg = msg_reply_error(id < 0 ? 0 : id, wire_error_name(wire_error_of(err)), "%s",
				      text);

	log_warn("request %lld refused: %s", (long long)id, text);
	if (msg && id < 0)
		json_object_set_new(msg, "id", json_null());
	reply(r, msg);
}

static void hello_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct relay *r = ctx;
	json_int_t version;
	const char *role;
	json_t *ok;

	if (msg_get_int(msg, "version", 1, INT32_MAX, &version) != 0) {
		reply_error(r, id, INSEL_E_BAD_FIELD, msg_field_error());
		return;
	}
	if (version != MSG_PROTOCOL_VERSION) {
		reply_error(r, id, INSEL_E_VERSION, "this protocol version is not supported");
		return;
	}
	if (msg_get_str(msg, "role", &role) != 0 || strcmp(role, "principal") != 0) {
		reply_error(r, id, INSEL_E_FORBIDDEN,
			    "only the principal that started this process may drive it");
		return;
	}
	r->hello_done = true;
	r->state = RELAY_SERVING;
	ok = msg_reply_ok(id);
	if (ok && (json_object_set_new(ok, "version", json_integer(MSG_PROTOCOL_VERSION)) ||
		   json_object_set_new(ok, "role", json_string("relay")) ||
		   json_object_set_new(ok, "port", json_integer(r->port)))) {
		json_decref(ok);
		ok = NULL;
	}
	reply(r, ok);
}

static void allocate_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct relay *r = ctx;
	struct relay_allocate a;
	char why[200], hex[ID_STRLEN];
	int rc;

	if ((rc = relay_allocate_from_json(msg, &a, why, sizeof why)) != 0) {
		reply_error(r, id, rc, why);
		return;
	}
	rc = fwd_allocate(&r->table, a.allocation, a.token, a.rate, uv_now(r->loop));
	secure_wipe(&a.token, sizeof a.token);
	id_format(a.allocation, hex);
	if (rc == INSEL_E_EXISTS) {
		reply_error(r, id, rc, "that allocation exists already");
	} else if (rc == INSEL_E_LIMIT) {
		snprintf(why, sizeof why, "the relay holds its maximum of %u allocations",
			 r->table.limits.max_allocations);
		reply_error(r, id, rc, why);
	} else if (rc) {
		reply_error(r, id, rc, insel_strerror(rc));
	} else {
		log_debug("allocation %s made (%zu live)", hex, r->table.count);
		reply(r, msg_reply_ok(id));
	}
}

static void free_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct relay *r = ctx;
	uint64_t allocation;
	char why[200];
	int rc;

	if ((rc = relay_allocation_from_json(msg, &allocation, why, sizeof why)) != 0) {
		reply_error(r, id, rc, why);
		return;
	}
	if (fwd_release(&r->table, allocation) != 0) {
		reply_error(r, id, INSEL_E_NOT_FOUND, "no such allocation");
		return;
	}
	reply(r, msg_reply_ok(id));
}

json_t *relay_stats_json(const struct relay *r)
{
	json_t *reasons = json_object();

	for (int i = 0; i < FWD_REASONS && reasons; i++)
		json_object_set_new(reasons, fwd_reason_name((enum fwd_reason)i),
				    json_integer((json_int_t)r->table.reasons[i]));
	return json_pack("{s:i, s:I, s:I, s:I, s:o*, s:I, s:I, s:I, s:I, s:I, s:o*}",
			 "port", (int)r->port,
			 "allocations", (json_int_t)r->table.count,
			 "max_allocations", (json_int_t)r->table.limits.max_allocations,
			 "expired", (json_int_t)r->table.expired,
			 "datagrams", reasons,
			 "bytes_forwarded", (json_int_t)r->table.bytes_forwarded,
			 "truncated", (json_int_t)r->truncated,
			 "gro_messages", (json_int_t)r->gro_messages,
			 "gso_refused", (json_int_t)r->gso_refused,
			 "errors", (json_int_t)(r->rx_errors + r->tx_errors),
			 "tcp", relay_tcp_stats_json(r));
}

static void stats_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct relay *r = ctx;
	json_t *ok = msg_reply_ok(id), *stats = relay_stats_json(r);

	if (!ok || !stats || json_object_update(ok, stats)) {
		json_decref(ok);
		ok = NULL;
	}
	json_decref(stats);
	reply(r, ok);
}

void relay_control_notify_expired(struct relay *r, uint64_t allocation)
{
	if (r->control && r->state == RELAY_SERVING)
		msg_stream_send_new(r->control, relay_expired_to_json(allocation));
}

/* ---- dispatch ---- */

static void refuse(void *ctx, json_int_t id, enum wire_error code, const char *message)
{
	struct relay *r = ctx;
	json_t *msg = msg_reply_error(id < 0 ? 0 : id, wire_error_name(code), "%s", message);

	log_warn("request %lld refused: %s", (long long)id, message);
	if (msg && id < 0)
		json_object_set_new(msg, "id", json_null());
	reply(r, msg);
}

static const struct dispatch_table control_table = {
	.ops = control_ops,
	.n_ops = sizeof control_ops / sizeof control_ops[0],
	.state_refusal = WERR_BAD_STATE,
	.refuse = refuse,
};

static void on_control_msg(struct msg_stream *s, json_t *msg, int err)
{
	struct relay *r = s->data;
	struct dispatch_caller parent = {
		.role = BY_PRINCIPAL,
		.role_name = "principal",
		.state = r->state,
		.state_name = state_name(r->state),
		.hello_done = r->hello_done,
	};

	if (r->state == RELAY_ENDING)
		return;
	dispatch_message(&control_table, &parent, r, msg, err);
}

static void linger_closed(uv_handle_t *h)
{
	(void)h;
}

static void on_control_close(struct msg_stream *s)
{
	struct relay *r = s->data;
	int reason = s->close_reason;

	r->control = NULL;
	if (!uv_is_closing((uv_handle_t *)&r->linger_timer))
		uv_close((uv_handle_t *)&r->linger_timer, linger_closed);
	if (r->state == RELAY_ENDING)
		return;
	if (reason == INSEL_E_CLOSED)
		relay_end(r, EXIT_OK, "the principal closed the control socket");
	else
		relay_end(r, EXIT_FAILURE_GENERIC, insel_strerror(reason));
}

int relay_control_start(struct relay *r, int fd)
{
	r->control = msg_stream_open_fd(r->loop, fd, MSG_MAX_DEFAULT);
	if (!r->control)
		return -ENOMEM;
	r->control->data = r;
	return msg_stream_start(r->control, on_control_msg, on_control_close);
}

static void on_control_flushed(uv_shutdown_t *req, int status)
{
	struct relay *r = req->data;

	if (r->control)
		msg_stream_close(r->control, 0);
}

static void on_linger_expired(uv_timer_t *t)
{
	struct relay *r = t->data;

	if (r->control)
		msg_stream_close(r->control, INSEL_E_TIMEOUT);
}

void relay_control_finish(struct relay *r)
{
	if (!r->control || r->control->closing) {
		if (!uv_is_closing((uv_handle_t *)&r->linger_timer))
			uv_close((uv_handle_t *)&r->linger_timer, linger_closed);
		return;
	}
	uv_read_stop(&r->control->h.stream);
	r->control_shutdown.data = r;
	if (uv_shutdown(&r->control_shutdown, &r->control->h.stream, on_control_flushed) != 0) {
		msg_stream_close(r->control, 0);
		return;
	}
	uv_timer_start(&r->linger_timer, on_linger_expired, RELAY_LINGER_MS, 0);
}
