/* Unit tests for IPv6 packets in network calls (auxiliary/ipv6.h): the header parser (fixed
 * header, extension headers walked to the upper layer, fragments, truncation, a bound on
 * the walk), prefix membership, and "packet too big" with its checksum over the
 * pseudo-header; and a room's IPv6 multicast datagrams (auxiliary/cast6.h): which are
 * carried, the source rewritten with the UDP checksum in full, the group's Ethernet
 * address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "addr.h"
#include "cast6.h"
#include "err.h"
#include "ipv6.h"

static const uint8_t A1[16] = {0xfd, 0x01, [15] = 0x11};
static const uint8_t B1[16] = {0xfd, 0x02, [15] = 0x11};
static const uint8_t GW[16] = {0xfd, 0x01, [15] = 0x01};

/* An IPv6 packet from src to dst: header, then the given payload. */
static size_t build(uint8_t *out, uint8_t next, const uint8_t *src, const uint8_t *dst,
		    const uint8_t *payload, size_t len)
{
	memset(out, 0, 40);
	out[0] = 0x60;
	out[4] = (uint8_t)(len >> 8);
	out[5] = (uint8_t)len;
	out[6] = next;
	out[7] = 64;
	memcpy(out + 8, src, 16);
	memcpy(out + 24, dst, 16);
	memcpy(out + 40, payload, len);
	return 40 + len;
}

static void test_parse_plain(void **state)
{
	uint8_t pkt[128], echo[16] = {128, 0};
	struct ipv6_info ip;
	size_t n = build(pkt, IPV6_PROTO_ICMPV6, A1, B1, echo, sizeof echo);

	(void)state;
	assert_int_equal(ipv6_parse(pkt, n + 7, &ip), 0);  /* trailing bytes: not ours */
	assert_int_equal(ip.total_len, n);
	assert_int_equal(ip.proto, IPV6_PROTO_ICMPV6);
	assert_int_equal(ip.hop_limit, 64);
	assert_false(ip.icmp_error);
	assert_memory_equal(ip.src, A1, 16);
	assert_memory_equal(ip.dst, B1, 16);
	assert_int_equal(ipv6_parse(pkt, n - 1, &ip), INSEL_E_TRUNCATED);
	assert_int_equal(ipv6_parse(pkt, 39, &ip), INSEL_E_TRUNCATED);
	pkt[0] = 0x45;
	assert_int_equal(ipv6_parse(pkt, n, &ip), INSEL_E_MALFORMED);
}

static void test_parse_extensions(void **state)
{
	/* hop-by-hop (8 bytes) -> destination options (16 bytes) -> UDP */
	uint8_t payload[64] = {IPV6_PROTO_DSTOPTS, 0, [8] = 17, [9] = 1}, pkt[128];
	struct ipv6_info ip;
	size_t n = build(pkt, IPV6_PROTO_HOPOPTS, A1, B1, payload, 8 + 16 + 8);

	(void)state;
	assert_int_equal(ipv6_parse(pkt, n, &ip), 0);
	assert_int_equal(ip.proto, 17);
	/* the options run past the payload */
	n = build(pkt, IPV6_PROTO_HOPOPTS, A1, B1, payload, 12);
	assert_int_equal(ipv6_parse(pkt, n, &ip), INSEL_E_MALFORMED);
}

static void test_parse_chain_bounded(void **state)
{
	uint8_t payload[8 * (IPV6_EXT_MAX + 1)] = {0}, pkt[40 + sizeof payload];
	struct ipv6_info ip;
	size_t n;

	(void)state;
	/* every header says "another hop-by-hop header follows" */
	n = build(pkt, IPV6_PROTO_HOPOPTS, A1, B1, payload, sizeof payload);
	assert_int_equal(ipv6_parse(pkt, n, &ip), INSEL_E_MALFORMED);
}

static void test_parse_fragments(void **state)
{
	uint8_t first[16] = {IPV6_PROTO_ICMPV6, 0, 0, 1, 0, 0, 0, 9, 1, 4},
		later[16] = {IPV6_PROTO_ICMPV6, 0, 0, 0x10, 0, 0, 0, 9}, pkt[128];
	struct ipv6_info ip;
	size_t n = build(pkt, IPV6_PROTO_FRAGMENT, A1, B1, first, sizeof first);

	(void)state;
	assert_int_equal(ipv6_parse(pkt, n, &ip), 0);
	assert_int_equal(ip.proto, IPV6_PROTO_ICMPV6);
	assert_true(ip.icmp_error);  /* destination unreachable in the first fragment */
	assert_false(ip.later_fragment);
	n = build(pkt, IPV6_PROTO_FRAGMENT, A1, B1, later, sizeof later);
	assert_int_equal(ipv6_parse(pkt, n, &ip), 0);
	assert_true(ip.later_fragment);
	assert_false(ip.icmp_error);
}

