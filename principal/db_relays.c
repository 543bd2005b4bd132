/* The relays the running principal knows (db.h, db_relays_*), for `insel-principal
 * relays`: the daemon keeps its relays in memory (its own, and the designated relays that
 * secondaries announce when they register; docs/relay.md, section 8) and writes what it
 * knows of them into the table relays_now whenever that changed (it looks about once a
 * second), the whole table in one transaction, so that the operator's CLI, which reads only the directory, can list them.
 * It is the running daemon's view, not part of the directory: the daemon creates it if
 * missing (it is no migration of schema/), nothing reads it back, and a CLI that finds no
 * table lists no relay. */
#include <string.h>

#include "db.h"
#include "db_internal.h"
#include "err.h"

static const char create_sql[] =
	"CREATE TABLE IF NOT EXISTS relays_now ("
	" secondary TEXT PRIMARY KEY, address TEXT, tcp TEXT, online INTEGER NOT NULL,"
	" live INTEGER NOT NULL, allocations INTEGER, forwarded INTEGER, dropped INTEGER,"
	" updated_at INTEGER NOT NULL)";

static int insert_row(struct db *db, struct db_st *st, const struct db_relay_row *r,
		      int64_t now)
{
	st_reset(st);
	st_clear_bindings(st);
	st_bind_text(st, 1, r->secondary);
	db_bind_text_or_null(st, 2, r->address[0] ? r->address : NULL);
	db_bind_text_or_null(st, 3, r->tcp[0] ? r->tcp : NULL);
	st_bind_int64(st, 4, r->online);
	st_bind_int64(st, 5, r->live);
	if (r->has_stats) {
		st_bind_int64(st, 6, r->allocations);
		st_bind_int64(st, 7, r->forwarded);
		st_bind_int64(st, 8, r->dropped);
	}
	st_bind_int64(st, 9, now);
	if (st_step(st) != DB_DONE)
		return db_engine_error(db, "cannot record a relay");
	return 0;
}

int db_relays_replace(struct db *db, const struct db_relay_row *rows, size_t n, int64_t now)
{
	struct db_st *st = NULL;
	int rc = db_tx_begin(db);

	if (rc)
		return rc;
	if (db_exec(db, create_sql, "cannot record the relays") ||
	    db_exec(db, "DELETE FROM relays_now", "cannot record the relays"))
		rc = INSEL_E_DB;
	else if (db_prepare(db, "INSERT INTO relays_now VALUES "
			    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &st))
		rc = db_engine_error(db, "cannot record the relays");
	for (size_t i = 0; !rc && i < n; i++)
		rc = insert_row(db, st, &rows[i], now);
	st_finalize(st);
	return db_tx_end(db, rc);
}

static json_t *row_json(struct db_st *st)
{
	const char *secondary = db_col_text(st, 0);

	return json_pack("{s:o,s:o,s:o,s:b,s:I,s:o,s:o,s:o,s:I}",
			 "secondary", secondary && secondary[0] ? json_string(secondary)
			 : json_null(),
			 "address", db_col_json_str(st, 1), "tcp", db_col_json_str(st, 2),
			 "online", (int)st_col_int64(st, 3) != 0,
			 "live", (json_int_t)st_col_int64(st, 4),
			 "allocations", db_col_json_int(st, 5), "forwarded", db_col_json_int(st, 6),
			 "dropped", db_col_json_int(st, 7),
			 "updated_at", (json_int_t)st_col_int64(st, 8));
}

int db_relays_list(struct db *db, json_t **out)
{
	struct db_st *st = NULL;
	json_t *rows = json_array();
	int rc;

	/* The principal's own first, then by secondary; no table: no relay known yet. */
	rc = db_prepare(db, "SELECT secondary, address, tcp, online, live, "
				"allocations, forwarded, dropped, updated_at FROM relays_now "
				"ORDER BY secondary", &st);
	if (rc) {
		st_finalize(st);
		*out = rows;
		return 0;
	}
	while ((rc = st_step(st)) == DB_ROW)
		json_array_append_new(rows, row_json(st));
	st_finalize(st);
	if (rc != DB_DONE) {
		json_decref(rows);
		return db_engine_error(db, "cannot list the relays");
	}
	*out = rows;
	return 0;
}
