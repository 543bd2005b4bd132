/* Renewal requests and certificate expiries in the directory (see db_renew.h).
 *
 * A request is keyed by (secondary, key id), so a secondary that asks again with the
 * same key (polling while an operator decides, or after a restart) finds its request
 * instead of filing another. Issuing records the certificate on the request and on the
 * secondary in one transaction: the certificate reaches the secondary only after that
 * commit, so the directory never lags behind a certificate in use. The certificate the
 * secondary asked with becomes its `previous` one, accepted by peers until it registers
 * with the new one. */
#include <stdio.h>
#include <string.h>

#include "db_internal.h"
#include "db_renew.h"
#include "err.h"

struct renew_secondary {
	int64_t id;
	char previous_serial[PKI_SERIAL_MAX + 1];
};

static int renew_secondary_get(struct db *db, const char *name, struct renew_secondary *row)
{
	struct db_st *st = db_stmt(db, ST_RENEW_SECONDARY);
	int rc;

	st_bind_text(st, 1, name);
	rc = st_step(st);
	if (rc == DB_ROW) {
		const char *prev = db_col_text(st, 4);

		row->id = st_col_int64(st, 0);
		snprintf(row->previous_serial, sizeof row->previous_serial, "%s",
			 prev ? prev : "");
		rc = 0;
	} else if (rc == DB_DONE) {
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no secondary named '%s'", name);
	} else {
		rc = db_engine_error(db, "cannot read the secondary");
	}
	st_reset(st);
	return rc;
}

static const char *state_word(const char *text)
{
	static const char *const words[] = {"pending", "issued", "rejected", "superseded"};

	for (size_t i = 0; text && i < sizeof words / sizeof words[0]; i++)
		if (strcmp(text, words[i]) == 0)
			return words[i];
	return "pending";
}

/* The secondary's request for key_id: 0 with *id and *state, or INSEL_E_NOT_FOUND. */
static int find_request(struct db *db, int64_t secondary_id, const char *key_id, int64_t *id,
			const char **state)
{
	struct db_st *st = db_stmt(db, ST_RENEW_FIND);
	int rc;

	st_bind_int64(st, 1, secondary_id);
	st_bind_text(st, 2, key_id);
	rc = st_step(st);
	if (rc == DB_ROW) {
		*id = st_col_int64(st, 0);
		*state = state_word(db_col_text(st, 1));
		rc = 0;
	} else {
		rc = rc == DB_DONE ? INSEL_E_NOT_FOUND
				       : db_engine_error(db, "cannot read renewal requests");
	}
	st_reset(st);
	return rc;
}

/* New keys are cheap for a secondary, rows are not for the directory. */
static int check_request_rate(struct db *db, int64_t secondary_id, const char *name,
			      int64_t now)
{
	struct db_st *st = db_stmt(db, ST_RENEW_RECENT);
	int64_t recent = -1;

	st_bind_int64(st, 1, secondary_id);
	st_bind_int64(st, 2, now - 86400);
	if (st_step(st) == DB_ROW)
		recent = st_col_int64(st, 0);
	st_reset(st);
	if (recent < 0)
		return db_engine_error(db, "cannot count renewal requests");
	if (recent >= DB_RENEW_MAX_PER_DAY)
		return db_set_error(db, INSEL_E_LIMIT,
				    "secondary %s filed %lld renewal requests in the last day; no "
				    "more until some are older", name, (long long)recent);
	return 0;
}

static int file_request_tx(struct db *db, const struct db_renew_request *r, int64_t now,
			   int64_t *id, const char **state)
{
	struct renew_secondary sec;
	struct db_st *st;
	int rc = renew_secondary_get(db, r->secondary, &sec);

	if (!rc)
		rc = find_request(db, sec.id, r->key_id, id, state);
	if (rc != INSEL_E_NOT_FOUND)
		return rc;
	rc = check_request_rate(db, sec.id, r->secondary, now);
	if (rc)
		return rc;
	/* One pending request per secondary: the newest key is the one it will use. */
	st = db_stmt(db, ST_RENEW_SUPERSEDE);
	st_bind_int64(st, 1, sec.id);
	st_bind_int64(st, 2, now);
	rc = db_exec_stmt(db, st, "cannot supersede older requests");
	if (rc)
		return rc;
	st = db_stmt(db, ST_RENEW_INSERT);
	st_bind_int64(st, 1, sec.id);
	st_bind_text(st, 2, r->key_id);
	st_bind_text(st, 3, r->csr);
	st_bind_text(st, 4, r->requested_with->fingerprint);
	st_bind_text(st, 5, r->requested_with->serial);
	st_bind_int64(st, 6, r->requested_with->not_after);
	st_bind_int64(st, 7, now);
	rc = db_insert_id(db, st, "cannot file the renewal request", id);
	if (rc)
		return rc;
	*state = "pending";
	return 0;
}

