/* Routes between gateways: shortest paths over the graph of measured links (docs/routing.md).
 *
 * A pure core with no I/O: the caller names the gateways (route_node), adds each link in
 * each direction it may be used with its cost (route_link_cost turns a measured round
 * trip and loss, and the operator's weight and penalty, into one), and asks for a path or
 * for every distance from one gateway. Dijkstra's algorithm with a binary heap:
 * O((V + E) log V), about a millisecond for 1,000 gateways with 10 links each.
 *
 * Costs are non-negative milliseconds-like numbers; a link with an infinite or NaN cost is
 * left out. Paths of equal cost are broken towards fewer hops (ROUTE_HOP_MS is added to
 * every link), then towards the order links were added, so a given graph always gives
 * the same path. */
#ifndef INSEL_PRINCIPAL_ROUTE_H
#define INSEL_PRINCIPAL_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTE_NAME_MAX 64        /* a gateway's name (a secondary's) */
#define ROUTE_MAX_NODES 100000   /* gateways in one graph */
#define ROUTE_MAX_EDGES 4000000  /* directed links in one graph */
/* What one hop costs besides its round trip: a forwarder's time and its risk. It keeps a
 * detour from winning over a direct link unless it saves more than this. */
#define ROUTE_HOP_MS 2.0
/* How much loss weighs: 10% loss doubles a link's cost, 50% makes it six times dearer. */
#define ROUTE_LOSS_FACTOR 10.0
#define ROUTE_WEIGHT_MIN 0.01    /* an operator's weight per link */
#define ROUTE_WEIGHT_MAX 1000.0
#define ROUTE_PENALTY_MAX_MS 600000.0  /* an operator's penalty per link */

/* cost = (rtt_ms + penalty_ms + ROUTE_HOP_MS) * (1 + ROUTE_LOSS_FACTOR * loss) * weight,
 * loss in 0..1 (clamped). */
double route_link_cost(double rtt_ms, double loss, double weight, double penalty_ms);

struct route_edge {
	uint32_t from, to;
	double cost;
};

struct route_graph {
	char (*names)[ROUTE_NAME_MAX + 1];
	size_t nnodes, cap_nodes;
	uint32_t *slots;             /* open addressing over names: index + 1, 0 empty */
	size_t nslots;
	struct route_edge *edges;    /* as added; sorted by from once built */
	size_t nedges, cap_edges;
	uint32_t *first;             /* edges of node n: first[n] .. first[n + 1] - 1 */
	bool built;
};

void route_graph_init(struct route_graph *g);
void route_graph_free(struct route_graph *g);
/* The index of a gateway by name, added if add is set: >= 0, or INSEL_E_NOT_FOUND (not
 * added), INSEL_E_LIMIT, -ENOMEM, INSEL_E_BAD_FIELD (empty or too long a name). */
int route_node(struct route_graph *g, const char *name, bool add);
const char *route_node_name(const struct route_graph *g, uint32_t node);
/* A directed link; a cost that is not a finite number >= 0 is ignored (returns 0). */
int route_add_edge(struct route_graph *g, uint32_t from, uint32_t to, double cost);

/* Every distance from src (INFINITY where unreachable), and each node's predecessor on its
 * best path (UINT32_MAX for src and the unreachable). dist and prev hold nnodes each. */
int route_distances(struct route_graph *g, uint32_t src, double *dist, uint32_t *prev);

#define ROUTE_MAX_HOPS 64
struct route_path {
	size_t nhops;                     /* links: nodes are nhops + 1 */
	uint32_t nodes[ROUTE_MAX_HOPS + 1];
	double hop_cost[ROUTE_MAX_HOPS];  /* each link's cost, in order */
	double cost;                      /* their sum */
};
/* The cheapest path from src to dst: 0, INSEL_E_NOT_FOUND when there is none, or
 * INSEL_E_LIMIT when it has more than ROUTE_MAX_HOPS links. */
int route_shortest(struct route_graph *g, uint32_t src, uint32_t dst, struct route_path *out);

#endif
