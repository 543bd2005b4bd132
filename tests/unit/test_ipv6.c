/* Unit tests for IPv6 packets in network calls (auxiliary/ipv6.h): the header parser (fixed
 * header, extension headers walked to the upper layer, fragments, truncation, a bound on
 * the walk), prefix membership, and "packet too big" with its checksum over the
 * pseudo-header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "addr.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_plain),
		cmocka_unit_test(test_parse_extensions),
		cmocka_unit_test(test_parse_chain_bounded),
		cmocka_unit_test(test_parse_fragments),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_packet_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
