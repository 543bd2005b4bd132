/* A principal's directory in a temporary folder of its own, for one unit test: made and
 * opened by the test's setup, closed and removed with its WAL files by its teardown, so
 * that tests never share or leave a file.
 *
 * With INSEL_TEST_PG_DSN set (tests/unit/pg_unit.sh starts a PostgreSQL cluster for the
 * test program and sets it), the directory is a schema of its own in that database
 * instead, dropped by the teardown: the same tests run on both engines. */
#ifndef INSEL_TEST_DB_SCRATCH_H
#define INSEL_TEST_DB_SCRATCH_H

#include <libpq-fe.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"

#define DB_SCRATCH_DIR_LEN 64
#define DB_SCRATCH_PATH_LEN 512

/* Whether the tests run on PostgreSQL. */
static inline bool db_scratch_pg(void)
{
	const char *dsn = getenv("INSEL_TEST_PG_DSN");

	return dsn && *dsn;
}

/* Runs one command on the test cluster, outside any directory's schema. */
static inline void db_scratch_pg_exec(const char *sql)
{
	PGconn *c = PQconnectdb(getenv("INSEL_TEST_PG_DSN"));
	PGresult *res;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

/* What db_open is given for a new directory: file in dir on SQLite; on PostgreSQL a
 * connection string to a new schema named after dir's unique part. */
static inline void db_scratch_target(const char *dir, const char *file, char *path,
				     size_t len)
{
	char schema[64], sql[128];
	const char *tail = strrchr(dir, '-');
	size_t n = 0;

	if (!db_scratch_pg()) {
		snprintf(path, len, "%s/%s", dir, file);
		return;
	}
	n += (size_t)snprintf(schema, sizeof schema, "t_");
	for (const char *s = tail ? tail + 1 : dir; *s && n + 1 < sizeof schema; s++)
		schema[n++] = (*s >= 'A' && *s <= 'Z') ? (char)(*s + 32) :
			      ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) ? *s : '_';
	schema[n] = '\0';
	snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
	db_scratch_pg_exec(sql);
	snprintf(path, len, "%s options='-c search_path=%s'", getenv("INSEL_TEST_PG_DSN"),
		 schema);
}

/* Drops what db_scratch_target made on PostgreSQL (nothing on SQLite). */
static inline void db_scratch_drop(const char *path)
{
	const char *s = strstr(path, "search_path=");
	char sql[128];

	if (!db_scratch_pg() || !s)
		return;
	snprintf(sql, sizeof sql, "DROP SCHEMA %.*s CASCADE", (int)strcspn(s + 12, "'"),
		 s + 12);
	db_scratch_pg_exec(sql);
}

/* One integer a query gives, read by a connection of its own to the directory at path
 * (as sqlite3 or psql would): -1 when it gives no row. */
static inline long long db_scratch_count(const char *path, const char *sql)
{
	long long n = -1;

	if (db_scratch_pg()) {
		PGconn *c = PQconnectdb(path);
		PGresult *res = PQexec(c, sql);

		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		else if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		PQclear(res);
		PQfinish(c);
	} else {
		sqlite3 *s;
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		sqlite3_close(s);
	}
	return n;
}

/* Runs one statement on the directory at path by a connection of its own. */
static inline void db_scratch_exec(const char *path, const char *sql)
{
	if (db_scratch_pg()) {
		PGconn *c = PQconnectdb(path);
		PGresult *res = PQexec(c, sql);

		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		PQclear(res);
		PQfinish(c);
	} else {
		sqlite3 *s;

		assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
		assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(s);
	}
}

/* Makes /tmp/insel-test-TAG-XXXXXX in dir and opens its principal.db (named in path). */
static inline void db_scratch_open(char dir[DB_SCRATCH_DIR_LEN],
				   char path[DB_SCRATCH_PATH_LEN], const char *tag,
				   struct db **db)
{
	char err[256];

	snprintf(dir, DB_SCRATCH_DIR_LEN, "/tmp/insel-test-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(dir));
	db_scratch_target(dir, "principal.db", path, DB_SCRATCH_PATH_LEN);
	if (db_open(path, db, err, sizeof err))
		fail_msg("db_open: %s", err);
}

/* Closes db and removes the file, its WAL and shared-memory files, and the folder. */
static inline void db_scratch_remove(const char *dir, const char *path, struct db *db)
{
	char p[DB_SCRATCH_PATH_LEN + 8];

	db_close(db);
	db_scratch_drop(path);
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
	rmdir(dir);
}

#endif
