/* `insel-principal secondary ...`: the LAN gateways, their certificates and health. */
#include <stdio.h>

#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "principal.h"

static const struct cli_column columns[] = {
	{"name", "SECONDARY", CLI_STR},
	{"lans", "LANS", CLI_LIST},
	{"state", "STATE", CLI_STR},
	{"endpoint", "ENDPOINT", CLI_STR},
	{"reachable", "REACHABLE", CLI_BOOL},
	{"last_heartbeat", "LAST HEARTBEAT", CLI_TIME},
	{"serial", "CERT SERIAL", CLI_STR},
	{"role", "ROLE", CLI_STR},
	{"reachable6", "REACHABLE6", CLI_BOOL},  /* last: the columns before keep their order */
};
static const struct cli_column fields[] = {
	{"name", "secondary", CLI_STR},
	{"lans", "LANs", CLI_LIST},
	{"role", "role", CLI_STR},
	{"priority", "priority", CLI_INT},
	{"state", "state", CLI_STR},
	{"endpoint", "endpoint", CLI_STR},
	{"reachable", "can be dialled", CLI_BOOL},
	{"endpoint6", "IPv6 endpoint", CLI_STR},
	{"reachable6", "IPv6 one can be dialled", CLI_BOOL},
	{"reachable_source", "as found by", CLI_STR},
	{"last_heartbeat", "last heartbeat", CLI_TIME},
	{"fingerprint", "fingerprint", CLI_STR},
	{"pinned", "pinned", CLI_BOOL},
	{"serial", "cert serial", CLI_STR},
};
#define N(a) (sizeof a / sizeof a[0])

/* --priority N (default DB_PRIORITY_DEFAULT) into *out; a usage error otherwise. */
static bool priority_opt(struct cli *c, int *out)
{
	const char *text = cli_opt(c, "--priority");
	long long n = DB_PRIORITY_DEFAULT;

	if (text && (cfg_parse_int(text, &n) || n < DB_PRIORITY_MIN || n > DB_PRIORITY_MAX)) {
		cli_usage_error(c, "--priority must be %d..%d", DB_PRIORITY_MIN, DB_PRIORITY_MAX);
		return false;
	}
	*out = (int)n;
	return true;
}

static int sec_add(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--fingerprint", "--lan", "--priority", NULL};
	const char *lan;
	json_t *shown = NULL;
	struct db *db;
	int rc, priority;

	if (!(db = cli_begin(c, argc, argv, opts, NULL, 1, 1)))
		return c->exit_code;
	lan = cli_opt(c, "--lan");
	if (!lan && cli_opt(c, "--priority"))
		return cli_usage_error(c, "--priority goes with --lan");
	if (!priority_opt(c, &priority))
		return c->exit_code;
	/* One of a LAN's gateways (docs/standby.md): the LAN must exist first. */
	if (lan && (rc = db_lan_show(db, lan, cli_now(), &shown)) != 0)
		return cli_fail(c, db, rc);
	json_decref(shown);
	rc = db_secondary_add(db, c->pos[0], cli_opt(c, "--fingerprint"), cli_now());
	if (!rc && lan)
		rc = db_secondary_set_gateway(db, c->pos[0], lan, priority);
	if (rc)
		return cli_fail(c, db, rc);
	if (lan)
		return cli_done(c, db, "secondary %s added as a gateway of LAN %s, priority %d%s",
				c->pos[0], lan, priority,
				cli_opt(c, "--fingerprint") ? ", pinned to its certificate" : "");
	return cli_done(c, db, "secondary %s added%s", c->pos[0],
			cli_opt(c, "--fingerprint") ? ", pinned to its certificate" : "");
}

static int sec_gateway(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--lan", "--priority", NULL};
	struct db *db;
	int rc, priority;

	if (!(db = cli_begin(c, argc, argv, opts, NULL, 1, 1)))
		return c->exit_code;
	if (!cli_opt(c, "--lan"))
		return cli_usage_error(c, "--lan LAN is required");
	if (!priority_opt(c, &priority))
		return c->exit_code;
	rc = db_secondary_set_gateway(db, c->pos[0], cli_opt(c, "--lan"), priority);
	if (rc)
		return cli_fail(c, db, rc);
	return cli_done(c, db, "secondary %s is a gateway of LAN %s, priority %d", c->pos[0],
			cli_opt(c, "--lan"), priority);
}

static int sec_list(struct cli *c, int argc, char **argv)
{
	struct db *db;
	json_t *rows = NULL;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 0, 0)))
		return c->exit_code;
	cli_judge_liveness(c, db);
	rc = db_secondary_list(db, cli_now(), &rows);
	return cli_list_result(c, db, rc, rows, columns, N(columns));
}

static int sec_show(struct cli *c, int argc, char **argv)
{
	struct db *db;
	json_t *obj = NULL;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 1, 1)))
		return c->exit_code;
	cli_judge_liveness(c, db);
	rc = db_secondary_show(db, c->pos[0], cli_now(), &obj);
	return cli_object_result(c, db, rc, obj, fields, N(fields));
}

static int sec_remove(struct cli *c, int argc, char **argv)
{
	struct db *db;
	int rc;

	if (!(db = cli_begin(c, argc, argv, NULL, NULL, 1, 1)))
		return c->exit_code;
	if ((rc = db_secondary_remove(db, c->pos[0])))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "secondary %s removed; its LANs are served by nobody now",
			c->pos[0]);
}

static int sec_revoke(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--reason", NULL};
	struct db *db;
	int rc;

	if (!(db = cli_begin(c, argc, argv, opts, NULL, 1, 1)))
		return c->exit_code;
	if ((rc = db_secondary_revoke(db, c->pos[0], cli_opt(c, "--reason"), cli_now())))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "certificate of secondary %s revoked; it is marked down",
			c->pos[0]);
}

static const struct cli_verb verbs[] = {
	{"add", sec_add, "NAME [--fingerprint SHA256HEX] [--lan LAN [--priority N]]",
	 "add a secondary (only added ones may register), optionally pinned to a certificate, "
	 "optionally as one of a LAN's gateways"},
	{"gateway", sec_gateway, "NAME --lan LAN [--priority N]",
	 "make a secondary one of a LAN's gateways (active or standby, docs/standby.md)"},
	{"list", sec_list, "", "list secondaries with their LANs, roles and health"},
	{"show", sec_show, "NAME", "show one secondary"},
	{"remove", sec_remove, "NAME", "remove a secondary (its LANs stay, unserved)"},
	{"revoke", sec_revoke, "NAME [--reason TEXT]",
	 "revoke the certificate the secondary registered with"},
};

int secondary_main(int argc, char **argv)
{
	return cli_run_verbs("secondary", "the LAN gateways", verbs, N(verbs), argc, argv);
}
