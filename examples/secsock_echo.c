/* secsock-echo: a datagram echo over the Secsockets API, as an application writer would
 * use it. It needs only the installed library:
 *
 *   cc -o secsock-echo secsock_echo.c $(pkg-config --cflags --libs insel-secsock)
 *
 *   secsock-echo serve CA CERT KEY LISTEN PORT-FILE
 *       accepts one call from a peer with a certificate of role "user" of the same CA,
 *       echoes every message on the channel it came on, and ends after "bye" (or after
 *       ten seconds of silence); the port it listens on is written to PORT-FILE
 *   secsock-echo call CA CERT KEY TO PEER-NAME MESSAGE...
 *       calls TO (ADDR:PORT), which must present a "user" certificate named PEER-NAME,
 *       sends each MESSAGE (on channels 0 and 1 in turn), then "bye", and checks that
 *       each comes back unchanged on its channel; exit status 0 only if all did
 *
 * The call itself is TLS 1.3 with certificates on both sides, then two encrypted UDP
 * channels (the pair an RTP application would use) negotiated over it. */
#include <insel/secsock.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_socket.h"

#define ECHO_WAIT_MS 10000
#define ECHO_MSG_MAX 2048
#define ECHO_CHANNELS 2

static int usage(void)
{
	fprintf(stderr, "usage: secsock-echo serve CA CERT KEY LISTEN PORT-FILE\n"
			"       secsock-echo call CA CERT KEY TO PEER-NAME MESSAGE...\n");
	return 2;
}

/* Echoes until "bye" or silence; returns the number of messages echoed, or -1. */
static int echo_call(struct sec_call *c)
{
	char buf[ECHO_MSG_MAX];
	int echoed = 0;

	for (;;) {
		unsigned channel;
		ssize_t n = sec_recv(c, &channel, buf, sizeof buf, ECHO_WAIT_MS);

		if (n < 0) {
			fprintf(stderr, "secsock-echo: receiving: %s\n", sec_strerror((int)n));
			return -1;
		}
		if (sec_send(c, channel, buf, (size_t)n) != n) {
			fprintf(stderr, "secsock-echo: cannot echo\n");
			return -1;
		}
		echoed++;
		if (n == 3 && memcmp(buf, "bye", 3) == 0)
			return echoed;
	}
}

static int serve(char **argv)
{
	struct ip_endpoint at;
	struct sec_socket *s;
	struct sec_call *c;
	char err[256];
	int echoed;

	if (sec_endpoint_parse(argv[3], &at) != 0) {
		fprintf(stderr, "secsock-echo: %s is not ADDR:PORT\n", argv[3]);
		return 1;
	}
	if (!(s = example_socket("secsock-echo", argv, &at)))
		return 1;
	if (example_write_port(argv[4], sec_port(s)) != 0) {
		sec_free(s);
		return 1;
	}
	if (sec_accept(s, &c, err, sizeof err) != 0) {
		fprintf(stderr, "secsock-echo: %s\n", err);
		sec_free(s);
		return 1;
	}
	printf("call from %s on %zu channels\n", sec_call_peer(c)->name, sec_call_channels(c));
	echoed = echo_call(c);
	sec_close(c);
	sec_free(s);
	if (echoed < 0)
		return 1;
	printf("echoed %d messages\n", echoed);
	return 0;
}

/* Sends text on channel and checks that the same bytes come back on it. */
static int round_trip(struct sec_call *c, unsigned channel, const char *text)
{
	size_t len = strlen(text);
	char got[ECHO_MSG_MAX];
	unsigned from;
	ssize_t n;

	if (len == 0 || len > sizeof got || sec_send(c, channel, text, len) != (ssize_t)len) {
		fprintf(stderr, "secsock-echo: cannot send \"%s\"\n", text);
		return -1;
	}
	n = sec_recv(c, &from, got, sizeof got, ECHO_WAIT_MS);
	if (n < 0) {
		fprintf(stderr, "secsock-echo: no echo of \"%s\": %s\n", text, sec_strerror((int)n));
		return -1;
	}
	if ((size_t)n != len || memcmp(got, text, len) != 0 || from != channel) {
		fprintf(stderr, "secsock-echo: \"%s\" came back changed\n", text);
		return -1;
	}
	printf("echo on channel %u: %.*s\n", from, (int)n, got);
	return 0;
}

static int call(char **argv, int nmsgs)
{
	static const struct negotiate_channel ports[ECHO_CHANNELS] = {{5004, 5004},
								       {5005, 5005}};
	struct ip_endpoint to;
	struct sec_socket *s;
	struct sec_call *c;
	char err[256];
	int rc = 0;

	if (sec_endpoint_parse(argv[3], &to) != 0) {
		fprintf(stderr, "secsock-echo: %s is not ADDR:PORT\n", argv[3]);
		return 1;
	}
	if (!(s = example_socket("secsock-echo", argv, NULL)))
		return 1;
	if (sec_connect(s, &to, PKI_ROLE_USER, argv[4], ports, ECHO_CHANNELS, &c, err,
			sizeof err) != 0) {
		fprintf(stderr, "secsock-echo: %s\n", err);
		sec_free(s);
		return 1;
	}
	for (int i = 0; i < nmsgs && rc == 0; i++)
		rc = round_trip(c, (unsigned)i % ECHO_CHANNELS, argv[5 + i]);
	if (rc == 0)
		rc = round_trip(c, 0, "bye");
	sec_close(c);
	sec_free(s);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "serve") == 0)
		return serve(argv + 2);
	if (argc >= 8 && strcmp(argv[1], "call") == 0)
		return call(argv + 2, argc - 7);
	return usage();
}
