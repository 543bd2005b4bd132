/* `insel-principal host ...`: named hosts, each with an address inside its LAN. */
#include <stdio.h>

#include "cli.h"
#include "cmd.h"
#include "err.h"
#include "principal.h"

static const struct cli_column columns[] = {
	{"name", "HOST", CLI_STR},
	{"lan", "LAN", CLI_STR},
	{"address", "ADDRESS", CLI_STR},
};
#define N(a) (sizeof a / sizeof a[0])

static int host_add(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--lan", "--address", NULL};
	struct ip_addr a;
	struct db *db;
	int rc;

	if (cli_parse(c, argc, argv, opts, NULL, 1, 1))
		return c->exit_code;
	if (!cli_opt(c, "--lan") || !cli_opt(c, "--address"))
		return cli_usage_error(c, "--lan and --address are required");
	if ((rc = ip_addr_parse(cli_opt(c, "--address"), &a)))
		return cli_usage_error(c, "invalid address '%s': %s", cli_opt(c, "--address"),
				       insel_strerror(rc));
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	if ((rc = db_host_add(db, c->pos[0], cli_opt(c, "--lan"), &a, cli_now())))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "host %s added to LAN %s", c->pos[0], cli_opt(c, "--lan"));
}

static int host_list(struct cli *c, int argc, char **argv)
{
	return cli_list_by_lan(c, argc, argv, db_host_list, columns, N(columns));
}

static int host_show(struct cli *c, int argc, char **argv)
{
	struct db *db;
	json_t *obj = NULL;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 1, 1)))
		return c->exit_code;
	rc = db_host_show(db, c->pos[0], &obj);
	return cli_object_result(c, db, rc, obj, columns, N(columns));
}

static int host_remove(struct cli *c, int argc, char **argv)
{
	struct db *db;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 1, 1)))
		return c->exit_code;
	if ((rc = db_host_remove(db, c->pos[0])))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "host %s removed", c->pos[0]);
}

static const struct cli_verb verbs[] = {
	{"add", host_add, "NAME --lan LAN --address ADDRESS",
	 "add a host; its address must lie inside a prefix of its LAN"},
	{"list", host_list, "[--lan LAN]", "list hosts"},
	{"show", host_show, "NAME", "show one host"},
	{"remove", host_remove, "NAME", "remove a host"},
};

int host_main(int argc, char **argv)
{
	return cli_run_verbs("host", "named hosts of the LANs", verbs, N(verbs), argc, argv);
}
