/* "start", the secondary's second request to a call's auxiliary: the negotiated
 * parameters of every bound channel, in bind order, and where plaintext from the peer goes
 * until a LAN application speaks. One codec for both ends (the secondary encodes, the
 * auxiliary decodes); the reply is a plain {"id":N,"ok":true}.
 *
 *   {"op":"start","id":2,"idle_timeout_ms":120000,
 *    "channels":[{"params":{...chanparams...},"deliver":"10.2.0.11:5004"}]}
 * A network call's one channel has "remote_gateway" (the peer gateway's IPv4 LAN address)
 * and, if it has one, "remote_gateway6" instead of "deliver".
 * Where the peer's auxiliary may be reached (candidate.h), and the call's relay leg:
 *   "peer_candidates":[{"kind":"host","addr":"198.18.0.2:40001"}, ...],
 *   "relay":{"kind":"relay","addr":"198.18.0.1:3479","relay_id":"<16 hex>",
 *            "token":"<32 hex>","leg":0}      (caller leg 0, callee leg 1)
 * and, for the relay's TLS-over-TCP fallback (a relay candidate with "tcp"), the
 * organisation's CA that the relay's certificate must chain to (the auxiliary can open
 * no file): "relay_ca":"-----BEGIN CERTIFICATE-----\n..." (PEM, at most 8 KiB).
 * "failover_after_ms" (optional): how long the active path may stay silent while we send
 * before the auxiliary probes for another (0 or absent: AUX_DEFAULT_FAILOVER_AFTER_MS).
 * When our side should prime its NAT before punching (the callee, which starts first;
 * docs/nat.md "Both behind port-preserving NATs"): "prime":{"ttl":2,"window_ms":1500},
 * the IP TTL (IPv6 hop limit) of the first probes to the peer's srflx candidates and how
 * long at most they go that way. Absent: no priming.
 * "probe_space":true when the negotiation agreed on it (negotiate.h): every channel seals
 * its probes with counters of their own (channel_use_probe_space). Absent: off.
 * docs/auxiliary.md. */
#ifndef INSEL_AUX_START_H
#define INSEL_AUX_START_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "candidate.h"
#include "chanparams.h"
#include "negotiate.h"

#define AUX_DEFAULT_IDLE_TIMEOUT_MS 120000  /* ETCP's idle close after two minutes */
#define AUX_MAX_IDLE_TIMEOUT_MS (7LL * 24 * 3600 * 1000)
/* Failover (auxiliary/failover.c): longer than a TCP peer's delayed ACK (at most 200 ms on
 * Linux), so that a path carrying a transfer is never silent that long unless it broke;
 * well under a second, so that a transfer survives the switch with one retransmission. */
#define AUX_DEFAULT_FAILOVER_AFTER_MS 300
#define AUX_MIN_FAILOVER_AFTER_MS 50
#define AUX_MAX_FAILOVER_AFTER_MS 60000
#define AUX_RELAY_CA_MAX 8192               /* a PEM CA certificate (chain), bytes */
#define AUX_PRIME_WINDOW_MAX_MS 10000       /* priming never outlasts a probing round */

#define AUX_STREAM_TOKEN_LEN 32

struct aux_start_channel {
	struct sec_channel_params params;  /* holds the keys: aux_start_wipe() */
	struct ip_endpoint deliver;        /* UDP calls: where peer traffic goes first */
	bool has_deliver;
	struct ip_addr remote_gateway;     /* network calls: the peer gateway's LAN address */
	bool has_remote_gateway;
	struct ip_addr remote_gateway6;    /* and its IPv6 one, if it has one */
	bool has_remote_gateway6;
	/* A reliable channel (docs/reliable.md): its mode, and the token its party's TCP
	 * stream must open with ("reliable", "token": 64 hex digits). */
	enum negotiate_mode mode;
	uint8_t token[AUX_STREAM_TOKEN_LEN];
};

struct aux_start_request {
	uint64_t idle_timeout_ms;          /* 0: never */
	uint64_t failover_after_ms;        /* 0: AUX_DEFAULT_FAILOVER_AFTER_MS */
	unsigned nchannels;
	struct aux_start_channel channels[SEC_MAX_CHANNELS];
	struct candidate peer_cand[CAND_MAX];  /* the peer's candidates (may be none) */
	size_t npeer_cand;
	bool has_relay;                    /* the call has a relay allocation: */
	struct candidate relay;            /* of kind CAND_RELAY */
	unsigned relay_leg;                /* the leg this auxiliary registers: 0 or 1 */
	size_t relay_ca_len;               /* 0: none; else the PEM below */
	char relay_ca[AUX_RELAY_CA_MAX];   /* the organisation's CA, for the relay's TLS */
	uint8_t prime_ttl;                 /* 0: no priming; else the priming probes' TTL */
	uint32_t prime_window_ms;          /* ... for at most this long (1..10000) */
	bool probe_space;                  /* probes in a counter space of their own */
};

/* {"op":"start","id":0,...}; NULL if out of memory. */
json_t *aux_start_request_to_json(const struct aux_start_request *req);
/* 0, or INSEL_E_BAD_FIELD with why set; *out holds no key then. Checks each channel's
 * params against its place (channel index i at position i, one local session id per
 * channel, none of them the STUN magic cookie); whether they fit the bound call is the auxiliary's to check. The hex keys
 * are wiped in j once read (jansson frees strings without wiping). */
int aux_start_request_from_json(const json_t *j, struct aux_start_request *out, char *why,
				size_t whylen);
/* Wipes every channel's keys. */
void aux_start_wipe(struct aux_start_request *req);
/* Field by field (round-trip tests and fuzz targets). */
bool aux_start_request_equal(const struct aux_start_request *a,
			     const struct aux_start_request *b);

#endif
