/* Test tool: a real TLS client of the principal's API, built on common/control/tls.h.
 *
 *   api-client --ca CA --cert CERT --key KEY --connect ADDR:PORT < script
 *
 * Each script line is a JSON request, sent once the previous one has its reply; every
 * reply is printed on one line. "#sleep MS" pauses. A notice (a message without "id", such
 * as "revoked" or "rooms") is printed too but is no reply: the script waits on. A refused handshake prints
 * "handshake failed: REASON" and exits 3; a connection the principal closes exits 4.
 * With --timed, each reply is followed by a line "#ms N": how long it took to come. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "log.h"
#include "tls.h"

struct client {
	uv_loop_t *loop;
	struct tls_conn *conn;
	uv_timer_t timer;
	int exit_code;
	bool done;
	bool timed;
	uint64_t sent_ns;  /* when the request waiting for its reply was sent */
};

static void next_request(struct client *cl);

static void timer_cb(uv_timer_t *t)
{
	next_request(t->data);
}

static void finish(struct client *cl, int code)
{
	if (cl->done)
		return;
	cl->done = true;
	cl->exit_code = code;
	tls_conn_close(cl->conn, 0);
}

/* Sends the next script line, or closes at the end of the script. */
static void next_request(struct client *cl)
{
	char line[256 * 1024];
	json_error_t jerr;
	json_t *req;

	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		if (strncmp(line, "#sleep ", 7) == 0) {
			uv_timer_start(&cl->timer, timer_cb, strtoull(line + 7, NULL, 10), 0);
			return;
		}
		req = json_loads(line, 0, &jerr);
		if (!req) {
			fprintf(stderr, "api-client: bad script line: %s\n", jerr.text);
			continue;
		}
		cl->sent_ns = uv_hrtime();
		if (tls_conn_send_new(cl->conn, req) != 0)
			printf("send failed\n");
		return;
	}
	finish(cl, 0);
}

static void on_ready(struct tls_conn *c, int status)
{
	struct client *cl = tls_conn_data(c);

	if (status) {
		printf("handshake failed: %s\n", tls_conn_error(c));
		cl->done = true;
		cl->exit_code = 3;
		return;
	}
	next_request(cl);
}

static void on_message(struct tls_conn *c, json_t *msg, int err)
{
	struct client *cl = tls_conn_data(c);
	char *text;

	if (!msg) {
		printf("unreadable reply (%d)\n", err);
		return;
	}
	text = json_dumps(msg, JSON_COMPACT | JSON_SORT_KEYS);
	printf("%s\n", text);
	if (cl->timed && json_object_get(msg, "id"))
		printf("#ms %llu\n", (unsigned long long)((uv_hrtime() - cl->sent_ns) / 1000000));
	fflush(stdout);
	free(text);
	if (json_object_get(msg, "id"))
		next_request(cl);
}

static void on_close(struct tls_conn *c)
{
	struct client *cl = tls_conn_data(c);

	if (!cl->done) {
		printf("closed by the principal: %s\n", tls_conn_error(c));
		cl->exit_code = 4;
		cl->done = true;
	}
	uv_close((uv_handle_t *)&cl->timer, NULL);
}

int main(int argc, char **argv)
{
	const char *ca = NULL, *cert = NULL, *key = NULL, *to = NULL;
	static const struct tls_conn_callbacks cb = {on_ready, on_message, on_close};
	struct client cl = {.loop = uv_default_loop()};
	struct tls_creds *creds;
	struct ip_endpoint ep;
	char err[512];

	log_init("api-client");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--timed") == 0) {
			cl.timed = true;
			continue;
		}
		if (i + 1 == argc)
			break;
		if (strcmp(argv[i], "--ca") == 0)
			ca = argv[i + 1];
		else if (strcmp(argv[i], "--cert") == 0)
			cert = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0)
			key = argv[i + 1];
		else if (strcmp(argv[i], "--connect") == 0)
			to = argv[i + 1];
		i++;
	}
	if (!ca || !cert || !key || !to || ip_endpoint_parse(to, &ep)) {
		fprintf(stderr, "usage: api-client --ca CA --cert CERT --key KEY --connect A:P "
				"[--timed]\n");
		return 2;
	}
	if (tls_creds_load(&creds, ca, cert, key, err, sizeof err)) {
		fprintf(stderr, "api-client: %s\n", err);
		return 2;
	}
	uv_timer_init(cl.loop, &cl.timer);
	cl.timer.data = &cl;
	if (tls_connect(cl.loop, creds, &ep, PKI_ROLE_PRINCIPAL, NULL, &cb, &cl, &cl.conn)) {
		fprintf(stderr, "api-client: cannot connect to %s\n", to);
		return 4;
	}
	uv_run(cl.loop, UV_RUN_DEFAULT);
	uv_loop_close(cl.loop);
	tls_creds_free(creds);
	return cl.exit_code;
}
