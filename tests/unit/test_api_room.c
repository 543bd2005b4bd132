/* Unit tests for the principal's room op (principal/api_room.c) against a temporary
 * directory, its password work run inline: a room created by a user is administered by
 * it, with a hash at the configured cost; joins answer the room address or the room's
 * own codes (room_password, room_full, room_banned, unknown_room); only the administrator
 * kicks, bans and deletes (not_room_admin); a secondary acts only for users of LANs it
 * serves; a user's wrong guesses at a room back off (busy) without holding up another;
 * IPv6 rooms' rules (network6 sizes and overlaps, a member's host6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api_peer_fixture.h"
#include "db_scratch.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "db_rooms.h"
#include "err.h"
#include "msg.h"
#include "passwd.h"
#include "room_ops.h"

#define NOW 1700000000
#define ITERATIONS 1000u

static int64_t fake_now(void)
{
	return NOW;
}

static uint64_t fake_ms = 5000000;
static uint64_t fake_clock_ms(void)
{
	return fake_ms;
}

struct fixture {
	char dir[DB_SCRATCH_DIR_LEN], path[DB_SCRATCH_PATH_LEN];
	struct api_server srv;
	struct api_peer peer;
	json_t *reply;
};

static void inline_runner(struct api_server *s, struct api_verify *v)
{
	(void)s;
	api_verify_compute(v);
	api_verify_finish(v);
}

static void add_site(struct fixture *f, const char *gw, const char *lan, const char *prefix,
		     const char *user)
{
	char hash[PASSWD_HASH_STRLEN];
	struct ip_prefix p;

	assert_int_equal(ip_prefix_parse(prefix, true, &p), 0);
	assert_int_equal(db_secondary_add(f->srv.db, gw, NULL, NOW), 0);
	assert_int_equal(db_lan_add(f->srv.db, lan, &p, 1, gw, NOW), 0);
	assert_int_equal(passwd_hash("pw", ITERATIONS, hash, sizeof hash), 0);
	assert_int_equal(db_user_add(f->srv.db, user, lan, hash, NOW), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	db_scratch_open(f->dir, f->path, "api-room", &f->srv.db);
	add_site(f, "gw-a", "lan-a", "10.1.0.0/24", "alice");
	add_site(f, "gw-b", "lan-b", "10.2.0.0/24", "bob");
	f->srv.run_verify = inline_runner;
	f->srv.now = fake_now;
	f->srv.clock_ms = fake_clock_ms;
	assert_int_equal(api_auth_init(&f->srv, ITERATIONS), 0);
	api_test_peer(&f->peer, &f->srv, PKI_ROLE_SECONDARY, NULL, &f->reply);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	json_decref(f->reply);
	api_auth_free(&f->srv);
	db_scratch_remove(f->dir, f->path, f->srv.db);
	free(f);
	return 0;
}

/* Sends one room request as gateway gw; returns the reply's error code, or "ok". */
static const char *ask(struct fixture *f, const char *gw, const char *json)
{
	json_t *msg = json_loads(json, 0, NULL);
	const char *code, *message;

	assert_non_null(msg);
	snprintf(f->peer.id.name, sizeof f->peer.id.name, "%s", gw);
	json_object_set_new(msg, "op", json_string("room"));
	json_object_set_new(msg, "id", json_integer(1));
	api_handle(&f->peer, msg, 0);
	json_decref(msg);
	assert_non_null(f->reply);
	return msg_reply_is_ok(f->reply, &code, &message) ? "ok" : code;
}

#define ALICE ",\"user\":\"alice@lan-a\",\"host\":\"10.1.0.5\"}"
#define BOB ",\"user\":\"bob@lan-b\",\"host\":\"10.2.0.7\"}"

