/* The principal's STUN responder: answers Binding requests on a UDP port of its own with
 * the source address it saw, so that gateways behind NAT learn their public endpoint from
 * the one host every organisation can reach. */
#ifndef INSEL_PRINCIPAL_STUN_SERVER_H
#define INSEL_PRINCIPAL_STUN_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "addr.h"

#define STUN_DEFAULT_PORT 3478
/* A second port answering the same way: a gateway asking both learns whether its NAT maps
 * each destination to a port of its own (endpoint-dependent mapping), which decides
 * whether hole punching can work before any probe is sent. */
#define STUN_DEFAULT_ALTERNATE_PORT 3480
#define STUN_SOCKETS 2
/* Per source (an IPv4 address or an IPv6 /64): a burst, then a steady rate per second. */
#define STUN_RATE_BURST 20
#define STUN_RATE_PER_SECOND 10
#define STUN_RATE_SLOTS 1024

struct stun_rate_slot {
	struct ip_addr source;   /* the /64 for IPv6 */
	uint64_t last_ms;
	uint32_t tokens_milli;   /* thousandths of a request */
};

struct stun_server {
	uv_udp_t udp[STUN_SOCKETS];
	unsigned nsockets;       /* the main port, and the alternate one if it runs */
	uint64_t (*clock_ms)(void);
	uint64_t answered;
	uint64_t malformed;      /* not a well-formed Binding request */
	uint64_t rate_limited;
	struct stun_rate_slot slots[STUN_RATE_SLOTS];
};

/* Binds the port on loop and starts answering; 0 or -errno (the port is closed again). */
int stun_server_start(struct stun_server *s, uv_loop_t *loop, const struct ip_endpoint *at,
		      uint64_t (*clock_ms)(void));
/* Answers on a second port too, with the same rate limit per source (a spoofed victim
 * gets at most twice the bound of one port); 0 or -errno (then only the first runs). */
int stun_server_add_port(struct stun_server *s, uv_loop_t *loop, const struct ip_endpoint *at);
/* The bound port of socket i (0: the main one, 1: the alternate); 0 if not running. */
uint16_t stun_server_port(const struct stun_server *s, unsigned i);
void stun_server_close(struct stun_server *s);

/* The answer to one datagram from `from`, written into out (cap bytes): its length, or 0
 * when nothing is to be sent back (counted in s). Exposed for the unit test. */
size_t stun_server_answer(struct stun_server *s, const uint8_t *data, size_t len,
			  const struct ip_endpoint *from, uint8_t *out, size_t cap);

#endif
