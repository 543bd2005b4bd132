/* The path of a started call: where its frames go. Nothing is assumed to reach the peer
 * until a probe proves it: after "start" every candidate endpoint of the peer (its host
 * and server-reflexive addresses, and the relay once our leg there is registered) is
 * probed at once with authenticated PROBE frames (frame.h; nobody without the call's
 * keys can forge, answer or replay one), first every PATH_FIRST_INTERVAL_MS, backing off
 * to PATH_MAX_INTERVAL_MS, for at most PATH_ROUND_MS. The first candidate whose probe is
 * answered carries the call and the secondary is told ("path" notice, aux_report.h): only
 * then is the call up. A direct candidate beats a relayed one: while the call is relayed,
 * the direct ones are still tried (PATH_DIRECT_RETRY_MS) and the first to answer takes
 * over. Every probe request that authenticates is answered to its source, and a source
 * not among the candidates (the peer's NAT mapped it anew: a peer-reflexive candidate)
 * becomes one, so one side behind a NAT that maps each destination differently still
 * gets a direct path.
 *
 * Keep-alive tuned to NAT: once up, when nothing authenticated has come from the peer for
 * PATH_MISSED_KEEPALIVES keep-alive intervals, every candidate is probed again (the
 * relay among them, so the call falls back to it if only it answers); if nothing answers
 * that round either the path is reported lost, and the channels' dead_after_ms ends the
 * call. Each step is counted (stats "path") and logged.
 *
 * Probes go out on channel 0 (every channel of the call shares the WAN socket and the
 * path; the chosen endpoint is set on all of them). Ids: bit 31 clear (ids with it set
 * are left to packetization-layer MTU probing), bits 8..30 a sequence number, bits 0..7
 * the candidate's index. Data frames keep roaming as before (channel.c): a NAT rebinding
 * mid-call moves the peer endpoint on the next authenticated frame.
 *
 * Link measurement: while up, the path carrying the call gets one probe every
 * PATH_MEASURE_INTERVAL_MS; its smoothed round trip and how many probes were answered go
 * to the secondary in a "measure" notice every PATH_MEASURE_REPORT_MS, from which the
 * secondary reports its links to the principal (docs/routing.md).
 *
 * The last resort is the TCP leg (tcp_leg.c): the relay over TLS on TCP, for when no UDP
 * gets through. It becomes a candidate once registered, ranks below every UDP one
 * (direct, then relayed, then tcp), and while it carries the call the UDP candidates are
 * probed every PATH_TCP_RETRY_MS: the first that answers takes the call back to UDP. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auxiliary.h"
#include "err.h"
#include "frame.h"
#include "cmd.h"
#include "log.h"
#include "wire_errors.h"

#define PATH_ID_SEQ_MASK 0x7fffffu

static const char *const phase_names[] = {
	[PATH_IDLE] = "idle",
	[PATH_PROBING] = "probing",
	[PATH_UP] = "up",
	[PATH_REPROBING] = "reprobing",
	[PATH_FAILED] = "failed",
};

static uint64_t elapsed_ms(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static struct path_candidate *current(struct bridge *br)
{
	return br->path.current >= 0 ? &br->path.cand[br->path.current] : NULL;
}

/* Whether a WAN socket of ours can reach that family (a dual-stack wan has two). */
static bool reachable_family(const struct bridge *br, int family)
{
	return family == br->wan_addr.family || (br->has_wan6 && family == AF_INET6);
}

/* Lower is better: the relay the principal's routes go through, direct, relayed over
 * UDP, the TCP leg. */
unsigned path_rank(const struct path_candidate *c)
{
	if (c->tcp)
		return 3;
	if (c->relayed)
		return c->preferred ? 0 : 2;
	return 1;
}


static bool has_better_candidate(const struct aux_path *p, const struct path_candidate *than)
{
	for (size_t i = 0; i < p->ncand; i++)
		if (path_rank(&p->cand[i]) < path_rank(than))
			return true;
	return false;
}

