/* Unit tests for the AEAD wrapper and the data-frame codec: both ciphers against real
 * GnuTLS, header layout byte by byte, and the key-free checks of the decoder. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "aead.h"
#include "err.h"
#include "frame.h"

static const uint8_t key[SEC_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
					 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
					 29, 30, 31, 32};

static void aead_round_trip(enum sec_cipher cipher)
{
	struct aead a;
	uint8_t nonce[AEAD_NONCE_LEN] = {0}, sealed[64], opened[64];
	const char ad[] = "header", text[] = "secret payload";
	long n, m;

	assert_int_equal(aead_init(&a, cipher, key), 0);
	n = aead_seal(&a, nonce, ad, sizeof ad, text, sizeof text, sealed, sizeof sealed);
	assert_int_equal(n, sizeof text + AEAD_TAG_LEN);
	assert_memory_not_equal(sealed, text, sizeof text);
	m = aead_open(&a, nonce, ad, sizeof ad, sealed, (size_t)n, opened, sizeof opened);
	assert_int_equal(m, sizeof text);
	assert_memory_equal(opened, text, sizeof text);
	/* A different associated datum, nonce or ciphertext byte fails. */
	assert_int_equal(aead_open(&a, nonce, "headex", 7, sealed, (size_t)n, opened,
				   sizeof opened), INSEL_E_AUTH);
	nonce[11] = 1;
	assert_int_equal(aead_open(&a, nonce, ad, sizeof ad, sealed, (size_t)n, opened,
				   sizeof opened), INSEL_E_AUTH);
	nonce[11] = 0;
	sealed[0] ^= 1;
	assert_int_equal(aead_open(&a, nonce, ad, sizeof ad, sealed, (size_t)n, opened,
				   sizeof opened), INSEL_E_AUTH);
	assert_int_equal(aead_open(&a, nonce, ad, sizeof ad, sealed, 15, opened,
				   sizeof opened), INSEL_E_TRUNCATED);
	assert_int_equal(aead_seal(&a, nonce, ad, sizeof ad, text, sizeof text, sealed, 20),
			 INSEL_E_NOSPACE);
	aead_free(&a);
	assert_false(aead_ready(&a));
	aead_free(&a);  /* twice is harmless */
}

static void aead_aes_gcm(void **state)
{
	aead_round_trip(SEC_CIPHER_AES256GCM);
}

static void aead_chacha(void **state)
{
	aead_round_trip(SEC_CIPHER_CHACHA20POLY1305);
}

static void aead_ciphers_differ_and_unknown_refused(void **state)
{
	struct aead a, b;
	uint8_t nonce[AEAD_NONCE_LEN] = {0}, x[32], y[32];

	assert_int_equal(aead_init(&a, SEC_CIPHER_NONE, key), -EINVAL);
	assert_int_equal(aead_init(&a, SEC_CIPHER_AES256GCM, key), 0);
	assert_int_equal(aead_init(&b, SEC_CIPHER_CHACHA20POLY1305, key), 0);
	assert_int_equal(aead_seal(&a, nonce, NULL, 0, "0123456789abcdef", 16, x, sizeof x), 32);
	assert_int_equal(aead_seal(&b, nonce, NULL, 0, "0123456789abcdef", 16, y, sizeof y), 32);
	assert_memory_not_equal(x, y, 32);
	aead_free(&a);
	aead_free(&b);
}

static void header_layout_is_big_endian(void **state)
{
	struct frame_header h = {FRAME_DATA, 7, 2, 5, 0xa1b2c3d4, 0x0102030405060708ULL};
	const uint8_t want[FRAME_HEADER_LEN] = {1, 7, 2, 5, 0xa1, 0xb2, 0xc3, 0xd4,
						1, 2, 3, 4, 5, 6, 7, 8};
	uint8_t out[FRAME_HEADER_LEN], nonce[AEAD_NONCE_LEN];
	const uint8_t want_nonce[AEAD_NONCE_LEN] = {0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8};

	assert_int_equal(frame_header_encode(&h, out, sizeof out), 0);
	assert_memory_equal(out, want, sizeof want);
	assert_int_equal(frame_header_encode(&h, out, sizeof out - 1), INSEL_E_NOSPACE);
	frame_nonce(7, h.counter, nonce);
	assert_memory_equal(nonce, want_nonce, sizeof want_nonce);
}

static void decode_round_trip_and_peek(void **state)
{
	uint8_t d[FRAME_HEADER_LEN + 20] = {0};
	struct frame_header h = {FRAME_DATA, 1, 0, 1, 0xdeadbeef, 42};
	struct frame_view v;
	uint32_t session = 0;

	frame_header_encode(&h, d, sizeof d);
	assert_int_equal(frame_decode(d, sizeof d, &v), 0);
	assert_int_equal(v.hdr.type, FRAME_DATA);
	assert_int_equal(v.hdr.epoch, 1);
	assert_int_equal(v.hdr.session, 0xdeadbeef);
	assert_true(v.hdr.counter == 42);
	assert_ptr_equal(v.ad, d);
	assert_ptr_equal(v.sealed, d + FRAME_HEADER_LEN);
	assert_int_equal(v.sealed_len, 20);
	assert_int_equal(frame_peek_session(d, sizeof d, &session), 0);
	assert_int_equal(session, 0xdeadbeef);
	assert_int_equal(frame_peek_session(d, 7, &session), INSEL_E_TRUNCATED);
}

