/* Unit tests for the principal's verify_user (principal/api_user.c) against a temporary
 * directory, with a fake clock and a password-check runner the test drives: an unknown
 * user is checked against the dummy hash at the configured cost; failures back off per
 * user and per source and are answered "busy" without a check; checks in flight are
 * capped per source; a success clears the user's failures, not the source's. */
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
#include "err.h"
#include "msg.h"
#include "passwd.h"

#define NOW 1700000000
#define ITERATIONS 1000u

static uint64_t fake_ms = 5000000;
static int64_t fake_now(void)
{
	return NOW;
}

static uint64_t fake_clock_ms(void)
{
	return fake_ms;
}

struct fixture {
	char dir[DB_SCRATCH_DIR_LEN], path[DB_SCRATCH_PATH_LEN];
	struct api_server srv;
	struct api_peer peer;
	json_t *reply;                 /* the last reply */
	struct api_verify *held[8];    /* checks the test has not run yet */
	size_t nheld;
	bool hold;                     /* keep checks instead of running them */
	bool last_known;
	char last_hash[PASSWD_HASH_STRLEN];
};

static struct fixture *current;

static void runner(struct api_server *s, struct api_verify *v)
{
	(void)s;
	current->last_known = v->known;
	snprintf(current->last_hash, sizeof current->last_hash, "%s", v->hash);
	if (current->hold) {
		current->held[current->nheld++] = v;
		return;
	}
	api_verify_compute(v);
	api_verify_finish(v);
}

static void run_held(struct fixture *f)
{
	for (size_t i = 0; i < f->nheld; i++) {
		api_verify_compute(f->held[i]);
		api_verify_finish(f->held[i]);
	}
	f->nheld = 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char hash[PASSWD_HASH_STRLEN];
	struct ip_prefix p;

	db_scratch_open(f->dir, f->path, "api-user", &f->srv.db);
	assert_int_equal(ip_prefix_parse("10.1.0.0/24", true, &p), 0);
	assert_int_equal(db_secondary_add(f->srv.db, "gw-a", NULL, NOW), 0);
	assert_int_equal(db_lan_add(f->srv.db, "lan-a", &p, 1, "gw-a", NOW), 0);
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "carol" : "alice";
		char pw[32];

		snprintf(pw, sizeof pw, "pw-%s", name);
		assert_int_equal(passwd_hash(pw, ITERATIONS, hash, sizeof hash), 0);
		assert_int_equal(db_user_add(f->srv.db, name, "lan-a", hash, NOW), 0);
	}
	f->srv.run_verify = runner;
	f->srv.now = fake_now;
	f->srv.clock_ms = fake_clock_ms;
	assert_int_equal(api_auth_init(&f->srv, ITERATIONS), 0);
	api_test_peer(&f->peer, &f->srv, PKI_ROLE_SECONDARY, "gw-a", &f->reply);
	current = f;
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

/* Sends verify_user and returns the reply's error code, "ok", or "none" (held). */
static const char *verify(struct fixture *f, const char *user, const char *password,
			  const char *source)
{
	json_t *req = json_pack("{s:s, s:I, s:s, s:s}", "op", "verify_user", "id", (json_int_t)7,
				"user", user, "password", password);
	const char *code = "none";

	if (source)
		json_object_set_new(req, "source", json_string(source));
	json_decref(f->reply);
	f->reply = NULL;
	api_handle(&f->peer, req, 0);
	json_decref(req);
	if (f->reply && msg_reply_is_ok(f->reply, &code, NULL))
		code = "ok";
	return code;
}

static const char *message(struct fixture *f)
{
	const char *code, *msg = "";

	if (f->reply)
		msg_reply_is_ok(f->reply, &code, &msg);
	return msg;
}

static void unknown_user_checked_against_the_dummy_hash(void **state)
{
	struct fixture *f = *state;
	char prefix[64];

	assert_string_equal(verify(f, "alice@lan-a", "pw-alice", "10.1.0.11"), "ok");
	assert_true(f->last_known);
	assert_string_equal(verify(f, "ghost@lan-a", "pw-alice", "10.1.0.11"), "auth_failed");
	assert_false(f->last_known);
	/* The dummy hash, real and of the configured cost: the same work as a known user. */
	assert_string_equal(f->last_hash, f->srv.dummy_hash);
	snprintf(prefix, sizeof prefix, PASSWD_SCHEME "$%u$", ITERATIONS);
	assert_memory_equal(f->last_hash, prefix, strlen(prefix));
	assert_int_equal(passwd_verify("pw-alice", f->last_hash), INSEL_E_AUTH);
	assert_string_equal(message(f), "wrong user name or password");
}