static void test_create_join_admin(void **state)
{
	struct fixture *f = *state;
	char hash[PASSWD_HASH_STRLEN];

	assert_string_equal(ask(f, "gw-a", "{\"action\":\"create\",\"room\":\"games\","
				"\"password\":\"sesame\",\"network\":\"172.30.0.0/30\"" ALICE), "ok");
	assert_true(db_room_is_admin(f->srv.db, "games", "alice@lan-a"));
	assert_int_equal(db_room_hash(f->srv.db, "games", hash, sizeof hash), 0);
	assert_non_null(strstr(hash, "pbkdf2-sha256$1000$"));
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"join\",\"room\":\"games\","
				"\"password\":\"sesame\"" ALICE), "ok");
	assert_string_equal(json_string_value(json_object_get(json_object_get(f->reply, "member"),
							      "address")), "172.30.0.1");
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"join\",\"room\":\"games\","
				"\"password\":\"nope\"" BOB), "room_password");
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"join\",\"room\":\"nosuch\","
				"\"password\":\"sesame\"" BOB), "unknown_room");
	/* gw-a speaks for lan-a only. */
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"join\",\"room\":\"games\","
				"\"password\":\"sesame\"" BOB), "forbidden");
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"join\",\"room\":\"games\","
				"\"password\":\"sesame\"" BOB), "ok");
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"list\"" BOB), "ok");
	assert_int_equal(json_array_size(json_object_get(json_array_get(
		json_object_get(f->reply, "rooms"), 0), "members")), 2);
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"kick\",\"room\":\"games\","
				"\"target\":\"alice@lan-a\"" BOB), "not_room_admin");
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"delete\",\"room\":\"games\"" BOB),
			    "not_room_admin");
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"ban\",\"room\":\"games\","
				"\"target\":\"bob@lan-b\"" ALICE), "ok");
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"join\",\"room\":\"games\","
				"\"password\":\"sesame\"" BOB), "room_banned");
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"unban\",\"room\":\"games\","
				"\"target\":\"bob@lan-b\"" ALICE), "ok");
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"join\",\"room\":\"games\","
				"\"password\":\"sesame\"" BOB), "ok");
	/* A /30 holds two: a second host of bob's finds it full. */
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"join\",\"room\":\"games\","
				"\"password\":\"sesame\",\"user\":\"bob@lan-b\","
				"\"host\":\"10.2.0.8\"}"), "room_full");
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"leave\",\"room\":\"games\"" BOB), "ok");
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"leave\",\"room\":\"games\"" BOB),
			    "unknown_room");
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"delete\",\"room\":\"games\"" ALICE),
			    "ok");
	assert_int_equal(db_room_hash(f->srv.db, "games", hash, sizeof hash), INSEL_E_NOT_FOUND);
}

static void test_guessing_backs_off(void **state)
{
	struct fixture *f = *state;
	int wrong = 0;

	assert_string_equal(ask(f, "gw-a", "{\"action\":\"create\",\"room\":\"games\","
				"\"password\":\"sesame\",\"network\":\"172.30.0.0/24\"" ALICE), "ok");
	while (wrong < 20 && strcmp(ask(f, "gw-b", "{\"action\":\"join\",\"room\":\"games\","
					"\"password\":\"guess\"" BOB), "room_password") == 0)
		wrong++;
	assert_true(wrong >= 5 && wrong < 20);
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"join\",\"room\":\"games\","
				"\"password\":\"sesame\"" BOB), "busy");
	/* Another user is not held up by bob's guesses. */
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"join\",\"room\":\"games\","
				"\"password\":\"sesame\"" ALICE), "ok");
	fake_ms += 31000;
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"join\",\"room\":\"games\","
				"\"password\":\"sesame\"" BOB), "ok");
}

/* A room of 1,500 members lists as many as fit one reply, says how many there are, and
 * still passes the codec's check (before: a reply past the frame limit, never sent). */
