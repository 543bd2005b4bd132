/* Unit tests for the forwarding table (forward.h), with a fake clock: legs register with
 * REGISTER datagrams built by relay_wire.h and are answered; frames pass between the two
 * legs both ways by receiver session id; a third party's frames, a bad MAC, an old
 * counter, an unknown allocation or session are refused and counted; a leg moves with
 * an authenticated REGISTER (NAT rebinding); equal session ids in two allocations are
 * told apart by source; the rate limit (none by default, a second's burst, a rate of
 * one allocation's own); expiry; the allocation cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "addr.h"
#include "err.h"
#include "forward.h"
#include "frame.h"

static const uint8_t token_a[RELAY_TOKEN_LEN] = "0123456789abcdef";
static const uint8_t token_b[RELAY_TOKEN_LEN] = "fedcba9876543210";

static struct ip_endpoint ep(const char *text)
{
	struct ip_endpoint e;

	assert_int_equal(ip_endpoint_parse(text, &e), 0);
	return e;
}

static bool same_ep(const struct ip_endpoint *a, const struct ip_endpoint *b)
{
	return a->port == b->port && ip_addr_equal(&a->addr, &b->addr);
}

static bool goes_to(const struct fwd_verdict *v, const char *text)
{
	struct ip_endpoint e = ep(text);

	return same_ep(&v->to, &e);
}

static size_t make_register(uint8_t *out, uint64_t alloc, uint8_t leg, uint64_t counter,
			    uint32_t session, const uint8_t *token)
{
	struct relay_register m = {.allocation = alloc, .leg = leg, .counter = counter,
				   .nsessions = 1, .sessions = {session}};
	int n = relay_register_encode(&m, token, out, RELAY_REGISTER_MAX);

	assert_true(n > 0);
	return (size_t)n;
}

/* A frame header for a receiver session, and a body: the relay never opens it. */
static size_t make_frame(uint8_t *out, size_t len, uint32_t session)
{
	struct frame_header h = {.type = FRAME_DATA, .frags = 1, .session = session,
				 .counter = 7};

	memset(out, 0x5a, len);
	assert_int_equal(frame_header_encode(&h, out, len), 0);
	return len;
}

static enum fwd_reason input(struct fwd_table *t, const uint8_t *b, size_t len,
			     const char *from, uint64_t now, struct fwd_verdict *v)
{
	struct ip_endpoint f = ep(from);

	fwd_input(t, b, len, &f, now, v);
	return v->reason;
}

/* Allocation 42 with leg 0 at 198.18.1.1:1000 (session 100) and leg 1 at
 * 198.18.2.2:2000 (session 200). */
static void two_legs(struct fwd_table *t, const struct fwd_limits *lim)
{
	uint8_t b[RELAY_REGISTER_MAX];
	struct fwd_verdict v;
	struct relay_registered ack;

	assert_int_equal(fwd_init(t, lim), 0);
	assert_int_equal(fwd_allocate(t, 42, token_a, 0, 0), 0);
	assert_int_equal(input(t, b, make_register(b, 42, 0, 1, 100, token_a), "198.18.1.1:1000",
			       0, &v), FWD_REGISTERED);
	assert_int_equal(v.action, FWD_ANSWER);
	assert_true(goes_to(&v, "198.18.1.1:1000"));
	assert_int_equal(relay_registered_parse(v.answer, v.answer_len, &ack), 0);
	assert_int_equal(relay_wire_verify(v.answer, v.answer_len, token_a), 0);
	assert_true(ack.allocation == 42 && ack.leg == 0 && ack.counter == 1 &&
		    ack.nsessions == 1);
	assert_int_equal(input(t, b, make_register(b, 42, 1, 1, 200, token_a), "198.18.2.2:2000",
			       0, &v), FWD_REGISTERED);
}

