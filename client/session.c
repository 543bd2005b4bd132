/* The client's session with its LAN's secondary: TLS to the gateway's client port (the
 * gateway proves its identity with its certificate; the user proves theirs with a
 * password), or a unix socket on the gateway itself. Requests and replies go through
 * rpc.h; requests that the secondary starts (an incoming call) go to on_request. */
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "client.h"
#include "cmd.h"
#include "err.h"
#include "msg.h"
#include "tls.h"

#define HELLO_TIMEOUT_MS 10000

static void session_message(struct client_session *s, json_t *msg, int err)
{
	if (err)
		return;  /* a frame we could not read; the secondary's replies are well formed */
	if (rpc_take_reply(&s->rpc, msg))
		return;
	if (s->on_request)
		s->on_request(s, msg);
}

static void session_closed(struct client_session *s, int reason)
{
	s->closed = true;
	s->stream = NULL;
	s->tls = NULL;
	if (!s->error)
		s->error = reason ? reason : INSEL_E_CLOSED;
	rpc_fail_all(&s->rpc, INSEL_E_CLOSED);
}

static void stream_msg(struct msg_stream *m, json_t *msg, int err)
{
	session_message(m->data, msg, err);
}

static void stream_close(struct msg_stream *m)
{
	session_closed(m->data, m->close_reason);
}

static void stream_connected(uv_connect_t *req, int status)
{
	struct client_session *s = req->data;

	if (status < 0) {
		s->error = status;
		msg_stream_close(s->stream, status);
		return;
	}
	msg_stream_start(s->stream, stream_msg, stream_close);
	s->ready = true;
}

static void tls_ready(struct tls_conn *c, int status)
{
	struct client_session *s = tls_conn_data(c);

	if (status) {
		s->error = status;
		fprintf(stderr, "insel: cannot open a secure connection to %s: %s\n",
			s->opts->secondary, tls_conn_error(c));
		return;
	}
	s->ready = true;
}

static void tls_msg(struct tls_conn *c, json_t *msg, int err)
{
	session_message(tls_conn_data(c), msg, err);
}

static void tls_closed(struct tls_conn *c)
{
	session_closed(tls_conn_data(c), tls_conn_close_reason(c));
}

static const struct tls_conn_callbacks tls_callbacks = {tls_ready, tls_msg, tls_closed};

static int send_any(void *conn, const json_t *msg)
{
	struct client_session *s = conn;

	if (s->stream)
		return msg_stream_send(s->stream, msg);
	if (s->tls)
		return tls_conn_send(s->tls, msg);
	return INSEL_E_CLOSED;
}

int session_send(struct client_session *s, json_t *msg)
{
	int rc = send_any(s, msg);

	json_decref(msg);
	return rc;
}

static int connect_unix(struct client_session *s)
{
	static uv_connect_t req;

	s->stream = msg_stream_new_pipe(&s->loop, MSG_MAX_DEFAULT);
	if (!s->stream)
		return INSEL_E_NOSPACE;
	s->stream->data = s;
	req.data = s;
	uv_pipe_connect(&req, &s->stream->h.pipe, s->opts->secondary, stream_connected);
	return 0;
}

static int connect_tls(struct client_session *s)
{
	struct ip_endpoint ep;
	char err[512];
	int rc;

	if (ip_endpoint_parse(s->opts->secondary, &ep)) {
		fprintf(stderr, "insel: '%s' is neither ADDRESS:PORT nor a socket path\n",
			s->opts->secondary);
		return INSEL_E_BAD_ADDR;
	}
	if (tls_creds_load(&s->creds, s->opts->ca, NULL, NULL, err, sizeof err)) {
		fprintf(stderr, "insel: %s\n", err);
		return INSEL_E_CONFIG;
	}
	rc = tls_connect_from(&s->loop, s->creds, s->opts->source ? &s->opts->source_addr : NULL,
			      &ep, PKI_ROLE_SECONDARY, NULL, &tls_callbacks, s, &s->tls);
	if (rc)
		fprintf(stderr, "insel: cannot connect to %s: %s\n", s->opts->secondary,
			insel_strerror(rc));
	return rc;
}

struct waiter {
	bool done;
	int err;
	json_t *reply;
};

