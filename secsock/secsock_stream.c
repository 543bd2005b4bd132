/* The reliable channels of a Secsockets call (secsock.h, docs/secsock.md): the gateways'
 * transport engine (reliable.h) hosted by a blocking library instead of an event loop.
 * Each engine segment is one channel message sealed into one frame, exactly as the
 * auxiliary hosts it (auxiliary/stream.c); what differs is who waits: here the caller of
 * sec_send / sec_recv / sec_shutdown / sec_close, in poll() on the call's UDP socket until
 * input or the engines' next deadline.
 *
 * The TLS control connection says one more thing while streams run: the peer's call
 * ended. close_notify means its sec_close finished (which drains first), so a stream the
 * peer had not finished was cut (INSEL_E_RESET); the connection ending without it means
 * the peer process is gone (INSEL_E_PEER_GONE), sooner than the engine's time-out. */
#include "secsock_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "addr.h"
#include "err.h"
#include "frame.h"
#include "reliable.h"

#define READ_BUDGET 256          /* datagrams taken per wake-up before the engines run */
#define SOCKET_BUF (4 << 20)     /* a send window's worth in the kernel too */
#define SEND_BATCH 32            /* datagrams per sendmmsg */
#define BATCH_SLOT 2048          /* a batch slot: one frame of a channel's MTU (1400) */

static _Thread_local uint8_t dgram_buf[FRAME_MAX_DATAGRAM];
static _Thread_local uint8_t seg_buf[FRAME_MAX_DATAGRAM];

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- start and end ---- */

/* One segment, one frame: the channel reassembles only a few fragmented messages at once,
 * so a lossy window of fragmented segments would be lost whole. */
static uint32_t segment_size(const struct channel *ch)
{
	size_t mss = channel_payload_max(ch);

	return (uint32_t)(mss > REL_MAX_MSS ? REL_MAX_MSS : mss);
}

static int start_one(struct sec_call *c, const struct sec_socket *s, unsigned i,
		     enum negotiate_mode mode, uint64_t now)
{
	struct rel_params p = {
		/* Both ends know the call id and the channel: no handshake needed. */
		.conn_id = (uint32_t)c->params[i].call_id ^ i,
		.unordered = mode == NEGOTIATE_UNORDERED,
		.mss = segment_size(c->channels[i]),
		.dead_ms = s->stream_dead_ms,
		.close_ms = s->stream_dead_ms,
		.idle_ms = s->stream_idle_ms,
		/* A quiet peer is asked often enough to be found gone within the time-out
		 * (the engine's defaults keep the same 1:3). */
		.keepalive_ms = s->stream_dead_ms / 3,
	};
	int rc = 0;

	c->streams.rel[i] = rel_new(&p, now, &rc);
	c->streams.modes[i] = (enum sec_mode)mode;
	return c->streams.rel[i] ? 0 : rc;
}

/* Bigger socket buffers (as far as the system allows) and a control connection that can
 * be polled: both only for calls with reliable channels. */
