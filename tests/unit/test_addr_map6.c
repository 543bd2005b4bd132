/* Unit tests for the 1:1 IPv6 address mapping (addr_map_packet6, common/data/addr_map.h).
 * Every checksum the mapping touches is recomputed from scratch over the mapped bytes:
 * TCP's, UDP's and ICMPv6's over their pseudo-header, and those of the packet an ICMPv6
 * error quotes. Rules keep host bits (also past a partial byte); extension headers are
 * walked; a later fragment changes addresses only; IPv4, broken packets and a routing
 * header with segments left are refused unchanged; random packets under random rules
 * all still verify and map back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr_map.h"
#include "err.h"
#include "pkt_bytes.h"

enum { P_HOP = 0, P_TCP = 6, P_UDP = 17, P_FRAG = 44, P_ROUTING = 43, P_ICMPV6 = 58 };

static void addr6(const char *text, uint8_t out[16])
{
	struct ip_addr a;

	assert_int_equal(ip_addr_parse(text, &a), 0);
	memcpy(out, a.bytes, 16);
}

static size_t csum_off(uint8_t proto)
{
	return proto == P_TCP ? 16 : proto == P_UDP ? 6 : 2;
}

/* The sum over the transport segment seg[0..n) of proto with the pseudo-header of ip. */
static uint16_t l4_sum(const uint8_t *ip, const uint8_t *seg, size_t n, uint8_t proto)
{
	uint32_t s = sum_bytes(ip + 8, 32, 0) + (uint32_t)n + proto;

	return fold(sum_bytes(seg, n, s));
}

static void seal_l4(const uint8_t *ip, uint8_t *seg, size_t n, uint8_t proto)
{
	put16(seg + csum_off(proto), 0);
	put16(seg + csum_off(proto), (uint16_t)~l4_sum(ip, seg, n, proto));
	if (proto == P_UDP && be16(seg + 6) == 0)
		put16(seg + 6, 0xffff);
}

/* An IPv6 packet of proto from src to dst: ext bytes of a hop-by-hop header first (0 or
 * 8), then the transport header and payload bytes. Returns the length; *l4 the offset. */
static size_t make6(uint8_t *ip, uint8_t proto, const char *src, const char *dst,
		    size_t payload, size_t ext, size_t *l4)
{
	size_t th = proto == P_TCP ? 20 : 8, len = 40 + ext + th + payload;
	uint8_t *seg = ip + 40 + ext;

	memset(ip, 0, len);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)(len - 40));
	ip[6] = ext ? P_HOP : proto;
	ip[7] = 64;
	addr6(src, ip + 8);
	addr6(dst, ip + 24);
	if (ext) {
		ip[40] = proto;
		ip[41] = (uint8_t)(ext / 8 - 1);
		ip[42] = 1;  /* PadN */
		ip[43] = (uint8_t)(ext - 4);
	}
	if (proto == P_ICMPV6) {
		seg[0] = 128;  /* echo request */
	} else {
		put16(seg, 40000);
		put16(seg + 2, 80);
		if (proto == P_UDP)
			put16(seg + 4, (uint16_t)(th + payload));
		else
			seg[12] = 0x50;
	}
	for (size_t i = 40 + ext + th; i < len; i++)
		ip[i] = (uint8_t)(i * 7 + 3);
	seal_l4(ip, seg, len - 40 - ext, proto);
	*l4 = 40 + ext;
	return len;
}

static void assert_l4_ok(const uint8_t *ip, size_t l4, size_t len, uint8_t proto)
{
	assert_int_equal(l4_sum(ip, ip + l4, len - l4, proto), 0xffff);
}

static struct addr_map_rule6 rule6(const char *from, const char *to)
{
	struct ip_prefix a, b;
	struct addr_map_rule6 r;

	assert_int_equal(ip_prefix_parse(from, true, &a), 0);
	assert_int_equal(ip_prefix_parse(to, true, &b), 0);
	assert_int_equal(addr_map_rule6_make(&r, &a, &b), 0);
	return r;
}

