/* Unit tests for the relay's REGISTER / REGISTERED codec (relay_wire.h): both encode to
 * the bytes docs/relay.md gives (the MAC computed independently, with Python's hmac),
 * round-trip, verify only with their own token and unaltered, and every malformed form
 * is refused without touching the output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "relay_wire.h"

static const uint8_t token[RELAY_TOKEN_LEN] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
					       13, 14, 15};

static const uint8_t register_vector[] = {
	0x20, 0x01, 0x01, 0x02, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22,
	0x08, 0xb4, 0xb0, 0x84, 0xf5, 0xf5, 0x78, 0x47, 0x65, 0x82, 0xca, 0x34, 0x26, 0xec,
	0x91, 0xae,
};

static const uint8_t registered_vector[] = {
	0x21, 0x01, 0x01, 0x02, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x4d, 0x59, 0xa1, 0x92, 0x7f, 0x9d, 0xa7, 0x60,
	0x64, 0xbf, 0xae, 0xcf, 0x5f, 0x13, 0x88, 0xeb,
};

static struct relay_register sample_register(void)
{
	struct relay_register m = {.allocation = 0x0102030405060708ULL, .leg = 1, .counter = 5,
				   .nsessions = 2, .sessions = {0x11111111, 0x22222222}};

	return m;
}

static void test_register_vector(void **state)
{
	struct relay_register m = sample_register(), back;
	uint8_t out[RELAY_REGISTER_MAX];
	int n = relay_register_encode(&m, token, out, sizeof out);

	assert_int_equal(n, sizeof register_vector);
	assert_memory_equal(out, register_vector, sizeof register_vector);
	assert_true(relay_wire_is_register(out, (size_t)n));
	assert_false(relay_wire_is_registered(out, (size_t)n));
	assert_int_equal(relay_register_parse(out, (size_t)n, &back), 0);
	assert_int_equal(relay_wire_verify(out, (size_t)n, token), 0);
	assert_true(back.allocation == m.allocation && back.counter == m.counter);
	assert_int_equal(back.leg, 1);
	assert_int_equal(back.nsessions, 2);
	assert_int_equal(back.sessions[0], 0x11111111);
	assert_int_equal(back.sessions[1], 0x22222222);
}

static void test_registered_vector(void **state)
{
	struct relay_registered m = {.allocation = 0x0102030405060708ULL, .leg = 1,
				     .nsessions = 2, .counter = 5}, back;
	uint8_t out[64];
	int n = relay_registered_encode(&m, token, out, sizeof out);

	assert_int_equal(n, RELAY_REGISTERED_LEN);
	assert_memory_equal(out, registered_vector, sizeof registered_vector);
	assert_true(relay_wire_is_registered(out, (size_t)n));
	assert_int_equal(relay_registered_parse(out, (size_t)n, &back), 0);
	assert_int_equal(relay_wire_verify(out, (size_t)n, token), 0);
	assert_true(back.allocation == m.allocation && back.counter == 5 && back.leg == 1 &&
		    back.nsessions == 2);
	/* never larger than the smallest REGISTER: the relay amplifies nothing */
	assert_true(RELAY_REGISTERED_LEN < RELAY_REGISTER_MIN);
}

static void test_round_trip_all_sizes(void **state)
{
	for (uint8_t n = 1; n <= RELAY_MAX_SESSIONS; n++) {
		struct relay_register m = {.allocation = ~0ULL, .leg = 0, .counter = ~0ULL,
					   .nsessions = n}, back;
		uint8_t out[RELAY_REGISTER_MAX];
		int len;

		for (uint8_t i = 0; i < n; i++)
			m.sessions[i] = 0xfffffff0u + i;
		len = relay_register_encode(&m, token, out, sizeof out);
		assert_int_equal(len, RELAY_REGISTER_MIN + 4 * (n - 1));
		assert_int_equal(relay_register_parse(out, (size_t)len, &back), 0);
		assert_true(back.allocation == m.allocation && back.counter == m.counter);
		assert_int_equal(back.leg, m.leg);
		assert_int_equal(back.nsessions, n);
		assert_memory_equal(back.sessions, m.sessions, 4 * n);
	}
}

static void test_mac_checks(void **state)
{
	uint8_t other[RELAY_TOKEN_LEN], b[sizeof register_vector];

	memcpy(other, token, sizeof other);
	other[15] ^= 1;
	assert_int_equal(relay_wire_verify(register_vector, sizeof register_vector, other),
			 INSEL_E_AUTH);
	/* any bit flipped anywhere fails */
	for (size_t i = 0; i < sizeof b; i++) {
		memcpy(b, register_vector, sizeof b);
		b[i] ^= 0x40;
		assert_int_equal(relay_wire_verify(b, sizeof b, token), INSEL_E_AUTH);
	}
	assert_int_equal(relay_wire_verify(register_vector, 10, token), INSEL_E_TRUNCATED);
}

