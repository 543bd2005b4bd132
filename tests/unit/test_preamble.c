/* Unit tests for the peer-connection preamble (preamble.h): a round trip for each end,
 * the fixed byte layout, incomplete prefixes waited for and impossible ones refused at
 * once, tokens compared and written as hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "preamble.h"

static struct preamble sample(enum preamble_end end)
{
	struct preamble p = {.end = end, .call_id = 0x0123456789abcdefULL};

	for (size_t i = 0; i < PREAMBLE_TOKEN_LEN; i++)
		p.token[i] = (uint8_t)(0xa0 + i);
	return p;
}

static void round_trip(void **state)
{
	(void)state;
	for (int end = PREAMBLE_CALLER; end <= PREAMBLE_CALLEE; end++) {
		struct preamble p = sample((enum preamble_end)end), back;
		uint8_t bytes[PREAMBLE_LEN];

		preamble_encode(&p, bytes);
		assert_int_equal(preamble_decode(bytes, sizeof bytes, &back), PREAMBLE_LEN);
		assert_int_equal(back.end, end);
		assert_true(back.call_id == p.call_id);
		assert_memory_equal(back.token, p.token, PREAMBLE_TOKEN_LEN);
	}
}

static void layout(void **state)
{
	struct preamble p = sample(PREAMBLE_CALLEE);
	uint8_t bytes[PREAMBLE_LEN];
	static const uint8_t head[16] = {'I', 'N', 'S', 'L', 1, 2, 0, 0,
					 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

	(void)state;
	preamble_encode(&p, bytes);
	assert_memory_equal(bytes, head, sizeof head);
	assert_int_equal(bytes[16], 0xa0);
	assert_int_equal(bytes[31], 0xaf);
	assert_int_not_equal(bytes[0], PREAMBLE_TLS_RECORD);
}

static void prefixes(void **state)
{
	struct preamble p = sample(PREAMBLE_CALLER), back;
	uint8_t bytes[PREAMBLE_LEN];

	(void)state;
	preamble_encode(&p, bytes);
	/* Every proper prefix of a good preamble is waited for, with more bytes to come;
	 * bytes after a whole one are not its own (the TLS stream follows). */
	for (size_t n = 0; n < PREAMBLE_LEN; n++)
		assert_int_equal(preamble_decode(bytes, n, &back), 0);
	uint8_t longer[PREAMBLE_LEN + 5];

	memcpy(longer, bytes, sizeof bytes);
	memset(longer + PREAMBLE_LEN, 0x16, 5);
	assert_int_equal(preamble_decode(longer, sizeof longer, &back), PREAMBLE_LEN);
}

static void refusals(void **state)
{
	struct preamble p = sample(PREAMBLE_CALLER), back;
	uint8_t good[PREAMBLE_LEN], bad[PREAMBLE_LEN];
	static const uint8_t tls[] = {0x16, 0x03, 0x01};

	(void)state;
	preamble_encode(&p, good);
	/* A TLS ClientHello is refused at its first byte. */
	assert_int_equal(preamble_decode(tls, sizeof tls, &back), INSEL_E_MALFORMED);
	/* Each fixed byte wrong, whole or as a prefix. */
	for (size_t i = 0; i < 8; i++) {
		memcpy(bad, good, sizeof bad);
		bad[i] ^= 0x40;
		assert_int_equal(preamble_decode(bad, sizeof bad, &back), INSEL_E_MALFORMED);
		assert_int_equal(preamble_decode(bad, i + 1, &back), INSEL_E_MALFORMED);
	}
	memcpy(bad, good, sizeof bad);
	bad[5] = 3;  /* no such end */
	assert_int_equal(preamble_decode(bad, sizeof bad, &back), INSEL_E_MALFORMED);
	memcpy(bad, good, sizeof bad);
	memset(bad + 8, 0, 8);  /* call id 0 */
	assert_int_equal(preamble_decode(bad, sizeof bad, &back), INSEL_E_MALFORMED);
}

static void tokens(void **state)
{
	struct preamble a = sample(PREAMBLE_CALLER), b = a;
	char hex[PREAMBLE_TOKEN_HEX + 1];
	uint8_t back[PREAMBLE_TOKEN_LEN];

	(void)state;
	assert_true(preamble_token_equal(a.token, b.token));
	b.token[PREAMBLE_TOKEN_LEN - 1] ^= 1;
	assert_false(preamble_token_equal(a.token, b.token));
	preamble_token_hex(a.token, hex);
	assert_string_equal(hex, "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
	assert_int_equal(preamble_token_parse(hex, back), 0);
	assert_memory_equal(back, a.token, PREAMBLE_TOKEN_LEN);
	assert_int_equal(preamble_token_parse("a0a1", back), INSEL_E_BAD_FIELD);
	assert_int_equal(preamble_token_parse("zz a2a3a4a5a6a7a8a9aaabacadaeaf", back),
			 INSEL_E_BAD_FIELD);
	assert_int_equal(preamble_token_parse(NULL, back), INSEL_E_BAD_FIELD);
	assert_string_equal(preamble_end_name(PREAMBLE_CALLEE), "callee");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip), cmocka_unit_test(layout),
		cmocka_unit_test(prefixes), cmocka_unit_test(refusals),
		cmocka_unit_test(tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
