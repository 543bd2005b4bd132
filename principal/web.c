/* The principal's web view (web.h): the routes on the shared HTTP server, and a timer
 * that sends the state to every browser following /api/events. */
#include "web.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call_rates.h"
#include "http_server.h"
#include "log.h"
#include "web_assets.h"
#include "web_state.h"

/* The page may run only its own script and style sheet and talk only to its own origin:
 * a directory string that got past the page's escaping still could not run, load or
 * send anything. */
#define WEB_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
		"connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; " \
		"frame-ancestors 'none'"

struct web_client {
	struct web_view *w;
	struct http_stream *stream;
	struct web_client *prev, *next;
};

struct web_view {
	struct http_server *http;
	struct db *db;
	struct call_rates *rates;          /* or NULL */
	char principal[DB_NAME_MAX + 1];
	uv_timer_t tick;
	struct web_client *clients;
	unsigned nclients;
};

/* Beside the server's own (Cache-Control: no-store, X-Content-Type-Options: nosniff). */
static void secure_headers(struct http_reply *r)
{
	http_reply_header(r, "Content-Security-Policy", WEB_CSP);
	http_reply_header(r, "Referrer-Policy", "no-referrer");
	http_reply_header(r, "X-Frame-Options", "DENY");
}

const struct web_asset *web_asset_find(const char *path)
{
	for (unsigned i = 0; path && i < web_asset_count; i++)
		if (strcmp(web_assets[i].path, path) == 0)
			return &web_assets[i];
	return NULL;
}

static void serve_asset(void *ctx, const struct http_request *req, struct http_reply *r)
{
	const struct web_asset *a = web_asset_find(http_request_path(req));

	(void)ctx;
	secure_headers(r);
	if (!a) {
		http_reply_status(r, 404, "text/plain; charset=utf-8");
		http_reply_printf(r, "not found\n");
		return;
	}
	http_reply_status(r, 200, a->content_type);
	http_reply_append(r, a->data, a->len);
}

/* The state now, as JSON text (malloc'd), or NULL having logged why. */
static char *state_text(struct web_view *w, size_t *len)
{
	static struct web_rate rates[WEB_CALLS_MAX * 2];  /* the loop is single-threaded */
	size_t nrates;
	json_t *state;
	char *text;
	int rc;

	/* One snapshot of the directory for the whole picture; the daemon's check handle
	 * ends it with this turn of the loop. */
	db_read_hold(w->db);
	nrates = w->rates ? call_rates_fill(w->rates, call_rates_clock_ms(), rates,
					    WEB_CALLS_MAX * 2) : 0;
	rc = web_state_build(w->db, w->principal, (int64_t)time(NULL), rates, nrates, &state);
	if (rc) {
		log_warn("web view: cannot read the directory: %s", db_errmsg(w->db));
		return NULL;
	}
	text = web_state_text(state, len);
	json_decref(state);
	if (!text)
		log_warn("web view: the state does not fit %d bytes", WEB_STATE_MAX_BYTES);
	return text;
}

static void serve_state(void *ctx, const struct http_request *req, struct http_reply *r)
{
	size_t len;
	char *text = state_text(ctx, &len);

	(void)req;
	secure_headers(r);
	if (!text) {
		http_reply_status(r, 503, "text/plain; charset=utf-8");
		http_reply_printf(r, "the directory cannot be read right now\n");
		return;
	}
	http_reply_status(r, 200, "application/json");
	http_reply_append(r, text, len);
	free(text);
}

/* One server-sent event; the JSON is one line (compact), so one data field holds it. */
static void push_state(struct http_stream *st, const char *text, size_t len)
{
	if (http_stream_printf(st, "event: state\ndata: ") == 0 &&
	    http_stream_push(st, text, len) == 0)
		http_stream_printf(st, "\n\n");
}