/* Our side of a path: the WAN socket, or the relay that forwards for us. */
static void local_endpoint(const struct bridge *br, const struct path_candidate *c,
			   struct ip_endpoint *out)
{
	if (c->tcp) {
		*out = c->shown;
		return;
	}
	if (c->relayed) {
		*out = c->ep;
		return;
	}
	if (br->has_wan6 && c->ep.addr.family == AF_INET6) {
		out->addr = br->wan_addr6;
		out->port = br->wan_port6;
		return;
	}
	out->addr = br->wan_addr;
	out->port = br->wan_port;
}

void path_describe(const struct path_candidate *c, char *out, size_t len)
{
	char ep[IP_STRLEN];

	snprintf(out, len, "%s %s%s", c->tcp ? "tcp relay" : c->relayed ? "relay" : "direct",
		 ip_endpoint_format(c->tcp ? &c->shown : &c->ep, ep, sizeof ep),
		 c->learned ? " (learned)" : "");
}

static void notify(struct bridge *br, enum aux_path_state state, const char *reason)
{
	struct aux_path_notice n = {.state = state, .reason = reason};
	const struct path_candidate *c = current(br);

	snprintf(br->path.reason, sizeof br->path.reason, "%s", reason);
	if (c) {
		n.has_endpoints = true;
		n.relayed = c->relayed;
		n.tcp = c->tcp;
		n.remote = c->tcp ? c->shown : c->ep;
		n.rtt_ms = c->rtt_ms;
		local_endpoint(br, c, &n.local);
	}
	log_info("path %s: %s", aux_path_state_name(state), reason);
	if (br->ctl.stream)
		msg_stream_send_new(br->ctl.stream, aux_path_to_json(&n));
}

/* ---- sending probes ---- */

static void probe_one(struct bridge *br, size_t i, uint64_t now)
{
	struct aux_path *p = &br->path;
	struct path_candidate *c = &p->cand[i];
	struct frame_probe req = {.kind = FRAME_PROBE_REQUEST,
				  .id = (p->seq & PATH_ID_SEQ_MASK) << 8 | (uint32_t)i};
	uint8_t dgram[FRAME_PROBE_MIN_DATAGRAM];
	long n = channel_probe(br->lan[0].ch, &req, sizeof dgram, now, dgram, sizeof dgram);

	if (n < 0 || prime_send_probe(br, &c->ep, dgram, (size_t)n, now) != 0) {
		br->wan_errors++;
		return;
	}
	c->seq = p->seq & PATH_ID_SEQ_MASK;
	c->sent_ms = now;
	c->requests++;
	if (c->awaiting)
		c->steady = 0;  /* the previous one went unanswered */
	c->awaiting = true;
}

void path_probe(struct bridge *br, size_t i, uint64_t now)
{
	probe_one(br, i, now);
}

/* One probe to each candidate worth probing now: in a round, every one not yet
 * answered in it; while relayed or on the TCP leg, the better ones. */
static void probe_all(struct bridge *br, bool better_only, uint64_t now)
{
	struct aux_path *p = &br->path;
	const struct path_candidate *c = current(br);

	p->seq++;
	for (size_t i = 0; i < p->ncand; i++)
		if (!(better_only && c && path_rank(&p->cand[i]) >= path_rank(c)))
			probe_one(br, i, now);
	p->probes_this_round++;
}

static void arm(struct bridge *br, uint64_t in_ms);

static void start_round(struct bridge *br, enum path_phase phase, uint64_t now)
{
	struct aux_path *p = &br->path;

	p->phase = phase;
	p->round_started_ms = now;
	p->probes_this_round = 0;
	p->interval_ms = PATH_FIRST_INTERVAL_MS;
	p->rounds++;
	for (size_t i = 0; i < p->ncand; i++)
		p->cand[i].answered = false;
	probe_all(br, false, now);
	arm(br, p->interval_ms);
}

/* ---- choosing ---- */

