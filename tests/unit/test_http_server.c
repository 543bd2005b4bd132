/* The HTTP(S) server (http_server.h), for real: a forked child serves on 127.0.0.1 from
 * its libuv loop — under the principal's or the secondary's syscall allowlist, as the
 * daemons run it — and this process is the client over plain sockets or GnuTLS. Checked:
 * a handler's reply with a query argument, a large body, 404/405/413, headers past the
 * bound refused, the connection bound, a stream the loop pushes to (three events, then
 * its end), HTTPS with the organisation's certificate verified against its CA, plain HTTP
 * refused on a non-loopback address, and a clean stop (the child's loop ends with every
 * handle closed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "http_server.h"
#include "pki.h"
#include "syscall_filter.h"

extern const struct syscall_policy principal_syscall_policy;
extern const struct syscall_policy secondary_syscall_policy;

static char dir[64], cert_path[128], key_path[128], ca_path[128];
static pid_t serving_child;  /* killed by the teardown if a test failed before /quit */

#define BIG_BODY (300 * 1024)

/* ---- the serving child ---- */

struct child {
	uv_loop_t loop;
	struct http_server *server;
	uv_timer_t tick, quit;
	struct http_stream *stream;
	int ticks;
	int idle_closed;  /* idle streams whose client went */
};

static void on_hello(void *ctx, const struct http_request *req, struct http_reply *reply)
{
	const char *name = http_request_query(req, "name");

	http_reply_printf(reply, "hello %s\n", name ? name : "world");
}

static void on_big(void *ctx, const struct http_request *req, struct http_reply *reply)
{
	char block[1024];

	memset(block, 'x', sizeof block);
	for (int i = 0; i < BIG_BODY / 1024; i++)
		http_reply_append(reply, block, sizeof block);
	http_reply_status(reply, 200, "application/octet-stream");
}

static void on_tick(uv_timer_t *t)
{
	struct child *c = t->data;

	if (!c->stream)
		return;
	assert_int_equal(http_stream_printf(c->stream, "data: tick %d\n\n", ++c->ticks), 0);
	if (c->ticks == 3) {
		http_stream_close(c->stream);
		c->stream = NULL;
		uv_timer_stop(t);
	}
}

static void on_events(void *ctx, const struct http_request *req, struct http_stream *st)
{
	struct child *c = ctx;

	c->stream = st;
	c->ticks = 0;
	assert_int_equal(http_stream_printf(st, "data: open\n\n"), 0);
	uv_timer_start(&c->tick, on_tick, 30, 30);
}

static void on_idle_closed(void *arg)
{
	struct child *c = arg;

	c->idle_closed++;
}

/* A stream nothing is pushed to: only the heartbeat finds its client gone. */
static void on_idle(void *ctx, const struct http_request *req, struct http_stream *st)
{
	http_stream_on_close(st, on_idle_closed, ctx);
}

static void on_count(void *ctx, const struct http_request *req, struct http_reply *reply)
{
	struct child *c = ctx;

	http_reply_printf(reply, "closed=%d\n", c->idle_closed);
}

static void on_quit_timer(uv_timer_t *t)
{
	struct child *c = t->data;

	http_server_close(c->server, NULL, NULL);
	uv_close((uv_handle_t *)&c->tick, NULL);
	uv_close((uv_handle_t *)&c->quit, NULL);
}

static void on_quit(void *ctx, const struct http_request *req, struct http_reply *reply)
{
	struct child *c = ctx;

	http_reply_printf(reply, "bye\n");
	uv_timer_start(&c->quit, on_quit_timer, 20, 0);
}

