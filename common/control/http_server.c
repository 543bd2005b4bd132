/* The HTTP(S) server of http_server.h: libmicrohttpd in external mode, its epoll
 * descriptor under a uv_poll and its timeouts under a uv_timer, so that handlers run on
 * the daemon's loop thread. Why not libmicrohttpd's own thread with a hand-over to the
 * loop (uv_async and a condition variable): that would add a thread to sandboxed daemons
 * and a lock to every request, for no gain at the rates an operator's page and a
 * Prometheus scrape make. */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "log.h"

#define HTTP_MAX_ROUTES 16
#define HTTP_PEM_MAX (256 * 1024)
#define HTTP_STREAM_BLOCK 4096
#define HTTP_HEARTBEAT_MS 15000
#define HTTP_LISTEN_BACKLOG 64

struct http_route {
	char *path;
	http_handler_fn handler;
	http_stream_fn stream;
	char *content_type;  /* of a stream */
	void *ctx;
};

struct http_server {
	uv_loop_t *loop;
	struct MHD_Daemon *mhd;
	uv_poll_t poll;       /* libmicrohttpd's epoll descriptor */
	uv_timer_t timer;     /* its next timeout, or 0 ms after a stream was woken */
	uv_timer_t heartbeat; /* keep-alive comments on idle streams */
	struct http_route routes[HTTP_MAX_ROUTES];
	size_t nroutes;
	struct http_stream *streams;
	size_t max_stream_backlog;
	uint16_t port;
	bool tls;
	bool running;  /* inside MHD_run: scheduling waits until it returns */
	bool kick;     /* a stream has something new: run again at once */
	bool closing;
	int open_handles;
	char *cert_pem, *key_pem;
	size_t key_len;
	void (*done)(void *arg);
	void *done_arg;
};

struct http_request {
	struct MHD_Connection *conn;
	const char *path;
	const char *method;
};

struct http_reply {
	unsigned status;
	char content_type[96];
	char *body;
	size_t len, cap;
	bool nomem;
	/* Headers the handler added: "name\0value\0" pairs (http_reply_header). */
	char headers[HTTP_REPLY_HEADER_BYTES];
	size_t headers_len;
};

struct http_stream {
	struct http_server *server;
	struct MHD_Connection *conn;
	struct http_stream *next, *prev;
	char *buf;
	size_t len, off, cap;
	bool suspended;
	bool ended;        /* no more pushes: end of stream once buf is sent */
	bool event_stream; /* text/event-stream: heartbeats are comments */
	void (*on_close)(void *arg);
	void *on_close_arg;
};

/* ---- scheduling libmicrohttpd on the loop ---- */

static void server_run(struct http_server *s);

static void on_timer(uv_timer_t *t)
{
	server_run(t->data);
}

static void server_schedule(struct http_server *s)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	if (s->closing)
		return;
	if (!s->kick && MHD_get_timeout(s->mhd, &ms) != MHD_YES) {
		uv_timer_stop(&s->timer);
		return;
	}
	if (s->kick)
		ms = 0;
	uv_timer_start(&s->timer, on_timer, ms > 60000 ? 60000 : ms, 0);
}

static void server_run(struct http_server *s)
{
	if (s->closing || s->running)
		return;
	s->kick = false;
	s->running = true;
	MHD_run(s->mhd);
	/* A second pass: what the first one closed can change what libmicrohttpd watches
	 * (a full server watches its listening socket again only then), and such a change
	 * neither wakes its epoll descriptor nor shows in its timeout. */
	MHD_run(s->mhd);
	s->running = false;
	server_schedule(s);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	server_run(p->data);
}

/* ---- requests ---- */

static enum MHD_Result queue_static(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								  MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static void add_common_headers(struct MHD_Response *r, const char *content_type)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
}

static const struct http_route *find_route(const struct http_server *s, const char *path)
{
	for (size_t i = 0; i < s->nroutes; i++)
		if (strcmp(s->routes[i].path, path) == 0)
			return &s->routes[i];
	return NULL;
}

