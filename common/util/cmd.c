/* Subcommand dispatch (see cmd.h). */
#include "cmd.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

void cmd_usage(const char *program, const char *summary, const struct command *table,
	       size_t n)
{
	printf("%s — %s\n\nUsage: %s [-v|-q] COMMAND [ARGS...]\n\nCommands:\n", program, summary,
	       program);
	for (size_t i = 0; i < n; i++)
		printf("  %-12s %s\n", table[i].name, table[i].help);
	printf("\nOptions: -v more verbose, -q quieter, --version.\n"
	       "Run '%s COMMAND --help' for a command's options.\n", program);
}

int cmd_dispatch(const char *program, const char *summary, const struct command *table,
		 size_t n, int argc, char **argv)
{
	int i = 1;

	log_init(program);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-v") == 0) {
			log_more_verbose();
		} else if (strcmp(argv[i], "-q") == 0) {
			log_less_verbose();
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cmd_usage(program, summary, table, n);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", program, INSEL_VERSION);
			return EXIT_OK;
		} else {
			fprintf(stderr, "%s: unknown option '%s'\n", program, argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i == argc) {
		cmd_usage(program, summary, table, n);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < n; c++)
		if (strcmp(table[c].name, argv[i]) == 0)
			return table[c].fn(argc - i, argv + i);
	fprintf(stderr, "%s: unknown command '%s'; run '%s --help' for the list\n", program,
		argv[i], program);
	return EXIT_USAGE;
}

const char *cmd_program_beside_self(const char *name, const char *role_dir)
{
	static char found[PATH_MAX];
	char self[PATH_MAX], *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n <= 0)
		return name;
	self[n] = '\0';
	dir = dirname(self);
	snprintf(found, sizeof found, "%s/%s", dir, name);
	if (access(found, X_OK) == 0)
		return found;
	snprintf(found, sizeof found, "%s/../%s/%s", dir, role_dir, name);
	if (access(found, X_OK) == 0)
		return found;
	return name;
}
