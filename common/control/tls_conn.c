/* One mutually authenticated TLS 1.3 connection on libuv (see tls.h), either end; the
 * client end's connect is here too, the server end's accept in tls_server.c.
 *
 * GnuTLS never touches the socket: its push function appends records to conn->out, which
 * flush() hands to uv_write; its pull function reads from conn->in, which the libuv read
 * callback fills. Every wake-up ends in drive(), which advances the handshake or decrypts
 * what arrived into the msg_reader. A timer bounds the handshake (a silent peer cannot
 * hold a slot) and, once closing, bounds the wait for close_notify to drain; in between,
 * it carries the owner's deadline (a login, an idle time-out). Handles are freed only from
 * their close callbacks; the conn when both its handles are closed. */
#include "tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "msg_codec.h"
#include "preamble.h"
#include "tls_conn_priv.h"

#define TLS_IN_MAX (256 * 1024)   /* ciphertext read but not yet decrypted */
#define TLS_CLOSE_GRACE_MS 2000   /* how long close_notify may take to drain */

struct tls_write {
	uv_write_t req;
	uint8_t *bytes;  /* lives until the write callback */
	size_t len;
};

/* ---- memory transport ---- */

static ssize_t push_cb(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	struct tls_conn *c = ptr;

	if (buf_append(&c->out, data, len) != 0) {
		gnutls_transport_set_errno(c->session, ENOMEM);
		return -1;
	}
	return (ssize_t)len;
}

static ssize_t pull_cb(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct tls_conn *c = ptr;
	size_t avail = c->in.len - c->in_off;

	if (avail == 0) {
		if (c->eof)
			return 0;
		gnutls_transport_set_errno(c->session, EAGAIN);
		return -1;
	}
	if (len > avail)
		len = avail;
	memcpy(data, c->in.data + c->in_off, len);
	c->in_off += len;
	return (ssize_t)len;
}

static int pull_timeout_cb(gnutls_transport_ptr_t ptr, unsigned ms)
{
	struct tls_conn *c = ptr;

	(void)ms;
	return (c->in.len > c->in_off || c->eof) ? 1 : 0;
}

static void write_cb(uv_write_t *req, int status)
{
	struct tls_write *w = (struct tls_write *)req;
	struct tls_conn *c = req->handle->data;

	free(w->bytes);
	free(w);
	if (status < 0 && status != UV_ECANCELED && c->state != CONN_CLOSING)
		tls_conn_fail(c, status, "cannot write to the peer: %s", uv_strerror(status));
}

static size_t queued_bytes(const struct tls_conn *c)
{
	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) + c->out.len;
}

/* Hands what GnuTLS produced to libuv; the bytes move to the write request. */
static int flush(struct tls_conn *c)
{
	struct tls_write *w;
	uv_buf_t b;
	int rc;

	if (c->out.len == 0)
		return 0;
	if (queued_bytes(c) > MSG_MAX_QUEUED)
		return INSEL_E_LIMIT;
	/* With nothing queued in libuv, write at once: usually all of it goes, and the
	 * buffer stays for the next message instead of moving to a write request. */
	if (uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) == 0) {
		uv_buf_t now = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
		int n = uv_try_write((uv_stream_t *)&c->tcp, &now, 1);

		if (n < 0 && n != UV_EAGAIN)
			return n;
		if (n > 0)
			buf_consume(&c->out, (size_t)n);
		if (c->out.len == 0)
			return 0;
	}
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->bytes = c->out.data;
	w->len = c->out.len;
	buf_init(&c->out, c->out.max);
	b = uv_buf_init((char *)w->bytes, (unsigned)w->len);
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
	if (rc) {
		free(w->bytes);
		free(w);
	}
	return rc;
}

/* ---- connection life cycle ---- */

static void conn_free(struct tls_conn *c)
{
	tls_session_free(c->session, (struct tls_creds *)c->policy.creds);
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->frame);
	msg_reader_free(&c->reader);
	secure_wipe(&c->policy, sizeof c->policy);
	free(c);
}

static void handle_closed(uv_handle_t *h)
{
	struct tls_conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	if (c->cb.close)
		c->cb.close(c);
	conn_free(c);
}

