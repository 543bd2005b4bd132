/* 1:1 IPv4 address mapping with incremental checksum updates (see addr_map.h). */
#include "addr_map.h"

#include <string.h>

#include "buf.h"
#include "err.h"

/* Protocol numbers and offsets (RFC 791, 792, 793, 768). */
enum {
	IP_VERSION_4 = 4,
	IP_VERSION_6 = 6,
	IP_HDR_MIN = 20,
	IP_OFF_CSUM = 10,
	IP_OFF_SRC = 12,
	IP_OFF_DST = 16,
	IP_FRAG_OFFSET = 0x1fff,
	PROTO_ICMP = 1,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	TCP_OFF_CSUM = 16,
	UDP_OFF_CSUM = 6,
	ICMP_OFF_CSUM = 2,
	ICMP_HDR = 8,
	ICMP_T_UNREACH = 3,
	ICMP_T_SOURCE_QUENCH = 4,
	ICMP_T_REDIRECT = 5,
	ICMP_T_TIME_EXCEEDED = 11,
	ICMP_T_PARAM_PROBLEM = 12,
};

/* The header fields the mapping needs, with offsets into the packet. */
struct ip_hdr {
	size_t at;        /* where the header starts */
	size_t hlen;      /* header bytes */
	size_t end;       /* one past the last byte of the packet (or of the quote) */
	uint16_t frag;
	uint8_t proto;
	uint32_t src, dst;
};

static uint32_t prefix_mask(uint8_t len)
{
	return len == 0 ? 0 : 0xffffffffu << (32 - len);
}

int addr_map_rule_make(struct addr_map_rule *out, const struct ip_prefix *from,
		       const struct ip_prefix *to)
{
	const struct ip_addr *a = &from->addr, *b = &to->addr;
	uint32_t f, t, mask;

	if (a->family != AF_INET || b->family != AF_INET || from->len != to->len ||
	    from->len > 32)
		return INSEL_E_BAD_PREFIX;
	f = (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	    (uint32_t)a->bytes[2] << 8 | a->bytes[3];
	t = (uint32_t)b->bytes[0] << 24 | (uint32_t)b->bytes[1] << 16 |
	    (uint32_t)b->bytes[2] << 8 | b->bytes[3];
	mask = prefix_mask((uint8_t)from->len);
	if ((f & ~mask) || (t & ~mask))
		return INSEL_E_HOST_BITS;
	out->from = f;
	out->to = t;
	out->len = (uint8_t)from->len;
	return 0;
}

void addr_map_rules_invert(const struct addr_map_rule *in, struct addr_map_rule *out,
			   size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct addr_map_rule r = in[i];

		out[i].from = r.to;
		out[i].to = r.from;
		out[i].len = r.len;
	}
}

bool addr_map_translate(const struct addr_map_rule *rules, size_t n, uint32_t addr,
			uint32_t *out)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t mask = prefix_mask(rules[i].len);

		if ((addr & mask) == rules[i].from) {
			*out = rules[i].to | (addr & ~mask);
			return true;
		}
	}
	*out = addr;
	return false;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* HC' = ~(~HC + ~m + m') over 16-bit words, one's complement (RFC 1624, eqn. 3). */
