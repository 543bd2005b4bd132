/* Per-call channel negotiation, as pure functions on JSON (no I/O): the caller's offer,
 * the callee's answer or refusal, and the per-channel keys both derive from the TLS
 * session they negotiated over. Used by secsock.c and by the secondaries' peer protocol;
 * the transport wraps the objects ({"op":...,"id":N} / {"id":N,"ok":...}) and the parsers
 * ignore those extra fields.
 *
 *   offer:  {"call":"<16 hex>", "ciphers":["aes-256-gcm","chacha20-poly1305"],
 *            "compress":["none"], "nonce":"<64 hex>", "endpoint":"198.18.0.1:40000",
 *            "channels":[{"port":5004,"peer_port":5004,"session":123}, ...]}
 *   answer: {"call":"<16 hex>", "cipher":"aes-256-gcm", "compress":"none",
 *            "nonce":"<64 hex>", "endpoint":"198.18.0.2:40001",
 *            "channels":[{"session":456}, ...]}
 *   A channel of the offer may ask for a reliable stream, "reliable":"ordered" or
 *   "unordered" (docs/reliable.md); a callee that runs the reliable engine on it says
 *   the same word on that channel of its answer. An older callee ignores the word and
 *   answers without it: the channel stays a datagram channel and the caller decides
 *   (a stream call ends with "reliable_unsupported"; see negotiate_answer_parse).
 *   An offer may carry "probe_space":true: the caller's auxiliary seals probes with counters
 *   of their own (docs/frames.md sections 1a and 3) if the callee's does too; a callee that
 *   agrees says "probe_space":true in its answer. Absent on either side (an older peer,
 *   Secsockets): off, probes share the data counters as before.
 *   Both may carry "candidates":[{"kind":"host","addr":"198.18.0.1:40000"}, ...]
 *   (candidate.h): where the side's auxiliary may be reached. "endpoint" stays (the host
 *   candidate, for Secsockets and older peers); a side that sends no candidates has one,
 *   a host candidate at its endpoint.
 *   refusal: an error reply whose code is "no_common_cipher", "no_common_compression" or
 *            "bad_offer".
 *
 * The callee takes the first cipher (and compression) of the caller's ordered list that
 * its own allowed set contains. Keys come from the TLS exporter (RFC 8446 7.5) with label
 * NEGOTIATE_EXPORTER_LABEL and context call id (8 bytes BE) || caller nonce || callee
 * nonce, so both sides' randomness goes in and no key crosses the wire. The output is cut
 * into one 32-byte key per direction per channel: for channel i, bytes [64i, 64i+32) key
 * caller->callee and [64i+32, 64i+64) callee->caller. Every field of an offer or answer is
 * untrusted and validated; errors are sentences. */
#ifndef INSEL_NEGOTIATE_H
#define INSEL_NEGOTIATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "candidate.h"
#include "chanparams.h"
#include "negotiate_types.h"

#define NEGOTIATE_EXPORTER_LABEL "EXPORTER-insel-call-keys"
#define NEGOTIATE_NONCE_LEN 32
#define NEGOTIATE_CONTEXT_LEN (8 + 2 * NEGOTIATE_NONCE_LEN)
#define NEGOTIATE_ERR_MAX 256

/* What a channel carries: datagrams (every channel before reliable mode), or a reliable
 * byte stream (ordered) or reliable messages delivered as they complete (unordered). */
enum negotiate_mode {
	NEGOTIATE_DATAGRAM = 0,
	NEGOTIATE_ORDERED = 1,
	NEGOTIATE_UNORDERED = 2,
};
const char *negotiate_mode_name(enum negotiate_mode m);  /* "datagram", "ordered", ... */
/* 0 and *out, or -1 for a word this build does not know. */
int negotiate_mode_from_name(const char *name, enum negotiate_mode *out);

/* One side's contribution: its randomness, where its UDP socket is, its receiver ids,
 * and every candidate its auxiliary may be reached at (parsed: at least one). */
struct negotiate_side {
	uint8_t nonce[NEGOTIATE_NONCE_LEN];
	struct ip_endpoint endpoint;
	uint32_t sessions[SEC_MAX_CHANNELS];
	struct candidate cand[CAND_MAX];
	size_t ncand;                       /* sent only when non-zero */
	/* Whether the side's auxiliary can seal probes with counters of their own
	 * (channel_use_probe_space); false from negotiate_side_random. */
	bool probe_space;
};

