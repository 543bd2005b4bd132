/* The WAN socket's reads, with UDP GRO. With UDP_GRO on, the kernel hands over runs of
 * datagrams from one sender glued together — up to 64 frames in one buffer, the size of
 * each but the last in a UDP_GRO control message — instead of queueing and copying them
 * one by one (and instead of cutting apart the GSO super-datagrams a peer on the same
 * host sends). libuv's receive path shows no control messages, so the socket is read
 * here with recvmmsg, through a duplicate descriptor that a uv_poll handle watches; the
 * uv_udp handle keeps doing the sending. Each frame of a run then goes through relay.c's
 * per-datagram path, exactly as if it had come alone. */
#include <errno.h>
#include <fcntl.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auxiliary.h"
#include "log.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define WAN_RX_ROUNDS 4  /* full recvmmsg batches per wake-up before others get a turn */

static uint8_t rx_buffer[AUX_WAN_RX_SLOTS][AUX_DGRAM_MAX];
static struct mmsghdr rx_msg[AUX_WAN_RX_SLOTS];
static struct iovec rx_iov[AUX_WAN_RX_SLOTS];
static struct sockaddr_storage rx_from[AUX_WAN_RX_SLOTS];
/* CMSG_SPACE is a multiple of the header's alignment: every row stays aligned. */
static _Alignas(struct cmsghdr) uint8_t rx_cmsg[AUX_WAN_RX_SLOTS][CMSG_SPACE(sizeof(int))];

int wan_rx_prepare(struct aux *a)
{
	uv_os_fd_t fd;
	int on = 1;

	if (uv_fileno((uv_handle_t *)&a->wan, &fd) != 0)
		return -EBADF;
	a->wan_rx_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (a->wan_rx_fd < 0)
		return -errno;
	/* Without it (kernels before 5.0) every datagram simply comes alone. */
	if (setsockopt(a->wan_rx_fd, IPPROTO_UDP, UDP_GRO, &on, sizeof on) != 0)
		log_debug("UDP GRO not available (%s): datagrams come one by one",
			  strerror(errno));
	return 0;
}

/* The size of the frames glued together in message i: the control message's, or the
 * whole datagram's when the kernel glued nothing. */
static size_t segment_size(unsigned i, size_t len)
{
	struct msghdr *h = &rx_msg[i].msg_hdr;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		int size;

		if (c->cmsg_level != IPPROTO_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof size))
			continue;
		memcpy(&size, CMSG_DATA(c), sizeof size);
		return size > 0 && (size_t)size < len ? (size_t)size : len;
	}
	return len;
}

static void prepare_batch(void)
{
	for (unsigned i = 0; i < AUX_WAN_RX_SLOTS; i++) {
		struct msghdr *h = &rx_msg[i].msg_hdr;

		rx_iov[i] = (struct iovec){rx_buffer[i], sizeof rx_buffer[i]};
		*h = (struct msghdr){.msg_name = &rx_from[i], .msg_namelen = sizeof rx_from[i],
				     .msg_iov = &rx_iov[i], .msg_iovlen = 1,
				     .msg_control = rx_cmsg[i],
				     .msg_controllen = sizeof rx_cmsg[i]};
	}
}

/* Hands message i's frames to relay_wan_datagram one by one. */
static void deliver_message(struct aux *a, unsigned i, uint64_t now)
{
	const struct msghdr *h = &rx_msg[i].msg_hdr;
	size_t len = rx_msg[i].msg_len, seg = segment_size(i, len);
	struct ip_endpoint from;

	if ((h->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    ip_endpoint_from_sockaddr((const struct sockaddr *)&rx_from[i], &from) != 0) {
		a->wan_errors++;
		return;
	}
	for (size_t off = 0; off < len && a->state == AUX_RUNNING; off += seg)
		relay_wan_datagram(a, rx_buffer[i] + off, len - off < seg ? len - off : seg,
				   &from, now);
}

static void on_wan_readable(uv_poll_t *p, int status, int events)
{
	struct aux *a = p->data;
	uint64_t now = uv_now(a->loop);

	if (status < 0) {
		a->wan_errors++;
		return;
	}
	for (int round = 0; round < WAN_RX_ROUNDS && a->state == AUX_RUNNING; round++) {
		int n;

		prepare_batch();
		n = recvmmsg(a->wan_rx_fd, rx_msg, AUX_WAN_RX_SLOTS, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				a->wan_errors++;
			break;
		}
		for (int i = 0; i < n && a->state == AUX_RUNNING; i++)
			deliver_message(a, (unsigned)i, now);
		if (n < AUX_WAN_RX_SLOTS)
			break;  /* drained; level-triggered polling says if more came */
	}
	if (a->state == AUX_RUNNING) {
		relay_wan_batch_end(a);
		timers_prove_epochs(a);
	}
}

int wan_rx_start(struct aux *a)
{
	int rc = uv_poll_init(a->loop, &a->wan_rx, a->wan_rx_fd);

	if (rc)
		return rc;
	a->wan_rx_open = true;
	a->wan_rx.data = a;
	return uv_poll_start(&a->wan_rx, UV_READABLE, on_wan_readable);
}

void wan_rx_close(struct aux *a)
{
	if (a->wan_rx_open && !uv_is_closing((uv_handle_t *)&a->wan_rx))
		uv_close((uv_handle_t *)&a->wan_rx, NULL);
}

void wan_rx_release(struct aux *a)
{
	if (a->wan_rx_fd >= 0)
		close(a->wan_rx_fd);
	a->wan_rx_fd = -1;
}
