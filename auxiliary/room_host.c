/* A room's one auxiliary on a gateway (docs/rooms.md, "The data path"): one process and
 * one interface named after the room, carrying every other member site of the room.
 *
 * Each peer site is still a network call of its own, set up by the secondary over the
 * existing mutual-TLS call set-up (offer and answer, keys, candidates, relay): here it
 * is one struct bridge, with its own sealed channel, session ids, keys, path, relay leg
 * and failover, driven over its own control socket by the ordinary control protocol
 * (docs/auxiliary.md). What the peers share is the room's interface and broadcast
 * capture: the first peer's bind creates them while the process is still root, then
 * confines the process once; later peers share the interface.
 *
 * The allowlist grants no new socket, so the secondary makes every socket of every peer
 * (the first's too) and hands them over on fd 3, a unix SOCK_SEQPACKET socket, one
 * message a peer (common/sys/leg_handover.h): its control socket, its WAN socket, on a
 * dual-stack wan its IPv6 WAN socket, and the TCP sockets of the relay's TLS-over-TCP
 * fallback (tcp_leg.c) — what an ordinary call's auxiliary makes for itself at bind, so
 * that a peer has every path an ordinary call has.
 *
 * End of file on fd 3 ends every peer and the process, which takes the interface, its
 * routes and the capture with it. A peer whose call ends (hang-up, peer dead) ends alone; its
 * memory is freed a few seconds later, once its handles and control socket are closed.
 *
 * Out, a packet the kernel routed into the interface goes to the peer whose members'
 * room addresses hold its destination, IPv4 or IPv6 (the secondary routes each peer's
 * /32s and /128s into the interface), and, if none does, to any peer, which drops and
 * counts it as a leg did (a non-member's source, an address nobody holds). In, each peer writes what it
 * delivers into the one interface. A member's broadcast or multicast caught on the LAN
 * goes to every peer, within one allowance per member for the room. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "auxiliary.h"
#include "cmd.h"
#include "err.h"
#include "ipv4.h"
#include "leg_handover.h"
#include "log.h"
#include "wire_errors.h"

#define ROOM_HOST_FREE_AFTER_MS 5000  /* an ended peer's handles and control are closed */
#define ROOM_HOST_SWEEP_MS 1000
#define ROOM_HOST_MAX_PEERS 64        /* live peers at once; more are refused */

struct room_host {
	uv_loop_t *loop;
	uv_poll_t attach;              /* fd 3 */
	bool attach_open;
	uv_signal_t sigterm, sigint;
	uv_timer_t sweep;
	bool stopping, confined;
	struct bridge *peers;          /* newest first, ended ones until freed */
	/* The room's interface and capture, made by the first bind (its bridge's tun). */
	bool has_tun;
	struct aux_tun tun;
	uv_poll_t tun_poll, cap_poll, cap6_poll;
	bool tun_poll_open, cap_poll_open, cap6_poll_open;
	unsigned wan_mtu, wan_mtu6;
	uint64_t unrouted;             /* packets read while no peer was running */
};

struct room_host *aux_room_host;
static struct room_host host;
static uint8_t rx[AUX_TUN_READ_MAX];  /* a read of the interface, or a captured datagram */
static uint8_t copy[AUX_DGRAM_MAX];

static size_t live_peers(void)
{
	size_t n = 0;

	for (struct bridge *br = host.peers; br; br = br->next_hosted)
		n += br->state != AUX_ENDING;
	return n;
}

static void close_handle(uv_handle_t *h, bool *open)
{
	if (*open && !uv_is_closing(h))
		uv_close(h, NULL);
	*open = false;
}

/* Ends every peer and closes the host's handles: the loop then runs out. */
static void host_stop(const char *why)
{
	bool on = true;

	if (host.stopping)
		return;
	host.stopping = true;
	log_info("the room's auxiliary stops: %s", why);
	for (struct bridge *br = host.peers; br; br = br->next_hosted)
		bridge_end(br, WIRE(HANGUP), why, EXIT_OK, true);
	close_handle((uv_handle_t *)&host.attach, &host.attach_open);
	close_handle((uv_handle_t *)&host.tun_poll, &host.tun_poll_open);
	close_handle((uv_handle_t *)&host.cap_poll, &host.cap_poll_open);
	close_handle((uv_handle_t *)&host.cap6_poll, &host.cap6_poll_open);
	close_handle((uv_handle_t *)&host.sweep, &on);
	on = true;
	close_handle((uv_handle_t *)&host.sigterm, &on);
	on = true;
	close_handle((uv_handle_t *)&host.sigint, &on);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	(void)sig;
	host_stop(signum == SIGTERM ? "stopped by SIGTERM" : "stopped by a signal");
}

