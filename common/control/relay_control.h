/* The parent's end of its relay's control socket (docs/relay.md, section 4), shared by
 * the two roles that run an insel-relay: the principal (its own relay) and a secondary
 * designated as a relay ([relay] listen). It takes each new control socket the keeper
 * (relay_keeper.h) hands over, greets the relay, carries requests (allocate, free, stats)
 * and passes the relay's "expired" notices on. What the allocations mean, and who may
 * have them, is the parent's bookkeeping: a relay that restarted knows nothing, and the
 * ready callback is where the parent gives it what it should know again. */
#ifndef INSEL_RELAY_CONTROL_H
#define INSEL_RELAY_CONTROL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "rpc.h"

#define RELAY_CONTROL_TIMEOUT_MS 5000  /* a request the relay does not answer */

struct msg_stream;

struct relay_control_callbacks {
	void (*ready)(void *ctx);                           /* a new relay said hello */
	void (*expired)(void *ctx, uint64_t allocation);    /* its "expired" notice */
};

struct relay_control {
	uv_loop_t *loop;
	int keeper_fd;                 /* owned; closing it has the keeper stop the relay */
	uv_poll_t keeper_poll;
	bool keeper_open;
	struct msg_stream *control;    /* the current relay's, or NULL */
	struct rpc rpc;
	bool ready;                    /* hello answered */
	int relay_pid;
	uint64_t restarts;
	uint16_t port;                 /* the relay's bound UDP port, for the log */
	struct relay_control_callbacks cb;
	void *ctx;
};

/* Starts watching the keeper socket (it becomes the control's). 0 or a libuv error. */
int relay_control_start(struct relay_control *rc, uv_loop_t *loop, int keeper_fd,
			uint16_t port, const struct relay_control_callbacks *cb, void *ctx);
/* Closes the control socket and the keeper socket: the keeper stops the relay. Pending
 * requests fail with INSEL_E_CLOSED. */
void relay_control_close(struct relay_control *rc);
/* Sends a request (taking req), its reply to cb; INSEL_E_UNAVAILABLE (req freed) while no
 * relay has said hello. */
int relay_control_call(struct relay_control *rc, json_t *req, rpc_reply_cb cb, void *ctx);

#endif