static void dummy_hash_has_the_default_cost(void **state)
{
	struct api_server s = {0};
	char prefix[64];

	(void)state;
	assert_int_equal(api_auth_init(&s, PASSWD_DEFAULT_ITERATIONS), 0);
	assert_true(PASSWD_DEFAULT_ITERATIONS >= 600000);
	snprintf(prefix, sizeof prefix, PASSWD_SCHEME "$%u$", PASSWD_DEFAULT_ITERATIONS);
	assert_memory_equal(s.dummy_hash, prefix, strlen(prefix));
	api_auth_free(&s);
}

static void user_backs_off_then_may_try_again(void **state)
{
	struct fixture *f = *state;
	char source[32];

	/* From five hosts, so that only the user's count matters. */
	for (int i = 0; i < 5; i++) {
		snprintf(source, sizeof source, "10.1.0.%d", 20 + i);
		assert_string_equal(verify(f, "alice@lan-a", "wrong", source), "auth_failed");
	}
	assert_string_equal(verify(f, "alice@lan-a", "pw-alice", "10.1.0.30"), "busy");
	assert_non_null(strstr(message(f), "for alice@lan-a; try again in 1 s"));
	fake_ms += 1000;
	assert_string_equal(verify(f, "alice@lan-a", "pw-alice", "10.1.0.30"), "ok");
	/* The success cleared alice's failures: one more mistake costs no wait. */
	assert_string_equal(verify(f, "alice@lan-a", "wrong", "10.1.0.31"), "auth_failed");
	assert_string_equal(verify(f, "alice@lan-a", "pw-alice", "10.1.0.31"), "ok");
}

static void source_backs_off_whatever_the_names(void **state)
{
	struct fixture *f = *state;
	char user[32];

	for (int i = 0; i < 5; i++) {
		snprintf(user, sizeof user, "ghost%d@lan-a", i);
		assert_string_equal(verify(f, user, "guess", "10.1.0.12"), "auth_failed");
	}
	assert_string_equal(verify(f, "ghost9@lan-a", "guess", "10.1.0.12"), "busy");
	assert_non_null(strstr(message(f), "from 10.1.0.12"));
	/* Not even a right password gets through from there now ... */
	assert_string_equal(verify(f, "carol@lan-a", "pw-carol", "10.1.0.12"), "busy");
	/* ... but the same user from another host does. */
	assert_string_equal(verify(f, "carol@lan-a", "pw-carol", "10.1.0.13"), "ok");
	/* A success does not launder the source's failures: the next one doubles the wait. */
	fake_ms += 1000;
	assert_string_equal(verify(f, "carol@lan-a", "pw-carol", "10.1.0.12"), "ok");
	assert_string_equal(verify(f, "ghost9@lan-a", "guess", "10.1.0.12"), "auth_failed");
	assert_string_equal(verify(f, "ghost10@lan-a", "guess", "10.1.0.12"), "busy");
	assert_non_null(strstr(message(f), "try again in 2 s"));
}

static void checks_in_flight_capped_per_source(void **state)
{
	struct fixture *f = *state;

	f->hold = true;
	assert_string_equal(verify(f, "ghost1@lan-a", "a", "10.1.0.40"), "none");
	assert_string_equal(verify(f, "ghost2@lan-a", "b", "10.1.0.40"), "none");
	assert_string_equal(verify(f, "ghost3@lan-a", "c", "10.1.0.40"), "busy");
	assert_non_null(strstr(message(f), "already being checked"));
	assert_string_equal(verify(f, "alice@lan-a", "pw-alice", "10.1.0.41"), "none");
	f->hold = false;
	run_held(f);
	assert_string_equal(verify(f, "ghost3@lan-a", "c", "10.1.0.40"), "auth_failed");
}

static void a_bad_source_is_refused(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(verify(f, "alice@lan-a", "pw-alice", "not-an-address"), "bad_field");
	/* Without one (an older secondary), its users share the secondary's key. */
	assert_string_equal(verify(f, "alice@lan-a", "pw-alice", NULL), "ok");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(unknown_user_checked_against_the_dummy_hash,
						setup, teardown),
		cmocka_unit_test(dummy_hash_has_the_default_cost),
		cmocka_unit_test_setup_teardown(user_backs_off_then_may_try_again, setup,
						teardown),
		cmocka_unit_test_setup_teardown(source_backs_off_whatever_the_names, setup,
						teardown),
		cmocka_unit_test_setup_teardown(checks_in_flight_capped_per_source, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_bad_source_is_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
