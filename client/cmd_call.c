/* `insel call CALLEE [--udp PORT[,PORT...] | --tun] [--wait]`: places a call to USER@LAN,
 * a host name or an address on another site, and prints where the application must send.
 * With --tun it is a network call: the two gateways route IP traffic between this host
 * and the callee's address through a TUN interface each (ping, TCP, anything over IPv4
 * or IPv6).
 * With --wait it stays until the call ends and hangs up on Ctrl-C. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "msg.h"

#define CALL_TIMEOUT_MS 60000  /* the callee may take a while to answer */

static const char usage[] =
	"Usage: insel call CALLEE [--udp PORT[,PORT...] | --tun] [--wait] [common options]\n"
	"  CALLEE       USER@LAN, a host name, or an address on another site\n"
	"  --udp PORTS  one UDP channel per port (RTP and RTCP: --udp 5004,5005); default 5004\n"
	"  --tun        a network call: IP traffic between this host and CALLEE (a host name\n"
	"               or address; the callee runs `insel listen --tun`)\n"
	"  --wait       stay until the call ends; Ctrl-C hangs up\n"
	"Common options: --secondary ADDR:PORT|SOCKET --ca FILE --user NAME\n"
	"                --password-file FILE --source ADDR --json\n"
	"  --source ADDR  connect from this address of the host (the gateway sends the\n"
	"                 call's datagrams to it)\n";

/* "5004,5005": one UDP channel per port. */
static int parse_udp_ports(const char *text, struct call_channel_list *out)
{
	char *copy = strdup(text), *save = NULL, *tok;
	int rc = copy ? 0 : -1;

	out->tun = false;
	out->n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long port = strtol(tok, &end, 10);

		if (*end || port < 1 || port > 65535 || out->n >= SEC_MAX_CHANNELS) {
			fprintf(stderr, "insel call: '%s' is not a list of 1 to 8 UDP ports\n", text);
			rc = -1;
			break;
		}
		out->ports[out->n++] = (uint16_t)port;
	}
	free(copy);
	return rc;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void call_event(struct client_session *s, json_t *msg)
{
	struct client_call_ended ended;
	const char *op = msg_op(msg), *why;

	if (op && strcmp(op, "call_ended") == 0) {
		if (client_call_ended_decode(msg, &ended, &why) == 0)
			print_call_ended(&ended);
		else
			report_unreadable("waiting for the call to end", why);
		s->done = true;
	}
	if (msg_id(msg) >= 0)
		session_send(s, msg_reply_ok(msg_id(msg)));
}

static int wait_for_end(struct client_session *s, uint64_t call_id)
{
	struct sigaction sa = {.sa_handler = on_interrupt};
	struct client_hangup h;
	char id[ID_STRLEN];
	json_t *reply;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	s->on_request = call_event;
	while (!s->closed && !s->done && !interrupted)
		uv_run(&s->loop, UV_RUN_ONCE);
	if (!interrupted)
		return EXIT_OK;
	client_hangup_of(id_format(call_id, id), &h);
	if (session_request(s, client_hangup_encode(&h), 5000, &reply) == 0)
		printf("hung up call %s\n", id);
	json_decref(reply);
	return EXIT_OK;
}

/* The call is up: where to send, then (--wait) its end. */
static int call_placed(struct client_session *s, const json_t *reply, bool json, bool wait)
{
	struct client_call *call = malloc(sizeof *call);
	const char *why = "out of memory";
	int rc;

	if (!call || client_call_of(reply, call, &why)) {
		free(call);
		return report_unreadable("placing the call", why);
	}
	if (json)
		print_json(json_object_get(reply, "call"));
	else
		print_call(call);
	rc = wait ? wait_for_end(s, call->id) : EXIT_OK;
	free(call);
	return rc;
}

int call_main(int argc, char **argv)
{
	struct client_options o = {0};
	struct client_session s;
	const char *callee = NULL, *ports = "5004";
	bool wait = false, tun = false;
	const struct opt own[] = {
		{"--udp", true, &ports, NULL},
		{"--tun", false, NULL, &tun},
		{"--wait", false, NULL, &wait},
	};
	struct client_call_request req = {0};
	json_t *reply;
	int rc;

	rc = client_parse_args("insel call", usage, argc, argv, &o, own,
			       sizeof own / sizeof own[0], &callee, 1, NULL);
	if (rc != CLIENT_ARGS_GO_ON)
		return rc;
	if (!callee) {
		fprintf(stderr, "insel call: whom to call?\n%s", usage);
		return EXIT_USAGE;
	}
	/* A name too long for any party names no one: the gateway says so. */
	if (strlen(callee) < sizeof req.callee)
		strcpy(req.callee, callee);
	if (tun) {
		req.channels.tun = true;
		req.channels.n = 1;
	} else if (parse_udp_ports(ports, &req.channels)) {
		return EXIT_USAGE;
	}
	if (client_finish_options(&o))
		return EXIT_USAGE;
	rc = session_open(&s, &o);
	if (rc)
		return rc;
	rc = session_ask(&s, "placing the call", client_call_request_encode(&req),
			 CALL_TIMEOUT_MS, &reply);
	if (!rc)
		rc = call_placed(&s, reply, o.json, wait);
	json_decref(reply);
	session_close(&s);
	return rc;
}
