/* Unit tests for the 1:1 IPv4 address mapping (common/data/addr_map.h). Every checksum the
 * mapping touches is checked by recomputing it from scratch over the mapped bytes: the
 * IPv4 header's, TCP's and UDP's over their pseudo-header, ICMP's over the whole message,
 * and those of a header an ICMP error quotes. Prefix rules keep host bits; a zero UDP
 * checksum stays zero; non-first fragments change addresses only; IPv6 and broken packets
 * are refused unchanged; random packets under random rules all still verify. */
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

enum { PROTO_ICMP = 1, PROTO_TCP = 6, PROTO_UDP = 17 };

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

/* ---- checksums from scratch ---- */

static size_t hlen(const uint8_t *ip)
{
	return (size_t)(ip[0] & 15) * 4;
}

/* The sum of the transport segment ip[hlen..len) with its pseudo-header. */
static uint16_t l4_sum(const uint8_t *ip, size_t len)
{
	uint32_t s = sum_bytes(ip + 12, 8, 0) + ip[9] + (uint32_t)(len - hlen(ip));

	return fold(sum_bytes(ip + hlen(ip), len - hlen(ip), s));
}

static size_t l4_csum_off(uint8_t proto)
{
	return proto == PROTO_TCP ? 16 : proto == PROTO_UDP ? 6 : 2;
}

/* Fills in the checksums of a packet whose fields are set: transport (or ICMP), then
 * header. For a quoted header inside an ICMP error, call on the quote first. */
static void seal(uint8_t *ip, size_t len, bool udp_zero)
{
	size_t l4 = hlen(ip), off = l4_csum_off(ip[9]);

	if (!(be16(ip + 6) & 0x1fff) && len >= l4 + off + 2) {
		put16(ip + l4 + off, 0);
		if (ip[9] == PROTO_ICMP)
			put16(ip + l4 + off, (uint16_t)~fold(sum_bytes(ip + l4, len - l4, 0)));
		else if (!(ip[9] == PROTO_UDP && udp_zero))
			put16(ip + l4 + off, (uint16_t)~l4_sum(ip, len));
		if (ip[9] == PROTO_UDP && !udp_zero && be16(ip + l4 + off) == 0)
			put16(ip + l4 + off, 0xffff);
	}
	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~fold(sum_bytes(ip, l4, 0)));
}

static void assert_header_ok(const uint8_t *ip)
{
	assert_int_equal(fold(sum_bytes(ip, hlen(ip), 0)), 0xffff);
}

/* The whole packet's checksums verify (from scratch). */
static void assert_packet_ok(const uint8_t *ip, size_t len)
{
	size_t l4 = hlen(ip);

	assert_header_ok(ip);
	if (be16(ip + 6) & 0x1fff)
		return;
	if (ip[9] == PROTO_TCP)
		assert_int_equal(l4_sum(ip, len), 0xffff);
	else if (ip[9] == PROTO_UDP && be16(ip + l4 + 6) != 0)
		assert_int_equal(l4_sum(ip, len), 0xffff);
	else if (ip[9] == PROTO_ICMP)
		assert_int_equal(fold(sum_bytes(ip + l4, len - l4, 0)), 0xffff);
}

/* An IPv4 packet of proto from src to dst with payload bytes after a transport header of
 * the protocol's size; options adds 4-byte words of IP options. Checksums sealed. */
static size_t make(uint8_t *ip, uint8_t proto, uint32_t src, uint32_t dst, size_t payload,
		   size_t options, bool udp_zero)
{
	size_t h = 20 + 4 * options, th = proto == PROTO_TCP ? 20 : 8, len = h + th + payload;

	memset(ip, 0, len);
	ip[0] = (uint8_t)(0x40 | (h / 4));
	put16(ip + 2, (uint16_t)len);
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	for (size_t i = 20; i < h; i++)
		ip[i] = 1;  /* NOP options */
	if (proto == PROTO_ICMP) {
		ip[h] = 8;  /* echo request */
		put16(ip + h + 4, 0x77);
	} else {
		put16(ip + h, 40000);
		put16(ip + h + 2, 80);
		if (proto == PROTO_UDP)
			put16(ip + h + 4, (uint16_t)(th + payload));
		else
			ip[h + 12] = 0x50;
	}
	for (size_t i = h + th; i < len; i++)
		ip[i] = (uint8_t)(i * 7 + 3);
	seal(ip, len, udp_zero);
	assert_packet_ok(ip, len);
	return len;
}

