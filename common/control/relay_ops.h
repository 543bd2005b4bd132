/* The control protocol between the principal and its relay process (docs/relay.md,
 * section 4): the requests the principal sends on the relay's control socket and the
 * notice the relay sends back, one codec for both ends. Framing, hello, replies and
 * errors are those of every control protocol (msg.h).
 *
 *   {"op":"allocate","id":N,"allocation":"<16 hex>","token":"<32 hex>","rate":BYTES}
 *   {"op":"free","id":N,"allocation":"<16 hex>"}
 *   {"op":"stats","id":N}
 *   {"op":"expired","allocation":"<16 hex>"}            (notice, relay -> principal)
 *
 * "rate" (bytes per second, both directions together) is optional: the relay's own
 * limit applies without it. */
#ifndef INSEL_RELAY_OPS_H
#define INSEL_RELAY_OPS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_OPS_TOKEN_LEN 16
#define RELAY_OPS_RATE_MAX (1ULL << 40)  /* bytes per second: beyond any link */

struct relay_allocate {
	uint64_t allocation;                  /* never 0 */
	uint8_t token[RELAY_OPS_TOKEN_LEN];
	uint64_t rate;                        /* 0: the relay's own limit */
};

/* Requests (id >= 0) and the notice; NULL if out of memory. */
json_t *relay_allocate_to_json(json_int_t id, const struct relay_allocate *a);
json_t *relay_free_to_json(json_int_t id, uint64_t allocation);
json_t *relay_expired_to_json(uint64_t allocation);

/* Validating decoders: 0, or INSEL_E_BAD_FIELD with a sentence in why; *out untouched
 * on failure (the token wiped from the stack). */
int relay_allocate_from_json(const json_t *msg, struct relay_allocate *out, char *why,
			     size_t whylen);
/* The "allocation" of a free request or an expired notice. */
int relay_allocation_from_json(const json_t *msg, uint64_t *out, char *why, size_t whylen);

#endif
