/* rtnetlink requests with acknowledgement, and dumps (see netlink.h). A request is built
 * in a fixed, aligned buffer: the netlink header, the family's fixed part, then
 * attributes (each a struct rtattr and its value, padded to 4 bytes). Replies are read
 * with the bounds-checked reader: the kernel is trusted, but no length is taken on faith.
 * Attribute values are in host byte order, so integers are copied, not read big-endian. */
#include "netlink.h"

#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"

#define NL_REQUEST_MAX 256
#define NL_REPLY_MAX 8192
#define NL_ALIGN4(n) (((n) + 3u) & ~3u)
#define NL_READ_ROUNDS 4096  /* receives per answer: bounds a dump (8 KiB each) */

struct nl_request {
	union {
		struct nlmsghdr hdr;
		uint8_t bytes[NL_REQUEST_MAX];
	} u;
};

static void *nl_begin(struct nl_request *r, uint16_t type, uint16_t flags, size_t fixed)
{
	memset(r, 0, sizeof *r);
	r->u.hdr.nlmsg_len = (uint32_t)NLMSG_LENGTH(fixed);
	r->u.hdr.nlmsg_type = type;
	r->u.hdr.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
	r->u.hdr.nlmsg_seq = 1;
	return r->u.bytes + NLMSG_HDRLEN;
}

static int nl_attr(struct nl_request *r, uint16_t type, const void *value, size_t len)
{
	size_t at = NL_ALIGN4(r->u.hdr.nlmsg_len), total = RTA_LENGTH(len);
	struct rtattr rta;

	if (at + NL_ALIGN4(total) > sizeof r->u.bytes)
		return -ENOSPC;
	rta.rta_len = (unsigned short)total;
	rta.rta_type = type;
	memcpy(r->u.bytes + at, &rta, sizeof rta);
	memcpy(r->u.bytes + at + RTA_LENGTH(0), value, len);
	r->u.hdr.nlmsg_len = (uint32_t)(at + NL_ALIGN4(total));
	return 0;
}

/* Called for each message of a dump with its type and payload; non-zero stops. */
typedef int (*nl_msg_fn)(uint16_t type, struct buf_reader *payload, void *ctx);

/* Skips the padding after an object of len bytes (the last one may lack it). */
static void skip_padding(struct buf_reader *r, size_t len)
{
	size_t pad = NL_ALIGN4(len) - len;

	br_skip(r, pad < br_remaining(r) ? pad : br_remaining(r));
}

/* The status that ends an answer: an acknowledgement's error field (0 or a negative
 * errno, as the kernel writes it) or the end of a dump (its status, if it has one). */
static int answer_status(uint16_t type, struct buf_reader *payload)
{
	int32_t err = 0;

	if (br_remaining(payload) >= sizeof err)
		br_copy(payload, &err, sizeof err);
	else if (type == NLMSG_ERROR)
		return -EPROTO;
	return err;
}

/* Reads the answer to request seq: the messages of a dump go to on_msg, until the
 * acknowledgement or the end of the dump. */
static int nl_read_answer(int fd, uint32_t seq, nl_msg_fn on_msg, void *ctx)
{
	static uint8_t reply[NL_REPLY_MAX];

	for (int rounds = 0; rounds < NL_READ_ROUNDS; rounds++) {
		ssize_t n = recv(fd, reply, sizeof reply, MSG_TRUNC);
		struct buf_reader r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if ((size_t)n > sizeof reply)
			return -EMSGSIZE;
		br_init(&r, reply, (size_t)n);
		while (br_remaining(&r) >= NLMSG_HDRLEN) {
			struct nlmsghdr h;
			struct buf_reader payload;
			int rc;

			if (br_copy(&r, &h, sizeof h) || h.nlmsg_len < NLMSG_HDRLEN ||
			    br_sub(&r, &payload, h.nlmsg_len - NLMSG_HDRLEN))
				return -EPROTO;
			skip_padding(&r, h.nlmsg_len);
			if (h.nlmsg_seq != seq)
				continue;
			if (h.nlmsg_type == NLMSG_ERROR || h.nlmsg_type == NLMSG_DONE)
				return answer_status(h.nlmsg_type, &payload);
			if (on_msg && (rc = on_msg(h.nlmsg_type, &payload, ctx)) != 0)
				return rc;
		}
	}
	return -EPROTO;
}

/* Sends r on fd and reads its answer. */
static int nl_transact_on(int fd, struct nl_request *r, nl_msg_fn on_msg, void *ctx)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

	if (sendto(fd, r->u.bytes, r->u.hdr.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof kernel) < 0)
		return -errno;
	return nl_read_answer(fd, r->u.hdr.nlmsg_seq, on_msg, ctx);
}

