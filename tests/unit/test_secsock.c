/* Unit tests for the secure-socket verbs (secsock.h) across real processes on 127.0.0.1:
 * a forked caller and the test process as callee negotiate over TLS and exchange data on
 * two encrypted UDP channels both ways (one message large enough to be fragmented); the
 * negotiated channels exported to a third process carry the traffic there; no common
 * cipher and a wrong role are refused on both sides. A child reports by its exit code
 * (cmocka's asserts belong to the parent). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "err.h"
#include "negotiate.h"
#include "pki.h"
#include "secsock.h"

#define BIG 5000
#define WAIT_MS 5000

static char dir[64];

static void files_of(const char *name, char *cert, char *key)
{
	snprintf(cert, 256, "%s/%s.crt", dir, name);
	snprintf(key, 256, "%s/%s.key", dir, name);
}

static int make_pki(void **state)
{
	static const struct {
		enum pki_role role;
		const char *name;
	} who[] = {{PKI_ROLE_SECONDARY, "lan-a"}, {PKI_ROLE_SECONDARY, "lan-b"},
		   {PKI_ROLE_USER, "alice"}};
	char cert[256], key[256], err[256];

	snprintf(dir, sizeof dir, "/tmp/insel-sec-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pki_ca_init(dir, "Test Org", 10, err, sizeof err), 0);
	for (size_t i = 0; i < 3; i++) {
		files_of(who[i].name, cert, key);
		assert_int_equal(pki_issue(dir, who[i].role, who[i].name, 1, cert, key, NULL, err,
					   sizeof err), 0);
	}
	return 0;
}

static int remove_pki(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int open_socket(const char *name, bool listen, const enum sec_cipher *only,
		       struct sec_socket **out, char *err)
{
	char ca[256], cert[256], key[256];
	struct ip_endpoint at;
	struct sec_options o = {.ca_file = ca, .cert_file = cert, .key_file = key,
				.timeout_ms = WAIT_MS};

	snprintf(ca, sizeof ca, "%s/ca.crt", dir);
	files_of(name, cert, key);
	ip_endpoint_parse("127.0.0.1:0", &at);
	if (listen)
		o.listen = &at;
	if (only) {
		negotiate_prefs_default(&o.prefs);
		o.prefs.nciphers = 1;
		o.prefs.ciphers[0] = *only;
	}
	return sec_init(&o, out, err, 256);
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7);
}

/* ---- the caller, in a child process: exit 0 on success, a step number otherwise ---- */

static int caller_exchange(uint16_t port, const char *name)
{
	static const struct negotiate_channel chans[2] = {{5004, 6004}, {5005, 6005}};
	uint8_t big[BIG], got[BIG + 16];
	struct sec_socket *s;
	struct sec_call *c;
	struct ip_endpoint to;
	unsigned ch;
	char err[256];

	ip_endpoint_parse("127.0.0.1:0", &to);
	to.port = port;
	fill(big, sizeof big, 3);
	if (open_socket(name, false, NULL, &s, err))
		return 10;
	if (sec_connect(s, &to, PKI_ROLE_SECONDARY, "lan-b", chans, 2, &c, err, sizeof err))
		return 11;
	if (sec_send(c, 0, "ping-0", 6) != 6 || sec_send(c, 1, "ping-1", 6) != 6 ||
	    sec_send(c, 0, big, sizeof big) != BIG)
		return 12;
	/* The callee echoes each message on its channel, in order. */
	if (sec_recv(c, &ch, got, sizeof got, WAIT_MS) != 6 || ch != 0 || memcmp(got, "ping-0", 6))
		return 13;
	if (sec_recv(c, &ch, got, sizeof got, WAIT_MS) != 6 || ch != 1 || memcmp(got, "ping-1", 6))
		return 14;
	if (sec_recv(c, &ch, got, sizeof got, WAIT_MS) != BIG || ch != 0 ||
	    memcmp(got, big, BIG))
		return 15;
	if (strcmp(sec_call_peer(c)->name, "lan-b") != 0)
		return 16;
	sec_close(c);
	sec_free(s);
	return 0;
}

