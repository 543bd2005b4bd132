/* The web view's picture of the network (docs/webview.md): one JSON object built on the
 * daemon's loop thread from the directory, and what the page at / draws.
 *
 *   {principal, generated_at,
 *    sites:    [{name, prefixes, state, last_heartbeat, gateway, endpoint,
 *                gateways:[{name, role, state, last_heartbeat}]}],
 *    links:    [{a, b, kind, rtt_ms, loss_pct, cost}],
 *    calls:    [{id, caller, caller_lan, callee, callee_lan, started_at, seconds, path,
 *                rate_up, rate_down}],      the live calls, oldest first
 *    history:  [{id, caller, caller_lan, callee, callee_lan, started_at, ended_at, seconds,
 *                bytes_up, bytes_down, end_reason, path}],  the newest ended calls
 *    rooms:    [{name, network, network6, capacity, members_total,
 *                members:[{user, lan, host, address}]}],
 *    truncated:{sites, links, calls, history, rooms}  whether a list was cut at its cap}
 *
 * Every field is copied by name from the directory's listings, so nothing else they hold
 * (certificate fingerprints and serials, password hashes, keys) can reach a browser; and
 * every list has a cap, so the object stays well under WEB_STATE_MAX_BYTES whatever the
 * directory holds. Names are the directory's text as it is: the page escapes them. */
#ifndef INSEL_PRINCIPAL_WEB_STATE_H
#define INSEL_PRINCIPAL_WEB_STATE_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"

#define WEB_SITES_MAX 200
#define WEB_LINKS_MAX 400
#define WEB_CALLS_MAX 200
#define WEB_HISTORY_MAX 100
#define WEB_ROOMS_MAX 50
#define WEB_MEMBERS_MAX 64      /* shown per room; members_total counts them all */
#define WEB_STATE_MAX_BYTES (1024 * 1024)

/* What the principal knows of a live call's traffic besides its record (docs/webview.md):
 * bytes per second each way, or negative where not known. */
struct web_rate {
	const char *call_id;
	double up, down;
};

/* Builds the state at now (seconds). rates may be NULL. 0 or a negative error (err.h). */
int web_state_build(struct db *db, const char *principal, int64_t now,
		    const struct web_rate *rates, size_t nrates, json_t **out);

/* The state as compact JSON text (malloc'd, NUL-terminated), or NULL when it does not fit
 * WEB_STATE_MAX_BYTES or memory is short. */
char *web_state_text(const json_t *state, size_t *len);

#endif
