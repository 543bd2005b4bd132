/* Process-level tests of insel-auxiliary: two real auxiliaries, started as the secondary
 * starts them (fork/exec, control socketpair on fd 3), relaying real UDP over 127.0.0.1
 * with real crypto. The test plays both parents and the LAN applications; it builds the
 * matching channel parameters itself (A's send key is B's receive key, and so on).
 * Covers the relay both ways on two channels (fragmented 9000-byte datagrams included),
 * stats, tampered and unknown frames, key epochs installed with "rekey" (and refused when
 * they do not fit), malformed control messages, hang-up (ports freed),
 * the path (up only once a probe is answered), peer death, idle time-out, parent death,
 * SIGTERM and a failed bind; and, with a real insel-relay, the TCP fallback: no UDP path
 * at all, the call comes up through the relay over TLS and carries datagrams. Every wait
 * is bounded; the teardown kills and reaps any child left by a failed assertion.
 * Usage: test-auxiliary PATH-TO-insel-auxiliary PATH-TO-insel-relay */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "chanparams.h"
#include "frame.h"
#include "leg_handover.h"
#include "msg.h"
#include "pki.h"
#include "rand.h"
#include "rekey.h"
#include "wan_socket.h"

#define N_CH 2
#define KEEPALIVE_MS 200
#define DEAD_AFTER_MS 1000
#define WAIT_MS 3000  /* bound on every wait for a reply or a datagram */
#define AUX_TCP_WAIT_MS 8000  /* the TCP fallback: 2 s without a path, TLS, register */

static const char *aux_path;
static const char *relay_path;
static bool external_rekey;  /* the next call's channels take epochs from "rekey" */

/* ---- children ---- */

static pid_t children[8];

static void remember_child(pid_t pid)
{
	for (size_t i = 0; i < 8; i++)
		if (children[i] == 0) {
			children[i] = pid;
			return;
		}
	fail_msg("too many children");
}

static void forget_child(pid_t pid)
{
	for (size_t i = 0; i < 8; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits up to timeout_ms for pid to exit; returns its status, or -1 on time-out. */
static int wait_exit(pid_t pid, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	int status;

	do {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			forget_child(pid);
			return status;
		}
		if (r < 0)
			return -1;
		usleep(10000);
	} while (now_ms() < end);
	return -1;
}

static int kill_children(void **state)
{
	for (size_t i = 0; i < 8; i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	return 0;
}

/* ---- one auxiliary seen from its parent ---- */

struct auxp {
	pid_t pid;
	int ctl;  /* the parent's end of the control socketpair */
	uint16_t wan_port;
	uint16_t lan_port[N_CH];
	/* The "path" notices come unasked at any time: recv_json keeps the last one. */
	unsigned path_notices;
	char path_state[16], path_kind[16], path_remote[64];
	/* So do the "measure" notices while the path is up: the last one's counts. */
	unsigned measure_notices;
	json_int_t measure_probes, measure_replies;
};

static json_t *request(struct auxp *p, json_t *msg);
static void assert_ok(json_t *reply);

/* The process only, before its first message (hello). */
static void spawn_aux_silent(struct auxp *p)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(sv[1], 3) < 0)
			_exit(127);
		if (sv[1] == 3)
			fcntl(3, F_SETFD, 0);
		char parent[24];

		snprintf(parent, sizeof parent, "%d", (int)getppid());
		execl(aux_path, "insel-auxiliary", "run", "--parent", parent, (char *)NULL);
		_exit(127);
	}
	remember_child(p->pid);
	close(sv[1]);
	p->ctl = sv[0];
	p->path_notices = 0;
}

/* Started as the secondary starts it: the process, then hello. */
static void spawn_aux(struct auxp *p)
{
	json_t *r;

	spawn_aux_silent(p);
	r = request(p, msg_hello(0, "secondary"));
	assert_ok(r);
	json_decref(r);
}

static int wait_readable(int fd, uint64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint64_t now = now_ms();

	if (now >= deadline)
		return 0;
	return poll(&pfd, 1, (int)(deadline - now)) > 0;
}

static int read_full(int fd, void *out, size_t n, uint64_t deadline)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r;

		if (!wait_readable(fd, deadline))
			return -1;
		r = read(fd, (char *)out + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void write_raw(int fd, const void *data, size_t len)
{
	assert_int_equal(write(fd, data, len), (ssize_t)len);
}

static void send_frame(int fd, const char *body, size_t len)
{
	uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			  (uint8_t)len};

	write_raw(fd, hdr, sizeof hdr);
	write_raw(fd, body, len);
}

static void send_json(struct auxp *p, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);

	assert_non_null(text);
	send_frame(p->ctl, text, strlen(text));
	free(text);
	json_decref(msg);
}

/* The next control message from the aux, or NULL on time-out or EOF. */
static void keep_path_notice(struct auxp *p, const json_t *n)
{
	const char *kind = json_string_value(json_object_get(n, "kind"));
	const char *remote = json_string_value(json_object_get(n, "remote"));

	p->path_notices++;
	snprintf(p->path_state, sizeof p->path_state, "%s",
		 json_string_value(json_object_get(n, "state")));
	snprintf(p->path_kind, sizeof p->path_kind, "%s", kind ? kind : "");
	snprintf(p->path_remote, sizeof p->path_remote, "%s", remote ? remote : "");
}

static json_t *recv_json(struct auxp *p, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	uint8_t hdr[4];
	uint32_t len;
	char *body;
	json_t *msg;

	/* Once a message starts, all of it is read, however short the caller's wait: a
	 * loaded machine must not leave the stream cut in the middle of one. */
	if (!wait_readable(p->ctl, deadline))
		return NULL;
	if (deadline < now_ms() + WAIT_MS)
		deadline = now_ms() + WAIT_MS;
	if (read_full(p->ctl, hdr, 4, deadline))
		return NULL;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	assert_true(len < MSG_MAX_DEFAULT);
	body = malloc(len);
	assert_non_null(body);
	if (read_full(p->ctl, body, len, deadline)) {
		free(body);
		return NULL;
	}
	msg = json_loadb(body, len, 0, NULL);
	free(body);
	assert_non_null(msg);
	if (msg_op(msg) && strcmp(msg_op(msg), "measure") == 0) {
		p->measure_notices++;
		p->measure_probes = json_integer_value(json_object_get(msg, "probes"));
		p->measure_replies = json_integer_value(json_object_get(msg, "replies"));
		json_decref(msg);
		return recv_json(p, deadline > now_ms() ? (unsigned)(deadline - now_ms()) : 0);
	}
	if (msg_op(msg) && strcmp(msg_op(msg), "path") == 0) {
		keep_path_notice(p, msg);
		json_decref(msg);
		return recv_json(p, deadline > now_ms() ? (unsigned)(deadline - now_ms()) : 0);
	}
	return msg;
}

