/* IPv6 header parsing, prefix checks and ICMPv6 errors for network calls (see ipv6.h). */
#include "ipv6.h"

#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "err.h"
#include "ipv4.h"

static bool is_extension(uint8_t next)
{
	return next == IPV6_PROTO_HOPOPTS || next == IPV6_PROTO_ROUTING ||
	       next == IPV6_PROTO_FRAGMENT || next == IPV6_PROTO_DSTOPTS;
}

int ipv6_parse(const uint8_t *pkt, size_t len, struct ipv6_info *out)
{
	struct buf_reader r;
	uint32_t vtcfl;
	uint16_t payload;
	uint8_t next, type;

	memset(out, 0, sizeof *out);
	br_init(&r, pkt, len);
	br_u32(&r, &vtcfl);
	br_u16(&r, &payload);
	br_u8(&r, &next);
	br_u8(&r, &out->hop_limit);
	br_copy(&r, out->src, sizeof out->src);
	br_copy(&r, out->dst, sizeof out->dst);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	if (vtcfl >> 28 != 6 || payload == 0)  /* payload 0: a jumbogram, or nothing */
		return INSEL_E_MALFORMED;
	if ((size_t)IPV6_HEADER_LEN + payload > len)
		return INSEL_E_TRUNCATED;
	out->total_len = (uint16_t)(IPV6_HEADER_LEN + payload);
	/* Walk only the payload: what lies beyond total_len is not the packet's. */
	br_init(&r, pkt + IPV6_HEADER_LEN, payload);
	for (unsigned i = 0; is_extension(next); i++) {
		uint8_t hdr_next, ext_len;
		uint16_t frag;

		if (i == IPV6_EXT_MAX)
			return INSEL_E_MALFORMED;
		br_u8(&r, &hdr_next);
		br_u8(&r, &ext_len);
		if (next == IPV6_PROTO_FRAGMENT) {
			br_u16(&r, &frag);
			br_skip(&r, 4);
			if (br_error(&r))
				return INSEL_E_MALFORMED;
			if (frag >> 3) {  /* a later fragment: the upper layer is elsewhere */
				out->later_fragment = true;
				out->proto = hdr_next;
				return 0;
			}
		} else {
			br_skip(&r, (size_t)ext_len * 8 + 6);
			if (br_error(&r))
				return INSEL_E_MALFORMED;
		}
		next = hdr_next;
	}
	out->proto = next;
	if (next == IPV6_PROTO_ICMPV6 && br_u8(&r, &type) == 0)
		out->icmp_error = type < 128;
	return 0;
}

bool ipv6_in_prefixes(const uint8_t addr[16], const struct ip_prefix *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct ip_prefix *p = &list[i];
		unsigned full, rest;

		if (p->addr.family != AF_INET6 || p->len > 128)
			continue;
		full = p->len / 8;
		rest = p->len % 8;
		if (memcmp(addr, p->addr.bytes, full) != 0)
			continue;
		if (rest && ((addr[full] ^ p->addr.bytes[full]) & (uint8_t)(0xff << (8 - rest))))
			continue;
		return true;
	}
	return false;
}

uint16_t icmpv6_checksum(const uint8_t src[16], const uint8_t dst[16], const uint8_t *icmp,
			 size_t len)
{
	uint32_t sum = inet_checksum_fold(src, 16, 0);

	sum = inet_checksum_fold(dst, 16, sum);
	sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
	sum += IPV6_PROTO_ICMPV6;
	return (uint16_t)~inet_checksum_fold(icmp, len, sum);
}

static bool unicast_source(const uint8_t a[16])
{
	static const uint8_t zero[16], loopback[16] = {[15] = 1};

	return a[0] != 0xff && memcmp(a, zero, 16) != 0 && memcmp(a, loopback, 16) != 0;
}

size_t icmpv6_build_error(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
			  const struct ipv6_info *info, const uint8_t src[16], uint8_t type,
			  uint8_t code, uint32_t mtu)
{
	struct buf_writer w;
	size_t quote = info->total_len < len ? info->total_len : len;
	size_t room = ICMPV6_ERROR_MAX - IPV6_HEADER_LEN - 8;
	uint16_t sum;

	if (info->icmp_error || !unicast_source(info->src) ||
	    (info->dst[0] == 0xff && type != ICMPV6_PACKET_TOO_BIG))
		return 0;
	if (quote > room)
		quote = room;
	bw_init(&w, out, cap);
	bw_u32(&w, 0x60000000u);
	bw_u16(&w, (uint16_t)(8 + quote));
	bw_u8(&w, IPV6_PROTO_ICMPV6);
	bw_u8(&w, 64);
	bw_bytes(&w, src, 16);
	bw_bytes(&w, info->src, 16);
	bw_u8(&w, type);
	bw_u8(&w, code);
	bw_u16(&w, 0);  /* checksum, below */
	bw_u32(&w, type == ICMPV6_PACKET_TOO_BIG ? mtu : 0);
	bw_bytes(&w, pkt, quote);
	if (bw_error(&w))
		return 0;
	sum = icmpv6_checksum(src, info->src, out + IPV6_HEADER_LEN, 8 + quote);
	out[IPV6_HEADER_LEN + 2] = (uint8_t)(sum >> 8);
	out[IPV6_HEADER_LEN + 3] = (uint8_t)sum;
	return bw_len(&w);
}
