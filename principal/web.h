/* The principal's live web view (docs/webview.md): a read-only page of sites, links,
 * calls and rooms, served over HTTPS (or plain HTTP on loopback) by the daemon's own loop
 * through common/control/http_server.h. Off unless [web] listen is configured.
 *
 *   GET /            the page (principal/web/index.html), then /style.css and /app.js
 *   GET /api/state   the state as JSON (web_state.h), built at the request
 *   GET /api/events  server-sent events: one "state" event at once, then one a second
 *
 * Every reply carries a Content-Security-Policy that lets the page load only its own
 * script and style sheet and talk only to its own origin. */
#ifndef INSEL_PRINCIPAL_WEB_H
#define INSEL_PRINCIPAL_WEB_H

#include <stdbool.h>
#include <uv.h>

#include "db.h"

#define WEB_STREAMS_MAX 32      /* browsers following /api/events at once */
#define WEB_TICK_MS 1000        /* how often they get the state */

struct web_options {
	const char *listen;        /* "127.0.0.1:8080"; NULL: no web view */
	bool https;
	const char *cert, *key;    /* for https: PEM files (by default the principal's own) */
};

struct web_view;

/* Starts serving on loop; 0 (with *out NULL when o->listen is NULL), or an error with a
 * sentence logged. principal: the name shown in the page's title. */
struct call_rates;
/* rates: the live calls' rates (call_rates.h), or NULL. */
int web_view_start(uv_loop_t *loop, struct db *db, const char *principal,
		   struct call_rates *rates, const struct web_options *o,
		   struct web_view **out);
/* The port it listens on (0 for none). */
unsigned web_view_port(const struct web_view *w);
/* Ends every stream and stops listening; w is freed once its handles are closed. */
void web_view_stop(struct web_view *w);

#endif
