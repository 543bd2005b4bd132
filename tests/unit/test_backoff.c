/* Unit tests for the guessing back-off (backoff.h), driven by a fake clock: free failures,
 * doubling waits up to the cap, the in-flight cap, success resetting or not, forgetting,
 * and a full table giving up its least recently seen key but never one in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "backoff.h"
#include "err.h"

static const struct backoff_policy policy = {
	.free_failures = 3,
	.base_ms = 1000,
	.max_ms = 8000,
	.forget_ms = 60000,
	.max_inflight = 1,
	.success_resets = true,
};

/* One whole check that fails (or succeeds) at now. */
static int attempt(struct backoff_table *t, const char *key, uint64_t now, bool ok)
{
	int rc = backoff_begin(t, key, now, NULL);

	if (rc == 0)
		backoff_end(t, key, ok ? BACKOFF_SUCCESS : BACKOFF_FAILURE, now);
	return rc;
}

static void free_failures_then_doubling_waits(void **state)
{
	struct backoff_table *t = backoff_new(&policy, 64);
	uint64_t now = 1000000, retry;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(attempt(t, "alice", now, false), 0);
	/* The third failure in a row starts the waits: 1 s, then 2, 4, 8, 8. */
	assert_int_equal(backoff_begin(t, "alice", now + 999, &retry), INSEL_E_BUSY);
	assert_int_equal(retry, 1);
	assert_int_equal(attempt(t, "alice", now + 1000, false), 0);
	now += 1000;
	assert_int_equal(backoff_begin(t, "alice", now + 1999, &retry), INSEL_E_BUSY);
	assert_int_equal(attempt(t, "alice", now + 2000, false), 0);
	now += 2000;
	assert_int_equal(attempt(t, "alice", now + 3999, false), INSEL_E_BUSY);
	assert_int_equal(attempt(t, "alice", now + 4000, false), 0);
	now += 4000;
	assert_int_equal(attempt(t, "alice", now + 8000, false), 0);
	now += 8000;
	assert_int_equal(backoff_begin(t, "alice", now + 1, &retry), INSEL_E_BUSY);
	assert_int_equal(retry, 7999);  /* capped at max_ms */
	assert_int_equal(backoff_failures(t, "alice"), 7);
	/* Other keys are untouched. */
	assert_int_equal(attempt(t, "bob", now + 1, true), 0);
	backoff_free(t);
}

static void a_refused_attempt_does_not_lengthen_the_wait(void **state)
{
	struct backoff_table *t = backoff_new(&policy, 64);
	uint64_t retry;

	(void)state;
	for (int i = 0; i < 3; i++)
		attempt(t, "k", 0, false);
	for (int i = 0; i < 100; i++)
		assert_int_equal(attempt(t, "k", 500, false), INSEL_E_BUSY);
	assert_int_equal(backoff_begin(t, "k", 600, &retry), INSEL_E_BUSY);
	assert_int_equal(retry, 400);
	assert_int_equal(backoff_failures(t, "k"), 3);
	backoff_free(t);
}

static void inflight_cap(void **state)
{
	struct backoff_policy two = policy;
	struct backoff_table *t;
	uint64_t retry = 99;

	(void)state;
	two.max_inflight = 2;
	t = backoff_new(&two, 64);
	assert_int_equal(backoff_begin(t, "src", 0, NULL), 0);
	assert_int_equal(backoff_begin(t, "src", 0, NULL), 0);
	assert_int_equal(backoff_begin(t, "src", 0, &retry), INSEL_E_BUSY);
	assert_int_equal(retry, 0);
	backoff_end(t, "src", BACKOFF_CANCELLED, 0);
	assert_int_equal(backoff_failures(t, "src"), 0);
	assert_int_equal(backoff_begin(t, "src", 0, NULL), 0);
	backoff_free(t);
}

