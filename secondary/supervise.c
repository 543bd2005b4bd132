/* Supervision of auxiliaries: one insel-auxiliary process per call, spawned onto fixed
 * descriptors (fd 3 is a socketpair for its control channel; stdin and stdout are
 * /dev/null, stderr is shared for logs), talked to in framed JSON (docs/auxiliary.md),
 * reaped by libuv, and killed if it will not leave after a hang-up. An auxiliary only ever
 * receives per-call keys; the secondary's long-term key never leaves this process. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "msg.h"
#include "secondary.h"

#define AUX_BIND_TIMEOUT_MS 5000
#define AUX_HANGUP_GRACE_MS 3000

struct aux_private {
	struct aux pub;
	aux_bound_cb bound;
	uv_timer_t kill_timer;
	int handles_open;  /* process, kill timer, control stream: freed when all are closed */
	bool released;
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
	/* Its interface is gone with it; the rules that pointed there are ours to remove. */
	if (a->source_routed)
		rules_release(a->rule_table);
	uv_timer_stop(&p->kill_timer);
	uv_close((uv_handle_t *)&p->kill_timer, aux_handle_closed);
	uv_close((uv_handle_t *)proc, aux_handle_closed);
	close_control(a);
	if (a->call) {
		struct call *call = a->call;

		a->call = NULL;
		call->aux = NULL;
		call_aux_exited(call);
	}
}

static void control_msg(struct msg_stream *m, json_t *msg, int err)
{
	struct aux *a = m->data;

	if (err) {
		log_warn("unreadable message from an auxiliary: %s", insel_strerror(err));
		return;
	}
	if (rpc_take_reply(&a->rpc, msg))
		return;
	if (msg_op(msg) && strcmp(msg_op(msg), "ended") == 0 && a->call)
		call_aux_ended(a->call, msg);
}

static void control_closed(struct msg_stream *m)
{
	struct aux *a = m->data;

	struct aux_private *p = (struct aux_private *)a;

	if (a->control == m)
		a->control = NULL;
	rpc_fail_all(&a->rpc, INSEL_E_CLOSED);
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

static int start_process(struct aux_private *p, int child_fd)
{
	struct secondary *s = p->pub.sec;
	char parent[24];
	char *args[6];
	size_t n = 0;
	uv_stdio_container_t stdio[4] = {
		{.flags = UV_IGNORE},
		{.flags = UV_IGNORE},
		{.flags = UV_INHERIT_FD, .data.fd = STDERR_FILENO},
		{.flags = UV_INHERIT_FD, .data.fd = child_fd},
	};
	uv_process_options_t opts = {
		.file = s->cfg.aux_program,
		.args = args,
		.exit_cb = process_exited,
		.stdio_count = 4,
		.stdio = stdio,
	};

	/* --parent lets the auxiliary notice our death even if we are pid 1. */
	snprintf(parent, sizeof parent, "%d", (int)getpid());
	args[n++] = (char *)s->cfg.aux_program;
	if (log_get_level() >= LOG_LVL_DEBUG)
		args[n++] = "-v";
	args[n++] = "run";
	args[n++] = "--parent";
	args[n++] = parent;
	args[n] = NULL;
	p->pub.process.data = p;
	return uv_spawn(s->loop, &p->pub.process, &opts);
}

int aux_spawn(struct secondary *s, struct call *call, const json_t *bind_request,
	      aux_bound_cb cb, struct aux **out)
{
	struct aux_private *p = calloc(1, sizeof *p);
	int sv[2], rc;

	if (!p)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		free(p);
		return rc;
	}
	p->pub.sec = s;
	p->pub.call = call;
	p->bound = cb;
	rc = start_process(p, sv[1]);
	close(sv[1]);
	if (rc) {
		log_error("cannot start the auxiliary %s: %s", s->cfg.aux_program, uv_strerror(rc));
		close(sv[0]);
		/* uv_spawn failed: the process handle is initialised and must be closed. */
		p->handles_open = 1;
		p->pub.process.data = p;
		uv_close((uv_handle_t *)&p->pub.process, aux_handle_closed);
		return rc;
	}
	p->handles_open = 2;
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
	log_debug("auxiliary %d started for call %s", (int)p->pub.process.pid, call->id_hex);
	*out = &p->pub;
	return rpc_call(&p->pub.rpc, json_deep_copy(bind_request), AUX_BIND_TIMEOUT_MS,
			bound_reply, p);
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
	if (!a->exited)
		uv_timer_start(&p->kill_timer, kill_timer_cb, AUX_HANGUP_GRACE_MS, 0);
}
