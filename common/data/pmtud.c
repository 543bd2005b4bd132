/* The path MTU search of one path (see pmtud.h): which size to probe next, what an
 * answer or a silence means, and the timers of confirmation, raising and retrying. */
#include "pmtud.h"

static uint64_t or_default(uint64_t v, uint64_t dflt)
{
	return v ? v : dflt;
}

static unsigned smaller(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The largest size worth trying: the local link's, minus the headers beneath, within the
 * owner's ceiling; never below the minimum (a link smaller than that gets the minimum
 * anyway, and the search says so by staying in error). */
static unsigned ceiling(const struct pmtud_params *pp)
{
	unsigned overhead = pp->ipv6 ? PMTUD_IPV6_OVERHEAD : PMTUD_IPV4_OVERHEAD;
	unsigned max = pp->link_mtu > overhead ? pp->link_mtu - overhead : 0;

	if (pp->max_plpmtu)
		max = smaller(max, pp->max_plpmtu);
	max = smaller(max, PMTUD_MAX_PLPMTU);
	return max < PMTUD_MIN_PLPMTU ? PMTUD_MIN_PLPMTU : max;
}

/* ---- states ---- */

static void enter_complete(struct pmtud *p, uint64_t now_ms)
{
	p->state = PMTUD_COMPLETE;
	p->complete_ms = now_ms;
	p->confirmed_ms = now_ms;
}

/* The base size did not get through (or the local link cannot carry it): use the minimum
 * and look for the largest size below the base. */
static void enter_error(struct pmtud *p, uint64_t now_ms)
{
	p->state = PMTUD_ERROR;
	p->below_base = true;
	p->plpmtu = PMTUD_MIN_PLPMTU;
	p->low = 0;
	p->high = smaller(PMTUD_BASE_PLPMTU - 1, p->max);
	p->tried_high = false;
	p->next_probe_ms = now_ms;
}

static void enter_base(struct pmtud *p, uint64_t now_ms)
{
	p->stats.searches++;
	p->outstanding = false;
	p->confirming = false;
	if (p->max < PMTUD_BASE_PLPMTU) {
		enter_error(p, now_ms);
		return;
	}
	p->state = PMTUD_BASE;
	p->below_base = false;
	p->plpmtu = PMTUD_BASE_PLPMTU;
	p->low = 0;
	p->high = p->max;
	p->tried_high = false;
	p->next_probe_ms = now_ms;
}

/* A confirmed starting point (base, or the minimum below it): search upward from it. */
static void enter_searching(struct pmtud *p, unsigned confirmed, unsigned high,
			    uint64_t now_ms)
{
	p->state = PMTUD_SEARCHING;
	p->low = confirmed;
	p->plpmtu = confirmed;
	p->high = high;
	p->tried_high = false;
	p->next_probe_ms = now_ms;
	if (p->high <= p->low)
		enter_complete(p, now_ms);
}

void pmtud_init(struct pmtud *p, const struct pmtud_params *params, uint64_t now_ms)
{
	*p = (struct pmtud){0};
	p->params = *params;
	p->params.link_mtu = (unsigned)or_default(params->link_mtu, PMTUD_DEFAULT_LINK_MTU);
	p->params.probe_timeout_ms = or_default(params->probe_timeout_ms,
						PMTUD_DEFAULT_PROBE_TIMEOUT_MS);
	p->params.raise_ms = or_default(params->raise_ms, PMTUD_DEFAULT_RAISE_MS);
	p->params.confirm_ms = or_default(params->confirm_ms, PMTUD_DEFAULT_CONFIRM_MS);
	p->params.error_retry_ms = or_default(params->error_retry_ms,
					      PMTUD_DEFAULT_ERROR_RETRY_MS);
	p->max = ceiling(&p->params);
	enter_base(p, now_ms);
}

void pmtud_restart(struct pmtud *p, uint64_t now_ms)
{
	enter_base(p, now_ms);
}

/* ---- probes ---- */

