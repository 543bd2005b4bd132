/* The relay's stream framing (relay_stream.h): a 2-byte length before each datagram.
 *
 * The reader hands records straight out of the chunk it was fed when they lie whole in
 * it, and copies into its partial buffer only the record a chunk boundary cuts, so
 * nothing is held beyond one record (at most 2 + 65535 bytes per stream). */
#include "relay_stream.h"

#include <errno.h>
#include <string.h>

#include "err.h"

void relay_stream_reader_init(struct relay_stream_reader *r)
{
	buf_init(&r->partial, RELAY_STREAM_PREFIX + RELAY_STREAM_RECORD_MAX);
	r->records = 0;
}

void relay_stream_reader_free(struct relay_stream_reader *r)
{
	buf_free(&r->partial);
}

size_t relay_stream_pending(const struct relay_stream_reader *r)
{
	return r->partial.len;
}

int relay_stream_next(const uint8_t *data, size_t len, const uint8_t **record,
		      size_t *record_len)
{
	struct buf_reader br;
	uint16_t n = 0;

	br_init(&br, data, len);
	if (br_u16(&br, &n) != 0)
		return 0;
	if (n == 0)
		return INSEL_E_MALFORMED;
	if (br_view(&br, record, n) != 0)
		return 0;
	*record_len = n;
	return (int)br_offset(&br);
}

/* How many more bytes the partial record needs: the rest of the prefix first, then the
 * rest of the record. */
static size_t partial_wants(const struct buf *p)
{
	if (p->len < RELAY_STREAM_PREFIX)
		return RELAY_STREAM_PREFIX - p->len;
	return RELAY_STREAM_PREFIX + (((size_t)p->data[0] << 8) | p->data[1]) - p->len;
}

/* Completes the partial record from data as far as data goes; returns the bytes taken,
 * or a negative error. */
static int fill_partial(struct relay_stream_reader *r, const uint8_t *data, size_t len,
			relay_stream_record_fn fn, void *ctx)
{
	size_t taken = 0;

	while (taken < len && r->partial.len > 0) {
		size_t want = partial_wants(&r->partial), n = len - taken < want ? len - taken : want;
		const uint8_t *record;
		size_t record_len;
		int rc = buf_append(&r->partial, data + taken, n);

		if (rc)
			return rc;
		taken += n;
		if (r->partial.len < RELAY_STREAM_PREFIX)
			continue;
		rc = relay_stream_next(r->partial.data, r->partial.len, &record, &record_len);
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue;
		r->records++;
		rc = fn(ctx, record, record_len);
		buf_consume(&r->partial, r->partial.len);
		if (rc)
			return rc;
	}
	return (int)taken;
}

int relay_stream_feed(struct relay_stream_reader *r, const uint8_t *data, size_t len,
		      relay_stream_record_fn fn, void *ctx)
{
	size_t off = 0;
	int rc;

	if (r->partial.len > 0) {
		rc = fill_partial(r, data, len, fn, ctx);
		if (rc < 0)
			return rc;
		off = (size_t)rc;
	}
	while (off < len) {
		const uint8_t *record;
		size_t record_len;

		rc = relay_stream_next(data + off, len - off, &record, &record_len);
		if (rc < 0)
			return rc;
		if (rc == 0)  /* cut by the chunk's end: kept for the next feed */
			return buf_append(&r->partial, data + off, len - off);
		off += (size_t)rc;
		r->records++;
		rc = fn(ctx, record, record_len);
		if (rc)
			return rc;
	}
	return 0;
}

int relay_stream_prefix(size_t len, uint8_t out[RELAY_STREAM_PREFIX])
{
	if (len == 0 || len > RELAY_STREAM_RECORD_MAX)
		return INSEL_E_TOO_BIG;
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	return 0;
}

int relay_stream_encode(const uint8_t *record, size_t len, uint8_t *out, size_t cap)
{
	if (len == 0 || len > RELAY_STREAM_RECORD_MAX)
		return INSEL_E_TOO_BIG;
	if (cap < RELAY_STREAM_PREFIX + len)
		return INSEL_E_NOSPACE;
	relay_stream_prefix(len, out);
	memcpy(out + RELAY_STREAM_PREFIX, record, len);
	return (int)(RELAY_STREAM_PREFIX + len);
}
