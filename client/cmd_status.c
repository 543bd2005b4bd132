/* `insel status`: the gateway's view: which LAN, whether the principal is reachable, how
 * many calls run against the limit. */
#include <stdio.h>

#include "client.h"

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "?";
}

static void print_status(const json_t *reply, const char *arg)
{
	(void)arg;
	printf("gateway    %s (LAN %s)\n", str(reply, "secondary"), str(reply, "lan"));
	printf("user       %s\n", str(reply, "user"));
	printf("principal  %s\n", str(reply, "principal"));
	printf("calls      %lld of at most %lld\n",
	       (long long)json_integer_value(json_object_get(reply, "calls")),
	       (long long)json_integer_value(json_object_get(reply, "limit")));
}

int status_main(int argc, char **argv)
{
	static const struct simple_request r = {
		.op = "status",
		.what = "asking for status",
		.usage = "Usage: insel status [common options]\n",
		.print = print_status,
	};

	return simple_request_main(argc, argv, &r);
}
