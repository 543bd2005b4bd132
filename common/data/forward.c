/* The relay's forwarding table (forward.h). Two hash indexes over the allocations: by
 * allocation id (REGISTER, allocate, free) and by receiver session id (frames). Session
 * ids are chosen by the calls' ends, not by us, so two allocations may register the same
 * one: the session index chains them, and a frame goes to the entry whose other leg's
 * endpoint is the frame's source, which is also the check that makes the relay no open
 * reflector. Every path is a few comparisons; nothing is allocated per datagram. */
#include "forward.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "frame.h"

/* A session id a leg registered, in the session index. */
struct fwd_session_link {
	struct fwd_session_link *next;
	struct fwd_allocation *alloc;
	uint32_t session;
	uint8_t leg;
	bool linked;
};

struct fwd_leg_state {
	struct fwd_leg_info info;
	struct fwd_session_link links[RELAY_MAX_SESSIONS];
};

struct fwd_allocation {
	struct fwd_allocation *next;  /* in its by_id bucket */
	uint64_t id;
	uint8_t token[RELAY_TOKEN_LEN];
	uint64_t refreshed_ms;        /* made, or a leg's last registration */
	uint64_t rate_bytes, burst_bytes;  /* rate 0: no limit */
	uint64_t tokens;              /* bytes it may forward now */
	uint64_t tokens_ms;           /* when tokens was last topped up */
	uint64_t rate_limited, wrong_source;
	struct fwd_leg_state legs[RELAY_LEGS];
};

static const char *const reason_names[FWD_REASONS] = {
	[FWD_FORWARDED] = "forwarded",
	[FWD_REGISTERED] = "registered",
	[FWD_MALFORMED] = "malformed",
	[FWD_UNKNOWN_ALLOCATION] = "unknown_allocation",
	[FWD_BAD_MAC] = "bad_mac",
	[FWD_OLD_COUNTER] = "old_counter",
	[FWD_SESSION_TAKEN] = "session_taken",
	[FWD_UNKNOWN_SESSION] = "unknown_session",
	[FWD_WRONG_SOURCE] = "wrong_source",
	[FWD_RATE_LIMITED] = "rate_limited",
};

const char *fwd_reason_name(enum fwd_reason r)
{
	return (unsigned)r < FWD_REASONS ? reason_names[r] : "unknown";
}

/* ---- hashing ---- */

static size_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (size_t)x;
}

static size_t id_bucket(const struct fwd_table *t, uint64_t id)
{
	return mix64(id) & (t->nbuckets - 1);
}

static size_t session_bucket(const struct fwd_table *t, uint32_t session)
{
	return mix64(session) & (t->nbuckets - 1);
}

static size_t buckets_for(uint32_t max_allocations)
{
	size_t n = 64;

	while (n < (size_t)max_allocations * 2 && n < ((size_t)1 << 20))
		n <<= 1;
	return n;
}

int fwd_init(struct fwd_table *t, const struct fwd_limits *limits)
{
	memset(t, 0, sizeof *t);
	if (limits)
		t->limits = *limits;
	if (!t->limits.max_allocations)
		t->limits.max_allocations = FWD_DEFAULT_MAX_ALLOCATIONS;
	if (!t->limits.expiry_ms)
		t->limits.expiry_ms = FWD_DEFAULT_EXPIRY_MS;
	t->nbuckets = buckets_for(t->limits.max_allocations);
	t->by_id = calloc(t->nbuckets, sizeof *t->by_id);
	t->by_session = calloc(t->nbuckets, sizeof *t->by_session);
	if (!t->by_id || !t->by_session) {
		free(t->by_id);
		free(t->by_session);
		t->by_id = NULL;
		t->by_session = NULL;
		return -ENOMEM;
	}
	return 0;
}

static struct fwd_allocation *find(const struct fwd_table *t, uint64_t id)
{
	for (struct fwd_allocation *a = t->by_id[id_bucket(t, id)]; a; a = a->next)
		if (a->id == id)
			return a;
	return NULL;
}

/* ---- the session index ---- */

static void unlink_session(struct fwd_table *t, struct fwd_session_link *l)
{
	struct fwd_session_link **p = &t->by_session[session_bucket(t, l->session)];

	if (!l->linked)
		return;
	while (*p && *p != l)
		p = &(*p)->next;
	if (*p)
		*p = l->next;
	l->linked = false;
	l->next = NULL;
}

static void unlink_leg(struct fwd_table *t, struct fwd_leg_state *leg)
{
	for (size_t i = 0; i < RELAY_MAX_SESSIONS; i++)
		unlink_session(t, &leg->links[i]);
}

