/* IPv6 packets as a TUN interface hands them over, the IPv6 side of ipv4.h: the fixed
 * header, the upper-layer protocol found by walking the extension headers (a bounded
 * number of them), a check of which packets a call may carry, and the ICMPv6 errors a
 * router sends back ("packet too big", "time exceeded"). Every read of packet bytes goes
 * through buf.h's bounds-checked reader; nothing allocates. */
#ifndef INSEL_IPV6_H
#define INSEL_IPV6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Protocol constants (RFC 8200, RFC 4443). */
#define IPV6_HEADER_LEN 40
#define IPV6_MIN_MTU 1280
#define IPV6_PROTO_HOPOPTS 0
#define IPV6_PROTO_ROUTING 43
#define IPV6_PROTO_FRAGMENT 44
#define IPV6_PROTO_ICMPV6 58
#define IPV6_PROTO_NONE 59
#define IPV6_PROTO_DSTOPTS 60
#define IPV6_EXT_MAX 8              /* extension headers walked before giving up */
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PACKET_TOO_BIG 2
#define ICMPV6_TIME_EXCEEDED 3
#define ICMPV6_PARAM_PROBLEM 4
#define ICMPV6_ERROR_MAX IPV6_MIN_MTU  /* an error never exceeds the minimum MTU */

struct ipv6_info {
	uint16_t total_len;  /* 40 + payload length; never more than the bytes given */
	uint8_t hop_limit;
	uint8_t proto;       /* the upper-layer protocol (IPV6_PROTO_NONE if none) */
	uint8_t src[16], dst[16];
	bool later_fragment; /* a fragment header with a non-zero offset: proto unknown */
	bool icmp_error;     /* ICMPv6 type 1..127 (errors), in a first fragment */
};

/* Reads the header of the IPv6 packet in pkt[0..len). 0, or INSEL_E_TRUNCATED /
 * INSEL_E_MALFORMED (not version 6, payload length beyond the bytes, a jumbogram,
 * extension headers that do not fit or more than IPV6_EXT_MAX of them). */
int ipv6_parse(const uint8_t *pkt, size_t len, struct ipv6_info *out);

/* Whether the IPv6 address lies in one of the IPv6 prefixes of list. */
bool ipv6_in_prefixes(const uint8_t addr[16], const struct ip_prefix *list, size_t n);

/* Writes into out (cap bytes, at most ICMPV6_ERROR_MAX used) an ICMPv6 error of
 * type/code from src back to the source of the offending packet pkt[0..len), quoting as
 * much of it as fits in the minimum MTU; for ICMPV6_PACKET_TOO_BIG, mtu is the MTU of
 * the next hop. The checksum covers the pseudo-header. Returns the length, or 0 when no
 * error may be sent for that packet (RFC 4443 2.4: not about an ICMPv6 error, nor to an
 * unspecified, loopback or multicast source; multicast destinations only for "packet
 * too big"). */
size_t icmpv6_build_error(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
			  const struct ipv6_info *info, const uint8_t src[16], uint8_t type,
			  uint8_t code, uint32_t mtu);

/* The ICMPv6 checksum of the message icmp[0..len) from src to dst, pseudo-header
 * included (RFC 8200 8.1): the value for a zero checksum field, and 0 (or 0xffff) over a
 * message whose checksum field is right. */
uint16_t icmpv6_checksum(const uint8_t src[16], const uint8_t dst[16], const uint8_t *icmp,
			 size_t len);

#endif
