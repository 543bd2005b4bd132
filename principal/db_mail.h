/* The principals' mailbox in the directory (schema/016_gateway_mail.sql, docs/principals.md):
 * messages one principal leaves for a gateway whose link another principal holds. The
 * queries only; principal/mailbox.c runs them on the daemon's loop. */
#ifndef INSEL_PRINCIPAL_DB_MAIL_H
#define INSEL_PRINCIPAL_DB_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define DB_MAIL_MAX_PER_SECONDARY 64  /* waiting for one gateway; more: INSEL_E_LIMIT */
#define DB_MAIL_MAX 4096              /* waiting in all */

/* Leaves body (a JSON message, as text) for the named secondary, from sender (the
 * principal's mailbox name); *id is the row's. On PostgreSQL the commit wakes every
 * principal listening (NOTIFY insel_gateway_mail). INSEL_E_LIMIT over a cap. */
int db_mail_post(struct db *db, const char *secondary, const char *sender,
		 const char *body, int64_t now, int64_t *id);

/* Messages nobody delivered yet, created at or after since, oldest first, at most max:
 * fn is called for each after the read has ended (it may write). */
typedef void (*db_mail_row_fn)(void *ctx, int64_t id, const char *secondary, const char *body);
int db_mail_waiting(struct db *db, int64_t since, size_t max, db_mail_row_fn fn, void *ctx);
/* Claims message id for delivery by `by`: 0 when this call claimed it, INSEL_E_NOT_FOUND
 * when it is gone or another claimed it first (then it is not ours to send). */
int db_mail_claim(struct db *db, int64_t id, const char *by);
/* Gives a claimed message back (its send failed), for another principal to deliver. */
int db_mail_unclaim(struct db *db, int64_t id);
/* The ids of sender's messages that were delivered (fn per id, after the read). */
typedef void (*db_mail_id_fn)(void *ctx, int64_t id);
int db_mail_delivered(struct db *db, const char *sender, db_mail_id_fn fn, void *ctx);
/* Deletes message id if nobody claimed it: 0 when withdrawn so, INSEL_E_EXISTS when it
 * had been delivered (it is deleted too). */
int db_mail_withdraw(struct db *db, int64_t id);
int db_mail_remove(struct db *db, int64_t id);
/* Deletes every message created before `before` (of principals that died waiting). */
int db_mail_sweep(struct db *db, int64_t before);
/* Wakes the principals listening (PostgreSQL; nothing on SQLite, where they poll). */
int db_mail_notify(struct db *db);

#endif
