/* libFuzzer target: the candidate codec (candidate.h), fed what peers put in offers and
 * answers. The input is read as a list and as one candidate; whatever decodes must
 * encode, decode again to the same candidates, and encode again to the same JSON. */
#include <stdint.h>
#include <stdlib.h>

#include "candidate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void list_round_trip(const json_t *j)
{
	struct candidate first[CAND_MAX], again[CAND_MAX];
	size_t n, m;
	json_t *once, *twice;
	char why[256];

	if (candidates_from_json(j, first, CAND_MAX, &n, why, sizeof why) != 0)
		return;
	once = candidates_to_json(first, n);
	if (!once || candidates_from_json(once, again, CAND_MAX, &m, why, sizeof why) != 0 ||
	    m != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!candidate_equal(&first[i], &again[i]))
			abort();
	twice = candidates_to_json(again, m);
	if (!twice || !json_equal(once, twice))
		abort();
	json_decref(twice);
	json_decref(once);
}

static void one_round_trip(const json_t *j)
{
	struct candidate first, again;
	char why[256], text[CAND_STRLEN];
	json_t *once;

	if (candidate_from_json(j, &first, why, sizeof why) != 0)
		return;
	once = candidate_to_json(&first);
	if (!once || candidate_from_json(once, &again, why, sizeof why) != 0 ||
	    !candidate_equal(&first, &again))
		abort();
	candidate_format(&again, text, sizeof text);
	json_decref(once);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (!j)
		return 0;
	list_round_trip(j);
	one_round_trip(j);
	json_decref(j);
	return 0;
}
