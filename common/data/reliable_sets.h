/* Two small containers of the reliable engine (reliable.c), apart so each is tested alone:
 *   rangeset  sorted, disjoint, non-touching [start, end) ranges of sequence space with a
 *             fixed capacity: the receiver's out-of-order data (its SACK blocks), the
 *             sender's SACK scoreboard, the unordered receiver's delivered messages.
 *             Adding is O(ranges) (a memmove); a window with a loss every few segments
 *             has tens of ranges, not thousands, and a full set refuses new ranges
 *             (the data comes again).
 *   fifo      a growable ring of ranges (or of record numbers in .start), amortized O(1). */
#ifndef INSEL_RELIABLE_SETS_H
#define INSEL_RELIABLE_SETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct range {
	uint64_t start, end;
};

struct rangeset {
	unsigned n, cap;
	struct range *r;
};

/* 0 or -ENOMEM; cap ranges at most. */
int rangeset_init(struct rangeset *s, unsigned cap);
void rangeset_free(struct rangeset *s);

/* Adds [start, end): the bytes not covered before (0 if all were), or -1 when the set is
 * full and the range would need a new entry (nothing changed). */
int64_t rangeset_add(struct rangeset *s, uint64_t start, uint64_t end);
/* True if [start, end) is wholly covered. */
bool rangeset_covers(const struct rangeset *s, uint64_t start, uint64_t end);
/* Forgets everything below x (trims a range that straddles it). */
void rangeset_trim_below(struct rangeset *s, uint64_t x);
/* Index of the first range whose end is above x (s->n if none). */
unsigned rangeset_find(const struct rangeset *s, uint64_t x);

struct fifo {
	struct range *v;
	size_t head, n, cap;  /* cap a power of two */
};

void fifo_init(struct fifo *f);
void fifo_free(struct fifo *f);
/* 0 or -ENOMEM. */
int fifo_push(struct fifo *f, uint64_t start, uint64_t end);
static inline bool fifo_empty(const struct fifo *f) { return f->n == 0; }
static inline struct range *fifo_front(const struct fifo *f)
{
	return &f->v[f->head & (f->cap - 1)];
}
void fifo_pop(struct fifo *f);
void fifo_clear(struct fifo *f);

#endif
