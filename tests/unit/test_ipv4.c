/* Unit tests for IPv4 packets in rooms (auxiliary/ipv4.h): which multicast groups a room
 * carries between sites, the routers' and gateways' own protocols left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ipv4.h"

#define GROUP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static void test_routing_groups_stay(void **state)
{
	static const uint8_t routing[] = {2, 5, 6, 9, 13, 18, 102, 111};

	(void)state;
	for (size_t i = 0; i < sizeof routing; i++)
		assert_false(ipv4_group_carried(GROUP(224, 0, 0, routing[i])));
}

static void test_discovery_groups_cross(void **state)
{
	(void)state;
	assert_true(ipv4_group_carried(GROUP(224, 0, 0, 251)));      /* mDNS */
	assert_true(ipv4_group_carried(GROUP(224, 0, 0, 252)));      /* LLMNR */
	assert_true(ipv4_group_carried(GROUP(224, 0, 0, 1)));        /* all hosts */
	assert_true(ipv4_group_carried(GROUP(239, 255, 255, 250)));  /* SSDP */
	/* The same last byte outside 224.0.0.0/24 is another group. */
	assert_true(ipv4_group_carried(GROUP(224, 0, 1, 9)));
	assert_true(ipv4_group_carried(GROUP(239, 0, 0, 18)));
	assert_true(ipv4_group_carried(GROUP(239, 255, 255, 255)));
}

static void test_not_multicast(void **state)
{
	(void)state;
	assert_false(ipv4_group_carried(GROUP(172, 30, 0, 255)));  /* a room's broadcast */
	assert_false(ipv4_group_carried(GROUP(223, 255, 255, 255)));
	assert_false(ipv4_group_carried(GROUP(240, 0, 0, 1)));
	assert_false(ipv4_group_carried(GROUP(255, 255, 255, 255)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routing_groups_stay),
		cmocka_unit_test(test_discovery_groups_cross),
		cmocka_unit_test(test_not_multicast),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
