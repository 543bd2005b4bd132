/* libFuzzer target: the forwarding table (forward.h) fed a run of datagrams from a few
 * sources, as a relay's port receives them. The input is cut into records: one byte
 * picks the source (and, when odd, makes the record a REGISTER built with the right
 * token from what follows, so that the registered paths are reached too), two bytes the
 * length, then the datagram. Checked: a frame is only ever sent to a registered leg's
 * endpoint and only from the other leg's; an answer only to a REGISTER's source. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "forward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t token[RELAY_TOKEN_LEN] = "fuzzing token 16";

static struct ip_endpoint source(uint8_t pick)
{
	struct ip_endpoint e = {.addr = {.family = AF_INET, .bytes = {198, 18, 0, pick & 3}},
				.port = (uint16_t)(1000 + (pick >> 2 & 3))};

	return e;
}

/* A REGISTER from the record's bytes: allocation 1 or 2, leg, counter, one session. */
static size_t forge_register(const uint8_t *d, size_t n, uint8_t *out)
{
	struct relay_register m = {.allocation = 1 + (n > 0 && (d[0] & 1)),
				   .leg = n > 1 ? d[1] & 1 : 0,
				   .counter = n > 2 ? d[2] + 1 : 1,
				   .nsessions = 1,
				   .sessions = {n > 3 ? 1 + (d[3] & 3) : 1}};
	int len = relay_register_encode(&m, token, out, RELAY_REGISTER_MAX);

	return len > 0 ? (size_t)len : 0;
}

static void check(const struct fwd_table *t, const struct fwd_verdict *v,
		  const struct ip_endpoint *from)
{
	struct fwd_leg_info legs[RELAY_LEGS];
	bool to_leg = false, from_leg = false;

	if (v->action == FWD_ANSWER && (v->to.port != from->port ||
					!ip_addr_equal(&v->to.addr, &from->addr)))
		abort();
	if (v->action != FWD_SEND)
		return;
	for (unsigned i = 0; i < RELAY_LEGS; i++) {
		if (!fwd_leg(t, v->allocation, i, &legs[i]))
			abort();
	}
	for (unsigned i = 0; i < RELAY_LEGS; i++) {
		const struct fwd_leg_info *dst = &legs[i], *src = &legs[1 - i];

		if (dst->registered && src->registered &&
		    dst->endpoint.port == v->to.port &&
		    ip_addr_equal(&dst->endpoint.addr, &v->to.addr) &&
		    src->endpoint.port == from->port &&
		    ip_addr_equal(&src->endpoint.addr, &from->addr))
			to_leg = from_leg = true;
	}
	if (!to_leg || !from_leg)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fwd_limits lim = {.max_allocations = 4, .expiry_ms = 1000, .rate_bytes = 70000};
	struct fwd_table t;
	struct fwd_verdict v;
	uint64_t now = 0;
	size_t off = 0;

	if (fwd_init(&t, &lim) != 0)
		return 0;
	fwd_allocate(&t, 1, token, 0, 0);
	fwd_allocate(&t, 2, token, 0, 0);
	while (off + 3 <= size) {
		uint8_t pick = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		struct ip_endpoint from = source(pick >> 1);
		uint8_t forged[RELAY_REGISTER_MAX];

		off += 3;
		if (len > size - off)
			len = size - off;
		if (pick & 1) {
			size_t n = forge_register(data + off, len, forged);

			fwd_input(&t, forged, n, &from, now, &v);
		} else {
			fwd_input(&t, data + off, len, &from, now, &v);
		}
		check(&t, &v, &from);
		off += len;
		now += pick & 0x80 ? 300 : 1;
		fwd_expire(&t, now, NULL, NULL);
	}
	fwd_free_all(&t);
	return 0;
}
