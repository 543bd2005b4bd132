/* The serving daemon's commits on a SQLite directory reach the disk off its event loop
 * (db_sync.c says how; docs/directory-engines.md gives the bound on what a crash of the
 * machine can lose). Operator commands keep synchronous = FULL: their writes are on the
 * disk when they return. */
#ifndef INSEL_PRINCIPAL_DB_SYNC_H
#define INSEL_PRINCIPAL_DB_SYNC_H

#include <stddef.h>

#include "db.h"

/* How often the daemon's syncer runs: the bound on what the machine's crash can lose. */
#define DB_SYNC_INTERVAL_MS 1000

struct db_syncer;

/* For the daemon's db, opened from path: turns its commits' fsync off and gives the
 * syncer that makes them durable (*out NULL on PostgreSQL, whose server does). Call
 * before the daemon's sandbox: it opens files. */
int db_syncer_open(struct db *db, const char *path, struct db_syncer **out, char *err,
		   size_t errlen);
/* Syncs the WAL (everything committed so far is then on the disk) and checkpoints it.
 * On a worker thread, one run at a time; it blocks for as long as the disk takes. */
int db_syncer_run(struct db_syncer *s, char *err, size_t errlen);
void db_syncer_close(struct db_syncer *s);

#endif