static void close_handles(struct tls_conn *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, handle_closed);
	if (!uv_is_closing((uv_handle_t *)&c->timer))
		uv_close((uv_handle_t *)&c->timer, handle_closed);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	(void)status;
	close_handles(req->data);
}

static void grace_expired(uv_timer_t *t)
{
	close_handles(t->data);
}

void tls_conn_set_reset(struct tls_conn *c)
{
	struct linger hard = {.l_onoff = 1, .l_linger = 0};
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
	c->reset = true;
}

void tls_conn_close(struct tls_conn *c, int reason)
{
	bool was_open = c->state == CONN_OPEN;
	bool connected = c->state != CONN_CONNECTING;

	if (c->state == CONN_CLOSING)
		return;
	tls_server_detach(c);
	c->state = CONN_CLOSING;
	c->close_reason = reason;
	uv_timer_stop(&c->timer);
	if (connected)
		uv_read_stop((uv_stream_t *)&c->tcp);
	if (was_open && !c->reset && gnutls_bye(c->session, GNUTLS_SHUT_WR) == 0)
		flush(c);
	c->shutdown_req.data = c;
	if (!connected || c->reset ||
	    uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, shutdown_cb)) {
		close_handles(c);
		return;
	}
	uv_timer_start(&c->timer, grace_expired, TLS_CLOSE_GRACE_MS, 0);
}

static void report_ready(struct tls_conn *c, int status)
{
	if (c->ready_reported)
		return;
	c->ready_reported = true;
	if (c->cb.ready)
		c->cb.ready(c, status);
}

void tls_conn_fail(struct tls_conn *c, int err, const char *fmt, ...)
{
	char peer[IP_STRLEN] = "?";
	struct ip_endpoint ep;
	va_list ap;

	if (c->state == CONN_CLOSING)
		return;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(c->policy.error, sizeof c->policy.error, fmt, ap);
		va_end(ap);
	}
	if (tls_conn_peer_endpoint(c, &ep) == 0)
		ip_endpoint_format(&ep, peer, sizeof peer);
	if (!c->ready_reported)
		log_info("TLS connection with %s failed: %s", peer, tls_conn_error(c));
	else
		log_debug("TLS connection with %s ended: %s", peer, tls_conn_error(c));
	c->close_reason = err;
	report_ready(c, err);
	tls_conn_close(c, err);
}

static void handshake_timed_out(uv_timer_t *t)
{
	struct tls_conn *c = t->data;

	tls_server_count_timeout(c, true);
	tls_conn_fail(c, INSEL_E_TIMEOUT, "no TLS handshake within %u ms", c->handshake_ms);
}

void tls_conn_set_handshake_deadline(struct tls_conn *c, unsigned ms)
{
	c->handshake_ms = ms;
	uv_timer_start(&c->timer, handshake_timed_out, ms, 0);
}

static void deadline_passed(uv_timer_t *t)
{
	struct tls_conn *c = t->data;

	tls_server_count_timeout(c, false);
	tls_conn_fail(c, INSEL_E_TIMEOUT, "%s", c->deadline_what);
}

void tls_conn_set_deadline(struct tls_conn *c, unsigned ms, const char *what)
{
	if (c->state != CONN_OPEN)
		return;
	if (ms == 0) {
		uv_timer_stop(&c->timer);
		return;
	}
	snprintf(c->deadline_what, sizeof c->deadline_what, "%s", what ? what : "time-out");
	uv_timer_start(&c->timer, deadline_passed, ms, 0);
}

static int frame_cb(void *ctx, json_t *msg, int err)
{
	struct tls_conn *c = ctx;

	if (c->cb.message)
		c->cb.message(c, msg, err);
	return c->state == CONN_CLOSING ? INSEL_E_CLOSED : 0;
}

