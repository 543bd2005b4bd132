/* Bounds-checked readers and writers (see buf.h). */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int br_copy(struct buf_reader *r, void *out, size_t n)
{
	const uint8_t *p = br_take(r, n);

	if (!p)
		return r->err;
	if (n)
		memcpy(out, p, n);
	return 0;
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
