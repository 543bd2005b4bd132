/* The principal's end of its relay (docs/relay.md, section 4): the control socket of
 * the current insel-relay process (relay_control.h, shared with a secondary that runs a
 * relay; a new one after each restart, from the keeper, relay_keeper.h), the allocations the principal made for secondaries' calls, and the
 * answer to the API's `relay` op. Allocations are the principal's to remember: when a
 * relay restarts they are given to the new one, so that the calls' legs find them again
 * at their next registration. An allocation goes when the relay says it expired (no leg
 * registered for a minute). */
#ifndef INSEL_PRINCIPAL_RELAY_LINK_H
#define INSEL_PRINCIPAL_RELAY_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "addr.h"
#include "pki.h"
#include "principal_ops.h"
#include "relay_control.h"
#include "relay_ops.h"

#define RELAY_DEFAULT_PER_SECONDARY 256  /* live allocations one secondary may hold */

struct relay_link_options {
	int keeper_fd;                 /* from relay_keeper_start; the link owns it */
	uint16_t port;                 /* the relay's bound UDP port */
	uint16_t tcp_port;             /* its TCP fallback's, 0: none */
	bool has_public;               /* an address to tell secondaries ([relay] public) */
	struct ip_endpoint public_ep;
	struct ip_endpoint listen;     /* the bound address; unspecified: the one each
					* secondary reached us at */
	unsigned per_secondary;
};

struct relay_allocation;

struct relay_link {
	struct relay_link_options opt;
	struct relay_control control;  /* the relay's control socket (relay_control.h) */
	struct relay_allocation *allocations;
	size_t count;
	uint64_t granted, refused, expired, freed;
	bool has_stats;                /* the relay's last stats answer */
	struct pop_relay_stats stats;
};

/* What a secondary is given: a candidate of kind relay. */
struct relay_grant {
	struct ip_endpoint ep;
	bool has_tcp;                  /* the relay's TLS-over-TCP fallback: */
	struct ip_endpoint tcp;        /* ... the same address, its TCP port */
	uint64_t allocation;
	uint8_t token[RELAY_OPS_TOKEN_LEN];
};

/* Starts watching the keeper socket. 0 or a negative error. */
int relay_link_start(struct relay_link *l, uv_loop_t *loop, const struct relay_link_options *o);
/* Closes the control socket and the keeper socket: the keeper stops the relay. */
void relay_link_close(struct relay_link *l);

/* An allocation for one call of the secondary `owner`, which reached us at `local`.
 * 0, INSEL_E_UNAVAILABLE (no relay running), INSEL_E_LIMIT (the secondary holds its
 * maximum), -ENOMEM. */
int relay_link_allocate(struct relay_link *l, const char *owner, uint64_t call,
			const struct ip_endpoint *local, struct relay_grant *out);

/* Where secondaries are to send (docs/principal-api.md): [relay] public, the bound
 * address, or the one the secondary reached us at (local; NULL if none). 0 or
 * INSEL_E_UNAVAILABLE. */
int relay_link_advertised(const struct relay_link *l, const struct ip_endpoint *local,
			  struct ip_endpoint *out);

/* The call ended: its allocation, if it has one here, is freed on the relay at once
 * rather than a minute after its legs stopped. True if it had one. */
bool relay_link_free_call(struct relay_link *l, uint64_t call);

#endif
