/* Benchmark: shortest-path computation over a simulated overlay of 1,000 gateways with 10
 * links each (principal/route.h), the graph the principal builds when a link changes.
 * Prints the time to build the graph and to find one path and all distances from one
 * gateway (median and max over repeated searches); figures, not a pass/fail test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "route.h"

#define GATEWAYS 1000
#define LINKS_EACH 10
#define SEARCHES 200

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Each gateway links to 10 others (5 made here, 5 by others on average, each link both
 * ways), with round trips of 1..200 ms and some loss. */
static int build(struct route_graph *g, unsigned *seed)
{
	char name[32];

	for (int i = 0; i < GATEWAYS; i++) {
		snprintf(name, sizeof name, "gw-%04d", i);
		if (route_node(g, name, true) != i)
			return -1;
	}
	for (int i = 0; i < GATEWAYS; i++)
		for (int k = 0; k < LINKS_EACH / 2; k++) {
			uint32_t to = (uint32_t)(rand_r(seed) % GATEWAYS);
			double cost = route_link_cost(1 + rand_r(seed) % 200,
						      (rand_r(seed) % 50) / 1000.0, 1, 0);

			if (route_add_edge(g, (uint32_t)i, to, cost) ||
			    route_add_edge(g, to, (uint32_t)i, cost))
				return -1;
		}
	return 0;
}

int main(void)
{
	static double times[SEARCHES];
	struct route_graph g;
	struct route_path p;
	double *dist = malloc(GATEWAYS * sizeof *dist), t0, t_build;
	uint32_t *prev = malloc(GATEWAYS * sizeof *prev);
	unsigned seed = 42;
	size_t hops = 0;

	route_graph_init(&g);
	t0 = now_us();
	if (!dist || !prev || build(&g, &seed) != 0) {
		fprintf(stderr, "bench-route: cannot build the graph\n");
		return 1;
	}
	/* The first search also groups the links by gateway. */
	route_distances(&g, 0, dist, prev);
	t_build = now_us() - t0;
	for (int i = 0; i < SEARCHES; i++) {
		uint32_t a = (uint32_t)(rand_r(&seed) % GATEWAYS);
		uint32_t b = (uint32_t)(rand_r(&seed) % GATEWAYS);

		t0 = now_us();
		if (route_shortest(&g, a, b, &p) == 0)
			hops += p.nhops;
		times[i] = now_us() - t0;
	}
	qsort(times, SEARCHES, sizeof times[0], by_value);
	printf("route: %d gateways, %zu directed links: graph built and first search in "
	       "%.0f us\n", GATEWAYS, g.nedges, t_build);
	printf("route: one path (Dijkstra, binary heap), %d searches: median %.0f us, max "
	       "%.0f us, %.1f hops on average\n", SEARCHES, times[SEARCHES / 2],
	       times[SEARCHES - 1], (double)hops / SEARCHES);
	route_graph_free(&g);
	free(dist);
	free(prev);
	return 0;
}
