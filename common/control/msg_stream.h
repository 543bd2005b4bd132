/* A framed-JSON connection over a libuv stream (unix socket, socketpair, TCP), for the
 * control paths that need no TLS of their own. The handle lives inside the struct;
 * msg_stream_close() ends it and frees the struct from the close callback, after on_close
 * has run. */
#ifndef INSEL_MSG_STREAM_H
#define INSEL_MSG_STREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "msg_codec.h"

struct msg_stream;
typedef void (*msg_stream_msg_cb)(struct msg_stream *s, json_t *msg, int err);
typedef void (*msg_stream_close_cb)(struct msg_stream *s);

struct msg_stream {
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_pipe_t pipe;
		uv_tcp_t tcp;
	} h;
	struct msg_reader reader;
	msg_stream_msg_cb on_msg;
	msg_stream_close_cb on_close;
	void *data;        /* the owner's */
	bool closing;
	int close_reason;  /* 0 for a local close, else why the stream ended */
};

/* Allocates a stream whose handle is a pipe (ipc false) over an existing fd. */
struct msg_stream *msg_stream_open_fd(uv_loop_t *loop, int fd, size_t max_body);
/* Allocates a stream with an initialised but unconnected TCP or pipe handle, for accept or
 * connect; call msg_stream_start once it is connected. */
struct msg_stream *msg_stream_new_tcp(uv_loop_t *loop, size_t max_body);
struct msg_stream *msg_stream_new_pipe(uv_loop_t *loop, size_t max_body);
int msg_stream_start(struct msg_stream *s, msg_stream_msg_cb on_msg,
		     msg_stream_close_cb on_close);
int msg_stream_send(struct msg_stream *s, const json_t *msg);
/* Sends msg and drops the reference. */
int msg_stream_send_new(struct msg_stream *s, json_t *msg);
void msg_stream_close(struct msg_stream *s, int reason);
/* Reads now, without waiting for the loop, whatever the other end has already written
 * (on_msg for each message; the end of the stream closes it), so that a caller can put
 * it before an event the loop might otherwise run first: a child's exit before its last
 * words. Bounded: at most MSG_DRAIN_MAX bytes. */
#define MSG_DRAIN_MAX (1 << 20)
void msg_stream_drain(struct msg_stream *s);

#endif
