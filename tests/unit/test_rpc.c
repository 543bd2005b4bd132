/* Unit tests for request/reply correlation over a real framed stream (socketpair). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>

#include "err.h"
#include "msg.h"
#include "rpc.h"

struct outcome {
	int calls;
	int err;
	json_int_t answer;
};

static void record(void *ctx, const json_t *reply, int err)
{
	struct outcome *o = ctx;

	o->calls++;
	o->err = err;
	o->answer = reply ? json_integer_value(json_object_get(reply, "answer")) : -1;
}

static int send_on_stream(void *conn, const json_t *msg)
{
	return msg_stream_send(conn, msg);
}

struct fixture {
	uv_loop_t loop;
	struct msg_stream *client, *server;
	struct rpc rpc;
	int server_requests;
	int client_closed;
};

/* The server answers "double" requests and ignores "ignore" ones. */
static void server_msg(struct msg_stream *s, json_t *msg, int err)
{
	struct fixture *f = s->data;
	json_t *reply;

	f->server_requests++;
	if (strcmp(msg_op(msg), "double") != 0)
		return;
	reply = msg_reply_ok(msg_id(msg));
	json_object_set_new(reply, "answer",
			    json_integer(2 * json_integer_value(json_object_get(msg, "n"))));
	msg_stream_send_new(s, reply);
}

static void client_msg(struct msg_stream *s, json_t *msg, int err)
{
	struct fixture *f = s->data;

	assert_true(rpc_take_reply(&f->rpc, msg));
}

static void client_close(struct msg_stream *s)
{
	struct fixture *f = s->data;

	f->client_closed++;
	rpc_fail_all(&f->rpc, INSEL_E_CLOSED);
}

static void fixture_start(struct fixture *f)
{
	int fds[2];

	uv_loop_init(&f->loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	f->client = msg_stream_open_fd(&f->loop, fds[0], MSG_MAX_DEFAULT);
	f->server = msg_stream_open_fd(&f->loop, fds[1], MSG_MAX_DEFAULT);
	f->client->data = f;
	f->server->data = f;
	msg_stream_start(f->client, client_msg, client_close);
	msg_stream_start(f->server, server_msg, NULL);
	rpc_init(&f->rpc, &f->loop, send_on_stream, f->client);
}

static json_t *request(const char *op, int n)
{
	json_t *req = json_pack("{s:s, s:i}", "op", op, "n", n);

	return req;
}

static void stop_cb(uv_timer_t *t)
{
	struct fixture *f = t->data;

	msg_stream_close(f->client, 0);
	msg_stream_close(f->server, 0);
	uv_close((uv_handle_t *)t, NULL);
}

static void replies_match_requests_and_timeouts_fire(void **state)
{
	struct fixture f = {0};
	struct outcome a = {0}, b = {0}, slow = {0};
	uv_timer_t stop;

	fixture_start(&f);
	assert_int_equal(rpc_call(&f.rpc, request("double", 21), 2000, record, &a), 0);
	assert_int_equal(rpc_call(&f.rpc, request("ignore", 0), 50, record, &slow), 0);
	assert_int_equal(rpc_call(&f.rpc, request("double", 5), 2000, record, &b), 0);
	assert_int_equal(f.rpc.outstanding, 3);
	uv_timer_init(&f.loop, &stop);
	stop.data = &f;
	uv_timer_start(&stop, stop_cb, 200, 0);
	uv_run(&f.loop, UV_RUN_DEFAULT);

	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_int_equal(a.answer, 42);
	assert_int_equal(b.answer, 10);
	assert_int_equal(slow.calls, 1);
	assert_int_equal(slow.err, INSEL_E_TIMEOUT);
	assert_int_equal(f.rpc.outstanding, 0);
	assert_int_equal(f.server_requests, 3);
	assert_int_equal(uv_loop_close(&f.loop), 0);
}

static void close_fails_outstanding_once(void **state)
{
	struct fixture f = {0};
	struct outcome o = {0}, forgotten = {0};
	uv_timer_t stop;

	fixture_start(&f);
	assert_int_equal(rpc_call(&f.rpc, request("ignore", 1), 5000, record, &o), 0);
	assert_int_equal(rpc_call(&f.rpc, request("ignore", 2), 5000, record, &forgotten), 0);
	rpc_forget_ctx(&f.rpc, &forgotten);
	assert_int_equal(f.rpc.outstanding, 1);
	uv_timer_init(&f.loop, &stop);
	stop.data = &f;
	uv_timer_start(&stop, stop_cb, 20, 0);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(f.client_closed, 1);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.err, INSEL_E_CLOSED);
	assert_int_equal(forgotten.calls, 0);
	assert_int_equal(uv_loop_close(&f.loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replies_match_requests_and_timeouts_fire),
		cmocka_unit_test(close_fails_outstanding_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
