/* udpperf: a bounded UDP load generator and sink for the benchmarks (not a test).
 *
 *   udpperf sink PORT SECONDS          counts datagrams for SECONDS after the first one
 *   udpperf send HOST PORT SIZE SECONDS sends SIZE-byte datagrams as fast as it can
 *
 * Each prints one line: datagrams, bytes, seconds, datagrams/s and Mbit/s of payload.
 * The sender batches with sendmmsg so that it is not the bottleneck it measures. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
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

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "sink") == 0)
		return sink(atoi(argv[2]), atof(argv[3]));
	if (argc == 6 && strcmp(argv[1], "send") == 0)
		return send_load(argv[2], atoi(argv[3]), (size_t)atoi(argv[4]), atof(argv[5]));
	fprintf(stderr, "usage: udpperf sink PORT SECONDS | send HOST PORT SIZE SECONDS\n");
	return 2;
}
