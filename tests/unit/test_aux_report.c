/* Unit tests for the auxiliary's notices and traffic totals (aux_report.h): "rekey_due",
 * "ended" and "path" encoded and decoded back, totals summed over started channels (a channel
 * not started is null and counts nothing), replies and other ops recognised as no notice,
 * and every field refused when of the wrong type or out of range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "addr.h"
#include "aux_report.h"
#include "chanparams.h"
#include "err.h"
#include "msg.h"

/* A stats object as the auxiliary builds it: two channels, one not started. */
static json_t *stats_of(json_t *obj)
{
	json_object_set_new(obj, "state", json_string("running"));
	json_object_set_new(obj, "channels", json_pack(
		"[{s:i, s:{s:I, s:I, s:I}}, n]", "send_epoch", 0, "stats", "bytes_in",
		(json_int_t)1000, "bytes_out", (json_int_t)((1LL << 40) + 5), "frames_in",
		(json_int_t)7));
	json_object_set_new(obj, "lan", json_array());
	return obj;
}

static void rekey_due_round_trip(void **state)
{
	struct aux_notice n;
	char why[160];
	json_t *j = aux_rekey_due_to_json(SEC_MAX_CHANNELS - 1);

	assert_int_equal(aux_notice_from_json(j, &n, why, sizeof why), 0);
	assert_int_equal(n.kind, AUX_NOTICE_REKEY_DUE);
	assert_int_equal(n.channel, SEC_MAX_CHANNELS - 1);
	json_decref(j);
}

static void ended_round_trip(void **state)
{
	struct aux_notice n;
	char why[160];
	json_t *j = stats_of(aux_ended_to_json("idle", "no data either way for 5 ms"));

	assert_int_equal(aux_notice_from_json(j, &n, why, sizeof why), 0);
	assert_int_equal(n.kind, AUX_NOTICE_ENDED);
	assert_string_equal(n.reason, "idle");
	assert_string_equal(n.message, "no data either way for 5 ms");
	assert_true(n.traffic.bytes_in == 1000);
	assert_true(n.traffic.bytes_out == (1ULL << 40) + 5);
	json_decref(j);
}

static void traffic_totals(void **state)
{
	struct aux_traffic t;
	char why[160];
	json_t *j = stats_of(msg_reply_ok(3));

	json_array_set_new(json_object_get(j, "channels"), 1,
			   json_pack("{s:{s:i, s:i}}", "stats", "bytes_in", 1, "bytes_out", 2));
	assert_int_equal(aux_traffic_from_json(j, &t, why, sizeof why), 0);
	assert_true(t.bytes_in == 1001);
	assert_true(t.bytes_out == (1ULL << 40) + 7);
	json_decref(j);
	/* Before "start": nothing on the wire yet. */
	j = json_pack("{s:[n, n]}", "channels");
	assert_int_equal(aux_traffic_from_json(j, &t, why, sizeof why), 0);
	assert_true(t.bytes_in == 0 && t.bytes_out == 0);
	json_decref(j);
}

/* A room leg's counters, as `insel rooms` shows them: read from the stats' "tun", drops
 * summed; a missing counter is 0, one that is no count refuses the whole. */
