/* Supervision of auxiliaries: one insel-auxiliary process per call, spawned onto fixed
 * descriptors (fd 3 is a socketpair for its control channel; stdin and stdout are
 * /dev/null; stderr is a pipe whose lines we log under the call's id), in a session of
 * its own (no controlling terminal, no signals from ours), told in "bind" which uid of
 * the per-call range to become (uid_pool.c; given back once it is reaped), talked to in
 * framed JSON (docs/auxiliary.md), reaped by libuv, and killed if it will not leave after
 * a hang-up. An auxiliary only ever receives per-call keys; the long-term key is not even
 * in this process (the key holder has it: keyholder_proc.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "leg_handover.h"
#include "log.h"
#include "msg.h"
#include "secondary.h"
#include "timeouts.h"
#include "wan_socket.h"

#define AUX_LOG_LINE_MAX 800  /* longer lines from an auxiliary are cut (our prefix
				* and all fit in one log line) */
#define AUX_LOG_LINES_PER_S 500  /* more in one second are counted, not logged */

extern char **environ;

struct aux_private {
	struct aux pub;
	aux_bound_cb bound;
	uv_timer_t kill_timer;
	uv_pipe_t stderr_pipe;
	/* process, kill timer, stderr, control stream: freed when all are closed */
	int handles_open;
	bool released;
	bool has_uid;
	uint32_t uid;            /* its own, from the pool, until reaped */
	/* A room's one auxiliary (room_process): fd 3 is attach_fd's peer, on which each
	 * leg's sockets are handed over. A leg it carries (hosted) has no process of its
	 * own: its control socket's end is its exit. */
	bool room_process;
	int attach_fd;
	bool hosted;
	char call_hex[ID_STRLEN];  /* for its log lines, which may outlive the call */
	char line[AUX_LOG_LINE_MAX];
	size_t line_len;
	bool line_cut;           /* the rest of an over-long line is being skipped */
	uint64_t lines_window_ms;  /* start of the current second of log lines */
	unsigned lines_in_window, lines_dropped;
	char chunk[512];
};

static void aux_handle_closed(uv_handle_t *h)
{
	struct aux_private *p = h->data;

	if (--p->handles_open == 0)
		free(p);
}

static void close_control(struct aux *a)
{
	if (a->control) {
		msg_stream_close(a->control, 0);
		a->control = NULL;
	}
}

static void process_exited(uv_process_t *proc, int64_t status, int signal)
{
	struct aux_private *p = proc->data;
	struct aux *a = &p->pub;

	a->exited = true;
	a->exit_status = status;
	a->term_signal = signal;
	if (signal || status)
		log_warn("auxiliary %d for call %s exited with status %lld signal %d",
			 (int)proc->pid, a->call ? a->call->id_hex : "(released)",
			 (long long)status, signal);
	else
		log_debug("auxiliary %d exited", (int)proc->pid);
	/* What it wrote before it exited is in the socket already: read it first, so that
	 * its last word ("ended", with why and its final counters) ends the call, not its
	 * exit, whichever of the two the loop would have run first. */
	aux_read_pending(a);
	/* Its interface is gone with it; the rules that pointed there are ours to remove. */
	if (a->source_routed)
		rules_release(a->rule_table);
	/* No process of that uid is left: another call may have it. */
	if (p->has_uid)
		uid_pool_give(&a->sec->aux_uids, p->uid);
	p->has_uid = false;
	uv_timer_stop(&p->kill_timer);
	uv_close((uv_handle_t *)&p->kill_timer, aux_handle_closed);
	uv_close((uv_handle_t *)proc, aux_handle_closed);
	close_control(a);
	if (p->room_process && p->attach_fd >= 0) {
		close(p->attach_fd);
		p->attach_fd = -1;
	}
	if (a->call) {
		struct call *call = a->call;

		a->call = NULL;
		call_event(call, CALL_EV_AUX_EXITED, NULL);
	}
}

