/* Live calls' rates (docs/webview.md): the byte counters the caller's secondary reports in
 * `call_rates` (docs/principal-api.md), kept in memory per call, and the bytes per second
 * each way over the last interval between two reports. An entry goes when its call ends,
 * or when nothing was heard of it for CALL_RATES_FORGET_MS; at most CALL_RATES_MAX. */
#ifndef INSEL_PRINCIPAL_CALL_RATES_H
#define INSEL_PRINCIPAL_CALL_RATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "principal_ops.h"
#include "web_state.h"

#define CALL_RATES_MAX 8192
#define CALL_RATES_STALE_MS 7000      /* no report for this long: the call is idle (rate 0) */
#define CALL_RATES_FORGET_MS 60000

struct call_rates;

struct call_rates *call_rates_new(void);
void call_rates_free(struct call_rates *t);

/* Monotonic milliseconds, the clock of the functions below. */
uint64_t call_rates_clock_ms(void);

/* Whether the table holds call_id, and for which secondary. */
bool call_rates_has(const struct call_rates *t, const char *call_id, const char *secondary);
/* Takes a report of secondary's for c at now_ms: a known call's rate is updated (a report
 * from another secondary is ignored), a new one added. false when it was not taken. */
bool call_rates_report(struct call_rates *t, const char *secondary,
		       const struct pop_call_count *c, uint64_t now_ms);
/* The call ended. */
void call_rates_forget(struct call_rates *t, const char *call_id);
/* Fills out (up to max) with the calls whose rate is known; a call not heard of for
 * CALL_RATES_STALE_MS has rate 0 (its counters stopped moving). Drops the entries not heard
 * of for CALL_RATES_FORGET_MS. Returns how many were filled; their call_id points into t
 * until its next change. */
size_t call_rates_fill(struct call_rates *t, uint64_t now_ms, struct web_rate *out,
		       size_t max);
size_t call_rates_count(const struct call_rates *t);

#endif
