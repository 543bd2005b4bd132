/* Unit tests for the link table and the routes over it (principal/db_links.c, routes.c)
 * against a temporary directory: reports replacing measurements, unknown peers skipped,
 * the listing's cost and state, a slow link avoided through a third gateway and the
 * route back once it is fast again, the operator's penalty doing the same, stale links
 * left out of routes and old ones deleted, and the cost of a forwarder between two. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "db.h"
#include "db_fixture.h"
#include "err.h"
#include "principal_ops.h"
#include "route.h"
#include "routes.h"

#define NOW 1700000000

static int setup(void **state)
{
	struct fixture *f = fixture_new("links");

	assert_int_equal(db_secondary_add(f->db, "gw-a", NULL, NOW), 0);
	assert_int_equal(db_secondary_add(f->db, "gw-b", NULL, NOW), 0);
	assert_int_equal(db_secondary_add(f->db, "gw-c", NULL, NOW), 0);
	*state = f;
	return 0;
}

/* One report from `from` about one peer. */
static void report(struct db *db, const char *from, const char *peer, uint32_t rtt,
		   uint32_t loss_ppm, int64_t now)
{
	struct pop_link l = {.kind = POP_LINK_DIRECT, .rtt_ms = rtt, .loss_ppm = loss_ppm,
			     .probes = 30, .age_ms = 500};
	size_t recorded;

	snprintf(l.peer, sizeof l.peer, "%s", peer);
	assert_int_equal(db_links_report(db, from, &l, 1, now, &recorded), 0);
	assert_int_equal(recorded, 1);
}

/* The path from a to b as "a b c ..." */
static void assert_route(struct db *db, const char *a, const char *b, int64_t now,
			 const char *expected)
{
	json_t *r = NULL, *h;
	char path[256];
	size_t i, used;

	assert_int_equal(routes_find(db, a, b, now, &r), 0);
	used = (size_t)snprintf(path, sizeof path, "%s", a);
	json_array_foreach(json_object_get(r, "hops"), i, h)
		used += (size_t)snprintf(path + used, sizeof path - used, " %s",
					 json_string_value(json_object_get(h, "to")));
	assert_string_equal(path, expected);
	json_decref(r);
}

static void triangle(struct db *db, uint32_t ab_rtt, int64_t now)
{
	report(db, "gw-a", "gw-b", ab_rtt, 0, now);
	report(db, "gw-a", "gw-c", 5, 0, now);
	report(db, "gw-c", "gw-b", 5, 0, now);
}

static void reports_and_listing(void **state)
{
	struct fixture *f = *state;
	struct pop_link l[2] = {{.peer = "gw-b", .kind = POP_LINK_RELAYED, .rtt_ms = 40,
				 .loss_ppm = 100000, .probes = 10, .age_ms = 2000},
				{.peer = "gw-unknown", .kind = POP_LINK_DIRECT, .rtt_ms = 1,
				 .probes = 1}};
	json_t *rows = NULL, *row;
	size_t recorded;

	(void)state;
	assert_int_equal(db_links_report(f->db, "gw-a", l, 2, NOW, &recorded), 0);
	assert_int_equal(recorded, 1);  /* a peer the directory does not know is skipped */
	assert_int_equal(db_link_list(f->db, NOW, &rows), 0);
	assert_int_equal(json_array_size(rows), 1);
	row = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(row, "from")), "gw-a");
	assert_string_equal(json_string_value(json_object_get(row, "to")), "gw-b");
	assert_string_equal(json_string_value(json_object_get(row, "kind")), "relayed");
	assert_int_equal(json_integer_value(json_object_get(row, "rtt_ms")), 40);
	assert_true(fabs(json_real_value(json_object_get(row, "loss_pct")) - 10) < 1e-9);
	assert_int_equal(json_integer_value(json_object_get(row, "last_seen")), NOW - 2);
	/* (40 + 2) * (1 + 10 * 0.1) */
	assert_true(fabs(json_real_value(json_object_get(row, "cost")) - 84) < 1e-9);
	assert_string_equal(json_string_value(json_object_get(row, "state")), "fresh");
	json_decref(rows);

	/* A newer report replaces it; the listing says when it goes stale. */
	report(f->db, "gw-a", "gw-b", 7, 0, NOW + 10);
	assert_int_equal(db_link_list(f->db, NOW + 10 + DB_LINK_STALE_S + 1, &rows), 0);
	assert_int_equal(json_array_size(rows), 1);
	row = json_array_get(rows, 0);
	assert_int_equal(json_integer_value(json_object_get(row, "rtt_ms")), 7);
	assert_string_equal(json_string_value(json_object_get(row, "state")), "stale");
	json_decref(rows);
	/* A report from a secondary the directory does not know fails as a whole. */
	assert_int_equal(db_links_report(f->db, "gw-nobody", l, 1, NOW, &recorded),
			 INSEL_E_NOT_FOUND);
}

