/* Unit tests for the principal's running clock (principal/stall_clock.h), driven by a fake
 * clock: ticks on time excuse nothing; a gap of two periods or more is a stall, excused
 * until the principal has run for the window after it; stalls add up, each running off
 * on its own, and more than the clock keeps are folded, never forgotten early. Then the
 * sweep's verdict simulated over many stalls: a gateway heartbeating on time is never
 * judged silent when its heartbeats are read only after the sweep has run (as libuv runs
 * due timers before it polls), and one that stopped is judged silent within the window of
 * running time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "stall_clock.h"

#define PERIOD 750
#define WINDOW 3000
#define START 1000000

static void ticks_on_time_excuse_nothing(void **state)
{
	struct stall_clock c;
	uint64_t now = START;

	(void)state;
	stall_clock_init(&c, PERIOD, WINDOW, now);
	for (int i = 0; i < 100; i++) {
		now += i % 2 ? 10 : 2 * PERIOD - 1;  /* late by almost a period: still on time */
		assert_int_equal(stall_clock_tick(&c, now), 0);
	}
	assert_int_equal(stall_clock_excused_ms(&c), 0);
	/* A clock that went backwards is no stall. */
	assert_int_equal(stall_clock_tick(&c, now - 5000), 0);
	assert_int_equal(stall_clock_tick(&c, now + 10), 0);
	assert_int_equal(stall_clock_excused_ms(&c), 0);
}

static void a_stall_is_excused_until_run_off(void **state)
{
	struct stall_clock c;
	uint64_t now = START;

	(void)state;
	stall_clock_init(&c, PERIOD, WINDOW, now);
	now += 100;
	assert_int_equal(stall_clock_tick(&c, now), 0);
	now += 4500;  /* stopped */
	assert_int_equal(stall_clock_tick(&c, now), 4500);
	assert_int_equal(stall_clock_excused_ms(&c), 4500);
	/* Running again, ticking every 100 ms: excused for the window of running time. */
	for (int ran = 100; ran < WINDOW; ran += 100) {
		now += 100;
		assert_int_equal(stall_clock_tick(&c, now), 0);
		assert_int_equal(stall_clock_excused_ms(&c), 4500);
	}
	now += 100;
	assert_int_equal(stall_clock_tick(&c, now), 0);
	assert_int_equal(stall_clock_excused_ms(&c), 0);
}

static void stalls_add_up_and_run_off_one_by_one(void **state)
{
	struct stall_clock c;
	uint64_t now = START;

	(void)state;
	stall_clock_init(&c, PERIOD, WINDOW, now);
	now += 2000;
	assert_int_equal(stall_clock_tick(&c, now), 2000);
	now += 1000;  /* ran 1 s */
	assert_int_equal(stall_clock_tick(&c, now - 500), 0);
	assert_int_equal(stall_clock_tick(&c, now), 0);
	now += 5000;  /* stopped again */
	assert_int_equal(stall_clock_tick(&c, now), 5000);
	assert_int_equal(stall_clock_excused_ms(&c), 7000);
	/* The first has run off 3 s of running time after its end: 2 s after the second's. */
	now += 700;
	stall_clock_tick(&c, now);
	now += 700;
	stall_clock_tick(&c, now);
	assert_int_equal(stall_clock_excused_ms(&c), 7000);
	now += 600;
	stall_clock_tick(&c, now);
	assert_int_equal(stall_clock_excused_ms(&c), 5000);
	now += 700;
	stall_clock_tick(&c, now);
	now += 299;
	stall_clock_tick(&c, now);
	assert_int_equal(stall_clock_excused_ms(&c), 5000);
	now += 1;
	stall_clock_tick(&c, now);
	assert_int_equal(stall_clock_excused_ms(&c), 0);
}

static void more_stalls_than_kept_are_folded_not_forgotten(void **state)
{
	struct stall_clock c;
	uint64_t now = START, sum = 0;

	(void)state;
	stall_clock_init(&c, PERIOD, WINDOW, now);
	for (int i = 0; i < 3 * STALL_CLOCK_KEPT; i++) {
		uint64_t len = 2 * PERIOD + (uint64_t)i;

		now += len;
		assert_int_equal(stall_clock_tick(&c, now), len);
		sum += len;
		now += 10;
		stall_clock_tick(&c, now);
		assert_true(c.n <= STALL_CLOCK_KEPT);
		assert_int_equal(stall_clock_excused_ms(&c), sum);
	}
	/* The window of running time after the last: all run off, the folded ones too. */
	for (int ran = 10; ran < WINDOW; ran += 100) {
		now += 100;
		stall_clock_tick(&c, now);
	}
	assert_int_equal(stall_clock_excused_ms(&c), 0);
}

