/* Routes over the directory's link table (docs/routing.md): the fresh pairs of
 * db_link_pairs made into a graph (both directions of each pair, at the pair's cost) and
 * searched with route.h. Nothing is cached: every question reads the table as it is, so a
 * link's change counts from the next question on (a search over 1,000 gateways takes
 * about a millisecond). */
#ifndef INSEL_PRINCIPAL_ROUTES_H
#define INSEL_PRINCIPAL_ROUTES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* The cheapest path between two secondaries, and why:
 * {from, to, cost, hops:[{from, to, kind, rtt_ms, loss_pct, weight, penalty_ms, cost}],
 *  direct: the direct link's cost, or null when there is no fresh one}.
 * INSEL_E_NOT_FOUND (db_errmsg says which) when either is not a secondary or no path of
 * fresh links joins them. */
int routes_find(struct db *db, const char *from, const char *to, int64_t now, json_t **out);

/* For ranking forwarders of a call from a to b: costs[i] = cost(a, via[i]) +
 * cost(via[i], b) over the cheapest paths (INFINITY where either is unknown). 0, or a
 * negative error; INSEL_E_NOT_FOUND only for a or b themselves without any link. */
int routes_cost_via(struct db *db, const char *a, const char *b, const char *const *via,
		    size_t nvia, int64_t now, double *costs);

/* Whether a call from a to b should go through via rather than direct: both the direct
 * link and the route through via are known, and the route is cheaper than the direct
 * link by more than ROUTES_PREFER_MARGIN (measurement noise never moves a call). The
 * costs (INFINITY where unknown) go to via_cost and direct_cost. 0, or a negative error. */
#define ROUTES_PREFER_MARGIN 1.25
int routes_prefer_via(struct db *db, const char *a, const char *b, const char *via,
		      int64_t now, bool *prefer, double *via_cost, double *direct_cost);

/* The same as ranks for a forwarder's choice (relay_choice.h): each cost in tenths,
 * rounded, plus 1 (so never 0), capped at UINT32_MAX; 0 where it is not known. */
int routes_rank_via(struct db *db, const char *a, const char *b, const char *const *via,
		    size_t nvia, int64_t now, uint32_t *ranks);

#endif
