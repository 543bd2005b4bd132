/* Shared by the operator subcommands (cmd_*.c): verb dispatch, option parsing (--db,
 * --json and each verb's own options), opening the directory, errors with meaningful
 * exit codes, and output as aligned tables for people or JSON for scripts. */
#ifndef INSEL_PRINCIPAL_CLI_H
#define INSEL_PRINCIPAL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "opts.h"

#define CLI_MAX_POS 8
#define CLI_MAX_VALS 32
#define CLI_MAX_OPTS 32   /* a verb's own options and flags */

struct cli {
	char prog[96];       /* "insel-principal lan add", for messages */
	const char *usage;   /* the verb's usage line */
	const char *db_path;  /* a SQLite file, or (--dsn) a PostgreSQL connection string */
	const char *dsn;
	const char *db_file;  /* --db as given, before --dsn takes its place */
	const char *events;   /* --events: the event log, when not beside the directory */
	bool json;
	int exit_code;       /* when cli_parse says stop */
	const char *pos[CLI_MAX_POS];
	size_t npos;
	struct {
		const char *name;
		const char *value;  /* NULL for a flag */
	} vals[CLI_MAX_VALS];
	size_t nvals;
};

struct cli_verb {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *usage;  /* arguments after the verb */
	const char *help;
};

/* Runs argv[1] from verbs; argv[0] is the family ("lan"). */
int cli_run_verbs(const char *family, const char *summary, const struct cli_verb *verbs,
		  size_t n, int argc, char **argv);

/* Parses the verb's arguments with opts.h. value_opts and flags are NULL-terminated lists
 * of long options ("--lan"); --db, --json and --help are always known. Needs between min_pos and
 * max_pos positional arguments. Returns 0 to go on, or -1 to stop with c->exit_code
 * (after --help, or after printing what is wrong). */
int cli_parse(struct cli *c, int argc, char **argv, const char *const *value_opts,
	      const char *const *flags, size_t min_pos, size_t max_pos);
const char *cli_opt(const struct cli *c, const char *name);
size_t cli_opt_count(const struct cli *c, const char *name);
const char *cli_opt_at(const struct cli *c, const char *name, size_t i);
bool cli_flag(const struct cli *c, const char *name);

/* Opens the directory named by --db (or the default); prints why and returns NULL on
 * failure. */
struct db *cli_open_db(const struct cli *c);
/* cli_parse, then cli_open_db: the directory, or NULL when the verb must return
 * c->exit_code (after --help, a usage error, or a directory that cannot be opened). */
struct db *cli_begin(struct cli *c, int argc, char **argv, const char *const *value_opts,
		     const char *const *flags, size_t min_pos, size_t max_pos);
/* Prints "PROG: message" (from db if given, else insel_strerror) and returns the exit
 * code for err: 2 for bad input, 1 otherwise. Closes db if non-NULL. */
int cli_fail(const struct cli *c, struct db *db, int err);
/* Prints "PROG: message" for a usage problem; returns EXIT_USAGE. */
int cli_usage_error(const struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int64_t cli_now(void);
/* For the views that say whether gateways are up (lan list, lan show, lan lookup,
 * secondary list and show, status): their verdicts judged as the serving principals judge
 * (db_clock.h: their down_after, their stalls excused, no silence counted since a
 * principal last ran), with a note on stderr (not with --json) when the principal judged
 * by has not run lately or is excusing a stall. Without any principal's clock in the
 * directory, the wall clock and the default down_after, as before. */
void cli_judge_liveness(const struct cli *c, struct db *db);
/* Reads a password into out (PASSWD_MAX_LEN + 2 bytes): from the terminal without echo,
 * asked twice, or as one line of standard input for scripts. 0, or the usage error's
 * exit code after saying what is wrong. */
int cli_read_password(const struct cli *c, char *out, size_t outlen);

/* How a column is shown to people. */
enum cli_kind { CLI_STR, CLI_INT, CLI_TIME, CLI_LIST, CLI_BOOL, CLI_BYTES };
struct cli_column {
	const char *key;
	const char *header;
	enum cli_kind kind;
};
/* Prints rows (a JSON array of objects) as an aligned table, or as JSON with --json.
 * Drops the reference; closes db; returns EXIT_OK. */
int cli_print_list(const struct cli *c, struct db *db, json_t *rows,
		   const struct cli_column *cols, size_t ncols);
/* Prints one object as "key: value" lines, or as JSON with --json. Same contract. */
int cli_print_object(const struct cli *c, struct db *db, json_t *obj,
		     const struct cli_column *cols, size_t ncols);
/* The end of a read: err from the query, or the rows/object it produced, printed as
 * cli_print_list/cli_print_object do. Closes db; returns the exit code. */
int cli_list_result(const struct cli *c, struct db *db, int err, json_t *rows,
		    const struct cli_column *cols, size_t ncols);
int cli_object_result(const struct cli *c, struct db *db, int err, json_t *obj,
		      const struct cli_column *cols, size_t ncols);
/* A whole "list [--lan LAN]" verb: the rows list_fn gives for the LAN (NULL: all). */
typedef int (*cli_lan_list_fn)(struct db *db, const char *lan, json_t **out);
int cli_list_by_lan(struct cli *c, int argc, char **argv, cli_lan_list_fn list_fn,
		    const struct cli_column *cols, size_t ncols);
/* For writes: prints msg (unless --json, which prints {"ok":true}); closes db. */
int cli_done(const struct cli *c, struct db *db, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
