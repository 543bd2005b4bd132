/* The second endpoint kind of the auxiliary: a TUN interface on the gateway, for network
 * calls (host to host, or a site-to-site trunk between two LANs).
 *
 * Set-up (from "bind", while still privileged): open /dev/net/tun (IFF_TUN | IFF_NO_PI),
 * take the first free name among HINT, HINT1, HINT2, ... (at most 15 characters), set
 * the MTU (path MTU minus the channel overhead, chosen by the secondary), bring it up and
 * route the call's remote prefixes through it with the gateway's LAN address as the
 * preferred source (rtnetlink, common/sys/netlink.h). A trunk's routes go to the main table;
 * a host call's ("source_routing") to a table of its own, which rules "from LOCAL to
 * REMOTE" select, so that the call carries its own host's packets only and leaves the
 * rest of the LAN's traffic to the same hosts to a trunk, and rules "to REMOTE iif lo"
 * for the gateway's own packets (its ICMP errors about the call's packets go back
 * through the call unless a trunk has a route to REMOTE; docs/tun.md, "Routing"). The
 * interface and its routes are not persistent: when the descriptor closes (exit, crash,
 * kill -9) the kernel deletes them. The rules stay: the secondary removes them when this
 * process has exited, since by then it has no privileges left to do it.
 *
 * Relay: a packet the kernel routed into the interface is carried only if its source is
 * in the local prefixes and its destination in the remote ones (or it is an ICMP error
 * from this gateway, which is what a router on the path sends); a packet from the peer
 * only if its source is remote and its destination local (or it is an ICMP error from
 * the peer gateway). Everything else is dropped and counted. The gateways' kernels are
 * the routers on both ends: they decrement TTL and send "time exceeded" (so traceroute
 * shows both gateways) and "fragmentation needed" for packets over the interface's MTU.
 * Should a packet over the MTU reach us anyway, we answer a DF one the same way.
 *
 * IPv6 (auxiliary/ipv6.h) takes the same checks when a side of the call has IPv6 prefixes
 * (IPv6 is then enabled on the interface, without an address of its own); an IPv6 packet
 * over the MTU is always answered with "packet too big" (routers never fragment it).
 * IPv6 is never segmented or coalesced: TSO6 is not offered to the kernel. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "auxiliary.h"
#include "err.h"
#include "frame.h"
#include "ipv4.h"
#include "ipv6.h"
#include "log.h"
#include "msg.h"
#include "netlink.h"
#include "tso.h"

#define TUN_DEVICE "/dev/net/tun"
#define TUN_NAME_TRIES 100
#define TUN_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
/* The legacy virtio header is in the host's order; tso.c reads it little-endian. */
#define VNET_OK (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

_Static_assert(AUX_TUN_MAX_MTU == CHANNEL_MAX_MSG - FRAME_OVERHEAD,
	       "bind's largest MTU is what one channel message carries");

static uint8_t tun_rx[VNET_HDR_LEN + AUX_DGRAM_MAX];
static uint8_t tun_tx[AUX_DGRAM_MAX];
static uint8_t tun_seg[AUX_DGRAM_MAX];  /* one TCP segment cut from a super-segment */

/* Packets from the peer gathered into one super-segment for one write. */
static uint8_t coalesce_buf[TSO_MAX_PACKET];
static struct tso_coalesce coalesce;

/* ---- creating the interface ---- */

/* HINT for try 0, then HINT1, HINT2...: the hint is shortened so the suffix fits. */
static void candidate_name(const char *hint, unsigned attempt, char *out, size_t outlen)
{
	char suffix[12] = "";  /* room for any unsigned */
	size_t keep;

	if (attempt)
		snprintf(suffix, sizeof suffix, "%u", attempt);
	keep = IFNAMSIZ - 1 - strlen(suffix);
	snprintf(out, outlen, "%.*s%s", (int)keep, hint, suffix);
}

