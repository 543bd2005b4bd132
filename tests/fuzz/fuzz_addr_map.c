/* libFuzzer target: the 1:1 IPv4 and IPv6 address mapping (common/data/addr_map.h), which
 * rewrites packets from a TUN interface and from peers in place. The first 10 bytes choose
 * the rules (a source and a destination prefix, each mapped to another of the same
 * length); the rest is the packet, given to addr_map_packet6 as well when it says version
 * 6 (the IPv6 rules hold the first bytes of the fd01::11 -> fd30::1 kind). Whatever the bytes, the mapping must not read or write past
 * the packet's total length; a refused packet is left unchanged; a mapped one has a
 * header checksum that verifies if it verified before, and mapping back with the inverted
 * rules restores its addresses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr_map.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t header_sum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static struct addr_map_rule rule_from(const uint8_t *d)
{
	uint8_t len = d[0] % 33;
	uint32_t mask = len ? 0xffffffffu << (32 - len) : 0;
	struct addr_map_rule r = {be32(d + 1) & mask, (be32(d + 1) ^ 0x0a630000u) & mask, len};

	return r;
}

static struct addr_map_rule6 rule6_from(const uint8_t *d)
{
	struct addr_map_rule6 r = {{0xfd, 0x01}, {0xfd, 0x30}, (uint8_t)(d[0] % 129)};

	memcpy(r.from + 12, d + 1, 4);
	memcpy(r.to + 12, d + 1, 4);
	r.to[15] ^= 0x5a;
	for (int i = 0; i < 16; i++) {
		int keep = r.len - i * 8;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		r.from[i] &= mask;
		r.to[i] &= mask;
	}
	return r;
}

/* The IPv6 mapping: within the bytes, unchanged when refused, and back to the same
 * addresses under the inverted rules when both matched. */
static void fuzz6(const uint8_t *data, uint8_t *pkt, uint8_t *copy, size_t len)
{
	struct addr_map_rule6 s = rule6_from(data), d = rule6_from(data + 5), is, id;
	struct addr_map6 m = {&s, 1, &d, 1}, back = {&is, 1, &id, 1};
	int rc;

	addr_map_rules6_invert(&s, &is, 1);
	addr_map_rules6_invert(&d, &id, 1);
	memcpy(copy, pkt, len);
	rc = addr_map_packet6(&m, pkt, len);
	if (rc <= 0 && memcmp(pkt, copy, len) != 0)
		abort();
	if (rc > 0 && (rc & 3) == 3 &&
	    (addr_map_packet6(&back, pkt, len) < 0 || memcmp(pkt + 8, copy + 8, 32) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_map_rule s, d, is, id;
	struct addr_map m = {&s, 1, &d, 1}, back = {&is, 1, &id, 1};
	uint8_t *pkt, *copy;
	size_t len, hlen;
	uint32_t src, dst;
	int rc;
	bool sum_ok;

	if (size < 10)
		return 0;
	s = rule_from(data);
	d = rule_from(data + 5);
	addr_map_rules_invert(&s, &is, 1);
	addr_map_rules_invert(&d, &id, 1);
	len = size - 10;
	/* Private copies of exactly len bytes, so that ASan sees any access past them. */
	pkt = malloc(len ? len : 1);
	copy = malloc(len ? len : 1);
	if (!pkt || !copy)
		abort();
	memcpy(pkt, data + 10, len);
	memcpy(copy, pkt, len);
	hlen = len ? (size_t)(pkt[0] & 15) * 4 : 0;
	sum_ok = len >= 20 && hlen >= 20 && hlen <= len && header_sum(pkt, hlen) == 0xffff;
	rc = addr_map_packet(&m, pkt, len);
	if (rc < 0 && memcmp(pkt, copy, len) != 0)
		abort();
	if (rc > 0) {
		if (sum_ok && header_sum(pkt, hlen) != 0xffff)
			abort();
		addr_map_translate(&s, 1, be32(copy + 12), &src);
		addr_map_translate(&d, 1, be32(copy + 16), &dst);
		if (be32(pkt + 12) != src || be32(pkt + 16) != dst)
			abort();
		/* Back only when both matched: an address no rule held might lie in the
		 * inverted rule's prefix. */
		if ((rc & 3) == 3 && (addr_map_packet(&back, pkt, len) < 0 || be32(pkt + 12) != be32(copy + 12) ||
		    be32(pkt + 16) != be32(copy + 16)))
			abort();
	}
	if (rc == 0 && memcmp(pkt, copy, len) != 0)
		abort();
	if (rc == INSEL_E_VERSION)
		fuzz6(data, pkt, copy, len);
	free(pkt);
	free(copy);
	return 0;
}
