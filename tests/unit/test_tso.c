/* Unit tests for TCP segmentation and coalescing (auxiliary/tso.h): a synthetic 64 KiB TCP
 * super-segment (IPv4, then IPv6) is cut into MSS-sized packets whose every header field
 * and checksum is checked, then coalesced back into the original; plus the virtio header
 * codec, partial checksums, the fast checksum against the reference one, and what must
 * not coalesce or segment; and a room leg's order (docs/rooms.md): the mapping
 * (addr_map.h) runs on the whole packets tso_segment hands over and before coalescing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "addr_map.h"
#include "err.h"
#include "ipv4.h"
#include "pkt_bytes.h"
#include "tso.h"

#define MSS 1328
#define HLEN (20 + 32)  /* IPv4 + TCP with 12 bytes of options (timestamps) */

static uint32_t pseudo(const uint8_t *ip, size_t tcp_len)
{
	return be16(ip + 12) + be16(ip + 14) + be16(ip + 16) + be16(ip + 18) + 6 +
	       (uint32_t)tcp_len;
}

/* A TSO packet as the kernel hands it over: total length, a partial TCP checksum. */
static size_t make_super(uint8_t *p, size_t payload, uint8_t flags)
{
	size_t len = HLEN + payload;

	memset(p, 0, HLEN);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[4] = 0x12;
	p[5] = 0x34;
	p[6] = 0x40;  /* DF */
	p[8] = 64;
	p[9] = 6;
	memcpy(p + 12, (uint8_t[]){10, 1, 0, 11, 10, 2, 0, 11}, 8);
	p[20] = 0x9c; p[21] = 0x40; p[22] = 0x14; p[23] = 0x51;      /* ports */
	p[24] = 0xff; p[25] = 0xff; p[26] = 0xf0; p[27] = 0x00;      /* seq: wraps */
	p[28] = 0; p[29] = 0; p[30] = 0x10; p[31] = 0x01;            /* ack */
	p[32] = 8 << 4;
	p[33] = flags;
	p[34] = 0x01; p[35] = 0xf5;                                  /* window */
	memcpy(p + 40, (uint8_t[]){1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, 12);
	for (size_t i = 0; i < payload; i++)
		p[HLEN + i] = (uint8_t)(i * 7 + 3);
	uint16_t ipc = (uint16_t)~inet_checksum_fold(p, 20, 0);
	p[10] = (uint8_t)(ipc >> 8);
	p[11] = (uint8_t)ipc;
	uint16_t part = inet_checksum_fold(NULL, 0, pseudo(p, len - 20));
	p[36] = (uint8_t)(part >> 8);
	p[37] = (uint8_t)part;
	return len;
}

/* IPv6: fixed header, TCP with the same options; addresses fd01::b and fd02::b. */
#define HLEN6 (40 + 32)
#define MSS6 1308

static uint32_t pseudo6(const uint8_t *ip, size_t tcp_len)
{
	uint32_t sum = 6 + (uint32_t)tcp_len;

	for (size_t i = 8; i < 40; i += 2)
		sum += be16(ip + i);
	return sum;
}

/* The IPv6 form of make_super: the TCP header is the IPv4 one's, moved. */
static size_t make_super6(uint8_t *p, size_t payload, uint8_t flags)
{
	static uint8_t v4[TSO_MAX_PACKET];
	size_t len = HLEN6 + payload;

	make_super(v4, payload, flags);
	memset(p, 0, 40);
	p[0] = 0x60;
	p[1] = 0x0a;  /* traffic class and flow label: must be kept */
	p[3] = 0x77;
	p[4] = (uint8_t)((len - 40) >> 8);
	p[5] = (uint8_t)(len - 40);
	p[6] = 6;
	p[7] = 64;
	p[8] = 0xfd; p[9] = 0x01; p[23] = 0x0b;
	p[24] = 0xfd; p[25] = 0x02; p[39] = 0x0b;
	memcpy(p + 40, v4 + 20, len - 40);
	uint16_t part = inet_checksum_fold(NULL, 0, pseudo6(p, len - 40));
	p[40 + 16] = (uint8_t)(part >> 8);
	p[40 + 17] = (uint8_t)part;
	return len;
}

struct collected {
	uint8_t pkt[64][2048];
	size_t len[64];
	unsigned n;
};

static int collect(void *ctx, const uint8_t *pkt, size_t len)
{
	struct collected *c = ctx;

	assert_true(c->n < 64 && len <= 2048);
	memcpy(c->pkt[c->n], pkt, len);
	c->len[c->n++] = len;
	return 0;
}

static void test_vnet_codec(void **state)
{
	struct vnet_hdr h = {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 52, 1328, 20, 16}, back;
	uint8_t b[VNET_HDR_LEN];

	(void)state;
	vnet_hdr_encode(&h, b);
	assert_int_equal(b[4], 1328 & 0xff);  /* little-endian */
	assert_int_equal(vnet_hdr_parse(b, sizeof b, &back), 0);
	assert_memory_equal(&h, &back, sizeof h);
	assert_int_equal(vnet_hdr_parse(b, VNET_HDR_LEN - 1, &back), INSEL_E_TRUNCATED);
}

static void test_csum_matches_reference(void **state)
{
	uint8_t data[301];

	(void)state;
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 131 + 17);
	for (size_t len = 0; len <= sizeof data; len++)
		for (uint32_t sum = 0; sum < 0x30000; sum += 0xfff1)
			assert_int_equal(tso_csum(data, len, sum),
					 inet_checksum_fold(data, len, sum));
}

