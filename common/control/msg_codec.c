/* The envelope of every control message: length-prefixed frames of JSON objects, taken
 * apart from a byte stream in whatever chunks it arrives and put together for sending,
 * plus the request/reply envelope ({"op","id"}, {"id","ok","error"}). No I/O: the
 * transports (msg_stream.c, tls_conn.c, secsock.c) feed bytes in and write frames out,
 * and the fuzz target feeds it hostile bytes. See msg_codec.h. */
#include "msg_codec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "wire_errors.h"

void msg_reader_init(struct msg_reader *r, size_t max_body)
{
	if (max_body > UINT32_MAX)
		max_body = UINT32_MAX;
	buf_init(&r->frame, MSG_HEADER_LEN + max_body);
	r->max_body = max_body;
	r->body_len = 0;
	r->discard = 0;
}

void msg_reader_free(struct msg_reader *r)
{
	buf_free(&r->frame);
}

static json_t *decode_body(const uint8_t *body, size_t len, int *err)
{
	json_error_t jerr;
	json_t *msg = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!msg) {
		*err = INSEL_E_BAD_JSON;
		return NULL;
	}
	if (!json_is_object(msg)) {
		json_decref(msg);
		*err = INSEL_E_NOT_OBJECT;
		return NULL;
	}
	*err = 0;
	return msg;
}

/* Moves up to `want` bytes from the input into the frame buffer. */
static size_t take_into_frame(struct msg_reader *r, struct buf_reader *in, size_t want)
{
	const uint8_t *p;
	size_t n = br_remaining(in) < want ? br_remaining(in) : want;

	br_view(in, &p, n);
	/* Cannot fail: the buffer's maximum covers a whole header plus the largest body. */
	buf_append(&r->frame, p, n);
	return n;
}

static int deliver_frame(struct msg_reader *r, msg_frame_cb cb, void *ctx)
{
	int err;
	json_t *msg = decode_body(r->frame.data + MSG_HEADER_LEN, r->body_len, &err);
	int rc;

	buf_consume(&r->frame, r->frame.len);
	r->body_len = 0;
	rc = cb(ctx, msg, err);
	json_decref(msg);
	return rc;
}

int msg_reader_feed(struct msg_reader *r, const void *data, size_t len, msg_frame_cb cb,
		    void *ctx)
{
	struct buf_reader in;
	int rc;

	br_init(&in, data, len);
	while (br_remaining(&in) > 0) {
		if (r->discard) {
			size_t n = br_remaining(&in) < r->discard ? br_remaining(&in) : r->discard;

			br_skip(&in, n);
			r->discard -= (uint32_t)n;
			continue;
		}
		if (r->frame.len < MSG_HEADER_LEN) {
			take_into_frame(r, &in, MSG_HEADER_LEN - r->frame.len);
			if (r->frame.len < MSG_HEADER_LEN)
				break;
			struct buf_reader hdr;

			br_init(&hdr, r->frame.data, MSG_HEADER_LEN);
			br_u32(&hdr, &r->body_len);
			if (r->body_len > r->max_body) {
				r->discard = r->body_len;
				r->body_len = 0;
				buf_consume(&r->frame, r->frame.len);
				rc = cb(ctx, NULL, INSEL_E_TOO_BIG);
				if (rc)
					return rc;
				continue;
			}
		}
		take_into_frame(r, &in, MSG_HEADER_LEN + r->body_len - r->frame.len);
		if (r->frame.len == MSG_HEADER_LEN + r->body_len) {
			rc = deliver_frame(r, cb, ctx);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int msg_encode(const json_t *msg, struct buf *out)
{
	/* Most messages fit here: serialised once, not once to size and once to copy. */
	char small[2048];
	size_t len = json_dumpb(msg, small, sizeof small, JSON_COMPACT);
	uint8_t hdr[MSG_HEADER_LEN];
	struct buf_writer w;
	char *body = small;
	int rc;

	if (len == 0)
		return INSEL_E_MALFORMED;
	if (len > UINT32_MAX || len > out->max)
		return INSEL_E_TOO_BIG;
	if (len > sizeof small) {
		body = malloc(len);
		if (!body)
			return -ENOMEM;
		json_dumpb(msg, body, len, JSON_COMPACT);
	}
	bw_init(&w, hdr, sizeof hdr);
	bw_u32(&w, (uint32_t)len);
	rc = buf_append(out, hdr, sizeof hdr);
	if (!rc)
		rc = buf_append(out, body, len);
	if (body != small)
		free(body);
	secure_wipe(small, len < sizeof small ? len : sizeof small);
	return rc;
}

json_t *msg_request(const char *op, json_int_t id)
{
	return json_pack("{s:s, s:I}", "op", op, "id", id);
}

json_t *msg_reply_ok(json_int_t id)
{
	return json_pack("{s:I, s:b}", "id", id, "ok", 1);
}

json_t *msg_reply_error(json_int_t id, const char *code, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return json_pack("{s:I, s:b, s:{s:s, s:s}}", "id", id, "ok", 0, "error", "code", code,
			 "message", text);
}

json_t *msg_hello(json_int_t id, const char *role)
{
	return json_pack("{s:s, s:I, s:i, s:s, s:s}", "op", "hello", "id", id, "version",
			 MSG_PROTOCOL_VERSION, "role", role, "software", "insel " INSEL_VERSION);
}

json_int_t msg_id(const json_t *msg)
{
	json_t *v = json_object_get(msg, "id");

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	return json_integer_value(v);
}

const char *msg_op(const json_t *msg)
{
	return json_string_value(json_object_get(msg, "op"));
}

bool msg_reply_is_ok(const json_t *msg, const char **code, const char **message)
{
	json_t *err;

	if (json_is_true(json_object_get(msg, "ok")))
		return true;
	err = json_object_get(msg, "error");
	if (code)
		*code = json_string_value(json_object_get(err, "code"));
	if (message)
		*message = json_string_value(json_object_get(err, "message"));
	if (code && !*code)
		*code = WIRE(PROTOCOL);
	if (message && !*message)
		*message = "malformed reply";
	return false;
}