static void add_reply_headers(struct MHD_Response *r, const struct http_reply *reply)
{
	for (size_t at = 0; at < reply->headers_len;) {
		const char *name = reply->headers + at;
		const char *value = name + strlen(name) + 1;

		MHD_add_response_header(r, name, value);
		at = (size_t)(value - reply->headers) + strlen(value) + 1;
	}
}

static enum MHD_Result serve_plain(const struct http_route *route, struct http_request *req)
{
	struct http_reply reply = {.status = MHD_HTTP_OK};
	struct MHD_Response *r;
	enum MHD_Result rc;

	snprintf(reply.content_type, sizeof reply.content_type, "text/plain; charset=utf-8");
	route->handler(route->ctx, req, &reply);
	if (reply.nomem) {
		free(reply.body);
		return queue_static(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	r = MHD_create_response_from_buffer(reply.len, reply.body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(reply.body);
		return MHD_NO;
	}
	add_common_headers(r, reply.content_type);
	add_reply_headers(r, &reply);
	rc = MHD_queue_response(req->conn, reply.status, r);
	MHD_destroy_response(r);
	return rc;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max);
static void stream_free(void *cls);

static enum MHD_Result serve_stream(struct http_server *s, const struct http_route *route,
				    struct http_request *req)
{
	struct http_stream *st = calloc(1, sizeof *st);
	struct MHD_Response *r;
	enum MHD_Result rc;

	if (!st)
		return queue_static(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	st->server = s;
	st->conn = req->conn;
	st->event_stream = strncmp(route->content_type, "text/event-stream", 17) == 0;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_STREAM_BLOCK, stream_read,
					      st, stream_free);
	if (!r) {
		free(st);
		return MHD_NO;
	}
	st->next = s->streams;
	if (s->streams)
		s->streams->prev = st;
	s->streams = st;
	add_common_headers(r, route->content_type);
	rc = MHD_queue_response(req->conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);  /* the connection holds it; stream_free runs at its end */
	if (rc == MHD_YES)
		route->stream(route->ctx, req, st);
	return rc;
}

static bool has_body(struct MHD_Connection *c)
{
	const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return true;
	return len && strcmp(len, "0") != 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct http_server *s = cls;
	struct http_request req = {.conn = conn, .path = url, .method = method};
	const struct http_route *route;

	if (*con_cls) {  /* a body arrived after all: it was refused already */
		*upload_data_size = 0;
		return MHD_YES;
	}
	*con_cls = s;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return queue_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (has_body(conn))
		return queue_static(conn, MHD_HTTP_CONTENT_TOO_LARGE, "no body expected\n");
	route = find_route(s, url);
	if (!route)
		return queue_static(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	if (route->stream)
		return serve_stream(s, route, &req);
	return serve_plain(route, &req);
}

const char *http_request_path(const struct http_request *req)
{
	return req->path;
}

const char *http_request_method(const struct http_request *req)
{
	return req->method;
}

const char *http_request_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* ---- replies ---- */

void http_reply_status(struct http_reply *r, unsigned status, const char *content_type)
{
	r->status = status;
	if (content_type)
		snprintf(r->content_type, sizeof r->content_type, "%s", content_type);
}

static bool grow(char **buf, size_t *cap, size_t need)
{
	size_t cap2 = *cap ? *cap : 1024;
	char *b;

	if (need <= *cap)
		return true;
	while (cap2 < need)
		cap2 *= 2;
	b = realloc(*buf, cap2);
	if (!b)
		return false;
	*buf = b;
	*cap = cap2;
	return true;
}

void http_reply_header(struct http_reply *r, const char *name, const char *value)
{
	size_t n = strlen(name) + 1, v = strlen(value) + 1;

	if (r->headers_len + n + v > sizeof r->headers) {
		r->nomem = true;  /* a handler's mistake: the reply becomes a 500 */
		return;
	}
	memcpy(r->headers + r->headers_len, name, n);
	memcpy(r->headers + r->headers_len + n, value, v);
	r->headers_len += n + v;
}

void http_reply_append(struct http_reply *r, const void *data, size_t len)
{
	if (r->nomem || len == 0)
		return;
	if (!grow(&r->body, &r->cap, r->len + len)) {
		r->nomem = true;
		return;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
}

void http_reply_vprintf(struct http_reply *r, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	if (r->nomem)
		return;
	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0 || !grow(&r->body, &r->cap, r->len + (size_t)n + 1)) {
		r->nomem = true;
	} else {
		vsnprintf(r->body + r->len, (size_t)n + 1, fmt, again);
		r->len += (size_t)n;
	}
	va_end(again);
}

void http_reply_printf(struct http_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	http_reply_vprintf(r, fmt, ap);
	va_end(ap);
}

/* ---- streams ---- */

static void stream_wake(struct http_stream *st)
{
	struct http_server *s = st->server;

	if (st->suspended) {
		st->suspended = false;
		MHD_resume_connection(st->conn);
	}
	s->kick = true;
	if (!s->running)
		server_schedule(s);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *st = cls;
	size_t n;

	if (st->off < st->len) {
		n = st->len - st->off < max ? st->len - st->off : max;
		memcpy(buf, st->buf + st->off, n);
		st->off += n;
		if (st->off == st->len)
			st->off = st->len = 0;
		return (ssize_t)n;
	}
	if (st->ended || st->server->closing)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* Nothing to send: out of libmicrohttpd's loop until a push wakes it. */
	st->suspended = true;
	MHD_suspend_connection(st->conn);
	return 0;
}

static void stream_free(void *cls)
{
	struct http_stream *st = cls;
	struct http_server *s = st->server;

	if (st->prev)
		st->prev->next = st->next;
	else
		s->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	if (st->on_close)
		st->on_close(st->on_close_arg);
	free(st->buf);
	free(st);
}

int http_stream_push(struct http_stream *st, const void *data, size_t len)
{
	if (st->ended)
		return -EPIPE;
	if (st->len - st->off + len > st->server->max_stream_backlog) {
		log_info("a stream client is too slow (%zu bytes queued): disconnecting it",
			 st->len - st->off);
		st->ended = true;
		st->off = st->len = 0;
		stream_wake(st);
		return -ENOBUFS;
	}
	if (!grow(&st->buf, &st->cap, st->len + len))
		return -ENOMEM;
	memcpy(st->buf + st->len, data, len);
	st->len += len;
	stream_wake(st);
	return 0;
}

int http_stream_printf(struct http_stream *st, const char *fmt, ...)
{
	char small[512], *big = NULL;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof small)
		return http_stream_push(st, small, (size_t)n);
	big = malloc((size_t)n + 1);
	if (!big)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = http_stream_push(st, big, (size_t)n);
	free(big);
	return rc;
}

void http_stream_on_close(struct http_stream *st, void (*on_close)(void *arg), void *arg)
{
	st->on_close = on_close;
	st->on_close_arg = arg;
}

void http_stream_close(struct http_stream *st)
{
	st->on_close = NULL;
	st->ended = true;
	stream_wake(st);
}

/* A comment every HTTP_HEARTBEAT_MS on each idle event stream: proxies keep it open, and
 * writing it is how a client gone while the stream was suspended is found. */
static void on_heartbeat(uv_timer_t *t)
{
	struct http_server *s = t->data;
	static const char beat[] = ": keep-alive\n\n";

	for (struct http_stream *st = s->streams, *next; st; st = next) {
		next = st->next;
		if (st->event_stream && !st->ended && st->len == st->off)
			http_stream_push(st, beat, sizeof beat - 1);
	}
}

/* ---- start and stop ---- */

int http_server_route(struct http_server *s, const char *path, http_handler_fn fn, void *ctx)
{
	if (find_route(s, path))
		return -EEXIST;
	if (s->nroutes == HTTP_MAX_ROUTES)
		return -ENOSPC;
	s->routes[s->nroutes].path = strdup(path);
	if (!s->routes[s->nroutes].path)
		return -ENOMEM;
	s->routes[s->nroutes].handler = fn;
	s->routes[s->nroutes].ctx = ctx;
	s->nroutes++;
	return 0;
}

int http_server_route_stream(struct http_server *s, const char *path, const char *content_type,
			     http_stream_fn fn, void *ctx)
{
	int rc = http_server_route(s, path, NULL, ctx);
	struct http_route *r;

	if (rc != 0)
		return rc;
	r = &s->routes[s->nroutes - 1];
	r->stream = fn;
	r->content_type = strdup(content_type);
	if (!r->content_type) {
		free(r->path);
		s->nroutes--;
		return -ENOMEM;
	}
	return 0;
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

bool http_server_is_tls(const struct http_server *s)
{
	return s->tls;
}

static bool is_loopback(const struct ip_addr *a)
{
	static const uint8_t v6_loopback[16] = {[15] = 1};
	static const uint8_t v4_mapped[12] = {[10] = 0xff, [11] = 0xff};

	if (a->family == AF_INET)
		return a->bytes[0] == 127;
	if (memcmp(a->bytes, v6_loopback, 16) == 0)
		return true;
	return memcmp(a->bytes, v4_mapped, 12) == 0 && a->bytes[12] == 127;
}

/* The whole of a PEM file, NUL-terminated; NULL with errno set. */
static char *read_pem(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	ssize_t n = -1;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size <= HTTP_PEM_MAX) {
		buf = malloc((size_t)st.st_size + 1);
		if (buf)
			n = read(fd, buf, (size_t)st.st_size);
	} else {
		errno = EFBIG;
	}
	close(fd);
	if (buf && n != st.st_size) {
		free(buf);
		errno = EIO;
		return NULL;
	}
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

static int open_listener(const struct ip_endpoint *ep, uint16_t *port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = ip_endpoint_to_sockaddr(ep, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, rc;
	char text[IP_STRLEN];

	if (fd < 0)
		return err_set(err, errlen, -errno, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, HTTP_LISTEN_BACKLOG) != 0) {
		rc = -errno;
		close(fd);
		return err_set(err, errlen, rc, "cannot listen on %s: %s",
			       ip_endpoint_format(ep, text, sizeof text), strerror(-rc));
	}
	sl = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	log_debug("http: %s", line);
}

static int load_tls(struct http_server *s, const struct http_server_config *cfg, char *err,
		    size_t errlen)
{
	size_t len;

	if (!cfg->cert_file != !cfg->key_file)
		return err_set(err, errlen, -EINVAL, "HTTPS needs both a certificate and a key");
	if (!cfg->cert_file)
		return 0;
	s->cert_pem = read_pem(cfg->cert_file, &len);
	if (!s->cert_pem)
		return err_set(err, errlen, -errno, "cannot read %s: %s", cfg->cert_file,
			       strerror(errno));
	s->key_pem = read_pem(cfg->key_file, &s->key_len);
	if (!s->key_pem)
		return err_set(err, errlen, -errno, "cannot read %s: %s", cfg->key_file,
			       strerror(errno));
	s->tls = true;
	return 0;
}

static void server_free(struct http_server *s)
{
	for (size_t i = 0; i < s->nroutes; i++) {
		free(s->routes[i].path);
		free(s->routes[i].content_type);
	}
	if (s->key_pem)
		explicit_bzero(s->key_pem, s->key_len);
	free(s->key_pem);
	free(s->cert_pem);
	free(s);
}

static int start_mhd(struct http_server *s, const struct http_server_config *cfg, int fd)
{
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	size_t mem = cfg->max_request_bytes ? cfg->max_request_bytes : 16 * 1024;

	if (s->tls)
		flags |= MHD_USE_TLS;
	/* The memory pool of a connection holds its request headers and the send buffer:
	 * the bound on the request plus room for a stream block. */
	mem += 2 * HTTP_STREAM_BLOCK;
	if (s->tls)
		s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
			MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
			MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections ? cfg->max_connections : 64u,
			MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_client ? cfg->max_per_client : 16u,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem,
			MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s ? cfg->idle_timeout_s : 30u,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem,
			MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
			MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
			MHD_OPTION_END);
	else
		s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
			MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
			MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections ? cfg->max_connections : 64u,
			MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_client ? cfg->max_per_client : 16u,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem,
			MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s ? cfg->idle_timeout_s : 30u,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			MHD_OPTION_END);
	return s->mhd ? 0 : -EIO;
}

static int start_handles(struct http_server *s, unsigned heartbeat_ms)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	int rc;