static void test_segment_and_coalesce(void **state)
{
	static uint8_t super[TSO_MAX_PACKET], scratch[4096], buf[TSO_MAX_PACKET];
	static struct collected c;
	size_t payload = 65535 - HLEN, len = make_super(super, payload, 0x18 /* ACK PSH */);
	struct vnet_hdr h = {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, HLEN, MSS, 20, 16}, out;
	unsigned want = (unsigned)((payload + MSS - 1) / MSS);
	struct tso_coalesce co;
	int rc;

	(void)state;
	c.n = 0;
	rc = tso_segment(&h, super, len, scratch, sizeof scratch, collect, &c);
	assert_int_equal(rc, (int)want);
	for (unsigned i = 0; i < c.n; i++) {
		const uint8_t *p = c.pkt[i];
		size_t n = i + 1 < c.n ? MSS : payload - (size_t)MSS * i;

		assert_int_equal(c.len[i], HLEN + n);
		assert_int_equal(be16(p + 2), HLEN + n);
		assert_int_equal(be16(p + 4), 0x1234 + i);
		assert_int_equal(inet_checksum_fold(p, 20, 0), 0xffff);
		assert_int_equal(be32(p + 24), (uint32_t)(0xfffff000u + (uint32_t)MSS * i));
		assert_int_equal(p[33], i + 1 < c.n ? 0x10 : 0x18);  /* PSH on the last only */
		assert_int_equal(inet_checksum_fold(p + 20, c.len[i] - 20,
						    pseudo(p, c.len[i] - 20)), 0xffff);
		assert_memory_equal(p + HLEN, super + HLEN + (size_t)MSS * i, n);
		assert_true(tso_coalescable(p, c.len[i]));
	}
	/* Back together: one super-segment equal to the original but for IP id. */
	tso_coalesce_init(&co, buf);
	for (unsigned i = 0; i < c.n; i++)
		assert_int_equal(tso_coalesce_add(&co, c.pkt[i], c.len[i]), 1);
	assert_int_equal(co.segs, c.n);
	tso_coalesce_finish(&co, &out);
	assert_int_equal(co.len, len);
	assert_int_equal(out.gso_type, VNET_GSO_TCPV4);
	assert_int_equal(out.flags, VNET_F_NEEDS_CSUM);
	assert_int_equal(out.gso_size, MSS);
	assert_int_equal(out.hdr_len, HLEN);
	assert_int_equal(out.csum_start, 20);
	assert_int_equal(out.csum_offset, 16);
	assert_int_equal(inet_checksum_fold(buf, 20, 0), 0xffff);
	assert_memory_equal(buf + 20, super + 20, len - 20);  /* incl. partial checksum */
	assert_memory_equal(buf + 6, super + 6, 4);
}

