/* `insel-principal relays [--json]`: the relays the running principal knows (its own
 * and the designated relays of secondaries, docs/relay.md section 8), as it last wrote
 * them into the directory (within a second of a change while it serves). */
#include <stdio.h>

#include "cli.h"
#include "cmd.h"
#include "principal.h"

static const struct cli_column columns[] = {
	{"secondary", "RELAY OF", CLI_STR},
	{"address", "ADDRESS", CLI_STR},
	{"online", "ONLINE", CLI_BOOL},
	{"live", "LIVE", CLI_INT},
	{"allocations", "ALLOCATIONS", CLI_INT},
	{"forwarded", "FORWARDED", CLI_INT},
	{"dropped", "DROPPED", CLI_INT},
	{"updated_at", "UPDATED", CLI_TIME},
};

int relays_main(int argc, char **argv)
{
	struct cli c = {.prog = "insel-principal relays", .usage = "", .db_path = DB_DEFAULT_PATH};
	struct db *db;
	json_t *rows = NULL;
	int rc;

	if (!(db = cli_begin(&c, argc, argv, NULL, NULL, 0, 0)))
		return c.exit_code;
	rc = db_relays_list(db, &rows);
	/* The principal's own relay has no secondary: say so. */
	for (size_t i = 0; !rc && !c.json && i < json_array_size(rows); i++) {
		json_t *row = json_array_get(rows, i);

		if (json_is_null(json_object_get(row, "secondary")))
			json_object_set_new(row, "secondary", json_string("(principal)"));
	}
	return cli_list_result(&c, db, rc, rows, columns, sizeof columns / sizeof columns[0]);
}
