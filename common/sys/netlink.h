/* A small rtnetlink client for the jobs insel has for it: setting up a call's TUN
 * interface (MTU, up, routes towards the peer's prefixes through it) from the auxiliary
 * before it drops its privileges, and the policy rules that steer a host-to-host call's
 * traffic into the call's own routing table (added by the auxiliary, removed by the
 * secondary, which keeps CAP_NET_ADMIN). Each function opens a NETLINK_ROUTE socket,
 * sends one request with NLM_F_ACK (or one dump) and waits for the kernel's answer, so
 * the result is known when it returns. No shelling out to ip(8). Returns 0 or a negative
 * errno. */
#ifndef INSEL_NETLINK_H
#define INSEL_NETLINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

/* Source routing of host-to-host network calls (docs/tun.md, "Routing"): a call's routes
 * live in table NL_CALL_TABLE_BASE + the ifindex of its TUN interface, far above the
 * kernel's 253-255 and the small ids operators give their own tables; rules
 * "from LOCAL to REMOTE lookup TABLE" at NL_RULE_PRIORITY, before the main table's
 * 32766, send the call's packets there. The gateway's own packets to REMOTE (its ICMP
 * errors about the call's packets above all: the kernel looks their route up with no
 * source) match none of those; for them, "to REMOTE iif lo lookup main
 * suppress_prefixlength 0" just before (NL_RULE_PRIORITY_OWN_MAIN: a route more
 * specific than the default one, a trunk's, keeps them), then "to REMOTE iif lo lookup
 * TABLE" (NL_RULE_PRIORITY_OWN_CALL: otherwise into the call). ("iif lo" also matches
 * the reverse-path check of a packet for the gateway itself, not that of a forwarded
 * one, which looks up with the outgoing interface.) NL_RULE_PROTOCOL (not among the
 * kernel's RTPROT_* values nor iproute2's rt_protos) marks insel's rules, so that
 * leftovers can be found and removed. The kernel hands out ifindexes in increasing
 * order, so a table number is not soon given to another call. */
#define NL_CALL_TABLE_BASE 1000000000u
#define NL_RULE_PRIORITY 32000u
#define NL_RULE_PRIORITY_OWN_MAIN (NL_RULE_PRIORITY - 1u)
#define NL_RULE_PRIORITY_OWN_CALL NL_RULE_PRIORITY
#define NL_RULE_PROTOCOL 73u  /* 'I' */
#define NL_RULE_IIF_OWN "lo"  /* the input interface of the gateway's own packets */

static inline uint32_t nl_call_table(int ifindex)
{
	return NL_CALL_TABLE_BASE + (uint32_t)ifindex;
}

/* The interface whose call table is table, or 0 if table is not one. */
static inline int nl_call_table_ifindex(uint32_t table)
{
	return table > NL_CALL_TABLE_BASE && table - NL_CALL_TABLE_BASE <= INT32_MAX
	       ? (int)(table - NL_CALL_TABLE_BASE) : 0;
}

/* "from SRC to DST [iif IIF] lookup TABLE [suppress_prefixlength N]", SRC and DST of one
 * family (src.addr.family is the rule's, even when both lengths are 0: all). */
struct nl_rule {
	struct ip_prefix src, dst;
	char iif[IF_NAMESIZE];       /* "": any input interface; "lo": the gateway's own */
	uint32_t table, priority;
	uint8_t protocol;
	bool suppress;               /* suppress_prefixlength: a route found in table */
	uint8_t suppress_prefixlen;  /*   with a prefix this short or shorter is ignored */
};

/* Sets the MTU of interface ifindex (and its transmit queue's length, when txqlen is
 * not 0) and brings it up. */
int nl_link_up(int ifindex, unsigned mtu, unsigned txqlen);
/* Adds addr/prefix_len to interface ifindex. */
int nl_addr_add(int ifindex, const struct ip_addr *addr, unsigned prefix_len);
/* Removes addr/prefix_len from interface ifindex (-EADDRNOTAVAIL: it is not there). */
int nl_addr_del(int ifindex, const struct ip_addr *addr, unsigned prefix_len);
/* Adds a route to prefix through interface ifindex (scope link) in routing table table
 * (RT_TABLE_MAIN, or a call's table), with prefsrc (may be NULL) as the source address
 * for the gateway's own packets. An existing route to the same prefix in that table
 * gives -EEXIST (nothing is replaced). */
int nl_route_add(int ifindex, const struct ip_prefix *prefix, const struct ip_addr *prefsrc,
		 uint32_t table);
/* The same with a metric (route priority): routes to one prefix through different
 * interfaces may coexist when their metrics differ, and the lowest is used. */
int nl_route_add_metric(int ifindex, const struct ip_prefix *prefix,
			const struct ip_addr *prefsrc, uint32_t table, uint32_t metric);
/* Deletes the route to prefix through interface ifindex in table (-ESRCH: none). */
int nl_route_del(int ifindex, const struct ip_prefix *prefix, uint32_t table);
/* Adds a rule (action: look up rule->table). exclusive: the same rule already there gives
 * -EEXIST; otherwise one more copy of it is added (a delete removes one copy). */
int nl_rule_add(const struct nl_rule *rule, bool exclusive);
/* Deletes the rule with these selectors, priority, table, protocol and suppressor: one
 * copy of it (-ENOENT: none). */
int nl_rule_del(const struct nl_rule *rule);
/* The rules of family (AF_INET, AF_INET6) marked with protocol, into out; *n is how many.
 * -ENOBUFS if there were more than max (out then holds the first max). */
int nl_rule_list(int family, uint8_t protocol, struct nl_rule *out, size_t max, size_t *n);

/* One entry of the kernel's neighbour table (ARP for IPv4, neighbour discovery for
 * IPv6): an address on a link and the link-layer address it answered from. */
struct nl_neigh {
	struct ip_addr addr;
	int ifindex;
	uint16_t state;              /* NUD_* */
	uint8_t lladdr[16];
	size_t lllen;
};
/* Returns true to stop the walk. */
typedef bool (*nl_neigh_fn)(const struct nl_neigh *n, void *ctx);
/* Calls fn for each entry of family (AF_INET, AF_INET6) with a link-layer address that
 * answered (reachable, stale, delay, probe or permanent; not incomplete or failed),
 * until fn returns true. 0 or a negative errno. */
int nl_neigh_each(int family, nl_neigh_fn fn, void *ctx);

/* A NETLINK_ROUTE socket to keep, for a process that will make no socket later (a
 * confined auxiliary): it may still read the kernel's tables through it, though, having
 * no CAP_NET_ADMIN, change nothing. An answer not there within NL_KEPT_TIMEOUT_MS fails
 * with -EAGAIN. The descriptor, or a negative errno. */
#define NL_KEPT_TIMEOUT_MS 200
int nl_route_socket(void);
/* nl_neigh_each over such a socket (the whole dump is read even once fn stops). */
int nl_neigh_each_on(int fd, int family, nl_neigh_fn fn, void *ctx);

#endif
