/* Control messages: JSON objects framed by a 4-byte big-endian length (docs/protocol.md).
 * Used on every control path: principal API, peer protocol, client API and
 * parent<->auxiliary.
 *
 *   request: {"op":"lookup","id":7,...}
 *   reply:   {"id":7,"ok":true,...}
 *         or {"id":7,"ok":false,"error":{"code":"not_found","message":"..."}}
 *   the first message on a connection is {"op":"hello","id":N,"version":1,...}
 *
 * struct msg_reader reassembles frames from arbitrary chunks of a byte stream (a frame
 * split over many reads, many frames in one read). A frame over the size limit is skipped
 * without being buffered and reported once; a frame that is not a JSON object is reported
 * and skipped; either way the stream stays in sync. */
#ifndef INSEL_MSG_H
#define INSEL_MSG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"

#define MSG_PROTOCOL_VERSION 1
#define MSG_HEADER_LEN 4
#define MSG_MAX_DEFAULT (64 * 1024)
/* A peer that does not drain its socket is cut off once this much is queued for it. */
#define MSG_MAX_QUEUED (1024 * 1024)

/* Called for each complete frame: msg is a JSON object (borrowed; json_incref to keep it)
 * and err is 0, or msg is NULL and err says why the frame was skipped (INSEL_E_TOO_BIG,
 * INSEL_E_BAD_JSON, INSEL_E_NOT_OBJECT). A non-zero return stops msg_reader_feed, which
 * returns that value; use it when the callback closed the connection. */
typedef int (*msg_frame_cb)(void *ctx, json_t *msg, int err);

struct msg_reader {
	struct buf frame;    /* header, then body, of the frame being read */
	size_t max_body;     /* largest body accepted */
	uint32_t body_len;   /* announced length, once the header is complete */
	uint32_t discard;    /* bytes of an oversized body still to skip */
};

void msg_reader_init(struct msg_reader *r, size_t max_body);
void msg_reader_free(struct msg_reader *r);
int msg_reader_feed(struct msg_reader *r, const void *data, size_t len, msg_frame_cb cb,
		    void *ctx);

/* Appends the frame for msg (header and compact JSON) to out. */
int msg_encode(const json_t *msg, struct buf *out);

/* Builders. All return a new reference or NULL on allocation failure. */
json_t *msg_request(const char *op, json_int_t id);
json_t *msg_reply_ok(json_int_t id);
json_t *msg_reply_error(json_int_t id, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
json_t *msg_hello(json_int_t id, const char *role);

/* Validating getters: 0 on success, INSEL_E_BAD_FIELD if the field is missing or of the
 * wrong type or range; msg_field_error() then says which and why, ready for an error reply. */
int msg_get_str(const json_t *msg, const char *key, const char **out);
int msg_get_str_opt(const json_t *msg, const char *key, const char *dflt, const char **out);
int msg_get_int(const json_t *msg, const char *key, json_int_t min, json_int_t max,
		json_int_t *out);
int msg_get_int_opt(const json_t *msg, const char *key, json_int_t min, json_int_t max,
		    json_int_t dflt, json_int_t *out);
int msg_get_bool_opt(const json_t *msg, const char *key, bool dflt, bool *out);
int msg_get_array(const json_t *msg, const char *key, size_t max_items, json_t **out);
int msg_get_object(const json_t *msg, const char *key, json_t **out);
const char *msg_field_error(void);
/* For parsers with checks of their own: sets msg_field_error() to "field 'key' why" and
 * returns INSEL_E_BAD_FIELD. */
int msg_bad_field(const char *key, const char *why);

/* The request id of a message, or -1 if it has none. */
json_int_t msg_id(const json_t *msg);
/* The "op" of a request, or NULL. */
const char *msg_op(const json_t *msg);
/* For a reply: true if ok; otherwise *code and *message (if non-NULL) point into msg. */
bool msg_reply_is_ok(const json_t *msg, const char **code, const char **message);

/* A framed-JSON connection over a libuv stream (unix socket, socketpair, TCP). The handle
 * lives inside the struct; msg_stream_close() ends it and frees the struct from the close
 * callback, after on_close has run. */
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

#endif
