/* Which endpoint of the caller's the callee's secondary dials back, if any, when the
 * caller cannot dial it (principal/connect_choice.h): today's choice for single-family
 * gateways; a dual-stack caller whose IPv4 endpoint cannot be dialled but whose IPv6 one
 * can is dialled back over IPv6 rather than spliced; a callee is never sent to an
 * endpoint of a family it did not register; a known dialable endpoint before an unchecked
 * one, and of two alike, IPv4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "connect_choice.h"

#define YES POP_REACH_YES
#define NO POP_REACH_NO
#define UNKNOWN POP_REACH_UNKNOWN

/* A secondary as the directory has it: its endpoints ("" for none) and their answers. */
static struct pop_serving gateway(const char *endpoint, enum pop_reach reachable,
				  const char *endpoint6, enum pop_reach reachable6)
{
	struct pop_serving s;

	memset(&s, 0, sizeof s);
	strcpy(s.secondary, "gw");
	strcpy(s.endpoint, endpoint);
	strcpy(s.endpoint6, endpoint6);
	s.reachable = reachable;
	s.reachable6 = reachable6;
	return s;
}

/* The callee dials back `expect`, or nobody ("": the splice). */
static void assert_choice(struct pop_serving caller, struct pop_serving callee,
			  const char *expect)
{
	struct ip_endpoint to, want;

	if (!expect[0]) {
		assert_false(connect_reversal_to(&caller, &callee, &to));
		return;
	}
	assert_true(connect_reversal_to(&caller, &callee, &to));
	assert_int_equal(ip_endpoint_parse(expect, &want), 0);
	assert_true(ip_endpoint_equal(&to, &want));
}

#define A4 "198.18.1.2:7445"
#define A6 "[2001:db8:1::2]:7445"
#define B4 "198.18.2.2:7445"
#define B6 "[2001:db8:2::2]:7445"

/* Gateways of one family decide as before there was an endpoint6. */
static void single_family_as_before(void **state)
{
	struct pop_serving b4 = gateway(B4, NO, "", UNKNOWN);

	(void)state;
	assert_choice(gateway(A4, YES, "", UNKNOWN), b4, A4);
	assert_choice(gateway(A4, UNKNOWN, "", UNKNOWN), b4, A4);  /* not known not to be */
	assert_choice(gateway(A4, NO, "", UNKNOWN), b4, "");
	/* An IPv6-only caller registers its IPv6 endpoint as its endpoint. */
	assert_choice(gateway(A6, YES, "", UNKNOWN), gateway(B6, NO, "", UNKNOWN), A6);
	assert_choice(gateway(A6, NO, "", UNKNOWN), gateway(B6, NO, "", UNKNOWN), "");
	/* A caller with no endpoint registered cannot be dialled back. */
	assert_choice(gateway("", UNKNOWN, "", UNKNOWN), b4, "");
}

/* The case that was spliced: IPv4 behind a NAT, IPv6 open. */
static void dual_stack_caller_dialled_over_ipv6(void **state)
{
	struct pop_serving a = gateway(A4, NO, A6, YES);

	(void)state;
	assert_choice(a, gateway(B6, NO, "", UNKNOWN), A6);   /* an IPv6-only callee */
	assert_choice(a, gateway(B4, NO, B6, NO), A6);        /* a dual-stack one */
	assert_choice(a, gateway(B4, NO, "", UNKNOWN), "");   /* IPv4 only: the splice */
	/* IPv6 not checked yet, IPv4 refused: worth the try, as an unchecked IPv4 is. */
	assert_choice(gateway(A4, NO, A6, UNKNOWN), gateway(B6, NO, "", UNKNOWN), A6);
	assert_choice(gateway(A4, NO, A6, NO), gateway(B4, NO, B6, NO), "");
}

/* Where both could do: a known answer first, then IPv4 (as before). */
static void preference(void **state)
{
	struct pop_serving b46 = gateway(B4, NO, B6, NO);

	(void)state;
	assert_choice(gateway(A4, YES, A6, YES), b46, A4);
	assert_choice(gateway(A4, UNKNOWN, A6, UNKNOWN), b46, A4);
	assert_choice(gateway(A4, YES, A6, NO), b46, A4);
	assert_choice(gateway(A4, UNKNOWN, A6, YES), b46, A6);  /* known beats unchecked */
	assert_choice(gateway(A4, YES, A6, UNKNOWN), b46, A4);
}

/* The callee dials only over a family it registered an endpoint of. */
static void callee_family(void **state)
{
	(void)state;
	/* A dialable IPv4 endpoint is no use to an IPv6-only callee: IPv6, else splice. */
	assert_choice(gateway(A4, YES, A6, UNKNOWN), gateway(B6, NO, "", UNKNOWN), A6);
	assert_choice(gateway(A4, YES, "", UNKNOWN), gateway(B6, NO, "", UNKNOWN), "");
	assert_choice(gateway(A4, YES, A6, NO), gateway(B6, NO, "", UNKNOWN), "");
	/* A callee whose endpoints say nothing is held to no family (as before). */
	assert_choice(gateway(A4, YES, A6, YES), gateway("", UNKNOWN, "", UNKNOWN), A4);
	assert_choice(gateway(A4, NO, A6, YES), gateway("junk", UNKNOWN, "", UNKNOWN), A6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_family_as_before),
		cmocka_unit_test(dual_stack_caller_dialled_over_ipv6),
		cmocka_unit_test(preference),
		cmocka_unit_test(callee_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