static void client_gone(void *arg)
{
	struct web_client *c = arg;
	struct web_view *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else
		w->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nclients--;
	free(c);
}

static void serve_events(void *ctx, const struct http_request *req, struct http_stream *st)
{
	struct web_view *w = ctx;
	struct web_client *c = w->nclients < WEB_STREAMS_MAX ? calloc(1, sizeof *c) : NULL;
	size_t len;
	char *text;

	(void)req;
	if (!c) {
		/* The browser's EventSource tries again after the retry time. */
		http_stream_printf(st, "retry: 10000\nevent: busy\ndata: too many viewers\n\n");
		http_stream_close(st);
		return;
	}
	*c = (struct web_client){.w = w, .stream = st, .next = w->clients};
	if (w->clients)
		w->clients->prev = c;
	w->clients = c;
	w->nclients++;
	http_stream_on_close(st, client_gone, c);
	if (http_stream_printf(st, "retry: 2000\n\n") == 0 && (text = state_text(w, &len))) {
		push_state(st, text, len);
		free(text);
	}
}

/* Once a tick, and only while somebody watches: the state, built once for all. A client
 * that cannot keep up is dropped by the server (its backlog is bounded). */
static void tick_cb(uv_timer_t *t)
{
	struct web_view *w = t->data;
	size_t len;
	char *text;

	if (!w->clients || !(text = state_text(w, &len)))
		return;
	for (struct web_client *c = w->clients, *next; c; c = next) {
		next = c->next;  /* a push that overflows ends the stream and frees c */
		push_state(c->stream, text, len);
	}
	free(text);
}

static int add_routes(struct web_view *w)
{
	int rc = 0;

	for (unsigned i = 0; !rc && i < web_asset_count; i++)
		rc = http_server_route(w->http, web_assets[i].path, serve_asset, w);
	if (!rc)
		rc = http_server_route(w->http, "/api/state", serve_state, w);
	if (!rc)
		rc = http_server_route_stream(w->http, "/api/events", "text/event-stream",
					      serve_events, w);
	return rc;
}

int web_view_start(uv_loop_t *loop, struct db *db, const char *principal,
		   struct call_rates *rates, const struct web_options *o,
		   struct web_view **out)
{
	struct http_server_config cfg = {
		.listen = o->listen,
		.cert_file = o->https ? o->cert : NULL,
		.key_file = o->https ? o->key : NULL,
	};
	struct web_view *w;
	char err[512] = "";
	int rc;

	*out = NULL;
	if (!o->listen)
		return 0;
	if (!(w = calloc(1, sizeof *w)))
		return -ENOMEM;
	w->db = db;
	w->rates = rates;
	snprintf(w->principal, sizeof w->principal, "%s", principal ? principal : "");
	rc = http_server_start(loop, &cfg, &w->http, err, sizeof err);
	if (rc) {
		log_error("web view: %s", err);
		free(w);
		return rc;
	}
	if ((rc = add_routes(w))) {
		log_error("web view: cannot add its routes (%d)", rc);
		http_server_close(w->http, NULL, NULL);
		free(w);
		return rc;
	}
	uv_timer_init(loop, &w->tick);
	w->tick.data = w;
	uv_timer_start(&w->tick, tick_cb, WEB_TICK_MS, WEB_TICK_MS);
	log_info("web view on %s://%s (port %u)", o->https ? "https" : "http", o->listen,
		 http_server_port(w->http));
	*out = w;
	return 0;
}

unsigned web_view_port(const struct web_view *w)
{
	return w ? http_server_port(w->http) : 0;
}

static void tick_closed(uv_handle_t *h)
{
	free(h->data);
}

void web_view_stop(struct web_view *w)
{
	if (!w)
		return;
	uv_timer_stop(&w->tick);
	/* Each stream's client_gone runs and frees its client. */
	http_server_close(w->http, NULL, NULL);
	uv_close((uv_handle_t *)&w->tick, tick_closed);
}