static void test_segment_and_coalesce_ipv6(void **state)
{
	static uint8_t super[TSO_MAX_PACKET], scratch[4096], buf[TSO_MAX_PACKET];
	static struct collected c;
	size_t payload = 65535 - HLEN6, len = make_super6(super, payload, 0x19 /* ACK PSH FIN */);
	struct vnet_hdr h = {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV6, HLEN6, MSS6, 40, 16}, out;
	unsigned want = (unsigned)((payload + MSS6 - 1) / MSS6);
	struct tso_coalesce co;

	(void)state;
	c.n = 0;
	assert_int_equal(tso_segment(&h, super, len, scratch, sizeof scratch, collect, &c),
			 (int)want);
	for (unsigned i = 0; i < c.n; i++) {
		const uint8_t *p = c.pkt[i];
		size_t n = i + 1 < c.n ? MSS6 : payload - (size_t)MSS6 * i;

		assert_int_equal(c.len[i], HLEN6 + n);
		assert_int_equal(be16(p + 4), HLEN6 - 40 + n);  /* payload length */
		assert_memory_equal(p, super, 4);
		assert_memory_equal(p + 6, super + 6, 34);
		assert_int_equal(be32(p + 44), (uint32_t)(0xfffff000u + (uint32_t)MSS6 * i));
		assert_int_equal(p[53], i + 1 < c.n ? 0x10 : 0x19);  /* PSH, FIN on the last */
		assert_int_equal(inet_checksum_fold(p + 40, c.len[i] - 40,
						    pseudo6(p, c.len[i] - 40)), 0xffff);
		assert_memory_equal(p + HLEN6, super + HLEN6 + (size_t)MSS6 * i, n);
	}
	/* A FIN does not coalesce: the segments before it do, into the original's prefix. */
	tso_coalesce_init(&co, buf);
	for (unsigned i = 0; i + 1 < c.n; i++)
		assert_int_equal(tso_coalesce_add(&co, c.pkt[i], c.len[i]), 1);
	assert_int_equal(tso_coalesce_add(&co, c.pkt[c.n - 1], c.len[c.n - 1]), 0);
	tso_coalesce_finish(&co, &out);
	assert_int_equal(co.len, HLEN6 + (size_t)MSS6 * (c.n - 1));
	assert_int_equal(be16(buf + 4), co.len - 40);
	assert_int_equal(out.gso_type, VNET_GSO_TCPV6);
	assert_int_equal(out.flags, VNET_F_NEEDS_CSUM);
	assert_int_equal(out.gso_size, MSS6);
	assert_int_equal(out.hdr_len, HLEN6);
	assert_int_equal(out.csum_start, 40);
	assert_int_equal(out.csum_offset, 16);
	/* The partial checksum is the pseudo-header sum of the whole. */
	assert_int_equal(be16(buf + 56), inet_checksum_fold(NULL, 0, pseudo6(buf, co.len - 40)));
	assert_memory_equal(buf + HLEN6, super + HLEN6, co.len - HLEN6);
}

