/* The principal's running time: stalls of its loop, and how long each stays excused
 * (stall_clock.h). */
#include "stall_clock.h"

#include <string.h>

void stall_clock_init(struct stall_clock *c, uint64_t period_ms, uint64_t window_ms,
		      uint64_t now_ms)
{
	memset(c, 0, sizeof *c);
	c->period_ms = period_ms;
	c->window_ms = window_ms;
	c->last_ms = now_ms;
}

static void keep(struct stall_clock *c, uint64_t ended_ms, uint64_t len_ms)
{
	if (c->n == STALL_CLOCK_KEPT) {
		c->kept[1].len_ms += c->kept[0].len_ms;
		memmove(&c->kept[0], &c->kept[1], (c->n - 1) * sizeof c->kept[0]);
		c->n--;
	}
	c->kept[c->n].ended_ms = ended_ms;
	c->kept[c->n].len_ms = len_ms;
	c->n++;
}

/* Stalls the principal has run for the window since: every gateway had its chance. */
static void forget_run_off(struct stall_clock *c, uint64_t running_ms)
{
	size_t off = 0;

	while (off < c->n && running_ms - c->kept[off].ended_ms >= c->window_ms)
		off++;
	memmove(&c->kept[0], &c->kept[off], (c->n - off) * sizeof c->kept[0]);
	c->n -= off;
}

uint64_t stall_clock_tick(struct stall_clock *c, uint64_t now_ms)
{
	uint64_t gap = now_ms > c->last_ms ? now_ms - c->last_ms : 0;
	uint64_t stall = gap >= 2 * c->period_ms ? gap : 0;

	c->last_ms = now_ms > c->last_ms ? now_ms : c->last_ms;
	if (stall) {
		c->stalled_ms += stall;
		keep(c, c->last_ms - c->stalled_ms, stall);
	}
	forget_run_off(c, c->last_ms - c->stalled_ms);
	return stall;
}

uint64_t stall_clock_excused_ms(const struct stall_clock *c)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < c->n; i++)
		sum += c->kept[i].len_ms;
	return sum;
}
