/* A room's broadcast and multicast (docs/rooms.md, "Broadcast and multicast"): what makes
 * a virtual LAN feel like a LAN (a game's discovery, mDNS, SSDP).
 *
 * Capture: a member's datagram to the room's broadcast address or to a multicast group
 * reaches its gateway as an Ethernet frame on the LAN (the broadcast address is no
 * on-link address of the member's, so it goes to its router like any room address; a
 * multicast frame floods the LAN). Routing cannot hand it to the room: several legs
 * (one per member site) would each need the same route, and a multicast packet is not
 * forwarded at all. So the room's auxiliary opens, at its first leg's bind and while
 * still root, a packet socket on the LAN interface (SOCK_DGRAM, IPv4) with a classic BPF
 * filter that lets through UDP to the room's broadcast address or to 224.0.0.0/4 only,
 * and asks for all multicast frames (PACKET_MR_ALLMULTI). The room's host (room_host.c)
 * reads it and gives every leg its own copy: the fan-out to every member site. Only a
 * room's auxiliary carries a room's legs (a call's own refuses one at bind), so nothing
 * here reads a capture itself. A datagram whose source is no local member is
 * dropped and counted, as are a member's datagrams over its rate (ROOM_CAST_RATE per
 * second, per member): a looping or flooding host fills no tunnel.
 *
 * Delivery at the other site: a broadcast goes to every local member as unicast to its
 * LAN address (written into the TUN like any room packet: the kernel forwards it); a
 * multicast datagram is sent onto the LAN as it is (source the sender's room address,
 * destination the group) through a raw socket opened at bind (IP_HDRINCL, multicast out
 * of the LAN address's interface, not looped back), so that a responder bound to the
 * group (an mDNS responder on 224.0.0.251:5353) hears it and answers the sender's room
 * address, which its gateway routes back into the room. What we send ourselves is seen by
 * our own capture as outgoing (PACKET_OUTGOING) and skipped; its source is no local
 * member anyway.
 *
 * IPv6 (a room with an IPv6 network): mDNS on ff02::fb and SSDP on ff02::c come from the
 * hosts' link-local addresses, which no map holds, so a datagram is told a member's by
 * the frame's link-layer source instead: a second packet socket (IPv6, the same kind of
 * filter: UDP right after the fixed header, to ff00::/8) hands over each frame with its
 * source address, and the neighbour table says which member's host that is — the entry
 * of its IPv6 LAN address (host6) on the LAN interface, else that of its IPv4 one, and
 * none when the two disagree (the gateway's join check asks for the same link-layer
 * address of both), as last read: an idle host's entries the kernel drops are kept, and
 * a host it knows nothing of is probed (read_member_macs). The table is read through a
 * routing netlink socket opened at bind: a confined process makes no socket, and one
 * without CAP_NET_ADMIN can only read through it. A frame whose link-layer address is
 * one member's passes from that member's IPv6 LAN address or a link-local one; anything
 * else is a non-member's. The source becomes the member's IPv6 room address, the UDP
 * checksum is computed in full (cast6.h), and the member's one allowance (its IPv4
 * index, the same slot) is charged.
 * At the other site the datagram is sent onto the LAN through that same packet socket,
 * to the group's Ethernet address: link-layer delivery onto the LAN's link is exactly a
 * link-scoped group's scope, a wider group's goes no further than the LAN, no route or
 * source check is involved, and the gateway's own stack does not get it back. Our own
 * capture skips what it sent (the kernel hands a packet socket none of its own), and
 * other rooms' captures see it as outgoing. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auxiliary.h"
#include "cast6.h"
#include "ipv4.h"
#include "ipv6.h"
#include "log.h"
#include "netlink.h"

#define ROOM_CAST_RATE 100    /* a member's broadcast and multicast datagrams a second */
#define ROOM_CAST_BURST 50
#define ROOM_MACS_MAX_AGE_MS 10000  /* the members' link-layer addresses are read again */
#define ROOM_MACS_RETRY_MS 1000     /* at most this often for frames of unknown addresses */
#define ROOM_PROBE_INTERVAL_MS 10000  /* an unknown member's host is probed at most so often */
#define ROOM_DISCARD_PORT 9

