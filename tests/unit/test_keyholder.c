/* Unit tests for the key holder (secondary/keyholder.h, secondary/keyholder_*.c).
 *
 * The codec: every message round-trips; a truncated message, a byte too many, a length
 * over its limit, an unknown op or version are refused. The holder's answers, in process:
 * its public key is the certificate's; it signs one digest in the key's own scheme (the
 * signature verifies with the certificate) and refuses other schemes, other lengths and
 * unknown keys. Then real processes: key holders forked exactly as insel-secondary forks
 * them (confined, syscall allowlist on) sign both sides of a real TLS 1.3 handshake
 * between two parties whose credentials hold only certificates; once a holder is killed
 * its party's next handshake fails at once and says why; a renewal generates a key and a
 * certificate request, commits it over the key file (mode 0600, through the allowlist),
 * and both keys sign. The client gives up on a silent holder within its time-out and
 * drops a late reply to an earlier request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "keyholder.h"
#include "keyholder_proc.h"
#include "pki.h"
#include "tls.h"

static char dir[64];

static void path_of(char *out, size_t n, const char *name, const char *ext)
{
	snprintf(out, n, "%s/%s.%s", dir, name, ext);
}

static int make_pki(void **state)
{
	char ca[128], cert[256], key[256], err[256];

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/insel-keyholder-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(ca, sizeof ca, "%s/ca", dir);
	assert_int_equal(pki_ca_init(ca, "Key Holder Org", 10, err, sizeof err), 0);
	for (int i = 0; i < 3; i++) {
		const char *name = i == 0 ? "lan-a" : i == 1 ? "lan-b" : "lan-c";

		path_of(cert, sizeof cert, name, "crt");
		path_of(key, sizeof key, name, "key");
		assert_int_equal(pki_issue(ca, PKI_ROLE_SECONDARY, name, 10, cert, key, NULL, err,
					   sizeof err),
				 0);
	}
	return 0;
}

static int remove_pki(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The DER SubjectPublicKeyInfo of a certificate file. */
static void cert_spki(const char *name, gnutls_pubkey_t *pub, gnutls_datum_t *der)
{
	char path[256];
	gnutls_datum_t pem;
	gnutls_x509_crt_t crt;

	path_of(path, sizeof path, name, "crt");
	assert_true(gnutls_load_file(path, &pem) >= 0);
	assert_true(gnutls_x509_crt_init(&crt) >= 0);
	assert_true(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM) >= 0);
	assert_true(gnutls_pubkey_init(pub) >= 0);
	assert_true(gnutls_pubkey_import_x509(*pub, crt, 0) >= 0);
	assert_true(gnutls_pubkey_export2(*pub, GNUTLS_X509_FMT_DER, der) >= 0);
	gnutls_x509_crt_deinit(crt);
	gnutls_free(pem.data);
}

/* ---- the codec ---- */

static int round_trip_request(const struct keyholder_msg *in, struct keyholder_msg *out,
			      uint8_t *buf)
{
	int n = keyholder_encode_request(in, buf, KEYHOLDER_MSG_MAX);

	assert_true(n > 0);
	assert_int_equal(keyholder_parse_request(buf, (size_t)n, out), 0);
	/* every shorter prefix and one byte more are refused */
	for (int i = 0; i < n; i++) {
		struct keyholder_msg junk;

		assert_int_not_equal(keyholder_parse_request(buf, (size_t)i, &junk), 0);
	}
	buf[n] = 0;
	{
		struct keyholder_msg junk;

		assert_int_equal(keyholder_parse_request(buf, (size_t)n + 1, &junk),
				 INSEL_E_MALFORMED);
	}
	return n;
}

