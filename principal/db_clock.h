/* The principals' clocks in the directory (schema/017_principal_clocks.sql, docs/principals.md
 * "Judging silence").
 *
 * A serving principal judges its gateways' silence on its own running time: a stall of its
 * loop is excused until it has run down_after again (stall_clock.h), and only its own
 * process knows that. Whoever reads the directory directly (the operator's CLI) would
 * otherwise judge on the wall clock with the default down_after: a gateway silent only
 * because the principal that reads its heartbeats did not run, or was still in its
 * allowance, would be listed down. So each running principal records, at each sweep, when
 * it last ran and its cut-off's terms, and a reader judges as the principals do:
 *
 *   cut-off = T - down_after - excused, T = now for a principal that runs, and the time
 *   of its last tick for one that has not ticked for two periods (stalled, or dead): what
 *   it will itself conclude when it runs again, having excused the stall;
 *
 * of several principals the latest cut-off counts, because any principal's sweep marks a
 * silent gateway down (a running one judges the gateways of a stalled one too).
 *
 * db_clock_choose is the pure part (a fake clock in the tests). */
#ifndef INSEL_PRINCIPAL_DB_CLOCK_H
#define INSEL_PRINCIPAL_DB_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

#define DB_CLOCK_KEEP_S 86400  /* a row not written for a day is forgotten */
#define DB_CLOCKS_MAX 64       /* rows a reader considers */

struct db_clock {
	char run[40];        /* the principal's run (its mailbox's name: unique per run) */
	char listen[64];     /* where it serves, for the operator */
	int64_t ticked_at;   /* epoch s: it last ran then */
	int64_t period_ms;   /* it ticks at least this often while it runs (its sweep) */
	int64_t down_after;  /* s */
	int64_t excused;     /* s: its recent stalls, not counted as silence */
};

/* The running principal's tick: its row written (and rows not written for
 * DB_CLOCK_KEEP_S deleted). */
int db_clock_record(struct db *db, const struct db_clock *c);
/* Its row removed (an orderly stop). */
int db_clock_forget(struct db *db, const char *run);
/* Up to max rows, newest first; *n how many. */
int db_clock_read(struct db *db, struct db_clock *out, size_t max, size_t *n);

/* Whether c's principal ran lately at now: it ticked within two periods (and a second of
 * rounding). */
bool db_clock_running(const struct db_clock *c, int64_t now);
/* Its cut-off at now: silence since before it is a gateway's. */
int64_t db_clock_cutoff(const struct db_clock *c, int64_t now);
/* The row whose cut-off is latest at now (the one that judges), or -1 when n is 0. */
int db_clock_choose(const struct db_clock *rows, size_t n, int64_t now);

/* For readers of the directory: every later state verdict on db (listings, look-ups,
 * counts) judges as c's principal does (as of its last tick if it is not running). */
void db_judge_as(struct db *db, const struct db_clock *c, int64_t now);

#endif
