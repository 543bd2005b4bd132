/* Configuration files: "[section]" headers and "key = value" lines, parsed by libinih and
 * checked against a schema that the program declares. Every error names the file, the
 * line and what is wrong ("secondary.conf:12: key 'port' in [peer]: must be an integer
 * from 1 to 65535, got 'http'"). Comments start with '#' or ';'.
 *
 * A schema section ending in '*' matches every section that starts with the text before
 * it, e.g. "trunk *" matches "[trunk lan-b]". */
#ifndef INSEL_CONFIG_H
#define INSEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum cfg_type {
	CFG_STRING,
	CFG_INT,       /* decimal integer within [min, max] */
	CFG_BOOL,      /* yes/no, true/false, on/off, 1/0 */
	CFG_DURATION,  /* "250ms", "30s", "5m", "2h", "30d"; a bare number is seconds; in ms */
	CFG_ADDR,      /* IPv4 or IPv6 address */
	CFG_PREFIX,    /* CIDR prefix, host bits zero */
	CFG_ENDPOINT,  /* ADDR:PORT or [ADDR6]:PORT */
	CFG_PATH,      /* a file name; not checked for existence here */
};

enum cfg_flags {
	CFG_REQUIRED = 1 << 0,  /* must appear (in each matching section that appears) */
	CFG_MULTI = 1 << 1,     /* may appear several times; otherwise a repeat is an error */
};

struct cfg_key {
	const char *section;  /* "" for keys before the first section header */
	const char *name;
	enum cfg_type type;
	unsigned flags;
	long long min, max;   /* CFG_INT and CFG_DURATION (ms); both 0 means no bound */
	const char *dflt;     /* text of the default, or NULL */
};

struct cfg_value {
	const struct cfg_key *key;
	char *section;
	char *text;
	int line;
};

struct cfg {
	char *source;  /* file name, for messages */
	const struct cfg_key *schema;
	size_t schema_len;
	struct cfg_value *values;
	size_t count, cap;
	char error[512];
	/* parse state */
	int line;
	bool line_too_long;
};

/* Load and validate; on failure return INSEL_E_CONFIG (or -errno) with cfg_error() set. */
int cfg_load_file(struct cfg *c, const char *path, const struct cfg_key *schema, size_t n);
int cfg_load_string(struct cfg *c, const char *name, const char *text,
		    const struct cfg_key *schema, size_t n);
const char *cfg_error(const struct cfg *c);
void cfg_free(struct cfg *c);

/* Accessors: the value given in the file, else the schema's default. The key must be in
 * the schema (asking for another is a programming error and aborts). */
const char *cfg_str(const struct cfg *c, const char *section, const char *name);
long long cfg_int(const struct cfg *c, const char *section, const char *name);
bool cfg_bool(const struct cfg *c, const char *section, const char *name);
uint64_t cfg_duration_ms(const struct cfg *c, const char *section, const char *name);
/* For typed values: 0 if present (or defaulted), INSEL_E_NOT_FOUND if absent. */
int cfg_addr(const struct cfg *c, const char *section, const char *name, struct ip_addr *out);
int cfg_prefix(const struct cfg *c, const char *section, const char *name,
	       struct ip_prefix *out);
int cfg_endpoint(const struct cfg *c, const char *section, const char *name,
		 struct ip_endpoint *out);
/* CFG_MULTI keys: how many times the key appears, and the i-th value. */
size_t cfg_count(const struct cfg *c, const char *section, const char *name);
const char *cfg_str_at(const struct cfg *c, const char *section, const char *name, size_t i);
/* Names of the sections present that start with prefix, in file order, without
 * repeats; returns how many (up to max are written). */
size_t cfg_sections(const struct cfg *c, const char *prefix, const char **out, size_t max);

/* The value parsers, exposed for command-line options. 0 or INSEL_E_CONFIG. */
int cfg_parse_bool(const char *text, bool *out);
int cfg_parse_duration_ms(const char *text, uint64_t *out);
int cfg_parse_int(const char *text, long long *out);

#endif
