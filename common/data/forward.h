/* The forwarding table of a relay (docs/relay.md): which allocations exist, where each
 * of their two legs is, and whether a datagram that arrived may be passed on, and to
 * where. It holds no channel keys and sees only the frames' clear headers: a frame goes
 * to the leg that registered its receiver session id (bytes 4..7) and only when it comes
 * from the other leg of the same allocation, from that leg's registered endpoint, so the
 * relay is never an open reflector. REGISTER datagrams (relay_wire.h) authenticated with
 * the allocation's token place or move a leg (NAT rebinding) and are answered with
 * REGISTERED.
 *
 * Pure: no I/O and no clock of its own. The caller passes the time in, sends what
 * fwd_input() says to send, and calls fwd_expire() now and then. The insel-relay
 * process is one caller; a gateway that forwards for others (an overlay hop) is meant to
 * be another. Every refusal is counted by reason. Not thread-safe. */
#ifndef INSEL_FORWARD_H
#define INSEL_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "relay_wire.h"

/* Why a datagram was refused: the order is that of the checks. */
enum fwd_reason {
	FWD_FORWARDED,         /* not a refusal: passed on */
	FWD_REGISTERED,        /* not a refusal: a leg placed or refreshed, answered */
	FWD_MALFORMED,         /* too short, an unknown type, a REGISTER that does not parse */
	FWD_UNKNOWN_ALLOCATION,  /* a REGISTER for no allocation we have */
	FWD_BAD_MAC,           /* a REGISTER whose MAC does not check */
	FWD_OLD_COUNTER,       /* a REGISTER whose counter is not above the leg's last */
	FWD_SESSION_TAKEN,     /* a REGISTER naming a session the other leg holds */
	FWD_UNKNOWN_SESSION,   /* a frame for no registered session */
	FWD_WRONG_SOURCE,      /* a frame not from the other leg's registered endpoint */
	FWD_RATE_LIMITED,      /* over the allocation's rate */
	FWD_REASONS
};

/* The rate is the operator's cap on one call, not a shaper: a token bucket that drops
 * (and counts) what goes over it. It is off unless asked for: a relayed trunk carries
 * TCP, and TCP against a policer loses far more than the cap (a 25 MB/s cap with a 2 MB
 * burst held a relayed trunk to 90 Mbit/s). What bounds a call without one is what
 * bounds the relay: its socket buffers and its CPU, every drop counted. */
struct fwd_limits {
	uint32_t max_allocations;  /* live at once */
	uint64_t expiry_ms;        /* an allocation no leg refreshed for this long goes */
	uint64_t rate_bytes;       /* per allocation and second, both directions together;
				    * 0: no limit */
	uint64_t burst_bytes;      /* what it may send at once after a quiet spell; 0: one
				    * second's worth of the rate */
};

#define FWD_DEFAULT_MAX_ALLOCATIONS 4096
#define FWD_DEFAULT_EXPIRY_MS 60000
#define FWD_DEFAULT_RATE_BYTES 0  /* no limit */

struct fwd_allocation;

/* What one leg registered. */
struct fwd_leg_info {
	bool registered;
	struct ip_endpoint endpoint;
	uint64_t counter;
	uint8_t nsessions;
	uint32_t sessions[RELAY_MAX_SESSIONS];
	uint64_t packets_in, bytes_in;    /* from this leg, forwarded to the other */
};

struct fwd_table {
	struct fwd_limits limits;
	struct fwd_allocation **by_id;      /* hash buckets, chained */
	struct fwd_session_link **by_session;
	size_t nbuckets;                    /* a power of two */
	size_t count;
	uint64_t reasons[FWD_REASONS];      /* datagrams by what became of them */
	uint64_t bytes_forwarded;
	uint64_t expired;                   /* allocations */
};

/* What to do with a datagram. */
enum fwd_action {
	FWD_DROP,     /* nothing; the reason is counted */
	FWD_SEND,     /* send the same bytes to `to` */
	FWD_ANSWER,   /* send `answer` (answer_len bytes) back to the source */
};

struct fwd_verdict {
	enum fwd_action action;
	enum fwd_reason reason;
	struct ip_endpoint to;
	uint8_t answer[RELAY_REGISTERED_LEN];
	size_t answer_len;
	uint64_t allocation;   /* the allocation concerned, or 0 */
};

/* 0 or -ENOMEM. Limits of 0 take the defaults above (for the rate: none). */
int fwd_init(struct fwd_table *t, const struct fwd_limits *limits);
void fwd_free_all(struct fwd_table *t);

/* A new allocation, empty until its legs register. rate_bytes 0: the table's limit
 * (which may be none).
 * 0, INSEL_E_EXISTS (the id is taken), INSEL_E_LIMIT (max_allocations live),
 * INSEL_E_BAD_FIELD (id 0), -ENOMEM. */
int fwd_allocate(struct fwd_table *t, uint64_t id, const uint8_t token[RELAY_TOKEN_LEN],
		 uint64_t rate_bytes, uint64_t now_ms);
/* 0 or INSEL_E_NOT_FOUND. The token is wiped. */
int fwd_release(struct fwd_table *t, uint64_t id);
/* Removes the allocations no leg refreshed for expiry_ms; for each, calls gone (if not
 * NULL) with its id before it goes. Returns how many went. */
size_t fwd_expire(struct fwd_table *t, uint64_t now_ms,
		  void (*gone)(void *ctx, uint64_t id), void *ctx);

/* One datagram that arrived from `from`. */
void fwd_input(struct fwd_table *t, const uint8_t *dgram, size_t len,
	       const struct ip_endpoint *from, uint64_t now_ms, struct fwd_verdict *v);

/* Look-ups for stats: false if there is no such allocation or leg. */
bool fwd_leg(const struct fwd_table *t, uint64_t id, unsigned leg, struct fwd_leg_info *out);
/* The allocation's refused datagrams: rate limited, from a wrong source. */
bool fwd_allocation_drops(const struct fwd_table *t, uint64_t id, uint64_t *rate_limited,
			  uint64_t *wrong_source);

const char *fwd_reason_name(enum fwd_reason r);

#endif
