/* The daemon's commits reach the disk off its event loop (SQLite only; db_sync.h).
 *
 * With synchronous = FULL every commit waited for an fsync of the WAL on the loop; on a
 * busy disk one took seconds and every gateway's heartbeat timed out behind it. The
 * daemon's connection now commits with synchronous = NORMAL (the WAL is written, not
 * synced: safe against the process crashing, not yet against the machine's) and never
 * checkpoints itself (a checkpoint syncs). This syncer, run on a worker thread every
 * DB_SYNC_INTERVAL_MS, syncs the WAL through a descriptor of its own (what was committed
 * before is then on the disk) and, once the WAL holds DB_SYNC_CHECKPOINT_FRAMES pages,
 * checkpoints it into the database file through a connection of its own.
 *
 * Why not checkpoint at every run: after a complete checkpoint the next commit starts
 * the WAL over, and SQLite syncs the WAL's new header then, on the committing thread
 * (the loop), whatever the synchronous setting short of OFF (OFF would risk the file on a
 * power loss). Checkpointing only past SQLite's usual size leaves one such sync on the
 * loop per DB_SYNC_CHECKPOINT_FRAMES pages written instead of one per second. */
#include "db_sync.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_internal.h"
#include "err.h"

/* SQLite's own automatic checkpoint size (pages): the WAL stays a few MiB. */
#define DB_SYNC_CHECKPOINT_FRAMES 1000

struct db_syncer {
	struct sqlite3 *sql;  /* used by the worker thread only */
	int wal_fd;
	atomic_int wal_frames;  /* in the WAL after the daemon's last commit */
};

/* After each of the daemon's commits, on its loop: how big the WAL is now. */
static int note_wal_size(void *ctx, struct sqlite3 *sql, const char *name, int frames)
{
	struct db_syncer *s = ctx;

	(void)sql;
	(void)name;
	atomic_store(&s->wal_frames, frames);
	return SQLITE_OK;
}

static int sqlite_error(struct sqlite3 *sql, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, sql ? sqlite3_errmsg(sql) : "out of memory");
	return INSEL_E_DB;
}

/* The daemon's own connection: commits without fsync, no checkpoint on the loop (the
 * hook takes the place of SQLite's automatic checkpoint). */
static int defer_daemon_sync(struct db *db, struct db_syncer *s, char *err, size_t errlen)
{
	if (sqlite3_exec(db->sql, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db->sql, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, NULL) != SQLITE_OK)
		return sqlite_error(db->sql, "cannot defer the directory's syncs", err, errlen);
	sqlite3_wal_hook(db->sql, note_wal_size, s);
	return 0;
}

int db_syncer_open(struct db *db, const char *path, struct db_syncer **out, char *err,
		   size_t errlen)
{
	struct db_syncer *s;
	char wal[4200];
	int rc;

	*out = NULL;
	if (db_is_postgresql(db))
		return 0;  /* the server makes its commits durable */
	s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* db_open has read the file, so its WAL exists (and stays while the daemon's
	 * connection is open). */
	snprintf(wal, sizeof wal, "%s-wal", path);
	s->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
	if (s->wal_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", wal, strerror(-rc));
		free(s);
		return rc;
	}
	if (sqlite3_open_v2(path, &s->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
		    SQLITE_OK ||
	    sqlite3_exec(s->sql, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
		rc = sqlite_error(s->sql, "cannot open the directory's syncer", err, errlen);
		db_syncer_close(s);
		return rc;
	}
	/* A first run checkpoints, whatever the WAL holds: it opens the WAL and its index
	 * while opening files is still allowed (principal/sandbox.c). */
	atomic_init(&s->wal_frames, DB_SYNC_CHECKPOINT_FRAMES);
	if ((rc = db_syncer_run(s, err, errlen)) != 0 ||
	    (rc = defer_daemon_sync(db, s, err, errlen)) != 0) {
		db_syncer_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

int db_syncer_run(struct db_syncer *s, char *err, size_t errlen)
{
	int rc;

	if (fdatasync(s->wal_fd) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot sync the directory's WAL: %s", strerror(-rc));
		return rc;
	}
	if (atomic_load(&s->wal_frames) < DB_SYNC_CHECKPOINT_FRAMES)
		return 0;
	/* PASSIVE: copies what no reader still needs, waits for nobody. BUSY only says
	 * another connection (an operator command) checkpoints right now. */
	rc = sqlite3_wal_checkpoint_v2(s->sql, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		return sqlite_error(s->sql, "cannot checkpoint the directory", err, errlen);
	return 0;
}

void db_syncer_close(struct db_syncer *s)
{
	if (!s)
		return;
	sqlite3_close(s->sql);
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	free(s);
}
