/* The relay side of a network call's TUN interface, once the process is confined (the
 * interface was made by tun_setup.c; the descriptor is all that is left of it here).
 *
 * A packet the kernel routed into the interface is carried only if its source is in the
 * local prefixes and its destination in the remote ones (or it is an ICMP error from this
 * gateway, which is what a router on the path sends); a packet from the peer only if its
 * source is remote and its destination local (or it is an ICMP error from the peer
 * gateway). Everything else is dropped and counted. The gateways' kernels are the routers
 * on both ends: they decrement TTL and send "time exceeded" (so traceroute shows both
 * gateways) and "fragmentation needed" for packets over the interface's MTU. Should a
 * packet over the MTU reach us anyway, we answer a DF one the same way. Once path MTU
 * discovery (pmtu.c) has found a path smaller than the interface's MTU allows, that
 * smaller size is the limit we answer against, and TCP SYNs from the LAN get their MSS
 * clamped to it, so that hosts learn the path's MTU without a black hole.
 *
 * With offloads on, a read may be a TCP super-segment, cut here into packets (tso.h), and
 * consecutive segments of one flow from the peer are coalesced into one write. IPv6
 * (ipv6.h) takes the same checks when a side of the call has IPv6 prefixes; an IPv6
 * packet over the MTU is always answered with "packet too big" (routers never fragment
 * it). IPv6 is never segmented or coalesced: TSO6 is not offered to the kernel.
 *
 * A leaf of the relay: sealed packets leave through batch.c and sendq.c; relay.c hands
 * over what the peer sent (tun_deliver) and asks for the end of a wake-up (tun_flush). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "auxiliary.h"
#include "frame.h"
#include "ipv4.h"
#include "ipv6.h"
#include "mss.h"
#include "tso.h"

_Static_assert(AUX_TUN_MAX_MTU == CHANNEL_MAX_MSG - FRAME_OVERHEAD,
	       "bind's largest MTU is what one channel message carries");

static uint8_t tun_rx[AUX_TUN_READ_MAX];
_Static_assert(AUX_TUN_READ_MAX == VNET_HDR_LEN + AUX_DGRAM_MAX, "a read: header and packet");
static uint8_t tun_tx[AUX_DGRAM_MAX];
static uint8_t tun_seg[AUX_DGRAM_MAX];  /* one TCP segment cut from a super-segment */
static uint8_t map_buf[AUX_DGRAM_MAX];  /* a packet from the peer, mapped (overlap.md) */
_Static_assert(AUX_DGRAM_MAX >= 65535, "map_buf holds any IPv4 packet");

/* Packets from the peer gathered into one super-segment for one write. */
static uint8_t coalesce_buf[TSO_MAX_PACKET];
static struct tso_coalesce coalesce;


/* From the LAN, the remote side as the LAN sees it (seen: mapped where mapped). */
static bool allowed_from_lan(const struct aux_tun *t, const struct ipv4_info *ip)
{
	if (!ipv4_in_prefixes(ip->dst, t->seen, t->nremote))
		return false;
	return ipv4_in_prefixes(ip->src, t->local, t->nlocal) ||
	       (ip->icmp_error && ip->src == t->gateway);
}

static bool allowed_from_peer(const struct aux_tun *t, const struct ipv4_info *ip)
{
	if (!ipv4_in_prefixes(ip->dst, t->local, t->nlocal))
		return false;
	return ipv4_in_prefixes(ip->src, t->remote, t->nremote) ||
	       (ip->icmp_error && t->remote_gateway && ip->src == t->remote_gateway);
}

static bool allowed6_from_lan(const struct aux_tun *t, const struct ipv6_info *ip)
{
	if (!ipv6_in_prefixes(ip->dst, t->remote, t->nremote))
		return false;
	return ipv6_in_prefixes(ip->src, t->local, t->nlocal) ||
	       (ip->icmp_error && t->has_gateway6 && memcmp(ip->src, t->gateway6, 16) == 0);
}

