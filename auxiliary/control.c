/* The control socket to the parent (fd 3), as every child of insel has one
 * (child_control.h: the dispatcher, the hello, the replies and the orderly close): here,
 * its table of requests, which says in which states each is allowed, and the stats
 * object. The first request must be "hello" from the parent's role ("secondary"). bind,
 * start and rekey live in ctl_bind.c, ctl_start.c and ctl_rekey.c; stats and hangup are
 * small enough to live here. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/sock_diag.h>

#include "auxiliary.h"
#include "cmd.h"
#include "dispatch.h"
#include "err.h"
#include "log.h"
#include "wire_errors.h"

static void hello_handle(void *ctx, json_int_t id, const json_t *msg);
static void stats_handle(void *ctx, json_int_t id, const json_t *msg);
static void hangup_handle(void *ctx, json_int_t id, const json_t *msg);
static void room_members_handle(void *ctx, json_int_t id, const json_t *msg);

#define BY_PARENT CHILD_CONTROL_PARENT

static const struct dispatch_op control_ops[] = {
	{"hello", hello_handle, BY_PARENT, AUX_NEW},
	{"bind", bind_handle, BY_PARENT, AUX_NEW},
	{"start", start_handle, BY_PARENT, AUX_BOUND},
	{"rekey", rekey_handle, BY_PARENT, AUX_RUNNING},
	{"stats", stats_handle, BY_PARENT, AUX_ANY_LIVE},
	{"hangup", hangup_handle, BY_PARENT, AUX_ANY_LIVE},
	{"room_members", room_members_handle, BY_PARENT, AUX_BOUND | AUX_RUNNING},
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
	child_control_send(&br->ctl, reply);
}

void control_reply_error(struct bridge *br, json_int_t id, int err, const char *code,
			 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	child_control_vrefuse(&br->ctl, id, err, code, fmt, ap);
	va_end(ap);
}

/* ---- the stats object ---- */

/* What the kernel dropped on a socket because its receive buffer was full (SO_MEMINFO):
 * datagrams sent faster than the auxiliary reads them, which it never sees. */
static uint64_t socket_drops(const uv_udp_t *sock)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof mem;
	uv_os_fd_t fd;

	if (uv_fileno((const uv_handle_t *)sock, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 ||
	    len <= SK_MEMINFO_DROPS * sizeof mem[0])
		return 0;
	return mem[SK_MEMINFO_DROPS];
}

static json_t *lan_json(const struct aux_lan *l)
{
	char from[IP_STRLEN];
	uint64_t dropped = l->drop_recv_error + l->drop_not_sealed + l->drop_no_destination +
			   l->drop_send_failed + l->drop_send_queue_full;
	json_t *drops = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
				  "socket_buffer_full",
				  (json_int_t)(l->udp_open ? socket_drops(&l->udp) : 0),
				  "recv_error", (json_int_t)l->drop_recv_error,
				  "not_sealed", (json_int_t)l->drop_not_sealed,
				  "no_destination", (json_int_t)l->drop_no_destination,
				  "send_failed", (json_int_t)l->drop_send_failed,
				  "send_queue_full", (json_int_t)l->drop_send_queue_full);

	return json_pack("{s:i, s:s?, s:I, s:I, s:I, s:I, s:o?, s:o?}",
			 "lan_port", (int)l->port,
			 "from", l->has_from ? ip_endpoint_format(&l->from, from, sizeof from) : NULL,
			 "datagrams_in", (json_int_t)l->datagrams_in,
			 "datagrams_out", (json_int_t)l->datagrams_out,
			 "dropped", (json_int_t)dropped,
			 "foreign_lan_sender", (json_int_t)l->foreign_lan_sender,
			 "drops", drops,
			 "stream", stream_stats_json(l));
}

/* Frames the peer sealed for any of the call's channels that never arrived (each
 * channel counts its own, channel.h frames_lost). */
static uint64_t frames_lost(const struct bridge *br)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < br->n_lan; i++)
		if (br->lan[i].ch)
			n += channel_stats(br->lan[i].ch)->frames_lost;
	return n;
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
				  json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
					    "lost_in_transit", (json_int_t)frames_lost(br),
					    "unknown_session", (json_int_t)br->wan_unknown_session,
					    "truncated", (json_int_t)br->wan_truncated,
					    "errors", (json_int_t)br->wan_errors,
					    "send_queue_full", (json_int_t)br->send_queue_full,
					    "socket_buffer_full", (json_int_t)(
						    (br->wan_open ? socket_drops(&br->wan) : 0) +
						    (br->wan6_open ? socket_drops(&br->wan6) : 0))));
	rc |= json_object_set_new(obj, "stun", discover_stats_json(br));
	return rc ? -ENOMEM : 0;
}

static json_t *reply_with_stats(struct bridge *br, json_int_t id)
{
	json_t *reply = msg_reply_ok(id);

	tun_queue_count(br);

	if (reply && bridge_stats_into(br, reply) != 0) {
		json_decref(reply);
		return NULL;
	}
	return reply;
}

static void hello_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct bridge *br = ctx;

	child_control_hello(&br->ctl, id, msg);
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

/* A room leg's members changed: its tables are swapped in place (tun_setup.c). */
static void room_members_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct bridge *br = ctx;
	struct aux_bind_tun req;
	char why[160];

	if (aux_room_members_from_json(msg, &req, why, sizeof why) != 0) {
		control_reply_error(br, id, 0, WIRE(BAD_FIELD), "%s", why);
		return;
	}
	if (tun_room_members(br, &req, why, sizeof why) != 0) {
		control_reply_error(br, id, 0, WIRE(BAD_STATE), "%s", why);
		return;
	}
	log_info("room leg %s: now %zu local and %zu remote member(s)", br->tun.name,
		 req.nlocal, req.nremote);
	control_reply(br, msg_reply_ok(id));
}

/* ---- the control socket ---- */

static void refuse(void *ctx, json_int_t id, enum wire_error code, const char *message)
{
	struct bridge *br = ctx;

	child_control_refuse(&br->ctl, id, 0, wire_error_name(code), "%s", message);
}

static unsigned current_state(const void *owner)
{
	return ((const struct bridge *)owner)->state;
}

static const char *current_state_name(const void *owner)
{
	return state_name(((const struct bridge *)owner)->state);
}

static bool ending(const void *owner)
{
	return ((const struct bridge *)owner)->state == AUX_ENDING;
}

static void parent_gone(void *owner, int reason)
{
	if (reason == INSEL_E_CLOSED)
		bridge_end(owner, WIRE(HANGUP), "the parent closed the control socket", EXIT_OK,
			   false);
	else
		bridge_end(owner, WIRE(ERROR), insel_strerror(reason), EXIT_FAILURE_GENERIC,
			   false);
}

static const struct child_control_params control_params = {
	.ops = control_ops,
	.n_ops = sizeof control_ops / sizeof control_ops[0],
	.parent_role = "secondary",
	.own_role = "auxiliary",
	.linger_ms = AUX_LINGER_MS,
	.state = current_state,
	.state_name = current_state_name,
	.ending = ending,
	.closed = parent_gone,
	.refuse = refuse,
	.log_codes = true,
};

int control_init(struct bridge *br)
{
	return child_control_init(&br->ctl, br->loop, &control_params, br);
}

int control_start(struct bridge *br, int fd)
{
	return child_control_start(&br->ctl, fd);
}

void control_finish(struct bridge *br)
{
	child_control_finish(&br->ctl);
}