/* Offloads unless the host is big-endian or INSEL_TUN_OFFLOAD=off (for comparisons). */
static bool offloads_wanted(void)
{
	const char *env = getenv("INSEL_TUN_OFFLOAD");

	return VNET_OK && !(env && strcmp(env, "off") == 0);
}

static int open_tun(struct aux_tun *t, const char *hint, char *why, size_t whylen)
{
	int fd = open(TUN_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", TUN_DEVICE, strerror(errno));
		return -errno;
	}
	for (unsigned i = 0; i < TUN_NAME_TRIES; i++) {
		struct ifreq ifr;

		memset(&ifr, 0, sizeof ifr);
		candidate_name(hint, i, ifr.ifr_name, sizeof ifr.ifr_name);
		/* A name in use by any interface is skipped: TUNSETIFF would attach to it. */
		if (if_nametoindex(ifr.ifr_name) != 0)
			continue;
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offloads_wanted() ? IFF_VNET_HDR : 0);
		if (ioctl(fd, TUNSETIFF, &ifr) == 0) {
			snprintf(t->name, sizeof t->name, "%s", ifr.ifr_name);
			t->fd = fd;
			t->open = true;
			t->vnet = offloads_wanted();
			/* Offloads: reads may then be TCP super-segments or need their checksum
			 * completed (tso.h); without them every read is one plain packet. */
			if (t->vnet && ioctl(fd, TUNSETOFFLOAD, (unsigned long)TUN_OFFLOADS) != 0)
				log_info("interface %s: no TCP offloads (%s)", t->name,
					 strerror(errno));
			return 0;
		}
		if (errno != EBUSY && errno != EEXIST && errno != EINVAL) {
			int err = -errno;

			snprintf(why, whylen, "cannot create TUN interface %s: %s", ifr.ifr_name,
				 strerror(errno));
			close(fd);
			return err;
		}
	}
	close(fd);
	snprintf(why, whylen, "no free interface name after '%s'", hint);
	return -EEXIST;
}

static void write_ipv6_conf(const char *name, const char *key, const char *value)
{
	char path[128];
	int fd;

	snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/%s", name, key);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		log_debug("cannot set %s = %s on %s", key, value, name);
	close(fd);
}

/* Without IPv6 prefixes, IPv6 stays off (no router solicitations into the tunnel). With
 * them it is on, but with no address of its own (no link-local one either: addr_gen_mode
 * none), no router advertisements taken and none asked for: the interface only forwards. */
static void set_ipv6(const char *name, bool on)
{
	if (on) {
		write_ipv6_conf(name, "addr_gen_mode", "1");
		write_ipv6_conf(name, "accept_ra", "0");
		write_ipv6_conf(name, "router_solicitations", "0");
		write_ipv6_conf(name, "accept_dad", "0");
	}
	write_ipv6_conf(name, "disable_ipv6", on ? "0" : "1");
}

static bool has_family(const struct ip_prefix *p, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].addr.family == family)
			return true;
	return false;
}

/* The preferred source of the gateway's own packets routed through the interface. */
static const struct ip_addr *route_source(const struct aux *a, const struct ip_prefix *p)
{
	if (p->addr.family == AF_INET6)
		return a->has_lan_addr6 ? &a->lan_addr6 : NULL;
	return &a->lan_addr;
}

static int route_remotes(struct aux *a, char *why, size_t whylen)
{
	struct aux_tun *t = &a->tun;
	uint32_t table = t->table ? t->table : RT_TABLE_MAIN;
	char text[IP_STRLEN];

	for (size_t i = 0; i < t->nremote; i++) {
		int rc = nl_route_add(t->ifindex, &t->remote[i], route_source(a, &t->remote[i]),
				      table);

		if (rc) {
			snprintf(why, whylen, "cannot route %s through %s: %s%s",
				 ip_prefix_format(&t->remote[i], text, sizeof text), t->name,
				 strerror(-rc), rc == -EEXIST ? " (another route to it exists: "
				 "is another network call or trunk carrying it?)" : "");
			return rc;
		}
	}
	return 0;
}

