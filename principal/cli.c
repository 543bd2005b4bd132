/* Helpers shared by the operator subcommands (see cli.h). */
#include "cli.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "db_clock.h"
#include "cmd.h"
#include "err.h"
#include "passwd.h"

static void print_verbs(const char *family, const char *summary, const struct cli_verb *verbs,
			size_t n, FILE *out)
{
	fprintf(out, "insel-principal %s — %s\n\nUsage:\n", family, summary);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  insel-principal %s %s %s\n      %s\n", family, verbs[i].name,
			verbs[i].usage, verbs[i].help);
	fprintf(out, "\nEvery verb takes --db PATH (default %s) or --dsn DSN (a PostgreSQL "
		"directory), and --json.\n"
		"Exit codes: 0 done, 1 failed (the message says why), 2 bad command line or "
		"input, 4 directory unavailable.\n", DB_DEFAULT_PATH);
}

int cli_run_verbs(const char *family, const char *summary, const struct cli_verb *verbs,
		  size_t n, int argc, char **argv)
{
	struct cli c;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_verbs(family, summary, verbs, n, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(verbs[i].name, argv[1]) != 0)
			continue;
		memset(&c, 0, sizeof c);
		snprintf(c.prog, sizeof c.prog, "insel-principal %s %s", family, verbs[i].name);
		c.usage = verbs[i].usage;
		c.db_path = DB_DEFAULT_PATH;
		return verbs[i].fn(&c, argc - 1, argv + 1);
	}
	fprintf(stderr, "insel-principal %s: unknown verb '%s'\n", family, argv[1]);
	print_verbs(family, summary, verbs, n, stderr);
	return EXIT_USAGE;
}

int cli_usage_error(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nUsage: %s %s [--db PATH | --dsn DSN] [--json]\n", c->prog, c->usage);
	return EXIT_USAGE;
}

/* Keeps every value option and flag in c->vals, in order (a value option may repeat). */
static int take_value(void *ctx, const struct opt *o, const char *value, char *why,
		      size_t len)
{
	struct cli *c = ctx;

	if (c->nvals == CLI_MAX_VALS) {
		snprintf(why, len, "too many options");
		return OPTS_ERROR;
	}
	c->vals[c->nvals].name = o->name;
	c->vals[c->nvals].value = value;
	c->nvals++;
	return 0;
}

/* The verb's options as a table for opts_parse: NULL-terminated lists of names. */
static size_t verb_table(const char *const *value_opts, const char *const *flags,
			 struct opt *out, size_t max)
{
	size_t n = 0;

	size_t i, j;

	for (i = 0; value_opts && value_opts[i] && n < max; i++)
		out[n++] = (struct opt){value_opts[i], true, NULL, NULL};
	for (j = 0; flags && flags[j] && n < max; j++)
		out[n++] = (struct opt){flags[j], false, NULL, NULL};
	/* A verb with more would find its last options "unknown": raise CLI_MAX_OPTS. */
	assert(!(value_opts && value_opts[i]) && !(flags && flags[j]));
	return n;
}

int cli_parse(struct cli *c, int argc, char **argv, const char *const *value_opts,
	      const char *const *flags, size_t min_pos, size_t max_pos)
{
	struct opt table[CLI_MAX_OPTS];
	const struct opt always[] = {
		{"--db", true, &c->db_path, NULL},
		{"--dsn", true, &c->dsn, NULL},
		{"--events", true, &c->events, NULL},
		{"--json", false, NULL, &c->json},
	};
	struct opts o = {.table = table, .n = verb_table(value_opts, flags, table, CLI_MAX_OPTS),
			 .more = always, .nmore = sizeof always / sizeof always[0],
			 .take = take_value, .ctx = c, .pos = c->pos,
			 .max_pos = max_pos < CLI_MAX_POS ? max_pos : CLI_MAX_POS};

	switch (opts_parse(&o, argc, argv, 1)) {
	case OPTS_OK:
		c->npos = o.npos;
		break;
	case OPTS_HELP:
		printf("Usage: %s %s [--db PATH | --dsn DSN] [--json]\n", c->prog, c->usage);
		c->exit_code = EXIT_OK;
		return -1;
	default:
		c->exit_code = cli_usage_error(c, "%s", o.why);
		return -1;
	}
	c->db_file = c->db_path;
	if (c->dsn) {
		if (!db_target_is_dsn(c->dsn)) {
			c->exit_code = cli_usage_error(c, "--dsn: '%s' is not a PostgreSQL "
						       "connection string", c->dsn);
			return -1;
		}
		c->db_path = c->dsn;
	}
	if (c->npos < min_pos) {
		c->exit_code = cli_usage_error(c, "missing argument");
		return -1;
	}
	return 0;
}