static void test_forward_both_ways(void **state)
{
	struct fwd_table t;
	struct fwd_verdict v;
	struct fwd_leg_info leg;
	uint8_t f[100];

	two_legs(&t, NULL);
	/* leg 0 -> leg 1: the receiver's session is 200 */
	assert_int_equal(input(&t, f, make_frame(f, 100, 200), "198.18.1.1:1000", 1, &v),
			 FWD_FORWARDED);
	assert_int_equal(v.action, FWD_SEND);
	assert_true(goes_to(&v, "198.18.2.2:2000"));
	assert_true(v.allocation == 42);
	assert_int_equal(input(&t, f, make_frame(f, 64, 100), "198.18.2.2:2000", 1, &v),
			 FWD_FORWARDED);
	assert_true(goes_to(&v, "198.18.1.1:1000"));
	assert_true(fwd_leg(&t, 42, 0, &leg));
	assert_true(leg.registered && leg.packets_in == 1 && leg.bytes_in == 100);
	assert_true(fwd_leg(&t, 42, 1, &leg));
	assert_true(leg.packets_in == 1 && leg.bytes_in == 64);
	assert_int_equal(t.reasons[FWD_FORWARDED], 2);
	assert_int_equal(t.reasons[FWD_REGISTERED], 2);
	assert_int_equal(t.bytes_forwarded, 164);
	fwd_free_all(&t);
}

static void test_refusals(void **state)
{
	struct fwd_table t;
	struct fwd_verdict v;
	uint8_t f[100], b[RELAY_REGISTER_MAX];
	uint64_t rate_limited, wrong_source;
	size_t n;

	two_legs(&t, NULL);
	/* a third party, even knowing the session, is no leg */
	assert_int_equal(input(&t, f, make_frame(f, 100, 200), "198.18.9.9:1000", 1, &v),
			 FWD_WRONG_SOURCE);
	assert_int_equal(v.action, FWD_DROP);
	/* nor is a leg sending to its own session (a reflection back to itself) */
	assert_int_equal(input(&t, f, make_frame(f, 100, 100), "198.18.1.1:1000", 1, &v),
			 FWD_WRONG_SOURCE);
	assert_true(fwd_allocation_drops(&t, 42, &rate_limited, &wrong_source));
	assert_true(wrong_source == 2 && rate_limited == 0);
	assert_int_equal(input(&t, f, make_frame(f, 100, 999), "198.18.1.1:1000", 1, &v),
			 FWD_UNKNOWN_SESSION);
	assert_int_equal(input(&t, f, 31, "198.18.1.1:1000", 1, &v), FWD_MALFORMED);
	assert_int_equal(input(&t, f, 0, "198.18.1.1:1000", 1, &v), FWD_MALFORMED);
	f[0] = 0x21;  /* a REGISTERED sent to the relay */
	assert_int_equal(input(&t, f, 100, "198.18.1.1:1000", 1, &v), FWD_MALFORMED);
	/* REGISTER: wrong token, unknown allocation, old counter, garbage */
	n = make_register(b, 42, 0, 5, 100, token_b);
	assert_int_equal(input(&t, b, n, "198.18.9.9:1", 1, &v), FWD_BAD_MAC);
	assert_int_equal(v.action, FWD_DROP);
	n = make_register(b, 43, 0, 5, 100, token_a);
	assert_int_equal(input(&t, b, n, "198.18.9.9:1", 1, &v), FWD_UNKNOWN_ALLOCATION);
	n = make_register(b, 42, 0, 1, 100, token_a);  /* replayed from elsewhere */
	assert_int_equal(input(&t, b, n, "198.18.9.9:1", 1, &v), FWD_OLD_COUNTER);
	b[3] = 7;
	assert_int_equal(input(&t, b, n, "198.18.9.9:1", 1, &v), FWD_MALFORMED);
	/* leg 1 may not claim leg 0's session */
	n = make_register(b, 42, 1, 2, 100, token_a);
	assert_int_equal(input(&t, b, n, "198.18.2.2:2000", 1, &v), FWD_SESSION_TAKEN);
	/* none of that moved a leg: frames still flow */
	assert_int_equal(input(&t, f, make_frame(f, 100, 200), "198.18.1.1:1000", 1, &v),
			 FWD_FORWARDED);
	assert_int_equal(t.reasons[FWD_BAD_MAC], 1);
	assert_int_equal(t.reasons[FWD_OLD_COUNTER], 1);
	assert_int_equal(t.reasons[FWD_WRONG_SOURCE], 2);
	assert_int_equal(t.reasons[FWD_MALFORMED], 4);
	fwd_free_all(&t);
}

