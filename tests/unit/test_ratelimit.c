/* The token bucket (common/util/ratelimit.h) on a fake clock: a full burst at once, then
 * the rate, never more than a burst after a long quiet, a clock that goes back, and the
 * limits of zero. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"

/* How many of n events at now_ms get through. */
static unsigned allow_n(struct ratelimit *r, unsigned n, uint64_t now_ms)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += ratelimit_allow(r, now_ms);
	return ok;
}

static void burst_then_rate(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 1000, 50, 10000);
	/* A flood at one instant: the burst, no more. */
	assert_int_equal(allow_n(&r, 200, 10000), 50);
	assert_int_equal(r.allowed, 50);
	assert_int_equal(r.limited, 150);
	/* 1000 a second: one a millisecond. */
	assert_int_equal(allow_n(&r, 10, 10001), 1);
	assert_int_equal(allow_n(&r, 10, 10011), 10);
	assert_int_equal(allow_n(&r, 10, 10011), 0);
	/* Over a second of flood, about the rate gets through (plus nothing saved up). */
	unsigned ok = 0;

	for (uint64_t t = 10012; t < 11012; t++)
		ok += allow_n(&r, 5, t);
	assert_int_equal(ok, 1000);
}

static void slow_rate_refills_in_fractions(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 3, 1, 0);   /* 3 a second: one every 333.3 ms */
	assert_true(ratelimit_allow(&r, 0));
	assert_false(ratelimit_allow(&r, 333));
	assert_true(ratelimit_allow(&r, 334));
	assert_false(ratelimit_allow(&r, 500));
	assert_true(ratelimit_allow(&r, 668));
}

static void quiet_buys_one_burst_only(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 100, 20, 0);
	assert_int_equal(allow_n(&r, 20, 0), 20);
	/* An hour, and a week, of quiet: one bucket full, not more. */
	assert_int_equal(allow_n(&r, 100, 3600000), 20);
	assert_int_equal(allow_n(&r, 100, 3600000 + 7ULL * 24 * 3600000), 20);
	/* UINT64 clocks near their end do not overflow the refill. */
	assert_int_equal(allow_n(&r, 100, UINT64_MAX), 20);
}

static void clock_going_back_stands_still(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 1000, 2, 5000);
	assert_int_equal(allow_n(&r, 2, 5000), 2);
	assert_int_equal(allow_n(&r, 5, 1000), 0);   /* earlier: nothing refilled */
	assert_int_equal(allow_n(&r, 5, 5000), 0);
	assert_int_equal(allow_n(&r, 5, 5001), 1);
}

static void zero_limits(void **state)
{
	struct ratelimit r;

	(void)state;
	ratelimit_init(&r, 1000, 0, 0);
	assert_int_equal(allow_n(&r, 10, 1000000), 0);
	ratelimit_init(&r, 0, 3, 0);
	assert_int_equal(allow_n(&r, 10, 0), 3);
	assert_int_equal(allow_n(&r, 10, 1000000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(burst_then_rate),
		cmocka_unit_test(slow_rate_refills_in_fractions),
		cmocka_unit_test(quiet_buys_one_burst_only),
		cmocka_unit_test(clock_going_back_stands_still),
		cmocka_unit_test(zero_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
