/* Named reliable connections (docs/reliable.md): `insel open NAME PEER` places a call
 * whose one channel is reliable and saves where it is attached under NAME; `insel send`,
 * `recv`, `close`, `abort` and `status NAME` attach to it with the matching verb. The
 * connection lives in the two gateways' auxiliaries, not in this process: each command
 * attaches, does its part and detaches, and the connection ends on close, abort, a
 * vanished peer or two minutes with no byte either way ([limits] idle_timeout). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "err.h"
#include "rand.h"

#define CONN_CALL_TIMEOUT_MS 60000

int conn_place(struct client_session *s, const char *peer, enum negotiate_mode mode,
	       struct client_call *call)
{
	struct client_call_request req = {0};
	const char *why = "out of memory";
	json_t *reply;
	int rc;

	if (strlen(peer) < sizeof req.callee)
		strcpy(req.callee, peer);
	req.channels.n = 1;
	/* The gateway takes a free port if this one is busy: any number will do. */
	req.channels.ports[0] = (uint16_t)(20000 + rand_id32() % 40000);
	req.channels.modes[0] = mode;
	rc = session_ask(s, "placing the call", client_call_request_encode(&req),
			 CONN_CALL_TIMEOUT_MS, &reply);
	if (rc)
		return rc;
	if (client_call_of(reply, call, &why)) {
		json_decref(reply);
		return report_unreadable("placing the call", why);
	}
	json_decref(reply);
	return EXIT_OK;
}

static const char open_usage[] =
	"Usage: insel open NAME PEER [--unordered] [common options]\n"
	"  NAME         your name for the connection (letters, digits, . _ -)\n"
	"  PEER         USER@LAN or a host on another site; it runs `insel listen --conns`\n"
	"               (or --save DIR) to take it\n"
	"  --unordered  messages delivered as they complete, not a byte stream\n";

int open_main(int argc, char **argv)
{
	struct client_options o = {0};
	struct client_session s;
	struct client_call *call = calloc(1, sizeof *call);
	struct conn_target t;
	const char *pos[2] = {NULL, NULL};
	bool unordered = false;
	const struct opt own[] = {{"--unordered", false, NULL, &unordered}};
	size_t npos = 0;
	char id[ID_STRLEN];
	int rc;

	if (!call)
		return EXIT_FAILURE_GENERIC;
	rc = client_parse_args("insel open", open_usage, argc, argv, &o, own, 1, pos, 2, &npos);
	if (rc == CLIENT_ARGS_GO_ON && npos != 2) {
		fprintf(stderr, "insel open: NAME and PEER, please\n%s", open_usage);
		rc = EXIT_USAGE;
	}
	if (rc == CLIENT_ARGS_GO_ON && client_finish_options(&o))
		rc = EXIT_USAGE;
	if (rc == CLIENT_ARGS_GO_ON && conn_load(pos[0], &t, NULL, 0) == 0) {
		fprintf(stderr, "insel open: a connection named '%s' exists; close or abort it "
			"first\n", pos[0]);
		rc = EXIT_USAGE;
	}
	if (rc == CLIENT_ARGS_GO_ON && (rc = session_open(&s, &o)) == 0) {
		rc = conn_place(&s, pos[1], unordered ? NEGOTIATE_UNORDERED : NEGOTIATE_ORDERED,
				call);
		session_close(&s);
		if (rc == EXIT_OK && conn_target_of_call(call, &t) != 0) {
			fprintf(stderr, "insel open: the gateway did not make the call reliable\n");
			rc = EXIT_FAILURE_GENERIC;
		}
		if (rc == EXIT_OK && (rc = conn_save(pos[0], &t, pos[1])) != 0) {
			fprintf(stderr, "insel open: cannot save '%s': %s\n", pos[0],
				insel_strerror(rc));
			rc = EXIT_FAILURE_GENERIC;
		}
		if (rc == EXIT_OK)
			printf("opened %s to %s (call %s, %s)\n", pos[0], pos[1],
			       id_format(t.call_id, id), negotiate_mode_name(t.mode));
	}
	explicit_bzero(&t, sizeof t);
	free(call);
	return rc == CLIENT_ARGS_GO_ON ? EXIT_USAGE : rc;
}

