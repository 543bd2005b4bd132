/* The shape shared by the one-request subcommands (calls, hangup, status): parse the
 * common options and up to one positional argument, open a session, send one request,
 * print the reply. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "msg.h"

int simple_request_main(int argc, char **argv, const struct simple_request *r)
{
	struct client_options o = {0};
	struct client_session s;
	const char *arg = NULL;
	char prog[64];
	json_t *req, *reply;
	int rc;

	snprintf(prog, sizeof prog, "insel %s", r->op);
	rc = client_parse_args(prog, r->usage, argc, argv, &o, NULL, 0, &arg,
			       r->arg_name ? 1 : 0, NULL);
	if (rc != CLIENT_ARGS_GO_ON)
		return rc;
	if (r->arg_name && !arg) {
		fprintf(stderr, "insel %s: missing %s\n%s", r->op, r->arg_name, r->usage);
		return EXIT_USAGE;
	}
	if (client_finish_options(&o))
		return EXIT_USAGE;
	rc = session_open(&s, &o);
	if (rc)
		return rc;
	req = r->request ? r->request(arg) : msg_request(r->op, 0);
	rc = session_ask(&s, r->what, req, 10000, &reply);
	if (!rc && o.json)
		print_json(reply);
	else if (!rc)
		rc = r->print(reply, arg);
	json_decref(reply);
	session_close(&s);
	return rc;
}
