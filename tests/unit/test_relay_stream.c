/* Unit tests for the relay's stream framing (relay_stream.h): the prefix is the 2-byte
 * big-endian length docs/relay.md gives, records come out whole and in order however the
 * stream is cut (every split of a sample stream, and one byte at a time), a zero length
 * is refused, the sizes at the edges encode and what cannot be said is refused, and a
 * callback's refusal stops the feed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "relay_stream.h"

#define SAMPLE_RECORDS 4

struct collected {
	size_t n;
	size_t len[16];
	uint8_t bytes[16][300];
	int stop_after;  /* 0: never */
};

static int collect(void *ctx, const uint8_t *record, size_t len)
{
	struct collected *c = ctx;

	assert_true(c->n < 16 && len <= sizeof c->bytes[0]);
	memcpy(c->bytes[c->n], record, len);
	c->len[c->n++] = len;
	return c->stop_after && (int)c->n == c->stop_after ? INSEL_E_LIMIT : 0;
}

static const size_t sample_len[SAMPLE_RECORDS] = {1, 36, 255, 256};

/* Four records of the sizes above, record i filled with byte i+1. */
static size_t sample_stream(uint8_t *out, size_t cap)
{
	uint8_t record[300];
	size_t off = 0;

	for (unsigned i = 0; i < SAMPLE_RECORDS; i++) {
		int n;

		memset(record, (int)i + 1, sample_len[i]);
		n = relay_stream_encode(record, sample_len[i], out + off, cap - off);
		assert_int_equal(n, (int)(RELAY_STREAM_PREFIX + sample_len[i]));
		off += (size_t)n;
	}
	return off;
}

static void check_sample(const struct collected *c)
{
	assert_int_equal(c->n, SAMPLE_RECORDS);
	for (unsigned i = 0; i < SAMPLE_RECORDS; i++) {
		assert_int_equal(c->len[i], sample_len[i]);
		for (size_t k = 0; k < sample_len[i]; k++)
			assert_int_equal(c->bytes[i][k], i + 1);
	}
}

static void test_prefix_bytes(void **state)
{
	uint8_t out[RELAY_STREAM_PREFIX + 3], p[RELAY_STREAM_PREFIX];
	const uint8_t rec[3] = {0x21, 0xaa, 0xbb};

	(void)state;
	assert_int_equal(relay_stream_encode(rec, 3, out, sizeof out), 5);
	assert_memory_equal(out, ((uint8_t[]){0x00, 0x03, 0x21, 0xaa, 0xbb}), 5);
	assert_int_equal(relay_stream_prefix(RELAY_STREAM_RECORD_MAX, p), 0);
	assert_memory_equal(p, ((uint8_t[]){0xff, 0xff}), 2);
	assert_int_equal(relay_stream_prefix(0x0102, p), 0);
	assert_memory_equal(p, ((uint8_t[]){0x01, 0x02}), 2);
}

static void test_encode_refusals(void **state)
{
	uint8_t out[8], p[RELAY_STREAM_PREFIX];
	const uint8_t rec[8] = {0};

	(void)state;
	assert_int_equal(relay_stream_prefix(0, p), INSEL_E_TOO_BIG);
	assert_int_equal(relay_stream_prefix(RELAY_STREAM_RECORD_MAX + 1, p), INSEL_E_TOO_BIG);
	assert_int_equal(relay_stream_encode(rec, 0, out, sizeof out), INSEL_E_TOO_BIG);
	assert_int_equal(relay_stream_encode(rec, 7, out, sizeof out), INSEL_E_NOSPACE);
	assert_int_equal(relay_stream_encode(rec, 6, out, sizeof out), 8);
}

static void test_whole_stream_at_once(void **state)
{
	uint8_t stream[1024];
	size_t len = sample_stream(stream, sizeof stream);
	struct relay_stream_reader r;
	struct collected c = {0};

	(void)state;
	relay_stream_reader_init(&r);
	assert_int_equal(relay_stream_feed(&r, stream, len, collect, &c), 0);
	check_sample(&c);
	assert_int_equal(relay_stream_pending(&r), 0);
	assert_int_equal(r.records, SAMPLE_RECORDS);
	relay_stream_reader_free(&r);
}

