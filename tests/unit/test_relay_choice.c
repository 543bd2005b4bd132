/* Which relay carries a call (principal/relay_choice.h): the ranking under each policy
 * (never an end of the call, nor a relay not available; designated relays first by
 * default, the least loaded first; route costs, when known, before the load), and the
 * bookkeeping of designated relays and their allocations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "relay_choice.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void policies_parse(void **state)
{
	enum relay_policy p;

	(void)state;
	assert_int_equal(relay_policy_parse("designated", &p), 0);
	assert_int_equal(p, RELAY_PREFER_DESIGNATED);
	assert_int_equal(relay_policy_parse("principal", &p), 0);
	assert_int_equal(p, RELAY_PRINCIPAL_ONLY);
	assert_int_equal(relay_policy_parse("least-loaded", &p), 0);
	assert_string_equal(relay_policy_name(p), "least-loaded");
	assert_int_equal(relay_policy_parse("cheapest", &p), -1);
}

static void designated_first_least_loaded(void **state)
{
	const struct relay_option o[] = {
		{NULL, true, 0, 0},          /* the principal's, idle */
		{"site-c", true, 5, 0},
		{"site-d", true, 2, 0},
		{"site-a", true, 0, 0},      /* the caller's own gateway */
		{"site-b", true, 0, 0},      /* the callee's */
		{"site-e", false, 0, 0},     /* offline */
	};
	size_t rank[N(o)];

	(void)state;
	assert_int_equal(relay_choice_rank(o, N(o), "site-a", "site-b", RELAY_PREFER_DESIGNATED,
					   rank), 3);
	assert_int_equal(rank[0], 2);
	assert_int_equal(rank[1], 1);
	assert_int_equal(rank[2], 0);
	/* The callee not known: only the caller is left out. */
	assert_int_equal(relay_choice_rank(o, N(o), "site-a", NULL, RELAY_PREFER_DESIGNATED,
					   rank), 4);
	assert_int_equal(rank[0], 4);
}

static void principal_only_and_least_loaded(void **state)
{
	const struct relay_option o[] = {
		{NULL, true, 3, 0},
		{"site-c", true, 1, 0},
		{"site-d", true, 7, 0},
	};
	size_t rank[N(o)];

	(void)state;
	assert_int_equal(relay_choice_rank(o, N(o), "a", "b", RELAY_PRINCIPAL_ONLY, rank), 1);
	assert_int_equal(rank[0], 0);
	assert_int_equal(relay_choice_rank(o, N(o), "a", "b", RELAY_LEAST_LOADED, rank), 3);
	assert_int_equal(rank[0], 1);
	assert_int_equal(rank[1], 0);
	assert_int_equal(rank[2], 2);
}

static void route_cost_before_load(void **state)
{
	const struct relay_option o[] = {
		{"site-c", true, 0, 0},      /* cost unknown: after every known one */
		{"site-d", true, 9, 40},
		{"site-e", true, 1, 10},
		{NULL, true, 0, 5},          /* the principal's, cheapest, but not designated */
	};
	size_t rank[N(o)];

	(void)state;
	assert_int_equal(relay_choice_rank(o, N(o), "a", "b", RELAY_PREFER_DESIGNATED, rank), 4);
	assert_int_equal(rank[0], 2);
	assert_int_equal(rank[1], 1);
	assert_int_equal(rank[2], 0);
	assert_int_equal(rank[3], 3);
	assert_int_equal(relay_choice_rank(o, N(o), "a", "b", RELAY_LEAST_LOADED, rank), 4);
	assert_int_equal(rank[0], 3);
}

static void nothing_available(void **state)
{
	const struct relay_option o[] = {{NULL, false, 0, 0}, {"a", true, 0, 0}};
	size_t rank[N(o)];

	(void)state;
	assert_int_equal(relay_choice_rank(o, N(o), "a", "b", RELAY_PREFER_DESIGNATED, rank), 0);
}

static void bookkeeping(void **state)
{
	static struct relay_choice c;
	struct pop_register_req reg = {.has_relay = true};
	struct designated_relay *r;
	char relay[PKI_NAME_MAX + 1];
	uint64_t id;

	(void)state;
	memset(&c, 0, sizeof c);
	assert_int_equal(ip_endpoint_parse("198.18.103.2:3479", &reg.relay), 0);
	relay_choice_announce(&c, "site-c", &reg);
	relay_choice_announce(&c, "site-d", &reg);
	assert_int_equal(c.n, 2);
	r = relay_choice_find(&c, "site-c");
	assert_non_null(r);
	assert_true(r->online);
	assert_int_equal(relay_choice_allocated(&c, "site-c", 0x11, 0x1001), 0);
	assert_int_equal(relay_choice_allocated(&c, "site-c", 0x12, 0x1002), 0);
	assert_int_equal(relay_choice_allocated(&c, "site-x", 0x13, 0x1003), -ENOENT);
	assert_int_equal(r->live, 2);
	assert_true(relay_choice_of_call(&c, 0x1002, &id, relay));
	assert_true(id == 0x12);
	assert_string_equal(relay, "site-c");
	assert_true(relay_choice_forget(&c, "site-c", 0x12));
	assert_false(relay_choice_forget(&c, "site-d", 0x11));  /* another relay's */
	assert_int_equal(r->live, 1);
	relay_choice_offline(&c, "site-c");
	assert_false(r->online);
	assert_int_equal(r->live, 0);
	assert_false(relay_choice_of_call(&c, 0x1001, &id, relay));
	/* Registering again without a relay: it is no longer one. */
	reg.has_relay = false;
	relay_choice_announce(&c, "site-c", &reg);
	assert_null(relay_choice_find(&c, "site-c"));
	assert_non_null(relay_choice_find(&c, "site-d"));
	relay_choice_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(policies_parse),
		cmocka_unit_test(designated_first_least_loaded),
		cmocka_unit_test(principal_only_and_least_loaded),
		cmocka_unit_test(route_cost_before_load),
		cmocka_unit_test(nothing_available),
		cmocka_unit_test(bookkeeping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