static void use_candidate(struct bridge *br, size_t i)
{
	for (unsigned k = 0; k < br->n_lan; k++)
		channel_set_peer(br->lan[k].ch, &br->path.cand[i].ep);
	if (br->path.current != (int)i)
		br->path.has_srtt = false;  /* another path: its round trip is measured afresh */
	br->path.current = (int)i;
	br->path.cand[i].demoted = false;
	failover_path_chosen(br, uv_now(br->loop));
}

void path_switch(struct bridge *br, size_t i, const char *reason)
{
	use_candidate(br, i);
	br->path.switches++;
	notify(br, AUX_PATH_CHANGED, reason);
}

/* A candidate answered: does the call go there? */
static void answered(struct bridge *br, size_t i, uint64_t now)
{
	struct aux_path *p = &br->path;
	struct path_candidate *c = &p->cand[i], *was = current(br);
	enum path_phase phase = p->phase;
	char what[IP_STRLEN + 32], why[AUX_PATH_REASON_MAX];

	if (failover_take_answer(br, i, now))
		return;  /* a failover, a switch back, or the hold goes on */
	path_describe(c, what, sizeof what);
	if (phase == PATH_UP && was && (was == c || path_rank(c) >= path_rank(was)))
		return;  /* nothing better than what we have */
	if (phase == PATH_UP && c->preferred) {
		snprintf(why, sizeof why, "the principal's route goes through the %s, which "
			 "answered in %u ms; leaving the %s path", what, c->rtt_ms,
			 was->tcp ? "TCP fallback" : was->relayed ? "relayed" : "direct");
		p->switches++;
	} else if (phase == PATH_UP) {
		snprintf(why, sizeof why, "the %s path answered; leaving the %s", what,
			 was->tcp ? "TCP fallback" : "relay");
		p->switches++;
	} else if (was && phase == PATH_REPROBING) {
		snprintf(why, sizeof why, "after %u missed keep-alives, a probe to %s was "
			 "answered in %u ms", PATH_MISSED_KEEPALIVES, what, c->rtt_ms);
		if (c->relayed && !was->relayed)
			p->relay_fallbacks++;
		else if (c != was)
			p->switches++;
	} else {
		snprintf(why, sizeof why, "a probe to %s was answered in %u ms (%llu ms after "
			 "start)", what, c->rtt_ms,
			 (unsigned long long)elapsed_ms(now, p->started_ms));
	}
	use_candidate(br, i);
	p->phase = PATH_UP;
	p->last_direct_try_ms = now;
	if (phase == PATH_REPROBING && c == was) {
		log_info("path: %s", why);  /* the same path again: nothing to tell */
		arm(br, 0);
		return;
	}
	if (!p->announced) {
		p->announced = true;
		notify(br, AUX_PATH_UP, why);
	} else {
		notify(br, AUX_PATH_CHANGED, why);
	}
	arm(br, 0);
}

/* ---- measuring the path while up ---- */

/* The answer to the latest measuring probe: a smoothed round trip (gain 1/8, as TCP's). */
static void measured(struct aux_path *p, uint32_t rtt_ms)
{
	p->measure_replies++;
	p->measure_cand = -1;  /* one answer per probe */
	p->srtt_ms = p->has_srtt ? (7 * p->srtt_ms + rtt_ms + 4) / 8 : rtt_ms;
	p->has_srtt = true;
}

static void measure_report(struct bridge *br, const struct path_candidate *c)
{
	struct aux_path *p = &br->path;
	struct aux_measure_notice n = {.relayed = c->relayed, .tcp = c->tcp, .rtt_ms = p->srtt_ms,
				       .probes = p->measure_probes,
				       .replies = p->measure_replies};

	if (n.replies > n.probes)
		n.replies = n.probes;  /* an answer that crossed the report's boundary */
	if (n.probes > 0 && br->ctl.stream)
		msg_stream_send_new(br->ctl.stream, aux_measure_to_json(&n));
	p->measure_probes = p->measure_replies = 0;
}

/* One probe on the current path every PATH_MEASURE_INTERVAL_MS, and the notice; returns
 * when the next is due. */
