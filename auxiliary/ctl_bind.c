/* "bind": the first request (its codec, with every field, is common/aux_bind.h). Binds
 * one UDP socket per channel on the gateway's LAN address (falling back to a free port
 * when the requested one is busy) and one WAN socket shared by every channel of the call
 * (two on a dual-stack wan: one per family, the IPv6 one on the same port if free),
 * or for a network call creates its TUN interface (tun_setup.c), then drops privileges
 * before anything else is handled: once the parent hears "ok", the process is confined.
 * With STUN servers in the request, the reply waits for discover.c to learn the public
 * endpoint (a second bind meanwhile is refused).
 *
 * A request that does not parse changes nothing and may be retried; a socket that cannot
 * be bound or privileges that cannot be dropped end the process (exit 1) after the error
 * reply, since the parent cannot fix the gateway's addresses from here. */
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>

#include "auxiliary.h"
#include "cmd.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "wan_socket.h"
#include "wire_errors.h"

static int bound_port(const uv_udp_t *h, uint16_t *port)
{
	struct sockaddr_storage ss;
	struct ip_endpoint ep;
	int len = sizeof ss;
	int rc = uv_udp_getsockname(h, (struct sockaddr *)&ss, &len);

	rc = rc ? rc : ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &ep);
	if (rc == 0)
		*port = ep.port;
	return rc;
}

static int try_bind(uv_udp_t *h, const struct ip_addr *addr, uint16_t port)
{
	struct ip_endpoint ep = {.addr = *addr, .port = port};
	struct sockaddr_storage ss;

	ip_endpoint_to_sockaddr(&ep, &ss);
	/* No UV_UDP_REUSEADDR: a port in use must fail here, not be shared. */
	return uv_udp_bind(h, (struct sockaddr *)&ss, 0);
}

/* Binds addr:port on a fresh handle (marked open as soon as it exists, so that bridge_end
 * closes it); with fallback, a busy port gives way to a free one. */
static int bind_udp(struct bridge *br, uv_udp_t *h, bool *open, const struct ip_addr *addr,
		    uint16_t port, bool fallback, uint16_t *bound, char *why, size_t whylen)
{
	char text[IP_STRLEN];
	/* Every socket reads in batches (recvmmsg; relay.c). */
	int rc = uv_udp_init_ex(br->loop, h, AF_UNSPEC | UV_UDP_RECVMMSG);

	if (rc == 0) {
		*open = true;
		rc = try_bind(h, addr, port);
	}
	if (fallback && port != 0 && (rc == UV_EADDRINUSE || rc == UV_EACCES)) {
		log_info("UDP port %u on %s is busy: taking a free one", port,
			 ip_addr_format(addr, text, sizeof text));
		port = 0;
		rc = try_bind(h, addr, 0);  /* the same socket, still unbound */
	}
	rc = rc ? rc : bound_port(h, bound);
	if (rc)
		snprintf(why, whylen, "cannot bind UDP %s port %u: %s",
			 ip_addr_format(addr, text, sizeof text), port, insel_strerror(rc));
	return rc;
}

/* Bursts of a network call (a TCP window of full-size packets) or of a reliable channel
 * (the engine's congestion window, sent in one batch) must not overflow the WAN socket:
 * large buffers, forced past the sysctl limits while still privileged. With the default
 * 208 KiB, a reliable channel's receiver lost whole GRO batches to its own socket while it
 * waited for the CPU, and its sender took every such loss for congestion. (A room's
 * peers' sockets come so from the secondary.) */
static void grow_wan_buffers(uv_udp_t *sock)
{
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)sock, &fd) == 0)
		wan_socket_grow_buffers(fd);
}

/* A dual-stack wan's IPv6 socket: on the IPv4 socket's port when it is free there (one
 * port to look for in traces and firewall logs), else on any. */
static int bind_wan6(struct bridge *br, const struct aux_bind_request *req, char *why,
		     size_t whylen)
{
	br->wan6.data = br;
	return bind_udp(br, &br->wan6, &br->wan6_open, &req->wan_addr6, br->wan_port, true,
			&br->wan_port6, why, whylen);
}

static bool carries_stream(const struct aux_bind_request *req)
{
	for (unsigned i = 0; i < req->nchannels; i++)
		if (req->stream[i])
			return true;
	return false;
}

/* A room's peer (room_host.c): a WAN socket the secondary made and bound for it. */
static int open_hosted(struct bridge *br, uv_udp_t *h, bool *open, int *fd, uint16_t *port,
		       char *why, size_t whylen)
{
	int rc = uv_udp_init_ex(br->loop, h, AF_UNSPEC | UV_UDP_RECVMMSG);

	if (rc == 0) {
		*open = true;
		rc = uv_udp_open(h, *fd);
	}
	if (rc == 0)
		*fd = -1;  /* the handle's now */
	rc = rc ? rc : bound_port(h, port);
	if (rc)
		snprintf(why, whylen, "cannot take the WAN socket handed over: %s",
			 insel_strerror(rc));
	return rc;
}

