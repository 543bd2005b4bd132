/* Directory queries for users (password hashes), call records and revoked certificates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "err.h"
#include "rand.h"

/* ---- users ---- */

int db_split_user(const char *text, char name[DB_NAME_MAX + 1], char lan[DB_NAME_MAX + 1])
{
	const char *at = text ? strchr(text, '@') : NULL;
	size_t n = at ? (size_t)(at - text) : 0;

	if (!at || n == 0 || n > DB_NAME_MAX)
		return INSEL_E_BAD_FIELD;
	memcpy(name, text, n);
	name[n] = '\0';
	snprintf(lan, DB_NAME_MAX + 1, "%s", at + 1);
	if (strlen(at + 1) > DB_NAME_MAX || !db_name_valid(name) || !db_name_valid(lan))
		return INSEL_E_BAD_FIELD;
	return 0;
}

static int user_add_tx(struct db *db, const char *name, const char *lan, const char *hash,
		       int64_t now)
{
	int64_t lan_id;
	struct db_st *st;
	int rc = db_lan_id(db, lan, &lan_id);

	if (rc)
		return rc;
	st = db_stmt(db, ST_USER_INSERT);
	st_bind_text(st, 1, name);
	st_bind_int64(st, 2, lan_id);
	st_bind_text(st, 3, hash);
	st_bind_int64(st, 4, now);
	rc = db_exec_stmt(db, st, "cannot add user");
	if (rc == INSEL_E_EXISTS)
		rc = db_set_error(db, rc, "user %s@%s already exists", name, lan);
	return rc;
}

int db_user_add(struct db *db, const char *name, const char *lan, const char *hash,
		int64_t now)
{
	int rc;

	if (!db_name_valid(name))
		return db_set_error(db, INSEL_E_BAD_FIELD,
				    "invalid user name '%s': use 1-%d of a-z 0-9 . _ -", name,
				    DB_NAME_MAX);
	rc = db_tx_begin(db);
	return rc ? rc : db_tx_end(db, user_add_tx(db, name, lan, hash, now));
}

static int user_write(struct db *db, enum db_stmt_id id, const char *name, const char *lan,
		      const char *hash)
{
	struct db_st *st = db_stmt(db, id);
	int rc;

	db->err[0] = '\0';
	st_bind_text(st, 1, name);
	st_bind_text(st, 2, lan);
	if (hash)
		st_bind_text(st, 3, hash);
	rc = db_exec_stmt(db, st, "cannot change user");
	if (!rc && db_changes(db) == 0)
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no user %s@%s", name, lan);
	return rc;
}

int db_user_set_hash(struct db *db, const char *name, const char *lan, const char *hash)
{
	return user_write(db, ST_USER_SET_HASH, name, lan, hash);
}

int db_user_remove(struct db *db, const char *name, const char *lan)
{
	return user_write(db, ST_USER_DELETE, name, lan, NULL);
}

int db_user_hash(struct db *db, const char *name, const char *lan, char *out, size_t outlen)
{
	struct db_st *st = db_stmt(db, ST_USER_HASH);
	int rc;

	st_bind_text(st, 1, name);
	st_bind_text(st, 2, lan);
	rc = st_step(st);
	if (rc == DB_ROW) {
		snprintf(out, outlen, "%s", db_col_text(st, 0));
		rc = 0;
	} else if (rc == DB_DONE) {
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no user %s@%s", name, lan);
	} else {
		rc = db_engine_error(db, "cannot read user");
	}
	st_reset(st);
	return rc;
}

/* The iteration count written in a hash, or 0. */
static json_int_t hash_iterations(const char *hash)
{
	const char *p = hash ? strchr(hash, '$') : NULL;

	return p ? (json_int_t)strtoul(p + 1, NULL, 10) : 0;
}

static json_t *user_row_json(struct db_st *st, const void *ctx)
{
	char full[2 * DB_NAME_MAX + 2];

	(void)ctx;
	snprintf(full, sizeof full, "%s@%s", db_col_text(st, 0), db_col_text(st, 1));
	return json_pack("{s:o, s:o, s:s, s:I, s:o}", "name", db_col_json_str(st, 0),
			 "lan", db_col_json_str(st, 1), "user", full,
			 "iterations", hash_iterations(db_col_text(st, 2)),
			 "created_at", db_col_json_int(st, 3));
}

