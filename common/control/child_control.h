/* The control socket of a child process (insel-auxiliary, insel-relay) to the parent that
 * started it, on a fixed descriptor: framed JSON requests served by the one dispatcher
 * (dispatch.h) from the child's table of ops, its replies, and the orderly close at its
 * end. What the children share is here; what they serve is theirs.
 *
 * The parent is the one role: the first request must be its "hello" ({"version":1,
 * "role":PARENT_ROLE}), which child_control_hello answers ({"version":1,"role":OWN_ROLE}
 * and what the child adds); anything before it is refused and changes nothing. The parent
 * is trusted but may be buggy: a malformed or unexpected message gets an error reply and
 * changes nothing. The end of the socket is the end of the child (closed below), and at
 * the child's own end child_control_finish lets the queued replies and notices leave
 * (bounded by linger_ms) before it closes the socket, so the parent reads them before
 * EOF. */
#ifndef INSEL_CHILD_CONTROL_H
#define INSEL_CHILD_CONTROL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "dispatch.h"
#include "msg_stream.h"

/* The parent's one role bit in the child's dispatch table. */
#define CHILD_CONTROL_PARENT DISPATCH_ROLE(0)

struct child_control;

struct child_control_params {
	const struct dispatch_op *ops;   /* the child's requests; its hello handler calls
					  * child_control_hello */
	size_t n_ops;
	const char *parent_role;         /* the only role a hello may name ("secondary") */
	const char *own_role;            /* said back in the hello's reply ("auxiliary") */
	uint64_t linger_ms;              /* how long the last messages may take to leave */
	/* The child's state (one of its ops' state bits) and its name, for the dispatcher. */
	unsigned (*state)(const void *owner);
	const char *(*state_name)(const void *owner);
	/* Whether the child is ending: nothing more is dispatched then. */
	bool (*ending)(const void *owner);
	/* The socket closed while the child was not ending: the parent closed it (reason
	 * INSEL_E_CLOSED) or it failed (another code). The child ends. */
	void (*closed)(void *owner, int reason);
	/* After an accepted hello: the child adds its fields to the reply (0, or -ENOMEM)
	 * and moves on. NULL: nothing to add. */
	int (*greeted)(void *owner, json_t *reply);
	/* The dispatcher's refusals, on the owner (the handlers' ctx): the child's own
	 * three lines, calling child_control_refuse on its control. */
	void (*refuse)(void *owner, json_int_t id, enum wire_error code, const char *message);
	/* Whether a refusal's log line names its code before the message. */
	bool log_codes;
};

struct child_control {
	const struct child_control_params *p;
	struct dispatch_table table;
	void *owner;                     /* the handlers' ctx */
	uv_loop_t *loop;
	struct msg_stream *stream;       /* NULL before start and once closed */
	uv_shutdown_t shutdown;
	uv_timer_t linger_timer;         /* bounds the final flush */
	bool hello_done;
};

/* Initialises c (its linger timer on loop); 0 or a libuv error. */
int child_control_init(struct child_control *c, uv_loop_t *loop,
		       const struct child_control_params *p, void *owner);
/* Starts serving the socket on fd; 0 or a negative error. */
int child_control_start(struct child_control *c, int fd);
/* Sends msg (a reply or a notice) and drops the reference; NULL is logged as out of
 * memory. Nothing is sent once the socket is closed. */
void child_control_send(struct child_control *c, json_t *msg);
/* Refuses request id (-1: one that could not be identified, answered with "id":null):
 * code, or err's code if NULL, and a message built from fmt. Logged. */
void child_control_refuse(struct child_control *c, json_int_t id, int err, const char *code,
			  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void child_control_vrefuse(struct child_control *c, json_int_t id, int err, const char *code,
			   const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
/* Serves the hello request: the version and the parent's role checked, then greeted. */
void child_control_hello(struct child_control *c, json_int_t id, const json_t *msg);
/* The child's end: flush, then close the socket (at most linger_ms), the timer too. */
void child_control_finish(struct child_control *c);

#endif
