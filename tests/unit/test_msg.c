/* Unit tests for control-message framing: split reads, batching, oversize, malformed JSON,
 * wrong types, and framed JSON over a real libuv stream (a socketpair). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "msg.h"

struct collected {
	json_t *msgs[16];
	int errs[16];
	int n;
};

static int collect(void *ctx, json_t *msg, int err)
{
	struct collected *c = ctx;

	assert_true(c->n < 16);
	c->msgs[c->n] = json_incref(msg);
	c->errs[c->n] = err;
	c->n++;
	return 0;
}

static void collected_free(struct collected *c)
{
	for (int i = 0; i < c->n; i++)
		json_decref(c->msgs[i]);
	c->n = 0;
}

static void frame_raw(struct buf *out, const char *body)
{
	uint8_t hdr[4];
	struct buf_writer w;

	bw_init(&w, hdr, 4);
	bw_u32(&w, (uint32_t)strlen(body));
	assert_int_equal(buf_append(out, hdr, 4), 0);
	assert_int_equal(buf_append(out, body, strlen(body)), 0);
}

static void frame_split_byte_by_byte(void **state)
{
	struct buf wire;
	struct msg_reader r;
	struct collected c = {0};
	json_t *req = msg_request("lookup", 7);

	json_object_set_new(req, "callee", json_string("alice@lan-b"));
	buf_init(&wire, 4096);
	assert_int_equal(msg_encode(req, &wire), 0);
	msg_reader_init(&r, 1024);
	for (size_t i = 0; i < wire.len; i++) {
		assert_int_equal(c.n, 0);
		assert_int_equal(msg_reader_feed(&r, wire.data + i, 1, collect, &c), 0);
	}
	assert_int_equal(c.n, 1);
	assert_int_equal(c.errs[0], 0);
	assert_true(json_equal(c.msgs[0], req));
	assert_string_equal(msg_op(c.msgs[0]), "lookup");
	assert_int_equal(msg_id(c.msgs[0]), 7);
	collected_free(&c);
	msg_reader_free(&r);
	buf_free(&wire);
	json_decref(req);
}

static void several_frames_in_one_read(void **state)
{
	struct buf wire;
	struct msg_reader r;
	struct collected c = {0};

	buf_init(&wire, 4096);
	for (int i = 0; i < 5; i++) {
		json_t *m = msg_reply_ok(i);

		assert_int_equal(msg_encode(m, &wire), 0);
		json_decref(m);
	}
	msg_reader_init(&r, 1024);
	/* the last frame arrives in two parts */
	assert_int_equal(msg_reader_feed(&r, wire.data, wire.len - 3, collect, &c), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(msg_reader_feed(&r, wire.data + wire.len - 3, 3, collect, &c), 0);
	assert_int_equal(c.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(msg_id(c.msgs[i]), i);
		assert_true(msg_reply_is_ok(c.msgs[i], NULL, NULL));
	}
	collected_free(&c);
	msg_reader_free(&r);
	buf_free(&wire);
}

static void oversized_frame_is_skipped_and_stream_stays_in_sync(void **state)
{
	struct buf wire;
	struct msg_reader r;
	struct collected c = {0};
	char big[300];

	memset(big, ' ', sizeof big - 3);
	memcpy(big + sizeof big - 3, "{}", 3);
	buf_init(&wire, 4096);
	frame_raw(&wire, big);
	frame_raw(&wire, "{\"op\":\"heartbeat\",\"id\":2}");
	msg_reader_init(&r, 100);
	assert_int_equal(msg_reader_feed(&r, wire.data, wire.len, collect, &c), 0);
	assert_int_equal(c.n, 2);
	assert_null(c.msgs[0]);
	assert_int_equal(c.errs[0], INSEL_E_TOO_BIG);
	assert_int_equal(c.errs[1], 0);
	assert_string_equal(msg_op(c.msgs[1]), "heartbeat");
	/* the oversized body was never buffered */
	assert_true(r.frame.cap <= 4 + 100);
	collected_free(&c);
	msg_reader_free(&r);
	buf_free(&wire);
}

