/* `insel-principal lan ...`: the directory's LANs and their prefixes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "err.h"
#include "principal.h"

static const struct cli_column lan_columns[] = {
	{"name", "LAN", CLI_STR},
	{"prefixes", "PREFIXES", CLI_LIST},
	{"secondary", "SECONDARY", CLI_STR},
	{"state", "STATE", CLI_STR},
	{"endpoint", "ENDPOINT", CLI_STR},
	{"hosts", "HOSTS", CLI_INT},
	{"users", "USERS", CLI_INT},
	{"mapped", "MAPPED", CLI_STR},
};
static const struct cli_column lan_fields[] = {
	{"name", "LAN", CLI_STR},
	{"prefixes", "prefixes", CLI_LIST},
	{"mapped", "mapped prefix", CLI_STR},
	{"secondary", "secondary", CLI_STR},
	{"state", "state", CLI_STR},
	{"endpoint", "endpoint", CLI_STR},
	{"fingerprint", "fingerprint", CLI_STR},
	{"last_heartbeat", "last heartbeat", CLI_TIME},
	{"hosts", "hosts", CLI_INT},
	{"users", "users", CLI_INT},
};
static const struct cli_column lookup_fields[] = {
	{"callee", "callee", CLI_STR},
	{"kind", "kind", CLI_STR},
	{"lan", "LAN", CLI_STR},
	{"host", "host", CLI_STR},
	{"address", "address", CLI_STR},
	{"prefix", "prefix", CLI_STR},
	{"mapped_prefix", "mapped prefix", CLI_STR},
	{"mapped_address", "mapped address", CLI_STR},
};
#define N(a) (sizeof a / sizeof a[0])

static int parse_prefix(const struct cli *c, const char *text, struct ip_prefix *p)
{
	int err = ip_prefix_parse(text, true, p);

	if (err)
		return cli_usage_error(c, "invalid prefix '%s': %s", text, insel_strerror(err));
	return 0;
}

static int lan_add(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--prefix", "--secondary", "--mapped", NULL};
	static const char *const flags[] = {"--allow-overlap", NULL};
	struct ip_prefix prefixes[DB_MAX_PREFIXES], mapped, chosen;
	struct db_lan_overlap ov = {0};
	char text[IP_STRLEN];
	size_t n;
	struct db *db;
	int rc;

	if (cli_parse(c, argc, argv, opts, flags, 1, 1))
		return c->exit_code;
	n = cli_opt_count(c, "--prefix");
	if (n == 0)
		return cli_usage_error(c, "a LAN needs at least one --prefix");
	if (n > DB_MAX_PREFIXES)
		return cli_usage_error(c, "at most %d prefixes", DB_MAX_PREFIXES);
	for (size_t i = 0; i < n; i++)
		if ((rc = parse_prefix(c, cli_opt_at(c, "--prefix", i), &prefixes[i])))
			return rc;
	ov.allow = cli_flag(c, "--allow-overlap");
	ov.chosen = &chosen;
	if (cli_opt(c, "--mapped")) {
		if ((rc = parse_prefix(c, cli_opt(c, "--mapped"), &mapped)))
			return rc;
		ov.mapped = &mapped;
	}
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	rc = db_lan_add_overlap(db, c->pos[0], prefixes, n, cli_opt(c, "--secondary"),
				ov.allow || ov.mapped ? &ov : NULL, cli_now());
	if (rc)
		return cli_fail(c, db, rc);
	if (ov.allow || ov.mapped)
		return cli_done(c, db, "LAN %s added; other LANs reach it as %s", c->pos[0],
				ip_prefix_format(&chosen, text, sizeof text));
	return cli_done(c, db, "LAN %s added", c->pos[0]);
}

static int lan_map(struct cli *c, int argc, char **argv)
{
	struct ip_prefix p;
	struct db *db;
	int rc;

	if (cli_parse(c, argc, argv, NULL, NULL, 2, 2))
		return c->exit_code;
	if ((rc = parse_prefix(c, c->pos[1], &p)))
		return rc;
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	if ((rc = db_lan_map(db, c->pos[0], &p)))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "LAN %s: other LANs reach it as %s", c->pos[0], c->pos[1]);
}

/* What a secondary's look-up would say: which LAN, which address, which mapping. */
static int lan_lookup(struct cli *c, int argc, char **argv)
{
	struct pop_lookup_reply r;
	struct db *db;
	json_t *obj = NULL;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 1, 1)))
		return c->exit_code;
	cli_judge_liveness(c, db);
	rc = db_lookup_find(db, c->pos[0], cli_now(), &r);
	/* Which LAN is meant, even while no secondary serves it. */
	if (rc == 0 || rc == INSEL_E_UNAVAILABLE)
		rc = (obj = pop_lookup_reply_encode(&r)) ? 0 : -ENOMEM;
	return cli_object_result(c, db, rc, obj, lookup_fields, N(lookup_fields));
}