/* Sends a request and returns its reply (asserting the id). */
static json_t *request(struct auxp *p, json_t *msg)
{
	json_int_t id = msg_id(msg);
	json_t *reply;

	send_json(p, msg);
	reply = recv_json(p, WAIT_MS);
	assert_non_null(reply);
	assert_int_equal(msg_id(reply), id);
	return reply;
}

static void assert_ok(json_t *reply)
{
	const char *code = NULL, *message = NULL;

	if (!msg_reply_is_ok(reply, &code, &message))
		fail_msg("refused: %s: %s", code, message);
}

static void assert_error(json_t *reply, const char *want)
{
	const char *code = NULL;

	assert_false(msg_reply_is_ok(reply, &code, NULL));
	assert_string_equal(code, want);
	json_decref(reply);
}

static json_t *json_path(json_t *obj, const char *a, size_t i, const char *b)
{
	json_t *v = json_array_get(json_object_get(obj, a), i);

	return b ? json_object_get(v, b) : v;
}

static json_t *bind_request(const char *call, const char *lan_addr, const uint16_t *ports,
			    const char *user)
{
	json_t *msg = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:[{s:i}, {s:i}]}", "op", "bind",
				"id", 1, "call", call, "lan_addr", lan_addr, "wan_addr",
				"127.0.0.1", "party", "127.0.0.1", "channels", "lan_port",
				ports ? ports[0] : 0, "lan_port", ports ? ports[1] : 0);

	if (user)
		json_object_set_new(msg, "user", json_string(user));
	return msg;
}

static void bind_aux(struct auxp *p, const char *call, const uint16_t *ports,
		     const char *user)
{
	json_t *reply = request(p, bind_request(call, "127.0.0.1", ports, user));

	assert_ok(reply);
	p->wan_port = (uint16_t)json_integer_value(json_object_get(reply, "wan_port"));
	assert_true(p->wan_port > 0);
	for (int i = 0; i < N_CH; i++) {
		p->lan_port[i] = (uint16_t)json_integer_value(json_path(reply, "channels", i,
									 "lan_port"));
		assert_true(p->lan_port[i] > 0);
		if (ports && ports[i])
			assert_int_equal(p->lan_port[i], ports[i]);
	}
	json_decref(reply);
}

/* ---- the LAN applications ---- */

/* A LAN application's socket on 127.0.0.1 (the call's party) or another loopback
 * address (a host that is no party to the call). */
static int udp_socket_at(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(addr);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int udp_socket(uint16_t port)
{
	return udp_socket_at(INADDR_LOOPBACK, port);
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static void send_to_port(int fd, uint16_t port, const void *data, size_t len)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sendto(fd, data, len, 0, (struct sockaddr *)&sin, sizeof sin),
			 (ssize_t)len);
}

/* Receives one datagram within WAIT_MS; returns its length (-1 on time-out) and the
 * sender's port. */
static ssize_t recv_from_port(int fd, void *out, size_t cap, uint16_t *from_port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	ssize_t n;

	if (!wait_readable(fd, now_ms() + WAIT_MS))
		return -1;
	n = recvfrom(fd, out, cap, 0, (struct sockaddr *)&sin, &len);
	if (from_port)
		*from_port = ntohs(sin.sin_port);
	return n;
}

/* ---- a whole call: two auxiliaries and their applications ---- */

struct call {
	char id[ID_STRLEN];
	struct auxp a, b;
	int app_a[N_CH], app_b[N_CH];
	uint32_t session_a[N_CH], session_b[N_CH];  /* receiver ids */
};

/* Where the peers are told to send (0: to each other), how long they wait for the peer,
 * and the relay both are given in start (NULL: none). */
static uint16_t dead_port;
static unsigned dead_after_ms = DEAD_AFTER_MS;
static json_t *start_relay;     /* a candidate of kind relay; the leg is added */
static const char *start_relay_ca;

static json_t *params_json(const struct call *c, unsigned i, bool for_a,
			   const uint8_t *key_ab, const uint8_t *key_ba)
{
	struct sec_channel_params p;
	json_t *j;

	memset(&p, 0, sizeof p);
	id_parse(c->id, &p.call_id);
	p.channel = (uint8_t)i;
	p.cipher = i == 0 ? SEC_CIPHER_AES256GCM : SEC_CIPHER_CHACHA20POLY1305;
	p.local_session = for_a ? c->session_a[i] : c->session_b[i];
	p.remote_session = for_a ? c->session_b[i] : c->session_a[i];
	memcpy(p.send_key, for_a ? key_ab : key_ba, SEC_KEY_LEN);
	memcpy(p.recv_key, for_a ? key_ba : key_ab, SEC_KEY_LEN);
	ip_addr_parse("127.0.0.1", &p.peer.addr);
	p.peer.port = dead_port ? dead_port : for_a ? c->b.wan_port : c->a.wan_port;
	p.mtu = 1400;
	p.keepalive_ms = KEEPALIVE_MS;
	p.dead_after_ms = dead_after_ms;
	p.external_rekey = external_rekey;
	j = chanparams_to_json(&p);
	chanparams_wipe(&p);
	assert_non_null(j);
	return j;
}

/* The relay of start_relay, as leg `leg`, and its CA. */
static json_t *with_relay(json_t *start, int leg)
{
	json_t *relay;

	if (!start_relay)
		return start;
	relay = json_deep_copy(start_relay);
	json_object_set_new(relay, "leg", json_integer(leg));
	json_object_set_new(start, "relay", relay);
	if (start_relay_ca)
		json_object_set_new(start, "relay_ca", json_string(start_relay_ca));
	return start;
}

/* How long A runs alone before B starts (0: B at once); or B never starts. */
static unsigned start_gap_ms;
static bool start_a_only;