/* ---- the sweep's verdict over many stalls ---- */

#define HEARTBEAT 1000
#define STEP 10

struct sim {
	struct stall_clock clock;
	uint64_t now, next_sweep, ran_since_dead;
	uint64_t recorded;        /* the gateway's last heartbeat the principal read */
	bool unread;              /* one waits in its socket */
	bool dead, judged_silent;
	uint32_t seed;
};

static uint32_t next_random(struct sim *s)
{
	s->seed = s->seed * 1103515245u + 12345u;
	return s->seed >> 8;
}

/* One STEP of the principal running: due timers first (the sweep), then the I/O. */
static void run_step(struct sim *s)
{
	if (s->now >= s->next_sweep) {
		stall_clock_tick(&s->clock, s->now);
		if (s->now - s->recorded > WINDOW + stall_clock_excused_ms(&s->clock))
			s->judged_silent = true;
		s->next_sweep = s->now + PERIOD;
	}
	if (s->unread) {
		s->recorded = s->now;
		s->unread = false;
	}
	stall_clock_tick(&s->clock, s->now);  /* after the turn's I/O */
	if (s->dead && !s->judged_silent)
		s->ran_since_dead += STEP;
}

/* Runs the principal for run_ms then stops it for stop_ms, the gateway beating on time
 * (until dead_at) all along. */
static void simulate(struct sim *s, uint64_t run_ms, uint64_t stop_ms, uint64_t dead_at)
{
	for (uint64_t t = 0; t < run_ms + stop_ms; t += STEP) {
		s->now += STEP;
		s->dead = s->now >= dead_at;
		if (!s->dead && s->now % HEARTBEAT == 0)
			s->unread = true;
		if (t < run_ms)
			run_step(s);
	}
}

static void a_live_gateway_is_never_judged_silent_for_stalls(void **state)
{
	struct sim s = {.now = START, .recorded = START, .seed = 42};

	(void)state;
	stall_clock_init(&s.clock, PERIOD, WINDOW, s.now);
	s.next_sweep = s.now;
	for (int i = 0; i < 2000; i++) {
		uint64_t run = STEP * (1 + next_random(&s) % 300);        /* 10 ms - 3 s */
		uint64_t stop = STEP * (next_random(&s) % 4 ? next_random(&s) % 100  /* short */
						   : next_random(&s) % 1500);   /* up to 15 s */

		simulate(&s, run, stop, UINT64_MAX);
		assert_false(s.judged_silent);
	}
}

static void a_dead_gateway_is_judged_silent_within_the_window_of_running_time(void **state)
{
	(void)state;
	for (uint32_t seed = 1; seed <= 200; seed++) {
		struct sim s = {.now = START, .recorded = START, .seed = seed};
		uint64_t dead_at = START + 20000 + STEP * (seed % 100);

		stall_clock_init(&s.clock, PERIOD, WINDOW, s.now);
		s.next_sweep = s.now;
		while (!s.judged_silent) {
			uint64_t run = STEP * (1 + next_random(&s) % 300);
			uint64_t stop = STEP * (next_random(&s) % 2 ? 0 : next_random(&s) % 800);

			simulate(&s, run, stop, dead_at);
			assert_true(s.now < dead_at + 600000);
		}
		/* Within the window of running time after its last heartbeat was read (a
		 * step either side), found by the next sweep. */
		assert_true(s.ran_since_dead <= WINDOW + PERIOD + 2 * STEP);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ticks_on_time_excuse_nothing),
		cmocka_unit_test(a_stall_is_excused_until_run_off),
		cmocka_unit_test(stalls_add_up_and_run_off_one_by_one),
		cmocka_unit_test(more_stalls_than_kept_are_folded_not_forgotten),
		cmocka_unit_test(a_live_gateway_is_never_judged_silent_for_stalls),
		cmocka_unit_test(a_dead_gateway_is_judged_silent_within_the_window_of_running_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