/* Decrypts every complete record and feeds the plaintext to the message reader. */
static void read_records(struct tls_conn *c)
{
	static _Thread_local uint8_t plain[16384];

	while (c->state == CONN_OPEN) {
		ssize_t n = gnutls_record_recv(c->session, plain, sizeof plain);

		if (n > 0 && c->raw) {
			c->raw(c, plain, (size_t)n);
		} else if (n > 0) {
			msg_reader_feed(&c->reader, plain, (size_t)n, frame_cb, c);
		} else if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
			tls_conn_fail(c, INSEL_E_CLOSED, "the peer closed the connection");
		} else if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			/* A post-handshake message (a TLS 1.3 session ticket from a peer
			 * that sends them) also gives AGAIN, with records still at hand. */
			if (c->in.len == c->in_off && gnutls_record_check_pending(c->session) == 0)
				break;
		} else if (n == GNUTLS_E_FATAL_ALERT_RECEIVED) {
			tls_conn_fail(c, INSEL_E_REFUSED, "the peer ended the connection (alert: %s)",
				  gnutls_alert_get_name(gnutls_alert_get(c->session)));
		} else if (gnutls_error_is_fatal((int)n)) {
			tls_conn_fail(c, INSEL_E_PROTOCOL, "TLS error: %s", gnutls_strerror((int)n));
		}
	}
}

static void handshake_step(struct tls_conn *c)
{
	int rc = gnutls_handshake(c->session);

	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
		return;
	if (rc < 0) {
		int err = tls_handshake_failure(c->session, &c->policy, rc);

		if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED && rc != GNUTLS_E_PREMATURE_TERMINATION)
			gnutls_alert_send_appropriate(c->session, rc);
		flush(c);
		tls_conn_fail(c, err, NULL);
		return;
	}
	/* The verify function ran during the handshake; refuse if it somehow did not. */
	if (!c->policy.verified && tls_verify_peer(c->session, &c->policy) != 0) {
		gnutls_alert_send(c->session, GNUTLS_AL_FATAL, GNUTLS_A_BAD_CERTIFICATE);
		flush(c);
		tls_conn_fail(c, INSEL_E_VERIFY, NULL);
		return;
	}
	uv_timer_stop(&c->timer);
	c->state = CONN_OPEN;
	if (c->server && !tls_server_handshake_done(c))
		return;
	report_ready(c, 0);
}

/* An accepted stream that may begin with a preamble: whether the handshake may go on now
 * (a TLS record came first, or the owner's callback took its preamble). */
static bool preamble_done(struct tls_conn *c)
{
	size_t avail = c->in.len - c->in_off;
	int rc;

	if (avail == 0)
		return false;
	if (c->in.data[c->in_off] == PREAMBLE_TLS_RECORD) {
		c->preamble = NULL;
		return true;
	}
	rc = c->preamble(c, c->in.data + c->in_off, avail);
	if (c->state == CONN_CLOSING)
		return false;
	if (rc < 0 || (rc == 0 && avail >= TLS_PREAMBLE_MAX) || (size_t)rc > avail) {
		tls_conn_fail(c, INSEL_E_PROTOCOL, "the peer sent neither TLS nor a valid "
			      "preamble");
		return false;
	}
	if (rc == 0)
		return false;
	c->in_off += (size_t)rc;
	c->preamble = NULL;
	return true;
}

/* Advances whatever can advance with the bytes at hand, then writes what that produced. */
static void drive(struct tls_conn *c)
{
	int rc;

	if (c->state == CONN_HANDSHAKE && (!c->preamble || preamble_done(c)))
		handshake_step(c);
	if (c->state == CONN_OPEN)
		read_records(c);
	buf_consume(&c->in, c->in_off);
	c->in_off = 0;
	if (c->state == CONN_CLOSING)
		return;
	rc = flush(c);
	if (rc)
		tls_conn_fail(c, rc, "cannot write to the peer: %s", insel_strerror(rc));
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static _Thread_local char scratch[64 * 1024];

	(void)h;
	(void)suggested;
	*b = uv_buf_init(scratch, sizeof scratch);
}

static void read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *b)
{
	struct tls_conn *c = stream->data;

	if (c->state == CONN_CLOSING)
		return;
	if (n == UV_EOF) {
		c->eof = true;
		uv_read_stop(stream);
	} else if (n < 0) {
		tls_conn_fail(c, (int)n, "cannot read from the peer: %s", uv_strerror((int)n));
		return;
	} else if (buf_append(&c->in, b->base, (size_t)n) != 0) {
		tls_conn_fail(c, INSEL_E_LIMIT, "the peer sent more than %d bytes of unread records",
			  TLS_IN_MAX);
		return;
	}
	if (n > 0)
		c->spoke = true;
	drive(c);
	if (c->eof && c->state == CONN_HANDSHAKE)
		tls_conn_fail(c, INSEL_E_CLOSED,
			  "the peer closed the connection during the TLS handshake");
}