static void control_msg(struct msg_stream *m, json_t *msg, int err)
{
	struct aux *a = m->data;
	struct aux_notice notice;
	char why[160];

	if (err) {
		log_warn("unreadable message from an auxiliary: %s", insel_strerror(err));
		return;
	}
	if (rpc_take_reply(&a->rpc, msg))
		return;
	/* A malformed notice still counts: the call ends (with what could be read), or a
	 * key exchange comes early. */
	if (aux_notice_from_json(msg, &notice, why, sizeof why)) {
		log_warn("a malformed notice from an auxiliary: %s", why);
		if (notice.kind == AUX_NOTICE_PATH || notice.kind == AUX_NOTICE_MEASURE)
			return;  /* a path nobody can read brings nothing up, nor measures it */
	}
	if (notice.kind == AUX_NOTICE_PATH && a->call)
		call_event(a->call, CALL_EV_AUX_PATH, &(struct call_event_detail){.notice = &notice});
	else if (notice.kind == AUX_NOTICE_ENDED && a->call)
		call_event(a->call, CALL_EV_AUX_ENDED, &(struct call_event_detail){.notice = &notice});
	else if (notice.kind == AUX_NOTICE_REKEY_DUE && a->call)
		call_event(a->call, CALL_EV_AUX_REKEY_DUE, NULL);
	else if (notice.kind == AUX_NOTICE_MEASURE && a->call)
		links_measured(a->call->sec, a->call->peer_name, &notice.measure);
}

static void control_closed(struct msg_stream *m)
{
	struct aux *a = m->data;

	struct aux_private *p = (struct aux_private *)a;

	if (a->control == m)
		a->control = NULL;
	rpc_fail_all(&a->rpc, INSEL_E_CLOSED);
	/* A leg of a room's auxiliary: the end of its control socket is its exit. */
	if (p->hosted && !a->exited) {
		a->exited = true;
		if (a->call) {
			struct call *call = a->call;

			a->call = NULL;
			call_event(call, CALL_EV_AUX_EXITED, NULL);
		}
	}
	if (--p->handles_open == 0)
		free(p);
}

static int control_send(void *conn, const json_t *msg)
{
	struct aux *a = conn;

	return a->control ? msg_stream_send(a->control, msg) : INSEL_E_CLOSED;
}

static void bound_reply(void *ctx, const json_t *reply, int err)
{
	struct aux_private *p = ctx;

	if (p->pub.call && p->bound)
		p->bound(p->pub.call, reply, err);
}

/* ---- the auxiliary's stderr, logged line by line ---- */

static void report_dropped_lines(struct aux_private *p)
{
	if (p->lines_dropped)
		log_warn("auxiliary of call %s, pid %d: %u log line(s) dropped (more than %d a "
			 "second)", p->call_hex, (int)p->pub.process.pid, p->lines_dropped,
			 AUX_LOG_LINES_PER_S);
	p->lines_dropped = 0;
}

/* A compromised auxiliary must not be able to flood our log: a bounded rate. */
static bool line_allowed(struct aux_private *p)
{
	uint64_t now = uv_now(p->pub.sec->loop);

	if (now - p->lines_window_ms >= 1000) {
		report_dropped_lines(p);
		p->lines_window_ms = now;
		p->lines_in_window = 0;
	}
	if (p->lines_in_window < AUX_LOG_LINES_PER_S) {
		p->lines_in_window++;
		return true;
	}
	p->lines_dropped++;
	return false;
}

/* Its lines carry the syslog priority "<N>" (INSEL_LOG_FORMAT=priority, log.h); anything
 * else it writes (a sanitizer's report, say) is unexpected and logged as a warning. */
static void log_aux_line(struct aux_private *p, char *line)
{
	enum log_level level = LOG_LVL_WARN;

	if (!line_allowed(p))
		return;
	if (line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>') {
		static const enum log_level by_priority[8] = {
			LOG_LVL_ERROR, LOG_LVL_ERROR, LOG_LVL_ERROR, LOG_LVL_ERROR,
			LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_INFO, LOG_LVL_DEBUG};

		level = by_priority[line[1] - '0'];
		line += 3;
	}
	if (level <= log_get_level())
		log_write(level, "auxiliary", "call %s, pid %d: %s", p->call_hex,
			  (int)p->pub.process.pid, line);
}

static void take_stderr_bytes(struct aux_private *p, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n') {
			if (!p->line_cut || p->line_len) {
				p->line[p->line_len] = '\0';
				log_aux_line(p, p->line);
			}
			p->line_len = 0;
			p->line_cut = false;
		} else if (p->line_cut) {
			continue;
		} else if (p->line_len + 4 < sizeof p->line) {
			/* Control characters would forge lines of our own log. */
			p->line[p->line_len++] = (unsigned char)data[i] < 0x20 ? '?' : data[i];
		} else {
			memcpy(p->line + p->line_len, "...", 4);
			log_aux_line(p, p->line);
			p->line_len = 0;
			p->line_cut = true;
		}
	}
}

static void stderr_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct aux_private *p = h->data;

	*buf = uv_buf_init(p->chunk, sizeof p->chunk);
}

