/* The client API's call messages (client <-> its LAN's secondary, docs/protocol.md), each
 * as a struct with its encoding to JSON and its validating decoding, in one place that
 * both ends use.
 *
 * The channel list a call asks for is also what the caller's secondary passes on in the
 * peer protocol's call_request (secondary/peer_codec.h):
 *
 *   [{"kind":"udp","port":5004}, {"kind":"udp","port":5005}]   or   [{"kind":"tun"}]
 *
 * Decoders take untrusted JSON: 0, or INSEL_E_BAD_FIELD with *why saying what is wrong
 * (a sentence for the error reply; it may point into msg_field_error()). */
#ifndef INSEL_CLIENT_CALL_H
#define INSEL_CLIENT_CALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "chanparams.h"

/* The channels of a call: 1..SEC_MAX_CHANNELS UDP ports, or one tun channel. */
struct call_channel_list {
	bool tun;                           /* one network channel, no ports */
	size_t n;                           /* channels (1 for tun) */
	uint16_t ports[SEC_MAX_CHANNELS];   /* udp: the application port of each */
};

/* The array form; NULL on allocation failure. */
json_t *call_channels_encode(const struct call_channel_list *l);
/* channels must be an array (msg_get_array with at most SEC_MAX_CHANNELS items). */
int call_channels_decode(const json_t *channels, struct call_channel_list *out,
			 const char **why);

/* A list of prefixes, ["10.1.0.0/24", "fd01::/64"]: network calls' authorised addresses.
 * Decoding takes 1..max IPv4 or IPv6 prefixes with their host bits clear. */
json_t *call_prefixes_encode(const struct ip_prefix *p, size_t n);
int call_prefixes_decode(const json_t *list, struct ip_prefix *out, size_t max, size_t *n);

#endif
