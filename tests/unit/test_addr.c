/* Unit tests for addresses, prefixes, endpoints, longest-prefix match and planning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "addr.h"
#include "err.h"

static struct ip_prefix P(const char *text)
{
	struct ip_prefix p;

	assert_int_equal(ip_prefix_parse(text, true, &p), 0);
	return p;
}

static struct ip_addr A(const char *text)
{
	struct ip_addr a;

	assert_int_equal(ip_addr_parse(text, &a), 0);
	return a;
}

static void parses_and_formats_addresses(void **state)
{
	char out[IP_STRLEN];
	struct ip_addr a;

	a = A("10.1.2.3");
	assert_int_equal(a.family, AF_INET);
	assert_string_equal(ip_addr_format(&a, out, sizeof out), "10.1.2.3");
	a = A("2001:DB8:0:0:0:0:0:1");
	assert_int_equal(a.family, AF_INET6);
	assert_string_equal(ip_addr_format(&a, out, sizeof out), "2001:db8::1");
	assert_int_equal(ip_addr_parse("10.1.2", &a), INSEL_E_BAD_ADDR);
	assert_int_equal(ip_addr_parse("10.1.2.256", &a), INSEL_E_BAD_ADDR);
	assert_int_equal(ip_addr_parse("", &a), INSEL_E_BAD_ADDR);
	assert_int_equal(ip_addr_parse("fe80::1%eth0", &a), INSEL_E_BAD_ADDR);
	assert_int_equal(ip_addr_parse(" 10.0.0.1", &a), INSEL_E_BAD_ADDR);
}

static void parses_prefixes_strictly(void **state)
{
	char out[IP_STRLEN];
	struct ip_prefix p;

	p = P("10.1.0.0/16");
	assert_int_equal(p.len, 16);
	assert_string_equal(ip_prefix_format(&p, out, sizeof out), "10.1.0.0/16");
	p = P("0.0.0.0/0");
	assert_int_equal(p.len, 0);
	p = P("10.9.9.9/32");
	assert_int_equal(p.len, 32);
	p = P("10.9.9.9");  /* a bare address is a host prefix */
	assert_int_equal(p.len, 32);
	p = P("::/0");
	assert_int_equal(p.len, 0);
	p = P("2001:db8::1/128");
	assert_int_equal(p.len, 128);
	p = P("2001:db8::");
	assert_int_equal(p.len, 128);

	assert_int_equal(ip_prefix_parse("10.1.2.3/16", true, &p), INSEL_E_HOST_BITS);
	assert_int_equal(ip_prefix_parse("10.1.2.3/16", false, &p), 0);
	assert_string_equal(ip_prefix_format(&p, out, sizeof out), "10.1.0.0/16");
	assert_int_equal(ip_prefix_parse("2001:db8::1/64", true, &p), INSEL_E_HOST_BITS);
	assert_int_equal(ip_prefix_parse("10.0.0.0/33", true, &p), INSEL_E_BAD_PREFIX);
	assert_int_equal(ip_prefix_parse("::/129", true, &p), INSEL_E_BAD_PREFIX);
	assert_int_equal(ip_prefix_parse("10.0.0.0/", true, &p), INSEL_E_BAD_PREFIX);
	assert_int_equal(ip_prefix_parse("10.0.0.0/-1", true, &p), INSEL_E_BAD_PREFIX);
	assert_int_equal(ip_prefix_parse("10.0.0.0/08", true, &p), INSEL_E_BAD_PREFIX);
	assert_int_equal(ip_prefix_parse("10.0.0.0/8/8", true, &p), INSEL_E_BAD_PREFIX);
	assert_int_equal(ip_prefix_parse("/8", true, &p), INSEL_E_BAD_PREFIX);
	assert_int_equal(ip_prefix_parse("lan-a/24", true, &p), INSEL_E_BAD_PREFIX);
}

