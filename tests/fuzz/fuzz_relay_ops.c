/* libFuzzer target: the principal <-> insel-relay control codec (relay_ops.h), fed any
 * JSON. Whatever decodes must encode and decode again to the same request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "relay_ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	struct relay_allocate a, b;
	uint64_t id, again;
	char why[200];

	if (!j)
		return 0;
	if (relay_allocate_from_json(j, &a, why, sizeof why) == 0) {
		json_t *k = relay_allocate_to_json(1, &a);

		if (!k || relay_allocate_from_json(k, &b, why, sizeof why) != 0 ||
		    a.allocation != b.allocation || a.rate != b.rate ||
		    memcmp(a.token, b.token, sizeof a.token))
			abort();
		json_decref(k);
	}
	if (relay_allocation_from_json(j, &id, why, sizeof why) == 0) {
		json_t *k = relay_expired_to_json(id);

		if (!k || relay_allocation_from_json(k, &again, why, sizeof why) != 0 || again != id)
			abort();
		json_decref(k);
	}
	json_decref(j);
	return 0;
}
