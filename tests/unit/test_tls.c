/* Unit tests for TLS connections (tls.h): real TLS 1.3 over 127.0.0.1 in one libuv loop.
 * A good handshake carries messages both ways and both ends export the same keys; each
 * failed check (foreign CA, expired, not yet valid, revoked, wrong role, wrong name)
 * refuses the peer with a reason naming that check; a silent client times out; garbage
 * instead of a ClientHello fails cleanly and the server goes on serving; a replaced
 * (renewed) certificate serves new connections while an open one goes on; a client that
 * names its local address is seen from it. Certificates are
 * made at run time in a temporary directory. Callbacks only record; asserts come after
 * the loop has ended with every handle closed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <time.h>

#include "err.h"
#include "msg.h"
#include "pki.h"
#include "preamble.h"
#include "tls.h"

#define LABEL "EXPORTER-insel-test"

static char dir[64];

/* ---- certificates, made once for the whole file ---- */

static void path_of(char *out, size_t n, const char *name, const char *ext)
{
	snprintf(out, n, "%s/%s.%s", dir, name, ext);
}

static void issue(const char *ca, enum pki_role role, const char *name, long long nb,
		  long long na)
{
	char cert[256], key[256], err[256];

	path_of(cert, sizeof cert, name, "crt");
	path_of(key, sizeof key, name, "key");
	assert_int_equal(pki_issue_validity(ca, role, name, nb, na, cert, key, NULL, err,
					    sizeof err), 0);
}

