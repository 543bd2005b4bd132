/* Test tool: two fake legs of a relay allocation (and a third party), built from our
 * codecs (relay_wire.h for REGISTER/REGISTERED, frame.h for the frames' headers), on
 * 127.0.0.1 only. The relay sees exactly what two auxiliaries would send.
 *
 *   relay-leg register RELAY ALLOCATION TOKEN LEG COUNTER SESSION
 *       one REGISTER; exit 0 if an authenticated REGISTERED for it comes back within 1 s
 *   relay-leg scenario RELAY ALLOCATION TOKEN
 *       register both legs, forward both ways, refuse a third party's frames, a bad MAC,
 *       a replayed (old-counter) REGISTER, a leg's move (NAT rebinding), runs of frames
 *       sent as one UDP GSO datagram (what an auxiliary sends; the relay reads them with
 *       GRO and forwards them as GSO runs: each frame must arrive alone, whole, in
 *       order, and a bad one among them must not take the others along), then the rate
 *       limit; prints ok/FAIL per check and exits with the number of failures
 *
 * RELAY is 127.0.0.1:PORT, ALLOCATION 16 hex digits, TOKEN 32. */
#include <errno.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "frame.h"
#include "hex.h"
#include "rand.h"
#include "relay_wire.h"

struct ctx {
	struct ip_endpoint relay;
	uint64_t allocation;
	uint8_t token[RELAY_TOKEN_LEN];
	int failures;
};

static int open_leg(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		perror("relay-leg: socket");
		exit(99);
	}
	return fd;
}

static void send_to_relay(const struct ctx *c, int fd, const void *data, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = ip_endpoint_to_sockaddr(&c->relay, &ss);

	if (sendto(fd, data, len, 0, (struct sockaddr *)&ss, sl) != (ssize_t)len)
		perror("relay-leg: sendto");
}

/* A datagram within ms, or -1. */
static ssize_t receive(int fd, void *buf, size_t cap, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, ms) <= 0)
		return -1;
	return recv(fd, buf, cap, 0);
}

static void drain(int fd)
{
	uint8_t b[2048];

	while (receive(fd, b, sizeof b, 0) >= 0)
		;
}

static size_t make_register(const struct ctx *c, uint8_t *out, unsigned leg, uint64_t counter,
			    uint32_t session, const uint8_t *token)
{
	struct relay_register m = {.allocation = c->allocation, .leg = (uint8_t)leg,
				   .counter = counter, .nsessions = 1, .sessions = {session}};
	int n = relay_register_encode(&m, token, out, RELAY_REGISTER_MAX);

	return n > 0 ? (size_t)n : 0;
}

/* Sends a REGISTER; true if the REGISTERED that answers it checks. */
static bool do_register(const struct ctx *c, int fd, unsigned leg, uint64_t counter,
			uint32_t session, const uint8_t *token, int wait_ms)
{
	uint8_t b[RELAY_REGISTER_MAX], in[256];
	struct relay_registered ack;
	ssize_t n;

	send_to_relay(c, fd, b, make_register(c, b, leg, counter, session, token));
	n = receive(fd, in, sizeof in, wait_ms);
	return n > 0 && relay_registered_parse(in, (size_t)n, &ack) == 0 &&
	       relay_wire_verify(in, (size_t)n, c->token) == 0 &&
	       ack.allocation == c->allocation && ack.leg == leg && ack.counter == counter;
}

static size_t make_frame(uint8_t *out, size_t len, uint32_t session, uint64_t counter)
{
	struct frame_header h = {.type = FRAME_DATA, .frags = 1, .session = session,
				 .counter = counter};

	rand_nonce(out, len);  /* stands for ciphertext: the relay never opens it */
	frame_header_encode(&h, out, len);
	return len;
}

/* Sends one frame from `from`; true if `to` gets exactly those bytes. */
static bool passes(const struct ctx *c, int from, int to, uint32_t session, int wait_ms)
{
	static uint64_t counter;
	uint8_t f[200], in[2048];
	size_t len = make_frame(f, sizeof f, session, ++counter);
	ssize_t n;

	send_to_relay(c, from, f, len);
	n = receive(to, in, sizeof in, wait_ms);
	return n == (ssize_t)len && memcmp(in, f, len) == 0;
}

static void check(struct ctx *c, bool ok, const char *label)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", label);
	c->failures += !ok;
}

static void rate_limit(struct ctx *c, int l0, int l1)
{
	uint8_t f[1000], in[2048];
	unsigned sent = 300, got = 0;

	drain(l1);
	for (unsigned i = 0; i < sent; i++)
		send_to_relay(c, l0, f, make_frame(f, sizeof f, 0x200, 100000 + i));
	while (receive(l1, in, sizeof in, 300) > 0)
		got++;
	printf("rate limit: %u of %u frames of 1000 bytes passed at once\n", got, sent);
	check(c, got >= 30 && got < 150, "a burst over the allocation's rate is cut");
}

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define RUN_MAX 16

/* Sends n frames of `size` bytes (the last 100 shorter) as one UDP GSO datagram, the
 * bad-th (if below n) for a session no leg registered; -1 if the kernel has no GSO. */