/* Every way of cutting the stream in two, and in three at every pair of points. */
static void test_every_split(void **state)
{
	uint8_t stream[1024];
	size_t len = sample_stream(stream, sizeof stream);

	(void)state;
	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b += (a % 7) + 1) {
			struct relay_stream_reader r;
			struct collected c = {0};

			relay_stream_reader_init(&r);
			assert_int_equal(relay_stream_feed(&r, stream, a, collect, &c), 0);
			assert_int_equal(relay_stream_feed(&r, stream + a, b - a, collect, &c), 0);
			assert_int_equal(relay_stream_feed(&r, stream + b, len - b, collect, &c), 0);
			check_sample(&c);
			assert_int_equal(relay_stream_pending(&r), 0);
			relay_stream_reader_free(&r);
		}
	}
}

static void test_byte_at_a_time(void **state)
{
	uint8_t stream[1024];
	size_t len = sample_stream(stream, sizeof stream);
	struct relay_stream_reader r;
	struct collected c = {0};

	(void)state;
	relay_stream_reader_init(&r);
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(relay_stream_feed(&r, stream + i, 1, collect, &c), 0);
		assert_true(relay_stream_pending(&r) <= RELAY_STREAM_PREFIX + 256);
	}
	check_sample(&c);
	relay_stream_reader_free(&r);
}

static int never_called(void *ctx, const uint8_t *record, size_t len)
{
	(void)ctx;
	(void)record;
	(void)len;
	fail();
	return 0;
}

static void test_largest_record(void **state)
{
	size_t len = RELAY_STREAM_PREFIX + RELAY_STREAM_RECORD_MAX;
	uint8_t *stream = calloc(1, len);
	struct relay_stream_reader r;
	const uint8_t *rec;
	size_t rec_len;

	(void)state;
	assert_non_null(stream);
	assert_int_equal(relay_stream_prefix(RELAY_STREAM_RECORD_MAX, stream), 0);
	assert_int_equal(relay_stream_next(stream, len - 1, &rec, &rec_len), 0);
	assert_int_equal(relay_stream_next(stream, len, &rec, &rec_len), (int)len);
	assert_int_equal(rec_len, RELAY_STREAM_RECORD_MAX);
	assert_ptr_equal(rec, stream + RELAY_STREAM_PREFIX);
	relay_stream_reader_init(&r);
	/* The first half only: the reader holds all of it and hands nothing out. */
	assert_int_equal(relay_stream_feed(&r, stream, len / 2, never_called, NULL), 0);
	assert_int_equal(relay_stream_pending(&r), len / 2);
	relay_stream_reader_free(&r);
	free(stream);
}

static void test_zero_length_refused(void **state)
{
	const uint8_t bad[] = {0x00, 0x01, 0x42, 0x00, 0x00, 0x00, 0x01, 0x43};
	struct relay_stream_reader r;
	struct collected c = {0};
	const uint8_t *rec;
	size_t rec_len;

	(void)state;
	assert_int_equal(relay_stream_next(bad + 3, 2, &rec, &rec_len), INSEL_E_MALFORMED);
	relay_stream_reader_init(&r);
	assert_int_equal(relay_stream_feed(&r, bad, sizeof bad, collect, &c), INSEL_E_MALFORMED);
	assert_int_equal(c.n, 1);  /* the record before it came out */
	relay_stream_reader_free(&r);
	/* Also when the zero prefix is completed across two feeds. */
	relay_stream_reader_init(&r);
	c.n = 0;
	assert_int_equal(relay_stream_feed(&r, bad, 4, collect, &c), 0);
	assert_int_equal(relay_stream_feed(&r, bad + 4, 4, collect, &c), INSEL_E_MALFORMED);
	relay_stream_reader_free(&r);
}

static void test_callback_stops_feed(void **state)
{
	uint8_t stream[1024];
	size_t len = sample_stream(stream, sizeof stream);
	struct relay_stream_reader r;
	struct collected c = {.stop_after = 2};

	(void)state;
	relay_stream_reader_init(&r);
	assert_int_equal(relay_stream_feed(&r, stream, len, collect, &c), INSEL_E_LIMIT);
	assert_int_equal(c.n, 2);
	relay_stream_reader_free(&r);
	/* The same when the stopping record was completed from the partial buffer. */
	relay_stream_reader_init(&r);
	c = (struct collected){.stop_after = 1};
	assert_int_equal(relay_stream_feed(&r, stream, 2, collect, &c), 0);
	assert_int_equal(relay_stream_feed(&r, stream + 2, len - 2, collect, &c), INSEL_E_LIMIT);
	assert_int_equal(c.n, 1);
	relay_stream_reader_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_bytes),
		cmocka_unit_test(test_encode_refusals),
		cmocka_unit_test(test_whole_stream_at_once),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_largest_record),
		cmocka_unit_test(test_zero_length_refused),
		cmocka_unit_test(test_callback_stops_feed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
