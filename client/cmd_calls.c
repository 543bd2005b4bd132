/* `insel calls`: the calls of this user in progress, with their channels and byte counts. */
#include <stdio.h>
#include <stdlib.h>

#include "client.h"
#include "cmd.h"

static int print_calls(const json_t *reply, const char *arg)
{
	struct client_call *calls;
	const char *why;
	size_t n;

	(void)arg;
	if (client_calls_reply_decode(reply, &calls, &n, &why))
		return report_unreadable("listing calls", why);
	if (n == 0)
		printf("no calls in progress\n");
	for (size_t i = 0; i < n; i++)
		print_call(&calls[i]);
	free(calls);
	return EXIT_OK;
}

int calls_main(int argc, char **argv)
{
	static const struct simple_request r = {
		.op = "calls",
		.what = "listing calls",
		.usage = "Usage: insel calls [common options]\n",
		.print = print_calls,
	};

	return simple_request_main(argc, argv, &r);
}
