/* The relay's control socket (fd 3), as every child of insel has one (child_control.h:
 * the dispatcher, the hello, the replies and the orderly close): here, its table of
 * requests from its principal. hello first ({"version":1, "role":"principal"} ->
 * {"version":1,"role":"relay","port":N}), then allocate, free and stats (codec:
 * common/control/relay_ops.h); the relay tells the principal of each allocation that
 * expired with a notice. The end of the socket is the end of the relay. */
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
#define BY_PRINCIPAL CHILD_CONTROL_PARENT

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
	child_control_send(&r->ctl, msg);
}

static void reply_error(struct relay *r, json_int_t id, int err, const char *text)
{
	child_control_refuse(&r->ctl, id, err, NULL, "%s", text);
}

static int greeted(void *owner, json_t *reply)
{
	struct relay *r = owner;

	r->state = RELAY_SERVING;
	return json_object_set_new(reply, "port", json_integer(r->port)) ? -ENOMEM : 0;
}

static void hello_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct relay *r = ctx;

	child_control_hello(&r->ctl, id, msg);
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
	if (r->ctl.stream && r->state == RELAY_SERVING)
		msg_stream_send_new(r->ctl.stream, relay_expired_to_json(allocation));
}

/* ---- the control socket ---- */

static void refuse(void *ctx, json_int_t id, enum wire_error code, const char *message)
{
	struct relay *r = ctx;

	child_control_refuse(&r->ctl, id, 0, wire_error_name(code), "%s", message);
}

static unsigned current_state(const void *owner)
{
	return ((const struct relay *)owner)->state;
}

static const char *current_state_name(const void *owner)
{
	return state_name(((const struct relay *)owner)->state);
}

static bool ending(const void *owner)
{
	return ((const struct relay *)owner)->state == RELAY_ENDING;
}

static void principal_gone(void *owner, int reason)
{
	if (reason == INSEL_E_CLOSED)
		relay_end(owner, EXIT_OK, "the principal closed the control socket");
	else
		relay_end(owner, EXIT_FAILURE_GENERIC, insel_strerror(reason));
}

static const struct child_control_params control_params = {
	.ops = control_ops,
	.n_ops = sizeof control_ops / sizeof control_ops[0],
	.parent_role = "principal",
	.own_role = "relay",
	.linger_ms = RELAY_LINGER_MS,
	.state = current_state,
	.state_name = current_state_name,
	.ending = ending,
	.closed = principal_gone,
	.greeted = greeted,
	.refuse = refuse,
};

int relay_control_init(struct relay *r)
{
	return child_control_init(&r->ctl, r->loop, &control_params, r);
}

int relay_control_start(struct relay *r, int fd)
{
	return child_control_start(&r->ctl, fd);
}

void relay_control_finish(struct relay *r)
{
	child_control_finish(&r->ctl);
}
