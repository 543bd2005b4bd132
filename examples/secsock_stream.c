/* secsock-stream: a file sent over a reliable stream channel of the Secsockets API, as an
 * application writer would do it. It needs only the installed library:
 *
 *   cc -o secsock-stream secsock_stream.c $(pkg-config --cflags --libs insel-secsock)
 *
 *   secsock-stream serve CA CERT KEY LISTEN PORT-FILE OUT-FILE [OPTION...]
 *       accepts one call (a "user" certificate of the same CA), writes what arrives on
 *       its stream channel to OUT-FILE until the peer finishes, then closes; the port
 *       it listens on is written to PORT-FILE
 *   secsock-stream send CA CERT KEY TO PEER-NAME IN-FILE [OPTION...]
 *       calls TO (ADDR:PORT) with one stream channel, sends IN-FILE and closes (which
 *       returns once the peer acknowledged everything); prints time, rate and the
 *       engine's retransmissions
 * Options: --dead-ms N (the stream time-out, sec_set_stream_timeouts), --nonblocking
 * (send: poll() and partial writes instead of blocking calls), --abort-after BYTES (send:
 * abort the stream once that much was sent).
 * Exit status: 0 done, 1 usage or set-up, 3 the stream broke (the error is printed). */
#define _POSIX_C_SOURCE 200809L  /* clock_gettime, poll under -std=c11 */

#include <insel/secsock.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "example_socket.h"

#define CHUNK 65536

struct opts {
	unsigned dead_ms;
	int nonblocking;
	long long abort_after;  /* -1: never */
};

