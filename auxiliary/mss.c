/* TCP MSS clamping (see mss.h). */
#include "mss.h"

#include "buf.h"

#define TCP_HEADER_MIN 20
#define TCP_CSUM_OFFSET 16

bool mss_is_syn(const uint8_t *pkt, size_t len, size_t tcp)
{
	return len > tcp + 13 && (pkt[tcp + 13] & TCP_FLAG_SYN);
}

/* Where the MSS option's value lies (an offset into pkt), or 0 when there is none. */
static size_t find_mss(const uint8_t *pkt, size_t len, size_t tcp)
{
	struct buf_reader r;
	uint8_t doff = 0;
	size_t thl;

	br_init(&r, pkt, len);
	br_skip(&r, tcp + 12);
	br_u8(&r, &doff);
	thl = (size_t)(doff >> 4) * 4;
	if (br_error(&r) || thl < TCP_HEADER_MIN || thl > len - tcp)
		return 0;
	br_init(&r, pkt + tcp + TCP_HEADER_MIN, thl - TCP_HEADER_MIN);
	while (br_remaining(&r) > 0) {
		uint8_t kind = 0, olen = 0;
		size_t at = tcp + thl - br_remaining(&r);

		br_u8(&r, &kind);
		if (kind == TCP_OPT_END)
			return 0;
		if (kind == TCP_OPT_NOP)
			continue;
		if (br_u8(&r, &olen) != 0 || olen < 2)
			return 0;
		if (kind == TCP_OPT_MSS)
			return olen == 4 && br_remaining(&r) >= 2 ? at + 2 : 0;
		if (br_skip(&r, (size_t)olen - 2) != 0)
			return 0;
	}
	return 0;
}

static uint16_t swap16(uint16_t v)
{
	return (uint16_t)(v >> 8 | v << 8);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit value at an even offset from the
 * start of the segment; at an odd offset its bytes straddle two words, which adds its
 * byte-swapped value to the sum. */
static uint16_t csum_replace(uint16_t csum, uint16_t old, uint16_t new, bool odd)
{
	uint32_t sum;

	if (odd) {
		old = swap16(old);
		new = swap16(new);
	}
	sum = (uint16_t)~csum + (uint32_t)(uint16_t)~old + new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

bool mss_clamp(uint8_t *pkt, size_t len, size_t tcp, uint16_t mss)
{
	size_t at;
	uint16_t old, csum;

	if (!mss_is_syn(pkt, len, tcp) || len < tcp + TCP_HEADER_MIN)
		return false;
	if (!(at = find_mss(pkt, len, tcp)))
		return false;
	old = (uint16_t)(pkt[at] << 8 | pkt[at + 1]);
	if (old <= mss)
		return false;
	csum = (uint16_t)(pkt[tcp + TCP_CSUM_OFFSET] << 8 | pkt[tcp + TCP_CSUM_OFFSET + 1]);
	csum = csum_replace(csum, old, mss, (at - tcp) % 2 != 0);
	pkt[at] = (uint8_t)(mss >> 8);
	pkt[at + 1] = (uint8_t)mss;
	pkt[tcp + TCP_CSUM_OFFSET] = (uint8_t)(csum >> 8);
	pkt[tcp + TCP_CSUM_OFFSET + 1] = (uint8_t)csum;
	return true;
}