/* The LAN interface: the one holding the gateway's LAN address. */
static int lan_ifindex(const struct ip_addr *lan)
{
	struct ifaddrs *ifa, *i;
	int index = 0;

	if (getifaddrs(&ifa) != 0)
		return 0;
	for (i = ifa; i && !index; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    memcmp(&((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, lan->bytes, 4) == 0)
			index = (int)if_nametoindex(i->ifa_name);
	freeifaddrs(ifa);
	return index;
}

/* A packet socket on the LAN interface for protocol (ETH_P_IP, ETH_P_IPV6) that passes
 * what prog lets through, of every multicast frame too; sll then holds its address (the
 * interface's link-layer type). what names the capture in why. */
static int capture_open(int ifindex, uint16_t protocol, const struct sock_fprog *prog,
			struct sockaddr_ll *sll, const char *what, char *why, size_t whylen)
{
	socklen_t slen = sizeof *sll;
	struct packet_mreq mr = {.mr_ifindex = ifindex, .mr_type = PACKET_MR_ALLMULTI};
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(protocol));
	int err;

	*sll = (struct sockaddr_ll){.sll_family = AF_PACKET, .sll_protocol = htons(protocol),
				    .sll_ifindex = ifindex};
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "cannot open a packet socket for the LAN's %s: %s", what,
			 strerror(-err));
		return err;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, prog, sizeof *prog) != 0 ||
	    bind(fd, (struct sockaddr *)sll, sizeof *sll) != 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0 ||
	    getsockname(fd, (struct sockaddr *)sll, &slen) != 0) {
		err = -errno;
		snprintf(why, whylen, "cannot capture the LAN's %s: %s", what, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

/* The IPv4 capture: UDP to the room's broadcast address or to 224.0.0.0/4. */
static int capture_socket(int ifindex, uint32_t bcast, char *why, size_t whylen)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),                  /* protocol */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 16),                 /* destination */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, bcast, 2, 0),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0000000u),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xe0000000u, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 65535),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {sizeof code / sizeof code[0], code};
	struct sockaddr_ll sll;

	return capture_open(ifindex, ETH_P_IP, &prog, &sll, "broadcast", why, whylen);
}

/* The IPv6 capture: UDP right after the fixed header (next header 17, byte 6) to a
 * multicast group (ff00::/8, byte 24); it also sends the peer's datagrams onto the LAN. Its
 * link-layer addresses must be Ethernet's, which tell members apart. */
static int capture6_socket(int ifindex, char *why, size_t whylen)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 3),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 24),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xff, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 65535),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {sizeof code / sizeof code[0], code};
	struct sockaddr_ll sll;
	int fd = capture_open(ifindex, ETH_P_IPV6, &prog, &sll, "IPv6 multicast", why, whylen);

	if (fd >= 0 && (sll.sll_hatype != ARPHRD_ETHER || sll.sll_halen != 6)) {
		snprintf(why, whylen, "the LAN interface has no Ethernet addresses to tell "
			 "members by");
		close(fd);
		return -EPROTONOSUPPORT;
	}
	return fd;
}

