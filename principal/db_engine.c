/* The statement layer (db_engine.h): each call goes to the SQLite library or to the
 * PostgreSQL backend (db_pg.c) by the engine the directory was opened on. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_engine_priv.h"
#include "db_internal.h"
#include "err.h"

bool db_target_is_dsn(const char *target)
{
	return strncmp(target, "postgresql://", 13) == 0 ||
	       strncmp(target, "postgres://", 11) == 0 || strchr(target, '=') != NULL;
}

static bool on_pg(const struct db_st *st)
{
	return st->lite == NULL;
}

static struct db_st *st_new(struct db *db)
{
	struct db_st *st = calloc(1, sizeof *st);

	if (st)
		st->db = db;
	return st;
}

/* A statement of db's table, prepared at open under the name sNN on PostgreSQL. */
int db_prepare_table(struct db *db, int id, const char *sql, struct db_st **out)
{
	struct db_st *st = st_new(db);
	int rc;

	*out = NULL;
	if (!st)
		return db_set_error(db, INSEL_E_DB, "out of memory");
	if (db->engine == DB_ENGINE_POSTGRESQL) {
		char name[16];

		snprintf(name, sizeof name, "s%d", id);
		rc = pg_prepare(db, sql, name, st);
	} else if (sqlite3_prepare_v3(db->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->lite,
				      NULL) != SQLITE_OK) {
		rc = db_set_error(db, INSEL_E_DB, "cannot prepare statement %d: %s", id,
				  sqlite3_errmsg(db->sql));
	} else {
		rc = 0;
	}
	if (rc) {
		st_finalize(st);
		return rc;
	}
	*out = st;
	return 0;
}

int db_prepare(struct db *db, const char *sql, struct db_st **out)
{
	struct db_st *st = st_new(db);
	int rc = 0;

	*out = NULL;
	if (!st)
		return db_set_error(db, INSEL_E_DB, "out of memory");
	if (db->engine == DB_ENGINE_POSTGRESQL)
		rc = pg_prepare(db, sql, NULL, st);
	else if (sqlite3_prepare_v2(db->sql, sql, -1, &st->lite, NULL) != SQLITE_OK)
		rc = INSEL_E_DB;
	if (rc || (db->engine == DB_ENGINE_SQLITE && !st->lite)) {
		/* The engine's sentence stays for db_engine_error. */
		st_finalize(st);
		return rc ? rc : INSEL_E_DB;
	}
	*out = st;
	return 0;
}

void st_finalize(struct db_st *st)
{
	if (!st)
		return;
	if (st->lite)
		sqlite3_finalize(st->lite);
	else
		pg_finalize(st);
	free(st);
}

int st_step(struct db_st *st)
{
	if (on_pg(st))
		return pg_step(st);
	return sqlite3_step(st->lite);
}

void st_reset(struct db_st *st)
{
	if (on_pg(st))
		pg_reset(st);
	else
		sqlite3_reset(st->lite);
}

void st_clear_bindings(struct db_st *st)
{
	if (!on_pg(st)) {
		sqlite3_clear_bindings(st->lite);
		return;
	}
	for (int i = 0; i < st->nparams; i++) {
		free(st->param[i]);
		st->param[i] = NULL;
	}
}

bool st_readonly(const struct db_st *st)
{
	return on_pg(st) ? st->readonly : sqlite3_stmt_readonly(st->lite) != 0;
}