static void containment_and_overlap(void **state)
{
	struct ip_prefix all4 = P("0.0.0.0/0"), lan = P("10.1.0.0/16"), sub = P("10.1.2.0/24");
	struct ip_prefix other = P("10.2.0.0/16"), host = P("10.1.2.3/32");
	struct ip_prefix all6 = P("::/0"), v6 = P("2001:db8::/32");
	struct ip_addr a = A("10.1.2.3"), b = A("10.1.3.3"), a6 = A("2001:db8::5");

	assert_true(ip_prefix_contains(&all4, &a));
	assert_true(ip_prefix_contains(&lan, &a));
	assert_true(ip_prefix_contains(&sub, &a));
	assert_false(ip_prefix_contains(&sub, &b));
	assert_true(ip_prefix_contains(&host, &a));
	assert_false(ip_prefix_contains(&lan, &a6));  /* families never mix */
	assert_false(ip_prefix_contains(&all6, &a));
	assert_true(ip_prefix_contains(&all6, &a6));
	assert_true(ip_prefix_contains(&v6, &a6));

	assert_true(ip_prefix_overlap(&lan, &sub));
	assert_true(ip_prefix_overlap(&sub, &lan));
	assert_true(ip_prefix_overlap(&all4, &host));
	assert_false(ip_prefix_overlap(&lan, &other));
	assert_false(ip_prefix_overlap(&all4, &all6));
	assert_true(ip_prefix_covers(&lan, &sub));
	assert_false(ip_prefix_covers(&sub, &lan));
	assert_true(ip_prefix_covers(&host, &host));
}

static void longest_prefix_match_in_a_list(void **state)
{
	struct ip_prefix list[] = {P("0.0.0.0/0"), P("10.0.0.0/8"), P("10.1.0.0/16"),
				   P("10.1.2.0/24"), P("2001:db8::/32"), P("10.1.2.3/32")};
	struct ip_addr a = A("10.1.2.3"), b = A("10.1.9.9"), c = A("192.0.2.1"),
		       d = A("2001:db8::1"), e = A("2001:db9::1");

	assert_int_equal(ip_prefix_longest_match(list, 6, &a), 5);
	assert_int_equal(ip_prefix_longest_match(list, 6, &b), 2);
	assert_int_equal(ip_prefix_longest_match(list, 6, &c), 0);
	assert_int_equal(ip_prefix_longest_match(list, 6, &d), 4);
	assert_int_equal(ip_prefix_longest_match(list, 6, &e), -1);
	assert_int_equal(ip_prefix_longest_match(list, 0, &a), -1);
}

static void trie_matches_like_the_list(void **state)
{
	struct lpm_table t;
	struct ip_prefix lan = P("10.1.0.0/16"), sub = P("10.1.2.0/24"), def = P("0.0.0.0/0");
	struct ip_prefix v6 = P("2001:db8::/32"), h6 = P("2001:db8::1/128");
	struct ip_addr a = A("10.1.2.3"), b = A("10.1.9.9"), c = A("192.0.2.1");
	struct ip_addr d = A("2001:db8::1"), e = A("2001:db8::2"), f = A("::1");
	int vlan, vsub, vdef, v6v, vh6;
	unsigned len = 99;

	lpm_init(&t);
	assert_null(lpm_lookup(&t, &a, NULL));
	assert_int_equal(lpm_insert(&t, &lan, &vlan), 0);
	assert_int_equal(lpm_insert(&t, &sub, &vsub), 0);
	assert_int_equal(lpm_insert(&t, &v6, &v6v), 0);
	assert_int_equal(lpm_insert(&t, &h6, &vh6), 0);
	assert_ptr_equal(lpm_lookup(&t, &a, &len), &vsub);
	assert_int_equal(len, 24);
	assert_ptr_equal(lpm_lookup(&t, &b, &len), &vlan);
	assert_int_equal(len, 16);
	assert_null(lpm_lookup(&t, &c, NULL));
	assert_ptr_equal(lpm_lookup(&t, &d, &len), &vh6);
	assert_int_equal(len, 128);
	assert_ptr_equal(lpm_lookup(&t, &e, NULL), &v6v);
	assert_null(lpm_lookup(&t, &f, NULL));
	assert_int_equal(lpm_insert(&t, &def, &vdef), 0);
	assert_ptr_equal(lpm_lookup(&t, &c, &len), &vdef);
	assert_int_equal(len, 0);
	assert_int_equal(t.count, 5);

	assert_ptr_equal(lpm_remove(&t, &sub), &vsub);
	assert_null(lpm_remove(&t, &sub));
	assert_ptr_equal(lpm_lookup(&t, &a, NULL), &vlan);
	assert_int_equal(t.count, 4);
	lpm_free(&t);
}

