/* The principal's splice (docs/nat.md, "Signalling across NAT"): when neither secondary of
 * a call can be dialled, both open TCP to this port, each starting with the preamble
 * (preamble.h) that names the call, its end and the token the principal gave out with
 * "connect"; the splice pairs the two streams and forwards bytes both ways. It never
 * terminates the secondaries' TLS: the mutual TLS and everything in it stay end to end,
 * and the principal sees only ciphertext.
 *
 * Bounded everywhere: a pairing waits at most pair_timeout for its two ends; each
 * direction holds at most buffer_bytes queued (the sender's reading stops until the
 * receiver drains: back-pressure); expected pairings in all and per secondary, and
 * connections not yet paired, are capped. Everything is counted and logged at stop. */
#ifndef INSEL_PRINCIPAL_SPLICE_H
#define INSEL_PRINCIPAL_SPLICE_H

#include <stdint.h>
#include <uv.h>

#include "addr.h"
#include "pki.h"
#include "preamble.h"

#define SPLICE_PORT_OFFSET 1       /* default port: the TLS port + 1 */
#define SPLICE_PAIR_TIMEOUT_MS 10000
#define SPLICE_BUFFER_BYTES (256 * 1024)
#define SPLICE_MAX_PAIRS 1024      /* expected or active pairings, in all */
#define SPLICE_MAX_PER_SECONDARY 64
#define SPLICE_MAX_UNPAIRED 256    /* connections that have not yet shown a preamble */

struct splice_counts {
	uint64_t expected;      /* pairings the principal announced */
	uint64_t spliced;       /* pairings whose two ends arrived */
	uint64_t expired;       /* pairings an end never reached in time */
	uint64_t refused;       /* connections without a valid preamble, an unknown call or
				 * token, an end already there, or over a cap */
	uint64_t bytes;         /* forwarded, both directions */
	unsigned active;        /* pairings carrying bytes now */
};

struct splice_server;

/* Listens on `at` (port 0: ephemeral); 0 or a negative error. */
int splice_start(uv_loop_t *loop, const struct ip_endpoint *at, uint64_t (*clock_ms)(void),
		 struct splice_server **out);
uint16_t splice_port(const struct splice_server *s);
/* Where a secondary that reached the principal's TLS port at `seen` (the principal's own
 * address of that connection) dials the splice: the listen address, or, when that is a
 * wildcard, `seen` with the splice port. */
void splice_endpoint_for(const struct splice_server *s, const struct ip_endpoint *seen,
			 struct ip_endpoint *out);
/* Expects the two ends of a call: INSEL_E_LIMIT over a cap, INSEL_E_EXISTS if that call
 * is already expected. caller and callee are the two secondaries' names. */
int splice_expect(struct splice_server *s, uint64_t call_id,
		  const uint8_t token[PREAMBLE_TOKEN_LEN], const char *caller, const char *callee);
void splice_counts(const struct splice_server *s, struct splice_counts *out);
/* Stops listening and closes every connection; the struct goes with the last close. */
void splice_stop(struct splice_server *s);

#endif
