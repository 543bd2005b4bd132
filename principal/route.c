/* Shortest paths over the gateways' links (route.h): names hashed to indices, links kept
 * as an edge list turned into per-node runs (compressed rows) before the first search, and
 * Dijkstra's algorithm with a binary min-heap of (distance, node) that tolerates stale
 * entries instead of decreasing keys. */
#include "route.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

double route_link_cost(double rtt_ms, double loss, double weight, double penalty_ms)
{
	if (!(rtt_ms >= 0))
		rtt_ms = 0;
	if (!(loss >= 0))
		loss = 0;
	if (loss > 1)
		loss = 1;
	if (!(penalty_ms >= 0))
		penalty_ms = 0;
	if (!(weight > 0))
		weight = 1;
	return (rtt_ms + penalty_ms + ROUTE_HOP_MS) * (1 + ROUTE_LOSS_FACTOR * loss) * weight;
}

void route_graph_init(struct route_graph *g)
{
	memset(g, 0, sizeof *g);
}

void route_graph_free(struct route_graph *g)
{
	free(g->names);
	free(g->slots);
	free(g->edges);
	free(g->first);
	memset(g, 0, sizeof *g);
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* The slot holding name, or the empty one where it would go. */
static size_t find_slot(const struct route_graph *g, const char *name)
{
	size_t i = name_hash(name) & (g->nslots - 1);

	while (g->slots[i] && strcmp(g->names[g->slots[i] - 1], name) != 0)
		i = (i + 1) & (g->nslots - 1);
	return i;
}

/* Keeps the table at most half full. */
static int grow_slots(struct route_graph *g)
{
	size_t n = g->nslots ? g->nslots * 2 : 64;
	uint32_t *old = g->slots;
	size_t oldn = g->nslots;

	if (!(g->slots = calloc(n, sizeof *g->slots))) {
		g->slots = old;
		return -ENOMEM;
	}
	g->nslots = n;
	for (size_t i = 0; i < oldn; i++)
		if (old[i])
			g->slots[find_slot(g, g->names[old[i] - 1])] = old[i];
	free(old);
	return 0;
}

static int add_name(struct route_graph *g, const char *name)
{
	if (g->nnodes >= ROUTE_MAX_NODES)
		return INSEL_E_LIMIT;
	if (g->nnodes == g->cap_nodes) {
		size_t cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
		void *n = realloc(g->names, cap * sizeof *g->names);

		if (!n)
			return -ENOMEM;
		g->names = n;
		g->cap_nodes = cap;
	}
	if ((g->nnodes + 1) * 2 > g->nslots && grow_slots(g))
		return -ENOMEM;
	strcpy(g->names[g->nnodes], name);
	g->slots[find_slot(g, name)] = (uint32_t)g->nnodes + 1;
	g->built = false;
	return (int)g->nnodes++;
}

int route_node(struct route_graph *g, const char *name, bool add)
{
	size_t len = name ? strlen(name) : 0;
	size_t i;

	if (len == 0 || len > ROUTE_NAME_MAX)
		return INSEL_E_BAD_FIELD;
	if (g->nslots) {
		i = find_slot(g, name);
		if (g->slots[i])
			return (int)g->slots[i] - 1;
	}
	return add ? add_name(g, name) : INSEL_E_NOT_FOUND;
}

const char *route_node_name(const struct route_graph *g, uint32_t node)
{
	return node < g->nnodes ? g->names[node] : NULL;
}

int route_add_edge(struct route_graph *g, uint32_t from, uint32_t to, double cost)
{
	if (from >= g->nnodes || to >= g->nnodes)
		return INSEL_E_NOT_FOUND;
	if (!isfinite(cost) || cost < 0 || from == to)
		return 0;
	if (g->nedges >= ROUTE_MAX_EDGES)
		return INSEL_E_LIMIT;
	if (g->nedges == g->cap_edges) {
		size_t cap = g->cap_edges ? g->cap_edges * 2 : 256;
		void *n = realloc(g->edges, cap * sizeof *g->edges);

		if (!n)
			return -ENOMEM;
		g->edges = n;
		g->cap_edges = cap;
	}
	g->edges[g->nedges++] = (struct route_edge){from, to, cost};
	g->built = false;
	return 0;
}

/* Edges grouped by their source, in the order they were added (a stable counting sort). */
static int build(struct route_graph *g)
{
	struct route_edge *sorted;
	uint32_t *first, *fill;

	if (g->built)
		return 0;
	first = calloc(g->nnodes + 1, sizeof *first);
	fill = calloc(g->nnodes + 1, sizeof *fill);
	sorted = malloc((g->nedges ? g->nedges : 1) * sizeof *sorted);
	if (!first || !fill || !sorted) {
		free(first);
		free(fill);
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < g->nedges; i++)
		first[g->edges[i].from + 1]++;
	for (size_t n = 0; n < g->nnodes; n++)
		first[n + 1] += first[n];
	memcpy(fill, first, (g->nnodes + 1) * sizeof *fill);
	for (size_t i = 0; i < g->nedges; i++)
		sorted[fill[g->edges[i].from]++] = g->edges[i];
	free(fill);
	free(g->edges);
	free(g->first);
	g->edges = sorted;
	g->cap_edges = g->nedges ? g->nedges : 1;
	g->first = first;
	g->built = true;
	return 0;
}

/* ---- the heap: (distance, node), smallest distance on top ---- */

struct heap_item {
	double dist;
	uint32_t node;
};

struct heap {
	struct heap_item *items;
	size_t n, cap;
};

static int heap_push(struct heap *h, double dist, uint32_t node)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		void *n = realloc(h->items, cap * sizeof *h->items);

		if (!n)
			return -ENOMEM;
		h->items = n;
		h->cap = cap;
	}
	for (i = h->n++; i > 0 && h->items[(i - 1) / 2].dist > dist; i = (i - 1) / 2)
		h->items[i] = h->items[(i - 1) / 2];
	h->items[i] = (struct heap_item){dist, node};
	return 0;
}