/* NAME [FILE] of send and recv, and NAME of close, abort, status. */
static int name_args(const char *prog, const char *usage, int argc, char **argv,
		     struct client_options *o, const char **name, const char **file,
		     struct conn_target *t)
{
	const char *pos[2] = {NULL, NULL};
	size_t npos = 0;
	int rc = client_parse_args(prog, usage, argc, argv, o, NULL, 0, pos, file ? 2 : 1,
				   &npos);

	if (rc != CLIENT_ARGS_GO_ON)
		return rc;
	if (npos < 1) {
		fprintf(stderr, "%s: which connection?\n%s", prog, usage);
		return EXIT_USAGE;
	}
	*name = pos[0];
	if (client_finish_options(o))
		return EXIT_USAGE;
	if (file)
		*file = pos[1] ? pos[1] : "-";
	if ((rc = conn_load(*name, t, NULL, 0)) != 0) {
		fprintf(stderr, "%s: no connection named '%s' (insel open makes one)\n", prog,
			*name);
		return EXIT_USAGE;
	}
	return CLIENT_ARGS_GO_ON;
}

static const struct ip_addr *source_of(const struct client_options *o)
{
	return o->source ? &o->source_addr : NULL;
}

static int attach_or_say(const char *prog, const struct conn_target *t,
			 const struct client_options *o, enum stream_verb verb, int *fd)
{
	const char *why = "";
	int st = conn_attach(t, source_of(o), verb, fd, &why);

	if (st != STREAM_ATTACH_OK)
		fprintf(stderr, "%s: %s\n", prog, why);
	return st;
}

static const char send_usage[] =
	"Usage: insel send NAME [FILE|-]\n"
	"  sends FILE (or standard input) on the connection; the connection stays open\n";

int send_main(int argc, char **argv)
{
	struct client_options o = {0};
	struct conn_target t;
	const char *name, *file;
	uint64_t copied = 0;
	int rc = name_args("insel send", send_usage, argc, argv, &o, &name, &file, &t);
	int fd, in, st;

	if (rc != CLIENT_ARGS_GO_ON)
		return rc;
	in = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		perror(file);
		return EXIT_USAGE;
	}
	if (t.mode != NEGOTIATE_ORDERED) {
		fprintf(stderr, "insel send: '%s' carries messages; frame them yourself (a 4-byte "
			"length before each) with the attach protocol of docs/reliable.md\n", name);
	}
	st = attach_or_say("insel send", &t, &o, STREAM_VERB_SEND, &fd);
	if (st != STREAM_ATTACH_OK)
		return EXIT_FAILURE_GENERIC;
	rc = conn_copy(in, fd, NULL, NULL, UINT64_MAX, &copied);
	close(fd);
	if (in != STDIN_FILENO)
		close(in);
	if (rc) {
		fprintf(stderr, "insel send: %s after %llu bytes\n", insel_strerror(rc),
			(unsigned long long)copied);
		return EXIT_FAILURE_GENERIC;
	}
	fprintf(stderr, "sent %llu bytes on %s\n", (unsigned long long)copied, name);
	return EXIT_OK;
}

static const char recv_usage[] =
	"Usage: insel recv NAME [FILE|-]\n"
	"  writes what the peer sent to FILE (or standard output) until the peer closes\n";

