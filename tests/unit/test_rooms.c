/* Unit tests for rooms in the directory (principal/db_rooms.c) on a temporary SQLite file:
 * the name rule and the quoting of hostile names, the refusals of a room's creation
 * (network, overlaps, capacity, administrator, duplicates), address allocation (skipping
 * the network and broadcast addresses, stable for a user and host, freed on leave, never
 * held twice), capacity, bans, the record of events, and that a refusal changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "db_fixture.h"
#include "db_rooms.h"
#include "err.h"
#include "passwd.h"

#define NOW 1700000000

static void add_lan_and_users(struct fixture *f, const char *lan, const char *prefix,
			      const char *const *users)
{
	struct ip_prefix p = pfx(prefix);

	assert_int_equal(db_lan_add(f->db, lan, &p, 1, NULL, NOW), 0);
	for (size_t i = 0; users[i]; i++)
		assert_int_equal(db_user_add(f->db, users[i], lan, f->hash, NOW), 0);
}

static int setup(void **state)
{
	struct fixture *f = fixture_new("rooms");

	assert_int_equal(passwd_hash("sesame", PASSWD_MIN_ITERATIONS, f->hash, sizeof f->hash), 0);
	add_lan_and_users(f, "lan-a", "10.1.0.0/24", (const char *const[]){"alice", "ann", NULL});
	add_lan_and_users(f, "lan-b", "10.2.0.0/24", (const char *const[]){"bob", NULL});
	add_lan_and_users(f, "lan-c", "10.3.0.0/24", (const char *const[]){"carol", NULL});
	*state = f;
	return 0;
}

/* One integer from the file, read by a connection of its own (as sqlite3 would). */
static long long count(struct fixture *f, const char *sql)
{
	return db_scratch_count(f->path, sql);
}

static int add_room(struct fixture *f, const char *name, const char *net, const char *net6,
		    const char *admin, int64_t capacity)
{
	struct ip_prefix p = pfx(net), p6;

	if (net6)
		p6 = pfx(net6);
	return db_room_add(f->db, &(struct db_room_new){
		.name = name, .network = &p, .network6 = net6 ? &p6 : NULL, .hash = f->hash,
		.admin = admin, .capacity = capacity, .by = "operator"}, NOW);
}

/* Joins and checks the room address given. */
static void join_at(struct fixture *f, const char *room, const char *user, const char *host,
		    const char *want)
{
	json_t *m = NULL;

	assert_int_equal(db_room_join(f->db, room, user, host, NULL, user, NOW, &m), 0);
	assert_string_equal(json_string_value(json_object_get(m, "address")), want);
	json_decref(m);
}

static void test_name_rule(void **state)
{
	char q[64];

	(void)state;
	assert_true(room_name_valid("games"));
	assert_true(room_name_valid("0day_lan-2"));
	assert_true(room_name_valid("abcdefghijklmno"));   /* 15 */
	assert_false(room_name_valid("abcdefghijklmnop")); /* 16 */
	assert_false(room_name_valid(""));
	assert_false(room_name_valid(NULL));
	assert_false(room_name_valid("Games"));
	assert_false(room_name_valid("-games"));
	assert_false(room_name_valid("_games"));
	assert_false(room_name_valid("ga mes"));
	assert_false(room_name_valid("ga.mes"));
	assert_false(room_name_valid("ga/mes"));
	assert_false(room_name_valid("ga\001mes"));
	assert_false(room_name_valid("games\n"));
	room_quote("a\001b\\", q, sizeof q);
	assert_string_equal(q, "a\\x01b\\x5c");
	room_quote("abcdefghijklmnopqrstuvwxyz", q, 12);
	assert_string_equal(q, "abcdefgh...");
}

