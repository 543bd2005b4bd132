/* The relay's own datagrams (docs/relay.md): how an auxiliary registers one leg of a
 * call's allocation on a relay, and how the relay confirms it. Frames themselves cross
 * the relay unchanged (docs/frames.md); these two messages are the only ones a relay
 * reads or writes on its own behalf, and the only ones it authenticates: with the
 * allocation's token, which the two legs learned over the call's TLS signalling and the
 * relay from its principal. The relay never holds a call's channel keys.
 *
 *   REGISTER   (leg -> relay)  0x20 | version | leg | n | allocation id (8) |
 *                              counter (8) | n receive session ids (4 each) | mac (16)
 *   REGISTERED (relay -> leg)  0x21 | version | leg | n | allocation id (8) |
 *                              counter (8) | mac (16)
 *
 * mac = HMAC-SHA256(token, every byte before it), the first 16 bytes. All integers are
 * big-endian. A REGISTERED echoes the counter of the REGISTER it answers and is never
 * larger than it, so the relay cannot be used to amplify. The first byte keeps these
 * apart from frames (1..4) and STUN (0x00, 0x01) on a shared socket. */
#ifndef INSEL_RELAY_WIRE_H
#define INSEL_RELAY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_REGISTER 0x20
#define RELAY_REGISTERED 0x21
#define RELAY_WIRE_VERSION 1
#define RELAY_TOKEN_LEN 16       /* the allocation's secret, as in a relay candidate */
#define RELAY_MAC_LEN 16         /* HMAC-SHA256, truncated */
#define RELAY_MAX_SESSIONS 8     /* one per channel of a call */
#define RELAY_LEGS 2             /* leg 0: the caller's auxiliary, leg 1: the callee's */
#define RELAY_HEADER_LEN 20      /* type .. counter */
#define RELAY_REGISTER_MIN (RELAY_HEADER_LEN + 4 + RELAY_MAC_LEN)
#define RELAY_REGISTER_MAX (RELAY_HEADER_LEN + 4 * RELAY_MAX_SESSIONS + RELAY_MAC_LEN)
#define RELAY_REGISTERED_LEN (RELAY_HEADER_LEN + RELAY_MAC_LEN)

struct relay_register {
	uint64_t allocation;     /* never 0 */
	uint8_t leg;             /* 0 or 1 */
	uint64_t counter;        /* strictly increasing per leg; never 0 */
	uint8_t nsessions;       /* 1 .. RELAY_MAX_SESSIONS */
	uint32_t sessions[RELAY_MAX_SESSIONS];  /* the leg's receive session ids: nonzero,
						 * distinct */
};

struct relay_registered {
	uint64_t allocation;
	uint8_t leg;
	uint8_t nsessions;       /* how many of the leg's sessions the relay now routes */
	uint64_t counter;        /* the REGISTER's it answers */
};

/* Encoders: the datagram's length, or a negative error (INSEL_E_NOSPACE for a small out,
 * INSEL_E_BAD_FIELD for a message that breaks the rules above, INSEL_E_CRYPTO). */
int relay_register_encode(const struct relay_register *m, const uint8_t token[RELAY_TOKEN_LEN],
			  uint8_t *out, size_t cap);
int relay_registered_encode(const struct relay_registered *m,
			    const uint8_t token[RELAY_TOKEN_LEN], uint8_t *out, size_t cap);

/* Decoders, in two steps so that a relay can find the token by the allocation id before
 * any MAC is computed: parse (structure only; 0, INSEL_E_TRUNCATED or
 * INSEL_E_MALFORMED), then verify (0 or INSEL_E_AUTH; compares in constant time). The
 * output is untouched on failure. */
int relay_register_parse(const uint8_t *dgram, size_t len, struct relay_register *out);
int relay_registered_parse(const uint8_t *dgram, size_t len, struct relay_registered *out);
int relay_wire_verify(const uint8_t *dgram, size_t len, const uint8_t token[RELAY_TOKEN_LEN]);

/* The message type of a datagram on a shared socket: its first byte is one of ours. */
bool relay_wire_is_register(const uint8_t *dgram, size_t len);
bool relay_wire_is_registered(const uint8_t *dgram, size_t len);

#endif