static void test_encode_refusals(void **state)
{
	uint8_t out[RELAY_REGISTER_MAX];
	struct relay_register m;
	struct relay_registered r = {.allocation = 1, .leg = 0, .counter = 1};

	m = sample_register(), m.allocation = 0;
	assert_int_equal(relay_register_encode(&m, token, out, sizeof out), INSEL_E_BAD_FIELD);
	m = sample_register(), m.leg = 2;
	assert_int_equal(relay_register_encode(&m, token, out, sizeof out), INSEL_E_BAD_FIELD);
	m = sample_register(), m.counter = 0;
	assert_int_equal(relay_register_encode(&m, token, out, sizeof out), INSEL_E_BAD_FIELD);
	m = sample_register(), m.nsessions = 0;
	assert_int_equal(relay_register_encode(&m, token, out, sizeof out), INSEL_E_BAD_FIELD);
	m = sample_register(), m.nsessions = RELAY_MAX_SESSIONS + 1;
	assert_int_equal(relay_register_encode(&m, token, out, sizeof out), INSEL_E_BAD_FIELD);
	m = sample_register(), m.sessions[1] = 0;
	assert_int_equal(relay_register_encode(&m, token, out, sizeof out), INSEL_E_BAD_FIELD);
	m = sample_register(), m.sessions[1] = m.sessions[0];
	assert_int_equal(relay_register_encode(&m, token, out, sizeof out), INSEL_E_BAD_FIELD);
	m = sample_register();
	assert_int_equal(relay_register_encode(&m, token, out, sizeof register_vector - 1),
			 INSEL_E_NOSPACE);
	assert_int_equal(relay_registered_encode(&r, token, out, RELAY_REGISTERED_LEN - 1),
			 INSEL_E_NOSPACE);
	r.leg = 3;
	assert_int_equal(relay_registered_encode(&r, token, out, sizeof out), INSEL_E_BAD_FIELD);
}

/* Each bad form of a datagram is refused, and the output keeps its old contents. */
static void expect_register_refused(const uint8_t *b, size_t len, int code)
{
	struct relay_register out;

	memset(&out, 0xa5, sizeof out);
	assert_int_equal(relay_register_parse(b, len, &out), code);
	for (size_t i = 0; i < sizeof out; i++)
		assert_int_equal(((uint8_t *)&out)[i], 0xa5);
}

static void test_parse_refusals(void **state)
{
	uint8_t b[sizeof register_vector + 4];
	struct relay_registered rd;

	for (size_t len = 0; len < sizeof register_vector; len++)
		expect_register_refused(register_vector, len, INSEL_E_TRUNCATED);
	memcpy(b, register_vector, sizeof register_vector);
	expect_register_refused(b, sizeof register_vector + 4, INSEL_E_MALFORMED);  /* trailing */
#define MUTATED(i, v, code) do { \
	memcpy(b, register_vector, sizeof register_vector); \
	b[i] = (v); \
	expect_register_refused(b, sizeof register_vector, code); \
} while (0)
	MUTATED(0, 0x21, INSEL_E_MALFORMED);   /* a REGISTERED is no REGISTER */
	MUTATED(1, 2, INSEL_E_MALFORMED);      /* version */
	MUTATED(2, 2, INSEL_E_MALFORMED);      /* leg */
	MUTATED(3, 0, INSEL_E_MALFORMED);      /* no session */
	MUTATED(3, 9, INSEL_E_MALFORMED);      /* too many */
	MUTATED(3, 3, INSEL_E_TRUNCATED);      /* more than there are */
	MUTATED(3, 1, INSEL_E_MALFORMED);      /* fewer: bytes left over */
	memcpy(b, register_vector, sizeof register_vector);
	memset(b + 4, 0, 8);                   /* allocation 0 */
	expect_register_refused(b, sizeof register_vector, INSEL_E_MALFORMED);
	memcpy(b, register_vector, sizeof register_vector);
	memset(b + 12, 0, 8);                  /* counter 0 */
	expect_register_refused(b, sizeof register_vector, INSEL_E_MALFORMED);
	memcpy(b, register_vector, sizeof register_vector);
	memset(b + 24, 0, 4);                  /* session 0 */
	expect_register_refused(b, sizeof register_vector, INSEL_E_MALFORMED);
	memcpy(b, register_vector, sizeof register_vector);
	memcpy(b + 24, b + 20, 4);             /* a session twice */
	expect_register_refused(b, sizeof register_vector, INSEL_E_MALFORMED);

	assert_int_equal(relay_registered_parse(registered_vector, 35, &rd), INSEL_E_TRUNCATED);
	memcpy(b, registered_vector, sizeof registered_vector);
	assert_int_equal(relay_registered_parse(b, sizeof registered_vector + 1, &rd),
			 INSEL_E_MALFORMED);
	b[0] = 0x20;
	assert_int_equal(relay_registered_parse(b, sizeof registered_vector, &rd),
			 INSEL_E_MALFORMED);
	assert_false(relay_wire_is_register(b, 0));
	assert_false(relay_wire_is_registered(b, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_vector),
		cmocka_unit_test(test_registered_vector),
		cmocka_unit_test(test_round_trip_all_sizes),
		cmocka_unit_test(test_mac_checks),
		cmocka_unit_test(test_encode_refusals),
		cmocka_unit_test(test_parse_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
