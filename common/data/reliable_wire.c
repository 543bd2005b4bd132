/* The reliable mode's segment codec (reliable_wire.h): structure only, through buf.h. */
#include "reliable_wire.h"

#include "buf.h"
#include "err.h"
#include "reliable.h"

size_t rel_seg_header_len(const struct rel_seg *s)
{
	size_t n = REL_HDR_LEN + (size_t)s->nsack * REL_SACK_LEN;

	if (s->flags & REL_F_SEQ)
		n += REL_SEQ_LEN;
	if (s->flags & REL_F_MSG)
		n += REL_MSG_LEN;
	return n;
}

static bool flags_valid(uint8_t flags)
{
	if (flags & ~REL_F_ALL)
		return false;
	if ((flags & (REL_F_FIN | REL_F_MSG)) && !(flags & REL_F_SEQ))
		return false;
	return true;
}

/* Blocks lie above ack, ascending, neither touching nor overlapping, and their offsets
 * fit 32 bits. */
static bool sacks_valid(const struct rel_seg *s)
{
	uint64_t floor = s->ack;

	for (unsigned i = 0; i < s->nsack; i++) {
		const struct rel_sack *b = &s->sack[i];

		if (b->start <= floor || b->end <= b->start)
			return false;
		if (b->start - s->ack > UINT32_MAX || b->end - b->start > UINT32_MAX)
			return false;
		floor = b->end;
	}
	return true;
}

static bool msg_valid(const struct rel_seg *s)
{
	if (!(s->flags & REL_F_MSG))
		return true;
	if (s->len == 0 || s->msg_len > REL_MAX_MSG || s->msg_off > s->msg_len ||
	    s->len > (size_t)(s->msg_len - s->msg_off) || s->seq < s->msg_off)
		return false;
	return true;
}

int rel_seg_encode_header(const struct rel_seg *s, uint8_t *out, size_t cap)
{
	struct buf_writer w;

	if (!flags_valid(s->flags) || s->nsack > REL_MAX_SACK || !sacks_valid(s) ||
	    !msg_valid(s))
		return INSEL_E_BAD_FIELD;
	bw_init(&w, out, cap);
	bw_u8(&w, REL_WIRE_VERSION);
	bw_u8(&w, s->flags);
	bw_u8(&w, s->nsack);
	bw_u8(&w, 0);
	bw_u32(&w, s->conn_id);
	bw_u64(&w, s->ack);
	bw_u32(&w, s->window);
	for (unsigned i = 0; i < s->nsack; i++) {
		bw_u32(&w, (uint32_t)(s->sack[i].start - s->ack));
		bw_u32(&w, (uint32_t)(s->sack[i].end - s->sack[i].start));
	}
	if (s->flags & REL_F_SEQ)
		bw_u64(&w, s->seq);
	if (s->flags & REL_F_MSG) {
		bw_u32(&w, s->msg_off);
		bw_u32(&w, s->msg_len);
	}
	if (bw_error(&w))
		return INSEL_E_NOSPACE;
	return (int)bw_len(&w);
}

static int decode_sacks(struct buf_reader *r, struct rel_seg *s)
{
	for (unsigned i = 0; i < s->nsack; i++) {
		uint32_t off = 0, len = 0;

		br_u32(r, &off);
		br_u32(r, &len);
		s->sack[i].start = s->ack + off;
		s->sack[i].end = s->sack[i].start + len;
		/* 64-bit sums of a 64-bit ack and 32-bit offsets may wrap: malformed. */
		if (s->sack[i].start < s->ack || s->sack[i].end < s->sack[i].start)
			return INSEL_E_MALFORMED;
	}
	return 0;
}

int rel_seg_decode(const uint8_t *payload, size_t len, struct rel_seg *s)
{
	struct buf_reader r;
	uint8_t version = 0, zero = 0;
	int rc;

	*s = (struct rel_seg){ 0 };
	br_init(&r, payload, len);
	br_u8(&r, &version);
	br_u8(&r, &s->flags);
	br_u8(&r, &s->nsack);
	br_u8(&r, &zero);
	br_u32(&r, &s->conn_id);
	br_u64(&r, &s->ack);
	br_u32(&r, &s->window);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	if (version != REL_WIRE_VERSION || zero != 0 || !flags_valid(s->flags) ||
	    s->nsack > REL_MAX_SACK)
		return INSEL_E_MALFORMED;
	rc = decode_sacks(&r, s);
	if (rc)
		return rc;
	if (s->flags & REL_F_SEQ)
		br_u64(&r, &s->seq);
	if (s->flags & REL_F_MSG) {
		br_u32(&r, &s->msg_off);
		br_u32(&r, &s->msg_len);
	}
	br_rest(&r, &s->data, &s->len);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	if (!(s->flags & REL_F_SEQ) && s->len != 0)
		return INSEL_E_MALFORMED;
	if ((s->flags & REL_F_SEQ) && s->seq + s->len < s->seq)
		return INSEL_E_MALFORMED;
	if (!sacks_valid(s) || !msg_valid(s))
		return INSEL_E_MALFORMED;
	return 0;
}

int rel_peek_conn(const uint8_t *payload, size_t len, uint32_t *conn_id)
{
	struct buf_reader r;
	uint8_t version = 0;

	br_init(&r, payload, len);
	br_u8(&r, &version);
	br_skip(&r, 3);
	br_u32(&r, conn_id);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	return version == REL_WIRE_VERSION ? 0 : INSEL_E_MALFORMED;
}
