/* The fast path, and the hub of the relay: LAN datagram on channel i -> channel_seal ->
 * the peer auxiliary through the shared WAN socket; WAN datagram -> receiver session id ->
 * that channel's channel_open -> the channel's LAN socket, towards the LAN application
 * that spoke last (or the "deliver" address until one has), or the TUN interface
 * (tun_relay.c). A LAN socket hears only the call's own party: a datagram from any other
 * LAN address is dropped and counted (foreign_lan_sender), so no other host can take the
 * peer's stream over; the party's port may change, its address may not.
 *
 * The files around it are leaves that never call back here: wan_rx.c reads the WAN
 * socket (recvmmsg with UDP GRO) when this file's poll callback asks it to, batch.c
 * gathers datagrams for one sendmmsg at the end of a wake-up (a lone datagram as a batch
 * of one), sendq.c sends the rest and queues what the kernel pushes back, tun_relay.c
 * reads and writes the interface. Nothing here allocates per packet: every socket reads
 * with recvmmsg into static buffers (callbacks run one at a time and consume them before
 * returning; the LAN sockets are read by libuv, at most 32 datagrams per socket per
 * wake-up). Every datagram that cannot be relayed is dropped and counted (the channels
 * count their own refusals). */
#include <string.h>

#include "auxiliary.h"
#include "err.h"
#include "frame.h"
#include "log.h"

#define RELAY_WAN_ROUNDS 4  /* full WAN batches per wake-up before others get a turn */

/* The LAN sockets read with recvmmsg (UV_UDP_RECVMMSG): libuv cuts this buffer into
 * 64 KiB slots, one datagram each, and hands them over one by one. */
static uint8_t lan_rx_buffer[AUX_WAN_RX_SLOTS * AUX_DGRAM_MAX];

static void on_lan_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	*b = uv_buf_init((char *)lan_rx_buffer, sizeof lan_rx_buffer);
}

/* ---- LAN -> WAN ---- */

struct seal_target {
	struct bridge *br;
	const struct ip_endpoint *peer;
};

/* A fragment of a message larger than one frame: copied into the batch. */
static int emit_to_peer(void *ctx, const uint8_t *dgram, size_t len)
{
	struct seal_target *t = ctx;
	int rc = batch_add(t->br, &aux_to_wan, &t->br->wan, t->peer, dgram, len,
			   &t->br->wan_errors);

	if (rc)
		t->br->wan_errors++;
	return rc;
}

static void on_lan_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b,
			const struct sockaddr *addr, unsigned flags)
{
	struct aux_lan *l = h->data;
	struct bridge *br = l->bridge;
	uint64_t now = uv_now(br->loop);
	struct seal_target target = {br, NULL};
	struct ip_endpoint from;

	if (n == 0 && !addr) {
		/* libuv: the end of a recvmmsg batch, or nothing more to read */
		if (br->state == AUX_RUNNING)
			batch_flush(br, &aux_to_wan);
		return;
	}
	if (br->state != AUX_RUNNING)
		return;
	if (n < 0 || !addr || (flags & UV_UDP_PARTIAL) ||
	    ip_endpoint_from_sockaddr(addr, &from) != 0) {
		l->drop_recv_error++;
		return;
	}
	if (!ip_addr_equal(&from.addr, &br->party)) {
		l->foreign_lan_sender++;
		return;
	}
	l->datagrams_in++;
	l->from = from;
	l->has_from = true;
	target.peer = channel_peer(l->ch);
	if ((size_t)n <= channel_payload_max(l->ch) &&
	    (size_t)n + FRAME_OVERHEAD <= AUX_BATCH_FRAME) {
		/* The common case: sealed straight into the batch, no copy. */
		uint8_t *slot = batch_slot(br, &aux_to_wan, &br->wan, target.peer,
					   &br->wan_errors);
		long sealed = channel_seal_one(l->ch, b->base, (size_t)n, now, slot,
					       AUX_BATCH_FRAME);

		if (sealed < 0) {
			l->drop_not_sealed++;
			return;
		}
		batch_commit(&aux_to_wan, (size_t)sealed);
	} else if (channel_seal(l->ch, b->base, (size_t)n, now, emit_to_peer, &target) < 0) {
		l->drop_not_sealed++;
		return;
	}
	br->last_data_ms = now;
	path_data_sent(br, now);
}

/* ---- WAN -> LAN ---- */

static struct aux_lan *lan_for_session(struct bridge *br, uint32_t session)
{
	for (unsigned i = 0; i < br->n_lan; i++)
		if (channel_local_session(br->lan[i].ch) == session)
			return &br->lan[i];
	return NULL;
}