int db_renew_file(struct db *db, const struct db_renew_request *r, int64_t now, int64_t *id,
		  const char **state)
{
	int rc = db_tx_begin(db);

	return rc ? rc : db_tx_end(db, file_request_tx(db, r, now, id, state));
}

/* ---- reading requests ---- */

static json_t *request_row_json(struct db_st *st, bool with_pem)
{
	json_t *row = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
				"request", (json_int_t)st_col_int64(st, 0),
				"secondary", db_col_json_str(st, 1),
				"state", db_col_json_str(st, 2),
				"key_id", db_col_json_str(st, 3),
				"requested_with", db_col_json_str(st, 4),
				"requested_with_serial", db_col_json_str(st, 5),
				"requested_with_not_after", db_col_json_int(st, 6),
				"created_at", db_col_json_int(st, 7),
				"decided_at", db_col_json_int(st, 8),
				"serial", db_col_json_str(st, 9),
				"fingerprint", db_col_json_str(st, 10),
				"not_after", db_col_json_int(st, 11),
				"issued_by", db_col_json_str(st, 12));

	if (row && with_pem) {
		json_object_set_new(row, "certificate", db_col_json_str(st, 13));
		json_object_set_new(row, "csr", db_col_json_str(st, 14));
	}
	return row;
}

int db_renew_get(struct db *db, int64_t id, bool with_pem, json_t **out)
{
	struct db_st *st = db_stmt(db, ST_RENEW_GET);
	int rc;

	st_bind_int64(st, 1, id);
	rc = st_step(st);
	if (rc == DB_ROW) {
		*out = request_row_json(st, with_pem);
		rc = *out ? 0 : db_set_error(db, INSEL_E_DB, "out of memory");
	} else if (rc == DB_DONE) {
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no renewal request %lld", (long long)id);
	} else {
		rc = db_engine_error(db, "cannot read the renewal request");
	}
	st_reset(st);
	return rc;
}

static json_t *request_list_row(struct db_st *st, const void *ctx)
{
	(void)ctx;
	return request_row_json(st, false);
}

int db_renew_list(struct db *db, bool pending_only, json_t **out)
{
	struct db_st *st = db_stmt(db, ST_RENEW_LIST);

	st_bind_int64(st, 1, pending_only);
	return db_list_rows(db, st, request_list_row, NULL, "cannot list renewal requests", out);
}

/* ---- deciding ---- */

static int decide(struct db *db, int64_t id, const char *state, const char *cert_pem,
		  const struct pki_identity *cert, const char *issued_by, int64_t now)
{
	struct db_st *st = db_stmt(db, ST_RENEW_DECIDE);
	int rc;

	st_bind_int64(st, 1, id);
	st_bind_text(st, 2, state);
	db_bind_text_or_null(st, 3, cert_pem);
	db_bind_text_or_null(st, 4, cert ? cert->serial : NULL);
	db_bind_text_or_null(st, 5, cert ? cert->fingerprint : NULL);
	if (cert)
		st_bind_int64(st, 6, cert->not_after);
	db_bind_text_or_null(st, 7, issued_by);
	st_bind_int64(st, 8, now);
	rc = db_exec_stmt(db, st, "cannot record the decision");
	if (!rc && db_changes(db) != 1)
		rc = db_set_error(db, INSEL_E_CONFLICT,
				  "renewal request %lld is not pending any more", (long long)id);
	return rc;
}

/* Reads what issuing needs from request id: the secondary's row and the certificate it
 * asked with. */
static int request_origin(struct db *db, int64_t id, int64_t *secondary_id,
			  char fingerprint[PKI_FINGERPRINT_LEN + 1],
			  char serial[PKI_SERIAL_MAX + 1], int64_t *not_after)
{
	struct db_st *st = db_stmt(db, ST_RENEW_GET);
	int rc;

	st_bind_int64(st, 1, id);
	rc = st_step(st);
	if (rc == DB_ROW) {
		const char *fp = db_col_text(st, 4), *sn = db_col_text(st, 5);

		snprintf(fingerprint, PKI_FINGERPRINT_LEN + 1, "%s", fp ? fp : "");
		snprintf(serial, PKI_SERIAL_MAX + 1, "%s", sn ? sn : "");
		*not_after = st_col_int64(st, 6);
		*secondary_id = st_col_int64(st, 15);
		rc = 0;
	} else if (rc == DB_DONE) {
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no renewal request %lld", (long long)id);
	} else {
		rc = db_engine_error(db, "cannot read the renewal request");
	}
	st_reset(st);
	return rc;
}

