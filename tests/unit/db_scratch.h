/* A principal's directory in a temporary folder of its own, for one unit test: made and
 * opened by the test's setup, closed and removed with its WAL files by its teardown, so
 * that tests never share or leave a file. */
#ifndef INSEL_TEST_DB_SCRATCH_H
#define INSEL_TEST_DB_SCRATCH_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"

#define DB_SCRATCH_DIR_LEN 64
#define DB_SCRATCH_PATH_LEN 128

/* Makes /tmp/insel-test-TAG-XXXXXX in dir and opens its principal.db (named in path). */
static inline void db_scratch_open(char dir[DB_SCRATCH_DIR_LEN],
				   char path[DB_SCRATCH_PATH_LEN], const char *tag,
				   struct db **db)
{
	char err[256];

	snprintf(dir, DB_SCRATCH_DIR_LEN, "/tmp/insel-test-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(dir));
	snprintf(path, DB_SCRATCH_PATH_LEN, "%s/principal.db", dir);
	assert_int_equal(db_open(path, db, err, sizeof err), 0);
}

/* Closes db and removes the file, its WAL and shared-memory files, and the folder. */
static inline void db_scratch_remove(const char *dir, const char *path, struct db *db)
{
	char p[DB_SCRATCH_PATH_LEN + 8];

	db_close(db);
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
	rmdir(dir);
}

#endif
