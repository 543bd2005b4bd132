/* Live calls' rates (call_rates.h). A plain array searched linearly: reports come every
 * few seconds per secondary, and the table is bounded. */
#include "call_rates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"

struct rate_entry {
	char call_id[POP_CALL_ID_LEN + 1];
	char secondary[DB_NAME_MAX + 1];  /* who reported it first: only it may update it */
	uint64_t up, down, at_ms;          /* the last counters, on the secondary's clock */
	double rate_up, rate_down;         /* bytes/s between the last two reports */
	bool has_rate;
	uint64_t heard_ms;                 /* our clock */
};

struct call_rates {
	struct rate_entry *e;
	size_t n, cap;
};

struct call_rates *call_rates_new(void)
{
	return calloc(1, sizeof(struct call_rates));
}

void call_rates_free(struct call_rates *t)
{
	if (t)
		free(t->e);
	free(t);
}

uint64_t call_rates_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct rate_entry *find(const struct call_rates *t, const char *call_id)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->e[i].call_id, call_id) == 0)
			return &t->e[i];
	return NULL;
}

bool call_rates_has(const struct call_rates *t, const char *call_id, const char *secondary)
{
	const struct rate_entry *e = find(t, call_id);

	return e && strcmp(e->secondary, secondary) == 0;
}

static struct rate_entry *add(struct call_rates *t, const char *secondary, const char *call_id)
{
	struct rate_entry *e;

	if (t->n == CALL_RATES_MAX)
		return NULL;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct rate_entry *grown = realloc(t->e, cap * sizeof *grown);

		if (!grown)
			return NULL;
		t->e = grown;
		t->cap = cap;
	}
	e = &t->e[t->n++];
	memset(e, 0, sizeof *e);
	snprintf(e->call_id, sizeof e->call_id, "%s", call_id);
	snprintf(e->secondary, sizeof e->secondary, "%s", secondary);
	return e;
}

bool call_rates_report(struct call_rates *t, const char *secondary,
		       const struct pop_call_count *c, uint64_t now_ms)
{
	struct rate_entry *e = find(t, c->call_id);

	if (e && strcmp(e->secondary, secondary) != 0)
		return false;
	if (!e) {
		if (!(e = add(t, secondary, c->call_id)))
			return false;
	} else if (c->at_ms > e->at_ms && c->bytes_up >= e->up && c->bytes_down >= e->down) {
		double seconds = (double)(c->at_ms - e->at_ms) / 1000.0;

		e->rate_up = (double)(c->bytes_up - e->up) / seconds;
		e->rate_down = (double)(c->bytes_down - e->down) / seconds;
		e->has_rate = true;
	} else if (c->at_ms <= e->at_ms) {
		return false;  /* older than what we hold, or the same: nothing new */
	} else {
		e->has_rate = false;  /* counters went back (a new auxiliary): start again */
	}
	e->up = c->bytes_up;
	e->down = c->bytes_down;
	e->at_ms = c->at_ms;
	e->heard_ms = now_ms;
	return true;
}

static void remove_at(struct call_rates *t, size_t i)
{
	t->e[i] = t->e[--t->n];
}

void call_rates_forget(struct call_rates *t, const char *call_id)
{
	struct rate_entry *e = t ? find(t, call_id) : NULL;

	if (e)
		remove_at(t, (size_t)(e - t->e));
}

size_t call_rates_fill(struct call_rates *t, uint64_t now_ms, struct web_rate *out,
		       size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n;) {
		struct rate_entry *e = &t->e[i];
		uint64_t quiet = now_ms > e->heard_ms ? now_ms - e->heard_ms : 0;

		if (quiet >= CALL_RATES_FORGET_MS) {
			remove_at(t, i);
			continue;
		}
		i++;
		if (n == max || (!e->has_rate && quiet < CALL_RATES_STALE_MS))
			continue;
		out[n].call_id = e->call_id;
		out[n].up = quiet < CALL_RATES_STALE_MS ? e->rate_up : 0;
		out[n].down = quiet < CALL_RATES_STALE_MS ? e->rate_down : 0;
		n++;
	}
	return n;
}

size_t call_rates_count(const struct call_rates *t)
{
	return t->n;
}
