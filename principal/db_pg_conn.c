/* The PostgreSQL backend's connection (db_engine_priv.h): made at open, and made again
 * without blocking the principal when it is lost.
 *
 * The principal is one event loop; a directory statement runs inside it. When the
 * server goes away (a restart, a failover, its machine lost), waiting for a new
 * connection inside a statement would stop every gateway's heartbeat and every look-up
 * for as long as connecting takes. So a lost connection is replaced by one made with
 * libpq's non-blocking calls (PQconnectStartParams, PQconnectPoll): each statement
 * advances the attempt as far as its socket allows at that moment and, while no
 * connection is there, fails at once with INSEL_E_DB_DOWN (`directory_unavailable` on
 * the wire). Only the statement that finds the connection lost waits, at most
 * FIRST_WAIT_MS, for a server that answers at once (one restarted, a standby already
 * promoted). Attempts that fail are spaced out, from RETRY_FIRST_MS doubling up to
 * RETRY_MAX_MS; an attempt that has not connected after ATTEMPT_MAX_MS is given up.
 *
 * Host names in the connection string are resolved inside the attempt (getaddrinfo, which
 * blocks): a principal's DSN names its servers by address, or by names the resolver
 * answers from its files. */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_engine_priv.h"
#include "db_internal.h"
#include "err.h"

#define FIRST_WAIT_MS 100
#define RETRY_FIRST_MS 250
#define RETRY_MAX_MS 2000
#define ATTEMPT_MAX_MS 10000

/* Connection parameters the connection string may override (they come before it): a
 * bounded wait for the first connection, and a TCP connection whose server's machine
 * vanished given up after 10 s without acknowledgement (tcp_user_timeout) or without
 * keepalive answers, instead of the kernel's quarter of an hour. */
static const char *const default_keys[] = {
	"connect_timeout", "tcp_user_timeout", "keepalives_idle", "keepalives_interval",
	"keepalives_count",
};
static const char *const default_values[] = {"10", "10000", "10", "5", "3"};
#define NDEFAULTS (sizeof default_keys / sizeof default_keys[0])

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;  /* "relation already exists, skipping" and the like */
}

/* Why conn is not connected, its first line. */
static void note_down(struct db *db, PGconn *conn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note_down(struct db *db, PGconn *conn, const char *fmt, ...)
{
	const char *why = conn ? PQerrorMessage(conn) : "out of memory";
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(db->pg_state, sizeof db->pg_state, "08006");
	snprintf(db->pg_msg, sizeof db->pg_msg, "%s%s%.*s", what, why[0] ? ": " : "",
		 (int)strcspn(why, "\n"), why);
}

static PGconn *start(const char *dsn, bool blocking)
{
	const char *keys[NDEFAULTS + 2], *values[NDEFAULTS + 2];

	for (size_t i = 0; i < NDEFAULTS; i++) {
		keys[i] = default_keys[i];
		values[i] = default_values[i];
	}
	keys[NDEFAULTS] = "dbname";  /* expanded: the connection string's own words win */
	values[NDEFAULTS] = dsn;
	keys[NDEFAULTS + 1] = values[NDEFAULTS + 1] = NULL;
	return blocking ? PQconnectdbParams(keys, values, 1)
			: PQconnectStartParams(keys, values, 1);
}

/* What every connection of the directory's sets first. */
static bool configure(struct db *db, PGconn *conn)
{
	PGresult *res;
	bool ok;

	PQsetNoticeProcessor(conn, quiet_notices, NULL);
	res = PQexec(conn, "SET client_min_messages = warning");
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok)
		note_down(db, conn, "cannot configure the session");
	return ok;
}

int pg_connect(struct db *db, const char *dsn)
{
	db->pg_dsn = strdup(dsn);
	if (!db->pg_dsn)
		return db_set_error(db, INSEL_E_DB, "out of memory");
	db->pg = start(dsn, true);
	if (!db->pg)
		return db_set_error(db, INSEL_E_DB, "cannot connect to PostgreSQL: out of memory");
	if (PQstatus(db->pg) != CONNECTION_OK) {
		note_down(db, db->pg, "cannot connect");
		return db_set_error(db, INSEL_E_DB, "cannot connect to PostgreSQL: %s", db->pg_msg);
	}
	if (!configure(db, db->pg))
		return db_set_error(db, INSEL_E_DB, "%s", db->pg_msg);
	return 0;
}

