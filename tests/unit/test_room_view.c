/* Unit tests for the "rooms" notice's codec (common/control/room_view.c): a round trip,
 * and the refusals that keep a gateway from acting on a wrong view (an address outside
 * the room, an address twice, another LAN's host address, a hostile room name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "room_view.h"

static int decode_text(const char *text, struct room_view *v, char why[ROOM_WHY_LEN])
{
	json_t *j = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(j);
	rc = room_view_decode(j, v, why);
	json_decref(j);
	return rc;
}

#define GOOD "{\"op\":\"rooms\",\"lan\":\"lan-a\",\"rooms\":[{\"name\":\"games\"," \
	"\"network\":\"172.30.0.0/24\",\"members\":[{\"address\":\"172.30.0.1\"," \
	"\"lan\":\"lan-a\",\"user\":\"alice@lan-a\",\"host\":\"10.1.0.11\"}," \
	"{\"address\":\"172.30.0.2\",\"lan\":\"lan-b\",\"user\":\"bob@lan-b\"}]}]}"

static void test_round_trip(void **state)
{
	struct room_view v, back;
	char why[ROOM_WHY_LEN];
	json_t *j;

	(void)state;
	assert_int_equal(decode_text(GOOD, &v, why), 0);
	assert_string_equal(v.lan, "lan-a");
	assert_int_equal(v.nrooms, 1);
	assert_string_equal(v.rooms[0].name, "games");
	assert_int_equal(v.rooms[0].nmembers, 2);
	assert_int_equal(v.rooms[0].members[0].address, 0xac1e0001u);
	assert_true(v.rooms[0].members[0].has_host);
	assert_int_equal(v.rooms[0].members[0].host, 0x0a01000bu);
	assert_false(v.rooms[0].members[1].has_host);
	assert_ptr_equal(room_view_find(&v, "games"), &v.rooms[0]);
	assert_null(room_view_find(&v, "chess"));
	j = room_view_encode(&v);
	assert_int_equal(room_view_decode(j, &back, why), 0);
	assert_int_equal(back.rooms[0].nmembers, 2);
	assert_string_equal(back.rooms[0].members[1].user, "bob@lan-b");
	room_view_free(&back);
	room_view_free(&v);
	json_decref(j);
}

static void test_refusals(void **state)
{
	static const char *bad[] = {
		/* outside the network, the network's own address, its broadcast address */
		"{\"op\":\"rooms\",\"lan\":\"lan-a\",\"rooms\":[{\"name\":\"games\",\"network\":"
		"\"172.30.0.0/24\",\"members\":[{\"address\":\"172.31.0.1\",\"lan\":\"lan-b\","
		"\"user\":\"b@lan-b\"}]}]}",
		"{\"op\":\"rooms\",\"lan\":\"lan-a\",\"rooms\":[{\"name\":\"games\",\"network\":"
		"\"172.30.0.0/24\",\"members\":[{\"address\":\"172.30.0.255\",\"lan\":\"lan-b\","
		"\"user\":\"b@lan-b\"}]}]}",
		/* an address twice */
		"{\"op\":\"rooms\",\"lan\":\"lan-a\",\"rooms\":[{\"name\":\"games\",\"network\":"
		"\"172.30.0.0/24\",\"members\":[{\"address\":\"172.30.0.2\",\"lan\":\"lan-b\","
		"\"user\":\"b@lan-b\"},{\"address\":\"172.30.0.2\",\"lan\":\"lan-c\","
		"\"user\":\"c@lan-c\"}]}]}",
		/* another LAN's member with a host address */
		"{\"op\":\"rooms\",\"lan\":\"lan-a\",\"rooms\":[{\"name\":\"games\",\"network\":"
		"\"172.30.0.0/24\",\"members\":[{\"address\":\"172.30.0.2\",\"lan\":\"lan-b\","
		"\"user\":\"b@lan-b\",\"host\":\"10.2.0.11\"}]}]}",
		/* a hostile name, a network too wide */
		"{\"op\":\"rooms\",\"lan\":\"lan-a\",\"rooms\":[{\"name\":\"../x\",\"network\":"
		"\"172.30.0.0/24\",\"members\":[]}]}",
		"{\"op\":\"rooms\",\"lan\":\"lan-a\",\"rooms\":[{\"name\":\"games\",\"network\":"
		"\"10.0.0.0/7\",\"members\":[]}]}",
		/* a room twice, no LAN */
		"{\"op\":\"rooms\",\"lan\":\"lan-a\",\"rooms\":[{\"name\":\"g\",\"network\":"
		"\"172.30.0.0/24\",\"members\":[]},{\"name\":\"g\",\"network\":"
		"\"172.31.0.0/24\",\"members\":[]}]}",
		"{\"op\":\"rooms\",\"rooms\":[]}",
	};
	struct room_view v;
	char why[ROOM_WHY_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(decode_text(bad[i], &v, why), INSEL_E_BAD_FIELD);
		assert_true(why[0] != 0);
	}
}