static void start_both(struct call *c, json_int_t idle_ms)
{
	uint8_t key_ab[N_CH][SEC_KEY_LEN], key_ba[N_CH][SEC_KEY_LEN];
	json_t *ca = json_array(), *cb = json_array(), *r;
	char deliver[32];

	for (unsigned i = 0; i < N_CH; i++) {
		rand_key(key_ab[i], SEC_KEY_LEN);
		rand_key(key_ba[i], SEC_KEY_LEN);
		/* A has no deliver address: its application speaks first. */
		json_array_append_new(ca, json_pack("{s:o}", "params",
				params_json(c, i, true, key_ab[i], key_ba[i])));
		snprintf(deliver, sizeof deliver, "127.0.0.1:%u", local_port(c->app_b[i]));
		json_array_append_new(cb, json_pack("{s:o, s:s}", "params",
				params_json(c, i, false, key_ab[i], key_ba[i]), "deliver", deliver));
	}
	r = request(&c->a, with_relay(json_pack("{s:s, s:i, s:I, s:o}", "op", "start", "id", 2,
						"idle_timeout_ms", idle_ms, "channels", ca), 0));
	assert_ok(r);
	json_decref(r);
	if (start_gap_ms) {
		/* A probes B, which does not relay yet: nothing answers, no path. */
		assert_null(recv_json(&c->a, start_gap_ms));
		assert_int_equal(c->a.path_notices, 0);
	}
	if (start_a_only) {
		json_decref(cb);
		secure_wipe(key_ab, sizeof key_ab);
		secure_wipe(key_ba, sizeof key_ba);
		return;
	}
	r = request(&c->b, with_relay(json_pack("{s:s, s:i, s:I, s:o}", "op", "start", "id", 2,
						"idle_timeout_ms", idle_ms, "channels", cb), 1));
	assert_ok(r);
	json_decref(r);
	secure_wipe(key_ab, sizeof key_ab);
	secure_wipe(key_ba, sizeof key_ba);
}

static void setup_call(struct call *c, json_int_t idle_ms, const char *user_a)
{
	memset(c, 0, sizeof *c);
	id_format(rand_id64(), c->id);
	for (int i = 0; i < N_CH; i++) {
		c->session_a[i] = rand_id32();
		c->session_b[i] = rand_id32();
		c->app_a[i] = udp_socket(0);
		c->app_b[i] = udp_socket(0);
	}
	spawn_aux(&c->a);
	spawn_aux(&c->b);
	bind_aux(&c->a, c->id, NULL, user_a);
	bind_aux(&c->b, c->id, NULL, NULL);
	start_both(c, idle_ms);
}

static void close_call_fds(struct call *c)
{
	for (int i = 0; i < N_CH; i++) {
		close(c->app_a[i]);
		close(c->app_b[i]);
	}
	if (c->a.ctl >= 0)
		close(c->a.ctl);
	if (c->b.ctl >= 0)
		close(c->b.ctl);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

/* A's application sends len bytes on channel i; B's application gets them from B's LAN
 * port, answers, and A's application gets the answer from A's LAN port. */
static void round_trip(struct call *c, unsigned i, size_t len, unsigned seed)
{
	static uint8_t out[9100], in[9100];
	uint16_t from;
	ssize_t n;

	fill(out, len, seed);
	send_to_port(c->app_a[i], c->a.lan_port[i], out, len);
	n = recv_from_port(c->app_b[i], in, sizeof in, &from);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(in, out, len);
	assert_int_equal(from, c->b.lan_port[i]);

	fill(out, len, seed + 1);
	send_to_port(c->app_b[i], from, out, len);
	n = recv_from_port(c->app_a[i], in, sizeof in, &from);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(in, out, len);
	assert_int_equal(from, c->a.lan_port[i]);
}

static json_t *stats(struct auxp *p, json_int_t id)
{
	json_t *r = request(p, json_pack("{s:s, s:I}", "op", "stats", "id", id));

	assert_ok(r);
	return r;
}

static json_int_t channel_counter(json_t *st, size_t i, const char *name)
{
	json_t *s = json_object_get(json_path(st, "channels", i, NULL), "stats");

	return json_integer_value(json_object_get(s, name));
}

static json_int_t channel_drop(json_t *st, size_t i, const char *name)
{
	json_t *s = json_object_get(json_path(st, "channels", i, NULL), "stats");

	return json_integer_value(json_object_get(json_object_get(s, "drops"), name));
}

static void hang_up(struct auxp *p)
{
	json_t *r = request(p, json_pack("{s:s, s:i}", "op", "hangup", "id", 99));
	int status;

	assert_ok(r);
	assert_non_null(json_object_get(r, "channels"));
	json_decref(r);
	status = wait_exit(p->pid, WAIT_MS);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The ended notification, within timeout_ms. */
static void expect_ended(struct auxp *p, const char *reason, unsigned timeout_ms)
{
	json_t *n = recv_json(p, timeout_ms);

	assert_non_null(n);
	assert_string_equal(msg_op(n), "ended");
	assert_string_equal(json_string_value(json_object_get(n, "reason")), reason);
	assert_int_equal(json_array_size(json_object_get(n, "channels")), N_CH);
	json_decref(n);
}

static void expect_exit(struct auxp *p, int code)
{
	int status = wait_exit(p->pid, WAIT_MS);

	assert_true(status != -1);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), code);
}

/* ---- (a)(b)(h) relay, stats, tampered frames, privileges ---- */

static void check_privileges_dropped(pid_t pid)
{
	const struct passwd *pw = getpwnam("nobody");
	char path[64], line[256], want[64];
	bool uid_ok = false, nnp_ok = false, seccomp_ok = false;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(pw);
	snprintf(want, sizeof want, "Uid:\t%u\t%u\t%u", pw->pw_uid, pw->pw_uid, pw->pw_uid);
	while (fgets(line, sizeof line, f)) {
		uid_ok |= strncmp(line, want, strlen(want)) == 0;
		nnp_ok |= strncmp(line, "NoNewPrivs:\t1", 13) == 0;
		seccomp_ok |= strncmp(line, "Seccomp:\t2", 10) == 0;  /* a filter */
	}
	fclose(f);
	assert_true(uid_ok);
	assert_true(nnp_ok);
	assert_true(seccomp_ok);
}

static void inject_tampered(struct call *c)
{
	struct frame_header h = {.type = FRAME_DATA, .frags = 1, .session = c->session_b[0],
				 .counter = 1u << 20};
	uint8_t dgram[FRAME_OVERHEAD + 40];
	int fd = udp_socket(0);

	memset(dgram, 0xa5, sizeof dgram);
	assert_int_equal(frame_header_encode(&h, dgram, sizeof dgram), 0);
	send_to_port(fd, c->b.wan_port, dgram, sizeof dgram);
	h.session ^= 0x5a5a5a5a;  /* no such session */
	assert_int_equal(frame_header_encode(&h, dgram, sizeof dgram), 0);
	send_to_port(fd, c->b.wan_port, dgram, sizeof dgram);
	send_to_port(fd, c->b.wan_port, dgram, 5);  /* too short to name a session */
	close(fd);
}

