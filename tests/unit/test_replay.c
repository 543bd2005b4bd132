/* Unit tests for the RFC 6479 replay window: fresh, duplicate, reordered, too old, big
 * jumps, and the separation of check from commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "replay.h"

/* Check then commit, as the receiver does after a good tag. */
static bool accept(struct replay_window *w, uint64_t c)
{
	if (!replay_check(w, c))
		return false;
	replay_commit(w, c);
	return true;
}

static void accepts_each_counter_once(void **state)
{
	struct replay_window w;

	replay_init(&w);
	for (uint64_t c = 0; c < 10000; c++) {
		assert_true(accept(&w, c));
		assert_false(accept(&w, c));
	}
}

static void check_alone_changes_nothing(void **state)
{
	struct replay_window w;

	replay_init(&w);
	assert_true(replay_check(&w, 5));
	assert_true(replay_check(&w, 5));  /* not committed: a forged frame burns nothing */
	replay_commit(&w, 5);
	assert_false(replay_check(&w, 5));
	assert_true(replay_check(&w, 4));
	assert_true(replay_check(&w, 6));
}

static void reordered_within_window_accepted_once(void **state)
{
	struct replay_window w;

	replay_init(&w);
	assert_true(accept(&w, 3000));
	for (uint64_t c = 2999; c > 0; c--)
		assert_true(accept(&w, c));
	assert_true(accept(&w, 0));
	for (uint64_t c = 0; c <= 3000; c++)
		assert_false(accept(&w, c));
}

static void window_edge(void **state)
{
	struct replay_window w;
	uint64_t top = 100000;

	replay_init(&w);
	assert_true(accept(&w, top));
	assert_false(replay_check(&w, top - REPLAY_WINDOW - 1));
	assert_true(accept(&w, top - REPLAY_WINDOW));
	assert_false(accept(&w, top - REPLAY_WINDOW));
	assert_false(accept(&w, 0));
}

static void big_jump_clears_old_bits(void **state)
{
	struct replay_window w;

	replay_init(&w);
	for (uint64_t c = 0; c < 64 * REPLAY_WORDS; c++)
		assert_true(accept(&w, c));
	/* Jump far ahead: every word is recycled, and counters that map onto the same ring
	 * positions as old ones must read as unseen. */
	assert_true(accept(&w, 1000000 * 64));
	for (uint64_t c = 1000000 * 64 - REPLAY_WINDOW; c < 1000000 * 64; c++)
		assert_true(accept(&w, c));
	/* A jump of less than a word, then of exactly one word. */
	assert_true(accept(&w, 1000000 * 64 + 10));
	assert_true(accept(&w, 1000001 * 64 + 10));
	assert_true(accept(&w, 1000001 * 64 + 9));
	assert_false(accept(&w, 1000000 * 64 + 10));
}

static void counter_limit_refused(void **state)
{
	struct replay_window w;

	replay_init(&w);
	assert_false(accept(&w, REPLAY_COUNTER_LIMIT));
	assert_false(accept(&w, UINT64_MAX));
	assert_true(accept(&w, REPLAY_COUNTER_LIMIT - 1));
	assert_false(accept(&w, REPLAY_COUNTER_LIMIT - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_each_counter_once),
		cmocka_unit_test(check_alone_changes_nothing),
		cmocka_unit_test(reordered_within_window_accepted_once),
		cmocka_unit_test(window_edge),
		cmocka_unit_test(big_jump_clears_old_bits),
		cmocka_unit_test(counter_limit_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
