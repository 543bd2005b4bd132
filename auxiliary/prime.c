/* Priming: how two gateways both behind port-preserving NATs (Linux `masquerade`, most
 * home routers) still punch a direct path (docs/nat.md, "Both behind port-preserving
 * NATs").
 *
 * Without it, the side whose auxiliary starts first (the callee: its answer goes out only
 * once its auxiliary probes) sends full probes to the other side's public endpoint before
 * that side has sent anything. The other router takes the unsolicited datagram as the
 * start of a connection of its own and keeps it (conntrack: UNREPLIED, 30 s); when its
 * gateway then sends to the same endpoint, that tuple is taken, the NAT gives the mapping
 * another port, and the first router, which has only ever sent to the original port,
 * drops everything from it: only the relay gets through.
 *
 * So the side that starts first sends its probes to the peer's srflx candidates with a
 * small IP TTL (IPv6: hop limit): enough to leave its own NAT, which then holds a mapping
 * toward the peer, and to die on the way before reaching the peer's router, which
 * therefore keeps no state. When the peer starts, its probes (full TTL) leave its NAT,
 * match our mapping's reply direction at ours and get through; the first authenticated
 * probe heard from the peer directly ends priming, and every probe after it goes with the
 * full TTL (the peer's NAT has mapped toward us by then: its probes to all our candidates
 * leave together). If nothing comes within the window (the peer's NAT maps per
 * destination, or priming could not pass ours), priming ends anyway and the path logic
 * goes on as without it.
 *
 * The side that starts second needs none: the first has already opened its NAT, and its
 * own first probe opens ours. The secondary asks for priming in "start" ("prime": TTL and
 * window) only for the callee; the auxiliary primes only when both sides are behind NAT
 * (we learnt a srflx candidate of the family, and the peer offered one that is not one of
 * its host candidates), so a public side costs nothing.
 *
 * The TTL rides on the one datagram (IP_TTL / IPV6_HOPLIMIT as ancillary data of sendmsg,
 * which the syscall allowlist has): the WAN socket's own TTL never changes, so nothing
 * else (frames, batches, replies, queued datagrams) can leave with it. A priming probe
 * the kernel would block on is dropped and counted: the next one of the round follows. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "auxiliary.h"
#include "log.h"

static uint64_t elapsed_ms(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static bool listed(const struct ip_endpoint *list, size_t n, const struct ip_endpoint *ep)
{
	for (size_t i = 0; i < n; i++)
		if (ip_endpoint_equal(&list[i], ep))
			return true;
	return false;
}

/* Whether our own STUN discovery found a NAT in front of the socket of that family: a
 * srflx candidate (candidates_gather keeps only those unlike the host one). */
static bool behind_nat(const struct bridge *br, int family)
{
	const struct aux_discover *d = &br->discover;

	for (size_t i = 0; i < d->ncand; i++)
		if (d->cand[i].kind == CAND_SRFLX && d->cand[i].ep.addr.family == family)
			return true;
	return false;
}

/* The peer's srflx candidates that are not also one of its host candidates, of a family
 * behind our NAT: the endpoints to prime toward. */
static void choose_targets(struct bridge *br, const struct aux_start_request *req)
{
	struct aux_prime *pr = &br->prime;
	struct ip_endpoint hosts[CAND_MAX];
	size_t nhosts = 0;

	for (size_t i = 0; i < req->npeer_cand; i++)
		if (req->peer_cand[i].kind == CAND_HOST)
			hosts[nhosts++] = req->peer_cand[i].ep;
	for (size_t i = 0; i < req->npeer_cand && pr->ntarget < CAND_MAX; i++) {
		const struct candidate *c = &req->peer_cand[i];

		if (c->kind == CAND_SRFLX && wan_has_family(br, c->ep.addr.family) &&
		    behind_nat(br, c->ep.addr.family) && !listed(hosts, nhosts, &c->ep) &&
		    !listed(pr->target, pr->ntarget, &c->ep))
			pr->target[pr->ntarget++] = c->ep;
	}
}

void prime_start(struct bridge *br, const struct aux_start_request *req, uint64_t now)
{
	struct aux_prime *pr = &br->prime;
	char list[CAND_MAX * (IP_STRLEN + 2)] = "", ep[IP_STRLEN];
	size_t used = 0;

	memset(pr, 0, sizeof *pr);
	pr->ttl = req->prime_ttl;
	pr->window_ms = req->prime_window_ms;
	if (pr->ttl == 0 || pr->window_ms == 0)
		return;
	choose_targets(br, req);
	if (pr->ntarget == 0) {
		log_info("path: no priming: %s", br->discover.ncand == 0
			 ? "our public endpoint is not known (no STUN answer)"
			 : "one of the two sides is not behind NAT");
		return;
	}
	for (size_t i = 0; i < pr->ntarget && used < sizeof list; i++)
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
					 ip_endpoint_format(&pr->target[i], ep, sizeof ep));
	pr->active = true;
	pr->started_ms = now;
	pr->until_ms = now + pr->window_ms;
	log_info("path: both sides behind NAT: probes to %s go with TTL %u for up to %u ms, "
		 "opening our NAT's mapping without reaching the peer's", list, pr->ttl,
		 pr->window_ms);
}

