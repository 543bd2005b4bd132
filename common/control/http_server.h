/* A small HTTP(S) server for what the daemons show to operators (/metrics, the web view),
 * built on libmicrohttpd and run inside the daemon's own libuv loop.
 *
 * libmicrohttpd runs in its "external" mode with epoll: its one epoll descriptor is
 * watched by a uv_poll and its timeouts by a uv_timer, so every request is parsed and
 * every handler runs on the loop thread. Handlers read the daemon's state directly, with
 * no lock and no thread (the seccomp policies need nothing new: the listening socket is
 * made here, before or after the filter, with the socket kinds the daemons already have).
 *
 * What it serves: GET (and HEAD) of registered paths only; a body is refused (413), any
 * other method 405, an unknown path 404. Connections (total and per client address),
 * the bytes of a request's headers and the idle time of a connection are bounded.
 * Plain HTTP binds to a loopback address only, unless the caller says otherwise
 * explicitly; HTTPS takes a certificate chain and key in PEM (GnuTLS, in the library).
 *
 * Streams (server-sent events and the like): a stream handler gets a struct http_stream
 * and the loop pushes bytes to it when it likes; each stream buffers a bounded amount,
 * and a client too slow to take it is dropped. The server sends a comment line
 * (": keep-alive") every 15 s on every idle event stream, which also finds clients gone
 * (a stream waiting for a push does not watch its socket). */
#ifndef INSEL_HTTP_SERVER_H
#define INSEL_HTTP_SERVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct http_server;
struct http_request;
struct http_reply;
struct http_stream;

struct http_server_config {
	const char *listen;            /* "127.0.0.1:9460", "[::1]:0" (0: any free port) */
	const char *cert_file;         /* PEM chain; with key_file: HTTPS */
	const char *key_file;          /* PEM private key */
	bool allow_plain_remote;       /* plain HTTP on a non-loopback address */
	unsigned max_connections;      /* 0: 64 */
	unsigned max_per_client;       /* connections from one address; 0: 16 */
	size_t max_request_bytes;      /* request line and headers; 0: 16 KiB */
	unsigned idle_timeout_s;       /* 0: 30 */
	size_t max_stream_backlog;     /* bytes queued per stream; 0: 256 KiB */
	unsigned heartbeat_ms;         /* keep-alive comments on event streams; 0: 15000 */
};

/* Builds the reply of a plain request on the loop thread. The reply starts as 200 with
 * text/plain; the handler appends the body (copied) and may change both. */
typedef void (*http_handler_fn)(void *ctx, const struct http_request *req,
				struct http_reply *reply);
/* A new stream client: the handler may push at once; it keeps `stream` until it calls
 * http_stream_close() or its on_close callback runs. */
typedef void (*http_stream_fn)(void *ctx, const struct http_request *req,
			       struct http_stream *stream);

/* Listens and serves on loop. 0, or -errno / INSEL_E_* with a sentence in err. */
int http_server_start(uv_loop_t *loop, const struct http_server_config *cfg,
		      struct http_server **out, char *err, size_t errlen);
/* The port listened on (useful after "...:0"). */
uint16_t http_server_port(const struct http_server *s);
bool http_server_is_tls(const struct http_server *s);
/* Registers a handler for one exact path ("/metrics"). 0, -EEXIST or -ENOSPC. */
int http_server_route(struct http_server *s, const char *path, http_handler_fn fn, void *ctx);
/* Registers a stream handler; the response has content_type (e.g. "text/event-stream"). */
int http_server_route_stream(struct http_server *s, const char *path, const char *content_type,
			     http_stream_fn fn, void *ctx);
/* Ends every stream (each owner's on_close runs), stops listening, and frees the server
 * once its handles are closed; done (may be NULL) runs then. */
void http_server_close(struct http_server *s, void (*done)(void *arg), void *arg);

/* The request: the path (without query), the method, a query argument or a header
 * (NULL if absent). Valid during the handler only. */
const char *http_request_path(const struct http_request *req);
const char *http_request_method(const struct http_request *req);
const char *http_request_query(const struct http_request *req, const char *name);
const char *http_request_header(const struct http_request *req, const char *name);

/* The reply being built. Appending fails (and the reply becomes a 500) only when memory
 * runs out; a handler need not check each call. */
void http_reply_status(struct http_reply *r, unsigned status, const char *content_type);
/* Adds a header to the reply (name and value copied; 1 KiB for all of them, past which
 * the reply becomes a 500), after the server's own (Cache-Control, nosniff). */
#define HTTP_REPLY_HEADER_BYTES 1024
void http_reply_header(struct http_reply *r, const char *name, const char *value);
void http_reply_append(struct http_reply *r, const void *data, size_t len);
void http_reply_printf(struct http_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void http_reply_vprintf(struct http_reply *r, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Queues bytes on a stream. 0; -EPIPE once it has ended; -ENOBUFS when its backlog would
 * pass the bound, in which case the stream is ended (a client that cannot keep up gets
 * disconnected rather than holding the daemon's memory). */
int http_stream_push(struct http_stream *st, const void *data, size_t len);
int http_stream_printf(struct http_stream *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Runs on_close(arg) once when the client goes, the stream overflows or the server
 * closes; `st` is invalid after it. */
void http_stream_on_close(struct http_stream *st, void (*on_close)(void *arg), void *arg);
/* Ends the stream after what is queued is sent; `st` is invalid after the call, and its
 * on_close does not run. */
void http_stream_close(struct http_stream *st);

#endif