static void room_counters(void **state)
{
	struct aux_room_counters c;
	char why[160];
	json_t *j = json_pack("{s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s}}", "tun",
			      "packets_from_lan", 10, "bytes_from_lan", 1000, "packets_to_lan", 9,
			      "bytes_to_lan", 900, "room_nonmember", 3, "room_cast_limited", 2,
			      "room_broadcast_out", 1, "interface", "games");
	json_t *out = json_object();

	(void)state;
	assert_int_equal(aux_room_counters_from_json(j, &c, why, sizeof why), 0);
	assert_true(c.packets_out == 10 && c.bytes_out == 1000 && c.packets_in == 9 &&
		    c.bytes_in == 900 && c.broadcast_out == 1 && c.multicast_in == 0);
	assert_true(c.drops.nonmember == 3 && c.drops.cast_limited == 2 && c.drops.errors == 0);
	assert_int_equal(aux_room_counters_into(&c, out), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "dropped")), 5);
	assert_int_equal(json_integer_value(json_object_get(out, "packets_in")), 9);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "drops"),
							    "nonmember")), 3);
	json_decref(out);
	json_object_set_new(json_object_get(j, "tun"), "room_no_member", json_integer(-1));
	assert_int_equal(aux_room_counters_from_json(j, &c, why, sizeof why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "room_no_member"));
	json_decref(j);
	j = json_pack("{s:[]}", "channels");  /* not a network call */
	assert_int_equal(aux_room_counters_from_json(j, &c, why, sizeof why), INSEL_E_BAD_FIELD);
	json_decref(j);
}

static void not_notices(void **state)
{
	struct aux_notice n;
	char why[160];
	json_t *j = msg_reply_ok(4);

	assert_int_equal(aux_notice_from_json(j, &n, why, sizeof why), 0);
	assert_int_equal(n.kind, AUX_NOTICE_OTHER);
	json_decref(j);
	j = msg_request("stats", 5);
	assert_int_equal(aux_notice_from_json(j, &n, why, sizeof why), 0);
	assert_int_equal(n.kind, AUX_NOTICE_OTHER);
	json_decref(j);
}

/* Sets key (in the first channel's "stats" with in_stats) of a good "ended" notice to
 * value (NULL: deletes it) and expects a refusal naming what. */
static void expect_ended_refused(bool in_stats, const char *key, json_t *value,
				 const char *what)
{
	struct aux_notice n;
	char why[160] = "";
	json_t *j = stats_of(aux_ended_to_json("peer_dead", "channel 0: nothing")), *obj = j;

	if (in_stats)
		obj = json_object_get(json_array_get(json_object_get(j, "channels"), 0), "stats");
	if (value)
		json_object_set_new(obj, key, value);
	else
		json_object_del(obj, key);
	assert_int_equal(aux_notice_from_json(j, &n, why, sizeof why), INSEL_E_BAD_FIELD);
	assert_int_equal(n.kind, AUX_NOTICE_ENDED);
	if (!strstr(why, what))
		fail_msg("'%s' does not name '%s'", why, what);
	json_decref(j);
}

static void fields_refused(void **state)
{
	struct aux_notice n;
	char why[160] = "";
	json_t *j, *many = json_array();

	expect_ended_refused(false, "reason", NULL, "reason");
	expect_ended_refused(false, "reason", json_integer(1), "reason");
	expect_ended_refused(false, "message", json_null(), "message");
	expect_ended_refused(false, "channels", NULL, "channels");
	expect_ended_refused(false, "channels", json_string("[]"), "channels");
	for (int i = 0; i <= SEC_MAX_CHANNELS; i++)
		json_array_append_new(many, json_null());
	expect_ended_refused(false, "channels", many, "channels");
	expect_ended_refused(false, "channels", json_pack("[i]", 5), "channels[0]");
	expect_ended_refused(false, "channels", json_pack("[{}]"), "stats");
	expect_ended_refused(true, "bytes_in", NULL, "bytes_in");
	expect_ended_refused(true, "bytes_in", json_integer(-1), "bytes_in");
	expect_ended_refused(true, "bytes_out", json_string("5"), "bytes_out");

	j = json_pack("{s:s, s:i}", "op", "rekey_due", "channel", SEC_MAX_CHANNELS);
	assert_int_equal(aux_notice_from_json(j, &n, why, sizeof why), INSEL_E_BAD_FIELD);
	assert_int_equal(n.kind, AUX_NOTICE_REKEY_DUE);
	assert_non_null(strstr(why, "channel"));
	json_decref(j);
	j = json_pack("{s:s}", "op", "rekey_due");
	assert_int_equal(aux_notice_from_json(j, &n, why, sizeof why), INSEL_E_BAD_FIELD);
	json_decref(j);
}