static void codec_requests(void **state)
{
	uint8_t buf[KEYHOLDER_MSG_MAX + 1], digest[32];
	struct keyholder_msg in = {0}, out;

	(void)state;
	memset(digest, 0xab, sizeof digest);
	in.op = KEYHOLDER_SIGN;
	in.seq = 0x01020304;
	memset(in.key_id, 7, sizeof in.key_id);
	in.sign_algo = GNUTLS_SIGN_ECDSA_SECP256R1_SHA256;
	in.data = digest;
	in.data_len = sizeof digest;
	assert_int_equal(round_trip_request(&in, &out, buf), 6 + 32 + 2 + 2 + 32);
	assert_int_equal(out.op, KEYHOLDER_SIGN);
	assert_int_equal(out.seq, 0x01020304);
	assert_memory_equal(out.key_id, in.key_id, sizeof in.key_id);
	assert_int_equal(out.sign_algo, in.sign_algo);
	assert_int_equal(out.data_len, 32);
	assert_memory_equal(out.data, digest, 32);

	in = (struct keyholder_msg){.op = KEYHOLDER_GENERATE, .seq = 9,
				    .name = (const uint8_t *)"lan-a", .name_len = 5};
	round_trip_request(&in, &out, buf);
	assert_int_equal(out.name_len, 5);
	assert_memory_equal(out.name, "lan-a", 5);

	in = (struct keyholder_msg){.op = KEYHOLDER_INFO, .seq = 1};
	assert_int_equal(round_trip_request(&in, &out, buf), 6);
	in = (struct keyholder_msg){.op = KEYHOLDER_COMMIT, .seq = 2};
	assert_int_equal(round_trip_request(&in, &out, buf), 6 + 32);
	in = (struct keyholder_msg){.op = KEYHOLDER_DISCARD, .seq = 3};
	in.key_id[31] = 9;
	assert_int_equal(round_trip_request(&in, &out, buf), 6 + 32);
	assert_int_equal(out.key_id[31], 9);
}

static void codec_refusals(void **state)
{
	uint8_t buf[KEYHOLDER_MSG_MAX + 8];
	uint8_t big[KEYHOLDER_DATA_MAX + 1] = {0};
	struct keyholder_msg in = {.op = KEYHOLDER_SIGN, .data = big,
				   .data_len = sizeof big}, out;
	int n;

	(void)state;
	/* the encoder will not write an over-long digest or name... */
	assert_int_equal(keyholder_encode_request(&in, buf, sizeof buf), INSEL_E_TOO_BIG);
	/* ...and the parser refuses one written by hand */
	in.data_len = KEYHOLDER_DATA_MAX;
	n = keyholder_encode_request(&in, buf, sizeof buf);
	assert_true(n > 0);
	buf[6 + 32 + 2] = 0;
	buf[6 + 32 + 3] = KEYHOLDER_DATA_MAX + 1;
	buf[n] = 0;
	assert_int_equal(keyholder_parse_request(buf, (size_t)n + 1, &out), INSEL_E_TOO_BIG);
	/* a name over 64 bytes */
	memcpy(buf, "\x01\x03\x00\x00\x00\x01\x41", 7);
	assert_int_equal(keyholder_parse_request(buf, 7 + 0x41, &out), INSEL_E_TOO_BIG);
	/* an unknown op, another version, a reply where a request belongs */
	memcpy(buf, "\x01\x09\x00\x00\x00\x01", 6);
	assert_int_equal(keyholder_parse_request(buf, 6, &out), INSEL_E_MALFORMED);
	memcpy(buf, "\x02\x01\x00\x00\x00\x01", 6);
	assert_int_equal(keyholder_parse_request(buf, 6, &out), INSEL_E_VERSION);
	memcpy(buf, "\x01\x81\x00\x00\x00\x01", 6);
	assert_int_equal(keyholder_parse_request(buf, 6, &out), INSEL_E_MALFORMED);
	/* a request where a reply belongs; a message over the maximum */
	assert_int_equal(keyholder_parse_reply((const uint8_t *)"\x01\x01\x00\x00\x00\x01\x00\x00",
					       8, &out),
			 INSEL_E_MALFORMED);
	assert_int_equal(keyholder_parse_reply(buf, KEYHOLDER_MSG_MAX + 1, &out),
			 INSEL_E_TOO_BIG);
}