static void prime_end(struct bridge *br, uint64_t now, const char *why)
{
	struct aux_prime *pr = &br->prime;

	pr->active = false;
	pr->ended = true;
	pr->ended_ms = now;
	snprintf(pr->ended_by, sizeof pr->ended_by, "%s", why);
	log_info("path: priming ended after %llu ms (%llu probes with TTL %u): %s",
		 (unsigned long long)elapsed_ms(now, pr->started_ms),
		 (unsigned long long)pr->sent, pr->ttl, why);
}

/* Whether a probe to `to` goes with the priming TTL now. */
static bool applies(struct bridge *br, const struct ip_endpoint *to, uint64_t now)
{
	struct aux_prime *pr = &br->prime;

	if (!pr->active)
		return false;
	if (now >= pr->until_ms) {
		prime_end(br, now, "nothing came from the peer within the window");
		return false;
	}
	return listed(pr->target, pr->ntarget, to);
}

/* One datagram from the WAN socket of to's family with the given TTL (hop limit), as
 * ancillary data of this sendmsg alone. */
static int send_with_ttl(struct bridge *br, const struct ip_endpoint *to, int ttl,
			 const uint8_t *data, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct sockaddr_storage ss;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr mh = {.msg_name = &ss, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	struct cmsghdr *cm;
	bool v6 = to->addr.family == AF_INET6;
	uv_os_fd_t fd;

	if (uv_fileno((const uv_handle_t *)wan_socket(br, to), &fd) != 0)
		return -EBADF;
	memset(&ctl, 0, sizeof ctl);
	mh.msg_namelen = ip_endpoint_to_sockaddr(to, &ss);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
	cm->cmsg_type = v6 ? IPV6_HOPLIMIT : IP_TTL;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &ttl, sizeof ttl);
	return sendmsg(fd, &mh, MSG_DONTWAIT) == (ssize_t)len ? 0 : -errno;
}

int prime_send_probe(struct bridge *br, const struct ip_endpoint *to, const uint8_t *data,
		     size_t len, uint64_t now)
{
	struct aux_prime *pr = &br->prime;
	int rc;

	if (!applies(br, to, now))
		return sendq_send(br, &br->wan, to, data, len);
	rc = send_with_ttl(br, to, pr->ttl, data, len);
	if (rc == 0)
		pr->sent++;
	else
		pr->send_errors++;
	return rc == -EAGAIN ? 0 : rc;  /* a full socket: the round's next probe follows */
}

void prime_heard(struct bridge *br, const struct ip_endpoint *from, uint64_t now)
{
	char why[IP_STRLEN + 64], ep[IP_STRLEN];

	if (!br->prime.active || tcp_leg_owns(br, from) ||
	    (br->relay_leg.active && ip_endpoint_equal(from, &br->relay_leg.relay)))
		return;  /* a relay's forwarding says nothing about the peer's NAT */
	snprintf(why, sizeof why, "the peer's probe came from %s",
		 ip_endpoint_format(from, ep, sizeof ep));
	prime_end(br, now, why);
}

uint64_t prime_next_ms(const struct bridge *br, uint64_t now, uint64_t in_ms)
{
	const struct aux_prime *pr = &br->prime;

	if (pr->active && pr->until_ms > now && pr->until_ms - now < in_ms)
		return pr->until_ms - now;
	return in_ms;
}

json_t *prime_stats_json(const struct bridge *br)
{
	const struct aux_prime *pr = &br->prime;

	if (pr->ttl == 0)
		return json_null();
	return json_pack("{s:i, s:I, s:s, s:I, s:I, s:I, s:s?, s:I}", "ttl", pr->ttl,
			 "window_ms", (json_int_t)pr->window_ms,
			 "state", pr->active ? "priming" : pr->ended ? "ended" : "off",
			 "targets", (json_int_t)pr->ntarget, "sent", (json_int_t)pr->sent,
			 "send_errors", (json_int_t)pr->send_errors,
			 "ended_by", pr->ended ? pr->ended_by : NULL,
			 "ended_after_ms", (json_int_t)(pr->ended
							? elapsed_ms(pr->ended_ms, pr->started_ms)
							: 0));
}