void pg_disconnect(struct db *db)
{
	if (db->pg)
		PQfinish(db->pg);
	if (db->pg_next)
		PQfinish(db->pg_next);
	db->pg = db->pg_next = NULL;
	free(db->pg_dsn);
	db->pg_dsn = NULL;
}

/* The attempt failed: the next one waits, longer after each failure in a row. */
static bool attempt_failed(struct db *db, const char *why)
{
	int64_t wait;

	note_down(db, db->pg_next, "%s", why);
	if (db->pg_next)
		PQfinish(db->pg_next);
	db->pg_next = NULL;
	wait = db->pg_backoff_ms ? 2 * db->pg_backoff_ms : RETRY_FIRST_MS;
	db->pg_backoff_ms = wait > RETRY_MAX_MS ? RETRY_MAX_MS : wait;
	db->pg_retry_at = now_ms() + db->pg_backoff_ms;
	return false;
}

/* The new connection takes the lost one's place; the table's statements are prepared
 * on it again at their next run (ad hoc ones live within one function). */
static bool adopt(struct db *db)
{
	PGconn *conn = db->pg_next;

	if (!configure(db, conn))
		return attempt_failed(db, "cannot configure the session");
	PQfinish(db->pg);
	db->pg = db->pg_next;
	db->pg_next = NULL;
	db->pg_backoff_ms = 0;
	db->pg_reconnects++;
	for (int i = 0; i < ST_COUNT; i++)
		if (db->stmt[i] && db->stmt[i]->text)
			db->stmt[i]->prepared = false;
	return true;
}

/* Advances the attempt while its socket is ready, waiting for it at most wait_ms. */
static bool advance(struct db *db, int64_t wait_ms)
{
	PGconn *conn = db->pg_next;
	int64_t end = now_ms() + wait_ms;

	for (;;) {
		struct pollfd p = {.fd = PQsocket(conn)};
		int64_t left = end - now_ms();
		int ready;

		if (db->pg_poll == PGRES_POLLING_OK)
			return adopt(db);
		if (db->pg_poll == PGRES_POLLING_FAILED || p.fd < 0)
			return attempt_failed(db, "cannot connect");
		p.events = db->pg_poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		ready = poll(&p, 1, left > 0 ? (int)left : 0);
		if (ready < 0 && errno != EINTR)
			return attempt_failed(db, "cannot wait for the connection");
		if (ready == 0) {
			if (now_ms() >= db->pg_next_deadline)
				return attempt_failed(db, "connecting timed out");
			snprintf(db->pg_state, sizeof db->pg_state, "08001");
			snprintf(db->pg_msg, sizeof db->pg_msg, "connecting again");
			return false;
		}
		if (ready > 0)
			db->pg_poll = PQconnectPoll(conn);
	}
}

bool pg_connection_ready(struct db *db, bool just_lost)
{
	int64_t now;

	if (PQstatus(db->pg) == CONNECTION_OK)
		return true;
	now = now_ms();
	if (!db->pg_next) {
		if (now < db->pg_retry_at) {
			snprintf(db->pg_state, sizeof db->pg_state, "08006");
			snprintf(db->pg_msg, sizeof db->pg_msg, "connection lost; next attempt "
				 "to connect in %lld ms", (long long)(db->pg_retry_at - now));
			return false;
		}
		db->pg_next = start(db->pg_dsn, false);
		if (!db->pg_next || PQstatus(db->pg_next) == CONNECTION_BAD)
			return attempt_failed(db, "cannot connect");
		/* As libpq asks: wait until the socket is writable, then poll. */
		db->pg_poll = PGRES_POLLING_WRITING;
		db->pg_next_deadline = now + ATTEMPT_MAX_MS;
	}
	return advance(db, just_lost ? FIRST_WAIT_MS : 0);
}

bool pg_connection_down(const struct db *db)
{
	return PQstatus(db->pg) != CONNECTION_OK;
}
