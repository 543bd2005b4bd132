/* Unit tests for the room request's codec (common/control/room_ops.c): round trips of
 * every action on both hops, the refusals of each field (names, networks, capacity,
 * passwords, users), a client that says who it is, and the reply checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "room_ops.h"

static int decode_text(const char *text, bool from_secondary, struct room_req *r,
		       char why[ROOM_WHY_LEN])
{
	json_t *j = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(j);
	rc = room_req_decode(j, from_secondary, r, why);
	json_decref(j);
	return rc;
}

static void test_round_trip(void **state)
{
	struct room_req r = {0}, back;
	char why[ROOM_WHY_LEN];
	json_t *j;

	(void)state;
	r.action = ROOM_CREATE;
	r.room = "games";
	r.password = "sesame";
	assert_int_equal(ip_prefix_parse("172.30.0.0/24", true, &r.network), 0);
	r.has_network6 = true;
	assert_int_equal(ip_prefix_parse("fd30::/64", true, &r.network6), 0);
	r.capacity = 8;
	r.user = "alice@lan-a";
	r.has_host = true;
	assert_int_equal(ip_addr_parse("10.1.0.5", &r.host), 0);
	j = room_req_encode(7, &r);
	assert_int_equal(room_req_decode(j, true, &back, why), 0);
	assert_int_equal(back.action, ROOM_CREATE);
	assert_string_equal(back.room, "games");
	assert_string_equal(back.password, "sesame");
	assert_int_equal(back.network.len, 24);
	assert_true(back.has_network6);
	assert_int_equal(back.capacity, 8);
	assert_string_equal(back.user, "alice@lan-a");
	assert_true(ip_addr_equal(&back.host, &r.host));
	/* The same request from a client, naming who it is, is refused. */
	assert_int_equal(room_req_decode(j, false, &back, why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "does not say who it is"));
	json_decref(j);
	/* A join's IPv6 address of the host, which a client may say. */
	r = (struct room_req){.action = ROOM_JOIN, .room = "games", .password = "sesame",
			      .has_host6 = true};
	assert_int_equal(ip_addr_parse("fd01::11", &r.host6), 0);
	j = room_req_encode(8, &r);
	assert_int_equal(room_req_decode(j, false, &back, why), 0);
	assert_true(back.has_host6);
	assert_true(ip_addr_equal(&back.host6, &r.host6));
	json_decref(j);
	for (unsigned a = 0; a < ROOM_ACTIONS; a++) {
		enum room_action x;

		assert_true(room_action_of(room_action_name((enum room_action)a), &x));
		assert_int_equal(x, a);
	}
}

static void test_refusals(void **state)
{
	static const struct {
		const char *json;
		const char *why;
	} bad[] = {
		{"{\"action\":\"dance\",\"room\":\"games\"}", "field 'action'"},
		{"{\"action\":\"join\",\"room\":\"games\"}", "password"},
		{"{\"action\":\"join\",\"room\":\"Games\",\"password\":\"x\"}", "'Games'"},
		{"{\"action\":\"join\",\"room\":\"averyveryverylongname\",\"password\":\"x\"}",
		 "invalid room name"},
		{"{\"action\":\"join\",\"room\":\"a\\u0001b\",\"password\":\"x\"}", "'a\\x01b'"},
		{"{\"action\":\"leave\",\"room\":\"../etc\"}", "invalid room name"},
		{"{\"action\":\"join\",\"room\":\"games\",\"password\":\"\"}", "password"},
		{"{\"action\":\"create\",\"room\":\"g\",\"password\":\"x\"}", "network"},
		{"{\"action\":\"create\",\"room\":\"g\",\"password\":\"x\",\"network\":\"10.0.0.1/24\"}",
		 "no host bits"},
		{"{\"action\":\"create\",\"room\":\"g\",\"password\":\"x\",\"network\":\"10.0.0.0/31\"}",
		 "/8 to /30"},
		{"{\"action\":\"create\",\"room\":\"g\",\"password\":\"x\",\"network\":\"fd00::/64\"}",
		 "IPv4"},
		{"{\"action\":\"create\",\"room\":\"g\",\"password\":\"x\",\"network\":\"10.0.0.0/24\","
		 "\"network6\":\"fd00::/40\"}", "IPv6"},
		{"{\"action\":\"create\",\"room\":\"g\",\"password\":\"x\",\"network\":\"10.0.0.0/24\","
		 "\"capacity\":0}", "capacity"},
		{"{\"action\":\"join\",\"room\":\"g\",\"password\":\"x\",\"host6\":\"fe80::1\"}",
		 "not link-local"},
		{"{\"action\":\"join\",\"room\":\"g\",\"password\":\"x\",\"host6\":\"10.1.0.5\"}",
		 "host6"},
		{"{\"action\":\"kick\",\"room\":\"g\"}", "target"},
		{"{\"action\":\"ban\",\"room\":\"g\",\"target\":\"bob\"}", "NAME@LAN"},
	};
	struct room_req r;
	char why[ROOM_WHY_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(decode_text(bad[i].json, false, &r, why), INSEL_E_BAD_FIELD);
		if (!strstr(why, bad[i].why))
			fail_msg("%s: said '%s', wanted '%s'", bad[i].json, why, bad[i].why);
	}
	assert_int_equal(decode_text("{\"action\":\"list\"}", true, &r, why), INSEL_E_BAD_FIELD);
	assert_int_equal(decode_text("{\"action\":\"list\",\"user\":\"a@b\",\"host\":\"x\"}", true,
				     &r, why), INSEL_E_BAD_FIELD);
	assert_int_equal(decode_text("{\"action\":\"list\",\"user\":\"a@b\",\"host\":\"10.0.0.1\"}",
				     true, &r, why), 0);
}

static void test_replies(void **state)
{
	char why[ROOM_WHY_LEN];
	json_t *ok = json_loads("{\"user\":\"a@l\",\"rooms\":[{\"name\":\"g\",\"network\":"
				"\"172.30.0.0/24\",\"capacity\":2,\"members\":[{\"user\":\"a@l\","
				"\"address\":\"172.30.0.1\",\"address6\":null}]}]}", 0, NULL);
	json_t *bad = json_loads("{\"rooms\":[{\"name\":\"g\",\"network\":\"x\",\"capacity\":2,"
				 "\"members\":[{\"user\":7}]}]}", 0, NULL);

	(void)state;
	assert_int_equal(room_reply_check(ok, ROOM_LIST, why), 0);
	assert_int_equal(room_reply_check(bad, ROOM_LIST, why), INSEL_E_BAD_FIELD);
	assert_int_equal(room_reply_check(ok, ROOM_JOIN, why), INSEL_E_BAD_FIELD);
	assert_int_equal(room_reply_check(ok, ROOM_LEAVE, why), 0);
	json_decref(ok);
	json_decref(bad);
}

static void test_quote(void **state)
{
	char q[64];

	(void)state;
	assert_true(room_name_valid("games"));
	assert_false(room_name_valid("abcdefghijklmnop"));
	room_quote("a\001b\\", q, sizeof q);
	assert_string_equal(q, "a\\x01b\\x5c");
	room_quote("abcdefghijklmnopqrstuvwxyz", q, 12);
	assert_string_equal(q, "abcdefgh...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
