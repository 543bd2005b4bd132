/* UDP GSO's shared pieces (common/sys/udp_gso.h), against the real kernel on loopback: a
 * message made by udp_gso_attach arrives as its datagrams; a run the kernel refuses with
 * EINVAL goes apart and leaves GSO on for the next run (the auxiliary once turned it off
 * for the whole process on it); only "no GSO here" turns it off, and says so once. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "udp_gso.h"

struct pair {
	int tx, rx;
	struct sockaddr_in to;
};

static void pair_open(struct pair *p)
{
	socklen_t len = sizeof p->to;
	struct timeval wait = {.tv_sec = 2};

	p->rx = socket(AF_INET, SOCK_DGRAM, 0);
	p->tx = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(p->rx >= 0 && p->tx >= 0);
	memset(&p->to, 0, sizeof p->to);
	p->to.sin_family = AF_INET;
	p->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(p->rx, (struct sockaddr *)&p->to, sizeof p->to), 0);
	assert_int_equal(getsockname(p->rx, (struct sockaddr *)&p->to, &len), 0);
	assert_int_equal(setsockopt(p->rx, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait), 0);
}

static void pair_close(struct pair *p)
{
	close(p->tx);
	close(p->rx);
}

/* Sends len bytes of data as one GSO message of segment-byte datagrams; -errno or 0. */
static int send_run(struct pair *p, const uint8_t *data, size_t len, uint16_t segment)
{
	_Alignas(struct cmsghdr) uint8_t cmsg[UDP_GSO_CMSG_SPACE];
	struct iovec iov = {(void *)data, len};
	struct msghdr h = {.msg_name = &p->to, .msg_namelen = sizeof p->to,
			   .msg_iov = &iov, .msg_iovlen = 1};

	udp_gso_attach(&h, cmsg, segment);
	return sendmsg(p->tx, &h, 0) < 0 ? -errno : 0;
}

static void arrives_as_datagrams(void **state)
{
	uint8_t data[250], got[300];
	struct pair p;

	(void)state;
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)i;
	pair_open(&p);
	assert_int_equal(send_run(&p, data, sizeof data, 100), 0);
	/* 100 + 100 + 50, in order. */
	assert_int_equal(recv(p.rx, got, sizeof got, 0), 100);
	assert_memory_equal(got, data, 100);
	assert_int_equal(recv(p.rx, got, sizeof got, 0), 100);
	assert_memory_equal(got, data + 100, 100);
	assert_int_equal(recv(p.rx, got, sizeof got, 0), 50);
	assert_memory_equal(got, data + 200, 50);
	pair_close(&p);
}

static void einval_refuses_one_run_only(void **state)
{
	struct udp_gso gso = {.off = false};
	uint8_t data[600] = {0}, got[700];
	struct pair p;
	int rc;

	(void)state;
	pair_open(&p);
	/* More segments than any kernel takes in one message: EINVAL, for this run. */
	rc = send_run(&p, data, sizeof data, 1);
	assert_int_equal(rc, -EINVAL);
	assert_true(udp_gso_refused(&gso, -rc, "sending"));
	assert_false(gso.off);
	/* The next run still goes as GSO. */
	assert_int_equal(send_run(&p, data, 200, 100), 0);
	assert_int_equal(recv(p.rx, got, sizeof got, 0), 100);
	assert_int_equal(recv(p.rx, got, sizeof got, 0), 100);
	pair_close(&p);
}

static void no_gso_here_turns_it_off(void **state)
{
	struct udp_gso gso = {.off = false};

	(void)state;
	assert_true(udp_gso_refused(&gso, EIO, "sending"));
	assert_true(gso.off);
	assert_true(udp_gso_refused(&gso, EOPNOTSUPP, "sending"));
	assert_true(udp_gso_refused(&gso, ENOPROTOOPT, "sending"));
	assert_true(gso.off);
}

static void send_errors_are_no_refusal(void **state)
{
	struct udp_gso gso = {.off = false};
	const int errs[] = {EAGAIN, ENOBUFS, EHOSTUNREACH, ENETUNREACH, ECONNREFUSED, EMSGSIZE};

	(void)state;
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
		assert_false(udp_gso_refused(&gso, errs[i], "sending"));
	assert_false(gso.off);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(arrives_as_datagrams),
		cmocka_unit_test(einval_refuses_one_run_only),
		cmocka_unit_test(no_gso_here_turns_it_off),
		cmocka_unit_test(send_errors_are_no_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
