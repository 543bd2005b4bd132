/* `insel-principal links`, `routes FROM TO` and `link set A B`: the overlay's measured
 * links, the cheapest path between two gateways with each hop's cost, and the operator's
 * weight and penalty per link (docs/routing.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "principal.h"
#include "route.h"
#include "routes.h"

static const struct cli_column link_columns[] = {
	{"from", "FROM", CLI_STR},
	{"to", "TO", CLI_STR},
	{"kind", "KIND", CLI_STR},
	{"rtt_ms", "RTT_MS", CLI_INT},
	{"loss_pct", "LOSS_%", CLI_STR},
	{"probes", "PROBES", CLI_INT},
	{"weight", "WEIGHT", CLI_STR},
	{"penalty_ms", "PENALTY_MS", CLI_INT},
	{"cost", "COST", CLI_STR},
	{"state", "STATE", CLI_STR},
	{"measured_at", "MEASURED", CLI_TIME},
};
#define N(a) (sizeof a / sizeof a[0])

static void begin(struct cli *c, const char *name, const char *usage)
{
	memset(c, 0, sizeof *c);
	snprintf(c->prog, sizeof c->prog, "insel-principal %s", name);
	c->usage = usage;
	c->db_path = DB_DEFAULT_PATH;
}

int links_main(int argc, char **argv)
{
	struct cli c;
	struct db *db;
	json_t *rows = NULL;
	int rc;

	begin(&c, "links", "");
	if (!(db = cli_begin(&c, argc, argv, NULL, NULL, 0, 0)))
		return c.exit_code;
	rc = db_link_list(db, cli_now(), &rows);
	return cli_list_result(&c, db, rc, rows, link_columns, N(link_columns));
}

/* "a -> c -> b  cost 14.0 (direct link: 102.0)" and one line per hop. */
static void print_route(const json_t *r)
{
	const json_t *hops = json_object_get(r, "hops"), *h, *direct;
	size_t i;

	printf("%s", json_string_value(json_object_get(r, "from")));
	json_array_foreach(hops, i, h)
		printf(" -> %s", json_string_value(json_object_get(h, "to")));
	printf("  cost %.1f", json_real_value(json_object_get(r, "cost")));
	direct = json_object_get(r, "direct");
	if (json_is_real(direct))
		printf(" (the direct link costs %.1f)\n", json_real_value(direct));
	else
		printf(" (no fresh direct link)\n");
	json_array_foreach(hops, i, h)
		printf("  %s -> %s: %s, rtt %lld ms, loss %.2f%%, weight %g, penalty %lld ms: "
		       "cost %.1f\n", json_string_value(json_object_get(h, "from")),
		       json_string_value(json_object_get(h, "to")),
		       json_string_value(json_object_get(h, "kind")),
		       (long long)json_integer_value(json_object_get(h, "rtt_ms")),
		       json_real_value(json_object_get(h, "loss_pct")),
		       json_real_value(json_object_get(h, "weight")),
		       (long long)json_integer_value(json_object_get(h, "penalty_ms")),
		       json_real_value(json_object_get(h, "cost")));
}

int routes_main(int argc, char **argv)
{
	struct cli c;
	struct db *db;
	json_t *r = NULL;
	int rc;

	begin(&c, "routes", "FROM TO");
	if (!(db = cli_begin(&c, argc, argv, NULL, NULL, 2, 2)))
		return c.exit_code;
	if ((rc = routes_find(db, c.pos[0], c.pos[1], cli_now(), &r)))
		return cli_fail(&c, db, rc);
	if (c.json) {
		char *text = json_dumps(r, JSON_INDENT(2) | JSON_REAL_PRECISION(6));

		printf("%s\n", text ? text : "{}");
		free(text);
	} else {
		print_route(r);
	}
	json_decref(r);
	db_close(db);
	return EXIT_OK;
}

static int parse_weight(const char *text, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(text, &end);
	return errno || end == text || *end || !(*out >= ROUTE_WEIGHT_MIN) ||
	       !(*out <= ROUTE_WEIGHT_MAX);
}

static int link_set(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--weight", "--penalty", NULL};
	const char *w, *p;
	double weight;
	long long penalty;
	int64_t penalty_ms;
	struct db *db;
	int rc;

	if (cli_parse(c, argc, argv, opts, NULL, 2, 2))
		return c->exit_code;
	w = cli_opt(c, "--weight");
	p = cli_opt(c, "--penalty");
	if (!w && !p)
		return cli_usage_error(c, "say --weight, --penalty or both");
	if (w && parse_weight(w, &weight))
		return cli_usage_error(c, "--weight must be a number from %g to %g",
				       ROUTE_WEIGHT_MIN, ROUTE_WEIGHT_MAX);
	if (p && (cfg_parse_int(p, &penalty) || penalty < 0 || penalty > ROUTE_PENALTY_MAX_MS))
		return cli_usage_error(c, "--penalty must be 0 to %.0f (milliseconds)",
				       ROUTE_PENALTY_MAX_MS);
	penalty_ms = p ? (int64_t)penalty : 0;
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	if ((rc = db_link_set(db, c->pos[0], c->pos[1], w ? &weight : NULL,
			      p ? &penalty_ms : NULL, cli_now())))
		return cli_fail(c, db, rc);
	if (w && p)
		return cli_done(c, db, "link %s - %s: weight %s, penalty %s ms", c->pos[0],
				c->pos[1], w, p);
	if (w)
		return cli_done(c, db, "link %s - %s: weight %s", c->pos[0], c->pos[1], w);
	return cli_done(c, db, "link %s - %s: penalty %s ms", c->pos[0], c->pos[1], p);
}

static const struct cli_verb verbs[] = {
	{"set", link_set, "A B [--weight W] [--penalty MS]",
	 "weigh the link between secondaries A and B (both ways): its cost is multiplied by "
	 "W (0.01 to 1000, default 1) and MS is added to its round trip (default 0)"},
};

int link_main(int argc, char **argv)
{
	return cli_run_verbs("link", "the operator's weight and penalty per link", verbs,
			     N(verbs), argc, argv);
}