static void deliver_to_lan(struct bridge *br, struct aux_lan *l,
			   const struct channel_msg *m, uint64_t now)
{
	const struct ip_endpoint *dst = l->has_from ? &l->from
				      : l->has_deliver ? &l->deliver : NULL;

	if (!dst) {
		l->drop_no_destination++;
		return;
	}
	/* What the batch fails to send when it is flushed counts as send_failed too. */
	if (batch_add(br, &aux_to_lan, &l->udp, dst, m->data, m->len,
		      &l->drop_send_failed) != 0) {
		l->drop_send_failed++;
		return;
	}
	l->datagrams_out++;
	br->last_data_ms = now;
}

/* One datagram from the WAN: its channel opens it, the LAN or the TUN gets it (a probe
 * goes to the path logic, path.c). now is the loop's time in ms, now_us when the datagram
 * was read (for a reliable channel's round-trip samples). */
static void wan_datagram(struct bridge *br, const uint8_t *data, size_t n,
			 const struct ip_endpoint *from, uint64_t now, uint64_t now_us)
{
	struct channel_msg m;
	struct aux_lan *l;
	uint32_t session;
	int rc;

	if (relay_leg_take(br, data, n, from))
		return;  /* REGISTERED (0x21) from the call's relay: not a frame */
	if (discover_stray(br, data, n))
		return;  /* STUN (bytes 4..7 the cookie, never a session id): not a frame */
	if (frame_peek_session(data, n, &session) != 0) {
		br->wan_truncated++;
		return;
	}
	if (!(l = lan_for_session(br, session))) {
		br->wan_unknown_session++;
		return;
	}
	/* A reliable channel's segment is opened straight into the engine's receive
	 * buffer when it is the one expected next (stream_room). */
	rc = channel_open_into(l->ch, data, n, from, now, br->tun_mode ? NULL : stream_room(l),
			       &m);
	if (rc != 1)
		stream_unroom(l);
	if (rc == CHANNEL_OPEN_PROBE) {
		path_on_probe(br, l, &m, from, now);
		pmtu_probe_received(br, l, &m, from, now);
		return;
	}
	if (rc < 0)
		return;
	path_frame_heard(br, l, from, now);
	if (rc != 1)
		return;
	if (br->tun_mode)
		tun_deliver(br, &m, now);
	else if (!stream_take(br, l, &m, now_us))
		deliver_to_lan(br, l, &m, now);
}

/* Message i of a WAN batch, frame by frame (UDP GRO may have glued several together).
 * Its frames arrived together: one clock read for all of them (one per frame was 2% of
 * a reliable channel's receiving auxiliary). */
static void wan_message(struct bridge *br, unsigned i, uint64_t now)
{
	uint64_t now_us = uv_hrtime() / 1000;
	struct wan_rx_msg m;

	if (wan_rx_message(i, &m) != 0) {
		br->wan_errors++;
		return;
	}
	for (size_t off = 0; off < m.len && br->state == AUX_RUNNING; off += m.seg)
		wan_datagram(br, m.data + off, m.len - off < m.seg ? m.len - off : m.seg, &m.from,
			     now, now_us);
}

/* A few full batches per wake-up, then the others get a turn; at the end, what was
 * gathered for the LAN or the TUN goes out, and channels that switched their send epoch
 * on the peer's first frame of it prove it. */
static void on_wan_readable(uv_poll_t *p, int status, int events)
{
	struct bridge *br = p->data;
	uint64_t now = uv_now(br->loop);

	if (status < 0) {
		br->wan_errors++;
		return;
	}
	for (int round = 0; round < RELAY_WAN_ROUNDS && br->state == AUX_RUNNING; round++) {
		int n = wan_rx_read(br);

		for (int i = 0; i < n && br->state == AUX_RUNNING; i++)
			wan_message(br, (unsigned)i, now);
		if (n < AUX_WAN_RX_SLOTS)
			break;  /* drained; level-triggered polling says if more came */
	}
	if (br->state != AUX_RUNNING)
		return;
	if (br->tun_mode)
		tun_flush(br);
	else
		batch_flush(br, &aux_to_lan);
	stream_service(br);
	timers_prove_epochs(br);
}

void relay_take_datagram(struct bridge *br, const uint8_t *data, size_t len,
			 const struct ip_endpoint *from)
{
	wan_datagram(br, data, len, from, uv_now(br->loop), uv_hrtime() / 1000);
}

void relay_take_done(struct bridge *br)
{
	if (br->tun_mode)
		tun_flush(br);
	else
		batch_flush(br, &aux_to_lan);
	stream_service(br);
	timers_prove_epochs(br);
}

int relay_start(struct bridge *br)
{
	int rc = wan_rx_start(br, on_wan_readable);

	if (br->tun_mode)
		return rc ? rc : tun_relay_start(br);
	/* A reliable channel's party speaks TCP (stream.c); its UDP port only holds the
	 * number. */
	for (unsigned i = 0; rc == 0 && i < br->n_lan; i++)
		if (!br->lan[i].stream)
			rc = uv_udp_recv_start(&br->lan[i].udp, on_lan_alloc, on_lan_recv);
	return rc;
}
