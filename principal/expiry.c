/* Certificate expiries (see expiry.h). Whole overlay networks have stopped on the day
 * their CA expired: this is where the principal says so well ahead, for the CA, itself
 * and each gateway, from what the directory records (principal_certs, and each
 * secondary's certificate as registered or renewed). */
#include "expiry.h"

#include <stdio.h>
#include <string.h>

#include "db_renew.h"
#include "err.h"
#include "log.h"

int expiry_record_principal(struct db *db, const char *ca_path, const struct pki_identity *self,
			    int64_t now)
{
	struct pki_identity ca;
	char err[300];
	int rc = pki_read_identity(ca_path, &ca, err, sizeof err);

	if (rc) {
		log_warn("cannot read the CA's expiry: %s", err);
		return rc;
	}
	rc = db_principal_cert_put(db, "ca", &ca, now);
	if (!rc)
		rc = db_principal_cert_put(db, "principal", self, now);
	if (rc)
		log_warn("cannot record certificate expiries: %s", db_errmsg(db));
	return rc;
}

void expiry_format_duration(int64_t seconds, char *out, size_t n)
{
	int64_t s = seconds < 0 ? -seconds : seconds;

	if (s >= 86400)
		snprintf(out, n, "%lldd %lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(out, n, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(out, n, "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(out, n, "%llds", (long long)s);
}

static const char *what_to_do(const char *role)
{
	if (strcmp(role, "ca") == 0)
		return "make a new CA and reissue every certificate before then";
	if (strcmp(role, "principal") == 0)
		return "issue the principal a new certificate (pki issue --role principal) and "
		       "restart it";
	return "its gateway renews it by itself; check that it can reach the principal, and "
	       "approve its request (pki requests) if no issuing key is online";
}

static json_t *warning_for(json_t *row)
{
	const char *role = json_string_value(json_object_get(row, "role"));
	const char *name = json_string_value(json_object_get(row, "name"));
	int64_t left = json_integer_value(json_object_get(row, "seconds_left"));
	json_t *pending = json_object_get(row, "pending_request");
	char when[48], text[400];

	expiry_format_duration(left, when, sizeof when);
	if (left <= 0)
		snprintf(text, sizeof text, "the %s certificate of %s EXPIRED %s ago", role ? role : "",
			 name ? name : "", when);
	else if (pending)
		snprintf(text, sizeof text, "the %s certificate of %s expires in %s; its renewal "
			 "request %lld waits for 'insel-principal pki approve %lld'", role, name, when,
			 (long long)json_integer_value(pending), (long long)json_integer_value(pending));
	else
		snprintf(text, sizeof text, "the %s certificate of %s expires in %s: %s", role, name,
			 when, what_to_do(role ? role : ""));
	json_object_set_new(row, "warning", json_string(text));
	return row;
}

int expiry_warnings(struct db *db, int64_t now, int64_t warn_before_s, json_t **out)
{
	json_t *all, *row;
	size_t i;
	int rc = db_expiry_list(db, now, &all);

	if (rc)
		return rc;
	*out = json_array();
	json_array_foreach(all, i, row) {
		if (json_integer_value(json_object_get(row, "seconds_left")) < warn_before_s)
			json_array_append(*out, warning_for(row));
	}
	json_decref(all);
	return 0;
}

/* ---- the daemon's log ---- */

static bool due(struct expiry_log *l, const char *key, int64_t now, int64_t left)
{
	json_t *last = json_object_get(l->last, key);
	int64_t every = left / 2;

	if (every > 86400)
		every = 86400;
	if (every < 10)
		every = 10;
	if (last && now - json_integer_value(last) < every)
		return false;
	json_object_set_new(l->last, key, json_integer(now));
	return true;
}

void expiry_log_check(struct expiry_log *l, struct db *db, int64_t now, int64_t warn_before_s)
{
	json_t *warnings, *row;
	size_t i;

	if (l->checked_at && now - l->checked_at < EXPIRY_CHECK_S)
		return;
	l->checked_at = now;
	if (!l->last)
		l->last = json_object();
	if (expiry_warnings(db, now, warn_before_s, &warnings)) {
		log_error("cannot read certificate expiries: %s", db_errmsg(db));
		return;
	}
	json_array_foreach(warnings, i, row) {
		char key[200];
		int64_t left = json_integer_value(json_object_get(row, "seconds_left"));

		snprintf(key, sizeof key, "%s/%s/%s",
			 json_string_value(json_object_get(row, "role")),
			 json_string_value(json_object_get(row, "name")),
			 json_string_value(json_object_get(row, "serial")));
		if (!due(l, key, now, left))
			continue;
		if (left <= 0)
			log_error("%s", json_string_value(json_object_get(row, "warning")));
		else
			log_warn("%s", json_string_value(json_object_get(row, "warning")));
	}
	json_decref(warnings);
}

void expiry_log_free(struct expiry_log *l)
{
	json_decref(l->last);
	l->last = NULL;
}