/* An ICMP error of type/code from src to dst quoting quote_len bytes of orig. */
static size_t make_error(uint8_t *ip, uint8_t type, uint32_t src, uint32_t dst,
			 const uint8_t *orig, size_t quote_len)
{
	size_t len = 20 + 8 + quote_len;

	memset(ip, 0, 28);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)len);
	ip[8] = 64;
	ip[9] = PROTO_ICMP;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	ip[20] = type;
	ip[21] = type == 3 ? 4 : 0;
	put16(ip + 26, type == 3 ? 1400 : 0);
	memcpy(ip + 28, orig, quote_len);
	seal(ip, len, false);
	assert_packet_ok(ip, len);
	return len;
}

static struct addr_map_rule rule(uint32_t from, uint32_t to, uint8_t len)
{
	struct addr_map_rule r = {from, to, len};

	return r;
}

/* ---- tests ---- */

static void test_rule_make(void **state)
{
	struct ip_prefix a, b, c, d, v6;
	struct addr_map_rule r;

	(void)state;
	assert_int_equal(ip_prefix_parse("192.168.1.0/24", true, &a), 0);
	assert_int_equal(ip_prefix_parse("10.99.1.0/24", true, &b), 0);
	assert_int_equal(ip_prefix_parse("10.99.0.0/16", true, &c), 0);
	assert_int_equal(ip_prefix_parse("fd00::/64", true, &v6), 0);
	assert_int_equal(addr_map_rule_make(&r, &a, &b), 0);
	assert_int_equal(r.from, A(192, 168, 1, 0));
	assert_int_equal(r.to, A(10, 99, 1, 0));
	assert_int_equal(r.len, 24);
	assert_int_equal(addr_map_rule_make(&r, &a, &c), INSEL_E_BAD_PREFIX);
	assert_int_equal(addr_map_rule_make(&r, &v6, &v6), INSEL_E_BAD_PREFIX);
	d = a;
	d.addr.bytes[3] = 5;  /* 192.168.1.5/24 */
	assert_int_equal(addr_map_rule_make(&r, &d, &b), INSEL_E_HOST_BITS);
}

static void test_translate(void **state)
{
	struct addr_map_rule rs[3] = {
		rule(A(192, 168, 1, 9), A(172, 30, 0, 2), 32),
		rule(A(192, 168, 1, 0), A(10, 99, 1, 0), 24),
		rule(0, 0, 0),  /* never reached for 192.168.1.x */
	}, inv[3];
	uint32_t out;

	(void)state;
	assert_true(addr_map_translate(rs, 2, A(192, 168, 1, 200), &out));
	assert_int_equal(out, A(10, 99, 1, 200));
	assert_true(addr_map_translate(rs, 2, A(192, 168, 1, 9), &out));
	assert_int_equal(out, A(172, 30, 0, 2));  /* first match wins */
	assert_false(addr_map_translate(rs, 2, A(192, 168, 2, 1), &out));
	assert_int_equal(out, A(192, 168, 2, 1));
	assert_true(addr_map_translate(rs, 3, A(8, 8, 8, 8), &out));  /* /0 holds all */
	assert_int_equal(out, A(8, 8, 8, 8));
	addr_map_rules_invert(rs, inv, 2);
	assert_true(addr_map_translate(inv, 2, A(10, 99, 1, 77), &out));
	assert_int_equal(out, A(192, 168, 1, 77));
}

/* Source and destination prefixes, for TCP, UDP and ICMP echo, with and without IP
 * options, odd and even payload lengths. */
static void test_transports(void **state)
{
	struct addr_map_rule s = rule(A(192, 168, 1, 0), A(10, 99, 1, 0), 24);
	struct addr_map_rule d = rule(A(10, 99, 2, 0), A(192, 168, 1, 0), 24);
	struct addr_map m = {&s, 1, &d, 1};
	uint8_t protos[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP};
	uint8_t pkt[1600];

	(void)state;
	for (size_t p = 0; p < 3; p++)
		for (size_t opt = 0; opt < 3; opt += 2)
			for (size_t pl = 0; pl < 40; pl += 13) {
				size_t len = make(pkt, protos[p], A(192, 168, 1, 7),
						  A(10, 99, 2, 9), pl, opt, false);
				assert_int_equal(addr_map_packet(&m, pkt, len),
						 ADDR_MAP_SRC | ADDR_MAP_DST);
				assert_int_equal(be32(pkt + 12), A(10, 99, 1, 7));
				assert_int_equal(be32(pkt + 16), A(192, 168, 1, 9));
				assert_packet_ok(pkt, len);
			}
}

