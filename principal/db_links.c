/* Directory queries for the overlay's links (docs/routing.md): the measurements each
 * secondary reports, the operator's weight and penalty per link, and the pairs that routes
 * are computed over. A pair's cost is route_link_cost's, so the listing, the routes and
 * the relay ranking all price a link the same way. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "db_internal.h"
#include "err.h"
#include "principal_ops.h"
#include "route.h"

static int report_one(struct db *db, int64_t from_id, const struct pop_link *l, int64_t now,
		      size_t *recorded)
{
	struct db_st *st;
	int64_t to_id;
	int rc = db_secondary_id(db, l->peer, &to_id);

	if (rc == INSEL_E_NOT_FOUND || to_id == from_id)
		return 0;  /* a peer the directory no longer knows, or ourselves: nothing to keep */
	if (rc)
		return rc;
	st = db_stmt(db, ST_LINK_UPSERT);
	st_bind_int64(st, 1, from_id);
	st_bind_int64(st, 2, to_id);
	st_bind_text(st, 3, pop_link_kind_name(l->kind));
	st_bind_int64(st, 4, l->rtt_ms);
	st_bind_int64(st, 5, l->loss_ppm);
	st_bind_int64(st, 6, l->probes);
	if (l->probes > 0 && l->loss_ppm < POP_LINK_LOSS_SCALE)
		st_bind_int64(st, 7, now - l->age_ms / 1000);
	st_bind_int64(st, 8, now);
	if ((rc = db_exec_stmt(db, st, "cannot record a link")) == 0)
		(*recorded)++;
	return rc;
}

static int report_tx(struct db *db, const char *from, const struct pop_link *links, size_t n,
		     int64_t now, size_t *recorded)
{
	struct db_st *st;
	int64_t from_id;
	int rc = db_secondary_id(db, from, &from_id);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = report_one(db, from_id, &links[i], now, recorded);
	if (rc)
		return rc;
	st = db_stmt(db, ST_LINK_EXPIRE);
	st_bind_int64(st, 1, now - DB_LINK_EXPIRY_S);
	return db_exec_stmt(db, st, "cannot expire old links");
}

int db_links_report(struct db *db, const char *from, const struct pop_link *links, size_t n,
		    int64_t now, size_t *recorded)
{
	int rc = db_tx_begin(db);

	*recorded = 0;
	if (rc)
		return rc;
	rc = db_tx_end(db, report_tx(db, from, links, n, now, recorded));
	if (rc)
		*recorded = 0;
	return rc;
}

static int link_set_tx(struct db *db, const char *a, const char *b, const double *weight,
		       const int64_t *penalty_ms, int64_t now)
{
	int64_t a_id, b_id;
	struct db_st *st;
	int rc;

	if ((rc = db_secondary_id(db, a, &a_id)) || (rc = db_secondary_id(db, b, &b_id)))
		return rc;
	if (a_id == b_id)
		return db_set_error(db, INSEL_E_BAD_FIELD, "a link joins two different secondaries");
	st = db_stmt(db, ST_LINK_SET);
	st_bind_int64(st, 1, a_id < b_id ? a_id : b_id);
	st_bind_int64(st, 2, a_id < b_id ? b_id : a_id);
	if (weight)
		st_bind_double(st, 3, *weight);
	if (penalty_ms)
		st_bind_int64(st, 4, *penalty_ms);
	st_bind_int64(st, 5, now);
	return db_exec_stmt(db, st, "cannot set the link");
}

int db_link_set(struct db *db, const char *a, const char *b, const double *weight,
		const int64_t *penalty_ms, int64_t now)
{
	int rc;

	if (weight && !(*weight >= ROUTE_WEIGHT_MIN && *weight <= ROUTE_WEIGHT_MAX))
		return db_set_error(db, INSEL_E_BAD_FIELD, "a weight is a number from %g to %g",
				    ROUTE_WEIGHT_MIN, ROUTE_WEIGHT_MAX);
	if (penalty_ms && (*penalty_ms < 0 || *penalty_ms > (int64_t)ROUTE_PENALTY_MAX_MS))
		return db_set_error(db, INSEL_E_BAD_FIELD, "a penalty is 0 to %.0f ms",
				    ROUTE_PENALTY_MAX_MS);
	rc = db_tx_begin(db);
	return rc ? rc : db_tx_end(db, link_set_tx(db, a, b, weight, penalty_ms, now));
}

/* Loss as a percentage with two decimals (what people read), from parts per million. */
static double loss_pct(int64_t ppm)
{
	return round((double)ppm / 100.0) / 100.0;
}

/* Rounded to a tenth: the listings' cost. */
static double tenth(double v)
{
	return round(v * 10) / 10;
}

static json_t *link_row(struct db_st *st, const void *ctx)
{
	int64_t now = *(const int64_t *)ctx;
	int64_t rtt = st_col_int64(st, 3), loss = st_col_int64(st, 4);
	double weight = st_col_double(st, 8);
	int64_t penalty = st_col_int64(st, 9);

	return json_pack("{s:s, s:s, s:s, s:I, s:f, s:I, s:o, s:I, s:f, s:I, s:f, s:s}",
			 "from", db_col_text(st, 0), "to", db_col_text(st, 1),
			 "kind", db_col_text(st, 2), "rtt_ms", (json_int_t)rtt,
			 "loss_pct", loss_pct(loss), "probes",
			 (json_int_t)st_col_int64(st, 5),
			 "last_seen", db_col_json_int(st, 6),
			 "measured_at", (json_int_t)st_col_int64(st, 7),
			 "weight", weight, "penalty_ms", (json_int_t)penalty,
			 "cost", tenth(route_link_cost((double)rtt, (double)loss / POP_LINK_LOSS_SCALE,
						       weight, (double)penalty)),
			 "state", st_col_int64(st, 7) < now - DB_LINK_STALE_S ? "stale"
										    : "fresh");
}

int db_link_list(struct db *db, int64_t now, json_t **out)
{
	return db_list_rows(db, db_stmt(db, ST_LINK_LIST), link_row, &now, "cannot list links",
			    out);
}

static json_t *pair_row(struct db_st *st, const void *ctx)
{
	int64_t rtt = st_col_int64(st, 3), loss = st_col_int64(st, 4);
	double weight = st_col_double(st, 5);
	int64_t penalty = st_col_int64(st, 6);

	(void)ctx;
	return json_pack("{s:s, s:s, s:s, s:I, s:f, s:f, s:I, s:f}",
			 "a", db_col_text(st, 0), "b", db_col_text(st, 1),
			 "kind", db_col_text(st, 2), "rtt_ms", (json_int_t)rtt,
			 "loss_pct", loss_pct(loss), "weight", weight,
			 "penalty_ms", (json_int_t)penalty,
			 "cost", route_link_cost((double)rtt, (double)loss / POP_LINK_LOSS_SCALE,
						 weight, (double)penalty));
}

int db_link_pairs(struct db *db, int64_t now, json_t **out)
{
	struct db_st *st = db_stmt(db, ST_LINK_PAIRS);

	st_bind_int64(st, 1, now - DB_LINK_STALE_S);
	return db_list_rows(db, st, pair_row, NULL, "cannot read the links", out);
}
