/* Forward secrecy within a call: the ephemeral key exchanges (X25519, RFC 7748) that the
 * two secondaries run over their authenticated peer connection to renew a call's data
 * keys, the key schedule that mixes each exchange's secret into the next epoch's keys,
 * and the timing of who starts an exchange when. Like channel.h it does no I/O and reads
 * no clock: the secondary passes messages and the time in, and installs the keys this
 * returns into its auxiliary (docs/frames.md section 4, docs/protocol.md "rekey").
 *
 * Key schedule. Epoch 0 is the negotiated call (negotiate.h); with it both sides export a
 * chain key chain[0] from the same TLS session (label REKEY_EXPORTER_LABEL, the same
 * context as the call's keys). Exchange E (E >= 1) between an initiator with public key
 * I and a responder with public key R gives the X25519 secret dh, then
 *     prk = HKDF-Extract-SHA256(salt = chain[E-1], ikm = dh)
 *     okm = HKDF-Expand-SHA256(prk, "insel rekey" || call id (8) || E (4) || I || R,
 *                              32 + 64 * channels)
 * chain[E] = okm[0..32); channel i's caller->callee key = okm[32+64i .. +32), its
 * callee->caller key the 32 bytes after. chain[E-1], dh and the ephemeral private keys
 * are wiped as soon as they are used, so keys of an epoch reveal neither earlier epochs
 * nor (without that exchange's secret) later ones.
 *
 * Exchange. Either side may start one (the caller's side on its interval; the callee's
 * only when the caller's is late, or at once when its auxiliary asks because a channel
 * spent half its frame budget); on a collision the caller's exchange wins. The
 * initiator sends {epoch, public}; the responder derives the keys, has its auxiliary
 * accept them (sending stays on the old epoch), then answers with its public key; the
 * initiator derives the same keys, has its auxiliary accept them and send with them at
 * once, commits, and tells the responder ("done"), which commits too. A responder's keys
 * are tentative until then: an exchange that the initiator abandons (timeout, refusal)
 * is simply run again for the same epoch, replacing them. A side that has not committed
 * an exchange for interval + REKEY_LATE_MS ends the call.
 *
 * Waiting for an auxiliary. Whenever a side has handed its auxiliary an epoch's keys, it
 * waits for the auxiliary's answer however long it takes (while the process lives: its
 * exit or the end of its control socket ends the call), and starts or answers no other
 * exchange meanwhile. It cannot give up and run the exchange again: the initiator's
 * auxiliary sends with the new keys the moment it takes them, and the responder's
 * accepts them, so a side that gave up would no longer know which keys its auxiliary
 * holds, and the two sites' chains would part. The waits that follow, per side:
 *
 *   state            flags                        leaves on
 *   idle             none (tentative: answered,   due (tick: REKEY_START) -> requested;
 *                    waiting for "done")          peer's request -> answering;
 *                                                 "done" -> idle at epoch + 1
 *   requested        exchanging                   answer -> installing (rekey_finish);
 *                                                 refusal, or none in
 *                                                 REKEY_EXCHANGE_TIMEOUT_MS -> idle
 *                                                 (rekey_abandon: retry in a second)
 *   installing       exchanging, answered         auxiliary took them -> idle at
 *                    (rekey_aux_owes)             epoch + 1 (rekey_commit, send "done");
 *                                                 it refused (rekey_pending) -> idle
 *                                                 (rekey_abandon; it installed nothing)
 *   answering        answering, tentative         auxiliary took them -> idle (rekey_answered,
 *                    (rekey_aux_owes)             answer sent); refused -> idle
 *                                                 (rekey_drop_tentative, refusal sent)
 *
 * In installing and answering the peer's requests are refused (INSEL_E_CONFLICT,
 * INSEL_E_BUSY: rekey_busy) and rekey_tick starts nothing; only REKEY_OVERDUE still
 * fires, and the secondary then ends the call on its auxiliary's account. A late answer
 * of the peer to an exchange the initiator abandoned is harmless: the keys it installed
 * in the responder's auxiliary were never sent with (only the initiator sends first, and
 * it never had them) and the next exchange for the same epoch replaces them. */
