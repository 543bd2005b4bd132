/* A small rtnetlink client for the one job insel has for it: setting up a call's TUN
 * interface (MTU, up, routes towards the peer's prefixes through it) from the auxiliary
 * before it drops its privileges. Each function opens a NETLINK_ROUTE socket, sends one
 * request with NLM_F_ACK and waits for the kernel's acknowledgement, so the result is
 * known when it returns. No shelling out to ip(8). Returns 0 or a negative errno. */
#ifndef INSEL_NETLINK_H
#define INSEL_NETLINK_H

#include "addr.h"

/* Sets the MTU of interface ifindex and brings it up. */
int nl_link_up(int ifindex, unsigned mtu);
/* Adds addr/prefix_len to interface ifindex. */
int nl_addr_add(int ifindex, const struct ip_addr *addr, unsigned prefix_len);
/* Adds a route to prefix through interface ifindex (scope link, main table), with
 * prefsrc (may be NULL) as the source address for the gateway's own packets. An existing
 * route to the same prefix gives -EEXIST (nothing is replaced). */
int nl_route_add(int ifindex, const struct ip_prefix *prefix, const struct ip_addr *prefsrc);

#endif