static struct heap_item heap_pop(struct heap *h)
{
	struct heap_item top = h->items[0], last = h->items[--h->n];
	size_t i = 0;

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= h->n)
			break;
		if (child + 1 < h->n && h->items[child + 1].dist < h->items[child].dist)
			child++;
		if (h->items[child].dist >= last.dist)
			break;
		h->items[i] = h->items[child];
		i = child;
	}
	if (h->n)
		h->items[i] = last;
	return top;
}

int route_distances(struct route_graph *g, uint32_t src, double *dist, uint32_t *prev)
{
	struct heap h = {0};
	int rc;

	if (src >= g->nnodes)
		return INSEL_E_NOT_FOUND;
	if ((rc = build(g)) != 0)
		return rc;
	for (size_t n = 0; n < g->nnodes; n++) {
		dist[n] = INFINITY;
		prev[n] = UINT32_MAX;
	}
	dist[src] = 0;
	if ((rc = heap_push(&h, 0, src)) != 0)
		return rc;
	while (h.n) {
		struct heap_item it = heap_pop(&h);

		if (it.dist > dist[it.node])
			continue;  /* a stale entry: the node was settled cheaper */
		for (uint32_t e = g->first[it.node]; e < g->first[it.node + 1]; e++) {
			const struct route_edge *ed = &g->edges[e];
			double d = it.dist + ed->cost;

			if (d < dist[ed->to]) {
				dist[ed->to] = d;
				prev[ed->to] = it.node;
				if ((rc = heap_push(&h, d, ed->to)) != 0)
					goto out;
			}
		}
	}
out:
	free(h.items);
	return rc;
}

/* The cost of the cheapest link from a to b (what the search took). */
static double link_cost(const struct route_graph *g, uint32_t a, uint32_t b)
{
	double best = INFINITY;

	for (uint32_t e = g->first[a]; e < g->first[a + 1]; e++)
		if (g->edges[e].to == b && g->edges[e].cost < best)
			best = g->edges[e].cost;
	return best;
}

int route_shortest(struct route_graph *g, uint32_t src, uint32_t dst, struct route_path *out)
{
	double *dist;
	uint32_t *prev;
	size_t n = 0;
	int rc;

	if (src >= g->nnodes || dst >= g->nnodes)
		return INSEL_E_NOT_FOUND;
	dist = malloc(g->nnodes * sizeof *dist);
	prev = malloc(g->nnodes * sizeof *prev);
	if (!dist || !prev) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = route_distances(g, src, dist, prev)) != 0)
		goto out;
	if (isinf(dist[dst])) {
		rc = INSEL_E_NOT_FOUND;
		goto out;
	}
	/* Walk back from dst, then turn the walk around. */
	for (uint32_t at = dst; at != UINT32_MAX; at = prev[at]) {
		if (n > ROUTE_MAX_HOPS) {
			rc = INSEL_E_LIMIT;
			goto out;
		}
		out->nodes[n++] = at;
	}
	for (size_t i = 0; i < n / 2; i++) {
		uint32_t t = out->nodes[i];

		out->nodes[i] = out->nodes[n - 1 - i];
		out->nodes[n - 1 - i] = t;
	}
	out->nhops = n - 1;
	out->cost = dist[dst];
	for (size_t i = 0; i < out->nhops; i++)
		out->hop_cost[i] = link_cost(g, out->nodes[i], out->nodes[i + 1]);
out:
	free(dist);
	free(prev);
	return rc;
}
