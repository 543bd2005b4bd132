/* Unit tests for the codecs that carry link measurements (docs/routing.md): the
 * auxiliary's "measure" notice to its secondary (aux_report.h) and the principal's
 * `links` op (principal_ops.h): round trips, the exact wire form, and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aux_report.h"
#include "err.h"
#include "json_assert.h"
#include "msg.h"
#include "principal_ops.h"

static void measure_round_trip(void **state)
{
	struct aux_measure_notice m = {.relayed = true, .rtt_ms = 42, .probes = 5, .replies = 3};
	struct aux_notice back;
	char why[160];
	json_t *j = aux_measure_to_json(&m);

	(void)state;
	assert_json(j, "{\"op\":\"measure\",\"kind\":\"relayed\",\"rtt_ms\":42,\"probes\":5,"
		    "\"replies\":3}");
	assert_int_equal(aux_notice_from_json(j, &back, why, sizeof why), 0);
	assert_int_equal(back.kind, AUX_NOTICE_MEASURE);
	assert_true(back.measure.relayed && !back.measure.tcp);
	assert_int_equal(back.measure.rtt_ms, 42);
	assert_int_equal(back.measure.probes, 5);
	assert_int_equal(back.measure.replies, 3);
	json_decref(j);
}

static void measure_refusals(void **state)
{
	static const char *const bad[] = {
		"{\"op\":\"measure\",\"kind\":\"direct\",\"rtt_ms\":1,\"probes\":2,\"replies\":3}",
		"{\"op\":\"measure\",\"kind\":\"smoke\",\"rtt_ms\":1,\"probes\":2,\"replies\":1}",
		"{\"op\":\"measure\",\"kind\":\"direct\",\"rtt_ms\":-1,\"probes\":2,\"replies\":1}",
		"{\"op\":\"measure\",\"kind\":\"direct\",\"rtt_ms\":1,\"probes\":200000,\"replies\":1}",
		"{\"op\":\"measure\",\"kind\":\"direct\",\"probes\":2,\"replies\":1}",
	};
	struct aux_notice back;
	char why[160];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = parse(bad[i]);

		why[0] = '\0';
		assert_int_equal(aux_notice_from_json(j, &back, why, sizeof why),
				 INSEL_E_BAD_FIELD);
		assert_int_equal(back.kind, AUX_NOTICE_MEASURE);
		assert_true(why[0] != '\0');
		json_decref(j);
	}
}

static void links_round_trip(void **state)
{
	static struct pop_links_req req, back;
	struct pop_links_reply rep = {.recorded = 2}, rep_back;
	char why[POP_WHY_LEN];
	json_t *j;

	(void)state;
	req.nlinks = 2;
	req.links[0] = (struct pop_link){.peer = "sec-b", .kind = POP_LINK_DIRECT, .rtt_ms = 12,
					 .loss_ppm = 0, .probes = 30, .age_ms = 800};
	req.links[1] = (struct pop_link){.peer = "sec-c", .kind = POP_LINK_TCP, .rtt_ms = 40,
					 .loss_ppm = 33333, .probes = 30, .age_ms = 1200};
	j = pop_links_req_encode(7, &req);
	assert_json(j, "{\"op\":\"links\",\"id\":7,\"links\":["
		    "{\"peer\":\"sec-b\",\"kind\":\"direct\",\"rtt_ms\":12,\"loss_ppm\":0,"
		    "\"probes\":30,\"age_ms\":800},"
		    "{\"peer\":\"sec-c\",\"kind\":\"tcp\",\"rtt_ms\":40,\"loss_ppm\":33333,"
		    "\"probes\":30,\"age_ms\":1200}]}");
	assert_int_equal(pop_links_req_decode(j, &back, why), 0);
	assert_int_equal(back.nlinks, 2);
	assert_memory_equal(&back.links[0], &req.links[0], sizeof req.links[0]);
	assert_memory_equal(&back.links[1], &req.links[1], sizeof req.links[1]);
	json_decref(j);

	/* An empty report is one: the secondary talks to nobody now. */
	req.nlinks = 0;
	j = pop_links_req_encode(8, &req);
	assert_int_equal(pop_links_req_decode(j, &back, why), 0);
	assert_int_equal(back.nlinks, 0);
	json_decref(j);

	j = pop_links_reply_encode(&rep);
	assert_json(j, "{\"links\":2}");
	assert_int_equal(pop_links_reply_decode(j, &rep_back, why), 0);
	assert_int_equal(rep_back.recorded, 2);
	json_decref(j);
}

static void links_refusals(void **state)
{
	static const char *const bad[] = {
		"{\"op\":\"links\",\"id\":1}",
		"{\"op\":\"links\",\"id\":1,\"links\":[1]}",
		"{\"op\":\"links\",\"id\":1,\"links\":[{\"peer\":\"Not A Name\",\"kind\":\"direct\","
		"\"rtt_ms\":1,\"loss_ppm\":0,\"probes\":1,\"age_ms\":0}]}",
		"{\"op\":\"links\",\"id\":1,\"links\":[{\"peer\":\"b\",\"kind\":\"carrier-pigeon\","
		"\"rtt_ms\":1,\"loss_ppm\":0,\"probes\":1,\"age_ms\":0}]}",
		"{\"op\":\"links\",\"id\":1,\"links\":[{\"peer\":\"b\",\"kind\":\"direct\","
		"\"rtt_ms\":1,\"loss_ppm\":1000001,\"probes\":1,\"age_ms\":0}]}",
		"{\"op\":\"links\",\"id\":1,\"links\":[{\"peer\":\"b\",\"kind\":\"direct\","
		"\"rtt_ms\":600001,\"loss_ppm\":0,\"probes\":1,\"age_ms\":0}]}",
		"{\"op\":\"links\",\"id\":1,\"links\":[{\"peer\":\"b\",\"kind\":\"direct\","
		"\"rtt_ms\":1,\"loss_ppm\":0,\"probes\":1,\"age_ms\":0},{\"peer\":\"b\","
		"\"kind\":\"direct\",\"rtt_ms\":1,\"loss_ppm\":0,\"probes\":1,\"age_ms\":0}]}",
	};
	static struct pop_links_req back;
	char why[POP_WHY_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = parse(bad[i]);

		why[0] = '\0';
		assert_int_equal(pop_links_req_decode(j, &back, why), INSEL_E_BAD_FIELD);
		assert_true(why[0] != '\0');
		json_decref(j);
	}
}

/* More than POP_MAX_LINKS peers is refused: a report stays bounded. */
static void links_bounded(void **state)
{
	static struct pop_links_req back;
	json_t *req = msg_request("links", 1), *arr = json_array();
	char why[POP_WHY_LEN], name[32];

	(void)state;
	for (int i = 0; i <= POP_MAX_LINKS; i++) {
		snprintf(name, sizeof name, "gw-%d", i);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:i, s:i, s:i}", "peer", name,
						     "kind", "direct", "rtt_ms", 1, "loss_ppm", 0,
						     "probes", 1, "age_ms", 0));
	}
	json_object_set_new(req, "links", arr);
	assert_int_equal(pop_links_req_decode(req, &back, why), INSEL_E_BAD_FIELD);
	json_array_remove(arr, 0);
	assert_int_equal(pop_links_req_decode(req, &back, why), 0);
	assert_int_equal(back.nlinks, POP_MAX_LINKS);
	json_decref(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(measure_round_trip),
		cmocka_unit_test(measure_refusals),
		cmocka_unit_test(links_round_trip),
		cmocka_unit_test(links_refusals),
		cmocka_unit_test(links_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
