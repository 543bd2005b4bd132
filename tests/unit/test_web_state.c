/* Unit tests for the web view's JSON (principal/web_state.c) on a temporary directory:
 * sites with their gateways and health, a live call that moves to the history when it
 * ends, rooms with members, that no fingerprint, serial or password hash ever appears,
 * that a hostile caller's text comes back as the same text (the page escapes it), and
 * that every list stops at its cap with "truncated" saying so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "db_fixture.h"
#include "db_rooms.h"
#include "passwd.h"
#include "web_state.h"

#define NOW 1700000000
#define HOSTILE "<script>alert(1)</script>\"'&"

/* A LAN served by its secondary, registered (up) at NOW, with one user. */
static void site(struct fixture *f, const char *lan, const char *prefix, const char *user)
{
	struct ip_prefix p = pfx(prefix);
	struct db_registration r = {lan, "fp-secret", "5e", lan, &p, 1, "198.18.1.2:7445", -1,
				    false};

	assert_int_equal(db_secondary_add(f->db, lan, NULL, NOW), 0);
	assert_int_equal(db_lan_add(f->db, lan, &p, 1, lan, NOW), 0);
	assert_int_equal(db_register(f->db, &r, NOW), 0);
	assert_int_equal(db_user_add(f->db, user, lan, f->hash, NOW), 0);
}

static int setup(void **state)
{
	struct fixture *f = fixture_new("web");

	assert_int_equal(passwd_hash("sesame", PASSWD_MIN_ITERATIONS, f->hash, sizeof f->hash), 0);
	site(f, "lan-a", "10.1.0.0/24", "alice");
	site(f, "lan-b", "10.2.0.0/24", "bob");
	*state = f;
	return 0;
}

static void start_call(struct fixture *f, const char *id, const char *callee)
{
	struct db_call_start c = {.id = id, .caller = "alice@lan-a", .caller_lan = "lan-a",
				  .callee = callee, .callee_lan = "lan-b", .channels = "[]",
				  .reported_by = "lan-a"};

	assert_int_equal(db_call_start(f->db, &c, NOW), 0);
}

static json_t *build(struct fixture *f, int64_t now)
{
	json_t *state;

	assert_int_equal(web_state_build(f->db, "principal", now, NULL, 0, &state), 0);
	return state;
}

static json_t *find(json_t *list, const char *key, const char *value)
{
	size_t i;
	json_t *row;

	json_array_foreach(list, i, row)
		if (strcmp(json_string_value(json_object_get(row, key)), value) == 0)
			return row;
	return NULL;
}

static void sites_with_health(void **state)
{
	struct fixture *f = *state;
	json_t *st = build(f, NOW + 1), *a, *gw;

	assert_string_equal(json_string_value(json_object_get(st, "principal")), "principal");
	assert_int_equal(json_array_size(json_object_get(st, "sites")), 2);
	a = find(json_object_get(st, "sites"), "name", "lan-a");
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "state")), "up");
	assert_string_equal(json_string_value(json_object_get(a, "gateway")), "lan-a");
	assert_int_equal(json_integer_value(json_object_get(a, "last_heartbeat")), NOW);
	gw = json_array_get(json_object_get(a, "gateways"), 0);
	assert_string_equal(json_string_value(json_object_get(gw, "name")), "lan-a");
	assert_string_equal(json_string_value(json_object_get(gw, "state")), "up");
	json_decref(st);
	/* Silent past down_after: down. */
	assert_true(db_mark_down(f->db, NOW + 1000) >= 1);
	st = build(f, NOW + 1000);
	a = find(json_object_get(st, "sites"), "name", "lan-a");
	assert_string_equal(json_string_value(json_object_get(a, "state")), "down");
	json_decref(st);
}

static void call_moves_to_history(void **state)
{
	struct fixture *f = *state;
	json_t *st;
	json_t *call;

	start_call(f, "00000000000000a1", "bob@lan-b");
	st = build(f, NOW + 5);
	call = json_array_get(json_object_get(st, "calls"), 0);
	assert_non_null(call);
	assert_string_equal(json_string_value(json_object_get(call, "id")), "00000000000000a1");
	assert_int_equal(json_integer_value(json_object_get(call, "seconds")), 5);
	assert_true(json_is_null(json_object_get(call, "rate_up")));
	assert_int_equal(json_array_size(json_object_get(st, "history")), 0);
	json_decref(st);

	assert_int_equal(db_call_end(f->db, "00000000000000a1", 1000, 2000, "hangup", NOW + 9), 0);
	st = build(f, NOW + 10);
	assert_int_equal(json_array_size(json_object_get(st, "calls")), 0);
	call = json_array_get(json_object_get(st, "history"), 0);
	assert_non_null(call);
	assert_string_equal(json_string_value(json_object_get(call, "end_reason")), "hangup");
	assert_int_equal(json_integer_value(json_object_get(call, "bytes_down")), 2000);
	json_decref(st);
}