static void decode_refuses_bad_headers(void **state)
{
	uint8_t d[FRAME_HEADER_LEN + FRAME_TAG_LEN] = {0};
	struct frame_header h = {FRAME_DATA, 0, 0, 1, 1, 1};
	struct frame_view v;

	for (size_t len = 0; len < sizeof d; len++)
		assert_int_equal(frame_decode(d, len, &v), INSEL_E_TRUNCATED);
	h.type = 9;
	frame_header_encode(&h, d, sizeof d);
	assert_int_equal(frame_decode(d, sizeof d, &v), INSEL_E_MALFORMED);
	h = (struct frame_header){FRAME_DATA, 0, 3, 3, 1, 1};  /* index past the count */
	frame_header_encode(&h, d, sizeof d);
	assert_int_equal(frame_decode(d, sizeof d, &v), INSEL_E_MALFORMED);
	h = (struct frame_header){FRAME_DATA, 0, 0, 0, 1, 1};  /* no fragments at all */
	frame_header_encode(&h, d, sizeof d);
	assert_int_equal(frame_decode(d, sizeof d, &v), INSEL_E_MALFORMED);
	h = (struct frame_header){FRAME_KEEPALIVE, 0, 0, 1, 1, 1};
	frame_header_encode(&h, d, sizeof d);
	assert_int_equal(frame_decode(d, sizeof d, &v), 0);
	h = (struct frame_header){FRAME_KEEPALIVE, 0, 0, 2, 1, 1};
	frame_header_encode(&h, d, sizeof d);
	assert_int_equal(frame_decode(d, sizeof d, &v), INSEL_E_MALFORMED);
}

static void keepalive_with_body_refused(void **state)
{
	uint8_t d[FRAME_OVERHEAD + 1] = {0};
	struct frame_header h = {FRAME_KEEPALIVE, 0, 0, 1, 1, 1};
	struct frame_view v;

	frame_header_encode(&h, d, sizeof d);
	assert_int_equal(frame_decode(d, sizeof d, &v), INSEL_E_MALFORMED);
}

static void probe_frames_need_a_probe_payload(void **state)
{
	uint8_t d[FRAME_PROBE_MIN_DATAGRAM] = {0};
	struct frame_header h = {FRAME_PROBE, 0, 0, 1, 1, 1};
	struct frame_view v;

	frame_header_encode(&h, d, sizeof d);
	assert_int_equal(frame_decode(d, sizeof d, &v), 0);
	assert_int_equal(v.hdr.type, FRAME_PROBE);
	/* Shorter than its fields, or fragmented: malformed. */
	assert_int_equal(frame_decode(d, sizeof d - 1, &v), INSEL_E_MALFORMED);
	h.frags = 2;
	frame_header_encode(&h, d, sizeof d);
	assert_int_equal(frame_decode(d, sizeof d, &v), INSEL_E_MALFORMED);
}

static void probe_payload_round_trip(void **state)
{
	const struct frame_probe req = {FRAME_PROBE_REQUEST, 0, 0xa1b2c3d4, 0};
	const struct frame_probe reply = {FRAME_PROBE_REPLY, 0, 7, 1400};
	static const uint8_t layout[12] = {2, 0, 0, 0, 0, 0, 0, 7, 0x05, 0x78, 0, 0};
	uint8_t p[12];
	struct frame_probe back;

	memset(p, 0xee, sizeof p);
	assert_int_equal(frame_probe_encode(&reply, p, sizeof p), 0);
	assert_memory_equal(p, layout, sizeof p);  /* padded with zeros */
	assert_int_equal(frame_probe_decode(p, sizeof p, &back), 0);
	assert_int_equal(back.kind, FRAME_PROBE_REPLY);
	assert_int_equal(back.id, 7);
	assert_int_equal(back.size, 1400);
	assert_int_equal(frame_probe_encode(&req, p, FRAME_PROBE_PAYLOAD_MIN), 0);
	assert_int_equal(frame_probe_decode(p, FRAME_PROBE_PAYLOAD_MIN, &back), 0);
	assert_int_equal(back.kind, FRAME_PROBE_REQUEST);
	assert_true(back.id == 0xa1b2c3d4);
	assert_int_equal(frame_probe_encode(&req, p, FRAME_PROBE_PAYLOAD_MIN - 1),
			 INSEL_E_NOSPACE);
	assert_int_equal(frame_probe_decode(p, FRAME_PROBE_PAYLOAD_MIN - 1, &back),
			 INSEL_E_TRUNCATED);
	p[0] = 3;  /* no such kind */
	assert_int_equal(frame_probe_decode(p, sizeof p, &back), INSEL_E_MALFORMED);
	p[0] = FRAME_PROBE_REQUEST;
	p[3] = 1;  /* reserved bytes must be zero */
	assert_int_equal(frame_probe_decode(p, sizeof p, &back), INSEL_E_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aead_aes_gcm),
		cmocka_unit_test(aead_chacha),
		cmocka_unit_test(aead_ciphers_differ_and_unknown_refused),
		cmocka_unit_test(header_layout_is_big_endian),
		cmocka_unit_test(decode_round_trip_and_peek),
		cmocka_unit_test(decode_refuses_bad_headers),
		cmocka_unit_test(keepalive_with_body_refused),
		cmocka_unit_test(probe_frames_need_a_probe_payload),
		cmocka_unit_test(probe_payload_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