static void tune_sockets(struct sec_call *c)
{
	int size = SOCKET_BUF;

	setsockopt(c->udp_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(c->udp_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	if (c->tcp_fd >= 0)
		fcntl(c->tcp_fd, F_SETFL, fcntl(c->tcp_fd, F_GETFL) | O_NONBLOCK);
	if (c->session)
		gnutls_record_set_timeout(c->session, 0);  /* polled: never wait inside */
}

int secsock_streams_start(struct sec_call *c, const struct sec_socket *s,
			  const enum negotiate_mode *modes)
{
	uint64_t now = now_us();
	bool any = false;

	for (unsigned i = 0; i < c->nchannels; i++) {
		int rc;

		if (modes[i] == NEGOTIATE_DATAGRAM)
			continue;
		rc = start_one(c, s, i, modes[i], now);
		if (rc)
			return rc;
		any = true;
	}
	if (any)
		tune_sockets(c);
	c->streams.dead_ms = s->stream_dead_ms ? s->stream_dead_ms : REL_DEFAULT_DEAD_MS;
	c->streams.any = any;
	return 0;
}

void secsock_streams_free(struct sec_call *c)
{
	struct sec_streams *st = &c->streams;

	for (size_t i = 0; i < SEC_MAX_CHANNELS; i++) {
		rel_free(st->rel[i]);
		st->rel[i] = NULL;
	}
	while (st->held_count) {
		free(st->held[st->held_head]);
		st->held_head = (st->held_head + 1) % SEC_HELD_MAX;
		st->held_count--;
	}
}

/* ---- moving segments ---- */

/* Sends datagrams [0, n) of a batch, in as few system calls as the kernel allows. A
 * batch the socket cannot take is lost like any: the engine sends it again. */
static void send_batch(struct sec_call *c, struct mmsghdr *msgs, unsigned n)
{
	unsigned done = 0;

	while (done < n) {
		int k = sendmmsg(c->udp_fd, msgs + done, n - done, 0);

		if (k <= 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		done += (unsigned)k;
	}
}

/* What one engine has to send now (segments, acknowledgements, probes), sealed into a
 * batch and sent with one sendmmsg per SEND_BATCH datagrams. */
static void flush_batched(struct sec_call *c, unsigned i, uint64_t now)
{
	static _Thread_local uint8_t slots[SEND_BATCH][BATCH_SLOT];
	struct channel *ch = c->channels[i];
	struct mmsghdr msgs[SEND_BATCH];
	struct iovec iov[SEND_BATCH];
	struct sockaddr_storage to;
	socklen_t tolen = ip_endpoint_to_sockaddr(channel_peer(ch), &to);
	const uint8_t *seg;
	unsigned n = 0;
	int len;

	/* Sealed in place (rel_output_view): no copy of the payload before the seal. */
	while ((len = rel_output_view(c->streams.rel[i], now, seg_buf, sizeof seg_buf,
				      &seg)) > 0) {
		long d = channel_seal_one(ch, seg, (size_t)len, now / 1000, slots[n],
					  BATCH_SLOT);

		if (d <= 0)
			continue;  /* lost like any: the engine sends it again */
		iov[n] = (struct iovec){.iov_base = slots[n], .iov_len = (size_t)d};
		msgs[n] = (struct mmsghdr){.msg_hdr = {.msg_name = &to, .msg_namelen = tolen,
						       .msg_iov = &iov[n], .msg_iovlen = 1}};
		if (++n == SEND_BATCH) {
			send_batch(c, msgs, n);
			n = 0;
		}
	}
	send_batch(c, msgs, n);
}

/* The same one datagram at a time, for a channel whose frames do not fit a batch slot. */
static void flush_single(struct sec_call *c, unsigned i, uint64_t now)
{
	const uint8_t *seg;
	int n;

	while ((n = rel_output_view(c->streams.rel[i], now, seg_buf, sizeof seg_buf, &seg)) > 0) {
		long d = channel_seal_one(c->channels[i], seg, (size_t)n, now / 1000, dgram_buf,
					  sizeof dgram_buf);

		if (d > 0)
			secsock_send_dgram(c, c->channels[i], dgram_buf, (size_t)d);
	}
}

/* Sends what every engine has to send now. */
static void flush(struct sec_call *c)
{
	uint64_t now = now_us();

	for (unsigned i = 0; i < c->nchannels; i++) {
		if (!c->streams.rel[i])
			continue;
		if (channel_mtu(c->channels[i]) <= BATCH_SLOT)
			flush_batched(c, i, now);
		else
			flush_single(c, i, now);
	}
}

static void hold(struct sec_call *c, unsigned channel, const struct channel_msg *m)
{
	struct sec_streams *st = &c->streams;
	struct sec_held *h;

	if (st->held_count == SEC_HELD_MAX || !(h = malloc(sizeof *h + m->len))) {
		st->held_dropped++;
		return;
	}
	h->channel = channel;
	h->len = m->len;
	memcpy(h->data, m->data, m->len);
	st->held[(st->held_head + st->held_count) % SEC_HELD_MAX] = h;
	st->held_count++;
}

/* One datagram from the socket: a segment goes to its engine, a datagram message is held
 * for sec_recv. Forged, replayed and stray datagrams are dropped (and counted by the
 * channel, as in sec_recv). */
static void take(struct sec_call *c, const uint8_t *dgram, size_t len,
		 const struct ip_endpoint *from)
{
	struct channel_msg msg;
	uint64_t now = now_us();
	int idx = secsock_channel_for(c, dgram, len);

	if (idx < 0 || channel_open(c->channels[idx], dgram, len, from, now / 1000, &msg) != 1)
		return;
	if (c->streams.rel[idx])
		rel_input(c->streams.rel[idx], msg.data, msg.len, now);
	else
		hold(c, (unsigned)idx, &msg);
}

/* Everything waiting on the socket, up to READ_BUDGET datagrams. */
static void read_input(struct sec_call *c)
{
	static _Thread_local uint8_t in[FRAME_MAX_DATAGRAM];

	for (int i = 0; i < READ_BUDGET; i++) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof ss;
		struct ip_endpoint from;
		ssize_t n = recvfrom(c->udp_fd, in, sizeof in, MSG_DONTWAIT,
				     (struct sockaddr *)&ss, &sslen);

		if (n < 0)
			return;
		if (ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &from) == 0)
			take(c, in, (size_t)n, &from);
	}
}

/* The peer's TLS session said something: after the negotiation that can only be its end
 * (close_notify, or the connection closing under a process that is gone). */
static void watch_control(struct sec_call *c)
{
	struct sec_streams *st = &c->streams;
	uint8_t junk[256];
	ssize_t n;

	if (!c->session || st->peer_left)
		return;
	n = gnutls_record_recv(c->session, junk, sizeof junk);
	if (n > 0 || (n < 0 && !gnutls_error_is_fatal((int)n)))
		return;  /* a session ticket, a key update: not the end */
	st->peer_left = true;
	st->peer_died = n != 0;
}

/* What the engines and the channels need done now; the next deadline in ms. */
static uint64_t run_all(struct sec_call *c)
{
	uint64_t next = secsock_run_timers(c, secsock_now_ms());

	flush(c);
	for (size_t i = 0; i < c->nchannels; i++) {
		uint64_t d;

		if (!c->streams.rel[i])
			continue;
		d = rel_next_deadline(c->streams.rel[i]);
		if (d != UINT64_MAX && (d + 999) / 1000 < next)
			next = (d + 999) / 1000;
	}
	return next;
}

/* Waits for input, the next timer or until (ms), whichever is first, then takes what came
 * and runs what is due. 0, or a negative errno from poll. */
static int pump_until(struct sec_call *c, uint64_t until)
{
	uint64_t next = run_all(c), now = secsock_now_ms();
	uint64_t wake = next < until ? next : until;
	int ms = wake <= now ? 0 : (wake - now > 60000 ? 60000 : (int)(wake - now));
	struct pollfd p[2] = {{.fd = c->udp_fd, .events = POLLIN},
			      {.fd = c->tcp_fd, .events = POLLIN}};
	nfds_t n = c->session && !c->streams.peer_left ? 2 : 1;
	int rc = poll(p, n, ms);

	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 2 && p[1].revents)
		watch_control(c);
	if (p[0].revents)
		read_input(c);
	run_all(c);
	return 0;
}