/* A room's peer on a dual-stack wan: its IPv6 socket, if the secondary could make one. */
static int open_hosted_wan6(struct bridge *br, char *why, size_t whylen)
{
	br->wan6.data = br;
	return open_hosted(br, &br->wan6, &br->wan6_open, &br->hosted_wan6_fd, &br->wan_port6,
			   why, whylen);
}

static int bind_sockets(struct bridge *br, const struct aux_bind_request *req, char *why,
			size_t whylen)
{
	int rc = br->hosted ? open_hosted(br, &br->wan, &br->wan_open, &br->hosted_wan_fd,
					  &br->wan_port, why, whylen)
			    : bind_udp(br, &br->wan, &br->wan_open, &req->wan_addr, 0, false,
				       &br->wan_port, why, whylen);

	br->wan.data = br;
	if (br->hosted && (!req->tun || !req->tun_req.has_room_net)) {
		snprintf(why, whylen, "a room's auxiliary carries only the room's legs");
		return rc ? rc : INSEL_E_BAD_FIELD;
	}
	/* And only it: the secondary hands every leg to its room's process (docs/rooms.md,
	 * "One auxiliary per room"), whose host reads the interface and the capture. A
	 * call's own auxiliary has no code to read a room's capture. */
	if (!br->hosted && req->tun && req->tun_req.nmap) {
		snprintf(why, whylen, "a room's legs are carried only by the room's auxiliary "
			 "(run --room)");
		return rc ? rc : INSEL_E_BAD_FIELD;
	}
	/* A hosted peer's IPv6 socket is the one handed over, if any (leg_handover.h). */
	if (br->hosted)
		br->has_wan6 = br->has_wan6 && br->hosted_wan6_fd >= 0;
	if (rc == 0 && br->has_wan6)
		rc = br->hosted ? open_hosted_wan6(br, why, whylen) : bind_wan6(br, req, why, whylen);
	if (rc == 0 && (req->tun || carries_stream(req))) {
		grow_wan_buffers(&br->wan);
		if (br->wan6_open)
			grow_wan_buffers(&br->wan6);
	}
	if (rc == 0 && req->tun) {
		br->tun_mode = true;
		br->lan[0].bridge = br;
		br->lan[0].index = 0;
		br->n_lan = 1;
		if (br->lan_addr.family != AF_INET) {
			snprintf(why, whylen, "network calls need an IPv4 lan_addr");
			return INSEL_E_BAD_FIELD;
		}
		return br->hosted ? room_host_tun(br, &req->tun_req, why, whylen)
				  : tun_create(br, &req->tun_req, why, whylen);
	}
	for (unsigned i = 0; rc == 0 && i < req->nchannels; i++) {
		struct aux_lan *l = &br->lan[i];

		l->bridge = br;
		l->index = i;
		l->udp.data = l;
		br->n_lan = i + 1;
		rc = bind_udp(br, &l->udp, &l->udp_open, &req->lan_addr, req->lan_ports[i], true,
			      &l->port, why, whylen);
		/* A reliable channel: its party attaches over TCP on the same port. */
		if (rc == 0 && req->stream[i])
			rc = stream_prepare(br, l, why, whylen);
	}
	return rc;
}

/* A dual-stack wan: one host candidate per family, so that the peer can try both. */
static void host_candidates(const struct bridge *br, struct aux_bind_reply *reply)
{
	if (!br->has_wan6)
		return;
	reply->cand[0] = (struct candidate){.kind = CAND_HOST,
					    .ep = {.addr = br->wan_addr, .port = br->wan_port}};
	reply->cand[1] = (struct candidate){.kind = CAND_HOST,
					    .ep = {.addr = br->wan_addr6, .port = br->wan_port6}};
	reply->ncand = 2;
}

/* What was bound, for the parent: a host call's routing table too, since the parent
 * removes the call's rules once we are gone. */