static void wake(void *ctx, const json_t *reply, int err)
{
	struct waiter *w = ctx;

	w->done = true;
	w->err = err;
	w->reply = reply ? json_incref((json_t *)reply) : NULL;
}

int session_request(struct client_session *s, json_t *req, unsigned timeout_ms,
		    json_t **reply)
{
	struct waiter w = {0};
	int rc;

	*reply = NULL;
	if (s->closed) {
		json_decref(req);
		return INSEL_E_CLOSED;
	}
	rc = rpc_call(&s->rpc, req, timeout_ms, wake, &w);
	if (rc)
		return rc;
	while (!w.done && uv_run(&s->loop, UV_RUN_ONCE))
		;
	if (!w.done) {
		rpc_forget_ctx(&s->rpc, &w);
		return INSEL_E_CLOSED;
	}
	*reply = w.reply;
	return w.err;
}

int session_ask(struct client_session *s, const char *step, json_t *req,
		unsigned timeout_ms, json_t **reply)
{
	int rc = session_request(s, req, timeout_ms, reply);

	if (rc)
		rc = report_transport_error(step, rc);
	else if (!msg_reply_is_ok(*reply, NULL, NULL))
		rc = report_error_reply(step, *reply);
	if (rc) {
		json_decref(*reply);
		*reply = NULL;
	}
	return rc;
}

/* Runs the loop until the connection is up or has failed. */
static int wait_ready(struct client_session *s)
{
	while (!s->ready && !s->closed && uv_run(&s->loop, UV_RUN_ONCE))
		;
	return s->ready && !s->closed ? 0 : (s->error ? s->error : INSEL_E_CLOSED);
}

static int hello_and_login(struct client_session *s)
{
	json_t *reply, *login;
	int rc;

	rc = session_request(s, msg_hello(0, "client"), HELLO_TIMEOUT_MS, &reply);
	if (rc)
		return report_transport_error("connecting to the gateway", rc);
	if (!msg_reply_is_ok(reply, NULL, NULL)) {
		rc = report_error_reply("connecting to the gateway", reply);
		json_decref(reply);
		return rc;
	}
	json_decref(reply);
	login = msg_request("login", 0);
	json_object_set_new(login, "user", json_string(s->opts->user));
	json_object_set_new(login, "password", json_string(s->opts->password));
	rc = session_request(s, login, HELLO_TIMEOUT_MS, &reply);
	memset(s->opts->password, 0, sizeof s->opts->password);
	if (rc)
		return report_transport_error("logging in", rc);
	if (!msg_reply_is_ok(reply, NULL, NULL)) {
		rc = report_error_reply(LOGGING_IN, reply);
		json_decref(reply);
		return rc;
	}
	json_decref(reply);
	return EXIT_OK;
}

int session_open(struct client_session *s, struct client_options *o)
{
	int rc;

	memset(s, 0, sizeof *s);
	s->opts = o;
	uv_loop_init(&s->loop);
	rpc_init(&s->rpc, &s->loop, send_any, s);
	rc = strchr(o->secondary, '/') ? connect_unix(s) : connect_tls(s);
	if (rc == 0)
		rc = wait_ready(s);
	if (rc) {
		if (s->error && !s->tls && strchr(o->secondary, '/'))
			fprintf(stderr, "insel: cannot connect to %s: %s\n", o->secondary,
				insel_strerror(s->error));
		session_close(s);
		return EXIT_UNAVAILABLE;
	}
	rc = hello_and_login(s);
	if (rc)
		session_close(s);
	return rc;
}

void session_run(struct client_session *s)
{
	while (!s->closed && !s->done && uv_run(&s->loop, UV_RUN_ONCE))
		;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void session_close(struct client_session *s)
{
	if (s->stream)
		msg_stream_close(s->stream, 0);
	if (s->tls)
		tls_conn_close(s->tls, 0);
	/* The connection closes its own handles (TLS sends close_notify first); let it finish
	 * before anything else left is closed, so that its memory is freed by its owner. */
	while (!s->closed && uv_run(&s->loop, UV_RUN_ONCE))
		;
	rpc_fail_all(&s->rpc, INSEL_E_CLOSED);
	uv_walk(&s->loop, close_walk, NULL);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	uv_loop_close(&s->loop);
	if (s->creds)
		tls_creds_free(s->creds);
	s->creds = NULL;
}