/* The child: serves until /quit; exits 0 when its loop ended with everything closed. */
static int serve(const struct syscall_policy *policy, bool tls, int port_fd)
{
	struct http_server_config cfg = {
		.listen = "127.0.0.1:0",
		.max_connections = 4,
		.max_per_client = 4,
		.max_request_bytes = 8192,
		.heartbeat_ms = 200,
	};
	struct child c = {0};
	char err[256];
	uint16_t port;

	if (tls) {
		cfg.cert_file = cert_path;
		cfg.key_file = key_path;
	}
	if (policy && syscall_filter_install(policy, SYSCALL_FILTER_ENFORCE) != 0)
		return 10;
	uv_loop_init(&c.loop);
	uv_timer_init(&c.loop, &c.tick);
	uv_timer_init(&c.loop, &c.quit);
	c.tick.data = c.quit.data = &c;
	if (http_server_start(&c.loop, &cfg, &c.server, err, sizeof err) != 0) {
		fprintf(stderr, "child: %s\n", err);
		return 11;
	}
	if (http_server_route(c.server, "/hello", on_hello, &c) != 0 ||
	    http_server_route(c.server, "/big", on_big, &c) != 0 ||
	    http_server_route(c.server, "/quit", on_quit, &c) != 0 ||
	    http_server_route_stream(c.server, "/events", "text/event-stream", on_events, &c) != 0 ||
	    http_server_route_stream(c.server, "/idle", "text/event-stream", on_idle, &c) != 0 ||
	    http_server_route(c.server, "/count", on_count, &c) != 0 ||
	    http_server_route(c.server, "/hello", on_hello, &c) != -EEXIST)
		return 12;
	port = http_server_port(c.server);
	if (write(port_fd, &port, sizeof port) != sizeof port)
		return 13;
	close(port_fd);
	uv_run(&c.loop, UV_RUN_DEFAULT);
	return uv_loop_close(&c.loop) == 0 ? 0 : 14;
}

static pid_t start_child(const struct syscall_policy *policy, bool tls, uint16_t *port)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(serve(policy, tls, fds[1]));
	}
	serving_child = pid;
	close(fds[1]);
	assert_int_equal(read(fds[0], port, sizeof *port), (ssize_t)sizeof *port);
	close(fds[0]);
	return pid;
}

static void assert_child_ok(pid_t pid)
{
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	serving_child = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- the client ---- */

static int connect_to(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	return fd;
}

/* Sends a whole request, reads until the server closes; returns the bytes read. */
static size_t exchange(uint16_t port, gnutls_certificate_credentials_t creds,
		       const char *request, char *out, size_t outlen)
{
	int fd = connect_to(port);
	gnutls_session_t session = NULL;
	size_t got = 0;
	ssize_t n;

	if (creds) {
		assert_int_equal(gnutls_init(&session, GNUTLS_CLIENT), 0);
		assert_int_equal(gnutls_set_default_priority(session), 0);
		assert_int_equal(gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, creds), 0);
		gnutls_session_set_verify_cert(session, NULL, 0);  /* the chain, against ca.crt */
		gnutls_transport_set_int(session, fd);
		assert_int_equal(gnutls_handshake(session), 0);
		assert_int_equal(gnutls_record_send(session, request, strlen(request)),
				 (ssize_t)strlen(request));
	} else {
		assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	}
	for (;;) {
		n = creds ? gnutls_record_recv(session, out + got, outlen - 1 - got)
			  : read(fd, out + got, outlen - 1 - got);
		if (n <= 0 || got + (size_t)n >= outlen - 1) {
			if (n > 0)
				got += (size_t)n;
			break;
		}
		got += (size_t)n;
	}
	out[got] = '\0';
	if (session)
		gnutls_deinit(session);
	close(fd);
	return got;
}

static size_t get(uint16_t port, gnutls_certificate_credentials_t creds, const char *path,
		  char *out, size_t outlen)
{
	char req[1024 + 128];

	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		 path);
	return exchange(port, creds, req, out, outlen);
}

static char buf[BIG_BODY + 64 * 1024];

