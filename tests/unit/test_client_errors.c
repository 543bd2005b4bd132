/* Unit tests of what the client prints for an error reply (client/errors.c over the
 * registry): a known code gives its sentence, the code and the gateway's message, and the
 * registry's exit status; while logging in "busy" says something else; an old peer's alias
 * reads as its code; a code from a newer peer, unknown here, still shows the gateway's
 * message; no reply at all is "internal". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "msg.h"

struct printed {
	char text[2048];
	int exit_code;
};

/* Runs report_error_reply with stderr captured. */
static void report(const char *what, const json_t *reply, struct printed *out)
{
	FILE *capture = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(capture);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
	out->exit_code = report_error_reply(what, reply);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(capture);
	n = fread(out->text, 1, sizeof out->text - 1, capture);
	out->text[n] = '\0';
	fclose(capture);
}

static void report_code(const char *what, const char *code, const char *message,
			struct printed *out)
{
	json_t *reply = msg_reply_error(3, code, "%s", message);

	assert_non_null(reply);
	report(what, reply, out);
	json_decref(reply);
}

static void known_code_prints_its_sentence(void **state)
{
	struct printed p;

	(void)state;
	report_code("placing the call", "no_answer", "nobody answered in time", &p);
	assert_string_equal(p.text, "insel: placing the call: Nobody answered in time. Try again "
				    "later.\n  (no_answer: nobody answered in time)\n");
	assert_int_equal(p.exit_code, EXIT_FAILURE_GENERIC);
	report_code("placing the call", "peer_down", "no TLS", &p);
	assert_non_null(strstr(p.text, "The callee's site cannot be reached right now."));
	assert_int_equal(p.exit_code, EXIT_UNAVAILABLE);
	report_code("hanging up", "bad_field", "field 'call' is missing", &p);
	assert_int_equal(p.exit_code, EXIT_USAGE);
}

static void busy_while_logging_in_is_about_logins(void **state)
{
	struct printed p;

	(void)state;
	report_code(LOGGING_IN, "busy", "too many failed logins; try again in 30 s", &p);
	assert_non_null(strstr(p.text, "insel: logging in: Too many failed logins"));
	assert_non_null(strstr(p.text, "(busy: too many failed logins; try again in 30 s)"));
	assert_int_equal(p.exit_code, EXIT_UNAVAILABLE);
	report_code("placing the call", "busy", "the callee is answering another call", &p);
	assert_non_null(strstr(p.text, "The callee is busy in another call."));
	assert_int_equal(p.exit_code, EXIT_FAILURE_GENERIC);
}

/* An older secondary says "version" for unsupported_version. */
static void old_name_reads_as_its_code(void **state)
{
	struct printed p;

	(void)state;
	report_code("connecting to the gateway", "version", "this gateway speaks protocol "
		    "version 1", &p);
	assert_non_null(strstr(p.text, "speaks another protocol version"));
	assert_non_null(strstr(p.text, "(version: this gateway speaks protocol version 1)"));
}

static void unknown_code_shows_the_gateways_message(void **state)
{
	struct printed p;

	(void)state;
	report_code("placing the call", "moon_phase", "calls wait for the new moon", &p);
	assert_string_equal(p.text,
			    "insel: placing the call: calls wait for the new moon (moon_phase)\n");
	assert_int_equal(p.exit_code, EXIT_FAILURE_GENERIC);
}

static void no_reply_or_no_code(void **state)
{
	struct printed p;
	json_t *codeless = json_pack("{s:i, s:b}", "id", 3, "ok", 0);

	(void)state;
	report("listing calls", NULL, &p);
	assert_non_null(strstr(p.text, "The gateway failed to handle the request"));
	assert_non_null(strstr(p.text, "(internal: no reply)"));
	report("listing calls", codeless, &p);
	assert_non_null(strstr(p.text, "(protocol: malformed reply)"));
	json_decref(codeless);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_code_prints_its_sentence),
		cmocka_unit_test(busy_while_logging_in_is_about_logins),
		cmocka_unit_test(old_name_reads_as_its_code),
		cmocka_unit_test(unknown_code_shows_the_gateways_message),
		cmocka_unit_test(no_reply_or_no_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
