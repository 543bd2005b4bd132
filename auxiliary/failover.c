/* Failover mid-call: the call moves to another proven path as soon as the one carrying it
 * stops answering, long before the keep-alive logic of path.c (several silent keep-alive
 * intervals, seconds) would notice, and comes back when the better path is steady again.
 *
 * Detection is driven by traffic, so an idle call costs nothing more than its keep-alives:
 * data sealed toward the peer after the path was last heard starts a clock (at the first
 * such send, or at the last frame heard when we kept sending after it); if no
 * authenticated frame (data, keep-alive, or a probe answered) comes over that
 * path within failover_after (from "start", at least PATH_FAILOVER_RTT_FACTOR round trips
 * of it), the path is suspect. Every candidate is probed at once, then every
 * PATH_SUSPECT_INTERVAL_MS (doubling); the first other candidate to answer carries the
 * call from then on (a "path" notice "changed" saying why), unless the suspect path
 * answers first (a false alarm: a one-way flow whose receiver had nothing to say). The
 * suspect path gets twice its round trip (and PATH_SUSPECT_GRACE_MS) to answer those
 * probes, even when a nearer standby answered sooner. Waiting for the standby's answer
 * costs one round trip over it and keeps a healthy call where it is.
 *
 * Probes go to the suspect path and the standbys (the relay, and every candidate that
 * ever answered), to every candidate when none was proven.
 *
 * The standby is warm: the relay is probed as soon as our leg there is registered, and
 * every other path that ever answered (another candidate pair, another family, another
 * relay) is probed once per keep-alive interval (PATH_STANDBY_MIN_INTERVAL_MS at least)
 * while the call is up (the relay leg's REGISTER keeps its allocation and NAT mapping
 * alive at the keep-alive rate). So switching
 * needs no set-up: the standby was proven before it was needed.
 *
 * The path left is demoted: it is probed every PATH_RECOVER_INTERVAL_MS (doubling to
 * PATH_RECOVER_MAX_INTERVAL_MS while silent) and takes the call back only after
 * PATH_RECOVER_ANSWERS answers in a row over at least PATH_RECOVER_HOLD_MS (hysteresis: a
 * flapping link does not drag the call back and forth).
 *
 * The peer decides for itself and its frames may come over another path than ours: it
 * saw the failure first (its frames through the relay: we follow at once, as the channel
 * roams), or it has not yet seen our move (frames in flight over the path we just left:
 * for PATH_SETTLE_MS after our own choice, frames over a worse path do not move us, and
 * frames over a demoted path never do until that path answers our probes again). A
 * source that is no candidate at all is the peer's NAT rebinding: followed (path.c).
 * Each step is counted (stats "path"."failover"). */
#include <stdio.h>

#include "auxiliary.h"
#include "log.h"

static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static struct path_candidate *active(struct bridge *br)
{
	return br->path.current >= 0 ? &br->path.cand[br->path.current] : NULL;
}


/* The silence that makes the path suspect: failover_after, longer on a long path. */
static uint64_t silence_limit(struct bridge *br)
{
	const struct path_candidate *c = active(br);
	uint64_t by_rtt = c ? (uint64_t)PATH_FAILOVER_RTT_FACTOR * c->rtt_ms : 0;

	return by_rtt > br->path.watch.after_ms ? by_rtt : br->path.watch.after_ms;
}

