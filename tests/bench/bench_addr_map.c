/* Benchmark: the cost per packet of the 1:1 address mapping (common/data/addr_map.h) that
 * calls between LANs with overlapping prefixes and rooms run on every packet: a 1400-byte
 * TCP segment with its destination mapped (and back, so the bytes stay valid), a UDP
 * datagram with source and destination mapped, and an ICMP error whose quoted header is
 * mapped too; beside a copy of the same bytes as the yardstick (the auxiliary copies a
 * packet from the peer before mapping it). Figures, not a pass/fail test. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr_map.h"

#define ROUNDS 5000000

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An IPv4 packet of len bytes, proto, 192.168.1.11 -> 10.99.2.11 (checksums not needed
 * for timing: the update is the same work either way). */
static void make(uint8_t *p, size_t len, uint8_t proto)
{
	memset(p, 0x5a, len);
	p[0] = 0x45;
	p[1] = 0;
	put16(p + 2, (unsigned)len);
	put16(p + 6, 0x4000);
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, "\xc0\xa8\x01\x0b\x0a\x63\x02\x0b", 8);
	p[32] = 0x50;  /* TCP data offset, if TCP */
}

static double run(const struct addr_map *there, const struct addr_map *back, uint8_t *pkt,
		  size_t len)
{
	double t0 = now_ns();
	volatile int sink = 0;

	for (int i = 0; i < ROUNDS; i++) {
		sink += addr_map_packet(there, pkt, len);
		sink += addr_map_packet(back, pkt, len);
	}
	(void)sink;
	return (now_ns() - t0) / (2.0 * ROUNDS);
}

int main(void)
{
	static uint8_t pkt[1500], copy[1500];
	struct addr_map_rule real_to_mapped = {0xc0a80100u, 0x0a630100u, 24}, inv;
	struct addr_map_rule b_mapped_to_real = {0x0a630200u, 0xc0a80100u, 24}, inv_b;
	struct addr_map dst_only, dst_back, both, both_back;
	double t0, copy_ns, tcp_ns, udp_ns, icmp_ns;
	volatile uint8_t sink = 0;

	addr_map_rules_invert(&real_to_mapped, &inv, 1);
	addr_map_rules_invert(&b_mapped_to_real, &inv_b, 1);
	dst_only = (struct addr_map){NULL, 0, &b_mapped_to_real, 1};
	dst_back = (struct addr_map){NULL, 0, &inv_b, 1};
	both = (struct addr_map){&real_to_mapped, 1, &b_mapped_to_real, 1};
	both_back = (struct addr_map){&inv, 1, &inv_b, 1};

	make(pkt, 1400, 6);
	t0 = now_ns();
	for (int i = 0; i < 2 * ROUNDS; i++) {
		memcpy(copy, pkt, 1400);
		sink ^= copy[i & 1023];
	}
	copy_ns = (now_ns() - t0) / (2.0 * ROUNDS);
	(void)sink;
	tcp_ns = run(&dst_only, &dst_back, pkt, 1400);
	make(pkt, 512, 17);
	put16(pkt + 26, 0x1234);  /* a UDP checksum to update */
	udp_ns = run(&both, &both_back, pkt, 512);
	make(pkt, 576, 1);
	pkt[20] = 3;             /* destination unreachable, quoting a TCP header */
	make(pkt + 28, 548, 6);
	put16(pkt + 2, 576);
	icmp_ns = run(&both, &both_back, pkt, 576);
	printf("addr_map_packet per packet (%d rounds each way):\n", ROUNDS);
	printf("  TCP 1400 B, destination mapped       %6.1f ns\n", tcp_ns);
	printf("  UDP 512 B, source and destination    %6.1f ns\n", udp_ns);
	printf("  ICMP error 576 B, with its quote     %6.1f ns\n", icmp_ns);
	printf("  yardstick: memcpy of 1400 B          %6.1f ns\n", copy_ns);
	return 0;
}