const char *cli_opt_at(const struct cli *c, const char *name, size_t i)
{
	for (size_t k = 0; k < c->nvals; k++)
		if (strcmp(c->vals[k].name, name) == 0 && i-- == 0)
			return c->vals[k].value ? c->vals[k].value : "";
	return NULL;
}

const char *cli_opt(const struct cli *c, const char *name)
{
	return cli_opt_at(c, name, 0);
}

size_t cli_opt_count(const struct cli *c, const char *name)
{
	size_t n = 0;

	while (cli_opt_at(c, name, n))
		n++;
	return n;
}

bool cli_flag(const struct cli *c, const char *name)
{
	return cli_opt(c, name) != NULL;
}

struct db *cli_open_db(const struct cli *c)
{
	struct db *db;
	char err[600];

	if (db_open(c->db_path, &db, err, sizeof err)) {
		fprintf(stderr, "%s: %s\n", c->prog, err);
		return NULL;
	}
	return db;
}

static bool is_input_error(int err)
{
	return err == INSEL_E_BAD_FIELD || err == INSEL_E_BAD_ADDR || err == INSEL_E_BAD_PREFIX ||
	       err == INSEL_E_HOST_BITS || err == INSEL_E_MALFORMED;
}

struct db *cli_begin(struct cli *c, int argc, char **argv, const char *const *value_opts,
		     const char *const *flags, size_t min_pos, size_t max_pos)
{
	struct db *db;

	if (cli_parse(c, argc, argv, value_opts, flags, min_pos, max_pos))
		return NULL;
	db = cli_open_db(c);
	if (!db)
		c->exit_code = EXIT_UNAVAILABLE;
	return db;
}

int cli_fail(const struct cli *c, struct db *db, int err)
{
	const char *msg = db ? db_errmsg(db) : insel_strerror(err);

	fprintf(stderr, "%s: %s\n", c->prog, msg);
	db_close(db);
	return is_input_error(err) ? EXIT_USAGE : EXIT_FAILURE_GENERIC;
}

int64_t cli_now(void)
{
	return (int64_t)time(NULL);
}

static void format_time(json_int_t t, char *out, size_t outlen);

void cli_judge_liveness(const struct cli *c, struct db *db)
{
	struct db_clock rows[DB_CLOCKS_MAX];
	int64_t now = cli_now();
	char since[32];
	size_t n;
	int i;

	if (db_clock_read(db, rows, DB_CLOCKS_MAX, &n) || (i = db_clock_choose(rows, n, now)) < 0)
		return;
	db_judge_as(db, &rows[i], now);
	if (c->json)
		return;
	format_time(rows[i].ticked_at, since, sizeof since);
	if (!db_clock_running(&rows[i], now))
		fprintf(stderr, "note: no principal has run for %lld s (the last, at %s, not "
			"since %s): gateways are judged as it will judge them when it runs "
			"again, their silence since then not counted\n",
			(long long)(now - rows[i].ticked_at), rows[i].listen, since);
	else if (rows[i].excused > 0)
		fprintf(stderr, "note: the principal at %s stalled lately: %lld s of its "
			"gateways' silence is not counted until it has run %lld s again\n",
			rows[i].listen, (long long)rows[i].excused, (long long)rows[i].down_after);
}

/* ---- passwords ---- */

static bool read_line(const char *prompt, char *out, size_t outlen)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios old, quiet;
	bool ok;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	ok = fgets(out, (int)outlen, stdin) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (ok)
		out[strcspn(out, "\r\n")] = '\0';
	return ok;
}

int cli_read_password(const struct cli *c, char *out, size_t outlen)
{
	char again[PASSWD_MAX_LEN + 2];

	if (!read_line("Password: ", out, outlen) || !out[0])
		return cli_usage_error(c, "no password given (type it, or pipe one line to stdin)");
	if (strlen(out) > PASSWD_MAX_LEN)
		return cli_usage_error(c, "password longer than %d bytes", PASSWD_MAX_LEN);
	if (isatty(STDIN_FILENO)) {
		bool same = read_line("Again: ", again, sizeof again) && strcmp(again, out) == 0;

		secure_wipe(again, sizeof again);
		if (!same)
			return cli_usage_error(c, "the passwords differ");
	}
	return 0;
}

/* ---- output ---- */

static void format_time(json_int_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm))
		strftime(out, outlen, "%Y-%m-%d %H:%M:%SZ", &tm);
	else
		snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, t);
}

