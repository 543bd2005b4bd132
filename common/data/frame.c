/* Data-frame encoding and parsing (see frame.h and docs/frames.md). */
#include "frame.h"

#include <string.h>

#include "buf.h"
#include "err.h"

int frame_header_encode(const struct frame_header *h, uint8_t *out, size_t cap)
{
	struct buf_writer w;

	bw_init(&w, out, cap);
	bw_u8(&w, h->type);
	bw_u8(&w, h->epoch);
	bw_u8(&w, h->frag);
	bw_u8(&w, h->frags);
	bw_u32(&w, h->session);
	bw_u64(&w, h->counter);
	return bw_error(&w);
}

static int check_header(const struct frame_header *h, size_t sealed_len)
{
	switch (h->type) {
	case FRAME_DATA:
	case FRAME_DATA_DEFLATE:
		if (h->frags == 0 || h->frag >= h->frags)
			return INSEL_E_MALFORMED;
		return 0;
	case FRAME_KEEPALIVE:
		if (h->frag != 0 || h->frags != 1 || sealed_len != FRAME_TAG_LEN)
			return INSEL_E_MALFORMED;
		return 0;
	case FRAME_PROBE:
		if (h->frag != 0 || h->frags != 1 ||
		    sealed_len < FRAME_TAG_LEN + FRAME_PROBE_PAYLOAD_MIN)
			return INSEL_E_MALFORMED;
		return 0;
	default:
		return INSEL_E_MALFORMED;
	}
}

int frame_decode(const uint8_t *dgram, size_t len, struct frame_view *out)
{
	struct buf_reader r;
	struct frame_header h;
	const uint8_t *ad = NULL;
	int rc;

	br_init(&r, dgram, len);
	br_view(&r, &ad, FRAME_HEADER_LEN);
	br_init(&r, dgram, len);  /* read the same bytes again as fields */
	br_u8(&r, &h.type);
	br_u8(&r, &h.epoch);
	br_u8(&r, &h.frag);
	br_u8(&r, &h.frags);
	br_u32(&r, &h.session);
	br_u64(&r, &h.counter);
	if ((rc = br_error(&r)) != 0)
		return rc;
	if (br_remaining(&r) < FRAME_TAG_LEN)
		return INSEL_E_TRUNCATED;
	if ((rc = check_header(&h, br_remaining(&r))) != 0)
		return rc;
	out->hdr = h;
	out->ad = ad;
	br_rest(&r, &out->sealed, &out->sealed_len);
	return br_error(&r);
}

int frame_peek_session(const uint8_t *dgram, size_t len, uint32_t *session)
{
	struct buf_reader r;

	br_init(&r, dgram, len);
	br_skip(&r, 4);
	br_u32(&r, session);
	return br_error(&r);
}

int frame_probe_encode(const struct frame_probe *p, uint8_t *out, size_t len)
{
	struct buf_writer w;

	if (len < FRAME_PROBE_PAYLOAD_MIN)
		return INSEL_E_NOSPACE;
	memset(out, 0, len);
	bw_init(&w, out, len);
	bw_u8(&w, p->kind);
	bw_u8(&w, p->flags);
	bw_u16(&w, 0);
	bw_u32(&w, p->id);
	bw_u16(&w, p->size);
	return bw_error(&w);
}

int frame_probe_decode(const uint8_t *payload, size_t len, struct frame_probe *out)
{
	struct buf_reader r;
	uint16_t reserved;
	int rc;

	br_init(&r, payload, len);
	br_u8(&r, &out->kind);
	br_u8(&r, &out->flags);
	br_u16(&r, &reserved);
	br_u32(&r, &out->id);
	br_u16(&r, &out->size);
	if ((rc = br_error(&r)) != 0)
		return rc;
	if (reserved != 0 ||
	    (out->kind != FRAME_PROBE_REQUEST && out->kind != FRAME_PROBE_REPLY))
		return INSEL_E_MALFORMED;
	return 0;
}

void frame_nonce(uint8_t epoch, uint64_t counter, uint8_t out[AEAD_NONCE_LEN])
{
	struct buf_writer w;

	bw_init(&w, out, AEAD_NONCE_LEN);
	bw_u8(&w, 0);
	bw_u8(&w, 0);
	bw_u8(&w, 0);
	bw_u8(&w, epoch);
	bw_u64(&w, counter);
}
