/* Unit tests for live call rates: the `call_rates` codec (common/control/principal_ops_rates.c)
 * round trip and its refusals, and the principal's table (principal/call_rates.c): no rate
 * before a second report, bytes per second over the interval between two, reports of
 * another secondary ignored, an idle call at 0, entries gone at the call's end or when
 * nothing was heard of them for a minute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_rates.h"
#include "principal_ops.h"

#define ID_A "00000000000000a1"
#define ID_B "00000000000000b2"

static void codec_round_trip(void **state)
{
	static struct pop_call_rates_req req, back;
	struct pop_call_rates_reply reply = {3}, reply_back;
	char why[POP_WHY_LEN];
	json_t *j;

	(void)state;
	req.ncalls = 2;
	req.calls[0] = (struct pop_call_count){ID_A, 1000, 200, 5000};
	req.calls[1] = (struct pop_call_count){ID_B, 0, (uint64_t)1 << 40, 7};
	j = pop_call_rates_req_encode(9, &req);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "op")), "call_rates");
	assert_int_equal(pop_call_rates_req_decode(j, &back, why), 0);
	assert_int_equal(back.ncalls, 2);
	assert_string_equal(back.calls[0].call_id, ID_A);
	assert_true(back.calls[0].bytes_up == 1000 && back.calls[0].bytes_down == 200 &&
		    back.calls[0].at_ms == 5000);
	assert_true(back.calls[1].bytes_down == (uint64_t)1 << 40);
	json_decref(j);
	j = pop_call_rates_reply_encode(&reply);
	assert_int_equal(pop_call_rates_reply_decode(j, &reply_back, why), 0);
	assert_int_equal(reply_back.taken, 3);
	json_decref(j);
}

static int decode_text(const char *text, char why[POP_WHY_LEN])
{
	static struct pop_call_rates_req out;
	json_t *j = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(j);
	why[0] = '\0';
	rc = pop_call_rates_req_decode(j, &out, why);
	json_decref(j);
	return rc;
}

static void codec_refusals(void **state)
{
	char why[POP_WHY_LEN], *many;
	size_t len = 0;
	int i;

	(void)state;
	assert_int_not_equal(decode_text("{\"calls\":[{\"call_id\":\"00000000000000A1\","
					 "\"bytes_up\":1,\"bytes_down\":1,\"at_ms\":1}]}", why), 0);
	assert_non_null(strstr(why, "call_id"));
	assert_int_not_equal(decode_text("{\"calls\":[{\"call_id\":\"" ID_A "\",\"bytes_up\":-1,"
					 "\"bytes_down\":1,\"at_ms\":1}]}", why), 0);
	assert_int_not_equal(decode_text("{\"calls\":[{\"call_id\":\"" ID_A "\",\"bytes_up\":1,"
					 "\"bytes_down\":1}]}", why), 0);
	assert_int_not_equal(decode_text("{\"calls\":[{\"call_id\":\"" ID_A "\",\"bytes_up\":1,"
					 "\"bytes_down\":1,\"at_ms\":1},{\"call_id\":\"" ID_A
					 "\",\"bytes_up\":2,\"bytes_down\":2,\"at_ms\":2}]}", why),
			 0);
	assert_non_null(strstr(why, "twice"));
	assert_int_not_equal(decode_text("{\"calls\":[3]}", why), 0);
	assert_int_not_equal(decode_text("{}", why), 0);
	/* One more call than a report may hold. */
	many = malloc(200 * (POP_MAX_CALL_RATES + 2));
	assert_non_null(many);
	len += (size_t)sprintf(many, "{\"calls\":[");
	for (i = 0; i <= POP_MAX_CALL_RATES; i++)
		len += (size_t)sprintf(many + len, "%s{\"call_id\":\"%016x\",\"bytes_up\":1,"
				       "\"bytes_down\":1,\"at_ms\":1}", i ? "," : "", i);
	sprintf(many + len, "]}");
	assert_int_not_equal(decode_text(many, why), 0);
	free(many);
	assert_int_equal(decode_text("{\"calls\":[]}", why), 0);
}