static bool allowed6_from_peer(const struct aux_tun *t, const struct ipv6_info *ip)
{
	if (!ipv6_in_prefixes(ip->dst, t->local, t->nlocal))
		return false;
	return ipv6_in_prefixes(ip->src, t->remote, t->nremote) ||
	       (ip->icmp_error && t->has_remote_gateway6 &&
		memcmp(ip->src, t->remote_gateway6, 16) == 0);
}

/* Writes one packet; with offloads on, after the virtio header h (NULL: an empty one). */
static void write_tun_hdr(struct aux_tun *t, const struct vnet_hdr *h, const uint8_t *pkt,
			  size_t len)
{
	uint8_t vh[VNET_HDR_LEN] = {0};
	struct iovec iov[2] = {{vh, sizeof vh}, {(void *)(uintptr_t)pkt, len}};
	ssize_t want = (ssize_t)len;
	ssize_t n;

	if (t->vnet) {
		if (h)
			vnet_hdr_encode(h, vh);
		want += VNET_HDR_LEN;
		n = writev(t->fd, iov, 2);
	} else {
		n = write(t->fd, pkt, len);
	}
	if (n != want)
		t->errors++;
}

static void write_tun(struct aux_tun *t, const uint8_t *pkt, size_t len)
{
	write_tun_hdr(t, NULL, pkt, len);
}

/* Answers a DF packet over the tunnel MTU as a router would, within the ICMP rate limit
 * (AUX_ICMP_RATE: a host flooding oversized packets gets some answers, the rest are
 * dropped unanswered, as by a kernel). The error comes from the
 * address the packet was for, as if the far end of the tunnel had sent it: written into
 * the interface, an error from one of the gateway's own addresses would be dropped by
 * its kernel as a martian (a local source arriving from outside), while the packet's
 * destination lies behind the tunnel for every reverse-path filter. Hosts take "too
 * big" from any source: they match it by the header it quotes. */
static void too_big(struct aux_tun *t, const uint8_t *pkt, size_t len,
		    const struct ipv4_info *ip, uint64_t now)
{
	uint8_t icmp[ICMP_ERROR_MAX];
	size_t n;

	t->too_big++;
	if (!(ip->frag & IPV4_FLAG_DF) || !ratelimit_allow(&t->icmp_limit, now))
		return;
	n = icmp_build_error(icmp, sizeof icmp, pkt, len, ip, ip->dst, ICMP_DEST_UNREACH,
			     ICMP_CODE_FRAG_NEEDED, (uint16_t)t->limit);
	if (n) {
		write_tun(t, icmp, n);
		t->icmp_sent++;
	}
}

/* IPv6 routers never fragment: a packet over the tunnel MTU is answered with "packet
 * too big", from the packet's destination as for IPv4 (to a multicast destination, from
 * our IPv6 LAN address: without one, nothing can be answered). */
static void too_big6(struct aux_tun *t, const uint8_t *pkt, size_t len,
		     const struct ipv6_info *ip, uint64_t now)
{
	uint8_t icmp[ICMPV6_ERROR_MAX];
	const uint8_t *src = ip->dst;
	size_t n;

	t->too_big++;
	if (ip->dst[0] == 0xff) {
		if (!t->has_gateway6)
			return;
		src = t->gateway6;
	}
	if (!ratelimit_allow(&t->icmp_limit, now))
		return;
	n = icmpv6_build_error(icmp, sizeof icmp, pkt, len, ip, src, ICMPV6_PACKET_TOO_BIG, 0,
			       t->limit6);
	if (n) {
		write_tun(t, icmp, n);
		t->icmp_sent++;
	}
}

struct tun_emit {
	struct bridge *br;
};

static int emit_fragment(void *ctx, const uint8_t *dgram, size_t len)
{
	struct tun_emit *e = ctx;

	return sendq_send(e->br, &e->br->wan, channel_peer(e->br->lan[0].ch), dgram, len);
}

static void carry(struct bridge *br, const uint8_t *pkt, size_t len, uint64_t now);

/* Seals one authorised packet of len bytes towards the peer. */
void tun_carry(struct bridge *br, const uint8_t *pkt, size_t len, uint64_t now)
{
	carry(br, pkt, len, now);
}

