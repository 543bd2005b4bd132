/* Path MTU discovery for the call's path (the search itself is common/data/pmtud.h): the
 * WAN socket sends every datagram with the don't-fragment bit and without the kernel's
 * own path MTU cache (IP_PMTUDISC_PROBE), padded PROBE requests of the sizes the search
 * asks for go to the peer through channel 0, and their authenticated replies confirm
 * the sizes. The size found becomes every channel's datagram size (larger messages are
 * cut into fragments, so nothing is lost while the search runs); once the search is
 * complete, a network call's tunnel MTU follows it too: the TUN relay answers larger DF
 * packets with ICMP "too big" at that size, and clamps the MSS of TCP SYNs to fit.
 *
 * Probe ids with the top bit set are this file's, requests and replies alike; the path
 * logic's probes use the others. The search follows the path: when frames go to
 * another endpoint (the path logic chose another candidate, or the peer roamed), it
 * starts again from the base size. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "auxiliary.h"
#include "cmd.h"
#include "frame.h"
#include "log.h"
#include "pmtud.h"
#include "rand.h"

#define PMTU_ID_FLAG 0x80000000u   /* probe ids of path MTU discovery */
#define PMTU_PROBE_TIMEOUT_MS 500  /* the peer answers at once; a long path's round
				    * trip is well within it */

_Static_assert(PMTUD_MIN_PLPMTU >= CHANNEL_MIN_MTU, "the smallest size a channel takes");
_Static_assert(PMTUD_MAX_PLPMTU <= FRAME_MAX_DATAGRAM, "the largest a frame can be");

static uint8_t probe_buf[AUX_DGRAM_MAX];

/* ---- at bind, privileged ---- */

/* The MTU of the interface that holds addr, 0 if none does (a wildcard address). */
static unsigned interface_mtu(int fd, const struct ip_addr *addr)
{
	struct ifaddrs *list, *i;
	struct ifreq ifr;
	unsigned mtu = 0;

	if (getifaddrs(&list) != 0)
		return 0;
	for (i = list; i && !mtu; i = i->ifa_next) {
		struct ip_endpoint ep;

		if (!i->ifa_addr || ip_endpoint_from_sockaddr(i->ifa_addr, &ep) != 0 ||
		    !ip_addr_equal(&ep.addr, addr))
			continue;
		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", i->ifa_name);
		if (ioctl(fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0)
			mtu = (unsigned)ifr.ifr_mtu;
	}
	freeifaddrs(list);
	return mtu;
}

/* One WAN socket: DF without the kernel's cache; and its interface's MTU. */
static int prepare_socket(uv_udp_t *sock, const struct ip_addr *addr, unsigned *link_mtu)
{
	int probe4 = IP_PMTUDISC_PROBE, probe6 = IPV6_PMTUDISC_PROBE;
	uv_os_fd_t fd;
	int rc;

	if (uv_fileno((uv_handle_t *)sock, &fd) != 0)
		return -EBADF;
	if (addr->family == AF_INET6)
		rc = setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe6, sizeof probe6);
	else
		rc = setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe4, sizeof probe4);
	if (rc != 0)
		return -errno;
	*link_mtu = interface_mtu(fd, addr);
	return 0;
}

int pmtu_prepare(struct bridge *br)
{
	int rc = prepare_socket(&br->wan, &br->wan_addr, &br->wan_link_mtu);

	if (rc == 0 && br->has_wan6 && br->wan6_open)
		rc = prepare_socket(&br->wan6, &br->wan_addr6, &br->wan_link_mtu6);
	return rc;
}

/* ---- the search ---- */

/* A network call's tunnel MTU: the interface's, or less once the search found less. */
static unsigned tunnel_limit(const struct bridge *br)
{
	unsigned plpmtu = pmtud_plpmtu(&br->pmtud);

	if (!pmtud_settled(&br->pmtud) || plpmtu - FRAME_OVERHEAD >= br->tun.mtu)
		return br->tun.mtu;
	return plpmtu - FRAME_OVERHEAD;
}

/* The channels' datagram size, a reliable channel's segment size, and the tunnel's MTU
 * follow the search. */
static void follow_path(struct bridge *br)
{
	unsigned plpmtu = pmtud_plpmtu(&br->pmtud);
	char call[ID_STRLEN];

	for (unsigned i = 0; i < br->n_lan; i++) {
		if (channel_mtu(br->lan[i].ch) != plpmtu &&
		    channel_set_mtu(br->lan[i].ch, plpmtu) != 0)
			br->wan_errors++;
		stream_follow_path(&br->lan[i]);
	}
	if (br->tun_mode)
		tun_set_path_limit(br, tunnel_limit(br), pmtud_settled(&br->pmtud));
	if (plpmtu == br->pmtu_applied && pmtud_state(&br->pmtud) == br->pmtu_state_logged)
		return;
	log_info("call %s: path MTU %u bytes of UDP payload (%s%s)",
		 id_format(br->call_id, call), plpmtu, pmtud_state_name(pmtud_state(&br->pmtud)),
		 br->pmtud.below_base ? ", below the base size 1200" : "");
	br->pmtu_applied = plpmtu;
	br->pmtu_state_logged = pmtud_state(&br->pmtud);
}