int sec_pump(struct sec_call *c)
{
	if (!c->streams.any)
		return 0;
	return pump_until(c, 0);
}

/* ---- what a channel says ---- */

static bool peer_finished_all(const struct sec_call *c, unsigned i)
{
	return rel_peer_finished(c->streams.rel[i]);
}

/* The error that ended a reliable channel, or 0 while it works. sending: the question is
 * whether more can be sent (the peer's call gone ends that even after its FIN). */
static int stream_error(const struct sec_call *c, unsigned i, bool sending)
{
	const struct sec_streams *st = &c->streams;
	struct rel_conn *r = st->rel[i];

	if (st->broken[i])
		return st->broken[i];
	switch (rel_state(r)) {
	case REL_ABORTED:
		/* the peer's RST, or a close of ours never acknowledged */
		return rel_error(r) == INSEL_E_TIMEOUT ? INSEL_E_PEER_GONE : INSEL_E_RESET;
	case REL_TIMED_OUT:
		return INSEL_E_PEER_GONE;
	default:
		break;
	}
	if (st->peer_left && (sending || !peer_finished_all(c, i)))
		return st->peer_died ? INSEL_E_PEER_GONE : INSEL_E_RESET;
	return 0;
}

/* Everything we sent, the end included, acknowledged. */
static bool drained(const struct rel_conn *r)
{
	struct rel_stats s;

	rel_get_stats(r, &s);
	return s.state == REL_CLOSED ||
	       (s.state == REL_CLOSING && s.send_queued == 0 && s.flight == 0);
}

static int reliable_channel(const struct sec_call *c, unsigned channel)
{
	if (channel >= c->nchannels || !c->streams.rel[channel])
		return INSEL_E_BAD_FIELD;
	return 0;
}

/* ---- sending ---- */