static int issued_tx(struct db *db, int64_t id, const char *cert_pem,
		     const struct pki_identity *cert, const char *issued_by, int64_t now)
{
	char fingerprint[PKI_FINGERPRINT_LEN + 1], serial[PKI_SERIAL_MAX + 1];
	int64_t secondary_id = 0, not_after = 0;
	struct db_st *st;
	int rc = request_origin(db, id, &secondary_id, fingerprint, serial, &not_after);

	if (!rc)
		rc = decide(db, id, "issued", cert_pem, cert, issued_by, now);
	if (rc)
		return rc;
	st = db_stmt(db, ST_RENEW_SET_CERT);
	st_bind_int64(st, 1, secondary_id);
	st_bind_text(st, 2, fingerprint);
	st_bind_text(st, 3, serial);
	st_bind_int64(st, 4, not_after);
	st_bind_text(st, 5, cert->fingerprint);
	st_bind_text(st, 6, cert->serial);
	st_bind_int64(st, 7, cert->not_after);
	return db_exec_stmt(db, st, "cannot record the secondary's new certificate");
}

int db_renew_issued(struct db *db, int64_t id, const char *cert_pem,
		    const struct pki_identity *cert, const char *issued_by, int64_t now)
{
	int rc = db_tx_begin(db);

	return rc ? rc : db_tx_end(db, issued_tx(db, id, cert_pem, cert, issued_by, now));
}

int db_renew_reject(struct db *db, int64_t id, int64_t now)
{
	int rc = db_tx_begin(db);

	return rc ? rc : db_tx_end(db, decide(db, id, "rejected", NULL, NULL, NULL, now));
}

/* ---- registration during and after a switch ---- */

bool db_renew_previous_registers(struct db *db, const char *secondary,
				 const char *fingerprint, int64_t now,
				 char current_fingerprint[PKI_FINGERPRINT_LEN + 1],
				 char current_serial[PKI_SERIAL_MAX + 1])
{
	struct db_st *st = db_stmt(db, ST_RENEW_PREVIOUS);
	bool found = false;

	st_bind_text(st, 1, secondary);
	st_bind_text(st, 2, fingerprint);
	st_bind_int64(st, 3, now);
	if (st_step(st) == DB_ROW && db_col_text(st, 0) && db_col_text(st, 1)) {
		snprintf(current_fingerprint, PKI_FINGERPRINT_LEN + 1, "%s", db_col_text(st, 0));
		snprintf(current_serial, PKI_SERIAL_MAX + 1, "%s", db_col_text(st, 1));
		found = true;
	}
	st_reset(st);
	return found;
}

int db_renew_registered(struct db *db, const char *secondary, const struct pki_identity *id)
{
	struct db_st *st = db_stmt(db, ST_RENEW_SEEN);

	st_bind_text(st, 1, secondary);
	st_bind_text(st, 2, id->fingerprint);
	st_bind_int64(st, 3, id->not_after);
	return db_exec_stmt(db, st, "cannot record the certificate's expiry");
}

int db_renew_revoke_previous(struct db *db, const char *secondary, const char *reason,
			     int64_t now)
{
	struct renew_secondary row;
	int rc = renew_secondary_get(db, secondary, &row);

	if (rc || !row.previous_serial[0] || db_is_revoked(db, row.previous_serial))
		return rc;
	return db_revoke_tx(db, row.previous_serial, secondary, reason, now);
}

/* ---- expiries ---- */

int db_principal_cert_put(struct db *db, const char *kind, const struct pki_identity *id,
			  int64_t now)
{
	struct db_st *st = db_stmt(db, ST_PCERT_PUT);

	db_read_release(db);
	st_bind_text(st, 1, kind);
	st_bind_text(st, 2, id->name);
	st_bind_text(st, 3, id->serial);
	st_bind_text(st, 4, id->fingerprint);
	st_bind_int64(st, 5, id->not_before);
	st_bind_int64(st, 6, id->not_after);
	st_bind_int64(st, 7, now);
	return db_exec_stmt(db, st, "cannot record the certificate");
}

static json_t *expiry_row(struct db_st *st, const void *ctx)
{
	int64_t now = *(const int64_t *)ctx;
	int64_t not_after = st_col_int64(st, 3);
	json_t *row = json_pack("{s:o, s:o, s:o, s:I, s:I}", "role", db_col_json_str(st, 0),
				"name", db_col_json_str(st, 1), "serial", db_col_json_str(st, 2),
				"not_after", (json_int_t)not_after,
				"seconds_left", (json_int_t)(not_after - now));

	if (row && !st_col_null(st, 4))
		json_object_set_new(row, "pending_request", db_col_json_int(st, 4));
	return row;
}

int db_expiry_list(struct db *db, int64_t now, json_t **out)
{
	return db_list_rows(db, db_stmt(db, ST_EXPIRY_LIST), expiry_row, &now,
			 "cannot list certificate expiries", out);
}
