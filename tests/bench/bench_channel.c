/* Benchmark of the data channel (not a test: it prints figures). From one run:
 *  1. UDP echo throughput on 127.0.0.1 with bare datagrams, then the same through a pair of
 *     channels for each cipher (the echo side opens and re-seals every frame);
 *  2. the per-packet overhead in bytes;
 *  3. seal+open cost per 1400-byte datagram through the channel against GnuTLS's bare AEAD
 *     on the same buffers, in ns/packet, and their ratio.
 * Every loop is bounded in packets and in time. Loopback only. */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"

#define WIRE 1400                        /* UDP payload on the wire, both ways */
#define PAYLOAD (WIRE - FRAME_OVERHEAD)  /* what a channel carries in that */
#define ECHO_MAX_PACKETS 300000
#define ECHO_MAX_NS 2000000000ULL
#define IN_FLIGHT 32
#define CRYPTO_MAX_PACKETS 2000000
#define CRYPTO_MAX_NS 400000000ULL

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
	return now_ns() / 1000000;
}

/* ---- channels ---- */

static void make_pair(enum sec_cipher cipher, struct channel **a, struct channel **b)
{
	struct sec_channel_params pa, pb;

	memset(&pa, 0, sizeof pa);
	pa.cipher = cipher;
	pa.local_session = 0x0a0a0a0a;
	pa.remote_session = 0x0b0b0b0b;
	gnutls_rnd(GNUTLS_RND_KEY, pa.send_key, SEC_KEY_LEN);
	gnutls_rnd(GNUTLS_RND_KEY, pa.recv_key, SEC_KEY_LEN);
	ip_endpoint_parse("127.0.0.1:1", &pa.peer);
	pa.mtu = WIRE;
	pb = pa;
	pb.local_session = pa.remote_session;
	pb.remote_session = pa.local_session;
	memcpy(pb.send_key, pa.recv_key, SEC_KEY_LEN);
	memcpy(pb.recv_key, pa.send_key, SEC_KEY_LEN);
	if (channel_new(&pa, now_ms(), a) != 0 || channel_new(&pb, now_ms(), b) != 0) {
		fprintf(stderr, "bench: cannot make channels\n");
		exit(1);
	}
	chanparams_wipe(&pa);
	chanparams_wipe(&pb);
}

/* ---- UDP echo ---- */

struct echo {
	int fd;
	struct channel *ch;  /* NULL: echo bare datagrams */
	volatile bool stop;
};

static int udp_socket(struct sockaddr_in *bound)
{
	socklen_t len = sizeof *bound;
	struct timeval tv = {0, 200000};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), size = 4 << 20;

	memset(bound, 0, sizeof *bound);
	bound->sin_family = AF_INET;
	bound->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)bound, sizeof *bound) != 0 ||
	    getsockname(fd, (struct sockaddr *)bound, &len) != 0) {
		perror("bench: socket");
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	return fd;
}

static void *echo_main(void *arg)
{
	struct echo *e = arg;
	static uint8_t in[65536], out[65536];
	struct sockaddr_storage from;
	struct channel_msg m;

	while (!e->stop) {
		socklen_t flen = sizeof from;
		ssize_t n = recvfrom(e->fd, in, sizeof in, 0, (struct sockaddr *)&from, &flen);
		long back;

		if (n < 0)
			continue;  /* time-out: look at stop again */
		if (!e->ch) {
			sendto(e->fd, in, (size_t)n, 0, (struct sockaddr *)&from, flen);
			continue;
		}
		if (channel_open(e->ch, in, (size_t)n, NULL, now_ms(), &m) != 1)
			continue;
		back = channel_seal_one(e->ch, m.data, m.len, now_ms(), out, sizeof out);
		if (back > 0)
			sendto(e->fd, out, (size_t)back, 0, (struct sockaddr *)&from, flen);
	}
	return NULL;
}

/* One packet out: bare payload or sealed; returns the datagram length. */
static size_t make_packet(struct channel *ch, const uint8_t *payload, uint8_t *out)
{
	if (!ch) {
		memcpy(out, payload, WIRE);
		return WIRE;
	}
	return (size_t)channel_seal_one(ch, payload, PAYLOAD, now_ms(), out, WIRE);
}

struct echo_result {
	uint64_t packets, lost, ns;
};

static struct echo_result run_echo(struct channel *client, struct channel *server)
{
	static uint8_t payload[WIRE], pkt[65536];
	struct sockaddr_in caddr, saddr;
	struct echo e = {0};
	struct echo_result r = {0};
	struct channel_msg m;
	pthread_t thread;
	unsigned outstanding = 0;
	uint64_t sent = 0, start;
	int cfd = udp_socket(&caddr);

	memset(payload, 0x5a, sizeof payload);
	e.fd = udp_socket(&saddr);
	e.ch = server;
	pthread_create(&thread, NULL, echo_main, &e);
	start = now_ns();
	while (sent < ECHO_MAX_PACKETS && now_ns() - start < ECHO_MAX_NS) {
		while (outstanding < IN_FLIGHT && sent < ECHO_MAX_PACKETS) {
			size_t len = make_packet(client, payload, pkt);

			sendto(cfd, pkt, len, 0, (struct sockaddr *)&saddr, sizeof saddr);
			outstanding++;
			sent++;
		}
		ssize_t n = recv(cfd, pkt, sizeof pkt, 0);

		if (n < 0) {  /* time-out: count what is missing as lost, go on */
			r.lost += outstanding;
			outstanding = 0;
			continue;
		}
		outstanding--;
		if (!client || channel_open(client, pkt, (size_t)n, NULL, now_ms(), &m) == 1)
			r.packets++;
	}
	r.ns = now_ns() - start;
	e.stop = true;
	pthread_join(thread, NULL);
	close(cfd);
	close(e.fd);
	return r;
}

