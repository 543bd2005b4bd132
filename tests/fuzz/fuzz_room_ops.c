/* libFuzzer target: the room request's codec and its reply checks (room_ops.h), fed any
 * JSON, as a client's request (at the secondary) and as a secondary's (at the principal).
 * Whatever decodes must encode and decode again to the same request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "room_ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void round_trip(const json_t *j, bool from_secondary)
{
	struct room_req a, b;
	char why[ROOM_WHY_LEN];
	json_t *k;

	if (room_req_decode(j, from_secondary, &a, why) != 0)
		return;
	k = room_req_encode(1, &a);
	if (!k || room_req_decode(k, from_secondary, &b, why) != 0 || a.action != b.action ||
	    !same_text(a.room, b.room) || !same_text(a.password, b.password) ||
	    !same_text(a.target, b.target) || !same_text(a.user, b.user) ||
	    a.capacity != b.capacity || a.has_network6 != b.has_network6 ||
	    a.has_host != b.has_host || a.has_host6 != b.has_host6 ||
	    (a.has_host6 && !ip_addr_equal(&a.host6, &b.host6)))
		abort();
	json_decref(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	char why[ROOM_WHY_LEN], quoted[64];

	if (!j)
		return 0;
	round_trip(j, false);
	round_trip(j, true);
	for (unsigned a = 0; a < ROOM_ACTIONS; a++)
		room_reply_check(j, (enum room_action)a, why);
	if (json_is_string(json_object_get(j, "room"))) {
		room_quote(json_string_value(json_object_get(j, "room")), quoted, sizeof quoted);
		if (strlen(quoted) >= sizeof quoted)
			abort();
	}
	json_decref(j);
	return 0;
}