static int send_socket(const struct ip_addr *lan, char *why, size_t whylen)
{
	struct in_addr out;
	unsigned char no = 0;
	int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);

	memcpy(&out, lan->bytes, 4);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &out, sizeof out) != 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &no, sizeof no) != 0) {
		int err = -errno;

		snprintf(why, whylen, "cannot open the LAN's multicast socket: %s",
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	return fd;
}

/* IPv6 multicast, when the room has an IPv6 network; without it (logged) IPv4's still
 * goes. */
static void room_cast6_open(struct aux_tun *t)
{
	char why[160];

	if ((t->cap6_fd = capture6_socket(t->lan_ifindex, why, sizeof why)) < 0) {
		log_warn("the room's IPv6 multicast is not carried: %s", why);
		return;
	}
	if ((t->nl_fd = nl_route_socket()) < 0) {
		log_warn("the room's IPv6 multicast is not carried: cannot open a routing "
			 "netlink socket: %s", strerror(-t->nl_fd));
		close(t->cap6_fd);
		return;
	}
	t->cast6 = true;
}

int room_cast_open(struct bridge *br, const struct aux_bind_tun *req, char *why,
		   size_t whylen)
{
	struct aux_tun *t = &br->tun;
	uint32_t net = ipv4_from_addr(&req->room_net.addr), mask;
	int ifindex;
	uint64_t now = uv_now(br->loop);

	/* Before the mask: a call that is no room's leg has no room_net (len 0, and a shift
	 * by 32 is undefined). */
	if (!req->has_room_net || t->nroom == 0)
		return 0;
	mask = req->room_net.len ? ~0u << (32 - req->room_net.len) : 0;
	ifindex = lan_ifindex(&br->lan_addr);
	t->room_bcast = net | ~mask;
	if (ifindex == 0) {
		snprintf(why, whylen, "no interface holds the LAN address");
		return -ENODEV;
	}
	if ((t->cap_fd = capture_socket(ifindex, t->room_bcast, why, whylen)) < 0 ||
	    (t->mcast_fd = send_socket(&br->lan_addr, why, whylen)) < 0) {
		int err = t->cap_fd < 0 ? t->cap_fd : t->mcast_fd;

		if (t->cap_fd >= 0)
			close(t->cap_fd);
		return err;
	}
	t->cast = true;
	t->lan_ifindex = ifindex;
	t->room_hostmask = ~mask;
	for (size_t i = 0; i < t->nroom; i++)
		ratelimit_init(&t->cast_limit[i], ROOM_CAST_RATE, ROOM_CAST_BURST, now);
	if (req->has_room_net6)
		room_cast6_open(t);
	room_cast_members_changed(br);
	return 0;
}

void room_cast_member_new(struct bridge *br, size_t i)
{
	ratelimit_init(&br->tun.cast_limit[i], ROOM_CAST_RATE, ROOM_CAST_BURST, uv_now(br->loop));
}

/* The UDP checksum of the datagram in full. A capture on the LAN sees what a host's
 * kernel sent before any device completed it: with checksum offload (a veth, most
 * NICs) the field holds only the pseudo-header's sum, which the receiver would refuse. */
static void udp_checksum(uint8_t *pkt, const struct ipv4_info *ip)
{
	size_t udp_len = (size_t)ip->total_len - ip->header_len;
	uint8_t *udp = pkt + ip->header_len;
	uint32_t sum = (ip->src >> 16) + (ip->src & 0xffff) + (ip->dst >> 16) +
		       (ip->dst & 0xffff) + IPPROTO_UDP + (uint32_t)udp_len;
	uint16_t csum;

	if (udp_len < 8)
		return;
	udp[6] = udp[7] = 0;
	csum = (uint16_t)~inet_checksum_fold(udp, udp_len, sum);
	if (csum == 0)
		csum = 0xffff;  /* zero would mean "no checksum" */
	udp[6] = (uint8_t)(csum >> 8);
	udp[7] = (uint8_t)csum;
}

/* One captured datagram: a local member's goes to the peer from its room address. */
bool room_cast_captured(struct bridge *br, uint8_t *pkt, size_t len, uint64_t now,
			bool limit)
{
	struct aux_tun *t = &br->tun;
	struct addr_map out = {.src = t->room_out, .n_src = t->nroom};
	struct ipv4_info ip;
	size_t member = 0;

	if (ipv4_parse(pkt, len, &ip) != 0 || ip.version != 4 || ip.proto != IPPROTO_UDP ||
	    (ip.frag & 0x3fff) != 0)  /* whole datagrams only: a fragment has no UDP header */
		return false;
	/* A routing or redundancy protocol's group: never carried, and not counted, as a
	 * datagram the filter does not capture. */
	if (ip.dst != t->room_bcast && !ipv4_group_carried(ip.dst))
		return false;
	while (member < t->nroom && t->room_out[member].from != ip.src)
		member++;
	if (member == t->nroom) {
		t->cast_nonmember++;
		return false;
	}
	if (limit && !ratelimit_allow(&t->cast_limit[member], now)) {
		t->cast_limited++;
		return false;
	}
	udp_checksum(pkt, &ip);
	if (addr_map_packet(&out, pkt, ip.total_len) < 0)
		return false;
	if (ip.dst == t->room_bcast)
		t->bcast_out++;
	else
		t->mcast_out++;
	tun_carry(br, pkt, ip.total_len, now);
	return true;
}

/* ---- IPv6 ---- */

/* The member's index among the IPv4 ones: the same slot (the room address's host
 * number) in both networks. Its allowance is the member's for both families. */
static bool member_ipv4_index(const struct aux_tun *t, size_t j, size_t *i)
{
	const uint8_t *a = t->room_out6[j].to;
	uint32_t slot = ((uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 |
			 a[15]) & t->room_hostmask;

	for (*i = 0; *i < t->nroom; ++*i)
		if ((t->room_out[*i].to & t->room_hostmask) == slot)
			return true;
	return false;
}

/* What the neighbour table says of each member: the link-layer address of its IPv6 LAN
 * address and of its IPv4 one, each where known. */
struct member_macs {
	const struct aux_tun *t;
	struct cast6_host_macs fresh[AUX_TUN_PREFIXES];
};

static bool take_member_mac(const struct nl_neigh *n, void *ctx)
{
	struct member_macs *m = ctx;
	const struct aux_tun *t = m->t;
	size_t i;

	if (n->ifindex != t->lan_ifindex || n->lllen != 6)
		return false;
	for (size_t j = 0; j < t->nroom6; j++) {
		if (n->addr.family == AF_INET6 && memcmp(n->addr.bytes, t->room_out6[j].from, 16) == 0) {
			memcpy(m->fresh[j].mac6, n->lladdr, 6);
			m->fresh[j].known6 = true;
		} else if (n->addr.family == AF_INET && member_ipv4_index(t, j, &i) &&
			   ipv4_from_addr(&n->addr) == t->room_out[i].from) {
			memcpy(m->fresh[j].mac4, n->lladdr, 6);
			m->fresh[j].known4 = true;
		}
	}
	return false;
}

/* What the neighbour table last said of each member's host, kept when the kernel drops
 * the entries of a host that has been idle (on a LAN of more than gc_thresh1 neighbours,
 * a stale entry goes after about a minute), so that an idle member's mDNS still passes:
 * its host's last answer stands until the table says otherwise (cast6_host_mac), as a
 * stale entry the kernel keeps would. That is no weaker than the table itself: an entry
 * is only ever what a host answered from, a new answer replaces it, and a member's two
 * addresses answering from different link-layer addresses still make neither count.
 * Kept for the process (one room), whichever leg reads, and only for the members of the
 * latest reading: a host that leaves the room is forgotten. */
static struct kept_host {
	uint8_t host6[16];
	uint32_t host4;  /* 0: none */
	struct cast6_host_macs macs;
	uint64_t probed_ms;  /* 0: never */
} kept[AUX_TUN_PREFIXES];
static size_t nkept;

static struct kept_host kept_host_of(const uint8_t host6[16], uint32_t host4)
{
	struct kept_host fresh = {.host4 = host4};

	for (size_t k = 0; k < nkept; k++)
		if (memcmp(kept[k].host6, host6, 16) == 0 && kept[k].host4 == host4)
			return kept[k];
	memcpy(fresh.host6, host6, 16);
	return fresh;
}

/* A member's host of which nothing is known (the kernel dropped its entries before this
 * process read them, or never had them: a member the operator placed, whose host has not
 * spoken to the gateway): the kernel is made to resolve its IPv4 address, by one empty
 * UDP datagram to its discard port through the raw socket (a confined process makes no
 * socket; source 0: the kernel's own address). The host's answer to the kernel's ARP
 * request enters the table, where the next reading finds it: only what the host answered
 * from, as ever. What the host does with the datagram does not matter. At most once per
 * ROOM_PROBE_INTERVAL_MS a host, so that a member's host that is gone costs little. */
static void probe_host(const struct aux_tun *t, struct kept_host *k, uint64_t now)
{
	uint8_t pkt[28] = {0x45, 0, 0, sizeof pkt, [8] = 64, [9] = IPPROTO_UDP};
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(k->host4)};

	if (!t->cast || k->host4 == 0 ||
	    (k->probed_ms && now - k->probed_ms < ROOM_PROBE_INTERVAL_MS))
		return;
	k->probed_ms = now ? now : 1;
	memcpy(pkt + 16, &to.sin_addr, 4);
	pkt[21] = pkt[23] = ROOM_DISCARD_PORT;  /* UDP ports; checksum 0: none */
	pkt[25] = 8;                            /* UDP length */
	(void)sendto(t->mcast_fd, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to);
}

/* Reads the members' link-layer addresses from the neighbour table (two dumps, a few
 * microseconds each on a LAN of some hundred hosts; bounded in time by the socket's
 * time-out) into what is kept of them. A member whose two addresses disagree has none;
 * one of which nothing is known is probed. */
static void read_member_macs(struct aux_tun *t, uint64_t now)
{
	struct member_macs m = {.t = t};
	struct kept_host now_kept[AUX_TUN_PREFIXES];
	int rc;

	_Static_assert(AUX_TUN_PREFIXES <= 32, "one bit a member");
	t->member_macs_read = true;
	t->member_macs_ms = now;
	if ((rc = nl_neigh_each_on(t->nl_fd, AF_INET6, take_member_mac, &m)) != 0 ||
	    (rc = nl_neigh_each_on(t->nl_fd, AF_INET, take_member_mac, &m)) != 0) {
		log_warn("cannot read the neighbour table for the room's IPv6 multicast: %s",
			 strerror(-rc));
		t->errors++;
		memset(m.fresh, 0, sizeof m.fresh);  /* what is kept stands */
	}
	t->member_mac_known = 0;
	for (size_t j = 0; j < t->nroom6; j++) {
		struct kept_host *k = &now_kept[j];
		size_t i;

		*k = kept_host_of(t->room_out6[j].from,
				  member_ipv4_index(t, j, &i) ? t->room_out[i].from : 0);
		if (cast6_host_mac(&k->macs, &m.fresh[j], t->member_mac[j]))
			t->member_mac_known |= 1u << j;
		else if (!k->macs.known6 && !k->macs.known4)
			probe_host(t, k, now);
	}
	memcpy(kept, now_kept, t->nroom6 * sizeof now_kept[0]);
	nkept = t->nroom6;
}

/* The member whose host sent the frame (cast6_member_of). */
static bool frame_member(const struct aux_tun *t, const struct cast6_info *ip,
			 const uint8_t mac[6], size_t *member)
{
	int j = cast6_member_of(t->room_out6, t->nroom6, (const uint8_t (*)[6])t->member_mac,
				t->member_mac_known, ip->src, mac);

	*member = j < 0 ? 0 : (size_t)j;
	return j >= 0;
}

static bool member_of_frame(struct aux_tun *t, const struct cast6_info *ip,
			    const uint8_t mac[6], uint64_t now, size_t *member)
{
	if (!t->member_macs_read || now - t->member_macs_ms >= ROOM_MACS_MAX_AGE_MS)
		read_member_macs(t, now);
	if (frame_member(t, ip, mac, member))
		return true;
	/* A member's host the table did not know yet (or that changed its address); a
	 * non-member flooding costs one reading a second. */
	if (now - t->member_macs_ms < ROOM_MACS_RETRY_MS)
		return false;
	read_member_macs(t, now);
	return frame_member(t, ip, mac, member);
}

bool room_cast_judge6(struct bridge *br, const uint8_t *pkt, size_t len,
		      const struct sockaddr_ll *from, uint64_t now, uint8_t member[16])
{
	struct aux_tun *t = &br->tun;
	struct cast6_info ip;
	size_t j, i;

	/* Not a datagram a room carries (or captured on another interface before the bind):
	 * not counted, as an IPv4 packet of another kind is never captured. */
	if (from->sll_ifindex != t->lan_ifindex || from->sll_halen != 6 ||
	    cast6_parse(pkt, len, &ip) != 0)
		return false;
	if (!member_of_frame(t, &ip, from->sll_addr, now, &j) || !member_ipv4_index(t, j, &i)) {
		t->cast_nonmember++;
		return false;
	}
	if (!ratelimit_allow(&t->cast_limit[i], now)) {
		t->cast_limited++;
		return false;
	}
	memcpy(member, t->room_out6[j].from, 16);
	return true;
}

static bool peer_has_ipv6(const struct aux_tun *t)
{
	for (size_t i = 0; i < t->nremote; i++)
		if (t->remote[i].addr.family == AF_INET6)
			return true;
	return false;
}

bool room_cast_carry6(struct bridge *br, uint8_t *pkt, size_t len, const uint8_t member[16],
		      uint64_t now)
{
	struct aux_tun *t = &br->tun;
	struct cast6_info ip;
	uint8_t room[16];

	/* A site with no member over IPv6 could not answer: nothing goes there. */
	if (!peer_has_ipv6(t) || cast6_parse(pkt, len, &ip) != 0 ||
	    !addr_map_translate6(t->room_out6, t->nroom6, member, room))
		return false;
	cast6_set_source(pkt, &ip, room);
	t->mcast_out++;
	tun_carry(br, pkt, ip.total_len, now);
	return true;
}

bool room_cast_deliver6(struct bridge *br, const struct ipv6_info *ip6, const uint8_t *pkt)
{
	struct aux_tun *t = &br->tun;
	struct cast6_info ip;
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IPV6),
				 .sll_ifindex = t->lan_ifindex, .sll_halen = 6};

	if (ip6->dst[0] != 0xff)
		return false;
	if (!t->cast6 || cast6_parse(pkt, ip6->total_len, &ip) != 0 ||
	    !ipv6_in_prefixes(ip.src, t->remote, t->nremote)) {
		t->unauthorised_from_peer++;
		return true;
	}
	cast6_group_mac(ip.dst, to.sll_addr);
	if (sendto(t->cap6_fd, pkt, ip.total_len, 0, (struct sockaddr *)&to, sizeof to) < 0)
		t->errors++;
	else
		t->mcast_in++;
	return true;
}

