/* Unit tests for the principal's splice (splice.h) on 127.0.0.1, with plain TCP clients
 * standing for the two secondaries: an expected pairing joins its two ends and forwards
 * bytes both ways (those the caller sent before the callee arrived included) and passes
 * an end of stream on; a wrong token, an end that is already connected, bytes that are
 * not a preamble and a call nobody expects are refused; the caps on pairings hold; the
 * counters say all of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <uv.h>

#include "err.h"
#include "preamble.h"
#include "splice.h"

#define CALL_ID 0x1122334455667788ULL

struct end {
	uv_tcp_t tcp;
	uv_connect_t connect;
	uv_write_t write;
	uint8_t out[PREAMBLE_LEN + 64];
	size_t outlen;
	char in[256];
	size_t inlen;
	bool eof;
	bool closed;
};

static uint64_t fake_ms;
static uint64_t clock_ms(void)
{
	return fake_ms;
}

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
	struct end *e = h->data;

	(void)n;
	*b = uv_buf_init(e->in + e->inlen, (unsigned)(sizeof e->in - e->inlen));
}

static void closed_cb(uv_handle_t *h)
{
	struct end *e = h->data;

	e->closed = true;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct end *e = s->data;

	(void)b;
	if (n > 0) {
		e->inlen += (size_t)n;
	} else if (n < 0) {
		e->eof = true;
		uv_read_stop(s);
	}
}

static void written(uv_write_t *w, int status)
{
	(void)w;
	(void)status;
}

static void connected(uv_connect_t *req, int status)
{
	struct end *e = req->data;
	uv_buf_t b = uv_buf_init((char *)e->out, (unsigned)e->outlen);

	assert_int_equal(status, 0);
	uv_read_start((uv_stream_t *)&e->tcp, alloc_cb, read_cb);
	if (e->outlen)
		assert_int_equal(uv_write(&e->write, (uv_stream_t *)&e->tcp, &b, 1, written), 0);
}

/* Connects an end that sends a preamble (end, token byte) and then text. */
static void dial(uv_loop_t *loop, struct splice_server *s, struct end *e,
		 enum preamble_end which, uint8_t token_byte, const char *text)
{
	struct preamble pre = {.end = which, .call_id = CALL_ID};
	struct ip_endpoint to;
	struct sockaddr_storage ss;

	memset(e, 0, sizeof *e);
	memset(pre.token, token_byte, sizeof pre.token);
	preamble_encode(&pre, e->out);
	e->outlen = PREAMBLE_LEN;
	memcpy(e->out + e->outlen, text, strlen(text));
	e->outlen += strlen(text);
	assert_int_equal(ip_endpoint_parse("127.0.0.1:1", &to), 0);
	to.port = splice_port(s);
	ip_endpoint_to_sockaddr(&to, &ss);
	uv_tcp_init(loop, &e->tcp);
	e->tcp.data = e;
	e->connect.data = e;
	assert_int_equal(uv_tcp_connect(&e->connect, &e->tcp, (struct sockaddr *)&ss, connected),
			 0);
}

/* A few turns of the loop, a millisecond apart. */
static void spin(uv_loop_t *loop, int turns)
{
	for (int i = 0; i < turns; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		uv_sleep(1);
	}
}

static void run_until(uv_loop_t *loop, bool *flag)
{
	for (int i = 0; i < 2000 && !*flag; i++)
		spin(loop, 1);
	assert_true(*flag);
}

static bool has_text(struct end *e, const char *text)
{
	return e->inlen >= strlen(text) && memmem(e->in, e->inlen, text, strlen(text));
}

static void wait_text(uv_loop_t *loop, struct end *e, const char *text)
{
	for (int i = 0; i < 2000 && !has_text(e, text); i++)
		spin(loop, 1);
	assert_true(has_text(e, text));
}

static struct splice_server *start(uv_loop_t *loop)
{
	struct splice_server *s;
	struct ip_endpoint at;

	assert_int_equal(uv_loop_init(loop), 0);
	assert_int_equal(ip_endpoint_parse("127.0.0.1:0", &at), 0);
	assert_int_equal(splice_start(loop, &at, clock_ms, &s), 0);
	assert_int_not_equal(splice_port(s), 0);
	return s;
}

