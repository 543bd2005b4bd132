/* The statement layer's PostgreSQL backend (db_engine.h), on libpq.
 *
 * The directory's SQL is SQLite's where both engines read it alike; pg_prepare turns
 * what differs only in spelling (?N parameters, group_concat, IS NOT between values,
 * LIMIT -1) into PostgreSQL's, and db.c keeps a PostgreSQL text for the statements that
 * differ more. Writers are serialized as SQLite's BEGIN IMMEDIATE does (db.c's BEGIN
 * takes a transaction-wide advisory lock), so the checks a transaction makes before it
 * writes (free prefix, free name) hold on PostgreSQL too, with several principals.
 *
 * SQLite undoes only the failed statement inside a transaction; PostgreSQL aborts the
 * whole transaction. A write inside a transaction therefore runs inside a savepoint of
 * its own, so that the query families may go on after a refused write as they do on
 * SQLite. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db_engine_priv.h"
#include "db_internal.h"
#include "err.h"
#include "hex.h"
#include "schema.h"

/* The advisory lock writers and migrations take (any constant, the same everywhere). */
#define WRITE_LOCK "7419201717"

static void keep_failure(struct db *db, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	snprintf(db->pg_state, sizeof db->pg_state, "%s", state ? state : "08000");
	if (!msg) {
		size_t n;

		msg = PQerrorMessage(db->pg);
		n = strcspn(msg, "\n");
		snprintf(db->pg_msg, sizeof db->pg_msg, "%.*s", (int)n, msg);
		return;
	}
	snprintf(db->pg_msg, sizeof db->pg_msg, "%s", msg);
}

/* Class 08 (connection exception) and a server shutting down or starting: the directory
 * is unreachable for now, not failing. */
static bool unreachable(const char *state)
{
	return strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	       strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
}

int pg_error(struct db *db, const char *what)
{
	int err = INSEL_E_DB;

	if (unreachable(db->pg_state))
		return db_set_error(db, INSEL_E_DB_DOWN, "%s: the directory's database is "
				    "unreachable (%s)", what, db->pg_msg[0] ? db->pg_msg : "lost");
	if (strcmp(db->pg_state, "23505") == 0)
		err = INSEL_E_EXISTS;
	else if (strcmp(db->pg_state, "23503") == 0 || strcmp(db->pg_state, "23P01") == 0 ||
		 strcmp(db->pg_state, "P0001") == 0)
		err = INSEL_E_CONFLICT;
	return db_set_error(db, err, "%s: %s", what, db->pg_msg[0] ? db->pg_msg : "failed");
}

/* ---- SQL: SQLite's spelling to PostgreSQL's ---- */

static bool word_at(const char *s, const char *word)
{
	return strncmp(s, word, strlen(word)) == 0;
}

/* The translated text (malloc'd), the highest parameter number in *nparams, and whether
 * it holds several commands. */
static char *translate(const char *sql, int *nparams, bool *several)
{
	size_t n = strlen(sql);
	char *out = malloc(4 * n + 64), *o = out;
	int next = 0;
	char quote = 0;

	*nparams = 0;
	*several = false;
	if (!out)
		return NULL;
	for (const char *s = sql; *s;) {
		if (quote) {
			if (*s == quote)
				quote = 0;
			*o++ = *s++;
			continue;
		}
		if (*s == '\'' || *s == '"') {
			quote = *s;
			*o++ = *s++;
			continue;
		}
		if (*s == ';' && s[1]) {
			*several = true;
		} else if (word_at(s, "group_concat(")) {
			o += sprintf(o, "string_agg(");
			s += strlen("group_concat(");
			continue;
		} else if (word_at(s, "IS NOT ") && !word_at(s + 7, "NULL")) {
			o += sprintf(o, "IS DISTINCT FROM ");
			s += 7;
			continue;
		} else if (word_at(s, "LIMIT ?")) {
			char *end;
			long k = strtol(s + 7, &end, 10);

			if (end == s + 7)
				k = ++next;
			/* SQLite reads LIMIT -1 as no limit; PostgreSQL reads LIMIT NULL so. */
			o += sprintf(o, "LIMIT nullif($%ld::bigint, -1)", k);
			if (k > *nparams)
				*nparams = (int)k;
			s = end;
			continue;
		} else if (*s == '?') {
			char *end;
			long k = strtol(s + 1, &end, 10);

			if (end == s + 1)
				k = ++next;
			o += sprintf(o, "$%ld", k);
			if (k > *nparams)
				*nparams = (int)k;
			s = end;
			continue;
		}
		*o++ = *s++;
	}
	*o = '\0';
	return out;
}