/* What a gateway of lan-a makes of a room with members on three sites (and a fourth
 * room member's site twice): one leg per other site, each carrying our members with their
 * LAN addresses and that site's members only. */
static void test_legs(void **state)
{
	static const char *notice =
		"{\"op\":\"rooms\",\"lan\":\"lan-a\",\"rooms\":[{\"name\":\"games\","
		"\"network\":\"172.30.0.0/24\",\"members\":["
		"{\"address\":\"172.30.0.2\",\"lan\":\"lan-b\",\"user\":\"b@lan-b\"},"
		"{\"address\":\"172.30.0.1\",\"lan\":\"lan-a\",\"user\":\"a@lan-a\","
		"\"host\":\"10.1.0.11\"},"
		"{\"address\":\"172.30.0.3\",\"lan\":\"lan-c\",\"user\":\"c@lan-c\"},"
		"{\"address\":\"172.30.0.4\",\"lan\":\"lan-b\",\"user\":\"d@lan-b\"}]},"
		"{\"name\":\"chess\",\"network\":\"172.31.0.0/24\",\"members\":["
		"{\"address\":\"172.31.0.1\",\"lan\":\"lan-b\",\"user\":\"b@lan-b\"}]}]}";
	struct room_view v;
	struct room_view_leg leg;
	const char *lans[8];
	char why[ROOM_WHY_LEN];

	(void)state;
	assert_int_equal(decode_text(notice, &v, why), 0);
	assert_int_equal(room_view_peer_lans(&v.rooms[0], "lan-a", lans, 8), 2);
	assert_string_equal(lans[0], "lan-b");
	assert_string_equal(lans[1], "lan-c");
	assert_int_equal(room_view_peer_lans(&v.rooms[0], "lan-a", lans, 1), 1);
	/* No member of ours in chess: no leg, whoever else is in it. */
	assert_int_equal(room_view_peer_lans(&v.rooms[1], "lan-a", lans, 8), 0);
	room_view_leg(&v.rooms[0], "lan-b", &leg);
	assert_int_equal(leg.nlocal, 1);
	assert_int_equal(leg.local[0], 0xac1e0001u);
	assert_int_equal(leg.local_host[0], 0x0a01000bu);
	assert_int_equal(leg.nremote, 2);
	assert_int_equal(leg.remote[0], 0xac1e0002u);
	assert_int_equal(leg.remote[1], 0xac1e0004u);
	assert_false(leg.truncated);
	room_view_leg(&v.rooms[0], "lan-c", &leg);
	assert_int_equal(leg.nremote, 1);
	assert_int_equal(leg.remote[0], 0xac1e0003u);
	room_view_free(&v);
}

/* A site with more members than a leg carries: the first ROOM_LEG_MEMBERS, marked. */
static void test_leg_limit(void **state)
{
	struct room_view_member m[ROOM_LEG_MEMBERS + 2];
	struct room_view_room r = {.name = "big", .members = m,
				   .nmembers = ROOM_LEG_MEMBERS + 2};
	struct room_view_leg leg;

	(void)state;
	memset(m, 0, sizeof m);
	for (size_t i = 0; i < ROOM_LEG_MEMBERS + 2; i++) {
		m[i].address = 0xac1e0001u + (uint32_t)i;
		strcpy(m[i].lan, i == 0 ? "lan-a" : "lan-b");
		m[i].has_host = i == 0;
		m[i].host = 0x0a01000bu;
	}
	room_view_leg(&r, "lan-b", &leg);
	assert_int_equal(leg.nlocal, 1);
	assert_int_equal(leg.nremote, ROOM_LEG_MEMBERS);
	assert_true(leg.truncated);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_legs),
		cmocka_unit_test(test_leg_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