static void test_ipv6_refusals(void **state)
{
	static uint8_t pkt[4096], scratch[4096], buf[TSO_MAX_PACKET];
	static struct collected c;
	size_t len = make_super6(pkt, 3000, 0x10);
	struct vnet_hdr h = {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, HLEN6, MSS6, 40, 16};
	struct tso_coalesce co;

	(void)state;
	c.n = 0;
	/* The GSO type must match the packet's family. */
	assert_int_equal(tso_segment(&h, pkt, len, scratch, sizeof scratch, collect, &c),
			 INSEL_E_MALFORMED);
	h.gso_type = VNET_GSO_TCPV6;
	assert_int_equal(tso_segment(&h, pkt, len, scratch, sizeof scratch, collect, &c), 3);
	/* Segments of two flows (another flow label) do not join. */
	tso_coalesce_init(&co, buf);
	assert_int_equal(tso_coalesce_add(&co, c.pkt[0], c.len[0]), 1);
	c.pkt[1][3] ^= 1;
	assert_int_equal(tso_coalesce_add(&co, c.pkt[1], c.len[1]), 0);
	c.pkt[1][3] ^= 1;
	assert_int_equal(tso_coalesce_add(&co, c.pkt[1], c.len[1]), 1);
	/* An extension header (hop-by-hop) before TCP: neither segmented nor coalesced. */
	pkt[6] = 0;
	assert_int_equal(tso_segment(&h, pkt, len, scratch, sizeof scratch, collect, &c),
			 INSEL_E_MALFORMED);
	assert_true(tso_coalescable(c.pkt[2], c.len[2]));
	c.pkt[2][6] = 0;
	assert_false(tso_coalescable(c.pkt[2], c.len[2]));
	/* A payload length beyond the bytes read. */
	pkt[6] = 6;
	pkt[4] = 0x20;
	assert_int_equal(tso_segment(&h, pkt, len, scratch, sizeof scratch, collect, &c),
			 INSEL_E_TRUNCATED);
}

static void test_partial_checksum_only(void **state)
{
	static uint8_t pkt[2048], scratch[2048];
	static struct collected c;
	size_t len = make_super(pkt, 1000, 0x10);
	struct vnet_hdr h = {VNET_F_NEEDS_CSUM, VNET_GSO_NONE, 0, 0, 20, 16};

	(void)state;
	c.n = 0;
	assert_int_equal(tso_segment(&h, pkt, len, scratch, sizeof scratch, collect, &c), 1);
	assert_int_equal(inet_checksum_fold(c.pkt[0] + 20, len - 20, pseudo(pkt, len - 20)),
			 0xffff);
	/* A checksum offset outside the packet is refused. */
	h.csum_offset = 2000;
	assert_int_equal(tso_segment(&h, pkt, len, scratch, sizeof scratch, collect, &c),
			 INSEL_E_MALFORMED);
}

static void test_refusals(void **state)
{
	static uint8_t pkt[4096], scratch[4096], buf[TSO_MAX_PACKET];
	static struct collected c;
	size_t len = make_super(pkt, 3000, 0x10);
	struct vnet_hdr h = {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, HLEN, MSS, 20, 16};
	struct tso_coalesce co;

	(void)state;
	c.n = 0;
	h.gso_type = VNET_GSO_UDP_L4;
	assert_int_equal(tso_segment(&h, pkt, len, scratch, sizeof scratch, collect, &c),
			 INSEL_E_MALFORMED);
	h.gso_type = VNET_GSO_TCPV4;
	h.gso_size = 10;  /* absurd MSS */
	assert_int_equal(tso_segment(&h, pkt, len, scratch, sizeof scratch, collect, &c),
			 INSEL_E_MALFORMED);
	h.gso_size = MSS;
	assert_int_equal(tso_segment(&h, pkt, len - 1, scratch, sizeof scratch, collect, &c),
			 INSEL_E_TRUNCATED);
	assert_int_equal(tso_segment(&h, pkt, len, scratch, 100, collect, &c),
			 INSEL_E_NOSPACE);
	assert_int_equal(c.n, 0);
	assert_int_equal(tso_segment(&h, pkt, len, scratch, sizeof scratch, collect, &c), 3);
	/* Out of order, a bad checksum, a SYN: not coalesced. */
	tso_coalesce_init(&co, buf);
	assert_int_equal(tso_coalesce_add(&co, c.pkt[0], c.len[0]), 1);
	assert_int_equal(tso_coalesce_add(&co, c.pkt[2], c.len[2]), 0);
	c.pkt[1][HLEN + 5] ^= 1;
	assert_false(tso_coalescable(c.pkt[1], c.len[1]));
	assert_int_equal(tso_coalesce_add(&co, c.pkt[1], c.len[1]), 0);
	c.pkt[1][HLEN + 5] ^= 1;
	assert_int_equal(tso_coalesce_add(&co, c.pkt[1], c.len[1]), 1);
	assert_int_equal(tso_coalesce_add(&co, c.pkt[2], c.len[2]), 1);
	/* The last segment was short: nothing more joins. */
	assert_int_equal(tso_coalesce_add(&co, c.pkt[0], c.len[0]), 0);
	make_super(pkt, 0, 0x02);
	assert_false(tso_coalescable(pkt, HLEN));
}