/* Read at once rather than at the next frame: a member's host that has just joined
 * spoke to its gateway, so the table knows it now, and it is kept from then on. */
void room_cast_members_changed(struct bridge *br)
{
	if (br->tun.cast6)
		read_member_macs(&br->tun, uv_now(br->loop));
	else
		br->tun.member_macs_read = false;
}

void room_capture_read(int fd, uint8_t *buf, size_t size, size_t max_len,
		       room_capture_fn fn, void *ctx)
{
	for (unsigned n = 0; n < AUX_TUN_BATCH; n++) {
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof from;
		ssize_t len = recvfrom(fd, buf, size, 0, (struct sockaddr *)&from, &fromlen);

		if (len < 0)
			break;
		/* What we sent ourselves is seen as outgoing. */
		if (from.sll_pkttype != PACKET_OUTGOING && (size_t)len <= max_len)
			fn(ctx, buf, (size_t)len, &from);
	}
}

static void deliver_broadcast(struct bridge *br, const uint8_t *pkt, size_t len, uint64_t now)
{
	static uint8_t copy[AUX_DGRAM_MAX];
	struct aux_tun *t = &br->tun;

	for (size_t i = 0; i < t->nroom; i++) {
		struct addr_map_rule to_member = {.from = t->room_bcast, .to = t->room_out[i].from,
						  .len = 32};
		struct addr_map m = {.dst = &to_member, .n_dst = 1};

		memcpy(copy, pkt, len);
		if (addr_map_packet(&m, copy, len) < 0)
			return;
		tun_write_packet(br, copy, len, now);
		t->bcast_in++;
	}
}