static void test_prefixes(void **state)
{
	struct ip_prefix p[2];
	uint8_t other[16] = {0xfd, 0x01, 0, 1, [15] = 1};

	(void)state;
	assert_int_equal(ip_prefix_parse("10.1.0.0/24", true, &p[0]), 0);
	assert_int_equal(ip_prefix_parse("fd01::/64", true, &p[1]), 0);
	assert_true(ipv6_in_prefixes(A1, p, 2));
	assert_false(ipv6_in_prefixes(B1, p, 2));
	assert_false(ipv6_in_prefixes(other, p, 2));
	assert_false(ipv6_in_prefixes(A1, p, 1));  /* IPv4 prefixes never match */
	assert_int_equal(ip_prefix_parse("fd01::10/127", true, &p[1]), 0);
	assert_true(ipv6_in_prefixes(A1, p, 2));
	assert_int_equal(ip_prefix_parse("fd01::12/127", true, &p[1]), 0);
	assert_false(ipv6_in_prefixes(A1, p, 2));
	assert_int_equal(ip_prefix_parse("::/0", true, &p[1]), 0);
	assert_true(ipv6_in_prefixes(B1, p, 2));
}

static void test_packet_too_big(void **state)
{
	static uint8_t pkt[1500], out[ICMPV6_ERROR_MAX + 100];
	uint8_t payload[1460] = {17};
	struct ipv6_info ip, back;
	size_t n = build(pkt, 17, A1, B1, payload, sizeof payload), m;

	(void)state;
	assert_int_equal(ipv6_parse(pkt, n, &ip), 0);
	m = icmpv6_build_error(out, sizeof out, pkt, n, &ip, GW, ICMPV6_PACKET_TOO_BIG, 0,
			       1440);
	assert_int_equal(m, IPV6_MIN_MTU);
	assert_int_equal(ipv6_parse(out, m, &back), 0);
	assert_true(back.icmp_error);
	assert_memory_equal(back.src, GW, 16);
	assert_memory_equal(back.dst, A1, 16);
	assert_int_equal(out[40], ICMPV6_PACKET_TOO_BIG);
	assert_int_equal(out[44] << 24 | out[45] << 16 | out[46] << 8 | out[47], 1440);
	assert_memory_equal(out + 48, pkt, m - 48);
	assert_int_equal(icmpv6_checksum(GW, A1, out + 40, m - 40), 0);
	/* never an error about an error, nor to a multicast source */
	assert_int_equal(icmpv6_build_error(out, sizeof out, out, m, &back, GW,
					    ICMPV6_PACKET_TOO_BIG, 0, 1440), 0);
	ip.src[0] = 0xff;
	assert_int_equal(icmpv6_build_error(out, sizeof out, pkt, n, &ip, GW,
					    ICMPV6_PACKET_TOO_BIG, 0, 1440), 0);
}

static const uint8_t LL_B1[16] = {0xfe, 0x80, [8] = 0x02, [15] = 0xb1};
static const uint8_t MDNS6[16] = {0xff, 0x02, [15] = 0xfb};
static const uint8_t ROOM_B1[16] = {0xfd, 0x30, [15] = 0x02};

/* An mDNS query from b1's link-local address to ff02::fb, with only the pseudo-header's
 * sum in its checksum field (what a host with checksum offload hands its device). */
static size_t mdns_query(uint8_t *pkt, const uint8_t *src, const uint8_t *dst)
{
	uint8_t udp[8 + 23] = {0x14, 0xe9, 0x14, 0xe9, 0, sizeof udp, 0x12, 0x34,
			       [13] = 1, [20] = 4, 'g', 'a', 'm', 'e'};

	return build(pkt, 17, src, dst, udp, sizeof udp);
}