static void test_no_match_unchanged(void **state)
{
	struct addr_map_rule s = rule(A(192, 168, 1, 0), A(10, 99, 1, 0), 24);
	struct addr_map m = {&s, 1, NULL, 0};
	uint8_t pkt[200], copy[200];
	size_t len = make(pkt, PROTO_TCP, A(192, 168, 2, 7), A(192, 168, 1, 9), 11, 0, false);

	(void)state;
	memcpy(copy, pkt, len);
	assert_int_equal(addr_map_packet(&m, pkt, len), 0);
	assert_memory_equal(pkt, copy, len);
	/* The destination alone is never looked up in the source rules. */
}

static void test_udp_zero_checksum(void **state)
{
	struct addr_map_rule s = rule(A(192, 168, 1, 0), A(10, 99, 1, 0), 24);
	struct addr_map m = {&s, 1, NULL, 0};
	uint8_t pkt[200];
	size_t len = make(pkt, PROTO_UDP, A(192, 168, 1, 7), A(10, 99, 2, 9), 21, 0, true);

	(void)state;
	assert_int_equal(be16(pkt + 26), 0);
	assert_int_equal(addr_map_packet(&m, pkt, len), ADDR_MAP_SRC);
	assert_int_equal(be16(pkt + 26), 0);
	assert_packet_ok(pkt, len);
}

/* A UDP checksum the update would make zero is sent as 0xffff (zero means none). Each
 * new source gives another checksum; one of them lands there. */
static void test_udp_checksum_never_becomes_zero(void **state)
{
	uint8_t pkt[200];
	bool seen = false;

	(void)state;
	for (uint32_t host = 0; host < 65536 && !seen; host++) {
		struct addr_map_rule s = rule(A(10, 0, 0, 1), A(10, 1, 0, 0) | host, 32);
		struct addr_map m = {&s, 1, NULL, 0};
		size_t len = make(pkt, PROTO_UDP, A(10, 0, 0, 1), A(10, 2, 0, 1), 4, 0, false);

		assert_int_equal(addr_map_packet(&m, pkt, len), ADDR_MAP_SRC);
		assert_int_not_equal(be16(pkt + 26), 0);
		assert_packet_ok(pkt, len);
		seen = be16(pkt + 26) == 0xffff;
	}
	assert_true(seen);
}

static void test_non_first_fragment(void **state)
{
	struct addr_map_rule s = rule(A(192, 168, 1, 0), A(10, 99, 1, 0), 24);
	struct addr_map m = {&s, 1, NULL, 0};
	uint8_t pkt[200], copy[200];
	size_t len = make(pkt, PROTO_TCP, A(192, 168, 1, 7), A(10, 99, 2, 9), 40, 0, false);

	(void)state;
	put16(pkt + 6, 0x2000 | 185);  /* MF, offset 1480 */
	seal(pkt, len, false);
	memcpy(copy, pkt, len);
	assert_int_equal(addr_map_packet(&m, pkt, len), ADDR_MAP_SRC);
	assert_header_ok(pkt);
	/* Payload bytes (that look like a TCP header) untouched. */
	assert_memory_equal(pkt + 20, copy + 20, len - 20);
}

/* A first fragment (MF set, offset 0) still carries the transport checksum over the
 * whole datagram: it is updated by the same difference. */
static void test_first_fragment(void **state)
{
	struct addr_map_rule s = rule(A(192, 168, 1, 0), A(10, 99, 1, 0), 24);
	struct addr_map m = {&s, 1, NULL, 0};
	uint8_t pkt[200], orig[200];
	size_t len = make(pkt, PROTO_UDP, A(192, 168, 1, 7), A(10, 99, 2, 9), 40, 0, false);
	size_t cut = 20 + 24;
	uint16_t before;

	(void)state;
	memcpy(orig, pkt, len);
	assert_int_equal(addr_map_packet(&m, orig, len), ADDR_MAP_SRC);  /* reference */
	before = be16(orig + 26);
	put16(pkt + 6, 0x2000);
	put16(pkt + 2, (uint16_t)cut);
	seal(pkt, 20, false);  /* header only: the UDP checksum stays the datagram's */
	assert_int_equal(addr_map_packet(&m, pkt, cut), ADDR_MAP_SRC);
	assert_header_ok(pkt);
	assert_int_equal(be16(pkt + 26), before);
}

/* An ICMP error quoting a packet that went the other way: outer destination and quoted
 * source are the same host, mapped by the destination rules. */