static bool any_demoted(const struct aux_path *p)
{
	for (size_t i = 0; i < p->ncand; i++)
		if (p->cand[i].demoted && (int)i != p->current)
			return true;
	return false;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void on_timer(uv_timer_t *t);
static void fail_over(struct bridge *br, size_t i, uint64_t now);
static uint64_t patience(struct bridge *br);

/* The timer wakes for the next of: the silence limit, the suspect path's next probes,
 * the demoted paths' next probes. Stopped when none applies. */
static void reschedule(struct bridge *br, uint64_t now)
{
	struct aux_path *p = &br->path;
	struct path_watch *w = &p->watch;
	uint64_t next = UINT64_MAX;

	if (!w->timer_open || p->phase != PATH_UP)
		return;
	if (w->suspect_since_ms && w->standby_ready)
		next = w->suspect_since_ms + patience(br);
	else if (w->suspect_since_ms)
		next = w->last_suspect_probe_ms + w->suspect_interval_ms;
	else if (w->unanswered_since_ms)
		next = w->unanswered_since_ms + silence_limit(br);
	if (any_demoted(p))
		next = earliest(next, w->last_recover_probe_ms + w->recover_interval_ms);
	if (next == UINT64_MAX)
		uv_timer_stop(&w->timer);
	else
		uv_timer_start(&w->timer, on_timer, next > now ? next - now : 0, 0);
}

/* ---- suspicion ---- */

/* The suspect path and every standby: the relay and whatever answered before; when
 * nothing else was ever proven, every candidate. */
static void probe_suspect_and_standby(struct bridge *br, uint64_t now)
{
	struct aux_path *p = &br->path;
	size_t sent = 0;

	p->seq++;
	for (size_t i = 0; i < p->ncand; i++) {
		const struct path_candidate *c = &p->cand[i];

		if ((int)i == p->current || c->relayed || c->replies) {
			path_probe(br, i, now);
			sent++;
		}
	}
	if (sent <= 1)
		for (size_t i = 0; i < p->ncand; i++)
			if ((int)i != p->current)
				path_probe(br, i, now);
	p->watch.last_suspect_probe_ms = now;
}

static void clear_suspicion(struct path_watch *w)
{
	w->suspect_since_ms = 0;
	w->unanswered_since_ms = 0;
	w->standby_ready = 0;
}

/* How long the suspect path is given to answer the suspicion's first probes before a
 * standby that answered sooner takes over: twice its round trip and a margin (a relay
 * nearer than the peer answers first even when the path is fine). */
static uint64_t patience(struct bridge *br)
{
	const struct path_candidate *c = active(br);

	return 2 * (uint64_t)(c ? c->rtt_ms : 0) + PATH_SUSPECT_GRACE_MS;
}

static void become_suspect(struct bridge *br, uint64_t now)
{
	struct path_watch *w = &br->path.watch;
	char what[IP_STRLEN + 32];

	path_describe(active(br), what, sizeof what);
	w->suspect_since_ms = now;
	w->suspect_interval_ms = PATH_SUSPECT_INTERVAL_MS;
	w->suspicions++;
	log_debug("path: nothing authenticated over the %s for %llu ms while sending: "
		  "probing every candidate", what,
		  (unsigned long long)since(now, w->heard_ms));
	probe_suspect_and_standby(br, now);
}

static void watch_silence(struct bridge *br, uint64_t now)
{
	struct path_watch *w = &br->path.watch;

	if (w->suspect_since_ms) {
		if (w->heard_ms >= w->suspect_since_ms) {
			w->false_alarms++;
			clear_suspicion(w);
			return;
		}
		if (w->standby_ready && since(now, w->suspect_since_ms) >= patience(br)) {
			fail_over(br, w->standby_ready - 1, now);
			return;
		}
		if (since(now, w->last_suspect_probe_ms) >= w->suspect_interval_ms) {
			probe_suspect_and_standby(br, now);
			w->suspect_interval_ms = earliest(w->suspect_interval_ms * 2,
							  PATH_MAX_INTERVAL_MS);
		}
		return;
	}
	if (!w->unanswered_since_ms)
		return;
	if (w->heard_ms >= w->unanswered_since_ms) {
		/* Answered. Data sent since the last frame heard keeps the clock running
		 * from that frame (else a path cut just after it would get two periods). */
		w->unanswered_since_ms = w->last_sent_ms > w->heard_ms ? w->heard_ms + 1 : 0;
		return;
	}
	if (since(now, w->unanswered_since_ms) >= silence_limit(br))
		become_suspect(br, now);
}

/* ---- the demoted paths ---- */

static void probe_demoted(struct bridge *br, uint64_t now)
{
	struct aux_path *p = &br->path;
	struct path_watch *w = &p->watch;
	bool answering = false;

	if (since(now, w->last_recover_probe_ms) < w->recover_interval_ms)
		return;
	p->seq++;
	for (size_t i = 0; i < p->ncand; i++)
		if (p->cand[i].demoted && (int)i != p->current) {
			path_probe(br, i, now);
			answering |= p->cand[i].steady > 0;
		}
	w->last_recover_probe_ms = now;
	w->recover_interval_ms = answering ? PATH_RECOVER_INTERVAL_MS
					   : earliest(w->recover_interval_ms * 2,
						      PATH_RECOVER_MAX_INTERVAL_MS);
}

static void on_timer(uv_timer_t *t)
{
	struct bridge *br = t->data;
	uint64_t now = uv_now(br->loop);

	if (br->state != AUX_RUNNING || br->path.phase != PATH_UP || br->path.current < 0) {
		clear_suspicion(&br->path.watch);
		return;
	}
	watch_silence(br, now);
	if (any_demoted(&br->path))
		probe_demoted(br, now);
	reschedule(br, now);
}

/* ---- hooks ---- */

void failover_data_pending(struct bridge *br, uint64_t now)
{
	struct path_watch *w = &br->path.watch;

	if (br->path.phase != PATH_UP || br->path.current < 0)
		return;
	w->unanswered_since_ms = now ? now : 1;
	if (!w->suspect_since_ms)
		reschedule(br, now);
}

void failover_path_chosen(struct bridge *br, uint64_t now)
{
	struct path_watch *w = &br->path.watch;

	w->switched_ms = now;
	w->heard_ms = now;
	clear_suspicion(w);
	reschedule(br, now);
}

static void demote(struct path_watch *w, struct path_candidate *c, uint64_t now)
{
	c->demoted = true;
	c->steady = 0;
	w->recover_interval_ms = PATH_RECOVER_INTERVAL_MS;
	w->last_recover_probe_ms = now;
}

/* The suspect path stayed silent and candidate i answered: the call goes there. */
static void fail_over(struct bridge *br, size_t i, uint64_t now)
{
	struct aux_path *p = &br->path;
	struct path_watch *w = &p->watch;
	struct path_candidate *was = active(br);
	char old[IP_STRLEN + 32], new[IP_STRLEN + 32], why[2 * AUX_PATH_REASON_MAX];
	uint64_t gap = since(now, w->heard_ms);

	path_describe(was, old, sizeof old);
	path_describe(&p->cand[i], new, sizeof new);
	snprintf(why, sizeof why, "failover: nothing authenticated over the %s for %llu ms "
		 "while sending; the %s answered in %u ms", old, (unsigned long long)gap, new,
		 p->cand[i].rtt_ms);
	demote(w, was, now);
	w->failovers++;
	w->last_gap_ms = gap;
	why[AUX_PATH_REASON_MAX] = '\0';  /* a notice's reason is bounded */
	path_switch(br, i, why);
}

/* Demoted candidate i answered: one more in a row; back once the hold is over. */
static void recovering(struct bridge *br, size_t i, uint64_t now)
{
	struct aux_path *p = &br->path;
	struct path_candidate *c = &p->cand[i], *cur = active(br);
	char old[IP_STRLEN + 32], new[IP_STRLEN + 32], why[2 * AUX_PATH_REASON_MAX];

	if (c->steady++ == 0)
		c->steady_since_ms = now;
	if (p->watch.recover_interval_ms > PATH_RECOVER_INTERVAL_MS) {
		/* It answers again: probed at the fast rate from now on, not after the
		 * backed-off interval. */
		p->watch.recover_interval_ms = PATH_RECOVER_INTERVAL_MS;
		reschedule(br, now);
	}
	if (c->steady < PATH_RECOVER_ANSWERS ||
	    since(now, c->steady_since_ms) < PATH_RECOVER_HOLD_MS || path_rank(c) > path_rank(cur))
		return;
	path_describe(cur, old, sizeof old);
	path_describe(c, new, sizeof new);
	snprintf(why, sizeof why, "the %s answered %u probes in a row over %llu ms: back from "
		 "the %s", new, c->steady, (unsigned long long)since(now, c->steady_since_ms),
		 old);
	p->watch.switch_backs++;
	why[AUX_PATH_REASON_MAX] = '\0';  /* a notice's reason is bounded */
	path_switch(br, i, why);
}

bool failover_take_answer(struct bridge *br, size_t i, uint64_t now)
{
	struct aux_path *p = &br->path;
	struct path_watch *w = &p->watch;

	if (p->phase != PATH_UP || !active(br))
		return false;
	if ((int)i == p->current) {
		if (w->suspect_since_ms) {
			w->false_alarms++;
			clear_suspicion(w);
		}
		return false;
	}
	if (w->suspect_since_ms) {
		if (since(now, w->suspect_since_ms) >= patience(br))
			fail_over(br, i, now);
		else if (!w->standby_ready) {
			w->standby_ready = i + 1;  /* taken once the suspect path had its chance */
			reschedule(br, now);
		}
		return true;
	}
	if (p->cand[i].demoted) {
		recovering(br, i, now);
		return true;
	}
	return false;
}

/* The peer's frames came from another endpoint than the path's: follow, or undo the
 * channel's roaming (see the opening comment). */
void failover_frame_elsewhere(struct bridge *br, struct aux_lan *l,
			      const struct ip_endpoint *from, uint64_t now)
{
	struct aux_path *p = &br->path;
	struct path_watch *w = &p->watch;
	struct path_candidate *cur = active(br), *c;
	char what[IP_STRLEN + 32], why[AUX_PATH_REASON_MAX];
	bool worse;
	int k;

	(void)l;
	if (!cur || p->phase != PATH_UP || cur->tcp)
		return;  /* not up yet, or on the TCP leg: the channel roams as it always did */
	k = path_find_candidate(p, from);
	if (k < 0 && tcp_leg_owns(br, from))
		return;  /* the TCP leg before it is a candidate */
	if (k < 0) {
		path_follow_roaming(br, from);  /* the peer's NAT mapping changed */
		return;
	}
	c = &p->cand[k];
	worse = path_rank(c) > path_rank(cur);
	if ((c->demoted && c->steady == 0) ||
	    (worse && since(now, w->switched_ms) < PATH_SETTLE_MS)) {
		for (unsigned i = 0; i < br->n_lan; i++)
			channel_set_peer(br->lan[i].ch, &cur->ep);
		w->peer_moves_ignored++;
		return;
	}
	path_describe(c, what, sizeof what);
	snprintf(why, sizeof why, "the peer's frames now come over the %s: following", what);
	if (worse)
		demote(w, cur, now);
	w->peer_moves_followed++;
	path_switch(br, (size_t)k, why);
}

/* From the keep-alive tick: every other path that ever answered, and the relay, once a
 * keep-alive interval but at most every PATH_STANDBY_MIN_INTERVAL_MS (the demoted ones
 * have probes of their own). */
void failover_probe_standby(struct bridge *br, uint64_t now)
{
	struct aux_path *p = &br->path;
	struct path_watch *w = &p->watch;
	bool bumped = false;

	uint64_t every = p->keepalive_ms > PATH_STANDBY_MIN_INTERVAL_MS
			 ? p->keepalive_ms : PATH_STANDBY_MIN_INTERVAL_MS;

	if (p->phase != PATH_UP || p->current < 0 || since(now, w->last_standby_probe_ms) < every)
		return;
	w->last_standby_probe_ms = now;
	for (size_t i = 0; i < p->ncand; i++) {
		const struct path_candidate *c = &p->cand[i];

		if ((int)i == p->current || c->demoted || c->tcp || !(c->relayed || c->replies))
			continue;
		if (!bumped)
			p->seq++;
		bumped = true;
		path_probe(br, i, now);
		w->standby_probes++;
	}
}

/* The best other path that answered within the last few keep-alive intervals. */
static const struct path_candidate *standby(const struct bridge *br, uint64_t now)
{
	const struct aux_path *p = &br->path;
	const struct path_candidate *best = NULL;

	for (size_t i = 0; i < p->ncand; i++) {
		const struct path_candidate *c = &p->cand[i];

		if ((int)i == p->current || !c->replied_ms ||
		    since(now, c->replied_ms) > PATH_MISSED_KEEPALIVES * p->keepalive_ms)
			continue;
		if (!best || path_rank(c) < path_rank(best) ||
		    (path_rank(c) == path_rank(best) && c->rtt_ms < best->rtt_ms))
			best = c;
	}
	return best;
}

json_t *failover_stats_json(const struct bridge *br)
{
	const struct path_watch *w = &br->path.watch;
	const struct path_candidate *s = standby(br, uv_now(br->loop));
	char ep[IP_STRLEN];

	return json_pack("{s:I, s:b, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "failover_after_ms", (json_int_t)w->after_ms,
			 "suspect", w->suspect_since_ms != 0,
			 "standby", s ? ip_endpoint_format(s->tcp ? &s->shown : &s->ep, ep,
							   sizeof ep) : NULL,
			 "suspicions", (json_int_t)w->suspicions,
			 "failovers", (json_int_t)w->failovers,
			 "false_alarms", (json_int_t)w->false_alarms,
			 "switch_backs", (json_int_t)w->switch_backs,
			 "peer_moves_followed", (json_int_t)w->peer_moves_followed,
			 "peer_moves_ignored", (json_int_t)w->peer_moves_ignored,
			 "standby_probes", (json_int_t)w->standby_probes,
			 "last_gap_ms", (json_int_t)w->last_gap_ms);
}

/* ---- life cycle ---- */

int failover_start(struct bridge *br, uint64_t after_ms)
{
	struct path_watch *w = &br->path.watch;
	int rc;

	w->after_ms = after_ms;
	w->recover_interval_ms = PATH_RECOVER_INTERVAL_MS;
	/* The first round probes every candidate; the standby's own probes start one
	 * keep-alive interval later. */
	w->last_standby_probe_ms = uv_now(br->loop);
	if ((rc = uv_timer_init(br->loop, &w->timer)) != 0)
		return rc;
	w->timer.data = br;
	w->timer_open = true;
	return 0;
}

void failover_stop(struct bridge *br)
{
	struct path_watch *w = &br->path.watch;

	if (!w->timer_open)
		return;
	uv_timer_stop(&w->timer);
	if (!uv_is_closing((uv_handle_t *)&w->timer))
		uv_close((uv_handle_t *)&w->timer, NULL);
}
