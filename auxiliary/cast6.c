/* A room's IPv6 multicast datagrams (see cast6.h). */
#include "cast6.h"

#include <string.h>

#include "buf.h"
#include "err.h"
#include "ipv4.h"

#define CAST6_PROTO_UDP 17

bool cast6_link_local(const uint8_t addr[16])
{
	return addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80;
}

static bool group_is(const uint8_t group[16], uint8_t scope, uint32_t low)
{
	static const uint8_t zeros[10];

	return group[0] == 0xff && group[1] == scope && memcmp(group + 2, zeros, 10) == 0 &&
	       ((uint32_t)group[12] << 24 | (uint32_t)group[13] << 16 |
		(uint32_t)group[14] << 8 | group[15]) == low;
}

bool cast6_group_carried(const uint8_t group[16])
{
	static const struct {
		uint8_t scope;
		uint32_t low;
	} machinery[] = {
		{0x02, 0x00010002},  /* All_DHCP_Relay_Agents_and_Servers */
		{0x05, 0x00010003},  /* All_DHCP_Servers */
		{0x02, 0x00000002},  /* all routers (HSRP, LDP hellos) */
		{0x02, 0x00000005}, {0x02, 0x00000006},  /* OSPFv3 */
		{0x02, 0x00000009},  /* RIPng routers */
		{0x02, 0x0000000d},  /* PIM */
		{0x02, 0x00000012},  /* VRRP */
		{0x02, 0x00000066},  /* HSRP for IPv6 */
		{0x02, 0x00010006},  /* Babel */
	};
	unsigned scope = group[1] & 0x0f;

	if (group[0] != 0xff || scope < 2 || scope > 14)
		return false;
	for (size_t i = 0; i < sizeof machinery / sizeof machinery[0]; i++)
		if (group_is(group, machinery[i].scope, machinery[i].low))
			return false;
	return true;
}

static bool unicast_source(const uint8_t src[16])
{
	static const uint8_t unspecified[16];

	return src[0] != 0xff && memcmp(src, unspecified, 16) != 0;
}

int cast6_parse(const uint8_t *pkt, size_t len, struct cast6_info *out)
{
	struct buf_reader r, udp;
	uint32_t vtcfl;
	uint16_t payload, udp_len;
	uint8_t next, hop_limit;

	memset(out, 0, sizeof *out);
	br_init(&r, pkt, len);
	br_u32(&r, &vtcfl);
	br_u16(&r, &payload);
	br_u8(&r, &next);
	br_u8(&r, &hop_limit);
	br_copy(&r, out->src, sizeof out->src);
	br_copy(&r, out->dst, sizeof out->dst);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	if (vtcfl >> 28 != 6 || next != CAST6_PROTO_UDP || payload < 8)
		return INSEL_E_MALFORMED;
	if (br_sub(&r, &udp, payload))
		return INSEL_E_TRUNCATED;
	br_u16(&udp, &out->src_port);
	br_u16(&udp, &out->dst_port);
	br_u16(&udp, &udp_len);
	if (br_error(&udp) || udp_len != payload || !unicast_source(out->src) ||
	    !cast6_group_carried(out->dst))
		return INSEL_E_MALFORMED;
	out->total_len = (uint16_t)(40 + payload);  /* br_sub: 40 + payload <= len */
	return 0;
}

/* The one's complement sum of the pseudo-header (RFC 8200 8.1) and the UDP datagram,
 * checksum field included, folded to 16 bits. */
static uint16_t udp6_sum(const uint8_t *pkt, size_t total_len)
{
	size_t udp_len = total_len - 40;
	const uint8_t *udp = pkt + 40;
	uint32_t sum = (uint32_t)(udp_len >> 16) + (uint32_t)(udp_len & 0xffff) +
		       CAST6_PROTO_UDP;

	/* the pseudo-header's source and destination, then the datagram */
	return inet_checksum_fold(udp, udp_len, inet_checksum_fold(pkt + 8, 32, sum));
}

void cast6_set_source(uint8_t *pkt, struct cast6_info *ip, const uint8_t src[16])
{
	uint16_t csum;

	memcpy(pkt + 8, src, 16);
	memcpy(ip->src, src, 16);
	pkt[46] = pkt[47] = 0;
	csum = (uint16_t)~udp6_sum(pkt, ip->total_len);
	if (csum == 0)
		csum = 0xffff;  /* zero would mean "no checksum", which IPv6 forbids */
	pkt[46] = (uint8_t)(csum >> 8);
	pkt[47] = (uint8_t)csum;
}

bool cast6_checksum_ok(const uint8_t *pkt, const struct cast6_info *ip)
{
	return (pkt[46] | pkt[47]) != 0 && udp6_sum(pkt, ip->total_len) == 0xffff;
}

void cast6_group_mac(const uint8_t group[16], uint8_t mac[6])
{
	mac[0] = mac[1] = 0x33;
	memcpy(mac + 2, group + 12, 4);
}

int cast6_member_of(const struct addr_map_rule6 *members, size_t n, const uint8_t (*macs)[6],
		    uint32_t known, const uint8_t src[16], const uint8_t mac[6])
{
	size_t candidates = 0, found = 0;

	for (size_t j = 0; j < n && j < 32; j++) {
		if (!(known & 1u << j) || memcmp(macs[j], mac, 6) != 0)
			continue;
		if (memcmp(src, members[j].from, 16) == 0)
			return (int)j;
		candidates++;
		found = j;
	}
	return candidates == 1 && cast6_link_local(src) ? (int)found : -1;
}

bool cast6_host_mac(struct cast6_host_macs *kept, const struct cast6_host_macs *fresh,
		    uint8_t mac[6])
{
	if (fresh->known6) {
		memcpy(kept->mac6, fresh->mac6, 6);
		kept->known6 = true;
	}
	if (fresh->known4) {
		memcpy(kept->mac4, fresh->mac4, 6);
		kept->known4 = true;
	}
	if (kept->known6 && kept->known4 && memcmp(kept->mac6, kept->mac4, 6) != 0)
		return false;
	if (!kept->known6 && !kept->known4)
		return false;
	memcpy(mac, kept->known6 ? kept->mac6 : kept->mac4, 6);
	return true;
}