#ifndef INSEL_REKEY_H
#define INSEL_REKEY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chanparams.h"

#define REKEY_PUBLIC_LEN 32
#define REKEY_CHAIN_LEN 32
#define REKEY_EXPORTER_LABEL "EXPORTER-insel-rekey-chain"
#define REKEY_LABEL "insel rekey"

/* Defaults and bounds of the interval (the secondary's [limits] rekey_interval). */
#define REKEY_DEFAULT_INTERVAL_MS 120000u
#define REKEY_MIN_INTERVAL_MS 1000u
#define REKEY_MAX_INTERVAL_MS 120000u

/* Implementation tunables. */
#define REKEY_EXCHANGE_TIMEOUT_MS 10000u  /* an initiator gives up waiting after this */
#define REKEY_RETRY_MS 1000u              /* after an exchange that failed */
#define REKEY_LATE_MS 30000u              /* no commit for interval + this: call ends */
#define REKEY_MIN_SPACING_MS 250u         /* a peer's exchanges no closer than this */

/* What rekey_tick asks of the caller (bit flags). */
enum rekey_event {
	REKEY_START = 1,    /* start an exchange: rekey_begin and send its request */
	REKEY_OVERDUE = 2,  /* no exchange committed for interval + REKEY_LATE_MS */
};

/* One epoch's keys for this side, one pair per channel. */
struct rekey_keys {
	uint32_t epoch;
	size_t nchannels;
	uint8_t send[SEC_MAX_CHANNELS][SEC_KEY_LEN];
	uint8_t recv[SEC_MAX_CHANNELS][SEC_KEY_LEN];
};

struct rekey {
	bool is_caller;          /* the caller's side: starts on time and wins collisions */
	uint64_t call_id;
	size_t nchannels;
	uint64_t interval_ms;
	uint32_t epoch;          /* last committed epoch */
	uint8_t chain[REKEY_CHAIN_LEN];  /* its chain key */
	uint64_t committed_ms;   /* when it was committed (or the call came up) */
	bool due_now;            /* an auxiliary asked for an early exchange */
	uint64_t retry_ms;       /* no new exchange of ours before this */

	/* The exchange we started, until it is committed or abandoned. */
	bool exchanging;
	bool answered;           /* the peer answered; our auxiliary is installing */
	uint64_t exchange_seq;   /* tells a late answer to an abandoned exchange apart */
	uint64_t started_ms;
	uint8_t priv[32], pub[REKEY_PUBLIC_LEN];

	/* Responder: our auxiliary is installing the keys of the peer's exchange; the answer
	 * goes out once it took them (rekey_answered). */
	bool answering;

	/* Keys derived but not committed yet: epoch + 1's chain key. */
	bool tentative;
	uint64_t tentative_ms;
	uint8_t tentative_chain[REKEY_CHAIN_LEN];

	uint64_t exchanges;      /* epochs committed */
	uint64_t failures;       /* exchanges abandoned or refused */
};

/* X25519 (RFC 7748). A fresh private key and its public key; the public key of a
 * private key; the shared secret (INSEL_E_CRYPTO if it is all zeros: a peer's public key
 * of small order). */
void rekey_x25519_keypair(uint8_t priv[32], uint8_t pub[32]);
void rekey_x25519_public(const uint8_t priv[32], uint8_t pub[32]);
int rekey_x25519_shared(const uint8_t priv[32], const uint8_t peer_pub[32], uint8_t out[32]);

/* The key schedule: chain[E] and epoch E's keys for this side from chain[E-1] and the
 * exchange's secret. 0 or INSEL_E_CRYPTO. */
int rekey_derive(const uint8_t chain_prev[REKEY_CHAIN_LEN], const uint8_t dh[32],
		 uint64_t call_id, uint32_t epoch, const uint8_t init_pub[32],
		 const uint8_t resp_pub[32], bool is_caller, size_t nchannels,
		 uint8_t chain_out[REKEY_CHAIN_LEN], struct rekey_keys *keys);

/* Starts the schedule for a call that came up at now_ms with chain[0]. interval_ms 0 is
 * the default; it is clamped to the bounds above. */