static void carry(struct bridge *br, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct aux_tun *t = &br->tun;
	struct channel *ch = br->lan[0].ch;
	long sealed;
	int rc;

	if (len + FRAME_OVERHEAD <= AUX_BATCH_FRAME && len <= channel_payload_max(ch)) {
		uint8_t *slot = batch_slot(br, &aux_to_wan, &br->wan, channel_peer(ch),
					   &t->errors);

		sealed = channel_seal_one(ch, pkt, len, now, slot, AUX_BATCH_FRAME);
		rc = sealed < 0 ? (int)sealed : 0;
		if (rc == 0)
			batch_commit(&aux_to_wan, (size_t)sealed);
	} else if (len <= channel_payload_max(ch)) {
		batch_flush(br, &aux_to_wan);  /* keep the order */
		sealed = channel_seal_one(ch, pkt, len, now, tun_tx, sizeof tun_tx);
		rc = sealed < 0 ? (int)sealed
				: sendq_send(br, &br->wan, channel_peer(ch), tun_tx, (size_t)sealed);
	} else {
		struct tun_emit e = {br};

		batch_flush(br, &aux_to_wan);
		rc = channel_seal(ch, pkt, len, now, emit_fragment, &e);
		rc = rc < 0 ? rc : 0;
	}
	if (rc) {
		t->errors++;
		return;
	}
	t->packets_from_lan++;
	t->bytes_from_lan += len;
	br->last_data_ms = now;
	path_data_sent(br, now);
}

/* Link-local traffic of the interface itself, which no router forwards (RFC 4291 2.5.6,
 * 2.7): from the unspecified address, to link-local unicast or to multicast of at most
 * link scope. The kernel sends some into the interface on its own — MLD reports for its
 * groups from :: — and they are not the LAN's traffic to refuse. */
static bool link_scoped6(const struct ipv6_info *ip)
{
	static const uint8_t unspecified[16];

	return memcmp(ip->src, unspecified, 16) == 0 ||
	       (ip->dst[0] == 0xfe && (ip->dst[1] & 0xc0) == 0x80) ||
	       (ip->dst[0] == 0xff && (ip->dst[1] & 0x0f) <= 2);
}

/* A room's leg, IPv6 on the way out: as room_from_lan, through the IPv6 rules. */
static bool room_from_lan6(struct aux_tun *t, struct ipv6_info *ip)
{
	if (!addr_map_translate6(t->room_out6, t->nroom6, ip->src, ip->src)) {
		t->room_nonmember++;
		return false;
	}
	ip->icmp_error = false;  /* the gateway's own errors do not cross into a room */
	return true;
}

/* Maps a room leg's IPv6 packet in place (out: source to the room address; in:
 * destination to the LAN address). False if it is not one that can be mapped. */
static bool room_map6(struct aux_tun *t, uint8_t *pkt, size_t len, bool out)
{
	struct addr_map6 m = out ? (struct addr_map6){t->room_out6, t->nroom6, NULL, 0}
				 : (struct addr_map6){NULL, 0, t->room_in6, t->nroom6};

	if (addr_map_packet6(&m, pkt, len) < 0) {
		t->malformed++;
		return false;
	}
	return true;
}

static void from_lan6(struct bridge *br, uint8_t *pkt, size_t len, uint64_t now)
{
	struct aux_tun *t = &br->tun;
	struct ipv6_info ip, checked;

	if (!t->ipv6) {
		t->not_ipv4++;
		return;
	}
	if (ipv6_parse(pkt, len, &ip) != 0) {
		t->malformed++;
		return;
	}
	if (link_scoped6(&ip)) {
		t->link_local++;
		return;
	}
	checked = ip;  /* a room's leg checks the mapped source; errors go to the real one */
	if ((t->room && !room_from_lan6(t, &checked)) || !allowed6_from_lan(t, &checked)) {
		t->unauthorised_from_lan++;
		return;
	}
	if (ip.total_len > t->limit6) {
		too_big6(t, pkt, ip.total_len, &ip, now);
		return;
	}
	/* TCP right after the fixed header: a SYN's MSS fits the path. */
	if (t->mss6 && ip.proto == TCP_PROTO && pkt[6] == TCP_PROTO &&
	    mss_is_syn(pkt, ip.total_len, IPV6_HEADER_LEN) &&
	    mss_clamp(pkt, ip.total_len, IPV6_HEADER_LEN, t->mss6))
		t->mss_clamped++;
	if (t->room && !room_map6(t, pkt, ip.total_len, true))
		return;
	carry(br, pkt, ip.total_len, now);
}

