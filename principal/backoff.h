/* Back-off against guessing: a bounded table of keys (a user name, a source address), each
 * with its recent failures and the checks it has in flight. A check may start only when
 * its key has no wait pending and fewer than max_inflight checks running; after
 * free_failures failures in a row, each further failure doubles the wait, from base_ms up
 * to max_ms. A key quiet for forget_ms is forgotten.
 *
 * A core with no I/O and no clock of its own: the caller passes the time (milliseconds on
 * any monotonic clock), so that tests drive it with a fake one. The table never grows:
 * keys hash (with a random seed) into small buckets, and a full bucket gives up its least
 * recently seen key that has nothing in flight. */
#ifndef INSEL_BACKOFF_H
#define INSEL_BACKOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BACKOFF_KEY_MAX 160  /* longer keys are cut (still distinct by their start) */

struct backoff_policy {
	unsigned free_failures;  /* failures in a row allowed before any wait */
	uint64_t base_ms;        /* the first wait */
	uint64_t max_ms;         /* the longest wait */
	uint64_t forget_ms;      /* a key with no failure for this long starts afresh */
	unsigned max_inflight;   /* checks running at once for one key */
	bool success_resets;     /* a success clears the key's failures */
};

enum backoff_outcome {
	BACKOFF_SUCCESS,
	BACKOFF_FAILURE,
	BACKOFF_CANCELLED,  /* the check did not run (no verdict): only frees its slot */
};

struct backoff_table;

/* capacity: keys remembered at most (rounded up to whole buckets). NULL if out of memory. */
struct backoff_table *backoff_new(const struct backoff_policy *policy, size_t capacity);
void backoff_free(struct backoff_table *t);

/* May a check for key start at now_ms? 0: yes, and it counts as in flight until
 * backoff_end. INSEL_E_BUSY: not now; *retry_ms (if not NULL) says how long until the
 * key's wait ends (0 when only the in-flight cap is in the way). */
int backoff_begin(struct backoff_table *t, const char *key, uint64_t now_ms,
		  uint64_t *retry_ms);
/* The check that backoff_begin let start has ended. */
void backoff_end(struct backoff_table *t, const char *key, enum backoff_outcome outcome,
		 uint64_t now_ms);
/* Failures in a row recorded for key (0 if unknown), for logs and tests. */
unsigned backoff_failures(const struct backoff_table *t, const char *key);

#endif