static void relay_both_ways(void **state)
{
	static const size_t sizes[] = {1, 100, 1368, 1400, 5000, 9000};
	bool root = geteuid() == 0 && getpwnam("nobody");
	struct call c;
	json_t *st;

	setup_call(&c, 60000, root ? "nobody" : NULL);
	if (root)
		check_privileges_dropped(c.a.pid);
	for (unsigned i = 0; i < N_CH; i++)
		for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
			round_trip(&c, i, sizes[s], (unsigned)(i * 10 + s));

	st = stats(&c.a, 3);
	assert_string_equal(json_string_value(json_object_get(st, "state")), "running");
	assert_int_equal(channel_counter(st, 0, "msgs_out"), 6);
	assert_int_equal(channel_counter(st, 1, "msgs_in"), 6);
	/* 9000 bytes over an MTU of 1400 took several frames. */
	assert_true(channel_counter(st, 0, "frames_out") > 6);
	assert_int_equal(json_integer_value(json_path(st, "lan", 0, "dropped")), 0);
	assert_int_equal(json_integer_value(json_path(st, "lan", 1, "datagrams_out")), 6);
	assert_non_null(json_string_value(json_path(st, "lan", 0, "from")));
	json_decref(st);

	inject_tampered(&c);
	round_trip(&c, 0, 777, 42);  /* the relay goes on */
	st = stats(&c.b, 4);
	assert_int_equal(channel_drop(st, 0, "bad_tag"), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "wan"),
							    "unknown_session")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "wan"),
							    "truncated")), 1);
	/* Before any LAN application spoke on B's side, "from" was null; now it is set. */
	assert_non_null(json_string_value(json_path(st, "lan", 0, "from")));
	json_decref(st);

	hang_up(&c.a);
	hang_up(&c.b);
	close_call_fds(&c);
}

/* A burst sent without waiting (the relay gathers it into batches: recvmmsg, one
 * sendmmsg or UDP GSO run toward the peer, one sendmmsg toward the LAN) arrives whole
 * and in order, both ways, with a fragmented datagram in the middle of a run of equal
 * sizes and a shorter one ending it. */
static void burst(struct call *c, bool a_to_b, unsigned count)
{
	static uint8_t out[6000], in[6000];
	int src = a_to_b ? c->app_a[0] : c->app_b[0], dst = a_to_b ? c->app_b[0] : c->app_a[0];
	uint16_t port = a_to_b ? c->a.lan_port[0] : c->b.lan_port[0], from;

	for (unsigned k = 0; k < count; k++) {
		size_t len = k == count / 2 ? 5000 : k == count - 1 ? 300 : 1200;

		fill(out, len, k);
		out[0] = (uint8_t)k;
		send_to_port(src, port, out, len);
	}
	for (unsigned k = 0; k < count; k++) {
		size_t len = k == count / 2 ? 5000 : k == count - 1 ? 300 : 1200;
		ssize_t n = recv_from_port(dst, in, sizeof in, &from);

		fill(out, len, k);
		out[0] = (uint8_t)k;
		assert_int_equal(n, (ssize_t)len);
		assert_memory_equal(in, out, len);
	}
}

static void relay_bursts_in_order(void **state)
{
	struct call c;
	json_t *st;

	setup_call(&c, 60000, NULL);
	round_trip(&c, 0, 10, 1);  /* B's application has spoken: replies go to it */
	for (unsigned r = 0; r < 3; r++) {
		burst(&c, true, 60);
		burst(&c, false, 60);
	}
	st = stats(&c.a, 3);
	assert_int_equal(json_integer_value(json_path(st, "lan", 0, "dropped")), 0);
	assert_int_equal(json_integer_value(json_path(st, "lan", 0, "datagrams_in")), 1 + 180);
	assert_int_equal(json_integer_value(json_path(st, "lan", 0, "datagrams_out")), 1 + 180);
	json_decref(st);
	hang_up(&c.a);
	hang_up(&c.b);
	close_call_fds(&c);
}

/* ---- a LAN host that is no party to the call ---- */

/* A's party is 127.0.0.1: a datagram from 127.0.0.2 to A's LAN port is dropped and
 * counted, B's application never sees it, and B's stream keeps going to A's
 * application, not to the intruder; the party may change its port. */
static void foreign_lan_sender_dropped(void **state)
{
	static uint8_t out[600], in[600];
	struct call c;
	int intruder, moved;
	uint16_t from;
	json_t *st;

	setup_call(&c, 60000, NULL);
	round_trip(&c, 0, 100, 1);
	intruder = udp_socket_at(INADDR_LOOPBACK + 1, 0);
	assert_true(intruder >= 0);
	for (unsigned k = 0; k < 5; k++) {
		fill(out, 200, k);
		send_to_port(intruder, c.a.lan_port[0], out, 200);
	}
	/* B's application answers: the answer goes to A's application, as before. */
	fill(out, 300, 7);
	send_to_port(c.app_b[0], c.b.lan_port[0], out, 300);
	assert_int_equal(recv_from_port(c.app_a[0], in, sizeof in, &from), 300);
	assert_memory_equal(in, out, 300);
	assert_int_equal(recv_from_port(c.app_b[0], in, sizeof in, &from), -1);
	assert_false(wait_readable(intruder, now_ms() + 200));
	st = stats(&c.a, 5);
	assert_int_equal(json_integer_value(json_path(st, "lan", 0, "foreign_lan_sender")), 5);
	assert_int_equal(json_integer_value(json_path(st, "lan", 0, "datagrams_in")), 1);
	assert_int_equal(json_integer_value(json_path(st, "lan", 1, "foreign_lan_sender")), 0);
	json_decref(st);
	/* The party's application on another port is still the party. */
	moved = udp_socket(0);
	fill(out, 400, 9);
	send_to_port(moved, c.a.lan_port[0], out, 400);
	assert_int_equal(recv_from_port(c.app_b[0], in, sizeof in, &from), 400);
	assert_memory_equal(in, out, 400);
	send_to_port(c.app_b[0], from, out, 100);
	assert_int_equal(recv_from_port(moved, in, sizeof in, &from), 100);
	close(moved);
	close(intruder);
	hang_up(&c.a);
	hang_up(&c.b);
	close_call_fds(&c);
}

/* ---- (g) malformed control messages ---- */

/* The "rekey" op (external rekeying) between two real auxiliaries: B (the responder)
 * takes epoch E first, A (the initiator) sends with it at once, B follows; traffic goes
 * on both ways with nothing refused, and requests that do not fit change nothing. */
static json_t *rekey_request(json_int_t id, const struct rekey_keys *k, bool send_now)
{
	json_t *req = json_pack("{s:s, s:I}", "op", "rekey", "id", id);

	assert_int_equal(rekey_install_to_json(k, send_now, req), 0);
	return req;
}

