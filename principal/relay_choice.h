/* Which relay carries a call (docs/relay.md, section 8). The principal runs a relay of
 * its own, and any secondary with a public address may run one too ([relay] listen in
 * its configuration), announced when it registers: a **designated** relay. This module
 * keeps the designated relays of the secondaries online (in memory: an announcement
 * lasts as long as the secondary's link), the allocations the principal made on them
 * (so that a call's end frees its allocation, and the load of each is known), and ranks
 * the candidate relays for each call.
 *
 * relay_choice_rank is the one place that decides the order: the policy ([relay] choose)
 * first, then the cost of the route through each relay (issue 13's link measurements
 * fill relay_option.cost; 0 means unknown, and ties), then the load. */
#ifndef INSEL_PRINCIPAL_RELAY_CHOICE_H
#define INSEL_PRINCIPAL_RELAY_CHOICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "pki.h"
#include "principal_ops.h"
#include "relay_ops.h"

#define RELAY_CHOICE_MAX 256   /* designated relays remembered at once */

/* [relay] choose: */
enum relay_policy {
	RELAY_PREFER_DESIGNATED = 0, /* "designated" (default): a designated relay if one is
				      * available, the least loaded; else the principal's */
	RELAY_PRINCIPAL_ONLY,        /* "principal": the principal's own relay alone */
	RELAY_LEAST_LOADED,          /* "least-loaded": all alike, the fewest live
				      * allocations first (the principal's included) */
};
/* 0 and the policy, or -1 for another word. */
int relay_policy_parse(const char *text, enum relay_policy *out);
const char *relay_policy_name(enum relay_policy p);

/* One candidate relay, as the ranking sees it. */
struct relay_option {
	const char *secondary;   /* the secondary running it; NULL: the principal's own */
	bool available;          /* running and reachable now (online, ready) */
	unsigned live;           /* its live allocations (fewest first among equals) */
	uint32_t cost;           /* the route's cost through it for this call; 0: unknown */
};

/* The ranking hook: puts in rank[] the indexes of the options that may carry a call
 * between the secondaries caller and callee (callee NULL if not known), best first, and
 * returns how many. Never an end of the call, nor an option not available. */
size_t relay_choice_rank(const struct relay_option *options, size_t n, const char *caller,
			 const char *callee, enum relay_policy policy, size_t *rank);

/* ---- the designated relays ---- */

struct designated_relay {
	char secondary[PKI_NAME_MAX + 1];
	struct ip_endpoint ep;
	bool has_tcp;
	struct ip_endpoint tcp;
	bool online;
	unsigned live;                /* allocations the principal made here, still live */
	uint64_t granted, refused;
	bool has_stats;               /* its last relay_stats answer */
	struct pop_relay_stats stats;
};

struct designated_allocation {
	struct designated_allocation *next;
	uint64_t id, call;
	char relay[PKI_NAME_MAX + 1];   /* the secondary whose relay holds it */
};

struct relay_choice {
	enum relay_policy policy;
	struct designated_relay relays[RELAY_CHOICE_MAX];
	size_t n;
	struct designated_allocation *allocations;
};

/* A registration's announcement (or, with has_relay false, that it runs none). */
void relay_choice_announce(struct relay_choice *c, const char *secondary,
			   const struct pop_register_req *r);
/* The secondary's link is gone: its relay is not available, and its allocations go. */
void relay_choice_offline(struct relay_choice *c, const char *secondary);
struct designated_relay *relay_choice_find(struct relay_choice *c, const char *secondary);
/* An allocation made on a designated relay (its reply was ok). -ENOMEM or 0. */
int relay_choice_allocated(struct relay_choice *c, const char *relay, uint64_t id,
			   uint64_t call);
/* Forgets an allocation (freed or expired); true if it was one. */
bool relay_choice_forget(struct relay_choice *c, const char *relay, uint64_t id);
/* The allocation of a call, if a designated relay holds one: its id and relay. */
bool relay_choice_of_call(const struct relay_choice *c, uint64_t call, uint64_t *id,
			  char relay[PKI_NAME_MAX + 1]);
void relay_choice_free(struct relay_choice *c);

#endif