static uint64_t measure_tick(struct bridge *br, uint64_t now)
{
	struct aux_path *p = &br->path;
	const struct path_candidate *c = current(br);
	uint64_t since = elapsed_ms(now, p->measure_sent_ms);

	if (!c)
		return PATH_MEASURE_INTERVAL_MS;
	if (p->measure_report_ms == 0)
		p->measure_report_ms = now;  /* the first window opens when the path is up */
	/* Reported before the next probe goes, so the last one had its interval to answer. */
	if (elapsed_ms(now, p->measure_report_ms) >= PATH_MEASURE_REPORT_MS) {
		measure_report(br, c);
		p->measure_report_ms = now;
	}
	if (since >= PATH_MEASURE_INTERVAL_MS) {
		uint64_t sent = c->requests;

		p->seq++;
		probe_one(br, (size_t)p->current, now);
		if (c->requests != sent) {
			p->measure_seq = c->seq;
			p->measure_cand = p->current;
			p->measure_probes++;
		}
		p->measure_sent_ms = now;
		since = 0;
	}
	return PATH_MEASURE_INTERVAL_MS - since;
}

static void take_reply(struct bridge *br, const struct frame_probe *pr, uint64_t now)
{
	struct aux_path *p = &br->path;
	size_t i = pr->id & 0xff;
	struct path_candidate *c;

	if ((pr->id >> 8) > PATH_ID_SEQ_MASK || i >= p->ncand) {
		p->unknown_replies++;
		return;
	}
	c = &p->cand[i];
	c->replies++;
	if ((pr->id >> 8) == c->seq)
		c->rtt_ms = (uint32_t)elapsed_ms(now, c->sent_ms);
	if ((int)i == p->measure_cand && (pr->id >> 8) == p->measure_seq)
		measured(p, (uint32_t)elapsed_ms(now, p->measure_sent_ms));
	c->answered = true;
	c->awaiting = false;
	c->replied_ms = now;
	if ((int)i == p->current)
		p->watch.heard_ms = now;
	answered(br, i, now);
}

/* ---- answering ---- */

static void reply_to(struct bridge *br, struct aux_lan *l, const struct channel_msg *m,
		     const struct ip_endpoint *from, uint64_t now)
{
	struct frame_probe reply = {.kind = FRAME_PROBE_REPLY, .id = m->probe.id,
				    .size = (uint16_t)m->len};
	uint8_t dgram[FRAME_PROBE_MIN_DATAGRAM];
	long n = channel_probe(l->ch, &reply, sizeof dgram, now, dgram, sizeof dgram);

	if (n < 0 || sendq_send(br, &br->wan, from, dgram, (size_t)n) != 0)
		br->wan_errors++;
}

int path_find_candidate(const struct aux_path *p, const struct ip_endpoint *ep)
{
	for (size_t i = 0; i < p->ncand; i++)
		if (ip_endpoint_equal(&p->cand[i].ep, ep))
			return (int)i;
	return -1;
}

/* The peer reached us from an endpoint we did not know: its NAT's mapping toward us.
 * Replies to that source get through, so it is worth probing too. */
static void learn(struct bridge *br, const struct ip_endpoint *from, uint64_t now)
{
	struct aux_path *p = &br->path;
	char ep[IP_STRLEN];
	size_t i;

	if (tcp_leg_owns(br, from) || path_find_candidate(p, from) >= 0 ||
	    p->ncand >= PATH_MAX_CANDIDATES || p->learned >= PATH_MAX_LEARNED ||
	    !reachable_family(br, from->addr.family))
		return;
	i = p->ncand++;
	memset(&p->cand[i], 0, sizeof p->cand[i]);
	p->cand[i].ep = *from;
	p->cand[i].learned = true;
	p->learned++;
	log_info("path: the peer's probe came from %s, a new candidate",
		 ip_endpoint_format(from, ep, sizeof ep));
	if (p->phase != PATH_UP && p->phase != PATH_IDLE)
		probe_one(br, i, now);
}

