/* `insel-principal revoke ...`: revoked certificates. The principal refuses them at every
 * TLS handshake and secondaries fetch the list (API op "revocations"). */
#include <stdio.h>

#include "cli.h"
#include "cmd.h"
#include "events.h"
#include "pki.h"
#include "principal.h"

static const struct cli_column columns[] = {
	{"serial", "SERIAL", CLI_STR},
	{"name", "NAME", CLI_STR},
	{"reason", "REASON", CLI_STR},
	{"revoked_at", "REVOKED", CLI_TIME},
};
#define N(a) (sizeof a / sizeof a[0])

/* The event log (events.h) beside the directory; a log that cannot be written is said,
 * the revocation stands. */
static void log_revocation(const struct cli *c, const char *serial, const char *name)
{
	struct event_log log;
	const char *reason = cli_opt(c, "--reason");

	if (event_log_open(&log, c->db_path, c->events) != 0) {
		fprintf(stderr, "%s: the event log beside %s cannot be written\n", c->prog,
			c->db_path);
		return;
	}
	event_log_add(&log, cli_now(), "revoked", json_pack("{s:s, s:s?, s:s?}", "serial",
							    serial, "name", name, "reason",
							    reason));
	event_log_close(&log);
}

static int revoke_add(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--cert", "--name", "--reason", NULL};
	struct pki_identity id;
	const char *serial, *name = NULL;
	char err[256];
	struct db *db;
	int rc;

	if (cli_parse(c, argc, argv, opts, NULL, 0, 1))
		return c->exit_code;
	if ((c->npos == 1) == (cli_opt(c, "--cert") != NULL))
		return cli_usage_error(c, "give either a SERIAL or --cert FILE");
	if (cli_opt(c, "--cert")) {
		if (pki_read_identity(cli_opt(c, "--cert"), &id, err, sizeof err)) {
			fprintf(stderr, "%s: %s\n", c->prog, err);
			return EXIT_FAILURE_GENERIC;
		}
		serial = id.serial;
		name = id.name;
	} else {
		serial = c->pos[0];
	}
	if (cli_opt(c, "--name"))
		name = cli_opt(c, "--name");
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	if ((rc = db_revoke(db, serial, name, cli_opt(c, "--reason"), cli_now())))
		return cli_fail(c, db, rc);
	log_revocation(c, serial, name);
	return cli_done(c, db, "certificate %s%s%s revoked", serial, name ? " of " : "",
			name ? name : "");
}

static int revoke_list(struct cli *c, int argc, char **argv)
{
	struct db *db;
	json_t *rows = NULL;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 0, 0)))
		return c->exit_code;
	rc = db_revoked_list(db, &rows);
	return cli_list_result(c, db, rc, rows, columns, N(columns));
}

static int revoke_remove(struct cli *c, int argc, char **argv)
{
	struct db *db;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 1, 1)))
		return c->exit_code;
	if ((rc = db_unrevoke(db, c->pos[0])))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "certificate %s is accepted again", c->pos[0]);
}

static const struct cli_verb verbs[] = {
	{"add", revoke_add, "(SERIAL | --cert FILE) [--name NAME] [--reason TEXT]",
	 "revoke a certificate by serial (lowercase hex) or from its PEM file"},
	{"list", revoke_list, "", "list revoked certificates"},
	{"remove", revoke_remove, "SERIAL", "undo a revocation made by mistake"},
};

int revoke_main(int argc, char **argv)
{
	return cli_run_verbs("revoke", "revoked certificates", verbs, N(verbs), argc, argv);
}