static int make_pki(void **state)
{
	char good[128], evil[128], err[256], cmd[512];
	long long now = (long long)time(NULL);

	snprintf(dir, sizeof dir, "/tmp/insel-tls-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(good, sizeof good, "%s/ca", dir);
	snprintf(evil, sizeof evil, "%s/evil", dir);
	assert_int_equal(pki_ca_init(good, "Good Org", 10, err, sizeof err), 0);
	assert_int_equal(pki_ca_init(evil, "Evil Org", 10, err, sizeof err), 0);
	issue(good, PKI_ROLE_PRINCIPAL, "principal", now - 60, now + 86400);
	issue(good, PKI_ROLE_SECONDARY, "lan-a", now - 60, now + 86400);
	issue(good, PKI_ROLE_SECONDARY, "lan-b", now - 60, now + 86400);
	issue(good, PKI_ROLE_USER, "alice", now - 60, now + 86400);
	issue(good, PKI_ROLE_SECONDARY, "old", now - 7200, now - 3600);
	issue(good, PKI_ROLE_SECONDARY, "future", now + 3600, now + 7200);
	issue(evil, PKI_ROLE_SECONDARY, "mallory", now - 60, now + 86400);
	/* lan-b renewed: same name, new key (renewed.crt, renewed.key). */
	snprintf(cmd, sizeof cmd, "%s/renewed.crt", dir);
	snprintf(err, sizeof err, "%s/renewed.key", dir);
	{
		char why[256];

		assert_int_equal(pki_issue_validity(good, PKI_ROLE_SECONDARY, "lan-b", now - 60,
						    now + 86400, cmd, err, NULL, why, sizeof why), 0);
	}
	/* A client that trusts both CAs, to get a foreign certificate as far as the server. */
	snprintf(cmd, sizeof cmd, "mkdir %s/both && cat %s/ca.crt %s/ca.crt > %s/both/ca.crt",
		 dir, good, evil, dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static int remove_pki(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct tls_creds *creds_for(const char *ca_dir, const char *name)
{
	char ca[256], cert[256], key[256], err[256];
	struct tls_creds *c = NULL;

	snprintf(ca, sizeof ca, "%s/%s/ca.crt", dir, ca_dir);
	path_of(cert, sizeof cert, name, "crt");
	path_of(key, sizeof key, name, "key");
	if (tls_creds_load(&c, ca, cert, key, err, sizeof err) != 0)
		fail_msg("%s", err);
	return c;
}

/* ---- one side's record of what happened ---- */

struct side {
	int ready_calls;
	int ready_status;
	int messages;
	int bad_frames;
	int closes;
	int close_reason;
	char error[256];
	struct pki_identity peer;
	struct ip_endpoint peer_endpoint;  /* as seen on the socket */
	uint8_t key[48];
	int reply_after;  /* client: close after this many messages */
};

struct pair {
	uv_loop_t loop;
	struct tls_server *server;
	struct tls_creds *server_creds, *client_creds;
	struct side srv, cli;
	int burst;              /* client: messages sent at once after ready */
	const char *revoked;    /* serial the server treats as revoked */
	bool start_good_client; /* after a raw client ends, connect a real one */
	enum pki_role expect_role;
	const char *expect_name;
	const char *source;     /* client: the local address to connect from */
};

static void record_ready(struct side *s, struct tls_conn *c, int status)
{
	s->ready_calls++;
	s->ready_status = status;
	if (status == 0) {
		s->peer = *tls_conn_peer(c);
		assert_int_equal(tls_conn_peer_endpoint(c, &s->peer_endpoint), 0);
		assert_int_equal(tls_conn_export_keying(c, LABEL, "ctx", 3, s->key, sizeof s->key),
				 0);
	}
}

static void record_close(struct side *s, struct tls_conn *c)
{
	s->closes++;
	s->close_reason = tls_conn_close_reason(c);
	snprintf(s->error, sizeof s->error, "%s", tls_conn_error(c));
}

static void srv_ready(struct tls_conn *c, int status)
{
	struct pair *p = tls_conn_data(c);

	record_ready(&p->srv, c, status);
}

static void srv_message(struct tls_conn *c, json_t *msg, int err)
{
	struct pair *p = tls_conn_data(c);
	json_t *reply;

	if (!msg) {
		p->srv.bad_frames++;
		return;
	}
	p->srv.messages++;
	reply = msg_reply_ok(msg_id(msg));
	json_object_set_new(reply, "you", json_string(tls_conn_peer(c)->name));
	assert_int_equal(tls_conn_send_new(c, reply), 0);
}

static void srv_close(struct tls_conn *c)
{
	struct pair *p = tls_conn_data(c);

	record_close(&p->srv, c);
	if (!p->start_good_client || p->srv.closes > 1) {
		tls_server_close(p->server);
		p->server = NULL;
	}
}

static const struct tls_conn_callbacks srv_cb = {srv_ready, srv_message, srv_close};

static bool is_revoked(void *ctx, const char *serial)
{
	struct pair *p = ctx;

	return p->revoked && strcmp(serial, p->revoked) == 0;
}

static void on_accept(struct tls_server *s, struct tls_conn *c)
{
	tls_conn_set_callbacks(c, &srv_cb, tls_server_data(s));
}

static void cli_ready(struct tls_conn *c, int status)
{
	struct pair *p = tls_conn_data(c);

	record_ready(&p->cli, c, status);
	if (status)
		return;
	for (int i = 1; i <= p->burst; i++) {
		json_t *m = msg_request("ping", i);

		json_object_set_new(m, "pad", json_string("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
		assert_int_equal(tls_conn_send_new(c, m), 0);
	}
}

static void cli_message(struct tls_conn *c, json_t *msg, int err)
{
	struct pair *p = tls_conn_data(c);

	assert_non_null(msg);
	assert_true(msg_reply_is_ok(msg, NULL, NULL));
	p->cli.messages++;
	if (p->cli.messages == p->burst)
		tls_conn_close(c, 0);
}

static void cli_close(struct tls_conn *c)
{
	struct pair *p = tls_conn_data(c);

	record_close(&p->cli, c);
}

static const struct tls_conn_callbacks cli_cb = {cli_ready, cli_message, cli_close};

static void start_server(struct pair *p, const char *name, const enum pki_role *roles,
			 size_t nroles)
{
	struct ip_endpoint bind;

	assert_int_equal(uv_loop_init(&p->loop), 0);
	p->server_creds = creds_for("ca", name);
	tls_creds_set_revocation_check(p->server_creds, is_revoked, p);
	assert_int_equal(ip_endpoint_parse("127.0.0.1:0", &bind), 0);
	assert_int_equal(tls_server_listen(&p->loop, p->server_creds, &bind, roles, nroles,
					   on_accept, p, &p->server), 0);
	assert_int_not_equal(tls_server_port(p->server), 0);
}

static void server_endpoint(struct pair *p, struct ip_endpoint *to)
{
	assert_int_equal(ip_endpoint_parse("127.0.0.1:0", to), 0);
	to->port = tls_server_port(p->server);
}

static void start_client(struct pair *p)
{
	struct ip_endpoint to;
	struct ip_addr from;
	struct tls_conn *c;

	server_endpoint(p, &to);
	if (p->source) {
		assert_int_equal(ip_addr_parse(p->source, &from), 0);
		assert_int_equal(tls_connect_from(&p->loop, p->client_creds, &from, &to,
						  p->expect_role, p->expect_name, &cli_cb, p,
						  &c), 0);
		return;
	}
	assert_int_equal(tls_connect(&p->loop, p->client_creds, &to, p->expect_role,
				     p->expect_name, &cli_cb, p, &c), 0);
}

static void finish(struct pair *p)
{
	assert_int_equal(uv_run(&p->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&p->loop), 0);
	tls_creds_free(p->server_creds);
	tls_creds_free(p->client_creds);
}

/* A secondary-serving server and a client with the given certificate. */
static void run_pair(struct pair *p, const char *server_name, const char *client_ca,
		     const char *client_name, enum pki_role expect_role, const char *expect_name)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};

	start_server(p, server_name, roles, 1);
	p->client_creds = creds_for(client_ca, client_name);
	p->expect_role = expect_role;
	p->expect_name = expect_name;
	start_client(p);
	finish(p);
}

/* ---- tests ---- */

static void handshake_and_messages(void **state)
{
	struct pair p = {.burst = 3};

	run_pair(&p, "principal", "ca", "lan-a", PKI_ROLE_PRINCIPAL, "principal");
	assert_int_equal(p.srv.ready_calls, 1);
	assert_int_equal(p.srv.ready_status, 0);
	assert_int_equal(p.cli.ready_status, 0);
	assert_string_equal(p.srv.peer.name, "lan-a");
	assert_int_equal(p.srv.peer.role, PKI_ROLE_SECONDARY);
	assert_string_equal(p.cli.peer.name, "principal");
	assert_int_equal(p.cli.peer.role, PKI_ROLE_PRINCIPAL);
	assert_int_equal(p.srv.messages, 3);
	assert_int_equal(p.cli.messages, 3);
	assert_memory_equal(p.srv.key, p.cli.key, sizeof p.srv.key);
	assert_int_equal(p.srv.closes, 1);
	assert_int_equal(p.cli.closes, 1);
	assert_int_equal(p.srv.close_reason, INSEL_E_CLOSED);
}

/* Connection reversal: the party called dials the caller's listener, writes a preamble,
 * and is the TLS server; the listener's preamble callback makes its accepted end the
 * TLS client, which checks the dialler's name as a caller would. Each side sees the
 * other's certificate and the exporter agrees. Bytes that are neither TLS nor a
 * preamble are refused before any handshake. */
static int take_preamble(struct tls_conn *c, const uint8_t *data, size_t len)
{
	struct pair *p = tls_conn_data(c);
	struct preamble pre;
	int n = preamble_decode(data, len, &pre);

	if (n <= 0)
		return n;
	if (pre.call_id != 42 || pre.end != PREAMBLE_CALLEE)
		return INSEL_E_REFUSED;
	assert_int_equal(tls_conn_become_client(c, PKI_ROLE_SECONDARY, "lan-b"), 0);
	tls_conn_set_callbacks(c, &cli_cb, p);
	return n;
}

static void reversed_after_preamble(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct preamble pre = {.end = PREAMBLE_CALLEE, .call_id = 42};
	uint8_t bytes[PREAMBLE_LEN];
	struct pair p = {.burst = 2};
	struct ip_endpoint to;
	struct tls_conn *c;

	(void)state;
	start_server(&p, "lan-a", roles, 1);
	tls_server_set_preamble(p.server, take_preamble);
	p.client_creds = creds_for("ca", "lan-b");
	server_endpoint(&p, &to);
	preamble_encode(&pre, bytes);
	assert_int_equal(tls_connect_preamble(&p.loop, p.client_creds, &to, bytes, sizeof bytes,
					      true, PKI_ROLE_SECONDARY, "lan-a", &srv_cb, &p,
					      &c), 0);
	finish(&p);
	assert_int_equal(p.cli.ready_status, 0);
	assert_int_equal(p.srv.ready_status, 0);
	assert_string_equal(p.cli.peer.name, "lan-b");
	assert_string_equal(p.srv.peer.name, "lan-a");
	assert_int_equal(p.srv.messages, 2);
	assert_int_equal(p.cli.messages, 2);
	assert_memory_equal(p.srv.key, p.cli.key, sizeof p.srv.key);
}

static void bad_preamble_refused(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct preamble pre = {.end = PREAMBLE_CALLER, .call_id = 42};
	uint8_t bytes[PREAMBLE_LEN];
	struct pair p = {0};
	struct ip_endpoint to;
	struct tls_conn *c;

	(void)state;
	start_server(&p, "lan-a", roles, 1);
	tls_server_set_preamble(p.server, take_preamble);
	p.client_creds = creds_for("ca", "lan-b");
	server_endpoint(&p, &to);
	preamble_encode(&pre, bytes);  /* the wrong end: the callback refuses it */
	assert_int_equal(tls_connect_preamble(&p.loop, p.client_creds, &to, bytes, sizeof bytes,
					      true, PKI_ROLE_SECONDARY, "lan-a", &srv_cb, &p,
					      &c), 0);
	finish(&p);
	assert_int_not_equal(p.srv.ready_status, 0);
	assert_int_equal(p.cli.ready_calls, 0);
}

/* A client that names its local address is seen from it (a host with several). */
static void connect_from_given_address(void **state)
{
	struct pair p = {.burst = 1, .source = "127.0.0.2"};
	char seen[IP_STRLEN];

	run_pair(&p, "principal", "ca", "lan-a", PKI_ROLE_PRINCIPAL, "principal");
	assert_int_equal(p.srv.ready_status, 0);
	assert_int_equal(p.cli.messages, 1);
	assert_string_equal(ip_addr_format(&p.srv.peer_endpoint.addr, seen, sizeof seen),
			    "127.0.0.2");
}

static void many_messages_in_one_read(void **state)
{
	struct pair p = {.burst = 200};

	run_pair(&p, "principal", "ca", "lan-b", PKI_ROLE_PRINCIPAL, NULL);
	assert_int_equal(p.srv.messages, 200);
	assert_int_equal(p.cli.messages, 200);
	assert_int_equal(p.srv.bad_frames, 0);
}

/* The refusing side reports the check; the other side only learns it was refused. */
static void assert_refused(const struct side *refuser, const struct side *other,
			   const char *reason)
{
	assert_int_equal(refuser->ready_calls, 1);
	assert_int_equal(refuser->ready_status, INSEL_E_VERIFY);
	assert_int_equal(refuser->closes, 1);
	if (!strstr(refuser->error, reason))
		fail_msg("reason '%s' does not contain '%s'", refuser->error, reason);
	assert_int_equal(other->closes, 1);
	assert_int_equal(other->messages, 0);
	assert_int_not_equal(other->close_reason, 0);
}

static void foreign_ca_refused(void **state)
{
	struct pair p = {.burst = 1};

	run_pair(&p, "principal", "both", "mallory", PKI_ROLE_PRINCIPAL, NULL);
	assert_refused(&p.srv, &p.cli,
		       "certificate presented as 'mallory' is not signed by this organisation's CA");
}

static void client_refuses_foreign_server(void **state)
{
	struct pair p = {.burst = 1};

	run_pair(&p, "principal", "evil", "mallory", PKI_ROLE_PRINCIPAL, NULL);
	assert_refused(&p.cli, &p.srv,
		       "certificate presented as 'principal' is not signed by this organisation's CA");
	assert_int_equal(p.srv.ready_status, INSEL_E_REFUSED);
}

static void expired_refused(void **state)
{
	struct pair p = {.burst = 1};

	run_pair(&p, "principal", "ca", "old", PKI_ROLE_PRINCIPAL, NULL);
	assert_refused(&p.srv, &p.cli, "certificate of 'old' expired on");
}

static void not_yet_valid_refused(void **state)
{
	struct pair p = {.burst = 1};

	run_pair(&p, "principal", "ca", "future", PKI_ROLE_PRINCIPAL, NULL);
	assert_refused(&p.srv, &p.cli, "certificate of 'future' is not valid before");
}

static void revoked_refused(void **state)
{
	struct pair p = {.burst = 1};
	struct pki_identity id;
	char cert[256], err[256];

	path_of(cert, sizeof cert, "lan-b", "crt");
	assert_int_equal(pki_read_identity(cert, &id, err, sizeof err), 0);
	p.revoked = id.serial;
	run_pair(&p, "principal", "ca", "lan-b", PKI_ROLE_PRINCIPAL, NULL);
	assert_refused(&p.srv, &p.cli, "certificate of 'lan-b' is revoked");
}

static void wrong_role_refused(void **state)
{
	struct pair p = {.burst = 1};

	run_pair(&p, "principal", "ca", "alice", PKI_ROLE_PRINCIPAL, NULL);
	assert_refused(&p.srv, &p.cli, "peer 'alice' has role 'user', expected 'secondary'");
}

static void client_checks_server_role(void **state)
{
	struct pair p = {.burst = 1};

	/* The server is a secondary, the client wanted the principal. */
	run_pair(&p, "lan-b", "ca", "lan-a", PKI_ROLE_PRINCIPAL, NULL);
	assert_refused(&p.cli, &p.srv, "peer 'lan-b' has role 'secondary', expected 'principal'");
}

static void wrong_name_refused(void **state)
{
	struct pair p = {.burst = 1};

	run_pair(&p, "lan-b", "ca", "lan-a", PKI_ROLE_SECONDARY, "lan-c");
	assert_refused(&p.cli, &p.srv, "peer is 'lan-b', expected 'lan-c'");
}

/* A client with only the CA (an end user's `insel`), against a server that takes users
 * without certificates, and against one that does not. */
static void run_certless(struct pair *p, const enum pki_role *roles, size_t nroles)
{
	char ca[256], err[256];

	start_server(p, "lan-b", roles, nroles);
	snprintf(ca, sizeof ca, "%s/ca/ca.crt", dir);
	if (tls_creds_load(&p->client_creds, ca, NULL, NULL, err, sizeof err) != 0)
		fail_msg("%s", err);
	p->expect_role = PKI_ROLE_SECONDARY;
	p->expect_name = "lan-b";
	start_client(p);
	finish(p);
}

static void certless_client_where_allowed(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_USER, PKI_ROLE_NONE};
	struct pair p = {.burst = 2};

	run_certless(&p, roles, 2);
	assert_int_equal(p.srv.ready_status, 0);
	assert_int_equal(p.srv.peer.role, PKI_ROLE_NONE);
	assert_string_equal(p.srv.peer.name, "");
	assert_int_equal(p.cli.ready_status, 0);
	assert_string_equal(p.cli.peer.name, "lan-b");
	assert_int_equal(p.srv.messages, 2);
	assert_int_equal(p.cli.messages, 2);
	assert_memory_equal(p.srv.key, p.cli.key, sizeof p.srv.key);
}

static void certless_client_refused_elsewhere(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct pair p = {.burst = 1};

	run_certless(&p, roles, 1);
	assert_int_not_equal(p.srv.ready_status, 0);
	assert_int_equal(p.srv.messages, 0);
	assert_int_equal(p.cli.messages, 0);
	assert_int_equal(p.cli.closes, 1);
}

/* ---- raw TCP clients: one that never speaks, one that speaks garbage ---- */

struct raw {
	uv_tcp_t tcp;
	uv_connect_t req;
	uv_write_t wreq;
	struct pair *p;
	const char *say;  /* NULL: stay silent */
	int eof;
};

static void raw_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
	static char scratch[4096];

	*b = uv_buf_init(scratch, sizeof scratch);
}

static void raw_closed(uv_handle_t *h)
{
	struct raw *r = h->data;

	if (r->p->start_good_client)
		start_client(r->p);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct raw *r = s->data;

	if (n < 0) {
		r->eof++;
		uv_close((uv_handle_t *)s, raw_closed);
	}
}

static void raw_written(uv_write_t *w, int status)
{
}

static void raw_connected(uv_connect_t *req, int status)
{
	struct raw *r = req->data;

	assert_int_equal(status, 0);
	if (r->say) {
		uv_buf_t b = uv_buf_init((char *)r->say, (unsigned)strlen(r->say));

		assert_int_equal(uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &b, 1, raw_written), 0);
	}
	assert_int_equal(uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read), 0);
}