int tls_conn_start_io(struct tls_conn *c)
{
	int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);

	if (rc)
		return rc;
	c->state = CONN_HANDSHAKE;
	return 0;
}

struct tls_conn *tls_conn_new(uv_loop_t *loop, struct tls_creds *creds, bool server,
			      const enum pki_role *roles, size_t nroles, const char *expect_name)
{
	struct tls_conn *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	if (tls_policy_init(&c->policy, creds, roles, nroles, expect_name) != 0 ||
	    tls_session_new(&c->session, creds, server, &c->policy, GNUTLS_NONBLOCK) != 0) {
		free(c);
		return NULL;
	}
	gnutls_transport_set_ptr(c->session, c);
	gnutls_transport_set_push_function(c->session, push_cb);
	gnutls_transport_set_pull_function(c->session, pull_cb);
	gnutls_transport_set_pull_timeout_function(c->session, pull_timeout_cb);
	buf_init(&c->in, TLS_IN_MAX);
	buf_init(&c->out, MSG_MAX_QUEUED + 64 * 1024);
	buf_init(&c->frame, MSG_HEADER_LEN + MSG_MAX_DEFAULT);
	msg_reader_init(&c->reader, MSG_MAX_DEFAULT);
	uv_tcp_init(loop, &c->tcp);
	/* Control messages are small request/reply exchanges: without this, Nagle holds a
	 * reply behind the unacknowledged previous one until a delayed ACK (tens of ms).
	 * libuv applies it once the socket exists (accepted or connecting). */
	uv_tcp_nodelay(&c->tcp, 1);
	uv_timer_init(loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->state = CONN_CONNECTING;
	tls_conn_set_handshake_deadline(c, tls_creds_handshake_timeout(creds));
	return c;
}

/* ---- client ---- */

static void connect_cb(uv_connect_t *req, int status)
{
	struct tls_conn *c = req->data;
	int rc;

	if (c->state == CONN_CLOSING)
		return;
	if (status < 0) {
		tls_conn_fail(c, status, "cannot connect: %s", uv_strerror(status));
		return;
	}
	rc = tls_conn_start_io(c);
	if (rc) {
		tls_conn_fail(c, rc, "cannot read from the peer: %s", uv_strerror(rc));
		return;
	}
	drive(c);  /* sends the ClientHello */
}

int tls_conn_become_client(struct tls_conn *c, enum pki_role expect_role,
			   const char *expect_name)
{
	struct tls_creds *creds = (struct tls_creds *)c->policy.creds;
	gnutls_session_t session;
	int rc;

	if (c->state != CONN_HANDSHAKE)
		return INSEL_E_CLOSED;
	if (expect_name && !pki_name_valid(expect_name))
		return INSEL_E_BAD_FIELD;
	/* Nothing has reached the server session yet: it is replaced whole. */
	rc = tls_policy_init(&c->policy, creds, &expect_role, 1, expect_name);
	if (rc == 0)
		rc = tls_session_new(&session, creds, false, &c->policy, GNUTLS_NONBLOCK);
	if (rc) {
		tls_conn_fail(c, rc, "cannot start the TLS client end");
		return rc;
	}
	tls_session_free(c->session, creds);
	c->session = session;
	gnutls_transport_set_ptr(c->session, c);
	gnutls_transport_set_push_function(c->session, push_cb);
	gnutls_transport_set_pull_function(c->session, pull_cb);
	gnutls_transport_set_pull_timeout_function(c->session, pull_timeout_cb);
	return 0;
}

int tls_connect(uv_loop_t *loop, struct tls_creds *creds, const struct ip_endpoint *to,
		enum pki_role expect_role, const char *expect_name,
		const struct tls_conn_callbacks *cb, void *data, struct tls_conn **out)
{
	return tls_connect_from(loop, creds, NULL, to, expect_role, expect_name, cb, data,
				out);
}

/* Binds the socket to a local address (any port) before it connects. */
static int bind_source(struct tls_conn *c, const struct ip_addr *from)
{
	struct ip_endpoint local = {.addr = *from, .port = 0};
	struct sockaddr_storage ss;

	ip_endpoint_to_sockaddr(&local, &ss);
	return uv_tcp_bind(&c->tcp, (struct sockaddr *)&ss, 0);
}

/* A connection that dials: the TLS client (or, after a preamble, either end). */
static int dial(uv_loop_t *loop, struct tls_creds *creds, const struct ip_addr *from,
		const struct ip_endpoint *to, const void *preamble, size_t len, bool as_server,
		enum pki_role expect_role, const char *expect_name,
		const struct tls_conn_callbacks *cb, void *data, struct tls_conn **out)
{
	struct sockaddr_storage ss;
	struct tls_conn *c;
	int rc = 0;

	if (expect_name && !pki_name_valid(expect_name))
		return INSEL_E_BAD_FIELD;
	c = tls_conn_new(loop, creds, as_server, &expect_role, 1, expect_name);
	if (!c)
		return -ENOMEM;
	/* The preamble goes out first, ahead of whatever the handshake writes. */
	if (len && buf_append(&c->out, preamble, len) != 0) {
		tls_conn_close(c, -ENOMEM);
		return -ENOMEM;
	}
	ip_endpoint_to_sockaddr(to, &ss);
	c->connect_req.data = c;
	if (from)
		rc = bind_source(c, from);
	if (rc == 0)
		rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&ss,
				    connect_cb);
	if (rc) {
		tls_conn_close(c, rc);  /* no callbacks set yet: the owner hears nothing */
		return rc;
	}
	tls_conn_set_callbacks(c, cb, data);
	*out = c;
	return 0;
}

