/* `insel-principal status`: what the directory holds, at a glance, and every certificate
 * expiry within the warning window (--warn-before, 30 days by default): the CA, the
 * principal and each gateway, with what to do. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "expiry.h"
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

static int warn_window(const struct cli *c, int64_t *seconds)
{
	const char *text = cli_opt(c, "--warn-before");
	uint64_t ms;

	*seconds = EXPIRY_WARN_DEFAULT_S;
	if (!text)
		return 0;
	if (cfg_parse_duration_ms(text, &ms) || ms > INT64_MAX)
		return cli_usage_error(c, "--warn-before: not a duration (e.g. 30d, 12h)");
	*seconds = (int64_t)(ms / 1000);
	return 0;
}

static void print_warnings(const json_t *warnings)
{
	const json_t *w;
	size_t i;

	if (json_array_size(warnings) == 0) {
		printf("certificates    none expiring soon\n");
		return;
	}
	json_array_foreach(warnings, i, w)
		printf("%-15s %s\n", i == 0 ? "WARNING" : "",
		       json_string_value(json_object_get(w, "warning")));
}

int status_main(int argc, char **argv)
{
	static const char *const opts[] = {"--warn-before", NULL};
	struct cli c = {.usage = "[--warn-before DURATION]", .db_path = DB_DEFAULT_PATH};
	struct db *db;
	json_t *obj = NULL, *warnings = NULL;
	int64_t window;
	int rc;

	snprintf(c.prog, sizeof c.prog, "insel-principal status");
	if (cli_parse(&c, argc, argv, opts, NULL, 0, 0))
		return c.exit_code;
	if ((rc = warn_window(&c, &window)))
		return rc;
	if (!(db = cli_open_db(&c)))
		return EXIT_UNAVAILABLE;
	cli_judge_liveness(&c, db);
	if ((rc = db_status(db, cli_now(), &obj)))
		return cli_fail(&c, db, rc);
	if ((rc = expiry_warnings(db, cli_now(), window, &warnings))) {
		json_decref(obj);
		return cli_fail(&c, db, rc);
	}
	json_object_set(obj, "certificate_warnings", warnings);
	rc = cli_print_object(&c, db, obj, fields, sizeof fields / sizeof fields[0]);
	if (!c.json)
		print_warnings(warnings);
	json_decref(warnings);
	return rc;
}