static void start_raw(struct pair *p, struct raw *r)
{
	struct ip_endpoint to;
	struct sockaddr_storage ss;

	server_endpoint(p, &to);
	ip_endpoint_to_sockaddr(&to, &ss);
	r->p = p;
	uv_tcp_init(&p->loop, &r->tcp);
	r->tcp.data = r;
	r->req.data = r;
	assert_int_equal(uv_tcp_connect(&r->req, &r->tcp, (struct sockaddr *)&ss,
					raw_connected), 0);
}

static void silent_client_times_out(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct pair p = {.burst = 1};
	struct raw r = {0};
	uint64_t t0;

	start_server(&p, "principal", roles, 1);
	tls_creds_set_handshake_timeout(p.server_creds, 200);
	start_raw(&p, &r);
	t0 = uv_hrtime();
	finish(&p);
	assert_int_equal(p.srv.ready_status, INSEL_E_TIMEOUT);
	assert_non_null(strstr(p.srv.error, "no TLS handshake within 200 ms"));
	assert_int_equal(r.eof, 1);
	assert_true(uv_hrtime() - t0 < 5000000000ULL);
}

static void garbage_then_good_client(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct pair p = {.burst = 2, .start_good_client = true};
	struct raw r = {.say = "GET / HTTP/1.1\r\nHost: insel\r\n\r\n"};

	start_server(&p, "principal", roles, 1);
	p.client_creds = creds_for("ca", "lan-a");
	p.expect_role = PKI_ROLE_PRINCIPAL;
	start_raw(&p, &r);
	finish(&p);
	/* The first server-side connection failed cleanly, the second served the client. */
	assert_int_equal(p.srv.ready_calls, 2);
	assert_int_equal(p.srv.closes, 2);
	assert_int_equal(r.eof, 1);
	assert_int_equal(p.cli.ready_status, 0);
	assert_int_equal(p.cli.messages, 2);
	assert_int_equal(p.srv.messages, 2);
}

