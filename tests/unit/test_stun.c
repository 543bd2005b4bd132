/* Unit tests for the STUN Binding codec (stun.h): requests and responses encoded and
 * decoded back to the same thing over IPv4 and IPv6; the RFC 5769 sample responses
 * decoded to the addresses the RFC gives (the XOR applied with cookie and transaction id,
 * the fingerprint checked); and each malformed form refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "err.h"
#include "stun.h"

static const uint8_t rfc_txid[STUN_TXID_LEN] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
						0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

/* RFC 5769 section 2.2: sample IPv4 response (SOFTWARE, XOR-MAPPED-ADDRESS,
 * MESSAGE-INTEGRITY, FINGERPRINT). */
static const uint8_t rfc_ipv4_response[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
	0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
	0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
	0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99,
	0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b,
	0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 section 2.3: sample IPv6 response. */
static const uint8_t rfc_ipv6_response[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
	0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
	0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02,
	0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5,
	0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6,
	0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static void assert_mapped(const struct stun_message *m, const char *want)
{
	char text[IP_STRLEN];

	assert_true(m->has_mapped);
	assert_string_equal(ip_endpoint_format(&m->mapped, text, sizeof text), want);
}

static void rfc_vector(const uint8_t *bytes, size_t len, const char *want)
{
	struct stun_message m;

	assert_int_equal(stun_decode(bytes, len, &m), 0);
	assert_int_equal(m.type, STUN_BINDING_SUCCESS);
	assert_memory_equal(m.txid, rfc_txid, STUN_TXID_LEN);
	assert_true(m.fingerprint);
	assert_mapped(&m, want);
}

static void test_rfc5769_ipv4(void **state)
{
	(void)state;
	rfc_vector(rfc_ipv4_response, sizeof rfc_ipv4_response, "192.0.2.1:32853");
}

static void test_rfc5769_ipv6(void **state)
{
	(void)state;
	rfc_vector(rfc_ipv6_response, sizeof rfc_ipv6_response,
		   "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
}

/* Our encoder writes the RFC's XOR-MAPPED-ADDRESS bytes for the RFC's address. */
static void test_encoder_matches_rfc_xor(void **state)
{
	struct stun_message m = {.type = STUN_BINDING_SUCCESS, .has_mapped = true};
	uint8_t out[STUN_MAX_ENCODED];
	size_t len;

	(void)state;
	memcpy(m.txid, rfc_txid, STUN_TXID_LEN);
	assert_int_equal(ip_endpoint_parse("192.0.2.1:32853", &m.mapped), 0);
	assert_int_equal(stun_encode(&m, out, sizeof out, &len), 0);
	assert_int_equal(len, 32);
	assert_memory_equal(out + 20, rfc_ipv4_response + 36, 12);
	assert_int_equal(ip_endpoint_parse("[2001:db8:1234:5678:11:2233:4455:6677]:32853",
					   &m.mapped), 0);
	assert_int_equal(stun_encode(&m, out, sizeof out, &len), 0);
	assert_int_equal(len, 44);
	assert_memory_equal(out + 20, rfc_ipv6_response + 36, 24);
}

static void round_trip(const struct stun_message *m)
{
	struct stun_message back;
	uint8_t out[STUN_MAX_ENCODED];
	size_t len;

	assert_int_equal(stun_encode(m, out, sizeof out, &len), 0);
	assert_true(stun_is_stun(out, len));
	assert_int_equal(stun_decode(out, len, &back), 0);
	assert_int_equal(back.type, m->type);
	assert_memory_equal(back.txid, m->txid, STUN_TXID_LEN);
	assert_int_equal(back.fingerprint, m->fingerprint);
	assert_int_equal(back.has_mapped, m->has_mapped);
	if (m->has_mapped) {
		assert_int_equal(back.mapped.port, m->mapped.port);
		assert_true(ip_addr_equal(&back.mapped.addr, &m->mapped.addr));
	}
}

static void test_round_trip(void **state)
{
	static const char *const endpoints[] = {"198.51.100.7:3478", "0.0.0.0:1",
						"[2001:db8::42]:65535", "[::1]:7445"};
	struct stun_message m = {0};

	(void)state;
	for (int i = 0; i < STUN_TXID_LEN; i++)
		m.txid[i] = (uint8_t)(i * 37 + 5);
	m.type = STUN_BINDING_REQUEST;
	round_trip(&m);
	m.fingerprint = true;
	round_trip(&m);
	m.type = STUN_BINDING_SUCCESS;
	m.has_mapped = true;
	for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++)
		for (int fp = 0; fp < 2; fp++) {
			m.fingerprint = fp;
			assert_int_equal(ip_endpoint_parse(endpoints[i], &m.mapped), 0);
			round_trip(&m);
		}
}

static void test_encode_refusals(void **state)
{
	struct stun_message m = {.type = STUN_BINDING_SUCCESS};
	uint8_t out[STUN_MAX_ENCODED];
	size_t len;

	(void)state;
	assert_int_equal(stun_encode(&m, out, sizeof out, &len), INSEL_E_MALFORMED);
	m.type = 0x0111; /* an error response */
	assert_int_equal(stun_encode(&m, out, sizeof out, &len), INSEL_E_MALFORMED);
	m.type = STUN_BINDING_REQUEST;
	assert_int_equal(stun_encode(&m, out, 19, &len), INSEL_E_NOSPACE);
}

static size_t copy_of(const uint8_t *src, size_t len, uint8_t *dst)
{
	memcpy(dst, src, len);
	return len;
}

static void test_decode_refusals(void **state)
{
	uint8_t b[128];
	size_t n;
	struct stun_message m;

	(void)state;
	/* Every truncation of a valid message. */
	for (n = 0; n < sizeof rfc_ipv4_response; n++)
		assert_int_not_equal(stun_decode(rfc_ipv4_response, n, &m), 0);
	/* Trailing bytes beyond the length field. */
	n = copy_of(rfc_ipv4_response, sizeof rfc_ipv4_response, b);
	b[n] = 0;
	assert_int_equal(stun_decode(b, n + 4, &m), INSEL_E_MALFORMED);
	/* A length that is not a multiple of 4. */
	n = copy_of(rfc_ipv4_response, sizeof rfc_ipv4_response, b);
	b[3] = 0x3b;
	assert_int_equal(stun_decode(b, n - 1, &m), INSEL_E_MALFORMED);
	/* Wrong magic cookie. */
	n = copy_of(rfc_ipv4_response, sizeof rfc_ipv4_response, b);
	b[7] ^= 1;
	assert_int_equal(stun_decode(b, n, &m), INSEL_E_MALFORMED);
	assert_false(stun_is_stun(b, n));
	/* The two top bits of the type set (not STUN: RTP, a channel). */
	n = copy_of(rfc_ipv4_response, sizeof rfc_ipv4_response, b);
	b[0] |= 0x40;
	assert_int_equal(stun_decode(b, n, &m), INSEL_E_MALFORMED);
	/* A corrupted fingerprint, and a corrupted byte the fingerprint covers. */
	n = copy_of(rfc_ipv4_response, sizeof rfc_ipv4_response, b);
	b[n - 1] ^= 1;
	assert_int_equal(stun_decode(b, n, &m), INSEL_E_AUTH);
	n = copy_of(rfc_ipv4_response, sizeof rfc_ipv4_response, b);
	b[45] ^= 1;
	assert_int_equal(stun_decode(b, n, &m), INSEL_E_AUTH);
	/* An error response (class 0x0110), and another method. */
	n = copy_of(rfc_ipv4_response, sizeof rfc_ipv4_response, b);
	b[1] = 0x11;
	assert_int_equal(stun_decode(b, n, &m), INSEL_E_PROTOCOL);
	b[1] = 0x03; /* Allocate */
	b[0] = 0x00;
	assert_int_equal(stun_decode(b, n, &m), INSEL_E_PROTOCOL);
}

/* A request built by hand: header then the given attribute bytes. */
static size_t request_with(uint8_t *b, const uint8_t *attrs, size_t n)
{
	static const uint8_t header[] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42,
					 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

	memcpy(b, header, sizeof header);
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	memcpy(b + sizeof header, attrs, n);
	return sizeof header + n;
}

static void test_attributes(void **state)
{
	/* SOFTWARE (optional, unknown to us), 5 bytes + 3 of padding: skipped. */
	static const uint8_t optional[] = {0x80, 0x22, 0x00, 0x05, 'i', 'n', 's', 'e', 'l', 0, 0, 0};
	/* An unknown comprehension-required attribute (0x7f00): refused. */
	static const uint8_t required[] = {0x7f, 0x00, 0x00, 0x04, 1, 2, 3, 4};
	/* Padding missing from the last attribute. */
	static const uint8_t unpadded[] = {0x80, 0x22, 0x00, 0x05, 'i', 'n', 's', 'e'};
	/* MAPPED-ADDRESS only (an RFC 3489 server): read as the fallback. */
	static const uint8_t plain[] = {0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x1f, 0x90,
					203, 0, 113, 9};
	/* An address attribute with a family of 3, and one too short for IPv6. */
	static const uint8_t bad_family[] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x03, 0, 0, 1, 2, 3, 4};
	static const uint8_t short6[] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x02, 0, 0, 1, 2, 3, 4};
	/* An attribute whose length runs past the message. */
	static const uint8_t overrun[] = {0x80, 0x22, 0x00, 0x40, 1, 2, 3, 4};
	uint8_t b[128];
	size_t n;
	struct stun_message m;

	(void)state;
	n = request_with(b, optional, sizeof optional);
	assert_int_equal(stun_decode(b, n, &m), 0);
	assert_int_equal(m.type, STUN_BINDING_REQUEST);
	assert_false(m.has_mapped);
	n = request_with(b, required, sizeof required);
	assert_int_equal(stun_decode(b, n, &m), INSEL_E_PROTOCOL);
	n = request_with(b, unpadded, sizeof unpadded);
	assert_int_not_equal(stun_decode(b, n, &m), 0);
	n = request_with(b, plain, sizeof plain);
	b[1] = 0x01;
	b[0] = 0x01; /* a success response */
	assert_int_equal(stun_decode(b, n, &m), 0);
	assert_mapped(&m, "203.0.113.9:8080");
	n = request_with(b, bad_family, sizeof bad_family);
	assert_int_equal(stun_decode(b, n, &m), INSEL_E_MALFORMED);
	n = request_with(b, short6, sizeof short6);
	assert_int_equal(stun_decode(b, n, &m), INSEL_E_MALFORMED);
	n = request_with(b, overrun, sizeof overrun);
	assert_int_equal(stun_decode(b, n, &m), INSEL_E_TRUNCATED);
	/* A success response without any mapped address. */
	n = request_with(b, optional, sizeof optional);
	b[0] = 0x01;
	assert_int_equal(stun_decode(b, n, &m), INSEL_E_MALFORMED);
}

