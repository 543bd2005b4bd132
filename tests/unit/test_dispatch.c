/* Unit tests for the one dispatcher (dispatch.h): a small table of its own, a fake
 * connection that records what reached a handler and which refusals were sent, and each
 * check in its order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dispatch.h"
#include "err.h"
#include "msg.h"
#include "rpc.h"
#include "wire_errors.h"

/* The test protocol: two roles and two states, as a protocol with a login has. */
#define BY_USER DISPATCH_ROLE(0)
#define BY_ADMIN DISPATCH_ROLE(1)
#define OPEN 1u
#define LOCKED 2u

struct conn {
	int handled;             /* handler calls */
	const char *handled_op;  /* the last handler's op */
	json_int_t handled_id;
	const json_t *handled_msg;
	struct conn *handled_ctx;
	int refused;             /* refusals */
	json_int_t refused_id;
	char code[64], message[256];
};

static void record(void *ctx, const char *op, json_int_t id, const json_t *msg)
{
	struct conn *c = ctx;

	c->handled++;
	c->handled_op = op;
	c->handled_id = id;
	c->handled_msg = msg;
	c->handled_ctx = c;
}

static void hello_handle(void *ctx, json_int_t id, const json_t *msg)
{
	record(ctx, "hello", id, msg);
}

static void read_handle(void *ctx, json_int_t id, const json_t *msg)
{
	record(ctx, "read", id, msg);
}

static void write_handle(void *ctx, json_int_t id, const json_t *msg)
{
	record(ctx, "write", id, msg);
}

static void notice_handle(void *ctx, json_int_t id, const json_t *msg)
{
	record(ctx, "notice", id, msg);
}

static const struct dispatch_op ops[] = {
	{"hello", hello_handle, BY_USER | BY_ADMIN, OPEN},
	{"read", read_handle, BY_USER | BY_ADMIN, DISPATCH_ANY_STATE},
	{"write", write_handle, BY_ADMIN, OPEN},
	{"notice", notice_handle, BY_USER | BY_ADMIN, DISPATCH_ANY_STATE},
};

static void refuse(void *ctx, json_int_t id, enum wire_error code, const char *message)
{
	struct conn *c = ctx;

	c->refused++;
	c->refused_id = id;
	snprintf(c->code, sizeof c->code, "%s", wire_error_name(code));
	snprintf(c->message, sizeof c->message, "%s", message);
}

static const struct dispatch_table table = {
	.ops = ops,
	.n_ops = sizeof ops / sizeof ops[0],
	.state_refusal = WERR_BAD_STATE,
	.refuse = refuse,
};

static struct dispatch_caller caller(unsigned role, unsigned state, bool hello_done)
{
	return (struct dispatch_caller){
		.role = role,
		.role_name = role == BY_ADMIN ? "admin" : "user",
		.state = state,
		.state_name = state == OPEN ? "open" : "locked",
		.hello_done = hello_done,
	};
}

/* Sends one request ("{op, id}" plus nothing else) through the table. */
static void send_request(const struct dispatch_table *t, const struct dispatch_caller *who,
			 struct conn *c, const char *op, json_int_t id)
{
	json_t *msg = msg_request(op, id);

	dispatch_message(t, who, c, msg, 0);
	json_decref(msg);
}

static void assert_refused(const struct conn *c, json_int_t id, const char *code)
{
	assert_int_equal(c->refused, 1);
	assert_int_equal(c->handled, 0);
	assert_int_equal(c->refused_id, id);
	assert_string_equal(c->code, code);
}

static void handler_gets_its_context(void **state)
{
	struct dispatch_caller who = caller(BY_USER, OPEN, true);
	struct conn c = {0}, other = {0};
	json_t *msg = json_pack("{s:s, s:i, s:s}", "op", "read", "id", 7, "what", "x");

	dispatch_message(&table, &who, &c, msg, 0);
	assert_int_equal(c.handled, 1);
	assert_int_equal(c.refused, 0);
	assert_string_equal(c.handled_op, "read");
	assert_ptr_equal(c.handled_ctx, &c);
	assert_ptr_equal(c.handled_msg, msg);
	assert_int_equal(c.handled_id, 7);
	assert_int_equal(other.handled + other.refused, 0);
	json_decref(msg);
}

static void unknown_op_refused(void **state)
{
	struct dispatch_caller who = caller(BY_ADMIN, OPEN, true);
	struct conn c = {0};

	send_request(&table, &who, &c, "frobnicate", 3);
	assert_refused(&c, 3, "unknown_op");
	assert_non_null(strstr(c.message, "frobnicate"));
	/* Before hello too: an op nobody serves is unknown whoever asks. */
	memset(&c, 0, sizeof c);
	who = caller(BY_ADMIN, OPEN, false);
	send_request(&table, &who, &c, "frobnicate", 4);
	assert_refused(&c, 4, "unknown_op");
}

static void hello_comes_first(void **state)
{
	struct dispatch_caller who = caller(BY_ADMIN, OPEN, false);
	struct conn c = {0};

	send_request(&table, &who, &c, "read", 1);
	assert_refused(&c, 1, "protocol");
	assert_string_equal(c.message, "say hello first");
	/* Before the role is looked at: a role is known only once hello was said. */
	memset(&c, 0, sizeof c);
	who = caller(0, OPEN, false);
	send_request(&table, &who, &c, "write", 2);
	assert_refused(&c, 2, "protocol");
	memset(&c, 0, sizeof c);
	who = caller(BY_USER, OPEN, false);
	send_request(&table, &who, &c, "hello", 3);
	assert_int_equal(c.handled, 1);
	assert_string_equal(c.handled_op, "hello");
	assert_int_equal(c.refused, 0);
}