static int caller_refused(uint16_t port, const char *name, const enum sec_cipher *only,
			  int expect, const char *reason)
{
	static const struct negotiate_channel chan = {5004, 5004};
	struct sec_socket *s;
	struct sec_call *c;
	struct ip_endpoint to;
	char err[256] = "";
	int rc;

	ip_endpoint_parse("127.0.0.1:0", &to);
	to.port = port;
	if (open_socket(name, false, only, &s, err))
		return 10;
	rc = sec_connect(s, &to, PKI_ROLE_SECONDARY, NULL, &chan, 1, &c, err, sizeof err);
	sec_free(s);
	if (rc == 0)
		return 11;
	if (expect && rc != expect)
		return 12;
	if (reason && !strstr(err, reason))
		return 13;
	return 0;
}

static pid_t spawn(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fflush(stdout);
		_exit(fn(arg));
	}
	return pid;
}

static int child_status(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

struct caller_args {
	uint16_t port;
	const char *name;
	const enum sec_cipher *only;
	int expect;
	const char *reason;
};

static int run_exchange(void *p)
{
	struct caller_args *a = p;

	return caller_exchange(a->port, a->name);
}

static int run_refused(void *p)
{
	struct caller_args *a = p;

	return caller_refused(a->port, a->name, a->only, a->expect, a->reason);
}

/* The callee's side of the exchange: echo three messages. */
static void echo(struct sec_call *c, int n)
{
	uint8_t buf[BIG + 16];
	unsigned ch;

	for (int i = 0; i < n; i++) {
		ssize_t len = sec_recv(c, &ch, buf, sizeof buf, WAIT_MS);

		assert_true(len > 0);
		assert_int_equal(sec_send(c, ch, buf, (size_t)len), len);
	}
}

/* ---- reliable channels: a datagram, a stream and messages on one call ---- */

#define STREAM_LEN (8u << 20)  /* more than the 4 MiB send buffer: a partial write */
#define NMSG 50

static uint8_t stream_byte(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 11));
}

static size_t msg_len(int k)
{
	return 1 + (size_t)k * 997 % 4000;
}

/* The caller: 8 MiB on the stream (one non-blocking write first, which must be partial),
 * NMSG messages, one datagram, then finishes the stream and closes (draining). */
static int caller_reliable(uint16_t port)
{
	static const struct negotiate_channel chans[3] = {{1, 1}, {2, 2}, {3, 3}};
	static const enum sec_mode modes[3] = {SEC_MODE_DATAGRAM, SEC_MODE_STREAM,
					       SEC_MODE_MESSAGES};
	uint8_t *data = malloc(STREAM_LEN), msg[4096];
	struct sec_socket *s;
	struct sec_call *c;
	struct ip_endpoint to;
	size_t done;
	ssize_t n;
	char err[256];

	ip_endpoint_parse("127.0.0.1:0", &to);
	to.port = port;
	for (size_t i = 0; data && i < STREAM_LEN; i++)
		data[i] = stream_byte(i);
	if (!data || open_socket("lan-a", false, NULL, &s, err))
		return 10;
	if (sec_connect_modes(s, &to, PKI_ROLE_SECONDARY, "lan-b", chans, modes, 3, &c, err,
			      sizeof err))
		return 11;
	sec_set_nonblocking(c, 1);
	n = sec_send(c, 1, data, STREAM_LEN);
	if (n <= 0 || n >= (ssize_t)STREAM_LEN)
		return 12;
	sec_set_nonblocking(c, 0);
	done = (size_t)n;
	if (sec_send(c, 1, data + done, STREAM_LEN - done) != (ssize_t)(STREAM_LEN - done))
		return 13;
	for (int k = 0; k < NMSG; k++) {
		memset(msg, k, msg_len(k));
		if (sec_send(c, 2, msg, msg_len(k)) != (ssize_t)msg_len(k))
			return 14;
	}
	if (sec_send(c, 0, "datagram", 8) != 8)
		return 15;
	if (sec_shutdown(c, 1) != 0 || sec_send(c, 1, "late", 4) != INSEL_E_CLOSED)
		return 16;
	if (sec_shutdown(c, 0) != INSEL_E_BAD_FIELD)
		return 17;
	sec_close(c);  /* drains the messages channel too */
	sec_free(s);
	free(data);
	return 0;
}

static int run_reliable(void *p)
{
	return caller_reliable(((struct caller_args *)p)->port);
}

struct reliable_seen {
	size_t stream_bytes;
	bool stream_ok, stream_end, datagram;
	int msgs[NMSG];
};