static bool reads_only(const char *sql)
{
	static const char *const words[] = {"SELECT", "WITH", "BEGIN", "COMMIT", "ROLLBACK",
					    "SAVEPOINT", "RELEASE", "PRAGMA"};

	sql += strspn(sql, " \t\n(");
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strncasecmp(sql, words[i], strlen(words[i])) == 0)
			return true;
	return false;
}

#define INT8OID 20
#define TEXTOID 25

static bool simple(struct db *db, const char *sql);

/* A failed prepare inside a transaction would abort it: there it runs in a savepoint. */
static PGresult *prepare_once(struct db *db, const char *name, const char *sql, int n,
			      const unsigned *types)
{
	bool guard = PQtransactionStatus(db->pg) == PQTRANS_INTRANS;
	PGresult *res;

	if (guard)
		simple(db, "SAVEPOINT insel_prepare");
	res = PQprepare(db->pg, name, sql, n, types);
	if (guard) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			simple(db, "ROLLBACK TO SAVEPOINT insel_prepare");
		simple(db, "RELEASE SAVEPOINT insel_prepare");
	}
	return res;
}

/* PQprepare, letting the server infer every parameter's type. A parameter SQLite takes
 * first in "?1 IS NULL" leaves PostgreSQL nothing to infer from; such a one is declared
 * text, or bigint when the rest of the statement compares it with integers. */
static PGresult *prepare_typed(struct db *db, const char *name, const char *sql, int n)
{
	unsigned types[64] = {0};
	long forced = 0;
	PGresult *res;

	if (n > 64)
		n = 64;
	for (int tries = 0;; tries++) {
		const char *msg, *dollar;
		long k;

		res = prepare_once(db, name, sql, n, types);
		if (PQresultStatus(res) == PGRES_COMMAND_OK || tries >= 2 * n)
			return res;
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		if (msg && forced && types[forced - 1] == TEXTOID &&
		    strstr(msg, "operator does not exist: bigint = text")) {
			types[forced - 1] = INT8OID;
			PQclear(res);
			continue;
		}
		if (!msg || !strstr(msg, "could not determine data type of parameter"))
			return res;
		dollar = strchr(msg, '$');
		k = dollar ? strtol(dollar + 1, NULL, 10) : 0;
		if (k < 1 || k > n || types[k - 1])
			return res;
		types[k - 1] = TEXTOID;
		forced = k;
		PQclear(res);
	}
}

int pg_prepare(struct db *db, const char *sql, const char *name, struct db_st *st)
{
	bool several;
	int nparams;
	char *text = translate(sql, &nparams, &several);
	PGresult *res;

	if (!text)
		return db_set_error(db, INSEL_E_DB, "out of memory");
	st->readonly = reads_only(sql);
	st->nparams = nparams;
	st->param = nparams ? calloc((size_t)nparams, sizeof *st->param) : NULL;
	if (several) {
		st->sql = text;
		return 0;
	}
	if (name) {
		snprintf(st->name, sizeof st->name, "%s", name);
		st->text = text;
		return 0;
	}
	snprintf(st->name, sizeof st->name, "a%u", ++db->pg_adhoc);
	st->owned_name = true;
	res = prepare_typed(db, st->name, text, nparams);
	free(text);
	st->prepared = true;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		keep_failure(db, res);
		PQclear(res);
		st->owned_name = false;
		db_set_error(db, INSEL_E_DB, "cannot prepare %s: %s", st->name, db->pg_msg);
		return INSEL_E_DB;
	}
	PQclear(res);
	return 0;
}

void pg_finalize(struct db_st *st)
{
	pg_reset(st);
	if (st->owned_name && st->db->pg && PQtransactionStatus(st->db->pg) != PQTRANS_INERROR) {
		char sql[48];

		snprintf(sql, sizeof sql, "DEALLOCATE %s", st->name);
		PQclear(PQexec(st->db->pg, sql));
	}
	for (int i = 0; i < st->nparams; i++)
		free(st->param[i]);
	free(st->param);
	free(st->sql);
	free(st->text);
	free(st->blob);
}