static int usage(void)
{
	fprintf(stderr,
		"usage: secsock-stream serve CA CERT KEY LISTEN PORT-FILE OUT-FILE [OPTION...]\n"
		"       secsock-stream send CA CERT KEY TO PEER-NAME IN-FILE [OPTION...]\n"
		"options: --dead-ms N  --nonblocking  --abort-after BYTES\n");
	return 1;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.abort_after = -1};
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--dead-ms") && i + 1 < argc)
			o->dead_ms = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--abort-after") && i + 1 < argc)
			o->abort_after = strtoll(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--nonblocking"))
			o->nonblocking = 1;
		else
			return -1;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The example's socket, with the stream time-out of --dead-ms. */
static struct sec_socket *open_socket(char **argv, const struct ip_endpoint *listen,
				      const struct opts *o)
{
	struct sec_socket *s = example_socket("secsock-stream", argv, listen);

	if (s && sec_set_stream_timeouts(s, o->dead_ms, 0) != 0) {
		fprintf(stderr, "secsock-stream: --dead-ms is at least 1000\n");
		sec_free(s);
		return NULL;
	}
	return s;
}

static void print_stats(struct sec_call *c, const char *who)
{
	struct sec_stream_stats st;

	if (sec_stream_stats(c, 0, &st) == 0)
		printf("%s: state %s, sent %llu (acked %llu), received %llu, retransmissions %llu, "
		       "time-outs %llu, srtt %.1f ms, rto %.1f ms\n", who, st.state,
		       (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_acked,
		       (unsigned long long)st.bytes_received, (unsigned long long)st.retransmits,
		       (unsigned long long)st.timeouts, (double)st.srtt_us / 1000.0,
		       (double)st.rto_us / 1000.0);
}

/* ---- serve ---- */

static int receive_into(struct sec_call *c, FILE *out)
{
	static char buf[CHUNK];
	unsigned long long total = 0;

	for (;;) {
		unsigned channel;
		ssize_t n = sec_recv(c, &channel, buf, sizeof buf, -1);

		if (n == 0)
			break;
		if (n < 0) {
			printf("receiving after %llu bytes: %s\n", total, sec_strerror((int)n));
			return 3;
		}
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			return 1;
		total += (unsigned long long)n;
	}
	printf("received %llu bytes, then the end of the stream\n", total);
	return 0;
}

static int serve(char **argv, const struct opts *o)
{
	struct ip_endpoint at;
	struct sec_socket *s;
	struct sec_call *c;
	FILE *out;
	char err[256];
	int rc;

	if (sec_endpoint_parse(argv[3], &at) != 0)
		return usage();
	if (!(s = open_socket(argv, &at, o)))
		return 1;
	if (example_write_port(argv[4], sec_port(s)) != 0)
		return 1;
	if (sec_accept(s, &c, err, sizeof err) != 0) {
		fprintf(stderr, "secsock-stream: %s\n", err);
		return 1;
	}
	if (sec_call_mode(c, 0) != SEC_MODE_STREAM) {
		fprintf(stderr, "secsock-stream: channel 0 is not a stream\n");
		return 1;
	}
	printf("call from %s\n", sec_call_peer(c)->name);
	fflush(stdout);
	if (!(out = fopen(argv[5], "wb")))
		return 1;
	rc = receive_into(c, out);
	if (fclose(out) != 0)
		rc = 1;
	print_stats(c, "receiver");
	sec_close(c);
	sec_free(s);
	return rc;
}

/* ---- send ---- */

/* Waits until the call can make progress: input, or the engines' next timer. */
static void wait_call(struct sec_call *c)
{
	struct pollfd p = {.fd = sec_call_fd(c), .events = POLLIN};

	poll(&p, 1, sec_call_timeout_ms(c));
	sec_pump(c);
}

/* All of data, with blocking calls or with partial non-blocking writes. */
static ssize_t send_all(struct sec_call *c, const char *data, size_t len, const struct opts *o)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = sec_send(c, 0, data + done, len - done);

		if (n == -EAGAIN && o->nonblocking) {
			wait_call(c);
			continue;
		}
		if (n < 0)
			return n;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int send_file(struct sec_call *c, FILE *in, const struct opts *o)
{
	static char buf[CHUNK];
	unsigned long long total = 0;
	double t0 = now_s(), secs;
	size_t n;
	int rc;

	while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
		ssize_t w = send_all(c, buf, n, o);

		if (w < 0) {
			printf("sending after %llu bytes: %s\n", total, sec_strerror((int)w));
			return 3;
		}
		total += n;
		if (o->abort_after >= 0 && total >= (unsigned long long)o->abort_after) {
			sec_abort(c, 0);
			printf("aborted after %llu bytes\n", total);
			return 0;
		}
	}
	sec_set_nonblocking(c, 0);
	rc = sec_shutdown(c, 0);  /* returns once the peer acknowledged it all */
	if (rc) {
		printf("finishing after %llu bytes: %s\n", total, sec_strerror(rc));
		return 3;
	}
	secs = now_s() - t0;
	printf("sent %llu bytes in %.2f s (%.2f MiB/s), everything acknowledged\n", total, secs,
	       (double)total / 1048576.0 / (secs > 0 ? secs : 1e-9));
	return 0;
}

static int send_main(char **argv, const struct opts *o)
{
	static const struct negotiate_channel ports[1] = {{0, 0}};
	static const enum sec_mode modes[1] = {SEC_MODE_STREAM};
	struct ip_endpoint to;
	struct sec_socket *s;
	struct sec_call *c;
	char err[256];
	FILE *in;
	int rc;

	if (sec_endpoint_parse(argv[3], &to) != 0)
		return usage();
	if (!(in = fopen(argv[5], "rb")))
		return 1;
	if (!(s = open_socket(argv, NULL, o)))
		return 1;
	if (sec_connect_modes(s, &to, PKI_ROLE_USER, argv[4], ports, modes, 1, &c, err,
			      sizeof err) != 0) {
		fprintf(stderr, "secsock-stream: %s\n", err);
		return 1;
	}
	sec_set_nonblocking(c, o->nonblocking);
	rc = send_file(c, in, o);
	fclose(in);
	print_stats(c, "sender");
	fflush(stdout);
	sec_close(c);
	sec_free(s);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;

	if (argc < 8 || parse_opts(argc - 8, argv + 8, &o) != 0)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "serve"))
		return serve(argv + 2, &o);
	if (!strcmp(argv[1], "send"))
		return send_main(argv + 2, &o);
	return usage();
}