static int nl_open(time_t timeout_s, suseconds_t timeout_us)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct timeval tv = {.tv_sec = timeout_s, .tv_usec = timeout_us};

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static int nl_transact(struct nl_request *r, nl_msg_fn on_msg, void *ctx)
{
	int fd = nl_open(2, 0), rc;

	if (fd < 0)
		return fd;
	rc = nl_transact_on(fd, r, on_msg, ctx);
	close(fd);
	return rc;
}

static size_t addr_len(const struct ip_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

int nl_link_up(int ifindex, unsigned mtu, unsigned txqlen)
{
	struct nl_request r;
	struct ifinfomsg *ifi = nl_begin(&r, RTM_NEWLINK, 0, sizeof *ifi);
	uint32_t value = mtu, qlen = txqlen;
	int rc;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	rc = nl_attr(&r, IFLA_MTU, &value, sizeof value);
	if (rc == 0 && txqlen)
		rc = nl_attr(&r, IFLA_TXQLEN, &qlen, sizeof qlen);
	return rc ? rc : nl_transact(&r, NULL, NULL);
}

int nl_addr_add(int ifindex, const struct ip_addr *addr, unsigned prefix_len)
{
	struct nl_request r;
	struct ifaddrmsg *ifa = nl_begin(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
					 sizeof *ifa);
	int rc;

	ifa->ifa_family = (unsigned char)addr->family;
	ifa->ifa_prefixlen = (unsigned char)prefix_len;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	rc = nl_attr(&r, IFA_LOCAL, addr->bytes, addr_len(addr));
	rc = rc ? rc : nl_attr(&r, IFA_ADDRESS, addr->bytes, addr_len(addr));
	return rc ? rc : nl_transact(&r, NULL, NULL);
}

int nl_addr_del(int ifindex, const struct ip_addr *addr, unsigned prefix_len)
{
	struct nl_request r;
	struct ifaddrmsg *ifa = nl_begin(&r, RTM_DELADDR, 0, sizeof *ifa);
	int rc;

	ifa->ifa_family = (unsigned char)addr->family;
	ifa->ifa_prefixlen = (unsigned char)prefix_len;
	ifa->ifa_index = (unsigned)ifindex;
	rc = nl_attr(&r, IFA_LOCAL, addr->bytes, addr_len(addr));
	return rc ? rc : nl_transact(&r, NULL, NULL);
}

int nl_route_add(int ifindex, const struct ip_prefix *prefix, const struct ip_addr *prefsrc,
		 uint32_t table)
{
	return nl_route_add_metric(ifindex, prefix, prefsrc, table, 0);
}

int nl_route_add_metric(int ifindex, const struct ip_prefix *prefix,
			const struct ip_addr *prefsrc, uint32_t table, uint32_t metric)
{
	struct nl_request r;
	struct rtmsg *rtm = nl_begin(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *rtm);
	uint32_t oif = (uint32_t)ifindex;
	int rc;

	rtm->rtm_family = (unsigned char)prefix->addr.family;
	rtm->rtm_dst_len = (unsigned char)prefix->len;
	/* Ids past 255 only fit the attribute, which the kernel prefers anyway. */
	rtm->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	rc = nl_attr(&r, RTA_DST, prefix->addr.bytes, addr_len(&prefix->addr));
	rc = rc ? rc : nl_attr(&r, RTA_OIF, &oif, sizeof oif);
	rc = rc ? rc : nl_attr(&r, RTA_TABLE, &table, sizeof table);
	if (!rc && metric)
		rc = nl_attr(&r, RTA_PRIORITY, &metric, sizeof metric);
	if (!rc && prefsrc && prefsrc->family == prefix->addr.family)
		rc = nl_attr(&r, RTA_PREFSRC, prefsrc->bytes, addr_len(prefsrc));
	return rc ? rc : nl_transact(&r, NULL, NULL);
}

int nl_route_del(int ifindex, const struct ip_prefix *prefix, uint32_t table)
{
	struct nl_request r;
	struct rtmsg *rtm = nl_begin(&r, RTM_DELROUTE, 0, sizeof *rtm);
	uint32_t oif = (uint32_t)ifindex;
	int rc;

	rtm->rtm_family = (unsigned char)prefix->addr.family;
	rtm->rtm_dst_len = (unsigned char)prefix->len;
	rtm->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	rtm->rtm_scope = RT_SCOPE_NOWHERE;
	rc = nl_attr(&r, RTA_DST, prefix->addr.bytes, addr_len(&prefix->addr));
	rc = rc ? rc : nl_attr(&r, RTA_OIF, &oif, sizeof oif);
	rc = rc ? rc : nl_attr(&r, RTA_TABLE, &table, sizeof table);
	return rc ? rc : nl_transact(&r, NULL, NULL);
}

/* ---- policy rules ---- */

static int rule_request(struct nl_request *r, uint16_t type, uint16_t flags,
			const struct nl_rule *rule)
{
	struct fib_rule_hdr *frh = nl_begin(r, type, flags, sizeof *frh);
	uint32_t priority = rule->priority, table = rule->table;
	uint32_t suppress = rule->suppress_prefixlen;
	uint8_t protocol = rule->protocol;
	int rc;

	frh->family = (uint8_t)rule->src.addr.family;
	frh->src_len = (uint8_t)rule->src.len;
	frh->dst_len = (uint8_t)rule->dst.len;
	frh->table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	frh->action = FR_ACT_TO_TBL;
	rc = nl_attr(r, FRA_PRIORITY, &priority, sizeof priority);
	rc = rc ? rc : nl_attr(r, FRA_TABLE, &table, sizeof table);
	rc = rc ? rc : nl_attr(r, FRA_PROTOCOL, &protocol, sizeof protocol);
	if (!rc && rule->src.len)
		rc = nl_attr(r, FRA_SRC, rule->src.addr.bytes, addr_len(&rule->src.addr));
	if (!rc && rule->dst.len)
		rc = nl_attr(r, FRA_DST, rule->dst.addr.bytes, addr_len(&rule->dst.addr));
	if (!rc && rule->iif[0])
		rc = nl_attr(r, FRA_IIFNAME, rule->iif, strnlen(rule->iif, sizeof rule->iif) + 1);
	if (!rc && rule->suppress)
		rc = nl_attr(r, FRA_SUPPRESS_PREFIXLEN, &suppress, sizeof suppress);
	return rc;
}

int nl_rule_add(const struct nl_rule *rule, bool exclusive)
{
	struct nl_request r;
	int rc = rule_request(&r, RTM_NEWRULE,
			      (uint16_t)(NLM_F_CREATE | (exclusive ? NLM_F_EXCL : 0)), rule);

	return rc ? rc : nl_transact(&r, NULL, NULL);
}

int nl_rule_del(const struct nl_rule *rule)
{
	struct nl_request r;
	int rc = rule_request(&r, RTM_DELRULE, 0, rule);

	return rc ? rc : nl_transact(&r, NULL, NULL);
}

/* The next attribute: 1 with its type and a reader over its value, 0 at the end. */
static int next_attr(struct buf_reader *r, uint16_t *type, struct buf_reader *value)
{
	struct rtattr rta;

	if (br_remaining(r) < RTA_LENGTH(0))
		return 0;
	if (br_copy(r, &rta, sizeof rta) || rta.rta_len < RTA_LENGTH(0) ||
	    br_sub(r, value, rta.rta_len - RTA_LENGTH(0)))
		return -EPROTO;
	skip_padding(r, rta.rta_len);
	*type = rta.rta_type;
	return 1;
}

static void rule_attr(struct nl_rule *rule, uint16_t type, struct buf_reader *value)
{
	size_t alen = addr_len(&rule->src.addr);
	uint32_t suppress;

	switch (type) {
	case FRA_TABLE:
		br_copy(value, &rule->table, sizeof rule->table);
		break;
	case FRA_PRIORITY:
		br_copy(value, &rule->priority, sizeof rule->priority);
		break;
	case FRA_PROTOCOL:
		br_copy(value, &rule->protocol, sizeof rule->protocol);
		break;
	case FRA_SRC:
		br_copy(value, rule->src.addr.bytes, alen);
		break;
	case FRA_DST:
		br_copy(value, rule->dst.addr.bytes, alen);
		break;
	case FRA_IIFNAME:  /* NUL-terminated; one too long or unterminated is cut */
		br_copy(value, rule->iif,
			br_remaining(value) < sizeof rule->iif - 1 ? br_remaining(value)
								   : sizeof rule->iif - 1);
		rule->iif[sizeof rule->iif - 1] = '\0';
		break;
	case FRA_SUPPRESS_PREFIXLEN:  /* only there when set (the kernel's -1: none) */
		if (br_copy(value, &suppress, sizeof suppress) == 0 && suppress <= 128) {
			rule->suppress = true;
			rule->suppress_prefixlen = (uint8_t)suppress;
		}
		break;
	default:
		break;
	}
}

static int parse_rule(struct buf_reader *payload, struct nl_rule *rule)
{
	struct fib_rule_hdr frh;
	struct buf_reader value;
	uint16_t type;
	int more;

	memset(rule, 0, sizeof *rule);
	if (br_copy(payload, &frh, sizeof frh))
		return -EPROTO;
	rule->src.addr.family = rule->dst.addr.family = frh.family;
	rule->src.len = frh.src_len;
	rule->dst.len = frh.dst_len;
	rule->table = frh.table;
	while ((more = next_attr(payload, &type, &value)) == 1)
		rule_attr(rule, type, &value);
	return more;
}

struct rule_list {
	uint8_t protocol;
	struct nl_rule *out;
	size_t max, n;
	bool overflow;
};

static int take_rule(uint16_t type, struct buf_reader *payload, void *ctx)
{
	struct rule_list *l = ctx;
	struct nl_rule rule;
	int rc;

	if (type != RTM_NEWRULE)
		return 0;
	if ((rc = parse_rule(payload, &rule)) != 0)
		return rc;
	if (rule.protocol != l->protocol)
		return 0;
	if (l->n == l->max)
		l->overflow = true;
	else
		l->out[l->n++] = rule;
	return 0;
}

int nl_rule_list(int family, uint8_t protocol, struct nl_rule *out, size_t max, size_t *n)
{
	struct nl_request r;
	struct fib_rule_hdr *frh = nl_begin(&r, RTM_GETRULE, NLM_F_DUMP, sizeof *frh);
	struct rule_list l = {.protocol = protocol, .out = out, .max = max};
	int rc;

	frh->family = (uint8_t)family;
	rc = nl_transact(&r, take_rule, &l);
	*n = l.n;
	return rc ? rc : l.overflow ? -ENOBUFS : 0;
}

/* ---- the neighbour table ---- */

struct neigh_walk {
	int family;
	nl_neigh_fn fn;
	void *ctx;
	bool whole;  /* read the dump to its end even once fn has stopped the walk */
	bool stopped;
};

static int parse_neigh(struct buf_reader *payload, int family, struct nl_neigh *n)
{
	struct ndmsg ndm;
	struct buf_reader value;
	uint16_t type;
	int more;
	size_t alen = family == AF_INET ? 4 : 16;

	memset(n, 0, sizeof *n);
	if (br_copy(payload, &ndm, sizeof ndm))
		return -EPROTO;
	if (ndm.ndm_family != family)
		return 1;  /* not ours: skipped */
	n->addr.family = (uint8_t)family;
	n->ifindex = ndm.ndm_ifindex;
	n->state = ndm.ndm_state;
	while ((more = next_attr(payload, &type, &value)) == 1) {
		if (type == NDA_DST && br_remaining(&value) == alen)
			br_copy(&value, n->addr.bytes, alen);
		else if (type == NDA_LLADDR && br_remaining(&value) <= sizeof n->lladdr) {
			n->lllen = br_remaining(&value);
			br_copy(&value, n->lladdr, n->lllen);
		}
	}
	return more;
}

static int take_neigh(uint16_t type, struct buf_reader *payload, void *ctx)
{
	struct neigh_walk *w = ctx;
	struct nl_neigh n;
	int rc;

	if (type != RTM_NEWNEIGH || w->stopped)
		return 0;
	if ((rc = parse_neigh(payload, w->family, &n)) < 0)
		return rc;
	if (rc == 0 && n.lllen && (n.state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP)) == 0 &&
	    w->fn(&n, w->ctx)) {
		w->stopped = true;
		return w->whole ? 0 : 1;  /* found: the rest of the dump is not needed */
	}
	return 0;
}

