/* The principals' mailbox (db_mail.h): one row per message for a gateway. Claiming is one
 * UPDATE that only a row still unclaimed matches, so of two principals that both hold a
 * link to the gateway (it moved between their polls) exactly one sends the message. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "db_mail.h"
#include "err.h"

#define NOTIFY_SQL "NOTIFY insel_gateway_mail"

static int count(struct db *db, const char *sql, const char *secondary, int64_t *n)
{
	struct db_st *st = NULL;
	int rc;

	if (db_prepare(db, sql, &st))
		return db_engine_error(db, "cannot read the mailbox");
	if (secondary)
		st_bind_text(st, 1, secondary);
	rc = st_step(st);
	*n = rc == DB_ROW ? st_col_int64(st, 0) : 0;
	rc = rc == DB_ROW ? 0 : db_engine_error(db, "cannot read the mailbox");
	st_finalize(st);
	return rc;
}

static int post_tx(struct db *db, const char *secondary, const char *sender,
		   const char *body, int64_t now, int64_t *id)
{
	struct db_st *st = NULL;
	int64_t n;
	int rc;

	if ((rc = count(db, "SELECT count(*) FROM gateway_mail WHERE delivered_by IS NULL "
			"AND secondary = ?1", secondary, &n)))
		return rc;
	if (n >= DB_MAIL_MAX_PER_SECONDARY)
		return db_set_error(db, INSEL_E_LIMIT, "%lld messages wait for secondary %s "
				    "already", (long long)n, secondary);
	if ((rc = count(db, "SELECT count(*) FROM gateway_mail", NULL, &n)))
		return rc;
	if (n >= DB_MAIL_MAX)
		return db_set_error(db, INSEL_E_LIMIT, "the mailbox holds %lld messages",
				    (long long)n);
	if (db_prepare(db, "INSERT INTO gateway_mail (secondary, body, sender, created_at) "
		       "VALUES (?1, ?2, ?3, ?4) RETURNING id", &st))
		return db_engine_error(db, "cannot post to the mailbox");
	st_bind_text(st, 1, secondary);
	st_bind_text(st, 2, body);
	st_bind_text(st, 3, sender);
	st_bind_int64(st, 4, now);
	rc = db_insert_id(db, st, "cannot post to the mailbox", id);
	st_finalize(st);
	if (!rc && db_is_postgresql(db))
		rc = db_exec(db, NOTIFY_SQL, "cannot wake the principals");
	return rc;
}

int db_mail_post(struct db *db, const char *secondary, const char *sender,
		 const char *body, int64_t now, int64_t *id)
{
	int rc = db_tx_begin(db);

	if (rc)
		return rc;
	return db_tx_end(db, post_tx(db, secondary, sender, body, now, id));
}

struct mail_row {
	int64_t id;
	char *secondary, *body;
};

int db_mail_waiting(struct db *db, int64_t since, size_t max, db_mail_row_fn fn, void *ctx)
{
	struct mail_row *rows = calloc(max ? max : 1, sizeof *rows);
	struct db_st *st = NULL;
	size_t n = 0;
	int rc = DB_DONE;

	if (!rows)
		return -ENOMEM;
	if (db_prepare(db, "SELECT id, secondary, body FROM gateway_mail WHERE delivered_by "
		       "IS NULL AND created_at >= ?1 ORDER BY id", &st)) {
		free(rows);
		return db_engine_error(db, "cannot read the mailbox");
	}
	st_bind_int64(st, 1, since);
	while (n < max && (rc = st_step(st)) == DB_ROW) {
		rows[n].id = st_col_int64(st, 0);
		rows[n].secondary = strdup(db_col_text(st, 1));
		rows[n].body = strdup(db_col_text(st, 2));
		if (rows[n].secondary && rows[n].body)
			n++;
		else
			free(rows[n].secondary);
	}
	rc = n == max || rc == DB_DONE ? 0 : db_engine_error(db, "cannot read the mailbox");
	st_finalize(st);
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			fn(ctx, rows[i].id, rows[i].secondary, rows[i].body);
		free(rows[i].secondary);
		free(rows[i].body);
	}
	free(rows);
	return rc;
}

/* One write by id: the rows it changed, or a negative error. */
static int64_t write_one(struct db *db, const char *sql, int64_t id, const char *text)
{
	struct db_st *st = NULL;
	int rc;

	if (db_prepare(db, sql, &st))
		return db_engine_error(db, "cannot write the mailbox");
	st_bind_int64(st, 1, id);
	if (text)
		st_bind_text(st, 2, text);
	rc = db_exec_stmt(db, st, "cannot write the mailbox");
	st_finalize(st);
	return rc ? rc : db_changes(db);
}

