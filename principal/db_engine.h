/* The statement layer under the directory's query families: prepare, bind, step, read
 * columns, with one backend on SQLite (the embedded default) and one on PostgreSQL
 * (libpq). The query families (db*.c) are written once against it; the SQL is written
 * once where both engines read it alike and per engine where not (db.c's table).
 *
 * The interface follows SQLite's: parameters are numbered from 1 (?1, ?2 in the SQL;
 * the PostgreSQL backend turns them into $1, $2), st_step gives DB_ROW per row and then
 * DB_DONE, and columns are read from the current row. On PostgreSQL a statement runs on
 * its first step and its whole result is kept until the reset. */
#ifndef INSEL_PRINCIPAL_DB_ENGINE_H
#define INSEL_PRINCIPAL_DB_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct db_st;

enum db_engine {
	DB_ENGINE_SQLITE,
	DB_ENGINE_POSTGRESQL,
};

/* st_step's answers; any other value is a failure, described by db_engine_error. */
enum { DB_DONE = 101, DB_ROW = 100, DB_FAIL = 1 };


/* A statement prepared for this use only (st_finalize when done); NULL and an error set
 * when the engine refuses it. */
int db_prepare(struct db *db, const char *sql, struct db_st **st);
void st_finalize(struct db_st *st);

int st_step(struct db_st *st);
/* Makes the statement ready to run again (its bindings stay, as SQLite's do). */
void st_reset(struct db_st *st);
void st_clear_bindings(struct db_st *st);
/* Whether running it writes nothing. */
bool st_readonly(const struct db_st *st);

void st_bind_int64(struct db_st *st, int i, int64_t v);
void st_bind_double(struct db_st *st, int i, double v);
/* Text and blobs are copied. */
void st_bind_text(struct db_st *st, int i, const char *text);
void st_bind_blob(struct db_st *st, int i, const void *p, size_t n);
void st_bind_null(struct db_st *st, int i);

bool st_col_null(struct db_st *st, int i);
int64_t st_col_int64(struct db_st *st, int i);
double st_col_double(struct db_st *st, int i);
/* NULL for SQL NULL; valid until the next step or reset. */
const char *st_col_text(struct db_st *st, int i);
const void *st_col_blob(struct db_st *st, int i);
int st_col_bytes(struct db_st *st, int i);

/* Runs SQL of one or more statements without parameters. */
int db_exec(struct db *db, const char *sql, const char *what);
/* Rows the last INSERT, UPDATE or DELETE changed. */
int64_t db_changes(struct db *db);
/* Whether a transaction is open on the connection. */
bool db_in_tx(struct db *db);
/* Maps the engine's last failure to the error space, with its sentence: a unique key
 * is INSEL_E_EXISTS, a trigger's or constraint's refusal INSEL_E_CONFLICT. */
int db_engine_error(struct db *db, const char *what);

#endif
