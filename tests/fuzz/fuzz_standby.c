/* libFuzzer target: the standby advertisement (secondary/standby_codec.c), which a gateway
 * reads from its LAN. Whatever decodes must encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "standby_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct standby_advert a;
	uint8_t again[STANDBY_ADVERT_LEN];

	if (standby_advert_decode(data, size, &a) != 0)
		return 0;
	standby_advert_encode(&a, again);
	if (size != STANDBY_ADVERT_LEN || memcmp(again, data, size) != 0)
		abort();
	return 0;
}
