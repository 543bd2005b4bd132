/* libFuzzer target: the "start" request from a secondary to its auxiliary (aux_start.h).
 * Whatever decodes must encode, decode again to the same thing (keys included), and
 * encode again to the same JSON. */
#include <stdint.h>
#include <stdlib.h>

#include "aux_start.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decoding wipes the keys in its input: each encoding is compared before it is read. */
static void round_trip(json_t *j)
{
	static struct aux_start_request first, again;
	json_t *once, *twice;
	char why[256];

	if (aux_start_request_from_json(j, &first, why, sizeof why) != 0)
		return;
	once = aux_start_request_to_json(&first);
	twice = json_deep_copy(once);
	if (!once || !twice || aux_start_request_from_json(twice, &again, why, sizeof why) != 0 ||
	    !aux_start_request_equal(&first, &again))
		abort();
	json_decref(twice);
	twice = aux_start_request_to_json(&again);
	if (!twice || !json_equal(once, twice))
		abort();
	aux_start_wipe(&first);
	aux_start_wipe(&again);
	json_decref(twice);
	json_decref(once);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (!j)
		return 0;
	round_trip(j);
	json_decref(j);
	return 0;
}
