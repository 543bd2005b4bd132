/* Bounds-checked readers and writers (see buf.h). */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void br_init(struct buf_reader *r, const void *data, size_t len)
{
	r->data = data;
	r->len = data ? len : 0;
	r->off = 0;
	r->err = 0;
}

size_t br_remaining(const struct buf_reader *r)
{
	return r->len - r->off;
}

int br_error(const struct buf_reader *r)
{
	return r->err;
}

size_t br_offset(const struct buf_reader *r)
{
	return r->off;
}

/* Claims n bytes for reading; returns NULL (and sets the sticky error) if unavailable. */
static const uint8_t *br_take(struct buf_reader *r, size_t n)
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

int br_u8(struct buf_reader *r, uint8_t *out)
{
	const uint8_t *p = br_take(r, 1);

	if (!p)
		return r->err;
	*out = p[0];
	return 0;
}

int br_u16(struct buf_reader *r, uint16_t *out)
{
	const uint8_t *p = br_take(r, 2);

	if (!p)
		return r->err;
	*out = (uint16_t)((unsigned)p[0] << 8 | p[1]);
	return 0;
}

int br_u32(struct buf_reader *r, uint32_t *out)
{
	const uint8_t *p = br_take(r, 4);

	if (!p)
		return r->err;
	*out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return 0;
}

int br_u64(struct buf_reader *r, uint64_t *out)
{
	uint32_t hi, lo;

	if (br_u32(r, &hi) || br_u32(r, &lo))
		return r->err;
	*out = (uint64_t)hi << 32 | lo;
	return 0;
}

int br_copy(struct buf_reader *r, void *out, size_t n)
{
	const uint8_t *p = br_take(r, n);

	if (!p)
		return r->err;
	if (n)
		memcpy(out, p, n);
	return 0;
}

int br_view(struct buf_reader *r, const uint8_t **out, size_t n)
{
	const uint8_t *p = br_take(r, n);

	if (!p)
		return r->err;
	*out = p;
	return 0;
}

int br_rest(struct buf_reader *r, const uint8_t **out, size_t *n)
{
	if (r->err)
		return r->err;
	*n = br_remaining(r);
	return br_view(r, out, *n);
}

int br_skip(struct buf_reader *r, size_t n)
{
	return br_take(r, n) ? 0 : r->err;
}

int br_sub(struct buf_reader *r, struct buf_reader *sub, size_t n)
{
	const uint8_t *p = br_take(r, n);

	if (!p) {
		br_init(sub, NULL, 0);
		sub->err = r->err;
		return r->err;
	}
	br_init(sub, p, n);
	return 0;
}

int bw_bytes(struct buf_writer *w, const void *src, size_t n)
{
	uint8_t *p;

	if (bw_reserve(w, n, &p))
		return w->err;
	if (n)
		memcpy(p, src, n);
	return 0;
}

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int buf_append(struct buf *b, const void *src, size_t n)
{
	if (n > b->max - b->len)
		return INSEL_E_TOO_BIG;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : (b->max < 256 ? b->max : 256);
		uint8_t *grown;

		while (cap < b->len + n)
			cap = cap > b->max / 2 ? b->max : cap * 2;
		/* Not realloc: the old block may hold secrets and must be wiped. */
		grown = malloc(cap);
		if (!grown)
			return -ENOMEM;
		if (b->len)
			memcpy(grown, b->data, b->len);
		if (b->data) {
			secure_wipe(b->data, b->cap);
			free(b->data);
		}
		b->data = grown;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, src, n);
	b->len += n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		if (b->data)
			secure_wipe(b->data, b->len);
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	secure_wipe(b->data + b->len - n, n);
	b->len -= n;
}

void buf_free(struct buf *b)
{
	if (b->data) {
		secure_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void secure_wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;

	while (n--)
		*v++ = 0;
}
