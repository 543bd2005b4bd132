/* A room's IPv6 multicast datagrams (docs/rooms.md, "Broadcast and multicast"): the
 * packet side of room_cast.c's IPv6 half, apart so that its unit tests and fuzz target
 * need no auxiliary. A datagram a room carries is UDP right after the fixed IPv6 header
 * (mDNS to ff02::fb, SSDP to ff02::c and ff05::c, a game's discovery), to a group of
 * link scope or wider, from a unicast source; every read of its bytes goes through
 * buf.h's bounds-checked reader and nothing allocates. */
#ifndef INSEL_CAST6_H
#define INSEL_CAST6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr_map.h"

#define CAST6_MIN_LEN 48  /* the fixed header and a UDP header */

struct cast6_info {
	uint16_t total_len;  /* 40 + payload length; never more than the bytes given */
	uint8_t src[16], dst[16];
	uint16_t src_port, dst_port;
};

/* Reads pkt[0..len) (what follows total_len, such as an Ethernet frame's padding, is not
 * the datagram's). 0, or INSEL_E_TRUNCATED / INSEL_E_MALFORMED: not IPv6, not UDP right
 * after the fixed header, a UDP length other than the payload's, not to a multicast group
 * a room carries (cast6_group_carried), or from a multicast or the unspecified address. */
int cast6_parse(const uint8_t *pkt, size_t len, struct cast6_info *out);

/* Whether a room carries group: scope link (2) to global (14), except the groups of the
 * network's own machinery, which a member's host must not reach on another site: DHCPv6
 * servers and relays (ff02::1:2, ff05::1:3; another LAN's server would configure the
 * member), and the routers' and gateways' own protocols: all routers (ff02::2), OSPFv3
 * (ff02::5, ff02::6), RIPng (ff02::9), PIM (ff02::d), VRRP (ff02::12), HSRP (ff02::66),
 * Babel (ff02::1:6). */
bool cast6_group_carried(const uint8_t group[16]);

/* Whether addr is link-local unicast (fe80::/10). */
bool cast6_link_local(const uint8_t addr[16]);

/* Gives the datagram pkt (as parsed into ip) the source src and its UDP checksum in
 * full over the new pseudo-header: a capture on the LAN sees what the host's kernel sent
 * before any device completed it (with checksum offload only the pseudo-header's sum),
 * so no incremental update of the old value would be right. */
void cast6_set_source(uint8_t *pkt, struct cast6_info *ip, const uint8_t src[16]);

/* Whether the datagram's UDP checksum is right (never zero: IPv6 requires one). */
bool cast6_checksum_ok(const uint8_t *pkt, const struct cast6_info *ip);

/* Which of n members sent a frame from link-layer address mac with IPv6 source src:
 * members[j].from is member j's IPv6 LAN address, macs[j] its link-layer address (known
 * only where bit j of known is set). The member with mac whose address is src, else the
 * only member with mac when src is link-local (several with one address, hosts behind
 * one router: only from its own address). Its index, or -1: no member's. */
int cast6_member_of(const struct addr_map_rule6 *members, size_t n, const uint8_t (*macs)[6],
		    uint32_t known, const uint8_t src[16], const uint8_t mac[6]);

/* What the neighbour table said of one member's host: the link-layer address of its IPv6
 * LAN address (mac6) and of its IPv4 one (mac4), each where known. */
struct cast6_host_macs {
	uint8_t mac6[6], mac4[6];
	bool known6, known4;
};

/* Takes a reading of the neighbour table (fresh) into what is kept of the member's host
 * (kept), and says its link-layer address (into mac: true), or none (false: neither
 * known, or the two known and different, as the gateway's join check refuses). An entry
 * the table has replaces the kept one; one it no longer has (the kernel drops an idle
 * host's entries) is kept: the host's last answer stands until the table says
 * otherwise, as a stale entry the kernel keeps does. */
bool cast6_host_mac(struct cast6_host_macs *kept, const struct cast6_host_macs *fresh,
		    uint8_t mac[6]);

/* The Ethernet address group is sent to (RFC 2464 7: 33:33 and its last 32 bits). */
void cast6_group_mac(const uint8_t group[16], uint8_t mac[6]);

#endif
