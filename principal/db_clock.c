/* The principals' clocks (db_clock.h): written by each serving principal at its sweep, read
 * by whoever judges gateways' liveness from the directory directly. */
#include <stdio.h>
#include <string.h>

#include "db_clock.h"
#include "db_internal.h"

int db_clock_record(struct db *db, const struct db_clock *c)
{
	struct db_st *st = NULL;
	int rc;

	db->err[0] = '\0';
	if (db_prepare(db, "INSERT INTO principal_clocks (run, listen, ticked_at, period_ms, "
		       "down_after, excused) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (run) "
		       "DO UPDATE SET listen = excluded.listen, ticked_at = excluded.ticked_at, "
		       "period_ms = excluded.period_ms, down_after = excluded.down_after, "
		       "excused = excluded.excused", &st))
		return db_engine_error(db, "cannot record the principal's clock");
	st_bind_text(st, 1, c->run);
	st_bind_text(st, 2, c->listen);
	st_bind_int64(st, 3, c->ticked_at);
	st_bind_int64(st, 4, c->period_ms > 0 ? c->period_ms : 1);
	st_bind_int64(st, 5, c->down_after > 0 ? c->down_after : 1);
	st_bind_int64(st, 6, c->excused > 0 ? c->excused : 0);
	rc = db_exec_stmt(db, st, "cannot record the principal's clock");
	st_finalize(st);
	if (rc || db_prepare(db, "DELETE FROM principal_clocks WHERE ticked_at < ?1", &st))
		return rc ? rc : db_engine_error(db, "cannot forget old principals' clocks");
	st_bind_int64(st, 1, c->ticked_at - DB_CLOCK_KEEP_S);
	rc = db_exec_stmt(db, st, "cannot forget old principals' clocks");
	st_finalize(st);
	return rc;
}

int db_clock_forget(struct db *db, const char *run)
{
	struct db_st *st = NULL;
	int rc;

	db->err[0] = '\0';
	if (db_prepare(db, "DELETE FROM principal_clocks WHERE run = ?1", &st))
		return db_engine_error(db, "cannot remove the principal's clock");
	st_bind_text(st, 1, run);
	rc = db_exec_stmt(db, st, "cannot remove the principal's clock");
	st_finalize(st);
	return rc;
}

int db_clock_read(struct db *db, struct db_clock *out, size_t max, size_t *n)
{
	struct db_st *st = NULL;
	int rc = DB_DONE;

	*n = 0;
	if (db_prepare(db, "SELECT run, listen, ticked_at, period_ms, down_after, excused "
		       "FROM principal_clocks ORDER BY ticked_at DESC", &st))
		return db_engine_error(db, "cannot read the principals' clocks");
	while (*n < max && (rc = st_step(st)) == DB_ROW) {
		struct db_clock *c = &out[(*n)++];

		snprintf(c->run, sizeof c->run, "%s", db_col_text(st, 0));
		snprintf(c->listen, sizeof c->listen, "%s", db_col_text(st, 1));
		c->ticked_at = st_col_int64(st, 2);
		c->period_ms = st_col_int64(st, 3);
		c->down_after = st_col_int64(st, 4);
		c->excused = st_col_int64(st, 5);
	}
	rc = rc == DB_ROW || rc == DB_DONE ? 0 : db_engine_error(db, "cannot read the "
								"principals' clocks");
	st_finalize(st);
	return rc;
}

bool db_clock_running(const struct db_clock *c, int64_t now)
{
	return now - c->ticked_at <= (2 * c->period_ms + 999) / 1000 + 1;
}

int64_t db_clock_cutoff(const struct db_clock *c, int64_t now)
{
	int64_t at = db_clock_running(c, now) || c->ticked_at > now ? now : c->ticked_at;

	return at - c->down_after - c->excused;
}

int db_clock_choose(const struct db_clock *rows, size_t n, int64_t now)
{
	int best = -1;

	for (size_t i = 0; i < n; i++)
		if (best < 0 || db_clock_cutoff(&rows[i], now) > db_clock_cutoff(&rows[best], now))
			best = (int)i;
	return best;
}

void db_judge_as(struct db *db, const struct db_clock *c, int64_t now)
{
	db->down_after = c->down_after > 0 ? c->down_after : 1;
	db->excused = c->excused > 0 ? c->excused : 0;
	db->judged_at = db_clock_running(c, now) ? 0 : c->ticked_at;
}