static int one_or(int64_t changed, int none)
{
	return changed < 0 ? (int)changed : changed == 0 ? none : 0;
}

int db_mail_claim(struct db *db, int64_t id, const char *by)
{
	return one_or(write_one(db, "UPDATE gateway_mail SET delivered_by = ?2 WHERE id = ?1 "
				"AND delivered_by IS NULL", id, by), INSEL_E_NOT_FOUND);
}

int db_mail_unclaim(struct db *db, int64_t id)
{
	return one_or(write_one(db, "UPDATE gateway_mail SET delivered_by = NULL WHERE id = ?1",
				id, NULL), INSEL_E_NOT_FOUND);
}

int db_mail_withdraw(struct db *db, int64_t id)
{
	int rc = one_or(write_one(db, "DELETE FROM gateway_mail WHERE id = ?1 AND "
				  "delivered_by IS NULL", id, NULL), INSEL_E_EXISTS);

	if (rc == INSEL_E_EXISTS)
		db_mail_remove(db, id);
	return rc;
}

int db_mail_remove(struct db *db, int64_t id)
{
	int64_t changed = write_one(db, "DELETE FROM gateway_mail WHERE id = ?1", id, NULL);

	return changed < 0 ? (int)changed : 0;
}

/* Whether any row was created before `before`: a read, so that the sweep of an empty
 * mailbox (the usual case) takes no write lock and commits nothing. */
static bool any_before(struct db *db, int64_t before)
{
	struct db_st *st = NULL;
	bool any;

	if (db_prepare(db, "SELECT 1 FROM gateway_mail WHERE created_at < ?1 LIMIT 1", &st))
		return true;  /* the DELETE reports the failure */
	st_bind_int64(st, 1, before);
	any = st_step(st) != DB_DONE;
	st_finalize(st);
	return any;
}

int db_mail_sweep(struct db *db, int64_t before)
{
	int64_t changed;

	if (!any_before(db, before))
		return 0;
	changed = write_one(db, "DELETE FROM gateway_mail WHERE created_at < ?1", before, NULL);
	return changed < 0 ? (int)changed : 0;
}

#define MAX_DELIVERED 256

int db_mail_delivered(struct db *db, const char *sender, db_mail_id_fn fn, void *ctx)
{
	int64_t ids[MAX_DELIVERED];
	struct db_st *st = NULL;
	size_t n = 0;
	int rc = DB_DONE;

	if (db_prepare(db, "SELECT id FROM gateway_mail WHERE sender = ?1 AND delivered_by "
		       "IS NOT NULL ORDER BY id", &st))
		return db_engine_error(db, "cannot read the mailbox");
	st_bind_text(st, 1, sender);
	while (n < MAX_DELIVERED && (rc = st_step(st)) == DB_ROW)
		ids[n++] = st_col_int64(st, 0);
	rc = n == MAX_DELIVERED || rc == DB_DONE ? 0
						: db_engine_error(db, "cannot read the mailbox");
	st_finalize(st);
	for (size_t i = 0; !rc && i < n; i++)
		fn(ctx, ids[i]);
	return rc;
}

int db_mail_notify(struct db *db)
{
	return db_is_postgresql(db) ? db_exec(db, NOTIFY_SQL, "cannot wake the principals") : 0;
}