static void take_one(struct reliable_seen *seen, unsigned ch, const uint8_t *buf, ssize_t n)
{
	if (n == 0) {  /* the end of a reliable channel: the caller's close drains both */
		assert_true(ch == 1 || ch == 2);
		seen->stream_end |= ch == 1;
		return;
	}
	assert_true(n > 0);
	if (ch == 0) {
		seen->datagram = n == 8 && memcmp(buf, "datagram", 8) == 0;
	} else if (ch == 1) {
		for (ssize_t i = 0; i < n; i++)
			seen->stream_ok &= buf[i] == stream_byte(seen->stream_bytes + (size_t)i);
		seen->stream_bytes += (size_t)n;
	} else {
		assert_true(buf[0] < NMSG && (size_t)n == msg_len(buf[0]));
		seen->msgs[buf[0]]++;
	}
}

static void reliable_stream_messages_and_datagrams(void **state)
{
	struct reliable_seen seen = {.stream_ok = true};
	struct sec_channel_params params[SEC_MAX_CHANNELS];
	struct caller_args a = {0};
	struct sec_socket *s;
	struct sec_call *c;
	static uint8_t buf[65536];
	size_t np;
	int fd, got = 0;
	char err[256];
	pid_t pid;

	assert_int_equal(open_socket("lan-b", true, NULL, &s, err), 0);
	a.port = sec_port(s);
	pid = spawn(run_reliable, &a);
	if (sec_accept(s, &c, err, sizeof err) != 0)
		fail_msg("accept: %s", err);
	assert_int_equal(sec_call_mode(c, 0), SEC_MODE_DATAGRAM);
	assert_int_equal(sec_call_mode(c, 1), SEC_MODE_STREAM);
	assert_int_equal(sec_call_mode(c, 2), SEC_MODE_MESSAGES);
	assert_int_equal(sec_export(c, params, &np, &fd), INSEL_E_CONFLICT);
	while (!seen.stream_end || got < NMSG || !seen.datagram) {
		unsigned ch;
		ssize_t n = sec_recv(c, &ch, buf, sizeof buf, WAIT_MS);

		if (n < 0)
			fail_msg("sec_recv: %s after %zu stream bytes, %d messages",
				 sec_strerror((int)n), seen.stream_bytes, got);
		take_one(&seen, ch, buf, n);
		got = 0;
		for (int k = 0; k < NMSG; k++)
			got += seen.msgs[k] == 1;
	}
	assert_int_equal(seen.stream_bytes, STREAM_LEN);
	assert_true(seen.stream_ok);
	for (int k = 0; k < NMSG; k++)
		assert_int_equal(seen.msgs[k], 1);
	/* Closed before waiting for the child: the child's close waits for our
	 * acknowledgements, which this library sends only inside its calls. */
	sec_close(c);
	assert_int_equal(child_status(pid), 0);
	sec_free(s);
}

/* ---- tests ---- */

static void two_processes_exchange(void **state)
{
	struct sec_socket *s;
	struct sec_call *c;
	char err[256];
	struct caller_args a = {.name = "lan-a"};
	pid_t pid;

	assert_int_equal(open_socket("lan-b", true, NULL, &s, err), 0);
	a.port = sec_port(s);
	pid = spawn(run_exchange, &a);
	if (sec_accept(s, &c, err, sizeof err) != 0)
		fail_msg("accept: %s", err);
	assert_string_equal(sec_call_peer(c)->name, "lan-a");
	assert_int_equal(sec_call_channels(c), 2);
	echo(c, 3);
	assert_int_equal(child_status(pid), 0);
	sec_close(c);
	sec_free(s);
}

struct importer {
	struct sec_channel_params params[SEC_MAX_CHANNELS];
	size_t n;
	int fd;
};

static int run_importer(void *p)
{
	struct importer *imp = p;
	struct sec_call *c;
	uint8_t buf[BIG + 16];
	unsigned ch;

	if (sec_import(imp->params, imp->n, imp->fd, &c) != 0)
		return 20;
	for (int i = 0; i < 3; i++) {
		ssize_t len = sec_recv(c, &ch, buf, sizeof buf, WAIT_MS);

		if (len <= 0)
			return 21;
		if (sec_send(c, ch, buf, (size_t)len) != len)
			return 22;
	}
	if (sec_call_peer(c) != NULL)
		return 23;
	sec_close(c);
	return 0;
}