static void second_hello_refused(void **state)
{
	struct dispatch_caller who = caller(BY_USER, OPEN, true);
	struct conn c = {0};

	send_request(&table, &who, &c, "hello", 9);
	assert_refused(&c, 9, "protocol");
	assert_string_equal(c.message, "hello was already said");
}

static void role_refused(void **state)
{
	struct dispatch_caller who = caller(BY_USER, OPEN, true);
	struct conn c = {0};

	send_request(&table, &who, &c, "write", 5);
	assert_refused(&c, 5, "forbidden");
	assert_string_equal(c.message, "a user may not use 'write'");
	/* A sender with no role of the protocol's may use nothing. */
	memset(&c, 0, sizeof c);
	who = caller(0, OPEN, true);
	send_request(&table, &who, &c, "read", 6);
	assert_refused(&c, 6, "forbidden");
	/* The admin may. */
	memset(&c, 0, sizeof c);
	who = caller(BY_ADMIN, OPEN, true);
	send_request(&table, &who, &c, "write", 7);
	assert_int_equal(c.handled, 1);
	assert_string_equal(c.handled_op, "write");
}

static void state_gates_an_op(void **state)
{
	struct dispatch_caller who = caller(BY_ADMIN, LOCKED, true);
	struct dispatch_table not_logged_in = table;
	struct conn c = {0};

	send_request(&table, &who, &c, "write", 11);
	assert_refused(&c, 11, "bad_state");
	assert_string_equal(c.message, "'write' is not allowed in state locked");
	memset(&c, 0, sizeof c);
	send_request(&table, &who, &c, "read", 12);
	assert_int_equal(c.handled, 1);
	/* The table says how a state refusal is worded on the wire. */
	not_logged_in.state_refusal = WERR_NOT_LOGGED_IN;
	memset(&c, 0, sizeof c);
	send_request(&not_logged_in, &who, &c, "write", 13);
	assert_refused(&c, 13, "not_logged_in");
	/* The state comes before a second hello: in a state without hello (a session whose
	 * hello was the other side's) a hello is out of place, not repeated. */
	memset(&c, 0, sizeof c);
	send_request(&table, &who, &c, "hello", 14);
	assert_refused(&c, 14, "bad_state");
}

static void malformed_requests_refused(void **state)
{
	struct dispatch_caller who = caller(BY_ADMIN, OPEN, true);
	struct dispatch_table with_notices = table;
	struct conn c = {0};
	json_t *msg;

	msg = json_pack("{s:i}", "id", 4);  /* no op */
	dispatch_message(&table, &who, &c, msg, 0);
	json_decref(msg);
	assert_refused(&c, 4, "bad_field");
	memset(&c, 0, sizeof c);
	msg = json_pack("{s:s, s:i}", "op", "read", "id", -2);
	dispatch_message(&table, &who, &c, msg, 0);
	json_decref(msg);
	assert_refused(&c, -1, "bad_field");
	/* A frame that could not be read is refused with its own code, without an id. */
	memset(&c, 0, sizeof c);
	dispatch_message(&table, &who, &c, NULL, INSEL_E_BAD_JSON);
	assert_refused(&c, -1, "bad_json");
	/* A table with notices serves a request without an id, with id -1. */
	with_notices.notices = true;
	memset(&c, 0, sizeof c);
	msg = json_pack("{s:s}", "op", "notice");
	dispatch_message(&with_notices, &who, &c, msg, 0);
	json_decref(msg);
	assert_int_equal(c.handled, 1);
	assert_int_equal(c.handled_id, -1);
	assert_int_equal(c.refused, 0);
}

struct sent {
	json_int_t id;
	int replies;
	int err;
};

static int capture_send(void *conn, const json_t *msg)
{
	struct sent *s = conn;

	s->id = msg_id(msg);
	return 0;
}

static void on_reply(void *ctx, const json_t *reply, int err)
{
	struct sent *s = ctx;

	s->replies++;
	s->err = err;
}

static void replies_go_to_rpc(void **state)
{
	struct dispatch_caller who = caller(BY_USER, OPEN, true);
	struct sent sent = {0};
	struct conn c = {0};
	uv_loop_t loop;
	struct rpc rpc;
	json_t *reply;

	assert_int_equal(uv_loop_init(&loop), 0);
	rpc_init(&rpc, &loop, capture_send, &sent);
	assert_int_equal(rpc_call(&rpc, msg_request("ask", 0), 1000, on_reply, &sent), 0);
	who.rpc = &rpc;
	reply = msg_reply_ok(sent.id);
	dispatch_message(&table, &who, &c, reply, 0);
	json_decref(reply);
	assert_int_equal(sent.replies, 1);
	assert_int_equal(sent.err, 0);
	assert_int_equal(c.handled + c.refused, 0);
	/* Without an rpc, a message without op is a malformed request. */
	who.rpc = NULL;
	reply = msg_reply_ok(sent.id);
	dispatch_message(&table, &who, &c, reply, 0);
	json_decref(reply);
	assert_refused(&c, sent.id, "bad_field");
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void find_by_name(void **state)
{
	assert_ptr_equal(dispatch_find(&table, "write"), &ops[2]);
	assert_null(dispatch_find(&table, "writ"));
	assert_null(dispatch_find(&table, ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(handler_gets_its_context),
		cmocka_unit_test(unknown_op_refused),
		cmocka_unit_test(hello_comes_first),
		cmocka_unit_test(second_hello_refused),
		cmocka_unit_test(role_refused),
		cmocka_unit_test(state_gates_an_op),
		cmocka_unit_test(malformed_requests_refused),
		cmocka_unit_test(replies_go_to_rpc),
		cmocka_unit_test(find_by_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
