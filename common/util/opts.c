/* The one command-line option parser (see opts.h). */
#include "opts.h"

#include <stdio.h>
#include <string.h>

static const struct opt *find(const struct opts *o, const char *name, size_t len)
{
	for (size_t i = 0; i < o->n + o->nmore; i++) {
		const struct opt *t = i < o->n ? &o->table[i] : &o->more[i - o->n];

		if (strlen(t->name) == len && strncmp(t->name, name, len) == 0)
			return t;
	}
	return NULL;
}

/* why = what + 'arg' (+ rest): "unknown option '--x'", "option --udp needs a value". */
static enum opts_result fail(struct opts *o, const char *what, const char *arg,
			     const char *rest)
{
	snprintf(o->why, sizeof o->why, "%s%s%s", what, arg, rest);
	return OPTS_ERROR;
}

static enum opts_result store(struct opts *o, const struct opt *t, const char *value)
{
	if (t->value)
		*t->value = value;
	else if (t->flag)
		*t->flag = true;
	else if (!o->take || o->take(o->ctx, t, value, o->why, sizeof o->why))
		return OPTS_ERROR;
	return OPTS_OK;
}

/* The option at argv[*i] ("--name", "--name=value" or "--name value"). */
static enum opts_result option(struct opts *o, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *eq = strchr(arg, '=');
	const struct opt *t = find(o, arg, eq ? (size_t)(eq - arg) : strlen(arg));

	if (!t || (eq && !t->has_value))
		return fail(o, "unknown option '", arg, "'");
	if (!t->has_value)
		return store(o, t, NULL);
	if (eq)
		return store(o, t, eq + 1);
	if (*i + 1 >= argc)
		return fail(o, "option ", t->name, " needs a value");
	return store(o, t, argv[++*i]);
}

enum opts_result opts_parse(struct opts *o, int argc, char **argv, int first)
{
	bool only_pos = false;

	o->npos = 0;
	o->why[0] = '\0';
	for (int i = first; i < argc; i++) {
		const char *arg = argv[i];
		enum opts_result rc;

		if (!only_pos && strcmp(arg, "--help") == 0)
			return OPTS_HELP;
		if (!only_pos && strcmp(arg, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (!only_pos && arg[0] == '-' && arg[1]) {
			if ((rc = option(o, argc, argv, &i)) != OPTS_OK)
				return rc;
			continue;
		}
		if (o->npos == o->max_pos)
			return fail(o, "unexpected argument '", arg, "'");
		o->pos[o->npos++] = arg;
	}
	return OPTS_OK;
}