static void check_error_about(uint8_t proto, size_t quote_extra, bool udp_zero)
{
	/* Reply direction at LAN B's gateway: B's hosts 192.168.1.0/24 -> 10.99.2.0/24;
	 * A's mapped prefix 10.99.1.0/24 stays. The quoted packet went 10.99.1.7 ->
	 * 192.168.1.9 (after B's gateway mapped its destination). */
	struct addr_map_rule s = rule(A(192, 168, 1, 0), A(10, 99, 2, 0), 24);
	struct addr_map m = {&s, 1, NULL, 0};
	uint8_t orig[200], pkt[300], quote[200];
	size_t olen = make(orig, proto, A(10, 99, 1, 7), A(192, 168, 1, 9), 30, 0, udp_zero);
	size_t qlen = 20 + 8 + quote_extra, len;

	if (qlen > olen)
		qlen = olen;
	len = make_error(pkt, 3, A(192, 168, 1, 1), A(10, 99, 1, 7), orig, qlen);
	assert_int_equal(addr_map_packet(&m, pkt, len), ADDR_MAP_SRC | ADDR_MAP_INNER);
	assert_int_equal(be32(pkt + 12), A(10, 99, 2, 1));
	assert_int_equal(be32(pkt + 16), A(10, 99, 1, 7));
	assert_packet_ok(pkt, len);
	assert_header_ok(pkt + 28);
	assert_int_equal(be32(pkt + 28 + 12), A(10, 99, 1, 7));
	assert_int_equal(be32(pkt + 28 + 16), A(10, 99, 2, 9));
	/* The quoted transport checksum equals that of the original packet mapped alone. */
	memcpy(quote, orig, olen);
	{
		struct addr_map_rule d = s;
		struct addr_map md = {NULL, 0, &d, 1};

		assert_int_equal(addr_map_packet(&md, quote, olen), ADDR_MAP_DST);
	}
	if (qlen >= 20 + l4_csum_off(proto) + 2)
		assert_int_equal(be16(pkt + 28 + 20 + l4_csum_off(proto)),
				 be16(quote + 20 + l4_csum_off(proto)));
}

static void test_icmp_errors(void **state)
{
	(void)state;
	check_error_about(PROTO_UDP, 100, false);
	check_error_about(PROTO_UDP, 0, false);  /* only 8 bytes quoted */
	check_error_about(PROTO_UDP, 100, true);
	check_error_about(PROTO_TCP, 100, false);
	check_error_about(PROTO_TCP, 0, false);  /* checksum not quoted */
	check_error_about(PROTO_TCP, 10, false); /* just the checksum quoted */
	check_error_about(PROTO_ICMP, 100, false);
}

/* Only the quote matches (the error comes from a router outside any rule). */
static void test_icmp_error_inner_only(void **state)
{
	struct addr_map_rule d = rule(A(10, 99, 1, 0), A(192, 168, 1, 0), 24);
	struct addr_map m = {NULL, 0, &d, 1};
	uint8_t orig[200], pkt[300];
	size_t olen = make(orig, PROTO_UDP, A(10, 99, 1, 7), A(8, 8, 8, 8), 10, 0, false);
	size_t len = make_error(pkt, 11, A(198, 18, 0, 1), A(172, 16, 0, 1), orig, olen);

	(void)state;
	assert_int_equal(addr_map_packet(&m, pkt, len), ADDR_MAP_INNER);
	assert_int_equal(be32(pkt + 28 + 12), A(192, 168, 1, 7));
	assert_packet_ok(pkt, len);
	assert_packet_ok(pkt + 28, olen);
}

/* An echo reply is not an error: its payload is never read as a header. */
static void test_icmp_echo_payload_left(void **state)
{
	struct addr_map_rule s = rule(A(192, 168, 1, 0), A(10, 99, 1, 0), 24);
	struct addr_map m = {&s, 1, &s, 1};
	uint8_t orig[200], pkt[300];
	size_t olen = make(orig, PROTO_UDP, A(192, 168, 1, 7), A(192, 168, 1, 8), 10, 0, false);
	size_t len = make_error(pkt, 0, A(8, 8, 8, 8), A(9, 9, 9, 9), orig, olen);

	(void)state;
	assert_int_equal(addr_map_packet(&m, pkt, len), 0);
	assert_memory_equal(pkt + 28, orig, olen);
}