static int user_query(struct db *db, const char *lan, const char *name, json_t **out)
{
	return db_list_in_lan(db, ST_USER_LIST, lan, name, user_row_json, "cannot list users",
			      out);
}

int db_user_list(struct db *db, const char *lan, json_t **out)
{
	return user_query(db, lan, NULL, out);
}

int db_user_show(struct db *db, const char *name, const char *lan, json_t **out)
{
	json_t *list;
	char full[2 * DB_NAME_MAX + 2];
	int rc = user_query(db, lan, name, &list);

	snprintf(full, sizeof full, "%s@%s", name, lan);
	return rc ? rc : db_one_or_not_found(db, list, "user", full, out);
}

/* ---- call records ---- */

static bool call_id_valid(const char *id)
{
	uint64_t v;

	return id && id_parse(id, &v) == 0 && strspn(id, "0123456789abcdef") == 16;
}

/* The caller is a user of caller_lan (user@lan) or, for a trunk, the LAN itself. */
static bool caller_in_lan(const char *caller, const char *lan)
{
	const char *at = strchr(caller, '@');

	return strcmp(at ? at + 1 : caller, lan) == 0;
}

/* A secondary records calls as the caller's side: only calls from a LAN it serves,
 * placed by a caller of that LAN, so that no call can be recorded under another LAN's
 * name (the callee's LAN, named by the record, is the other side's word). */
static int check_recorder(struct db *db, const struct db_call_start *c)
{
	if (!caller_in_lan(c->caller, c->caller_lan))
		return db_set_error(db, INSEL_E_FORBIDDEN, "caller %s is not of LAN %s",
				    c->caller, c->caller_lan);
	if (c->reported_by && !db_secondary_serves(db, c->reported_by, c->caller_lan))
		return db_set_error(db, INSEL_E_FORBIDDEN, "secondary %s does not serve LAN %s, "
				    "the caller's side it records", c->reported_by, c->caller_lan);
	return 0;
}

int db_call_start(struct db *db, const struct db_call_start *c, int64_t now)
{
	struct db_st *st;
	int rc;

	if (!call_id_valid(c->id))
		return db_set_error(db, INSEL_E_BAD_FIELD, "a call id is 16 lowercase hex digits");
	if ((rc = check_recorder(db, c)) != 0)
		return rc;
	db->err[0] = '\0';
	st = db_stmt(db, ST_CALL_INSERT);
	st_bind_text(st, 1, c->id);
	st_bind_text(st, 2, c->caller);
	st_bind_text(st, 3, c->caller_lan);
	st_bind_text(st, 4, c->callee);
	db_bind_text_or_null(st, 5, c->callee_lan);
	st_bind_text(st, 6, c->channels ? c->channels : "[]");
	st_bind_int64(st, 7, now);
	db_bind_text_or_null(st, 8, c->reported_by);
	db_bind_text_or_null(st, 9, c->signalling);
	db_bind_text_or_null(st, 10, c->path);
	db_bind_text_or_null(st, 11, c->path_remote);
	rc = db_exec_stmt(db, st, "cannot record the call");
	if (rc == INSEL_E_EXISTS)
		rc = db_set_error(db, rc, "call %s is already recorded", c->id);
	return rc;
}

struct call_row {
	bool ended;
	char reporter[DB_NAME_MAX + 1];
};

static int call_get(struct db *db, const char *id, struct call_row *row)
{
	struct db_st *st = db_stmt(db, ST_CALL_GET);
	int rc;

	st_bind_text(st, 1, id);
	rc = st_step(st);
	if (rc == DB_ROW) {
		const char *rep = db_col_text(st, 1);

		row->ended = !st_col_null(st, 0);
		snprintf(row->reporter, sizeof row->reporter, "%s", rep ? rep : "");
		rc = 0;
	} else if (rc == DB_DONE) {
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no call %s", id);
	} else {
		rc = db_engine_error(db, "cannot read call");
	}
	st_reset(st);
	return rc;
}

static void bind_path(struct db_st *st, const struct db_call_path *path)
{
	if (!path)
		return;   /* parameters 6..9 stay NULL */
	st_bind_text(st, 6, path->final);
	st_bind_text(st, 7, path->remote);
	st_bind_int64(st, 8, path->changes);
	db_bind_text_or_null(st, 9, path->history);
}

