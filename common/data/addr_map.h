/* 1:1 IPv4 address mapping for packets in the data path (static network address
 * translation without ports): a packet's source and/or destination address that lies in a
 * rule's prefix is moved onto the rule's other prefix of the same length, host bits kept
 * (192.168.1.7 under 192.168.1.0/24 -> 10.99.1.0/24 becomes 10.99.1.7; a /32 rule maps
 * one address). Rooms map a member's LAN address to its room address; calls between LANs
 * with overlapping prefixes map each LAN onto its mapped prefix.
 *
 * Checksums are updated incrementally (RFC 1624): the IPv4 header's, TCP's and UDP's
 * (whose pseudo-header holds the addresses; a zero UDP checksum means "none" and stays
 * zero), so each stays right exactly when it was right. ICMP has no pseudo-header, but an
 * ICMP error quotes the packet it is about: the quoted header's addresses are mapped too
 * (its source with the destination rules and its destination with the source rules, since
 * it travelled the other way), with the quoted header checksum, the quoted TCP or UDP
 * checksum as far as it is quoted, and the ICMP checksum over all of them. A non-first
 * fragment has no transport header: only its addresses and header checksum change.
 *
 * IPv6 has its own rules and function (addr_map_packet6, below): no header checksum, but
 * TCP's, UDP's and ICMPv6's cover a pseudo-header with both addresses; an ICMPv6 error's
 * quoted header is mapped as an ICMP error's. addr_map_packet refuses IPv6 packets
 * (INSEL_E_VERSION) and addr_map_packet6 IPv4 ones, each leaving the packet unchanged.
 * Every read of packet bytes goes through buf.h's bounds-checked reader; nothing
 * allocates. */
#ifndef INSEL_ADDR_MAP_H
#define INSEL_ADDR_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Addresses in host order. from and to have no bits set past len (0..32). */
struct addr_map_rule {
	uint32_t from;
	uint32_t to;
	uint8_t len;
};

/* What to map in one direction: a packet's source through src (first match wins), its
 * destination through dst. Either list may be empty. */
struct addr_map {
	const struct addr_map_rule *src;
	size_t n_src;
	const struct addr_map_rule *dst;
	size_t n_dst;
};

/* What addr_map_packet changed (a bit mask; 0 when no rule matched). */
#define ADDR_MAP_SRC 1u    /* the source address */
#define ADDR_MAP_DST 2u    /* the destination address */
#define ADDR_MAP_INNER 4u  /* an address of the header an ICMP error quotes */

/* A rule mapping prefix from onto prefix to: both IPv4, same length, no host bits set.
 * 0, or INSEL_E_BAD_PREFIX (not IPv4 or lengths differ) / INSEL_E_HOST_BITS. */
int addr_map_rule_make(struct addr_map_rule *out, const struct ip_prefix *from,
		       const struct ip_prefix *to);

/* The same rules the other way round (to -> from), for the reply direction. */
void addr_map_rules_invert(const struct addr_map_rule *in, struct addr_map_rule *out,
			   size_t n);

/* Where addr (host order) goes under the first rule whose from-prefix holds it; false
 * (and *out = addr) when none does. */
bool addr_map_translate(const struct addr_map_rule *rules, size_t n, uint32_t addr,
			uint32_t *out);

/* Maps the IPv4 packet pkt[0..len) in place under m. Returns the ADDR_MAP_* bits of what
 * changed (0: nothing matched), or INSEL_E_TRUNCATED / INSEL_E_MALFORMED for bytes that
 * are not an IPv4 packet, INSEL_E_VERSION for IPv6 (then the packet is unchanged). Bytes
 * past the header's total length are ignored. */
int addr_map_packet(const struct addr_map *m, uint8_t *pkt, size_t len);

/* The checksum field at p (big-endian) after the 32-bit value it covers went from old to
 * new (RFC 1624, eqn. 3). Exposed for the unit tests and other rewriters. */
void addr_map_csum_update32(uint8_t *p, uint32_t old, uint32_t new);

/* ---- IPv6 ---- */

/* from and to have no bits set past len (0..128). */
struct addr_map_rule6 {
	uint8_t from[16];
	uint8_t to[16];
	uint8_t len;
};

struct addr_map6 {
	const struct addr_map_rule6 *src;
	size_t n_src;
	const struct addr_map_rule6 *dst;
	size_t n_dst;
};

/* As addr_map_rule_make, for two IPv6 prefixes of one length. */
int addr_map_rule6_make(struct addr_map_rule6 *out, const struct ip_prefix *from,
			const struct ip_prefix *to);
void addr_map_rules6_invert(const struct addr_map_rule6 *in, struct addr_map_rule6 *out,
			    size_t n);
/* Where addr goes under the first rule holding it; false (and out = addr) when none. */
bool addr_map_translate6(const struct addr_map_rule6 *rules, size_t n, const uint8_t addr[16],
			 uint8_t out[16]);

/* Maps the IPv6 packet pkt[0..len) in place under m, as addr_map_packet does an IPv4 one:
 * the extension headers (hop-by-hop, routing, fragment, destination options) are walked
 * to the transport header, whose checksum (TCP, UDP unless zero, ICMPv6) is updated; a
 * later fragment changes addresses only. Refused and unchanged: INSEL_E_VERSION for IPv4,
 * INSEL_E_TRUNCATED / INSEL_E_MALFORMED for bytes that are not an IPv6 packet, and a
 * routing header with segments left (its final destination, not the header's, is in
 * the pseudo-header) is INSEL_E_MALFORMED. */
int addr_map_packet6(const struct addr_map6 *m, uint8_t *pkt, size_t len);

#endif