/* The rules of a host call, in the order they are added (docs/tun.md, "Routing"):
 * first "from LOCAL to REMOTE lookup TABLE" for each pair k of the local x remote grid
 * whose two prefixes share a family; then for each remote prefix, for the gateway's own
 * packets to it (its ICMP errors about the call's packets), "to REMOTE iif lo lookup
 * TABLE" and "to REMOTE iif lo lookup main suppress_prefixlength 0" (ahead of it by
 * priority: a trunk's route wins). Rule k of them, if there is one at k; *exclusive is
 * false for the last kind, which every host call to REMOTE adds a copy of. The secondary
 * counts on the call's own rule to REMOTE being added before its copy of the shared one
 * (secondary/rules.c). */
static bool call_rule(const struct aux_tun *t, size_t k, struct nl_rule *out,
		      bool *exclusive)
{
	size_t pairs = t->nlocal * t->nremote;
	const struct ip_prefix *local, *remote;

	*exclusive = true;
	if (k < pairs) {
		local = &t->local[k / t->nremote];
		remote = &t->remote[k % t->nremote];
		if (local->addr.family != remote->addr.family)
			return false;
		*out = (struct nl_rule){.src = *local, .dst = *remote, .table = t->table,
					.priority = NL_RULE_PRIORITY,
					.protocol = NL_RULE_PROTOCOL};
		return true;
	}
	remote = &t->remote[(k - pairs) / 2];
	*out = (struct nl_rule){.src.addr.family = remote->addr.family, .dst = *remote,
				.iif = NL_RULE_IIF_OWN, .table = t->table,
				.priority = NL_RULE_PRIORITY_OWN_CALL,
				.protocol = NL_RULE_PROTOCOL};
	if ((k - pairs) % 2 == 1) {
		out->table = RT_TABLE_MAIN;
		out->priority = NL_RULE_PRIORITY_OWN_MAIN;
		out->suppress = true;
		out->suppress_prefixlen = 0;
		*exclusive = false;
	}
	return true;
}

static size_t call_rule_count(const struct aux_tun *t)
{
	return t->nlocal * t->nremote + 2 * t->nremote;
}

/* The rule as ip-rule(8) shows it, for messages. */
static void call_rule_format(const struct nl_rule *rule, char *out, size_t outlen)
{
	char src[IP_STRLEN], dst[IP_STRLEN], table[16];

	if (rule->table == RT_TABLE_MAIN)
		snprintf(table, sizeof table, "main");
	else
		snprintf(table, sizeof table, "%u", (unsigned)rule->table);
	if (rule->src.len)
		ip_prefix_format(&rule->src, src, sizeof src);
	ip_prefix_format(&rule->dst, dst, sizeof dst);
	snprintf(out, outlen, "%s%s%sto %s%s%s lookup %s%s", rule->src.len ? "from " : "",
		 rule->src.len ? src : "", rule->src.len ? " " : "", dst,
		 rule->iif[0] ? " iif " : "", rule->iif, table,
		 rule->suppress ? " suppress_prefixlength 0" : "");
}

/* Takes back the first n rules, last first (a failed set-up leaves nothing behind). */
static void remove_rules(const struct aux_tun *t, size_t n)
{
	struct nl_rule rule;
	bool exclusive;

	while (n-- > 0)
		if (call_rule(t, n, &rule, &exclusive) && nl_rule_del(&rule) != 0)
			log_warn("cannot remove rule %zu of %s", n, t->name);
}