static void pg_bind_fmt(struct db_st *st, int i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pg_bind_fmt(struct db_st *st, int i, const char *fmt, ...)
{
	char buf[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	pg_set_param(st, i, strdup(buf));
}

void st_bind_int64(struct db_st *st, int i, int64_t v)
{
	if (on_pg(st))
		pg_bind_fmt(st, i, "%lld", (long long)v);
	else
		sqlite3_bind_int64(st->lite, i, v);
}

void st_bind_double(struct db_st *st, int i, double v)
{
	if (on_pg(st))
		pg_bind_fmt(st, i, "%.17g", v);
	else
		sqlite3_bind_double(st->lite, i, v);
}

void st_bind_text(struct db_st *st, int i, const char *text)
{
	if (on_pg(st))
		pg_set_param(st, i, strdup(text));
	else
		sqlite3_bind_text(st->lite, i, text, -1, SQLITE_TRANSIENT);
}

void st_bind_blob(struct db_st *st, int i, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b = p;
	char *text;

	if (!on_pg(st)) {
		sqlite3_bind_blob(st->lite, i, p, (int)n, SQLITE_TRANSIENT);
		return;
	}
	/* bytea's hex input form, "\x0a000001" */
	text = malloc(2 * n + 3);
	if (text) {
		text[0] = '\\';
		text[1] = 'x';
		for (size_t k = 0; k < n; k++) {
			text[2 + 2 * k] = hex[b[k] >> 4];
			text[3 + 2 * k] = hex[b[k] & 15];
		}
		text[2 + 2 * n] = '\0';
	}
	pg_set_param(st, i, text);
}

void st_bind_null(struct db_st *st, int i)
{
	if (on_pg(st))
		pg_set_param(st, i, NULL);
	else
		sqlite3_bind_null(st->lite, i);
}

bool st_col_null(struct db_st *st, int i)
{
	if (on_pg(st))
		return pg_col_null(st, i);
	return sqlite3_column_type(st->lite, i) == SQLITE_NULL;
}

int64_t st_col_int64(struct db_st *st, int i)
{
	const char *t;

	if (!on_pg(st))
		return sqlite3_column_int64(st->lite, i);
	t = pg_col_text(st, i);
	/* booleans ("t", "f") read as SQLite's 1 and 0 */
	if (!t || *t == 'f')
		return 0;
	if (*t == 't')
		return 1;
	return strtoll(t, NULL, 10);
}

double st_col_double(struct db_st *st, int i)
{
	const char *t;

	if (!on_pg(st))
		return sqlite3_column_double(st->lite, i);
	t = pg_col_text(st, i);
	return t ? strtod(t, NULL) : 0.0;
}

const char *st_col_text(struct db_st *st, int i)
{
	if (on_pg(st))
		return pg_col_text(st, i);
	return (const char *)sqlite3_column_text(st->lite, i);
}

const void *st_col_blob(struct db_st *st, int i)
{
	int len;

	if (on_pg(st))
		return pg_col_blob(st, i, &len);
	return sqlite3_column_blob(st->lite, i);
}

int st_col_bytes(struct db_st *st, int i)
{
	int len = 0;

	if (!on_pg(st))
		return sqlite3_column_bytes(st->lite, i);
	pg_col_blob(st, i, &len);
	return len;
}

int db_exec(struct db *db, const char *sql, const char *what)
{
	char *msg = NULL;

	if (db->engine == DB_ENGINE_POSTGRESQL)
		return pg_exec(db, sql, what);
	if (sqlite3_exec(db->sql, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	db_set_error(db, INSEL_E_DB, "%s: %s", what, msg ? msg : sqlite3_errmsg(db->sql));
	sqlite3_free(msg);
	return INSEL_E_DB;
}

int64_t db_changes(struct db *db)
{
	if (db->engine == DB_ENGINE_POSTGRESQL)
		return pg_changes(db);
	return sqlite3_changes(db->sql);
}

bool db_in_tx(struct db *db)
{
	if (db->engine == DB_ENGINE_POSTGRESQL)
		return pg_in_tx(db);
	return !sqlite3_get_autocommit(db->sql);
}

int db_engine_error(struct db *db, const char *what)
{
	int ext, err = INSEL_E_DB;

	if (db->engine == DB_ENGINE_POSTGRESQL)
		return pg_error(db, what);
	ext = sqlite3_extended_errcode(db->sql);
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		err = INSEL_E_EXISTS;
	else if (ext == SQLITE_CONSTRAINT_TRIGGER || ext == SQLITE_CONSTRAINT_FOREIGNKEY)
		err = INSEL_E_CONFLICT;
	return db_set_error(db, err, "%s: %s", what, sqlite3_errmsg(db->sql));
}