/* The size the current state tries next (no probe outstanding). */
static unsigned next_size(struct pmtud *p)
{
	switch (p->state) {
	case PMTUD_BASE:
		return PMTUD_BASE_PLPMTU;
	case PMTUD_ERROR:
		return PMTUD_MIN_PLPMTU;
	default:
		break;
	}
	/* Searching: the largest first (a clean path is then done in one round trip), then
	 * halve the interval between what got through and what did not. */
	if (!p->tried_high) {
		p->tried_high = true;
		return p->high;
	}
	return p->low + (p->high - p->low + 1) / 2;
}

static void begin_size(struct pmtud *p, unsigned size, bool confirming)
{
	p->outstanding = true;
	p->confirming = confirming;
	p->probe_size = size;
	p->first_id = p->next_id;
	p->attempts = 0;
}

/* How long a probe is waited for: the configured time, or twice the round trip seen. */
static uint64_t probe_timeout(const struct pmtud *p)
{
	uint64_t twice_rtt = 2 * p->srtt_ms;

	return twice_rtt > p->params.probe_timeout_ms ? twice_rtt : p->params.probe_timeout_ms;
}

static void send_attempt(struct pmtud *p, uint64_t now_ms, struct pmtud_probe *probe)
{
	probe->id = p->next_id++;
	probe->size = p->probe_size;
	p->sent_ms[p->attempts] = now_ms;
	p->attempts++;
	p->deadline_ms = now_ms + probe_timeout(p);
	p->stats.probes_sent++;
}

/* Every probe of the outstanding size went unanswered (or the interface refused it). */
static void size_lost(struct pmtud *p, uint64_t now_ms)
{
	unsigned size = p->probe_size;

	p->outstanding = false;
	p->stats.sizes_lost++;
	if (p->confirming) {
		/* The size in use stopped getting through: a black hole. */
		p->confirming = false;
		p->stats.black_holes++;
		enter_base(p, now_ms);
		return;
	}
	switch (p->state) {
	case PMTUD_BASE:
		enter_error(p, now_ms);
		return;
	case PMTUD_ERROR:
		/* Not even the minimum: keep it (nothing smaller is used) and try later. */
		p->next_probe_ms = now_ms + p->params.error_retry_ms;
		return;
	case PMTUD_SEARCHING:
		p->high = size - 1;
		p->next_probe_ms = now_ms;
		if (p->high <= p->low)
			enter_complete(p, now_ms);
		return;
	case PMTUD_COMPLETE:
		return;
	}
}

/* Whether id is one of the probes sent for the outstanding size. */
static bool outstanding_id(const struct pmtud *p, uint32_t id)
{
	return p->outstanding && (uint32_t)(id - p->first_id) < p->attempts;
}

bool pmtud_ack(struct pmtud *p, uint32_t id, unsigned size, uint64_t now_ms)
{
	uint64_t rtt;

	if (!outstanding_id(p, id) || size != p->probe_size) {
		p->stats.stale_acks++;
		return false;
	}
	p->stats.probes_acked++;
	rtt = now_ms > p->sent_ms[id - p->first_id] ? now_ms - p->sent_ms[id - p->first_id] : 0;
	p->srtt_ms = p->srtt_ms ? (7 * p->srtt_ms + rtt) / 8 : rtt;
	p->outstanding = false;
	p->confirmed_ms = now_ms;
	if (p->confirming) {
		p->confirming = false;
		return true;
	}
	switch (p->state) {
	case PMTUD_BASE:
		enter_searching(p, size, p->max, now_ms);
		break;
	case PMTUD_ERROR:
		enter_searching(p, size, p->high, now_ms);
		break;
	case PMTUD_SEARCHING:
		p->low = size;
		p->plpmtu = size;
		p->next_probe_ms = now_ms;
		if (p->low >= p->high)
			enter_complete(p, now_ms);
		break;
	case PMTUD_COMPLETE:
		break;
	}
	return true;
}

void pmtud_refused(struct pmtud *p, uint32_t id, uint64_t now_ms)
{
	if (!outstanding_id(p, id))
		return;
	p->stats.probes_refused++;
	/* The local interface is smaller than it said: nothing this large is tried again. */
	if (p->probe_size - 1 >= PMTUD_MIN_PLPMTU)
		p->max = smaller(p->max, p->probe_size - 1);
	p->high = smaller(p->high, p->max);
	size_lost(p, now_ms);
}