int recv_main(int argc, char **argv)
{
	struct client_options o = {0};
	struct conn_target t;
	const char *name, *file;
	uint64_t copied = 0;
	int rc = name_args("insel recv", recv_usage, argc, argv, &o, &name, &file, &t);
	int fd, out;

	if (rc != CLIENT_ARGS_GO_ON)
		return rc;
	out = strcmp(file, "-") == 0 ? STDOUT_FILENO
				     : open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		perror(file);
		return EXIT_USAGE;
	}
	if (attach_or_say("insel recv", &t, &o, STREAM_VERB_RECV, &fd) != STREAM_ATTACH_OK)
		return EXIT_FAILURE_GENERIC;
	rc = conn_copy(fd, out, NULL, NULL, UINT64_MAX, &copied);
	close(fd);
	if (out != STDOUT_FILENO)
		close(out);
	if (rc) {
		fprintf(stderr, "insel recv: the connection broke after %llu bytes (%s): the peer "
			"aborted or stopped answering\n", (unsigned long long)copied,
			insel_strerror(rc));
		return EXIT_FAILURE_GENERIC;
	}
	fprintf(stderr, "received %llu bytes on %s; the peer closed\n",
		(unsigned long long)copied, name);
	return EXIT_OK;
}

static const char close_usage[] =
	"Usage: insel close NAME\n"
	"  delivers what was sent, then closes (aborts if the peer does not acknowledge\n"
	"  within the time-out)\n";

int close_main(int argc, char **argv)
{
	struct client_options o = {0};
	struct conn_target t;
	const char *name;
	uint8_t status = STREAM_ATTACH_FAILED;
	int rc = name_args("insel close", close_usage, argc, argv, &o, &name, NULL, &t);
	const char *why = "";
	int fd, st;

	if (rc != CLIENT_ARGS_GO_ON)
		return rc;
	/* The gateway's one status byte comes once everything was acknowledged (OK), or
	 * when the close failed. */
	st = conn_attach(&t, o.source ? &o.source_addr : NULL, STREAM_VERB_CLOSE, &fd, &why);
	if (st == STREAM_ATTACH_OK)
		close(fd);
	status = (uint8_t)st;
	if (status == STREAM_ATTACH_OK || status == STREAM_ATTACH_ENDED)
		conn_forget(name);
	if (status != STREAM_ATTACH_OK) {
		fprintf(stderr, "insel close: %s\n", stream_status_text(status));
		return EXIT_FAILURE_GENERIC;
	}
	printf("closed %s: everything sent was delivered\n", name);
	return EXIT_OK;
}

static const char abort_usage[] =
	"Usage: insel abort NAME\n"
	"  ends the connection at once; what was not delivered is discarded on both sides\n";

int abort_main(int argc, char **argv)
{
	struct client_options o = {0};
	struct conn_target t;
	const char *name;
	int rc = name_args("insel abort", abort_usage, argc, argv, &o, &name, NULL, &t);
	int fd, st;

	if (rc != CLIENT_ARGS_GO_ON)
		return rc;
	st = attach_or_say("insel abort", &t, &o, STREAM_VERB_ABORT, &fd);
	if (st == STREAM_ATTACH_OK)
		close(fd);
	conn_forget(name);
	if (st != STREAM_ATTACH_OK && st != STREAM_ATTACH_ENDED)
		return EXIT_FAILURE_GENERIC;
	printf("aborted %s\n", name);
	return EXIT_OK;
}

/* `insel status NAME` (cmd_status.c passes it here): the engine's counters. */
int conn_status_main(const char *name, const struct client_options *o)
{
	struct conn_target t;
	char peer[CLIENT_CALL_NAME_MAX], id[ID_STRLEN];
	json_t *st;

	if (conn_load(name, &t, peer, sizeof peer) != 0) {
		fprintf(stderr, "insel status: no connection named '%s'\n", name);
		return EXIT_USAGE;
	}
	st = conn_query(&t, source_of(o));
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:o*}", "name", name, "peer", peer, "call",
				      id_format(t.call_id, id), "stream", st);

		print_json(j);
		json_decref(j);
		return st ? EXIT_OK : EXIT_FAILURE_GENERIC;
	}
	printf("%s  to %s  call %s\n", name, peer, id_format(t.call_id, id));
	if (!st) {
		printf("  ended (its gateway no longer serves it)\n");
		return EXIT_FAILURE_GENERIC;
	}
	conn_print_stats(stdout, st);
	json_decref(st);
	return EXIT_OK;
}