void rekey_init(struct rekey *r, bool is_caller, uint64_t call_id, size_t nchannels,
		const uint8_t chain0[REKEY_CHAIN_LEN], uint64_t interval_ms, uint64_t now_ms);
/* Wipes every secret. */
void rekey_wipe(struct rekey *r);

/* Returns a mask of enum rekey_event and sets *next_ms to when to tick again. */
int rekey_tick(struct rekey *r, uint64_t now_ms, uint64_t *next_ms);
/* An auxiliary asks for an exchange as soon as possible. */
void rekey_request_early(struct rekey *r);

/* Initiator: a fresh key pair for exchange epoch + 1; *epoch and pub go to the peer,
 * *seq comes back with its answer. */
void rekey_begin(struct rekey *r, uint64_t now_ms, uint32_t *epoch, uint8_t pub[32],
		 uint64_t *seq);
/* Initiator: the peer's answer to exchange seq. Fills keys (to install with sending
 * switched at once) and keeps the new chain key tentative. INSEL_E_NOT_FOUND if seq is no
 * longer the exchange under way (a late answer: ignore it), INSEL_E_CRYPTO. */
int rekey_finish(struct rekey *r, uint64_t seq, const uint8_t peer_pub[32],
		 struct rekey_keys *keys);
/* Initiator: the exchange failed (no answer, refused, our auxiliary refused the keys):
 * nothing changes but the retry time. Ignored if seq is not the exchange under way. */
void rekey_abandon(struct rekey *r, uint64_t seq, uint64_t now_ms);

/* Responder: the peer's exchange for epoch with its public key. Fills pub (the answer)
 * and keys (to install, sending unchanged), keeps the new chain key tentative and waits
 * for our auxiliary (answering). INSEL_E_BUSY while our auxiliary installs the keys of
 * an exchange we answer, INSEL_E_CONFLICT if our own exchange wins (we are the caller
 * and ours is under way, or our auxiliary is installing ours), INSEL_E_LIMIT within
 * REKEY_MIN_SPACING_MS of the last commit (a peer cannot make us spend our CPU on
 * exchanges back to back), INSEL_E_REPLAY if epoch is not the next one,
 * INSEL_E_CRYPTO. On success an exchange of ours that loses is abandoned. */
int rekey_respond(struct rekey *r, uint32_t epoch, const uint8_t peer_pub[32],
		  uint64_t now_ms, uint8_t pub[32], struct rekey_keys *keys);
/* Responder: our auxiliary took the keys of rekey_respond; the answer goes out and the
 * keys stay tentative until the peer's "done". */
void rekey_answered(struct rekey *r);
/* Whether our auxiliary has an epoch's keys to install and has not answered yet (either
 * role): the secondary waits for it, whatever the time. */
bool rekey_aux_owes(const struct rekey *r);
/* Both: the tentative epoch is in use on both sides now (initiator: our auxiliary took
 * it; responder: the peer said "done"). INSEL_E_NOT_FOUND if epoch is not tentative. */
int rekey_commit(struct rekey *r, uint32_t epoch, uint64_t now_ms);
/* Responder: our auxiliary refused the keys; forget them (and stop waiting for it). */
void rekey_drop_tentative(struct rekey *r);

/* ---- the messages (peer protocol and auxiliary control), validated ---- */

/* {"epoch":E,"public":"<64 hex>"}: the fields of a peer's "rekey" request (epoch >= 1)
 * or, without epoch (epoch NULL), of its answer. 0 or INSEL_E_BAD_FIELD with
 * msg_field_error() set. */
int rekey_public_from_json(const json_t *j, uint32_t *epoch, uint8_t pub[32]);
/* The auxiliary's "rekey" request: {"epoch":E,"send_now":bool,
 * "channels":[{"send_key":hex,"recv_key":hex},...]} with exactly nchannels entries.
 * Key strings in j are wiped once read. 0 or INSEL_E_BAD_FIELD with msg_field_error(). */
int rekey_install_from_json(const json_t *j, size_t nchannels, struct rekey_keys *keys,
			    bool *send_now);
/* Its fields, added to req (new reference members). */
int rekey_install_to_json(const struct rekey_keys *keys, bool send_now, json_t *req);
void rekey_keys_wipe(struct rekey_keys *keys);

#endif