/* The UDP checksum over the IPv6 pseudo-header, written out anew: 0 over a right one. */
static uint16_t reference_sum(const uint8_t *pkt, size_t len)
{
	uint32_t sum = (uint32_t)(len - 40) + 17;

	for (size_t i = 8; i < len; i += 2)
		sum += (uint32_t)pkt[i] << 8 | (i + 1 < len ? pkt[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void test_cast6_parse(void **state)
{
	static const uint8_t interface_local[16] = {0xff, 0x01, [15] = 1};
	static const uint8_t dhcp6[16] = {0xff, 0x02, [13] = 1, [15] = 2};
	static const uint8_t ripng[16] = {0xff, 0x02, [15] = 9};
	static const uint8_t ssdp_site[16] = {0xff, 0x05, [15] = 0x0c};
	uint8_t pkt[128];
	struct cast6_info ip;
	size_t n = mdns_query(pkt, LL_B1, MDNS6);

	(void)state;
	assert_int_equal(cast6_parse(pkt, n + 6, &ip), 0);  /* an Ethernet frame's padding */
	assert_int_equal(ip.total_len, n);
	assert_int_equal(ip.src_port, 5353);
	assert_int_equal(ip.dst_port, 5353);
	assert_memory_equal(ip.src, LL_B1, 16);
	assert_true(cast6_link_local(ip.src));
	assert_false(cast6_link_local(A1));
	assert_int_equal(cast6_parse(pkt, n - 1, &ip), INSEL_E_TRUNCATED);
	assert_int_equal(cast6_parse(pkt, 47, &ip), INSEL_E_TRUNCATED);
	pkt[45] ^= 1;  /* a UDP length other than the payload's */
	assert_int_equal(cast6_parse(pkt, n, &ip), INSEL_E_MALFORMED);
	pkt[45] ^= 1;
	pkt[6] = IPV6_PROTO_HOPOPTS;  /* UDP only right after the fixed header */
	assert_int_equal(cast6_parse(pkt, n, &ip), INSEL_E_MALFORMED);
	pkt[6] = 17;
	pkt[0] = 0x45;
	assert_int_equal(cast6_parse(pkt, n, &ip), INSEL_E_MALFORMED);
	/* Groups: link scope and wider, but not the network's machinery; a unicast source. */
	assert_int_equal(cast6_parse(pkt, mdns_query(pkt, LL_B1, B1), &ip), INSEL_E_MALFORMED);
	assert_int_equal(cast6_parse(pkt, mdns_query(pkt, LL_B1, interface_local), &ip),
			 INSEL_E_MALFORMED);
	assert_int_equal(cast6_parse(pkt, mdns_query(pkt, LL_B1, dhcp6), &ip), INSEL_E_MALFORMED);
	assert_int_equal(cast6_parse(pkt, mdns_query(pkt, LL_B1, ripng), &ip), INSEL_E_MALFORMED);
	assert_int_equal(cast6_parse(pkt, mdns_query(pkt, LL_B1, ssdp_site), &ip), 0);
	assert_int_equal(cast6_parse(pkt, mdns_query(pkt, MDNS6, MDNS6), &ip), INSEL_E_MALFORMED);
	assert_int_equal(cast6_parse(pkt, mdns_query(pkt, (uint8_t[16]){0}, MDNS6), &ip),
			 INSEL_E_MALFORMED);
}

/* The routers' and gateways' own groups stay on their link; all nodes, mDNS, SSDP and
 * LLMNR next to them are carried. */
static void test_cast6_routing_groups(void **state)
{
	static const uint32_t machinery[] = {2, 5, 6, 9, 0xd, 0x12, 0x66, 0x10006};
	static const uint32_t carried[] = {1, 0xfb, 0xc, 0x10003};
	uint8_t group[16] = {0xff, 0x02};

	(void)state;
	for (size_t i = 0; i < sizeof machinery / sizeof machinery[0]; i++) {
		group[13] = (uint8_t)(machinery[i] >> 16);
		group[14] = (uint8_t)(machinery[i] >> 8);
		group[15] = (uint8_t)machinery[i];
		assert_false(cast6_group_carried(group));
	}
	for (size_t i = 0; i < sizeof carried / sizeof carried[0]; i++) {
		group[13] = (uint8_t)(carried[i] >> 16);
		group[14] = (uint8_t)(carried[i] >> 8);
		group[15] = (uint8_t)carried[i];
		assert_true(cast6_group_carried(group));
	}
}

static void test_cast6_set_source(void **state)
{
	uint8_t pkt[128], mac[6];
	struct cast6_info ip;
	size_t n = mdns_query(pkt, LL_B1, MDNS6);

	(void)state;
	assert_int_equal(cast6_parse(pkt, n, &ip), 0);
	assert_false(cast6_checksum_ok(pkt, &ip));  /* only a partial sum */
	cast6_set_source(pkt, &ip, ROOM_B1);
	assert_memory_equal(pkt + 8, ROOM_B1, 16);
	assert_memory_equal(ip.src, ROOM_B1, 16);
	assert_true(cast6_checksum_ok(pkt, &ip));
	assert_int_equal(reference_sum(pkt, n), 0);
	assert_int_equal(cast6_parse(pkt, n, &ip), 0);
	pkt[n - 1] ^= 0x40;
	assert_false(cast6_checksum_ok(pkt, &ip));
	cast6_group_mac(MDNS6, mac);
	assert_memory_equal(mac, ((uint8_t[6]){0x33, 0x33, 0, 0, 0, 0xfb}), 6);
}

/* Which member sent a frame: by its link-layer address, then by its source. */
static void test_cast6_member_of(void **state)
{
	struct addr_map_rule6 members[3] = {{.from = {0xfd, 0x02, [15] = 0x11}},
					    {.from = {0xfd, 0x02, [15] = 0x12}},
					    {.from = {0xfd, 0x02, [15] = 0x13}}};
	const uint8_t macs[3][6] = {{2, 0, 0, 0, 0, 0x11}, {2, 0, 0, 0, 0, 0x12},
				    {2, 0, 0, 0, 0, 0x12}};  /* 1 and 2: behind one router */
	const uint8_t privacy[16] = {0xfd, 0x02, [8] = 0x5a, [15] = 0x77};

	(void)state;
	/* Member 0's host, from its link-local address or its own LAN address. */
	assert_int_equal(cast6_member_of(members, 3, macs, 7, LL_B1, macs[0]), 0);
	assert_int_equal(cast6_member_of(members, 3, macs, 7, members[0].from, macs[0]), 0);
	/* Another of its addresses, another member's, or a frame of no member's host. */
	assert_int_equal(cast6_member_of(members, 3, macs, 7, privacy, macs[0]), -1);
	assert_int_equal(cast6_member_of(members, 3, macs, 7, members[1].from, macs[0]), -1);
	assert_int_equal(cast6_member_of(members, 3, macs, 7, LL_B1,
					 (uint8_t[6]){2, 0, 0, 0, 0, 0x99}), -1);
	/* One address for two members: only from a member's own LAN address. */
	assert_int_equal(cast6_member_of(members, 3, macs, 7, LL_B1, macs[1]), -1);
	assert_int_equal(cast6_member_of(members, 3, macs, 7, members[2].from, macs[1]), 2);
	/* Known only where the table knew it (bit j); then member 1 alone has it. */
	assert_int_equal(cast6_member_of(members, 3, macs, 1, LL_B1, macs[0]), 0);
	assert_int_equal(cast6_member_of(members, 3, macs, 6 & ~4u, LL_B1, macs[1]), 1);
	assert_int_equal(cast6_member_of(members, 3, macs, 0, members[0].from, macs[0]), -1);
}

/* A member's host as the neighbour table said it: what a reading has replaces what was
 * kept, what it no longer has (an idle host's entry dropped) is kept, and the two
 * addresses answering from different link-layer addresses make neither count. */
static void test_cast6_host_mac(void **state)
{
	const uint8_t m1[6] = {2, 0, 0, 0, 0, 0x11}, m2[6] = {2, 0, 0, 0, 0, 0x22};
	struct cast6_host_macs kept = {0}, none = {0}, six = {.known6 = true},
			       four = {.known4 = true};
	uint8_t mac[6];

	(void)state;
	memcpy(six.mac6, m1, 6);
	memcpy(four.mac4, m1, 6);
	assert_false(cast6_host_mac(&kept, &none, mac));
	assert_true(cast6_host_mac(&kept, &four, mac));
	assert_memory_equal(mac, m1, 6);
	assert_true(cast6_host_mac(&kept, &six, mac));
	assert_memory_equal(mac, m1, 6);
	/* The kernel dropped both entries: the host's last answer stands. */
	memset(mac, 0, sizeof mac);
	assert_true(cast6_host_mac(&kept, &none, mac));
	assert_memory_equal(mac, m1, 6);
	/* Its IPv4 address now answers from another link-layer address: neither counts,
	 * whether the IPv6 entry is in the reading or only kept. */
	memcpy(four.mac4, m2, 6);
	assert_false(cast6_host_mac(&kept, &four, mac));
	assert_false(cast6_host_mac(&kept, &none, mac));
	/* Until the IPv6 address answers from it too. */
	memcpy(six.mac6, m2, 6);
	assert_true(cast6_host_mac(&kept, &six, mac));
	assert_memory_equal(mac, m2, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_plain),
		cmocka_unit_test(test_parse_extensions),
		cmocka_unit_test(test_parse_chain_bounded),
		cmocka_unit_test(test_parse_fragments),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_packet_too_big),
		cmocka_unit_test(test_cast6_parse),
		cmocka_unit_test(test_cast6_routing_groups),
		cmocka_unit_test(test_cast6_set_source),
		cmocka_unit_test(test_cast6_member_of),
		cmocka_unit_test(test_cast6_host_mac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