static int send_run(const struct ctx *c, int fd, uint32_t session, unsigned n, size_t size,
		    unsigned bad, uint8_t run[RUN_MAX][1500], size_t len[RUN_MAX])
{
	static uint64_t counter = 500000;
	uint8_t all[RUN_MAX * 1500];
	_Alignas(struct cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint16_t))] = {0};
	uint16_t segment = (uint16_t)size;
	struct sockaddr_storage ss;
	struct iovec iov = {all, 0};
	struct msghdr h = {.msg_name = &ss, .msg_namelen = ip_endpoint_to_sockaddr(&c->relay, &ss),
			   .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			   .msg_controllen = sizeof control};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&h);

	for (unsigned i = 0; i < n; i++) {
		len[i] = i == n - 1 ? size - 100 : size;
		make_frame(run[i], len[i], i == bad ? 0x999 : session, ++counter);
		memcpy(all + iov.iov_len, run[i], len[i]);
		iov.iov_len += len[i];
	}
	cm->cmsg_level = IPPROTO_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof segment);
	memcpy(CMSG_DATA(cm), &segment, sizeof segment);
	return sendmsg(fd, &h, 0) == (ssize_t)iov.iov_len ? 0 : -1;
}

/* A GSO run from one leg: every good frame reaches the other, alone, whole and in order;
 * nothing else does. */
static void gso_run(struct ctx *c, int from, int to, uint32_t session, unsigned bad,
		    const char *label)
{
	static uint8_t run[RUN_MAX][1500];
	size_t len[RUN_MAX];
	uint8_t in[70000];
	unsigned n = 12, got = 0, expect = 0;
	bool ok = true;
	ssize_t k;

	drain(to);
	if (send_run(c, from, session, n, 1200, bad, run, len) != 0) {
		printf("skip: %s (no UDP GSO here: %s)\n", label, strerror(errno));
		return;
	}
	while ((k = receive(to, in, sizeof in, 300)) > 0) {
		if (expect == bad)
			expect++;
		ok &= expect < n && k == (ssize_t)len[expect] && memcmp(in, run[expect], len[expect]) == 0;
		expect++;
		got++;
	}
	check(c, ok && got == (bad < n ? n - 1 : n), label);
}

static int scenario(struct ctx *c)
{
	uint8_t wrong[RELAY_TOKEN_LEN], b[RELAY_REGISTER_MAX];
	int l0 = open_leg(), l1 = open_leg(), x = open_leg(), l0b = open_leg();

	memcpy(wrong, c->token, sizeof wrong);
	wrong[0] ^= 0xff;
	check(c, do_register(c, l0, 0, 1, 0x100, c->token, 1000), "leg 0 registered");
	check(c, do_register(c, l1, 1, 1, 0x200, c->token, 1000), "leg 1 registered");
	check(c, passes(c, l0, l1, 0x200, 1000), "a frame from leg 0 reaches leg 1 unchanged");
	check(c, passes(c, l1, l0, 0x100, 1000), "a frame from leg 1 reaches leg 0 unchanged");
	check(c, !passes(c, x, l1, 0x200, 300), "a third party's frame is not forwarded");
	check(c, !passes(c, x, l0, 0x100, 300), "nor the other way");
	check(c, !do_register(c, x, 0, 5, 0x300, wrong, 300),
	      "a REGISTER with a bad MAC is not answered");
	/* leg 0's first REGISTER, replayed by someone else */
	send_to_relay(c, x, b, make_register(c, b, 0, 1, 0x100, c->token));
	check(c, receive(x, b, sizeof b, 300) < 0, "a replayed REGISTER is not answered");
	check(c, !do_register(c, x, 0, 1, 0x100, c->token, 300),
	      "an old counter does not move a leg");
	check(c, passes(c, l1, l0, 0x100, 1000) && passes(c, l0, l1, 0x200, 1000),
	      "after all that, the legs still reach each other");
	check(c, !passes(c, l0, l0, 0x100, 300), "a leg cannot send to itself through the relay");
	/* NAT rebinding: leg 0 now comes from another port */
	check(c, do_register(c, l0b, 0, 2, 0x100, c->token, 1000), "leg 0 moved by a new REGISTER");
	check(c, passes(c, l1, l0b, 0x100, 1000), "frames for leg 0 follow it");
	check(c, !passes(c, l0, l1, 0x200, 300), "its old endpoint is no longer a leg");
	check(c, passes(c, l0b, l1, 0x200, 1000), "its new one is");
	gso_run(c, l0b, l1, 0x200, RUN_MAX, "a GSO run of 12 frames arrives as 12 datagrams, whole, in order");
	gso_run(c, l1, l0b, 0x100, 5, "a bad frame in a run is dropped alone, the others pass");
	usleep(600 * 1000);  /* the rate limit's bucket fills again */
	rate_limit(c, l0b, l1);
	return c->failures;
}

static int parse_common(char **argv, struct ctx *c)
{
	const char *token = argv[2];

	if (ip_endpoint_parse(argv[0], &c->relay) || id_parse(argv[1], &c->allocation) ||
	    strlen(token) != 2 * RELAY_TOKEN_LEN ||
	    hex_decode(token, strlen(token), c->token, RELAY_TOKEN_LEN)) {
		fprintf(stderr, "relay-leg: bad RELAY, ALLOCATION or TOKEN\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c = {0};

	if (argc == 5 && strcmp(argv[1], "scenario") == 0 && parse_common(argv + 2, &c) == 0)
		return scenario(&c);
	if (argc == 8 && strcmp(argv[1], "register") == 0 && parse_common(argv + 2, &c) == 0) {
		int fd = open_leg();

		return do_register(&c, fd, (unsigned)atoi(argv[5]), strtoull(argv[6], NULL, 10),
				   (uint32_t)strtoul(argv[7], NULL, 0), c.token, 1000) ? 0 : 1;
	}
	fprintf(stderr, "usage: relay-leg scenario RELAY ALLOCATION TOKEN\n"
			"       relay-leg register RELAY ALLOCATION TOKEN LEG COUNTER SESSION\n");
	return 99;
}
