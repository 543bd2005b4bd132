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
 * Host names in the connection string: libpq would look them up inside the attempt
 * (getaddrinfo, which blocks). So where the daemon gave the directory its loop
 * (db_resolve_on_loop), each attempt first has them looked up on the loop's thread pool
 * (db_pg_names.c) and gives libpq the addresses; the statement that finds the connection
 * lost waits for that look-up within its FIRST_WAIT_MS too. The first connection, at open,
 * is made before the daemon serves and lets libpq look the names up. */
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
#include "db_pg_names.h"
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

/* A connection to dsn, after the defaults it may override; names (NULL: none) then give
 * the looked-up addresses, which override the string's hosts. */
static PGconn *start(const char *dsn, bool blocking, struct pg_names *names)
{
	const char *keys[NDEFAULTS + 5], *values[NDEFAULTS + 5];
	size_t n = 0;

	for (size_t i = 0; i < NDEFAULTS; i++, n++) {
		keys[n] = default_keys[i];
		values[n] = default_values[i];
	}
	keys[n] = "dbname";  /* expanded: the connection string's own words win */
	values[n++] = dsn;
	if (names) {
		const char *port;

		keys[n] = "host";
		keys[n + 1] = "hostaddr";
		pg_names_take(names, &values[n], &values[n + 1], &port);
		n += 2;
		if (port) {
			keys[n] = "port";
			values[n++] = port;
		}
	}
	keys[n] = values[n] = NULL;
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
	db->pg = start(dsn, true, NULL);
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
	pg_names_free(db->pg_names);
	db->pg_names = NULL;
	free(db->pg_dsn);
	db->pg_dsn = NULL;
}

/* No attempt for a while: longer after each failure in a row. */
static bool back_off(struct db *db)
{
	int64_t wait = db->pg_backoff_ms ? 2 * db->pg_backoff_ms : RETRY_FIRST_MS;

	db->pg_backoff_ms = wait > RETRY_MAX_MS ? RETRY_MAX_MS : wait;
	db->pg_retry_at = now_ms() + db->pg_backoff_ms;
	return false;
}

/* The attempt failed: the next one waits. */
static bool attempt_failed(struct db *db, const char *why)
{
	note_down(db, db->pg_next, "%s", why);
	if (db->pg_next)
		PQfinish(db->pg_next);
	db->pg_next = NULL;
	return back_off(db);
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

/* Whether the host names have addresses for the next attempt (or need none), looking
 * them up off the loop and waiting for that at most *wait_ms, which it spends. */
static bool names_looked_up(struct db *db, int64_t *wait_ms)
{
	struct pg_names *n = db->pg_names;
	int64_t t0 = now_ms();
	enum pg_names_state st;

	if (!n)
		return true;
	if (pg_names_state(n) == PG_NAMES_IDLE && pg_names_lookup(n, db->pg_loop) != 0) {
		snprintf(db->pg_state, sizeof db->pg_state, "08001");
		snprintf(db->pg_msg, sizeof db->pg_msg, "cannot look the host names up");
		return back_off(db);
	}
	st = pg_names_wait(n, *wait_ms);
	*wait_ms -= now_ms() - t0;
	if (*wait_ms < 0)
		*wait_ms = 0;
	if (st == PG_NAMES_READY)
		return true;
	if (st == PG_NAMES_FAILED) {
		snprintf(db->pg_state, sizeof db->pg_state, "08001");
		snprintf(db->pg_msg, sizeof db->pg_msg, "%s", pg_names_failed(n));
		return back_off(db);
	}
	snprintf(db->pg_state, sizeof db->pg_state, "08001");
	snprintf(db->pg_msg, sizeof db->pg_msg, "looking up the host names to connect again");
	return false;
}

bool pg_connection_ready(struct db *db, bool just_lost)
{
	int64_t now, wait = just_lost ? FIRST_WAIT_MS : 0;

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
		if (!names_looked_up(db, &wait))
			return false;
		db->pg_next = start(db->pg_dsn, false, db->pg_names);
		if (!db->pg_next || PQstatus(db->pg_next) == CONNECTION_BAD)
			return attempt_failed(db, "cannot connect");
		/* As libpq asks: wait until the socket is writable, then poll. */
		db->pg_poll = PGRES_POLLING_WRITING;
		db->pg_next_deadline = now_ms() + ATTEMPT_MAX_MS;
	}
	return advance(db, wait);
}

void pg_resolve_on_loop(struct db *db, struct uv_loop_s *loop)
{
	db->pg_loop = loop;
	pg_names_free(db->pg_names);
	db->pg_names = loop ? pg_names_parse(db->pg_dsn) : NULL;
}

bool pg_connection_down(const struct db *db)
{
	return PQstatus(db->pg) != CONNECTION_OK;
}
