/* `insel hangup CALL-ID`: ends a call (either side may). */
#include <stdio.h>

#include "client.h"

static void print_hung_up(const json_t *reply, const char *arg)
{
	(void)reply;
	printf("hung up call %s\n", arg);
}

int hangup_main(int argc, char **argv)
{
	static const struct simple_request r = {
		.op = "hangup",
		.what = "hanging up",
		.usage = "Usage: insel hangup CALL-ID [common options]\n",
		.arg_name = "CALL-ID",
		.arg_field = "call",
		.print = print_hung_up,
	};

	return simple_request_main(argc, argv, &r);
}
