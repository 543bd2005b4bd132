/* Range sets and FIFOs of the reliable engine (reliable_sets.h). */
#include "reliable_sets.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int rangeset_init(struct rangeset *s, unsigned cap)
{
	s->n = 0;
	s->cap = cap;
	s->r = calloc(cap, sizeof(*s->r));
	return s->r ? 0 : -ENOMEM;
}

void rangeset_free(struct rangeset *s)
{
	free(s->r);
	*s = (struct rangeset){ 0 };
}

unsigned rangeset_find(const struct rangeset *s, uint64_t x)
{
	unsigned lo = 0, hi = s->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (s->r[mid].end <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Bytes of [start, end) already covered by ranges i .. j-1 (which all touch it). */
static uint64_t covered_within(const struct rangeset *s, unsigned i, unsigned j,
			       uint64_t start, uint64_t end)
{
	uint64_t sum = 0;

	for (unsigned k = i; k < j; k++) {
		uint64_t a = s->r[k].start > start ? s->r[k].start : start;
		uint64_t b = s->r[k].end < end ? s->r[k].end : end;

		if (b > a)
			sum += b - a;
	}
	return sum;
}

int64_t rangeset_add(struct rangeset *s, uint64_t start, uint64_t end)
{
	unsigned i, j;
	uint64_t before;
	int64_t fresh;

	if (end <= start)
		return 0;
	/* Ranges i .. j-1 overlap or touch [start, end) and merge with it. */
	i = rangeset_find(s, start);
	if (i > 0 && s->r[i - 1].end == start)
		i--;
	j = i;
	while (j < s->n && s->r[j].start <= end)
		j++;
	if (i == j) {
		if (s->n == s->cap)
			return -1;
		memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(s->r[0]));
		s->r[i] = (struct range){ start, end };
		s->n++;
		return (int64_t)(end - start);
	}
	before = covered_within(s, i, j, start, end);
	fresh = (int64_t)(end - start) - (int64_t)before;
	if (s->r[i].start < start)
		start = s->r[i].start;
	if (s->r[j - 1].end > end)
		end = s->r[j - 1].end;
	s->r[i] = (struct range){ start, end };
	memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof(s->r[0]));
	s->n -= j - i - 1;
	return fresh;
}

bool rangeset_covers(const struct rangeset *s, uint64_t start, uint64_t end)
{
	unsigned i;

	if (end <= start)
		return true;
	i = rangeset_find(s, start);
	return i < s->n && s->r[i].start <= start && s->r[i].end >= end;
}

void rangeset_trim_below(struct rangeset *s, uint64_t x)
{
	unsigned i = rangeset_find(s, x);

	if (i > 0) {
		memmove(&s->r[0], &s->r[i], (s->n - i) * sizeof(s->r[0]));
		s->n -= i;
	}
	if (s->n > 0 && s->r[0].start < x)
		s->r[0].start = x;
}

void fifo_init(struct fifo *f)
{
	*f = (struct fifo){ 0 };
}

void fifo_free(struct fifo *f)
{
	free(f->v);
	fifo_init(f);
}

static int fifo_grow(struct fifo *f)
{
	size_t cap = f->cap ? f->cap * 2 : 64;
	struct range *v = malloc(cap * sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t k = 0; k < f->n; k++)
		v[k] = f->v[(f->head + k) & (f->cap - 1)];
	free(f->v);
	f->v = v;
	f->cap = cap;
	f->head = 0;
	return 0;
}

int fifo_push(struct fifo *f, uint64_t start, uint64_t end)
{
	if (f->n == f->cap && fifo_grow(f) < 0)
		return -ENOMEM;
	f->v[(f->head + f->n) & (f->cap - 1)] = (struct range){ start, end };
	f->n++;
	return 0;
}

void fifo_pop(struct fifo *f)
{
	if (f->n == 0)
		return;
	f->head++;
	f->n--;
}

void fifo_clear(struct fifo *f)
{
	f->head = 0;
	f->n = 0;
}
