/* `insel-principal plan PREFIX...`: the addressing plan of a prefix (network, gateway,
 * first and last host, broadcast, host count), as operators need when they carve LANs. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cmd.h"
#include "err.h"
#include "opts.h"
#include "principal.h"

static json_t *plan_json(const struct ip_prefix *p, const struct ip_plan *plan)
{
	char net[IP_STRLEN], gw[IP_STRLEN], first[IP_STRLEN], last[IP_STRLEN], bc[IP_STRLEN];

	ip_prefix_format(p, net, sizeof net);
	ip_addr_format(&plan->gateway, gw, sizeof gw);
	ip_addr_format(&plan->first, first, sizeof first);
	ip_addr_format(&plan->last, last, sizeof last);
	return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I}", "prefix", net, "gateway", gw,
			 "first", first, "last", last, "broadcast",
			 plan->has_broadcast ? ip_addr_format(&plan->broadcast, bc, sizeof bc)
					     : NULL,
			 "hosts", (json_int_t)(plan->host_count > INT64_MAX ? INT64_MAX
									   : plan->host_count));
}

static void print_plan(const json_t *j)
{
	const char *bc = json_string_value(json_object_get(j, "broadcast"));

	printf("prefix     %s\n", json_string_value(json_object_get(j, "prefix")));
	printf("gateway    %s\n", json_string_value(json_object_get(j, "gateway")));
	printf("hosts      %s - %s (%" JSON_INTEGER_FORMAT "%s)\n",
	       json_string_value(json_object_get(j, "first")),
	       json_string_value(json_object_get(j, "last")),
	       json_integer_value(json_object_get(j, "hosts")),
	       json_integer_value(json_object_get(j, "hosts")) == INT64_MAX ? " or more" : "");
	printf("broadcast  %s\n", bc ? bc : "none");
}

static const char plan_usage[] = "Usage: insel-principal plan [--json] PREFIX...\n";

/* The plans of the prefixes into all; EXIT_USAGE if one does not parse (the others are
 * still planned). */
static int plan_all(const char *const *prefixes, size_t n, json_t *all)
{
	int rc = EXIT_OK;

	for (size_t i = 0; i < n; i++) {
		struct ip_prefix p;
		struct ip_plan plan;
		int err = ip_prefix_parse(prefixes[i], false, &p);

		if (err) {
			fprintf(stderr, "insel-principal plan: '%s': %s\n", prefixes[i],
				insel_strerror(err));
			rc = EXIT_USAGE;
			continue;
		}
		ip_prefix_plan(&p, &plan);
		json_array_append_new(all, plan_json(&p, &plan));
	}
	return rc;
}

#define PLAN_GO_ON (-1)

/* After the options: PLAN_GO_ON, or the exit code (EXIT_OK after --help). */
static int plan_args(enum opts_result parsed, const struct opts *o)
{
	switch (parsed) {
	case OPTS_HELP:
		printf("%sShows network, gateway, host range, broadcast and host count.\n",
		       plan_usage);
		return EXIT_OK;
	case OPTS_ERROR:
		fprintf(stderr, "insel-principal plan: %s\n", o->why);
		return EXIT_USAGE;
	default:
		if (o->npos > 0)
			return PLAN_GO_ON;
		fprintf(stderr, "%s", plan_usage);
		return EXIT_USAGE;
	}
}

int plan_main(int argc, char **argv)
{
	bool as_json = false;
	const char **prefixes = calloc((size_t)argc, sizeof *prefixes);
	const struct opt table[] = {{"--json", false, NULL, &as_json}};
	struct opts o = {.table = table, .n = 1, .pos = prefixes, .max_pos = (size_t)argc};
	json_t *all;
	int rc;

	if (!prefixes)
		return EXIT_FAILURE_GENERIC;
	rc = plan_args(opts_parse(&o, argc, argv, 1), &o);
	if (rc != PLAN_GO_ON) {
		free(prefixes);
		return rc;
	}
	all = json_array();
	rc = plan_all(prefixes, o.npos, all);
	free(prefixes);
	if (as_json) {
		json_dumpf(all, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		for (size_t i = 0; i < json_array_size(all); i++) {
			if (i)
				putchar('\n');
			print_plan(json_array_get(all, i));
		}
	}
	json_decref(all);
	return rc;
}