int tls_connect_from(uv_loop_t *loop, struct tls_creds *creds, const struct ip_addr *from,
		     const struct ip_endpoint *to, enum pki_role expect_role,
		     const char *expect_name, const struct tls_conn_callbacks *cb, void *data,
		     struct tls_conn **out)
{
	return dial(loop, creds, from, to, NULL, 0, false, expect_role, expect_name, cb, data,
		    out);
}

int tls_connect_preamble(uv_loop_t *loop, struct tls_creds *creds,
			 const struct ip_endpoint *to, const void *preamble, size_t len,
			 bool as_server, enum pki_role peer_role, const char *expect_name,
			 const struct tls_conn_callbacks *cb, void *data, struct tls_conn **out)
{
	return dial(loop, creds, NULL, to, preamble, len, as_server, peer_role, expect_name,
		    cb, data, out);
}

int tls_connect_socket(uv_loop_t *loop, struct tls_creds *creds, int fd,
		       const struct ip_endpoint *to, enum pki_role expect_role,
		       const char *expect_name, const struct tls_conn_callbacks *cb, void *data,
		       struct tls_conn **out)
{
	struct sockaddr_storage ss;
	struct tls_conn *c;
	int rc;

	if (expect_name && !pki_name_valid(expect_name))
		return INSEL_E_BAD_FIELD;
	c = tls_conn_new(loop, creds, false, &expect_role, 1, expect_name);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	rc = uv_tcp_open(&c->tcp, fd);
	if (rc) {
		close(fd);
		tls_conn_close(c, rc);
		return rc;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	ip_endpoint_to_sockaddr(to, &ss);
	c->connect_req.data = c;
	rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&ss, connect_cb);
	if (rc) {
		tls_conn_close(c, rc);  /* closes fd with the handle */
		return rc;
	}
	tls_conn_set_callbacks(c, cb, data);
	*out = c;
	return 0;
}

/* ---- connection accessors and sending ---- */

void tls_conn_set_callbacks(struct tls_conn *c, const struct tls_conn_callbacks *cb,
			    void *data)
{
	if (cb)
		c->cb = *cb;
	else
		memset(&c->cb, 0, sizeof c->cb);
	c->data = data;
}

void *tls_conn_data(const struct tls_conn *c)
{
	return c->data;
}

