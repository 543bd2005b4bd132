/* libFuzzer target: the STUN Binding codec (stun.h), fed whatever arrives on the
 * principal's STUN port or an auxiliary's socket. Whatever decodes must encode (with the
 * mapped address and fingerprint it had), and decode again to the same message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct stun_message *a, const struct stun_message *b)
{
	return a->type == b->type && !memcmp(a->txid, b->txid, STUN_TXID_LEN) &&
	       a->fingerprint == b->fingerprint && a->has_mapped == b->has_mapped &&
	       (!a->has_mapped || (a->mapped.port == b->mapped.port &&
				   ip_addr_equal(&a->mapped.addr, &b->mapped.addr)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_message first, again;
	uint8_t out[STUN_MAX_ENCODED];
	size_t len;

	if (stun_decode(data, size, &first) != 0)
		return 0;
	if (first.type == STUN_BINDING_REQUEST)
		first.has_mapped = false; /* a request carries no address we would write */
	if (stun_encode(&first, out, sizeof out, &len) != 0 ||
	    stun_decode(out, len, &again) != 0 || !same(&first, &again))
		abort();
	return 0;
}
