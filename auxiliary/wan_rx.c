/* The WAN socket's reads, with UDP GRO. With UDP_GRO on, the kernel hands over runs of
 * datagrams from one sender glued together — up to 64 frames in one buffer, the size of
 * each but the last in a UDP_GRO control message — instead of queueing and copying them
 * one by one (and instead of cutting apart the GSO super-datagrams a peer on the same
 * host sends). libuv's receive path shows no control messages, so the socket is read
 * here with recvmmsg, through a duplicate descriptor that a uv_poll handle watches; the
 * uv_udp handle keeps doing the sending. A leaf of the relay: relay.c is called when the
 * descriptor is readable, reads a batch with wan_rx_read and walks each message's frames
 * (wan_rx_message), handing each on exactly as if it had come alone. The buffers are
 * static: one batch is consumed before the next is read. */
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

static uint8_t rx_buffer[AUX_WAN_RX_SLOTS][AUX_DGRAM_MAX];
static struct mmsghdr rx_msg[AUX_WAN_RX_SLOTS];
static struct iovec rx_iov[AUX_WAN_RX_SLOTS];
static struct sockaddr_storage rx_from[AUX_WAN_RX_SLOTS];
/* CMSG_SPACE is a multiple of the header's alignment: every row stays aligned. */
static _Alignas(struct cmsghdr) uint8_t rx_cmsg[AUX_WAN_RX_SLOTS][CMSG_SPACE(sizeof(int))];

int wan_rx_prepare(struct bridge *br)
{
	uv_os_fd_t fd;
	int on = 1;

	if (uv_fileno((uv_handle_t *)&br->wan, &fd) != 0)
		return -EBADF;
	br->wan_rx_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (br->wan_rx_fd < 0)
		return -errno;
	/* Without it (kernels before 5.0) every datagram simply comes alone. */
	if (setsockopt(br->wan_rx_fd, IPPROTO_UDP, UDP_GRO, &on, sizeof on) != 0)
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

int wan_rx_read(struct bridge *br)
{
	int n;

	prepare_batch();
	n = recvmmsg(br->wan_rx_fd, rx_msg, AUX_WAN_RX_SLOTS, MSG_DONTWAIT, NULL);
	if (n >= 0)
		return n;
	if (errno != EAGAIN && errno != EINTR)
		br->wan_errors++;
	return 0;
}

int wan_rx_message(unsigned i, struct wan_rx_msg *m)
{
	const struct msghdr *h = &rx_msg[i].msg_hdr;

	if ((h->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    ip_endpoint_from_sockaddr((const struct sockaddr *)&rx_from[i], &m->from) != 0)
		return -EINVAL;
	m->data = rx_buffer[i];
	m->len = rx_msg[i].msg_len;
	m->seg = segment_size(i, m->len);
	return 0;
}

int wan_rx_start(struct bridge *br, uv_poll_cb on_readable)
{
	int rc;

	/* Read by discover.c at bind already: the relay takes over the same handle. */
	if (br->wan_rx_open)
		return uv_poll_start(&br->wan_rx, UV_READABLE, on_readable);
	rc = uv_poll_init(br->loop, &br->wan_rx, br->wan_rx_fd);
	if (rc)
		return rc;
	br->wan_rx_open = true;
	br->wan_rx.data = br;
	return uv_poll_start(&br->wan_rx, UV_READABLE, on_readable);
}

void wan_rx_close(struct bridge *br)
{
	if (br->wan_rx_open && !uv_is_closing((uv_handle_t *)&br->wan_rx))
		uv_close((uv_handle_t *)&br->wan_rx, NULL);
}

void wan_rx_release(struct bridge *br)
{
	if (br->wan_rx_fd >= 0)
		close(br->wan_rx_fd);
	br->wan_rx_fd = -1;
}
