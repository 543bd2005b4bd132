/* The secondary's /metrics page (metrics.c, docs/metrics.md): calls by state, set-ups and
 * their duration, refusals and endings by reason, traffic and drops by reason summed over
 * the auxiliaries, trunks up, and the principal link. Off unless [metrics] listen is
 * configured. */
#ifndef INSEL_SECONDARY_METRICS_H
#define INSEL_SECONDARY_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct secondary;
struct call;

/* Starts serving /metrics when [metrics] listen is set; 0 or a negative error (logged). */
int sec_metrics_start(struct secondary *s);
void sec_metrics_stop(struct secondary *s);
void sec_metrics_free(struct secondary *s);

/* The call came up after ms since it was made. */
void sec_metrics_call_up(struct secondary *s, uint64_t ms);
/* The call ended: refused or failed when it never came up, else ended, by reason. */
void sec_metrics_call_ended(struct secondary *s, const char *reason, bool was_up);
/* The call lets go of its auxiliary: a stats request still out is forgotten. */
void sec_metrics_call_gone(struct call *call);
/* The auxiliary's last stats of a call that ends (its "hangup" reply), or NULL: added to
 * the totals of calls gone (a room leg's under its call's room). */
void sec_metrics_call_final(struct call *call, const json_t *stats);

/* Asks every auxiliary of a call up for fresh stats (into call->last_stats), at most once
 * a second whoever asks, at most 512 requests out, none waited for: /metrics and the
 * call rates reported to the principal (call_rates.c) share them. */
void sec_stats_refresh(struct secondary *s);

#endif