static void endpoints(void **state)
{
	char out[IP_STRLEN];
	struct ip_endpoint e, back;
	struct sockaddr_storage ss;

	assert_int_equal(ip_endpoint_parse("198.18.0.1:4500", &e), 0);
	assert_int_equal(e.port, 4500);
	assert_string_equal(ip_endpoint_format(&e, out, sizeof out), "198.18.0.1:4500");
	assert_int_equal(ip_endpoint_parse("[2001:db8::1]:443", &e), 0);
	assert_string_equal(ip_endpoint_format(&e, out, sizeof out), "[2001:db8::1]:443");
	ip_endpoint_to_sockaddr(&e, &ss);
	assert_int_equal(ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &back), 0);
	assert_true(ip_addr_equal(&e.addr, &back.addr) && back.port == 443);

	assert_int_equal(ip_endpoint_parse("2001:db8::1:443", &e), INSEL_E_BAD_ADDR);
	assert_int_equal(ip_endpoint_parse("[10.0.0.1]:443", &e), INSEL_E_BAD_ADDR);
	assert_int_equal(ip_endpoint_parse("10.0.0.1:65536", &e), INSEL_E_BAD_ADDR);
	assert_int_equal(ip_endpoint_parse("10.0.0.1:", &e), INSEL_E_BAD_ADDR);
	assert_int_equal(ip_endpoint_parse("10.0.0.1:-1", &e), INSEL_E_BAD_ADDR);
	assert_int_equal(ip_endpoint_parse("10.0.0.1:80x", &e), INSEL_E_BAD_ADDR);
	assert_int_equal(ip_endpoint_parse("10.0.0.1", &e), INSEL_E_BAD_ADDR);
}

static void plans_ipv4_networks(void **state)
{
	struct ip_prefix p = P("192.168.10.0/24");
	struct ip_plan plan;
	char out[IP_STRLEN];

	ip_prefix_plan(&p, &plan);
	assert_string_equal(ip_addr_format(&plan.network, out, sizeof out), "192.168.10.0");
	assert_string_equal(ip_addr_format(&plan.gateway, out, sizeof out), "192.168.10.1");
	assert_string_equal(ip_addr_format(&plan.first, out, sizeof out), "192.168.10.1");
	assert_string_equal(ip_addr_format(&plan.last, out, sizeof out), "192.168.10.254");
	assert_true(plan.has_broadcast);
	assert_string_equal(ip_addr_format(&plan.broadcast, out, sizeof out), "192.168.10.255");
	assert_true(plan.host_count == 254);

	p = P("10.0.0.0/31");  /* RFC 3021 point-to-point: both addresses usable */
	ip_prefix_plan(&p, &plan);
	assert_false(plan.has_broadcast);
	assert_true(plan.host_count == 2);
	assert_string_equal(ip_addr_format(&plan.last, out, sizeof out), "10.0.0.1");

	p = P("10.0.0.7/32");
	ip_prefix_plan(&p, &plan);
	assert_true(plan.host_count == 1);
	assert_string_equal(ip_addr_format(&plan.first, out, sizeof out), "10.0.0.7");

	p = P("0.0.0.0/0");
	ip_prefix_plan(&p, &plan);
	assert_true(plan.host_count == 4294967294ULL);
	assert_string_equal(ip_addr_format(&plan.broadcast, out, sizeof out),
			    "255.255.255.255");
	assert_string_equal(ip_addr_format(&plan.first, out, sizeof out), "0.0.0.1");
}

static void plans_ipv6_networks(void **state)
{
	struct ip_prefix p = P("2001:db8:1::/64");
	struct ip_plan plan;
	char out[IP_STRLEN];

	ip_prefix_plan(&p, &plan);
	assert_false(plan.has_broadcast);
	assert_true(plan.host_count == UINT64_MAX);
	assert_string_equal(ip_addr_format(&plan.last, out, sizeof out),
			    "2001:db8:1:0:ffff:ffff:ffff:ffff");
	p = P("2001:db8::/120");
	ip_prefix_plan(&p, &plan);
	assert_true(plan.host_count == 256);
	p = P("::1/128");
	ip_prefix_plan(&p, &plan);
	assert_true(plan.host_count == 1);
	assert_string_equal(ip_addr_format(&plan.gateway, out, sizeof out), "::1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_and_formats_addresses),
		cmocka_unit_test(parses_prefixes_strictly),
		cmocka_unit_test(containment_and_overlap),
		cmocka_unit_test(longest_prefix_match_in_a_list),
		cmocka_unit_test(trie_matches_like_the_list),
		cmocka_unit_test(endpoints),
		cmocka_unit_test(plans_ipv4_networks),
		cmocka_unit_test(plans_ipv6_networks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