/* What every served configuration must do. */
static void exercise(uint16_t port, gnutls_certificate_credentials_t creds)
{
	get(port, creds, "/hello?name=insel", buf, sizeof buf);
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	assert_non_null(strstr(buf, "Cache-Control: no-store"));
	assert_non_null(strstr(buf, "\r\n\r\nhello insel\n"));

	assert_true(get(port, creds, "/big", buf, sizeof buf) > BIG_BODY);
	assert_non_null(strstr(buf, "Content-Length: 307200"));

	get(port, creds, "/nothing", buf, sizeof buf);
	assert_non_null(strstr(buf, "HTTP/1.1 404"));

	exchange(port, creds, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
			      "Connection: close\r\n\r\nabc", buf, sizeof buf);
	assert_non_null(strstr(buf, "HTTP/1.1 405"));
	assert_non_null(strstr(buf, "Allow: GET, HEAD"));

	exchange(port, creds, "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
			      "Connection: close\r\n\r\nabc", buf, sizeof buf);
	assert_non_null(strstr(buf, "HTTP/1.1 413"));

	/* Server-sent events: the opening event, three ticks pushed by the loop, the end. */
	get(port, creds, "/events", buf, sizeof buf);
	assert_non_null(strstr(buf, "Content-Type: text/event-stream"));
	assert_non_null(strstr(buf, "data: open"));
	assert_non_null(strstr(buf, "data: tick 3"));
	assert_non_null(strstr(buf, "\r\n0\r\n\r\n"));  /* the chunked stream's end */

	/* Headers past the bound: refused, not served. */
	{
		static char huge[16 * 1024];

		memset(huge, 'a', sizeof huge);
		snprintf(huge, sizeof huge, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: ");
		memset(huge + strlen(huge), 'a', sizeof huge - strlen(huge) - 1);
		huge[sizeof huge - 5] = '\r';
		huge[sizeof huge - 4] = '\n';
		huge[sizeof huge - 3] = '\r';
		huge[sizeof huge - 2] = '\n';
		huge[sizeof huge - 1] = '\0';
		exchange(port, creds, huge, buf, sizeof buf);
		assert_null(strstr(buf, "200 OK"));
	}
	get(port, creds, "/hello", buf, sizeof buf);
	assert_non_null(strstr(buf, "hello world"));
}

/* Four idle connections fill the server; a fifth waits unserved; once they go, it serves
 * again. */
static void exercise_connection_bound(uint16_t port)
{
	int idle[4], extra;
	char c;

	for (int i = 0; i < 4; i++)
		idle[i] = connect_to(port);
	usleep(100 * 1000);  /* let the server accept them */
	extra = connect_to(port);
	setsockopt(extra, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){.tv_sec = 1}, sizeof(struct timeval));
	assert_int_equal(write(extra, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 32), 32);
	assert_true(read(extra, &c, 1) <= 0);  /* not served while the server is full */
	close(extra);
	for (int i = 0; i < 4; i++)
		close(idle[i]);
	usleep(100 * 1000);
	get(port, NULL, "/hello", buf, sizeof buf);
	assert_non_null(strstr(buf, "hello world"));
}

/* A client leaves a stream that nothing is pushed to: its owner hears of it. */
static void exercise_stream_client_gone(uint16_t port)
{
	int fd = connect_to(port);
	static const char req[] = "GET /idle HTTP/1.1\r\nHost: x\r\n\r\n";
	char head[512];

	assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
	assert_true(read(fd, head, sizeof head) > 0);  /* the headers */
	close(fd);
	for (int i = 0; i < 50; i++) {  /* heartbeats every 200 ms: within 10 s at most */
		get(port, NULL, "/count", buf, sizeof buf);
		if (strstr(buf, "closed=1"))
			return;
		usleep(200 * 1000);
	}
	fail_msg("the idle stream's owner was not told its client went");
}

static void run_plain(const struct syscall_policy *policy)
{
	uint16_t port;
	pid_t pid = start_child(policy, false, &port);

	exercise(port, NULL);
	exercise_stream_client_gone(port);
	exercise_connection_bound(port);
	get(port, NULL, "/quit", buf, sizeof buf);
	assert_non_null(strstr(buf, "bye"));
	assert_child_ok(pid);
}

