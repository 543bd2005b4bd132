/* Comparing JSON in the codec tests: a wire form against the text it should be. */
#ifndef INSEL_TEST_JSON_ASSERT_H
#define INSEL_TEST_JSON_ASSERT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <jansson.h>

/* text parsed (duplicate keys refused); the test fails if it is not JSON. */
static inline json_t *parse(const char *text)
{
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

	assert_non_null(j);
	return j;
}

/* j and expected are the same JSON: their compact texts, keys sorted, are equal. */
static inline void assert_json(const json_t *j, const char *expected)
{
	json_t *want = parse(expected);
	char *a = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	char *b = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);

	assert_string_equal(a, b);
	free(a);
	free(b);
	json_decref(want);
}

#endif
