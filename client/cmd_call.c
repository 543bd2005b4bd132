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

/* "5004,5005" -> [{"kind":"udp","port":5004},{"kind":"udp","port":5005}] */
static json_t *parse_udp_ports(const char *text)
{
	json_t *channels = json_array();
	char *copy = strdup(text), *save = NULL, *tok;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long port = strtol(tok, &end, 10);

		if (*end || port < 1 || port > 65535 || json_array_size(channels) >= 8) {
			fprintf(stderr, "insel call: '%s' is not a list of 1 to 8 UDP ports\n", text);
			json_decref(channels);
			channels = NULL;
			break;
		}
		json_array_append_new(channels, json_pack("{s:s, s:i}", "kind", "udp", "port",
							  (int)port));
	}
	free(copy);
	return channels;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void call_event(struct client_session *s, json_t *msg)
{
	const char *op = msg_op(msg);

	if (op && strcmp(op, "call_ended") == 0) {
		print_call_ended(msg);
		s->done = true;
	}
	if (msg_id(msg) >= 0)
		session_send(s, msg_reply_ok(msg_id(msg)));
}

static int wait_for_end(struct client_session *s, const char *call_id)
{
	struct sigaction sa = {.sa_handler = on_interrupt};
	json_t *req, *reply;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	s->on_request = call_event;
	while (!s->closed && !s->done && !interrupted)
		uv_run(&s->loop, UV_RUN_ONCE);
	if (!interrupted)
		return EXIT_OK;
	req = msg_request("hangup", 0);
	json_object_set_new(req, "call", json_string(call_id));
	if (session_request(s, req, 5000, &reply) == 0)
		printf("hung up call %s\n", call_id);
	json_decref(reply);
	return EXIT_OK;
}

int call_main(int argc, char **argv)
{
	struct client_options o = {0};
	struct client_session s;
	const char *callee = NULL, *ports = "5004";
	bool wait = false, tun = false, taken;
	json_t *req, *reply, *channels;
	int rc;

	for (int i = 1; i < argc;) {
		int next = client_parse_common(argc, argv, i, &o, &taken);

		if (next < 0)
			return EXIT_USAGE;
		if (taken) {
			i = next;
		} else if (strcmp(argv[i], "--udp") == 0 && i + 1 < argc) {
			ports = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "--tun") == 0) {
			tun = true;
			i++;
		} else if (strcmp(argv[i], "--wait") == 0) {
			wait = true;
			i++;
		} else if (strcmp(argv[i], "--help") == 0) {
			printf("%s", usage);
			return EXIT_OK;
		} else if (argv[i][0] != '-' && !callee) {
			callee = argv[i++];
		} else {
			fprintf(stderr, "insel call: unexpected '%s'\n%s", argv[i], usage);
			return EXIT_USAGE;
		}
	}
	if (!callee) {
		fprintf(stderr, "insel call: whom to call?\n%s", usage);
		return EXIT_USAGE;
	}
	channels = tun ? json_pack("[{s:s}]", "kind", "tun") : parse_udp_ports(ports);
	if (!channels)
		return EXIT_USAGE;
	if (client_finish_options(&o)) {
		json_decref(channels);
		return EXIT_USAGE;
	}
	rc = session_open(&s, &o);
	if (rc) {
		json_decref(channels);
		return rc;
	}
	req = msg_request("call", 0);
	json_object_set_new(req, "callee", json_string(callee));
	json_object_set_new(req, "channels", channels);
	rc = session_request(&s, req, CALL_TIMEOUT_MS, &reply);
	if (rc) {
		rc = report_transport_error("placing the call", rc);
	} else if (!msg_reply_is_ok(reply, NULL, NULL)) {
		rc = report_error_reply("placing the call", reply);
	} else {
		json_t *call = json_object_get(reply, "call");

		if (o.json)
			print_json(call);
		else
			print_call(call);
		rc = wait ? wait_for_end(&s, json_string_value(json_object_get(call, "id")))
			  : EXIT_OK;
	}
	json_decref(reply);
	session_close(&s);
	return rc;
}