static void codec_replies(void **state)
{
	uint8_t buf[KEYHOLDER_MSG_MAX], sig[72], csr[300];
	struct keyholder_msg in = {0}, out;
	int n;

	(void)state;
	memset(sig, 0x5a, sizeof sig);
	memset(csr, 0x3c, sizeof csr);
	in = (struct keyholder_msg){.op = KEYHOLDER_GENERATE | KEYHOLDER_REPLY, .seq = 77,
				    .sig = NULL, .csr = csr, .csr_len = sizeof csr};
	in.key.pk_algo = GNUTLS_PK_ECDSA;
	in.key.bits = 256;
	in.key.spki_len = 91;
	memset(in.key.spki, 0x11, 91);
	n = keyholder_encode_reply(&in, buf, sizeof buf);
	assert_int_equal(n, 8 + 6 + 91 + 2 + (int)sizeof csr);
	assert_int_equal(keyholder_parse_reply(buf, (size_t)n, &out), 0);
	assert_int_equal(out.seq, 77);
	assert_int_equal(out.key.bits, 256);
	assert_int_equal(out.key.spki_len, 91);
	assert_memory_equal(out.key.spki, in.key.spki, 91);
	assert_int_equal(out.csr_len, sizeof csr);
	for (int i = 0; i < n; i++)
		assert_int_not_equal(keyholder_parse_reply(buf, (size_t)i, &out), 0);

	in = (struct keyholder_msg){.op = KEYHOLDER_SIGN | KEYHOLDER_REPLY, .seq = 78,
				    .sig = sig, .sig_len = sizeof sig};
	n = keyholder_encode_reply(&in, buf, sizeof buf);
	assert_int_equal(keyholder_parse_reply(buf, (size_t)n, &out), 0);
	assert_int_equal(out.sig_len, sizeof sig);
	assert_memory_equal(out.sig, sig, sizeof sig);

	/* INFO: the current key, and the pending one when there is one */
	in = (struct keyholder_msg){.op = KEYHOLDER_INFO | KEYHOLDER_REPLY, .seq = 80,
				    .has_pending = true};
	in.key.pk_algo = in.pending.pk_algo = GNUTLS_PK_ECDSA;
	in.key.bits = in.pending.bits = 256;
	in.key.spki_len = in.pending.spki_len = 3;
	memcpy(in.key.spki, "cur", 3);
	memcpy(in.pending.spki, "new", 3);
	n = keyholder_encode_reply(&in, buf, sizeof buf);
	assert_int_equal(n, 8 + 9 + 1 + 9);
	assert_int_equal(keyholder_parse_reply(buf, (size_t)n, &out), 0);
	assert_true(out.has_pending);
	assert_memory_equal(out.pending.spki, "new", 3);
	buf[8 + 9] = 2;  /* the flag is 0 or 1 */
	assert_int_equal(keyholder_parse_reply(buf, (size_t)n, &out), INSEL_E_MALFORMED);
	in.has_pending = false;
	n = keyholder_encode_reply(&in, buf, sizeof buf);
	assert_int_equal(n, 8 + 9 + 1);
	assert_int_equal(keyholder_parse_reply(buf, (size_t)n, &out), 0);
	assert_false(out.has_pending);

	/* a refusal carries its status and nothing else */
	in = (struct keyholder_msg){.op = KEYHOLDER_SIGN | KEYHOLDER_REPLY, .seq = 79,
				    .status = KEYHOLDER_REFUSED, .sig = sig, .sig_len = 72};
	n = keyholder_encode_reply(&in, buf, sizeof buf);
	assert_int_equal(n, 8);
	assert_int_equal(keyholder_parse_reply(buf, (size_t)n, &out), 0);
	assert_int_equal(out.status, KEYHOLDER_REFUSED);
	buf[n] = 1;
	assert_int_equal(keyholder_parse_reply(buf, (size_t)n + 1, &out), INSEL_E_MALFORMED);
}

