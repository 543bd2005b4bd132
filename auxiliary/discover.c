/* Endpoint discovery: before the offer and answer, a call's auxiliary asks STUN servers
 * (the principal's responder, or any standard one) how the Internet sees its WAN socket,
 * from that very socket, so that the mapping it learns is the one the call's frames will
 * use. The answers become srflx candidates in the bind reply, with the NAT mapping seen
 * (docs/nat.md). An answer is unauthenticated: it is only ever a candidate to probe,
 * never a reason to move a channel's peer.
 *
 * It runs inside "bind", after the privilege drop (the socket exists; sending and
 * receiving on it is all the allowlist needs), and bind's reply waits for it: each server
 * gets one Binding request at 0, 200 and 600 ms (the same transaction id each time) until
 * it answered, and the whole is bounded by the bind's stun_timeout_ms (1 s by default).
 * Only a success response from the server asked, with its transaction id, counts. The
 * requests are padded to the size of the largest response, so that a responder that
 * answers with no more than it got can answer. Once started, the WAN socket carries
 * frames; a STUN datagram there (magic cookie at bytes 4..7, which no session id is) is
 * counted and dropped. */
#include <errno.h>
#include <string.h>

#include "auxiliary.h"
#include "log.h"
#include "rand.h"
#include "stun.h"

static const uint64_t retransmit_ms[] = {0, 200, 600};
#define ROUNDS (sizeof retransmit_ms / sizeof retransmit_ms[0])
#define DISCOVER_READ_ROUNDS 4   /* recvmmsg batches per wake-up */

void discover_prepare(struct bridge *br, const struct aux_bind_request *req)
{
	struct aux_discover *d = &br->discover;
	char text[IP_STRLEN];

	d->nserver = 0;
	d->timeout_ms = req->stun_timeout_ms ? req->stun_timeout_ms
					     : AUX_STUN_DEFAULT_TIMEOUT_MS;
	for (size_t i = 0; i < req->nstun && i < AUX_STUN_MAX; i++) {
		struct aux_stun_server *s = &d->server[d->nserver];

		/* Only a socket of the server's family can ask it (a dual-stack wan has one
		 * of each: IPv6 servers are asked from the IPv6 socket). */
		if (!wan_has_family(br, req->stun[i].addr.family)) {
			log_info("STUN server %s skipped: not of the WAN address's family",
				 ip_endpoint_format(&req->stun[i], text, sizeof text));
			continue;
		}
		memset(s, 0, sizeof *s);
		s->addr = req->stun[i];
		rand_nonce(s->txid, sizeof s->txid);
		d->nserver++;
	}
}

/* ---- sending ---- */

static void send_request(struct bridge *br, struct aux_stun_server *s)
{
	struct stun_message m = {.type = STUN_BINDING_REQUEST, .fingerprint = true,
				 .pad_to = STUN_MAX_RESPONSE};
	uint8_t out[STUN_MAX_ENCODED];
	size_t len;

	memcpy(m.txid, s->txid, sizeof m.txid);
	if (stun_encode(&m, out, sizeof out, &len) != 0 ||
	    sendq_send(br, &br->wan, &s->addr, out, len) != 0) {
		br->wan_errors++;
		return;
	}
	br->discover.requests_sent++;
}

static void send_round(struct bridge *br)
{
	struct aux_discover *d = &br->discover;

	for (size_t i = 0; i < d->nserver; i++)
		if (!d->server[i].answered)
			send_request(br, &d->server[i]);
	d->round++;
}

/* ---- the result ---- */

static void log_result(const struct bridge *br, size_t answered)
{
	const struct aux_discover *d = &br->discover;
	char list[CAND_LIST_STRLEN], call[ID_STRLEN];

	log_info("call %s: candidates %s; NAT mapping %s (%zu of %zu STUN servers answered)",
		 id_format(br->call_id, call), candidates_format(d->cand, d->ncand, list,
								  sizeof list),
		 nat_mapping_name(d->mapping), answered, d->nserver);
}

/* The endpoints the servers of one family saw; returns how many answered. */
static size_t mapped_of_family(const struct aux_discover *d, int family,
			       struct ip_endpoint *mapped)
{
	size_t n = 0;

	for (size_t i = 0; i < d->nserver; i++)
		if (d->server[i].answered && d->server[i].addr.addr.family == family)
			mapped[n++] = d->server[i].mapped;
	return n;
}

/* A dual-stack wan's IPv6 socket: its host candidate and what IPv6 servers saw of it,
 * after the IPv4 socket's (whose NAT behaviour is the one reported: IPv6 is seldom
 * translated). */
static void add_ipv6_socket(struct bridge *br, size_t *answered)
{
	struct aux_discover *d = &br->discover;
	struct ip_endpoint host = {.addr = br->wan_addr6, .port = br->wan_port6};
	struct ip_endpoint mapped[AUX_STUN_MAX], distinct[AUX_STUN_MAX];
	struct candidate cand[CAND_MAX];
	enum nat_mapping mapping;
	size_t n = mapped_of_family(d, AF_INET6, mapped), ndistinct, ncand;

	ncand = candidates_gather(&host, mapped, n, cand, distinct, &ndistinct, &mapping);
	for (size_t i = 0; i < ncand && d->ncand < CAND_MAX; i++)
		d->cand[d->ncand++] = cand[i];
	for (size_t i = 0; i < ndistinct && d->nmapped < AUX_STUN_MAX; i++)
		d->mapped[d->nmapped++] = distinct[i];
	*answered += n;
}

