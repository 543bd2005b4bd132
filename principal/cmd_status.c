/* `insel-principal status`: what the directory holds, at a glance. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "principal.h"

static const struct cli_column fields[] = {
	{"schema_version", "schema version", CLI_INT},
	{"lans", "LANs", CLI_INT},
	{"secondaries", "secondaries", CLI_INT},
	{"secondaries_up", "  up", CLI_INT},
	{"hosts", "hosts", CLI_INT},
	{"users", "users", CLI_INT},
	{"active_calls", "active calls", CLI_INT},
	{"calls", "calls recorded", CLI_INT},
	{"revoked", "revoked certs", CLI_INT},
};

int status_main(int argc, char **argv)
{
	struct cli c = {.usage = "", .db_path = DB_DEFAULT_PATH};
	struct db *db;
	json_t *obj = NULL;
	int rc;

	snprintf(c.prog, sizeof c.prog, "insel-principal status");
	if (cli_parse(&c, argc, argv, NULL, NULL, 0, 0))
		return c.exit_code;
	if (!(db = cli_open_db(&c)))
		return EXIT_UNAVAILABLE;
	if ((rc = db_status(db, cli_now(), &obj)))
		return cli_fail(&c, db, rc);
	return cli_print_object(&c, db, obj, fields, sizeof fields / sizeof fields[0]);
}
