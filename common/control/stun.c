/* The STUN Binding codec (stun.h). It lives with the control codecs two roles share (the
 * principal answers, the auxiliaries ask) rather than in common/data/: it carries no
 * sealed traffic, only the discovery that comes before a call's data path exists.
 * Every byte is read through buf.h; the fingerprint is zlib's CRC-32. */
#include "stun.h"

#include <string.h>
#include <sys/socket.h>
#include <zlib.h>

#include "buf.h"
#include "err.h"

#define FAMILY_IPV4 0x01
#define FAMILY_IPV6 0x02

bool stun_is_stun(const uint8_t *data, size_t len)
{
	struct buf_reader r;
	uint16_t type, length;
	uint32_t cookie;

	br_init(&r, data, len);
	br_u16(&r, &type);
	br_u16(&r, &length);
	br_u32(&r, &cookie);
	return !br_error(&r) && (type & 0xC000) == 0 && cookie == STUN_MAGIC_COOKIE;
}

static uint32_t fingerprint_of(const uint8_t *data, size_t len)
{
	return (uint32_t)crc32(0, data, (uInt)len) ^ STUN_FINGERPRINT_XOR;
}

/* The XOR pad of an address: the cookie, then the transaction id (IPv6 uses all 16). */
static void xor_pad(const uint8_t txid[STUN_TXID_LEN], uint8_t pad[16])
{
	pad[0] = 0x21;
	pad[1] = 0x12;
	pad[2] = 0xA4;
	pad[3] = 0x42;
	memcpy(pad + 4, txid, STUN_TXID_LEN);
}

static size_t family_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static void write_xor_mapped(struct buf_writer *w, const struct stun_message *m)
{
	size_t n = family_len(m->mapped.addr.family);
	uint8_t pad[16], x[16];

	xor_pad(m->txid, pad);
	for (size_t i = 0; i < n; i++)
		x[i] = m->mapped.addr.bytes[i] ^ pad[i];
	bw_u16(w, STUN_ATTR_XOR_MAPPED_ADDRESS);
	bw_u16(w, (uint16_t)(4 + n));
	bw_u8(w, 0);
	bw_u8(w, m->mapped.addr.family == AF_INET ? FAMILY_IPV4 : FAMILY_IPV6);
	bw_u16(w, m->mapped.port ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16));
	bw_bytes(w, x, n);
}

/* SOFTWARE names us and fills the message up to pad_to; its own padding is zeros. */
static size_t software_len(const struct stun_message *m, size_t body)
{
	size_t have = STUN_HEADER_LEN + body + (m->fingerprint ? 8 : 0);
	size_t need = m->pad_to > have + 4 ? m->pad_to - have - 4 : 0;

	return need < 5 ? 5 : need;  /* at least "insel" */
}

static void write_software(struct buf_writer *w, size_t n)
{
	static const char name[] = "insel";

	bw_u16(w, STUN_ATTR_SOFTWARE);
	bw_u16(w, (uint16_t)n);
	bw_bytes(w, name, 5);
	for (size_t i = 5; i < (n + 3) / 4 * 4; i++)
		bw_u8(w, i < n ? ' ' : 0);
}

int stun_encode(const struct stun_message *m, uint8_t *out, size_t cap, size_t *len)
{
	bool mapped = m->type == STUN_BINDING_SUCCESS;
	size_t body = 0, software = 0;
	struct buf_writer w;

	if (m->type != STUN_BINDING_REQUEST && !mapped)
		return INSEL_E_MALFORMED;
	if (mapped && (!m->has_mapped || (m->mapped.addr.family != AF_INET &&
					  m->mapped.addr.family != AF_INET6)))
		return INSEL_E_MALFORMED;
	if (mapped)
		body += 8 + family_len(m->mapped.addr.family);
	if (m->pad_to > STUN_MAX_ENCODED)
		return INSEL_E_TOO_BIG;
	if (m->pad_to) {
		software = software_len(m, body);
		body += 4 + (software + 3) / 4 * 4;
	}
	if (m->fingerprint)
		body += 8;
	bw_init(&w, out, cap);
	bw_u16(&w, m->type);
	bw_u16(&w, (uint16_t)body);
	bw_u32(&w, STUN_MAGIC_COOKIE);
	bw_bytes(&w, m->txid, STUN_TXID_LEN);
	if (mapped)
		write_xor_mapped(&w, m);
	if (software)
		write_software(&w, software);
	if (m->fingerprint && !bw_error(&w)) {
		uint32_t fp = fingerprint_of(out, bw_len(&w));

		bw_u16(&w, STUN_ATTR_FINGERPRINT);
		bw_u16(&w, 4);
		bw_u32(&w, fp);
	}
	if (bw_error(&w))
		return INSEL_E_NOSPACE;
	*len = bw_len(&w);
	return 0;
}