/* call_event: the record of a call placed, or refused before it came up. */
static void call_event_codec(void **state)
{
	struct pop_call_event_req req = {"refused", ID_A, "alice@lan-a", "dave@lan-b",
					 "not_listening"}, back;
	char why[POP_WHY_LEN];
	json_t *j = pop_call_event_req_encode(4, &req);

	(void)state;
	assert_int_equal(pop_call_event_req_decode(j, &back, why), 0);
	assert_string_equal(back.event, "refused");
	assert_string_equal(back.reason, "not_listening");
	assert_string_equal(back.callee, "dave@lan-b");
	json_object_del(j, "reason");  /* refused needs its reason */
	assert_int_not_equal(pop_call_event_req_decode(j, &back, why), 0);
	json_object_set_new(j, "event", json_string("placed"));
	assert_int_equal(pop_call_event_req_decode(j, &back, why), 0);
	assert_null(back.reason);
	json_object_set_new(j, "reason", json_string("hangup"));  /* placed has none */
	assert_int_not_equal(pop_call_event_req_decode(j, &back, why), 0);
	json_object_set_new(j, "event", json_string("refused"));
	json_object_set_new(j, "reason", json_string("Not Listening"));
	assert_int_not_equal(pop_call_event_req_decode(j, &back, why), 0);
	json_object_set_new(j, "reason", json_string("declined"));
	json_object_set_new(j, "event", json_string("answered"));
	assert_int_not_equal(pop_call_event_req_decode(j, &back, why), 0);
	json_object_set_new(j, "event", json_string("refused"));
	json_object_set_new(j, "call_id", json_string("xyz"));
	assert_int_not_equal(pop_call_event_req_decode(j, &back, why), 0);
	json_decref(j);
}

static void report(struct call_rates *t, const char *sec, const char *id, uint64_t up,
		   uint64_t down, uint64_t at_ms, uint64_t now_ms, bool taken)
{
	struct pop_call_count c = {"", up, down, at_ms};

	snprintf(c.call_id, sizeof c.call_id, "%s", id);
	assert_int_equal(call_rates_report(t, sec, &c, now_ms), taken);
}

static void rates_over_the_last_interval(void **state)
{
	struct call_rates *t = call_rates_new();
	struct web_rate out[4];

	(void)state;
	assert_non_null(t);
	report(t, "gw-a", ID_A, 1000, 100, 10000, 500000, true);
	assert_int_equal(call_rates_fill(t, 500000, out, 4), 0);  /* one report: no rate */
	report(t, "gw-a", ID_A, 5000, 2100, 12000, 502000, true);
	report(t, "gw-b", ID_A, 9999999, 9999999, 13000, 502000, false);  /* not its call */
	report(t, "gw-a", ID_A, 6000, 2200, 12000, 502000, false);  /* not newer */
	assert_true(call_rates_has(t, ID_A, "gw-a"));
	assert_false(call_rates_has(t, ID_A, "gw-b"));
	assert_int_equal(call_rates_fill(t, 503000, out, 4), 1);
	assert_string_equal(out[0].call_id, ID_A);
	assert_true(out[0].up == 2000.0 && out[0].down == 1000.0);
	/* Nothing heard for a while: the counters stopped moving. */
	assert_int_equal(call_rates_fill(t, 502000 + CALL_RATES_STALE_MS, out, 4), 1);
	assert_true(out[0].up == 0 && out[0].down == 0);
	/* Counters that go back start again. */
	report(t, "gw-a", ID_A, 10, 10, 14000, 504000, true);
	assert_int_equal(call_rates_fill(t, 504000, out, 4), 0);
	report(t, "gw-b", ID_B, 1, 1, 1, 504000, true);
	assert_int_equal(call_rates_count(t), 2);
	call_rates_forget(t, ID_A);
	assert_int_equal(call_rates_count(t), 1);
	assert_false(call_rates_has(t, ID_A, "gw-a"));
	/* Never heard of again (a secondary gone without ending it): forgotten. */
	call_rates_fill(t, 504000 + CALL_RATES_FORGET_MS, out, 4);
	assert_int_equal(call_rates_count(t), 0);
	call_rates_free(t);
}

static void bounded(void **state)
{
	struct call_rates *t = call_rates_new();
	char id[POP_CALL_ID_LEN + 1];

	(void)state;
	for (unsigned i = 0; i < CALL_RATES_MAX; i++) {
		snprintf(id, sizeof id, "%016x", i);
		report(t, "gw-a", id, 1, 1, 1, 1000, true);
	}
	report(t, "gw-a", "ffffffffffffffff", 1, 1, 1, 1000, false);
	assert_int_equal(call_rates_count(t), CALL_RATES_MAX);
	call_rates_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(codec_round_trip),
		cmocka_unit_test(codec_refusals),
		cmocka_unit_test(rates_over_the_last_interval),
		cmocka_unit_test(bounded),
		cmocka_unit_test(call_event_codec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