static void what_may_be_signed(void **state)
{
	(void)state;
	assert_true(keyholder_sign_allowed(GNUTLS_PK_ECDSA, 256,
					   GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, 32));
	assert_false(keyholder_sign_allowed(GNUTLS_PK_ECDSA, 256,
					    GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, 48));
	assert_false(keyholder_sign_allowed(GNUTLS_PK_ECDSA, 256,
					    GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, 130));
	assert_false(keyholder_sign_allowed(GNUTLS_PK_ECDSA, 256,
					    GNUTLS_SIGN_ECDSA_SECP384R1_SHA384, 48));
	/* the TLS 1.2 scheme (any curve, SHA-1 included) is not TLS 1.3's */
	assert_false(keyholder_sign_allowed(GNUTLS_PK_ECDSA, 256, GNUTLS_SIGN_ECDSA_SHA1, 20));
	assert_false(keyholder_sign_allowed(GNUTLS_PK_ECDSA, 256, GNUTLS_SIGN_ECDSA_SHA256, 32));
	assert_false(keyholder_sign_allowed(GNUTLS_PK_RSA, 2048,
					    GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, 32));
	assert_true(keyholder_sign_allowed(GNUTLS_PK_ECDSA, 384,
					   GNUTLS_SIGN_ECDSA_SECP384R1_SHA384, 48));
}

/* ---- the holder's answers, in this process ---- */

static void ask(struct holder *h, const struct keyholder_msg *req, uint8_t *buf,
		struct keyholder_msg *reply)
{
	uint8_t in[KEYHOLDER_MSG_MAX];
	int n = keyholder_encode_request(req, in, sizeof in);

	assert_true(n > 0);
	n = holder_handle(h, in, (size_t)n, buf, KEYHOLDER_MSG_MAX);
	assert_true(n > 0);
	assert_int_equal(keyholder_parse_reply(buf, (size_t)n, reply), 0);
	assert_int_equal(reply->seq, req->seq);
}

static void holder_answers(void **state)
{
	uint8_t buf[KEYHOLDER_MSG_MAX], digest[32];
	char key[256], err[256];
	struct keyholder_msg req = {.seq = 1, .op = KEYHOLDER_INFO}, reply;
	struct keyholder_key pub;
	gnutls_pubkey_t cert_pub;
	gnutls_datum_t spki, d = {digest, sizeof digest}, sig;
	struct holder h;

	(void)state;
	path_of(key, sizeof key, "lan-a", "key");
	assert_int_equal(holder_load(&h, key, err, sizeof err), 0);
	ask(&h, &req, buf, &reply);
	assert_int_equal(reply.status, KEYHOLDER_OK);
	assert_int_equal(reply.key.pk_algo, GNUTLS_PK_ECDSA);
	assert_int_equal(reply.key.bits, 256);
	cert_spki("lan-a", &cert_pub, &spki);
	assert_int_equal(reply.key.spki_len, spki.size);
	assert_memory_equal(reply.key.spki, spki.data, spki.size);
	pub = reply.key;
	assert_int_equal(keyholder_key_set_id(&pub), 0);

	/* one SHA-256 digest in ecdsa_secp256r1_sha256: signed, and it verifies */
	assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, "handshake", 9, digest), 0);
	req = (struct keyholder_msg){.op = KEYHOLDER_SIGN, .seq = 2,
				     .sign_algo = GNUTLS_SIGN_ECDSA_SECP256R1_SHA256,
				     .data = digest, .data_len = 32};
	memcpy(req.key_id, pub.id, sizeof pub.id);
	ask(&h, &req, buf, &reply);
	assert_int_equal(reply.status, KEYHOLDER_OK);
	sig = (gnutls_datum_t){(unsigned char *)reply.sig, (unsigned)reply.sig_len};
	assert_true(gnutls_pubkey_verify_hash2(cert_pub, GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, 0, &d,
					       &sig) >= 0);

	/* another scheme, another length, another key: refused */
	req.sign_algo = GNUTLS_SIGN_ECDSA_SHA256;
	ask(&h, &req, buf, &reply);
	assert_int_equal(reply.status, KEYHOLDER_REFUSED);
	req.sign_algo = GNUTLS_SIGN_ECDSA_SECP256R1_SHA256;
	req.data_len = 31;
	ask(&h, &req, buf, &reply);
	assert_int_equal(reply.status, KEYHOLDER_REFUSED);
	req.data_len = 32;
	req.key_id[0] ^= 1;
	ask(&h, &req, buf, &reply);
	assert_int_equal(reply.status, KEYHOLDER_UNKNOWN_KEY);
	/* a commit with nothing pending; garbage */
	req = (struct keyholder_msg){.op = KEYHOLDER_COMMIT, .seq = 3};
	memcpy(req.key_id, pub.id, sizeof pub.id);
	ask(&h, &req, buf, &reply);
	assert_int_equal(reply.status, KEYHOLDER_NO_PENDING);
	{
		static const uint8_t garbage[] = {1, KEYHOLDER_SIGN, 0, 0, 0, 4, 1, 2};
		int n = holder_handle(&h, garbage, sizeof garbage, buf, sizeof buf);

		assert_true(n > 0);
		assert_int_equal(keyholder_parse_reply(buf, (size_t)n, &reply), 0);
		assert_int_equal(reply.status, KEYHOLDER_MALFORMED);
	}
	assert_int_equal(h.signatures, 1);
	holder_free(&h);
	gnutls_free(spki.data);
	gnutls_pubkey_deinit(cert_pub);
}

