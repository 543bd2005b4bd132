/* UDP generic segmentation offload (UDP_SEGMENT): a run of equal-sized datagrams handed to
 * the kernel as one message, which it cuts back into the same datagrams. The auxiliary's
 * batches (auxiliary/batch.c) and the relay's forwarding (relay/udp.c) send so; both use
 * the same limits, the same control message and the same reading of a refusal:
 *   - EINVAL refuses this run only (its segments are larger than the route's MTU toward
 *     that destination, a peer behind a smaller link than ours): it goes apart, as plain
 *     datagrams, and later runs still try;
 *   - EIO, EOPNOTSUPP, ENOPROTOOPT say there is no GSO here at all (no checksum offload
 *     on the way out, an old kernel): plain datagrams from then on. */
#ifndef INSEL_UDP_GSO_H
#define INSEL_UDP_GSO_H

#include <linux/udp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define UDP_GSO_MAX_SEGS 64      /* UDP_MAX_SEGMENTS on older kernels */
#define UDP_GSO_MAX_BYTES 65000  /* a GSO send stays a valid IPv4 UDP payload */
/* The room one message's segment size takes (a buffer aligned for struct cmsghdr). */
#define UDP_GSO_CMSG_SPACE CMSG_SPACE(sizeof(uint16_t))

/* Whether the sends of one process may still use GSO: on until the kernel says it has
 * none (one per process: the auxiliary's, the relay's). */
struct udp_gso {
	bool off;
};

/* Makes h one GSO message of `segment`-byte datagrams, its control message in cmsg
 * (UDP_GSO_CMSG_SPACE bytes). */
void udp_gso_attach(struct msghdr *h, void *cmsg, uint16_t segment);

/* err is why the kernel refused a GSO message: true if that message is to go apart as
 * plain datagrams (a refusal of GSO, for this run or for good), false for an error of
 * the send itself (a full buffer, an unreachable destination). A refusal for good turns
 * g off, logged once with `sending` (what the process was doing). */
bool udp_gso_refused(struct udp_gso *g, int err, const char *sending);

#endif
