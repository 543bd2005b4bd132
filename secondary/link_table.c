/* The secondary's links to other gateways (link_table.h): per-peer sliding windows of
 * the auxiliaries' measure notices, and when to tell the principal. */
#include "link_table.h"

#include <stdio.h>
#include <string.h>

void link_table_init(struct link_table *t)
{
	memset(t, 0, sizeof *t);
}

static struct link_entry *find(struct link_table *t, const char *peer)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->e[i].peer, peer) == 0)
			return &t->e[i];
	return NULL;
}

/* Moves the window to now's slot, emptying the slots passed over. */
static void advance(struct link_entry *e, uint64_t now)
{
	uint64_t slot = now / LINK_SLOT_MS;

	for (uint64_t s = e->slot + 1; s <= slot && s <= e->slot + LINK_WINDOW_SLOTS; s++) {
		e->probes[s % LINK_WINDOW_SLOTS] = 0;
		e->replies[s % LINK_WINDOW_SLOTS] = 0;
	}
	if (slot > e->slot)
		e->slot = slot;
}

static void window(struct link_entry *e, uint64_t now, uint32_t *probes, uint32_t *replies)
{
	*probes = *replies = 0;
	advance(e, now);
	for (size_t i = 0; i < LINK_WINDOW_SLOTS; i++) {
		*probes += e->probes[i];
		*replies += e->replies[i];
	}
}

static uint32_t loss_ppm(uint32_t probes, uint32_t replies)
{
	if (probes == 0 || replies >= probes)
		return 0;
	return (uint32_t)((uint64_t)(probes - replies) * POP_LINK_LOSS_SCALE / probes);
}

static enum pop_link_kind kind_of(const struct aux_measure_notice *m)
{
	return m->tcp ? POP_LINK_TCP : m->relayed ? POP_LINK_RELAYED : POP_LINK_DIRECT;
}

bool link_table_measured(struct link_table *t, const char *peer,
			 const struct aux_measure_notice *m, uint64_t now)
{
	struct link_entry *e = find(t, peer);
	size_t slot;

	if (!e) {
		if (t->n >= LINK_TABLE_MAX || strlen(peer) > PKI_NAME_MAX || !peer[0])
			return false;
		e = &t->e[t->n++];
		memset(e, 0, sizeof *e);
		snprintf(e->peer, sizeof e->peer, "%s", peer);
		e->slot = now / LINK_SLOT_MS;
	}
	advance(e, now);
	slot = e->slot % LINK_WINDOW_SLOTS;
	e->probes[slot] += m->probes;
	e->replies[slot] += m->replies < m->probes ? m->replies : m->probes;
	e->kind = kind_of(m);
	if (m->replies > 0) {
		/* The auxiliary's round trip is smoothed already; across notices (and calls
		 * to the same gateway) a little more. */
		e->rtt_ms = e->has_rtt ? (3 * e->rtt_ms + m->rtt_ms + 2) / 4 : m->rtt_ms;
		e->has_rtt = true;
		e->last_answer_ms = now;
	}
	e->last_measure_ms = now;
	return true;
}

static uint32_t distance(uint32_t a, uint32_t b)
{
	return a > b ? a - b : b - a;
}

static bool changed(struct link_entry *e, uint64_t now)
{
	uint32_t probes, replies, loss, moved;

	window(e, now, &probes, &replies);
	if (probes == 0)
		return false;
	if (!e->reported)
		return true;
	loss = loss_ppm(probes, replies);
	moved = distance(e->rtt_ms, e->reported_rtt_ms);
	return (moved > LINK_RTT_CHANGE_MS && moved * 4 > e->reported_rtt_ms) ||
	       distance(loss, e->reported_loss_ppm) >= LINK_LOSS_CHANGE_PPM ||
	       e->kind != e->reported_kind;
}

bool link_table_report_due(struct link_table *t, uint64_t now)
{
	bool any = false;

	if (t->ever_reported && now - t->last_report_ms < LINK_MIN_GAP_MS)
		return false;
	for (size_t i = 0; i < t->n; i++) {
		uint32_t probes, replies;

		if (changed(&t->e[i], now))
			return true;
		window(&t->e[i], now, &probes, &replies);
		any |= probes > 0;
	}
	return any && (!t->ever_reported || now - t->last_report_ms >= LINK_REPORT_MS);
}

/* Drops the peers not measured for LINK_FORGET_MS. */
static void forget(struct link_table *t, uint64_t now)
{
	size_t kept = 0;

	for (size_t i = 0; i < t->n; i++)
		if (now - t->e[i].last_measure_ms < LINK_FORGET_MS)
			t->e[kept++] = t->e[i];
	t->n = kept;
}

void link_table_fill(struct link_table *t, uint64_t now, struct pop_links_req *out)
{
	out->nlinks = 0;
	forget(t, now);
	for (size_t i = 0; i < t->n && out->nlinks < POP_MAX_LINKS; i++) {
		struct link_entry *e = &t->e[i];
		struct pop_link *l = &out->links[out->nlinks];
		uint32_t probes, replies;
		uint64_t age;

		window(e, now, &probes, &replies);
		if (probes == 0)
			continue;
		age = e->last_answer_ms ? now - e->last_answer_ms : UINT32_MAX;
		*l = (struct pop_link){.kind = e->kind, .rtt_ms = e->rtt_ms,
				       .loss_ppm = loss_ppm(probes, replies), .probes = probes,
				       .age_ms = age > UINT32_MAX ? UINT32_MAX : (uint32_t)age};
		if (l->rtt_ms > POP_LINK_RTT_MAX_MS)
			l->rtt_ms = POP_LINK_RTT_MAX_MS;
		snprintf(l->peer, sizeof l->peer, "%s", e->peer);
		e->reported = true;
		e->reported_rtt_ms = l->rtt_ms;
		e->reported_loss_ppm = l->loss_ppm;
		e->reported_kind = l->kind;
		out->nlinks++;
	}
	t->last_report_ms = now;
	t->ever_reported = true;
}
