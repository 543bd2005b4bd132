/* The data-frame codec: the UDP payload exchanged by two auxiliaries (docs/frames.md).
 *
 *   0      1      2      3      4              8                              16
 *   +------+------+------+------+--------------+------------------------------+
 *   | type |epoch | frag | frags| receiver id  | counter (64-bit)             |
 *   +------+------+------+------+--------------+------------------------------+
 *   | sealed payload ...                                   | tag (16 bytes)   |
 *
 * All integers big-endian. The 16-byte clear header is the AEAD associated data; the
 * nonce is 00 00 00 epoch || counter. Overhead is 32 bytes per datagram, like WireGuard.
 * This file only encodes and parses; the channel (channel.h) holds keys and state. */
#ifndef INSEL_FRAME_H
#define INSEL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "aead.h"

#define FRAME_HEADER_LEN 16
#define FRAME_TAG_LEN AEAD_TAG_LEN
#define FRAME_OVERHEAD (FRAME_HEADER_LEN + FRAME_TAG_LEN)
#define FRAME_MAX_DATAGRAM 65507  /* largest UDP payload over IPv4 */
#define FRAME_MAX_FRAGMENTS 255

enum frame_type {
	FRAME_DATA = 1,       /* a message, or one fragment of it */
	FRAME_KEEPALIVE = 2,  /* empty payload: proves liveness, holds NAT bindings */
	FRAME_DATA_DEFLATE = 3,  /* as FRAME_DATA, the message raw-deflated (RFC 1951) */
	FRAME_PROBE = 4,      /* a path probe or its reply; never moves the peer endpoint */
};

/* The sealed payload of a PROBE frame (docs/frames.md, section 1a). The padding makes a
 * probe any size, so that the same frame tests a path and its MTU.
 *
 *   0      1      2      4              8       10
 *   +------+------+------+--------------+-------+----------------- ... -+
 *   | kind |flags | zero | probe id     | size  | zero padding          |
 *
 * size: in a reply, the length of the request datagram that was received (0 in a
 * request). */
#define FRAME_PROBE_PAYLOAD_MIN 10
#define FRAME_PROBE_MIN_DATAGRAM (FRAME_OVERHEAD + FRAME_PROBE_PAYLOAD_MIN)

enum frame_probe_kind {
	FRAME_PROBE_REQUEST = 1,
	FRAME_PROBE_REPLY = 2,
};

struct frame_probe {
	uint8_t kind;        /* enum frame_probe_kind */
	uint8_t flags;       /* none defined yet: sent as 0, ignored on receipt */
	uint32_t id;         /* chosen by the requester, echoed in the reply */
	uint16_t size;       /* reply: the request datagram's length */
};

struct frame_header {
	uint8_t type;        /* enum frame_type */
	uint8_t epoch;       /* low 8 bits of the sender's key epoch */
	uint8_t frag;        /* index of this fragment, 0..frags-1 */
	uint8_t frags;       /* fragments in the message, 1 if unfragmented */
	uint32_t session;    /* the receiver's session id */
	uint64_t counter;    /* per-direction, never repeats; the AEAD nonce */
};

/* A parsed datagram: the header plus where its authenticated and sealed parts lie. */
struct frame_view {
	struct frame_header hdr;
	const uint8_t *ad;       /* the clear header, FRAME_HEADER_LEN bytes */
	const uint8_t *sealed;   /* ciphertext followed by the tag */
	size_t sealed_len;       /* >= FRAME_TAG_LEN */
};

/* Writes the 16-byte header; 0 or INSEL_E_NOSPACE. */
int frame_header_encode(const struct frame_header *h, uint8_t *out, size_t cap);
/* Parses a datagram through a buf_reader. Checks only what needs no key: length, a known
 * type, fragment fields consistent, a keep-alive carrying nothing. 0, INSEL_E_TRUNCATED
 * or INSEL_E_MALFORMED. */
int frame_decode(const uint8_t *dgram, size_t len, struct frame_view *out);
/* The receiver session id of a datagram, for demultiplexing before any other work;
 * 0 or INSEL_E_TRUNCATED. */
int frame_peek_session(const uint8_t *dgram, size_t len, uint32_t *session);
/* A probe payload of exactly len bytes (>= FRAME_PROBE_PAYLOAD_MIN): the fields, then
 * zeros. 0 or INSEL_E_NOSPACE. */
int frame_probe_encode(const struct frame_probe *p, uint8_t *out, size_t len);
/* Parses an opened probe payload: 0, INSEL_E_TRUNCATED, or INSEL_E_MALFORMED for an
 * unknown kind or non-zero reserved bytes. */
int frame_probe_decode(const uint8_t *payload, size_t len, struct frame_probe *out);
/* The AEAD nonce for an epoch and counter. */
void frame_nonce(uint8_t epoch, uint64_t counter, uint8_t out[AEAD_NONCE_LEN]);

#endif
