/* Listings of a directory of 10,000 rows per table (directory_10k.sql) through the
 * principal's API, paged as a client pages them: `list` of LANs and of secondaries and
 * `revocations`, each page asked with the largest limit (500), every reply within the
 * control frame limit (a short page when the rows do not fit, never an oversized one),
 * and the pages together holding every row once, in order. And the query plans of the
 * listing statements: no correlated subquery scans a table (each looks its rows up by an
 * index), so a listing costs in proportion to its rows, not their square.
 *
 * On PostgreSQL too (suite pg, tests/unit/pg_unit.sh): filled by directory_10k_pg.sql,
 * and the plans read from EXPLAIN of the statements as the directory prepared them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api_peer_fixture.h"
#include "db_scratch.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db_engine_priv.h"
#include "db_internal.h"
#include "msg.h"
#include <libpq-fe.h>

#define NOW 1700000000
#define ROWS 10000

static int64_t fake_now(void)
{
	return NOW;
}

struct fixture {
	char dir[DB_SCRATCH_DIR_LEN], path[DB_SCRATCH_PATH_LEN];
	struct api_server srv;
	struct api_peer peer;
	sqlite3 *raw;          /* SQLite: a second connection, for the fill and the plans */
	json_t *reply;
};

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char *sql = read_file(db_scratch_pg() ? DIRECTORY_10K_PG_SQL : DIRECTORY_10K_SQL);
	char *err = NULL;

	db_scratch_open(f->dir, f->path, "api-listings", &f->srv.db);
	if (db_scratch_pg()) {
		db_scratch_exec(f->path, sql);
	} else {
		assert_int_equal(sqlite3_open(f->path, &f->raw), SQLITE_OK);
		if (sqlite3_exec(f->raw, sql, NULL, NULL, &err) != SQLITE_OK)
			fail_msg("%s: %s", DIRECTORY_10K_SQL, err);
	}
	free(sql);
	f->srv.now = fake_now;
	api_test_peer(&f->peer, &f->srv, PKI_ROLE_OPERATOR, "ops", &f->reply);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	json_decref(f->reply);
	if (f->raw)
		sqlite3_close(f->raw);
	db_scratch_remove(f->dir, f->path, f->srv.db);
	free(f);
	return 0;
}

/* Pages through an op as a client does: from offset 0, each page at offset + the items
 * the previous one held, until total is reached. The key of each item (a field, or the
 * item itself for a string) must come in strictly increasing order. Returns the pages. */
static size_t page_through(struct fixture *f, const char *op, const char *what,
			   const char *items_key, const char *key)
{
	int64_t offset = 0, total = -1;
	size_t pages = 0, got = 0;
	char last[128] = "";

	while (total < 0 || offset < total) {
		json_t *req = json_pack("{s:s, s:I, s:I, s:i}", "op", op, "id", (json_int_t)1,
					"offset", (json_int_t)offset, "limit", 500);
		json_t *items;
		char *text;

		if (what)
			json_object_set_new(req, "what", json_string(what));
		api_handle(&f->peer, req, 0);
		json_decref(req);
		assert_true(msg_reply_is_ok(f->reply, NULL, NULL));
		text = json_dumps(f->reply, JSON_COMPACT);
		assert_true(strlen(text) <= MSG_MAX_DEFAULT);
		free(text);
		total = json_integer_value(json_object_get(f->reply, "total"));
		assert_int_equal(total, ROWS);
		assert_int_equal(json_integer_value(json_object_get(f->reply, "offset")), offset);
		items = json_object_get(f->reply, items_key);
		assert_true(json_array_size(items) > 0);
		for (size_t i = 0; i < json_array_size(items); i++) {
			const json_t *item = json_array_get(items, i);
			const char *k = json_string_value(key ? json_object_get(item, key) : item);

			assert_non_null(k);
			assert_true(strcmp(last, k) < 0 || key == NULL);
			snprintf(last, sizeof last, "%s", k);
		}
		got += json_array_size(items);
		offset += (int64_t)json_array_size(items);
		pages++;
	}
	assert_int_equal(got, ROWS);
	return pages;
}