static int call_end_tx(struct db *db, const char *id, int64_t up, int64_t down,
		       const char *reason, const struct db_call_path *path, int64_t now)
{
	struct call_row row;
	struct db_st *st;
	int rc = call_get(db, id, &row);

	if (rc)
		return rc;
	if (row.ended)
		return db_set_error(db, INSEL_E_CONFLICT, "call %s has already ended", id);
	st = db_stmt(db, ST_CALL_END);
	st_bind_text(st, 1, id);
	st_bind_int64(st, 2, now);
	st_bind_int64(st, 3, up);
	st_bind_int64(st, 4, down);
	st_bind_text(st, 5, reason);
	bind_path(st, path);
	return db_exec_stmt(db, st, "cannot end the call");
}

int db_call_end_path(struct db *db, const char *id, int64_t bytes_up, int64_t bytes_down,
		     const char *reason, const struct db_call_path *path, int64_t now)
{
	int rc;

	if (bytes_up < 0 || bytes_down < 0)
		return db_set_error(db, INSEL_E_BAD_FIELD, "byte counts cannot be negative");
	if (path && (!path->final || !path->remote || path->changes < 0))
		return db_set_error(db, INSEL_E_BAD_FIELD, "a final path needs its kind, its "
				    "endpoint and a count of changes not below zero");
	rc = db_tx_begin(db);
	return rc ? rc : db_tx_end(db, call_end_tx(db, id, bytes_up, bytes_down, reason, path,
						     now));
}

int db_call_end(struct db *db, const char *id, int64_t bytes_up, int64_t bytes_down,
		const char *reason, int64_t now)
{
	return db_call_end_path(db, id, bytes_up, bytes_down, reason, NULL, now);
}

int db_call_reporter(struct db *db, const char *id, char *out, size_t outlen)
{
	struct call_row row;
	int rc = call_get(db, id, &row);

	if (!rc)
		snprintf(out, outlen, "%s", row.reporter);
	return rc;
}

static json_t *channels_json(const char *text)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;

	/* Written by this code as JSON, but an operator may have edited the row by hand. */
	return j ? j : json_string(text ? text : "");
}

/* One line for a listing: "direct", "tcp -> direct (1 change)", "direct -> direct
 * (2 changes)" (the same kind, other endpoints: a rebinding), or null before up. */
static json_t *path_summary(struct db_st *st)
{
	const char *up = db_col_text(st, 14), *final = db_col_text(st, 16);
	int64_t changes = st_col_int64(st, 18);
	char text[64];

	if (!up && !final)
		return json_null();
	if (!final || changes == 0)
		return json_string(up ? up : final);
	snprintf(text, sizeof text, "%s -> %s (%lld change%s)", up ? up : "?", final,
		 (long long)changes, changes == 1 ? "" : "s");
	return json_string(text);
}

static json_t *call_row_json(struct db_st *st, const void *ctx)
{
	json_t *row;

	(void)ctx;
	row = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "id", db_col_json_str(st, 0), "caller", db_col_json_str(st, 1),
			 "caller_lan", db_col_json_str(st, 2), "callee", db_col_json_str(st, 3),
			 "callee_lan", db_col_json_str(st, 4),
			 "channels", channels_json(db_col_text(st, 5)),
			 "started_at", db_col_json_int(st, 6), "ended_at", db_col_json_int(st, 7),
			 "seconds", db_col_json_int(st, 8), "bytes_up", db_col_json_int(st, 9),
			 "bytes_down", db_col_json_int(st, 10),
			 "end_reason", db_col_json_str(st, 11),
			 "reported_by", db_col_json_str(st, 12));
	if (row) {
		json_object_set_new(row, "signalling", db_col_json_str(st, 13));
		json_object_set_new(row, "path", db_col_json_str(st, 14));
		json_object_set_new(row, "path_remote", db_col_json_str(st, 15));
		json_object_set_new(row, "path_final", db_col_json_str(st, 16));
		json_object_set_new(row, "path_final_remote", db_col_json_str(st, 17));
		json_object_set_new(row, "path_changes", db_col_json_int(st, 18));
		json_object_set_new(row, "path_history",
				    st_col_null(st, 19) ? json_array()
				    : channels_json(db_col_text(st, 19)));
		json_object_set_new(row, "path_summary", path_summary(st));
	}
	return row;
}

static int call_query(struct db *db, bool active_only, const char *id, int64_t limit,
		      int64_t now, json_t **out)
{
	struct db_st *st = db_stmt(db, ST_CALL_LIST);

	st_bind_int64(st, 1, active_only);
	db_bind_text_or_null(st, 2, id);
	st_bind_int64(st, 3, limit > 0 ? limit : -1);
	st_bind_int64(st, 4, now);
	return db_list_rows(db, st, call_row_json, NULL, "cannot list calls", out);
}