/* One try: what rel_send took (>0), or -EAGAIN, or the channel's error. */
static int send_some(struct sec_call *c, unsigned i, const uint8_t *data, size_t len)
{
	int err;
	int n;

	if (c->streams.shut[i])
		return INSEL_E_CLOSED;  /* our own end says it best */
	if ((err = stream_error(c, i, true)) != 0)
		return err;
	n = rel_send(c->streams.rel[i], data, len);
	if (n == INSEL_E_CLOSED && (err = stream_error(c, i, true)) != 0)
		return err;
	return n;
}

ssize_t secsock_stream_send(struct sec_call *c, unsigned channel, const void *data,
			    size_t len)
{
	bool whole = c->streams.modes[channel] == SEC_MODE_MESSAGES;
	size_t done = 0;

	if (len == 0)
		return whole ? INSEL_E_TOO_BIG : 0;
	read_input(c);
	while (done < len) {
		int n = send_some(c, channel, (const uint8_t *)data + done, len - done);

		if (n > 0) {
			done += (size_t)n;
			run_all(c);
			if (c->streams.nonblocking)
				break;
			continue;
		}
		if (n != -EAGAIN)
			return n;
		if (c->streams.nonblocking)
			return done ? (ssize_t)done : -EAGAIN;
		n = pump_until(c, UINT64_MAX);
		if (n)
			return n;
	}
	return (ssize_t)done;
}

/* ---- receiving ---- */

static ssize_t take_held(struct sec_call *c, unsigned *channel, void *buf, size_t cap)
{
	struct sec_streams *st = &c->streams;
	struct sec_held *h = st->held[st->held_head];
	ssize_t rc;

	st->held_head = (st->held_head + 1) % SEC_HELD_MAX;
	st->held_count--;
	if (h->len > cap) {
		rc = INSEL_E_TOO_BIG;  /* dropped, as sec_recv drops a datagram too big */
	} else {
		memcpy(buf, h->data, h->len);
		*channel = h->channel;
		rc = (ssize_t)h->len;
	}
	free(h);
	return rc;
}

/* What one reliable channel has for sec_recv now: data (>0), its end (0) or its error,
 * each end said once; -EAGAIN when nothing. */
static ssize_t stream_ready(struct sec_call *c, unsigned i, void *buf, size_t cap)
{
	struct sec_streams *st = &c->streams;
	int n, err;

	if (st->end_said[i])
		return -EAGAIN;
	n = rel_recv(st->rel[i], buf, cap);
	if (n > 0)
		return n;
	if (n == INSEL_E_NOSPACE)
		return INSEL_E_TOO_BIG;  /* the message stays: a larger buffer takes it */
	if (n == 0) {
		st->end_said[i] = true;
		return 0;
	}
	err = stream_error(c, i, false);
	if (err) {
		st->end_said[i] = true;
		return err;
	}
	return -EAGAIN;
}

/* Held datagrams first, then the reliable channels from where the last call stopped. */
static ssize_t ready(struct sec_call *c, unsigned *channel, void *buf, size_t cap)
{
	struct sec_streams *st = &c->streams;

	if (st->held_count)
		return take_held(c, channel, buf, cap);
	for (size_t k = 0; k < c->nchannels; k++) {
		unsigned i = (unsigned)((st->next_rr + k) % c->nchannels);
		ssize_t n;

		if (!st->rel[i])
			continue;
		n = stream_ready(c, i, buf, cap);
		if (n == -EAGAIN)
			continue;
		*channel = i;
		st->next_rr = i + 1;
		return n;
	}
	return -EAGAIN;
}

/* Every channel a reliable one whose end sec_recv already said: nothing more can come. */
static bool all_said(const struct sec_call *c)
{
	for (size_t i = 0; i < c->nchannels; i++)
		if (!c->streams.rel[i] || !c->streams.end_said[i])
			return false;
	return true;
}

ssize_t secsock_streams_recv(struct sec_call *c, unsigned *channel, void *buf, size_t cap,
			     int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX
					   : secsock_now_ms() + (uint64_t)timeout_ms;

	read_input(c);
	for (;;) {
		ssize_t n = ready(c, channel, buf, cap);
		int rc;

		if (n != -EAGAIN) {
			run_all(c);  /* what the application took may open the window */
			return n;
		}
		if (all_said(c))
			return INSEL_E_CLOSED;
		if (secsock_now_ms() >= deadline) {
			run_all(c);
			return INSEL_E_TIMEOUT;
		}
		rc = pump_until(c, deadline);
		if (rc)
			return rc;
	}
}

/* ---- ending ---- */

