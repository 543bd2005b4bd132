/* The daemon's view of the revocation list, kept fresh while `serve` runs. Operators
 * revoke with the CLI, which writes the directory file from another process; the watch
 * notices within REVOCATION_POLL_MS (SQLite's PRAGMA data_version, one cheap statement)
 * or at the next request, reloads the serials, and reports the newly revoked ones so that
 * serve.c can close their connections at once and push them to the secondaries. Every
 * request is checked against the in-memory set: a hash look-up, no query. */
#ifndef INSEL_PRINCIPAL_REVOCATION_WATCH_H
#define INSEL_PRINCIPAL_REVOCATION_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "db.h"

#define REVOCATION_POLL_MS 500

/* newly: an array of the serials (strings) revoked since the last report. */
typedef void (*revocation_changed_fn)(void *ctx, const json_t *newly);

struct revocation_watch {
	struct db *db;
	int64_t data_version;
	json_t *revoked;            /* serial -> true */
	uv_timer_t timer;
	revocation_changed_fn changed;
	void *ctx;
};

/* Loads the list and polls it every REVOCATION_POLL_MS. */
int revocation_watch_start(struct revocation_watch *w, uv_loop_t *loop, struct db *db,
			   revocation_changed_fn changed, void *ctx);
/* Polls now (the directory must not be inside a held read window, whose snapshot would
 * hide the change); reports newly revoked serials through changed. */
void revocation_watch_refresh(struct revocation_watch *w);
bool revocation_watch_revoked(const struct revocation_watch *w, const char *serial);
void revocation_watch_stop(struct revocation_watch *w);

#endif
