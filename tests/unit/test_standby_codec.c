/* The standby advertisement (secondary/standby_codec.c): round trips and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "standby_codec.h"

static void round_trip(void **state)
{
	static const enum standby_role roles[] = {STANDBY_ROLE_STANDBY, STANDBY_ROLE_ACTIVE,
						  STANDBY_ROLE_RESIGNING};
	uint8_t wire[STANDBY_ADVERT_LEN];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct standby_advert a = {.priority = (uint8_t)(1 + 100 * i), .role = roles[i]}, b;

		standby_advert_encode(&a, wire);
		assert_memory_equal(wire, "INSB\x01", 5);
		assert_int_equal(standby_advert_decode(wire, sizeof wire, &b), 0);
		assert_int_equal(b.priority, a.priority);
		assert_int_equal(b.role, a.role);
	}
}

static void refusals(void **state)
{
	struct standby_advert a = {.priority = 200, .role = STANDBY_ROLE_ACTIVE};
	struct standby_advert b = {.priority = 7, .role = STANDBY_ROLE_STANDBY};
	uint8_t wire[STANDBY_ADVERT_LEN + 1] = {0}, bad[STANDBY_ADVERT_LEN];
	static const struct { size_t at; uint8_t value; } breaks[] = {
		{0, 'X'}, {3, 'b'}, {4, 2}, {5, 0}, {5, 255}, {6, 3}, {7, 1},
	};

	(void)state;
	standby_advert_encode(&a, wire);
	assert_int_equal(standby_advert_decode(wire, STANDBY_ADVERT_LEN + 1, &b),
			 INSEL_E_BAD_FIELD);
	for (size_t n = 0; n < STANDBY_ADVERT_LEN; n++)
		assert_int_equal(standby_advert_decode(wire, n, &b), INSEL_E_BAD_FIELD);
	for (size_t i = 0; i < sizeof breaks / sizeof breaks[0]; i++) {
		memcpy(bad, wire, sizeof bad);
		bad[breaks[i].at] = breaks[i].value;
		assert_int_equal(standby_advert_decode(bad, sizeof bad, &b), INSEL_E_BAD_FIELD);
	}
	/* Untouched by every refusal. */
	assert_int_equal(b.priority, 7);
	assert_int_equal(b.role, STANDBY_ROLE_STANDBY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
