/* Schema-checked configuration files on top of libinih (see config.h). */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"

static void set_error(struct cfg *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(struct cfg *c, int line, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	if (c->error[0])
		return;  /* the first error is the one worth reading */
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(c->error, sizeof c->error, "%s:%d: %s", c->source, line, text);
	else
		snprintf(c->error, sizeof c->error, "%s: %s", c->source, text);
}

static bool section_matches(const char *pattern, const char *section)
{
	size_t plen = strlen(pattern);

	if (plen > 0 && pattern[plen - 1] == '*')
		return strncmp(pattern, section, plen - 1) == 0 && section[plen - 1] != '\0';
	return strcmp(pattern, section) == 0;
}

static const struct cfg_key *schema_find(const struct cfg *c, const char *section,
					 const char *name)
{
	for (size_t i = 0; i < c->schema_len; i++)
		if (strcmp(c->schema[i].name, name) == 0 &&
		    section_matches(c->schema[i].section, section))
			return &c->schema[i];
	return NULL;
}

static bool section_known(const struct cfg *c, const char *section)
{
	for (size_t i = 0; i < c->schema_len; i++)
		if (section_matches(c->schema[i].section, section))
			return true;
	return false;
}

int cfg_parse_int(const char *text, long long *out)
{
	char *end;

	if (!text || !*text)
		return INSEL_E_CONFIG;
	errno = 0;
	*out = strtoll(text, &end, 10);
	return errno || *end ? INSEL_E_CONFIG : 0;
}

int cfg_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return INSEL_E_CONFIG;
}

int cfg_parse_duration_ms(const char *text, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000}};
	char *end;
	unsigned long long v;

	if (!text || *text < '0' || *text > '9')
		return INSEL_E_CONFIG;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return INSEL_E_CONFIG;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].ms)
			return INSEL_E_CONFIG;
		*out = v * units[i].ms;
		return 0;
	}
	return INSEL_E_CONFIG;
}

static bool out_of_range(const struct cfg_key *k, long long v)
{
	return (k->min || k->max) && (v < k->min || v > k->max);
}

/* Checks one value against its key's type; on error writes why into `why`. */
static bool value_valid(const struct cfg_key *k, const char *text, char *why, size_t whylen)
{
	long long n;
	uint64_t ms;
	bool b;
	struct ip_addr a;
	struct ip_prefix p;
	struct ip_endpoint e;
	int rc;

	switch (k->type) {
	case CFG_STRING:
	case CFG_PATH:
		if (!*text) {
			snprintf(why, whylen, "must not be empty");
			return false;
		}
		return true;
	case CFG_INT:
		if (cfg_parse_int(text, &n) || out_of_range(k, n)) {
			if (k->min || k->max)
				snprintf(why, whylen, "must be an integer from %lld to %lld, got '%s'",
					 k->min, k->max, text);
			else
				snprintf(why, whylen, "must be an integer, got '%s'", text);
			return false;
		}
		return true;
	case CFG_BOOL:
		if (cfg_parse_bool(text, &b)) {
			snprintf(why, whylen, "must be yes or no, got '%s'", text);
			return false;
		}
		return true;
	case CFG_DURATION:
		if (cfg_parse_duration_ms(text, &ms) || ms > INT64_MAX ||
		    out_of_range(k, (long long)ms)) {
			snprintf(why, whylen,
				 "must be a duration such as 500ms, 30s, 5m, 2h or 30d%s, got '%s'",
				 k->min || k->max ? " within the allowed range" : "", text);
			return false;
		}
		return true;
	case CFG_ADDR:
		rc = ip_addr_parse(text, &a);
		break;
	case CFG_PREFIX:
		rc = ip_prefix_parse(text, true, &p);
		break;
	case CFG_ENDPOINT:
		rc = ip_endpoint_parse(text, &e);
		if (rc) {
			snprintf(why, whylen,
				 "must be ADDRESS:PORT (IPv6 as [ADDRESS]:PORT), got '%s'", text);
			return false;
		}
		return true;
	default:
		snprintf(why, whylen, "has an unknown type");
		return false;
	}
	if (rc) {
		snprintf(why, whylen, "%s, got '%s'", insel_strerror(rc), text);
		return false;
	}
	return true;
}