static void export_to_another_process(void **state)
{
	struct sec_socket *s;
	struct sec_call *c;
	struct importer imp;
	struct caller_args a = {.name = "lan-a"};
	struct sec_channel_params again[SEC_MAX_CHANNELS];
	size_t n;
	int fd;
	char err[256];
	pid_t caller, aux;

	assert_int_equal(open_socket("lan-b", true, NULL, &s, err), 0);
	a.port = sec_port(s);
	caller = spawn(run_exchange, &a);
	if (sec_accept(s, &c, err, sizeof err) != 0)
		fail_msg("accept: %s", err);
	assert_int_equal(sec_export(c, imp.params, &imp.n, &imp.fd), 0);
	assert_int_equal(imp.n, 2);
	/* Exported once: neither a second export nor data on this side. */
	assert_int_equal(sec_export(c, again, &n, &fd), INSEL_E_CONFLICT);
	assert_int_equal(sec_send(c, 0, "x", 1), INSEL_E_CLOSED);
	aux = spawn(run_importer, &imp);
	close(imp.fd);
	for (size_t i = 0; i < imp.n; i++)
		chanparams_wipe(&imp.params[i]);
	assert_int_equal(child_status(aux), 0);
	assert_int_equal(child_status(caller), 0);
	sec_close(c);
	sec_free(s);
}

static void export_refused_after_use(void **state)
{
	struct sec_channel_params params[SEC_MAX_CHANNELS];
	struct sec_socket *s;
	struct sec_call *c;
	struct caller_args a = {.name = "lan-a"};
	size_t n;
	int fd;
	char err[256];
	pid_t pid;

	assert_int_equal(open_socket("lan-b", true, NULL, &s, err), 0);
	a.port = sec_port(s);
	pid = spawn(run_exchange, &a);
	if (sec_accept(s, &c, err, sizeof err) != 0)
		fail_msg("accept: %s", err);
	echo(c, 3);
	assert_int_equal(sec_export(c, params, &n, &fd), INSEL_E_CONFLICT);
	assert_int_equal(child_status(pid), 0);
	sec_close(c);
	sec_free(s);
}

static void no_common_cipher_both_sides(void **state)
{
	static const enum sec_cipher aes = SEC_CIPHER_AES256GCM, chacha =
		SEC_CIPHER_CHACHA20POLY1305;
	struct sec_socket *s;
	struct sec_call *c = NULL;
	struct caller_args a = {.name = "lan-a", .only = &chacha, .expect = INSEL_E_NO_COMMON,
				.reason = "no common cipher"};
	char err[256];
	pid_t pid;

	assert_int_equal(open_socket("lan-b", true, &aes, &s, err), 0);
	a.port = sec_port(s);
	pid = spawn(run_refused, &a);
	assert_int_equal(sec_accept(s, &c, err, sizeof err), INSEL_E_NO_COMMON);
	assert_non_null(strstr(err, "no common cipher"));
	assert_null(c);
	assert_int_equal(child_status(pid), 0);
	sec_free(s);
}

static void wrong_role_refused(void **state)
{
	struct sec_socket *s;
	struct sec_call *c = NULL;
	struct caller_args a = {.name = "alice"};
	char err[256];
	pid_t pid;

	assert_int_equal(open_socket("lan-b", true, NULL, &s, err), 0);
	a.port = sec_port(s);
	pid = spawn(run_refused, &a);
	assert_int_equal(sec_accept(s, &c, err, sizeof err), INSEL_E_VERIFY);
	assert_non_null(strstr(err, "peer 'alice' has role 'user', expected 'secondary'"));
	assert_int_equal(child_status(pid), 0);
	/* The listener still serves the next caller. */
	a.name = "lan-a";
	pid = spawn(run_exchange, &a);
	if (sec_accept(s, &c, err, sizeof err) != 0)
		fail_msg("accept: %s", err);
	echo(c, 3);
	assert_int_equal(child_status(pid), 0);
	sec_close(c);
	sec_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_processes_exchange),
		cmocka_unit_test(reliable_stream_messages_and_datagrams),
		cmocka_unit_test(export_to_another_process),
		cmocka_unit_test(export_refused_after_use),
		cmocka_unit_test(no_common_cipher_both_sides),
		cmocka_unit_test(wrong_role_refused),
	};

	return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