/* A room leg's rules: a1 (10.1.0.11) is 172.30.0.1 in the room, b1 (10.2.0.11) 172.30.0.2. */
static const struct addr_map_rule a1_out = {0x0a01000b, 0xac1e0001, 32};
static const struct addr_map_rule b1_in = {0xac1e0002, 0x0a02000b, 32};

/* A UDP datagram a1 -> b1's room address as the kernel hands it over with checksum
 * offload: the checksum field holds the pseudo-header sum only (NEEDS_CSUM). */
static size_t make_udp_partial(uint8_t *p, size_t payload, uint16_t salt)
{
	size_t len = 28 + payload;
	uint32_t pseudo_sum;

	memset(p, 0, 28);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[6] = 0x40;
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, (uint8_t[]){10, 1, 0, 11, 172, 30, 0, 2}, 8);
	uint16_t ipc = (uint16_t)~inet_checksum_fold(p, 20, 0);
	p[10] = (uint8_t)(ipc >> 8);
	p[11] = (uint8_t)ipc;
	p[20] = (uint8_t)(salt >> 8);  /* source port: varies the sum */
	p[21] = (uint8_t)salt;
	p[22] = 0x1b; p[23] = 0x58;    /* 7000 */
	p[24] = (uint8_t)((len - 20) >> 8);
	p[25] = (uint8_t)(len - 20);
	for (size_t i = 0; i < payload; i++)
		p[28 + i] = (uint8_t)(i * 13 + salt);
	pseudo_sum = be16(p + 12) + be16(p + 14) + be16(p + 16) + be16(p + 18) + 17 +
		     (uint32_t)(len - 20);
	uint16_t part = inet_checksum_fold(NULL, 0, pseudo_sum);
	p[26] = (uint8_t)(part >> 8);
	p[27] = (uint8_t)part;
	return len;
}

/* Whether the UDP checksum verifies over the packet's own (mapped) addresses. */
static bool udp_checksum_ok(const uint8_t *p, size_t len)
{
	uint32_t pseudo_sum = be16(p + 12) + be16(p + 14) + be16(p + 16) + be16(p + 18) + 17 +
			      (uint32_t)(len - 20);

	return be16(p + 26) != 0 && inet_checksum_fold(p, 20, 0) == 0xffff &&
	       inet_checksum_fold(p + 20, len - 20, pseudo_sum) == 0xffff;
}

/* Out of a leg: every length of datagram, with source ports that make the completed
 * checksum and the mapped one land on 0xffff (zero is "no checksum" for UDP), completed
 * by tso_segment and then mapped, verifies under the room address. */
static void test_room_udp_partial_then_mapped(void **state)
{
	static uint8_t pkt[2048], scratch[2048];
	static struct collected c;
	struct addr_map out = {.src = &a1_out, .n_src = 1};
	struct vnet_hdr h = {VNET_F_NEEDS_CSUM, VNET_GSO_NONE, 0, 0, 20, 6};
	unsigned zero_before = 0, zero_after = 0;

	(void)state;
	for (size_t payload = 0; payload <= 1412; payload += payload < 64 ? 1 : 67) {
		for (uint32_t salt = 0; salt < 0x10000; salt += payload < 8 ? 1 : 0x3ff) {
			size_t len = make_udp_partial(pkt, payload, (uint16_t)salt);

			c.n = 0;
			assert_int_equal(tso_segment(&h, pkt, len, scratch, sizeof scratch,
						     collect, &c), 1);
			assert_int_equal(c.len[0], len);
			zero_before += be16(c.pkt[0] + 26) == 0xffff;
			assert_int_equal(addr_map_packet(&out, c.pkt[0], len), ADDR_MAP_SRC);
			assert_int_equal(be32(c.pkt[0] + 12), 0xac1e0001);
			zero_after += be16(c.pkt[0] + 26) == 0xffff;
			assert_true(udp_checksum_ok(c.pkt[0], len));
		}
	}
	assert_true(zero_before > 0 && zero_after > 0);  /* the edge was crossed */
}