static void live_rates_when_known(void **state)
{
	struct fixture *f = *state;
	struct web_rate r = {"00000000000000b2", 1250.0, 500.0};
	json_t *st, *call;

	start_call(f, "00000000000000b2", "bob@lan-b");
	assert_int_equal(web_state_build(f->db, "principal", NOW + 3, &r, 1, &st), 0);
	call = json_array_get(json_object_get(st, "calls"), 0);
	assert_true(json_real_value(json_object_get(call, "rate_up")) == 1250.0);
	assert_true(json_real_value(json_object_get(call, "rate_down")) == 500.0);
	json_decref(st);
}

static void rooms_with_members(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix net = pfx("172.30.0.0/24");
	struct db_room_new room = {"games", &net, NULL, f->hash, "alice@lan-a", 0, "operator"};
	json_t *st, *r, *m;

	assert_int_equal(db_room_add(f->db, &room, NOW), 0);
	assert_int_equal(db_room_join(f->db, "games", "bob@lan-b", "10.2.0.11", NULL, "bob@lan-b", NOW,
				      NULL), 0);
	st = build(f, NOW);
	r = find(json_object_get(st, "rooms"), "name", "games");
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "network")), "172.30.0.0/24");
	assert_int_equal(json_integer_value(json_object_get(r, "members_total")), 1);
	m = json_array_get(json_object_get(r, "members"), 0);
	assert_string_equal(json_string_value(json_object_get(m, "user")), "bob@lan-b");
	assert_string_equal(json_string_value(json_object_get(m, "address")), "172.30.0.1");
	json_decref(st);
}

/* Nothing the directory keeps secret, or that only the operator needs, leaves: the
 * whole text is searched. */
static void no_secrets(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix net = pfx("172.31.0.0/24");
	struct db_room_new room = {"work", &net, NULL, f->hash, NULL, 0, "operator"};
	json_t *st;
	size_t len;
	char *text;

	assert_int_equal(db_room_add(f->db, &room, NOW), 0);
	start_call(f, "00000000000000c3", "bob@lan-b");
	st = build(f, NOW);
	text = web_state_text(st, &len);
	assert_non_null(text);
	assert_null(strstr(text, "pbkdf2"));
	assert_null(strstr(text, "fp-secret"));
	assert_null(strstr(text, "fingerprint"));
	assert_null(strstr(text, "serial"));
	assert_null(strstr(text, "password"));
	assert_null(strstr(text, "channels"));
	free(text);
	json_decref(st);
}

/* A callee's text is whatever the caller typed: it comes back as the same string (JSON
 * escapes its quotes), for the page to put in as text. */
static void hostile_text_round_trips(void **state)
{
	struct fixture *f = *state;
	json_t *st, *back, *call;
	size_t len;
	char *text;

	start_call(f, "00000000000000d4", HOSTILE);
	st = build(f, NOW);
	text = web_state_text(st, &len);
	back = json_loads(text, 0, NULL);
	assert_non_null(back);
	call = json_array_get(json_object_get(back, "calls"), 0);
	assert_string_equal(json_string_value(json_object_get(call, "callee")), HOSTILE);
	free(text);
	json_decref(back);
	json_decref(st);
}

/* 300 live calls and 150 ended ones: each list at its cap, the cut said, the text small. */
static void lists_are_capped(void **state)
{
	struct fixture *f = *state;
	json_t *st, *cut;
	char id[17];
	size_t len;
	char *text;

	assert_int_equal(db_batch_begin(f->db), 0);
	for (int i = 0; i < 450; i++) {
		snprintf(id, sizeof id, "%016x", i + 1);
		start_call(f, id, "bob@lan-b");
		if (i < 150)
			assert_int_equal(db_call_end(f->db, id, 1, 1, "hangup", NOW + 1), 0);
	}
	assert_int_equal(db_batch_end(f->db, 0), 0);
	st = build(f, NOW + 2);
	assert_int_equal(json_array_size(json_object_get(st, "calls")), WEB_CALLS_MAX);
	assert_int_equal(json_array_size(json_object_get(st, "history")), WEB_HISTORY_MAX);
	cut = json_object_get(st, "truncated");
	assert_true(json_is_true(json_object_get(cut, "calls")));
	assert_true(json_is_true(json_object_get(cut, "history")));
	assert_true(json_is_false(json_object_get(cut, "sites")));
	text = web_state_text(st, &len);
	assert_non_null(text);
	assert_true(len < WEB_STATE_MAX_BYTES);
	free(text);
	json_decref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(sites_with_health, setup, teardown),
		cmocka_unit_test_setup_teardown(call_moves_to_history, setup, teardown),
		cmocka_unit_test_setup_teardown(live_rates_when_known, setup, teardown),
		cmocka_unit_test_setup_teardown(rooms_with_members, setup, teardown),
		cmocka_unit_test_setup_teardown(no_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(hostile_text_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(lists_are_capped, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