/* An offer as sent or as parsed. */
struct negotiate_offer {
	uint64_t call_id;
	struct negotiate_prefs prefs;       /* known names only, in the caller's order */
	size_t nchannels;
	struct negotiate_channel channels[SEC_MAX_CHANNELS];
	enum negotiate_mode modes[SEC_MAX_CHANNELS];  /* what each channel asks for */
	struct negotiate_side caller;
};

/* What both sides agreed. */
struct negotiation {
	uint64_t call_id;
	enum sec_cipher cipher;
	enum sec_compress compress;
	size_t nchannels;
	struct negotiate_channel channels[SEC_MAX_CHANNELS];
	enum negotiate_mode modes[SEC_MAX_CHANNELS];  /* agreed: datagram unless both ran it */
	bool probe_space;                   /* agreed: both sides can */
	struct negotiate_side caller, callee;
};

/* Why an offer was refused: code for the error reply, message for humans. */
struct negotiate_refusal {
	const char *code;   /* its wire name: WIRE(NO_COMMON_CIPHER) or (NO_COMMON_COMPRESSION) */
	char message[NEGOTIATE_ERR_MAX];
};

/* AES-256-GCM then ChaCha20-Poly1305; no compression. */
void negotiate_prefs_default(struct negotiate_prefs *p);
/* Fresh nonce and n non-zero, distinct receiver ids, none of them the STUN magic cookie
 * (a datagram whose bytes 4..7 are the cookie is STUN, never a frame, on an auxiliary's
 * WAN socket); no candidates; probe_space false. The endpoint and candidates are the caller's to set. */
void negotiate_side_random(struct negotiate_side *s, size_t n);

/* Caller: the offer object (new reference, NULL on allocation failure). */
json_t *negotiate_offer_to_json(const struct negotiate_offer *o);
/* Callee: parses and validates an offer; 0, or INSEL_E_BAD_FIELD with err set. */
int negotiate_offer_parse(const json_t *j, struct negotiate_offer *out, char *err,
			  size_t errlen);
/* Callee: picks cipher and compression from allowed, takes every channel's mode as
 * offered (this build runs the reliable engine), fills *out from the offer and its own
 * side (callee.sessions must hold offer->nchannels ids). 0, or INSEL_E_NO_COMMON with the
 * refusal filled in. */
int negotiate_choose(const struct negotiate_offer *offer, const struct negotiate_prefs *allowed,
		     const struct negotiate_side *callee, struct negotiation *out,
		     struct negotiate_refusal *refusal);
/* Callee: the answer object for an agreed negotiation. */
json_t *negotiate_answer_to_json(const struct negotiation *n);
/* Caller: checks a reply to its offer. A refusal gives INSEL_E_NO_COMMON (no common
 * cipher/compression) or INSEL_E_REFUSED with the peer's message in err; an answer that
 * does not fit the offer (a cipher not offered, another call, another channel count, a
 * mode that was not asked for, probe_space not offered) gives INSEL_E_PROTOCOL; otherwise 0 and *out is the
 * agreement (a channel whose answer names no mode is a datagram channel: an older peer). */
int negotiate_answer_parse(const json_t *reply, const struct negotiate_offer *sent,
			   struct negotiation *out, char *err, size_t errlen);

/* The exporter context for n: call id || caller nonce || callee nonce. */
void negotiate_exporter_context(const struct negotiation *n,
				uint8_t out[NEGOTIATE_CONTEXT_LEN]);
/* Exporter output length for n: 64 bytes per channel. */
size_t negotiate_key_material_len(const struct negotiation *n);
/* The keying-material exporter of the TLS session the negotiation ran over. */
typedef int (*negotiate_export_fn)(void *ctx, const char *label, const void *context,
				   size_t context_len, void *out, size_t out_len);
/* Fills params[0..n->nchannels) for this side (caller or callee) from the exporter;
 * keys are wiped from every intermediate buffer. */
int negotiate_derive(const struct negotiation *n, bool is_caller, negotiate_export_fn fn,
		     void *ctx, struct sec_channel_params *params);
/* The same from key material already exported (negotiate_key_material_len bytes). */
void negotiate_params_from_keys(const struct negotiation *n, bool is_caller,
				const uint8_t *keys, struct sec_channel_params *params);

#endif
