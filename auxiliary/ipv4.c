/* IPv4 header parsing, prefix checks and ICMP errors for network calls (see ipv4.h). */
#include "ipv4.h"

#include <string.h>

#include "buf.h"
#include "err.h"

int ipv4_parse(const uint8_t *pkt, size_t len, struct ipv4_info *out)
{
	struct buf_reader r;
	uint8_t vihl, tos, icmp_type;
	uint16_t id, csum;

	memset(out, 0, sizeof *out);
	br_init(&r, pkt, len);
	if (br_u8(&r, &vihl))
		return INSEL_E_TRUNCATED;
	out->version = vihl >> 4;
	if (out->version == 6)
		return len >= 40 ? 0 : INSEL_E_TRUNCATED;
	if (out->version != 4)
		return INSEL_E_MALFORMED;
	out->header_len = (uint8_t)((vihl & 15) * 4);
	if (out->header_len < IPV4_HEADER_MIN)
		return INSEL_E_MALFORMED;
	br_u8(&r, &tos);
	br_u16(&r, &out->total_len);
	br_u16(&r, &id);
	br_u16(&r, &out->frag);
	br_u8(&r, &out->ttl);
	br_u8(&r, &out->proto);
	br_u16(&r, &csum);
	br_u32(&r, &out->src);
	br_u32(&r, &out->dst);
	br_skip(&r, (size_t)out->header_len - IPV4_HEADER_MIN);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	if (out->total_len < out->header_len)
		return INSEL_E_MALFORMED;
	if (out->total_len > len)
		return INSEL_E_TRUNCATED;
	if (out->proto == IPV4_PROTO_ICMP && (out->frag & 0x1fff) == 0 &&
	    out->total_len > out->header_len && br_u8(&r, &icmp_type) == 0)
		out->icmp_error = icmp_type == ICMP_DEST_UNREACH ||
				  icmp_type == ICMP_TIME_EXCEEDED ||
				  icmp_type == ICMP_PARAM_PROBLEM;
	return 0;
}

uint32_t ipv4_from_addr(const struct ip_addr *a)
{
	if (a->family != AF_INET)
		return 0;
	return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	       (uint32_t)a->bytes[2] << 8 | a->bytes[3];
}

bool ipv4_group_carried(uint32_t group)
{
	static const uint8_t routing[] = {2, 5, 6, 9, 13, 18, 102, 111};

	if ((group >> 28) != 0xe)
		return false;
	if ((group >> 8) != 0xe00000)  /* outside 224.0.0.0/24 */
		return true;
	for (size_t i = 0; i < sizeof routing; i++)
		if ((group & 0xff) == routing[i])
			return false;
	return true;
}

bool ipv4_in_prefixes(uint32_t addr, const struct ip_prefix *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct ip_prefix *p = &list[i];
		uint32_t mask;

		if (p->addr.family != AF_INET)
			continue;
		mask = p->len == 0 ? 0 : 0xffffffffu << (32 - p->len);
		if ((addr & mask) == (ipv4_from_addr(&p->addr) & mask))
			return true;
	}
	return false;
}

uint16_t inet_checksum_fold(const uint8_t *data, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)data[i] << 8 | data[i + 1];
	if (i < len)
		sum += (uint32_t)data[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* RFC 1122 3.2.2 and RFC 1812 4.3.2.7: never an error about an error, a later fragment,
 * or a packet whose source is not one host. */
static bool error_allowed(const struct ipv4_info *info)
{
	uint8_t top = (uint8_t)(info->src >> 24);

	return !info->icmp_error && (info->frag & 0x1fff) == 0 && info->src != 0 &&
	       info->src != 0xffffffffu && top != 127 && (top & 0xf0) != 0xe0 &&
	       (info->dst >> 28) != 0xe && info->dst != 0xffffffffu;
}

size_t icmp_build_error(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
			const struct ipv4_info *info, uint32_t src, uint8_t type,
			uint8_t code, uint16_t mtu)
{
	struct buf_writer w;
	size_t quote = info->total_len < len ? info->total_len : len;
	uint8_t *ip, *icmp;
	uint16_t sum;

	if (!error_allowed(info) || info->version != 4)
		return 0;
	if (quote > ICMP_ERROR_QUOTE)
		quote = ICMP_ERROR_QUOTE;
	bw_init(&w, out, cap);
	bw_u8(&w, 0x45);
	bw_u8(&w, 0xc0);  /* internetwork control, as routers send their errors */
	bw_u16(&w, (uint16_t)(IPV4_HEADER_MIN + 8 + quote));
	bw_u16(&w, 0);
	bw_u16(&w, 0);
	bw_u8(&w, 64);
	bw_u8(&w, IPV4_PROTO_ICMP);
	bw_u16(&w, 0);    /* header checksum, below */
	bw_u32(&w, src);
	bw_u32(&w, info->src);
	bw_u8(&w, type);
	bw_u8(&w, code);
	bw_u16(&w, 0);    /* ICMP checksum, below */
	bw_u16(&w, 0);
	bw_u16(&w, type == ICMP_DEST_UNREACH && code == ICMP_CODE_FRAG_NEEDED ? mtu : 0);
	bw_bytes(&w, pkt, quote);
	if (bw_error(&w))
		return 0;
	ip = out;
	icmp = out + IPV4_HEADER_MIN;
	sum = (uint16_t)~inet_checksum_fold(ip, IPV4_HEADER_MIN, 0);
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	sum = (uint16_t)~inet_checksum_fold(icmp, 8 + quote, 0);
	icmp[2] = (uint8_t)(sum >> 8);
	icmp[3] = (uint8_t)sum;
	return bw_len(&w);
}