/* ---- limits before authentication ---- */

struct flood {
	uv_loop_t *loop;
	struct tls_server *server;
	uv_timer_t stop;
	int closes, timeouts, limits, readies;
	bool login_on_message;  /* the owner authenticates on the first message */
};

struct timed_raw {
	uv_tcp_t tcp;
	uv_connect_t req;
	uint64_t started_ms, ended_ms;
	bool ended;
	int end_status;  /* UV_EOF (the server's FIN) or UV_ECONNRESET (its reset) */
};

static void flood_ready(struct tls_conn *c, int status)
{
	struct flood *f = tls_conn_data(c);

	f->readies++;
	if (status == INSEL_E_LIMIT)
		f->limits++;
}

static void flood_message(struct tls_conn *c, json_t *msg, int err)
{
	struct flood *f = tls_conn_data(c);

	if (f->login_on_message && msg)
		assert_int_equal(tls_conn_authenticated(c), 0);
	tls_conn_send_new(c, msg_reply_ok(msg ? msg_id(msg) : 0));
}

static void flood_close(struct tls_conn *c)
{
	struct flood *f = tls_conn_data(c);

	f->closes++;
	if (tls_conn_close_reason(c) == INSEL_E_TIMEOUT)
		f->timeouts++;
}

static const struct tls_conn_callbacks flood_cb = {flood_ready, flood_message, flood_close};

static void flood_accept(struct tls_server *s, struct tls_conn *c)
{
	tls_conn_set_callbacks(c, &flood_cb, tls_server_data(s));
}

static void flood_stop(uv_timer_t *t)
{
	struct flood *f = t->data;

	tls_server_close(f->server);
	uv_close((uv_handle_t *)t, NULL);
}

static void timed_raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct timed_raw *r = s->data;

	(void)b;
	if (n < 0) {
		r->ended = true;
		r->end_status = (int)n;
		r->ended_ms = uv_now(s->loop);
		uv_close((uv_handle_t *)s, NULL);
	}
}

