/* `insel-principal events [--follow] [--json] [--last N]`: the event log (events.h) of
 * the directory given by --db. Text: one line per event, its time, its kind and its
 * fields as key=value; --json: the lines as stored. --follow prints what is appended
 * afterwards too (polled every 200 ms; a rotated log is followed into the new file)
 * until interrupted. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "events.h"
#include "principal.h"

#define EVENTS_LINE_MAX 8192
#define FOLLOW_POLL_MS 200

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = 1;
}

static const char *str_or(const json_t *v, const char *dflt)
{
	return json_is_string(v) ? json_string_value(v) : dflt;
}

static void print_text(const char *line)
{
	json_t *ev = json_loads(line, 0, NULL);
	const char *key;
	json_t *v;

	if (!json_is_object(ev)) {
		json_decref(ev);
		return;  /* a line cut by a crash: skipped */
	}
	printf("%s %-16s", str_or(json_object_get(ev, "time"), "?"),
	       str_or(json_object_get(ev, "event"), "?"));
	json_object_foreach(ev, key, v) {
		if (!strcmp(key, "at") || !strcmp(key, "time") || !strcmp(key, "event"))
			continue;
		if (json_is_string(v))
			printf(" %s=%s", key, json_string_value(v));
		else if (json_is_integer(v))
			printf(" %s=%lld", key, (long long)json_integer_value(v));
		else {
			char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

			printf(" %s=%s", key, text ? text : "?");
			free(text);
		}
	}
	printf("\n");
	json_decref(ev);
}

static void print_line(const struct cli *c, const char *line)
{
	if (c->json)
		printf("%s\n", line);
	else
		print_text(line);
}

/* Prints complete lines from f; a partial last line stays for the next read. */
static void drain(const struct cli *c, FILE *f, char *pending, size_t *npending)
{
	int ch;

	while ((ch = getc(f)) != EOF) {
		if (ch == '\n') {
			pending[*npending] = '\0';
			print_line(c, pending);
			*npending = 0;
		} else if (*npending + 1 < EVENTS_LINE_MAX) {
			pending[(*npending)++] = (char)ch;
		}
	}
	clearerr(f);
	fflush(stdout);
}

/* Skips to the start of the last n lines of f (all when n is 0). */
static void skip_to_last(FILE *f, long n)
{
	long lines = 0, keep;
	int ch;

	if (n <= 0)
		return;
	while ((ch = getc(f)) != EOF)
		lines += ch == '\n';
	rewind(f);
	keep = lines - n;
	while (keep > 0 && (ch = getc(f)) != EOF)
		keep -= ch == '\n';
}

static int follow(const struct cli *c, const char *path, FILE *f, char *pending,
		  size_t *npending)
{
	struct stat now, was;
	struct timespec pause = {0, FOLLOW_POLL_MS * 1000000L};

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fstat(fileno(f), &was);
	while (!interrupted) {
		nanosleep(&pause, NULL);
		drain(c, f, pending, npending);
		/* Rotated (renamed away, a new file in its place): read on in the new one. */
		if (stat(path, &now) == 0 && (now.st_ino != was.st_ino || now.st_dev != was.st_dev)) {
			FILE *g = fopen(path, "r");

			if (!g)
				continue;
			drain(c, f, pending, npending);
			fclose(f);
			f = g;
			fstat(fileno(f), &was);
		}
	}
	fclose(f);
	return EXIT_OK;
}

int events_main(int argc, char **argv)
{
	static const char *const opts[] = {"--last", NULL};
	static const char *const flags[] = {"--follow", NULL};
	struct cli c = {.usage = "[--follow] [--json] [--last N]", .db_path = DB_DEFAULT_PATH};
	char path[4200], *pending;
	size_t npending = 0;
	long last = 0;
	FILE *f;

	snprintf(c.prog, sizeof c.prog, "insel-principal events");
	if (cli_parse(&c, argc, argv, opts, flags, 0, 0))
		return c.exit_code;
	if (cli_opt(&c, "--last")) {
		char *end;

		last = strtol(cli_opt(&c, "--last"), &end, 10);
		if (*end || last < 1)
			return cli_usage_error(&c, "--last: a number of events, at least 1");
	}
	event_log_path(c.db_path, c.events, path, sizeof path);
	f = fopen(path, "r");
	if (!f && errno == ENOENT && cli_flag(&c, "--follow")) {
		/* Nothing logged yet: wait for the daemon to start the file. */
		while (!f && !interrupted) {
			signal(SIGINT, on_signal);
			signal(SIGTERM, on_signal);
			usleep(FOLLOW_POLL_MS * 1000);
			f = fopen(path, "r");
		}
		if (!f)
			return EXIT_OK;
	}
	if (!f) {
		if (errno == ENOENT) {
			if (!c.json)
				printf("no events recorded yet (%s)\n", path);
			return EXIT_OK;
		}
		fprintf(stderr, "%s: cannot read %s: %s\n", c.prog, path, strerror(errno));
		return EXIT_UNAVAILABLE;
	}
	pending = malloc(EVENTS_LINE_MAX);
	if (!pending) {
		fclose(f);
		return EXIT_FAILURE_GENERIC;
	}
	skip_to_last(f, last);
	drain(&c, f, pending, &npending);
	if (cli_flag(&c, "--follow")) {
		int rc = follow(&c, path, f, pending, &npending);

		free(pending);
		return rc;
	}
	fclose(f);
	free(pending);
	return EXIT_OK;
}
