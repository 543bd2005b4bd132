/* Turns the protocol's stable error codes into sentences that tell the user what happened
 * and what to do about it. A code may mean something else in one step (while logging in,
 * "busy" is about login attempts, not about the callee): such entries name the step. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "err.h"
#include "msg.h"

struct advice {
	const char *code;
	const char *sentence;
	int exit_code;
};

/* What a code means while logging in, where it differs from the table below. */
static const struct advice login_advice_table[] = {
	{"busy", "Too many failed logins from this host or for this user: the gateway "
		 "refuses more attempts for a while. Wait for the time given, then try again "
		 "(with the right password).", EXIT_UNAVAILABLE},
	{"limit", "The gateway serves as many logged-in clients as it allows. Try again "
		  "later, or ask your operator to raise [clients] max_connections.",
	 EXIT_UNAVAILABLE},
};

static const struct advice advice_table[] = {
	{"bad_password", "The user name or password is wrong. Check them, or ask your "
			 "operator to reset the password.", EXIT_FAILURE_GENERIC},
	{"not_logged_in", "Log in first (give --user and a password).", EXIT_FAILURE_GENERIC},
	{"unknown_callee", "Nobody by that name or address is known. Check the spelling: "
			   "USER@LAN, a host name, or an address of another site.",
	 EXIT_FAILURE_GENERIC},
	{"not_in_lan", "You can only call from a host inside your LAN; this address is not "
		       "part of it.", EXIT_FAILURE_GENERIC},
	{"rejected", "The person you called declined the call.", EXIT_FAILURE_GENERIC},
	{"no_answer", "Nobody answered in time. Try again later.", EXIT_FAILURE_GENERIC},
	{"busy", "The callee is busy in another call. Try again later.", EXIT_FAILURE_GENERIC},
	{"not_listening", "The callee is not waiting for calls right now (no `insel listen`). "
			  "Ask them to start it.", EXIT_FAILURE_GENERIC},
	{"peer_down", "The callee's site cannot be reached right now. Try again later, or "
		      "ask your operator to check that site's gateway.", EXIT_UNAVAILABLE},
	{"principal_unreachable", "Your site cannot reach the directory server right now, so "
				  "new calls cannot be placed. Calls in progress go on.",
	 EXIT_UNAVAILABLE},
	{"rekey_failed", "The call ended because the two sites could not renew its keys in "
			 "time (they do so every two minutes or less to keep it secret). Place "
			 "it again; if this repeats, ask your operator to check the link between "
			 "the gateways.", EXIT_UNAVAILABLE},
	{"limit", "Your gateway has reached its limit of concurrent calls. Hang up another "
		  "call or try again later.", EXIT_UNAVAILABLE},
	{"no_common", "The two sites have no cipher or option in common; ask your operators "
		      "to align their configuration.", EXIT_FAILURE_GENERIC},
	{"tun_unavailable", "A gateway in this call runs without root, so it carries UDP calls "
			    "only, not network calls (--tun). Ask your operator.",
	 EXIT_FAILURE_GENERIC},
	{"gateway_outside_lan", "The other site's gateway announced a LAN address outside its "
				"LAN's prefixes in the directory, so the call was refused. Ask "
				"your operator to check that site's lan_address and the "
				"directory's prefixes.", EXIT_FAILURE_GENERIC},
	{"unknown_call", "There is no such call (it may have ended already). `insel calls` "
			 "lists the calls in progress.", EXIT_FAILURE_GENERIC},
	{"bad_request", "The request was not understood; check the command's arguments.",
	 EXIT_USAGE},
	{"bad_field", "The request was not understood; check the command's arguments.",
	 EXIT_USAGE},
	{"revoked", "The operator revoked the certificate of a gateway in this call, so the call "
		    "was ended. Calls to that site are refused until its gateway has a new "
		    "certificate; ask your operator.", EXIT_FAILURE_GENERIC},
	{"internal", "The gateway failed to handle the request; its log says why.",
	 EXIT_FAILURE_GENERIC},
};

static const struct advice *find_in(const struct advice *table, size_t n, const char *code)
{
	for (size_t i = 0; code && i < n; i++)
		if (strcmp(table[i].code, code) == 0)
			return &table[i];
	return NULL;
}

/* The entry for code in this step, else the general one. */
static const struct advice *find_advice(const char *code, const char *step)
{
	const struct advice *a = NULL;

	if (step && strcmp(step, LOGGING_IN) == 0)
		a = find_in(login_advice_table,
			    sizeof login_advice_table / sizeof login_advice_table[0], code);
	return a ? a : find_in(advice_table, sizeof advice_table / sizeof advice_table[0], code);
}

const char *error_advice(const char *code)
{
	const struct advice *a = find_advice(code, NULL);

	return a ? a->sentence : NULL;
}

int report_error_reply(const char *what, const json_t *reply)
{
	const char *code = "internal", *message = "no reply";
	const struct advice *a;

	if (reply)
		msg_reply_is_ok(reply, &code, &message);
	a = find_advice(code, what);
	if (a)
		fprintf(stderr, "insel: %s: %s\n  (%s: %s)\n", what, a->sentence, code, message);
	else
		fprintf(stderr, "insel: %s: %s (%s)\n", what, message, code);
	return a ? a->exit_code : EXIT_FAILURE_GENERIC;
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