static int lan_list(struct cli *c, int argc, char **argv)
{
	struct db *db;
	json_t *rows = NULL;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 0, 0)))
		return c->exit_code;
	cli_judge_liveness(c, db);
	rc = db_lan_list(db, cli_now(), &rows);
	return cli_list_result(c, db, rc, rows, lan_columns, N(lan_columns));
}

static int lan_show(struct cli *c, int argc, char **argv)
{
	struct db *db;
	json_t *obj = NULL;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 1, 1)))
		return c->exit_code;
	cli_judge_liveness(c, db);
	rc = db_lan_show(db, c->pos[0], cli_now(), &obj);
	return cli_object_result(c, db, rc, obj, lan_fields, N(lan_fields));
}

static int lan_remove(struct cli *c, int argc, char **argv)
{
	struct db *db;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 1, 1)))
		return c->exit_code;
	if ((rc = db_lan_remove(db, c->pos[0])))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "LAN %s removed, with its hosts and users", c->pos[0]);
}

static int lan_set_secondary(struct cli *c, int argc, char **argv)
{
	static const char *const flags[] = {"--none", NULL};
	struct db *db;
	const char *sec;
	int rc;

	if (cli_parse(c, argc, argv, NULL, flags, 1, 2))
		return c->exit_code;
	if ((c->npos == 2) == cli_flag(c, "--none"))
		return cli_usage_error(c, "give either a SECONDARY or --none");
	sec = c->npos == 2 ? c->pos[1] : NULL;
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	if ((rc = db_lan_set_secondary(db, c->pos[0], sec)))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "LAN %s is now served by %s", c->pos[0], sec ? sec : "nobody");
}

static int lan_prefix(struct cli *c, int argc, char **argv, bool add)
{
	struct ip_prefix p;
	struct db *db;
	int rc;

	if (cli_parse(c, argc, argv, NULL, NULL, 2, 2))
		return c->exit_code;
	if ((rc = parse_prefix(c, c->pos[1], &p)))
		return rc;
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	rc = add ? db_lan_add_prefix(db, c->pos[0], &p) : db_lan_remove_prefix(db, c->pos[0], &p);
	if (rc)
		return cli_fail(c, db, rc);
	return cli_done(c, db, "LAN %s: prefix %s %s", c->pos[0], c->pos[1],
			add ? "added" : "removed");
}

static int lan_add_prefix(struct cli *c, int argc, char **argv)
{
	return lan_prefix(c, argc, argv, true);
}

static int lan_remove_prefix(struct cli *c, int argc, char **argv)
{
	return lan_prefix(c, argc, argv, false);
}

static const struct cli_verb verbs[] = {
	{"add", lan_add, "NAME --prefix PREFIX [--prefix PREFIX...] [--secondary NAME] "
	 "[--allow-overlap] [--mapped PREFIX]",
	 "add a LAN bound to its secondary; no prefix may overlap another LAN's, unless "
	 "--allow-overlap: then other LANs reach it by its mapped prefix (given, or assigned "
	 "from 10.99.0.0/16)"},
	{"map", lan_map, "NAME PREFIX",
	 "give a LAN the mapped prefix other LANs reach it by (as long as its one IPv4 prefix)"},
	{"lookup", lan_lookup, "ADDRESS|HOST|USER@LAN",
	 "which LAN, address and mapping a look-up means"},
	{"list", lan_list, "", "list LANs with their secondary and its state"},
	{"show", lan_show, "NAME", "show one LAN"},
	{"remove", lan_remove, "NAME", "remove a LAN with its hosts and users"},
	{"set-secondary", lan_set_secondary, "NAME (SECONDARY | --none)",
	 "bind the LAN to the secondary that serves it (registrations never do)"},
	{"add-prefix", lan_add_prefix, "NAME PREFIX", "add a prefix to a LAN"},
	{"remove-prefix", lan_remove_prefix, "NAME PREFIX",
	 "remove a prefix (refused while a host of the LAN is inside it)"},
};

int lan_main(int argc, char **argv)
{
	return cli_run_verbs("lan", "the directory's LANs", verbs, N(verbs), argc, argv);
}
