/* `insel-principal call ...`: the call records the secondaries write. */
#include <stdio.h>

#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "principal.h"

static const struct cli_column columns[] = {
	{"id", "CALL", CLI_STR},
	{"caller", "CALLER", CLI_STR},
	{"callee", "CALLEE", CLI_STR},
	{"started_at", "STARTED", CLI_TIME},
	{"seconds", "SECONDS", CLI_INT},
	{"bytes_up", "UP", CLI_BYTES},
	{"bytes_down", "DOWN", CLI_BYTES},
	{"end_reason", "ENDED", CLI_STR},
	{"path_summary", "PATH", CLI_STR},
};
static const struct cli_column fields[] = {
	{"id", "call", CLI_STR},
	{"caller", "caller", CLI_STR},
	{"caller_lan", "caller LAN", CLI_STR},
	{"callee", "callee", CLI_STR},
	{"callee_lan", "callee LAN", CLI_STR},
	{"channels", "channels", CLI_STR},
	{"signalling", "signalling", CLI_STR},
	{"path", "data path", CLI_STR},
	{"path_remote", "data to", CLI_STR},
	{"path_final", "data path at end", CLI_STR},
	{"path_final_remote", "data to at end", CLI_STR},
	{"path_changes", "path changes", CLI_INT},
	{"path_history", "path history", CLI_STR},
	{"started_at", "started", CLI_TIME},
	{"ended_at", "ended", CLI_TIME},
	{"seconds", "seconds", CLI_INT},
	{"bytes_up", "bytes up", CLI_INT},
	{"bytes_down", "bytes down", CLI_INT},
	{"end_reason", "end reason", CLI_STR},
	{"reported_by", "recorded by", CLI_STR},
};
#define N(a) (sizeof a / sizeof a[0])

static int call_list(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--limit", NULL};
	static const char *const flags[] = {"--active", NULL};
	long long limit = 100;
	struct db *db;
	json_t *rows = NULL;
	int rc;

	if (cli_parse(c, argc, argv, opts, flags, 0, 0))
		return c->exit_code;
	if (cli_opt(c, "--limit") && (cfg_parse_int(cli_opt(c, "--limit"), &limit) || limit < 0))
		return cli_usage_error(c, "--limit must be a number (0 for all)");
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	rc = db_call_list(db, cli_flag(c, "--active"), limit, cli_now(), &rows);
	return cli_list_result(c, db, rc, rows, columns, N(columns));
}

static int call_show(struct cli *c, int argc, char **argv)
{
	struct db *db;
	json_t *obj = NULL;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 1, 1)))
		return c->exit_code;
	rc = db_call_show(db, c->pos[0], cli_now(), &obj);
	return cli_object_result(c, db, rc, obj, fields, N(fields));
}

static int call_end(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--reason", NULL};
	const char *reason;
	struct db *db;
	int rc;

	if (cli_parse(c, argc, argv, opts, NULL, 1, 1))
		return c->exit_code;
	reason = cli_opt(c, "--reason") ? cli_opt(c, "--reason") : "operator";
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	if ((rc = db_call_end(db, c->pos[0], 0, 0, reason, cli_now())))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "call %s marked ended (%s)", c->pos[0], reason);
}

static const struct cli_verb verbs[] = {
	{"list", call_list, "[--active] [--limit N]", "list call records, newest first"},
	{"show", call_show, "ID", "show one call record"},
	{"end", call_end, "ID [--reason TEXT]",
	 "close a record left active (e.g. after a secondary died)"},
};

int call_main(int argc, char **argv)
{
	return cli_run_verbs("call", "call records", verbs, N(verbs), argc, argv);
}
