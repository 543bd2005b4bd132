/* Unit tests for the route core (principal/route.h): the cost formula, shortest paths on
 * small graphs with known answers (a detour that beats a slow direct link, ties broken
 * towards fewer hops, unreachable gateways), names, and a random graph checked against a
 * plain Bellman-Ford relaxation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "route.h"

static void cost_formula(void **state)
{
	(void)state;
	assert_true(fabs(route_link_cost(10, 0, 1, 0) - 12) < 1e-9);
	assert_true(fabs(route_link_cost(10, 0.1, 1, 0) - 24) < 1e-9);   /* 10% loss doubles */
	assert_true(fabs(route_link_cost(10, 0, 2, 0) - 24) < 1e-9);     /* weight multiplies */
	assert_true(fabs(route_link_cost(10, 0, 1, 100) - 112) < 1e-9);  /* penalty adds */
	/* Nonsense is clamped, never negative. */
	assert_true(fabs(route_link_cost(-5, 7, 1, -3) - 2 * 11) < 1e-9);
	assert_true(fabs(route_link_cost(NAN, NAN, NAN, NAN) - 2) < 1e-9);
}

static uint32_t node(struct route_graph *g, const char *name)
{
	int n = route_node(g, name, true);

	assert_true(n >= 0);
	return (uint32_t)n;
}

static void both_ways(struct route_graph *g, const char *a, const char *b, double cost)
{
	uint32_t na = node(g, a), nb = node(g, b);  /* in this order: a's index first */

	assert_int_equal(route_add_edge(g, na, nb, cost), 0);
	assert_int_equal(route_add_edge(g, nb, na, cost), 0);
}

static void detour_beats_slow_link(void **state)
{
	struct route_graph g;
	struct route_path p;

	(void)state;
	route_graph_init(&g);
	both_ways(&g, "a", "b", route_link_cost(100, 0, 1, 0));
	both_ways(&g, "a", "c", route_link_cost(5, 0, 1, 0));
	both_ways(&g, "c", "b", route_link_cost(5, 0, 1, 0));
	assert_int_equal(route_shortest(&g, node(&g, "a"), node(&g, "b"), &p), 0);
	assert_int_equal(p.nhops, 2);
	assert_string_equal(route_node_name(&g, p.nodes[0]), "a");
	assert_string_equal(route_node_name(&g, p.nodes[1]), "c");
	assert_string_equal(route_node_name(&g, p.nodes[2]), "b");
	assert_true(fabs(p.cost - 14) < 1e-9);
	assert_true(fabs(p.hop_cost[0] - 7) < 1e-9 && fabs(p.hop_cost[1] - 7) < 1e-9);

	/* The slow link becomes fast: the direct path comes back (a new graph, as the
	 * principal builds one per change). */
	route_graph_free(&g);
	route_graph_init(&g);
	both_ways(&g, "a", "b", route_link_cost(1, 0, 1, 0));
	both_ways(&g, "a", "c", route_link_cost(1, 0, 1, 0));
	both_ways(&g, "c", "b", route_link_cost(1, 0, 1, 0));
	assert_int_equal(route_shortest(&g, node(&g, "a"), node(&g, "b"), &p), 0);
	assert_int_equal(p.nhops, 1);
	assert_string_equal(route_node_name(&g, p.nodes[1]), "b");
	route_graph_free(&g);
}

static void hop_cost_breaks_ties(void **state)
{
	struct route_graph g;
	struct route_path p;

	(void)state;
	/* Equal round trips in total: the direct link wins by ROUTE_HOP_MS. */
	route_graph_init(&g);
	both_ways(&g, "a", "c", route_link_cost(5, 0, 1, 0));
	both_ways(&g, "c", "b", route_link_cost(5, 0, 1, 0));
	both_ways(&g, "a", "b", route_link_cost(10, 0, 1, 0));
	assert_int_equal(route_shortest(&g, node(&g, "a"), node(&g, "b"), &p), 0);
	assert_int_equal(p.nhops, 1);
	route_graph_free(&g);
}

static void unreachable_and_names(void **state)
{
	struct route_graph g;
	struct route_path p;
	char long_name[ROUTE_NAME_MAX + 2];

	(void)state;
	route_graph_init(&g);
	both_ways(&g, "a", "b", 1);
	node(&g, "island");
	assert_int_equal(route_shortest(&g, node(&g, "a"), node(&g, "island"), &p),
			 INSEL_E_NOT_FOUND);
	assert_int_equal(route_node(&g, "nowhere", false), INSEL_E_NOT_FOUND);
	assert_int_equal(route_node(&g, "", true), INSEL_E_BAD_FIELD);
	memset(long_name, 'x', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	assert_int_equal(route_node(&g, long_name, true), INSEL_E_BAD_FIELD);
	assert_int_equal(route_node(&g, "a", false), 0);
	/* A path to itself has no hops; bad costs and self-links are left out. */
	assert_int_equal(route_add_edge(&g, 0, 1, INFINITY), 0);
	assert_int_equal(route_add_edge(&g, 0, 1, -1), 0);
	assert_int_equal(route_add_edge(&g, 0, 0, 1), 0);
	assert_int_equal(route_add_edge(&g, 0, 99, 1), INSEL_E_NOT_FOUND);
	assert_int_equal(g.nedges, 2);
	assert_int_equal(route_shortest(&g, 0, 0, &p), 0);
	assert_int_equal(p.nhops, 0);
	assert_true(p.cost == 0);
	route_graph_free(&g);
}

/* A random graph: every distance equals what plain relaxation finds. */
static void random_graph_matches_bellman_ford(void **state)
{
	enum { N = 300, LINKS = 6 };
	struct route_graph g;
	double *dist = malloc(N * sizeof *dist), *ref = malloc(N * sizeof *ref);
	uint32_t *prev = malloc(N * sizeof *prev);
	char name[32];
	unsigned seed = 12345;

	(void)state;
	route_graph_init(&g);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "gw%d", i);
		assert_int_equal(route_node(&g, name, true), i);
	}
	for (int i = 0; i < N; i++)
		for (int k = 0; k < LINKS; k++) {
			seed = seed * 1103515245u + 12345u;
			uint32_t to = (seed >> 8) % N;
			double cost = (double)((seed >> 4) % 200) + 0.5;

			assert_int_equal(route_add_edge(&g, (uint32_t)i, to, cost), 0);
		}
	assert_int_equal(route_distances(&g, 0, dist, prev), 0);
	for (int i = 0; i < N; i++)
		ref[i] = INFINITY;
	ref[0] = 0;
	for (int round = 0; round < N; round++)
		for (size_t e = 0; e < g.nedges; e++)
			if (ref[g.edges[e].from] + g.edges[e].cost < ref[g.edges[e].to])
				ref[g.edges[e].to] = ref[g.edges[e].from] + g.edges[e].cost;
	for (int i = 0; i < N; i++) {
		assert_true(isinf(ref[i]) == isinf(dist[i]));
		if (!isinf(ref[i]))
			assert_true(fabs(ref[i] - dist[i]) < 1e-6);
	}
	free(dist);
	free(ref);
	free(prev);
	route_graph_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cost_formula),
		cmocka_unit_test(detour_beats_slow_link),
		cmocka_unit_test(hop_cost_breaks_ties),
		cmocka_unit_test(unreachable_and_names),
		cmocka_unit_test(random_graph_matches_bellman_ford),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
