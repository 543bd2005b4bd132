/* The host names of a PostgreSQL connection string looked up on the event loop's thread
 * pool, for db_pg_conn.c (db_pg_names.c says why). */
#ifndef INSEL_PRINCIPAL_DB_PG_NAMES_H
#define INSEL_PRINCIPAL_DB_PG_NAMES_H

#include <stdbool.h>
#include <stdint.h>

struct uv_loop_s;
struct pg_names;

enum pg_names_state {
	PG_NAMES_IDLE,     /* nothing looked up for the next attempt yet */
	PG_NAMES_PENDING,  /* a look-up runs on the thread pool */
	PG_NAMES_READY,    /* addresses for the next attempt (pg_names_take) */
	PG_NAMES_FAILED,   /* no name gave an address (pg_names_failed) */
};

/* What dsn asks libpq to look up (host= entries that are names, with host=, port= and
 * the environment's PGHOST, PGPORT as libpq reads them); NULL when nothing is: only
 * addresses and socket folders, hostaddr given, a service file, a list libpq refuses, or
 * one of more than 16 hosts (libpq then looks them up itself). */
struct pg_names *pg_names_parse(const char *dsn);
/* Frees n; a look-up under way frees itself when its worker is done. */
void pg_names_free(struct pg_names *n);
/* Starts looking every name up on loop's thread pool: 0 or a negative errno. */
int pg_names_lookup(struct pg_names *n, struct uv_loop_s *loop);
enum pg_names_state pg_names_state(const struct pg_names *n);
/* Waits at most wait_ms (on the loop: only ever a short wait) for a look-up under way;
 * the state then. */
enum pg_names_state pg_names_wait(struct pg_names *n, int64_t wait_ms);
/* READY: libpq's host=, hostaddr= and port= (NULL: leave port as the string has it),
 * valid until the next look-up; the names are looked up again for the attempt after. */
void pg_names_take(struct pg_names *n, const char **hosts, const char **addrs,
		   const char **ports);
/* FAILED: why; the names are looked up again for the next attempt. */
const char *pg_names_failed(struct pg_names *n);

#endif
