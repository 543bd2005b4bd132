/* `insel status`: the gateway's view: which LAN, whether the principal is reachable, how
 * many calls run against the limit, and warnings of certificates expiring soon (the
 * gateway's own, the CA's) with the state of the gateway's renewal. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "cmd.h"

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "?";
}

static void print_certificates(const json_t *reply)
{
	const json_t *renewal = json_object_get(reply, "renewal"), *w;
	size_t i;

	if (renewal) {
		printf("renewal    %s", str(renewal, "state"));
		if (json_object_get(renewal, "request"))
			printf(" (request %lld)",
			       (long long)json_integer_value(json_object_get(renewal, "request")));
		if (json_object_get(renewal, "last_error"))
			printf("; last attempt: %s", str(renewal, "last_error"));
		printf("\n");
	}
	json_array_foreach(json_object_get(reply, "warnings"), i, w)
		printf("%s  %s\n", i == 0 ? "WARNING" : "       ", json_string_value(w));
}

static int print_status(const json_t *reply, const char *arg)
{
	(void)arg;
	printf("gateway    %s (LAN %s)\n", str(reply, "secondary"), str(reply, "lan"));
	printf("user       %s\n", str(reply, "user"));
	printf("principal  %s\n", str(reply, "principal"));
	printf("calls      %lld of at most %lld\n",
	       (long long)json_integer_value(json_object_get(reply, "calls")),
	       (long long)json_integer_value(json_object_get(reply, "limit")));
	print_certificates(reply);
	return EXIT_OK;
}

static const char usage[] =
	"Usage: insel status [NAME] [common options]\n"
	"  without NAME: the gateway's status; with NAME: that reliable connection's\n"
	"  state, bytes, retransmissions, RTT, RTO and window (docs/reliable.md)\n";

/* `insel status NAME`: a named connection (cmd_conn.c). */
static int named_status(int argc, char **argv)
{
	struct client_options o = {0};
	const char *pos[1] = {NULL};
	size_t npos = 0;
	int rc = client_parse_args("insel status", usage, argc, argv, &o, NULL, 0, pos, 1, &npos);

	if (rc != CLIENT_ARGS_GO_ON)
		return rc;
	if (client_finish_options(&o))
		return EXIT_USAGE;
	return conn_status_main(pos[0], &o);
}

int status_main(int argc, char **argv)
{
	static const struct simple_request r = {
		.op = "status",
		.what = "asking for status",
		.usage = usage,
		.print = print_status,
	};

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-')
			return named_status(argc, argv);
		/* the value of an option that takes one is not a name */
		if (!strchr(argv[i], '=') && i + 1 < argc && strcmp(argv[i], "--json") != 0)
			i++;
	}
	return simple_request_main(argc, argv, &r);
}