static void test_rebinding(void **state)
{
	struct fwd_table t;
	struct fwd_verdict v;
	uint8_t f[100], b[RELAY_REGISTER_MAX];

	two_legs(&t, NULL);
	/* leg 0's NAT mapping changed: its next REGISTER moves it */
	assert_int_equal(input(&t, b, make_register(b, 42, 0, 2, 100, token_a),
			       "198.18.1.1:1555", 5, &v), FWD_REGISTERED);
	assert_int_equal(input(&t, f, make_frame(f, 100, 200), "198.18.1.1:1000", 6, &v),
			 FWD_WRONG_SOURCE);
	assert_int_equal(input(&t, f, make_frame(f, 100, 200), "198.18.1.1:1555", 6, &v),
			 FWD_FORWARDED);
	assert_int_equal(input(&t, f, make_frame(f, 100, 100), "198.18.2.2:2000", 6, &v),
			 FWD_FORWARDED);
	assert_int_equal(v.to.port, 1555);
	/* and it may register other sessions (a new call layout): the old one is gone */
	assert_int_equal(input(&t, b, make_register(b, 42, 0, 3, 101, token_a),
			       "198.18.1.1:1555", 7, &v), FWD_REGISTERED);
	assert_int_equal(input(&t, f, make_frame(f, 100, 100), "198.18.2.2:2000", 7, &v),
			 FWD_UNKNOWN_SESSION);
	assert_int_equal(input(&t, f, make_frame(f, 100, 101), "198.18.2.2:2000", 7, &v),
			 FWD_FORWARDED);
	fwd_free_all(&t);
}

static void test_shared_session_ids(void **state)
{
	struct fwd_table t;
	struct fwd_verdict v;
	uint8_t f[100], b[RELAY_REGISTER_MAX];

	two_legs(&t, NULL);
	/* allocation 7 happens to use the same receive sessions, legs elsewhere */
	assert_int_equal(fwd_allocate(&t, 7, token_b, 0, 0), 0);
	assert_int_equal(input(&t, b, make_register(b, 7, 0, 1, 100, token_b), "198.18.3.3:3000",
			       0, &v), FWD_REGISTERED);
	assert_int_equal(input(&t, b, make_register(b, 7, 1, 1, 200, token_b), "198.18.4.4:4000",
			       0, &v), FWD_REGISTERED);
	assert_int_equal(input(&t, f, make_frame(f, 100, 200), "198.18.3.3:3000", 1, &v),
			 FWD_FORWARDED);
	assert_int_equal(v.to.port, 4000);
	assert_true(v.allocation == 7);
	assert_int_equal(input(&t, f, make_frame(f, 100, 200), "198.18.1.1:1000", 1, &v),
			 FWD_FORWARDED);
	assert_int_equal(v.to.port, 2000);
	/* freeing one leaves the other's routes alone */
	assert_int_equal(fwd_release(&t, 7), 0);
	assert_int_equal(fwd_release(&t, 7), INSEL_E_NOT_FOUND);
	assert_int_equal(input(&t, f, make_frame(f, 100, 200), "198.18.3.3:3000", 1, &v),
			 FWD_WRONG_SOURCE);
	assert_int_equal(input(&t, f, make_frame(f, 100, 100), "198.18.2.2:2000", 1, &v),
			 FWD_FORWARDED);
	fwd_free_all(&t);
}

