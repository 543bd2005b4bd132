/* The fixture of the unit tests of the directory alone (test_db, test_links_db, test_rooms,
 * test_web_state): a scratch directory of db_scratch.h, made by the test's setup through
 * fixture_new and removed by teardown, and the prefix parser their rows need. Included by
 * those tests only: they name it struct fixture, as each test names its own. */
#ifndef INSEL_TEST_DB_FIXTURE_H
#define INSEL_TEST_DB_FIXTURE_H

#include "addr.h"
#include "db_scratch.h"
#include "passwd.h"

struct fixture {
	char dir[DB_SCRATCH_DIR_LEN], path[DB_SCRATCH_PATH_LEN];
	struct db *db;
	char hash[PASSWD_HASH_STRLEN];  /* a password's hash, for tests that add users */
};

/* A fixture with a new directory in a folder named after tag. */
static inline struct fixture *fixture_new(const char *tag)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	db_scratch_open(f->dir, f->path, tag, &f->db);
	return f;
}

/* The tests' cmocka teardown: the directory closed and removed with its folder. */
static inline int teardown(void **state)
{
	struct fixture *f = *state;

	db_scratch_remove(f->dir, f->path, f->db);
	free(f);
	return 0;
}

/* A prefix the test writes as text; it must parse. */
static inline struct ip_prefix pfx(const char *text)
{
	struct ip_prefix p;

	assert_int_equal(ip_prefix_parse(text, true, &p), 0);
	return p;
}

#endif
