/* The token bucket of ratelimit.h. Tokens are kept in thousandths so that a rate below
 * 1000 a second still refills a little every millisecond; the bucket never holds more
 * than burst whole tokens, so an idle hour buys no more than one burst. With a rate of 0
 * it never refills: the first burst is all there is. */
#include "ratelimit.h"

#define MILLI 1000u

void ratelimit_init(struct ratelimit *r, uint32_t rate, uint32_t burst, uint64_t now_ms)
{
	*r = (struct ratelimit){.rate = rate, .burst = burst,
				.milli_tokens = (uint64_t)burst * MILLI, .last_ms = now_ms};
}

static void refill(struct ratelimit *r, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)r->burst * MILLI;
	uint64_t elapsed;

	if (now_ms <= r->last_ms || r->rate == 0)
		return;
	elapsed = now_ms - r->last_ms;
	r->last_ms = now_ms;
	/* rate events a second = rate thousandths a millisecond; past a full bucket's worth
	 * the product would only be capped (and could overflow after aeons). */
	if (elapsed >= cap / r->rate + 1) {
		r->milli_tokens = cap;
		return;
	}
	r->milli_tokens += elapsed * r->rate;
	if (r->milli_tokens > cap)
		r->milli_tokens = cap;
}

bool ratelimit_allow(struct ratelimit *r, uint64_t now_ms)
{
	refill(r, now_ms);
	if (r->milli_tokens < MILLI) {
		r->limited++;
		return false;
	}
	r->milli_tokens -= MILLI;
	r->allowed++;
	return true;
}
