/* Length-prefixed JSON control messages (see msg.h). */
#include "msg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

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

static _Thread_local char field_error[160];

int msg_bad_field(const char *key, const char *why)
{
	snprintf(field_error, sizeof field_error, "field '%s' %s", key, why);
	return INSEL_E_BAD_FIELD;
}

static int bad_field(const char *key, const char *why)
{
	return msg_bad_field(key, why);
}

const char *msg_field_error(void)
{
	return field_error;
}

int msg_get_str(const json_t *msg, const char *key, const char **out)
{
	json_t *v = json_object_get(msg, key);

	if (!v)
		return bad_field(key, "is missing");
	if (!json_is_string(v))
		return bad_field(key, "must be a string");
	*out = json_string_value(v);
	return 0;
}

int msg_get_str_opt(const json_t *msg, const char *key, const char *dflt, const char **out)
{
	if (!json_object_get(msg, key) || json_is_null(json_object_get(msg, key))) {
		*out = dflt;
		return 0;
	}
	return msg_get_str(msg, key, out);
}

int msg_get_int(const json_t *msg, const char *key, json_int_t min, json_int_t max,
		json_int_t *out)
{
	json_t *v = json_object_get(msg, key);
	char why[96];

	if (!v)
		return bad_field(key, "is missing");
	if (!json_is_integer(v))
		return bad_field(key, "must be an integer");
	if (json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(why, sizeof why, "must be between %" JSON_INTEGER_FORMAT " and %"
			 JSON_INTEGER_FORMAT, min, max);
		return bad_field(key, why);
	}
	*out = json_integer_value(v);
	return 0;
}

int msg_get_int_opt(const json_t *msg, const char *key, json_int_t min, json_int_t max,
		    json_int_t dflt, json_int_t *out)
{
	if (!json_object_get(msg, key)) {
		*out = dflt;
		return 0;
	}
	return msg_get_int(msg, key, min, max, out);
}

int msg_get_bool_opt(const json_t *msg, const char *key, bool dflt, bool *out)
{
	json_t *v = json_object_get(msg, key);

	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_boolean(v))
		return bad_field(key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

int msg_get_array(const json_t *msg, const char *key, size_t max_items, json_t **out)
{
	json_t *v = json_object_get(msg, key);
	char why[64];

	if (!v)
		return bad_field(key, "is missing");
	if (!json_is_array(v))
		return bad_field(key, "must be an array");
	if (json_array_size(v) > max_items) {
		snprintf(why, sizeof why, "has more than %zu items", max_items);
		return bad_field(key, why);
	}
	*out = v;
	return 0;
}

int msg_get_object(const json_t *msg, const char *key, json_t **out)
{
	json_t *v = json_object_get(msg, key);

	if (!v)
		return bad_field(key, "is missing");
	if (!json_is_object(v))
		return bad_field(key, "must be an object");
	*out = v;
	return 0;
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
		*code = "protocol";
	if (message && !*message)
		*message = "malformed reply";
	return false;
}

/* ---- framed JSON over a libuv stream ---- */

static void stream_closed_cb(uv_handle_t *h);

struct msg_write {
	uv_write_t req;
	struct buf bytes;  /* lives until the write callback */
};

static struct msg_stream *stream_alloc(size_t max_body)
{
	struct msg_stream *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	msg_reader_init(&s->reader, max_body);
	s->h.handle.data = s;
	return s;
}

struct msg_stream *msg_stream_open_fd(uv_loop_t *loop, int fd, size_t max_body)
{
	struct msg_stream *s = stream_alloc(max_body);

	if (!s)
		return NULL;
	uv_pipe_init(loop, &s->h.pipe, 0);
	if (uv_pipe_open(&s->h.pipe, fd)) {
		/* The handle is initialised, so it must be closed; stream_closed_cb frees it. */
		msg_stream_close(s, INSEL_E_CLOSED);
		return NULL;
	}
	return s;
}

struct msg_stream *msg_stream_new_tcp(uv_loop_t *loop, size_t max_body)
{
	struct msg_stream *s = stream_alloc(max_body);

	if (s)
		uv_tcp_init(loop, &s->h.tcp);
	return s;
}

struct msg_stream *msg_stream_new_pipe(uv_loop_t *loop, size_t max_body)
{
	struct msg_stream *s = stream_alloc(max_body);

	if (s)
		uv_pipe_init(loop, &s->h.pipe, 0);
	return s;
}

static void stream_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static char scratch[64 * 1024];

	/* The reader copies what it keeps, so one static read buffer serves all streams. */
	(void)h;
	(void)suggested;
	*b = uv_buf_init(scratch, sizeof scratch);
}

static int stream_frame_cb(void *ctx, json_t *msg, int err)
{
	struct msg_stream *s = ctx;

	s->on_msg(s, msg, err);
	return s->closing ? INSEL_E_CLOSED : 0;
}

static void stream_read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *b)
{
	struct msg_stream *s = stream->data;

	if (n < 0) {
		msg_stream_close(s, n == UV_EOF ? INSEL_E_CLOSED : (int)n);
		return;
	}
	msg_reader_feed(&s->reader, b->base, (size_t)n, stream_frame_cb, s);
}

int msg_stream_start(struct msg_stream *s, msg_stream_msg_cb on_msg,
		     msg_stream_close_cb on_close)
{
	s->on_msg = on_msg;
	s->on_close = on_close;
	return uv_read_start(&s->h.stream, stream_alloc_cb, stream_read_cb);
}

static void stream_write_cb(uv_write_t *req, int status)
{
	struct msg_write *w = (struct msg_write *)req;
	struct msg_stream *s = req->handle->data;

	buf_free(&w->bytes);
	free(w);
	if (status < 0 && status != UV_ECANCELED)
		msg_stream_close(s, status);
}

int msg_stream_send(struct msg_stream *s, const json_t *msg)
{
	struct msg_write *w;
	uv_buf_t b;
	int rc;

	if (s->closing)
		return INSEL_E_CLOSED;
	if (uv_stream_get_write_queue_size(&s->h.stream) > MSG_MAX_QUEUED) {
		msg_stream_close(s, INSEL_E_LIMIT);
		return INSEL_E_LIMIT;
	}
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	buf_init(&w->bytes, MSG_HEADER_LEN + s->reader.max_body);
	rc = msg_encode(msg, &w->bytes);
	if (rc) {
		buf_free(&w->bytes);
		free(w);
		return rc;
	}
	b = uv_buf_init((char *)w->bytes.data, (unsigned)w->bytes.len);
	rc = uv_write(&w->req, &s->h.stream, &b, 1, stream_write_cb);
	if (rc) {
		buf_free(&w->bytes);
		free(w);
	}
	return rc;
}

int msg_stream_send_new(struct msg_stream *s, json_t *msg)
{
	int rc = msg ? msg_stream_send(s, msg) : -ENOMEM;

	json_decref(msg);
	return rc;
}

static void stream_closed_cb(uv_handle_t *h)
{
	struct msg_stream *s = h->data;

	if (s->on_close)
		s->on_close(s);
	msg_reader_free(&s->reader);
	free(s);
}

void msg_stream_close(struct msg_stream *s, int reason)
{
	if (s->closing)
		return;
	s->closing = true;
	s->close_reason = reason;
	uv_close(&s->h.handle, stream_closed_cb);
}