static void holder_refuses_bad_key_files(void **state)
{
	char path[256], err[256];
	struct holder h;

	(void)state;
	path_of(path, sizeof path, "missing", "key");
	assert_int_not_equal(holder_load(&h, path, err, sizeof err), 0);
	assert_non_null(strstr(err, "cannot read"));
	path_of(path, sizeof path, "lan-a", "crt");  /* a certificate, not a key */
	assert_int_not_equal(holder_load(&h, path, err, sizeof err), 0);
	assert_non_null(strstr(err, "not a usable private key"));
}

/* ---- forked holders and a real handshake ---- */

struct side {
	int ready_status;
	int ready_calls;
	char peer[PKI_NAME_MAX + 1];
	char error[256];
};

struct pair {
	uv_loop_t loop;
	struct tls_server *server;
	struct side srv, cli;
};

static void record(struct side *s, struct tls_conn *c, int status)
{
	s->ready_calls++;
	s->ready_status = status;
	if (status == 0)
		snprintf(s->peer, sizeof s->peer, "%s", tls_conn_peer(c)->name);
	snprintf(s->error, sizeof s->error, "%s", tls_conn_error(c));
	tls_conn_close(c, 0);
}

static void srv_ready(struct tls_conn *c, int status)
{
	struct pair *p = tls_conn_data(c);

	record(&p->srv, c, status);
	tls_server_close(p->server);
}

static void cli_ready(struct tls_conn *c, int status)
{
	struct pair *p = tls_conn_data(c);

	record(&p->cli, c, status);
}

static void ignore_message(struct tls_conn *c, json_t *m, int err)
{
	(void)c;
	(void)m;
	(void)err;
}

static void srv_closed(struct tls_conn *c)
{
	struct pair *p = tls_conn_data(c);

	if (!p->srv.ready_calls)
		tls_server_close(p->server);
}

static const struct tls_conn_callbacks srv_cb = {srv_ready, ignore_message, srv_closed};
static const struct tls_conn_callbacks cli_cb = {cli_ready, ignore_message, NULL};

static void on_accept(struct tls_server *s, struct tls_conn *c)
{
	tls_conn_set_callbacks(c, &srv_cb, tls_server_data(s));
}

static struct tls_creds *held_creds(struct keyholder *kh, const char *name)
{
	char ca[256], cert[256], err[256];
	struct tls_signer signer;
	struct tls_creds *c = NULL;

	snprintf(ca, sizeof ca, "%s/ca/ca.crt", dir);
	path_of(cert, sizeof cert, name, "crt");
	keyholder_tls_signer(kh, &kh->current, &signer);
	if (tls_creds_load_signer(&c, ca, cert, &signer, err, sizeof err) != 0)
		fail_msg("%s", err);
	return c;
}