static void slow_link_avoided_then_back(void **state)
{
	struct fixture *f = *state;

	triangle(f->db, 100, NOW);
	assert_route(f->db, "gw-a", "gw-b", NOW, "gw-a gw-c gw-b");
	assert_route(f->db, "gw-b", "gw-a", NOW, "gw-b gw-c gw-a");
	triangle(f->db, 3, NOW + 30);
	assert_route(f->db, "gw-a", "gw-b", NOW + 30, "gw-a gw-b");
}

static void loss_counts(void **state)
{
	struct fixture *f = *state;

	/* 3 ms but 40% loss: (3 + 2) * 5 = 25 against (5 + 2) * 2 = 14 through gw-c. */
	triangle(f->db, 3, NOW);
	report(f->db, "gw-b", "gw-a", 3, 400000, NOW);  /* the worse direction counts */
	assert_route(f->db, "gw-a", "gw-b", NOW, "gw-a gw-c gw-b");
}

static void operator_penalty_and_weight(void **state)
{
	struct fixture *f = *state;
	int64_t penalty = 100, none = 0;
	double heavy = 50, bad = 0;
	json_t *r = NULL, *hop;

	triangle(f->db, 3, NOW);
	assert_route(f->db, "gw-a", "gw-b", NOW, "gw-a gw-b");
	assert_int_equal(db_link_set(f->db, "gw-b", "gw-a", NULL, &penalty, NOW), 0);
	assert_route(f->db, "gw-a", "gw-b", NOW, "gw-a gw-c gw-b");
	assert_int_equal(routes_find(f->db, "gw-a", "gw-b", NOW, &r), 0);
	assert_true(fabs(json_real_value(json_object_get(r, "cost")) - 14) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(r, "direct")) - 105) < 1e-9);
	hop = json_array_get(json_object_get(r, "hops"), 0);
	assert_string_equal(json_string_value(json_object_get(hop, "from")), "gw-a");
	assert_string_equal(json_string_value(json_object_get(hop, "to")), "gw-c");
	assert_int_equal(json_integer_value(json_object_get(hop, "rtt_ms")), 5);
	json_decref(r);
	assert_int_equal(db_link_set(f->db, "gw-a", "gw-b", NULL, &none, NOW), 0);
	assert_route(f->db, "gw-a", "gw-b", NOW, "gw-a gw-b");
	/* A weight does it too; nonsense is refused. */
	assert_int_equal(db_link_set(f->db, "gw-a", "gw-b", &heavy, NULL, NOW), 0);
	assert_route(f->db, "gw-a", "gw-b", NOW, "gw-a gw-c gw-b");
	assert_int_equal(db_link_set(f->db, "gw-a", "gw-b", &bad, NULL, NOW), INSEL_E_BAD_FIELD);
	assert_int_equal(db_link_set(f->db, "gw-a", "gw-a", &heavy, NULL, NOW),
			 INSEL_E_BAD_FIELD);
	assert_int_equal(db_link_set(f->db, "gw-a", "gw-x", &heavy, NULL, NOW),
			 INSEL_E_NOT_FOUND);
}