/* MAPPED-ADDRESS or XOR-MAPPED-ADDRESS: reserved byte, family, port, address. */
static int read_address(struct buf_reader *v, bool xored, const uint8_t *txid,
			struct ip_endpoint *out)
{
	uint8_t reserved, family, pad[16];
	uint16_t port;
	size_t n;

	br_u8(v, &reserved);
	br_u8(v, &family);
	br_u16(v, &port);
	if (br_error(v) || (family != FAMILY_IPV4 && family != FAMILY_IPV6))
		return INSEL_E_MALFORMED;
	memset(out, 0, sizeof *out);
	out->addr.family = family == FAMILY_IPV4 ? AF_INET : AF_INET6;
	n = family_len(out->addr.family);
	if (br_remaining(v) != n || br_copy(v, out->addr.bytes, n))
		return INSEL_E_MALFORMED;
	out->port = port;
	if (xored) {
		xor_pad(txid, pad);
		out->port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
		for (size_t i = 0; i < n; i++)
			out->addr.bytes[i] ^= pad[i];
	}
	return 0;
}

/* Attributes after the header. start is the message's first byte (for the fingerprint). */
struct attr_walk {
	const uint8_t *start;
	bool have_xor, have_plain, after_integrity;
	struct ip_endpoint xor_mapped, plain_mapped;
};

static int read_fingerprint(struct attr_walk *a, struct buf_reader *v, size_t attr_off,
			    const struct buf_reader *rest, struct stun_message *m)
{
	uint32_t fp;

	if (br_u32(v, &fp) || br_remaining(v) != 0)
		return INSEL_E_MALFORMED;
	if (br_remaining(rest) != 0)
		return INSEL_E_MALFORMED; /* FINGERPRINT must be the last attribute */
	if (fp != fingerprint_of(a->start, attr_off))
		return INSEL_E_AUTH;
	m->fingerprint = true;
	return 0;
}

static int read_attribute(struct attr_walk *a, struct buf_reader *r, struct stun_message *m)
{
	size_t attr_off = br_offset(r);
	uint16_t type, length;
	struct buf_reader v;
	int rc = 0;

	br_u16(r, &type);
	br_u16(r, &length);
	if (br_sub(r, &v, length) || br_skip(r, (4 - length % 4) % 4))
		return INSEL_E_TRUNCATED;
	if (type == STUN_ATTR_FINGERPRINT)
		return read_fingerprint(a, &v, attr_off, r, m);
	if (a->after_integrity)
		return 0; /* only FINGERPRINT may follow MESSAGE-INTEGRITY */
	switch (type) {
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
		rc = read_address(&v, true, m->txid, &a->xor_mapped);
		a->have_xor = rc == 0;
		break;
	case STUN_ATTR_MAPPED_ADDRESS:
		rc = read_address(&v, false, m->txid, &a->plain_mapped);
		a->have_plain = rc == 0;
		break;
	case STUN_ATTR_MESSAGE_INTEGRITY:
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
		a->after_integrity = true;
		break;
	default:
		if (type < 0x8000)
			rc = INSEL_E_PROTOCOL; /* comprehension-required and unknown */
	}
	return rc;
}

static int read_header(struct buf_reader *r, size_t len, struct stun_message *m)
{
	uint16_t type, length;
	uint32_t cookie;

	br_u16(r, &type);
	br_u16(r, &length);
	br_u32(r, &cookie);
	br_copy(r, m->txid, STUN_TXID_LEN);
	if (br_error(r))
		return INSEL_E_TRUNCATED;
	if ((type & 0xC000) || cookie != STUN_MAGIC_COOKIE || length % 4)
		return INSEL_E_MALFORMED;
	if ((size_t)length + STUN_HEADER_LEN != len)
		return (size_t)length + STUN_HEADER_LEN > len ? INSEL_E_TRUNCATED
							       : INSEL_E_MALFORMED;
	if (type != STUN_BINDING_REQUEST && type != STUN_BINDING_SUCCESS)
		return INSEL_E_PROTOCOL;
	m->type = type;
	return 0;
}

int stun_decode(const uint8_t *data, size_t len, struct stun_message *m)
{
	struct attr_walk a = {.start = data};
	struct buf_reader r;
	int rc;

	memset(m, 0, sizeof *m);
	br_init(&r, data, len);
	if ((rc = read_header(&r, len, m)))
		return rc;
	while (br_remaining(&r) > 0 && !m->fingerprint)
		if ((rc = read_attribute(&a, &r, m)))
			return rc;
	if (a.have_xor || a.have_plain) {
		m->has_mapped = true;
		m->mapped = a.have_xor ? a.xor_mapped : a.plain_mapped;
	}
	if (m->type == STUN_BINDING_SUCCESS && !m->has_mapped)
		return INSEL_E_MALFORMED;
	return 0;
}