static void spawn(struct keyholder *kh, const char *name)
{
	char key[256], err[256];

	path_of(key, sizeof key, name, "key");
	if (keyholder_spawn(key, kh, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_true(kh->pid > 0);
}

/* lan-a serves, lan-b connects; both sign through their holders. */
static void handshake(struct pair *p, struct tls_creds *server, struct tls_creds *client)
{
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY};
	struct ip_endpoint at;
	struct tls_conn *c;

	memset(p, 0, sizeof *p);
	assert_int_equal(uv_loop_init(&p->loop), 0);
	assert_int_equal(ip_endpoint_parse("127.0.0.1:0", &at), 0);
	assert_int_equal(tls_server_listen(&p->loop, server, &at, roles, 1, on_accept, p,
					   &p->server),
			 0);
	at.port = tls_server_port(p->server);
	assert_int_equal(tls_connect(&p->loop, client, &at, PKI_ROLE_SECONDARY, "lan-a",
				     &cli_cb, p, &c),
			 0);
	assert_int_equal(uv_run(&p->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&p->loop), 0);
}

static bool holder_confined(pid_t pid)
{
	char path[64], line[256];
	bool nnp = false, filtered = false;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof line, f)) {
		nnp |= strcmp(line, "NoNewPrivs:\t1\n") == 0;
		filtered |= strcmp(line, "Seccomp:\t2\n") == 0;
	}
	fclose(f);
	return nnp && filtered;
}

static void handshake_through_holders(void **state)
{
	struct keyholder a, b;
	struct tls_creds *ca, *cb;
	struct pair p;
	struct timespec t0, t1;

	(void)state;
	spawn(&a, "lan-a");
	spawn(&b, "lan-b");
	assert_true(holder_confined(a.pid));
	ca = held_creds(&a, "lan-a");
	cb = held_creds(&b, "lan-b");

	handshake(&p, ca, cb);
	assert_int_equal(p.srv.ready_status, 0);
	assert_int_equal(p.cli.ready_status, 0);
	assert_string_equal(p.srv.peer, "lan-b");
	assert_string_equal(p.cli.peer, "lan-a");

	/* lan-b's holder dies: its next handshake fails at once, saying it could not sign */
	kill(b.pid, SIGKILL);
	assert_int_equal(waitpid(b.pid, NULL, 0), b.pid);
	b.pid = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	handshake(&p, ca, cb);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_not_equal(p.cli.ready_status, 0);
	assert_int_not_equal(p.srv.ready_status, 0);
	assert_true(b.gone);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	/* and lan-a, whose holder lives, still serves a party with a key file */
	{
		char caf[256], cert[256], key[256], err[256];
		struct tls_creds *cc = NULL;

		snprintf(caf, sizeof caf, "%s/ca/ca.crt", dir);
		path_of(cert, sizeof cert, "lan-c", "crt");
		path_of(key, sizeof key, "lan-c", "key");
		assert_int_equal(tls_creds_load(&cc, caf, cert, key, err, sizeof err), 0);
		handshake(&p, ca, cc);
		assert_int_equal(p.cli.ready_status, 0);
		assert_string_equal(p.srv.peer, "lan-c");
		tls_creds_free(cc);
	}
	tls_creds_free(ca);
	tls_creds_free(cb);
	keyholder_close(&a);
	keyholder_close(&b);
	assert_int_equal(a.pid, 0);
}

static void wrong_certificate_refused(void **state)
{
	char ca[256], cert[256], err[256];
	struct keyholder a;
	struct tls_signer signer;
	struct tls_creds *c = NULL;

	(void)state;
	spawn(&a, "lan-a");
	snprintf(ca, sizeof ca, "%s/ca/ca.crt", dir);
	path_of(cert, sizeof cert, "lan-b", "crt");
	keyholder_tls_signer(&a, &a.current, &signer);
	assert_int_equal(tls_creds_load_signer(&c, ca, cert, &signer, err, sizeof err),
			 INSEL_E_CONFIG);
	assert_non_null(strstr(err, "is not the certificate of the key the key holder has"));
	keyholder_close(&a);
}

static void spawn_on(const char *path, struct keyholder *kh)
{
	char err[256];

	if (keyholder_spawn(path, kh, err, sizeof err) != 0)
		fail_msg("%s", err);
}

static bool exists(const char *path, const char *suffix)
{
	char p[300];
	struct stat st;

	snprintf(p, sizeof p, "%s%s", path, suffix);
	return stat(p, &st) == 0;
}