static uint16_t csum_adjust(uint16_t hc, uint32_t sum_old_new)
{
	uint32_t sum = (uint16_t)~hc + sum_old_new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t delta32(uint32_t old, uint32_t new)
{
	return (uint32_t)(uint16_t)~(old >> 16) + (uint16_t)~old + (new >> 16) +
	       (new & 0xffff);
}

static uint32_t delta16(uint16_t old, uint16_t new)
{
	return (uint32_t)(uint16_t)~old + new;
}

void addr_map_csum_update32(uint8_t *p, uint32_t old, uint32_t new)
{
	put16(p, csum_adjust(get16(p), delta32(old, new)));
}

/* Reads the IPv4 header at pkt[at..end): version, header length, and, for an outer
 * packet (quoted = false), a total length within end, which then becomes the end. A
 * quoted header (inside an ICMP error) may be followed by fewer bytes than its total
 * length says. */
static int read_header(const uint8_t *pkt, size_t at, size_t end, bool quoted,
		       struct ip_hdr *h)
{
	struct buf_reader r;
	uint8_t vihl, tos, ttl;
	uint16_t total, id, csum;

	br_init(&r, pkt + at, end - at);
	if (br_u8(&r, &vihl))
		return INSEL_E_TRUNCATED;
	if (vihl >> 4 == IP_VERSION_6)
		return INSEL_E_VERSION;
	if (vihl >> 4 != IP_VERSION_4 || (vihl & 15) * 4 < IP_HDR_MIN)
		return INSEL_E_MALFORMED;
	h->at = at;
	h->hlen = (size_t)(vihl & 15) * 4;
	br_u8(&r, &tos);
	br_u16(&r, &total);
	br_u16(&r, &id);
	br_u16(&r, &h->frag);
	br_u8(&r, &ttl);
	br_u8(&r, &h->proto);
	br_u16(&r, &csum);
	br_u32(&r, &h->src);
	br_u32(&r, &h->dst);
	br_skip(&r, h->hlen - IP_HDR_MIN);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	if (total < h->hlen)
		return INSEL_E_MALFORMED;
	if (quoted) {
		h->end = end;
		return 0;
	}
	if (total > end - at)
		return INSEL_E_TRUNCATED;
	h->end = at + total;
	return 0;
}

/* The offset of the 16-bit transport checksum that covers the addresses, if this
 * (first) fragment holds it: TCP's, or UDP's unless zero (no checksum). 0 if none. */
static size_t transport_csum_at(const uint8_t *pkt, const struct ip_hdr *h)
{
	struct buf_reader r;
	size_t l4 = h->at + h->hlen;
	uint16_t csum;

	if (h->frag & IP_FRAG_OFFSET)
		return 0;
	br_init(&r, pkt + l4, h->end - l4);
	if (h->proto == PROTO_TCP && br_skip(&r, TCP_OFF_CSUM) == 0 && br_u16(&r, &csum) == 0)
		return l4 + TCP_OFF_CSUM;
	if (h->proto == PROTO_UDP && br_skip(&r, UDP_OFF_CSUM) == 0 &&
	    br_u16(&r, &csum) == 0 && csum != 0)
		return l4 + UDP_OFF_CSUM;
	return 0;
}

/* Rewrites the header's addresses to src and dst, fixing its own checksum and the
 * transport checksum over them. Returns the sum of the 16-bit changes made to the bytes
 * (delta16/delta32 terms), which a checksum around them (the ICMP one around a quoted
 * header) needs. */
static uint32_t rewrite(uint8_t *pkt, const struct ip_hdr *h, uint32_t src, uint32_t dst)
{
	uint8_t *ip = pkt + h->at;
	size_t tcsum = transport_csum_at(pkt, h);
	uint16_t old_ipsum = get16(ip + IP_OFF_CSUM), old_tsum = 0, new_tsum;
	uint32_t change = delta32(h->src, src) + delta32(h->dst, dst);

	put32(ip + IP_OFF_SRC, src);
	put32(ip + IP_OFF_DST, dst);
	addr_map_csum_update32(ip + IP_OFF_CSUM, h->src, src);
	addr_map_csum_update32(ip + IP_OFF_CSUM, h->dst, dst);
	change += delta16(old_ipsum, get16(ip + IP_OFF_CSUM));
	if (!tcsum)
		return change;
	old_tsum = get16(pkt + tcsum);
	addr_map_csum_update32(pkt + tcsum, h->src, src);
	addr_map_csum_update32(pkt + tcsum, h->dst, dst);
	new_tsum = get16(pkt + tcsum);
	if (h->proto == PROTO_UDP && new_tsum == 0)
		put16(pkt + tcsum, new_tsum = 0xffff);  /* zero would mean "no checksum" */
	return change + delta16(old_tsum, new_tsum);
}

static bool is_icmp_error(uint8_t type)
{
	return type == ICMP_T_UNREACH || type == ICMP_T_SOURCE_QUENCH ||
	       type == ICMP_T_REDIRECT || type == ICMP_T_TIME_EXCEEDED ||
	       type == ICMP_T_PARAM_PROBLEM;
}

/* If the packet is an ICMP error (first fragment), maps the header it quotes: its source
 * by the destination rules and its destination by the source rules. Returns
 * ADDR_MAP_INNER if it changed anything. A quote too short for a whole header is left. */
static unsigned map_icmp_quote(const struct addr_map *m, uint8_t *pkt, const struct ip_hdr *h)
{
	struct buf_reader r;
	struct ip_hdr in;
	size_t icmp = h->at + h->hlen;
	uint8_t type;
	uint32_t src, dst, change;
	bool ms, md;

	if (h->proto != PROTO_ICMP || (h->frag & IP_FRAG_OFFSET))
		return 0;
	br_init(&r, pkt + icmp, h->end - icmp);
	if (br_u8(&r, &type) || !is_icmp_error(type) || br_skip(&r, ICMP_HDR - 1))
		return 0;
	if (read_header(pkt, icmp + ICMP_HDR, h->end, true, &in))
		return 0;
	ms = addr_map_translate(m->dst, m->n_dst, in.src, &src);
	md = addr_map_translate(m->src, m->n_src, in.dst, &dst);
	if (!ms && !md)
		return 0;
	change = rewrite(pkt, &in, src, dst);
	put16(pkt + icmp + ICMP_OFF_CSUM, csum_adjust(get16(pkt + icmp + ICMP_OFF_CSUM), change));
	return ADDR_MAP_INNER;
}

int addr_map_packet(const struct addr_map *m, uint8_t *pkt, size_t len)
{
	struct ip_hdr h;
	uint32_t src, dst;
	unsigned done = 0;
	int rc = read_header(pkt, 0, len, false, &h);

	if (rc)
		return rc;
	if (addr_map_translate(m->src, m->n_src, h.src, &src))
		done |= ADDR_MAP_SRC;
	if (addr_map_translate(m->dst, m->n_dst, h.dst, &dst))
		done |= ADDR_MAP_DST;
	/* The quote first: rewrite() below reads nothing the quote's rewrite changes. */
	done |= map_icmp_quote(m, pkt, &h);
	if (done & (ADDR_MAP_SRC | ADDR_MAP_DST))
		(void)rewrite(pkt, &h, src, dst);
	return (int)done;
}

/* ---- IPv6 (RFC 8200, 4443) ---- */

enum {
	IP6_HDR = 40,
	IP6_OFF_SRC = 8,
	IP6_OFF_DST = 24,
	IP6_EXT_MAX = 8,         /* extension headers walked before giving up */
	PROTO_HOPOPTS = 0,
	PROTO_ROUTING = 43,
	PROTO_FRAGMENT = 44,
	PROTO_DSTOPTS = 60,
	PROTO_ICMPV6 = 58,
	ICMPV6_ERROR_LAST = 127, /* types 0..127 are errors */
};

/* An IPv6 header and where its transport header is, if this fragment holds it. */
struct ip6_hdr {
	size_t at;      /* where the header starts */
	size_t l4;      /* the transport header (0 if none: a later fragment, unknown) */
	size_t end;     /* one past the packet (or the quote) */
	uint8_t proto;  /* the transport protocol when l4 */
	uint8_t src[16], dst[16];
};

static bool prefix6_holds(const uint8_t prefix[16], uint8_t len, const uint8_t addr[16])
{
	size_t whole = len / 8;
	uint8_t bits = len % 8;

	if (memcmp(prefix, addr, whole) != 0)
		return false;
	return bits == 0 || ((prefix[whole] ^ addr[whole]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

int addr_map_rule6_make(struct addr_map_rule6 *out, const struct ip_prefix *from,
			const struct ip_prefix *to)
{
	if (from->addr.family != AF_INET6 || to->addr.family != AF_INET6 ||
	    from->len != to->len || from->len > 128)
		return INSEL_E_BAD_PREFIX;
	for (size_t i = 0; i < 16; i++) {
		int keep = (int)from->len - (int)i * 8;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		if ((from->addr.bytes[i] | to->addr.bytes[i]) & (uint8_t)~mask)
			return INSEL_E_HOST_BITS;
	}
	memcpy(out->from, from->addr.bytes, 16);
	memcpy(out->to, to->addr.bytes, 16);
	out->len = (uint8_t)from->len;
	return 0;
}

void addr_map_rules6_invert(const struct addr_map_rule6 *in, struct addr_map_rule6 *out,
			    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct addr_map_rule6 r = in[i];

		memcpy(out[i].from, r.to, 16);
		memcpy(out[i].to, r.from, 16);
		out[i].len = r.len;
	}
}

bool addr_map_translate6(const struct addr_map_rule6 *rules, size_t n, const uint8_t addr[16],
			 uint8_t out[16])
{
	uint8_t a[16];

	memcpy(a, addr, 16);  /* out may be addr */
	for (size_t i = 0; i < n; i++) {
		size_t whole = rules[i].len / 8;
		uint8_t bits = rules[i].len % 8, mask = (uint8_t)(0xff << (8 - bits));

		if (!prefix6_holds(rules[i].from, rules[i].len, a))
			continue;
		memcpy(out, rules[i].to, whole);
		memcpy(out + whole, a + whole, 16 - whole);
		if (bits)
			out[whole] = (uint8_t)((rules[i].to[whole] & mask) | (a[whole] & ~mask));
		return true;
	}
	memcpy(out, a, 16);
	return false;
}

/* The sum of 16-bit changes from old to new (RFC 1624 terms), over one address. */
static uint32_t delta128(const uint8_t old[16], const uint8_t new[16])
{
	uint32_t sum = 0;

	for (size_t i = 0; i < 16; i += 2)
		sum += delta16(get16(old + i), get16(new + i));
	return sum;
}

/* Reads the IPv6 header at pkt[at..end) and walks its extension headers to the
 * transport header. An outer packet (quoted = false) must hold its whole payload, which
 * then sets the end; a quoted one (in an ICMPv6 error) may be cut short, and what is cut
 * leaves l4 at 0. */
static int read_header6(const uint8_t *pkt, size_t at, size_t end, bool quoted,
			struct ip6_hdr *h)
{
	struct buf_reader r;
	uint32_t vtcfl;
	uint16_t payload;
	uint8_t next, hop;

	br_init(&r, pkt + at, end - at);
	if (br_u32(&r, &vtcfl))
		return INSEL_E_TRUNCATED;
	if (vtcfl >> 28 == IP_VERSION_4)
		return INSEL_E_VERSION;
	if (vtcfl >> 28 != IP_VERSION_6)
		return INSEL_E_MALFORMED;
	br_u16(&r, &payload);
	br_u8(&r, &next);
	br_u8(&r, &hop);
	br_copy(&r, h->src, 16);
	br_copy(&r, h->dst, 16);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	h->at = at;
	h->l4 = 0;
	if (quoted) {
		h->end = end;
		br_init(&r, pkt + at + IP6_HDR, end - at - IP6_HDR);
	} else {
		if (payload == 0)
			return INSEL_E_MALFORMED;  /* a jumbogram: never through a TUN here */
		if (payload > end - at - IP6_HDR)
			return INSEL_E_TRUNCATED;
		h->end = at + IP6_HDR + payload;
		br_init(&r, pkt + at + IP6_HDR, payload);
	}
	for (unsigned i = 0; i <= IP6_EXT_MAX; i++) {
		uint8_t after, hlen, type, left;
		uint16_t frag;

		if (next != PROTO_HOPOPTS && next != PROTO_ROUTING && next != PROTO_FRAGMENT &&
		    next != PROTO_DSTOPTS) {
			h->proto = next;
			h->l4 = at + IP6_HDR + br_offset(&r);
			return 0;
		}
		if (br_u8(&r, &after) || br_u8(&r, &hlen))
			return quoted ? 0 : INSEL_E_TRUNCATED;
		if (next == PROTO_FRAGMENT) {
			if (br_u16(&r, &frag) || br_skip(&r, 4))
				return quoted ? 0 : INSEL_E_TRUNCATED;
			if (frag & 0xfff8)
				return 0;  /* a later fragment: no transport header */
		} else if (next == PROTO_ROUTING) {
			if (br_u8(&r, &type) || br_u8(&r, &left) || br_skip(&r, (size_t)hlen * 8 + 4))
				return quoted ? 0 : INSEL_E_TRUNCATED;
			if (left != 0)
				return INSEL_E_MALFORMED;
		} else if (br_skip(&r, (size_t)hlen * 8 + 6)) {
			return quoted ? 0 : INSEL_E_TRUNCATED;
		}
		next = after;
	}
	return INSEL_E_MALFORMED;
}

/* The transport checksum's offset (TCP, UDP unless zero, ICMPv6), or 0. */
static size_t transport_csum6_at(const uint8_t *pkt, const struct ip6_hdr *h)
{
	struct buf_reader r;
	uint16_t csum;
	size_t off = h->proto == PROTO_TCP ? TCP_OFF_CSUM : h->proto == PROTO_UDP ? UDP_OFF_CSUM
		     : h->proto == PROTO_ICMPV6 ? ICMP_OFF_CSUM : 0;

	if (!h->l4 || !off)
		return 0;
	br_init(&r, pkt + h->l4, h->end - h->l4);
	if (br_skip(&r, off) || br_u16(&r, &csum) || (h->proto == PROTO_UDP && csum == 0))
		return 0;
	return h->l4 + off;
}

/* Writes src and dst into the header, fixing the transport checksum over them. Returns
 * the sum of the 16-bit changes made (for a checksum around a quoted header). */
static uint32_t rewrite6(uint8_t *pkt, const struct ip6_hdr *h, const uint8_t src[16],
			 const uint8_t dst[16], uint32_t more)
{
	size_t tcsum = transport_csum6_at(pkt, h);
	uint32_t change = delta128(h->src, src) + delta128(h->dst, dst);
	uint16_t old_tsum, new_tsum;

	memcpy(pkt + h->at + IP6_OFF_SRC, src, 16);
	memcpy(pkt + h->at + IP6_OFF_DST, dst, 16);
	if (!tcsum)
		return change;
	old_tsum = get16(pkt + tcsum);
	new_tsum = csum_adjust(old_tsum, change + more);
	if (h->proto == PROTO_UDP && new_tsum == 0)
		new_tsum = 0xffff;  /* zero would mean "no checksum" */
	put16(pkt + tcsum, new_tsum);
	return change + delta16(old_tsum, new_tsum);
}

/* An ICMPv6 error's quoted header: its source through the destination rules, its
 * destination through the source rules. Returns the sum of the changes (which the outer
 * ICMPv6 checksum must take in) and sets *done's ADDR_MAP_INNER when it changed any. */
static uint32_t map_icmp6_quote(const struct addr_map6 *m, uint8_t *pkt, const struct ip6_hdr *h,
				unsigned *done)
{
	struct buf_reader r;
	struct ip6_hdr in;
	uint8_t type, src[16], dst[16];
	bool ms, md;

	if (!h->l4 || h->proto != PROTO_ICMPV6)
		return 0;
	br_init(&r, pkt + h->l4, h->end - h->l4);
	if (br_u8(&r, &type) || type > ICMPV6_ERROR_LAST || br_skip(&r, ICMP_HDR - 1))
		return 0;
	if (read_header6(pkt, h->l4 + ICMP_HDR, h->end, true, &in))
		return 0;
	ms = addr_map_translate6(m->dst, m->n_dst, in.src, src);
	md = addr_map_translate6(m->src, m->n_src, in.dst, dst);
	if (!ms && !md)
		return 0;
	*done |= ADDR_MAP_INNER;
	return rewrite6(pkt, &in, src, dst, 0);
}

int addr_map_packet6(const struct addr_map6 *m, uint8_t *pkt, size_t len)
{
	struct ip6_hdr h;
	uint8_t src[16], dst[16];
	unsigned done = 0;
	uint32_t inner;
	int rc = read_header6(pkt, 0, len, false, &h);

	if (rc)
		return rc;
	if (addr_map_translate6(m->src, m->n_src, h.src, src))
		done |= ADDR_MAP_SRC;
	if (addr_map_translate6(m->dst, m->n_dst, h.dst, dst))
		done |= ADDR_MAP_DST;
	inner = map_icmp6_quote(m, pkt, &h, &done);
	if (done)  /* the ICMPv6 checksum takes the quote's changes with the addresses' */
		(void)rewrite6(pkt, &h, src, dst, inner);
	return (int)done;
}
