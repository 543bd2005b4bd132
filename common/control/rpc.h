/* Request/reply correlation over any framed-JSON connection (TLS or a local stream):
 * assigns request ids, remembers what to call back, and fails what is outstanding when the
 * reply does not come in time or the connection goes away. Every reply callback runs
 * exactly once. */
#ifndef INSEL_RPC_H
#define INSEL_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* reply is the peer's reply object (borrowed) with err 0 — whether it says ok or not —
 * or NULL with err INSEL_E_TIMEOUT, INSEL_E_CLOSED or a send error. */
typedef void (*rpc_reply_cb)(void *ctx, const json_t *reply, int err);
/* How the owner puts a message on its connection. */
typedef int (*rpc_send_fn)(void *conn, const json_t *msg);

struct rpc_pending;

struct rpc {
	uv_loop_t *loop;
	rpc_send_fn send;
	void *conn;
	json_int_t next_id;
	struct rpc_pending *pending;  /* doubly linked list of outstanding requests */
	unsigned outstanding;
};

void rpc_init(struct rpc *r, uv_loop_t *loop, rpc_send_fn send, void *conn);
/* Sends req (the reference is taken) with a fresh "id"; cb runs once with the outcome. */
int rpc_call(struct rpc *r, json_t *req, uint32_t timeout_ms, rpc_reply_cb cb, void *ctx);
/* Offers an incoming message; returns true if it was a reply (no "op"): its callback has
 * run, or it came too late and was dropped. Requests from the peer return false. */
bool rpc_take_reply(struct rpc *r, const json_t *msg);
/* Fails every outstanding request with err (call when the connection closes). */
void rpc_fail_all(struct rpc *r, int err);
/* Forgets every request whose ctx is ctx without calling back (its owner is going away). */
void rpc_forget_ctx(struct rpc *r, void *ctx);

#endif
