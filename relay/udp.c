/* The relay's UDP socket: read in batches with recvmmsg (on a uv_poll handle, so that a
 * wake-up takes up to RELAY_RX_SLOTS messages in one call), each datagram judged by the
 * forwarding table, and whatever is to go out (frames passed on, REGISTERED answers)
 * sent in one sendmmsg at the end of the batch. A forwarded frame is sent from the
 * receive buffer it arrived in, unchanged; nothing is allocated per datagram. UDP is
 * best effort: what the kernel will not take now is dropped and counted.
 *
 * The socket reads with UDP GRO: a run of equal-sized datagrams from one sender (an
 * auxiliary's GSO send, docs/tun.md) arrives as one message, its datagrams back to back,
 * the size of each but the last in a control message. Each datagram of it is still
 * judged on its own; consecutive ones that go to the same endpoint leave again as one
 * UDP GSO send (UDP_SEGMENT) of the same segment size, which the kernel cuts back into
 * the same datagrams. Per datagram the relay then pays a table look-up, not two system
 * calls' share and two traversals of the stack: measured (tests/bench/relay.sh) it is
 * what a relayed trunk's throughput was bound by once the rate limit was off. A kernel
 * without GRO hands over datagrams one by one; a run the kernel refuses to send as GSO
 * goes apart (counted in gso_refused). */
#include <errno.h>
#include <fcntl.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "relay.h"
#include "udp_gso.h"
#include "wan_socket.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define SOCKET_BUFFER (8 << 20)
#define TX_SLOTS 256       /* messages queued before a sendmmsg; more flushes early */

static uint8_t rx_buffer[RELAY_RX_SLOTS][RELAY_DGRAM_MAX];
static struct mmsghdr rx_msg[RELAY_RX_SLOTS];
static struct iovec rx_iov[RELAY_RX_SLOTS];
static struct sockaddr_storage rx_from[RELAY_RX_SLOTS];
static _Alignas(struct cmsghdr) uint8_t rx_cmsg[RELAY_RX_SLOTS][CMSG_SPACE(sizeof(int))];

/* One message to send: a datagram, or a run of segments of `segment` bytes (the last
 * may be shorter) to one endpoint. */
