/* TCP segmentation and coalescing for a TUN interface with offloads (IFF_VNET_HDR and
 * TUNSETOFFLOAD), so that one read or write of the interface moves up to 64 KiB.
 *
 * Out of the interface: each read starts with a virtio_net_hdr (docs/tun.md). A packet
 * marked GSO TCPv4 or TCPv6 is a TCP "super-segment" that tso_segment() cuts into packets
 * of at most gso_size payload bytes each, with the IP length (and, IPv4, id and header
 * checksum) and the TCP sequence number, flags and checksum of each fixed; a packet
 * marked NEEDS_CSUM only has its checksum completed. Every packet that leaves is a plain,
 * whole IP packet, so the wire (docs/frames.md: one packet per frame) does not change.
 * IPv6 extension headers are not walked: a TCPv6 super-segment with one is refused.
 * Into the interface: tso_coalesce_add() gathers consecutive in-order TCP segments of one
 * flow with verified checksums into one super-segment, which tso_coalesce_finish()
 * describes with a virtio_net_hdr (GSO TCPv4 or TCPv6, partial checksum) for one write;
 * anything else is written alone with an empty header.
 *
 * Parsing goes through buf.h's bounds-checked reader; nothing allocates. The header is
 * little-endian (the auxiliary enables offloads only on little-endian hosts, where the
 * legacy virtio header is little-endian without TUNSETVNETLE). */
#ifndef INSEL_TSO_H
#define INSEL_TSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* virtio_net_hdr (include/uapi/linux/virtio_net.h), the form without num_buffers. */
#define VNET_HDR_LEN 10
#define VNET_F_NEEDS_CSUM 1
#define VNET_F_DATA_VALID 2
#define VNET_GSO_NONE 0
#define VNET_GSO_TCPV4 1
#define VNET_GSO_UDP 3
#define VNET_GSO_TCPV6 4
#define VNET_GSO_UDP_L4 5
#define VNET_GSO_ECN 0x80

/* An IPv4 packet's largest total length; coalesced IPv6 packets stay within it too. */
#define TSO_MAX_PACKET 65535
#define TSO_MIN_MSS 64        /* refuse absurd segment sizes (amplification) */
#define TSO_MAX_SEGS 128      /* segments coalesced into one write */

struct vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

/* 0 or INSEL_E_TRUNCATED. */
int vnet_hdr_parse(const uint8_t *p, size_t len, struct vnet_hdr *out);
void vnet_hdr_encode(const struct vnet_hdr *h, uint8_t out[VNET_HDR_LEN]);

/* The Internet checksum of data added to sum (32-bit partial), folded to 16 bits, not
 * complemented; the same result as ipv4.h's inet_checksum_fold, several times faster. */
uint16_t tso_csum(const uint8_t *data, size_t len, uint32_t sum);

typedef int (*tso_emit_fn)(void *ctx, const uint8_t *pkt, size_t len);

/* Turns one packet read from the interface (pkt[0..len), after the virtio header h) into
 * whole IP packets passed to emit one by one: a GSO TCP packet is cut into segments
 * built in scratch (at least h->gso_size + 120 bytes); a packet needing its checksum
 * completed gets it in place; anything else is passed as is. Returns the number of
 * packets emitted, what emit returned if not 0, INSEL_E_MALFORMED for an offload this
 * code does not handle or inconsistent fields, INSEL_E_TRUNCATED, or INSEL_E_NOSPACE. */
int tso_segment(const struct vnet_hdr *h, uint8_t *pkt, size_t len, uint8_t *scratch,
		size_t scratch_cap, tso_emit_fn emit, void *ctx);

/* A super-segment being gathered in buf (TSO_MAX_PACKET bytes, the caller's). */
struct tso_coalesce {
	uint8_t *buf;
	size_t len;          /* bytes in buf: 0 when empty */
	size_t ihl;          /* IP header bytes: 20 or 40 */
	size_t hlen;         /* IP + TCP header bytes */
	size_t mss;          /* payload of the first segment: every one but the last */
	unsigned segs;
	bool closed;         /* the last segment was shorter than mss, or had PSH/FIN */
	uint32_t next_seq;
};

void tso_coalesce_init(struct tso_coalesce *c, uint8_t *buf);
/* Offers one whole IPv4 or IPv6 packet. Returns 1 if it was appended to (or started) the
 * super-segment in c, 0 if it cannot join: the caller then flushes c (if not empty) and
 * either offers the packet again or writes it alone (tso_coalescable() says which). */
int tso_coalesce_add(struct tso_coalesce *c, const uint8_t *pkt, size_t len);
/* Whether a packet could start a super-segment (TCP over IPv4 or IPv6, data, checksums
 * right). */
bool tso_coalescable(const uint8_t *pkt, size_t len);
/* Finishes c's packet (IP length and checksum, TCP pseudo-header checksum) and fills the
 * virtio header to write before it; c->len is then the packet's length. */
void tso_coalesce_finish(struct tso_coalesce *c, struct vnet_hdr *h);
void tso_coalesce_reset(struct tso_coalesce *c);

#endif
