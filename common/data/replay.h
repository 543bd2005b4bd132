/* Sliding-window replay filter for data-frame counters (RFC 6479): a ring of 64-bit words
 * holding one bit per counter, so sliding the window clears whole words rather than
 * shifting bits. Checking and committing are separate on purpose: the receiver checks a
 * counter before spending an AEAD open on it, and commits it only once the tag verified,
 * so forged frames can neither move the window nor burn counters.
 *
 * Accepted: any counter above the highest seen, and any counter at most REPLAY_WINDOW
 * below it that was not seen before. Counters at or above REPLAY_COUNTER_LIMIT are never
 * accepted (a sender stops well before). */
#ifndef INSEL_REPLAY_H
#define INSEL_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_WORDS 64                             /* 4096 bits of ring */
#define REPLAY_WINDOW ((REPLAY_WORDS - 1) * 64)     /* 4032 counters behind the newest */
#define REPLAY_COUNTER_LIMIT (UINT64_MAX - (1ULL << 16))

struct replay_window {
	uint64_t newest;  /* highest committed counter (meaningless while !any) */
	bool any;         /* whether a counter was committed yet */
	uint64_t ring[REPLAY_WORDS];
};

void replay_init(struct replay_window *w);
/* Whether counter would be accepted now; changes nothing. */
bool replay_check(const struct replay_window *w, uint64_t counter);
/* Records counter as seen; call only after replay_check said yes and the frame
 * authenticated. A counter replay_check would refuse leaves the window unchanged. */
void replay_commit(struct replay_window *w, uint64_t counter);

#endif