/* A request padded to the largest response's size, with and without a fingerprint. */
static void test_padding(void **state)
{
	struct stun_message m = {.type = STUN_BINDING_REQUEST, .pad_to = STUN_MAX_RESPONSE};
	uint8_t b[STUN_MAX_ENCODED];
	size_t len;

	(void)state;
	for (int fp = 0; fp < 2; fp++) {
		m.fingerprint = fp;
		assert_int_equal(stun_encode(&m, b, sizeof b, &len), 0);
		assert_true(len >= STUN_MAX_RESPONSE && len < STUN_MAX_RESPONSE + 4);
		round_trip(&m);
	}
	m.pad_to = STUN_MAX_ENCODED + 1;
	assert_int_equal(stun_encode(&m, b, sizeof b, &len), INSEL_E_TOO_BIG);
}

/* FINGERPRINT that is not the last attribute is refused. */
static void test_fingerprint_not_last(void **state)
{
	struct stun_message m = {.type = STUN_BINDING_REQUEST, .fingerprint = true};
	uint8_t b[64];
	size_t len;

	(void)state;
	assert_int_equal(stun_encode(&m, b, sizeof b, &len), 0);
	memcpy(b + len, (const uint8_t[]){0x80, 0x22, 0x00, 0x00}, 4);
	b[3] = (uint8_t)(len + 4 - STUN_HEADER_LEN);
	assert_int_not_equal(stun_decode(b, len + 4, &m), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5769_ipv4),
		cmocka_unit_test(test_rfc5769_ipv6),
		cmocka_unit_test(test_encoder_matches_rfc_xor),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_encode_refusals),
		cmocka_unit_test(test_decode_refusals),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_fingerprint_not_last),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
