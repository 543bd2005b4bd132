/* Control messages on the wire: JSON objects framed by a 4-byte big-endian length
 * (docs/protocol.md), and the request/reply envelope around them:
 *
 *   request: {"op":"lookup","id":7,...}
 *   reply:   {"id":7,"ok":true,...}
 *         or {"id":7,"ok":false,"error":{"code":"not_found","message":"..."}}
 *   the first message on a connection is {"op":"hello","id":N,"version":1,...}
 *
 * struct msg_reader reassembles frames from arbitrary chunks of a byte stream (a frame
 * split over many reads, many frames in one read). A frame over the size limit is skipped
 * without being buffered and reported once; a frame that is not a JSON object is reported
 * and skipped; either way the stream stays in sync. No I/O here: for the fields inside a
 * message see msg_get.h, for a libuv stream carrying them msg_stream.h. */
#ifndef INSEL_MSG_CODEC_H
#define INSEL_MSG_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The request id of a message, or -1 if it has none. */
json_int_t msg_id(const json_t *msg);
/* The "op" of a request, or NULL. */
const char *msg_op(const json_t *msg);
/* For a reply: true if ok; otherwise *code and *message (if non-NULL) point into msg. */
bool msg_reply_is_ok(const json_t *msg, const char **code, const char **message);

#endif
