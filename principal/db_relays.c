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

static const char create_sql[] =
	"CREATE TABLE IF NOT EXISTS relays_now ("
	" secondary TEXT PRIMARY KEY, address TEXT, tcp TEXT, online INTEGER NOT NULL,"
	" live INTEGER NOT NULL, allocations INTEGER, forwarded INTEGER, dropped INTEGER,"
	" updated_at INTEGER NOT NULL)";

static int insert_row(struct db *db, sqlite3_stmt *st, const struct db_relay_row *r,
		      int64_t now)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_text(st, 1, r->secondary, -1, SQLITE_TRANSIENT);
	db_bind_text_or_null(st, 2, r->address[0] ? r->address : NULL);
	db_bind_text_or_null(st, 3, r->tcp[0] ? r->tcp : NULL);
	sqlite3_bind_int(st, 4, r->online);
	sqlite3_bind_int64(st, 5, r->live);
	if (r->has_stats) {
		sqlite3_bind_int64(st, 6, r->allocations);
		sqlite3_bind_int64(st, 7, r->forwarded);
		sqlite3_bind_int64(st, 8, r->dropped);
	}
	sqlite3_bind_int64(st, 9, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_sqlite_error(db, "cannot record a relay");
	return 0;
}

int db_relays_replace(struct db *db, const struct db_relay_row *rows, size_t n, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = db_tx_begin(db);

	if (rc)
		return rc;
	if (sqlite3_exec(db->sql, create_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db->sql, "DELETE FROM relays_now", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db->sql, "INSERT INTO relays_now VALUES (?,?,?,?,?,?,?,?,?)", -1,
			       &st, NULL) != SQLITE_OK)
		rc = db_sqlite_error(db, "cannot record the relays");
	for (size_t i = 0; !rc && i < n; i++)
		rc = insert_row(db, st, &rows[i], now);
	sqlite3_finalize(st);
	return db_tx_end(db, rc);
}

static json_t *row_json(sqlite3_stmt *st)
{
	const char *secondary = db_col_text(st, 0);

	return json_pack("{s:o,s:o,s:o,s:b,s:I,s:o,s:o,s:o,s:I}",
			 "secondary", secondary && secondary[0] ? json_string(secondary)
			 : json_null(),
			 "address", db_col_json_str(st, 1), "tcp", db_col_json_str(st, 2),
			 "online", sqlite3_column_int(st, 3) != 0,
			 "live", (json_int_t)sqlite3_column_int64(st, 4),
			 "allocations", db_col_json_int(st, 5), "forwarded", db_col_json_int(st, 6),
			 "dropped", db_col_json_int(st, 7),
			 "updated_at", (json_int_t)sqlite3_column_int64(st, 8));
}

int db_relays_list(struct db *db, json_t **out)
{
	sqlite3_stmt *st = NULL;
	json_t *rows = json_array();
	int rc;

	/* The principal's own first, then by secondary; no table: no relay known yet. */
	rc = sqlite3_prepare_v2(db->sql, "SELECT secondary, address, tcp, online, live, "
				"allocations, forwarded, dropped, updated_at FROM relays_now "
				"ORDER BY secondary", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		*out = rows;
		return 0;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(rows, row_json(st));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(rows);
		return db_sqlite_error(db, "cannot list the relays");
	}
	*out = rows;
	return 0;
}
