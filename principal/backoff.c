/* Back-off per key against guessing (see backoff.h): a set-associative table of slots,
 * each holding one key's failures in a row, the time of its last failure and its checks
 * in flight. */
#include "backoff.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rand.h"

#define BACKOFF_WAYS 8  /* slots per bucket */

struct backoff_slot {
	char key[BACKOFF_KEY_MAX + 1];  /* "" when free */
	unsigned failures;              /* in a row */
	unsigned inflight;
	uint64_t last_failure_ms;
	uint64_t last_seen_ms;
};

struct backoff_table {
	struct backoff_policy policy;
	uint64_t seed;
	size_t nbuckets;
	struct backoff_slot slots[];    /* nbuckets * BACKOFF_WAYS */
};

struct backoff_table *backoff_new(const struct backoff_policy *policy, size_t capacity)
{
	size_t nbuckets = (capacity + BACKOFF_WAYS - 1) / BACKOFF_WAYS;
	struct backoff_table *t;

	if (nbuckets == 0)
		nbuckets = 1;
	t = calloc(1, sizeof *t + nbuckets * BACKOFF_WAYS * sizeof t->slots[0]);
	if (!t)
		return NULL;
	t->policy = *policy;
	if (t->policy.max_inflight == 0)
		t->policy.max_inflight = 1;
	t->nbuckets = nbuckets;
	/* Unknown to whoever chooses the keys: they cannot aim many keys at one bucket. */
	rand_key(&t->seed, sizeof t->seed);
	return t;
}

void backoff_free(struct backoff_table *t)
{
	free(t);
}

/* FNV-1a over the seed and the key (as far as a slot keeps it). */
static struct backoff_slot *bucket_of(const struct backoff_table *t, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ t->seed;

	for (size_t i = 0; key[i] && i < BACKOFF_KEY_MAX; i++) {
		h ^= (uint8_t)key[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	return (struct backoff_slot *)&t->slots[(h % t->nbuckets) * BACKOFF_WAYS];
}

static bool slot_is(const struct backoff_slot *s, const char *key)
{
	return s->key[0] && strncmp(s->key, key, BACKOFF_KEY_MAX) == 0;
}

static struct backoff_slot *find(const struct backoff_table *t, const char *key)
{
	struct backoff_slot *b = bucket_of(t, key);

	for (size_t i = 0; i < BACKOFF_WAYS; i++)
		if (slot_is(&b[i], key))
			return &b[i];
	return NULL;
}

/* A slot with nothing in flight and no failure within forget_ms holds nothing worth
 * keeping. */
static bool slot_stale(const struct backoff_table *t, const struct backoff_slot *s,
		       uint64_t now_ms)
{
	return s->inflight == 0 &&
	       (s->failures == 0 || now_ms - s->last_failure_ms >= t->policy.forget_ms);
}

/* The key's slot, or a fresh one for it: a free slot, else a stale one, else the least
 * recently seen with nothing in flight. NULL if every slot of the bucket is busy. */
static struct backoff_slot *find_or_take(struct backoff_table *t, const char *key,
					 uint64_t now_ms)
{
	struct backoff_slot *b = bucket_of(t, key), *pick = NULL;
	bool free_slot;

	for (size_t i = 0; i < BACKOFF_WAYS; i++)
		if (slot_is(&b[i], key))
			return &b[i];
	for (size_t i = 0; i < BACKOFF_WAYS && !pick; i++)
		if (!b[i].key[0] || slot_stale(t, &b[i], now_ms))
			pick = &b[i];
	free_slot = pick != NULL;
	for (size_t i = 0; i < BACKOFF_WAYS && !free_slot; i++)
		if (b[i].inflight == 0 && (!pick || b[i].last_seen_ms < pick->last_seen_ms))
			pick = &b[i];
	if (!pick)
		return NULL;
	memset(pick, 0, sizeof *pick);
	strncpy(pick->key, key, BACKOFF_KEY_MAX);
	return pick;
}

/* How long after its last failure the key must wait. */
static uint64_t wait_ms(const struct backoff_policy *p, unsigned failures)
{
	uint64_t w = p->base_ms;

	if (failures < p->free_failures || p->base_ms == 0)
		return 0;
	for (unsigned i = p->free_failures; i < failures && w < p->max_ms; i++)
		w *= 2;
	return w < p->max_ms ? w : p->max_ms;
}

int backoff_begin(struct backoff_table *t, const char *key, uint64_t now_ms,
		  uint64_t *retry_ms)
{
	struct backoff_slot *s = find_or_take(t, key, now_ms);
	uint64_t until;

	if (retry_ms)
		*retry_ms = 0;
	if (!s)
		return INSEL_E_BUSY;
	s->last_seen_ms = now_ms;
	if (s->failures && now_ms - s->last_failure_ms >= t->policy.forget_ms)
		s->failures = 0;
	until = s->last_failure_ms + wait_ms(&t->policy, s->failures);
	if (s->failures && now_ms < until) {
		if (retry_ms)
			*retry_ms = until - now_ms;
		return INSEL_E_BUSY;
	}
	if (s->inflight >= t->policy.max_inflight)
		return INSEL_E_BUSY;
	s->inflight++;
	return 0;
}

void backoff_end(struct backoff_table *t, const char *key, enum backoff_outcome outcome,
		 uint64_t now_ms)
{
	struct backoff_slot *s = find(t, key);

	/* A slot with a check in flight is never given away, so it is still there. */
	if (!s)
		return;
	if (s->inflight)
		s->inflight--;
	s->last_seen_ms = now_ms;
	if (outcome == BACKOFF_FAILURE) {
		s->failures++;
		s->last_failure_ms = now_ms;
	} else if (outcome == BACKOFF_SUCCESS && t->policy.success_resets) {
		s->failures = 0;
	}
}

unsigned backoff_failures(const struct backoff_table *t, const char *key)
{
	const struct backoff_slot *s = find(t, key);

	return s ? s->failures : 0;
}
