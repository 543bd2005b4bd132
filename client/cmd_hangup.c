/* `insel hangup CALL-ID`: ends a call (either side may). */
#include <stdio.h>

#include "client.h"
#include "cmd.h"

static json_t *hangup_request(const char *arg)
{
	struct client_hangup h;

	client_hangup_of(arg, &h);
	return client_hangup_encode(&h);
}

static int print_hung_up(const json_t *reply, const char *arg)
{
	(void)reply;
	printf("hung up call %s\n", arg);
	return EXIT_OK;
}

int hangup_main(int argc, char **argv)
{
	static const struct simple_request r = {
		.op = "hangup",
		.what = "hanging up",
		.usage = "Usage: insel hangup CALL-ID [common options]\n",
		.arg_name = "CALL-ID",
		.request = hangup_request,
		.print = print_hung_up,
	};

	return simple_request_main(argc, argv, &r);
}
