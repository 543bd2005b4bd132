/* Unit tests for TCP MSS clamping (auxiliary/mss.h): SYNs over IPv4 and IPv6 get the
 * lower MSS with a checksum that still verifies, the option at an even or an odd offset;
 * packets that are not SYNs, that carry a smaller MSS or whose options do not parse are
 * left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ipv4.h"
#include "mss.h"
#include "pkt_bytes.h"

/* The TCP checksum of the segment at pkt + tcp over the family's pseudo-header, folded:
 * 0xffff when right. */
static uint16_t tcp_sum(const uint8_t *pkt, size_t len, size_t tcp, bool v6)
{
	uint32_t sum = v6 ? inet_checksum_fold(pkt + 8, 32, 0)
			  : inet_checksum_fold(pkt + 12, 8, 0);

	sum += TCP_PROTO + (uint32_t)(len - tcp);
	return inet_checksum_fold(pkt + tcp, len - tcp, sum);
}

static void set_checksum(uint8_t *pkt, size_t len, size_t tcp, bool v6)
{
	uint16_t c;

	pkt[tcp + 16] = pkt[tcp + 17] = 0;
	c = (uint16_t)~tcp_sum(pkt, len, tcp, v6);
	pkt[tcp + 16] = (uint8_t)(c >> 8);
	pkt[tcp + 17] = (uint8_t)c;
	assert_int_equal(tcp_sum(pkt, len, tcp, v6), 0xffff);
}

/* A SYN with the given options (a multiple of 4 bytes) and a right checksum; returns its
 * length. */
static size_t make_syn(uint8_t *pkt, bool v6, const uint8_t *opts, size_t optlen,
		       uint8_t flags)
{
	size_t tcp = v6 ? 40 : 20, len = tcp + 20 + optlen;

	memset(pkt, 0, len);
	if (v6) {
		pkt[0] = 0x60;
		pkt[4] = (uint8_t)((len - 40) >> 8);
		pkt[5] = (uint8_t)(len - 40);
		pkt[6] = TCP_PROTO;
		pkt[7] = 64;
		pkt[8] = 0xfd;
		pkt[23] = 0x11;
		pkt[24] = 0xfd;
		pkt[39] = 0x22;
	} else {
		pkt[0] = 0x45;
		pkt[3] = (uint8_t)len;
		pkt[8] = 64;
		pkt[9] = TCP_PROTO;
		memcpy(pkt + 12, "\x0a\x01\x00\x0b\x0a\x02\x00\x0b", 8);
	}
	pkt[tcp] = 0xc3;
	pkt[tcp + 1] = 0x50;
	pkt[tcp + 3] = 80;
	pkt[tcp + 4] = 0x12;
	pkt[tcp + 7] = 0x34;
	pkt[tcp + 12] = (uint8_t)((20 + optlen) / 4 << 4);
	pkt[tcp + 13] = flags;
	pkt[tcp + 14] = 0xfa;
	memcpy(pkt + tcp + 20, opts, optlen);
	set_checksum(pkt, len, tcp, v6);
	return len;
}

static const uint8_t linux_opts[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
				     1, 3, 3, 7};  /* MSS 1460, SACK ok, timestamps, wscale */

static void syn_ipv4_clamped_checksum_right(void **state)
{
	uint8_t pkt[128];
	size_t len = make_syn(pkt, false, linux_opts, sizeof linux_opts, TCP_FLAG_SYN);

	assert_true(mss_is_syn(pkt, len, 20));
	assert_true(mss_clamp(pkt, len, 20, 1200));
	assert_int_equal(be16(pkt + 42), 1200);
	assert_int_equal(tcp_sum(pkt, len, 20, false), 0xffff);
	/* Already low enough: nothing to do. */
	assert_false(mss_clamp(pkt, len, 20, 1300));
	assert_int_equal(be16(pkt + 42), 1200);
}

static void syn_ack_ipv6_clamped(void **state)
{
	uint8_t pkt[128];
	size_t len = make_syn(pkt, true, linux_opts, sizeof linux_opts, TCP_FLAG_SYN | 0x10);

	assert_true(mss_clamp(pkt, len, 40, 1172));
	assert_int_equal(be16(pkt + 62), 1172);
	assert_int_equal(tcp_sum(pkt, len, 40, true), 0xffff);
}

static void option_at_odd_offset(void **state)
{
	static const uint8_t opts[] = {1, 2, 4, 0x23, 0x28, 1, 1, 1};  /* NOP, MSS 9000 */
	uint8_t pkt[128];
	size_t len = make_syn(pkt, false, opts, sizeof opts, TCP_FLAG_SYN);

	for (uint16_t mss = 8999; mss > 500; mss -= 997) {
		assert_true(mss_clamp(pkt, len, 20, mss));
		assert_int_equal(be16(pkt + 43), mss);
		assert_int_equal(tcp_sum(pkt, len, 20, false), 0xffff);
	}
}

static void others_left_alone(void **state)
{
	static const uint8_t no_mss[] = {1, 1, 4, 2};
	static const uint8_t zero_len[] = {1, 0x22, 0, 0};      /* an option of length 0 */
	static const uint8_t overlong[] = {1, 0x22, 9, 0};      /* beyond the header */
	static const uint8_t short_mss[] = {2, 3, 5, 0};        /* MSS of the wrong length */
	static const uint8_t after_end[] = {0, 2, 4, 5, 0xb4, 0, 0, 0};
	uint8_t pkt[128], copy[128];
	size_t len;

	len = make_syn(pkt, false, linux_opts, sizeof linux_opts, 0x10);  /* plain ACK */
	memcpy(copy, pkt, len);
	assert_false(mss_is_syn(pkt, len, 20));
	assert_false(mss_clamp(pkt, len, 20, 500));
	assert_memory_equal(pkt, copy, len);
	len = make_syn(pkt, false, no_mss, sizeof no_mss, TCP_FLAG_SYN);
	assert_false(mss_clamp(pkt, len, 20, 500));
	len = make_syn(pkt, false, zero_len, sizeof zero_len, TCP_FLAG_SYN);
	assert_false(mss_clamp(pkt, len, 20, 500));
	len = make_syn(pkt, false, overlong, sizeof overlong, TCP_FLAG_SYN);
	assert_false(mss_clamp(pkt, len, 20, 500));
	len = make_syn(pkt, false, short_mss, sizeof short_mss, TCP_FLAG_SYN);
	assert_false(mss_clamp(pkt, len, 20, 500));
	len = make_syn(pkt, false, after_end, sizeof after_end, TCP_FLAG_SYN);
	assert_false(mss_clamp(pkt, len, 20, 500));
	/* Truncated: the data offset promises more than there is. */
	len = make_syn(pkt, false, linux_opts, sizeof linux_opts, TCP_FLAG_SYN);
	for (size_t cut = 0; cut < len; cut++)
		if (cut < 44)
			assert_false(mss_clamp(pkt, cut, 20, 500));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(syn_ipv4_clamped_checksum_right),
		cmocka_unit_test(syn_ack_ipv6_clamped),
		cmocka_unit_test(option_at_odd_offset),
		cmocka_unit_test(others_left_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