/* A TCP super-segment from a1 to b1's room address: cut, each segment mapped (a1's
 * room address) as gw-a does, then mapped again (b1's LAN address) and coalesced as
 * gw-b does: the coalesced super-segment's partial checksum is that of the mapped
 * addresses, and cut once more it gives back the mapped segments byte for byte. */
static void test_room_tcp_super_segment_mapped(void **state)
{
	static uint8_t super[TSO_MAX_PACKET], scratch[4096], buf[TSO_MAX_PACKET];
	static struct collected c, again;
	struct addr_map out = {.src = &a1_out, .n_src = 1}, in = {.dst = &b1_in, .n_dst = 1};
	size_t payload = 40000, len = make_super(super, payload, 0x10);
	struct vnet_hdr h = {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, HLEN, MSS, 20, 16}, vh;
	struct tso_coalesce co;

	(void)state;
	/* make_super's addresses are 10.1.0.11 -> 10.2.0.11: b1's as seen in the room. */
	memcpy(super + 16, (uint8_t[]){172, 30, 0, 2}, 4);
	super[10] = super[11] = 0;
	uint16_t ipc = (uint16_t)~inet_checksum_fold(super, 20, 0);
	super[10] = (uint8_t)(ipc >> 8);
	super[11] = (uint8_t)ipc;
	uint16_t part = inet_checksum_fold(NULL, 0, pseudo(super, len - 20));
	super[36] = (uint8_t)(part >> 8);
	super[37] = (uint8_t)part;
	c.n = 0;
	assert_int_equal(tso_segment(&h, super, len, scratch, sizeof scratch, collect, &c),
			 (int)((payload + MSS - 1) / MSS));
	tso_coalesce_init(&co, buf);
	for (unsigned i = 0; i < c.n; i++) {
		uint8_t *p = c.pkt[i];

		assert_int_equal(addr_map_packet(&out, p, c.len[i]), ADDR_MAP_SRC);
		assert_int_equal(addr_map_packet(&in, p, c.len[i]), ADDR_MAP_DST);
		assert_int_equal(be32(p + 12), 0xac1e0001);
		assert_int_equal(be32(p + 16), 0x0a02000b);
		assert_true(tso_coalescable(p, c.len[i]));  /* every checksum verifies */
		assert_int_equal(tso_coalesce_add(&co, p, c.len[i]), 1);
	}
	tso_coalesce_finish(&co, &vh);
	assert_int_equal(vh.gso_type, VNET_GSO_TCPV4);
	assert_int_equal(be16(buf + 36), inet_checksum_fold(NULL, 0, pseudo(buf, co.len - 20)));
	again.n = 0;
	assert_int_equal(tso_segment(&vh, buf, co.len, scratch, sizeof scratch, collect, &again),
			 (int)c.n);
	for (unsigned i = 0; i < c.n; i++) {
		assert_int_equal(again.len[i], c.len[i]);
		assert_memory_equal(again.pkt[i], c.pkt[i], c.len[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vnet_codec),
		cmocka_unit_test(test_csum_matches_reference),
		cmocka_unit_test(test_segment_and_coalesce),
		cmocka_unit_test(test_segment_and_coalesce_ipv6),
		cmocka_unit_test(test_ipv6_refusals),
		cmocka_unit_test(test_partial_checksum_only),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_room_udp_partial_then_mapped),
		cmocka_unit_test(test_room_tcp_super_segment_mapped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
