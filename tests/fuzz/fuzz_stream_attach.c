/* libFuzzer target: what a reliable channel's two ends parse from untrusted bytes
 * (stream_attach.h): the attach hello the auxiliary reads from any LAN connection, and
 * the send-file header the receiving insel reads from the peer's stream. Whatever decodes
 * must encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "stream_attach.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void hello(const uint8_t *data, size_t size)
{
	struct stream_hello h;
	uint8_t again[STREAM_HELLO_LEN];

	if (stream_hello_decode(data, size, &h) != 0)
		return;
	if (size != STREAM_HELLO_LEN || !stream_verb_valid(h.verb))
		abort();
	stream_hello_encode(&h, again);
	if (memcmp(again, data, STREAM_HELLO_LEN) != 0)
		abort();
}

static void file_header(const uint8_t *data, size_t size)
{
	struct stream_file_header h;
	uint8_t again[STREAM_FILE_HEADER_MAX];

	/* As the receiver reads it: every prefix until it decides. */
	for (size_t n = 0; n <= size; n++) {
		int rc = stream_file_header_decode(data, n, &h);

		if (rc == 0)
			continue;
		if (rc < 0)
			return;
		if ((size_t)rc > n || stream_file_header_encode(&h, again) != rc ||
		    memcmp(again, data, (size_t)rc) != 0)
			abort();
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hello(data, size);
	file_header(data, size);
	return 0;
}