static void print_echo(const char *what, struct echo_result r, size_t payload)
{
	double s = (double)r.ns / 1e9;

	printf("  %-28s %8.0f pkt/s  %8.1f Mbit/s payload each way  (%llu echoed, %llu lost)\n",
	       what, (double)r.packets / s, (double)r.packets * (double)payload * 8 / s / 1e6,
	       (unsigned long long)r.packets, (unsigned long long)r.lost);
}

/* ---- crypto cost ---- */

static double channel_ns_per_packet(enum sec_cipher cipher)
{
	static uint8_t payload[PAYLOAD], pkt[WIRE];
	struct channel *a, *b;
	struct channel_msg m;
	uint64_t i, start, t = now_ms();

	make_pair(cipher, &a, &b);
	memset(payload, 0x33, sizeof payload);
	start = now_ns();
	for (i = 0; i < CRYPTO_MAX_PACKETS; i++) {
		long n = channel_seal_one(a, payload, sizeof payload, t, pkt, sizeof pkt);

		if (n != WIRE || channel_open(b, pkt, (size_t)n, NULL, t, &m) != 1) {
			fprintf(stderr, "bench: channel round trip failed\n");
			exit(1);
		}
		if ((i & 1023) == 1023 && now_ns() - start > CRYPTO_MAX_NS)
			break;
	}
	double ns = (double)(now_ns() - start) / (double)(i + 1);

	channel_free(a);
	channel_free(b);
	return ns;
}

/* The same work with GnuTLS alone: encrypt the payload with a 16-byte header as AD into
 * the same buffer layout, decrypt it back. */
static double bare_ns_per_packet(enum sec_cipher cipher)
{
	static uint8_t payload[PAYLOAD], pkt[WIRE], plain[WIRE];
	uint8_t key[SEC_KEY_LEN], nonce[12] = {0};
	gnutls_datum_t k = {key, sizeof key};
	gnutls_aead_cipher_hd_t enc, dec;
	gnutls_cipher_algorithm_t alg = cipher == SEC_CIPHER_AES256GCM ?
		GNUTLS_CIPHER_AES_256_GCM : GNUTLS_CIPHER_CHACHA20_POLY1305;
	uint64_t i, start;

	gnutls_rnd(GNUTLS_RND_KEY, key, sizeof key);
	gnutls_aead_cipher_init(&enc, alg, &k);
	gnutls_aead_cipher_init(&dec, alg, &k);
	memset(payload, 0x33, sizeof payload);
	memset(pkt, 0, FRAME_HEADER_LEN);
	start = now_ns();
	for (i = 0; i < CRYPTO_MAX_PACKETS; i++) {
		size_t clen = WIRE - FRAME_HEADER_LEN, plen = sizeof plain;

		nonce[11] = (uint8_t)i;
		if (gnutls_aead_cipher_encrypt(enc, nonce, 12, pkt, FRAME_HEADER_LEN, 16, payload,
					       PAYLOAD, pkt + FRAME_HEADER_LEN, &clen) < 0 ||
		    gnutls_aead_cipher_decrypt(dec, nonce, 12, pkt, FRAME_HEADER_LEN, 16,
					       pkt + FRAME_HEADER_LEN, clen, plain, &plen) < 0) {
			fprintf(stderr, "bench: bare AEAD failed\n");
			exit(1);
		}
		if ((i & 1023) == 1023 && now_ns() - start > CRYPTO_MAX_NS)
			break;
	}
	double ns = (double)(now_ns() - start) / (double)(i + 1);

	gnutls_aead_cipher_deinit(enc);
	gnutls_aead_cipher_deinit(dec);
	return ns;
}

int main(void)
{
	const enum sec_cipher ciphers[] = {SEC_CIPHER_AES256GCM, SEC_CIPHER_CHACHA20POLY1305};
	struct channel *a, *b;

	printf("insel data-channel benchmark: %d-byte UDP datagrams on 127.0.0.1, %d in flight\n",
	       WIRE, IN_FLIGHT);
	printf("UDP echo throughput (payload per datagram: bare %d, channel %d):\n", WIRE,
	       PAYLOAD);
	print_echo("bare UDP", run_echo(NULL, NULL), WIRE);
	for (size_t i = 0; i < 2; i++) {
		char what[64];

		make_pair(ciphers[i], &a, &b);
		snprintf(what, sizeof what, "channel %s", sec_cipher_name(ciphers[i]));
		print_echo(what, run_echo(a, b), PAYLOAD);
		channel_free(a);
		channel_free(b);
	}
	printf("Per-packet overhead: %d bytes (header %d + tag %d)\n", FRAME_OVERHEAD,
	       FRAME_HEADER_LEN, FRAME_TAG_LEN);
	printf("Seal+open per %d-byte datagram (one core, best of 3 alternating runs):\n",
	       WIRE);
	for (size_t i = 0; i < 2; i++) {
		double bare = 1e12, chan = 1e12;

		bare_ns_per_packet(ciphers[i]);  /* warm-up: clocks, caches */
		for (int run = 0; run < 3; run++) {
			double x = bare_ns_per_packet(ciphers[i]);
			double y = channel_ns_per_packet(ciphers[i]);

			bare = x < bare ? x : bare;
			chan = y < chan ? y : chan;
		}

		printf("  %-18s channel %7.0f ns  bare AEAD %7.0f ns  ratio %.3f\n",
		       sec_cipher_name(ciphers[i]), chan, bare, chan / bare);
	}
	return 0;
}
