/* libFuzzer target: the principal's `call_rates` op (common/control/principal_ops_rates.c), the
 * request as the principal reads it from a secondary and the reply as the secondary reads
 * it. Whatever decodes must encode and decode back to the same wire form, and every
 * refusal must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "principal_ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_wire(json_t *a, json_t *b)
{
	if (!a || !b || !json_equal(a, b))
		__builtin_trap();
	json_decref(a);
	json_decref(b);
}

static void request(const json_t *j)
{
	static struct pop_call_rates_req x, y;
	char why[POP_WHY_LEN] = "";
	json_t *first;

	if (pop_call_rates_req_decode(j, &x, why) != 0) {
		if (!why[0])
			__builtin_trap();
		return;
	}
	if (x.ncalls > POP_MAX_CALL_RATES)
		__builtin_trap();
	first = pop_call_rates_req_encode(1, &x);
	if (!first || pop_call_rates_req_decode(first, &y, why) != 0)
		__builtin_trap();
	same_wire(pop_call_rates_req_encode(1, &y), first);
}

static void reply(const json_t *j)
{
	struct pop_call_rates_reply x, y;
	char why[POP_WHY_LEN] = "";
	json_t *first;

	if (pop_call_rates_reply_decode(j, &x, why) != 0) {
		if (!why[0])
			__builtin_trap();
		return;
	}
	first = pop_call_rates_reply_encode(&x);
	if (!first || pop_call_rates_reply_decode(first, &y, why) != 0)
		__builtin_trap();
	same_wire(pop_call_rates_reply_encode(&y), first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (!j)
		return 0;
	request(j);
	reply(j);
	json_decref(j);
	return 0;
}