static void timed_raw_connected(uv_connect_t *req, int status)
{
	struct timed_raw *r = req->data;

	if (status < 0) {  /* reset before the connect completed here */
		r->ended = true;
		r->end_status = status;
		r->ended_ms = uv_now(req->handle->loop);
		uv_close((uv_handle_t *)req->handle, NULL);
		return;
	}
	assert_int_equal(uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, timed_raw_read), 0);
}

/* A raw TCP client from a chosen loopback address that never speaks. */
static void start_timed_raw(uv_loop_t *loop, struct tls_server *s, const char *from,
			    struct timed_raw *r)
{
	struct ip_endpoint to, src;
	struct sockaddr_storage ss, sss;

	assert_int_equal(ip_endpoint_parse("127.0.0.1:0", &to), 0);
	to.port = tls_server_port(s);
	assert_int_equal(ip_endpoint_parse(from, &src), 0);
	ip_endpoint_to_sockaddr(&to, &ss);
	ip_endpoint_to_sockaddr(&src, &sss);
	uv_tcp_init(loop, &r->tcp);
	r->tcp.data = r;
	r->req.data = r;
	r->started_ms = uv_now(loop);
	assert_int_equal(uv_tcp_bind(&r->tcp, (struct sockaddr *)&sss, 0), 0);
	assert_int_equal(uv_tcp_connect(&r->req, &r->tcp, (struct sockaddr *)&ss,
					timed_raw_connected), 0);
}

static struct tls_server *flood_server(uv_loop_t *loop, struct tls_creds *creds,
				       struct flood *f, const enum pki_role *roles, size_t n,
				       const struct tls_server_limits *l, uint64_t run_ms)
{
	struct ip_endpoint bind;

	assert_int_equal(ip_endpoint_parse("127.0.0.1:0", &bind), 0);
	assert_int_equal(tls_server_listen(loop, creds, &bind, roles, n, flood_accept, f,
					   &f->server), 0);
	tls_server_set_limits(f->server, l);
	f->loop = loop;
	uv_timer_init(loop, &f->stop);
	f->stop.data = f;
	uv_timer_start(&f->stop, flood_stop, run_ms, 0);
	return f->server;
}

/* Ten silent connections from one address: three are held (until the handshake deadline),
 * seven are reset at once; the other address still gets its slots. */
static void pending_capped_per_source(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct tls_server_limits l = {.max_pending = 100, .max_pending_per_source = 3,
				      .handshake_timeout_ms = 400};
	struct timed_raw one[10] = {0}, two[2] = {0};
	struct tls_server_counts n;
	struct flood f = {0};
	struct tls_creds *creds;
	uv_loop_t loop;
	int quick = 0, held = 0;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	creds = creds_for("ca", "principal");
	flood_server(&loop, creds, &f, roles, 1, &l, 1500);
	for (int i = 0; i < 10; i++)
		start_timed_raw(&loop, f.server, "127.0.0.1:0", &one[i]);
	for (int i = 0; i < 2; i++)
		start_timed_raw(&loop, f.server, "127.0.0.2:0", &two[i]);
	do {
		assert_int_not_equal(uv_run(&loop, UV_RUN_ONCE), 0);
		tls_server_counts(f.server, &n);
	} while (n.pending + n.refused_source < 12);
	assert_int_equal(n.pending, 5);
	assert_int_equal(n.refused_source, 7);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	for (int i = 0; i < 10; i++) {
		assert_true(one[i].ended);
		if (one[i].ended_ms - one[i].started_ms < 300)
			quick++;
		else
			held++;
	}
	assert_int_equal(quick, 7);
	assert_int_equal(held, 3);
	for (int i = 0; i < 2; i++)
		assert_true(two[i].ended && two[i].ended_ms - two[i].started_ms >= 300);
	assert_int_equal(f.timeouts, 5);
	assert_int_equal(uv_loop_close(&loop), 0);
	tls_creds_free(creds);
}

struct later_raw {
	uv_timer_t timer;
	struct timed_raw *raw;
	struct tls_server *server;
};

static void later_raw_fire(uv_timer_t *t)
{
	struct later_raw *l = t->data;

	start_timed_raw(t->loop, l->server, "127.0.0.1:0", l->raw);
	uv_close((uv_handle_t *)t, NULL);
}

static void start_raw_after(uv_loop_t *loop, struct tls_server *s, struct timed_raw *r,
			    struct later_raw *l, uint64_t ms)
{
	l->raw = r;
	l->server = s;
	uv_timer_init(loop, &l->timer);
	l->timer.data = l;
	uv_timer_start(&l->timer, later_raw_fire, ms, 0);
}

/* At the per-source cap, a newcomer displaces the oldest connection of its source that has
 * been silent for a second; with none that old, the newcomer is reset. */
static void silent_holders_give_way(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct tls_server_limits l = {.max_pending = 100, .max_pending_per_source = 3,
				      .handshake_timeout_ms = 2000};
	struct timed_raw r[5] = {0};
	struct later_raw young = {0}, late = {0};
	struct tls_server_counts n;
	struct flood f = {0};
	struct tls_creds *creds;
	uv_loop_t loop;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	creds = creds_for("ca", "principal");
	flood_server(&loop, creds, &f, roles, 1, &l, 2500);
	for (int i = 0; i < 3; i++)
		start_timed_raw(&loop, f.server, "127.0.0.1:0", &r[i]);
	start_raw_after(&loop, f.server, &r[3], &young, 200);
	start_raw_after(&loop, f.server, &r[4], &late, 1300);
	do {
		assert_int_not_equal(uv_run(&loop, UV_RUN_ONCE), 0);
		tls_server_counts(f.server, &n);
	} while (n.displaced + n.refused_source < 2);
	assert_int_equal(n.refused_source, 1);
	assert_int_equal(n.displaced, 1);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	/* The one at 200 ms found nobody silent for a second: reset at once. */
	assert_true(r[3].ended && r[3].ended_ms - r[3].started_ms < 300);
	/* The one at 1300 ms displaced the oldest and was held to the handshake deadline. */
	assert_true(r[0].ended && r[0].ended_ms - r[0].started_ms >= 1200 &&
		    r[0].ended_ms - r[0].started_ms < 1900);
	assert_true(r[4].ended && r[4].ended_ms - r[4].started_ms >= 1900);
	for (int i = 1; i < 3; i++)
		assert_true(r[i].ended && r[i].ended_ms - r[i].started_ms >= 1900);
	/* Both thrown out before they spoke are reset (no FIN first); those the handshake
	 * deadline ends get the orderly close. */
	assert_int_equal(r[3].end_status, UV_ECONNRESET);
	assert_int_equal(r[0].end_status, UV_ECONNRESET);
	assert_int_equal(r[1].end_status, UV_EOF);
	assert_int_equal(r[2].end_status, UV_EOF);
	assert_int_equal(r[4].end_status, UV_EOF);
	assert_int_equal(uv_loop_close(&loop), 0);
	tls_creds_free(creds);
}