static void run_tls(const struct syscall_policy *policy)
{
	gnutls_certificate_credentials_t creds;
	uint16_t port;
	pid_t pid = start_child(policy, true, &port);

	assert_int_equal(gnutls_certificate_allocate_credentials(&creds), 0);
	assert_int_equal(gnutls_certificate_set_x509_trust_file(creds, ca_path, GNUTLS_X509_FMT_PEM), 1);
	exercise(port, creds);
	/* A plain request to the HTTPS port is not served. */
	get(port, NULL, "/hello", buf, sizeof buf);
	assert_null(strstr(buf, "hello"));
	get(port, creds, "/quit", buf, sizeof buf);
	assert_non_null(strstr(buf, "bye"));
	gnutls_certificate_free_credentials(creds);
	assert_child_ok(pid);
}

static void test_plain_unconfined(void **state)
{
	run_plain(NULL);
}

static void test_plain_under_principal_filter(void **state)
{
	run_plain(&principal_syscall_policy);
}

static void test_plain_under_secondary_filter(void **state)
{
	run_plain(&secondary_syscall_policy);
}

static void test_tls_under_principal_filter(void **state)
{
	run_tls(&principal_syscall_policy);
}

static void test_tls_under_secondary_filter(void **state)
{
	run_tls(&secondary_syscall_policy);
}

/* Plain HTTP on an address others can reach is refused unless asked for; nothing binds. */
static void test_plain_refused_off_loopback(void **state)
{
	struct http_server_config cfg = {.listen = "0.0.0.0:0"};
	struct http_server *s;
	uv_loop_t loop;
	char err[256];

	uv_loop_init(&loop);
	assert_int_equal(http_server_start(&loop, &cfg, &s, err, sizeof err), -EACCES);
	assert_non_null(strstr(err, "not a loopback address"));
	cfg.listen = "[2001:db8::1]:443";
	assert_int_equal(http_server_start(&loop, &cfg, &s, err, sizeof err), -EACCES);
	cfg.listen = "localhost:80";
	assert_int_equal(http_server_start(&loop, &cfg, &s, err, sizeof err), -EINVAL);
	cfg.listen = "127.0.0.1:0";
	cfg.cert_file = cert_path;  /* a certificate without its key */
	assert_int_equal(http_server_start(&loop, &cfg, &s, err, sizeof err), -EINVAL);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static int kill_child(void **state)
{
	if (serving_child > 0) {
		kill(serving_child, SIGKILL);
		waitpid(serving_child, NULL, 0);
		serving_child = 0;
	}
	return 0;
}

static int make_pki(void **state)
{
	char ca[128], err[256];

	snprintf(dir, sizeof dir, "/tmp/insel-http-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(ca, sizeof ca, "%s/ca", dir);
	snprintf(ca_path, sizeof ca_path, "%s/ca/ca.crt", dir);
	snprintf(cert_path, sizeof cert_path, "%s/principal.crt", dir);
	snprintf(key_path, sizeof key_path, "%s/principal.key", dir);
	assert_int_equal(pki_ca_init(ca, "Web Org", 10, err, sizeof err), 0);
	assert_int_equal(pki_issue(ca, PKI_ROLE_PRINCIPAL, "principal", 10, cert_path, key_path,
				   NULL, err, sizeof err), 0);
	return 0;
}

static int remove_pki(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_plain_unconfined, kill_child),
		cmocka_unit_test_teardown(test_plain_under_principal_filter, kill_child),
		cmocka_unit_test_teardown(test_plain_under_secondary_filter, kill_child),
		cmocka_unit_test_teardown(test_tls_under_principal_filter, kill_child),
		cmocka_unit_test_teardown(test_tls_under_secondary_filter, kill_child),
		cmocka_unit_test(test_plain_refused_off_loopback),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