static void test_add_refusals(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(add_room(f, "games", "172.30.0.0/24", "fd30::/64", "alice@lan-a", 0), 0);
	assert_int_equal(add_room(f, "games", "172.31.0.0/24", NULL, NULL, 0), INSEL_E_EXISTS);
	assert_non_null(strstr(db_errmsg(f->db), "exists already"));
	assert_int_equal(add_room(f, "ga\001mes", "172.31.0.0/24", NULL, NULL, 0),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(db_errmsg(f->db), "ga\\x01mes"));
	assert_int_equal(add_room(f, "averyveryverylongname", "172.31.0.0/24", NULL, NULL, 0),
			 INSEL_E_BAD_FIELD);
	assert_int_equal(add_room(f, "other", "172.30.0.128/25", NULL, NULL, 0),
			 INSEL_E_CONFLICT);
	assert_non_null(strstr(db_errmsg(f->db), "room games"));
	assert_int_equal(add_room(f, "other", "10.0.0.0/8", NULL, NULL, 0), INSEL_E_CONFLICT);
	assert_non_null(strstr(db_errmsg(f->db), "of LAN lan-a"));
	assert_int_equal(add_room(f, "other", "10.2.0.0/25", NULL, NULL, 0), INSEL_E_CONFLICT);
	assert_non_null(strstr(db_errmsg(f->db), "of LAN lan-b"));
	assert_int_equal(add_room(f, "other", "172.31.0.0/24", "fd30:0:0:0:1::/80", NULL, 0),
			 INSEL_E_CONFLICT);
	assert_int_equal(add_room(f, "other", "172.31.0.0/31", NULL, NULL, 0), INSEL_E_BAD_FIELD);
	assert_int_equal(add_room(f, "other", "fd31::/64", NULL, NULL, 0), INSEL_E_BAD_FIELD);
	assert_int_equal(add_room(f, "other", "172.31.0.0/30", NULL, NULL, 3), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(db_errmsg(f->db), "holds 2 members"));
	assert_int_equal(add_room(f, "other", "172.31.0.0/24", NULL, "nobody@lan-a", 0),
			 INSEL_E_NOT_FOUND);
	assert_int_equal(count(f, "SELECT count(*) FROM rooms"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM room_events"), 1);
	assert_true(db_room_is_admin(f->db, "games", "alice@lan-a"));
	assert_false(db_room_is_admin(f->db, "games", "bob@lan-b"));
	/* A /30 holds two members by default. */
	assert_int_equal(add_room(f, "tiny", "172.31.0.0/30", NULL, NULL, 0), 0);
	assert_int_equal(count(f, "SELECT capacity FROM rooms WHERE name = 'tiny'"), 2);
}

static void test_allocation(void **state)
{
	struct fixture *f = *state;
	json_t *m = NULL;

	assert_int_equal(add_room(f, "games", "172.30.0.0/24", "fd30::/64", NULL, 0), 0);
	join_at(f, "games", "alice@lan-a", "10.1.0.5", "172.30.0.1");
	join_at(f, "games", "bob@lan-b", "10.2.0.7", "172.30.0.2");
	join_at(f, "games", "carol@lan-c", "10.3.0.9", "172.30.0.3");
	/* Joining again from the same host: the same address, nothing new recorded. */
	join_at(f, "games", "bob@lan-b", "10.2.0.7", "172.30.0.2");
	assert_int_equal(count(f, "SELECT count(*) FROM room_events WHERE kind = 'join'"), 3);
	/* A second host of the same user is a second member. */
	join_at(f, "games", "alice@lan-a", "10.1.0.6", "172.30.0.4");
	assert_int_equal(db_room_join(f->db, "games", "carol@lan-c", "10.3.0.10", NULL, "x", NOW, &m), 0);
	assert_string_equal(json_string_value(json_object_get(m, "address6")), "fd30::5");
	json_decref(m);
	/* The host must be on the user's LAN. */
	assert_int_equal(db_room_join(f->db, "games", "bob@lan-b", "10.1.0.99", NULL, "x", NOW, NULL),
			 INSEL_E_FORBIDDEN);
	assert_int_equal(db_room_join(f->db, "games", "bob@lan-b", "nonsense", NULL, "x", NOW, NULL),
			 INSEL_E_BAD_FIELD);
	/* Stable: bob and alice leave, bob comes back to his own address, not the lowest. */
	assert_int_equal(db_room_leave(f->db, "games", "bob@lan-b", "10.2.0.7", "leave",
				       "bob@lan-b", NOW), 0);
	assert_int_equal(db_room_leave(f->db, "games", "alice@lan-a", NULL, "leave",
				       "alice@lan-a", NOW), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM room_members"), 2);
	join_at(f, "games", "bob@lan-b", "10.2.0.7", "172.30.0.2");
	/* A newcomer gets the lowest free one. */
	join_at(f, "games", "ann@lan-a", "10.1.0.8", "172.30.0.1");
	/* alice's old address is held: she gets another. */
	join_at(f, "games", "alice@lan-a", "10.1.0.5", "172.30.0.4");
	assert_int_equal(db_room_leave(f->db, "games", "bob@lan-b", NULL, "leave", "bob", NOW), 0);
	assert_int_equal(db_room_leave(f->db, "games", "bob@lan-b", NULL, "leave", "bob", NOW),
			 INSEL_E_NOT_FOUND);
	assert_non_null(strstr(db_errmsg(f->db), "is not in room games"));
	assert_int_equal(count(f, "SELECT count(*) FROM (SELECT slot FROM room_members "
			       "GROUP BY room_id, slot HAVING count(*) > 1) AS dup"), 0);
}

static void test_edges_of_network(void **state)
{
	struct fixture *f = *state;

	/* A /30: .1 and .2 only, never .0 (network) or .3 (broadcast). */
	assert_int_equal(add_room(f, "tiny", "172.31.0.0/30", NULL, NULL, 0), 0);
	join_at(f, "tiny", "alice@lan-a", "10.1.0.5", "172.31.0.1");
	join_at(f, "tiny", "bob@lan-b", "10.2.0.7", "172.31.0.2");
	assert_int_equal(db_room_join(f->db, "tiny", "carol@lan-c", "10.3.0.9", NULL, "x", NOW, NULL),
			 INSEL_E_LIMIT);
	assert_non_null(strstr(db_errmsg(f->db), "room tiny is full"));
	/* The schema refuses the same on its own, whoever writes. */
	assert_int_equal(count(f, "SELECT count(*) FROM room_members"), 2);
	assert_int_equal(count(f, "SELECT count(*) FROM room_events WHERE kind = 'join'"), 2);
}

static void test_capacity_and_bans(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(add_room(f, "games", "172.30.0.0/24", NULL, "alice@lan-a", 2), 0);
	join_at(f, "games", "alice@lan-a", "10.1.0.5", "172.30.0.1");
	join_at(f, "games", "bob@lan-b", "10.2.0.7", "172.30.0.2");
	assert_int_equal(db_room_join(f->db, "games", "carol@lan-c", "10.3.0.9", NULL, "x", NOW, NULL),
			 INSEL_E_LIMIT);
	assert_int_equal(db_room_ban(f->db, "games", "bob@lan-b", "alice@lan-a", NOW), 0);
	assert_int_equal(db_room_ban(f->db, "games", "bob@lan-b", "alice@lan-a", NOW),
			 INSEL_E_EXISTS);
	assert_int_equal(count(f, "SELECT count(*) FROM room_members"), 1);
	assert_int_equal(db_room_join(f->db, "games", "bob@lan-b", "10.2.0.7", NULL, "x", NOW, NULL),
			 INSEL_E_REFUSED);
	assert_non_null(strstr(db_errmsg(f->db), "bob@lan-b is banned from room games"));
	/* The freed place is carol's now. */
	join_at(f, "games", "carol@lan-c", "10.3.0.9", "172.30.0.2");
	assert_int_equal(db_room_unban(f->db, "games", "bob@lan-b", "operator", NOW), 0);
	assert_int_equal(db_room_unban(f->db, "games", "bob@lan-b", "operator", NOW),
			 INSEL_E_NOT_FOUND);
	assert_int_equal(db_room_join(f->db, "games", "bob@lan-b", "10.2.0.7", NULL, "x", NOW, NULL),
			 INSEL_E_LIMIT);
	assert_int_equal(db_room_leave(f->db, "games", "carol@lan-c", NULL, "kick", "alice", NOW),
			 0);
	join_at(f, "games", "bob@lan-b", "10.2.0.7", "172.30.0.2");
	assert_int_equal(count(f, "SELECT count(*) FROM room_events WHERE kind IN "
			       "('ban', 'unban', 'kick')"), 3 + 1 /* the ban's eviction */);
}

/* A leg carries 16 room addresses of a site (a member: one, two with IPv6): a join past
 * that is refused with a sentence and changes nothing; other sites still join. */
static void test_site_addresses(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix dual[2] = {pfx("10.4.0.0/24"), pfx("fd04::/64")};
	char host[32], host6[32];

	assert_int_equal(add_room(f, "games", "172.30.0.0/24", NULL, NULL, 254), 0);
	for (int i = 1; i <= 16; i++) {
		snprintf(host, sizeof host, "10.1.0.%d", i);
		assert_int_equal(db_room_join(f->db, "games", "alice@lan-a", host, NULL, "x", NOW,
					      NULL), 0);
	}
	assert_int_equal(db_room_join(f->db, "games", "ann@lan-a", "10.1.0.99", NULL, "x", NOW,
				      NULL), INSEL_E_LIMIT);
	assert_non_null(strstr(db_errmsg(f->db), "room games carries at most 16 addresses of "
			       "one site (a member takes one, two with IPv6)"));
	assert_int_equal(count(f, "SELECT count(*) FROM room_members"), 16);
	assert_int_equal(count(f, "SELECT count(*) FROM room_events WHERE kind = 'join'"), 16);
	join_at(f, "games", "bob@lan-b", "10.2.0.7", "172.30.0.17");

	/* With IPv6: 8 members with both addresses fill a site. */
	assert_int_equal(db_lan_add(f->db, "lan-d", dual, 2, NULL, NOW), 0);
	assert_int_equal(db_user_add(f->db, "dave", "lan-d", f->hash, NOW), 0);
	assert_int_equal(add_room(f, "six", "172.31.0.0/24", "fd31::/64", NULL, 254), 0);
	for (int i = 1; i <= 7; i++) {
		snprintf(host, sizeof host, "10.4.0.%d", i);
		snprintf(host6, sizeof host6, "fd04::%d", i);
		assert_int_equal(db_room_join(f->db, "six", "dave@lan-d", host, host6, "x", NOW,
					      NULL), 0);
	}
	assert_int_equal(db_room_join(f->db, "six", "dave@lan-d", "10.4.0.8", NULL, "x", NOW,
				      NULL), 0);
	assert_int_equal(db_room_join(f->db, "six", "dave@lan-d", "10.4.0.9", NULL, "x", NOW,
				      NULL), 0);
	/* 16 now: an IPv6 address more, given by a member joining again, is refused too. */
	assert_int_equal(db_room_join(f->db, "six", "dave@lan-d", "10.4.0.8", "fd04::8", "x",
				      NOW, NULL), INSEL_E_LIMIT);
	assert_int_equal(count(f, "SELECT count(*) FROM room_members WHERE host6 IS NOT NULL"),
			 7);
	assert_int_equal(db_room_join(f->db, "six", "dave@lan-d", "10.4.0.10", NULL, "x", NOW,
				      NULL), INSEL_E_LIMIT);
}

static void test_list_show_remove(void **state)
{
	struct fixture *f = *state;
	json_t *rows = NULL, *room = NULL;
	char hash[PASSWD_HASH_STRLEN];

	assert_int_equal(add_room(f, "games", "172.30.0.0/24", NULL, "alice@lan-a", 0), 0);
	assert_int_equal(add_room(f, "work", "172.30.1.0/24", NULL, NULL, 0), 0);
	join_at(f, "games", "alice@lan-a", "10.1.0.5", "172.30.0.1");
	join_at(f, "games", "bob@lan-b", "10.2.0.7", "172.30.0.2");
	assert_int_equal(db_room_list(f->db, NULL, &rows), 0);
	assert_int_equal(json_array_size(rows), 2);
	json_decref(rows);
	assert_int_equal(db_room_list(f->db, "bob@lan-b", &rows), 0);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "name")),
			    "games");
	json_decref(rows);
	assert_int_equal(db_room_show(f->db, "games", &room), 0);
	assert_string_equal(json_string_value(json_object_get(room, "admin")), "alice@lan-a");
	assert_int_equal(json_array_size(json_object_get(room, "members")), 2);
	assert_int_equal(json_array_size(json_object_get(room, "events")), 3);
	json_decref(room);
	assert_int_equal(db_room_show(f->db, "nosuch", &room), INSEL_E_NOT_FOUND);
	assert_null(room);
	assert_int_equal(db_room_set_hash(f->db, "games", f->hash, "alice@lan-a", NOW), 0);
	assert_int_equal(db_room_hash(f->db, "games", hash, sizeof hash), 0);
	assert_int_equal(passwd_verify("sesame", hash), 0);
	assert_int_equal(db_room_remove(f->db, "games", "operator", NOW), 0);
	assert_int_equal(db_room_remove(f->db, "games", "operator", NOW), INSEL_E_NOT_FOUND);
	assert_int_equal(count(f, "SELECT count(*) FROM room_members"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM room_events WHERE room = 'games' AND "
			       "kind IN ('password', 'delete')"), 2);
	/* Removing a user takes its memberships with it. */
	join_at(f, "work", "bob@lan-b", "10.2.0.7", "172.30.1.1");
	assert_int_equal(db_user_remove(f->db, "bob", "lan-b"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM room_member_view"), 0);
	assert_int_equal(count(f, "SELECT members FROM room_view WHERE room = 'work'"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_rule),
		cmocka_unit_test_setup_teardown(test_add_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edges_of_network, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capacity_and_bans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_site_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_show_remove, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