/* A request from a candidate we know while no path is proven yet: probe it back at once
 * (a triggered check, as ICE does) instead of at the round's next tick, which may be a
 * second away once the round has backed off; the two sides then come up about one round
 * trip apart. Requests authenticate, so only the peer can trigger this, at its own pace. */
static void triggered_check(struct bridge *br, const struct ip_endpoint *from, uint64_t now)
{
	struct aux_path *p = &br->path;
	int i = path_find_candidate(p, from);

	if (i >= 0 && !p->cand[i].answered &&
	    (p->phase == PATH_PROBING || p->phase == PATH_REPROBING))
		probe_one(br, (size_t)i, now);
}

void path_on_probe(struct bridge *br, struct aux_lan *l, const struct channel_msg *m,
		   const struct ip_endpoint *from, uint64_t now)
{
	if (m->probe.id & PATH_PROBE_ID_OTHER)
		return;  /* not ours: MTU probing's */
	prime_heard(br, from, now);
	if (m->probe.kind == FRAME_PROBE_REPLY) {
		take_reply(br, &m->probe, now);
		return;
	}
	br->path.requests_answered++;
	if (current(br) && ip_endpoint_equal(from, &current(br)->ep))
		br->path.watch.heard_ms = now;
	reply_to(br, l, m, from, now);
	triggered_check(br, from, now);
	learn(br, from, now);
}

/* ---- time ---- */

/* "nothing answered N probes to each candidate in T ms (tried ...)". */
static void unanswered(const struct bridge *br, uint64_t now, char *why, size_t len)
{
	const struct aux_path *p = &br->path;
	char tried[160] = "";
	size_t used = 0;

	for (size_t i = 0; i < p->ncand && used < sizeof tried; i++) {
		char what[IP_STRLEN + 32];

		path_describe(&p->cand[i], what, sizeof what);
		used += (size_t)snprintf(tried + used, sizeof tried - used, "%s%s",
					 i ? ", " : "", what);
	}
	snprintf(why, len, "nothing answered %u probes to each candidate in %llu ms (tried %s)",
		 p->probes_this_round, (unsigned long long)elapsed_ms(now, p->round_started_ms),
		 tried);
}

bool path_ever_up(const struct bridge *br)
{
	return br->path.announced;
}

void path_end_unanswered(struct bridge *br)
{
	char why[AUX_PATH_REASON_MAX];

	unanswered(br, uv_now(br->loop), why, sizeof why);
	br->path.losses++;
	bridge_end(br, WIRE(NO_PATH), why, EXIT_OK, true);
}

/* A round ran out with nothing answered. */
static void round_failed(struct bridge *br, uint64_t now)
{
	struct aux_path *p = &br->path;
	char why[AUX_PATH_REASON_MAX];

	unanswered(br, now, why, sizeof why);
	p->phase = PATH_FAILED;
	p->losses++;
	notify(br, AUX_PATH_LOST, why);
	arm(br, PATH_FAILED_INTERVAL_MS);
}

static void tick_probing(struct bridge *br, uint64_t now)
{
	struct aux_path *p = &br->path;

	if (elapsed_ms(now, p->round_started_ms) >= PATH_ROUND_MS) {
		round_failed(br, now);
		return;
	}
	probe_all(br, false, now);
	p->interval_ms = p->interval_ms * 2 < PATH_MAX_INTERVAL_MS ? p->interval_ms * 2
								     : PATH_MAX_INTERVAL_MS;
	arm(br, prime_next_ms(br, now, p->interval_ms));
}

/* Data and keep-alives still roam (channel.c): when the peer's NAT rebinds mid-call, the
 * first authenticated frame from its new mapping moves the channel, before any probe. The
 * path follows, so that the secondary (and insel calls) say where frames go now. */
