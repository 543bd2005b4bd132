/* The peer protocol's messages (secondary <-> secondary, docs/protocol.md), each as a
 * struct with its encoding to JSON and its validating decoding, in the one file that
 * both ends use: the caller's secondary encodes call_request and decodes its answer, the
 * callee's does the reverse; hangup, rekey and rekey_done go either way.
 *
 *   call_request  {call, caller, callee, callee_user?, callee_address?, channels, offer,
 *                  tun?: {caller, callee, caller_gateway, caller_gateway6?}, trunk?,
 *                  room? (a trunk carrying a room's leg: the room's name)}
 *     answer      {answer, tun?: {callee_gateway, callee_gateway6?}}
 *   hangup        {call, reason}
 *   rekey         {call, epoch, public}
 *     answer      {public}
 *   rekey_done    {call, epoch}                      (a notice)
 *
 * The offer and answer inside are the negotiation's own objects (negotiate.h), carried
 * here as JSON and read by their own codec. Requests are encoded with "op" and id 0 (rpc.h
 * numbers them); answers with the id of the request they answer.
 *
 * Decoders take untrusted JSON and never keep a pointer into it except where a field says
 * "borrowed" (valid while the message is). They return 0, or INSEL_E_BAD_FIELD with *why
 * saying what is wrong: a sentence for the error reply, which may point into
 * msg_field_error(). The peer gateways' LAN addresses in a network call are hints for
 * ICMP errors: one that is not an address of its family is left out, not refused. */
#ifndef INSEL_SECONDARY_PEER_CODEC_H
#define INSEL_SECONDARY_PEER_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "client_call.h"

#define PEER_MAX_PREFIXES 16   /* prefixes per side of a network call */
#define PEER_PARTY_MAX 160     /* "user@lan", a LAN, a host name or an address, with NUL */
#define PEER_REASON_MAX 32     /* a hangup reason (one word of at most 24 letters) */
#define PEER_PUBLIC_LEN 32     /* an X25519 public key */

struct peer_call_request {
	uint64_t call_id;                   /* decoding: 0 if "call" is not a call id */
	char caller[PEER_PARTY_MAX];        /* user@lan; for a trunk, the calling LAN */
	char callee[PEER_PARTY_MAX];        /* as the caller named it; for a trunk, a LAN */
	char callee_user[PEER_PARTY_MAX];   /* "" if the directory named no user */
	bool has_callee_addr;
	struct ip_addr callee_addr;
	struct call_channel_list channels;
	json_t *offer;                      /* the caller's offer (negotiate.h), borrowed */
	bool trunk;                         /* a site-to-site trunk (channels.tun) */
	/* A room's leg between two member sites (docs/rooms.md): a trunk that carries the
	 * room's addresses only; "" for other calls. */
	char room[16];
	/* A network call (channels.tun): what may cross, and the caller gateway's LAN
	 * addresses (the sources of its ICMP errors). */
	struct ip_prefix tun_caller[PEER_MAX_PREFIXES];
	size_t ntun_caller;
	struct ip_prefix tun_callee[PEER_MAX_PREFIXES];
	size_t ntun_callee;
	bool has_caller_gateway;            /* IPv4 */
	struct ip_addr caller_gateway;
	bool has_caller_gateway6;
	struct ip_addr caller_gateway6;
};

struct peer_call_answer {
	json_t *answer;                     /* the callee's answer (negotiate.h), borrowed */
	bool tun;                           /* a network call: the callee gateway's addresses */
	bool has_callee_gateway;            /* IPv4 */
	struct ip_addr callee_gateway;
	bool has_callee_gateway6;
	struct ip_addr callee_gateway6;
};

struct peer_hangup {
	uint64_t call_id;                   /* decoding: 0 if "call" is not a call id */
	char reason[PEER_REASON_MAX];       /* decoding: "peer_ended" if not one short word */
};

struct peer_rekey {
	uint64_t call_id;                   /* decoding: 0 if "call" is not a call id */
	uint32_t epoch;                     /* the epoch the exchange makes (1 and up) */
	uint8_t public[PEER_PUBLIC_LEN];
};

struct peer_rekey_done {
	uint64_t call_id;                   /* decoding: 0 if "call" is not a call id */
	uint32_t epoch;
};

/* New references, NULL on allocation failure. */
json_t *peer_call_request_encode(const struct peer_call_request *r);
json_t *peer_call_answer_encode(json_int_t id, const struct peer_call_answer *a);
json_t *peer_hangup_encode(const struct peer_hangup *h);
json_t *peer_rekey_encode(const struct peer_rekey *r);
json_t *peer_rekey_answer_encode(json_int_t id, const uint8_t public[PEER_PUBLIC_LEN]);
json_t *peer_rekey_done_encode(const struct peer_rekey_done *d);

/* The call id a request names (its "call"), or 0 if it names none. */
uint64_t peer_call_of(const json_t *msg);

/* out is written in full only on success, except call_id, which is set whenever the
 * request names a call (the first check), so that a refusal can say which call. */
int peer_call_request_decode(const json_t *msg, struct peer_call_request *out,
			     const char **why);
int peer_call_answer_decode(const json_t *msg, struct peer_call_answer *out,
			    const char **why);
int peer_hangup_decode(const json_t *msg, struct peer_hangup *out, const char **why);
int peer_rekey_decode(const json_t *msg, struct peer_rekey *out, const char **why);
int peer_rekey_answer_decode(const json_t *msg, uint8_t public[PEER_PUBLIC_LEN],
			     const char **why);
int peer_rekey_done_decode(const json_t *msg, struct peer_rekey_done *out,
			   const char **why);

#endif