int tls_conn_send(struct tls_conn *c, const json_t *msg)
{
	struct buf *frame = &c->frame;
	size_t off = 0;
	int rc;

	if (c->state != CONN_OPEN)
		return INSEL_E_CLOSED;
	if (queued_bytes(c) > MSG_MAX_QUEUED) {
		tls_conn_fail(c, INSEL_E_LIMIT, "the peer does not read: over %d bytes queued",
			  MSG_MAX_QUEUED);
		return INSEL_E_LIMIT;
	}
	rc = msg_encode(msg, frame);
	while (rc == 0 && off < frame->len) {
		ssize_t n = gnutls_record_send(c->session, frame->data + off, frame->len - off);

		if (n < 0 && n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
			rc = INSEL_E_CRYPTO;
		else if (n > 0)
			off += (size_t)n;
	}
	buf_consume(frame, frame->len);  /* wipes the plaintext, keeps the memory */
	/* A message too big to encode is the caller's problem; the connection is fine. */
	if (rc == INSEL_E_TOO_BIG || rc == INSEL_E_MALFORMED || rc == INSEL_E_NOSPACE)
		return rc;
	if (rc == 0)
		rc = flush(c);
	if (rc)
		tls_conn_fail(c, rc, "cannot send to the peer: %s", insel_strerror(rc));
	return rc;
}

int tls_conn_send_new(struct tls_conn *c, json_t *msg)
{
	int rc = msg ? tls_conn_send(c, msg) : -ENOMEM;

	json_decref(msg);
	return rc;
}

void tls_conn_set_raw(struct tls_conn *c, tls_conn_bytes_fn bytes)
{
	c->raw = bytes;
}

size_t tls_conn_queued(const struct tls_conn *c)
{
	return queued_bytes(c);
}

int tls_conn_send_bytes(struct tls_conn *c, const void *data, size_t len, size_t max_queued)
{
	const uint8_t *p = data;
	size_t off = 0;
	int rc = 0;

	if (c->state != CONN_OPEN)
		return INSEL_E_CLOSED;
	if (queued_bytes(c) > max_queued)
		return INSEL_E_LIMIT;
	while (rc == 0 && off < len) {
		ssize_t n = gnutls_record_send(c->session, p + off, len - off);

		if (n < 0 && n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
			rc = INSEL_E_CRYPTO;
		else if (n > 0)
			off += (size_t)n;
	}
	if (rc == 0)
		rc = flush(c);
	if (rc)
		tls_conn_fail(c, rc, "cannot send to the peer: %s", insel_strerror(rc));
	return rc;
}

const struct pki_identity *tls_conn_peer(const struct tls_conn *c)
{
	return &c->policy.peer;
}

int tls_conn_peer_endpoint(const struct tls_conn *c, struct ip_endpoint *out)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	int rc = uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len);

	return rc ? rc : ip_endpoint_from_sockaddr((struct sockaddr *)&ss, out);
}

int tls_conn_local_endpoint(const struct tls_conn *c, struct ip_endpoint *out)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	int rc = uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len);

	return rc ? rc : ip_endpoint_from_sockaddr((struct sockaddr *)&ss, out);
}

int tls_conn_rtt_ms(const struct tls_conn *c, unsigned *out)
{
	struct tcp_info info;
	socklen_t len = sizeof info;
	uv_os_fd_t fd;

	if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0)
		return -EBADF;
	memset(&info, 0, sizeof info);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
		return -errno;
	*out = info.tcpi_rtt / 1000 ? info.tcpi_rtt / 1000 : 1;  /* tcpi_rtt is in us */
	return 0;
}

int tls_conn_export_keying(struct tls_conn *c, const char *label, const void *context,
			   size_t context_len, void *out, size_t out_len)
{
	if (c->state != CONN_OPEN)
		return INSEL_E_CLOSED;
	if (gnutls_prf_rfc5705(c->session, strlen(label), label, context_len, context, out_len,
			       out) < 0)
		return INSEL_E_CRYPTO;
	return 0;
}

int tls_conn_close_reason(const struct tls_conn *c)
{
	return c->close_reason;
}

const char *tls_conn_error(const struct tls_conn *c)
{
	if (c->policy.error[0])
		return c->policy.error;
	return c->close_reason ? insel_strerror(c->close_reason) : "";
}