/* A room's leg, on the way out: only a member's packets go, from its room address. The
 * packet's checks (destination, size) are made on the mapped addresses. */
static bool room_from_lan(struct aux_tun *t, struct ipv4_info *ip)
{
	uint32_t room;

	if (!addr_map_translate(t->room_out, t->nroom, ip->src, &room)) {
		t->room_nonmember++;
		return false;
	}
	ip->src = room;
	ip->icmp_error = false;  /* the gateway's own errors do not cross into a room */
	return true;
}

/* A room's leg, on the way in: to a member's room address, written to its LAN one. */
static const uint8_t *room_to_lan(struct aux_tun *t, const struct ipv4_info *ip,
				  const struct channel_msg *m)
{
	static uint8_t mapped[AUX_DGRAM_MAX];
	struct addr_map in = {.dst = t->room_in, .n_dst = t->nroom};

	/* total_len is 16 bits: it fits. */
	if (!addr_map_translate(t->room_in, t->nroom, ip->dst, &(uint32_t){0})) {
		t->room_no_member++;
		return NULL;
	}
	memcpy(mapped, m->data, ip->total_len);
	if (addr_map_packet(&in, mapped, ip->total_len) < 0) {
		t->malformed++;
		return NULL;
	}
	return mapped;
}

/* One packet the kernel routed into the interface (in a buffer of ours: a SYN's MSS may
 * be rewritten in place). */
static void from_lan(struct bridge *br, uint8_t *pkt, size_t len, uint64_t now);

void tun_from_lan(struct bridge *br, uint8_t *pkt, size_t len, uint64_t now)
{
	from_lan(br, pkt, len, now);
}

static void from_lan(struct bridge *br, uint8_t *pkt, size_t len, uint64_t now)
{
	struct aux_tun *t = &br->tun;
	struct ipv4_info ip, checked;

	if (ipv4_parse(pkt, len, &ip) != 0) {
		t->malformed++;
		return;
	}
	if (ip.version == 6) {
		from_lan6(br, pkt, len, now);
		return;
	}
	checked = ip;  /* a room's leg checks the mapped source; errors go to the real one */
	if ((t->room && !room_from_lan(t, &checked)) || !allowed_from_lan(t, &checked)) {
		t->unauthorised_from_lan++;
		return;
	}
	len = ip.total_len;
	if (len > t->limit) {
		too_big(t, pkt, len, &ip, now);
		if (ip.frag & IPV4_FLAG_DF)
			return;
	}
	if (t->mss4 && ip.proto == TCP_PROTO && (ip.frag & 0x1fff) == 0 &&
	    mss_is_syn(pkt, len, ip.header_len) && mss_clamp(pkt, len, ip.header_len, t->mss4))
		t->mss_clamped++;
	if (t->room) {
		struct addr_map out = {.src = t->room_out, .n_src = t->nroom};

		if (addr_map_packet(&out, pkt, len) < 0) {
			t->malformed++;
			return;
		}
	}
	/* A mapped destination (and what an ICMP error quotes) back to the real one. */
	if (t->nmap && addr_map_packet(&t->map_out, pkt, len) > 0)
		t->mapped++;
	carry(br, pkt, len, now);
}

struct lan_emit {
	struct bridge *br;
	uint64_t now;
};

static int emit_segment(void *ctx, const uint8_t *pkt, size_t len)
{
	struct lan_emit *e = ctx;

	/* pkt lies in tun_rx or tun_seg, both ours. */
	from_lan(e->br, (uint8_t *)(uintptr_t)pkt, len, e->now);
	return 0;
}

void tun_read_packets(struct aux_tun *t, uint8_t *rx, size_t n, tun_packet_fn emit, void *ctx)
{
	struct vnet_hdr vh;

	if (!t->vnet) {
		emit(ctx, rx, n);
		return;
	}
	if (vnet_hdr_parse(rx, n, &vh) != 0) {
		t->malformed++;
		return;
	}
	if (tso_segment(&vh, rx + VNET_HDR_LEN, n - VNET_HDR_LEN, tun_seg, sizeof tun_seg, emit,
			ctx) < 0)
		t->malformed++;
}