static void test_rule_and_translate(void **state)
{
	struct ip_prefix a, b, v4;
	struct addr_map_rule6 r[2], inv[2];
	uint8_t in[16], out[16], want[16];

	(void)state;
	assert_int_equal(ip_prefix_parse("fd01::/64", true, &a), 0);
	assert_int_equal(ip_prefix_parse("fd30::/60", true, &b), 0);
	assert_int_equal(addr_map_rule6_make(&r[0], &a, &b), INSEL_E_BAD_PREFIX);
	assert_int_equal(ip_prefix_parse("10.0.0.0/8", true, &v4), 0);
	assert_int_equal(addr_map_rule6_make(&r[0], &a, &v4), INSEL_E_BAD_PREFIX);
	b = a;
	b.addr.bytes[15] = 1;
	assert_int_equal(addr_map_rule6_make(&r[0], &a, &b), INSEL_E_HOST_BITS);

	r[0] = rule6("fd01::11/128", "fd30::1/128");
	r[1] = rule6("fd02:0:0:10::/60", "fd30:0:0:20::/60");
	addr6("fd01::11", in);
	addr6("fd30::1", want);
	assert_true(addr_map_translate6(r, 2, in, out));
	assert_memory_equal(out, want, 16);
	addr6("fd02:0:0:1f:1:2:3:4", in);  /* past the partial byte: host bits kept */
	addr6("fd30:0:0:2f:1:2:3:4", want);
	assert_true(addr_map_translate6(r, 2, in, out));
	assert_memory_equal(out, want, 16);
	addr6("fd02:0:0:20::1", in);
	assert_false(addr_map_translate6(r, 2, in, out));
	assert_memory_equal(out, in, 16);
	addr_map_rules6_invert(r, inv, 2);
	addr6("fd30::1", in);
	addr6("fd01::11", want);
	assert_true(addr_map_translate6(inv, 2, in, out));
	assert_memory_equal(out, want, 16);
}

/* TCP, UDP and ICMPv6 echo, with and without a hop-by-hop header: mapped, each
 * checksum right, the payload untouched. */
static void test_transports(void **state)
{
	static const uint8_t protos[] = {P_TCP, P_UDP, P_ICMPV6};
	struct addr_map_rule6 s = rule6("fd01::11/128", "fd30::1/128");
	struct addr_map_rule6 d = rule6("fd30::2/128", "fd02::11/128");
	struct addr_map6 m = {&s, 1, &d, 1};
	uint8_t pkt[600], want_src[16], want_dst[16];

	(void)state;
	addr6("fd30::1", want_src);
	addr6("fd02::11", want_dst);
	for (size_t i = 0; i < sizeof protos; i++) {
		for (size_t ext = 0; ext <= 8; ext += 8) {
			size_t l4, len = make6(pkt, protos[i], "fd01::11", "fd30::2", 333, ext, &l4);

			assert_int_equal(addr_map_packet6(&m, pkt, len), ADDR_MAP_SRC | ADDR_MAP_DST);
			assert_memory_equal(pkt + 8, want_src, 16);
			assert_memory_equal(pkt + 24, want_dst, 16);
			assert_l4_ok(pkt, l4, len, protos[i]);
		}
	}
}

/* Nothing matched: nothing changed; a zero UDP checksum stays zero. */
static void test_unchanged(void **state)
{
	struct addr_map_rule6 s = rule6("fd01::11/128", "fd30::1/128");
	struct addr_map6 m = {&s, 1, NULL, 0};
	uint8_t pkt[200], copy[200];
	size_t l4, len = make6(pkt, P_UDP, "fd01::12", "fd30::2", 20, 0, &l4);

	(void)state;
	memcpy(copy, pkt, len);
	assert_int_equal(addr_map_packet6(&m, pkt, len), 0);
	assert_memory_equal(pkt, copy, len);
	len = make6(pkt, P_UDP, "fd01::11", "fd30::2", 20, 0, &l4);
	put16(pkt + l4 + 6, 0);
	assert_int_equal(addr_map_packet6(&m, pkt, len), ADDR_MAP_SRC);
	assert_int_equal(be16(pkt + l4 + 6), 0);
}