static void link_leg(struct fwd_table *t, struct fwd_allocation *a, uint8_t legno)
{
	struct fwd_leg_state *leg = &a->legs[legno];

	for (size_t i = 0; i < leg->info.nsessions; i++) {
		struct fwd_session_link *l = &leg->links[i];
		size_t b;

		l->alloc = a;
		l->leg = legno;
		l->session = leg->info.sessions[i];
		b = session_bucket(t, l->session);
		l->next = t->by_session[b];
		t->by_session[b] = l;
		l->linked = true;
	}
}

/* ---- allocations ---- */

/* The bucket holds a second's worth of the rate unless told less: TCP sends in bursts
 * (a GSO run of 64 frames, a window's worth after an idle spell) and a bucket that drops
 * them costs it far more than their bytes. Never less than the largest frame. */
static void set_rate(struct fwd_allocation *a, uint64_t rate, uint64_t burst, uint64_t now_ms)
{
	a->rate_bytes = rate;
	a->burst_bytes = burst && burst < rate ? burst : rate;
	if (rate && a->burst_bytes < FRAME_MAX_DATAGRAM)
		a->burst_bytes = FRAME_MAX_DATAGRAM;
	a->tokens = a->burst_bytes;
	a->tokens_ms = now_ms;
}

int fwd_allocate(struct fwd_table *t, uint64_t id, const uint8_t token[RELAY_TOKEN_LEN],
		 uint64_t rate_bytes, uint64_t now_ms)
{
	struct fwd_allocation *a;
	size_t b;

	if (id == 0)
		return INSEL_E_BAD_FIELD;
	if (find(t, id))
		return INSEL_E_EXISTS;
	if (t->count >= t->limits.max_allocations)
		return INSEL_E_LIMIT;
	a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->id = id;
	memcpy(a->token, token, RELAY_TOKEN_LEN);
	a->refreshed_ms = now_ms;
	set_rate(a, rate_bytes ? rate_bytes : t->limits.rate_bytes, t->limits.burst_bytes, now_ms);
	b = id_bucket(t, id);
	a->next = t->by_id[b];
	t->by_id[b] = a;
	t->count++;
	return 0;
}

static void destroy(struct fwd_table *t, struct fwd_allocation *a)
{
	struct fwd_allocation **p = &t->by_id[id_bucket(t, a->id)];

	for (unsigned i = 0; i < RELAY_LEGS; i++)
		unlink_leg(t, &a->legs[i]);
	while (*p && *p != a)
		p = &(*p)->next;
	if (*p)
		*p = a->next;
	t->count--;
	secure_wipe(a, sizeof *a);
	free(a);
}

int fwd_release(struct fwd_table *t, uint64_t id)
{
	struct fwd_allocation *a = find(t, id);

	if (!a)
		return INSEL_E_NOT_FOUND;
	destroy(t, a);
	return 0;
}

size_t fwd_expire(struct fwd_table *t, uint64_t now_ms,
		  void (*gone)(void *ctx, uint64_t id), void *ctx)
{
	size_t n = 0;

	for (size_t b = 0; b < t->nbuckets; b++) {
		struct fwd_allocation *a = t->by_id[b], *next;

		for (; a; a = next) {
			next = a->next;
			if (now_ms < a->refreshed_ms || now_ms - a->refreshed_ms < t->limits.expiry_ms)
				continue;
			if (gone)
				gone(ctx, a->id);
			destroy(t, a);
			n++;
		}
	}
	t->expired += n;
	return n;
}

void fwd_free_all(struct fwd_table *t)
{
	for (size_t b = 0; t->by_id && b < t->nbuckets; b++)
		while (t->by_id[b])
			destroy(t, t->by_id[b]);
	free(t->by_id);
	free(t->by_session);
	t->by_id = NULL;
	t->by_session = NULL;
}

/* ---- REGISTER ---- */

static bool other_leg_holds(const struct fwd_allocation *a, uint8_t leg,
			    const struct relay_register *m)
{
	const struct fwd_leg_info *other = &a->legs[1 - leg].info;

	for (size_t i = 0; i < m->nsessions; i++)
		for (size_t j = 0; j < other->nsessions; j++)
			if (m->sessions[i] == other->sessions[j])
				return true;
	return false;
}

static enum fwd_reason take_register(struct fwd_table *t, const uint8_t *dgram, size_t len,
				     const struct ip_endpoint *from, uint64_t now_ms,
				     struct fwd_verdict *v)
{
	struct relay_register m;
	struct relay_registered ack;
	struct fwd_allocation *a;
	struct fwd_leg_state *leg;
	int n;

