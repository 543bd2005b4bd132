/* Subcommand dispatch shared by the role executables: a table of {name, fn, help}, global
 * options -v (more verbose), -q (quieter), -h/--help and --version before the subcommand. */
#ifndef INSEL_CMD_H
#define INSEL_CMD_H

#include <stddef.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);  /* argv[0] is the subcommand's name */
	const char *help;                  /* one line for the usage list */
};

/* Exit codes with a meaning, as documented in each program's usage. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILURE_GENERIC = 1,  /* the operation failed; the message says why */
	EXIT_USAGE = 2,            /* bad command line */
	EXIT_CONFIG = 3,           /* configuration error */
	EXIT_UNAVAILABLE = 4,      /* a service it needs could not be reached */
};

int cmd_dispatch(const char *program, const char *summary, const struct command *table,
		 size_t n, int argc, char **argv);
void cmd_usage(const char *program, const char *summary, const struct command *table,
	       size_t n);

/* A role's helper program (insel-auxiliary for a secondary, insel-relay for the
 * principal): installed beside this executable, or in the build tree's ROLE/ folder next
 * to this one's; else the bare name, for the PATH. The result is static storage. */
const char *cmd_program_beside_self(const char *name, const char *role_dir);

#endif