/* A later fragment: addresses only; the first fragment's transport checksum updated. */
static void test_fragments(void **state)
{
	struct addr_map_rule6 s = rule6("fd01::/64", "fd30::/64");
	struct addr_map6 m = {&s, 1, NULL, 0};
	uint8_t pkt[200], copy[200];
	size_t l4, len = make6(pkt, P_UDP, "fd01::11", "fd02::11", 40, 0, &l4);

	(void)state;
	/* Insert a fragment header (offset 0, more fragments) before UDP. */
	memmove(pkt + 48, pkt + 40, len - 40);
	memset(pkt + 40, 0, 8);
	pkt[40] = P_UDP;
	pkt[43] = 1;
	pkt[6] = P_FRAG;
	len += 8;
	put16(pkt + 4, (uint16_t)(len - 40));
	assert_int_equal(addr_map_packet6(&m, pkt, len), ADDR_MAP_SRC);
	assert_l4_ok(pkt, 48, len, P_UDP);
	/* Offset 8 (a later fragment): the bytes after the header are left as they are. */
	len = make6(pkt, P_UDP, "fd01::11", "fd02::11", 40, 0, &l4);
	memmove(pkt + 48, pkt + 40, len - 40);
	memset(pkt + 40, 0, 8);
	pkt[40] = P_UDP;
	put16(pkt + 42, 8 << 3);
	pkt[6] = P_FRAG;
	len += 8;
	put16(pkt + 4, (uint16_t)(len - 40));
	memcpy(copy, pkt, len);
	assert_int_equal(addr_map_packet6(&m, pkt, len), ADDR_MAP_SRC);
	assert_memory_equal(pkt + 24, copy + 24, len - 24);
	assert_int_equal(pkt[8 + 1], 0x30);
}

/* An ICMPv6 error from the peer member about a packet our member sent from its room
 * address: the error's destination and the quote's source (that same room address) go
 * to the LAN address by the destination rules; each checksum right, also when the quote
 * is cut short. */
static void test_icmp6_error(void **state)
{
	/* In: to the member's room address fd30::1, mapped to its LAN address fd01::11. */
	struct addr_map_rule6 d = rule6("fd30::1/128", "fd01::11/128");
	struct addr_map6 m = {NULL, 0, &d, 1};
	uint8_t orig[300], pkt[400], want[16];
	size_t l4, olen = make6(orig, P_TCP, "fd30::1", "fd30::2", 100, 8, &l4);

	(void)state;
	for (int cut = 0; cut < 2; cut++) {
		size_t quote = cut ? olen - 90 : olen, len = 48 + quote;

		memset(pkt, 0, 48);
		pkt[0] = 0x60;
		put16(pkt + 4, (uint16_t)(len - 40));
		pkt[6] = P_ICMPV6;
		pkt[7] = 64;
		addr6("fd30::2", pkt + 8);
		addr6("fd30::1", pkt + 24);
		pkt[40] = 1;  /* destination unreachable */
		memcpy(pkt + 48, orig, quote);
		seal_l4(pkt, pkt + 40, len - 40, P_ICMPV6);
		assert_int_equal(addr_map_packet6(&m, pkt, len), ADDR_MAP_DST | ADDR_MAP_INNER);
		addr6("fd01::11", want);
		assert_memory_equal(pkt + 24, want, 16);
		assert_memory_equal(pkt + 48 + 8, want, 16);  /* the quote's source */
		assert_l4_ok(pkt, 40, len, P_ICMPV6);
		if (quote == olen)
			assert_l4_ok(pkt + 48, l4, olen, P_TCP);
	}
}

