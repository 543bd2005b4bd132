/* Look-ups: where is a callee ("user@lan", a host name, or an address), and which
 * secondary serves it, at which endpoint, with which certificate, in which state. This is
 * the principal's hot path: each form costs two or three indexed queries, run in one read
 * transaction so that they see one snapshot and take the file's locks once, not once
 * per query. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db_internal.h"
#include "err.h"

/* Adds the serving secondary of `lan` to result. */
static int add_serving(struct db *db, const char *lan, int64_t now, json_t *result)
{
	sqlite3_stmt *st = db_stmt(db, ST_LAN_SERVING);
	int rc;

	sqlite3_bind_text(st, 1, lan, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, db_cutoff(db, now));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		json_object_set_new(result, "secondary", db_col_json_str(st, 0));
		json_object_set_new(result, "endpoint", db_col_json_str(st, 1));
		json_object_set_new(result, "fingerprint", db_col_json_str(st, 2));
		json_object_set_new(result, "state", db_col_json_str(st, 3));
		json_object_set_new(result, "last_heartbeat", db_col_json_int(st, 4));
		/* A secondary switching to a renewed certificate: both are its own. */
		if (sqlite3_column_type(st, 5) != SQLITE_NULL)
			json_object_set_new(result, "previous_fingerprint", db_col_json_str(st, 5));
		rc = 0;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = db_set_error(db, INSEL_E_UNAVAILABLE, "no secondary serves LAN %s", lan);
	} else {
		rc = db_sqlite_error(db, "cannot look up the LAN's secondary");
	}
	sqlite3_reset(st);
	return rc;
}

static int lookup_user(struct db *db, const char *callee, json_t *result, char *lan)
{
	char name[DB_NAME_MAX + 1], hash[8];
	int rc;

	if (db_split_user(callee, name, lan))
		return db_set_error(db, INSEL_E_BAD_FIELD, "'%s' is not a valid user@lan", callee);
	rc = db_user_hash(db, name, lan, hash, sizeof hash);
	if (rc)
		return rc;
	json_object_set_new(result, "kind", json_string("user"));
	json_object_set_new(result, "user", json_string(name));
	return 0;
}

/* The host's name for an address, if the directory knows one. */
static void add_host_name(struct db *db, const char *address, json_t *result)
{
	sqlite3_stmt *st = db_stmt(db, ST_HOST_BY_ADDR);

	sqlite3_bind_text(st, 1, address, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		json_object_set_new(result, "host", db_col_json_str(st, 0));
	sqlite3_reset(st);
}

static int lookup_address(struct db *db, const struct ip_addr *a, json_t *result, char *lan)
{
	char prefix[IP_STRLEN], text[IP_STRLEN];
	int rc = db_match_address(db, a, lan, DB_NAME_MAX + 1, prefix, sizeof prefix);

	if (rc)
		return rc;
	ip_addr_format(a, text, sizeof text);
	if (!lan[0])
		return db_set_error(db, INSEL_E_NOT_FOUND, "no LAN has a prefix containing %s",
				    text);
	json_object_set_new(result, "address", json_string(text));
	json_object_set_new(result, "prefix", json_string(prefix));
	if (!json_object_get(result, "host"))
		add_host_name(db, text, result);
	return 0;
}

static int lookup_host(struct db *db, const char *name, json_t *result, char *lan)
{
	sqlite3_stmt *st = db_stmt(db, ST_HOST_BY_NAME);
	struct ip_addr a;
	int rc, parsed = -1;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		parsed = ip_addr_parse(db_col_text(st, 0), &a);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return db_set_error(db, INSEL_E_NOT_FOUND, "no user, host or address '%s'", name);
	if (rc != SQLITE_ROW || parsed)
		return db_sqlite_error(db, "cannot look up the host");
	json_object_set_new(result, "kind", json_string("host"));
	json_object_set_new(result, "host", json_string(name));
	return lookup_address(db, &a, result, lan);
}

static int lookup_in(struct db *db, const char *callee, int64_t now, json_t *result)
{
	char lan[DB_NAME_MAX + 1] = "";
	struct ip_addr a;
	int rc;

	if (!callee || !*callee) {
		rc = db_set_error(db, INSEL_E_BAD_FIELD, "empty callee");
	} else if (strchr(callee, '@')) {
		rc = lookup_user(db, callee, result, lan);
	} else if (ip_addr_parse(callee, &a) == 0) {
		json_object_set_new(result, "kind", json_string("address"));
		rc = lookup_address(db, &a, result, lan);
	} else if (db_name_valid(callee)) {
		rc = lookup_host(db, callee, result, lan);
	} else {
		rc = db_set_error(db, INSEL_E_BAD_FIELD,
				  "callee '%.80s' is neither user@lan, a host name nor an address",
				  callee);
	}
	if (!rc) {
		json_object_set_new(result, "lan", json_string(lan));
		rc = add_serving(db, lan, now, result);
	}
	return rc;
}

int db_lookup(struct db *db, const char *callee, int64_t now, json_t **out)
{
	json_t *result = json_pack("{s:s}", "callee", callee ? callee : "");
	bool began;
	int rc;

	db->err[0] = '\0';
	if (!result)
		return db_set_error(db, -ENOMEM, "out of memory");
	began = db_read_begin(db);
	rc = lookup_in(db, callee, now, result);
	db_read_end(db, began);
	if (rc) {
		json_decref(result);
		return rc;
	}
	*out = result;
	return 0;
}