static void test_refused(void **state)
{
	struct addr_map_rule s = rule(0, 0, 0);
	struct addr_map m = {&s, 1, &s, 1};
	uint8_t pkt[200], copy[200];
	size_t len = make(pkt, PROTO_TCP, A(1, 2, 3, 4), A(5, 6, 7, 8), 10, 0, false);

	(void)state;
	memcpy(copy, pkt, len);
	assert_int_equal(addr_map_packet(&m, pkt, 0), INSEL_E_TRUNCATED);
	assert_int_equal(addr_map_packet(&m, pkt, 19), INSEL_E_TRUNCATED);
	assert_int_equal(addr_map_packet(&m, pkt, len - 1), INSEL_E_TRUNCATED);
	pkt[0] = 0x44;
	assert_int_equal(addr_map_packet(&m, pkt, len), INSEL_E_MALFORMED);
	pkt[0] = 0x60;
	assert_int_equal(addr_map_packet(&m, pkt, len), INSEL_E_VERSION);
	pkt[0] = 0x45;
	put16(pkt + 2, 19);
	assert_int_equal(addr_map_packet(&m, pkt, len), INSEL_E_MALFORMED);
	put16(pkt + 2, (uint16_t)len);
	assert_memory_equal(pkt, copy, len);
	/* Trailing bytes past the total length are neither read nor written. */
	memset(pkt + len, 0xee, 16);
	assert_int_equal(addr_map_packet(&m, pkt, len + 16), ADDR_MAP_SRC | ADDR_MAP_DST);
	for (size_t i = len; i < len + 16; i++)
		assert_int_equal(pkt[i], 0xee);
}

/* Random packets of each kind under random rules: all checksums verify afterwards, and
 * mapping back with the inverted rules restores the addresses. */
static void test_random(void **state)
{
	uint8_t pkt[400], orig[200];
	uint8_t protos[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP};

	(void)state;
	srand(1624);
	for (int i = 0; i < 20000; i++) {
		uint8_t len_s = (uint8_t)(rand() % 33), len_d = (uint8_t)(rand() % 33);
		uint32_t ms = len_s ? 0xffffffffu << (32 - len_s) : 0;
		uint32_t md = len_d ? 0xffffffffu << (32 - len_d) : 0;
		uint32_t src = (uint32_t)rand() ^ (uint32_t)rand() << 16;
		uint32_t dst = (uint32_t)rand() ^ (uint32_t)rand() << 16;
		struct addr_map_rule s = rule(src & ms, ((uint32_t)rand() << 8) & ms, len_s);
		struct addr_map_rule d = rule(dst & md, ((uint32_t)rand() << 9) & md, len_d);
		struct addr_map_rule is, id;
		struct addr_map m = {&s, 1, &d, 1}, back = {&is, 1, &id, 1};
		uint8_t proto = protos[rand() % 3];
		size_t len = make(pkt, proto, src, dst, (size_t)(rand() % 60), (size_t)(rand() % 3),
				  rand() % 4 == 0);
		uint32_t want;

		if (rand() % 4 == 0) {  /* an error about a packet that went the other way */
			size_t olen = make(orig, protos[rand() % 3], dst, src,
					   (size_t)(rand() % 30), 0, rand() % 2);
			size_t q = 28 + (size_t)(rand() % (int)(olen - 27));

			len = make_error(pkt, 3, src, dst, orig, q);
		}
		assert_true(addr_map_packet(&m, pkt, len) >= (int)(ADDR_MAP_SRC | ADDR_MAP_DST));
		assert_packet_ok(pkt, len);
		addr_map_translate(&s, 1, src, &want);
		assert_int_equal(be32(pkt + 12), want);
		addr_map_translate(&d, 1, dst, &want);
		assert_int_equal(be32(pkt + 16), want);
		if (pkt[9] == PROTO_ICMP && pkt[20] == 3) {
			assert_header_ok(pkt + 28);
			assert_int_equal(be32(pkt + 28 + 16), be32(pkt + 12));
		}
		addr_map_rules_invert(&s, &is, 1);
		addr_map_rules_invert(&d, &id, 1);
		assert_true(addr_map_packet(&back, pkt, len) > 0);
		assert_int_equal(be32(pkt + 12), src);
		assert_int_equal(be32(pkt + 16), dst);
		assert_packet_ok(pkt, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_make),
		cmocka_unit_test(test_translate),
		cmocka_unit_test(test_transports),
		cmocka_unit_test(test_no_match_unchanged),
		cmocka_unit_test(test_udp_zero_checksum),
		cmocka_unit_test(test_udp_checksum_never_becomes_zero),
		cmocka_unit_test(test_non_first_fragment),
		cmocka_unit_test(test_first_fragment),
		cmocka_unit_test(test_icmp_errors),
		cmocka_unit_test(test_icmp_error_inner_only),
		cmocka_unit_test(test_icmp_echo_payload_left),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
