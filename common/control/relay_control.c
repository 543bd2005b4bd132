/* The parent's end of its relay's control socket (relay_control.h). */
#include "relay_control.h"

#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "relay_keeper.h"
#include "relay_ops.h"

static int control_send(void *conn, const json_t *msg)
{
	struct relay_control *rc = conn;

	return rc->control ? msg_stream_send(rc->control, msg) : INSEL_E_CLOSED;
}

static void hello_reply(void *ctx, const json_t *reply, int err)
{
	struct relay_control *rc = ctx;
	const char *code, *message;

	if (err || !msg_reply_is_ok(reply, &code, &message)) {
		log_error("the relay refused hello: %s", err ? insel_strerror(err) : message);
		return;
	}
	rc->ready = true;
	log_info("relay %d ready on UDP port %u", rc->relay_pid, rc->port);
	if (rc->cb.ready)
		rc->cb.ready(rc->ctx);
}

static void control_message(struct msg_stream *s, json_t *msg, int err)
{
	struct relay_control *rc = s->data;
	const char *op;
	uint64_t id;
	char why[160];

	if (err) {
		log_warn("unreadable message from the relay: %s", insel_strerror(err));
		return;
	}
	if (rpc_take_reply(&rc->rpc, msg))
		return;
	op = msg_op(msg);
	if (op && strcmp(op, "expired") == 0 &&
	    relay_allocation_from_json(msg, &id, why, sizeof why) == 0) {
		if (rc->cb.expired)
			rc->cb.expired(rc->ctx, id);
		return;
	}
	log_warn("unexpected message from the relay (op %s)", op ? op : "none");
}

static void control_closed(struct msg_stream *s)
{
	struct relay_control *rc = s->data;

	if (rc->control == s) {
		rc->control = NULL;
		rc->ready = false;
		log_warn("relay %d is gone; its keeper starts another", rc->relay_pid);
	}
	rpc_fail_all(&rc->rpc, INSEL_E_CLOSED);
}

static void adopt(struct relay_control *rc, int fd, int pid)
{
	if (rc->control) {
		msg_stream_close(rc->control, 0);
		rc->control = NULL;
		rc->ready = false;
	}
	rc->control = msg_stream_open_fd(rc->loop, fd, MSG_MAX_DEFAULT);
	if (!rc->control) {
		close(fd);
		return;
	}
	if (rc->relay_pid)
		rc->restarts++;
	rc->relay_pid = pid;
	rc->control->data = rc;
	msg_stream_start(rc->control, control_message, control_closed);
	/* The relay knows one parent role; whoever its parent is speaks as it. */
	if (rpc_call(&rc->rpc, msg_hello(0, "principal"), RELAY_CONTROL_TIMEOUT_MS, hello_reply,
		     rc) != 0)
		log_error("cannot greet the relay");
}

static void keeper_readable(uv_poll_t *p, int status, int events)
{
	struct relay_control *rc = p->data;
	int fd, n;
	pid_t pid;

	(void)events;
	while ((n = relay_keeper_receive(rc->keeper_fd, &fd, &pid)) > 0)
		adopt(rc, fd, (int)pid);
	if (n < 0 || status < 0) {
		log_error("the relay's keeper is gone: no relay from now on");
		uv_poll_stop(p);
	}
}

int relay_control_start(struct relay_control *rc, uv_loop_t *loop, int keeper_fd,
			uint16_t port, const struct relay_control_callbacks *cb, void *ctx)
{
	int err;

	memset(rc, 0, sizeof *rc);
	rc->loop = loop;
	rc->keeper_fd = keeper_fd;
	rc->port = port;
	rc->cb = *cb;
	rc->ctx = ctx;
	rpc_init(&rc->rpc, loop, control_send, rc);
	err = uv_poll_init(loop, &rc->keeper_poll, keeper_fd);
	if (err)
		return err;
	rc->keeper_open = true;
	rc->keeper_poll.data = rc;
	return uv_poll_start(&rc->keeper_poll, UV_READABLE, keeper_readable);
}

static void keeper_closed(uv_handle_t *h)
{
	struct relay_control *rc = h->data;

	close(rc->keeper_fd);
	rc->keeper_fd = -1;
}

void relay_control_close(struct relay_control *rc)
{
	rpc_fail_all(&rc->rpc, INSEL_E_CLOSED);
	if (rc->control)
		msg_stream_close(rc->control, 0);
	rc->control = NULL;
	rc->ready = false;
	if (rc->keeper_open)
		uv_close((uv_handle_t *)&rc->keeper_poll, keeper_closed);
	rc->keeper_open = false;
}

int relay_control_call(struct relay_control *rc, json_t *req, rpc_reply_cb cb, void *ctx)
{
	if (!req)
		return -ENOMEM;
	if (!rc->ready) {
		json_decref(req);
		return INSEL_E_UNAVAILABLE;
	}
	return rpc_call(&rc->rpc, req, RELAY_CONTROL_TIMEOUT_MS, cb, ctx);
}
