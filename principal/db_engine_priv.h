/* Private to the statement layer's backends (db_engine.c for SQLite, db_pg.c for
 * PostgreSQL): what a statement holds on each engine. */
#ifndef INSEL_PRINCIPAL_DB_ENGINE_PRIV_H
#define INSEL_PRINCIPAL_DB_ENGINE_PRIV_H

#include <sqlite3.h>

#include "db_engine.h"

struct pg_result;
struct uv_loop_s;

struct db_st {
	struct db *db;
	sqlite3_stmt *lite;
	/* PostgreSQL: the prepared statement's name, its parameters as text (NULL for
	 * SQL NULL; bytea as \x hex), and the result of the last run with the row at. */
	char name[24];
	char *sql;           /* several commands, run without preparing (BEGIN; lock) */
	char *text;          /* a table statement's text: prepared on its first run (and
			      * again after a reconnect), so that a command opening the
			      * directory pays only for the statements it uses */
	bool prepared;
	bool readonly;
	bool owned_name;     /* an ad hoc statement, deallocated when finalized */
	int nparams;
	char **param;
	struct pg_result *res;
	int row;             /* rows returned so far by st_step */
	int nrows;
	unsigned char *blob; /* a bytea column decoded for st_col_blob */
	size_t blob_len;
};

/* ---- the PostgreSQL backend (db_pg.c) ---- */
/* db_pg_conn.c: connects (blocking: at open) and closes. */
int pg_connect(struct db *db, const char *dsn);
void pg_disconnect(struct db *db);
/* Whether the connection is up; a lost one is made again without blocking (just_lost:
 * the caller found it lost now, and waits a moment for a server that answers at once).
 * False with pg_state and pg_msg saying why while it is not. */
bool pg_connection_ready(struct db *db, bool just_lost);
bool pg_connection_down(const struct db *db);
/* From now on the host names of attempts to connect again are looked up on loop's
 * thread pool, never on the loop (NULL: by libpq, blocking, as the CLI does). */
void pg_resolve_on_loop(struct db *db, struct uv_loop_s *loop);
/* Prepares sql (with ?N parameters) under the name of st; ad hoc when name is NULL. */
int pg_prepare(struct db *db, const char *sql, const char *name, struct db_st *st);
void pg_finalize(struct db_st *st);
int pg_step(struct db_st *st);
void pg_reset(struct db_st *st);
void pg_set_param(struct db_st *st, int i, char *owned);
bool pg_col_null(struct db_st *st, int i);
const char *pg_col_text(struct db_st *st, int i);
const void *pg_col_blob(struct db_st *st, int i, int *len);
int pg_exec(struct db *db, const char *sql, const char *what);
int64_t pg_changes(struct db *db);
bool pg_in_tx(struct db *db);
int pg_error(struct db *db, const char *what);
/* The migrations up to the newest this build knows (schema/pg). */
int pg_migrate(struct db *db, const char *target);
int pg_schema_version(struct db *db, int *version);

#endif