static void test_big_room_list_fits(void **state)
{
	struct fixture *f = *state;
	char hash[PASSWD_HASH_STRLEN], user[32], why[ROOM_WHY_LEN];
	struct ip_prefix net;
	struct db_room_new r = {.name = "hall", .network = &net, .hash = hash,
				.admin = "alice@lan-a", .capacity = 4000, .by = "operator"};
	const json_t *room;
	char *text;

	assert_int_equal(passwd_hash("pw", ITERATIONS, hash, sizeof hash), 0);
	assert_int_equal(ip_prefix_parse("172.31.0.0/20", true, &net), 0);
	assert_int_equal(db_room_add(f->srv.db, &r, NOW), 0);
	assert_int_equal(db_room_join(f->srv.db, "hall", "alice@lan-a", "10.1.0.5", NULL, "operator",
				      NOW, NULL), 0);
	/* 16 members a site (the room addresses a leg carries of one site), 94 sites. */
	for (int i = 0; i < 1499; i++) {
		char lan[16], prefix[24], host[24];

		snprintf(lan, sizeof lan, "site-%03d", i / 16);
		if (i % 16 == 0) {
			struct ip_prefix p;

			snprintf(prefix, sizeof prefix, "10.100.%d.0/24", i / 16);
			assert_int_equal(ip_prefix_parse(prefix, true, &p), 0);
			assert_int_equal(db_lan_add(f->srv.db, lan, &p, 1, NULL, NOW), 0);
		}
		snprintf(user, sizeof user, "member-%04d", i);
		assert_int_equal(db_user_add(f->srv.db, user, lan, hash, NOW), 0);
		snprintf(user, sizeof user, "member-%04d@%s", i, lan);
		snprintf(host, sizeof host, "10.100.%d.%d", i / 16, i % 16 + 1);
		assert_int_equal(db_room_join(f->srv.db, "hall", user, host, NULL, "operator",
					      NOW, NULL), 0);
	}
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"list\"" ALICE), "ok");
	text = json_dumps(f->reply, JSON_COMPACT);
	assert_true(strlen(text) <= 32 * 1024);
	free(text);
	room = json_array_get(json_object_get(f->reply, "rooms"), 0);
	assert_int_equal(json_integer_value(json_object_get(room, "members_total")), 1500);
	assert_true(json_array_size(json_object_get(room, "members")) > 100);
	assert_true(json_array_size(json_object_get(room, "members")) < 1500);
	assert_int_equal(room_reply_check(f->reply, ROOM_LIST, why), 0);
}

/* IPv6 rooms: a network6 too small for the IPv4 one's host numbers, or over a LAN's IPv6
 * prefix, is refused; a join's host6 off the user's LAN is forbidden; one on it is kept
 * and the member's address6 is the room's network6 plus the same host number, which the
 * gateway's notice carries with host6 (to its own LAN only); a member with no host6 has
 * no address6 in the notices (no leg carries it). */
static void test_ipv6_room(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix p6;
	json_t *notice = NULL, *m;

	assert_int_equal(ip_prefix_parse("fd01::/64", true, &p6), 0);
	assert_int_equal(db_lan_add_prefix(f->srv.db, "lan-a", &p6), 0);
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"create\",\"room\":\"v6\","
				"\"password\":\"sesame\",\"network\":\"172.30.0.0/16\","
				"\"network6\":\"fd30::/120\"" ALICE), "bad_field");
	assert_non_null(strstr(json_string_value(json_object_get(
		json_object_get(f->reply, "error"), "message")), "use /112 or shorter"));
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"create\",\"room\":\"v6\","
				"\"password\":\"sesame\",\"network\":\"172.30.0.0/24\","
				"\"network6\":\"fd01::/64\"" ALICE), "conflict");
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"create\",\"room\":\"v6\","
				"\"password\":\"sesame\",\"network\":\"172.30.0.0/24\","
				"\"network6\":\"fd30::/64\"" ALICE), "ok");
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"join\",\"room\":\"v6\","
				"\"password\":\"sesame\",\"host6\":\"fd02::5\"" ALICE), "forbidden");
	assert_string_equal(ask(f, "gw-a", "{\"action\":\"join\",\"room\":\"v6\","
				"\"password\":\"sesame\",\"host6\":\"fd01::5\"" ALICE), "ok");
	m = json_object_get(f->reply, "member");
	assert_string_equal(json_string_value(json_object_get(m, "address")), "172.30.0.1");
	assert_string_equal(json_string_value(json_object_get(m, "address6")), "fd30::1");
	assert_null(json_object_get(m, "host6"));  /* the gateway's business, not the user's */
	assert_string_equal(ask(f, "gw-b", "{\"action\":\"join\",\"room\":\"v6\","
				"\"password\":\"sesame\"" BOB), "ok");
	assert_int_equal(db_room_gateway_notice(f->srv.db, "gw-a", &notice), 0);
	/* bob said no IPv6 address: no leg carries his address6. */
	assert_null(json_object_get(json_array_get(json_object_get(json_array_get(
		json_object_get(notice, "rooms"), 0), "members"), 1), "address6"));
	m = json_array_get(json_object_get(json_array_get(json_object_get(notice, "rooms"), 0),
					   "members"), 0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(notice, "rooms"), 0), "network6")), "fd30::/64");
	assert_string_equal(json_string_value(json_object_get(m, "address6")), "fd30::1");
	assert_string_equal(json_string_value(json_object_get(m, "host6")), "fd01::5");
	json_decref(notice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_join_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guessing_backs_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_room_list_fits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_room, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
