/* libFuzzer target: the peer-connection preamble (preamble.h), the first bytes a peer
 * listener or the principal's splice port reads from any TCP peer. Every prefix of the
 * input is tried as the stream so far; a whole preamble must encode back to its bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "preamble.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct preamble p;
	uint8_t again[PREAMBLE_LEN];

	for (size_t n = 0; n <= size && n <= PREAMBLE_LEN + 1; n++) {
		int rc = preamble_decode(data, n, &p);

		if (rc == INSEL_E_MALFORMED)
			return 0;
		if (rc == 0)
			continue;
		if (rc != PREAMBLE_LEN)
			abort();
		preamble_encode(&p, again);
		if (memcmp(again, data, PREAMBLE_LEN) != 0)
			abort();
		return 0;
	}
	return 0;
}
