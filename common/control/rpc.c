/* Request/reply correlation (see rpc.h). */
#include "rpc.h"

#include <errno.h>
#include <stdlib.h>

#include "err.h"
#include "msg_codec.h"

struct rpc_pending {
	struct rpc_pending *prev, *next;
	struct rpc *owner;
	json_int_t id;
	rpc_reply_cb cb;
	void *ctx;
	uv_timer_t timer;
};

void rpc_init(struct rpc *r, uv_loop_t *loop, rpc_send_fn send, void *conn)
{
	r->loop = loop;
	r->send = send;
	r->conn = conn;
	r->next_id = 1;
	r->pending = NULL;
	r->outstanding = 0;
}

static void pending_free_cb(uv_handle_t *h)
{
	free(h->data);
}

static void unlink_pending(struct rpc_pending *p)
{
	struct rpc *r = p->owner;

	if (p->prev)
		p->prev->next = p->next;
	else
		r->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	r->outstanding--;
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, pending_free_cb);
}

/* Runs the callback after unlinking, so that it may issue new calls or fail all. */
static void finish(struct rpc_pending *p, const json_t *reply, int err)
{
	rpc_reply_cb cb = p->cb;
	void *ctx = p->ctx;

	unlink_pending(p);
	if (cb)
		cb(ctx, reply, err);
}

static void timeout_cb(uv_timer_t *t)
{
	finish(t->data, NULL, INSEL_E_TIMEOUT);
}

int rpc_call(struct rpc *r, json_t *req, uint32_t timeout_ms, rpc_reply_cb cb, void *ctx)
{
	struct rpc_pending *p;
	int rc;

	if (!req)
		return -ENOMEM;
	p = calloc(1, sizeof *p);
	if (!p) {
		json_decref(req);
		return -ENOMEM;
	}
	p->owner = r;
	p->id = r->next_id++;
	p->cb = cb;
	p->ctx = ctx;
	json_object_set_new(req, "id", json_integer(p->id));
	rc = r->send(r->conn, req);
	json_decref(req);
	if (rc) {
		free(p);
		return rc;
	}
	uv_timer_init(r->loop, &p->timer);
	p->timer.data = p;
	uv_timer_start(&p->timer, timeout_cb, timeout_ms, 0);
	p->next = r->pending;
	if (r->pending)
		r->pending->prev = p;
	r->pending = p;
	r->outstanding++;
	return 0;
}

bool rpc_take_reply(struct rpc *r, const json_t *msg)
{
	json_int_t id = msg_id(msg);

	if (msg_op(msg))
		return false;
	for (struct rpc_pending *p = r->pending; p; p = p->next) {
		if (p->id == id) {
			finish(p, msg, 0);
			return true;
		}
	}
	return true;  /* a late reply to a request that already timed out: dropped */
}

void rpc_fail_all(struct rpc *r, int err)
{
	while (r->pending)
		finish(r->pending, NULL, err);
}

void rpc_forget_ctx(struct rpc *r, void *ctx)
{
	struct rpc_pending *p = r->pending, *next;

	for (; p; p = next) {
		next = p->next;
		if (p->ctx == ctx) {
			p->cb = NULL;
			unlink_pending(p);
		}
	}
}