static void on_tun_readable(uv_poll_t *h, int status, int events)
{
	struct bridge *br = h->data;
	struct aux_tun *t = &br->tun;
	struct lan_emit e = {br, 0};

	if (br->state != AUX_RUNNING)
		return;
	if (status < 0) {
		t->errors++;
		return;
	}
	uv_update_time(br->loop);
	e.now = uv_now(br->loop);
	for (unsigned i = 0; i < AUX_TUN_BATCH; i++) {
		ssize_t n = read(t->fd, tun_rx, sizeof tun_rx);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				t->errors++;
			break;
		}
		tun_read_packets(t, tun_rx, (size_t)n, emit_segment, &e);
	}
	batch_flush(br, &aux_to_wan);
}

/* Writes what tun_deliver gathered. */
void tun_flush(struct bridge *br)
{
	struct vnet_hdr vh;

	if (coalesce.len == 0)
		return;
	tso_coalesce_finish(&coalesce, &vh);
	write_tun_hdr(&br->tun, &vh, coalesce.buf, coalesce.len);
	tso_coalesce_reset(&coalesce);
}

/* Counts and writes an authorised packet from the peer: consecutive segments of one TCP
 * flow become one write (GRO's work), anything else is written alone, in order. */
static void write_from_peer(struct bridge *br, const uint8_t *pkt, size_t len, uint64_t now)
{
	br->tun.packets_to_lan++;
	br->tun.bytes_to_lan += len;
	br->last_data_ms = now;
	if (br->tun.vnet) {
		if (tso_coalesce_add(&coalesce, pkt, len))
			return;
		tun_flush(br);
		if (tso_coalesce_add(&coalesce, pkt, len))
			return;
	}
	write_tun(&br->tun, pkt, len);
}

void tun_write_packet(struct bridge *br, const uint8_t *pkt, size_t len, uint64_t now)
{
	write_from_peer(br, pkt, len, now);
}

static void deliver6(struct bridge *br, const struct channel_msg *m, uint64_t now)
{
	struct aux_tun *t = &br->tun;
	struct ipv6_info ip;

	if (!t->ipv6) {
		t->not_ipv4++;
		return;
	}
	if (ipv6_parse(m->data, m->len, &ip) != 0) {
		t->malformed++;
		return;
	}
	if (t->room && room_cast_deliver6(br, &ip, m->data))
		return;
	if (!allowed6_from_peer(t, &ip)) {
		t->unauthorised_from_peer++;
		return;
	}
	if (t->room) {  /* to a member's room address: written to its LAN one, in a copy */
		if (!addr_map_translate6(t->room_in6, t->nroom6, ip.dst, (uint8_t[16]){0})) {
			t->room_no_member++;
			return;
		}
		memcpy(map_buf, m->data, ip.total_len);
		if (room_map6(t, map_buf, ip.total_len, false))
			write_from_peer(br, map_buf, ip.total_len, now);
		return;
	}
	write_from_peer(br, m->data, ip.total_len, now);
}

void tun_deliver(struct bridge *br, const struct channel_msg *m, uint64_t now)
{
	struct aux_tun *t = &br->tun;
	struct ipv4_info ip;

	if (ipv4_parse(m->data, m->len, &ip) != 0) {
		t->malformed++;
		return;
	}
	if (ip.version == 6) {
		deliver6(br, m, now);
		return;
	}
	if (t->room && room_cast_deliver(br, &ip, m->data, now))
		return;
	if (!allowed_from_peer(t, &ip)) {
		t->unauthorised_from_peer++;
		return;
	}
	if (t->room) {
		const uint8_t *mapped = room_to_lan(t, &ip, m);

		if (mapped)
			write_from_peer(br, mapped, ip.total_len, now);
		return;
	}
	/* The peer's real source to its mapped one: the only view our LAN has of it
	 * (the channel's buffer is its own: mapped in a copy). */
	if (t->nmap) {  /* total_len (16 bits) fits map_buf */
		memcpy(map_buf, m->data, ip.total_len);
		if (addr_map_packet(&t->map_in, map_buf, ip.total_len) > 0)
			t->mapped++;
		write_from_peer(br, map_buf, ip.total_len, now);
		return;
	}
	write_from_peer(br, m->data, ip.total_len, now);
}