static void free_peer(struct bridge *br)
{
	bridge_release(br);
	if (br->hosted_wan_fd >= 0)
		close(br->hosted_wan_fd);
	if (br->hosted_wan6_fd >= 0)
		close(br->hosted_wan6_fd);
	free(br);
}

/* Peers that ended long enough ago: their handles are closed, their memory goes. */
static void on_sweep(uv_timer_t *t)
{
	uint64_t now = uv_now(t->loop);
	struct bridge **pp = &host.peers;

	while (*pp) {
		struct bridge *br = *pp;

		if (br->state == AUX_ENDING && now - br->ended_ms >= ROOM_HOST_FREE_AFTER_MS) {
			*pp = br->next_hosted;
			free_peer(br);
		} else {
			pp = &br->next_hosted;
		}
	}
}

/* The TCP leg's sockets the secondary made: tcp_leg.c takes them as its own, as if it
 * had made them at bind. */
static void give_tcp_sockets(struct bridge *br, struct leg_sockets *s)
{
	for (unsigned i = 0; i < s->ntcp && br->tcp.nfds < AUX_TCP_SOCKETS; i++) {
		br->tcp.fds[br->tcp.nfds++] = s->tcp[i];
		s->tcp[i] = -1;
	}
}

static void take_peer(struct leg_sockets *s)
{
	struct bridge *br = NULL;
	int rc;

	if (host.stopping || live_peers() >= ROOM_HOST_MAX_PEERS || !(br = calloc(1, sizeof *br))) {
		log_warn("a peer of the room refused: %s", host.stopping ? "stopping"
							 : br ? "too many peers" : "out of memory");
		leg_sockets_close(s);
		return;
	}
	br->loop = host.loop;
	br->state = AUX_NEW;
	br->wan_rx_fd = br->wan6_rx_fd = -1;
	br->hosted = true;
	br->hosted_wan_fd = s->wan;
	br->hosted_wan6_fd = s->wan6;
	s->wan = s->wan6 = -1;
	br->next_hosted = host.peers;
	host.peers = br;
	rc = bridge_init_handles(br, false);
	if (rc == 0) {
		give_tcp_sockets(br, s);
		rc = control_start(br, s->ctl);
		s->ctl = -1;  /* the control stream's now */
	}
	leg_sockets_close(s);
	if (rc) {
		log_error("cannot take a peer of the room: %s", insel_strerror(rc));
		bridge_end(br, WIRE(ERROR), "startup failed", EXIT_OK, false);
	}
}

/* fd 3: a peer's sockets (leg_handover.h), or the end. */
static void on_attach(uv_poll_t *p, int status, int events)
{
	struct leg_sockets s;
	int rc;

	(void)p;
	(void)events;
	if (status < 0) {
		host_stop("its control socket failed");
		return;
	}
	rc = leg_sockets_recv(AUX_CONTROL_FD, &s);
	if (rc == -EAGAIN)
		return;
	if (rc == -EBADMSG) {
		log_warn("a hand-over on the room's control socket that is no peer's: refused");
		return;
	}
	if (rc <= 0) {
		host_stop(rc == 0 ? "the secondary closed its control socket" : strerror(-rc));
		return;
	}
	take_peer(&s);
}

/* Whether one of the peer's members (its room addresses, IPv4 or IPv6) holds dst. */
static bool peer_holds(const struct aux_tun *t, const struct ip_addr *dst)
{
	for (size_t i = 0; i < t->nremote; i++)
		if (ip_prefix_contains(&t->seen[i], dst))
			return true;
	return false;
}

/* The running peer whose members hold dst; else any running peer (which refuses and
 * counts what is no member's); NULL when none runs. */
static struct bridge *peer_for(const struct ip_addr *dst)
{
	struct bridge *any = NULL;

