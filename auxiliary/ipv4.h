/* IPv4 packets as a TUN interface hands them over: the header fields the auxiliary's
 * network calls need (addresses, protocol, DF, TTL, lengths), a check of which packets a
 * call may carry, and the ICMP errors a router sends back ("fragmentation needed",
 * "time exceeded"). Every read of packet bytes goes through buf.h's bounds-checked reader;
 * nothing here allocates, so it runs on the relay's fast path. IPv6 packets are
 * recognised here (version 6) and read by ipv6.h. */
#ifndef INSEL_IPV4_H
#define INSEL_IPV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Protocol constants (RFC 791, RFC 792, RFC 1191). */
#define IPV4_HEADER_MIN 20
#define IPV4_HEADER_MAX 60
#define IPV4_PROTO_ICMP 1
#define IPV4_FLAG_DF 0x4000
#define IPV4_FRAG_MASK 0x3fff       /* MF flag and fragment offset */
#define ICMP_DEST_UNREACH 3
#define ICMP_CODE_FRAG_NEEDED 4
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12
#define ICMP_ERROR_QUOTE 548        /* bytes of the offending packet quoted: the error
				     * stays within 576 bytes (RFC 1812 4.3.2.3) */
#define ICMP_ERROR_MAX (IPV4_HEADER_MIN + 8 + ICMP_ERROR_QUOTE)

struct ipv4_info {
	uint8_t version;     /* 4; 6 for an IPv6 packet (then nothing else is filled) */
	uint8_t header_len;  /* bytes, 20..60 */
	uint16_t total_len;  /* from the header; never more than the bytes given */
	uint16_t frag;       /* flags and fragment offset, host order */
	uint8_t ttl;
	uint8_t proto;
	uint32_t src, dst;   /* host order */
	bool icmp_error;     /* ICMP destination unreachable, time exceeded or parameter
			      * problem, in a first fragment */
};

/* Reads the header of the packet in pkt[0..len). 0, or INSEL_E_TRUNCATED /
 * INSEL_E_MALFORMED (bad version, header length or total length). An IPv6 packet gives
 * 0 with version 6. */
int ipv4_parse(const uint8_t *pkt, size_t len, struct ipv4_info *out);

/* Whether the IPv4 address (host order) lies in one of the IPv4 prefixes of list. */
bool ipv4_in_prefixes(uint32_t addr, const struct ip_prefix *list, size_t n);
uint32_t ipv4_from_addr(const struct ip_addr *a);  /* host order; 0 if not IPv4 */

/* Whether a room carries a member's datagram to the multicast group (host order;
 * docs/rooms.md, "Broadcast and multicast"): any of 224.0.0.0/4 but the groups of the
 * routers' and gateways' own protocols in 224.0.0.0/24, whose traffic must not reach
 * another site: all routers (224.0.0.2: HSRPv1, LDP), OSPF (.5, .6), RIPv2 (.9), PIM
 * (.13), VRRP and CARP (.18), HSRPv2 and GLBP (.102), Babel (.111). */
bool ipv4_group_carried(uint32_t group);

/* The Internet checksum (RFC 1071) of data, folded, not complemented. */
uint16_t inet_checksum_fold(const uint8_t *data, size_t len, uint32_t sum);

/* Writes into out (at least ICMP_ERROR_MAX bytes) an ICMP error of type/code from src
 * (host order) back to the source of the offending packet pkt[0..len), quoting its
 * header and as much of its payload as fits; for ICMP_DEST_UNREACH/FRAG_NEEDED, mtu is
 * the next-hop MTU. Returns the length, or 0 when no error may be sent for that packet
 * (RFC 1122 3.2.2: not about an ICMP error, a non-first fragment, a broadcast,
 * multicast or zero source). */
size_t icmp_build_error(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
			const struct ipv4_info *info, uint32_t src, uint8_t type,
			uint8_t code, uint16_t mtu);

#endif
