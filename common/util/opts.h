/* Command-line options as a table, for every role's commands: each command lists its long
 * options (flags, and options with a value as "--name VALUE" or "--name=VALUE") and how
 * many positional arguments it takes; one parser walks argv. "--help" asks for the usage,
 * "--" ends the options. A problem is reported as a sentence for the command to print in
 * its own voice, so the parser never decides how a program speaks. */
#ifndef INSEL_OPTS_H
#define INSEL_OPTS_H

#include <stdbool.h>
#include <stddef.h>

struct opt {
	const char *name;     /* "--udp" */
	bool has_value;       /* takes a value */
	const char **value;   /* a value option: where the (last) value goes */
	bool *flag;           /* a flag: set to true */
};

enum opts_result {
	OPTS_OK = 0,          /* parsed: go on */
	OPTS_HELP,            /* --help was given */
	OPTS_ERROR,           /* a problem, said in why */
};

struct opts {
	const struct opt *table;  /* the options of the command ... */
	size_t n;
	const struct opt *more;   /* ... and options shared by a family of commands */
	size_t nmore;
	/* Called for a table entry with neither value nor flag set (an option that may be
	 * given many times, or that the command keeps in its own way): 0, or OPTS_ERROR
	 * with why written. */
	int (*take)(void *ctx, const struct opt *o, const char *value, char *why, size_t len);
	void *ctx;
	const char **pos;         /* positional arguments, in order */
	size_t max_pos;
	size_t npos;              /* out: how many */
	char why[160];            /* out: after OPTS_ERROR */
};

/* Parses argv[first..argc-1] against o. */
enum opts_result opts_parse(struct opts *o, int argc, char **argv, int first);

#endif