void pg_set_param(struct db_st *st, int i, char *owned)
{
	if (i < 1 || i > st->nparams) {
		free(owned);
		return;
	}
	free(st->param[i - 1]);
	st->param[i - 1] = owned;
}

bool pg_in_tx(struct db *db)
{
	if (db->pg_lost_tx)
		return true;
	if (PQstatus(db->pg) == CONNECTION_BAD)
		return false;
	return PQtransactionStatus(db->pg) != PQTRANS_IDLE;
}

int64_t pg_changes(struct db *db)
{
	return db->pg_changes;
}

static bool simple(struct db *db, const char *sql)
{
	PGresult *res = PQexec(db->pg, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	return ok;
}

/* A table statement is prepared on its first run on this connection. */
static bool prepare_table_statement(struct db_st *st)
{
	PGresult *res;
	bool ok;

	if (st->prepared || !st->text)
		return true;
	res = prepare_typed(st->db, st->name, st->text, st->nparams);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		keep_failure(st->db, res);
	PQclear(res);
	st->prepared = ok;
	return ok;
}

static PGresult *run(struct db_st *st)
{
	if (st->sql)
		return PQexec(st->db->pg, st->sql);
	if (!prepare_table_statement(st))
		return NULL;
	return PQexecPrepared(st->db->pg, st->name, st->nparams,
			      (const char *const *)st->param, NULL, NULL, 0);
}

static bool result_ok(struct db *db, PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);
	const char *cmd;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		keep_failure(db, res);
		return false;
	}
	cmd = PQcmdStatus(res);
	if (word_at(cmd, "INSERT") || word_at(cmd, "UPDATE") || word_at(cmd, "DELETE"))
		db->pg_changes = strtoll(PQcmdTuples(res), NULL, 10);
	return true;
}

static bool is_rollback(const struct db_st *st)
{
	return st->text && strcmp(st->text, "ROLLBACK") == 0;
}

/* Runs st once. A statement outside any transaction whose connection was lost runs again
 * once on a new connection. Inside one, the transaction is gone with the connection: the
 * statement fails, and so does every other until the caller's ROLLBACK, which ends it,
 * so that nothing of the transaction is committed alone on the new connection. */
static PGresult *run_or_reconnect(struct db_st *st)
{
	struct db *db = st->db;
	PGTransactionStatusType before;
	PGresult *res;

	if (db->pg_lost_tx) {
		if (!is_rollback(st)) {
			snprintf(db->pg_state, sizeof db->pg_state, "08006");
			snprintf(db->pg_msg, sizeof db->pg_msg, "the connection to PostgreSQL "
				 "was lost inside a transaction");
			return NULL;
		}
		db->pg_lost_tx = false;
		return PQmakeEmptyPGresult(db->pg, PGRES_COMMAND_OK);
	}
	if (!pg_connection_ready(db, false))
		return NULL;
	before = PQtransactionStatus(db->pg);
	res = run(st);
	if (PQstatus(db->pg) != CONNECTION_BAD)
		return res;
	PQclear(res);
	keep_failure(db, NULL);
	if (before != PQTRANS_IDLE) {
		db->pg_lost_tx = !is_rollback(st);
		return NULL;
	}
	if (st->owned_name || !pg_connection_ready(db, true))
		return NULL;
	return run(st);
}

/* Runs st on its first step: a write inside a transaction within a savepoint. */
static int execute(struct db_st *st)
{
	struct db *db = st->db;
	bool guard = !st->readonly && !st->sql && pg_in_tx(db);
	PGresult *res;

	if (guard && !simple(db, "SAVEPOINT insel_statement")) {
		keep_failure(db, NULL);
		return DB_FAIL;
	}
	res = run_or_reconnect(st);
	if (!res) {
		db_set_error(db, INSEL_E_DB, "PostgreSQL: %s", db->pg_msg);
		return DB_FAIL;
	}
	if (!result_ok(db, res)) {
		PQclear(res);
		if (guard) {
			simple(db, "ROLLBACK TO SAVEPOINT insel_statement");
			simple(db, "RELEASE SAVEPOINT insel_statement");
		}
		return DB_FAIL;
	}
	if (guard)
		simple(db, "RELEASE SAVEPOINT insel_statement");
	st->res = (struct pg_result *)res;
	st->nrows = PQntuples(res);
	st->row = 0;
	return 0;
}