int nl_neigh_each(int family, nl_neigh_fn fn, void *ctx)
{
	struct nl_request r;
	struct ndmsg *ndm = nl_begin(&r, RTM_GETNEIGH, NLM_F_DUMP, sizeof *ndm);
	struct neigh_walk w = {.family = family, .fn = fn, .ctx = ctx};
	int rc;

	ndm->ndm_family = (uint8_t)family;
	rc = nl_transact(&r, take_neigh, &w);
	return rc == 1 ? 0 : rc;
}

int nl_route_socket(void)
{
	return nl_open(0, NL_KEPT_TIMEOUT_MS * 1000);
}

int nl_neigh_each_on(int fd, int family, nl_neigh_fn fn, void *ctx)
{
	static uint32_t seq = 1;
	struct nl_request r;
	struct ndmsg *ndm = nl_begin(&r, RTM_GETNEIGH, NLM_F_DUMP, sizeof *ndm);
	/* The whole dump, always: a socket left in the middle of one would answer the next
	 * request with EBUSY. */
	struct neigh_walk w = {.family = family, .fn = fn, .ctx = ctx, .whole = true};

	r.u.hdr.nlmsg_seq = ++seq;  /* what an earlier walk left unread is skipped */
	ndm->ndm_family = (uint8_t)family;
	return nl_transact_on(fd, &r, take_neigh, &w);
}
