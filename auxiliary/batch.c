/* Datagrams gathered during one wake-up and sent together: one sendmmsg on the socket,
 * and, where allowed, each run of equal-sized datagrams as one UDP GSO super-datagram
 * (UDP_SEGMENT) that the kernel cuts back into the same datagrams. Two batches exist:
 * aux_to_wan (sealed frames toward the peer, from the TUN or the LAN sockets) and
 * aux_to_lan (plaintext datagrams toward LAN applications, without GSO: a LAN datagram
 * may be larger than the LAN's MTU, which UDP_SEGMENT refuses). A batch goes to one
 * socket and one destination; asking for another flushes it first, so the order of the
 * datagrams is kept. The frames live in static storage: nothing allocates per packet.
 * A batch toward the peer names &br->wan; on a dual-stack wan the socket of the
 * destination's family is chosen when the batch is flushed, not per datagram. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "auxiliary.h"
#include "err.h"
#include "udp_gso.h"

struct aux_batch aux_to_wan = {.gso = true}, aux_to_lan = {.gso = false};
static struct udp_gso gso_state;  /* off once the kernel says it has no GSO at all */

static bool same_dst(const struct aux_batch *b, uv_udp_t *sock, const struct ip_endpoint *dst)
{
	return b->sock == sock && b->dst.port == dst->port && ip_addr_equal(&b->dst.addr, &dst->addr);
}

uint8_t *batch_slot(struct bridge *br, struct aux_batch *b, uv_udp_t *sock,
		    const struct ip_endpoint *dst, uint64_t *errors)
{
	if (b->n == AUX_BATCH_FRAMES || (b->n && (!same_dst(b, sock, dst) ||
						   b->errors != errors)))
		batch_flush(br, b);
	if (b->n == 0) {
		b->sock = sock;
		b->dst = *dst;
		b->errors = errors;
	}
	return b->frame[b->n];
}

void batch_commit(struct aux_batch *b, size_t len)
{
	b->len[b->n++] = len;
}

int batch_add(struct bridge *br, struct aux_batch *b, uv_udp_t *sock,
	      const struct ip_endpoint *dst, const uint8_t *data, size_t len, uint64_t *errors)
{
	if (len > AUX_BATCH_FRAME) {
		batch_flush(br, b);  /* keep the order */
		return sendq_send(br, sock, dst, data, len);
	}
	memcpy(batch_slot(br, b, sock, dst, errors), data, len);
	batch_commit(b, len);
	return 0;
}

/* Frames [from, n) for one message: a run of equal-sized datagrams, the last of which may
 * be shorter; returns the end of the run. */
static unsigned gso_run(const struct aux_batch *b, unsigned from)
{
	size_t size = b->len[from], total = size;
	unsigned i = from + 1;

	while (i < b->n && i - from < UDP_GSO_MAX_SEGS && b->len[i] <= size &&
	       total + b->len[i] <= UDP_GSO_MAX_BYTES) {
		total += b->len[i];
		if (b->len[i++] < size)
			break;
	}
	return i;
}

/* Sends frames [0, n) straight on fd with sendmmsg; returns how many frames went out. */
static unsigned send_direct(struct aux_batch *b, int fd)
{
	unsigned nmsg = 0, first[AUX_BATCH_FRAMES + 1], done = 0, m = 0;
	bool gso = b->gso && !gso_state.off;

	b->tolen = ip_endpoint_to_sockaddr(&b->dst, &b->to);
	for (unsigned i = 0; i < b->n;) {
		unsigned end = gso ? gso_run(b, i) : i + 1;
		struct msghdr *h = &b->msg[nmsg].msg_hdr;

		memset(h, 0, sizeof *h);
		h->msg_name = &b->to;
		h->msg_namelen = b->tolen;
		h->msg_iov = &b->iov[i];
		h->msg_iovlen = end - i;
		for (unsigned k = i; k < end; k++) {
			b->iov[k].iov_base = b->frame[k];
			b->iov[k].iov_len = b->len[k];
		}
		if (end - i > 1)
			udp_gso_attach(h, b->cmsg[nmsg], (uint16_t)b->len[i]);
		first[nmsg++] = i;
		i = end;
	}
	first[nmsg] = b->n;
	while (m < nmsg) {
		int sent = sendmmsg(fd, &b->msg[m], nmsg - m, MSG_DONTWAIT);

		/* Whatever did not go (a GSO run the kernel refused included) goes
		 * datagram by datagram through sendq_send: this batch only, unless the
		 * kernel has no GSO at all (udp_gso.h). */
		if (sent <= 0) {
			if (sent < 0 && gso && b->msg[m].msg_hdr.msg_controllen)
				udp_gso_refused(&gso_state, errno, "sending");
			break;
		}
		m += (unsigned)sent;
		done = first[m];
	}
	return done;
}

/* Straight on the socket when libuv has nothing queued there; what the kernel does not
 * take goes through sendq_send (which queues on EAGAIN, keeping the order). */
void batch_flush(struct bridge *br, struct aux_batch *b)
{
	unsigned done = 0;
	uv_udp_t *sock;
	uv_os_fd_t fd;

	if (b->n == 0)
		return;
	/* A batch on the WAN leaves by the socket of its destination's family: chosen
	 * here, once per batch, so that gathering datagrams costs nothing more. Toward the
	 * TCP leg's marker, sendq_send writes each frame into the stream instead. */
	sock = b->sock == &br->wan ? wan_socket(br, &b->dst) : b->sock;
	if (!tcp_leg_owns(br, &b->dst) && uv_udp_get_send_queue_count(sock) == 0 &&
	    uv_fileno((uv_handle_t *)sock, &fd) == 0)
		done = send_direct(b, fd);
	for (unsigned i = done; i < b->n; i++) {
		int rc = sendq_send(br, b->sock, &b->dst, b->frame[i], b->len[i]);

		if (rc != 0 && rc != UV_ENOBUFS)  /* a full send queue counts itself */
			(*b->errors)++;
	}
	b->n = 0;
}

void batch_flush_all(struct bridge *br)
{
	batch_flush(br, &aux_to_wan);
	batch_flush(br, &aux_to_lan);
}
