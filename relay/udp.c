/* The relay's UDP socket: read in batches with recvmmsg (on a uv_poll handle, so that a
 * wake-up takes up to RELAY_RX_SLOTS datagrams in one call), each datagram judged by the
 * forwarding table, and whatever is to go out (frames passed on, REGISTERED answers)
 * sent in one sendmmsg at the end of the batch. A forwarded frame is sent from the
 * receive buffer it arrived in, unchanged; nothing is allocated per datagram. UDP is
 * best effort: what the kernel will not take now is dropped and counted. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "relay.h"

#define SOCKET_BUFFER (4 << 20)

static uint8_t rx_buffer[RELAY_RX_SLOTS][RELAY_DGRAM_MAX];
static struct mmsghdr rx_msg[RELAY_RX_SLOTS];
static struct iovec rx_iov[RELAY_RX_SLOTS];
static struct sockaddr_storage rx_from[RELAY_RX_SLOTS];

static struct mmsghdr tx_msg[RELAY_RX_SLOTS];
static struct iovec tx_iov[RELAY_RX_SLOTS];
static struct sockaddr_storage tx_to[RELAY_RX_SLOTS];
static uint8_t tx_answer[RELAY_RX_SLOTS][RELAY_REGISTERED_LEN];

static int bind_socket(const struct ip_endpoint *at)
{
	struct sockaddr_storage ss;
	socklen_t len = ip_endpoint_to_sockaddr(at, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int local_port(int fd, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct ip_endpoint e;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -errno;
	if (ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &e) != 0)
		return -EAFNOSUPPORT;
	*port = e.port;
	return 0;
}

/* The inherited socket must be a bound datagram socket. */
static int check_inherited(int fd)
{
	int type = 0;
	socklen_t len = sizeof type;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
		return -errno;
	if (type != SOCK_DGRAM)
		return -ENOTSOCK;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		return -errno;
	return 0;
}

int relay_udp_open(struct relay *r, const struct relay_options *o)
{
	int size = SOCKET_BUFFER, rc;

	if (o->socket_fd >= 0) {
		if ((rc = check_inherited(o->socket_fd)) != 0)
			return rc;
		r->udp_fd = o->socket_fd;
	} else {
		if ((rc = bind_socket(&o->listen)) < 0)
			return rc;
		r->udp_fd = rc;
	}
	/* Large buffers absorb bursts between two wake-ups; the kernel caps them. */
	setsockopt(r->udp_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(r->udp_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	return local_port(r->udp_fd, &r->port);
}

static void prepare_rx(void)
{
	for (unsigned i = 0; i < RELAY_RX_SLOTS; i++) {
		rx_iov[i] = (struct iovec){rx_buffer[i], sizeof rx_buffer[i]};
		rx_msg[i].msg_hdr = (struct msghdr){.msg_name = &rx_from[i],
						    .msg_namelen = sizeof rx_from[i],
						    .msg_iov = &rx_iov[i], .msg_iovlen = 1};
	}
}

/* Queues one datagram for the batch's sendmmsg. */
static void queue_send(unsigned *n, const void *data, size_t len, const struct ip_endpoint *to)
{
	unsigned i = (*n)++;
	socklen_t tolen = ip_endpoint_to_sockaddr(to, &tx_to[i]);

	tx_iov[i] = (struct iovec){(void *)data, len};
	tx_msg[i].msg_hdr = (struct msghdr){.msg_name = &tx_to[i], .msg_namelen = tolen,
					    .msg_iov = &tx_iov[i], .msg_iovlen = 1};
}

static void flush_sends(struct relay *r, unsigned n)
{
	unsigned sent = 0;

	while (sent < n) {
		int k = sendmmsg(r->udp_fd, tx_msg + sent, n - sent, MSG_DONTWAIT);

		if (k > 0) {
			sent += (unsigned)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		/* EAGAIN (buffer full) or an error for the first datagram (a destination
		 * unreachable, say): skip that one and carry on with the rest. */
		r->tx_errors++;
		sent++;
	}
}

static void take_datagram(struct relay *r, unsigned i, unsigned *nsend)
{
	const struct msghdr *h = &rx_msg[i].msg_hdr;
	struct ip_endpoint from;
	struct fwd_verdict v;

	if ((h->msg_flags & MSG_TRUNC) ||
	    ip_endpoint_from_sockaddr((const struct sockaddr *)&rx_from[i], &from) != 0) {
		r->truncated++;
		return;
	}
	fwd_input(&r->table, rx_buffer[i], rx_msg[i].msg_len, &from, uv_now(r->loop), &v);
	if (v.action == FWD_SEND && relay_tcp_endpoint(&v.to)) {
		relay_tcp_send(r, rx_buffer[i], rx_msg[i].msg_len, &v.to);
	} else if (v.action == FWD_SEND) {
		queue_send(nsend, rx_buffer[i], rx_msg[i].msg_len, &v.to);
	} else if (v.action == FWD_ANSWER) {
		memcpy(tx_answer[i], v.answer, v.answer_len);
		queue_send(nsend, tx_answer[i], v.answer_len, &v.to);
	}
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct relay *r = p->data;
	unsigned nsend = 0;
	int n;

	if (status < 0) {
		r->rx_errors++;
		return;
	}
	prepare_rx();
	n = recvmmsg(r->udp_fd, rx_msg, RELAY_RX_SLOTS, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			r->rx_errors++;
		return;
	}
	uv_update_time(r->loop);
	for (int i = 0; i < n; i++)
		take_datagram(r, (unsigned)i, &nsend);
	flush_sends(r, nsend);
}

int relay_udp_start(struct relay *r)
{
	int rc = uv_poll_init(r->loop, &r->udp_poll, r->udp_fd);

	if (rc)
		return rc;
	r->udp_poll_open = true;
	r->udp_poll.data = r;
	return uv_poll_start(&r->udp_poll, UV_READABLE, on_readable);
}

static void poll_closed(uv_handle_t *h)
{
	struct relay *r = h->data;

	if (r->udp_fd >= 0)
		close(r->udp_fd);
	r->udp_fd = -1;
}

void relay_udp_close(struct relay *r)
{
	if (r->udp_poll_open && !uv_is_closing((uv_handle_t *)&r->udp_poll)) {
		uv_close((uv_handle_t *)&r->udp_poll, poll_closed);
		return;
	}
	if (!r->udp_poll_open && r->udp_fd >= 0) {
		close(r->udp_fd);
		r->udp_fd = -1;
	}
}
