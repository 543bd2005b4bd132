/* A token bucket: at most `burst` events at once, refilled at `rate` events a second, on a
 * clock the caller passes in (milliseconds, never going back). No I/O and no clock of its
 * own, so it is tested with a fake one. The auxiliary uses it to bound the ICMP errors it
 * writes back to the LAN, as a kernel bounds its own (icmp_msgs_per_sec, icmp_msgs_burst):
 * a host that floods the tunnel with oversized packets gets "too big" for some of them,
 * never a flood of ICMP in return. */
#ifndef INSEL_RATELIMIT_H
#define INSEL_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	uint32_t rate;          /* events a second */
	uint32_t burst;         /* events at most at once (the bucket's size) */
	uint64_t milli_tokens;  /* what is in the bucket, in thousandths of an event */
	uint64_t last_ms;       /* when it was last refilled */
	uint64_t allowed, limited;   /* events let through, events refused */
};

/* A full bucket at now_ms. A burst of 0 refuses everything; a rate of 0 allows the first
 * burst and nothing after. */
void ratelimit_init(struct ratelimit *r, uint32_t rate, uint32_t burst, uint64_t now_ms);
/* Takes one event's token if there is one: true, and counted as allowed; else false, and
 * counted as limited. A clock that went back is taken as standing still. */
bool ratelimit_allow(struct ratelimit *r, uint64_t now_ms);

#endif