static void path_round_trip(void **state)
{
	struct aux_path_notice in = {.state = AUX_PATH_CHANGED, .relayed = true,
				     .has_endpoints = true, .rtt_ms = 42,
				     .reason = "the direct path stopped answering"};
	struct aux_notice n;
	char why[160];
	json_t *j;

	assert_int_equal(ip_endpoint_parse("198.18.1.2:40001", &in.local), 0);
	assert_int_equal(ip_endpoint_parse("[2001:db8::7]:3479", &in.remote), 0);
	j = aux_path_to_json(&in);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "relayed");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "changed");
	assert_int_equal(aux_notice_from_json(j, &n, why, sizeof why), 0);
	assert_int_equal(n.kind, AUX_NOTICE_PATH);
	assert_int_equal(n.path.state, AUX_PATH_CHANGED);
	assert_true(n.path.relayed && n.path.has_endpoints);
	assert_int_equal(n.path.rtt_ms, 42);
	assert_true(ip_endpoint_equal(&n.path.local, &in.local));
	assert_true(ip_endpoint_equal(&n.path.remote, &in.remote));
	assert_string_equal(n.path.reason, in.reason);
	json_decref(j);
	/* Through the relay's TCP fallback: kind tcp, relayed too. */
	in.tcp = true;
	j = aux_path_to_json(&in);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "tcp");
	assert_int_equal(aux_notice_from_json(j, &n, why, sizeof why), 0);
	assert_true(n.path.tcp && n.path.relayed);
	json_decref(j);
	/* Lost: only what was tried. */
	in = (struct aux_path_notice){.state = AUX_PATH_LOST,
				      .reason = "no candidate answered 9 probes in 10 s"};
	j = aux_path_to_json(&in);
	assert_null(json_object_get(j, "remote"));
	assert_int_equal(aux_notice_from_json(j, &n, why, sizeof why), 0);
	assert_int_equal(n.path.state, AUX_PATH_LOST);
	assert_false(n.path.has_endpoints);
	json_decref(j);
}

static void expect_path_refused(const char *key, json_t *value, const char *words)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "op", "path", "state", "up",
			      "reason", "r", "kind", "direct", "local", "10.0.0.1:1",
			      "remote", "10.0.0.2:2", "rtt_ms", 1);
	struct aux_notice n;
	char why[160];

	if (value)
		json_object_set_new(j, key, value);
	else
		json_object_del(j, key);
	assert_int_equal(aux_notice_from_json(j, &n, why, sizeof why), INSEL_E_BAD_FIELD);
	assert_int_equal(n.kind, AUX_NOTICE_PATH);
	assert_non_null(strstr(why, words));
	json_decref(j);
}

static void path_fields_refused(void **state)
{
	char long_reason[AUX_PATH_REASON_MAX + 2];

	memset(long_reason, 'x', sizeof long_reason - 1);
	long_reason[sizeof long_reason - 1] = 0;
	expect_path_refused("state", json_string("sideways"), "state");
	expect_path_refused("state", NULL, "state");
	expect_path_refused("reason", json_integer(3), "reason");
	expect_path_refused("reason", json_string(long_reason), "reason");
	expect_path_refused("kind", json_string("teleported"), "kind");
	expect_path_refused("kind", NULL, "kind");  /* only "lost" may leave them out */
	expect_path_refused("local", json_string("10.0.0.1"), "local");
	expect_path_refused("remote", json_string("nowhere:1"), "remote");
	expect_path_refused("rtt_ms", json_integer(-1), "rtt_ms");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rekey_due_round_trip),
		cmocka_unit_test(ended_round_trip),
		cmocka_unit_test(traffic_totals),
		cmocka_unit_test(room_counters),
		cmocka_unit_test(not_notices),
		cmocka_unit_test(fields_refused),
		cmocka_unit_test(path_round_trip),
		cmocka_unit_test(path_fields_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