	if (!info)
		return -EIO;
	rc = uv_poll_init(s->loop, &s->poll, info->epoll_fd);
	if (rc != 0)
		return rc;
	s->open_handles++;
	s->poll.data = s;
	uv_timer_init(s->loop, &s->timer);
	s->timer.data = s;
	s->open_handles++;
	uv_timer_init(s->loop, &s->heartbeat);
	s->heartbeat.data = s;
	s->open_handles++;
	uv_unref((uv_handle_t *)&s->heartbeat);
	if (!heartbeat_ms)
		heartbeat_ms = HTTP_HEARTBEAT_MS;
	uv_timer_start(&s->heartbeat, on_heartbeat, heartbeat_ms, heartbeat_ms);
	return uv_poll_start(&s->poll, UV_READABLE, on_poll);
}

int http_server_start(uv_loop_t *loop, const struct http_server_config *cfg,
		      struct http_server **out, char *err, size_t errlen)
{
	struct http_server *s;
	struct ip_endpoint ep;
	char text[IP_STRLEN];
	int fd, rc;

	*out = NULL;
	if (!cfg->listen || ip_endpoint_parse(cfg->listen, &ep) != 0)
		return err_set(err, errlen, -EINVAL, "listen address '%s' is not address:port",
			       cfg->listen ? cfg->listen : "");
	s = calloc(1, sizeof *s);
	if (!s)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	s->loop = loop;
	s->max_stream_backlog = cfg->max_stream_backlog ? cfg->max_stream_backlog : 256 * 1024;
	rc = load_tls(s, cfg, err, errlen);
	if (rc == 0 && !s->tls && !cfg->allow_plain_remote && !is_loopback(&ep.addr))
		rc = err_set(err, errlen, -EACCES,
			     "refusing plain HTTP on %s, which is not a loopback address: give a "
			     "certificate and key, or allow plain HTTP there explicitly",
			     ip_endpoint_format(&ep, text, sizeof text));
	if (rc != 0) {
		server_free(s);
		return rc;
	}
	fd = open_listener(&ep, &s->port, err, errlen);
	if (fd < 0) {
		server_free(s);
		return fd;
	}
	rc = start_mhd(s, cfg, fd);
	if (rc != 0) {
		close(fd);
		server_free(s);
		return err_set(err, errlen, rc, "libmicrohttpd did not start (bad certificate or key?)");
	}
	rc = start_handles(s, cfg->heartbeat_ms);
	if (rc != 0) {
		http_server_close(s, NULL, NULL);
		return err_set(err, errlen, rc, "cannot watch the HTTP server: %s", uv_strerror(rc));
	}
	server_schedule(s);
	*out = s;
	return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct http_server *s = h->data;

	if (--s->open_handles > 0)
		return;
	if (s->done)
		s->done(s->done_arg);
	server_free(s);
}

void http_server_close(struct http_server *s, void (*done)(void *arg), void *arg)
{
	int handles = s->open_handles;

	s->done = done;
	s->done_arg = arg;
	/* libmicrohttpd must not be stopped with a suspended connection: end them all. */
	for (struct http_stream *st = s->streams; st; st = st->next) {
		st->ended = true;
		if (st->suspended) {
			st->suspended = false;
			MHD_resume_connection(st->conn);
		}
	}
	s->closing = true;
	if (handles > 0) {  /* stop watching the epoll descriptor before it is closed */
		uv_close((uv_handle_t *)&s->poll, on_handle_closed);
		uv_close((uv_handle_t *)&s->timer, on_handle_closed);
		uv_close((uv_handle_t *)&s->heartbeat, on_handle_closed);
	}
	MHD_stop_daemon(s->mhd);  /* closes connections: each stream's on_close runs */
	s->mhd = NULL;
	if (handles == 0) {
		if (done)
			done(arg);
		server_free(s);
	}
}
