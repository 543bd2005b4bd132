/* The tables behind wire_errors.h, built from the one list in wire_errors.def. */
#include "wire_errors.h"

#include <string.h>

#include "cmd.h"
#include "err.h"

struct wire_error_entry {
	const char *name;
	int insel_err;
	int exit_code;
	const char *meaning;
	const char *sentence;
};

static const struct wire_error_entry entries[WERR_COUNT] = {
#define WIRE_ERROR(id, nm, ie, ec, mn, sn) \
	[WERR_##id] = {.name = nm, .insel_err = ie, .exit_code = ec, .meaning = mn, .sentence = sn},
#include "wire_errors.def"
};

struct wire_error_during {
	enum wire_step step;
	enum wire_error e;
	int exit_code;
	const char *sentence;
};

static const struct wire_error_during during[] = {
#define WIRE_ERROR_DURING(st, id, ec, sn) \
	{.step = WIRE_STEP_##st, .e = WERR_##id, .exit_code = ec, .sentence = sn},
#include "wire_errors.def"
};

struct wire_error_alias_entry {
	const char *old_name;
	enum wire_error e;
};

static const struct wire_error_alias_entry aliases[] = {
#define WIRE_ERROR_ALIAS(old, id) {.old_name = old, .e = WERR_##id},
#include "wire_errors.def"
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct wire_error_entry *entry(enum wire_error e)
{
	return (unsigned)e < WERR_COUNT ? &entries[e] : &entries[WERR_INTERNAL];
}

const char *wire_error_name(enum wire_error e)
{
	return entry(e)->name;
}

bool wire_error_lookup(const char *name, enum wire_error *out)
{
	if (!name)
		return false;
	for (size_t i = 0; i < WERR_COUNT; i++)
		if (strcmp(entries[i].name, name) == 0) {
			*out = (enum wire_error)i;
			return true;
		}
	for (size_t i = 0; i < COUNT(aliases); i++)
		if (strcmp(aliases[i].old_name, name) == 0) {
			*out = aliases[i].e;
			return true;
		}
	return false;
}

bool wire_error_is(const char *name, enum wire_error e)
{
	enum wire_error found;

	return wire_error_lookup(name, &found) && found == e;
}

enum wire_error wire_error_of(int err)
{
	for (size_t i = 0; err && i < WERR_COUNT; i++)
		if (entries[i].insel_err == err)
			return (enum wire_error)i;
	if (err < 0 && err > INSEL_E_BASE)
		return WERR_SYSTEM;
	return WERR_INTERNAL;
}

const char *wire_error_meaning(enum wire_error e)
{
	return entry(e)->meaning;
}

static const struct wire_error_during *find_during(enum wire_error e, enum wire_step step)
{
	for (size_t i = 0; step != WIRE_STEP_ANY && i < COUNT(during); i++)
		if (during[i].step == step && during[i].e == e)
			return &during[i];
	return NULL;
}

const char *wire_error_sentence(enum wire_error e, enum wire_step step)
{
	const struct wire_error_during *d = find_during(e, step);

	return d ? d->sentence : entry(e)->sentence;
}

int wire_error_exit_code(enum wire_error e, enum wire_step step)
{
	const struct wire_error_during *d = find_during(e, step);

	return d ? d->exit_code : entry(e)->exit_code;
}

bool wire_error_alias(size_t i, const char **old_name, enum wire_error *e)
{
	if (i >= COUNT(aliases))
		return false;
	*old_name = aliases[i].old_name;
	*e = aliases[i].e;
	return true;
}