	if (relay_register_parse(dgram, len, &m) != 0)
		return FWD_MALFORMED;
	v->allocation = m.allocation;
	a = find(t, m.allocation);
	if (!a)
		return FWD_UNKNOWN_ALLOCATION;
	if (relay_wire_verify(dgram, len, a->token) != 0)
		return FWD_BAD_MAC;
	leg = &a->legs[m.leg];
	if (leg->info.registered && m.counter <= leg->info.counter)
		return FWD_OLD_COUNTER;
	if (other_leg_holds(a, m.leg, &m))
		return FWD_SESSION_TAKEN;
	/* Place (or move: NAT rebinding) the leg, and route its sessions anew. */
	unlink_leg(t, leg);
	leg->info.registered = true;
	leg->info.endpoint = *from;
	leg->info.counter = m.counter;
	leg->info.nsessions = m.nsessions;
	memcpy(leg->info.sessions, m.sessions, sizeof m.sessions);
	link_leg(t, a, m.leg);
	a->refreshed_ms = now_ms;
	ack = (struct relay_registered){.allocation = a->id, .leg = m.leg,
					.nsessions = m.nsessions, .counter = m.counter};
	n = relay_registered_encode(&ack, a->token, v->answer, sizeof v->answer);
	if (n < 0)
		return FWD_MALFORMED;  /* cannot happen: the REGISTER checked the same fields */
	v->answer_len = (size_t)n;
	v->action = FWD_ANSWER;
	v->to = *from;
	return FWD_REGISTERED;
}

/* ---- frames ---- */

static bool endpoint_equal(const struct ip_endpoint *a, const struct ip_endpoint *b)
{
	return a->port == b->port && ip_addr_equal(&a->addr, &b->addr);
}

/* A token bucket in bytes, topped up by the time passed; no bucket without a rate. */
static bool rate_allows(struct fwd_allocation *a, size_t len, uint64_t now_ms)
{
	if (!a->rate_bytes)
		return true;
	if (now_ms > a->tokens_ms) {
		uint64_t elapsed = now_ms - a->tokens_ms;
		uint64_t add = elapsed >= 1000 ? a->burst_bytes : a->rate_bytes * elapsed / 1000;

		a->tokens = a->tokens + add > a->burst_bytes ? a->burst_bytes : a->tokens + add;
		a->tokens_ms = now_ms;
	}
	if (a->tokens < len)
		return false;
	a->tokens -= len;
	return true;
}

static enum fwd_reason take_frame(struct fwd_table *t, const uint8_t *dgram, size_t len,
				  const struct ip_endpoint *from, uint64_t now_ms,
				  struct fwd_verdict *v)
{
	struct fwd_session_link *l, *match = NULL, *named = NULL;
	struct fwd_leg_state *src, *dst;
	uint32_t session;

	if (len < FRAME_OVERHEAD || dgram[0] == 0 || dgram[0] >= RELAY_REGISTER ||
	    frame_peek_session(dgram, len, &session) != 0)
		return FWD_MALFORMED;
	for (l = t->by_session[session_bucket(t, session)]; l && !match; l = l->next) {
		if (l->session != session)
			continue;
		named = named ? named : l;
		src = &l->alloc->legs[1 - l->leg];
		if (src->info.registered && endpoint_equal(&src->info.endpoint, from))
			match = l;
	}
	if (!match) {
		if (named) {
			named->alloc->wrong_source++;
			v->allocation = named->alloc->id;
		}
		return named ? FWD_WRONG_SOURCE : FWD_UNKNOWN_SESSION;
	}
	v->allocation = match->alloc->id;
	if (!rate_allows(match->alloc, len, now_ms)) {
		match->alloc->rate_limited++;
		return FWD_RATE_LIMITED;
	}
	src = &match->alloc->legs[1 - match->leg];
	dst = &match->alloc->legs[match->leg];
	src->info.packets_in++;
	src->info.bytes_in += len;
	t->bytes_forwarded += len;
	v->action = FWD_SEND;
	v->to = dst->info.endpoint;
	return FWD_FORWARDED;
}

void fwd_input(struct fwd_table *t, const uint8_t *dgram, size_t len,
	       const struct ip_endpoint *from, uint64_t now_ms, struct fwd_verdict *v)
{
	memset(v, 0, sizeof *v);
	v->action = FWD_DROP;
	if (len > 0 && dgram[0] == RELAY_REGISTER)
		v->reason = take_register(t, dgram, len, from, now_ms, v);
	else
		v->reason = take_frame(t, dgram, len, from, now_ms, v);
	if (v->reason != FWD_FORWARDED && v->reason != FWD_REGISTERED)
		v->action = FWD_DROP;
	t->reasons[v->reason]++;
}

/* ---- look-ups ---- */

bool fwd_leg(const struct fwd_table *t, uint64_t id, unsigned leg, struct fwd_leg_info *out)
{
	const struct fwd_allocation *a = find(t, id);

	if (!a || leg >= RELAY_LEGS)
		return false;
	*out = a->legs[leg].info;
	return true;
}

bool fwd_allocation_drops(const struct fwd_table *t, uint64_t id, uint64_t *rate_limited,
			  uint64_t *wrong_source)
{
	const struct fwd_allocation *a = find(t, id);

	if (!a)
		return false;
	*rate_limited = a->rate_limited;
	*wrong_source = a->wrong_source;
	return true;
}