static void new_epoch(struct rekey_keys *a, struct rekey_keys *b, uint32_t epoch)
{
	a->epoch = b->epoch = epoch;
	a->nchannels = b->nchannels = N_CH;
	for (unsigned i = 0; i < N_CH; i++) {
		rand_key(a->send[i], SEC_KEY_LEN);
		rand_key(a->recv[i], SEC_KEY_LEN);
		memcpy(b->send[i], a->recv[i], SEC_KEY_LEN);
		memcpy(b->recv[i], a->send[i], SEC_KEY_LEN);
	}
}

static void rekey_op_switches_epochs(void **state)
{
	struct rekey_keys ka, kb;
	struct call c;
	json_t *r, *st;

	external_rekey = true;
	setup_call(&c, 60000, NULL);
	external_rekey = false;
	round_trip(&c, 0, 500, 1);
	for (uint32_t epoch = 1; epoch <= 3; epoch++) {
		new_epoch(&ka, &kb, epoch);
		/* An epoch that skips one, or keys for one channel only: refused. */
		kb.epoch = epoch + 1;
		r = request(&c.b, rekey_request(10, &kb, false));
		assert_error(r, "rekey_pending");
		kb.epoch = epoch;
		kb.nchannels = 1;
		r = request(&c.b, rekey_request(11, &kb, false));
		assert_error(r, "bad_field");
		kb.nchannels = N_CH;
		r = request(&c.b, rekey_request(12, &kb, false));
		assert_ok(r);
		assert_int_equal(json_integer_value(json_path(r, "channels", 1, "send_epoch")),
				 epoch - 1);
		json_decref(r);
		r = request(&c.a, rekey_request(13, &ka, true));
		assert_ok(r);
		assert_int_equal(json_integer_value(json_path(r, "channels", 0, "send_epoch")),
				 epoch);
		json_decref(r);
		for (unsigned i = 0; i < N_CH; i++)
			round_trip(&c, i, 1000, epoch * 10 + i);
	}
	rekey_keys_wipe(&ka);
	rekey_keys_wipe(&kb);
	for (int side = 0; side < 2; side++) {
		st = stats(side ? &c.b : &c.a, 20);
		for (unsigned i = 0; i < N_CH; i++) {
			json_t *ch = json_path(st, "channels", i, NULL);

			assert_string_equal(json_string_value(json_object_get(ch, "rekey")),
					    "external");
			assert_int_equal(json_integer_value(json_object_get(ch, "send_epoch")), 3);
			assert_int_equal(json_integer_value(json_object_get(ch, "recv_epoch")), 3);
			assert_int_equal(channel_counter(st, i, "epochs_installed"), 3);
			assert_int_equal(channel_drop(st, i, "bad_epoch"), 0);
			assert_int_equal(channel_drop(st, i, "bad_tag"), 0);
		}
		json_decref(st);
	}
	hang_up(&c.a);
	hang_up(&c.b);
	close_call_fds(&c);
}

/* A call started without external rekeying has no "rekey". */
static void rekey_op_refused_without_external(void **state)
{
	struct rekey_keys ka, kb;
	struct call c;
	json_t *r;

	setup_call(&c, 60000, NULL);
	new_epoch(&ka, &kb, 1);
	r = request(&c.a, rekey_request(10, &ka, true));
	assert_error(r, "bad_state");
	rekey_keys_wipe(&ka);
	rekey_keys_wipe(&kb);
	round_trip(&c, 0, 100, 3);
	hang_up(&c.a);
	hang_up(&c.b);
	close_call_fds(&c);
}

static void malformed_control_messages(void **state)
{
	static const char garbage[] = "{not json";
	static const char array[] = "[1,2]";
	uint16_t ports[N_CH];
	int busy = udp_socket(0);
	struct call c;
	json_t *r;

	memset(&c, 0, sizeof c);
	id_format(rand_id64(), c.id);
	spawn_aux_silent(&c.a);

	send_frame(c.a.ctl, garbage, strlen(garbage));
	r = recv_json(&c.a, WAIT_MS);
	assert_non_null(r);
	assert_true(json_is_null(json_object_get(r, "id")));
	assert_error(r, "bad_json");
	send_frame(c.a.ctl, array, strlen(array));
	assert_error(recv_json(&c.a, WAIT_MS), "not_object");
	assert_error(request(&c.a, json_pack("{s:s, s:i}", "op", "frobnicate", "id", 5)),
		     "unknown_op");
	/* hello first, from the secondary, once. */
	assert_error(request(&c.a, bind_request(c.id, "127.0.0.1", NULL, NULL)), "protocol");
	assert_error(request(&c.a, json_pack("{s:s, s:i}", "op", "stats", "id", 3)),
		     "protocol");
	assert_error(request(&c.a, json_pack("{s:s, s:i, s:i}", "op", "hello", "id", 4,
					     "version", 99)), "unsupported_version");
	assert_error(request(&c.a, msg_hello(4, "client")), "forbidden");
	r = request(&c.a, msg_hello(4, "secondary"));
	assert_ok(r);
	json_decref(r);
	assert_error(request(&c.a, msg_hello(5, "secondary")), "protocol");
	assert_error(request(&c.a, json_pack("{s:i}", "id", 6)), "bad_field");
	assert_error(request(&c.a, json_pack("{s:s, s:i, s:[]}", "op", "start", "id", 7,
					     "channels")), "bad_state");
	assert_error(request(&c.a, json_pack("{s:s, s:i, s:s}", "op", "bind", "id", 8, "call",
					     "xyz")), "bad_field");
	r = bind_request(c.id, "127.0.0.1", NULL, NULL);
	json_object_set_new(r, "lan_addr", json_string("not-an-address"));
	assert_error(request(&c.a, r), "bad_address");
	r = bind_request(c.id, "127.0.0.1", NULL, NULL);
	json_object_del(r, "party");
	assert_error(request(&c.a, r), "bad_field");  /* UDP channels need their party */
	r = bind_request(c.id, "127.0.0.1", NULL, NULL);
	json_object_set_new(r, "party", json_string("::1"));
	assert_error(request(&c.a, r), "bad_field");
	send_frame(c.a.ctl, "", 0);
	assert_error(recv_json(&c.a, WAIT_MS), "bad_json");

	/* A busy requested port gives way to a free one; a free one is honoured. */
	ports[0] = local_port(busy);
	{
		int probe = udp_socket(0);

		ports[1] = local_port(probe);
		close(probe);
	}
	r = request(&c.a, bind_request(c.id, "127.0.0.1", ports, NULL));
	assert_ok(r);
	assert_int_not_equal(json_integer_value(json_path(r, "channels", 0, "lan_port")),
			     ports[0]);
	assert_int_equal(json_integer_value(json_path(r, "channels", 1, "lan_port")), ports[1]);
	json_decref(r);
	assert_error(request(&c.a, bind_request(c.id, "127.0.0.1", NULL, NULL)), "bad_state");
	r = request(&c.a, json_pack("{s:s, s:i, s:[{s:{}}, {s:{}}]}", "op", "start", "id", 9,
				    "channels", "params", "params"));
	assert_error(r, "bad_field");
	/* Still serving: stats in the bound state, then hang-up. */
	r = stats(&c.a, 10);
	assert_string_equal(json_string_value(json_object_get(r, "state")), "bound");
	assert_true(json_is_null(json_path(r, "channels", 0, NULL)));
	json_decref(r);
	hang_up(&c.a);
	close(c.a.ctl);
	close(busy);
}