void tun_set_path_limit(struct bridge *br, unsigned limit, bool clamp)
{
	struct aux_tun *t = &br->tun;

	t->limit = limit < t->mtu ? limit : t->mtu;
	/* IPv6 hosts take no MTU below 1280: smaller paths carry their packets in several
	 * frames instead. */
	t->limit6 = t->limit >= IPV6_MIN_MTU || t->mtu < IPV6_MIN_MTU ? t->limit
		    : IPV6_MIN_MTU;
	t->mss4 = clamp && t->limit > MSS_IPV4_OVERHEAD ? (uint16_t)(t->limit - MSS_IPV4_OVERHEAD)
							 : 0;
	t->mss6 = clamp && t->limit6 > MSS_IPV6_OVERHEAD ? (uint16_t)(t->limit6 - MSS_IPV6_OVERHEAD)
							  : 0;
}

int tun_relay_start(struct bridge *br)
{
	int rc;

	tun_set_path_limit(br, br->tun.mtu, false);
	tso_coalesce_init(&coalesce, coalesce_buf);
	if (br->hosted)  /* the room's host reads the interface and the capture */
		return room_host_start(br);
	rc = uv_poll_init(br->loop, &br->tun.poll, br->tun.fd);
	if (rc)
		return rc;
	br->tun.poll_open = true;
	br->tun.poll.data = br;
	return uv_poll_start(&br->tun.poll, UV_READABLE, on_tun_readable);
}

json_t *tun_stats_json(const struct bridge *br)
{
	const struct aux_tun *t = &br->tun;

	json_t *j = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "interface", t->name, "mtu", (int)t->mtu,
			 "packets_from_lan", (json_int_t)t->packets_from_lan,
			 "bytes_from_lan", (json_int_t)t->bytes_from_lan,
			 "packets_to_lan", (json_int_t)t->packets_to_lan,
			 "bytes_to_lan", (json_int_t)t->bytes_to_lan,
			 "unauthorised_from_lan", (json_int_t)t->unauthorised_from_lan,
			 "unauthorised_from_peer", (json_int_t)t->unauthorised_from_peer,
			 "malformed", (json_int_t)t->malformed,
			 "not_ipv4", (json_int_t)t->not_ipv4,
			 "link_local", (json_int_t)t->link_local,
			 "too_big", (json_int_t)t->too_big,
			 "icmp_sent", (json_int_t)t->icmp_sent,
			 "errors", (json_int_t)t->errors);

	if (j)
		json_object_set_new(j, "queue_dropped", json_integer((json_int_t)t->queue_dropped));

	if (j && t->room) {
		room_cast_stats(br, j);
		json_object_set_new(j, "room_nonmember", json_integer((json_int_t)t->room_nonmember));
		json_object_set_new(j, "room_no_member", json_integer((json_int_t)t->room_no_member));
	}
	if (j) {
		json_object_set_new(j, "path_mtu", json_integer(t->limit));
		json_object_set_new(j, "mss_clamped", json_integer((json_int_t)t->mss_clamped));
		json_object_set_new(j, "icmp_rate_limited",
				    json_integer((json_int_t)t->icmp_limit.limited));
	}
	/* The path under the tunnel, for the call's counters (the whole search: "pmtu"). */
	if (j && br->pmtu_on) {
		json_object_set_new(j, "plpmtu", json_integer(pmtud_plpmtu(&br->pmtud)));
		json_object_set_new(j, "pmtu_state",
				    json_string(pmtud_state_name(pmtud_state(&br->pmtud))));
	}
	return j;
}

void tun_close(struct bridge *br)
{
	if (br->tun.poll_open && !uv_is_closing((uv_handle_t *)&br->tun.poll))
		uv_close((uv_handle_t *)&br->tun.poll, NULL);
}
