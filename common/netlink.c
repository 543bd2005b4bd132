/* rtnetlink requests with acknowledgement (see netlink.h). A request is built in a
 * fixed, aligned buffer: the netlink header, the family's fixed part, then attributes
 * (each a struct rtattr and its value, padded to 4 bytes). The reply is read with the
 * bounds-checked reader: the kernel is trusted, but no length is taken on faith. */
#include "netlink.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"

#define NL_REQUEST_MAX 256
#define NL_REPLY_MAX 8192
#define NL_ALIGN4(n) (((n) + 3u) & ~3u)

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

/* Reads replies until the acknowledgement of our request: its error field is 0 or a
 * negative errno (host byte order, as the kernel writes it). */
static int nl_read_ack(int fd, uint32_t seq)
{
	static uint8_t reply[NL_REPLY_MAX];

	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = recv(fd, reply, sizeof reply, 0);
		struct buf_reader r;

		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		br_init(&r, reply, (size_t)n);
		while (br_remaining(&r) >= NLMSG_HDRLEN) {
			struct nlmsghdr h;
			int32_t err;
			size_t skip;

			if (br_copy(&r, &h, sizeof h) || h.nlmsg_len < NLMSG_HDRLEN ||
			    h.nlmsg_len - NLMSG_HDRLEN > br_remaining(&r))
				return -EPROTO;
			if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_seq == seq) {
				if (br_copy(&r, &err, sizeof err))
					return -EPROTO;
				return err;
			}
			skip = NL_ALIGN4(h.nlmsg_len) - NLMSG_HDRLEN;
			br_skip(&r, skip < br_remaining(&r) ? skip : br_remaining(&r));
		}
	}
	return -EPROTO;
}

static int nl_transact(struct nl_request *r)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), rc;
	struct timeval tv = {.tv_sec = 2};

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (sendto(fd, r->u.bytes, r->u.hdr.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof kernel) < 0)
		rc = -errno;
	else
		rc = nl_read_ack(fd, r->u.hdr.nlmsg_seq);
	close(fd);
	return rc;
}

static size_t addr_len(const struct ip_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

int nl_link_up(int ifindex, unsigned mtu)
{
	struct nl_request r;
	struct ifinfomsg *ifi = nl_begin(&r, RTM_NEWLINK, 0, sizeof *ifi);
	uint32_t value = mtu;
	int rc;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	rc = nl_attr(&r, IFLA_MTU, &value, sizeof value);
	return rc ? rc : nl_transact(&r);
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
	return rc ? rc : nl_transact(&r);
}

int nl_route_add(int ifindex, const struct ip_prefix *prefix, const struct ip_addr *prefsrc)
{
	struct nl_request r;
	struct rtmsg *rtm = nl_begin(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *rtm);
	uint32_t oif = (uint32_t)ifindex;
	int rc;

	rtm->rtm_family = (unsigned char)prefix->addr.family;
	rtm->rtm_dst_len = (unsigned char)prefix->len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	rc = nl_attr(&r, RTA_DST, prefix->addr.bytes, addr_len(&prefix->addr));
	rc = rc ? rc : nl_attr(&r, RTA_OIF, &oif, sizeof oif);
	if (!rc && prefsrc && prefsrc->family == prefix->addr.family)
		rc = nl_attr(&r, RTA_PREFSRC, prefsrc->bytes, addr_len(prefsrc));
	return rc ? rc : nl_transact(&r);
}
