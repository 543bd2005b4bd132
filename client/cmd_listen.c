/* `insel listen [--auto-answer|--reject] [--once] [--reconnect] [--tun]`: waits for calls
 * to this user (or this host) and answers them: automatically, by asking on the terminal,
 * or by declining. With --tun, network calls to this host's address are welcome too
 * (without it the gateway declines them). Prints each call that comes up and each that
 * ends. With --reconnect it outlives its gateway: it connects again to the same address,
 * which a LAN's standby gateway holds once it has taken over.
 * A reliable call (docs/reliable.md) is taken with --save DIR (a child process attaches
 * to it: a file from insel send-file is written to DIR under its name and its SHA-256 sent
 * back, any other stream to DIR/stream-CALLID) or with --conns (it becomes a named
 * connection, in-CALLID, for insel send/recv/close/abort/status). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "msg.h"

static const char usage[] =
	"Usage: insel listen [--auto-answer | --reject] [--once] [--tun] [common options]\n"
	"  --auto-answer  accept every call without asking\n"
	"  --reject       decline every call (for testing a caller's error path)\n"
	"  --once         exit after the first call has ended\n"
	"  --reconnect    when the gateway goes away, connect again (once a second for a\n"
	"                 minute) and go on listening: across a standby gateway's takeover\n"
	"  --tun          also take network calls (IP traffic to this host through the\n"
	"                 gateways' TUN interfaces)\n"
	"  --save DIR     take reliable calls: files from insel send-file into DIR (their\n"
	"                 SHA-256 checked with the sender), other streams into\n"
	"                 DIR/stream-CALLID\n"
	"  --conns        take reliable calls as named connections in-CALLID (insel recv,\n"
	"                 send, close, abort, status)\n";

enum answer_policy { ASK, ACCEPT_ALL, REJECT_ALL };

struct listener {
	enum answer_policy policy;
	bool once;
	bool reconnect;
	bool tun;
	bool json;
	int calls_ended;
	const char *save_dir;      /* --save */
	bool conns;                /* --conns */
	struct client_options *opts;
	int children;              /* receiving in child processes */
	int worst;                 /* the first failing child's exit status */
};

/* Children that finished: their status kept for --once. */
static void reap(struct listener *l, bool block)
{
	int status;
	pid_t pid;

	while (l->children > 0 && (pid = waitpid(-1, &status, block ? 0 : WNOHANG)) > 0) {
		l->children--;
		if (!l->worst && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
			l->worst = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_FAILURE_GENERIC;
	}
}

/* A reliable call is up: named, or received by a child (the session stays here). */
static void take_reliable(struct listener *l, const struct client_call *call)
{
	const struct ip_addr *source = l->opts->source ? &l->opts->source_addr : NULL;
	char name[32], id[ID_STRLEN];
	struct conn_target t;
	const char *why = "";
	pid_t pid;
	int fd;

	if (conn_target_of_call(call, &t) != 0)
		return;
	if (l->conns) {
		snprintf(name, sizeof name, "in-%s", id_format(call->id, id));
		if (conn_save(name, &t, call->caller) == 0)
			printf("incoming connection %s from %s\n", name, call->caller);
		fflush(stdout);
	}
	if (!l->save_dir)
		return;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("insel listen: fork");
		return;
	}
	if (pid > 0) {
		l->children++;
		return;
	}
	if (conn_attach(&t, source, STREAM_VERB_DUPLEX, &fd, &why) != STREAM_ATTACH_OK) {
		fprintf(stderr, "insel listen: %s\n", why);
		_exit(EXIT_FAILURE_GENERIC);
	}
	_exit(conn_receive_file(fd, l->save_dir, &t, source));
}

