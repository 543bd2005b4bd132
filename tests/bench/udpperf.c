/* udpperf: a bounded UDP load generator and sink for the benchmarks (not a test).
 *
 *   udpperf sink PORT SECONDS          counts datagrams for SECONDS after the first one
 *   udpperf send HOST PORT SIZE SECONDS sends SIZE-byte datagrams as fast as it can
 *   udpperf echo PORT SECONDS          sends every datagram back, for SECONDS
 *   udpperf pingpong HOST PORT SIZE COUNT GAP-US
 *                                      COUNT round trips to an echo, one at a time,
 *                                      GAP-US microseconds of sleep between them
 *
 * sink and send print one line: datagrams, bytes, seconds, datagrams/s and Mbit/s of
 * payload; the sender batches with sendmmsg so that it is not the bottleneck it measures.
 * pingpong prints the round trips' min, median, p90, p99 and mean in microseconds, and how
 * many got no answer within 100 ms. Unlike ping -i below 10 ms, which spins on
 * sched_yield and so takes a whole CPU from whatever it measures, it sleeps while it
 * waits, as an application would. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_SIZE 65507

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, unsigned long long n, unsigned long long bytes,
		   double secs)
{
	if (secs <= 0)
		secs = 1e-9;
	printf("%s %llu datagrams, %llu bytes in %.2f s: %.0f datagrams/s, %.1f Mbit/s\n", what,
	       n, bytes, secs, (double)n / secs, (double)bytes * 8 / secs / 1e6);
}

static int sink(int port, double seconds)
{
	static char buf[MAX_SIZE];
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rcvbuf = 8 << 20;
	unsigned long long n = 0, bytes = 0;
	double first = 0, last = 0, give_up = now_s() + seconds + 10;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		perror("bind");
		return 1;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		double t = now_s();

		if ((first && t - first >= seconds) || t > give_up)
			break;
		if (poll(&p, 1, 200) <= 0) {
			if (first && t - last > 1.0)
				break;  /* the sender has stopped */
			continue;
		}
		for (;;) {
			ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

			if (r < 0)
				break;
			last = now_s();
			if (!first)
				first = last;
			n++;
			bytes += (unsigned long long)r;
		}
	}
	report("received", n, bytes, last - first);
	close(fd);
	return 0;
}

static int send_load(const char *host, int port, size_t size, double seconds)
{
	static char buf[MAX_SIZE];
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct mmsghdr msgs[BATCH];
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	unsigned long long n = 0;
	double start = now_s();

	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 || size == 0 || size > MAX_SIZE) {
		fprintf(stderr, "udpperf: bad host or size\n");
		return 2;
	}
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		perror("connect");
		return 1;
	}
	memset(buf, 'x', size);
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (now_s() - start < seconds) {
		int sent = sendmmsg(fd, msgs, BATCH, 0);

		if (sent > 0)
			n += (unsigned long long)sent;
		else if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED)
			break;
	}
	report("sent", n, n * size, now_s() - start);
	close(fd);
	return 0;
}

static int bind_udp(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		perror("bind");
		return -1;
	}
	return fd;
}

static int echo(int port, double seconds)
{
	static char buf[MAX_SIZE];
	int fd = bind_udp(port);
	double end = now_s() + seconds;
	unsigned long long n = 0;

	if (fd < 0)
		return 1;
	while (now_s() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof from;
		ssize_t r;

		if (poll(&p, 1, 200) <= 0)
			continue;
		r = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
		if (r >= 0 && sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&from, fromlen) == r)
			n++;
	}
	printf("echoed %llu datagrams\n", n);
	close(fd);
	return 0;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* One round trip: the answer must carry our sequence number (late answers to earlier,
 * timed-out requests are skipped). Returns microseconds, or -1 after 100 ms. */
static double round_trip(int fd, char *buf, size_t size, uint32_t seq)
{
	double t0 = now_s(), deadline = t0 + 0.1;

	memcpy(buf, &seq, sizeof seq);
	if (send(fd, buf, size, 0) != (ssize_t)size)
		return -1;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left_ms = (int)((deadline - now_s()) * 1000) + 1;
		uint32_t got;

		if (left_ms <= 0 || poll(&p, 1, left_ms) <= 0)
			return -1;
		if (recv(fd, buf, size, MSG_DONTWAIT) >= (ssize_t)sizeof got) {
			memcpy(&got, buf, sizeof got);
			if (got == seq)
				return (now_s() - t0) * 1e6;
		}
	}
}

static int pingpong(const char *host, int port, size_t size, int count, long gap_us)
{
	static char buf[MAX_SIZE];
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timespec gap = {.tv_sec = gap_us / 1000000, .tv_nsec = (gap_us % 1000000) * 1000};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), n = 0, lost = 0;
	double *rtt = calloc((size_t)count, sizeof *rtt), sum = 0;

	if (!rtt || inet_pton(AF_INET, host, &sin.sin_addr) != 1 || size < sizeof(uint32_t) ||
	    size > MAX_SIZE || count <= 0 || gap_us < 0) {
		fprintf(stderr, "udpperf: bad host, size, count or gap\n");
		return 2;
	}
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		perror("connect");
		return 1;
	}
	memset(buf, 'x', size);
	for (int i = 0; i < count; i++) {
		double us = round_trip(fd, buf, size, (uint32_t)i);

		if (us < 0)
			lost++;
		else
			sum += rtt[n++] = us;
		if (gap_us)
			nanosleep(&gap, NULL);
	}
	if (n == 0) {
		printf("no answers (%d lost)\n", lost);
		return 1;
	}
	qsort(rtt, (size_t)n, sizeof *rtt, cmp_double);
	printf("round trip us: min %.1f median %.1f p90 %.1f p99 %.1f mean %.1f (%d answered, "
	       "%d lost)\n", rtt[0], rtt[n / 2], rtt[n * 9 / 10], rtt[n * 99 / 100], sum / n, n,
	       lost);
	free(rtt);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "sink") == 0)
		return sink(atoi(argv[2]), atof(argv[3]));
	if (argc == 6 && strcmp(argv[1], "send") == 0)
		return send_load(argv[2], atoi(argv[3]), (size_t)atoi(argv[4]), atof(argv[5]));
	if (argc == 4 && strcmp(argv[1], "echo") == 0)
		return echo(atoi(argv[2]), atof(argv[3]));
	if (argc == 7 && strcmp(argv[1], "pingpong") == 0)
		return pingpong(argv[2], atoi(argv[3]), (size_t)atoi(argv[4]), atoi(argv[5]),
				atol(argv[6]));
	fprintf(stderr, "usage: udpperf sink PORT SECONDS | send HOST PORT SIZE SECONDS | "
		"echo PORT SECONDS | pingpong HOST PORT SIZE COUNT GAP-US\n");
	return 2;
}