	for (struct bridge *br = host.peers; br; br = br->next_hosted) {
		if (br->state != AUX_RUNNING)
			continue;
		if (dst->family && peer_holds(&br->tun, dst))
			return br;
		if (!any)
			any = br;
	}
	return any;
}

/* The destination of a packet read from the interface (family 0: not IPv4 or IPv6). */
static void packet_destination(const uint8_t *pkt, size_t n, struct ip_addr *dst)
{
	memset(dst, 0, sizeof *dst);
	if (n >= 20 && (pkt[0] >> 4) == 4) {
		dst->family = AF_INET;
		memcpy(dst->bytes, pkt + 16, 4);
	} else if (n >= 40 && (pkt[0] >> 4) == 6) {
		dst->family = AF_INET6;
		memcpy(dst->bytes, pkt + 24, 16);
	}
}

struct tun_dispatch {
	struct bridge *last;  /* the peer whose frames the batch holds */
	uint64_t now;
};

/* One whole packet of a read (tun_read_packets: with the interface's offloads, a TCP
 * super-segment is cut and a partial checksum completed before any peer maps it) to the
 * peer whose members hold its destination. */
static int dispatch_packet(void *ctx, const uint8_t *pkt, size_t len)
{
	struct tun_dispatch *d = ctx;
	struct ip_addr dst;
	struct bridge *br;

	packet_destination(pkt, len, &dst);
	if (!(br = peer_for(&dst))) {
		host.unrouted++;
		return 0;
	}
	/* One peer's frames at a time in the batch: it names one socket. */
	if (d->last && d->last != br)
		batch_flush(d->last, &aux_to_wan);
	d->last = br;
	/* pkt lies in rx or in tun_relay.c's segment buffer, both writable. */
	tun_from_lan(br, (uint8_t *)(uintptr_t)pkt, len, d->now);
	return 0;
}

static void on_tun_readable(uv_poll_t *h, int status, int events)
{
	struct tun_dispatch d = {NULL, 0};

	(void)h;
	(void)events;
	if (status < 0)
		return;
	uv_update_time(host.loop);
	d.now = uv_now(host.loop);
	for (unsigned i = 0; i < AUX_TUN_BATCH; i++) {
		ssize_t n = read(host.tun.fd, rx, sizeof rx);

		if (n < 0)
			break;
		tun_read_packets(&host.tun, rx, (size_t)n, dispatch_packet, &d);
	}
	if (d.last)
		batch_flush(d.last, &aux_to_wan);
}

/* A datagram caught on the LAN goes to every running peer, each mapping its own copy.
 * The first running peer judges it (a member's, within its allowance: one allowance per
 * member for the whole room, refusals counted there); the others carry what it let
 * through. */
static void fan_out(void *ctx, uint8_t *pkt, size_t len, const struct sockaddr_ll *from)
{
	uint64_t now = uv_now(host.loop);
	bool first = true, carried;

	(void)ctx;
	(void)from;
	for (struct bridge *br = host.peers; br; br = br->next_hosted) {
		if (br->state != AUX_RUNNING)
			continue;
		memcpy(copy, pkt, len);
		carried = room_cast_captured(br, copy, len, now, first);
		batch_flush(br, &aux_to_wan);
		if (first && !carried)
			break;
		first = false;
	}
}

/* An IPv6 datagram caught on the LAN: the first running peer judges it (a member's, from
 * its host's link-layer address, within the member's allowance); each running peer then
 * carries its own copy from the member's room address. */
static void fan_out6(void *ctx, uint8_t *pkt, size_t len, const struct sockaddr_ll *from)
{
	uint64_t now = uv_now(host.loop);
	uint8_t member[16];
	bool judged = false;

	(void)ctx;
	for (struct bridge *br = host.peers; br; br = br->next_hosted) {
		if (br->state != AUX_RUNNING)
			continue;
		if (!judged && !room_cast_judge6(br, pkt, len, from, now, member))
			break;
		judged = true;
		memcpy(copy, pkt, len);
		room_cast_carry6(br, copy, len, member, now);
		batch_flush(br, &aux_to_wan);
	}
}