static json_t *bind_reply(const struct bridge *br, json_int_t id)
{
	const struct aux_discover *d = &br->discover;
	struct aux_bind_reply reply = {.wan_port = br->wan_port, .wan_port6 = br->wan_port6,
				       .nchannels = br->n_lan, .tun = br->tun_mode};

	if (d->done) {
		memcpy(reply.cand, d->cand, sizeof reply.cand);
		reply.ncand = d->ncand;
		reply.has_nat = true;
		reply.mapping = d->mapping;
		memcpy(reply.mapped, d->mapped, sizeof reply.mapped);
		reply.nmapped = d->nmapped;
	} else {
		host_candidates(br, &reply);
	}
	for (unsigned i = 0; i < br->n_lan && !br->tun_mode; i++)
		reply.lan_ports[i] = br->lan[i].port;
	if (br->tun_mode) {
		snprintf(reply.interface, sizeof reply.interface, "%s", br->tun.name);
		reply.mtu = br->tun.mtu;
		reply.table = br->tun.table;
	}
	return aux_bind_reply_to_json(id, &reply);
}

void bind_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct bridge *br = ctx;
	struct aux_bind_request req;
	struct aux_identity who;
	char why[256], call[ID_STRLEN];
	int rc = aux_bind_request_from_json(msg, &req, why, sizeof why);

	if (rc) {
		control_reply_error(br, id, rc, NULL, "%s", why);
		return;
	}
	if (br->discover.active) {
		control_reply_error(br, id, 0, WIRE(BAD_STATE), "a bind is under way");
		return;
	}
	br->call_id = req.call_id;
	br->lan_addr = req.lan_addr;
	br->lan_addr6 = req.lan_addr6;
	br->has_lan_addr6 = req.has_lan_addr6;
	br->party = req.party;
	br->wan_addr = req.wan_addr;
	br->wan_addr6 = req.wan_addr6;
	br->has_wan6 = req.has_wan_addr6;
	if (bind_sockets(br, &req, why, sizeof why) != 0) {
		control_reply_error(br, id, 0, WIRE(BIND_FAILED), "%s", why);
		bridge_end(br, WIRE(ERROR), why, EXIT_FAILURE_GENERIC, false);
		return;
	}
	/* libuv probes recvmmsg once, with a socket of its own, on the first receive: have
	 * it probe now, since the allowlist entered below refuses new sockets (and libuv
	 * would then quietly read one datagram per call). The WAN socket's reader needs its
	 * descriptor duplicated before then too. */
	uv_udp_using_recvmmsg(&br->wan);
	/* The TCP leg's sockets too: the allowlist grants no new socket (tcp_leg.c). A
	 * room's peer was handed its own (the room's process is confined after its first
	 * bind). */
	if (br->hosted ? br->tcp.nfds == 0 : tcp_leg_prepare(br) != 0)
		log_warn("no TCP sockets for the relay's fallback: this call cannot use it");
	if (pmtu_prepare(br) != 0 || wan_rx_prepare(br) != 0) {
		control_reply_error(br, id, 0, WIRE(BIND_FAILED), "cannot prepare the WAN socket");
		bridge_end(br, WIRE(ERROR), "cannot prepare the WAN socket", EXIT_FAILURE_GENERIC, false);
		return;
	}
	if (br->hosted) {
		br->wan_link_mtu = room_host_wan_mtu(br->wan_addr.family, br->wan_link_mtu);
		if (br->has_wan6)
			br->wan_link_mtu6 = room_host_wan_mtu(AF_INET6, br->wan_link_mtu6);
	}
	discover_prepare(br, &req);
	/* Drop before replying: once the parent hears "ok", the process is confined (a
	 * room's process once, at its first bind). */
	who = (struct aux_identity){.user = req.user, .uid = req.uid, .has_uid = req.has_uid};
	if (br->hosted && room_host_confined()) {
		/* confined already */
	} else if (privdrop_confine(&who) != 0) {
		if (req.has_uid)
			control_reply_error(br, id, 0, WIRE(PRIVDROP_FAILED), "cannot drop privileges "
					    "to uid %u", (unsigned)req.uid);
		else
			control_reply_error(br, id, 0, WIRE(PRIVDROP_FAILED), "cannot drop privileges "
					    "to user '%s'", req.user ? req.user : "(current)");
		bridge_end(br, WIRE(ERROR), "cannot drop privileges", EXIT_FAILURE_GENERIC, false);
		return;
	} else if (br->hosted) {
		room_host_set_confined();
	}
	if (br->has_wan6)
		log_info("call %s: WAN ports %u (IPv4) and %u (IPv6), %u channel(s)",
			 id_format(br->call_id, call), br->wan_port, br->wan_port6, br->n_lan);
	else
		log_info("call %s: WAN port %u, %u channel(s)", id_format(br->call_id, call),
			 br->wan_port, br->n_lan);
	/* With STUN servers, the reply waits for their answers (discover.c). */
	if (br->discover.nserver && discover_start(br, id) == 0)
		return;
	bind_complete(br, id);
}

void bind_complete(struct bridge *br, json_int_t id)
{
	br->state = AUX_BOUND;
	control_reply(br, bind_reply(br, id));
}
