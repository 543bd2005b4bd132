/* RFC 6479 replay window (see replay.h). */
#include "replay.h"

#include <string.h>

#define WORD_BITS 64

static uint64_t word_index(uint64_t counter)
{
	return (counter / WORD_BITS) % REPLAY_WORDS;
}

static uint64_t bit_mask(uint64_t counter)
{
	return 1ULL << (counter % WORD_BITS);
}

void replay_init(struct replay_window *w)
{
	memset(w, 0, sizeof *w);
}

bool replay_check(const struct replay_window *w, uint64_t counter)
{
	if (counter >= REPLAY_COUNTER_LIMIT)
		return false;
	if (!w->any || counter > w->newest)
		return true;
	if (w->newest - counter > REPLAY_WINDOW)
		return false;
	return (w->ring[word_index(counter)] & bit_mask(counter)) == 0;
}

/* Moves the newest edge up to counter, clearing the words the window slides over. */
static void slide_to(struct replay_window *w, uint64_t counter)
{
	uint64_t from = w->newest / WORD_BITS, to = counter / WORD_BITS;
	uint64_t steps = to - from;

	if (steps > REPLAY_WORDS)
		steps = REPLAY_WORDS;
	for (uint64_t i = 1; i <= steps; i++)
		w->ring[(from + i) % REPLAY_WORDS] = 0;
	w->newest = counter;
}

void replay_commit(struct replay_window *w, uint64_t counter)
{
	if (!replay_check(w, counter))
		return;
	if (!w->any) {
		memset(w->ring, 0, sizeof w->ring);
		w->newest = counter;
		w->any = true;
	} else if (counter > w->newest) {
		slide_to(w, counter);
	}
	w->ring[word_index(counter)] |= bit_mask(counter);
}