int db_call_list(struct db *db, bool active_only, int64_t limit, int64_t now, json_t **out)
{
	return call_query(db, active_only, NULL, limit, now, out);
}

int db_call_history(struct db *db, int64_t limit, json_t **out)
{
	struct db_st *st = db_stmt(db, ST_CALL_ENDED);

	st_bind_int64(st, 1, limit > 0 ? limit : -1);
	return db_list_rows(db, st, call_row_json, NULL, "cannot list ended calls", out);
}

int db_call_show(struct db *db, const char *id, int64_t now, json_t **out)
{
	json_t *list;
	int rc = call_query(db, false, id, 1, now, &list);

	return rc ? rc : db_one_or_not_found(db, list, "call", id, out);
}

/* ---- revoked certificates ---- */

int db_revoke_tx(struct db *db, const char *serial, const char *name, const char *reason,
		 int64_t now)
{
	struct db_st *st;
	int rc;

	if (!db_serial_valid(serial))
		return db_set_error(db, INSEL_E_BAD_FIELD,
				    "a certificate serial is 1-40 lowercase hex digits");
	st = db_stmt(db, ST_REV_INSERT);
	st_bind_text(st, 1, serial);
	db_bind_text_or_null(st, 2, name);
	db_bind_text_or_null(st, 3, reason);
	st_bind_int64(st, 4, now);
	rc = db_exec_stmt(db, st, "cannot revoke");
	if (rc == INSEL_E_EXISTS)
		return db_set_error(db, rc, "certificate %s is already revoked", serial);
	if (rc)
		return rc;
	st = db_stmt(db, ST_CALL_END_REVOKED);
	st_bind_text(st, 1, serial);
	st_bind_int64(st, 2, now);
	return db_exec_stmt(db, st, "cannot end the revoked secondary's calls");
}

int db_revoke(struct db *db, const char *serial, const char *name, const char *reason,
	      int64_t now)
{
	int rc = db_tx_begin(db);

	return rc ? rc : db_tx_end(db, db_revoke_tx(db, serial, name, reason, now));
}

int db_unrevoke(struct db *db, const char *serial)
{
	struct db_st *st = db_stmt(db, ST_REV_DELETE);
	int rc;

	db->err[0] = '\0';
	st_bind_text(st, 1, serial);
	rc = db_exec_stmt(db, st, "cannot remove the revocation");
	if (!rc && db_changes(db) == 0)
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "certificate %s is not revoked", serial);
	return rc;
}

int db_revoked(struct db *db, const char *serial, bool *revoked)
{
	struct db_st *st = db_stmt(db, ST_REV_EXISTS);
	int rc;

	st_bind_text(st, 1, serial);
	rc = st_step(st);
	*revoked = rc == DB_ROW;
	rc = rc == DB_ROW || rc == DB_DONE ? 0 : db_engine_error(db, "cannot read revocations");
	st_reset(st);
	return rc;
}

bool db_is_revoked(struct db *db, const char *serial)
{
	bool revoked;

	/* Fail closed: if the directory cannot answer, treat the certificate as revoked. */
	return db_revoked(db, serial, &revoked) || revoked;
}

static json_t *revocation_row_json(struct db_st *st, const void *ctx)
{
	(void)ctx;
	return json_pack("{s:o, s:o, s:o, s:o}", "serial", db_col_json_str(st, 0),
			 "name", db_col_json_str(st, 1), "reason", db_col_json_str(st, 2),
			 "revoked_at", db_col_json_int(st, 3));
}

int db_revoked_page(struct db *db, const struct db_page *page, json_t **out, int64_t *total)
{
	bool began = db_read_begin(db);
	struct db_st *st = db_stmt(db, ST_REV_LIST);
	int rc = db_count(db, ST_REV_COUNT, total);

	st_bind_int64(st, 1, page->limit);
	st_bind_int64(st, 2, page->offset);
	if (rc == 0)
		rc = db_list_rows(db, st, revocation_row_json, NULL, "cannot list revocations",
				  out);
	else
		st_reset(st);
	db_read_end(db, began);
	return rc;
}

int db_revoked_list(struct db *db, json_t **out)
{
	int64_t total;

	return db_revoked_page(db, &(struct db_page){0, -1}, out, &total);
}