static void summarise(struct bridge *br)
{
	struct aux_discover *d = &br->discover;
	struct ip_endpoint host = {.addr = br->wan_addr, .port = br->wan_port};
	struct ip_endpoint mapped[AUX_STUN_MAX];
	size_t n = mapped_of_family(d, br->wan_addr.family, mapped);

	d->ncand = candidates_gather(&host, mapped, n, d->cand, d->mapped, &d->nmapped,
				     &d->mapping);
	if (br->has_wan6)
		add_ipv6_socket(br, &n);
	d->done = true;
	log_result(br, n);
}

static void finish(struct bridge *br)
{
	struct aux_discover *d = &br->discover;

	if (!d->active)
		return;
	d->active = false;
	uv_timer_stop(&d->timer);
	/* Until "start", datagrams wait in the socket. */
	if (br->wan_rx_open)
		uv_poll_stop(&br->wan_rx);
	if (br->wan6_rx_open)
		uv_poll_stop(&br->wan6_rx);
	summarise(br);
	bind_complete(br, d->bind_id);
}

static bool all_answered(const struct aux_discover *d)
{
	for (size_t i = 0; i < d->nserver; i++)
		if (!d->server[i].answered)
			return false;
	return true;
}

/* ---- receiving ---- */

static struct aux_stun_server *server_for(struct aux_discover *d, const struct stun_message *m,
					  const struct ip_endpoint *from)
{
	for (size_t i = 0; i < d->nserver; i++) {
		struct aux_stun_server *s = &d->server[i];

		if (memcmp(s->txid, m->txid, sizeof s->txid) == 0 && s->addr.port == from->port &&
		    ip_addr_equal(&s->addr.addr, &from->addr))
			return s;
	}
	return NULL;
}

static void take_datagram(struct bridge *br, const uint8_t *data, size_t len,
			  const struct ip_endpoint *from)
{
	struct aux_discover *d = &br->discover;
	struct aux_stun_server *s;
	struct stun_message m;
	char seen[IP_STRLEN], by[IP_STRLEN];

	if (!stun_is_stun(data, len) || stun_decode(data, len, &m) != 0 ||
	    m.type != STUN_BINDING_SUCCESS || !m.has_mapped || !(s = server_for(d, &m, from))) {
		d->ignored++;
		return;
	}
	d->answers++;
	if (s->answered)
		return;  /* an answer to a retransmission: the first one stands */
	s->answered = true;
	s->mapped = m.mapped;
	log_debug("STUN server %s sees %s", ip_endpoint_format(&s->addr, by, sizeof by),
		  ip_endpoint_format(&m.mapped, seen, sizeof seen));
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct bridge *br = p->data;
	struct aux_discover *d = &br->discover;

	(void)events;
	if (status < 0) {
		br->wan_errors++;
		return;
	}
	for (int round = 0; round < DISCOVER_READ_ROUNDS && d->active; round++) {
		int n = wan_rx_read(br);

		for (int i = 0; i < n; i++) {
			struct wan_rx_msg m;

			if (wan_rx_message((unsigned)i, &m) != 0) {
				br->wan_errors++;
				continue;
			}
			for (size_t off = 0; off < m.len; off += m.seg)
				take_datagram(br, m.data + off,
					      m.len - off < m.seg ? m.len - off : m.seg, &m.from);
		}
		if (n < AUX_WAN_RX_SLOTS)
			break;
	}
	if (d->active && all_answered(d))
		finish(br);
}

/* ---- timing ---- */

static void on_timer(uv_timer_t *t)
{
	struct bridge *br = t->data;
	struct aux_discover *d = &br->discover;
	uint64_t elapsed = uv_now(br->loop) - d->started_ms, next;

	if (!d->active)
		return;
	if (elapsed >= d->timeout_ms) {
		finish(br);
		return;
	}
	if (d->round < ROUNDS && elapsed >= retransmit_ms[d->round])
		send_round(br);
	/* The next retransmission, or the end: whichever comes first. */
	next = d->timeout_ms;
	if (d->round < ROUNDS && retransmit_ms[d->round] < next)
		next = retransmit_ms[d->round];
	uv_timer_start(&d->timer, on_timer, next > elapsed ? next - elapsed : 0, 0);
}

int discover_start(struct bridge *br, json_int_t bind_id)
{
	struct aux_discover *d = &br->discover;
	int rc;

	if (d->nserver == 0)
		return -ENOENT;
	rc = uv_timer_init(br->loop, &d->timer);
	if (rc)
		return rc;
	d->timer_open = true;
	d->timer.data = br;
	rc = wan_rx_start(br, on_readable);
	if (rc)
		return rc;
	d->active = true;
	d->bind_id = bind_id;
	d->started_ms = uv_now(br->loop);
	on_timer(&d->timer);
	return 0;
}

void discover_close(struct bridge *br)
{
	struct aux_discover *d = &br->discover;

	d->active = false;
	if (d->timer_open && !uv_is_closing((uv_handle_t *)&d->timer))
		uv_close((uv_handle_t *)&d->timer, NULL);
}

bool discover_stray(struct bridge *br, const uint8_t *data, size_t len)
{
	if (!stun_is_stun(data, len))
		return false;
	br->discover.stray++;
	return true;
}

json_t *discover_stats_json(const struct bridge *br)
{
	const struct aux_discover *d = &br->discover;

	if (d->nserver == 0 && d->stray == 0)
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:I, s:s}", "requests", (json_int_t)d->requests_sent,
			 "answers", (json_int_t)d->answers, "ignored", (json_int_t)d->ignored,
			 "stray", (json_int_t)d->stray, "mapping", nat_mapping_name(d->mapping));
}