void path_follow_roaming(struct bridge *br, const struct ip_endpoint *to)
{
	struct aux_path *p = &br->path;
	struct path_candidate *was = current(br);
	const struct ip_endpoint now_at_copy = *to, *now_at = &now_at_copy;
	char what[IP_STRLEN + 32], why[AUX_PATH_REASON_MAX];
	int i;

	if (!was || was->tcp)
		return;
	if (ip_endpoint_equal(now_at, &was->ep))
		return;
	i = path_find_candidate(p, now_at);
	if (i < 0) {
		if (p->ncand >= PATH_MAX_CANDIDATES)
			return;
		i = (int)p->ncand++;
		memset(&p->cand[i], 0, sizeof p->cand[i]);
		p->cand[i].ep = *now_at;
		p->cand[i].learned = true;
	}
	path_describe(&p->cand[i], what, sizeof what);
	snprintf(why, sizeof why, "the peer's frames now come from %s (its NAT mapping "
		 "changed)", what);
	p->cand[i].rtt_ms = was->rtt_ms;
	p->roams++;
	use_candidate(br, (size_t)i);
	notify(br, AUX_PATH_CHANGED, why);
}

static void tick_up(struct bridge *br, uint64_t now)
{
	struct aux_path *p = &br->path;
	uint64_t silent, limit = PATH_MISSED_KEEPALIVES * p->keepalive_ms, next, measure_next;
	const struct path_candidate *c;

	if (br->n_lan && br->lan[0].ch)
		path_follow_roaming(br, channel_peer(br->lan[0].ch));
	c = current(br);
	/* Silence of the path that carries the call (the channels also hear the standby's
	 * probe replies, which say nothing about it). */
	silent = elapsed_ms(now, p->watch.heard_ms);
	failover_probe_standby(br, now);

	if (silent >= limit) {
		p->reprobes++;
		log_warn("path: nothing authenticated from the peer for %llu ms (%u keep-alive "
			 "intervals): probing every candidate again",
			 (unsigned long long)silent, PATH_MISSED_KEEPALIVES);
		start_round(br, PATH_REPROBING, now);
		return;
	}
	measure_next = measure_tick(br, now);
	if (c && c->relayed && has_better_candidate(p, c)) {
		/* Relayed: the better candidates keep being probed, on the round's schedule
		 * while it lasts (the relay may simply have answered first), then now and
		 * then; from the TCP leg, UDP is tried every PATH_TCP_RETRY_MS. */
		bool in_round = elapsed_ms(now, p->round_started_ms) < PATH_ROUND_MS;
		uint64_t retry = c->tcp ? PATH_TCP_RETRY_MS : PATH_DIRECT_RETRY_MS;

		if (in_round || elapsed_ms(now, p->last_direct_try_ms) >= retry) {
			p->last_direct_try_ms = now;
			probe_all(br, true, now);
		}
		if (in_round) {
			arm(br, PATH_RELAYED_INTERVAL_MS < measure_next ? PATH_RELAYED_INTERVAL_MS
								: measure_next);
			return;
		}
		if (c->tcp) {
			arm(br, PATH_TCP_RETRY_MS < measure_next ? PATH_TCP_RETRY_MS : measure_next);
			return;
		}
	}
	next = limit - silent < p->keepalive_ms ? limit - silent : p->keepalive_ms;
	arm(br, measure_next < next ? measure_next : next);
}

static void on_path_timer(uv_timer_t *t)
{
	struct bridge *br = t->data;
	uint64_t now = uv_now(br->loop);

	if (br->state != AUX_RUNNING)
		return;
	switch (br->path.phase) {
	case PATH_PROBING:
	case PATH_REPROBING:
		tick_probing(br, now);
		break;
	case PATH_UP:
		tick_up(br, now);
		break;
	case PATH_FAILED:
		/* Still worth a try now and then: the channels' dead_after_ms or the
		 * secondary ends the call. */
		probe_all(br, false, now);
		arm(br, PATH_FAILED_INTERVAL_MS);
		break;
	case PATH_IDLE:
		break;
	}
}

static void arm(struct bridge *br, uint64_t in_ms)
{
	uv_timer_start(&br->path.timer, on_path_timer, in_ms, 0);
}