static void test_refused(void **state)
{
	struct addr_map_rule6 s = rule6("fd01::/64", "fd30::/64");
	struct addr_map6 m = {&s, 1, NULL, 0};
	uint8_t pkt[200], copy[200];
	size_t l4, len = make6(pkt, P_UDP, "fd01::11", "fd02::11", 40, 0, &l4);

	(void)state;
	memcpy(copy, pkt, len);
	assert_int_equal(addr_map_packet6(&m, pkt, 30), INSEL_E_TRUNCATED);
	assert_int_equal(addr_map_packet6(&m, pkt, len - 1), INSEL_E_TRUNCATED);
	pkt[0] = 0x45;
	assert_int_equal(addr_map_packet6(&m, pkt, len), INSEL_E_VERSION);
	pkt[0] = 0x70;
	assert_int_equal(addr_map_packet6(&m, pkt, len), INSEL_E_MALFORMED);
	pkt[0] = 0x60;
	assert_memory_equal(pkt, copy, len);
	/* A routing header with a segment left. */
	memmove(pkt + 48, pkt + 40, len - 40);
	memset(pkt + 40, 0, 8);
	pkt[40] = P_UDP;
	pkt[43] = 1;
	pkt[6] = P_ROUTING;
	len += 8;
	put16(pkt + 4, (uint16_t)(len - 40));
	memcpy(copy, pkt, len);
	assert_int_equal(addr_map_packet6(&m, pkt, len), INSEL_E_MALFORMED);
	assert_memory_equal(pkt, copy, len);
}

/* Random prefixes and packets: every mapped packet still verifies, and the inverted
 * rules give back the original bytes. */
static void test_random(void **state)
{
	static const uint8_t protos[] = {P_TCP, P_UDP, P_ICMPV6};
	uint8_t pkt[1500], copy[1500];

	(void)state;
	srand(6);
	for (int n = 0; n < 5000; n++) {
		struct ip_prefix a, b;
		struct addr_map_rule6 s, d, is, id;
		struct addr_map6 m = {&s, 1, &d, 1}, back = {&is, 1, &id, 1};
		uint8_t proto = protos[rand() % 3];
		size_t l4, len = make6(pkt, proto, "fd01::11", "fd30::2", (size_t)(rand() % 1400),
				       (size_t)(rand() % 2) * 8, &l4);

		for (int k = 0; k < 2; k++) {
			uint8_t plen = (uint8_t)(rand() % 129);

			assert_int_equal(ip_prefix_parse(k ? "fd30::2/128" : "fd01::11/128", false, &a), 0);
			for (int i = 0; i < 16; i++)
				a.addr.bytes[i] = (uint8_t)(a.addr.bytes[i] &
					(i * 8 >= plen ? 0 : i * 8 + 8 <= plen ? 0xff : 0xff << (8 - plen % 8)));
			a.len = plen;
			b = a;
			for (int i = 0; i < 16; i++)
				b.addr.bytes[i] = (uint8_t)(rand() &
					(i * 8 >= plen ? 0 : i * 8 + 8 <= plen ? 0xff : 0xff << (8 - plen % 8)));
			assert_int_equal(addr_map_rule6_make(k ? &d : &s, &a, &b), 0);
		}
		addr_map_rules6_invert(&s, &is, 1);
		addr_map_rules6_invert(&d, &id, 1);
		memcpy(copy, pkt, len);
		assert_int_equal(addr_map_packet6(&m, pkt, len), ADDR_MAP_SRC | ADDR_MAP_DST);
		assert_l4_ok(pkt, l4, len, proto);
		assert_int_equal(addr_map_packet6(&back, pkt, len), ADDR_MAP_SRC | ADDR_MAP_DST);
		/* Back to the same addresses; a checksum may come back as its other zero. */
		assert_memory_equal(pkt + 8, copy + 8, 32);
		assert_l4_ok(pkt, l4, len, proto);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_and_translate),
		cmocka_unit_test(test_transports),
		cmocka_unit_test(test_unchanged),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_icmp6_error),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