/* After the relay runs, more garbage still leaves it running. */
static void malformed_while_running(void **state)
{
	struct call c;

	setup_call(&c, 60000, NULL);
	round_trip(&c, 1, 300, 1);
	send_frame(c.b.ctl, "}}}", 3);
	assert_error(recv_json(&c.b, WAIT_MS), "bad_json");
	assert_error(request(&c.b, bind_request(c.id, "127.0.0.1", NULL, NULL)), "bad_state");
	assert_error(request(&c.b, json_pack("{s:s, s:i, s:[]}", "op", "start", "id", 3,
					     "channels")), "bad_state");
	round_trip(&c, 1, 300, 2);
	round_trip(&c, 0, 9000, 3);
	hang_up(&c.a);
	hang_up(&c.b);
	close_call_fds(&c);
}

/* ---- (c) hang-up frees the ports ---- */

static void hangup_frees_ports(void **state)
{
	struct call c;
	int fd;

	setup_call(&c, 60000, NULL);
	round_trip(&c, 0, 64, 1);
	hang_up(&c.a);
	/* The peer notices nothing yet; the ports of A are free again. */
	fd = udp_socket(c.a.wan_port);
	assert_true(fd >= 0);
	close(fd);
	for (int i = 0; i < N_CH; i++) {
		fd = udp_socket(c.a.lan_port[i]);
		assert_true(fd >= 0);
		close(fd);
	}
	/* The control socket reached EOF after the reply. */
	assert_null(recv_json(&c.a, 500));
	hang_up(&c.b);
	close_call_fds(&c);
}

/* ---- the path: up only once a probe was answered ---- */

/* Reads messages until p has had a path notice in state, within timeout_ms. */
static void wait_path(struct auxp *p, const char *state, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (strcmp(p->path_state, state) != 0 && now_ms() < end) {
		json_t *m = recv_json(p, 50);

		assert_null(m);  /* nothing else comes unasked here */
	}
	assert_string_equal(p->path_state, state);
}

static void path_up_once_probes_answered(void **state)
{
	char expect[32];
	struct call c;
	json_t *st, *path;

	start_gap_ms = 700;
	setup_call(&c, 60000, NULL);
	start_gap_ms = 0;
	wait_path(&c.a, "up", WAIT_MS);
	wait_path(&c.b, "up", WAIT_MS);
	assert_string_equal(c.a.path_kind, "direct");
	snprintf(expect, sizeof expect, "127.0.0.1:%u", c.b.wan_port);
	assert_string_equal(c.a.path_remote, expect);
	assert_int_equal(c.a.path_notices, 1);
	round_trip(&c, 0, 64, 1);
	st = stats(&c.a, 5);
	path = json_object_get(st, "path");
	assert_string_equal(json_string_value(json_object_get(path, "state")), "up");
	assert_string_equal(json_string_value(json_object_get(path, "remote")), expect);
	/* A probed B several times while B did not relay; B answered. */
	assert_true(json_integer_value(json_path(path, "candidates", 0, "requests")) > 2);
	assert_true(json_integer_value(json_path(path, "candidates", 0, "replies")) >= 1);
	assert_true(channel_counter(st, 0, "frames_in") > 0);
	json_decref(st);
	st = stats(&c.b, 6);
	assert_true(json_integer_value(json_object_get(json_object_get(st, "path"),
						       "requests_answered")) >= 1);
	json_decref(st);
	/* While up, the path is measured: a "measure" notice within PATH_MEASURE_REPORT_MS,
	 * its probes answered over loopback. */
	for (uint64_t end = now_ms() + 8000; c.a.measure_notices == 0 && now_ms() < end;)
		assert_null(recv_json(&c.a, 100));
	assert_true(c.a.measure_notices >= 1);
	assert_true(c.a.measure_probes >= 3);
	assert_true(c.a.measure_replies >= c.a.measure_probes - 1);
	hang_up(&c.a);
	hang_up(&c.b);
	close_call_fds(&c);
}

/* B never relays: no probe of A's is ever answered, and A ends no_path (not peer_dead)
 * once dead_after_ms has passed, never having said "up". */
static void unanswered_probes_end_no_path(void **state)
{
	struct call c;

	start_a_only = true;
	setup_call(&c, 60000, NULL);
	start_a_only = false;
	expect_ended(&c.a, "no_path", DEAD_AFTER_MS + 1000);
	assert_int_equal(c.a.path_notices, 0);
	expect_exit(&c.a, 0);
	hang_up(&c.b);
	close_call_fds(&c);
}

/* ---- the relay's TCP fallback ---- */

struct test_relay {
	pid_t pid;
	int ctl;
	uint16_t udp_port, tcp_port;
	char dir[64];
	char *ca_pem;
};

static json_t *relay_request(struct test_relay *t, json_t *msg)
{
	struct auxp fake = {.ctl = t->ctl};

	return request(&fake, msg);
}

/* A PKI for the run (the organisation's CA, the relay's certificate of role principal)
 * and insel-relay on 127.0.0.1 with its TCP fallback, greeted as its principal would. */