/* ---- life cycle ---- */

int path_init(struct bridge *br)
{
	memset(&br->path, 0, sizeof br->path);
	br->path.current = -1;
	br->path.measure_cand = -1;
	br->path.timer.data = br;
	return uv_timer_init(br->loop, &br->path.timer);
}

int path_add_candidate(struct bridge *br, const struct ip_endpoint *ep, bool relayed)
{
	struct aux_path *p = &br->path;
	char what[IP_STRLEN + 32];
	int known = path_find_candidate(p, ep);
	size_t i;

	if (known >= 0) {
		/* Learned from a probe that the relay forwarded before we knew the relay. */
		p->cand[known].relayed |= relayed;
		p->cand[known].learned &= !relayed;
		if (relayed)
			p->cand[known].heard_ms = uv_now(br->loop);
		return 0;
	}
	if (p->ncand >= PATH_MAX_CANDIDATES)
		return INSEL_E_LIMIT;
	if (!reachable_family(br, ep->addr.family))
		return -EAFNOSUPPORT;
	i = p->ncand++;
	memset(&p->cand[i], 0, sizeof p->cand[i]);
	p->cand[i].ep = *ep;
	p->cand[i].relayed = relayed;
	p->cand[i].heard_ms = relayed ? uv_now(br->loop) : 0;
	path_describe(&p->cand[i], what, sizeof what);
	log_debug("path: candidate %zu: %s", i, what);
	/* Late candidates (the relay) are probed at once: one that does not carry the call
	 * is its warm standby, proven before it is needed (failover.c). */
	if (br->state == AUX_RUNNING && p->phase != PATH_IDLE)
		probe_one(br, i, uv_now(br->loop));
	return 0;
}

int path_add_relay_candidate(struct bridge *br, const struct ip_endpoint *ep, bool preferred)
{
	int rc, i;

	/* Marked before path_add_candidate probes it, so its answer ranks it right. */
	i = path_find_candidate(&br->path, ep);
	if (i >= 0)
		br->path.cand[i].preferred = preferred;
	rc = path_add_candidate(br, ep, true);
	if (rc == 0 && i < 0 && (i = path_find_candidate(&br->path, ep)) >= 0)
		br->path.cand[i].preferred = preferred;
	return rc;
}

int path_add_tcp_candidate(struct bridge *br, const struct ip_endpoint *marker)
{
	struct aux_path *p = &br->path;
	const struct path_candidate *c = current(br);
	size_t i;

	if (path_find_candidate(p, marker) >= 0)
		return 0;
	if (p->ncand >= PATH_MAX_CANDIDATES)
		return INSEL_E_LIMIT;
	i = p->ncand++;
	memset(&p->cand[i], 0, sizeof p->cand[i]);
	p->cand[i].ep = *marker;
	p->cand[i].relayed = true;
	p->cand[i].tcp = true;
	p->cand[i].shown = br->tcp.relay;
	log_debug("path: candidate %zu: the TCP leg", i);
	/* Probed at once, unless the call already has a path over UDP. */
	if (br->state == AUX_RUNNING && p->phase != PATH_IDLE &&
	    !(p->phase == PATH_UP && c && !c->tcp))
		probe_one(br, i, uv_now(br->loop));
	return 0;
}

bool path_is_up(const struct bridge *br)
{
	return br->path.phase == PATH_UP;
}

bool path_has_udp_relay(const struct bridge *br)
{
	uint64_t now = uv_now(br->loop), fresh = PATH_MISSED_KEEPALIVES * br->path.keepalive_ms;

	for (size_t i = 0; i < br->path.ncand; i++) {
		const struct path_candidate *c = &br->path.cand[i];

		if (c->relayed && !c->tcp && elapsed_ms(now, c->heard_ms) < fresh)
			return true;
	}
	return false;
}

void path_relay_heard(struct bridge *br, const struct ip_endpoint *relay)
{
	int i = path_find_candidate(&br->path, relay);

	if (i >= 0)
		br->path.cand[i].heard_ms = uv_now(br->loop);
}

