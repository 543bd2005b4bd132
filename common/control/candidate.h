/* A call's candidates: the endpoints at which one side's auxiliary may be reached, which
 * the offer and answer exchange so that both auxiliaries can probe them all at once and
 * keep the first that answers (docs/nat.md). Three kinds:
 *
 *   host   the auxiliary's own WAN socket address   {"kind":"host","addr":"198.18.0.1:40000"}
 *   srflx  what a STUN server saw of that socket    {"kind":"srflx","addr":"198.18.9.1:61000"}
 *   relay  an allocation on a relay                 {"kind":"relay","addr":"198.18.0.1:3479",
 *                                                    "relay_id":"<16 hex>","token":"<32 hex>",
 *                                                    "tcp":"198.18.0.1:443"}
 *          ("tcp", optional: the relay's TLS-over-TCP fallback for where UDP is blocked;
 *          "preferred":true, optional: the principal's routes go through this relay
 *          rather than direct, so both auxiliaries rank it above a direct path)
 *
 * A candidate is never trusted: it is only ever a place to send authenticated probes.
 * Also the NAT mapping behaviour an auxiliary saw while learning its srflx candidates. */
#ifndef INSEL_CANDIDATE_H
#define INSEL_CANDIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum cand_kind { CAND_HOST, CAND_SRFLX, CAND_RELAY };

#define CAND_MAX 8
#define CAND_TOKEN_LEN 16

struct candidate {
	enum cand_kind kind;
	struct ip_endpoint ep;                /* where to send */
	uint64_t relay_id;                    /* CAND_RELAY: the allocation */
	uint8_t relay_token[CAND_TOKEN_LEN];  /* CAND_RELAY: proves a leg's registration */
	bool has_tcp;                         /* CAND_RELAY: the relay has a TCP fallback */
	struct ip_endpoint tcp;               /* ... where it listens (TLS, docs/relay.md) */
	bool preferred;                       /* CAND_RELAY: the route goes through it
					       * (docs/routing.md) */
};

/* How the NAT in front of an auxiliary maps its socket, as STUN showed it:
 * none         the mapped address is the socket's own (no NAT)
 * independent  every server saw the same mapped endpoint
 * dependent    servers saw different mapped ports or addresses (a "symmetric" NAT:
 *              a srflx candidate learnt from a server will not do for a peer)
 * unknown      fewer than two answers to compare, or none at all */
enum nat_mapping { NAT_MAPPING_UNKNOWN, NAT_MAPPING_NONE, NAT_MAPPING_INDEPENDENT,
		   NAT_MAPPING_DEPENDENT };

/* "host", "srflx", "relay". */
const char *cand_kind_name(enum cand_kind kind);
/* 0, or INSEL_E_BAD_FIELD for a name this build does not know. */
int cand_kind_from_name(const char *name, enum cand_kind *out);
/* "unknown", "none", "independent", "dependent". */
const char *nat_mapping_name(enum nat_mapping m);
int nat_mapping_from_name(const char *name, enum nat_mapping *out);

/* One candidate's object; NULL if out of memory. */
json_t *candidate_to_json(const struct candidate *c);
/* Validates one candidate object: a known "kind", an "addr" ADDRESS:PORT with a specified
 * address and a non-zero port, and for a relay candidate its "relay_id" (16 hex digits,
 * not all zero) and "token" (32 hex digits), and if present its "tcp" ADDRESS:PORT (as
 * "addr"). Other fields are ignored (a relay candidate
 * in "start" carries a "leg"). 0, or INSEL_E_BAD_FIELD with a sentence in why. */
int candidate_from_json(const json_t *j, struct candidate *out, char *why, size_t whylen);

/* The array of n candidates; NULL if out of memory. */
json_t *candidates_to_json(const struct candidate *c, size_t n);
/* Reads an array of at most max (<= CAND_MAX) candidate objects into out, *n of them.
 * An entry whose kind this build does not know is skipped (a newer peer may offer more
 * kinds); any other fault refuses the whole array, the entry named in why.
 * 0, or INSEL_E_BAD_FIELD. */
int candidates_from_json(const json_t *array, struct candidate *out, size_t max, size_t *n,
			 char *why, size_t whylen);

/* What STUN showed: from the socket's own endpoint (host; its address may be unspecified
 * when the socket is bound to the wildcard) and the mapped endpoint each answering server
 * reported, the candidates (host unless unspecified, then each distinct mapped endpoint
 * that is not the host's, as srflx; at most CAND_MAX), the distinct mapped endpoints
 * (into distinct, at most n) and the mapping (see enum nat_mapping). Returns the number
 * of candidates. */
size_t candidates_gather(const struct ip_endpoint *host, const struct ip_endpoint *mapped,
			 size_t n, struct candidate *out, struct ip_endpoint *distinct,
			 size_t *ndistinct, enum nat_mapping *mapping);

/* Kind, endpoint, and for a relay its id, token and TCP endpoint. */
bool candidate_equal(const struct candidate *a, const struct candidate *b);
/* Whether list[0..n) already has c's endpoint (of any kind): a srflx candidate equal to
 * the host one adds nothing. */
bool candidate_listed(const struct candidate *list, size_t n, const struct candidate *c);
/* "srflx 198.18.9.1:61000" into out (IP_STRLEN + 8 bytes are enough); returns out. */
char *candidate_format(const struct candidate *c, char *out, size_t outlen);
#define CAND_STRLEN (IP_STRLEN + 8)
/* "host 100.64.1.2:40001, srflx 198.18.1.2:40001" ("none" for n = 0) into out
 * (CAND_LIST_STRLEN bytes are enough for CAND_MAX); returns out. For logs. */
char *candidates_format(const struct candidate *c, size_t n, char *out, size_t outlen);
#define CAND_LIST_STRLEN (CAND_MAX * (CAND_STRLEN + 2))

#endif
