/* Unit tests for the principal <-> insel-relay control codec (relay_ops.h): allocate,
 * free and the expired notice round-trip; bad allocation ids, tokens and rates are
 * refused with a sentence and leave the output untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "relay_ops.h"

static void test_allocate_round_trip(void **state)
{
	struct relay_allocate a = {.allocation = 0x0123456789abcdefULL, .rate = 5000}, back;
	char why[200];
	json_t *j;

	for (int i = 0; i < RELAY_OPS_TOKEN_LEN; i++)
		a.token[i] = (uint8_t)(0xf0 + i);
	j = relay_allocate_to_json(3, &a);
	assert_non_null(j);
	assert_string_equal(msg_op(j), "allocate");
	assert_int_equal(msg_id(j), 3);
	assert_string_equal(json_string_value(json_object_get(j, "allocation")),
			    "0123456789abcdef");
	assert_string_equal(json_string_value(json_object_get(j, "token")),
			    "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
	assert_int_equal(relay_allocate_from_json(j, &back, why, sizeof why), 0);
	assert_true(back.allocation == a.allocation && back.rate == 5000);
	assert_memory_equal(back.token, a.token, RELAY_OPS_TOKEN_LEN);
	json_decref(j);
	/* without a rate: none is sent, 0 is read */
	a.rate = 0;
	j = relay_allocate_to_json(4, &a);
	assert_null(json_object_get(j, "rate"));
	assert_int_equal(relay_allocate_from_json(j, &back, why, sizeof why), 0);
	assert_true(back.rate == 0);
	json_decref(j);
}

static void test_free_and_expired(void **state)
{
	uint64_t id = 0;
	char why[200];
	json_t *f = relay_free_to_json(9, 77), *e = relay_expired_to_json(78);

	assert_string_equal(msg_op(f), "free");
	assert_int_equal(relay_allocation_from_json(f, &id, why, sizeof why), 0);
	assert_true(id == 77);
	assert_string_equal(msg_op(e), "expired");
	assert_int_equal(msg_id(e), -1);
	assert_int_equal(relay_allocation_from_json(e, &id, why, sizeof why), 0);
	assert_true(id == 78);
	json_decref(f);
	json_decref(e);
}

static void expect_refused(const char *text, const char *in_why)
{
	struct relay_allocate out;
	json_t *j = json_loads(text, 0, NULL);
	char why[200] = "";

	assert_non_null(j);
	memset(&out, 0x5c, sizeof out);
	assert_int_equal(relay_allocate_from_json(j, &out, why, sizeof why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, in_why));
	for (size_t i = 0; i < sizeof out; i++)
		assert_int_equal(((uint8_t *)&out)[i], 0x5c);
	json_decref(j);
}

#define TOKEN "\"00112233445566778899aabbccddeeff\""

static void test_refusals(void **state)
{
	expect_refused("{\"op\":\"allocate\",\"id\":1,\"token\":" TOKEN "}", "allocation");
	expect_refused("{\"allocation\":\"0000000000000000\",\"token\":" TOKEN "}", "allocation");
	expect_refused("{\"allocation\":\"12345\",\"token\":" TOKEN "}", "allocation");
	expect_refused("{\"allocation\":7,\"token\":" TOKEN "}", "allocation");
	expect_refused("{\"allocation\":\"0000000000000001\"}", "token");
	expect_refused("{\"allocation\":\"0000000000000001\",\"token\":\"0011\"}", "token");
	expect_refused("{\"allocation\":\"0000000000000001\","
		       "\"token\":\"zz112233445566778899aabbccddeeff\"}", "token");
	expect_refused("{\"allocation\":\"0000000000000001\",\"token\":" TOKEN ",\"rate\":0}",
		       "rate");
	expect_refused("{\"allocation\":\"0000000000000001\",\"token\":" TOKEN ",\"rate\":\"1\"}",
		       "rate");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocate_round_trip),
		cmocka_unit_test(test_free_and_expired),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