int sec_shutdown(struct sec_call *c, unsigned channel)
{
	int rc = reliable_channel(c, channel);
	struct rel_conn *r;

	if (rc)
		return rc;
	r = c->streams.rel[channel];
	if (!c->streams.shut[channel]) {
		secsock_mark_used(c);
		c->streams.shut[channel] = true;
		rel_close(r, now_us());
	}
	for (;;) {
		run_all(c);
		if (drained(r))
			return 0;  /* even if the peer left since: it had everything */
		if ((rc = stream_error(c, channel, false)) != 0)
			return rc;
		if (c->streams.nonblocking)
			return -EINPROGRESS;
		if ((rc = pump_until(c, UINT64_MAX)) != 0)
			return rc;
	}
}

int sec_abort(struct sec_call *c, unsigned channel)
{
	int rc = reliable_channel(c, channel);

	if (rc)
		return rc;
	secsock_mark_used(c);
	c->streams.shut[channel] = true;
	if (!c->streams.broken[channel] && !stream_error(c, channel, true))
		c->streams.broken[channel] = INSEL_E_CLOSED;
	rel_abort(c->streams.rel[channel]);
	run_all(c);  /* the RST goes now */
	return 0;
}

/* Nothing more to wait for on channel i: it ended, or all we sent was acknowledged, or
 * the peer finished and its call is gone (nobody is left to acknowledge our end). */
static bool settled(const struct sec_call *c, unsigned i)
{
	struct rel_conn *r = c->streams.rel[i];

	return !r || stream_error(c, i, false) || drained(r) ||
	       (c->streams.peer_left && peer_finished_all(c, i));
}

void secsock_streams_drain(struct sec_call *c)
{
	uint64_t now = now_us(), limit_ms = secsock_now_ms();
	bool waiting = true;

	secsock_mark_used(c);
	for (unsigned i = 0; i < c->nchannels; i++)
		if (c->streams.rel[i] && !c->streams.shut[i]) {
			c->streams.shut[i] = true;
			rel_close(c->streams.rel[i], now);
		}
	/* The engines abort a close not acknowledged in time; this is only a backstop. */
	limit_ms += 2ULL * c->streams.dead_ms;
	while (waiting && secsock_now_ms() < limit_ms) {
		waiting = false;
		for (unsigned i = 0; i < c->nchannels; i++)
			waiting = waiting || !settled(c, i);
		if (waiting && pump_until(c, limit_ms) != 0)
			break;
	}
	run_all(c);
}

/* ---- accessors ---- */

enum sec_mode sec_call_mode(const struct sec_call *c, unsigned channel)
{
	return channel < c->nchannels ? c->streams.modes[channel] : SEC_MODE_DATAGRAM;
}

int sec_set_nonblocking(struct sec_call *c, int on)
{
	c->streams.nonblocking = on != 0;
	return 0;
}

int sec_call_fd(const struct sec_call *c)
{
	return c->udp_fd;
}

int sec_call_timeout_ms(const struct sec_call *c)
{
	uint64_t next = UINT64_MAX, now = now_us();

	for (size_t i = 0; i < c->nchannels; i++) {
		uint64_t d = c->streams.rel[i] ? rel_next_deadline(c->streams.rel[i]) : UINT64_MAX;

		if (d < next)
			next = d;
	}
	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now > 60000000ULL ? 60000 : (int)((next - now + 999) / 1000);
}

int sec_set_stream_timeouts(struct sec_socket *s, unsigned dead_ms, unsigned idle_ms)
{
	if (dead_ms && dead_ms < 1000)
		return INSEL_E_BAD_FIELD;
	s->stream_dead_ms = dead_ms;
	s->stream_idle_ms = idle_ms;
	return 0;
}

int sec_stream_stats(const struct sec_call *c, unsigned channel, struct sec_stream_stats *out)
{
	struct rel_stats s;
	int rc = reliable_channel(c, channel);

	if (rc)
		return rc;
	rel_get_stats(c->streams.rel[channel], &s);
	*out = (struct sec_stream_stats){
		.state = rel_state_name(s.state),
		.bytes_sent = s.bytes_sent,
		.bytes_acked = s.bytes_acked,
		.bytes_received = s.bytes_received,
		.bytes_delivered = s.bytes_delivered,
		.retransmits = s.retransmits,
		.timeouts = s.timeouts,
		.srtt_us = s.srtt_us,
		.rto_us = s.rto_us,
		.cwnd = s.cwnd,
		.peer_window = s.peer_window,
	};
	return 0;
}