static const struct cfg_value *find_value(const struct cfg *c, const char *section,
					  const char *name, size_t nth)
{
	for (size_t i = 0; i < c->count; i++)
		if (strcmp(c->values[i].key->name, name) == 0 &&
		    strcmp(c->values[i].section, section) == 0 && nth-- == 0)
			return &c->values[i];
	return NULL;
}

static int store_value(struct cfg *c, const struct cfg_key *k, const char *section,
		       const char *text)
{
	struct cfg_value *v;

	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct cfg_value *grown = realloc(c->values, cap * sizeof *grown);

		if (!grown)
			return -ENOMEM;
		c->values = grown;
		c->cap = cap;
	}
	v = &c->values[c->count];
	v->key = k;
	v->section = strdup(section);
	v->text = strdup(text);
	v->line = c->line;
	if (!v->section || !v->text) {
		free(v->section);
		free(v->text);
		return -ENOMEM;
	}
	c->count++;
	return 0;
}

static int handle_line(void *user, const char *section, const char *name, const char *value)
{
	struct cfg *c = user;
	const struct cfg_key *k;
	const struct cfg_value *earlier;
	char why[300];

	if (!section_known(c, section)) {
		set_error(c, c->line, "unknown section [%s]", section);
		return 0;
	}
	k = schema_find(c, section, name);
	if (!k) {
		set_error(c, c->line, "unknown key '%s' in [%s]", name, section);
		return 0;
	}
	if (!(k->flags & CFG_MULTI) && (earlier = find_value(c, section, name, 0))) {
		set_error(c, c->line, "key '%s' in [%s] is already set on line %d", name,
			  section, earlier->line);
		return 0;
	}
	if (!value_valid(k, value, why, sizeof why)) {
		set_error(c, c->line, "key '%s' in [%s] %s", name, section, why);
		return 0;
	}
	if (store_value(c, k, section, value)) {
		set_error(c, c->line, "out of memory");
		return 0;
	}
	return 1;
}

/* Feeds inih one line at a time so that we know the line number and can refuse lines
 * longer than inih's buffer instead of letting it split them. */
struct line_source {
	struct cfg *c;
	FILE *file;        /* either a file ... */
	const char *text;  /* ... or a string */
};

static char *read_line(char *str, int num, void *stream)
{
	struct line_source *src = stream;
	size_t len = 0;
	bool at_end;

	if (src->c->error[0])
		return NULL;
	if (src->file) {
		if (!fgets(str, num, src->file))
			return NULL;
		len = strlen(str);
		at_end = feof(src->file);
	} else {
		if (!*src->text)
			return NULL;
		while (len + 1 < (size_t)num && src->text[len] && src->text[len] != '\n')
			len++;
		if (src->text[len] == '\n' && len + 1 < (size_t)num)
			len++;
		memcpy(str, src->text, len);
		str[len] = '\0';
		src->text += len;
		at_end = !*src->text;
	}
	src->c->line++;
	if (len > 0 && str[len - 1] != '\n' && !at_end) {
		set_error(src->c, src->c->line, "line too long (at most %d characters)", num - 2);
		return NULL;
	}
	return str;
}

static void check_required(struct cfg *c)
{
	for (size_t i = 0; i < c->schema_len; i++) {
		const struct cfg_key *k = &c->schema[i];
		size_t plen = strlen(k->section);
		bool wildcard = plen && k->section[plen - 1] == '*';

		if (!(k->flags & CFG_REQUIRED))
			continue;
		if (!wildcard) {
			if (!find_value(c, k->section, k->name, 0)) {
				if (k->section[0])
					set_error(c, 0, "missing required key '%s' in [%s]", k->name,
						  k->section);
				else
					set_error(c, 0, "missing required key '%s'", k->name);
			}
			continue;
		}
		const char *names[64];
		size_t n = cfg_sections(c, "", names, 64);

		for (size_t j = 0; j < n; j++)
			if (section_matches(k->section, names[j]) &&
			    !find_value(c, names[j], k->name, 0))
				set_error(c, 0, "missing required key '%s' in [%s]", k->name, names[j]);
	}
}

