/* The relay's TCP fallback (tcp.c, docs/relay.md section 6): a TLS listener whose
 * connections are legs of the one forwarding table, each named by an endpoint in the
 * discard-only prefix 100::/64. */
#ifndef INSEL_RELAY_TCP_H
#define INSEL_RELAY_TCP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define RELAY_TCP_MAX_CONNS 1024
#define RELAY_TCP_MAX_PENDING 64            /* still in the handshake */
#define RELAY_TCP_MAX_PENDING_PER_SOURCE 8
#define RELAY_TCP_HANDSHAKE_MS 10000
#define RELAY_TCP_REGISTER_MS 10000         /* from the handshake to the first REGISTER */
#define RELAY_TCP_IDLE_MS 90000             /* no record for this long: closed */
#define RELAY_TCP_QUEUE_MAX (256 * 1024)    /* bytes not yet written; beyond, drop */

struct relay;
struct relay_options;
struct relay_tcp_conn;
struct tls_creds;
struct tls_server;

struct relay_tcp_counts {
	uint64_t accepted, refused;
	uint64_t records_in, records_out;
	uint64_t backpressure;   /* records dropped: the connection's queue was full */
	uint64_t gone;           /* records for a connection that has closed */
	uint64_t closed_idle, closed_malformed;
};

struct relay_tcp {
	struct tls_creds *creds;
	struct tls_server *server;
	uint16_t port;
	struct relay_tcp_conn **slots;  /* max_conns, by the low bits of a connection's id */
	size_t max_conns;
	size_t open;
	uint64_t generation;
	bool closed;
	struct relay_tcp_counts counts;
};

/* Before confinement: loads the certificate and key, listens. 0 (also when no
 * --tcp-listen was given) or an error, logged. */
int relay_tcp_open(struct relay *r, const struct relay_options *o);
/* Stops listening and closes every connection (their callbacks free them). */
void relay_tcp_close(struct relay *r);
/* After the loop ended. */
void relay_tcp_free(struct relay *r);
/* Whether the endpoint names a TCP connection (100::/64, port 0). */
bool relay_tcp_endpoint(const struct ip_endpoint *e);
/* Writes one datagram, as a record, into the connection the endpoint names; dropped and
 * counted if it has gone or its queue is full. */
void relay_tcp_send(struct relay *r, const uint8_t *data, size_t len,
		    const struct ip_endpoint *to);
/* The "tcp" object of stats, or JSON null when the fallback is off. */
json_t *relay_tcp_stats_json(const struct relay *r);

#endif
