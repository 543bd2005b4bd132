/* `insel-principal migrate-to-postgresql --db FILE --dsn DSN [--replace]`: the SQLite
 * directory FILE copied into the PostgreSQL database DSN in one transaction, each table's
 * row count checked on both sides (db_copy_to_postgresql). Run it with the principal
 * stopped, then start serve with [directory] engine = postgresql. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "principal.h"

static void print_counts(const json_t *counts)
{
	const char *table;
	json_t *n;

	json_object_foreach((json_t *)counts, table, n)
		printf("%-16s %lld\n", table, (long long)json_integer_value(n));
}

int migrate_main(int argc, char **argv)
{
	static const char *const flags[] = {"--replace", NULL};
	struct cli c = {.usage = "--db FILE --dsn DSN [--replace]", .db_path = DB_DEFAULT_PATH};
	struct db *src, *dst;
	json_t *counts = NULL;
	char err[600];
	int rc;

	snprintf(c.prog, sizeof c.prog, "insel-principal migrate-to-postgresql");
	if (cli_parse(&c, argc, argv, NULL, flags, 0, 0))
		return c.exit_code;
	if (!c.dsn)
		return cli_usage_error(&c, "--dsn: the PostgreSQL database to copy into");
	if (db_target_is_dsn(c.db_file))
		return cli_usage_error(&c, "--db: the SQLite directory file to copy from");
	if (db_open(c.db_file, &src, err, sizeof err)) {
		fprintf(stderr, "%s: %s\n", c.prog, err);
		return EXIT_UNAVAILABLE;
	}
	if (db_open(c.dsn, &dst, err, sizeof err)) {
		fprintf(stderr, "%s: %s\n", c.prog, err);
		db_close(src);
		return EXIT_UNAVAILABLE;
	}
	rc = db_copy_to_postgresql(src, dst, cli_flag(&c, "--replace"), &counts);
	db_close(src);
	if (rc)
		return cli_fail(&c, dst, rc);
	db_close(dst);
	if (c.json) {
		json_dumpf(counts, stdout, JSON_SORT_KEYS);
		putchar('\n');
	} else {
		print_counts(counts);
	}
	json_decref(counts);
	return EXIT_OK;
}
