/* Framed JSON over a plain libuv stream: the auxiliary's socket pair with its secondary,
 * the local client socket, the key holder's pipe. TLS connections frame messages the same
 * way (msg_codec.h) but run their own stream (tls_conn.c). See msg_stream.h. */
#include "msg_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "err.h"

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

/* The reader copies what it keeps, so one static read buffer serves all streams. */
static char scratch[64 * 1024];

static void stream_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
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

void msg_stream_drain(struct msg_stream *s)
{
	size_t taken = 0;
	uv_os_fd_t fd;

	/* libuv made the descriptor non-blocking, and keeps no bytes of its own: reading
	 * it here loses nothing the loop would have read. */
	if (s->closing || uv_fileno(&s->h.handle, &fd) != 0)
		return;
	while (!s->closing && taken < MSG_DRAIN_MAX) {
		ssize_t n = read(fd, scratch, sizeof scratch);

		if (n > 0) {
			taken += (size_t)n;
			msg_reader_feed(&s->reader, scratch, (size_t)n, stream_frame_cb, s);
		} else if (n == 0) {
			msg_stream_close(s, INSEL_E_CLOSED);
		} else if (errno != EINTR) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				msg_stream_close(s, -errno);
			return;
		}
	}
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
	/* The other end went away (EPIPE): what it wrote before it did is still to be
	 * read, its last words (an auxiliary's "ended" before its exit); then it ends. */
	if (status < 0 && status != UV_ECANCELED) {
		msg_stream_drain(s);
		msg_stream_close(s, status);
	}
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
