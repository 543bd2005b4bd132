/* libFuzzer target: the IPv4 header parser and the ICMP error builder of network calls
 * (auxiliary/ipv4.h), which read packets from the TUN interface and from the peer. Whatever
 * the bytes, the parser must not read past them, must report a total length within them,
 * and an ICMP error built for an accepted packet must be a well-formed packet of its own
 * whose checksums verify, quoting no more than the original. MSS clamping (mss.h) of an
 * accepted packet must stay within it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipv4.h"
#include "mss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipv4_info ip, back;
	uint8_t out[ICMP_ERROR_MAX];
	/* A private copy of exactly size bytes, so that ASan sees any over-read. */
	uint8_t *pkt = malloc(size ? size : 1);
	size_t n;

	if (!pkt)
		return 0;
	memcpy(pkt, data, size);
	if (ipv4_parse(pkt, size, &ip) == 0 && ip.version == 4) {
		if (ip.total_len > size || ip.header_len < IPV4_HEADER_MIN ||
		    ip.total_len < ip.header_len)
			abort();
		(void)ipv4_in_prefixes(ip.src, NULL, 0);
		if (ip.proto == TCP_PROTO)
			(void)mss_clamp(pkt, ip.total_len, ip.header_len, 536);
		n = icmp_build_error(out, sizeof out, pkt, size, &ip, 0x0a010001u,
				     ICMP_DEST_UNREACH, ICMP_CODE_FRAG_NEEDED, 1400);
		if (n) {
			if (n > sizeof out || ipv4_parse(out, n, &back) != 0 ||
			    back.total_len != n || back.proto != IPV4_PROTO_ICMP ||
			    !back.icmp_error || back.dst != ip.src ||
			    inet_checksum_fold(out, IPV4_HEADER_MIN, 0) != 0xffff ||
			    inet_checksum_fold(out + IPV4_HEADER_MIN, n - IPV4_HEADER_MIN, 0) !=
				    0xffff)
				abort();
			/* Never an error about an error. */
			if (icmp_build_error(out, sizeof out, out, n, &back, 1, ICMP_TIME_EXCEEDED,
					     0, 0) != 0)
				abort();
		}
	}
	free(pkt);
	return 0;
}