static void stale_left_out_and_expired(void **state)
{
	struct fixture *f = *state;
	json_t *r = NULL, *rows = NULL;

	triangle(f->db, 100, NOW);
	/* Only a-b is measured again: the detour through c goes stale and is left out. */
	report(f->db, "gw-a", "gw-b", 100, 0, NOW + DB_LINK_STALE_S + 10);
	assert_route(f->db, "gw-a", "gw-b", NOW + DB_LINK_STALE_S + 10, "gw-a gw-b");
	assert_int_equal(routes_find(f->db, "gw-a", "gw-c", NOW + DB_LINK_STALE_S + 10, &r),
			 INSEL_E_NOT_FOUND);
	assert_null(r);
	/* An hour later, the next report deletes the old rows. */
	report(f->db, "gw-a", "gw-b", 100, 0, NOW + DB_LINK_EXPIRY_S + 10);
	assert_int_equal(db_link_list(f->db, NOW + DB_LINK_EXPIRY_S + 10, &rows), 0);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
}

static void forwarder_costs(void **state)
{
	struct fixture *f = *state;
	const char *via[] = {"gw-c", "gw-nowhere"};
	double costs[2];

	triangle(f->db, 100, NOW);
	assert_int_equal(routes_cost_via(f->db, "gw-a", "gw-b", via, 2, NOW, costs), 0);
	assert_true(fabs(costs[0] - 14) < 1e-9);  /* (5 + 2) + (5 + 2) */
	assert_true(isinf(costs[1]));
	assert_int_equal(routes_cost_via(f->db, "gw-a", "gw-z", via, 2, NOW, costs),
			 INSEL_E_NOT_FOUND);
}

/* What the relay choice gets: the relay on the cheaper route first, the unknown last. */
static void forwarder_ranks(void **state)
{
	struct fixture *f = *state;
	const char *via[] = {"gw-c", "gw-d", "gw-nowhere"};
	uint32_t ranks[3];

	assert_int_equal(db_secondary_add(f->db, "gw-d", NULL, NOW), 0);
	triangle(f->db, 100, NOW);
	report(f->db, "gw-a", "gw-d", 20, 0, NOW);
	report(f->db, "gw-d", "gw-b", 20, 0, NOW);
	assert_int_equal(routes_rank_via(f->db, "gw-a", "gw-b", via, 3, NOW, ranks), 0);
	assert_int_equal(ranks[0], 141);   /* 14.0 */
	assert_int_equal(ranks[1], 441);   /* (20 + 2) * 2 = 44.0 */
	assert_int_equal(ranks[2], 0);
	/* A call end without links: nothing known. */
	assert_int_not_equal(routes_rank_via(f->db, "gw-a", "gw-x", via, 3, NOW, ranks), 0);
	assert_int_equal(ranks[0], 0);
}

/* A call goes through C rather than direct only when the route through C is known and
 * cheaper than the direct link by the margin. */
static void route_preference(void **state)
{
	struct fixture *f = *state;
	double via, direct;
	bool prefer;

	triangle(f->db, 100, NOW);  /* through C 14, direct 102 */
	assert_int_equal(routes_prefer_via(f->db, "gw-a", "gw-b", "gw-c", NOW, &prefer, &via,
					   &direct), 0);
	assert_true(prefer);
	assert_true(fabs(via - 14) < 1e-9 && fabs(direct - 102) < 1e-9);
	triangle(f->db, 15, NOW + 1);  /* direct 17: cheaper than 14 * 1.25, stays direct */
	assert_int_equal(routes_prefer_via(f->db, "gw-a", "gw-b", "gw-c", NOW + 1, &prefer,
					   &via, &direct), 0);
	assert_false(prefer);
	/* No direct link known (never measured, or stale): the call tries direct first. */
	assert_int_equal(routes_prefer_via(f->db, "gw-a", "gw-b", "gw-c",
					   NOW + DB_LINK_STALE_S + 100, &prefer, &via, &direct), 0);
	assert_false(prefer);
	assert_int_equal(routes_prefer_via(f->db, "gw-a", "gw-x", "gw-c", NOW + 1, &prefer,
					   &via, &direct), 0);
	assert_false(prefer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(reports_and_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(slow_link_avoided_then_back, setup, teardown),
		cmocka_unit_test_setup_teardown(loss_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(operator_penalty_and_weight, setup, teardown),
		cmocka_unit_test_setup_teardown(stale_left_out_and_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(forwarder_costs, setup, teardown),
		cmocka_unit_test_setup_teardown(forwarder_ranks, setup, teardown),
		cmocka_unit_test_setup_teardown(route_preference, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