static void send_probe(struct bridge *br, const struct pmtud_probe *pr, uint64_t now)
{
	struct channel *ch = br->lan[0].ch;
	struct frame_probe fp = {.kind = FRAME_PROBE_REQUEST, .id = PMTU_ID_FLAG | pr->id};
	long n = channel_probe(ch, &fp, pr->size, now, probe_buf, sizeof probe_buf);
	int rc;

	if (n < 0) {
		br->wan_errors++;
		return;
	}
	rc = sendq_send(br, &br->wan, channel_peer(ch), probe_buf, (size_t)n);
	if (rc == UV_EMSGSIZE)
		pmtud_refused(&br->pmtud, pr->id, now);  /* larger than our own interface */
	else if (rc != 0)
		br->wan_errors++;
}

static void setup(struct bridge *br, uint64_t now);

static bool same_endpoint(const struct ip_endpoint *a, const struct ip_endpoint *b)
{
	return a->port == b->port && ip_addr_equal(&a->addr, &b->addr);
}

static void on_pmtu_tick(uv_timer_t *t)
{
	struct bridge *br = t->data;
	uint64_t now = uv_now(br->loop), next = UINT64_MAX;
	struct pmtud_probe pr;

	if (br->state != AUX_RUNNING)
		return;
	if (channel_peer(br->lan[0].ch)->addr.family != br->pmtu_peer.addr.family) {
		setup(br, now);  /* another family: other headers, another socket */
	} else if (!same_endpoint(channel_peer(br->lan[0].ch), &br->pmtu_peer)) {
		br->pmtu_peer = *channel_peer(br->lan[0].ch);
		pmtud_restart(&br->pmtud, now);
	}
	if (br->last_data_ms + PMTUD_DEFAULT_CONFIRM_MS > now)
		pmtud_note_traffic(&br->pmtud, br->last_data_ms);
	/* A refused size gives way to the next at once: a few rounds at most. */
	for (int round = 0; round < 4 && pmtud_tick(&br->pmtud, now, &pr, &next); round++)
		send_probe(br, &pr, now);
	follow_path(br);
	uv_timer_start(t, on_pmtu_tick, next > now ? next - now : 1, 0);
}

/* A search for the path to the channel's peer, with that family's headers and link. */
static void setup(struct bridge *br, uint64_t now)
{
	const struct ip_endpoint *peer = channel_peer(br->lan[0].ch);
	bool ipv6 = peer->addr.family == AF_INET6;
	/* The socket of the peer's family (a dual-stack wan has one per family). */
	unsigned link = ipv6 && br->has_wan6 ? br->wan_link_mtu6 : br->wan_link_mtu;
	struct pmtud_params pp = {
		.ipv6 = ipv6,
		/* Unknown (a wildcard address): the interface refuses what it cannot send. */
		.link_mtu = link ? link : 65535,
		/* The operator's path_mtu stays the ceiling. */
		.max_plpmtu = br->pmtu_ceiling,
		.probe_timeout_ms = PMTU_PROBE_TIMEOUT_MS,
	};

	pmtud_init(&br->pmtud, &pp, now);
	br->pmtu_peer = *peer;
}

int pmtu_start(struct bridge *br)
{
	br->pmtu_ceiling = (unsigned)channel_mtu(br->lan[0].ch);
	setup(br, uv_now(br->loop));
	br->pmtu_on = true;
	return uv_timer_start(&br->pmtu_timer, on_pmtu_tick, 0, 0);
}

void pmtu_stop(struct bridge *br)
{
	uv_timer_stop(&br->pmtu_timer);
}

/* ---- probes from the peer ---- */

static void answer_request(struct bridge *br, struct aux_lan *l, const struct channel_msg *m,
			   const struct ip_endpoint *from, uint64_t now)
{
	struct frame_probe reply = {.kind = FRAME_PROBE_REPLY, .id = m->probe.id,
				    .size = (uint16_t)m->len};
	uint8_t out[FRAME_PROBE_MIN_DATAGRAM];
	long n = channel_probe(l->ch, &reply, sizeof out, now, out, sizeof out);

	if (n < 0 || sendq_send(br, &br->wan, from, out, (size_t)n) != 0)
		br->wan_errors++;
}

void pmtu_probe_received(struct bridge *br, struct aux_lan *l, const struct channel_msg *m,
			 const struct ip_endpoint *from, uint64_t now)
{
	if (!(m->probe.id & PMTU_ID_FLAG))
		return;  /* the path logic's */
	if (m->probe.kind == FRAME_PROBE_REQUEST) {
		answer_request(br, l, m, from, now);
		return;
	}
	if (!br->pmtu_on || l != &br->lan[0])
		return;
	if (pmtud_ack(&br->pmtud, m->probe.id & ~PMTU_ID_FLAG, m->probe.size, now))
		uv_timer_start(&br->pmtu_timer, on_pmtu_tick, 0, 0);  /* the next size now */
}

json_t *pmtu_stats_json(const struct bridge *br)
{
	json_t *j;

	if (!br->pmtu_on)
		return NULL;
	j = pmtud_status_json(&br->pmtud);
	if (j && br->wan_link_mtu)
		json_object_set_new(j, "link_mtu", json_integer(br->wan_link_mtu));
	if (j && br->tun_mode)
		json_object_set_new(j, "tunnel_mtu", json_integer(tunnel_limit(br)));
	return j;
}
