/* Bounds-checked buffers: the only code in insel that walks untrusted bytes.
 *
 * struct buf_reader reads big-endian integers and byte runs from a fixed region; every
 * read checks the remaining length first. Errors are sticky: after the first failure every
 * later read fails too and br_error() reports it, so a parser can chain reads and check
 * once at the end. struct buf_writer is the same for writing into a fixed region.
 * struct buf is a growable byte queue with a hard maximum, for stream reassembly; it wipes
 * its memory when freed because it may have held secrets. */
#ifndef INSEL_BUF_H
#define INSEL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err_codes.h"

struct buf_reader {
	const uint8_t *data;
	size_t len;
	size_t off;
	int err;
};

/* The reads of fixed size are inline: the data plane decodes a frame header and a
 * reliable segment per packet, a dozen reads, and as calls they were about 5% of a
 * reliable channel's receiving auxiliary. A failed read stores 0 (a view: NULL) in *out,
 * so that a parser's locals are never left unset whichever read failed. */

/* Claims n bytes for reading; returns NULL (and sets the sticky error) if unavailable. */
static inline const uint8_t *br_take(struct buf_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->err)
		return NULL;
	if (n > r->len - r->off) {
		r->err = INSEL_E_TRUNCATED;
		return NULL;
	}
	p = r->data + r->off;
	r->off += n;
	return p;
}

static inline void br_init(struct buf_reader *r, const void *data, size_t len)
{
	r->data = data;
	r->len = data ? len : 0;
	r->off = 0;
	r->err = 0;
}

static inline size_t br_remaining(const struct buf_reader *r)
{
	return r->len - r->off;
}

static inline int br_error(const struct buf_reader *r)
{
	return r->err;
}

/* Position of the next byte to read (for computing authenticated-data spans). */
static inline size_t br_offset(const struct buf_reader *r)
{
	return r->off;
}

static inline int br_u8(struct buf_reader *r, uint8_t *out)
{
	const uint8_t *p = br_take(r, 1);

	*out = p ? p[0] : 0;
	return p ? 0 : r->err;
}

static inline int br_u16(struct buf_reader *r, uint16_t *out)
{
	const uint8_t *p = br_take(r, 2);

	*out = p ? (uint16_t)((unsigned)p[0] << 8 | p[1]) : 0;
	return p ? 0 : r->err;
}

static inline int br_u32(struct buf_reader *r, uint32_t *out)
{
	const uint8_t *p = br_take(r, 4);

	*out = p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
	return p ? 0 : r->err;
}

static inline int br_u64(struct buf_reader *r, uint64_t *out)
{
	uint32_t hi, lo;

	br_u32(r, &hi);
	br_u32(r, &lo);
	*out = r->err ? 0 : (uint64_t)hi << 32 | lo;
	return r->err;
}

/* Points *out at the next n bytes inside the reader's region, without copying. */
static inline int br_view(struct buf_reader *r, const uint8_t **out, size_t n)
{
	*out = br_take(r, n);
	return *out ? 0 : r->err;
}

/* Points *out at everything left and consumes it. */
static inline int br_rest(struct buf_reader *r, const uint8_t **out, size_t *n)
{
	*n = r->err ? 0 : br_remaining(r);
	return br_view(r, out, *n);
}

static inline int br_skip(struct buf_reader *r, size_t n)
{
	return br_take(r, n) ? 0 : r->err;
}

/* Copies n bytes out. */
int br_copy(struct buf_reader *r, void *out, size_t n);
/* A sub-reader over the next n bytes (for length-prefixed fields). */
int br_sub(struct buf_reader *r, struct buf_reader *sub, size_t n);

struct buf_writer {
	uint8_t *data;
	size_t cap;
	size_t len;
	int err;
};

/* The writer's fixed-size writes are inline: the data plane writes a nonce and a header
 * per packet, and as calls, each through a memcpy of one to four bytes, they were about
 * 3% of a reliable channel's receiving auxiliary. */
static inline void bw_init(struct buf_writer *w, void *data, size_t cap)
{
	w->data = data;
	w->cap = data ? cap : 0;
	w->len = 0;
	w->err = 0;
}

static inline size_t bw_len(const struct buf_writer *w)
{
	return w->len;
}

static inline int bw_error(const struct buf_writer *w)
{
	return w->err;
}

/* Reserves n bytes and points *out at them, for callers that fill them in place. */
static inline int bw_reserve(struct buf_writer *w, size_t n, uint8_t **out)
{
	if (w->err)
		return w->err;
	if (n > w->cap - w->len) {
		w->err = INSEL_E_NOSPACE;
		return w->err;
	}
	*out = w->data + w->len;
	w->len += n;
	return 0;
}

static inline int bw_u8(struct buf_writer *w, uint8_t v)
{
	uint8_t *p;

	if (bw_reserve(w, 1, &p))
		return w->err;
	p[0] = v;
	return 0;
}

static inline int bw_u16(struct buf_writer *w, uint16_t v)
{
	uint8_t *p;

	if (bw_reserve(w, 2, &p))
		return w->err;
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 0;
}

static inline int bw_u32(struct buf_writer *w, uint32_t v)
{
	uint8_t *p;

	if (bw_reserve(w, 4, &p))
		return w->err;
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 0;
}

static inline int bw_u64(struct buf_writer *w, uint64_t v)
{
	if (bw_u32(w, (uint32_t)(v >> 32)))
		return w->err;
	return bw_u32(w, (uint32_t)v);
}

int bw_bytes(struct buf_writer *w, const void *src, size_t n);

struct buf {
	uint8_t *data;
	size_t len;  /* bytes held, from data[0] */
	size_t cap;  /* bytes allocated */
	size_t max;  /* hard limit on len */
};

void buf_init(struct buf *b, size_t max);
/* Appends n bytes; INSEL_E_TOO_BIG if len would pass max, -ENOMEM on allocation failure. */
int buf_append(struct buf *b, const void *src, size_t n);
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Wipes and frees the storage; the buf can be reused after buf_init. */
void buf_free(struct buf *b);

/* Overwrites memory in a way the compiler may not elide. */
void secure_wipe(void *p, size_t n);

#endif
