/* The WAN socket's reads, with UDP GRO. With UDP_GRO on, the kernel hands over runs of
 * datagrams from one sender glued together — up to 64 frames in one buffer, the size of
 * each but the last in a UDP_GRO control message — instead of queueing and copying them
 * one by one (and instead of cutting apart the GSO super-datagrams a peer on the same
 * host sends). libuv's receive path shows no control messages, so the socket is read
 * here with recvmmsg, through a duplicate descriptor that a uv_poll handle watches; the
 * uv_udp handle keeps doing the sending. A dual-stack wan has two sockets, one per
 * family, each polled; the callback reads the one that woke it. A leaf of the relay: relay.c is called when the
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

static int duplicate_for_reading(uv_udp_t *sock, int *out)
{
	uv_os_fd_t fd;
	int on = 1;

	if (uv_fileno((uv_handle_t *)sock, &fd) != 0)
		return -EBADF;
	*out = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (*out < 0)
		return -errno;
	/* Without it (kernels before 5.0) every datagram simply comes alone. */
	if (setsockopt(*out, IPPROTO_UDP, UDP_GRO, &on, sizeof on) != 0)
		log_debug("UDP GRO not available (%s): datagrams come one by one",
			  strerror(errno));
	return 0;
}

int wan_rx_prepare(struct bridge *br)
{
	int rc = duplicate_for_reading(&br->wan, &br->wan_rx_fd);

	if (rc == 0 && br->wan6_open)
		rc = duplicate_for_reading(&br->wan6, &br->wan6_rx_fd);
	br->wan_rx_now = br->wan_rx_fd;
	return rc;
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
	n = recvmmsg(br->wan_rx_now, rx_msg, AUX_WAN_RX_SLOTS, MSG_DONTWAIT, NULL);
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

/* Either socket woke us: the callback reads the one that did. */
static void on_family_readable(uv_poll_t *p, int status, int events)
{
	struct bridge *br = p->data;

	br->wan_rx_now = p == &br->wan6_rx ? br->wan6_rx_fd : br->wan_rx_fd;
	br->wan_rx_cb(p, status, events);
}

static int start_polling(struct bridge *br, uv_poll_t *p, bool *open, int fd)
{
	int rc = *open ? 0 : uv_poll_init(br->loop, p, fd);

	if (rc)
		return rc;
	*open = true;
	p->data = br;
	return uv_poll_start(p, UV_READABLE, on_family_readable);
}

int wan_rx_start(struct bridge *br, uv_poll_cb on_readable)
{
	int rc;

	br->wan_rx_cb = on_readable;
	rc = start_polling(br, &br->wan_rx, &br->wan_rx_open, br->wan_rx_fd);
	if (rc == 0 && br->wan6_rx_fd >= 0)
		rc = start_polling(br, &br->wan6_rx, &br->wan6_rx_open, br->wan6_rx_fd);
	return rc;
}

static void close_poll(uv_poll_t *p, bool open)
{
	if (open && !uv_is_closing((uv_handle_t *)p))
		uv_close((uv_handle_t *)p, NULL);
}

void wan_rx_close(struct bridge *br)
{
	close_poll(&br->wan_rx, br->wan_rx_open);
	close_poll(&br->wan6_rx, br->wan6_rx_open);
}

void wan_rx_release(struct bridge *br)
{
	if (br->wan_rx_fd >= 0)
		close(br->wan_rx_fd);
	if (br->wan6_rx_fd >= 0)
		close(br->wan6_rx_fd);
	br->wan_rx_fd = br->wan6_rx_fd = -1;
}
