/* `insel-principal plan PREFIX...`: the addressing plan of a prefix (network, gateway,
 * first and last host, broadcast, host count), as operators need when they carve LANs. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "cmd.h"
#include "err.h"
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

int plan_main(int argc, char **argv)
{
	bool as_json = false;
	json_t *all = json_array();
	int rc = EXIT_OK, nprefixes = 0;

	for (int i = 1; i < argc; i++) {
		struct ip_prefix p;
		struct ip_plan plan;
		int err;

		if (strcmp(argv[i], "--json") == 0) {
			as_json = true;
			continue;
		}
		if (strcmp(argv[i], "--help") == 0) {
			printf("Usage: insel-principal plan [--json] PREFIX...\n"
			       "Shows network, gateway, host range, broadcast and host count.\n");
			json_decref(all);
			return EXIT_OK;
		}
		nprefixes++;
		err = ip_prefix_parse(argv[i], false, &p);
		if (err) {
			fprintf(stderr, "insel-principal plan: '%s': %s\n", argv[i],
				insel_strerror(err));
			rc = EXIT_USAGE;
			continue;
		}
		ip_prefix_plan(&p, &plan);
		json_array_append_new(all, plan_json(&p, &plan));
	}
	if (nprefixes == 0) {
		fprintf(stderr, "Usage: insel-principal plan [--json] PREFIX...\n");
		json_decref(all);
		return EXIT_USAGE;
	}
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
