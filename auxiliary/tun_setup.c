/* The set-up of a network call's TUN interface, run from "bind" while the auxiliary is
 * still privileged (before privdrop_confine): everything here needs CAP_NET_ADMIN, and
 * nothing here runs once the relay does (tun_relay.c carries the packets).
 *
 * Open /dev/net/tun (IFF_TUN | IFF_NO_PI, and IFF_VNET_HDR with the TCP offloads unless
 * the host is big-endian or INSEL_TUN_OFFLOAD=off), take the first free name among HINT,
 * HINT1, HINT2, ... (at most 15 characters), set the MTU (path MTU minus the channel
 * overhead, chosen by the secondary), enable IPv6 on it only if a side has IPv6 prefixes,
 * bring it up and route the call's remote prefixes through it with the gateway's LAN
 * address as the preferred source (rtnetlink, common/sys/netlink.h). A trunk's routes go
 * to the main table; a host call's ("source_routing") to a table of its own, which rules
 * "from LOCAL to REMOTE" select, so that the call carries its own host's packets only and
 * leaves the rest of the LAN's traffic to the same hosts to a trunk, and rules "to REMOTE
 * iif lo" for the gateway's own packets (its ICMP errors about the call's packets go back
 * through the call unless a trunk has a route to REMOTE; docs/tun.md, "Routing"). The
 * interface and its routes are not persistent: when the descriptor closes (exit, crash,
 * kill -9; tun_release) the kernel deletes them. The rules stay: the secondary removes
 * them when this process has exited, since by then it has no privileges left to do it. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "auxiliary.h"
#include "ipv4.h"
#include "log.h"
#include "netlink.h"

#define TUN_DEVICE "/dev/net/tun"
#define TUN_NAME_TRIES 100
#define TUN_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
/* The legacy virtio header is in the host's order; tso.c reads it little-endian. */
#define VNET_OK (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)


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
static bool offloads_wanted(const struct aux_tun *t)
{
	const char *env = getenv("INSEL_TUN_OFFLOAD");

	/* A room's interface rewrites addresses too, and keeps them: tun_read_packets()
	 * hands the mapping whole packets with complete checksums (super-segments cut,
	 * partial checksums completed: the incremental update is wrong on a partial sum),
	 * and writes coalesce only what the mapping made (tun_relay.c). Without them a room carried a
	 * quarter of a host call's TCP (docs/rooms.md). */
	(void)t;
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
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offloads_wanted(t) ? IFF_VNET_HDR : 0);
		if (ioctl(fd, TUNSETIFF, &ifr) == 0) {
			snprintf(t->name, sizeof t->name, "%s", ifr.ifr_name);
			t->fd = fd;
			t->open = true;
			t->vnet = offloads_wanted(t);
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
static const struct ip_addr *route_source(const struct bridge *br,
					  const struct ip_prefix *p)
{
	if (p->addr.family == AF_INET6)
		return br->has_lan_addr6 ? &br->lan_addr6 : NULL;
	return &br->lan_addr;
}

static int route_remotes(struct bridge *br, char *why, size_t whylen)
{
	struct aux_tun *t = &br->tun;
	uint32_t table = t->table ? t->table : RT_TABLE_MAIN;
	char text[IP_STRLEN];

	for (size_t i = 0; i < t->nremote; i++) {
		int rc = nl_route_add(t->ifindex, &t->seen[i], route_source(br, &t->seen[i]),
				      table);

		if (rc) {
			snprintf(why, whylen, "cannot route %s through %s: %s%s",
				 ip_prefix_format(&t->seen[i], text, sizeof text), t->name,
				 strerror(-rc), rc == -EEXIST ? " (another route to it exists: "
				 "is another network call or trunk carrying it?)" : "");
			return rc;
		}
	}
	return 0;
}

/* A room's leg also routes the room's whole network into its interface, below the
 * members' /32s (a metric past any the gateway's own routes use, plus the interface's
 * index so that the legs of one room to several sites coexist): packets to a room
 * address nobody holds, or to the room's broadcast address, then reach a leg, which
 * drops and counts them, instead of leaving by the gateway's default route. The route
 * goes with the interface, whatever ends the auxiliary. */
#define ROOM_NET_METRIC_BASE 100000u

static int route_one_room_net(struct bridge *br, const struct ip_prefix *net,
			      const struct ip_addr *src, char *why, size_t whylen)
{
	struct aux_tun *t = &br->tun;
	char text[IP_STRLEN];
	int rc = nl_route_add_metric(t->ifindex, net, src, t->table ? t->table : RT_TABLE_MAIN,
				     ROOM_NET_METRIC_BASE + (uint32_t)t->ifindex);

	if (rc)
		snprintf(why, whylen, "cannot route the room's network %s through %s: %s",
			 ip_prefix_format(net, text, sizeof text), t->name, strerror(-rc));
	return rc;
}

/* The IPv4 network, and the IPv6 one of a room that has one (its source: the gateway's
 * IPv6 LAN address, if any). */
static int route_room_net(struct bridge *br, const struct aux_bind_tun *req, char *why,
			  size_t whylen)
{
	struct aux_tun *t = &br->tun;
	int rc = 0;

	if (req->has_room_net && t->nroom)
		rc = route_one_room_net(br, &req->room_net, &br->lan_addr, why, whylen);
	if (!rc && req->has_room_net6 && t->ipv6)
		rc = route_one_room_net(br, &req->room_net6,
					br->has_lan_addr6 ? &br->lan_addr6 : NULL, why, whylen);
	return rc;
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
		remote = &t->seen[k % t->nremote];
		if (local->addr.family != remote->addr.family)
			return false;
		*out = (struct nl_rule){.src = *local, .dst = *remote, .table = t->table,
					.priority = NL_RULE_PRIORITY,
					.protocol = NL_RULE_PROTOCOL};
		return true;
	}
	remote = &t->seen[(k - pairs) / 2];
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

/* A room's leg: the rules mapping each member's LAN address onto its room address (the
 * local /32 or /128 of the same index) and back, IPv4 and IPv6 apart, each list in the
 * map's order (a member's index among the IPv4 ones is its broadcast allowance's). */
static int room_rules(const struct aux_bind_tun *req, struct addr_map_rule *out, size_t *n,
		      struct addr_map_rule6 *out6, size_t *n6, char *why, size_t whylen)
{
	*n = *n6 = 0;
	for (size_t i = 0; i < req->nmap; i++) {
		bool v4 = req->map[i].family == AF_INET;
		struct ip_prefix lan = {.addr = req->map[i], .len = v4 ? 32 : 128};

		if (v4 ? addr_map_rule_make(&out[*n], &lan, &req->local[i]) != 0
		       : addr_map_rule6_make(&out6[*n6], &lan, &req->local[i]) != 0) {
			snprintf(why, whylen, "map[%zu] is not an address of its local prefix's "
				 "family and length", i);
			return -EINVAL;
		}
		++*(v4 ? n : n6);
	}
	return 0;
}

static int room_map(struct aux_tun *t, const struct aux_bind_tun *req, char *why,
		    size_t whylen)
{
	int rc;

	t->room = req->nmap > 0;
	if ((rc = room_rules(req, t->room_out, &t->nroom, t->room_out6, &t->nroom6, why,
			     whylen)))
		return rc;
	addr_map_rules_invert(t->room_out, t->room_in, t->nroom);
	addr_map_rules6_invert(t->room_out6, t->room_in6, t->nroom6);
	return 0;
}

/* The remote prefixes as the LAN sees them, and the rules that move addresses between
 * the two views (docs/overlap.md): a remote prefix inside map_real[i] is seen inside
 * map_as[i], host bits kept. */
static void set_mapping(struct aux_tun *t, const struct aux_bind_tun *req)
{
	t->nmap = 0;
	for (size_t i = 0; i < req->nremote_map; i++) {
		if (addr_map_rule_make(&t->to_mapped[t->nmap], &req->remote_real[i],
				       &req->remote_as[i]) != 0)
			continue;  /* the codec let only IPv4 pairs of one length through */
		addr_map_rules_invert(&t->to_mapped[t->nmap], &t->to_real[t->nmap], 1);
		t->nmap++;
	}
	t->map_out = (struct addr_map){NULL, 0, t->to_real, t->nmap};
	t->map_in = (struct addr_map){t->to_mapped, t->nmap, NULL, 0};
	for (size_t i = 0; i < t->nremote; i++) {
		uint32_t real = ipv4_from_addr(&t->remote[i].addr), seen;

		t->seen[i] = t->remote[i];
		if (t->remote[i].addr.family != AF_INET ||
		    !addr_map_translate(t->to_mapped, t->nmap, real, &seen))
			continue;
		for (int b = 0; b < 4; b++)
			t->seen[i].addr.bytes[b] = (uint8_t)(seen >> (24 - 8 * b));
	}
}

/* IPv6 is carried when a side has IPv6 prefixes, and always on a room's interface when
 * the room has an IPv6 network: the room's one interface is made by its first leg, and a
 * later leg (or a member joining in place) may bring the first IPv6 members. */
static void set_family6(struct bridge *br, const struct aux_bind_tun *req)
{
	struct aux_tun *t = &br->tun;

	t->ipv6 = has_family(t->local, t->nlocal, AF_INET6) ||
		  has_family(t->remote, t->nremote, AF_INET6) ||
		  (req->nmap && req->has_room_net6);
	if (br->has_lan_addr6) {
		memcpy(t->gateway6, br->lan_addr6.bytes, 16);
		t->has_gateway6 = true;
	}
}

int tun_create(struct bridge *br, const struct aux_bind_tun *req, char *why, size_t whylen)
{
	struct aux_tun *t = &br->tun;
	char cast_why[160];
	int rc;

	memcpy(t->local, req->local, sizeof t->local);
	memcpy(t->remote, req->remote, sizeof t->remote);
	t->nlocal = req->nlocal;
	t->nremote = req->nremote;
	set_mapping(t, req);
	t->mtu = req->mtu;
	if ((rc = room_map(t, req, why, whylen)) != 0)
		return rc;
	if (room_cast_open(br, req, cast_why, sizeof cast_why) != 0)
		log_warn("the room's broadcast and multicast are not carried: %s", cast_why);
	ratelimit_init(&t->icmp_limit, AUX_ICMP_RATE, AUX_ICMP_BURST, uv_now(br->loop));
	t->gateway = ipv4_from_addr(&br->lan_addr);
	set_family6(br, req);
	if ((rc = open_tun(t, req->name_hint, why, whylen)) != 0)
		return rc;
	t->ifindex = (int)if_nametoindex(t->name);
	if (t->ifindex == 0) {
		snprintf(why, whylen, "interface %s vanished", t->name);
		return -ENODEV;
	}
	set_ipv6(t->name, t->ipv6);
	if ((rc = nl_link_up(t->ifindex, t->mtu, AUX_TUN_TXQUEUELEN)) != 0) {
		snprintf(why, whylen, "cannot set MTU %u on %s and bring it up: %s", t->mtu,
			 t->name, strerror(-rc));
		return rc;
	}
	tun_queue_open(t);
	if (req->source_routing)
		t->table = nl_call_table(t->ifindex);
	/* Routes first: a rule over an empty table would let the call's packets fall
	 * through to the main table. A room's auxiliary routes none of its peers' members:
	 * the secondary routes each peer's as it binds (room_path.c). */
	if ((!br->hosted && (rc = route_remotes(br, why, whylen)) != 0) ||
	    (rc = route_room_net(br, req, why, whylen)) != 0 ||
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

/* A room's leg whose members changed (docs/rooms.md, "Membership changes"): the new
 * sides and map replace the old at once, between two packets, without touching the
 * channel. Routes are the secondary's to change (this process has no privileges left).
 * A member that stays at its index keeps its broadcast allowance; the others start
 * afresh. Nothing changes when the request cannot be applied. */
int tun_room_members(struct bridge *br, const struct aux_bind_tun *req, char *why,
		     size_t whylen)
{
	struct aux_tun *t = &br->tun;
	struct addr_map_rule out[AUX_TUN_PREFIXES];
	struct addr_map_rule6 out6[AUX_TUN_PREFIXES];
	size_t n, n6;

	if (!br->tun_mode || !t->open || !t->room || t->nmap || t->table) {
		snprintf(why, whylen, "this call is no room's leg");
		return -EINVAL;
	}
	if (room_rules(req, out, &n, out6, &n6, why, whylen))
		return -EINVAL;
	if (n6 && !t->ipv6) {
		snprintf(why, whylen, "the leg's interface was made without IPv6");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (i >= t->nroom || t->room_out[i].from != out[i].from)
			room_cast_member_new(br, i);
	memcpy(t->room_out, out, n * sizeof out[0]);
	t->nroom = n;
	addr_map_rules_invert(t->room_out, t->room_in, t->nroom);
	memcpy(t->room_out6, out6, n6 * sizeof out6[0]);
	t->nroom6 = n6;
	addr_map_rules6_invert(t->room_out6, t->room_in6, t->nroom6);
	room_cast_members_changed(br);
	memcpy(t->local, req->local, req->nlocal * sizeof req->local[0]);
	memcpy(t->remote, req->remote, req->nremote * sizeof req->remote[0]);
	t->nlocal = req->nlocal;
	t->nremote = req->nremote;
	memcpy(t->seen, t->remote, t->nremote * sizeof t->remote[0]);
	return 0;
}

/* A room's peer sharing the interface the room's first bind made (room_host.c): its
 * own members' tables and counters, the host's descriptors. */
int tun_adopt(struct bridge *br, const struct aux_bind_tun *req, const struct aux_tun *room,
	      char *why, size_t whylen)
{
	struct aux_tun *t = &br->tun;
	uint64_t now = uv_now(br->loop);
	int rc;

	memcpy(t->local, req->local, sizeof t->local);
	memcpy(t->remote, req->remote, sizeof t->remote);
	t->nlocal = req->nlocal;
	t->nremote = req->nremote;
	set_mapping(t, req);
	if ((rc = room_map(t, req, why, whylen)) != 0)
		return rc;
	t->mtu = room->mtu;
	t->fd = room->fd;
	t->vnet = room->vnet;  /* each peer writes the virtio header the interface expects */
	t->open = t->shared = true;
	snprintf(t->name, sizeof t->name, "%s", room->name);
	t->ifindex = room->ifindex;
	t->gateway = ipv4_from_addr(&br->lan_addr);
	set_family6(br, req);
	if (t->nroom6 && !room->ipv6) {
		snprintf(why, whylen, "the room's interface %s was made without IPv6", room->name);
		return -EINVAL;
	}
	ratelimit_init(&t->icmp_limit, AUX_ICMP_RATE, AUX_ICMP_BURST, now);
	t->cast = room->cast;
	t->cap_fd = room->cap_fd;
	t->mcast_fd = room->mcast_fd;
	t->room_bcast = room->room_bcast;
	t->room_hostmask = room->room_hostmask;
	t->lan_ifindex = room->lan_ifindex;
	t->cast6 = room->cast6;
	t->cap6_fd = room->cap6_fd;
	t->nl_fd = room->nl_fd;
	for (size_t i = 0; i < t->nroom; i++)
		room_cast_member_new(br, i);
	room_cast_members_changed(br);
	log_info("interface %s: a peer more, %zu member(s) of its", t->name, t->nremote);
	return 0;
}

void tun_release(struct bridge *br)
{
	if (br->tun.shared) {  /* the room's host closes them */
		br->tun.open = br->tun.cast = br->tun.cast6 = false;
		return;
	}
	if (br->tun.open) {
		close(br->tun.fd);
		br->tun.open = false;
	}
	room_cast_release(br);
}