static void format_bytes(json_int_t n, char *out, size_t outlen)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, outlen, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void format_cell(const json_t *v, enum cli_kind kind, char *out, size_t outlen)
{
	size_t used = 0;

	if (!v || json_is_null(v)) {
		snprintf(out, outlen, "-");
	} else if (kind == CLI_TIME && json_is_integer(v)) {
		format_time(json_integer_value(v), out, outlen);
	} else if (kind == CLI_BYTES && json_is_integer(v)) {
		format_bytes(json_integer_value(v), out, outlen);
	} else if (json_is_string(v)) {
		snprintf(out, outlen, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_real(v)) {
		snprintf(out, outlen, "%.2f", json_real_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(out, outlen, "%s", json_is_true(v) ? "yes" : "no");
	} else if (json_is_array(v) && kind == CLI_LIST) {
		out[0] = '\0';
		for (size_t i = 0; i < json_array_size(v) && used < outlen; i++)
			used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? "," : "",
						 json_string_value(json_array_get(v, i)));
		if (!json_array_size(v))
			snprintf(out, outlen, "-");
	} else {
		char *s = json_dumps(v, JSON_COMPACT);

		snprintf(out, outlen, "%s", s ? s : "?");
		free(s);
	}
}

static void print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
}

int cli_print_list(const struct cli *c, struct db *db, json_t *rows,
		   const struct cli_column *cols, size_t ncols)
{
	size_t width[16] = {0};
	char cell[512];

	db_close(db);
	if (c->json || ncols > 16) {
		print_json(rows);
		json_decref(rows);
		return EXIT_OK;
	}
	for (size_t k = 0; k < ncols; k++)
		width[k] = strlen(cols[k].header);
	for (size_t i = 0; i < json_array_size(rows); i++)
		for (size_t k = 0; k < ncols; k++) {
			format_cell(json_object_get(json_array_get(rows, i), cols[k].key),
				    cols[k].kind, cell, sizeof cell);
			if (strlen(cell) > width[k])
				width[k] = strlen(cell);
		}
	for (size_t k = 0; k < ncols; k++)
		printf("%-*s%s", k + 1 < ncols ? (int)width[k] : 0, cols[k].header,
		       k + 1 < ncols ? "  " : "\n");
	for (size_t i = 0; i < json_array_size(rows); i++)
		for (size_t k = 0; k < ncols; k++) {
			format_cell(json_object_get(json_array_get(rows, i), cols[k].key),
				    cols[k].kind, cell, sizeof cell);
			printf("%-*s%s", k + 1 < ncols ? (int)width[k] : 0, cell,
			       k + 1 < ncols ? "  " : "\n");
		}
	if (json_array_size(rows) == 0)
		printf("(none)\n");
	json_decref(rows);
	return EXIT_OK;
}

int cli_print_object(const struct cli *c, struct db *db, json_t *obj,
		     const struct cli_column *cols, size_t ncols)
{
	char cell[1024];

	db_close(db);
	if (c->json) {
		print_json(obj);
	} else {
		for (size_t k = 0; k < ncols; k++) {
			format_cell(json_object_get(obj, cols[k].key), cols[k].kind, cell,
				    sizeof cell);
			printf("%-15s %s\n", cols[k].header, cell);
		}
	}
	json_decref(obj);
	return EXIT_OK;
}

int cli_list_result(const struct cli *c, struct db *db, int err, json_t *rows,
		    const struct cli_column *cols, size_t ncols)
{
	if (err)
		return cli_fail(c, db, err);
	return cli_print_list(c, db, rows, cols, ncols);
}

int cli_object_result(const struct cli *c, struct db *db, int err, json_t *obj,
		      const struct cli_column *cols, size_t ncols)
{
	if (err)
		return cli_fail(c, db, err);
	return cli_print_object(c, db, obj, cols, ncols);
}

int cli_list_by_lan(struct cli *c, int argc, char **argv, cli_lan_list_fn list_fn,
		    const struct cli_column *cols, size_t ncols)
{
	static const char *const opts[] = {"--lan", NULL};
	struct db *db;
	json_t *rows = NULL;
	int rc;

	if (!(db = cli_begin(c, argc, argv, opts, NULL, 0, 0)))
		return c->exit_code;
	rc = list_fn(db, cli_opt(c, "--lan"), &rows);
	return cli_list_result(c, db, rc, rows, cols, ncols);
}

int cli_done(const struct cli *c, struct db *db, const char *fmt, ...)
{
	va_list ap;

	db_close(db);
	if (c->json) {
		printf("{\"ok\": true}\n");
		return EXIT_OK;
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return EXIT_OK;
}