static void test_rate_limit(void **state)
{
	struct fwd_limits lim = {.rate_bytes = 20000};
	struct fwd_table t;
	struct fwd_verdict v;
	uint8_t f[1000];
	unsigned passed = 0;
	uint64_t rate_limited, wrong_source;

	two_legs(&t, &lim);
	/* the burst is the largest frame at least: 65507 bytes pass at once, then no more */
	for (unsigned i = 0; i < 100; i++)
		passed += input(&t, f, make_frame(f, 1000, 200), "198.18.1.1:1000", 10, &v) ==
			  FWD_FORWARDED;
	assert_int_equal(passed, FRAME_MAX_DATAGRAM / 1000);
	assert_true(fwd_allocation_drops(&t, 42, &rate_limited, &wrong_source));
	assert_int_equal(rate_limited, 100 - passed);
	/* the other direction shares the allowance */
	assert_int_equal(input(&t, f, make_frame(f, 1000, 100), "198.18.2.2:2000", 10, &v),
			 FWD_RATE_LIMITED);
	/* 100 ms later, 2000 bytes more */
	passed = 0;
	for (unsigned i = 0; i < 100; i++)
		passed += input(&t, f, make_frame(f, 1000, 200), "198.18.1.1:1000", 110, &v) ==
			  FWD_FORWARDED;
	assert_int_equal(passed, 2);
	fwd_free_all(&t);
}

/* Without a rate (the default) nothing is rate limited, however much at once. */
static void test_no_rate_by_default(void **state)
{
	struct fwd_table t;
	struct fwd_verdict v;
	uint8_t f[1400];
	unsigned passed = 0;

	two_legs(&t, NULL);
	assert_true(t.limits.rate_bytes == 0);
	for (unsigned i = 0; i < 100000; i++)  /* 140 MB in one millisecond */
		passed += input(&t, f, make_frame(f, sizeof f, 200), "198.18.1.1:1000", 10,
				&v) == FWD_FORWARDED;
	assert_int_equal(passed, 100000);
	assert_true(t.reasons[FWD_RATE_LIMITED] == 0);
	fwd_free_all(&t);
}

/* The burst is a second's worth of the rate unless the limits say less; a long quiet
 * spell refills it to that and no further. */
static void test_burst_is_a_second(void **state)
{
	struct fwd_limits lim = {.rate_bytes = 1000000};
	struct fwd_table t;
	struct fwd_verdict v;
	uint8_t f[1000];
	unsigned passed = 0;

	two_legs(&t, &lim);
	for (unsigned i = 0; i < 2000; i++)
		passed += input(&t, f, make_frame(f, 1000, 200), "198.18.1.1:1000", 10, &v) ==
			  FWD_FORWARDED;
	assert_int_equal(passed, 1000);
	/* 10 ms: 10000 bytes */
	passed = 0;
	for (unsigned i = 0; i < 100; i++)
		passed += input(&t, f, make_frame(f, 1000, 200), "198.18.1.1:1000", 20, &v) ==
			  FWD_FORWARDED;
	assert_int_equal(passed, 10);
	/* an hour later: a second's worth, no more */
	passed = 0;
	for (unsigned i = 0; i < 2000; i++)
		passed += input(&t, f, make_frame(f, 1000, 200), "198.18.1.1:1000", 3600020, &v) ==
			  FWD_FORWARDED;
	assert_int_equal(passed, 1000);
	fwd_free_all(&t);

	/* a smaller burst asked for */
	lim.burst_bytes = 100000;
	two_legs(&t, &lim);
	passed = 0;
	for (unsigned i = 0; i < 2000; i++)
		passed += input(&t, f, make_frame(f, 1000, 200), "198.18.1.1:1000", 10, &v) ==
			  FWD_FORWARDED;
	assert_int_equal(passed, 100);
	fwd_free_all(&t);
}