static void stderr_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct aux_private *p = st->data;

	if (n > 0) {
		take_stderr_bytes(p, buf->base, (size_t)n);
	} else if (n < 0) {  /* end of file: it has exited, or closed its stderr */
		if (p->line_len)
			take_stderr_bytes(p, "\n", 1);
		report_dropped_lines(p);
		uv_close((uv_handle_t *)st, aux_handle_closed);
	}
}

/* ---- spawning ---- */

/* Ours, with INSEL_LOG_FORMAT=priority so that its log lines carry their level and no
 * timestamp of their own. The array is freed by the caller; its strings are environ's. */
static char **aux_environment(void)
{
	static char format[] = "INSEL_LOG_FORMAT=priority";
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof *env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "INSEL_LOG_FORMAT=", 17) != 0)
			env[k++] = environ[i];
	env[k++] = format;
	env[k] = NULL;
	return env;
}

static int start_process(struct aux_private *p, int child_fd)
{
	struct secondary *s = p->pub.sec;
	char parent[24];
	char *args[7];
	size_t n = 0;
	uv_stdio_container_t stdio[4] = {
		{.flags = UV_IGNORE},
		{.flags = UV_IGNORE},
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
		 .data.stream = (uv_stream_t *)&p->stderr_pipe},
		{.flags = UV_INHERIT_FD, .data.fd = child_fd},
	};
	uv_process_options_t opts = {
		.file = s->cfg.aux_program,
		.args = args,
		.env = aux_environment(),
		.exit_cb = process_exited,
		.flags = UV_PROCESS_DETACHED,  /* setsid(): a session of its own */
		.stdio_count = 4,
		.stdio = stdio,
	};
	int rc;

	/* --parent lets the auxiliary notice our death even if we are pid 1. */
	snprintf(parent, sizeof parent, "%d", (int)getpid());
	args[n++] = (char *)s->cfg.aux_program;
	if (log_get_level() >= LOG_LVL_DEBUG)
		args[n++] = "-v";
	args[n++] = "run";
	if (p->room_process)
		args[n++] = "--room";
	args[n++] = "--parent";
	args[n++] = parent;
	args[n] = NULL;
	p->pub.process.data = p;
	if (!opts.env)
		return UV_ENOMEM;
	rc = uv_spawn(s->loop, &p->pub.process, &opts);
	free(opts.env);
	return rc;
}

/* The bind request, with the uid this auxiliary is to become. */
static json_t *bind_with_identity(struct aux_private *p, const struct aux_bind_request *bind)
{
	struct aux_bind_request req = *bind;

	req.has_uid = p->has_uid;
	req.uid = p->uid;
	return aux_bind_request_to_json(&req);
}

static int take_uid(struct aux_private *p)
{
	struct secondary *s = p->pub.sec;

	if (s->cfg.aux_user || s->cfg.aux_keep_identity)
		return 0;
	if (s->aux_uids.count == 0)
		uid_pool_init(&s->aux_uids, s->cfg.aux_uid_first, s->cfg.aux_uid_last);
	if (uid_pool_take(&s->aux_uids, &p->uid) != 0) {
		log_error("every uid of [auxiliary] uid_range %u-%u is in use: no auxiliary "
			  "for call %s", (unsigned)s->cfg.aux_uid_first,
			  (unsigned)s->cfg.aux_uid_last, p->call_hex);
		return INSEL_E_UNAVAILABLE;
	}
	p->has_uid = true;
	return 0;
}

static void hello_reply(void *ctx, const json_t *reply, int err)
{
	const char *message;

	if (!err && !msg_reply_is_ok(reply, NULL, &message))
		log_warn("the auxiliary refused hello: %s", message);
}