/* The total cap: the fourth silent connection is reset whatever its source. */
static void pending_capped_in_total(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct tls_server_limits l = {.max_pending = 3, .handshake_timeout_ms = 300};
	struct timed_raw r[5] = {0};
	struct tls_server_counts n;
	struct flood f = {0};
	struct tls_creds *creds;
	uv_loop_t loop;
	char from[32];

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	creds = creds_for("ca", "principal");
	flood_server(&loop, creds, &f, roles, 1, &l, 1000);
	for (int i = 0; i < 5; i++) {
		snprintf(from, sizeof from, "127.0.1.%d:0", i + 1);
		start_timed_raw(&loop, f.server, from, &r[i]);
	}
	do {
		assert_int_not_equal(uv_run(&loop, UV_RUN_ONCE), 0);
		tls_server_counts(f.server, &n);
	} while (n.pending + n.refused_pending < 5);
	assert_int_equal(n.pending, 3);
	assert_int_equal(n.refused_pending, 2);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(f.timeouts, 3);
	assert_int_equal(uv_loop_close(&loop), 0);
	tls_creds_free(creds);
}

struct login_client {
	struct tls_conn *conn;
	int ready_status, replies, closes, close_reason;
	bool speak;  /* send one message once ready */
};

static void lc_ready(struct tls_conn *c, int status)
{
	struct login_client *lc = tls_conn_data(c);

	lc->ready_status = status;
	if (!status && lc->speak)
		tls_conn_send_new(c, msg_request("login", 1));
}

static void lc_message(struct tls_conn *c, json_t *msg, int err)
{
	struct login_client *lc = tls_conn_data(c);

	(void)msg;
	(void)err;
	lc->replies++;
}

static void lc_close(struct tls_conn *c)
{
	struct login_client *lc = tls_conn_data(c);

	lc->closes++;
	lc->close_reason = tls_conn_close_reason(c);
}

static const struct tls_conn_callbacks lc_cb = {lc_ready, lc_message, lc_close};

/* With a login deadline, a client that completes the handshake but never logs in is
 * ended; one that logs in stays (until the server stops), and the authenticated cap
 * turns a second login away. */