bool room_cast_deliver(struct bridge *br, const struct ipv4_info *ip, const uint8_t *pkt,
		       uint64_t now)
{
	struct aux_tun *t = &br->tun;
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(ip->dst)};

	if (!t->cast || (ip->dst != t->room_bcast && (ip->dst >> 28) != 0xe))
		return false;
	if (ip->proto != IPPROTO_UDP || !ipv4_in_prefixes(ip->src, t->remote, t->nremote) ||
	    (ip->dst != t->room_bcast && !ipv4_group_carried(ip->dst))) {
		t->unauthorised_from_peer++;
		return true;
	}
	if (ip->dst == t->room_bcast) {
		deliver_broadcast(br, pkt, ip->total_len, now);
		return true;
	}
	if (sendto(t->mcast_fd, pkt, ip->total_len, 0, (struct sockaddr *)&to, sizeof to) < 0)
		t->errors++;
	else
		t->mcast_in++;
	return true;
}

void room_cast_stats(const struct bridge *br, json_t *j)
{
	const struct aux_tun *t = &br->tun;

	if (!t->cast)
		return;
	json_object_set_new(j, "room_broadcast_out", json_integer((json_int_t)t->bcast_out));
	json_object_set_new(j, "room_multicast_out", json_integer((json_int_t)t->mcast_out));
	json_object_set_new(j, "room_broadcast_in", json_integer((json_int_t)t->bcast_in));
	json_object_set_new(j, "room_multicast_in", json_integer((json_int_t)t->mcast_in));
	json_object_set_new(j, "room_cast_nonmember", json_integer((json_int_t)t->cast_nonmember));
	json_object_set_new(j, "room_cast_limited", json_integer((json_int_t)t->cast_limited));
}

void room_cast6_close_fds(struct aux_tun *t)
{
	if (!t->cast6)
		return;
	close(t->cap6_fd);
	close(t->nl_fd);
	t->cast6 = false;
}

/* The capture of a room's first leg whose interface could not be made: the room's host
 * never took it (once it has, the leg's tun is shared and the host closes them). */
void room_cast_release(struct bridge *br)
{
	if (!br->tun.cast || br->tun.shared)
		return;
	close(br->tun.cap_fd);
	close(br->tun.mcast_fd);
	br->tun.cast = false;
	room_cast6_close_fds(&br->tun);
}
