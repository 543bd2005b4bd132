/* Turns the protocol's error codes into what the user reads: the sentence and the exit
 * status come from the registry (wire_errors.def); this file only picks the step (while
 * logging in some codes mean something else) and lays the lines out. A code this build
 * does not know (a newer gateway's) still prints the gateway's own message and the code. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "err.h"
#include "msg.h"
#include "wire_errors.h"

static enum wire_step step_of(const char *what)
{
	return what && strcmp(what, LOGGING_IN) == 0 ? WIRE_STEP_LOGIN : WIRE_STEP_ANY;
}

const char *error_advice(const char *code)
{
	enum wire_error e;

	return wire_error_lookup(code, &e) ? wire_error_sentence(e, WIRE_STEP_ANY) : NULL;
}

int report_error_reply(const char *what, const json_t *reply)
{
	const char *code = WIRE(INTERNAL), *message = "no reply";
	enum wire_error e;

	if (reply)
		msg_reply_is_ok(reply, &code, &message);
	if (!wire_error_lookup(code, &e)) {
		fprintf(stderr, "insel: %s: %s (%s)\n", what, message, code);
		return EXIT_FAILURE_GENERIC;
	}
	fprintf(stderr, "insel: %s: %s\n  (%s: %s)\n", what, wire_error_sentence(e, step_of(what)),
		code, message);
	return wire_error_exit_code(e, step_of(what));
}

int report_transport_error(const char *what, int err)
{
	if (err == INSEL_E_TIMEOUT)
		fprintf(stderr, "insel: %s: the gateway did not answer in time.\n", what);
	else if (err == INSEL_E_CLOSED)
		fprintf(stderr, "insel: %s: the gateway closed the connection.\n", what);
	else
		fprintf(stderr, "insel: %s: %s\n", what, insel_strerror(err));
	return EXIT_UNAVAILABLE;
}
