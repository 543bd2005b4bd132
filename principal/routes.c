/* Routes over the directory's link table (routes.h): the graph is built from the fresh
 * pairs, the path searched with Dijkstra (route.c), and each hop explained with the
 * pair's own figures. */
#include "routes.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "err.h"
#include "route.h"

/* Both directions of every fresh pair, at the pair's cost. */
static int build_graph(struct db *db, int64_t now, struct route_graph *g, json_t **pairs)
{
	const json_t *p;
	size_t i;
	int rc = db_link_pairs(db, now, pairs);

	if (rc)
		return rc;
	json_array_foreach(*pairs, i, p) {
		int a = route_node(g, json_string_value(json_object_get(p, "a")), true);
		int b = route_node(g, json_string_value(json_object_get(p, "b")), true);
		double cost = json_real_value(json_object_get(p, "cost"));

		if (a < 0 || b < 0)
			return a < 0 ? a : b;
		if ((rc = route_add_edge(g, (uint32_t)a, (uint32_t)b, cost)) ||
		    (rc = route_add_edge(g, (uint32_t)b, (uint32_t)a, cost)))
			return rc;
	}
	return 0;
}

static const json_t *find_pair(const json_t *pairs, const char *x, const char *y)
{
	const json_t *p;
	size_t i;

	json_array_foreach(pairs, i, p) {
		const char *a = json_string_value(json_object_get(p, "a"));
		const char *b = json_string_value(json_object_get(p, "b"));

		if ((strcmp(a, x) == 0 && strcmp(b, y) == 0) ||
		    (strcmp(a, y) == 0 && strcmp(b, x) == 0))
			return p;
	}
	return NULL;
}

static json_t *hop_json(const json_t *pair, const char *from, const char *to)
{
	json_t *hop = json_deep_copy(pair);

	json_object_del(hop, "a");
	json_object_del(hop, "b");
	json_object_set_new(hop, "from", json_string(from));
	json_object_set_new(hop, "to", json_string(to));
	return hop;
}

static int endpoint_node(struct db *db, struct route_graph *g, const char *name, int *out)
{
	int64_t id;
	int rc = db_secondary_id(db, name, &id);

	if (rc)
		return rc;
	if ((*out = route_node(g, name, false)) < 0)
		return db_set_error(db, INSEL_E_NOT_FOUND, "secondary %s has no fresh link", name);
	return 0;
}

static json_t *path_json(const struct route_graph *g, const struct route_path *path,
			 const json_t *pairs, const char *from, const char *to)
{
	const json_t *direct = find_pair(pairs, from, to);
	json_t *hops = json_array();

	for (size_t i = 0; i < path->nhops; i++) {
		const char *x = route_node_name(g, path->nodes[i]);
		const char *y = route_node_name(g, path->nodes[i + 1]);

		json_array_append_new(hops, hop_json(find_pair(pairs, x, y), x, y));
	}
	return json_pack("{s:s, s:s, s:f, s:o, s:o}", "from", from, "to", to, "cost", path->cost,
			 "hops", hops, "direct",
			 direct ? json_incref(json_object_get(direct, "cost")) : json_null());
}

int routes_find(struct db *db, const char *from, const char *to, int64_t now, json_t **out)
{
	struct route_graph g;
	struct route_path path;
	json_t *pairs = NULL;
	int a, b, rc;

	route_graph_init(&g);
	if ((rc = build_graph(db, now, &g, &pairs)) || (rc = endpoint_node(db, &g, from, &a)) ||
	    (rc = endpoint_node(db, &g, to, &b)))
		goto out;
	rc = route_shortest(&g, (uint32_t)a, (uint32_t)b, &path);
	if (rc == INSEL_E_NOT_FOUND)
		rc = db_set_error(db, rc, "no path of fresh links joins %s and %s", from, to);
	if (rc == 0 && !(*out = path_json(&g, &path, pairs, from, to)))
		rc = -ENOMEM;
out:
	json_decref(pairs);
	route_graph_free(&g);
	return rc;
}

static int distances_from(struct route_graph *g, int node, double **dist)
{
	uint32_t *prev = malloc(g->nnodes * sizeof *prev);
	int rc;

	*dist = malloc(g->nnodes * sizeof **dist);
	if (!prev || !*dist) {
		free(prev);
		return -ENOMEM;
	}
	rc = route_distances(g, (uint32_t)node, *dist, prev);
	free(prev);
	return rc;
}

int routes_cost_via(struct db *db, const char *a, const char *b, const char *const *via,
		    size_t nvia, int64_t now, double *costs)
{
	struct route_graph g;
	double *from_a = NULL, *from_b = NULL;
	json_t *pairs = NULL;
	int na, nb, rc;

	for (size_t i = 0; i < nvia; i++)
		costs[i] = INFINITY;
	route_graph_init(&g);
	if ((rc = build_graph(db, now, &g, &pairs)) || (rc = endpoint_node(db, &g, a, &na)) ||
	    (rc = endpoint_node(db, &g, b, &nb)) || (rc = distances_from(&g, na, &from_a)) ||
	    (rc = distances_from(&g, nb, &from_b)))
		goto out;
	for (size_t i = 0; i < nvia; i++) {
		int v = route_node(&g, via[i], false);

		if (v >= 0)
			costs[i] = from_a[v] + from_b[v];
	}
out:
	free(from_a);
	free(from_b);
	json_decref(pairs);
	route_graph_free(&g);
	return rc;
}

int routes_prefer_via(struct db *db, const char *a, const char *b, const char *via,
		      int64_t now, bool *prefer, double *via_cost, double *direct_cost)
{
	json_t *pairs = NULL;
	const json_t *direct;
	int rc;

	*prefer = false;
	*direct_cost = INFINITY;
	if ((rc = routes_cost_via(db, a, b, &via, 1, now, via_cost)) != 0)
		return rc == INSEL_E_NOT_FOUND ? 0 : rc;
	if ((rc = db_link_pairs(db, now, &pairs)) != 0)
		return rc;
	direct = find_pair(pairs, a, b);
	if (direct)
		*direct_cost = json_real_value(json_object_get(direct, "cost"));
	json_decref(pairs);
	*prefer = isfinite(*via_cost) && isfinite(*direct_cost) &&
		  *via_cost * ROUTES_PREFER_MARGIN < *direct_cost;
	return 0;
}

int routes_rank_via(struct db *db, const char *a, const char *b, const char *const *via,
		    size_t nvia, int64_t now, uint32_t *ranks)
{
	double *costs = malloc((nvia ? nvia : 1) * sizeof *costs);
	int rc;

	if (!costs)
		return -ENOMEM;
	rc = routes_cost_via(db, a, b, via, nvia, now, costs);
	for (size_t i = 0; i < nvia; i++) {
		double tenths = costs[i] * 10;

		ranks[i] = rc || !isfinite(tenths) ? 0
			   : tenths >= (double)UINT32_MAX - 1 ? UINT32_MAX
			   : (uint32_t)lround(tenths) + 1;
	}
	free(costs);
	return rc;
}