static int add_rules(struct aux_tun *t, char *why, size_t whylen)
{
	size_t total = call_rule_count(t), pairs = 0;
	char text[4 * IP_STRLEN];
	struct nl_rule rule;
	bool exclusive;

	for (size_t k = 0; k < t->nlocal * t->nremote; k++)
		pairs += call_rule(t, k, &rule, &exclusive);
	if (pairs == 0) {
		snprintf(why, whylen, "cannot route %s: no local and remote prefixes of one "
			 "family to join", t->name);
		return -EINVAL;
	}
	for (size_t k = 0; k < total; k++) {
		int rc;

		if (!call_rule(t, k, &rule, &exclusive))
			continue;
		if ((rc = nl_rule_add(&rule, exclusive)) != 0) {
			remove_rules(t, k);
			call_rule_format(&rule, text, sizeof text);
			snprintf(why, whylen, "cannot add the rule '%s' for %s: %s", text, t->name,
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int tun_create(struct aux *a, const struct aux_bind_tun *req, char *why, size_t whylen)
{
	struct aux_tun *t = &a->tun;
	int rc;

	memcpy(t->local, req->local, sizeof t->local);
	memcpy(t->remote, req->remote, sizeof t->remote);
	t->nlocal = req->nlocal;
	t->nremote = req->nremote;
	t->mtu = req->mtu;
	t->gateway = ipv4_from_addr(&a->lan_addr);
	t->ipv6 = has_family(t->local, t->nlocal, AF_INET6) ||
		  has_family(t->remote, t->nremote, AF_INET6);
	if (a->has_lan_addr6) {
		memcpy(t->gateway6, a->lan_addr6.bytes, 16);
		t->has_gateway6 = true;
	}
	if ((rc = open_tun(t, req->name_hint, why, whylen)) != 0)
		return rc;
	t->ifindex = (int)if_nametoindex(t->name);
	if (t->ifindex == 0) {
		snprintf(why, whylen, "interface %s vanished", t->name);
		return -ENODEV;
	}
	set_ipv6(t->name, t->ipv6);
	if ((rc = nl_link_up(t->ifindex, t->mtu)) != 0) {
		snprintf(why, whylen, "cannot set MTU %u on %s and bring it up: %s", t->mtu,
			 t->name, strerror(-rc));
		return rc;
	}
	if (req->source_routing)
		t->table = nl_call_table(t->ifindex);
	/* Routes first: a rule over an empty table would let the call's packets fall
	 * through to the main table. */
	if ((rc = route_remotes(a, why, whylen)) != 0 ||
	    (req->source_routing && (rc = add_rules(t, why, whylen)) != 0))
		return rc;
	if (t->table)
		log_info("interface %s: MTU %u, %zu remote prefix(es) routed in table %u for "
			 "the call's local prefixes only%s", t->name, t->mtu, t->nremote,
			 (unsigned)t->table, t->ipv6 ? ", IPv6 on" : "");
	else
		log_info("interface %s: MTU %u, %zu remote prefix(es) routed%s", t->name, t->mtu,
			 t->nremote, t->ipv6 ? ", IPv6 on" : "");
	return 0;
}

/* ---- relaying ---- */

static bool allowed_from_lan(const struct aux_tun *t, const struct ipv4_info *ip)
{
	if (!ipv4_in_prefixes(ip->dst, t->remote, t->nremote))
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

/* Answers a DF packet over the tunnel MTU as a router would. */
static void too_big(struct aux_tun *t, const uint8_t *pkt, size_t len,
		    const struct ipv4_info *ip)
{
	uint8_t icmp[ICMP_ERROR_MAX];
	size_t n;

	t->too_big++;
	if (!(ip->frag & IPV4_FLAG_DF))
		return;
	n = icmp_build_error(icmp, sizeof icmp, pkt, len, ip, t->gateway, ICMP_DEST_UNREACH,
			     ICMP_CODE_FRAG_NEEDED, (uint16_t)t->mtu);
	if (n) {
		write_tun(t, icmp, n);
		t->icmp_sent++;
	}
}

/* IPv6 routers never fragment: a packet over the tunnel MTU is answered with "packet
 * too big" (from our IPv6 LAN address: without one, nothing can be answered). */
static void too_big6(struct aux_tun *t, const uint8_t *pkt, size_t len,
		     const struct ipv6_info *ip)
{
	uint8_t icmp[ICMPV6_ERROR_MAX];
	size_t n;

	t->too_big++;
	if (!t->has_gateway6)
		return;
	n = icmpv6_build_error(icmp, sizeof icmp, pkt, len, ip, t->gateway6,
			       ICMPV6_PACKET_TOO_BIG, 0, t->mtu);
	if (n) {
		write_tun(t, icmp, n);
		t->icmp_sent++;
	}
}

struct tun_emit {
	struct aux *a;
};

static int emit_fragment(void *ctx, const uint8_t *dgram, size_t len)
{
	struct tun_emit *e = ctx;

	return sendq_send(e->a, &e->a->wan, channel_peer(e->a->lan[0].ch), dgram, len);
}

/* Seals one authorised packet of len bytes towards the peer. */
static void carry(struct aux *a, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct aux_tun *t = &a->tun;
	struct channel *ch = a->lan[0].ch;
	long sealed;
	int rc;

	if (len + FRAME_OVERHEAD <= AUX_BATCH_FRAME && len <= channel_payload_max(ch)) {
		uint8_t *slot = batch_slot(a, &aux_to_wan, &a->wan, channel_peer(ch),
					   &t->errors);

		sealed = channel_seal_one(ch, pkt, len, now, slot, AUX_BATCH_FRAME);
		rc = sealed < 0 ? (int)sealed : 0;
		if (rc == 0)
			batch_commit(&aux_to_wan, (size_t)sealed);
	} else if (len <= channel_payload_max(ch)) {
		batch_flush(a, &aux_to_wan);  /* keep the order */
		sealed = channel_seal_one(ch, pkt, len, now, tun_tx, sizeof tun_tx);
		rc = sealed < 0 ? (int)sealed
				: sendq_send(a, &a->wan, channel_peer(ch), tun_tx, (size_t)sealed);
	} else {
		struct tun_emit e = {a};

		batch_flush(a, &aux_to_wan);
		rc = channel_seal(ch, pkt, len, now, emit_fragment, &e);
		rc = rc < 0 ? rc : 0;
	}
	if (rc) {
		t->errors++;
		return;
	}
	t->packets_from_lan++;
	t->bytes_from_lan += len;
	a->last_data_ms = now;
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

static void from_lan6(struct aux *a, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct aux_tun *t = &a->tun;
	struct ipv6_info ip;

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
	if (!allowed6_from_lan(t, &ip)) {
		t->unauthorised_from_lan++;
		return;
	}
	if (ip.total_len > t->mtu) {
		too_big6(t, pkt, ip.total_len, &ip);
		return;
	}
	carry(a, pkt, ip.total_len, now);
}

/* One packet the kernel routed into the interface. */
static void from_lan(struct aux *a, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct aux_tun *t = &a->tun;
	struct ipv4_info ip;

	if (ipv4_parse(pkt, len, &ip) != 0) {
		t->malformed++;
		return;
	}
	if (ip.version == 6) {
		from_lan6(a, pkt, len, now);
		return;
	}
	if (!allowed_from_lan(t, &ip)) {
		t->unauthorised_from_lan++;
		return;
	}
	len = ip.total_len;
	if (len > t->mtu) {
		too_big(t, pkt, len, &ip);
		if (ip.frag & IPV4_FLAG_DF)
			return;
	}
	carry(a, pkt, len, now);
}

struct lan_emit {
	struct aux *a;
	uint64_t now;
};

static int emit_segment(void *ctx, const uint8_t *pkt, size_t len)
{
	struct lan_emit *e = ctx;

	from_lan(e->a, pkt, len, e->now);
	return 0;
}

static void on_tun_readable(uv_poll_t *h, int status, int events)
{
	struct aux *a = h->data;
	struct aux_tun *t = &a->tun;
	struct lan_emit e = {a, 0};

	if (a->state != AUX_RUNNING)
		return;
	if (status < 0) {
		t->errors++;
		return;
	}
	uv_update_time(a->loop);
	e.now = uv_now(a->loop);
	for (unsigned i = 0; i < AUX_TUN_BATCH; i++) {
		ssize_t n = read(t->fd, tun_rx, sizeof tun_rx);
		struct vnet_hdr vh;
		int rc;

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				t->errors++;
			break;
		}
		if (!t->vnet) {
			from_lan(a, tun_rx, (size_t)n, e.now);
			continue;
		}
		if (vnet_hdr_parse(tun_rx, (size_t)n, &vh) != 0) {
			t->malformed++;
			continue;
		}
		rc = tso_segment(&vh, tun_rx + VNET_HDR_LEN, (size_t)n - VNET_HDR_LEN, tun_seg,
				 sizeof tun_seg, emit_segment, &e);
		if (rc < 0)
			t->malformed++;
	}
	batch_flush(a, &aux_to_wan);
}

/* Writes what tun_deliver gathered. */
void tun_flush(struct aux *a)
{
	struct vnet_hdr vh;

	if (coalesce.len == 0)
		return;
	tso_coalesce_finish(&coalesce, &vh);
	write_tun_hdr(&a->tun, &vh, coalesce.buf, coalesce.len);
	tso_coalesce_reset(&coalesce);
}

/* Counts and writes an authorised packet from the peer: consecutive segments of one TCP
 * flow become one write (GRO's work), anything else is written alone, in order. */
static void write_from_peer(struct aux *a, const uint8_t *pkt, size_t len, uint64_t now)
{
	a->tun.packets_to_lan++;
	a->tun.bytes_to_lan += len;
	a->last_data_ms = now;
	if (a->tun.vnet) {
		if (tso_coalesce_add(&coalesce, pkt, len))
			return;
		tun_flush(a);
		if (tso_coalesce_add(&coalesce, pkt, len))
			return;
	}
	write_tun(&a->tun, pkt, len);
}

static void deliver6(struct aux *a, const struct channel_msg *m, uint64_t now)
{
	struct aux_tun *t = &a->tun;
	struct ipv6_info ip;

	if (!t->ipv6) {
		t->not_ipv4++;
		return;
	}
	if (ipv6_parse(m->data, m->len, &ip) != 0) {
		t->malformed++;
		return;
	}
	if (!allowed6_from_peer(t, &ip)) {
		t->unauthorised_from_peer++;
		return;
	}
	write_from_peer(a, m->data, ip.total_len, now);
}

void tun_deliver(struct aux *a, const struct channel_msg *m, uint64_t now)
{
	struct aux_tun *t = &a->tun;
	struct ipv4_info ip;

	if (ipv4_parse(m->data, m->len, &ip) != 0) {
		t->malformed++;
		return;
	}
	if (ip.version == 6) {
		deliver6(a, m, now);
		return;
	}
	if (!allowed_from_peer(t, &ip)) {
		t->unauthorised_from_peer++;
		return;
	}
	write_from_peer(a, m->data, ip.total_len, now);
}

int tun_relay_start(struct aux *a)
{
	int rc = uv_poll_init(a->loop, &a->tun.poll, a->tun.fd);

	tso_coalesce_init(&coalesce, coalesce_buf);
	if (rc)
		return rc;
	a->tun.poll_open = true;
	a->tun.poll.data = a;
	return uv_poll_start(&a->tun.poll, UV_READABLE, on_tun_readable);
}

json_t *tun_stats_json(const struct aux *a)
{
	const struct aux_tun *t = &a->tun;

	return json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
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
}

void tun_close(struct aux *a)
{
	if (a->tun.poll_open && !uv_is_closing((uv_handle_t *)&a->tun.poll))
		uv_close((uv_handle_t *)&a->tun.poll, NULL);
}

void tun_release(struct aux *a)
{
	if (a->tun.open) {
		close(a->tun.fd);
		a->tun.open = false;
	}
}
