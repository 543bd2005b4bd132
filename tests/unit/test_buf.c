/* Unit tests for the bounds-checked reader/writer and the growable buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "buf.h"
#include "err.h"

static void reads_big_endian_integers(void **state)
{
	const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
				0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
	struct buf_reader r;
	uint8_t a;
	uint16_t b;
	uint32_t c;
	uint64_t d;

	br_init(&r, data, sizeof data);
	assert_int_equal(br_u8(&r, &a), 0);
	assert_int_equal(br_u16(&r, &b), 0);
	assert_int_equal(br_u32(&r, &c), 0);
	assert_int_equal(br_u64(&r, &d), 0);
	assert_int_equal(a, 0x01);
	assert_int_equal(b, 0x0203);
	assert_int_equal(c, 0x04050607);
	assert_true(d == 0x08090a0b0c0d0e0fULL);
	assert_int_equal(br_remaining(&r), 0);
}

static void truncated_read_fails_and_sticks(void **state)
{
	const uint8_t data[] = {0xaa, 0xbb, 0xcc};
	struct buf_reader r;
	uint32_t v = 0x12345678;
	uint8_t b = 0;

	br_init(&r, data, sizeof data);
	assert_int_equal(br_u32(&r, &v), INSEL_E_TRUNCATED);
	assert_int_equal(v, 0);  /* a failed read stores 0 */
	/* Even a read that would fit fails once the reader has failed. */
	b = 0x5a;
	assert_int_equal(br_u8(&r, &b), INSEL_E_TRUNCATED);
	assert_int_equal(b, 0);
	assert_int_equal(br_error(&r), INSEL_E_TRUNCATED);
}

static void huge_lengths_do_not_wrap(void **state)
{
	const uint8_t data[8] = {0};
	struct buf_reader r, sub;
	const uint8_t *p = NULL;

	br_init(&r, data, sizeof data);
	assert_int_equal(br_skip(&r, 4), 0);
	assert_int_equal(br_view(&r, &p, SIZE_MAX), INSEL_E_TRUNCATED);
	assert_null(p);
	br_init(&r, data, sizeof data);
	assert_int_equal(br_sub(&r, &sub, SIZE_MAX - 2), INSEL_E_TRUNCATED);
	assert_int_equal(br_remaining(&sub), 0);
}

static void sub_reader_is_bounded(void **state)
{
	const uint8_t data[] = {0x00, 0x02, 'h', 'i', 0xff};
	struct buf_reader r, sub;
	uint16_t len;
	uint8_t text[3] = {0};
	uint8_t extra;

	br_init(&r, data, sizeof data);
	assert_int_equal(br_u16(&r, &len), 0);
	assert_int_equal(br_sub(&r, &sub, len), 0);
	assert_int_equal(br_copy(&sub, text, 2), 0);
	assert_string_equal((char *)text, "hi");
	assert_int_equal(br_u8(&sub, &extra), INSEL_E_TRUNCATED);
	assert_int_equal(br_u8(&r, &extra), 0);
	assert_int_equal(extra, 0xff);
}

static void rest_takes_everything_left(void **state)
{
	const uint8_t data[] = {1, 2, 3, 4};
	struct buf_reader r;
	const uint8_t *p;
	size_t n;

	br_init(&r, data, sizeof data);
	br_skip(&r, 1);
	assert_int_equal(br_rest(&r, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(p[0], 2);
	assert_int_equal(br_offset(&r), 4);
}

static void writer_refuses_overflow(void **state)
{
	uint8_t mem[6];
	struct buf_writer w;
	uint8_t *slot;

	bw_init(&w, mem, sizeof mem);
	assert_int_equal(bw_u32(&w, 0xdeadbeef), 0);
	assert_int_equal(bw_u32(&w, 1), INSEL_E_NOSPACE);
	assert_int_equal(bw_u8(&w, 1), INSEL_E_NOSPACE);  /* sticky */
	assert_int_equal(bw_len(&w), 4);
	assert_memory_equal(mem, "\xde\xad\xbe\xef", 4);

	bw_init(&w, mem, sizeof mem);
	assert_int_equal(bw_u16(&w, 0x0102), 0);
	assert_int_equal(bw_reserve(&w, 4, &slot), 0);
	assert_ptr_equal(slot, mem + 2);
	assert_int_equal(bw_reserve(&w, 1, &slot), INSEL_E_NOSPACE);
}

static void writer_and_reader_round_trip(void **state)
{
	uint8_t mem[32];
	struct buf_writer w;
	struct buf_reader r;
	uint64_t v64;
	uint16_t v16;

	bw_init(&w, mem, sizeof mem);
	bw_u64(&w, 0x0123456789abcdefULL);
	bw_u16(&w, 65535);
	assert_int_equal(bw_error(&w), 0);
	br_init(&r, mem, bw_len(&w));
	br_u64(&r, &v64);
	br_u16(&r, &v16);
	assert_int_equal(br_error(&r), 0);
	assert_true(v64 == 0x0123456789abcdefULL);
	assert_int_equal(v16, 65535);
}

static void growable_buffer_respects_max(void **state)
{
	struct buf b;
	uint8_t chunk[100];

	memset(chunk, 'x', sizeof chunk);
	buf_init(&b, 1000);
	for (int i = 0; i < 10; i++)
		assert_int_equal(buf_append(&b, chunk, sizeof chunk), 0);
	assert_int_equal(b.len, 1000);
	assert_int_equal(buf_append(&b, chunk, 1), INSEL_E_TOO_BIG);
	buf_consume(&b, 990);
	assert_int_equal(b.len, 10);
	assert_int_equal(b.data[0], 'x');
	assert_int_equal(buf_append(&b, "yz", 2), 0);
	assert_memory_equal(b.data + 10, "yz", 2);
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	assert_null(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_big_endian_integers),
		cmocka_unit_test(truncated_read_fails_and_sticks),
		cmocka_unit_test(huge_lengths_do_not_wrap),
		cmocka_unit_test(sub_reader_is_bounded),
		cmocka_unit_test(rest_takes_everything_left),
		cmocka_unit_test(writer_refuses_overflow),
		cmocka_unit_test(writer_and_reader_round_trip),
		cmocka_unit_test(growable_buffer_respects_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