static struct mmsghdr tx_msg[TX_SLOTS];
static struct iovec tx_iov[TX_SLOTS];
static struct sockaddr_storage tx_to[TX_SLOTS];
static struct ip_endpoint tx_dst[TX_SLOTS];
static uint16_t tx_segment[TX_SLOTS], tx_segments[TX_SLOTS];
static _Alignas(struct cmsghdr) uint8_t tx_cmsg[TX_SLOTS][UDP_GSO_CMSG_SPACE];
static uint8_t tx_answer[TX_SLOTS][RELAY_REGISTERED_LEN];
static unsigned tx_count;
static struct udp_gso gso_state;  /* off once the kernel says it has no GSO at all */

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
	int size = SOCKET_BUFFER, on = 1, rc;

	if (o->socket_fd >= 0) {
		if ((rc = check_inherited(o->socket_fd)) != 0)
			return rc;
		r->udp_fd = o->socket_fd;
	} else {
		rc = wan_socket_bound(SOCK_DGRAM, &o->listen.addr, o->listen.port);
		if (rc < 0)
			return rc;
		r->udp_fd = rc;
	}
	/* Large buffers absorb bursts between two wake-ups. Still root (before confining),
	 * the relay may go past net.core.rmem_max, whose usual 208 KiB holds a few
	 * milliseconds of one trunk; otherwise the kernel caps them there. */
	if (setsockopt(r->udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
		setsockopt(r->udp_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (setsockopt(r->udp_fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
		setsockopt(r->udp_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	if (setsockopt(r->udp_fd, IPPROTO_UDP, UDP_GRO, &on, sizeof on) != 0)
		log_debug("UDP GRO not available (%s): datagrams come one by one",
			  strerror(errno));
	return local_port(r->udp_fd, &r->port);
}

static void prepare_rx(void)
{
	for (unsigned i = 0; i < RELAY_RX_SLOTS; i++) {
		rx_iov[i] = (struct iovec){rx_buffer[i], sizeof rx_buffer[i]};
		rx_msg[i].msg_hdr = (struct msghdr){.msg_name = &rx_from[i],
						    .msg_namelen = sizeof rx_from[i],
						    .msg_iov = &rx_iov[i], .msg_iovlen = 1,
						    .msg_control = rx_cmsg[i],
						    .msg_controllen = sizeof rx_cmsg[i]};
	}
}

/* The size of each datagram glued into a received message but the last, or 0 when the
 * message is one datagram. */
static size_t gro_segment(const struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR((struct msghdr *)h, c)) {
		int size;

		if (c->cmsg_level != IPPROTO_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof size))
			continue;
		memcpy(&size, CMSG_DATA(c), sizeof size);
		return size > 0 ? (size_t)size : 0;
	}
	return 0;
}

/* ---- sending ---- */

static void flush_sends(struct relay *r);

/* Whether the datagram can join the last queued message as one more segment: same
 * endpoint, right after it in the same buffer, the run's segment size (or shorter, which
 * then ends the run), room left. */
static bool joins_last(const void *data, size_t len, const struct ip_endpoint *to)
{
	unsigned i = tx_count - 1;
	size_t seg;

	if (tx_count == 0)
		return false;
	seg = tx_segment[i];
	return seg && !gso_state.off &&
	       (const uint8_t *)tx_iov[i].iov_base + tx_iov[i].iov_len == data &&
	       len <= seg && tx_iov[i].iov_len == seg * tx_segments[i] &&
	       tx_segments[i] < UDP_GSO_MAX_SEGS &&
	       tx_iov[i].iov_len + len <= UDP_GSO_MAX_BYTES &&
	       ip_endpoint_equal(&tx_dst[i], to);
}

/* Queues one datagram; `run` says it may be glued to the previous one (both came in one
 * GRO message). */
static void queue_send(struct relay *r, const void *data, size_t len,
		       const struct ip_endpoint *to, bool run)
{
	unsigned i;

	if (run && joins_last(data, len, to)) {
		i = tx_count - 1;
		tx_iov[i].iov_len += len;
		tx_segments[i]++;
		return;
	}
	if (tx_count == TX_SLOTS)
		flush_sends(r);
	i = tx_count++;
	tx_dst[i] = *to;
	tx_segment[i] = run ? (uint16_t)len : 0;
	tx_segments[i] = 1;
	tx_iov[i] = (struct iovec){(void *)data, len};
	tx_msg[i].msg_hdr = (struct msghdr){.msg_name = &tx_to[i],
					    .msg_namelen = ip_endpoint_to_sockaddr(to, &tx_to[i]),
					    .msg_iov = &tx_iov[i], .msg_iovlen = 1};
}

/* A run of more than one segment goes as one GSO send. */
static void attach_segment_size(unsigned i)
{
	if (tx_segments[i] >= 2)
		udp_gso_attach(&tx_msg[i].msg_hdr, tx_cmsg[i], tx_segment[i]);
}

/* A GSO send the kernel refused, as its datagrams one by one. */
static void send_apart(struct relay *r, unsigned i)
{
	const uint8_t *p = tx_iov[i].iov_base;
	size_t left = tx_iov[i].iov_len, seg = tx_segment[i];

	while (left > 0) {
		size_t n = left < seg ? left : seg;

		if (sendto(r->udp_fd, p, n, MSG_DONTWAIT, (struct sockaddr *)&tx_to[i],
			   tx_msg[i].msg_hdr.msg_namelen) < 0)
			r->tx_errors++;
		p += n;
		left -= n;
	}
}

static void flush_sends(struct relay *r)
{
	unsigned sent = 0, n = tx_count;

	for (unsigned i = 0; i < n; i++)
		attach_segment_size(i);
	while (sent < n) {
		int k = sendmmsg(r->udp_fd, tx_msg + sent, n - sent, MSG_DONTWAIT);

		if (k > 0) {
			sent += (unsigned)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		/* A run the kernel refuses as GSO goes apart (fragmented if larger than
		 * the route's MTU, as before GSO); udp_gso.h says when later ones try. */
		if (k < 0 && tx_segments[sent] > 1 &&
		    udp_gso_refused(&gso_state, errno, "forwarding")) {
			r->gso_refused++;
			send_apart(r, sent++);
			continue;
		}
		/* EAGAIN (buffer full) or an error for the first datagram (a destination
		 * unreachable, say): skip that message and carry on with the rest. */
		r->tx_errors += tx_segments[sent];
		sent++;
	}
	tx_count = 0;
}

/* ---- receiving ---- */

static void take_datagram(struct relay *r, const uint8_t *data, size_t len,
			  const struct ip_endpoint *from, bool run)
{
	struct fwd_verdict v;

	fwd_input(&r->table, data, len, from, uv_now(r->loop), &v);
	if (v.action == FWD_SEND && relay_tcp_endpoint(&v.to)) {
		relay_tcp_send(r, data, len, &v.to);
	} else if (v.action == FWD_SEND) {
		queue_send(r, data, len, &v.to, run);
	} else if (v.action == FWD_ANSWER) {
		if (tx_count == TX_SLOTS)
			flush_sends(r);
		memcpy(tx_answer[tx_count], v.answer, v.answer_len);
		queue_send(r, tx_answer[tx_count], v.answer_len, &v.to, false);
	}
}

/* One received message: a datagram, or a GRO run of them, each judged on its own. */
static void take_message(struct relay *r, unsigned i)
{
	const struct msghdr *h = &rx_msg[i].msg_hdr;
	size_t len = rx_msg[i].msg_len, seg = gro_segment(h);
	struct ip_endpoint from;

	if ((h->msg_flags & MSG_TRUNC) ||
	    ip_endpoint_from_sockaddr((const struct sockaddr *)&rx_from[i], &from) != 0) {
		r->truncated++;
		return;
	}
	if (seg == 0 || seg >= len) {
		take_datagram(r, rx_buffer[i], len, &from, false);
		return;
	}
	r->gro_messages++;
	for (size_t off = 0; off < len; off += seg)
		take_datagram(r, rx_buffer[i] + off, len - off < seg ? len - off : seg, &from, true);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct relay *r = p->data;
	int n;

	(void)events;
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
		take_message(r, (unsigned)i);
	flush_sends(r);
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