int aux_spawn(struct secondary *s, struct call *call, const struct aux_bind_request *bind,
	      aux_bound_cb cb, struct aux **out)
{
	struct aux_private *p = calloc(1, sizeof *p);
	int sv[2], rc;

	if (!p)
		return -ENOMEM;
	p->pub.sec = s;
	p->pub.call = call;
	p->bound = cb;
	snprintf(p->call_hex, sizeof p->call_hex, "%s", call->id_hex);
	if ((rc = take_uid(p)) != 0) {
		free(p);
		return rc;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		if (p->has_uid)
			uid_pool_give(&s->aux_uids, p->uid);
		free(p);
		return rc;
	}
	uv_pipe_init(s->loop, &p->stderr_pipe, 0);
	p->stderr_pipe.data = p;
	rc = start_process(p, sv[1]);
	close(sv[1]);
	if (rc) {
		log_error("cannot start the auxiliary %s: %s", s->cfg.aux_program, uv_strerror(rc));
		close(sv[0]);
		if (p->has_uid)
			uid_pool_give(&s->aux_uids, p->uid);
		/* uv_spawn failed: the process and pipe handles must be closed. */
		p->handles_open = 2;
		p->pub.process.data = p;
		uv_close((uv_handle_t *)&p->pub.process, aux_handle_closed);
		uv_close((uv_handle_t *)&p->stderr_pipe, aux_handle_closed);
		return rc;
	}
	p->handles_open = 3;
	if (uv_read_start((uv_stream_t *)&p->stderr_pipe, stderr_alloc, stderr_read) != 0)
		uv_close((uv_handle_t *)&p->stderr_pipe, aux_handle_closed);
	uv_timer_init(s->loop, &p->kill_timer);
	p->kill_timer.data = p;
	p->pub.control = msg_stream_open_fd(s->loop, sv[0], MSG_MAX_DEFAULT);
	if (p->pub.control) {
		p->handles_open++;
		p->pub.control->data = &p->pub;
		msg_stream_start(p->pub.control, control_msg, control_closed);
	} else {
		close(sv[0]);
	}
	rpc_init(&p->pub.rpc, s->loop, control_send, &p->pub);
	if (p->has_uid)
		log_debug("auxiliary %d started for call %s as uid %u", (int)p->pub.process.pid,
			  call->id_hex, (unsigned)p->uid);
	else
		log_debug("auxiliary %d started for call %s", (int)p->pub.process.pid,
			  call->id_hex);
	*out = &p->pub;
	/* hello first (the auxiliary refuses anything before it); a refusal shows in the
	 * bind reply, answered after it. */
	rc = rpc_call(&p->pub.rpc, msg_hello(0, "secondary"), AUX_BIND_TIMEOUT_MS, hello_reply,
		      p);
	return rc ? rc : rpc_call(&p->pub.rpc, bind_with_identity(p, bind),
				  AUX_BIND_TIMEOUT_MS, bound_reply, p);
}

int aux_request(struct aux *a, json_t *req, uint32_t timeout_ms, rpc_reply_cb cb, void *ctx)
{
	return rpc_call(&a->rpc, req, timeout_ms, cb, ctx);
}

static void kill_timer_cb(uv_timer_t *t)
{
	struct aux_private *p = t->data;

	if (!p->pub.exited) {
		log_warn("auxiliary %d did not exit after hang-up; killing it",
			 (int)p->pub.process.pid);
		uv_process_kill(&p->pub.process, SIGKILL);
	}
}

void aux_read_pending(struct aux *a)
{
	if (a->control)
		msg_stream_drain(a->control);
}

void aux_release(struct aux *a)
{
	struct aux_private *p = (struct aux_private *)a;

	if (p->released)
		return;
	p->released = true;
	a->call = NULL;
	rpc_forget_ctx(&a->rpc, p);
	/* Closing the control channel is the hang-up an auxiliary cannot miss: it exits on
	 * end of file. The timer makes sure of it. */
	close_control(a);
	if (p->room_process && p->attach_fd >= 0) {  /* its end of file: every leg ends */
		close(p->attach_fd);
		p->attach_fd = -1;
	}
	if (!a->exited && !p->hosted)
		uv_timer_start(&p->kill_timer, kill_timer_cb, AUX_HANGUP_GRACE_MS, 0);
	if (p->room_process && --p->handles_open == 0)
		free(p);
}

/* ---- a room's one auxiliary (auxiliary/room_host.c, docs/rooms.md) ---- */

struct aux *aux_room_spawn(struct secondary *s, const char *room)
{
	struct aux_private *p = calloc(1, sizeof *p);
	int sv[2], rc;

	if (!p)
		return NULL;
	p->pub.sec = s;
	p->room_process = true;
	p->attach_fd = -1;
	snprintf(p->call_hex, sizeof p->call_hex, "room %s", room);
	if (take_uid(p) != 0) {
		free(p);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		if (p->has_uid)
			uid_pool_give(&s->aux_uids, p->uid);
		free(p);
		return NULL;
	}
	uv_pipe_init(s->loop, &p->stderr_pipe, 0);
	p->stderr_pipe.data = p;
	rc = start_process(p, sv[1]);
	close(sv[1]);
	if (rc) {
		log_error("cannot start the room's auxiliary %s: %s", s->cfg.aux_program,
			  uv_strerror(rc));
		close(sv[0]);
		if (p->has_uid)
			uid_pool_give(&s->aux_uids, p->uid);
		p->handles_open = 2;
		uv_close((uv_handle_t *)&p->pub.process, aux_handle_closed);
		uv_close((uv_handle_t *)&p->stderr_pipe, aux_handle_closed);
		return NULL;
	}
	p->attach_fd = sv[0];
	/* process, kill timer, stderr (no control stream), and the room's hold on it,
	 * which aux_release gives up: its exit alone must not free what room_path.c holds */
	p->handles_open = 4;
	if (uv_read_start((uv_stream_t *)&p->stderr_pipe, stderr_alloc, stderr_read) != 0)
		uv_close((uv_handle_t *)&p->stderr_pipe, aux_handle_closed);
	uv_timer_init(s->loop, &p->kill_timer);
	p->kill_timer.data = p;
	rpc_init(&p->pub.rpc, s->loop, control_send, &p->pub);
	log_info("room %s: its auxiliary started, pid %d", room, (int)p->pub.process.pid);
	return &p->pub;
}

