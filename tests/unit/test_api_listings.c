/* Listings of a directory of 10,000 rows per table (directory_10k.sql) through the
 * principal's API, paged as a client pages them: `list` of LANs and of secondaries and
 * `revocations`, each page asked with the largest limit (500), every reply within the
 * control frame limit (a short page when the rows do not fit, never an oversized one),
 * and the pages together holding every row once, in order. And the query plans of the
 * listing statements: no correlated subquery scans a table (each looks its rows up by an
 * index), so a listing costs in proportion to its rows, not their square. */
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
#include "db_internal.h"
#include "msg.h"

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
	sqlite3 *raw;          /* a second connection, for the fill and the query plans */
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
	char *sql = read_file(DIRECTORY_10K_SQL);
	char *err = NULL;

	db_scratch_open(f->dir, f->path, "api-listings", &f->srv.db);
	assert_int_equal(sqlite3_open(f->path, &f->raw), SQLITE_OK);
	if (sqlite3_exec(f->raw, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", DIRECTORY_10K_SQL, err);
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

static void listing_plans(void **state)
{
	static const enum db_stmt_id listings[] = {
		ST_LAN_LIST, ST_SEC_LIST, ST_HOST_LIST, ST_USER_LIST, ST_CALL_LIST, ST_REV_LIST,
	};
	struct fixture *f = *state;
	struct plan_row rows[64];

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
