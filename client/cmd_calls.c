/* `insel calls`: the calls of this user in progress, with their channels and byte counts. */
#include <stdio.h>

#include "client.h"

static void print_calls(const json_t *reply, const char *arg)
{
	const json_t *calls = json_object_get(reply, "calls");
	const json_t *call;
	size_t i;

	(void)arg;
	if (json_array_size(calls) == 0)
		printf("no calls in progress\n");
	json_array_foreach(calls, i, call)
		print_call(call);
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
