/* The preamble of a peer connection that was not dialled the usual way (docs/nat.md,
 * "Signalling across NAT"). When the caller's secondary cannot dial the callee's, the
 * callee's dials the caller's peer port instead (connection reversal), or both dial the
 * principal's splice port; either way the TCP stream starts with these 32 bytes, which
 * say which call it is for, which end sent them and the one-time token the principal
 * handed out for it. A TLS stream starts with a handshake record (0x16), a preamble with
 * "INSL", so a peer listener tells the two apart by the first byte. After the preamble
 * the mutual TLS runs as if the caller had dialled: the caller's end is the TLS client.
 *
 *   bytes 0..3    "INSL"
 *   byte  4       version (1)
 *   byte  5       end: 1 the caller's secondary, 2 the callee's
 *   bytes 6..7    zero
 *   bytes 8..15   call id, big-endian
 *   bytes 16..31  token (random, from the principal's "connect" reply and notice)
 *
 * Both the secondaries and the principal's splice read it from untrusted TCP peers. */
#ifndef INSEL_PREAMBLE_H
#define INSEL_PREAMBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PREAMBLE_LEN 32
#define PREAMBLE_VERSION 1
#define PREAMBLE_TOKEN_LEN 16
#define PREAMBLE_TOKEN_HEX (2 * PREAMBLE_TOKEN_LEN)
#define PREAMBLE_TLS_RECORD 0x16  /* a TLS handshake record's first byte */

enum preamble_end { PREAMBLE_CALLER = 1, PREAMBLE_CALLEE = 2 };

struct preamble {
	enum preamble_end end;
	uint64_t call_id;
	uint8_t token[PREAMBLE_TOKEN_LEN];
};

/* Writes the 32 bytes into out. */
void preamble_encode(const struct preamble *p, uint8_t out[PREAMBLE_LEN]);
/* Reads a preamble from the first len bytes of a stream: PREAMBLE_LEN once a whole valid
 * one is there (the bytes it used), 0 while the bytes so far could still begin one, or
 * INSEL_E_MALFORMED as soon as they cannot (not "INSL", another version or end, non-zero
 * reserved bytes, call id 0). */
int preamble_decode(const uint8_t *data, size_t len, struct preamble *out);
/* Whether two tokens are equal, in time independent of where they differ. */
bool preamble_token_equal(const uint8_t a[PREAMBLE_TOKEN_LEN],
			  const uint8_t b[PREAMBLE_TOKEN_LEN]);
/* The token as 32 lowercase hex digits and back (0, or INSEL_E_BAD_FIELD). */
void preamble_token_hex(const uint8_t token[PREAMBLE_TOKEN_LEN],
			char out[PREAMBLE_TOKEN_HEX + 1]);
int preamble_token_parse(const char *hex, uint8_t out[PREAMBLE_TOKEN_LEN]);
const char *preamble_end_name(enum preamble_end e);

#endif
