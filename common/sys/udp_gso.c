/* UDP GSO's control message and the reading of its refusals. See udp_gso.h. */
#include "udp_gso.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "log.h"

void udp_gso_attach(struct msghdr *h, void *cmsg, uint16_t segment)
{
	struct cmsghdr *c;

	h->msg_control = cmsg;
	h->msg_controllen = UDP_GSO_CMSG_SPACE;
	c = CMSG_FIRSTHDR(h);
	c->cmsg_level = IPPROTO_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof segment);
	memcpy(CMSG_DATA(c), &segment, sizeof segment);
}

/* No GSO here at all, for any destination. */
static bool gso_unsupported(int err)
{
	return err == EIO || err == EOPNOTSUPP || err == ENOPROTOOPT;
}

bool udp_gso_refused(struct udp_gso *g, int err, const char *sending)
{
	if (err == EINVAL)
		return true;
	if (!gso_unsupported(err))
		return false;
	if (!g->off)
		log_info("UDP GSO refused (%s): %s datagrams one by one", strerror(err), sending);
	g->off = true;
	return true;
}
