/* Unit tests for identifiers and the jittered back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "rand.h"

static void ids_round_trip(void **state)
{
	char text[ID_STRLEN];
	uint64_t id = rand_id64(), back = 0;

	assert_true(id != 0);
	assert_int_equal(strlen(id_format(id, text)), 16);
	assert_int_equal(id_parse(text, &back), 0);
	assert_true(back == id);
	assert_int_equal(id_parse("0123456789abcdeg", &back), INSEL_E_MALFORMED);
	assert_int_equal(id_parse("0123", &back), INSEL_E_MALFORMED);
}

static void backoff_doubles_to_its_cap_with_jitter_in_the_upper_half(void **state)
{
	uint64_t b = 0, expected = 1000;

	for (int i = 0; i < 12; i++) {
		uint64_t delay = rand_backoff_ms(&b, 1000, 30000);

		assert_true(b == expected);
		assert_true(delay >= b / 2 && delay <= b);
		expected = expected * 2 > 30000 ? 30000 : expected * 2;
	}
	b = 0;  /* after a success */
	assert_true(rand_backoff_ms(&b, 1000, 30000) <= 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ids_round_trip),
		cmocka_unit_test(backoff_doubles_to_its_cap_with_jitter_in_the_upper_half),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
