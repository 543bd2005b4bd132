/* libFuzzer target: the IPv6 header parser and the ICMPv6 error builder of network calls
 * (auxiliary/ipv6.h), which read packets from the TUN interface and from the peer. Whatever
 * the bytes, the parser must not read past them and must report a total length within
 * them; a "packet too big" built for an accepted packet must parse as an ICMPv6 error of
 * its own, within the minimum MTU, whose checksum verifies, and never be answered. The
 * same bytes as a room's captured or delivered IPv6 multicast (auxiliary/cast6.h): an
 * accepted datagram lies within them, goes to a group a room carries, and once given a
 * room address as its source parses again with a UDP checksum that verifies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cast6.h"
#include "ipv6.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_cast6(uint8_t *pkt, size_t size)
{
	static const uint8_t room[16] = {0xfd, 0x30, [15] = 2};
	struct cast6_info ip, again;
	uint8_t mac[6];

	if (cast6_parse(pkt, size, &ip) != 0)
		return;
	if (ip.total_len > size || ip.total_len < CAST6_MIN_LEN || !cast6_group_carried(ip.dst))
		abort();
	(void)cast6_link_local(ip.src);
	cast6_group_mac(ip.dst, mac);
	cast6_set_source(pkt, &ip, room);
	if (!cast6_checksum_ok(pkt, &ip) || cast6_parse(pkt, size, &again) != 0 ||
	    again.total_len != ip.total_len || memcmp(again.src, room, 16) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t gateway[16] = {0xfd, 0x01, [15] = 1};
	struct ipv6_info ip, back;
	uint8_t out[ICMPV6_ERROR_MAX];
	/* A private copy of exactly size bytes, so that ASan sees any over-read. */
	uint8_t *pkt = malloc(size ? size : 1);
	size_t n;

	if (!pkt)
		return 0;
	memcpy(pkt, data, size);
	if (ipv6_parse(pkt, size, &ip) == 0) {
		if (ip.total_len > size || ip.total_len <= IPV6_HEADER_LEN)
			abort();
		(void)ipv6_in_prefixes(ip.src, NULL, 0);
		n = icmpv6_build_error(out, sizeof out, pkt, size, &ip, gateway,
				       ICMPV6_PACKET_TOO_BIG, 0, 1440);
		if (n) {
			if (n > sizeof out || ipv6_parse(out, n, &back) != 0 ||
			    back.total_len != n || back.proto != IPV6_PROTO_ICMPV6 ||
			    !back.icmp_error || memcmp(back.dst, ip.src, 16) != 0 ||
			    icmpv6_checksum(back.src, back.dst, out + IPV6_HEADER_LEN,
					    n - IPV6_HEADER_LEN) != 0)
				abort();
			if (icmpv6_build_error(out, sizeof out, out, n, &back, gateway,
					       ICMPV6_TIME_EXCEEDED, 0, 0) != 0)
				abort();
		}
	}
	fuzz_cast6(pkt, size);
	free(pkt);
	return 0;
}