/* A rate given to one allocation applies to it alone, over a table with none. */
static void test_rate_of_an_allocation(void **state)
{
	struct fwd_table t;
	struct fwd_verdict v;
	uint8_t b[RELAY_REGISTER_MAX], f[1000];
	unsigned passed = 0;

	assert_int_equal(fwd_init(&t, NULL), 0);
	assert_int_equal(fwd_allocate(&t, 7, token_a, 200000, 0), 0);
	assert_int_equal(input(&t, b, make_register(b, 7, 0, 1, 100, token_a),
			       "198.18.1.1:1000", 0, &v), FWD_REGISTERED);
	assert_int_equal(input(&t, b, make_register(b, 7, 1, 1, 200, token_a),
			       "198.18.2.2:2000", 0, &v), FWD_REGISTERED);
	for (unsigned i = 0; i < 1000; i++)
		passed += input(&t, f, make_frame(f, 1000, 200), "198.18.1.1:1000", 0, &v) ==
			  FWD_FORWARDED;
	assert_int_equal(passed, 200);
	assert_true(t.reasons[FWD_RATE_LIMITED] == 800);
	fwd_free_all(&t);
}

static void count_gone(void *ctx, uint64_t id)
{
	uint64_t *last = ctx;

	*last = id;
}

static void test_expiry(void **state)
{
	struct fwd_limits lim = {.expiry_ms = 60000};
	struct fwd_table t;
	struct fwd_verdict v;
	uint8_t f[100], b[RELAY_REGISTER_MAX];
	uint64_t gone = 0;

	two_legs(&t, &lim);
	assert_int_equal(fwd_allocate(&t, 9, token_b, 0, 0), 0);  /* never registered */
	/* frames do not refresh an allocation; registrations do */
	assert_int_equal(input(&t, b, make_register(b, 42, 1, 2, 200, token_a),
			       "198.18.2.2:2000", 30000, &v), FWD_REGISTERED);
	assert_int_equal(input(&t, f, make_frame(f, 100, 200), "198.18.1.1:1000", 50000, &v),
			 FWD_FORWARDED);
	assert_int_equal(fwd_expire(&t, 59999, count_gone, &gone), 0);
	assert_int_equal(fwd_expire(&t, 60000, count_gone, &gone), 1);
	assert_true(gone == 9);
	assert_int_equal(t.count, 1);
	assert_int_equal(fwd_expire(&t, 89999, NULL, NULL), 0);
	assert_int_equal(fwd_expire(&t, 90000, count_gone, &gone), 1);
	assert_true(gone == 42);
	assert_int_equal(t.count, 0);
	assert_int_equal(t.expired, 2);
	/* its routes went with it */
	assert_int_equal(input(&t, f, make_frame(f, 100, 200), "198.18.1.1:1000", 90001, &v),
			 FWD_UNKNOWN_SESSION);
	assert_int_equal(input(&t, b, make_register(b, 42, 0, 9, 100, token_a),
			       "198.18.1.1:1000", 90001, &v), FWD_UNKNOWN_ALLOCATION);
	fwd_free_all(&t);
}

static void test_allocation_limits(void **state)
{
	struct fwd_limits lim = {.max_allocations = 3};
	struct fwd_table t;

	assert_int_equal(fwd_init(&t, &lim), 0);
	assert_int_equal(fwd_allocate(&t, 0, token_a, 0, 0), INSEL_E_BAD_FIELD);
	assert_int_equal(fwd_allocate(&t, 1, token_a, 0, 0), 0);
	assert_int_equal(fwd_allocate(&t, 1, token_a, 0, 0), INSEL_E_EXISTS);
	assert_int_equal(fwd_allocate(&t, 2, token_a, 0, 0), 0);
	assert_int_equal(fwd_allocate(&t, 3, token_a, 0, 0), 0);
	assert_int_equal(fwd_allocate(&t, 4, token_a, 0, 0), INSEL_E_LIMIT);
	assert_int_equal(fwd_release(&t, 2), 0);
	assert_int_equal(fwd_allocate(&t, 4, token_a, 0, 0), 0);
	assert_int_equal(t.count, 3);
	assert_string_equal(fwd_reason_name(FWD_BAD_MAC), "bad_mac");
	assert_string_equal(fwd_reason_name(FWD_REASONS), "unknown");
	fwd_free_all(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_both_ways),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_rebinding),
		cmocka_unit_test(test_shared_session_ids),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_no_rate_by_default),
		cmocka_unit_test(test_burst_is_a_second),
		cmocka_unit_test(test_rate_of_an_allocation),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_allocation_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