bool aux_room_alive(const struct aux *room)
{
	const struct aux_private *p = (const struct aux_private *)room;

	return !room->exited && !p->released && p->attach_fd >= 0;
}

/* Every socket the leg needs, made here as an ordinary call's auxiliary makes them at
 * bind (the room's process, confined, can make none; common/sys/leg_handover.h): the
 * WAN socket, on a dual-stack wan the IPv6 one (on the same port when free there), and
 * the sockets of the relay's TLS-over-TCP fallback. Only the first is a must: without
 * the others the leg lacks that path, as an auxiliary whose own attempt failed. */
static int leg_sockets_make(const struct aux_bind_request *req, struct leg_sockets *out)
{
	int fd;

	leg_sockets_init(out);
	if ((out->wan = wan_socket_bound(SOCK_DGRAM, &req->wan_addr, 0)) < 0)
		return out->wan;
	wan_socket_grow_buffers(out->wan);
	if (req->has_wan_addr6) {
		out->wan6 = wan_socket_bound_near(SOCK_DGRAM, &req->wan_addr6,
						  wan_socket_port(out->wan));
		if (out->wan6 >= 0)
			wan_socket_grow_buffers(out->wan6);
		else
			log_warn("a room's leg: no IPv6 WAN socket: %s", strerror(-out->wan6));
	}
	while (out->ntcp < LEG_HANDOVER_TCP_MAX &&
	       (fd = wan_socket_bound(SOCK_STREAM, &req->wan_addr, 0)) >= 0)
		out->tcp[out->ntcp++] = fd;
	if (out->ntcp < LEG_HANDOVER_TCP_MAX)
		log_warn("a room's leg: %u TCP socket(s) for the relay's fallback, not %u",
			 out->ntcp, LEG_HANDOVER_TCP_MAX);
	return 0;
}

int aux_attach(struct secondary *s, struct aux *room, struct call *call,
	       const struct aux_bind_request *bind, aux_bound_cb cb, struct aux **out)
{
	struct aux_private *r = (struct aux_private *)room, *p;
	struct aux_bind_request req = *bind;
	struct leg_sockets legs;
	int sv[2], rc;

	if (!aux_room_alive(room))
		return INSEL_E_CLOSED;
	if (!(p = calloc(1, sizeof *p)))
		return -ENOMEM;
	rc = leg_sockets_make(bind, &legs);
	if (rc == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		rc = -errno;
	if (rc) {
		leg_sockets_close(&legs);
		free(p);
		return rc;
	}
	legs.ctl = sv[1];
	rc = leg_sockets_send(r->attach_fd, &legs);
	leg_sockets_close(&legs);  /* the room's process has its own copies now */
	if (rc) {
		close(sv[0]);
		free(p);
		return rc;
	}
	p->pub.sec = s;
	p->pub.call = call;
	p->bound = cb;
	p->hosted = true;
	p->attach_fd = -1;
	snprintf(p->call_hex, sizeof p->call_hex, "%s", call->id_hex);
	p->pub.control = msg_stream_open_fd(s->loop, sv[0], MSG_MAX_DEFAULT);
	if (!p->pub.control) {
		close(sv[0]);
		free(p);
		return -ENOMEM;
	}
	p->handles_open = 1;
	p->pub.control->data = &p->pub;
	msg_stream_start(p->pub.control, control_msg, control_closed);
	rpc_init(&p->pub.rpc, s->loop, control_send, &p->pub);
	*out = &p->pub;
	req.has_uid = r->has_uid;  /* the room process's, for its first bind */
	req.uid = r->uid;
	rc = rpc_call(&p->pub.rpc, msg_hello(0, "secondary"), AUX_BIND_TIMEOUT_MS, hello_reply,
		      p);
	return rc ? rc : rpc_call(&p->pub.rpc, aux_bind_request_to_json(&req),
				  AUX_BIND_TIMEOUT_MS, bound_reply, p);
}