int pg_step(struct db_st *st)
{
	if (!st->res && execute(st))
		return DB_FAIL;
	if (st->row >= st->nrows)
		return DB_DONE;
	st->row++;
	return DB_ROW;
}

void pg_reset(struct db_st *st)
{
	PQclear((PGresult *)st->res);
	st->res = NULL;
	st->row = 0;
	st->nrows = 0;
}

static bool on_row(const struct db_st *st, int i)
{
	const PGresult *res = (const PGresult *)st->res;

	return res && st->row >= 1 && st->row <= st->nrows && i >= 0 && i < PQnfields(res);
}

bool pg_col_null(struct db_st *st, int i)
{
	return !on_row(st, i) || PQgetisnull((PGresult *)st->res, st->row - 1, i);
}

const char *pg_col_text(struct db_st *st, int i)
{
	if (pg_col_null(st, i))
		return NULL;
	return PQgetvalue((PGresult *)st->res, st->row - 1, i);
}

/* bytea in its hex output form ("\x0a000001"), decoded. */
const void *pg_col_blob(struct db_st *st, int i, int *len)
{
	const char *t = pg_col_text(st, i);
	size_t n;

	*len = 0;
	if (!t || t[0] != '\\' || t[1] != 'x')
		return NULL;
	t += 2;
	n = strlen(t) / 2;
	free(st->blob);
	st->blob = malloc(n ? n : 1);
	if (!st->blob)
		return NULL;
	if (hex_decode(t, 2 * n, st->blob, n) != 0)
		return NULL;
	st->blob_len = n;
	*len = (int)n;
	return st->blob;
}

int pg_exec(struct db *db, const char *sql, const char *what)
{
	PGresult *res = PQexec(db->pg, sql);
	bool ok = result_ok(db, res);

	PQclear(res);
	if (ok)
		return 0;
	return db_set_error(db, INSEL_E_DB, "%s: %s", what, db->pg_msg);
}

/* ---- migrations (schema/pg, embedded as schema_pg_migrations) ---- */

/* The one value of a query, or NULL (*failed when it failed). */
static PGresult *one_value(struct db *db, const char *sql, bool *failed)
{
	PGresult *res = PQexec(db->pg, sql);

	*failed = PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1;
	if (*failed)
		keep_failure(db, res);
	return res;
}

/* 0 when insel_schema does not exist yet (a new database). */
static int read_version(struct db *db, int *version)
{
	bool failed;
	PGresult *res = one_value(db, "SELECT to_regclass('insel_schema') IS NOT NULL", &failed);
	bool exists = !failed && PQgetvalue(res, 0, 0)[0] == 't';

	PQclear(res);
	*version = 0;
	if (!failed && exists) {
		res = one_value(db, "SELECT max(version) FROM insel_schema", &failed);
		if (!failed && !PQgetisnull(res, 0, 0))
			*version = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	if (failed)
		return db_set_error(db, INSEL_E_DB, "cannot read the schema version: %s",
				    db->pg_msg);
	return 0;
}

int pg_schema_version(struct db *db, int *version)
{
	return read_version(db, version);
}

/* Every step the database lacks, in one transaction under the writers' lock, so that
 * two principals starting at once on a new database do not both apply them. */
int pg_migrate(struct db *db, const char *target)
{
	int version, latest = schema_pg_migrations[schema_pg_migration_count - 1].version;
	int rc = pg_exec(db, "BEGIN; SELECT pg_advisory_xact_lock(" WRITE_LOCK ")",
			 "cannot start a migration");

	if (rc)
		return rc;
	rc = read_version(db, &version);
	if (!rc && version > latest)
		rc = db_set_error(db, INSEL_E_VERSION,
				  "%s has schema version %d, newer than this insel-principal "
				  "knows (%d); use a newer insel-principal",
				  target, version, latest);
	for (unsigned i = 0; !rc && i < schema_pg_migration_count; i++) {
		const struct schema_migration *m = &schema_pg_migrations[i];

		if (m->version <= version)
			continue;
		rc = pg_exec(db, m->sql, m->name);
		if (!rc)
			rc = pg_exec(db, m->bump, m->name);
	}
	if (!rc)
		return pg_exec(db, "COMMIT", "cannot commit a migration");
	simple(db, "ROLLBACK");
	return rc;
}