static void finish(uv_loop_t *loop, struct splice_server *s, struct end *ends, size_t n)
{
	splice_stop(s);
	for (size_t i = 0; i < n; i++)
		if (!uv_is_closing((uv_handle_t *)&ends[i].tcp))
			uv_close((uv_handle_t *)&ends[i].tcp, closed_cb);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void pairs_and_forwards(void **state)
{
	uint8_t token[PREAMBLE_TOKEN_LEN];
	struct splice_server *s;
	struct splice_counts n;
	struct end ends[2];
	uv_loop_t loop;

	(void)state;
	s = start(&loop);
	memset(token, 7, sizeof token);
	assert_int_equal(splice_expect(s, CALL_ID, token, "gw-a", "gw-b"), 0);
	assert_int_equal(splice_expect(s, CALL_ID, token, "gw-a", "gw-b"), INSEL_E_EXISTS);
	/* The caller speaks first (a ClientHello), before the callee is there. */
	dial(&loop, s, &ends[0], PREAMBLE_CALLER, 7, "hello from the caller");
	spin(&loop, 50);
	dial(&loop, s, &ends[1], PREAMBLE_CALLEE, 7, "and from the callee");
	wait_text(&loop, &ends[1], "hello from the caller");
	wait_text(&loop, &ends[0], "and from the callee");
	/* No preamble bytes cross: each end sees only what the other sent after it. */
	assert_int_equal(ends[1].inlen, strlen("hello from the caller"));
	splice_counts(s, &n);
	assert_int_equal(n.expected, 1);
	assert_int_equal(n.spliced, 1);
	assert_int_equal(n.active, 1);
	assert_int_equal(n.refused, 0);
	/* One end closes: the other sees the end of the stream. */
	uv_close((uv_handle_t *)&ends[0].tcp, closed_cb);
	run_until(&loop, &ends[1].eof);
	finish(&loop, s, &ends[1], 1);
}

static void refusals(void **state)
{
	uint8_t token[PREAMBLE_TOKEN_LEN];
	struct splice_server *s;
	struct splice_counts n;
	struct end ends[4];
	uv_loop_t loop;

	(void)state;
	s = start(&loop);
	memset(token, 7, sizeof token);
	assert_int_equal(splice_expect(s, CALL_ID, token, "gw-a", "gw-b"), 0);
	dial(&loop, s, &ends[0], PREAMBLE_CALLER, 8, "wrong token");
	run_until(&loop, &ends[0].eof);
	dial(&loop, s, &ends[1], PREAMBLE_CALLER, 7, "");
	spin(&loop, 50);
	dial(&loop, s, &ends[2], PREAMBLE_CALLER, 7, "");  /* that end again */
	run_until(&loop, &ends[2].eof);
	/* Not a preamble at all. */
	memset(&ends[3], 0, sizeof ends[3]);
	dial(&loop, s, &ends[3], PREAMBLE_CALLER, 7, "");
	memcpy(ends[3].out, "\x16\x03\x01", 3);
	run_until(&loop, &ends[3].eof);
	splice_counts(s, &n);
	assert_int_equal(n.refused, 3);
	assert_int_equal(n.spliced, 0);
	assert_false(ends[1].eof);
	/* Nobody came for the callee's end: the pairing expires and its caller goes. */
	fake_ms += SPLICE_PAIR_TIMEOUT_MS + 1;
	run_until(&loop, &ends[1].eof);
	splice_counts(s, &n);
	assert_int_equal(n.expired, 1);
	fake_ms = 0;
	finish(&loop, s, ends, 4);
}

static void caps(void **state)
{
	uint8_t token[PREAMBLE_TOKEN_LEN] = {0};
	struct splice_server *s;
	struct ip_endpoint seen, out;
	uv_loop_t loop;
	unsigned i;

	(void)state;
	s = start(&loop);
	for (i = 0; i < SPLICE_MAX_PER_SECONDARY; i++)
		assert_int_equal(splice_expect(s, i + 1, token, "gw-a", "gw-b"), 0);
	assert_int_equal(splice_expect(s, i + 1, token, "gw-a", "gw-c"), INSEL_E_LIMIT);
	assert_int_equal(splice_expect(s, i + 1, token, "gw-c", "gw-b"), INSEL_E_LIMIT);
	assert_int_equal(splice_expect(s, i + 1, token, "gw-c", "gw-d"), 0);
	/* A listen address that is not a wildcard is the one to dial. */
	assert_int_equal(ip_endpoint_parse("198.18.0.2:7443", &seen), 0);
	splice_endpoint_for(s, &seen, &out);
	assert_int_equal(out.port, splice_port(s));
	assert_int_equal(out.addr.bytes[0], 127);
	finish(&loop, s, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pairs_and_forwards),
		cmocka_unit_test(refusals),
		cmocka_unit_test(caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