static bool ask_user(const struct client_call *call)
{
	char line[16];

	if (!isatty(STDIN_FILENO))
		return false;
	fprintf(stderr, "Accept call from %s? [y/N] ", call->caller);
	if (!fgets(line, sizeof line, stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

static void on_incoming(struct client_session *s, json_t *msg)
{
	struct listener *l = s->data;
	struct client_call *call = malloc(sizeof *call);
	const char *why = "out of memory";
	char id[ID_STRLEN];
	bool accept;

	if (!call || client_call_of(msg, call, &why)) {
		report_unreadable("answering a call", why);
		session_send(s, client_answer_encode(msg_id(msg), false));
		free(call);
		return;
	}
	accept = l->policy == ACCEPT_ALL || (l->policy == ASK && ask_user(call));
	/* A reliable call needs someone here to attach to it. */
	if (accept && call->nchannels && call->channels[0].mode != NEGOTIATE_DATAGRAM &&
	    !l->save_dir && !l->conns) {
		fprintf(stderr, "insel listen: declining a reliable connection from %s (start "
			"with --save DIR or --conns to take them)\n", call->caller);
		accept = false;
	}
	printf("incoming call %s from %s: %s\n", id_format(call->id, id), call->caller,
	       accept ? "accepting" : "declining");
	fflush(stdout);
	session_send(s, client_answer_encode(msg_id(msg), accept));
	free(call);
}

/* call_up: the call carries traffic; where to send. */
static void on_call_up(struct listener *l, json_t *msg)
{
	struct client_call *call = malloc(sizeof *call);
	const char *why = "out of memory";

	if (!call || client_call_of(msg, call, &why)) {
		report_unreadable("listening", why);
	} else {
		if (l->json)
			print_json(json_object_get(msg, "call"));
		else
			print_call(call);
		take_reliable(l, call);
	}
	free(call);
}

static void on_request(struct client_session *s, json_t *msg)
{
	struct listener *l = s->data;
	const char *op = msg_op(msg);

	reap(l, false);
	if (!op)
		return;
	if (strcmp(op, "incoming") == 0) {
		on_incoming(s, msg);
		return;
	}
	if (strcmp(op, "call_up") == 0) {
		on_call_up(l, msg);
	} else if (strcmp(op, "call_ended") == 0) {
		struct client_call_ended ended;
		const char *why;

		if (client_call_ended_decode(msg, &ended, &why) == 0)
			print_call_ended(&ended);
		else
			report_unreadable("listening", why);
		fflush(stdout);
		if (l->once)
			s->done = true;
	}
	if (msg_id(msg) >= 0)
		session_send(s, msg_reply_ok(msg_id(msg)));
}


/* One connection's worth of listening: connect, log in, say listen, serve until the
 * connection ends or the command is done. *lost says whether the gateway went away. */
static int listen_once(struct client_options *o, struct listener *l, bool *lost)
{
	struct client_session s;
	json_t *reply;
	int rc = session_open(&s, o);

	*lost = false;
	if (rc)
		return rc;
	s.data = l;
	s.on_request = on_request;
	rc = session_ask(&s, "listening", client_listen_encode(l->tun), 10000, &reply);
	json_decref(reply);
	if (rc) {
		session_close(&s);
		return rc;
	}
	printf("listening for calls to %s\n", o->user);
	fflush(stdout);
	session_run(&s);
	*lost = s.closed && !s.done;
	session_close(&s);
	return EXIT_OK;
}

/* --reconnect: the gateway went away (it stopped, or its LAN's standby took over,
 * docs/standby.md): connect again, once a second for LISTEN_RECONNECT_S, with the
 * password kept for it. */
#define LISTEN_RECONNECT_S 60

int listen_main(int argc, char **argv)
{
	struct client_options o = {0};
	struct listener l = {.policy = ASK};
	bool auto_answer = false, reject = false, lost = false;
	const struct opt own[] = {
		{"--auto-answer", false, NULL, &auto_answer},
		{"--reject", false, NULL, &reject},
		{"--once", false, NULL, &l.once},
		{"--reconnect", false, NULL, &l.reconnect},
		{"--tun", false, NULL, &l.tun},
		{"--save", true, &l.save_dir, NULL},
		{"--conns", false, NULL, &l.conns},
	};
	char password[sizeof o.password];
	int rc;

	rc = client_parse_args("insel listen", usage, argc, argv, &o, own,
			       sizeof own / sizeof own[0], NULL, 0, NULL);
	if (rc != CLIENT_ARGS_GO_ON)
		return rc;
	l.policy = reject ? REJECT_ALL : auto_answer ? ACCEPT_ALL : ASK;
	l.opts = &o;
	l.json = o.json;
	if (client_finish_options(&o))
		return EXIT_USAGE;
	memcpy(password, o.password, sizeof password);
	rc = listen_once(&o, &l, &lost);
	for (int tries = 0; l.reconnect && (rc == EXIT_OK ? lost
					     : tries > 0 && tries < LISTEN_RECONNECT_S);
	     tries++) {
		if (rc == EXIT_OK) {
			fprintf(stderr, "insel: lost the gateway; connecting again\n");
			tries = 0;
		}
		sleep(1);
		memcpy(o.password, password, sizeof password);
		rc = listen_once(&o, &l, &lost);
	}
	explicit_bzero(password, sizeof password);
	explicit_bzero(o.password, sizeof o.password);
	reap(&l, true);  /* the last transfers finish before we say how it went */
	return rc == EXIT_OK && l.worst ? l.worst : rc;
}