static void start_test_relay(struct test_relay *t)
{
	char ca[128], crt[128], key[128], err[256];
	long long now = (long long)time(NULL);
	gnutls_datum_t pem;
	json_t *r;
	int sv[2];

	snprintf(t->dir, sizeof t->dir, "/tmp/insel-auxrelay-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(ca, sizeof ca, "%s/ca", t->dir);
	snprintf(crt, sizeof crt, "%s/relay.crt", t->dir);
	snprintf(key, sizeof key, "%s/relay.key", t->dir);
	assert_int_equal(pki_ca_init(ca, "Test Org", 10, err, sizeof err), 0);
	assert_int_equal(pki_issue_validity(ca, PKI_ROLE_PRINCIPAL, "principal", now - 60,
					    now + 86400, crt, key, NULL, err, sizeof err), 0);
	snprintf(ca, sizeof ca, "%s/ca/ca.crt", t->dir);
	assert_int_equal(gnutls_load_file(ca, &pem), 0);
	t->ca_pem = strndup((const char *)pem.data, pem.size);
	gnutls_free(pem.data);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null < 0 || dup2(null, 0) < 0 || dup2(sv[1], 3) < 0)
			_exit(127);
		if (sv[1] == 3)
			fcntl(3, F_SETFD, 0);
		if (geteuid() == 0)
			execl(relay_path, "insel-relay", "run", "--listen", "127.0.0.1:0",
			      "--tcp-listen", "127.0.0.1:0", "--ca", ca, "--tls-cert", crt,
			      "--tls-key", key, "--user", "nobody", (char *)NULL);
		else
			execl(relay_path, "insel-relay", "run", "--listen", "127.0.0.1:0",
			      "--tcp-listen", "127.0.0.1:0", "--ca", ca, "--tls-cert", crt,
			      "--tls-key", key, (char *)NULL);
		_exit(127);
	}
	remember_child(t->pid);
	close(sv[1]);
	t->ctl = sv[0];
	r = relay_request(t, json_pack("{s:s, s:i, s:i, s:s}", "op", "hello", "id", 1,
				       "version", 1, "role", "principal"));
	assert_ok(r);
	t->udp_port = (uint16_t)json_integer_value(json_object_get(r, "port"));
	json_decref(r);
	r = relay_request(t, json_pack("{s:s, s:i}", "op", "stats", "id", 2));
	assert_ok(r);
	t->tcp_port = (uint16_t)json_integer_value(json_object_get(json_object_get(r, "tcp"),
								   "port"));
	json_decref(r);
	assert_true(t->udp_port > 0 && t->tcp_port > 0);
}

static void stop_test_relay(struct test_relay *t)
{
	char cmd[128];

	close(t->ctl);  /* the relay ends when its control socket closes */
	assert_true(wait_exit(t->pid, WAIT_MS) != -1);
	free(t->ca_pem);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
}

/* Neither auxiliary can reach the other over UDP (each is told the other is at a port
 * nobody reads) nor the relay over UDP (its candidate's UDP port is that port too): after
 * AUX_TCP_FALLBACK_MS both connect to the relay's TCP fallback, check its certificate
 * against the CA given in start, register, and the call comes up through it with kind
 * "tcp", carrying datagrams both ways on both channels. */
static void tcp_fallback_carries_the_call(void **state)
{
	struct test_relay relay;
	char udp[32], tcp[32], token[33], id[ID_STRLEN];
	uint64_t allocation = rand_id64();
	uint8_t secret[16];
	int dead = udp_socket(0);
	struct call c;
	json_t *r, *st;

	start_test_relay(&relay);
	rand_key(secret, sizeof secret);
	for (int i = 0; i < 16; i++)
		snprintf(token + 2 * i, 3, "%02x", secret[i]);
	r = relay_request(&relay, json_pack("{s:s, s:i, s:s, s:s}", "op", "allocate", "id", 3,
					    "allocation", id_format(allocation, id), "token",
					    token));
	assert_ok(r);
	json_decref(r);
	dead_port = local_port(dead);
	snprintf(udp, sizeof udp, "127.0.0.1:%u", dead_port);
	snprintf(tcp, sizeof tcp, "127.0.0.1:%u", relay.tcp_port);
	start_relay = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", "relay", "addr", udp,
				"relay_id", id, "token", token, "tcp", tcp);
	start_relay_ca = relay.ca_pem;
	dead_after_ms = 15000;
	setup_call(&c, 60000, NULL);
	dead_port = 0;
	dead_after_ms = DEAD_AFTER_MS;
	json_decref(start_relay);
	start_relay = NULL;
	start_relay_ca = NULL;

	wait_path(&c.a, "up", AUX_TCP_WAIT_MS);
	wait_path(&c.b, "up", AUX_TCP_WAIT_MS);
	assert_string_equal(c.a.path_kind, "tcp");
	assert_string_equal(c.b.path_kind, "tcp");
	assert_string_equal(c.a.path_remote, tcp);
	round_trip(&c, 0, 64, 1);
	round_trip(&c, 1, 1200, 2);
	round_trip(&c, 0, 9000, 3);  /* fragmented: several records */
	st = stats(&c.a, 7);
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "tcp"),
							      "state")), "live");
	assert_true(json_integer_value(json_object_get(json_object_get(st, "tcp"),
						       "records_in")) > 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "path"),
							      "kind")), "tcp");
	json_decref(st);
	r = relay_request(&relay, json_pack("{s:s, s:i}", "op", "stats", "id", 4));
	assert_true(json_integer_value(json_object_get(json_object_get(r, "tcp"),
						       "accepted")) >= 2);
	assert_true(json_integer_value(json_object_get(json_object_get(r, "datagrams"),
						       "forwarded")) > 6);
	json_decref(r);
	hang_up(&c.a);
	hang_up(&c.b);
	close_call_fds(&c);
	close(dead);
	stop_test_relay(&relay);
}

/* ---- (d) the peer dies ---- */

static void peer_killed_is_peer_dead(void **state)
{
	struct call c;
	uint64_t t0;

	setup_call(&c, 60000, NULL);
	round_trip(&c, 0, 64, 1);
	assert_int_equal(kill(c.a.pid, SIGKILL), 0);
	assert_true(wait_exit(c.a.pid, WAIT_MS) != -1);
	t0 = now_ms();
	expect_ended(&c.b, "peer_dead", DEAD_AFTER_MS + 1000);
	assert_true(now_ms() - t0 <= DEAD_AFTER_MS + 500);
	expect_exit(&c.b, 0);
	close_call_fds(&c);
}

/* ---- (e) idle time-out ---- */

static void idle_timeout_ends_both(void **state)
{
	struct call c;

	/* Keep-alives (every 200 ms) keep the channel up but are not data. */
	setup_call(&c, 600, NULL);
	round_trip(&c, 0, 64, 1);
	expect_ended(&c.a, "idle", 2000);
	expect_ended(&c.b, "idle", 2000);
	expect_exit(&c.a, 0);
	expect_exit(&c.b, 0);
	close_call_fds(&c);
}

/* ---- (f) parent death, SIGTERM ---- */

static void parent_gone_ends_aux(void **state)
{
	struct call c;

	setup_call(&c, 60000, NULL);
	round_trip(&c, 0, 64, 1);
	/* Read what A said unasked: a socket closed with unread bytes is reset, not ended. */
	wait_path(&c.a, "up", WAIT_MS);
	close(c.a.ctl);
	c.a.ctl = -1;
	expect_exit(&c.a, 0);
	assert_int_equal(kill(c.b.pid, SIGTERM), 0);
	expect_ended(&c.b, "hangup", WAIT_MS);
	expect_exit(&c.b, 0);
	close_call_fds(&c);
}

static void parent_gone_before_bind(void **state)
{
	struct auxp p;

	spawn_aux(&p);
	close(p.ctl);
	expect_exit(&p, 0);
}