static void check_csr(const uint8_t *csr, size_t len, const char *name)
{
	gnutls_x509_crq_t crq;
	gnutls_datum_t d = {(unsigned char *)csr, (unsigned)len};
	char cn[64];
	size_t cnlen = sizeof cn;

	assert_true(gnutls_x509_crq_init(&crq) >= 0);
	assert_true(gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER) >= 0);
	assert_true(gnutls_x509_crq_verify(crq, 0) >= 0);
	assert_true(gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn,
						  &cnlen) >= 0);
	assert_string_equal(cn, name);
	gnutls_x509_crq_deinit(crq);
}

/* Generate (KEY.pending, 0600), the same key again and after a restart, commit (renamed
 * over KEY through the syscall allowlist), both keys sign; discard. */
static void renewal(void **state)
{
	char key[256], copy[256], err[256], cmd[600];
	uint8_t csr[KEYHOLDER_CSR_MAX], sig[128], digest[32] = {1};
	struct keyholder kh;
	struct keyholder_key old, fresh, again;
	size_t csr_len = 0;
	struct holder h;
	struct stat st;

	(void)state;
	path_of(key, sizeof key, "lan-a", "key");
	path_of(copy, sizeof copy, "renewed", "key");
	snprintf(cmd, sizeof cmd, "cp -p '%s' '%s'", key, copy);
	assert_int_equal(system(cmd), 0);
	spawn_on(copy, &kh);
	old = kh.current;
	assert_false(kh.has_pending);

	assert_int_equal(keyholder_generate(&kh, "lan-a", &fresh, csr, sizeof csr, &csr_len), 0);
	assert_memory_not_equal(fresh.id, old.id, sizeof old.id);
	check_csr(csr, csr_len, "lan-a");
	snprintf(cmd, sizeof cmd, "%s.pending", copy);
	assert_int_equal(stat(cmd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(keyholder_generate(&kh, "Not A Name", &again, csr, sizeof csr,
					    &csr_len),
			 INSEL_E_REFUSED);
	/* asked again: the same pending key, a new request */
	assert_int_equal(keyholder_generate(&kh, "lan-a", &again, csr, sizeof csr, &csr_len), 0);
	assert_memory_equal(again.id, fresh.id, sizeof fresh.id);
	/* a restart finds it pending */
	keyholder_close(&kh);
	spawn_on(copy, &kh);
	assert_memory_equal(kh.current.id, old.id, sizeof old.id);
	assert_true(kh.has_pending);
	assert_memory_equal(kh.pending.id, fresh.id, sizeof fresh.id);
	assert_int_equal(keyholder_generate(&kh, "lan-a", &again, csr, sizeof csr, &csr_len), 0);
	assert_memory_equal(again.id, fresh.id, sizeof fresh.id);

	/* committed: KEY.pending renamed over KEY, and both keys sign */
	assert_int_equal(keyholder_commit(&kh, old.id), INSEL_E_REFUSED);
	assert_int_equal(keyholder_commit(&kh, fresh.id), 0);
	assert_int_equal(keyholder_commit(&kh, fresh.id), INSEL_E_REFUSED);
	assert_false(exists(copy, ".pending"));
	assert_int_equal(stat(copy, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(keyholder_sign(&kh, fresh.id, GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, digest, 32,
				   sig, sizeof sig) > 0);
	assert_true(keyholder_sign(&kh, old.id, GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, digest, 32,
				   sig, sizeof sig) > 0);
	assert_int_equal(keyholder_info(&kh, NULL), 0);
	assert_memory_equal(kh.current.id, fresh.id, sizeof fresh.id);
	assert_false(kh.has_pending);

	/* a second renewal, discarded: KEY.pending is gone, KEY unchanged */
	assert_int_equal(keyholder_generate(&kh, "lan-a", &again, csr, sizeof csr, &csr_len), 0);
	assert_true(exists(copy, ".pending"));
	assert_int_equal(keyholder_discard(&kh, again.id), 0);
	assert_false(exists(copy, ".pending"));
	assert_int_equal(keyholder_commit(&kh, again.id), INSEL_E_REFUSED);
	keyholder_close(&kh);
	assert_int_equal(holder_load(&h, copy, err, sizeof err), 0);
	assert_memory_equal(h.current.pub.id, fresh.id, sizeof fresh.id);
	assert_false(h.other_pending);
	holder_free(&h);
}

/* ---- the client against a holder that misbehaves ---- */

/* Asks kh for a signature that must fail with expected; the milliseconds it took. */
static long timed_sign_failing(struct keyholder *kh, int expected)
{
	uint8_t id[KEYHOLDER_ID_LEN] = {0}, digest[32] = {0}, sig[128];
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(keyholder_sign(kh, id, GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, digest, 32,
					sig, sizeof sig),
			 expected);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

static void silent_holder_times_out(void **state)
{
	struct keyholder kh = {.timeout_ms = 200, .up = true};
	int sv[2];
	long ms;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	kh.fd = sv[0];
	ms = timed_sign_failing(&kh, INSEL_E_TIMEOUT);
	assert_true(ms >= 150 && ms < 2000);
	/* late: the next request fails at once, without waiting the time-out again */
	assert_true(timed_sign_failing(&kh, INSEL_E_TIMEOUT) < 100);
	assert_false(kh.gone);
	/* its socket closed: gone, for good */
	close(sv[1]);
	timed_sign_failing(&kh, INSEL_E_CLOSED);
	assert_true(kh.gone);
	keyholder_close(&kh);
}

/* On the holder's end fd, two info replies: seq old_seq with the key "old!" (one the
 * gateway no longer waits for), then seq new_seq with "new!" (the answer it waits for). */
static void send_old_then_new(int fd, uint32_t old_seq, uint32_t new_seq)
{
	struct keyholder_msg old = {.op = KEYHOLDER_INFO | KEYHOLDER_REPLY, .seq = old_seq},
			     fresh;
	uint8_t buf[KEYHOLDER_MSG_MAX];
	int n;

	old.key.pk_algo = GNUTLS_PK_ECDSA;
	old.key.bits = 256;
	old.key.spki_len = 4;
	memcpy(old.key.spki, "old!", 4);
	fresh = old;
	fresh.seq = new_seq;
	memcpy(fresh.key.spki, "new!", 4);
	n = keyholder_encode_reply(&old, buf, sizeof buf);
	assert_int_equal(send(fd, buf, (size_t)n, 0), n);
	n = keyholder_encode_reply(&fresh, buf, sizeof buf);
	assert_int_equal(send(fd, buf, (size_t)n, 0), n);
}

/* A holder that answers late (a stalled host) answers again: the late reply is dropped
 * and the next request goes through. */
static void late_holder_answers_again(void **state)
{
	struct keyholder kh = {.timeout_ms = 100, .up = true, .seq = 6};
	uint8_t buf[KEYHOLDER_MSG_MAX];
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	kh.fd = sv[0];
	assert_int_equal(keyholder_info(&kh, NULL), INSEL_E_TIMEOUT);  /* request 7 */
	assert_true(kh.late);
	assert_int_equal(recv(sv[1], buf, sizeof buf, 0) > 0, 1);
	send_old_then_new(sv[1], 7, 8);
	assert_int_equal(keyholder_info(&kh, NULL), 0);  /* request 8 */
	assert_false(kh.late);
	assert_memory_equal(kh.current.spki, "new!", 4);
	keyholder_close(&kh);
	close(sv[1]);
}

static void late_reply_dropped(void **state)
{
	struct keyholder kh = {.timeout_ms = 2000, .seq = 41};
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	kh.fd = sv[0];
	/* both replies are queued before the request goes: the stale one must be skipped */
	send_old_then_new(sv[1], 40, 42);
	assert_int_equal(keyholder_info(&kh, NULL), 0);
	assert_memory_equal(kh.current.spki, "new!", 4);
	keyholder_close(&kh);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(codec_requests),
		cmocka_unit_test(codec_refusals),
		cmocka_unit_test(codec_replies),
		cmocka_unit_test(what_may_be_signed),
		cmocka_unit_test(holder_answers),
		cmocka_unit_test(holder_refuses_bad_key_files),
		cmocka_unit_test(handshake_through_holders),
		cmocka_unit_test(wrong_certificate_refused),
		cmocka_unit_test(renewal),
		cmocka_unit_test(silent_holder_times_out),
		cmocka_unit_test(late_reply_dropped),
		cmocka_unit_test(late_holder_answers_again),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
