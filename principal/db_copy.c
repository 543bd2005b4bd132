/* `insel-principal migrate-to-postgresql` (db.h, db_copy_to_postgresql): a SQLite
 * directory copied into PostgreSQL table by table, in the order their references need,
 * through the statement layer on both sides. Values travel as text (each engine reads
 * its own integers and reals from it) except BLOB columns, which travel as bytes. */
#include <stdio.h>
#include <string.h>

#include "db_internal.h"
#include "err.h"

/* Referenced tables first; mapped prefixes before the prefixes they let overlap; room
 * members before bans (a ban evicts the member). The
 * daemon's relays_now is its view of the moment, not the directory: not copied; nor are
 * the principals' clocks (principal_clocks, each running principal writes its own). */
static const char *const tables[] = {
	"secondaries", "lans", "users", "hosts", "lan_maps", "lan_prefixes", "lan_gateways",
	"calls", "revoked_certs", "cert_requests", "principal_certs", "links",
	"link_settings", "rooms", "room_members", "room_bans", "room_events",
};
#define NTABLES (sizeof tables / sizeof tables[0])

/* Tables whose id PostgreSQL numbers (identity columns): their sequences continue after
 * the copied ids. calls' rowid is SQLite's implicit one, kept as the listings' order. */
static const char *const identities[][2] = {
	{"secondaries", "id"}, {"lans", "id"}, {"users", "id"}, {"hosts", "id"},
	{"cert_requests", "id"}, {"rooms", "id"}, {"room_events", "id"}, {"calls", "rowid"},
};

#define MAX_COLUMNS 32

struct columns {
	int n;
	char name[MAX_COLUMNS][48];
	bool blob[MAX_COLUMNS];
};

