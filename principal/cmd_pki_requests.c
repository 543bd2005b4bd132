/* `insel-principal pki requests|approve|reject`: renewal requests from secondaries that
 * wait for the operator (when no issuing key is online, see principal.conf's
 * issuing_ca_key).
 *   pki requests [--all] [--json]               pending requests (--all: every one)
 *   pki approve ID --dir DIR [--days N | --seconds N]
 *                                               issue with DIR/ca.crt and DIR/ca.key
 *   pki reject ID                               refuse it
 * Approving issues a certificate for the request's key with the requesting secondary's
 * name and role, and records it as that secondary's certificate in the same directory
 * transaction; the secondary fetches it the next time it asks and switches over. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "db_renew.h"
#include "pki_csr.h"
#include "principal.h"

#define APPROVE_DAYS_DEFAULT 365
#define APPROVE_BACKDATE_S (10 * 60)
#define N(a) (sizeof a / sizeof a[0])

static const struct cli_column columns[] = {
	{"request", "ID", CLI_INT},
	{"secondary", "SECONDARY", CLI_STR},
	{"state", "STATE", CLI_STR},
	{"created_at", "ASKED", CLI_TIME},
	{"requested_with_not_after", "CURRENT EXPIRES", CLI_TIME},
	{"decided_at", "DECIDED", CLI_TIME},
	{"serial", "NEW SERIAL", CLI_STR},
};

static const struct cli_column approved_fields[] = {
	{"request", "request", CLI_INT},
	{"secondary", "secondary", CLI_STR},
	{"serial", "serial", CLI_STR},
	{"fingerprint", "fingerprint", CLI_STR},
	{"not_after", "valid until", CLI_TIME},
};

static int requests_list(struct cli *c, int argc, char **argv)
{
	static const char *const flags[] = {"--all", NULL};
	struct db *db;
	json_t *rows = NULL;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, flags, 0, 0)))
		return c->exit_code;
	rc = db_renew_list(db, !cli_flag(c, "--all"), &rows);
	return cli_list_result(c, db, rc, rows, columns, N(columns));
}

/* The request number the first argument gives, or 0 (none is) after saying why. It is
 * the return value, not an output argument, so that no caller can read it unset (gcc -O3
 * saw such a read in pki approve/reject, not knowing that an error always came with it). */
static int64_t parse_request_id(const struct cli *c)
{
	char *end;
	long long v = strtoll(c->pos[0], &end, 10);

	if (!*c->pos[0] || *end || v <= 0) {
		cli_usage_error(c, "'%s' is not a request number (see pki requests)", c->pos[0]);
		return 0;
	}
	return v;
}

/* The validity asked for: --seconds, --days, or the default. */
static int parse_validity(const struct cli *c, long long *seconds)
{
	const char *days = cli_opt(c, "--days"), *secs = cli_opt(c, "--seconds");
	char *end;
	long long v;

	if (days && secs)
		return cli_usage_error(c, "give --days or --seconds, not both");
	*seconds = APPROVE_DAYS_DEFAULT * 86400LL;
	if (!days && !secs)
		return 0;
	v = strtoll(days ? days : secs, &end, 10);
	if (!*(days ? days : secs) || *end || v <= 0 || v > (days ? 36500 : 36500LL * 86400))
		return cli_usage_error(c, "%s: not a validity (1 to 36500 days)",
				       days ? "--days" : "--seconds");
	*seconds = days ? v * 86400 : v;
	return 0;
}

/* Issues request (its PEM and secondary in row) with the CA in dir. */
static int issue_request(const struct cli *c, struct db *db, int64_t id, const json_t *row,
			 const char *dir, long long validity)
{
	const char *csr = json_string_value(json_object_get(row, "csr"));
	const char *name = json_string_value(json_object_get(row, "secondary"));
	char err[512], crt[4096], key[4096], *pem = NULL;
	struct pki_issuer *is = NULL;
	struct pki_identity cert;
	int64_t now = cli_now();
	int rc;

	snprintf(crt, sizeof crt, "%s/ca.crt", dir);
	snprintf(key, sizeof key, "%s/ca.key", dir);
	rc = pki_issuer_load(crt, key, &is, err, sizeof err);
	if (!rc)
		rc = pki_issue_csr(is, csr, strlen(csr), PKI_ROLE_SECONDARY, name,
				   now - APPROVE_BACKDATE_S, now + validity, &pem, &cert, err,
				   sizeof err);
	pki_issuer_free(is);
	if (rc) {
		fprintf(stderr, "%s: %s\n", c->prog, err);
		db_close(db);
		return EXIT_FAILURE_GENERIC;
	}
	rc = db_renew_issued(db, id, pem, &cert, "operator", now);
	free(pem);
	return rc;
}

static int requests_approve(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--dir", "--days", "--seconds", NULL};
	long long validity;
	json_t *row = NULL;
	struct db *db;
	int64_t id;
	int rc;

	if (cli_parse(c, argc, argv, opts, NULL, 1, 1))
		return c->exit_code;
	if (!cli_opt(c, "--dir"))
		return cli_usage_error(c, "--dir DIR (holding ca.crt and ca.key) is required");
	if (!(id = parse_request_id(c)))
		return EXIT_USAGE;
	if ((rc = parse_validity(c, &validity)))
		return rc;
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	if ((rc = db_renew_get(db, id, true, &row)))
		return cli_fail(c, db, rc);
	if (strcmp(json_string_value(json_object_get(row, "state")), "pending") != 0) {
		fprintf(stderr, "%s: request %lld is %s, not pending\n", c->prog, (long long)id,
			json_string_value(json_object_get(row, "state")));
		json_decref(row);
		db_close(db);
		return EXIT_FAILURE_GENERIC;
	}
	rc = issue_request(c, db, id, row, cli_opt(c, "--dir"), validity);
	json_decref(row);
	if (rc == EXIT_FAILURE_GENERIC)
		return rc;
	if (rc)
		return cli_fail(c, db, rc);
	rc = db_renew_get(db, id, false, &row);
	return cli_object_result(c, db, rc, row, approved_fields, N(approved_fields));
}

static int requests_reject(struct cli *c, int argc, char **argv)
{
	struct db *db;
	int64_t id;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 1, 1)))
		return c->exit_code;
	if (!(id = parse_request_id(c))) {
		db_close(db);
		return EXIT_USAGE;
	}
	if ((rc = db_renew_reject(db, id, cli_now())))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "renewal request %lld rejected; the secondary keeps its current "
			"certificate and asks again with a new key", (long long)id);
}

static const struct cli_verb verbs[] = {
	{"requests", requests_list, "[--all]",
	 "renewal requests from secondaries waiting for approval (--all: every one)"},
	{"approve", requests_approve, "ID --dir DIR [--days N | --seconds N]",
	 "issue a waiting renewal with the CA in DIR (ca.crt, ca.key)"},
	{"reject", requests_reject, "ID", "refuse a waiting renewal"},
};

bool pki_request_verb(const char *name)
{
	for (size_t i = 0; i < N(verbs); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return true;
	return false;
}

int pki_request_main(int argc, char **argv)
{
	return cli_run_verbs("pki", "renewal requests", verbs, N(verbs), argc, argv);
}