static void announced_4gib_frame_does_not_allocate(void **state)
{
	const uint8_t hdr[] = {0xff, 0xff, 0xff, 0xff, '{'};
	struct msg_reader r;
	struct collected c = {0};

	msg_reader_init(&r, MSG_MAX_DEFAULT);
	assert_int_equal(msg_reader_feed(&r, hdr, sizeof hdr, collect, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.errs[0], INSEL_E_TOO_BIG);
	assert_int_equal(r.discard, 0xffffffffu - 1);
	msg_reader_free(&r);
}

static void malformed_and_non_object_frames(void **state)
{
	struct buf wire;
	struct msg_reader r;
	struct collected c = {0};

	buf_init(&wire, 4096);
	frame_raw(&wire, "{\"op\":");
	frame_raw(&wire, "[1,2,3]");
	frame_raw(&wire, "{\"a\":1,\"a\":2}");
	frame_raw(&wire, "");
	frame_raw(&wire, "{\"op\":\"ok\",\"id\":9}");
	msg_reader_init(&r, 1024);
	assert_int_equal(msg_reader_feed(&r, wire.data, wire.len, collect, &c), 0);
	assert_int_equal(c.n, 5);
	assert_int_equal(c.errs[0], INSEL_E_BAD_JSON);
	assert_int_equal(c.errs[1], INSEL_E_NOT_OBJECT);
	assert_int_equal(c.errs[2], INSEL_E_BAD_JSON);  /* duplicate keys are refused */
	assert_int_equal(c.errs[3], INSEL_E_BAD_JSON);
	assert_int_equal(c.errs[4], 0);
	assert_int_equal(msg_id(c.msgs[4]), 9);
	collected_free(&c);
	msg_reader_free(&r);
	buf_free(&wire);
}

static int stop_after_first(void *ctx, json_t *msg, int err)
{
	int *count = ctx;

	(*count)++;
	return 42;
}

static void callback_can_stop_the_feed(void **state)
{
	struct buf wire;
	struct msg_reader r;
	int count = 0;

	buf_init(&wire, 4096);
	frame_raw(&wire, "{}");
	frame_raw(&wire, "{}");
	msg_reader_init(&r, 1024);
	assert_int_equal(msg_reader_feed(&r, wire.data, wire.len, stop_after_first, &count), 42);
	assert_int_equal(count, 1);
	msg_reader_free(&r);
	buf_free(&wire);
}

static void getters_check_types(void **state)
{
	json_error_t e;
	json_t *m = json_loads("{\"id\":3,\"name\":\"lan-a\",\"port\":\"80\",\"n\":70000,"
			       "\"flag\":1,\"list\":[1,2,3],\"obj\":{}}", 0, &e);
	const char *s;
	json_int_t i;
	bool b;
	json_t *v;

	assert_non_null(m);
	assert_int_equal(msg_get_str(m, "name", &s), 0);
	assert_string_equal(s, "lan-a");
	assert_int_equal(msg_get_str(m, "missing", &s), INSEL_E_BAD_FIELD);
	assert_string_equal(msg_field_error(), "field 'missing' is missing");
	assert_int_equal(msg_get_int(m, "port", 1, 65535, &i), INSEL_E_BAD_FIELD);
	assert_string_equal(msg_field_error(), "field 'port' must be an integer");
	assert_int_equal(msg_get_int(m, "n", 1, 65535, &i), INSEL_E_BAD_FIELD);
	assert_string_equal(msg_field_error(), "field 'n' must be between 1 and 65535");
	assert_int_equal(msg_get_int(m, "id", 0, 10, &i), 0);
	assert_int_equal(i, 3);
	assert_int_equal(msg_get_int_opt(m, "absent", 0, 10, 5, &i), 0);
	assert_int_equal(i, 5);
	assert_int_equal(msg_get_bool_opt(m, "flag", false, &b), INSEL_E_BAD_FIELD);
	assert_int_equal(msg_get_bool_opt(m, "absent", true, &b), 0);
	assert_true(b);
	assert_int_equal(msg_get_array(m, "list", 2, &v), INSEL_E_BAD_FIELD);
	assert_int_equal(msg_get_array(m, "list", 3, &v), 0);
	assert_int_equal(msg_get_array(m, "obj", 3, &v), INSEL_E_BAD_FIELD);
	assert_int_equal(msg_get_object(m, "obj", &v), 0);
	assert_int_equal(msg_get_str_opt(m, "absent", "dflt", &s), 0);
	assert_string_equal(s, "dflt");
	json_decref(m);
}

static void error_reply_shape(void **state)
{
	json_t *r = msg_reply_error(12, "unknown_callee", "no user '%s' in LAN %s", "bob", "lan-b");
	const char *code, *message;

	assert_int_equal(msg_id(r), 12);
	assert_false(msg_reply_is_ok(r, &code, &message));
	assert_string_equal(code, "unknown_callee");
	assert_string_equal(message, "no user 'bob' in LAN lan-b");
	json_decref(r);
	r = msg_hello(1, "secondary");
	assert_string_equal(msg_op(r), "hello");
	assert_int_equal(json_integer_value(json_object_get(r, "version")), MSG_PROTOCOL_VERSION);
	json_decref(r);
}

/* ---- over a real libuv stream ---- */

struct stream_test {
	uv_loop_t loop;
	int fds[2];
	struct collected got;
	int closed;
	uv_timer_t dribble;
	struct buf wire;
	size_t sent;
};

static void on_stream_msg(struct msg_stream *s, json_t *msg, int err)
{
	struct stream_test *t = s->data;

	collect(&t->got, msg, err);
	if (t->got.n == 3)
		msg_stream_close(s, 0);
}

static void on_stream_close(struct msg_stream *s)
{
	struct stream_test *t = s->data;

	t->closed++;
}

/* Writes the prepared bytes into the other end a few at a time, on a timer, so that the
 * stream really sees partial frames across separate reads. */
static void dribble_cb(uv_timer_t *timer)
{
	struct stream_test *t = timer->data;
	size_t n = t->wire.len - t->sent < 5 ? t->wire.len - t->sent : 5;

	assert_int_equal(write(t->fds[1], t->wire.data + t->sent, n), (ssize_t)n);
	t->sent += n;
	if (t->sent == t->wire.len)
		uv_timer_stop(timer);
}

static void stream_reassembles_across_reads(void **state)
{
	struct stream_test t = {0};
	struct msg_stream *s;
	char big[200];

	assert_int_equal(uv_loop_init(&t.loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, t.fds), 0);
	buf_init(&t.wire, 4096);
	frame_raw(&t.wire, "{\"op\":\"a\",\"id\":1}");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	frame_raw(&t.wire, big);  /* over the 128-byte limit below */
	frame_raw(&t.wire, "{\"op\":\"c\",\"id\":3}");

	s = msg_stream_open_fd(&t.loop, t.fds[0], 128);
	assert_non_null(s);
	s->data = &t;
	assert_int_equal(msg_stream_start(s, on_stream_msg, on_stream_close), 0);
	uv_timer_init(&t.loop, &t.dribble);
	t.dribble.data = &t;
	uv_timer_start(&t.dribble, dribble_cb, 1, 1);
	uv_run(&t.loop, UV_RUN_DEFAULT);  /* ends when the stream closed and the timer stopped */

	uv_close((uv_handle_t *)&t.dribble, NULL);
	uv_run(&t.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.got.n, 3);
	assert_string_equal(msg_op(t.got.msgs[0]), "a");
	assert_int_equal(t.got.errs[1], INSEL_E_TOO_BIG);
	assert_string_equal(msg_op(t.got.msgs[2]), "c");
	assert_int_equal(t.closed, 1);
	collected_free(&t.got);
	buf_free(&t.wire);
	close(t.fds[1]);
	assert_int_equal(uv_loop_close(&t.loop), 0);
}

/* What the other end wrote before it went away is read by msg_stream_drain at once,
 * without the loop: the secondary reads an auxiliary's last words so before it handles
 * the auxiliary's exit. The end of the stream closes it; a message whose handler closes
 * the stream is the last one read. */
static void on_drained_msg(struct msg_stream *s, json_t *msg, int err)
{
	struct stream_test *t = s->data;

	collect(&t->got, msg, err);
	if (msg && strcmp(msg_op(msg), "stop") == 0)
		msg_stream_close(s, 0);
}

static void drain_case(const char *const *ops, size_t nops, bool hang_up, int want_msgs)
{
	struct stream_test t = {0};
	struct msg_stream *s;
	char body[64];

	assert_int_equal(uv_loop_init(&t.loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, t.fds), 0);
	buf_init(&t.wire, 4096);
	for (size_t i = 0; i < nops; i++) {
		snprintf(body, sizeof body, "{\"op\":\"%s\",\"id\":%zu}", ops[i], i + 1);
		frame_raw(&t.wire, body);
	}
	s = msg_stream_open_fd(&t.loop, t.fds[0], 128);
	assert_non_null(s);
	s->data = &t;
	assert_int_equal(msg_stream_start(s, on_drained_msg, on_stream_close), 0);
	assert_int_equal(write(t.fds[1], t.wire.data, t.wire.len), (ssize_t)t.wire.len);
	if (hang_up)
		close(t.fds[1]);
	msg_stream_drain(s);  /* no uv_run before it: nothing was read yet */
	assert_int_equal(t.got.n, want_msgs);
	for (int i = 0; i < want_msgs; i++)
		assert_string_equal(msg_op(t.got.msgs[i]), ops[i]);
	assert_int_equal(s->closing, hang_up || want_msgs < (int)nops);
	if (!s->closing)
		msg_stream_close(s, 0);
	uv_run(&t.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.got.n, want_msgs);  /* the loop read nothing more */
	assert_int_equal(t.closed, 1);
	collected_free(&t.got);
	buf_free(&t.wire);
	if (!hang_up)
		close(t.fds[1]);
	assert_int_equal(uv_loop_close(&t.loop), 0);
}

static void drain_reads_last_words_before_the_loop(void **state)
{
	static const char *const last[] = {"path", "ended"};
	static const char *const stop[] = {"a", "stop", "never"};

	(void)state;
	drain_case(last, 2, true, 2);   /* both, then the end of the stream */
	drain_case(last, 2, false, 2);  /* both; still open, nothing more to read */
	drain_case(stop, 3, true, 2);   /* a handler closed it: nothing after "stop" */
}

/* A write that fails because the other end has gone (EPIPE, before the loop read
 * anything) first reads what that end wrote before it went: an auxiliary's "ended"
 * before its exit, which the secondary's next stats request once lost. */
static void failed_write_reads_last_words_first(void **state)
{
	struct stream_test t = {0};
	struct msg_stream *s;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(uv_loop_init(&t.loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, t.fds), 0);
	buf_init(&t.wire, 256);
	frame_raw(&t.wire, "{\"op\":\"ended\",\"id\":0}");
	s = msg_stream_open_fd(&t.loop, t.fds[0], 128);
	assert_non_null(s);
	s->data = &t;
	assert_int_equal(msg_stream_start(s, on_drained_msg, on_stream_close), 0);
	assert_int_equal(write(t.fds[1], t.wire.data, t.wire.len), (ssize_t)t.wire.len);
	close(t.fds[1]);
	/* Written at once, refused at once: its callback runs before the loop polls. */
	assert_int_equal(msg_stream_send_new(s, msg_request("stats", 1)), 0);
	uv_run(&t.loop, UV_RUN_DEFAULT);
	assert_int_equal(t.got.n, 1);
	assert_string_equal(msg_op(t.got.msgs[0]), "ended");
	assert_int_equal(t.closed, 1);
	collected_free(&t.got);
	buf_free(&t.wire);
	assert_int_equal(uv_loop_close(&t.loop), 0);
}

struct echo_test {
	struct collected got;
	int closed;
};

static void echo_server_msg(struct msg_stream *s, json_t *msg, int err)
{
	json_t *reply = msg_reply_ok(msg_id(msg));

	json_object_set(reply, "echo", json_object_get(msg, "payload"));
	assert_int_equal(msg_stream_send_new(s, reply), 0);
}

static void echo_client_msg(struct msg_stream *s, json_t *msg, int err)
{
	struct echo_test *t = s->data;

	collect(&t->got, msg, err);
	if (t->got.n == 2)
		msg_stream_close(s, 0);
}

static void echo_close(struct msg_stream *s)
{
	struct echo_test *t = s->data;

	if (t)
		t->closed++;
}

static void server_close_on_peer_eof(struct msg_stream *s)
{
	int *closed = s->data;

	(*closed)++;
}

static void two_streams_exchange_requests_and_replies(void **state)
{
	uv_loop_t loop;
	int fds[2], server_closed = 0;
	struct echo_test t = {0};
	struct msg_stream *client, *server;
	json_t *req;

	uv_loop_init(&loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	client = msg_stream_open_fd(&loop, fds[0], MSG_MAX_DEFAULT);
	server = msg_stream_open_fd(&loop, fds[1], MSG_MAX_DEFAULT);
	client->data = &t;
	server->data = &server_closed;
	msg_stream_start(client, echo_client_msg, echo_close);
	msg_stream_start(server, echo_server_msg, server_close_on_peer_eof);
	for (int i = 1; i <= 2; i++) {
		req = msg_request("echo", i);
		json_object_set_new(req, "payload", json_integer(i * 100));
		assert_int_equal(msg_stream_send_new(client, req), 0);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(t.got.n, 2);
	assert_int_equal(json_integer_value(json_object_get(t.got.msgs[1], "echo")), 200);
	assert_int_equal(t.closed, 1);
	/* the client's close reached the server as end of stream */
	assert_int_equal(server_closed, 1);
	collected_free(&t.got);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(frame_split_byte_by_byte),
		cmocka_unit_test(several_frames_in_one_read),
		cmocka_unit_test(oversized_frame_is_skipped_and_stream_stays_in_sync),
		cmocka_unit_test(announced_4gib_frame_does_not_allocate),
		cmocka_unit_test(malformed_and_non_object_frames),
		cmocka_unit_test(callback_can_stop_the_feed),
		cmocka_unit_test(getters_check_types),
		cmocka_unit_test(error_reply_shape),
		cmocka_unit_test(stream_reassembles_across_reads),
		cmocka_unit_test(two_streams_exchange_requests_and_replies),
		cmocka_unit_test(drain_reads_last_words_before_the_loop),
		cmocka_unit_test(failed_write_reads_last_words_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
