/* The Prometheus text writer's data (prom.h): a histogram's observations land in the
 * bucket of the first bound they do not pass (le), past every bound in +Inf only (the
 * count), a negative or NaN one counts as 0; label values are made safe and bounded. The exposition's grammar itself is checked by promtool in
 * tests/netns/metrics.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "prom.h"

static void test_histogram(void **state)
{
	static const double bounds[] = {0.1, 1, 10};
	struct prom_histogram h;

	prom_histogram_init(&h, bounds, 3);
	prom_histogram_observe(&h, 0.05);
	prom_histogram_observe(&h, 0.1);   /* on a bound: in that bucket (le) */
	prom_histogram_observe(&h, 5);
	prom_histogram_observe(&h, 100);   /* past every bound: +Inf only */
	prom_histogram_observe(&h, -3);    /* nonsense counts as 0 */
	prom_histogram_observe(&h, NAN);
	assert_int_equal(h.count, 6);
	assert_int_equal(h.in_bucket[0], 4);
	assert_int_equal(h.in_bucket[1], 0);
	assert_int_equal(h.in_bucket[2], 1);
	assert_true(fabs(h.sum - 105.15) < 1e-9);
}

static void test_label(void **state)
{
	char out[16];

	assert_string_equal(prom_label("peer_dead", out, sizeof out), "peer_dead");
	assert_string_equal(prom_label("a\"b\\c\nd}", out, sizeof out), "a_b_c_d_");
	assert_string_equal(prom_label("0123456789abcdefghij", out, sizeof out),
			    "0123456789abcde");
	assert_string_equal(prom_label(NULL, out, sizeof out), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_label),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
