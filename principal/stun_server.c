/* The principal's STUN responder (stun_server.h). A reflector on the open Internet is a
 * tool for others' floods unless it is careful: it answers only a well-formed Binding
 * request, with at most 52 bytes (a bare 20-byte request, which standard clients send,
 * must be answered), and at most STUN_RATE_PER_SECOND a second to any one source, so a
 * spoofed victim receives at most a few hundred bytes a second whoever asks in its name;
 * everything else is dropped and counted, never answered. It runs on the daemon's loop
 * and keeps no state beyond the rate table. */
#include "stun_server.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "stun.h"

/* Rate-limit key: the IPv4 address, or the IPv6 /64 (one host's share of a subnet). */
static struct ip_addr source_key(const struct ip_addr *a)
{
	struct ip_addr k = *a;

	if (k.family == AF_INET6)
		memset(k.bytes + 8, 0, 8);
	return k;
}

static size_t slot_of(const struct ip_addr *k)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof k->bytes; i++)
		h = (h ^ k->bytes[i]) * 16777619u;
	return h % STUN_RATE_SLOTS;
}

/* A token bucket per source; a source that lands on another's slot takes it over fresh
 * (so that no one can starve a source by colliding with it). */
static bool rate_allows(struct stun_server *s, const struct ip_addr *from)
{
	struct ip_addr k = source_key(from);
	struct stun_rate_slot *slot = &s->slots[slot_of(&k)];
	uint64_t now = s->clock_ms();
	uint64_t refill;

	if (!ip_addr_equal(&slot->source, &k)) {
		slot->source = k;
		slot->last_ms = now;
		slot->tokens_milli = STUN_RATE_BURST * 1000;
	}
	refill = (now - slot->last_ms) * STUN_RATE_PER_SECOND;
	slot->last_ms = now;
	slot->tokens_milli = refill >= STUN_RATE_BURST * 1000u ||
					     slot->tokens_milli + refill > STUN_RATE_BURST * 1000u
				     ? STUN_RATE_BURST * 1000u
				     : slot->tokens_milli + (uint32_t)refill;
	if (slot->tokens_milli < 1000)
		return false;
	slot->tokens_milli -= 1000;
	return true;
}

/* The response: XOR-MAPPED-ADDRESS, and a fingerprint if the request had one. */
static size_t encode_answer(const struct stun_message *req, const struct ip_endpoint *from,
			    uint8_t *out, size_t cap)
{
	struct stun_message resp = {.type = STUN_BINDING_SUCCESS, .has_mapped = true,
				    .mapped = *from, .fingerprint = req->fingerprint};
	size_t len;

	memcpy(resp.txid, req->txid, STUN_TXID_LEN);
	return stun_encode(&resp, out, cap, &len) == 0 ? len : 0;
}

size_t stun_server_answer(struct stun_server *s, const uint8_t *data, size_t len,
			  const struct ip_endpoint *from, uint8_t *out, size_t cap)
{
	struct stun_message req;
	size_t n;

	if (stun_decode(data, len, &req) != 0 || req.type != STUN_BINDING_REQUEST) {
		s->malformed++;
		return 0;
	}
	if (!rate_allows(s, &from->addr)) {
		s->rate_limited++;
		return 0;
	}
	n = encode_answer(&req, from, out, cap);
	if (n)
		s->answered++;
	return n;
}

/* A responder on [::] (a principal listening on both families) sees an IPv4 client as
 * ::ffff:a.b.c.d: the client asked over IPv4, so it is told (and rate-limited by) its
 * IPv4 address, not an IPv6 one it cannot use (nor a /64 all IPv4 clients share). */
static void unmap_ipv4(struct ip_endpoint *e)
{
	static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (e->addr.family != AF_INET6 ||
	    memcmp(e->addr.bytes, mapped_prefix, sizeof mapped_prefix) != 0)
		return;
	memmove(e->addr.bytes, e->addr.bytes + 12, 4);
	memset(e->addr.bytes + 4, 0, 12);
	e->addr.family = AF_INET;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[2048];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(slab, sizeof slab);
}

static void recv_cb(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf,
		    const struct sockaddr *addr, unsigned flags)
{
	struct stun_server *s = udp->data;
	struct ip_endpoint from;
	uint8_t out[STUN_MAX_RESPONSE];
	size_t n;
	uv_buf_t reply;

	if (nread <= 0 || !addr)
		return;
	if ((flags & UV_UDP_PARTIAL) || ip_endpoint_from_sockaddr(addr, &from)) {
		s->malformed++; /* larger than any request we would answer */
		return;
	}
	unmap_ipv4(&from);
	n = stun_server_answer(s, (const uint8_t *)buf->base, (size_t)nread, &from, out,
			       sizeof out);
	if (n == 0)
		return;
	reply = uv_buf_init((char *)out, (unsigned)n);
	/* Best effort, like any UDP answer: a full socket buffer drops it. */
	if (uv_udp_try_send(udp, &reply, 1, addr) < 0)
		s->answered--;
}

int stun_server_add_port(struct stun_server *s, uv_loop_t *loop, const struct ip_endpoint *at)
{
	struct sockaddr_storage ss;
	uv_udp_t *udp;
	int rc;

	if (s->nsockets >= STUN_SOCKETS)
		return -ENOSPC;
	udp = &s->udp[s->nsockets];
	ip_endpoint_to_sockaddr(at, &ss);
	if ((rc = uv_udp_init(loop, udp)))
		return rc;
	udp->data = s;
	if ((rc = uv_udp_bind(udp, (const struct sockaddr *)&ss, 0)) ||
	    (rc = uv_udp_recv_start(udp, alloc_cb, recv_cb))) {
		uv_close((uv_handle_t *)udp, NULL);
		return rc;
	}
	s->nsockets++;
	return 0;
}

int stun_server_start(struct stun_server *s, uv_loop_t *loop, const struct ip_endpoint *at,
		      uint64_t (*clock_ms)(void))
{
	memset(s, 0, sizeof *s);
	s->clock_ms = clock_ms;
	return stun_server_add_port(s, loop, at);
}

uint16_t stun_server_port(const struct stun_server *s, unsigned i)
{
	struct sockaddr_storage ss;
	struct ip_endpoint e;
	int len = sizeof ss;

	if (i >= s->nsockets ||
	    uv_udp_getsockname(&s->udp[i], (struct sockaddr *)&ss, &len) ||
	    ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &e))
		return 0;
	return e.port;
}

void stun_server_close(struct stun_server *s)
{
	log_info("STUN: %llu answered, %llu malformed, %llu over the rate limit",
		 (unsigned long long)s->answered, (unsigned long long)s->malformed,
		 (unsigned long long)s->rate_limited);
	for (unsigned i = 0; i < s->nsockets; i++)
		uv_close((uv_handle_t *)&s->udp[i], NULL);
	s->nsockets = 0;
}
