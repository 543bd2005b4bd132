/* TCP segmentation and coalescing for TUN offloads (see tso.h and docs/tun.md). */
#include "tso.h"

#include <string.h>

#include "buf.h"
#include "err.h"

#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80
#define TCP_HEADER_MIN 20
#define TCP_HEADER_MAX 60

/* ---- the virtio header ---- */

static void le16(struct buf_reader *r, uint16_t *out)
{
	uint8_t lo = 0, hi = 0;

	br_u8(r, &lo);
	br_u8(r, &hi);
	*out = (uint16_t)(lo | hi << 8);
}

int vnet_hdr_parse(const uint8_t *p, size_t len, struct vnet_hdr *out)
{
	struct buf_reader r;

	br_init(&r, p, len);
	br_u8(&r, &out->flags);
	br_u8(&r, &out->gso_type);
	le16(&r, &out->hdr_len);
	le16(&r, &out->gso_size);
	le16(&r, &out->csum_start);
	le16(&r, &out->csum_offset);
	return br_error(&r);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void vnet_hdr_encode(const struct vnet_hdr *h, uint8_t out[VNET_HDR_LEN])
{
	out[0] = h->flags;
	out[1] = h->gso_type;
	put_le16(out + 2, h->hdr_len);
	put_le16(out + 4, h->gso_size);
	put_le16(out + 6, h->csum_start);
	put_le16(out + 8, h->csum_offset);
}

/* ---- checksums ---- */

static uint16_t fold64(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* The one's complement sum does not depend on byte order but for a final swap (RFC 1071
 * 2(B)), so words are added in the host's order, eight bytes at a time. */
uint16_t tso_csum(const uint8_t *data, size_t len, uint32_t sum)
{
	uint64_t acc = 0;
	uint16_t folded;

	while (len >= 8) {
		uint64_t v;

		memcpy(&v, data, 8);
		acc += (v & 0xffffffffu) + (v >> 32);
		data += 8;
		len -= 8;
	}
	while (len >= 2) {
		uint16_t v;

		memcpy(&v, data, 2);
		acc += v;
		data += 2;
		len -= 2;
	}
	if (len) {
		uint8_t odd[2] = {data[0], 0};
		uint16_t v;

		memcpy(&v, odd, 2);
		acc += v;
	}
	folded = fold64(acc);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	folded = (uint16_t)(folded >> 8 | folded << 8);
#endif
	return fold64((uint64_t)folded + sum);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- headers ---- */

#define IPV4_HEADER_MIN 20
#define IPV6_HEADER_LEN 40

/* What segmentation and coalescing need of an IPv4 or IPv6 header and, for TCP, the TCP
 * header. IPv6 extension headers are not walked: a next header other than TCP is
 * "other", which neither segments nor coalesces. */
struct l34 {
	unsigned version;       /* 4 or 6 */
	size_t ihl, total;      /* IP header length, total length */
	uint16_t id, frag;      /* IPv4 only */
	uint8_t proto;
	uint32_t addr_sum;      /* the addresses' 16-bit words summed, for the pseudo-header */
	size_t thl;             /* TCP header length (TCP only) */
	uint32_t seq;
	uint8_t tcp_flags;
};

/* Adds n big-endian 16-bit words from r to *sum. */
static void sum_words(struct buf_reader *r, unsigned n, uint32_t *sum)
{
	for (unsigned i = 0; i < n; i++) {
		uint16_t w = 0;

		br_u16(r, &w);
		*sum += w;
	}
}

static int parse_ipv4(struct buf_reader *r, uint8_t vhl, struct l34 *out)
{
	uint8_t ttl;
	uint16_t total = 0, csum;

	br_skip(r, 1);
	br_u16(r, &total);
	br_u16(r, &out->id);
	br_u16(r, &out->frag);
	br_u8(r, &ttl);
	br_u8(r, &out->proto);
	br_u16(r, &csum);
	sum_words(r, 4, &out->addr_sum);
	out->ihl = (size_t)(vhl & 15) * 4;
	out->total = total;
	if (br_error(r) == 0 && (out->ihl < IPV4_HEADER_MIN || total < out->ihl))
		return INSEL_E_MALFORMED;
	return br_error(r);
}

static int parse_ipv6(struct buf_reader *r, struct l34 *out)
{
	uint16_t payload = 0;
	uint8_t hop_limit;

	br_skip(r, 3);  /* traffic class, flow label */
	br_u16(r, &payload);
	br_u8(r, &out->proto);
	br_u8(r, &hop_limit);
	sum_words(r, 16, &out->addr_sum);
	out->ihl = IPV6_HEADER_LEN;
	out->total = IPV6_HEADER_LEN + (size_t)payload;
	return br_error(r);
}

static int parse_tcp(const uint8_t *pkt, struct l34 *out)
{
	struct buf_reader r;
	uint8_t doff = 0;
	int rc;

	br_init(&r, pkt, out->total);
	br_skip(&r, out->ihl + 4);  /* ports */
	br_u32(&r, &out->seq);
	br_skip(&r, 4);
	br_u8(&r, &doff);
	br_u8(&r, &out->tcp_flags);
	if ((rc = br_error(&r)) != 0)
		return rc;
	out->thl = (size_t)(doff >> 4) * 4;
	if (out->thl < TCP_HEADER_MIN || out->thl > out->total - out->ihl)
		return INSEL_E_MALFORMED;
	return 0;
}

/* Parses the IP header and, for TCP, the TCP header; 0 or a negative code. */
static int parse_l34(const uint8_t *pkt, size_t len, struct l34 *out)
{
	struct buf_reader r;
	uint8_t vhl = 0;
	int rc;

	memset(out, 0, sizeof *out);
	br_init(&r, pkt, len);
	br_u8(&r, &vhl);
	out->version = vhl >> 4;
	if (out->version == 4)
		rc = parse_ipv4(&r, vhl, out);
	else if (out->version == 6)
		rc = parse_ipv6(&r, out);
	else
		rc = br_error(&r) ? br_error(&r) : INSEL_E_MALFORMED;
	if (rc)
		return rc;
	if (out->total > len)
		return INSEL_E_TRUNCATED;
	return out->proto == IP_PROTO_TCP ? parse_tcp(pkt, out) : 0;
}

/* The pseudo-header sum (RFC 793 3.1, RFC 8200 8.1) for a transport segment of len
 * bytes. */
static uint32_t pseudo_sum(const struct l34 *l, size_t len)
{
	return l->addr_sum + l->proto + (uint32_t)len;
}

/* A partial checksum (NEEDS_CSUM): the field holds the pseudo-header sum; sum from
 * csum_start to the end and store the complement. */
static int complete_csum(const struct vnet_hdr *h, uint8_t *pkt, size_t len)
{
	struct l34 l;
	size_t start = h->csum_start, at = (size_t)h->csum_start + h->csum_offset;
	uint16_t c;

	if (start > len || at > len || len - at < 2)
		return INSEL_E_MALFORMED;
	c = (uint16_t)~tso_csum(pkt + start, len - start, 0);
	if (c == 0 && parse_l34(pkt, len, &l) == 0 && l.proto == IP_PROTO_UDP)
		c = 0xffff;  /* UDP: 0 means "no checksum" */
	put_be16(pkt + at, c);
	return 0;
}

/* ---- segmentation ---- */

/* IPv4's total length, or IPv6's payload length, for a packet of len bytes. */
static void set_ip_length(uint8_t *ip, const struct l34 *l, size_t len)
{
	if (l->version == 4)
		put_be16(ip + 2, (uint16_t)len);
	else
		put_be16(ip + 4, (uint16_t)(len - IPV6_HEADER_LEN));
}

/* IPv4's header checksum (IPv6 has none). */
static void set_ip_checksum(uint8_t *ip, const struct l34 *l)
{
	if (l->version != 4)
		return;
	put_be16(ip + 10, 0);
	put_be16(ip + 10, (uint16_t)~tso_csum(ip, l->ihl, 0));
}

int tso_segment(const struct vnet_hdr *h, uint8_t *pkt, size_t len, uint8_t *scratch,
		size_t scratch_cap, tso_emit_fn emit, void *ctx)
{
	struct l34 l;
	size_t hlen, payload, mss, off = 0;
	unsigned i = 0;
	int rc;

	if (h->gso_type == VNET_GSO_NONE) {
		if ((h->flags & VNET_F_NEEDS_CSUM) && (rc = complete_csum(h, pkt, len)) != 0)
			return rc;
		rc = emit(ctx, pkt, len);
		return rc ? rc : 1;
	}
	if ((rc = parse_l34(pkt, len, &l)) != 0)
		return rc;
	if ((h->gso_type & ~VNET_GSO_ECN) != (l.version == 4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6))
		return INSEL_E_MALFORMED;
	if (l.proto != IP_PROTO_TCP || (l.frag & 0x3fff) != 0 || h->gso_size < TSO_MIN_MSS)
		return INSEL_E_MALFORMED;
	hlen = l.ihl + l.thl;
	payload = l.total - hlen;
	mss = h->gso_size;
	if (scratch_cap < hlen + mss)
		return INSEL_E_NOSPACE;
	do {
		size_t n = payload - off < mss ? payload - off : mss, seglen = hlen + n;
		uint8_t flags = l.tcp_flags;
		uint8_t *tcp = scratch + l.ihl;

		memcpy(scratch, pkt, hlen);
		memcpy(scratch + hlen, pkt + hlen + off, n);
		set_ip_length(scratch, &l, seglen);
		if (l.version == 4)
			put_be16(scratch + 4, (uint16_t)(l.id + i));
		set_ip_checksum(scratch, &l);
		put_be32(tcp + 4, l.seq + (uint32_t)off);
		if (off + n < payload)
			flags &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i > 0)
			flags &= (uint8_t)~TCP_CWR;
		tcp[13] = flags;
		put_be16(tcp + 16, 0);
		put_be16(tcp + 16, (uint16_t)~tso_csum(tcp, l.thl + n,
							pseudo_sum(&l, l.thl + n)));
		if ((rc = emit(ctx, scratch, seglen)) != 0)
			return rc;
		off += n;
		i++;
	} while (off < payload);
	return (int)i;
}

/* ---- coalescing ---- */

void tso_coalesce_init(struct tso_coalesce *c, uint8_t *buf)
{
	memset(c, 0, sizeof *c);
	c->buf = buf;
}

void tso_coalesce_reset(struct tso_coalesce *c)
{
	uint8_t *buf = c->buf;

	tso_coalesce_init(c, buf);
}

/* A data segment that GRO could merge: IPv4 without options or fragments, or IPv6 with
 * TCP straight after the fixed header; TCP carrying bytes with only ACK (and PSH); every
 * checksum right (a bad one must reach the host's own check, not be hidden by a partial
 * checksum). */
static bool coalescable(const uint8_t *pkt, size_t len, struct l34 *l)
{
	if (parse_l34(pkt, len, l) != 0 || l->total != len || l->proto != IP_PROTO_TCP ||
	    (l->version == 4 && l->ihl != IPV4_HEADER_MIN) || (l->frag & 0x3fff) != 0 ||
	    l->total == l->ihl + l->thl)
		return false;
	if ((l->tcp_flags & ~TCP_PSH) != TCP_ACK)
		return false;
	if (l->version == 4 && tso_csum(pkt, l->ihl, 0) != 0xffff)
		return false;
	return tso_csum(pkt + l->ihl, len - l->ihl, pseudo_sum(l, len - l->ihl)) == 0xffff;
}

bool tso_coalescable(const uint8_t *pkt, size_t len)
{
	struct l34 l;

	return coalescable(pkt, len, &l);
}

/* Whether the IP headers match in everything GRO compares: IPv4's version, TOS, flags,
 * TTL, protocol and addresses; IPv6's all but the payload length. */
static bool same_ip(const uint8_t *a, const uint8_t *b, unsigned version)
{
	if (version == 6)
		return memcmp(a, b, 4) == 0 && memcmp(a + 6, b + 6, IPV6_HEADER_LEN - 6) == 0;
	return memcmp(a, b, 2) == 0 && memcmp(a + 6, b + 6, 4) == 0 &&
	       memcmp(a + 12, b + 12, 8) == 0;
}

/* Whether pkt's headers match the super-segment's in everything GRO compares. */
static bool same_flow(const struct tso_coalesce *c, const uint8_t *pkt, const struct l34 *l)
{
	const uint8_t *a = c->buf, *b = pkt;
	size_t ihl = c->ihl;

	if (l->ihl != c->ihl || l->ihl + l->thl != c->hlen || !same_ip(a, b, l->version))
		return false;
	/* TCP: ports; ack; data offset; window; urgent pointer; options. */
	if (memcmp(a + ihl, b + ihl, 4) != 0 || memcmp(a + ihl + 8, b + ihl + 8, 5) != 0 ||
	    memcmp(a + ihl + 14, b + ihl + 14, 2) != 0 ||
	    memcmp(a + ihl + 18, b + ihl + 18, c->hlen - ihl - 18) != 0)
		return false;
	return true;
}

int tso_coalesce_add(struct tso_coalesce *c, const uint8_t *pkt, size_t len)
{
	struct l34 l;
	size_t payload;

	if (!coalescable(pkt, len, &l))
		return 0;
	payload = len - l.ihl - l.thl;
	if (c->len == 0) {
		memcpy(c->buf, pkt, len);
		c->len = len;
		c->ihl = l.ihl;
		c->hlen = l.ihl + l.thl;
		c->mss = payload;
		c->segs = 1;
		c->next_seq = l.seq + (uint32_t)payload;
		c->closed = (l.tcp_flags & TCP_PSH) != 0;
		return 1;
	}
	if (c->closed || c->segs >= TSO_MAX_SEGS || l.seq != c->next_seq ||
	    payload > c->mss || c->len + payload > TSO_MAX_PACKET || !same_flow(c, pkt, &l))
		return 0;
	memcpy(c->buf + c->len, pkt + l.ihl + l.thl, payload);
	c->len += payload;
	c->segs++;
	c->next_seq += (uint32_t)payload;
	if (payload < c->mss || (l.tcp_flags & TCP_PSH)) {
		c->closed = true;
		c->buf[c->ihl + 13] |= l.tcp_flags & TCP_PSH;
	}
	return 1;
}

void tso_coalesce_finish(struct tso_coalesce *c, struct vnet_hdr *h)
{
	struct l34 l;
	uint8_t *tcp = c->buf + c->ihl;

	memset(h, 0, sizeof *h);
	if (c->segs <= 1) {
		h->flags = VNET_F_DATA_VALID;  /* the checksums were verified */
		return;
	}
	/* The first segment's headers (its length still in place): family and addresses. */
	parse_l34(c->buf, c->len, &l);
	set_ip_length(c->buf, &l, c->len);
	set_ip_checksum(c->buf, &l);
	/* Partial checksum: the field holds the pseudo-header sum, the kernel (or whoever
	 * segments the packet) completes it. */
	put_be16(tcp + 16, tso_csum(NULL, 0, pseudo_sum(&l, c->len - c->ihl)));
	h->flags = VNET_F_NEEDS_CSUM;
	h->gso_type = l.version == 4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6;
	h->hdr_len = (uint16_t)c->hlen;
	h->gso_size = (uint16_t)c->mss;
	h->csum_start = (uint16_t)c->ihl;
	h->csum_offset = 16;
}
