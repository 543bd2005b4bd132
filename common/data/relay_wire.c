/* The REGISTER and REGISTERED codec (relay_wire.h, docs/relay.md). Parsing goes through
 * the bounds-checked reader and checks every rule that needs no key; the MAC is checked
 * apart, once the caller knows which allocation's token applies. */
#include "relay_wire.h"

#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <string.h>

#include "buf.h"
#include "err.h"

static void mac_of(const uint8_t token[RELAY_TOKEN_LEN], const uint8_t *data, size_t len,
		   uint8_t out[RELAY_MAC_LEN])
{
	struct hmac_sha256_ctx ctx;
	uint8_t full[SHA256_DIGEST_SIZE];

	hmac_sha256_set_key(&ctx, RELAY_TOKEN_LEN, token);
	hmac_sha256_update(&ctx, len, data);
	hmac_sha256_digest(&ctx, sizeof full, full);
	memcpy(out, full, RELAY_MAC_LEN);
	secure_wipe(&ctx, sizeof ctx);
	secure_wipe(full, sizeof full);
}

static bool sessions_valid(const uint32_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == 0)
			return false;
		for (size_t j = 0; j < i; j++)
			if (s[j] == s[i])
				return false;
	}
	return true;
}

static bool header_valid(uint64_t allocation, uint8_t leg, uint64_t counter)
{
	return allocation != 0 && leg < RELAY_LEGS && counter != 0;
}

static void write_header(struct buf_writer *w, uint8_t type, uint8_t leg, uint8_t n,
			 uint64_t allocation, uint64_t counter)
{
	bw_u8(w, type);
	bw_u8(w, RELAY_WIRE_VERSION);
	bw_u8(w, leg);
	bw_u8(w, n);
	bw_u64(w, allocation);
	bw_u64(w, counter);
}

/* Appends the MAC of everything written so far; the datagram's length or an error. */
static int finish(struct buf_writer *w, const uint8_t token[RELAY_TOKEN_LEN])
{
	uint8_t *mac;
	size_t len = bw_len(w);

	if (bw_reserve(w, RELAY_MAC_LEN, &mac) != 0)
		return INSEL_E_NOSPACE;
	mac_of(token, w->data, len, mac);
	return (int)bw_len(w);
}

int relay_register_encode(const struct relay_register *m, const uint8_t token[RELAY_TOKEN_LEN],
			  uint8_t *out, size_t cap)
{
	struct buf_writer w;

	if (!header_valid(m->allocation, m->leg, m->counter) || m->nsessions == 0 ||
	    m->nsessions > RELAY_MAX_SESSIONS || !sessions_valid(m->sessions, m->nsessions))
		return INSEL_E_BAD_FIELD;
	bw_init(&w, out, cap);
	write_header(&w, RELAY_REGISTER, m->leg, m->nsessions, m->allocation, m->counter);
	for (size_t i = 0; i < m->nsessions; i++)
		bw_u32(&w, m->sessions[i]);
	if (bw_error(&w))
		return INSEL_E_NOSPACE;
	return finish(&w, token);
}

int relay_registered_encode(const struct relay_registered *m,
			    const uint8_t token[RELAY_TOKEN_LEN], uint8_t *out, size_t cap)
{
	struct buf_writer w;

	if (!header_valid(m->allocation, m->leg, m->counter) ||
	    m->nsessions > RELAY_MAX_SESSIONS)
		return INSEL_E_BAD_FIELD;
	bw_init(&w, out, cap);
	write_header(&w, RELAY_REGISTERED, m->leg, m->nsessions, m->allocation, m->counter);
	if (bw_error(&w))
		return INSEL_E_NOSPACE;
	return finish(&w, token);
}

struct header {
	uint8_t type, version, leg, n;
	uint64_t allocation, counter;
};

static void read_header(struct buf_reader *r, struct header *h)
{
	br_u8(r, &h->type);
	br_u8(r, &h->version);
	br_u8(r, &h->leg);
	br_u8(r, &h->n);
	br_u64(r, &h->allocation);
	br_u64(r, &h->counter);
}

static int header_check(const struct header *h, uint8_t type)
{
	if (h->type != type || h->version != RELAY_WIRE_VERSION ||
	    !header_valid(h->allocation, h->leg, h->counter) || h->n > RELAY_MAX_SESSIONS)
		return INSEL_E_MALFORMED;
	return 0;
}

int relay_register_parse(const uint8_t *dgram, size_t len, struct relay_register *out)
{
	struct relay_register m = {0};
	struct buf_reader r;
	struct header h;
	int rc;

	br_init(&r, dgram, len);
	read_header(&r, &h);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	if ((rc = header_check(&h, RELAY_REGISTER)) != 0 || h.n == 0)
		return rc ? rc : INSEL_E_MALFORMED;
	for (size_t i = 0; i < h.n; i++)
		br_u32(&r, &m.sessions[i]);
	br_skip(&r, RELAY_MAC_LEN);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	if (br_remaining(&r) != 0 || !sessions_valid(m.sessions, h.n))
		return INSEL_E_MALFORMED;
	m.allocation = h.allocation;
	m.leg = h.leg;
	m.counter = h.counter;
	m.nsessions = h.n;
	*out = m;
	return 0;
}

int relay_registered_parse(const uint8_t *dgram, size_t len, struct relay_registered *out)
{
	struct buf_reader r;
	struct header h;
	int rc;

	br_init(&r, dgram, len);
	read_header(&r, &h);
	br_skip(&r, RELAY_MAC_LEN);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	if ((rc = header_check(&h, RELAY_REGISTERED)) != 0)
		return rc;
	if (br_remaining(&r) != 0)
		return INSEL_E_MALFORMED;
	*out = (struct relay_registered){.allocation = h.allocation, .leg = h.leg,
					 .nsessions = h.n, .counter = h.counter};
	return 0;
}

int relay_wire_verify(const uint8_t *dgram, size_t len, const uint8_t token[RELAY_TOKEN_LEN])
{
	struct buf_reader r;
	const uint8_t *signed_part, *mac;
	uint8_t expect[RELAY_MAC_LEN];
	int ok;

	if (len < RELAY_HEADER_LEN + RELAY_MAC_LEN)
		return INSEL_E_TRUNCATED;
	br_init(&r, dgram, len);
	br_view(&r, &signed_part, len - RELAY_MAC_LEN);
	br_view(&r, &mac, RELAY_MAC_LEN);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	mac_of(token, signed_part, len - RELAY_MAC_LEN, expect);
	ok = memeql_sec(expect, mac, RELAY_MAC_LEN);
	secure_wipe(expect, sizeof expect);
	return ok ? 0 : INSEL_E_AUTH;
}

bool relay_wire_is_register(const uint8_t *dgram, size_t len)
{
	return len > 0 && dgram[0] == RELAY_REGISTER;
}

bool relay_wire_is_registered(const uint8_t *dgram, size_t len)
{
	return len > 0 && dgram[0] == RELAY_REGISTERED;
}