static void on_capture(uv_poll_t *h, int status, int events)
{
	bool six = h == &host.cap6_poll;

	(void)events;
	if (status < 0)
		return;
	/* rx is a little larger than a copy: no datagram a room carries is. */
	room_capture_read(six ? host.tun.cap6_fd : host.tun.cap_fd, rx, sizeof rx, sizeof copy,
			  six ? fan_out6 : fan_out, NULL);
}

int room_host_tun(struct bridge *br, const struct aux_bind_tun *req, char *why, size_t whylen)
{
	int rc;

	if (host.has_tun)
		return tun_adopt(br, req, &host.tun, why, whylen);
	if ((rc = tun_create(br, req, why, whylen)) != 0)
		return rc;
	/* The host keeps the descriptors; this peer shares them like any later one. */
	host.tun = br->tun;
	host.has_tun = true;
	br->tun.shared = true;
	return 0;
}

bool room_host_confined(void)
{
	return host.confined;
}

void room_host_set_confined(void)
{
	host.confined = true;
}

unsigned room_host_wan_mtu(int family, unsigned found)
{
	unsigned *mtu = family == AF_INET6 ? &host.wan_mtu6 : &host.wan_mtu;

	if (found)
		*mtu = found;
	return *mtu;
}

int room_host_start(struct bridge *br)
{
	int rc = 0;

	(void)br;
	if (!host.has_tun || host.stopping)
		return -EINVAL;
	if (!host.tun_poll_open) {
		rc = uv_poll_init(host.loop, &host.tun_poll, host.tun.fd);
		host.tun_poll_open = rc == 0;
		rc = rc ? rc : uv_poll_start(&host.tun_poll, UV_READABLE, on_tun_readable);
	}
	if (rc == 0 && host.tun.cast && !host.cap_poll_open) {
		rc = uv_poll_init(host.loop, &host.cap_poll, host.tun.cap_fd);
		host.cap_poll_open = rc == 0;
		rc = rc ? rc : uv_poll_start(&host.cap_poll, UV_READABLE, on_capture);
	}
	if (rc == 0 && host.tun.cast6 && !host.cap6_poll_open) {
		rc = uv_poll_init(host.loop, &host.cap6_poll, host.tun.cap6_fd);
		host.cap6_poll_open = rc == 0;
		rc = rc ? rc : uv_poll_start(&host.cap6_poll, UV_READABLE, on_capture);
	}
	return rc;
}

static void release_host(void)
{
	while (host.peers) {
		struct bridge *br = host.peers;

		host.peers = br->next_hosted;
		free_peer(br);
	}
	if (host.has_tun) {  /* the interface and its routes go with the descriptor */
		close(host.tun.fd);
		if (host.tun.cast) {
			close(host.tun.cap_fd);
			close(host.tun.mcast_fd);
		}
		room_cast6_close_fds(&host.tun);
		host.has_tun = false;
	}
}

int room_host_run(uv_loop_t *loop)
{
	int rc;

	memset(&host, 0, sizeof host);
	host.loop = loop;
	aux_room_host = &host;
	rc = uv_signal_init(loop, &host.sigterm);
	rc = rc ? rc : uv_signal_init(loop, &host.sigint);
	rc = rc ? rc : uv_signal_start(&host.sigterm, on_signal, SIGTERM);
	rc = rc ? rc : uv_signal_start(&host.sigint, on_signal, SIGINT);
	rc = rc ? rc : uv_timer_init(loop, &host.sweep);
	rc = rc ? rc : uv_timer_start(&host.sweep, on_sweep, ROOM_HOST_SWEEP_MS, ROOM_HOST_SWEEP_MS);
	rc = rc ? rc : uv_poll_init(loop, &host.attach, AUX_CONTROL_FD);
	if (rc == 0)
		host.attach_open = true;
	rc = rc ? rc : uv_poll_start(&host.attach, UV_READABLE, on_attach);
	if (rc) {
		log_error("the room's auxiliary cannot start: %s", insel_strerror(rc));
		host_stop("startup failed");
	}
	uv_run(loop, UV_RUN_DEFAULT);
	release_host();
	if (uv_loop_close(loop) != 0) {
		log_error("loop not clean at exit");
		return EXIT_FAILURE_GENERIC;
	}
	return rc ? EXIT_FAILURE_GENERIC : EXIT_OK;
}
