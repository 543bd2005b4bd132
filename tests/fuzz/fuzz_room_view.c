/* libFuzzer target: the principal's "rooms" notice (room_view.h), as a gateway reads it
 * from its link. Whatever decodes must encode and decode again to the same view. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "room_view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_member(const struct room_view_member *a, const struct room_view_member *b)
{
	return a->address == b->address && strcmp(a->lan, b->lan) == 0 &&
	       strcmp(a->user, b->user) == 0 && a->has_host == b->has_host &&
	       (!a->has_host || a->host == b->host) && a->has_address6 == b->has_address6 &&
	       (!a->has_address6 || memcmp(a->address6, b->address6, 16) == 0) &&
	       a->has_host6 == b->has_host6 && (!a->has_host6 || memcmp(a->host6, b->host6, 16) == 0);
}

static bool same_view(const struct room_view *a, const struct room_view *b)
{
	if (strcmp(a->lan, b->lan) || a->nrooms != b->nrooms)
		return false;
	for (size_t i = 0; i < a->nrooms; i++) {
		const struct room_view_room *x = &a->rooms[i], *y = &b->rooms[i];

		if (strcmp(x->name, y->name) || x->nmembers != y->nmembers ||
		    x->network.len != y->network.len ||
		    memcmp(x->network.addr.bytes, y->network.addr.bytes, 4) ||
		    x->has_network6 != y->has_network6 ||
		    (x->has_network6 && (x->network6.len != y->network6.len ||
					 memcmp(x->network6.addr.bytes, y->network6.addr.bytes, 16))))
			return false;
		for (size_t k = 0; k < x->nmembers; k++)
			if (!same_member(&x->members[k], &y->members[k]))
				return false;
		if (room_view_find(b, x->name) != y)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	struct room_view a, b;
	char why[ROOM_WHY_LEN];
	json_t *k;

	if (!j)
		return 0;
	if (room_view_decode(j, &a, why) == 0) {
		k = room_view_encode(&a);
		if (!k || room_view_decode(k, &b, why) != 0)
			abort();
		if (!same_view(&a, &b))
			abort();
		room_view_free(&b);
		room_view_free(&a);
		json_decref(k);
	}
	json_decref(j);
	return 0;
}