bool path_on_tcp(const struct bridge *br)
{
	return br->path.current >= 0 && br->path.cand[br->path.current].tcp;
}

int path_start(struct bridge *br, const struct aux_start_request *req)
{
	struct aux_path *p = &br->path;
	uint64_t now = uv_now(br->loop);
	int rc;

	p->keepalive_ms = req->channels[0].params.keepalive_ms
			  ? req->channels[0].params.keepalive_ms : CHANNEL_DEFAULT_KEEPALIVE_MS;
	p->started_ms = now;
	if ((rc = failover_start(br, req->failover_after_ms ? req->failover_after_ms
							     : AUX_DEFAULT_FAILOVER_AFTER_MS)) != 0)
		return rc;
	/* The peer's endpoint first (its host candidate, what older peers give alone), then
	 * every host and server-reflexive candidate it sent; a relay is offered by the relay
	 * leg once registered (a candidate of a family none of our WAN sockets has cannot
	 * be reached: left out). */
	if ((rc = path_add_candidate(br, &req->channels[0].params.peer, false)) != 0)
		return rc;
	for (size_t i = 0; i < req->npeer_cand; i++)
		if (req->peer_cand[i].kind != CAND_RELAY &&
		    reachable_family(br, req->peer_cand[i].ep.addr.family))
			path_add_candidate(br, &req->peer_cand[i].ep, false);
	start_round(br, PATH_PROBING, now);
	return 0;
}

void path_stop(struct bridge *br)
{
	failover_stop(br);
	uv_timer_stop(&br->path.timer);
	if (!uv_is_closing((uv_handle_t *)&br->path.timer))
		uv_close((uv_handle_t *)&br->path.timer, NULL);
}

static json_t *candidate_json(const struct path_candidate *c)
{
	char ep[IP_STRLEN];

	return json_pack("{s:s, s:s, s:b, s:b, s:b, s:b, s:I, s:I, s:I}",
			 "addr", ip_endpoint_format(c->tcp ? &c->shown : &c->ep, ep, sizeof ep),
			 "kind", aux_path_kind(c->relayed, c->tcp), "learned", c->learned,
			 "answered", c->answered, "demoted", c->demoted,
			 "preferred", c->preferred,
			 "requests", (json_int_t)c->requests,
			 "replies", (json_int_t)c->replies, "rtt_ms", (json_int_t)c->rtt_ms);
}

json_t *path_stats_json(const struct bridge *br)
{
	const struct aux_path *p = &br->path;
	const struct path_candidate *c = p->current >= 0 ? &p->cand[p->current] : NULL;
	json_t *cands = json_array(), *j;
	char ep[IP_STRLEN];

	for (size_t i = 0; i < p->ncand && cands; i++)
		json_array_append_new(cands, candidate_json(&p->cand[i]));
	j = json_pack("{s:s, s:s?, s:s?, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o?}",
		      "state", phase_names[p->phase],
		      "kind", c ? aux_path_kind(c->relayed, c->tcp) : NULL,
		      "remote", c ? ip_endpoint_format(c->tcp ? &c->shown : &c->ep, ep, sizeof ep)
			  : NULL,
		      "reason", p->reason,
		      "rounds", (json_int_t)p->rounds, "reprobes", (json_int_t)p->reprobes,
		      "relay_fallbacks", (json_int_t)p->relay_fallbacks,
		      "switches", (json_int_t)p->switches, "roams", (json_int_t)p->roams,
		      "lost", (json_int_t)p->losses,
		      "requests_answered", (json_int_t)p->requests_answered,
		      "unknown_replies", (json_int_t)p->unknown_replies,
		      "candidates", cands);
	if (j && c)
		json_object_set_new(j, "rtt_ms", json_integer(c->rtt_ms));
	if (j)
		json_object_set_new(j, "failover", failover_stats_json(br));
	if (j && c && p->has_srtt)
		json_object_set_new(j, "srtt_ms", json_integer(p->srtt_ms));
	return j;
}
