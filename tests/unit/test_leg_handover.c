/* Unit tests for a room's leg handed to the room's auxiliary (leg_handover.h) and the
 * WAN sockets made for it (wan_socket.h): every descriptor arrives where it belongs
 * (with and without the IPv6 socket and TCP sockets), a message whose header and
 * descriptors disagree is refused with its descriptors closed, end of file and "none
 * yet" are told apart, and a socket bound "near" a taken port takes another. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "leg_handover.h"
#include "wan_socket.h"

static int pair[2];

static int setup(void **state)
{
	(void)state;
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair);
}

static int teardown(void **state)
{
	(void)state;
	close(pair[0]);
	close(pair[1]);
	return 0;
}

static struct ip_addr loopback(void)
{
	struct ip_addr a;

	assert_int_equal(ip_addr_parse("127.0.0.1", &a), 0);
	return a;
}

/* Whether fd is a socket of that type. */
static bool is_socket(int fd, int type)
{
	int got = -1;
	socklen_t len = sizeof got;

	return fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &got, &len) == 0 && got == type;
}

static void round_trip(bool wan6, unsigned ntcp)
{
	struct ip_addr lo = loopback();
	struct leg_sockets out, in;
	int ctl[2];

	leg_sockets_init(&out);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl), 0);
	out.ctl = ctl[1];
	out.wan = wan_socket_bound(SOCK_DGRAM, &lo, 0);
	assert_true(out.wan >= 0);
	if (wan6)  /* a second datagram socket stands for the IPv6 one */
		out.wan6 = wan_socket_bound_near(SOCK_DGRAM, &lo, wan_socket_port(out.wan));
	for (out.ntcp = 0; out.ntcp < ntcp; out.ntcp++)
		out.tcp[out.ntcp] = wan_socket_bound(SOCK_STREAM, &lo, 0);
	assert_int_equal(leg_sockets_send(pair[0], &out), 0);
	assert_int_equal(leg_sockets_recv(pair[1], &in), 1);
	assert_true(is_socket(in.ctl, SOCK_STREAM));
	assert_true(is_socket(in.wan, SOCK_DGRAM));
	assert_int_equal(wan_socket_port(in.wan), wan_socket_port(out.wan));
	if (wan6) {
		assert_true(is_socket(in.wan6, SOCK_DGRAM));
		/* the port was taken by wan: near gave another */
		assert_int_not_equal(wan_socket_port(in.wan6), wan_socket_port(in.wan));
		assert_int_not_equal(wan_socket_port(in.wan6), 0);
	} else {
		assert_int_equal(in.wan6, -1);
	}
	assert_int_equal(in.ntcp, ntcp);
	for (unsigned i = 0; i < ntcp; i++)
		assert_true(is_socket(in.tcp[i], SOCK_STREAM));
	assert_int_equal(fcntl(in.wan, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	leg_sockets_close(&out);
	leg_sockets_close(&in);
	assert_int_equal(in.ctl, -1);
	close(ctl[0]);
}

static void every_layout_arrives(void **state)
{
	(void)state;
	for (unsigned ntcp = 0; ntcp <= LEG_HANDOVER_TCP_MAX; ntcp++) {
		round_trip(false, ntcp);
		round_trip(true, ntcp);
	}
}

/* Sends head (len bytes) with nfds copies of a socket; returns that socket. */
static int send_raw(const uint8_t *head, size_t len, size_t nfds)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), fds[8];
	_Alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof fds)];
	struct iovec iov = {(void *)(uintptr_t)head, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	assert_true(fd >= 0 && nfds <= 8);
	for (size_t i = 0; i < nfds; i++)
		fds[i] = fd;
	if (nfds) {
		memset(cbuf, 0, sizeof cbuf);
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	assert_int_equal(sendmsg(pair[0], &m, 0), (ssize_t)len);
	return fd;
}

/* The lowest descriptor free now: where a leaked one would sit. */
static int next_fd(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

static void refused(const uint8_t *head, size_t len, size_t nfds)
{
	struct leg_sockets in;
	int before, fd = send_raw(head, len, nfds);

	close(fd);
	before = next_fd();
	assert_int_equal(leg_sockets_recv(pair[1], &in), -EBADMSG);
	assert_int_equal(next_fd(), before);  /* what came was closed */
	assert_int_equal(in.ctl, -1);
	assert_int_equal(in.wan, -1);
	assert_int_equal(in.ntcp, 0);
}

static void disagreements_are_refused(void **state)
{
	const uint8_t ok[LEG_HANDOVER_HEADER] = {LEG_HANDOVER_TAG, 1, 2};
	const uint8_t tag[LEG_HANDOVER_HEADER] = {'X', 0, 0};
	const uint8_t six[LEG_HANDOVER_HEADER] = {LEG_HANDOVER_TAG, 2, 0};
	const uint8_t tcp[LEG_HANDOVER_HEADER] = {LEG_HANDOVER_TAG, 0, LEG_HANDOVER_TCP_MAX + 1};
	const uint8_t longer[LEG_HANDOVER_HEADER + 1] = {LEG_HANDOVER_TAG, 0, 0, 0};
	struct leg_sockets in;

	(void)state;
	refused(ok, 1, 2);              /* the old one-byte hand-over */
	refused(ok, sizeof ok, 4);      /* one descriptor short */
	refused(ok, sizeof ok, 6);      /* one too many */
	refused(ok, sizeof ok, 0);      /* none */
	refused(tag, sizeof tag, 2);
	refused(six, sizeof six, 4);
	refused(tcp, sizeof tcp, LEG_HANDOVER_FDS_MAX);
	refused(longer, sizeof longer, 2);
	assert_int_equal(leg_sockets_recv(pair[1], &in), -EAGAIN);  /* nothing waiting */
	close(send_raw(ok, sizeof ok, 5));
	assert_int_equal(leg_sockets_recv(pair[1], &in), 1);        /* still served */
	assert_true(in.wan6 >= 0 && in.ntcp == 2);
	leg_sockets_close(&in);
	close(pair[0]);
	pair[0] = -1;
	assert_int_equal(leg_sockets_recv(pair[1], &in), 0);        /* end of file */
}

static void send_refuses_what_cannot_be_said(void **state)
{
	struct leg_sockets s;

	(void)state;
	leg_sockets_init(&s);
	assert_int_equal(leg_sockets_send(pair[0], &s), -EINVAL);  /* no control socket */
	s.ctl = 0;
	s.wan = 0;
	s.ntcp = LEG_HANDOVER_TCP_MAX + 1;
	assert_int_equal(leg_sockets_send(pair[0], &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_layout_arrives, setup, teardown),
		cmocka_unit_test_setup_teardown(disagreements_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(send_refuses_what_cannot_be_said, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
