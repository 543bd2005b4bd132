/* libFuzzer target: the "bind" request and reply between a secondary and its auxiliary,
 * and a room leg's "room_members" request (aux_bind.h). The input is read as each. Whatever decodes must encode, decode again to
 * the same thing, and encode again to the same JSON. */
#include <stdint.h>
#include <stdlib.h>

#include "aux_bind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void request_round_trip(const json_t *j)
{
	struct aux_bind_request first, again;
	json_t *once, *twice;
	char why[256];

	if (aux_bind_request_from_json(j, &first, why, sizeof why) != 0)
		return;
	once = aux_bind_request_to_json(&first);
	if (!once || aux_bind_request_from_json(once, &again, why, sizeof why) != 0 ||
	    !aux_bind_request_equal(&first, &again))
		abort();
	twice = aux_bind_request_to_json(&again);
	if (!twice || !json_equal(once, twice))
		abort();
	json_decref(twice);
	json_decref(once);
}

static void reply_round_trip(const json_t *j)
{
	struct aux_bind_reply first, again;
	json_t *once, *twice;
	char why[256];

	if (aux_bind_reply_from_json(j, &first, why, sizeof why) != 0)
		return;
	once = aux_bind_reply_to_json(1, &first);
	if (!once || aux_bind_reply_from_json(once, &again, why, sizeof why) != 0 ||
	    !aux_bind_reply_equal(&first, &again))
		abort();
	twice = aux_bind_reply_to_json(1, &again);
	if (!twice || !json_equal(once, twice))
		abort();
	json_decref(twice);
	json_decref(once);
}

static void room_members_round_trip(const json_t *j)
{
	struct aux_bind_tun first, again;
	json_t *once = json_object(), *twice = json_object();
	char why[256];

	if (!once || !twice || aux_room_members_from_json(j, &first, why, sizeof why) != 0)
		goto out;
	if (aux_room_members_into(once, &first) != 0 ||
	    aux_room_members_from_json(once, &again, why, sizeof why) != 0 ||
	    !aux_room_members_equal(&first, &again))
		abort();
	if (aux_room_members_into(twice, &again) != 0 || !json_equal(once, twice))
		abort();
out:
	json_decref(twice);
	json_decref(once);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (!j)
		return 0;
	request_round_trip(j);
	reply_round_trip(j);
	room_members_round_trip(j);
	json_decref(j);
	return 0;
}