static void success_resets_only_when_asked(void **state)
{
	struct backoff_policy sticky = policy;
	struct backoff_table *t = backoff_new(&policy, 64), *s;

	(void)state;
	sticky.success_resets = false;
	s = backoff_new(&sticky, 64);
	for (int i = 0; i < 2; i++) {
		attempt(t, "k", 0, false);
		attempt(s, "k", 0, false);
	}
	attempt(t, "k", 0, true);
	attempt(s, "k", 0, true);
	assert_int_equal(backoff_failures(t, "k"), 0);
	assert_int_equal(backoff_failures(s, "k"), 2);
	/* A source that mixes one good login among its guesses still waits. */
	attempt(s, "k", 0, false);
	assert_int_equal(attempt(s, "k", 10, true), INSEL_E_BUSY);
	backoff_free(t);
	backoff_free(s);
}

static void quiet_keys_are_forgotten(void **state)
{
	struct backoff_table *t = backoff_new(&policy, 64);

	(void)state;
	for (int i = 0; i < 6; i++)
		attempt(t, "k", (uint64_t)i * 10000, false);
	assert_int_equal(attempt(t, "k", 50000 + 1000, false), INSEL_E_BUSY);
	assert_int_equal(attempt(t, "k", 50000 + 60000, false), 0);
	assert_int_equal(backoff_failures(t, "k"), 1);
	backoff_free(t);
}

static void a_full_table_evicts_the_oldest_idle_key(void **state)
{
	/* One bucket of eight: every key lands in it. */
	struct backoff_table *t = backoff_new(&policy, 1);
	char key[32];

	(void)state;
	/* "held" has a check in flight: it must survive everything below. */
	assert_int_equal(backoff_begin(t, "held", 0, NULL), 0);
	for (int i = 0; i < 3; i++)
		attempt(t, "old", 1, false);
	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof key, "k%d", i);
		for (int j = 0; j < 3; j++)
			attempt(t, key, 10 + (uint64_t)i, false);
	}
	assert_int_equal(backoff_failures(t, "old"), 3);
	/* The table is full of keys waiting; a new one takes the least recently seen. */
	assert_int_equal(attempt(t, "new", 100, false), 0);
	assert_int_equal(backoff_failures(t, "old"), 0);
	assert_int_equal(backoff_failures(t, "k0"), 3);
	assert_int_equal(backoff_begin(t, "held", 100, NULL), INSEL_E_BUSY);
	backoff_end(t, "held", BACKOFF_FAILURE, 100);
	assert_int_equal(backoff_failures(t, "held"), 1);
	backoff_free(t);
}

static void every_slot_in_flight_refuses(void **state)
{
	struct backoff_table *t = backoff_new(&policy, 1);
	char key[32];

	(void)state;
	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof key, "k%d", i);
		assert_int_equal(backoff_begin(t, key, 0, NULL), 0);
	}
	assert_int_equal(backoff_begin(t, "one-more", 0, NULL), INSEL_E_BUSY);
	backoff_end(t, "k3", BACKOFF_SUCCESS, 1);
	assert_int_equal(backoff_begin(t, "one-more", 2, NULL), 0);
	backoff_free(t);
}

static void long_keys_are_cut_consistently(void **state)
{
	struct backoff_table *t = backoff_new(&policy, 64);
	char key[BACKOFF_KEY_MAX + 50];

	(void)state;
	memset(key, 'x', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	for (int i = 0; i < 3; i++)
		attempt(t, key, 0, false);
	assert_int_equal(backoff_failures(t, key), 3);
	assert_int_equal(attempt(t, key, 1, false), INSEL_E_BUSY);
	backoff_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(free_failures_then_doubling_waits),
		cmocka_unit_test(a_refused_attempt_does_not_lengthen_the_wait),
		cmocka_unit_test(inflight_cap),
		cmocka_unit_test(success_resets_only_when_asked),
		cmocka_unit_test(quiet_keys_are_forgotten),
		cmocka_unit_test(a_full_table_evicts_the_oldest_idle_key),
		cmocka_unit_test(every_slot_in_flight_refuses),
		cmocka_unit_test(long_keys_are_cut_consistently),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