/* ---- a bind that cannot succeed ---- */

static void bind_failure_is_reported(void **state)
{
	struct auxp p;
	char call[ID_STRLEN];
	const char *message = NULL, *code = NULL;
	json_t *r;

	spawn_aux(&p);
	/* TEST-NET-1 is on no interface here: binding it fails without sending anything. */
	r = request(&p, bind_request(id_format(rand_id64(), call), "192.0.2.1", NULL, NULL));
	assert_false(msg_reply_is_ok(r, &code, &message));
	assert_string_equal(code, "bind_failed");
	assert_non_null(strstr(message, "192.0.2.1"));
	json_decref(r);
	expect_exit(&p, 1);
	close(p.ctl);
}

/* A room's leg (a tun with a member map) is carried only by the room's process: a call's
 * own auxiliary refuses it at bind, before it makes any interface, so no room capture is
 * ever read outside the room's host. */
static void room_leg_refused_without_room(void **state)
{
	struct auxp p;
	char call[ID_STRLEN];
	const char *message = NULL, *code = NULL;
	json_t *r;

	(void)state;
	spawn_aux(&p);
	r = request(&p, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:[{s:{s:[s], s:[s], s:[s], "
				  "s:s}}]}", "op", "bind", "id", 1,
				  "call", id_format(rand_id64(), call), "lan_addr", "127.0.0.1",
				  "wan_addr", "127.0.0.1", "party", "127.0.0.1", "channels", "tun",
				  "local", "172.30.0.1/32", "remote", "172.30.0.2/32",
				  "map", "127.0.0.1", "room_net", "172.30.0.0/24"));
	assert_false(msg_reply_is_ok(r, &code, &message));
	assert_string_equal(code, "bind_failed");
	assert_non_null(strstr(message, "only by the room's auxiliary"));
	json_decref(r);
	expect_exit(&p, 1);
	close(p.ctl);
}

/* ---- a room's one auxiliary (run --room, auxiliary/room_host.c) ---- */

/* Hands a leg to the room's process: its control socket (the parent keeps the other end,
 * in leg->ctl), a WAN socket on 127.0.0.1 and the TCP fallback's sockets, as the
 * secondary does (leg_handover.h); or, with only_one, an old one-byte hand-over of one
 * descriptor. */
static void hand_leg(int room, struct auxp *leg, bool only_one)
{
	struct leg_sockets s;
	struct ip_addr lo;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	leg_sockets_init(&s);
	s.ctl = sv[1];
	if (only_one) {
		char byte = LEG_HANDOVER_TAG;
		_Alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {&byte, 1};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				   .msg_controllen = sizeof cbuf};
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);

		memset(cbuf, 0, sizeof cbuf);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &s.ctl, sizeof(int));
		assert_int_equal(sendmsg(room, &m, 0), 1);
	} else {
		assert_int_equal(ip_addr_parse("127.0.0.1", &lo), 0);
		s.wan = udp_socket(0);
		for (s.ntcp = 0; s.ntcp < LEG_HANDOVER_TCP_MAX; s.ntcp++)
			s.tcp[s.ntcp] = wan_socket_bound(SOCK_STREAM, &lo, 0);
		assert_int_equal(leg_sockets_send(room, &s), 0);
	}
	leg_sockets_close(&s);
	memset(leg, 0, sizeof *leg);
	leg->ctl = sv[0];
}

/* The room's process serves each leg handed over on its fd 3 with the ordinary control
 * protocol, refuses what is no room's leg without ending the others, ignores a hand-over
 * that is not two descriptors, and exits when fd 3 closes. */
static void room_process_takes_legs(void **state)
{
	struct auxp a, b, c;
	char call[ID_STRLEN], parent[24];
	const char *code = NULL, *message = NULL;
	int sv[2];
	pid_t pid;
	json_t *r;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	snprintf(parent, sizeof parent, "%d", (int)getpid());
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(sv[1], 3) < 0)
			_exit(127);
		execl(aux_path, "insel-auxiliary", "run", "--room", "--parent", parent,
		      (char *)NULL);
		_exit(127);
	}
	remember_child(pid);
	close(sv[1]);
	hand_leg(sv[0], &a, false);
	r = request(&a, msg_hello(0, "secondary"));
	assert_ok(r);
	json_decref(r);
	r = request(&a, bind_request(id_format(rand_id64(), call), "127.0.0.1", NULL, NULL));
	assert_false(msg_reply_is_ok(r, &code, &message));
	assert_string_equal(code, "bind_failed");
	assert_non_null(strstr(message, "room's legs"));
	json_decref(r);
	hand_leg(sv[0], &b, true);   /* one descriptor: refused, its socket closed */
	assert_null(recv_json(&b, 300));
	hand_leg(sv[0], &c, false);  /* the process still takes legs */
	r = request(&c, msg_hello(0, "secondary"));
	assert_ok(r);
	json_decref(r);
	close(sv[0]);
	assert_int_equal(wait_exit(pid, WAIT_MS), 0);
	close(a.ctl);
	close(b.ctl);
	close(c.ctl);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(relay_both_ways, kill_children),
		cmocka_unit_test_teardown(relay_bursts_in_order, kill_children),
		cmocka_unit_test_teardown(rekey_op_switches_epochs, kill_children),
		cmocka_unit_test_teardown(rekey_op_refused_without_external, kill_children),
		cmocka_unit_test_teardown(malformed_control_messages, kill_children),
		cmocka_unit_test_teardown(malformed_while_running, kill_children),
		cmocka_unit_test_teardown(hangup_frees_ports, kill_children),
		cmocka_unit_test_teardown(path_up_once_probes_answered, kill_children),
		cmocka_unit_test_teardown(unanswered_probes_end_no_path, kill_children),
		cmocka_unit_test_teardown(peer_killed_is_peer_dead, kill_children),
		cmocka_unit_test_teardown(idle_timeout_ends_both, kill_children),
		cmocka_unit_test_teardown(parent_gone_ends_aux, kill_children),
		cmocka_unit_test_teardown(parent_gone_before_bind, kill_children),
		cmocka_unit_test_teardown(foreign_lan_sender_dropped, kill_children),
		cmocka_unit_test_teardown(bind_failure_is_reported, kill_children),
		cmocka_unit_test_teardown(room_leg_refused_without_room, kill_children),
		cmocka_unit_test_teardown(room_process_takes_legs, kill_children),
		cmocka_unit_test_teardown(tcp_fallback_carries_the_call, kill_children),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s PATH-TO-insel-auxiliary PATH-TO-insel-relay\n",
			argv[0]);
		return 2;
	}
	aux_path = argv[1];
	relay_path = argv[2];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
