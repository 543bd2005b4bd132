/* A room's broadcast and multicast (docs/rooms.md, "Broadcast and multicast"): what makes
 * a virtual LAN feel like a LAN (a game's discovery, mDNS, SSDP).
 *
 * Capture: a member's datagram to the room's broadcast address or to a multicast group
 * reaches its gateway as an Ethernet frame on the LAN (the broadcast address is no
 * on-link address of the member's, so it goes to its router like any room address; a
 * multicast frame floods the LAN). Routing cannot hand it to the room: several legs
 * (one per member site) would each need the same route, and a multicast packet is not
 * forwarded at all. So each leg's auxiliary opens, at bind and while still root, a
 * packet socket on the LAN interface (SOCK_DGRAM, IPv4) with a classic BPF filter that
 * lets through UDP to the room's broadcast address or to 224.0.0.0/4 only, and asks for
 * all multicast frames (PACKET_MR_ALLMULTI). Every leg gets its own copy, which is what
 * fan-out to every member site needs. A datagram whose source is no local member is
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
 * member anyway. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auxiliary.h"
#include "ipv4.h"
#include "log.h"

#define ROOM_CAST_RATE 100    /* a member's broadcast and multicast datagrams a second */
#define ROOM_CAST_BURST 50

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
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				  .sll_ifindex = ifindex};
	struct packet_mreq mr = {.mr_ifindex = ifindex, .mr_type = PACKET_MR_ALLMULTI};
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));

	if (fd < 0) {
		snprintf(why, whylen, "cannot open a packet socket: %s", strerror(errno));
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) {
		int err = -errno;

		snprintf(why, whylen, "cannot capture the LAN's broadcast: %s", strerror(errno));
		close(fd);
		return err;
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
	for (size_t i = 0; i < t->nroom; i++)
		ratelimit_init(&t->cast_limit[i], ROOM_CAST_RATE, ROOM_CAST_BURST, now);
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
	for (size_t i = 0; i + 1 < udp_len; i += 2)
		sum += (uint32_t)udp[i] << 8 | udp[i + 1];
	if (udp_len & 1)
		sum += (uint32_t)udp[udp_len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	csum = (uint16_t)~sum;
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

static void on_capture(uv_poll_t *h, int status, int events)
{
	static uint8_t pkt[AUX_DGRAM_MAX];
	struct bridge *br = h->data;
	uint64_t now = uv_now(br->loop);

	(void)events;
	if (status < 0)
		return;
	for (unsigned n = 0; n < AUX_TUN_BATCH; n++) {
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof from;
		ssize_t len = recvfrom(br->tun.cap_fd, pkt, sizeof pkt, 0,
				       (struct sockaddr *)&from, &fromlen);

		if (len < 0)
			break;
		if (from.sll_pkttype != PACKET_OUTGOING)
			room_cast_captured(br, pkt, (size_t)len, now, true);
	}
	batch_flush(br, &aux_to_wan);
}

int room_cast_start(struct bridge *br)
{
	struct aux_tun *t = &br->tun;
	int rc;

	if (!t->cast)
		return 0;
	if ((rc = uv_poll_init(br->loop, &t->cap_poll, t->cap_fd)) != 0)
		return rc;
	t->cap_poll_open = true;
	t->cap_poll.data = br;
	return uv_poll_start(&t->cap_poll, UV_READABLE, on_capture);
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
	if (ip->proto != IPPROTO_UDP || !ipv4_in_prefixes(ip->src, t->remote, t->nremote)) {
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

void room_cast_close(struct bridge *br)
{
	if (br->tun.cap_poll_open && !uv_is_closing((uv_handle_t *)&br->tun.cap_poll))
		uv_close((uv_handle_t *)&br->tun.cap_poll, NULL);
}

void room_cast_release(struct bridge *br)
{
	if (!br->tun.cast || br->tun.shared)  /* shared: the room's host closes them */
		return;
	close(br->tun.cap_fd);
	close(br->tun.mcast_fd);
	br->tun.cast = false;
}
