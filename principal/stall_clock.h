/* The principal's own running time, against which its gateways' silence is judged.
 *
 * A secondary is marked down when it has sent no heartbeat for down_after. When the
 * principal itself did not run for a while (its process stopped, a long fsync, an
 * overloaded host), the heartbeats its gateways sent meanwhile wait unread in their
 * sockets, and libuv runs the timers that are due before it polls for them: judged on the
 * wall clock, every gateway would look silent and be marked down, live or not. So the
 * time the principal stalled is not counted as anyone's silence.
 *
 * The daemon ticks the clock at least every period (the sweep) and after every turn of
 * its loop's I/O; a tick that comes two periods or more after the last one means the
 * loop did not run, and the whole gap is taken as a stall (the loop may have stopped
 * just after the last tick: too much excused delays a verdict by one period, too little
 * marks a live gateway down). A stall stays excused until the principal has run for the
 * window (down_after) since it ended: by then every gateway that is alive had down_after
 * of the principal's running time to be heard from, so a gateway still silent is marked
 * down, within down_after of running time of its last heartbeat.
 *
 * A core with no clock of its own: the caller passes milliseconds of a monotonic clock,
 * so that tests drive it with a fake one. */
#ifndef INSEL_STALL_CLOCK_H
#define INSEL_STALL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Stalls remembered one by one; when more are still excused, the two oldest are counted
 * as one that ended with the later (excused a little longer, never less). */
#define STALL_CLOCK_KEPT 8

struct stall_clock {
	uint64_t period_ms;   /* the longest the daemon goes between ticks while it runs */
	uint64_t window_ms;   /* running time a stall stays excused after it ended */
	uint64_t last_ms;     /* the last tick */
	uint64_t stalled_ms;  /* every stall so far: running time is the clock less this */
	size_t n;
	struct {
		uint64_t ended_ms;  /* on the running clock */
		uint64_t len_ms;
	} kept[STALL_CLOCK_KEPT];
};

void stall_clock_init(struct stall_clock *c, uint64_t period_ms, uint64_t window_ms,
		      uint64_t now_ms);
/* The principal is running at now_ms: the length of the stall that ended now (ms), or 0
 * when it ran on time. */
uint64_t stall_clock_tick(struct stall_clock *c, uint64_t now_ms);
/* The stalls not yet run off (ms): not counted as any gateway's silence now. */
uint64_t stall_clock_excused_ms(const struct stall_clock *c);

#endif