static void lans_paged(void **state)
{
	size_t pages = page_through(*state, "list", "lans", "items", "name");

	/* 500 LANs do not fit in a frame: the pages are cut by size, not only by limit. */
	assert_true(pages > ROWS / 500);
}

static void secondaries_paged(void **state)
{
	assert_true(page_through(*state, "list", "secondaries", "items", "name") >= ROWS / 500);
}

static void revocations_paged(void **state)
{
	/* Ordered by time of revocation, not by serial: keys are checked for presence only. */
	assert_int_equal(page_through(*state, "revocations", NULL, "serials", NULL), ROWS / 500);
}

/* EXPLAIN QUERY PLAN rows: (id, parent, detail). */
struct plan_row {
	int id, parent;
	char detail[160];
};

static size_t query_plan(sqlite3 *raw, const char *sql, struct plan_row *rows, size_t max)
{
	char *eqp = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
	sqlite3_stmt *st;
	size_t n = 0;

	assert_int_equal(sqlite3_prepare_v2(raw, eqp, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW && n < max) {
		rows[n].id = sqlite3_column_int(st, 0);
		rows[n].parent = sqlite3_column_int(st, 1);
		snprintf(rows[n].detail, sizeof rows[n].detail, "%s",
			 (const char *)sqlite3_column_text(st, 3));
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_free(eqp);
	return n;
}

/* Whether row i sits inside a correlated subquery (run once per outer row). */
static bool in_correlated(const struct plan_row *rows, size_t n, size_t i)
{
	for (int parent = rows[i].parent; parent != 0;) {
		size_t j;

		for (j = 0; j < n && rows[j].id != parent; j++)
			;
		if (j == n)
			return false;
		if (strncmp(rows[j].detail, "CORRELATED", 10) == 0)
			return true;
		parent = rows[j].parent;
	}
	return false;
}

/* ---- PostgreSQL: EXPLAIN (FORMAT JSON) of the statement as prepared ----
 * A correlated subquery is a node whose "Parent Relationship" is "SubPlan" (run once per
 * outer row) and whose name is not "hashed SubPlan" (run once, then probed). */
static PGconn *plan_conn;  /* the directory's connection, for the tables' sizes */

/* Whether ANALYZE found the relation empty: the planner's choice there (any index, or
 * none: all cost nothing) says nothing of the indexes (the fill leaves lan_gateways
 * empty). */
static bool analyzed_empty(const char *relation)
{
	const char *params[1] = {relation};
	PGresult *res = PQexecParams(plan_conn, "SELECT reltuples = 0 FROM pg_class "
				     "WHERE relname = $1 AND relkind = 'r'", 1, NULL, params,
				     NULL, NULL, 0);
	bool empty = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		     PQgetvalue(res, 0, 0)[0] == 't';

	PQclear(res);
	return empty;
}

/* A scan of a whole table filtered on the outer row: sequential, or along an index
 * without a condition on it. (One without a filter, inside a subquery, is the hashed
 * alternative of an EXISTS: read once to build its table.) */
static bool whole_scan(const json_t *node)
{
	const char *type = json_string_value(json_object_get(node, "Node Type"));
	const char *relation = json_string_value(json_object_get(node, "Relation Name"));

	if (strcmp(type, "Seq Scan") != 0 &&
	    (strncmp(type, "Index", 5) != 0 || json_object_get(node, "Index Cond")))
		return false;
	if (!json_object_get(node, "Filter"))
		return false;
	return !relation || !analyzed_empty(relation);
}

static bool seq_scan_below(const json_t *node)
{
	const json_t *plans = json_object_get(node, "Plans");
	size_t i;
	json_t *child;

	if (whole_scan(node))
		return true;
	json_array_foreach(plans, i, child)
		if (seq_scan_below(child))
			return true;
	return false;
}

/* A correlated subquery that scans a table whole, if any. */
static const json_t *correlated_scan(const json_t *node)
{
	const json_t *plans = json_object_get(node, "Plans");
	size_t i;
	json_t *child;

	json_array_foreach(plans, i, child) {
		const char *rel = json_string_value(json_object_get(child, "Parent Relationship"));
		const char *name = json_string_value(json_object_get(child, "Subplan Name"));
		const json_t *found;

		if (rel && strcmp(rel, "SubPlan") == 0 && name && strncmp(name, "hashed", 6) != 0 &&
		    seq_scan_below(child))
			return child;
		if ((found = correlated_scan(child)))
			return found;
	}
	return NULL;
}

/* Each listing statement with the values a listing passes (NULL: no filter). */
struct pg_listing {
	enum db_stmt_id id;
	const char *args[4];
};

static void pg_listing_plan(struct fixture *f, const struct pg_listing *l)
{
	struct db_st *st = db_stmt(f->srv.db, l->id);
	char sql[256];
	size_t n = 0;
	PGresult *res;
	json_t *plan;
	const json_t *bad;

	/* Run once through the directory: prepared on its connection under its name. */
	for (int i = 0; i < 4 && l->args[i]; i++) {
		if (strcmp(l->args[i], "NULL") == 0)
			st_bind_null(st, i + 1);
		else
			st_bind_int64(st, i + 1, strtoll(l->args[i], NULL, 10));
	}
	while (st_step(st) == DB_ROW)
		;
	st_reset(st);
	n += (size_t)snprintf(sql, sizeof sql, "EXPLAIN (FORMAT JSON) EXECUTE %s(", st->name);
	for (int i = 0; i < 4 && l->args[i]; i++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s", i ? ", " : "", l->args[i]);
	snprintf(sql + n, sizeof sql - n, ")");
	/* The question is whether an index can serve each correlated subquery, as SQLite's
	 * plan answers it: with sequential scans discouraged the planner takes an index
	 * wherever one serves (else it may scan a table it knows empty, lan_gateways here). */
	plan_conn = f->srv.db->pg;
	PQclear(PQexec(f->srv.db->pg, "SET enable_seqscan = off"));
	res = PQexec(f->srv.db->pg, sql);
	PQclear(PQexec(f->srv.db->pg, "RESET enable_seqscan"));
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(f->srv.db->pg));
	plan = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	assert_non_null(plan);
	bad = correlated_scan(json_object_get(json_array_get(plan, 0), "Plan"));
	if (bad) {
		char *text = json_dumps(bad, JSON_COMPACT);

		fail_msg("listing statement %d scans a table per row: %.900s", l->id, text);
	}
	json_decref(plan);
	PQclear(res);
}

static void pg_listing_plans(struct fixture *f)
{
	static const struct pg_listing listings[] = {
		{ST_LAN_LIST, {"NULL", "1700000000", "500", "0"}},
		{ST_SEC_LIST, {"NULL", "1700000000", "500", "0"}},
		{ST_HOST_LIST, {"NULL", "NULL"}},
		{ST_USER_LIST, {"NULL", "NULL"}},
		{ST_CALL_LIST, {"0", "NULL", "500", "1700000000"}},
		{ST_REV_LIST, {"500", "0"}},
	};

	for (size_t i = 0; i < sizeof listings / sizeof listings[0]; i++)
		pg_listing_plan(f, &listings[i]);
}

static void listing_plans(void **state)
{
	static const enum db_stmt_id listings[] = {
		ST_LAN_LIST, ST_SEC_LIST, ST_HOST_LIST, ST_USER_LIST, ST_CALL_LIST, ST_REV_LIST,
	};
	struct fixture *f = *state;
	struct plan_row rows[64];

	if (db_scratch_pg()) {
		pg_listing_plans(f);
		return;
	}

	for (size_t s = 0; s < sizeof listings / sizeof listings[0]; s++) {
		const char *sql = db_stmt_sql_sqlite(listings[s]);
		size_t n = query_plan(f->raw, sql, rows, 64);

		assert_true(n > 0);
		for (size_t i = 0; i < n; i++)
			if (strncmp(rows[i].detail, "SCAN ", 5) == 0 &&
			    strncmp(rows[i].detail, "SCAN (subquery", 14) != 0 &&
			    in_correlated(rows, n, i))
				fail_msg("listing statement %zu scans a table per row: %s\n%s", s,
					 rows[i].detail, sql);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(lans_paged, setup, teardown),
		cmocka_unit_test_setup_teardown(secondaries_paged, setup, teardown),
		cmocka_unit_test_setup_teardown(revocations_paged, setup, teardown),
		cmocka_unit_test_setup_teardown(listing_plans, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