void pmtud_note_traffic(struct pmtud *p, uint64_t now_ms)
{
	p->traffic = true;
	p->traffic_ms = now_ms;
}

/* ---- timers ---- */

static bool traffic_recent(const struct pmtud *p, uint64_t now_ms)
{
	return p->traffic && now_ms < p->traffic_ms + p->params.confirm_ms;
}

/* In complete: the probe due now, if any (a raise, else a confirmation), and when the
 * next one may be. */
static bool complete_due(struct pmtud *p, uint64_t now_ms, uint64_t *next)
{
	uint64_t raise_at = p->complete_ms + p->params.raise_ms;
	uint64_t confirm_at = p->confirmed_ms + p->params.confirm_ms;

	if (p->plpmtu < p->max) {
		if (now_ms >= raise_at) {
			p->stats.raises++;
			p->stats.searches++;
			enter_searching(p, p->plpmtu, p->max, now_ms);
			begin_size(p, next_size(p), false);
			return true;
		}
		*next = earliest(*next, raise_at);
	}
	if (now_ms >= confirm_at && traffic_recent(p, now_ms)) {
		begin_size(p, p->plpmtu, true);
		return true;
	}
	*next = earliest(*next, confirm_at > now_ms ? confirm_at
						     : now_ms + p->params.confirm_ms);
	return false;
}

bool pmtud_tick(struct pmtud *p, uint64_t now_ms, struct pmtud_probe *probe,
		uint64_t *next_ms)
{
	uint64_t next = UINT64_MAX;
	bool send = false;

	if (p->outstanding && now_ms >= p->deadline_ms) {
		p->stats.probes_timed_out++;
		if (p->attempts < PMTUD_MAX_PROBES)
			send = true;
		else
			size_lost(p, now_ms);
	}
	if (!send && !p->outstanding) {
		if (p->state == PMTUD_COMPLETE) {
			send = complete_due(p, now_ms, &next);
		} else if (now_ms >= p->next_probe_ms) {
			begin_size(p, next_size(p), false);
			send = true;
		} else {
			next = p->next_probe_ms;
		}
	}
	if (send)
		send_attempt(p, now_ms, probe);
	if (p->outstanding)
		next = p->deadline_ms;
	if (next_ms)
		*next_ms = next;
	return send;
}

/* ---- inspection ---- */

unsigned pmtud_plpmtu(const struct pmtud *p)
{
	return p->plpmtu;
}

enum pmtud_state pmtud_state(const struct pmtud *p)
{
	return p->state;
}

bool pmtud_settled(const struct pmtud *p)
{
	return p->state == PMTUD_COMPLETE;
}

const char *pmtud_state_name(enum pmtud_state s)
{
	switch (s) {
	case PMTUD_BASE:
		return "base";
	case PMTUD_SEARCHING:
		return "searching";
	case PMTUD_COMPLETE:
		return "complete";
	case PMTUD_ERROR:
		return "error";
	}
	return "unknown";
}

json_t *pmtud_status_json(const struct pmtud *p)
{
	const struct pmtud_stats *s = &p->stats;
	json_t *j = json_pack("{s:i, s:s, s:b, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I}",
			      "plpmtu", (int)p->plpmtu, "state", pmtud_state_name(p->state),
			      "below_base", p->below_base, "max", (int)p->max,
			      "probing", p->outstanding ? (int)p->probe_size : 0,
			      "probes_sent", (json_int_t)s->probes_sent,
			      "probes_acked", (json_int_t)s->probes_acked,
			      "probes_timed_out", (json_int_t)s->probes_timed_out,
			      "probes_refused", (json_int_t)s->probes_refused,
			      "searches", (json_int_t)s->searches,
			      "black_holes", (json_int_t)s->black_holes);

	if (j) {
		json_object_set_new(j, "raises", json_integer((json_int_t)s->raises));
		json_object_set_new(j, "sizes_lost", json_integer((json_int_t)s->sizes_lost));
		json_object_set_new(j, "stale_acks", json_integer((json_int_t)s->stale_acks));
		json_object_set_new(j, "rtt_ms", json_integer((json_int_t)p->srtt_ms));
	}
	return j;
}