static int load(struct cfg *c, const char *name, struct line_source *src,
		const struct cfg_key *schema, size_t n)
{
	int rc;

	memset(c, 0, sizeof *c);
	c->source = strdup(name);
	c->schema = schema;
	c->schema_len = n;
	if (!c->source)
		return -ENOMEM;
	src->c = c;
	rc = ini_parse_stream(read_line, src, handle_line, c);
	if (rc > 0)
		set_error(c, rc, "syntax error: expected '[section]' or 'key = value'");
	else if (rc < 0)
		set_error(c, 0, "could not be parsed");
	if (!c->error[0])
		check_required(c);
	return c->error[0] ? INSEL_E_CONFIG : 0;
}

int cfg_load_file(struct cfg *c, const char *path, const struct cfg_key *schema, size_t n)
{
	struct line_source src = {0};
	int rc;

	src.file = fopen(path, "r");
	if (!src.file) {
		rc = -errno;
		memset(c, 0, sizeof *c);
		snprintf(c->error, sizeof c->error, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	rc = load(c, path, &src, schema, n);
	fclose(src.file);
	return rc;
}

int cfg_load_string(struct cfg *c, const char *name, const char *text,
		    const struct cfg_key *schema, size_t n)
{
	struct line_source src = {.text = text};

	return load(c, name, &src, schema, n);
}

const char *cfg_error(const struct cfg *c)
{
	return c->error;
}

void cfg_free(struct cfg *c)
{
	for (size_t i = 0; i < c->count; i++) {
		free(c->values[i].section);
		free(c->values[i].text);
	}
	free(c->values);
	free(c->source);
	memset(c, 0, sizeof *c);
}

static const struct cfg_key *require_key(const struct cfg *c, const char *section,
					 const char *name)
{
	const struct cfg_key *k = schema_find(c, section, name);

	if (!k) {
		fprintf(stderr, "BUG: config key '%s' in [%s] is not in the schema\n", name,
			section);
		abort();
	}
	return k;
}

const char *cfg_str(const struct cfg *c, const char *section, const char *name)
{
	const struct cfg_key *k = require_key(c, section, name);
	const struct cfg_value *v = find_value(c, section, name, 0);

	return v ? v->text : k->dflt;
}

long long cfg_int(const struct cfg *c, const char *section, const char *name)
{
	const char *text = cfg_str(c, section, name);
	long long v = 0;

	if (text)
		cfg_parse_int(text, &v);
	return v;
}

bool cfg_bool(const struct cfg *c, const char *section, const char *name)
{
	const char *text = cfg_str(c, section, name);
	bool v = false;

	if (text)
		cfg_parse_bool(text, &v);
	return v;
}

uint64_t cfg_duration_ms(const struct cfg *c, const char *section, const char *name)
{
	const char *text = cfg_str(c, section, name);
	uint64_t v = 0;

	if (text)
		cfg_parse_duration_ms(text, &v);
	return v;
}

int cfg_addr(const struct cfg *c, const char *section, const char *name, struct ip_addr *out)
{
	const char *text = cfg_str(c, section, name);

	return text ? ip_addr_parse(text, out) : INSEL_E_NOT_FOUND;
}

int cfg_prefix(const struct cfg *c, const char *section, const char *name,
	       struct ip_prefix *out)
{
	const char *text = cfg_str(c, section, name);

	return text ? ip_prefix_parse(text, true, out) : INSEL_E_NOT_FOUND;
}

int cfg_endpoint(const struct cfg *c, const char *section, const char *name,
		 struct ip_endpoint *out)
{
	const char *text = cfg_str(c, section, name);

	return text ? ip_endpoint_parse(text, out) : INSEL_E_NOT_FOUND;
}

size_t cfg_count(const struct cfg *c, const char *section, const char *name)
{
	size_t n = 0;

	require_key(c, section, name);
	while (find_value(c, section, name, n))
		n++;
	return n;
}

const char *cfg_str_at(const struct cfg *c, const char *section, const char *name, size_t i)
{
	const struct cfg_value *v;

	require_key(c, section, name);
	v = find_value(c, section, name, i);
	return v ? v->text : NULL;
}

size_t cfg_sections(const struct cfg *c, const char *prefix, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < c->count; i++) {
		const char *s = c->values[i].section;
		bool seen = false;

		if (strncmp(s, prefix, strlen(prefix)) != 0)
			continue;
		for (size_t j = 0; j < n && j < max; j++)
			seen = seen || strcmp(out[j], s) == 0;
		if (seen)
			continue;
		if (n < max)
			out[n] = s;
		n++;
	}
	return n;
}
