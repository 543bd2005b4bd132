/* STUN Binding (RFC 8489), the one exchange insel uses to learn how the Internet sees a
 * UDP socket: a Binding request, and the success response carrying the source address the
 * server saw (XOR-MAPPED-ADDRESS). The principal answers; the gateways' auxiliaries will
 * ask, of the principal or of any standard STUN server. No credentials: a mapped address
 * learnt this way is a hint to probe, never a reason to move an authenticated endpoint. */
#ifndef INSEL_STUN_H
#define INSEL_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr_types.h"

#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_HEADER_LEN 20
#define STUN_TXID_LEN 12
/* Message types (method Binding): the request and its success response. */
#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_SUCCESS 0x0101
/* Attribute types this codec knows. */
#define STUN_ATTR_MAPPED_ADDRESS 0x0001
#define STUN_ATTR_MESSAGE_INTEGRITY 0x0008
#define STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define STUN_ATTR_MESSAGE_INTEGRITY_SHA256 0x001C
#define STUN_ATTR_SOFTWARE 0x8022
#define STUN_ATTR_FINGERPRINT 0x8028
#define STUN_FINGERPRINT_XOR 0x5354554eu
/* The largest response: header, XOR-MAPPED-ADDRESS (IPv6), FINGERPRINT. A request padded
 * to this size can always be answered in full. */
#define STUN_MAX_RESPONSE (STUN_HEADER_LEN + 4 + 20 + 8)
/* The largest message the encoder builds (pad_to beyond it is refused). */
#define STUN_MAX_ENCODED 128

struct stun_message {
	uint16_t type;                  /* STUN_BINDING_REQUEST or STUN_BINDING_SUCCESS */
	uint8_t txid[STUN_TXID_LEN];
	bool has_mapped;                /* a success response's mapped address */
	struct ip_endpoint mapped;      /* XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS */
	bool fingerprint;               /* decode: one was present (and right); encode: add one */
	size_t pad_to;                  /* encode: at least this long (a SOFTWARE attribute
					 * fills it), so that a responder that answers with no
					 * more than it got can answer; decode leaves it 0 */
};

/* Whether the bytes start like a STUN message (two zero bits, the magic cookie): for a
 * socket that may also carry other traffic. */
bool stun_is_stun(const uint8_t *data, size_t len);

/* Writes m (a request, or a success response with has_mapped) into out; *len gets the
 * size. INSEL_E_NOSPACE if cap is too small, INSEL_E_MALFORMED for another type. */
int stun_encode(const struct stun_message *m, uint8_t *out, size_t cap, size_t *len);

/* Reads a Binding request or success response. Refused: truncated input, a length that
 * disagrees with the datagram or is not a multiple of 4, a wrong cookie, another method
 * or class, a wrong FINGERPRINT or one that is not last, an unknown comprehension-required
 * attribute, a malformed address. Unknown comprehension-optional attributes are skipped;
 * MESSAGE-INTEGRITY is not checked (no credentials) and what follows it other than
 * FINGERPRINT is ignored, as RFC 8489 says. 0 or INSEL_E_TRUNCATED / INSEL_E_MALFORMED /
 * INSEL_E_PROTOCOL / INSEL_E_AUTH (fingerprint). */
int stun_decode(const uint8_t *data, size_t len, struct stun_message *m);

#endif
