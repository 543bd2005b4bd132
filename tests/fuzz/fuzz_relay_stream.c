/* libFuzzer target: the relay's stream framing (relay_stream.h), fed whatever arrives on
 * a TLS stream to the relay or from it. The input's first byte picks how the rest is cut
 * into chunks; the records the reader hands out must be exactly those a walk over the
 * whole input finds, in order, and it must never hold more than one record's bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "relay_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct expect {
	const uint8_t *stream;
	size_t len, off;
	size_t seen;
};

/* Each record handed out must be the next one a straight walk finds. */
static int check_record(void *ctx, const uint8_t *record, size_t len)
{
	struct expect *e = ctx;
	const uint8_t *want;
	size_t want_len;
	int n = relay_stream_next(e->stream + e->off, e->len - e->off, &want, &want_len);

	if (n <= 0 || want_len != len || memcmp(want, record, len) != 0)
		abort();
	e->off += (size_t)n;
	e->seen++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_stream_reader r;
	struct expect e;
	size_t chunk, off = 0;
	int rc = 0;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	e = (struct expect){.stream = data + 1, .len = size - 1};
	relay_stream_reader_init(&r);
	while (rc == 0 && off < e.len) {
		size_t n = e.len - off < chunk ? e.len - off : chunk;

		rc = relay_stream_feed(&r, e.stream + off, n, check_record, &e);
		off += n;
		if (relay_stream_pending(&r) > RELAY_STREAM_PREFIX + RELAY_STREAM_RECORD_MAX)
			abort();
	}
	/* A refusal only for a zero length, found exactly where the walk stopped. */
	if (rc != 0 && (rc != INSEL_E_MALFORMED || e.len - e.off < 2 ||
			e.stream[e.off] != 0 || e.stream[e.off + 1] != 0))
		abort();
	if (rc == 0 && relay_stream_pending(&r) != e.len - e.off)
		abort();
	relay_stream_reader_free(&r);
	return 0;
}
