/* libFuzzer target: what the auxiliary does with a read from a TUN interface with offloads
 * (auxiliary/tso.h): the virtio header, then segmentation or checksum completion, then
 * coalescing of what came out. The first bytes are the virtio header, the rest the
 * packet. Nothing may read or write past the buffers, every emitted packet must fit the
 * scratch buffer, and a coalesced super-segment must stay a valid IPv4 length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t scratch[4096];
static uint8_t coalesce_buf[TSO_MAX_PACKET];
static struct tso_coalesce co;

static int emit(void *ctx, const uint8_t *pkt, size_t len)
{
	struct vnet_hdr h;

	(void)ctx;
	if (len > TSO_MAX_PACKET)
		abort();
	if (tso_coalesce_add(&co, pkt, len) == 1)
		return 0;
	if (co.len) {
		tso_coalesce_finish(&co, &h);
		if (co.len > TSO_MAX_PACKET || (h.gso_type && h.gso_size == 0))
			abort();
		tso_coalesce_reset(&co);
	}
	(void)tso_coalesce_add(&co, pkt, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vnet_hdr h;
	uint8_t *pkt;

	if (vnet_hdr_parse(data, size, &h) != 0)
		return 0;
	size -= VNET_HDR_LEN;
	/* A private copy of exactly size bytes, so that ASan sees any over-read. */
	if (!(pkt = malloc(size ? size : 1)))
		return 0;
	memcpy(pkt, data + VNET_HDR_LEN, size);
	tso_coalesce_init(&co, coalesce_buf);
	(void)tso_segment(&h, pkt, size, scratch, sizeof scratch, emit, NULL);
	free(pkt);
	return 0;
}