static int read_columns(struct db *src, const char *table, struct columns *c)
{
	char sql[128];
	struct db_st *st;
	int rc;

	snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
	if (db_prepare(src, sql, &st))
		return db_engine_error(src, "cannot read the tables of the SQLite directory");
	c->n = 0;
	if (strcmp(table, "calls") == 0) {
		snprintf(c->name[c->n], sizeof c->name[0], "rowid");
		c->blob[c->n++] = false;
	}
	while ((rc = st_step(st)) == DB_ROW && c->n < MAX_COLUMNS) {
		const char *type = st_col_text(st, 2);

		snprintf(c->name[c->n], sizeof c->name[0], "%s", st_col_text(st, 1));
		c->blob[c->n++] = type && strcmp(type, "BLOB") == 0;
	}
	st_finalize(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return db_engine_error(src, "cannot read the tables of the SQLite directory");
	if (c->n <= (strcmp(table, "calls") == 0))
		return db_set_error(src, INSEL_E_DB, "the SQLite directory has no table %s", table);
	return 0;
}

/* "SELECT "a", "b" FROM t" and "INSERT INTO t ("a", "b") VALUES (?1, ?2)". */
static void statements(const char *table, const struct columns *c, char *select, char *insert,
		       size_t len)
{
	size_t s = 0, i = 0;

	s += (size_t)snprintf(select + s, len - s, "SELECT ");
	i += (size_t)snprintf(insert + i, len - i, "INSERT INTO %s (", table);
	for (int k = 0; k < c->n; k++) {
		s += (size_t)snprintf(select + s, len - s, "%s\"%s\"", k ? ", " : "", c->name[k]);
		i += (size_t)snprintf(insert + i, len - i, "%s\"%s\"", k ? ", " : "", c->name[k]);
	}
	snprintf(select + s, len - s, " FROM %s", table);
	i += (size_t)snprintf(insert + i, len - i, ") VALUES (");
	for (int k = 0; k < c->n; k++)
		i += (size_t)snprintf(insert + i, len - i, "%s?%d", k ? ", " : "", k + 1);
	snprintf(insert + i, len - i, ")");
}

static void bind_row(struct db_st *from, struct db_st *to, const struct columns *c)
{
	st_reset(to);
	st_clear_bindings(to);
	for (int k = 0; k < c->n; k++) {
		if (st_col_null(from, k))
			st_bind_null(to, k + 1);
		else if (c->blob[k])
			st_bind_blob(to, k + 1, st_col_blob(from, k), (size_t)st_col_bytes(from, k));
		else
			st_bind_text(to, k + 1, st_col_text(from, k));
	}
}

static int copy_table(struct db *src, struct db *dst, const char *table, int64_t *rows)
{
	char select[2048], insert[2048];
	struct db_st *from = NULL, *to = NULL;
	struct columns c;
	int rc = read_columns(src, table, &c);

	*rows = 0;
	if (rc)
		return rc;
	statements(table, &c, select, insert, sizeof select);
	if (db_prepare(src, select, &from))
		return db_engine_error(src, table);
	if (db_prepare(dst, insert, &to)) {
		st_finalize(from);
		return db_engine_error(dst, table);
	}
	while ((rc = st_step(from)) == DB_ROW) {
		bind_row(from, to, &c);
		if (st_step(to) != DB_DONE) {
			rc = db_engine_error(dst, table);
			break;
		}
		(*rows)++;
	}
	if (rc == DB_DONE)
		rc = 0;
	else if (rc == DB_FAIL)
		rc = db_engine_error(src, table);
	st_finalize(from);
	st_finalize(to);
	return rc;
}

static int count_rows(struct db *db, const char *table, int64_t *n)
{
	char sql[96];
	struct db_st *st;
	int rc;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	if (db_prepare(db, sql, &st))
		return db_engine_error(db, "cannot count rows");
	rc = st_step(st);
	*n = rc == DB_ROW ? st_col_int64(st, 0) : -1;
	st_finalize(st);
	return rc == DB_ROW ? 0 : db_engine_error(db, "cannot count rows");
}

static int check_empty(struct db *dst, bool replace)
{
	int64_t n;
	int rc;

	for (size_t i = 0; i < NTABLES; i++) {
		if ((rc = count_rows(dst, tables[i], &n)))
			return rc;
		if (n && !replace)
			return db_set_error(dst, INSEL_E_CONFLICT,
					    "the PostgreSQL directory is not empty (%s holds %lld "
					    "rows): give --replace to overwrite it", tables[i],
					    (long long)n);
	}
	if (!replace)
		return 0;
	return db_exec(dst, "TRUNCATE secondaries, lans, users, hosts, lan_prefixes, lan_maps, "
		       "lan_gateways, calls, revoked_certs, cert_requests, principal_certs, links, "
		       "link_settings, rooms, room_members, room_bans, room_events CASCADE",
		       "cannot empty the PostgreSQL directory");
}

static int continue_identities(struct db *dst)
{
	for (size_t i = 0; i < sizeof identities / sizeof identities[0]; i++) {
		char sql[256];
		int rc;

		snprintf(sql, sizeof sql, "SELECT setval(pg_get_serial_sequence('%s', '%s'), "
			 "coalesce(max(%s), 0) + 1, false) FROM %s", identities[i][0],
			 identities[i][1], identities[i][1], identities[i][0]);
		if ((rc = db_exec(dst, sql, "cannot continue the numbering")))
			return rc;
	}
	return 0;
}

static int copy_all(struct db *src, struct db *dst, bool replace, json_t *counts)
{
	int rc = check_empty(dst, replace);

	for (size_t i = 0; !rc && i < NTABLES; i++) {
		int64_t copied, in_src, in_dst;

		if ((rc = copy_table(src, dst, tables[i], &copied)) ||
		    (rc = count_rows(src, tables[i], &in_src)) ||
		    (rc = count_rows(dst, tables[i], &in_dst)))
			break;
		if (copied != in_src || in_dst != in_src)
			rc = db_set_error(dst, INSEL_E_DB, "%s: %lld rows in SQLite, %lld copied, "
					  "%lld in PostgreSQL", tables[i], (long long)in_src,
					  (long long)copied, (long long)in_dst);
		json_object_set_new(counts, tables[i], json_integer(in_dst));
	}
	return rc ? rc : continue_identities(dst);
}

int db_copy_to_postgresql(struct db *src, struct db *dst, bool replace, json_t **counts)
{
	bool began;
	int rc;

	*counts = NULL;
	if (src->engine != DB_ENGINE_SQLITE || dst->engine != DB_ENGINE_POSTGRESQL)
		return db_set_error(dst, INSEL_E_BAD_FIELD,
				    "copies a SQLite directory into a PostgreSQL one");
	if (db_schema_version(src) != db_schema_version(dst))
		return db_set_error(dst, INSEL_E_VERSION, "schema versions differ: %d and %d",
				    db_schema_version(src), db_schema_version(dst));
	*counts = json_object();
	/* One snapshot of the source, one transaction of the target. */
	began = db_read_begin(src);
	rc = db_tx_begin(dst);
	if (!rc)
		rc = db_tx_end(dst, copy_all(src, dst, replace, *counts));
	db_read_end(src, began);
	if (rc) {
		json_decref(*counts);
		*counts = NULL;
		if (src->err[0] && !dst->err[0])
			memcpy(dst->err, src->err, sizeof dst->err);
	}
	return rc;
}