static void login_deadline_and_authenticated_cap(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct tls_server_limits l = {.max_pending = 10, .max_pending_per_source = 10,
				      .max_authenticated = 1, .handshake_timeout_ms = 2000,
				      .login_timeout_ms = 300};
	struct login_client silent = {0}, talker = {.speak = true};
	struct tls_creds *creds, *cli;
	struct tls_server_counts n;
	struct ip_endpoint to;
	struct flood f = {.login_on_message = true};
	uv_loop_t loop;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	creds = creds_for("ca", "principal");
	cli = creds_for("ca", "lan-a");
	flood_server(&loop, creds, &f, roles, 1, &l, 800);
	assert_int_equal(ip_endpoint_parse("127.0.0.1:0", &to), 0);
	to.port = tls_server_port(f.server);
	assert_int_equal(tls_connect(&loop, cli, &to, PKI_ROLE_PRINCIPAL, NULL, &lc_cb, &silent,
				     &silent.conn), 0);
	assert_int_equal(tls_connect(&loop, cli, &to, PKI_ROLE_PRINCIPAL, NULL, &lc_cb, &talker,
				     &talker.conn), 0);
	while (talker.replies == 0 || silent.closes == 0)
		assert_int_not_equal(uv_run(&loop, UV_RUN_ONCE), 0);
	tls_server_counts(f.server, &n);
	assert_int_equal(n.authenticated, 1);
	assert_int_equal(n.pending, 0);
	assert_int_equal(n.timed_out, 1);
	assert_int_equal(silent.ready_status, 0);
	assert_int_equal(talker.replies, 1);
	assert_int_equal(talker.closes, 0);
	/* A third client logs in while the one slot is taken. */
	silent = (struct login_client){.speak = true};
	assert_int_equal(tls_connect(&loop, cli, &to, PKI_ROLE_PRINCIPAL, NULL, &lc_cb, &silent,
				     &silent.conn), 0);
	f.login_on_message = false;
	while (silent.replies == 0)
		assert_int_not_equal(uv_run(&loop, UV_RUN_ONCE), 0);
	assert_int_equal(tls_conn_authenticated(silent.conn), 0);  /* a client conn: no-op */
	tls_conn_close(talker.conn, 0);
	tls_conn_close(silent.conn, 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	tls_creds_free(creds);
	tls_creds_free(cli);
}

/* Without a login deadline the handshake authenticates, and the cap applies there. */
static void authenticated_cap_at_handshake(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct tls_server_limits l = {.max_authenticated = 1};
	struct login_client a = {.speak = true}, b = {0};
	struct tls_creds *creds, *cli;
	struct tls_server_counts n;
	struct ip_endpoint to;
	struct flood f = {0};
	uv_loop_t loop;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	creds = creds_for("ca", "principal");
	cli = creds_for("ca", "lan-a");
	flood_server(&loop, creds, &f, roles, 1, &l, 600);
	assert_int_equal(ip_endpoint_parse("127.0.0.1:0", &to), 0);
	to.port = tls_server_port(f.server);
	assert_int_equal(tls_connect(&loop, cli, &to, PKI_ROLE_PRINCIPAL, NULL, &lc_cb, &a,
				     &a.conn), 0);
	while (a.replies == 0)
		assert_int_not_equal(uv_run(&loop, UV_RUN_ONCE), 0);
	assert_int_equal(tls_connect(&loop, cli, &to, PKI_ROLE_PRINCIPAL, NULL, &lc_cb, &b,
				     &b.conn), 0);
	while (b.closes == 0)
		assert_int_not_equal(uv_run(&loop, UV_RUN_ONCE), 0);
	tls_server_counts(f.server, &n);
	assert_int_equal(n.refused_authenticated, 1);
	assert_int_equal(n.authenticated, 1);
	assert_int_equal(f.limits, 1);
	tls_conn_close(a.conn, 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	tls_creds_free(creds);
	tls_creds_free(cli);
}

/* ---- replacing the server's certificate while a connection made with it is open ---- */

struct renewal {
	uv_loop_t loop;
	struct tls_server *server;
	struct tls_creds *server_creds, *client_creds;
	struct tls_conn *first;      /* client connection made before the switch */
	char first_fp[PKI_FINGERPRINT_LEN + 1], second_fp[PKI_FINGERPRINT_LEN + 1];
	int replies, closes, ready;
	int replace_rc, bad_replace_rc;
};

static void renewal_client_ready(struct tls_conn *c, int status);
static void renewal_client_message(struct tls_conn *c, json_t *msg, int err);
static void renewal_client_close(struct tls_conn *c);
static const struct tls_conn_callbacks renewal_cli_cb = {
	renewal_client_ready, renewal_client_message, renewal_client_close};

static void renewal_connect(struct renewal *r, struct tls_conn **out)
{
	struct ip_endpoint to;

	assert_int_equal(ip_endpoint_parse("127.0.0.1:0", &to), 0);
	to.port = tls_server_port(r->server);
	assert_int_equal(tls_connect(&r->loop, r->client_creds, &to, PKI_ROLE_SECONDARY, "lan-b",
				     &renewal_cli_cb, r, out), 0);
}

static void renewal_client_ready(struct tls_conn *c, int status)
{
	struct renewal *r = tls_conn_data(c);
	char cert[256], key[256], err[256];
	struct tls_conn *second;

	assert_int_equal(status, 0);
	if (r->ready++ == 0) {
		/* The switch, with the first connection open and idle. */
		snprintf(r->first_fp, sizeof r->first_fp, "%s", tls_conn_peer(c)->fingerprint);
		path_of(cert, sizeof cert, "renewed", "crt");
		path_of(key, sizeof key, "lan-a", "key");
		r->bad_replace_rc = tls_creds_replace(r->server_creds, cert, key, NULL, err,
						       sizeof err);
		path_of(key, sizeof key, "renewed", "key");
		r->replace_rc = tls_creds_replace(r->server_creds, cert, key, NULL, err, sizeof err);
		renewal_connect(r, &second);
		return;
	}
	/* The second connection sees the new certificate; the first still carries messages. */
	snprintf(r->second_fp, sizeof r->second_fp, "%s", tls_conn_peer(c)->fingerprint);
	tls_conn_close(c, 0);
	assert_int_equal(tls_conn_send_new(r->first, msg_request("ping", 1)), 0);
}

static void renewal_client_message(struct tls_conn *c, json_t *msg, int err)
{
	struct renewal *r = tls_conn_data(c);

	assert_non_null(msg);
	r->replies++;
	tls_conn_close(c, 0);
}

static void renewal_client_close(struct tls_conn *c)
{
	struct renewal *r = tls_conn_data(c);

	if (++r->closes == 2) {
		tls_server_close(r->server);
		r->server = NULL;
	}
}

static void renewal_srv_message(struct tls_conn *c, json_t *msg, int err)
{
	if (msg)
		assert_int_equal(tls_conn_send_new(c, msg_reply_ok(msg_id(msg))), 0);
}

static const struct tls_conn_callbacks renewal_srv_cb = {NULL, renewal_srv_message, NULL};

static void renewal_accept(struct tls_server *s, struct tls_conn *c)
{
	tls_conn_set_callbacks(c, &renewal_srv_cb, tls_server_data(s));
}

static void replaced_certificate_for_new_connections_only(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct renewal r = {0};
	struct ip_endpoint bind;
	char renewed[256], err[256];
	struct pki_identity id;

	assert_int_equal(uv_loop_init(&r.loop), 0);
	r.server_creds = creds_for("ca", "lan-b");
	r.client_creds = creds_for("ca", "lan-a");
	assert_int_equal(ip_endpoint_parse("127.0.0.1:0", &bind), 0);
	assert_int_equal(tls_server_listen(&r.loop, r.server_creds, &bind, roles, 1,
					   renewal_accept, &r, &r.server), 0);
	renewal_connect(&r, &r.first);
	assert_int_equal(uv_run(&r.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&r.loop), 0);
	path_of(renewed, sizeof renewed, "renewed", "crt");
	assert_int_equal(pki_read_identity(renewed, &id, err, sizeof err), 0);
	assert_int_equal(r.bad_replace_rc, INSEL_E_CONFIG);
	assert_int_equal(r.replace_rc, 0);
	assert_int_equal(r.ready, 2);
	assert_string_not_equal(r.first_fp, r.second_fp);
	assert_string_equal(r.second_fp, id.fingerprint);
	assert_string_equal(tls_creds_identity(r.server_creds)->fingerprint, id.fingerprint);
	assert_int_equal(r.replies, 1);
	tls_creds_free(r.server_creds);
	tls_creds_free(r.client_creds);
}

static void creds_errors_name_the_file(void **state)
{
	char ca[256], cert[256], key[256], err[256];
	struct tls_creds *c = NULL;

	snprintf(ca, sizeof ca, "%s/ca/ca.crt", dir);
	path_of(cert, sizeof cert, "lan-a", "crt");
	path_of(key, sizeof key, "lan-b", "key");
	assert_int_equal(tls_creds_load(&c, ca, cert, key, err, sizeof err), INSEL_E_CONFIG);
	assert_non_null(strstr(err, "lan-b.key is not the private key of"));
	path_of(key, sizeof key, "mallory", "key");
	path_of(cert, sizeof cert, "mallory", "crt");
	assert_int_equal(tls_creds_load(&c, ca, cert, key, err, sizeof err), INSEL_E_CONFIG);
	assert_non_null(strstr(err, "mallory.crt is not signed by the CA in"));
	assert_true(tls_creds_load(&c, "/nonexistent.crt", cert, key, err, sizeof err) < 0);
	assert_non_null(strstr(err, "cannot read /nonexistent.crt"));
	assert_null(c);
}

/* ---- a raw byte stream (the relay's TCP fallback) ---- */

#define RAW_TOTAL 100000

struct raw_echo {
	uv_loop_t loop;
	struct tls_server *server;
	struct tls_creds *server_creds, *client_creds;
	struct tls_conn *client;
	size_t sent, received;
	bool intact;
	int srv_ready, cli_ready;
	enum pki_role server_seen;
};

static uint8_t raw_byte(size_t i)
{
	return (uint8_t)(i * 31 + 7);
}

static void echo_bytes(struct tls_conn *c, const uint8_t *data, size_t len)
{
	assert_int_equal(tls_conn_send_bytes(c, data, len, 4 << 20), 0);
}

static void echo_ready(struct tls_conn *c, int status)
{
	struct raw_echo *e = tls_conn_data(c);

	e->srv_ready = status == 0 ? 1 : -1;
	e->server_seen = tls_conn_peer(c)->role;
	tls_conn_set_raw(c, echo_bytes);
}

static const struct tls_conn_callbacks echo_cb = {echo_ready, NULL, NULL};

static void echo_accept(struct tls_server *s, struct tls_conn *c)
{
	tls_conn_set_callbacks(c, &echo_cb, tls_server_data(s));
}

static void raw_client_bytes(struct tls_conn *c, const uint8_t *data, size_t len)
{
	struct raw_echo *e = tls_conn_data(c);

	for (size_t i = 0; i < len; i++)
		if (data[i] != raw_byte(e->received + i))
			e->intact = false;
	e->received += len;
	if (e->received >= RAW_TOTAL) {
		tls_conn_close(c, 0);
		tls_server_close(e->server);
	}
}

static void raw_client_ready(struct tls_conn *c, int status)
{
	struct raw_echo *e = tls_conn_data(c);
	static uint8_t chunk[7000];

	e->cli_ready = status == 0 ? 1 : -1;
	if (status)
		return;
	tls_conn_set_raw(c, raw_client_bytes);
	while (e->sent < RAW_TOTAL) {
		size_t n = RAW_TOTAL - e->sent < sizeof chunk ? RAW_TOTAL - e->sent : sizeof chunk;

		for (size_t i = 0; i < n; i++)
			chunk[i] = raw_byte(e->sent + i);
		assert_int_equal(tls_conn_send_bytes(c, chunk, n, 4 << 20), 0);
		e->sent += n;
	}
	/* Over the caller's bound: refused, nothing sent, the connection stays. */
	if (tls_conn_queued(c) > 0)
		assert_int_equal(tls_conn_send_bytes(c, chunk, 1, 0), INSEL_E_LIMIT);
}

static const struct tls_conn_callbacks raw_cli_cb = {raw_client_ready, NULL, NULL};

/* A client without a certificate that trusts the CA given in memory (as a confined
 * auxiliary does) checks a principal-role server, and bytes go both ways unchanged. */
static void raw_stream_with_ca_in_memory(void **state)
{
	static const enum pki_role roles[] = {PKI_ROLE_NONE};
	struct raw_echo e = {.intact = true};
	struct ip_endpoint bind, to;
	char ca[256], err[256];
	gnutls_datum_t pem;

	(void)state;
	snprintf(ca, sizeof ca, "%s/ca/ca.crt", dir);
	assert_int_equal(gnutls_load_file(ca, &pem), 0);
	assert_int_equal(tls_creds_load_ca_pem(&e.client_creds, pem.data, pem.size, err,
					       sizeof err), 0);
	assert_int_not_equal(tls_creds_load_ca_pem(&e.server_creds, "junk", 4, err, sizeof err),
			     0);
	gnutls_free(pem.data);
	e.server_creds = creds_for("ca", "principal");
	assert_int_equal(uv_loop_init(&e.loop), 0);
	assert_int_equal(ip_endpoint_parse("127.0.0.1:0", &bind), 0);
	assert_int_equal(tls_server_listen(&e.loop, e.server_creds, &bind, roles, 1, echo_accept,
					   &e, &e.server), 0);
	to = bind;
	to.port = tls_server_port(e.server);
	assert_int_equal(tls_connect(&e.loop, e.client_creds, &to, PKI_ROLE_PRINCIPAL, NULL,
				     &raw_cli_cb, &e, &e.client), 0);
	assert_int_equal(tls_conn_send_bytes(e.client, "x", 1, 1 << 20), INSEL_E_CLOSED);
	uv_run(&e.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&e.loop), 0);
	assert_int_equal(e.srv_ready, 1);
	assert_int_equal(e.cli_ready, 1);
	assert_int_equal(e.server_seen, PKI_ROLE_NONE);
	assert_int_equal(e.received, RAW_TOTAL);
	assert_true(e.intact);
	tls_creds_free(e.server_creds);
	tls_creds_free(e.client_creds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(handshake_and_messages),
		cmocka_unit_test(reversed_after_preamble),
		cmocka_unit_test(bad_preamble_refused),
		cmocka_unit_test(connect_from_given_address),
		cmocka_unit_test(many_messages_in_one_read),
		cmocka_unit_test(foreign_ca_refused),
		cmocka_unit_test(client_refuses_foreign_server),
		cmocka_unit_test(expired_refused),
		cmocka_unit_test(not_yet_valid_refused),
		cmocka_unit_test(revoked_refused),
		cmocka_unit_test(wrong_role_refused),
		cmocka_unit_test(client_checks_server_role),
		cmocka_unit_test(wrong_name_refused),
		cmocka_unit_test(certless_client_where_allowed),
		cmocka_unit_test(certless_client_refused_elsewhere),
		cmocka_unit_test(silent_client_times_out),
		cmocka_unit_test(garbage_then_good_client),
		cmocka_unit_test(pending_capped_per_source),
		cmocka_unit_test(pending_capped_in_total),
		cmocka_unit_test(silent_holders_give_way),
		cmocka_unit_test(login_deadline_and_authenticated_cap),
		cmocka_unit_test(authenticated_cap_at_handshake),
		cmocka_unit_test(creds_errors_name_the_file),
		cmocka_unit_test(replaced_certificate_for_new_connections_only),
		cmocka_unit_test(raw_stream_with_ca_in_memory),
	};

	return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
