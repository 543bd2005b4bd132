/* Lists of IP prefixes in control messages, ["10.1.0.0/24","fd01::/64"]: a secondary's
 * registration, the directory's LAN entries, a network call's authorised prefixes and the
 * auxiliary's routes all carry one, so every codec writes and reads them here. */
#ifndef INSEL_PREFIX_LIST_H
#define INSEL_PREFIX_LIST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

/* A new JSON array of the n prefixes in canonical text; NULL if out of memory. */
json_t *prefix_list_to_json(const struct ip_prefix *p, size_t n);

/* Reads a JSON array of at most max prefixes into out (room for max). strict refuses a
 * prefix with host bits set (ip_prefix_parse). Returns 0 and sets *n, or an error:
 * INSEL_E_BAD_FIELD with *bad = PREFIX_LIST_WHOLE when list is not an array or too long,
 * otherwise the error of the first bad item (not a string: INSEL_E_BAD_FIELD) with *bad
 * its index, so that each codec words its refusal as its protocol always has. */
#define PREFIX_LIST_WHOLE ((size_t)-1)
int prefix_list_from_json(const json_t *list, size_t max, bool strict, struct ip_prefix *out,
			  size_t *n, size_t *bad);

#endif
