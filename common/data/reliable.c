/* The reliable transport engine (reliable.h). Layout:
 *   send side    a ring buffer of the bytes from snd_una to snd_end, and a ring of segment
 *                records (one per segment sent, in sequence order, cut once and resent
 *                with the same boundaries) carrying the RFC 6675 scoreboard bits. A
 *                cumulative ACK pops records from the front; a SACK block marks only the
 *                part of it not already in the scoreboard's range set, found by binary
 *                search, so each record is marked once: no scan of the window per ACK.
 *   loss         a cursor walks the records in order and stops at the first one not yet
 *                known lost (three segments' worth of SACKed bytes above it, or sent
 *                before a delivered segment by more than the RTT plus a reordering
 *                allowance, as in RACK); lost records queue for retransmission; a
 *                retransmission lost again is found by the same time rule from a FIFO
 *                in send order. A time-out marks everything unacknowledged lost.
 *   receive side a ring buffer from rcv_base (the first byte the application has not
 *                taken) of the window's size, a range set of what arrived above rcv_nxt
 *                (the SACK blocks), and for unordered messages a FIFO of complete
 *                messages and a range set of those delivered beyond a hole. */
#include "reliable.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "reliable_sets.h"
#include "reliable_wire.h"

/* Implementation tunables. */
#define REL_DATA_SACKS 2u            /* SACK blocks on a data segment (room kept in pmss) */
#define REL_DUPTHRESH 3u             /* segments SACKed above a hole before it is lost */
#define REL_DELACK_US 2000u          /* second segment or this, whichever first */
#define REL_REO_MIN_US 50u           /* RACK's reordering allowance, at least */
#define REL_CLOCK_G_US 1000u         /* RFC 6298's G: hosts run millisecond timers */
#define REL_INITIAL_CWND_SEGS 10u    /* RFC 6928 */
#define REL_BETA_NUM 7u              /* multiplicative decrease to 0.7 (as CUBIC, RFC */
#define REL_BETA_DEN 10u             /* 8312): random loss on a tunnel is not all queueing */
#define REL_RETURN_DIV 4u            /* below w_max: a quarter of the gap per RTT */
#define REL_PROBE_DIV 16u            /* above it: a sixteenth of the excess per RTT */
#define REL_TLP_MIN_US 1000u        /* tail loss probe: at least this, hosts' timers
					* being milliseconds (see probe_wait) */
#define REL_MAX_TLP 3u               /* probes, each after twice the last, before an RTO */
#define REL_DEAD_TRIES 16u           /* retransmissions the back-off leaves room for
					* within dead_ms (see backed_off) */
#define REL_LINGER_MIN_US 400000u   /* a closed connection answers FINs (linger_us) */
#define REL_RANGES 1024u             /* holes tracked per window */
#define REL_INITIAL_RECS 1024u

enum rec_flag {
	RF_SACKED = 1,
	RF_LOST = 2,        /* queued for retransmission */
	RF_RETX = 4,        /* sent more than once: no RTT sample (Karn) */
	RF_INFLIGHT = 8,    /* counted in the pipe */
	RF_FIN = 16,        /* the FIN: no payload, one unit of sequence space */
};

struct seg_rec {
	uint64_t seq;
	uint64_t xmit_us;           /* last sent */
	uint32_t len;               /* payload bytes */
	uint32_t msg_off, msg_len;  /* unordered */
	uint8_t flags;
};

enum send_limit { LIMIT_NONE, LIMIT_CWND, LIMIT_WINDOW, LIMIT_DATA };

struct rel_conn {
	struct rel_params p;
	uint32_t pmss;               /* payload bytes per new data segment */
	uint32_t mss_high;           /* the largest MSS ever set: a segment cut before
				      * rel_set_mss is resent whole */
	enum rel_state state;
	int error;

	/* Send side. */
	uint8_t *sbuf;
	uint64_t sbuf_size;
	uint64_t sbuf_high;          /* bytes ever queued: what rel_free must wipe */
	uint64_t snd_una, snd_nxt, snd_end;  /* acked < snd_una <= sent < snd_nxt; queued
					      * < snd_end (snd_nxt passes it by the FIN) */
	uint8_t lent[REL_MAX_HEADER];        /* ring bytes under the last segment's header */
	size_t lent_off, lent_len;           /* (rel_output_view); 0: nothing lent */
	struct fifo msgq;            /* unordered: messages not wholly segmented yet */
	struct seg_rec *recs;
	uint64_t rec_head;           /* number of the first record */
	size_t rec_n, rec_cap;
	struct rangeset sacked;
	struct fifo lostq;           /* record numbers to retransmit */
	struct fifo retxq;           /* (record number, send time) of retransmissions */
	uint64_t lost_cursor;
	uint64_t flight;
	uint64_t cwnd, ssthresh, ca_acc;
	uint64_t w_max;              /* cwnd when the last reduction began */
	bool in_recovery;
	/* A time-out's congestion response, kept until it proves needed or spurious. */
	bool undo_armed;
	uint64_t undo_at;            /* the time-out: records sent before it and marked lost
				      * by it, acknowledged before they went again, were not
				      * lost */
	uint64_t undo_until;         /* snd_nxt then: past it nothing can prove it */
	uint64_t undo_cwnd, undo_ssthresh, undo_w_max, undo_recovery_point;
	bool undo_in_recovery;
	uint64_t recovery_point;     /* no new reduction until snd_una reaches it */
	uint64_t wnd_edge;           /* the peer's window: bytes below it may be sent */
	uint64_t rack_xmit_us, rack_end, rack_rtt_us, rack_at;
	bool fin_queued, fin_sent, fin_acked;
	enum send_limit limit;       /* why the last rel_output stopped, since limit_since */
	uint64_t limit_since;

	/* Round trip. */
	bool have_rtt;
	uint64_t srtt, rttvar, rto, min_rtt;
	uint64_t rto_at;             /* 0: not armed */
	bool timer_is_tlp;           /* rto_at is a tail loss probe's time, not the RTO */
	unsigned tlp_count;          /* probes since the last progress */
	bool tlp_pending;

	/* Receive side. */
	uint8_t *rbuf;
	uint64_t rbuf_size;
	uint64_t rbuf_high;          /* highest sequence written: what rel_free must wipe */
	uint64_t rcv_base, rcv_nxt;
	struct rangeset rcvd;
	struct fifo ready;           /* unordered: complete messages, in completion order */
	struct rangeset delivered;   /* unordered: taken by the application above rcv_base */
	bool peer_fin_known, peer_fin_in;
	uint64_t peer_fin_seq;
	uint64_t last_lo;            /* where the latest new data went (first SACK block) */
	unsigned sack_rot;
	bool ack_now, probe_pending, rst_pending;
	bool ack_urgent;             /* news for the peer's recovery (rel_ack_urgent) */
	uint64_t ack_due;
	unsigned unacked_segs;
	uint64_t adv_edge;
	/* Opening in place (rel_input_room): the room handed out, the ring bytes under its
	 * guessed header, and the guess; rcv_high is where the next new data should go. */
	uint8_t *room;               /* NULL: none out */
	size_t room_len, room_hl;
	uint64_t room_seq;
	uint8_t room_saved[REL_MAX_HEADER];
	uint64_t rcv_high;           /* the end of the highest data received */
	uint8_t room_hl_next;        /* the header length of the last segment in place */
	uint8_t *scratch;            /* a wrong guess is moved here (REL_MAX_MSS bytes) */

	/* Timers. */
	uint64_t last_rx, last_ka, last_app, close_at, closed_at;

	struct rel_stats st;
};

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static uint64_t pow2_at_least(uint64_t x)
{
	uint64_t p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

/* ---- rings of bytes ---- */

static void ring_put(uint8_t *ring, uint64_t size, uint64_t seq, const uint8_t *src, size_t n)
{
	size_t at = (size_t)(seq & (size - 1));
	size_t first = n < size - at ? n : (size_t)(size - at);

	memcpy(ring + at, src, first);
	memcpy(ring, src + first, n - first);
}

static void ring_get(const uint8_t *ring, uint64_t size, uint64_t seq, uint8_t *dst, size_t n)
{
	size_t at = (size_t)(seq & (size - 1));
	size_t first = n < size - at ? n : (size_t)(size - at);

	memcpy(dst, ring + at, first);
	memcpy(dst + first, ring, n - first);
}

/* ---- segment records ---- */

static struct seg_rec *rec_at(const struct rel_conn *c, uint64_t num)
{
	return &c->recs[num & (c->rec_cap - 1)];
}

static uint64_t rec_bytes(const struct seg_rec *r)
{
	return r->len + ((r->flags & RF_FIN) ? 1 : 0);
}

static uint64_t rec_end(const struct seg_rec *r)
{
	return r->seq + rec_bytes(r);
}

static bool rec_live(const struct rel_conn *c, uint64_t num)
{
	return num >= c->rec_head && num < c->rec_head + c->rec_n;
}

static struct seg_rec *rec_push(struct rel_conn *c)
{
	if (c->rec_n == c->rec_cap) {
		size_t cap = c->rec_cap * 2;
		struct seg_rec *v = malloc(cap * sizeof(*v));

		if (!v)
			return NULL;
		for (size_t k = 0; k < c->rec_n; k++)
			v[(c->rec_head + k) & (cap - 1)] = *rec_at(c, c->rec_head + k);
		free(c->recs);
		c->recs = v;
		c->rec_cap = cap;
	}
	c->rec_n++;
	return rec_at(c, c->rec_head + c->rec_n - 1);
}

/* Number of the first record whose end lies above seq. */
static uint64_t rec_find(const struct rel_conn *c, uint64_t seq)
{
	uint64_t lo = c->rec_head, hi = c->rec_head + c->rec_n;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (rec_end(rec_at(c, mid)) <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- parameters ---- */

static int resolve_params(struct rel_params *p)
{
	if (!p->mss)
		p->mss = REL_DEFAULT_MSS;
	if (!p->snd_buf)
		p->snd_buf = REL_DEFAULT_BUF;
	if (!p->rcv_buf)
		p->rcv_buf = REL_DEFAULT_BUF;
	if (!p->idle_ms)
		p->idle_ms = REL_DEFAULT_IDLE_MS;
	if (!p->dead_ms)
		p->dead_ms = REL_DEFAULT_DEAD_MS;
	if (!p->close_ms)
		p->close_ms = REL_DEFAULT_CLOSE_MS;
	if (!p->keepalive_ms)
		p->keepalive_ms = REL_DEFAULT_KEEPALIVE_MS;
	if (!p->rto_min_ms)
		p->rto_min_ms = REL_DEFAULT_RTO_MIN_MS;
	if (!p->rto_max_ms)
		p->rto_max_ms = REL_DEFAULT_RTO_MAX_MS;
	if (p->mss < REL_MIN_MSS || p->mss > REL_MAX_MSS)
		return INSEL_E_BAD_FIELD;
	if (p->snd_buf < REL_MIN_BUF || p->snd_buf > REL_MAX_BUF ||
	    p->rcv_buf < REL_MIN_BUF || p->rcv_buf > REL_MAX_BUF)
		return INSEL_E_BAD_FIELD;
	if (p->rto_min_ms > p->rto_max_ms)
		return INSEL_E_BAD_FIELD;
	return 0;
}

/* A data segment's payload: the MSS less the largest header it carries. */
static uint32_t payload_per_segment(uint32_t mss)
{
	return mss - (REL_HDR_LEN + REL_SEQ_LEN + REL_MSG_LEN + REL_DATA_SACKS * REL_SACK_LEN);
}

static uint64_t rto_clamp(const struct rel_conn *c, uint64_t rto)
{
	rto = max_u64(rto, (uint64_t)c->p.rto_min_ms * 1000);
	return min_u64(rto, (uint64_t)c->p.rto_max_ms * 1000);
}

struct rel_conn *rel_new(const struct rel_params *params, uint64_t now_us, int *err)
{
	struct rel_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		*err = -ENOMEM;
		return NULL;
	}
	c->p = *params;
	rc = resolve_params(&c->p);
	if (rc) {
		free(c);
		*err = rc;
		return NULL;
	}
	c->pmss = payload_per_segment(c->p.mss);
	c->mss_high = c->p.mss;
	c->sbuf_size = pow2_at_least(c->p.snd_buf);
	c->rbuf_size = pow2_at_least(c->p.rcv_buf);
	c->sbuf = malloc(c->sbuf_size);
	c->rbuf = malloc(c->rbuf_size);
	c->rec_cap = REL_INITIAL_RECS;
	c->recs = malloc(c->rec_cap * sizeof(*c->recs));
	fifo_init(&c->msgq);
	fifo_init(&c->lostq);
	fifo_init(&c->retxq);
	fifo_init(&c->ready);
	rc = rangeset_init(&c->sacked, REL_RANGES) | rangeset_init(&c->rcvd, REL_RANGES) |
	     rangeset_init(&c->delivered, REL_RANGES);
	if (!c->sbuf || !c->rbuf || !c->recs || rc) {
		rel_free(c);
		*err = -ENOMEM;
		return NULL;
	}
	c->cwnd = (uint64_t)REL_INITIAL_CWND_SEGS * c->pmss;
	c->ssthresh = UINT64_MAX;
	c->wnd_edge = REL_MIN_BUF;   /* until the peer says: the least any end offers */
	/* RFC 6298's 1 s, but no more than the back-off's bound (backed_off): an end that
	 * never gets a sample (a receiver that sends only its FIN) keeps this RTO, and at
	 * 1 s only nine tries fit in a 9 s dead_ms; at 20% loss each way eight of them
	 * failing in a row ended 3 of 5,000 simulated transfers REL_TIMED_OUT. */
	c->rto = rto_clamp(c, min_u64((uint64_t)REL_INITIAL_RTO_MS * 1000,
				      (uint64_t)c->p.dead_ms * 1000 / REL_DEAD_TRIES));
	c->min_rtt = UINT64_MAX;
	c->adv_edge = c->rbuf_size;
	c->last_rx = c->last_ka = c->last_app = now_us;
	c->state = REL_OPEN;
	*err = 0;
	return c;
}

int rel_set_mss(struct rel_conn *c, uint32_t mss)
{
	if (mss < REL_MIN_MSS || mss > REL_MAX_MSS)
		return INSEL_E_BAD_FIELD;
	c->p.mss = mss;
	c->pmss = payload_per_segment(mss);
	c->mss_high = max_u32(c->mss_high, mss);
	return 0;
}

void rel_free(struct rel_conn *c)
{
	if (!c)
		return;
	/* Only what was ever written: a short connection does not touch megabytes. */
	if (c->sbuf)
		secure_wipe(c->sbuf, (size_t)min_u64(c->sbuf_high, c->sbuf_size));
	if (c->rbuf)
		secure_wipe(c->rbuf, (size_t)min_u64(c->rbuf_high, c->rbuf_size));
	secure_wipe(c->lent, sizeof c->lent);
	secure_wipe(c->room_saved, sizeof c->room_saved);
	if (c->scratch)
		secure_wipe(c->scratch, REL_MAX_MSS);
	free(c->scratch);
	free(c->sbuf);
	free(c->rbuf);
	free(c->recs);
	fifo_free(&c->msgq);
	fifo_free(&c->lostq);
	fifo_free(&c->retxq);
	fifo_free(&c->ready);
	rangeset_free(&c->sacked);
	rangeset_free(&c->rcvd);
	rangeset_free(&c->delivered);
	free(c);
}

/* ---- ending ---- */

static bool finished(const struct rel_conn *c)
{
	return c->state == REL_ABORTED || c->state == REL_TIMED_OUT;
}

static void discard_all(struct rel_conn *c)
{
	c->snd_end = c->snd_nxt = c->snd_una;
	c->rec_head += c->rec_n;
	c->rec_n = 0;
	c->flight = 0;
	fifo_clear(&c->msgq);
	fifo_clear(&c->lostq);
	fifo_clear(&c->retxq);
	fifo_clear(&c->ready);
	c->rcvd.n = 0;
	c->rto_at = c->rack_at = c->ack_due = 0;
	c->ack_now = c->ack_urgent = c->probe_pending = false;
}

/* Ends the connection now: state, error, and an RST for the peer if asked. */
static void end_conn(struct rel_conn *c, enum rel_state state, int error, bool send_rst)
{
	discard_all(c);
	c->state = state;
	c->error = error;
	c->rst_pending = send_rst;
}

/* ---- round trip (RFC 6298) ---- */

/* RFC 6298's RTO plus, as RFC 9002's probe time-out, the longest the peer may hold back
 * its ACK (our delayed ACK): the round trip of a lone segment includes it. */
static uint64_t rto_from_rtt(const struct rel_conn *c)
{
	return rto_clamp(c, c->srtt + max_u64(REL_CLOCK_G_US, 4 * c->rttvar) + REL_DELACK_US);
}

static void rtt_sample(struct rel_conn *c, uint64_t r)
{
	if (r == 0)
		r = 1;
	if (!c->have_rtt) {
		c->srtt = r;
		c->rttvar = r / 2;
		c->have_rtt = true;
	} else {
		uint64_t diff = c->srtt > r ? c->srtt - r : r - c->srtt;

		c->rttvar = (3 * c->rttvar + diff) / 4;
		c->srtt = (7 * c->srtt + r) / 8;
	}
	c->min_rtt = min_u64(c->min_rtt, r);
	/* A new sample also ends any back-off (RFC 6298 5.7). */
	c->rto = rto_from_rtt(c);
}

/* RACK: remembers the most recently sent segment known delivered. A retransmission
 * delivered sooner than the smallest RTT was the original arriving: not counted. */
static void rack_note(struct rel_conn *c, const struct seg_rec *r, uint64_t now)
{
	if ((r->flags & RF_RETX) && c->min_rtt != UINT64_MAX && now - r->xmit_us < c->min_rtt)
		return;
	if (r->xmit_us > c->rack_xmit_us ||
	    (r->xmit_us == c->rack_xmit_us && rec_end(r) > c->rack_end)) {
		c->rack_xmit_us = r->xmit_us;
		c->rack_end = rec_end(r);
		c->rack_rtt_us = now - r->xmit_us;
	}
}

static uint64_t reo_wnd(const struct rel_conn *c)
{
	uint64_t base = c->min_rtt == UINT64_MAX ? 0 : c->min_rtt / 4;

	return max_u64(base, REL_REO_MIN_US);
}

/* The wait before the next tail loss probe, or 0 when none is due: the first after about
 * two round trips (as in RACK-TLP, RFC 8985), so a loss at the end of a burst, which no
 * later segment's SACK reveals, costs a probe and not a whole RTO. RFC 8985 sends one;
 * we send up to REL_MAX_TLP, each after twice the previous wait, because on a lossy
 * tunnel with a small window the probe or its ACK is often lost too. None once a probe
 * would wait as long as the RTO. At least REL_TLP_MIN_US, the hosts' millisecond
 * timer: on a 0.2 ms path two round trips are far below it, and with 2 ms each probe
 * (at 5% loss in dropped GSO runs, one in every four or five loss episodes of a 200
 * MiB transfer on the simulated bench path) idled the sender for ten round trips; the
 * probe is one segment, so the shorter wait costs no fairness. */
static uint64_t probe_wait(const struct rel_conn *c)
{
	uint64_t pto;

	if (c->tlp_count >= REL_MAX_TLP || !c->have_rtt || c->flight == 0)
		return 0;
	pto = 2 * c->srtt;
	if (c->flight <= c->pmss)
		pto += REL_DELACK_US;
	pto = max_u64(pto, REL_TLP_MIN_US) << c->tlp_count;
	return pto < c->rto ? pto : 0;
}

/* Arms the retransmission timer from now: tail loss probes first, then the RTO. */
static void arm_timer(struct rel_conn *c, uint64_t now)
{
	uint64_t pto = probe_wait(c);

	c->rto_at = now + (pto ? pto : c->rto);
	c->timer_is_tlp = pto != 0;
}

/* A segment goes out. With no timer, the timer starts. With only the RTO armed while a
 * probe is still due, the probe takes its place: an ACK that advanced while every
 * remaining segment was lost or SACKed (nothing in flight) armed the RTO, and the
 * retransmissions sent next were then covered by the RTO alone; when they were lost
 * too (often: a dropped GSO run takes them all), no later segment's SACK could reveal
 * it and the connection sat out the whole RTO (most time-outs on the bench path at 5%
 * loss). A probe armed for a flight of one segment (the first of a burst, after an ACK
 * of everything: a batching receiver's usual one) waited for the peer's delayed ACK
 * too; the segments that follow it in the burst bring it forward to two round trips,
 * as RFC 8985 times a probe after the whole burst. A probe already armed is never
 * pushed back, nor is the RTO. */
static void arm_timer_on_send(struct rel_conn *c, uint64_t now)
{
	uint64_t pto;

	if (!c->rto_at) {
		arm_timer(c, now);
	} else if ((pto = probe_wait(c)) != 0 && now + pto < c->rto_at) {
		c->rto_at = now + pto;
		c->timer_is_tlp = true;
	}
}

/* ---- acknowledgements ---- */

struct ack_work {
	uint64_t delivered;   /* bytes newly acked or SACKed */
	uint64_t sample_xmit; /* the latest send time among them, never retransmitted */
	bool have_sample;
	bool retx_acked;      /* a retransmission is among them: the sample is ambiguous */
	bool spurious;        /* one of them was marked lost by the time-out and not resent
			       * since: its first transmission arrived */
};

static void leave_pipe(struct rel_conn *c, struct seg_rec *r)
{
	if (r->flags & RF_INFLIGHT) {
		c->flight -= rec_bytes(r);
		r->flags &= (uint8_t)~RF_INFLIGHT;
	}
}

static void note_delivered(struct rel_conn *c, struct seg_rec *r, uint64_t bytes,
			   struct ack_work *w, uint64_t now)
{
	w->delivered += bytes;
	if ((r->flags & RF_LOST) && c->undo_armed && r->xmit_us < c->undo_at)
		w->spurious = true;
	if (r->flags & RF_RETX)
		w->retx_acked = true;
	else if (!w->have_sample || r->xmit_us > w->sample_xmit) {
		w->sample_xmit = r->xmit_us;
		w->have_sample = true;
	}
	rack_note(c, r, now);
}

static void ack_cumulative(struct rel_conn *c, uint64_t ack, struct ack_work *w, uint64_t now)
{
	while (c->rec_n > 0) {
		struct seg_rec *r = rec_at(c, c->rec_head);

		if (rec_end(r) <= ack) {
			leave_pipe(c, r);
			if (!(r->flags & RF_SACKED))
				note_delivered(c, r, rec_bytes(r), w, now);
			if (r->flags & RF_FIN)
				c->fin_acked = true;
			c->rec_head++;
			c->rec_n--;
			continue;
		}
		if (r->seq < ack) {
			/* The peer took part of it (its window ended inside). */
			uint64_t cut = ack - r->seq;

			if (r->flags & RF_INFLIGHT)
				c->flight -= cut;
			if (!(r->flags & RF_SACKED))
				note_delivered(c, r, cut, w, now);
			r->seq = ack;
			r->len -= (uint32_t)cut;
			r->msg_off += (uint32_t)cut;
		}
		break;
	}
	c->st.bytes_acked += min_u64(ack, c->snd_end) - min_u64(c->snd_una, c->snd_end);
	c->snd_una = ack;
	rangeset_trim_below(&c->sacked, ack);
}

/* Marks the records inside the SACK block [bs, be) that also lie in [gs, ge), a part
 * of it the scoreboard did not hold yet. */
static void sack_gap(struct rel_conn *c, uint64_t bs, uint64_t be, uint64_t gs, uint64_t ge,
		     struct ack_work *w, uint64_t now)
{
	for (uint64_t k = rec_find(c, gs); rec_live(c, k); k++) {
		struct seg_rec *r = rec_at(c, k);

		if (r->seq >= ge)
			break;
		if ((r->flags & RF_SACKED) || r->seq < bs || rec_end(r) > be)
			continue;
		note_delivered(c, r, rec_bytes(r), w, now);
		r->flags |= RF_SACKED;
		r->flags &= (uint8_t)~RF_LOST;
		leave_pipe(c, r);
	}
}

static void sack_block(struct rel_conn *c, uint64_t bs, uint64_t be, struct ack_work *w,
		       uint64_t now)
{
	uint64_t pos;
	unsigned i;

	bs = max_u64(bs, c->snd_una);
	if (be <= bs)
		return;
	pos = bs;
	for (i = rangeset_find(&c->sacked, bs); i < c->sacked.n; i++) {
		const struct range *h = &c->sacked.r[i];

		if (h->start >= be)
			break;
		if (h->start > pos)
			sack_gap(c, bs, be, pos, h->start, w, now);
		pos = max_u64(pos, h->end);
	}
	if (pos < be)
		sack_gap(c, bs, be, pos, be, w, now);
	/* A full scoreboard only costs re-walking this block next time. */
	(void)rangeset_add(&c->sacked, bs, be);
}

/* ---- loss detection and congestion control ---- */

static void mark_lost(struct rel_conn *c, uint64_t num)
{
	struct seg_rec *r = rec_at(c, num);

	leave_pipe(c, r);
	r->flags |= RF_LOST;
	if (fifo_push(&c->lostq, num, 0) < 0)
		r->flags &= (uint8_t)~RF_LOST;   /* out of memory: the time-out resends it */
}

/* The lowest sequence number with REL_DUPTHRESH segments' worth of SACKed bytes above
 * it: every unSACKed record below is lost (RFC 6675's IsLost, counted in bytes). */
static uint64_t dupthresh_boundary(const struct rel_conn *c)
{
	uint64_t sum = 0, need = (uint64_t)REL_DUPTHRESH * c->pmss;

	for (unsigned i = c->sacked.n; i-- > 0;) {
		sum += c->sacked.r[i].end - c->sacked.r[i].start;
		if (sum >= need)
			return c->sacked.r[i].start;
	}
	return 0;
}

static bool rack_lost(const struct rel_conn *c, const struct seg_rec *r, uint64_t now,
		      uint64_t *when)
{
	bool before = r->xmit_us < c->rack_xmit_us ||
		      (r->xmit_us == c->rack_xmit_us && rec_end(r) <= c->rack_end);

	if (!c->rack_xmit_us || !before)
		return false;
	*when = r->xmit_us + c->rack_rtt_us + reo_wnd(c);
	return now >= *when;
}

/* The reduction starts from the window, as CUBIC's does, not from what was in flight when
 * the loss was seen: a host that sends in bursts often has little in flight at that
 * moment, and the smaller base cut the window by far more than beta. */
static void enter_recovery(struct rel_conn *c)
{
	c->w_max = c->cwnd;
	c->ssthresh = max_u64(c->cwnd * REL_BETA_NUM / REL_BETA_DEN, 2ull * c->pmss);
	c->cwnd = c->ssthresh;
	c->ca_acc = 0;
	c->in_recovery = true;
	c->recovery_point = c->snd_nxt;
	c->st.fast_recoveries++;
}

static void detect_losses(struct rel_conn *c, uint64_t now)
{
	uint64_t boundary = dupthresh_boundary(c), when = 0;
	bool newly = false;

	c->rack_at = 0;
	if (c->lost_cursor < c->rec_head)
		c->lost_cursor = c->rec_head;
	for (; rec_live(c, c->lost_cursor); c->lost_cursor++) {
		struct seg_rec *r = rec_at(c, c->lost_cursor);

		if (r->flags & (RF_SACKED | RF_LOST))
			continue;
		if (r->seq >= boundary && !rack_lost(c, r, now, &when)) {
			if (when)
				c->rack_at = when;
			break;
		}
		mark_lost(c, c->lost_cursor);
		newly = true;
	}
	/* Retransmissions lost again, oldest first. */
	while (!fifo_empty(&c->retxq)) {
		struct range *e = fifo_front(&c->retxq);
		struct seg_rec *r;

		if (!rec_live(c, e->start) || rec_at(c, e->start)->xmit_us != e->end ||
		    (rec_at(c, e->start)->flags & (RF_SACKED | RF_LOST))) {
			fifo_pop(&c->retxq);
			continue;
		}
		r = rec_at(c, e->start);
		when = 0;
		if (!rack_lost(c, r, now, &when)) {
			if (when && (!c->rack_at || when < c->rack_at))
				c->rack_at = when;
			break;
		}
		mark_lost(c, e->start);
		fifo_pop(&c->retxq);
		newly = true;
	}
	if (newly && !c->in_recovery && c->snd_una >= c->recovery_point)
		enter_recovery(c);
}

/* Congestion avoidance's growth per window acknowledged: back towards the window of the
 * last loss by a quarter of the gap, then probing beyond it by a sixteenth of the excess
 * (at least a segment, at most half the window). CUBIC's shape counted in round trips:
 * with a loss every few tens of round trips (1% random loss, the bench path's dropped GSO
 * runs), one segment per round trip never got back to the window the loss found. */
static uint64_t ca_step(const struct rel_conn *c)
{
	uint64_t step;

	if (c->cwnd < c->w_max)
		step = (c->w_max - c->cwnd) / REL_RETURN_DIV;
	else
		step = (c->cwnd - c->w_max) / REL_PROBE_DIV;
	return min_u64(max_u64(step, c->pmss), c->cwnd / 2);
}

static void grow_cwnd(struct rel_conn *c, uint64_t delivered)
{
	if (c->in_recovery || delivered == 0)
		return;
	if (c->cwnd < c->ssthresh) {
		/* Slow start with appropriate byte counting (RFC 3465, L = 2). */
		c->cwnd += min_u64(delivered, 2ull * c->pmss);
	} else {
		c->ca_acc += delivered;
		while (c->ca_acc >= c->cwnd) {
			c->ca_acc -= c->cwnd;
			c->cwnd += ca_step(c);
		}
	}
	c->cwnd = min_u64(c->cwnd, 2 * c->sbuf_size);
}

static void on_probe_timer(struct rel_conn *c, uint64_t now)
{
	c->tlp_count++;
	c->tlp_pending = true;
	arm_timer(c, now);
}

/* The RTO after one more time-out: doubled, but never past dead_ms / REL_DEAD_TRIES
 * (nor below what it already is). The peer is declared dead after dead_ms of silence, so
 * an unbounded back-off lets a few unlucky losses decide it: from a 1 s RTO (an end that
 * never had a sample, such as the receiver sending its FIN) the tries come at 1, 3 and
 * 7 s, and with 20% loss each way a try fails (segment or its ACK lost) 36% of the time,
 * so a 9 s dead_ms ended about one close in twenty. With the bound, about REL_DEAD_TRIES
 * tries fit in dead_ms. Eight were not enough: a transfer meets many time-outs, and on
 * the simulated path of the unit tests 3 of 5,000 1 MiB transfers at 20% loss still
 * ended timed out (one netns-reliable run in about a thousand); with sixteen (0.36^16,
 * about 1e-7 per time-out) none did. At one segment per try the load stays negligible. */
static uint64_t backed_off(const struct rel_conn *c)
{
	uint64_t bound = (uint64_t)c->p.dead_ms * 1000 / REL_DEAD_TRIES;

	return max_u64(c->rto, min_u64(rto_clamp(c, c->rto * 2), bound));
}

/* A time-out proved spurious (the peer acknowledged a segment the time-out declared lost
 * before it went again: its first transmission arrived, as Eifel and F-RTO, RFC 4015 and
 * RFC 5682, tell by other means): the round trip only outgrew the RTO for a moment (a
 * host that did not run for a few milliseconds, a queue). The congestion state of before
 * the time-out comes back, and the segments it declared lost that were not resent yet
 * are in flight again, for RACK to judge by their send times. Without this a low RTO
 * floor would cost the window (one segment, then slow start) at every scheduling stall
 * of a loaded host, and resend the whole window. */
static void undo_timeout(struct rel_conn *c, uint64_t now)
{
	c->undo_armed = false;
	c->st.timeouts_undone++;
	c->cwnd = max_u64(c->cwnd, c->undo_cwnd);
	c->ssthresh = max_u64(c->ssthresh, c->undo_ssthresh);
	c->w_max = c->undo_w_max;
	c->in_recovery = c->undo_in_recovery;
	c->recovery_point = c->undo_recovery_point;
	c->ca_acc = 0;
	c->tlp_count = 0;
	if (c->have_rtt)
		c->rto = rto_from_rtt(c);
	for (uint64_t k = c->rec_head; rec_live(c, k); k++) {
		struct seg_rec *r = rec_at(c, k);

		if ((r->flags & RF_LOST) && r->xmit_us < c->undo_at) {
			r->flags = (uint8_t)((r->flags & ~RF_LOST) | RF_INFLIGHT);
			c->flight += rec_bytes(r);
		}
	}
	c->lost_cursor = c->rec_head;
	arm_timer(c, now);
}

static void on_timeout(struct rel_conn *c, uint64_t now)
{
	c->timer_is_tlp = false;
	c->tlp_count = REL_MAX_TLP;   /* no probes until progress: the RTO backs off */
	c->rto = backed_off(c);
	c->rto_at = now + c->rto;
	if (c->snd_una == c->snd_nxt) {
		/* Nothing in flight: the timer was probing a closed window. */
		c->probe_pending = true;
		return;
	}
	c->st.timeouts++;
	if (!c->undo_armed) {
		c->undo_armed = true;
		c->undo_at = now;
		c->undo_cwnd = c->cwnd;
		c->undo_ssthresh = c->ssthresh;
		c->undo_w_max = c->w_max;
		c->undo_in_recovery = c->in_recovery;
		c->undo_recovery_point = c->recovery_point;
	}
	c->undo_until = c->snd_nxt;
	c->ssthresh = max_u64(min_u64(c->cwnd, c->snd_nxt - c->snd_una) / 2, 2ull * c->pmss);
	c->w_max = c->ssthresh;   /* a time-out forgets the window of the last loss */
	c->cwnd = c->pmss;
	c->ca_acc = 0;
	c->in_recovery = false;
	c->recovery_point = c->snd_nxt;
	fifo_clear(&c->lostq);
	fifo_clear(&c->retxq);
	for (uint64_t k = c->rec_head; rec_live(c, k); k++) {
		struct seg_rec *r = rec_at(c, k);

		r->flags &= (uint8_t)~RF_LOST;
		if (!(r->flags & RF_SACKED))
			mark_lost(c, k);
	}
	c->lost_cursor = c->rec_head + c->rec_n;
	c->rack_at = 0;
}

/* ---- input ---- */

static int check_ack(const struct rel_conn *c, const struct rel_seg *s)
{
	if (s->ack > c->snd_nxt)
		return INSEL_E_PROTOCOL;
	for (unsigned i = 0; i < s->nsack; i++)
		if (s->sack[i].end > c->snd_nxt)
			return INSEL_E_PROTOCOL;
	return 0;
}

static int check_data(const struct rel_conn *c, const struct rel_seg *s)
{
	uint64_t end = s->seq + s->len;

	if (!(s->flags & REL_F_SEQ))
		return 0;
	if (c->p.unordered ? (s->len > 0 && !(s->flags & REL_F_MSG)) : (s->flags & REL_F_MSG))
		return INSEL_E_PROTOCOL;
	if (c->peer_fin_known && (end > c->peer_fin_seq ||
				  ((s->flags & REL_F_FIN) && end != c->peer_fin_seq)))
		return INSEL_E_PROTOCOL;
	return 0;
}

static void process_ack(struct rel_conn *c, const struct rel_seg *s, uint64_t now)
{
	struct ack_work w = { 0 };
	bool advanced = s->ack > c->snd_una;

	if (s->ack < c->snd_una)
		return;   /* older than what we know: reordered */
	c->wnd_edge = s->ack + s->window;
	if (advanced) {
		ack_cumulative(c, s->ack, &w, now);
		c->last_app = now;
	}
	for (unsigned i = 0; i < s->nsack; i++)
		sack_block(c, s->sack[i].start, s->sack[i].end, &w, now);
	/* Karn's rule for the whole ACK: when it covers a retransmission, segments sent
	 * before it may have waited at the receiver for the hole, so none is timed. */
	if (w.have_sample && !w.retx_acked)
		rtt_sample(c, now - w.sample_xmit);
	if (w.spurious)
		undo_timeout(c, now);
	else if (c->undo_armed && c->snd_una >= c->undo_until)
		c->undo_armed = false;   /* all it found outstanding is acknowledged */
	detect_losses(c, now);
	if (c->in_recovery && c->snd_una >= c->recovery_point)
		c->in_recovery = false;
	grow_cwnd(c, w.delivered);
	if (advanced) {
		/* Progress ends the back-off: the doubled RTO was the price of losses, not a
		 * measure of the round trip, and on a lossy path Karn's rule may keep fresh
		 * samples away for long. SRTT and RTTVAR themselves still take only
		 * unambiguous samples. */
		if (c->have_rtt)
			c->rto = rto_from_rtt(c);
		c->tlp_count = 0;
		if (c->state == REL_CLOSING)   /* close aborts only when the drain stalls */
			c->close_at = now + (uint64_t)c->p.close_ms * 1000;
	}
	/* The timer restarts on any newly delivered byte, SACKed too (as RFC 9002's probe
	 * time-out does): in a long recovery the cumulative ACK advances only as holes fill,
	 * and while SACKs still arrive RACK finds what is lost; restarting on advances only
	 * let a recovery through a queue of several milliseconds outlast a low RTO, whose
	 * resending of the whole window then overflowed the queue again. */
	if (c->snd_una == c->snd_nxt)
		c->rto_at = 0;
	else if (advanced || w.delivered > 0)
		arm_timer(c, now);
}

static void note_message(struct rel_conn *c, const struct rel_seg *s)
{
	uint64_t start = s->seq - s->msg_off, end = start + s->msg_len;

	if (start < c->rcv_base || end > c->rcv_base + c->rbuf_size)
		return;
	if (end > c->rcv_nxt && !rangeset_covers(&c->rcvd, max_u64(start, c->rcv_nxt), end))
		return;
	if (rangeset_covers(&c->delivered, start, end))
		return;
	(void)fifo_push(&c->ready, start, end);  /* out of memory: lost, as on a dead host */
}

static void choose_ack_timing(struct rel_conn *c, bool in_order, int64_t fresh, size_t len,
			      uint64_t now)
{
	if (len > 0 && fresh <= 0) {
		c->st.dup_segments_in++;
		c->ack_now = true;
	} else if (!in_order) {
		c->ack_now = true;
	} else if (++c->unacked_segs >= 2) {
		c->ack_now = true;
	} else if (!c->ack_due) {
		c->ack_due = now + REL_DELACK_US;
	}
}

/* New bytes [lo, hi) into the receive ring and the record of what arrived; returns how
 * many were new (rangeset_add's count). A segment opened in place (rel_input_room) is
 * already where it belongs: nothing to copy. */
static int64_t take_bytes(struct rel_conn *c, const struct rel_seg *s, uint64_t lo, uint64_t hi)
{
	const uint8_t *src = s->data + (lo - s->seq);
	int64_t fresh;

	if (src != c->rbuf + (lo & (c->rbuf_size - 1)))
		ring_put(c->rbuf, c->rbuf_size, lo, src, (size_t)(hi - lo));
	c->rbuf_high = max_u64(c->rbuf_high, hi);
	c->rcv_high = max_u64(c->rcv_high, hi);
	if (lo == c->rcv_nxt && c->rcvd.n == 0) {
		/* In order with no hole: most segments. The range set would take the
		 * range only to trim it away again. */
		c->rcv_nxt = hi;
		return (int64_t)(hi - lo);
	}
	fresh = rangeset_add(&c->rcvd, lo, hi);
	if (c->rcvd.n > 0 && c->rcvd.r[0].start == c->rcv_nxt) {
		c->rcv_nxt = c->rcvd.r[0].end;
		rangeset_trim_below(&c->rcvd, c->rcv_nxt);
	}
	return fresh;
}

static void process_data(struct rel_conn *c, const struct rel_seg *s, uint64_t now)
{
	uint64_t end = s->seq + s->len, old_nxt = c->rcv_nxt;
	uint64_t lo = max_u64(s->seq, c->rcv_nxt), hi = min_u64(end, c->rcv_base + c->rbuf_size);
	unsigned holes = c->rcvd.n;
	bool had_holes = holes > 0;
	int64_t fresh = 0;

	if (lo < hi) {
		fresh = take_bytes(c, s, lo, hi);
		if (fresh > 0) {
			c->last_lo = lo;
			c->st.bytes_received += (uint64_t)fresh;
			c->last_app = now;
		}
	}
	/* A hole opened (the first segment past a loss) or closed (a retransmission filled
	 * it): the peer's loss recovery waits for this ACK, a batching host must not hold
	 * it back for its batch (rel_ack_urgent). A block that only grows is no news. */
	if (c->rcvd.n != holes)
		c->ack_urgent = true;
	if ((s->flags & REL_F_FIN) && end <= c->rcv_base + c->rbuf_size) {
		c->peer_fin_known = true;
		c->peer_fin_seq = end;
		c->ack_now = c->ack_urgent = true;
	}
	if (c->peer_fin_known && !c->peer_fin_in && c->rcv_nxt == c->peer_fin_seq) {
		c->rcv_nxt++;
		c->peer_fin_in = true;
	}
	if (fresh > 0 && (s->flags & REL_F_MSG))
		note_message(c, s);
	choose_ack_timing(c, s->seq == old_nxt && !had_holes && c->rcvd.n == 0, fresh, s->len,
			  now);
}

static void check_closed(struct rel_conn *c, uint64_t now)
{
	if (c->state == REL_CLOSING && c->fin_acked && c->peer_fin_in) {
		c->state = REL_CLOSED;
		c->closed_at = now;
	}
}

/* A decoded segment, checked against the state and taken. */
static int input_segment(struct rel_conn *c, const struct rel_seg *s, uint64_t now_us)
{
	int rc = s->conn_id != c->p.conn_id ? INSEL_E_PROTOCOL : 0;

	if (!rc && finished(c))
		rc = INSEL_E_CLOSED;
	if (!rc)
		rc = check_ack(c, s);
	if (!rc)
		rc = check_data(c, s);
	if (rc) {
		c->st.bad_segments_in++;
		return rc;
	}
	c->st.segments_in++;
	c->last_rx = now_us;
	if (c->state == REL_OPEN)
		c->state = REL_ESTABLISHED;
	if (s->flags & REL_F_RST) {
		end_conn(c, REL_ABORTED, INSEL_E_CLOSED, false);
		return 0;
	}
	process_ack(c, s, now_us);
	if (s->flags & REL_F_SEQ)
		process_data(c, s, now_us);
	if (s->flags & REL_F_ACK_REQ)
		c->ack_now = c->ack_urgent = true;
	check_closed(c, now_us);
	return 0;
}

static int input_copy(struct rel_conn *c, const uint8_t *payload, size_t len, uint64_t now_us)
{
	struct rel_seg s;
	int rc = rel_seg_decode(payload, len, &s);

	if (rc) {
		c->st.bad_segments_in++;
		return rc;
	}
	/* New data with another header than the room guessed: guess that from now on. */
	if ((s.flags & REL_F_SEQ) && s.len > 0 && s.seq >= c->rcv_high)
		c->room_hl_next = (uint8_t)(len - s.len);
	return input_segment(c, &s, now_us);
}

/* ---- opening in place ---- */

/* The header a segment in place is guessed to have: the last one's, at first a data
 * segment's without SACK blocks (a one-way transfer's data segments carry none). */
static size_t room_header_guess(const struct rel_conn *c)
{
	if (c->room_hl_next)
		return c->room_hl_next;
	return REL_HDR_LEN + REL_SEQ_LEN + (c->p.unordered ? REL_MSG_LEN : 0);
}

uint8_t *rel_input_room(struct rel_conn *c, size_t len)
{
	size_t hl = room_header_guess(c), off;
	uint64_t seq = max_u64(c->rcv_high, c->rcv_nxt);

	off = (size_t)(seq & (c->rbuf_size - 1));
	/* All of the room but its header must be free space, below the window's edge,
	 * above everything received (so nothing received is overwritten), in one piece. */
	if (c->room || finished(c) || len <= hl || len > REL_MAX_MSS || off < hl ||
	    len - hl > c->rbuf_size - off || seq + (len - hl) > c->rcv_base + c->rbuf_size)
		return NULL;
	c->room = c->rbuf + off - hl;
	c->room_len = len;
	c->room_hl = hl;
	c->room_seq = seq;
	memcpy(c->room_saved, c->room, hl);
	/* What is opened there may be a forgery's garbage: rel_free wipes it too. */
	c->rbuf_high = max_u64(c->rbuf_high, seq + (len - hl));
	return c->room;
}

void rel_input_unroom(struct rel_conn *c)
{
	if (!c->room)
		return;
	memcpy(c->room, c->room_saved, c->room_hl);
	c->room = NULL;
}

/* The guess was wrong (another segment, another header, not a segment): moved out of
 * the ring before the ring's bytes under the room come back, then taken as a copy. */
static int input_moved(struct rel_conn *c, uint64_t now_us)
{
	size_t len = c->room_len;

	if (!c->scratch && !(c->scratch = malloc(REL_MAX_MSS))) {
		rel_input_unroom(c);
		return -ENOMEM;   /* dropped: it comes again */
	}
	memcpy(c->scratch, c->room, len);
	rel_input_unroom(c);
	return input_copy(c, c->scratch, len, now_us);
}

/* The segment opened in the room: in place when it is the one guessed. Its header was
 * decoded out of the ring before the bytes it covered come back; its payload lies where
 * take_bytes would have copied it. */
static int input_in_room(struct rel_conn *c, uint64_t now_us)
{
	struct rel_seg s;

	if (rel_seg_decode(c->room, c->room_len, &s) != 0 || !(s.flags & REL_F_SEQ) ||
	    s.seq != c->room_seq || s.data != c->room + c->room_hl)
		return input_moved(c, now_us);
	rel_input_unroom(c);
	c->st.segments_in_place++;
	return input_segment(c, &s, now_us);
}

int rel_input(struct rel_conn *c, const uint8_t *payload, size_t len, uint64_t now_us)
{
	if (c->room && payload == c->room && len == c->room_len)
		return input_in_room(c, now_us);
	rel_input_unroom(c);
	return input_copy(c, payload, len, now_us);
}

bool rel_ack_urgent(const struct rel_conn *c)
{
	return c->ack_urgent;
}

bool rel_recv_has_hole(const struct rel_conn *c)
{
	return c->rcvd.n > 0;
}

/* ---- output ---- */

static uint64_t window_to_advertise(const struct rel_conn *c)
{
	uint64_t edge = c->rcv_base + c->rbuf_size;

	return edge > c->rcv_nxt ? min_u64(edge - c->rcv_nxt, UINT32_MAX) : 0;
}

static void sort_sacks(struct rel_seg *s)
{
	for (unsigned i = 1; i < s->nsack; i++)
		for (unsigned j = i; j > 0 && s->sack[j].start < s->sack[j - 1].start; j--) {
			struct rel_sack t = s->sack[j];

			s->sack[j] = s->sack[j - 1];
			s->sack[j - 1] = t;
		}
}

/* The block holding the newest data first (RFC 2018), the others in turn, so that over
 * a few ACKs the sender hears of every hole. Sent in ascending order. */
static void fill_sacks(struct rel_conn *c, struct rel_seg *s, unsigned max)
{
	unsigned n = c->rcvd.n, first = n, taken = 0;

	if (n == 0 || max == 0)
		return;
	if (c->last_lo > c->rcv_nxt) {
		first = rangeset_find(&c->rcvd, c->last_lo);
		if (first < n) {
			s->sack[taken].start = c->rcvd.r[first].start;
			s->sack[taken].end = c->rcvd.r[first].end;
			taken++;
		}
	}
	for (unsigned k = 0; k < n && taken < max; k++) {
		unsigned i = (c->sack_rot + k) % n;

		if (i == first)
			continue;
		s->sack[taken].start = c->rcvd.r[i].start;
		s->sack[taken].end = c->rcvd.r[i].end;
		taken++;
	}
	c->sack_rot += max;
	s->nsack = (uint8_t)taken;
	sort_sacks(s);
}

static void fill_ack(struct rel_conn *c, struct rel_seg *s, unsigned max_sacks)
{
	s->conn_id = c->p.conn_id;
	s->ack = c->rcv_nxt;
	s->window = (uint32_t)window_to_advertise(c);
	fill_sacks(c, s, max_sacks);
}

/* Where a segment goes. rel_output copies it into buf. rel_output_view may instead
 * leave its payload in the send ring and write the header just in front of it (see
 * lend_header_room): *seg then points into the ring. */
struct seg_out {
	uint8_t *buf;
	size_t cap;
	bool in_place;
	const uint8_t *seg;    /* the segment written */
};

/* Puts back the ring bytes the last segment's header covered. Runs before anything
 * reads or writes the send ring again: rel_output*, rel_send, rel_send_room. */
static void settle_lent(struct rel_conn *c)
{
	if (c->lent_len == 0)
		return;
	memcpy(c->sbuf + c->lent_off, c->lent, c->lent_len);
	c->lent_len = 0;
}

/* The room for a header of hl bytes just in front of the payload of s inside the send
 * ring, the bytes there kept in c->lent; NULL when the segment must be copied: no
 * payload, a payload that wraps around the ring's end or starts too near its start, or
 * bytes in front that are not unacknowledged data (free space may be the room
 * rel_send_room handed the host, which it may be writing; the data below snd_end is
 * written by nobody). The sealing then reads one contiguous plaintext where it read a
 * copy of it (memmove was 10% of the sending auxiliary's CPU). */
static uint8_t *lend_header_room(struct rel_conn *c, const struct rel_seg *s, size_t hl)
{
	size_t off = (size_t)(s->seq & (c->sbuf_size - 1));

	if (s->len == 0 || hl > sizeof c->lent || off < hl || s->seq < c->snd_una + hl ||
	    s->len > c->sbuf_size - off)
		return NULL;
	c->lent_off = off - hl;
	c->lent_len = hl;
	memcpy(c->lent, c->sbuf + c->lent_off, hl);
	return c->sbuf + c->lent_off;
}

/* Writes the segment (header from s, payload from the send ring) and does what sending
 * means for the ACK state. */
static int emit(struct rel_conn *c, struct rel_seg *s, struct seg_out *o, uint64_t now)
{
	size_t hl = rel_seg_header_len(s);
	uint8_t *at = o->in_place ? lend_header_room(c, s, hl) : NULL;
	int rc;

	if (at) {
		rc = rel_seg_encode_header(s, at, hl);
	} else {
		at = o->buf;
		rc = rel_seg_encode_header(s, at, o->cap);
		if (rc >= 0 && s->len > o->cap - hl)
			rc = INSEL_E_NOSPACE;
		if (rc >= 0 && s->len)
			ring_get(c->sbuf, c->sbuf_size, s->seq, at + hl, s->len);
	}
	if (rc < 0) {
		settle_lent(c);
		return rc;
	}
	o->seg = at;
	c->ack_now = c->ack_urgent = false;
	c->ack_due = 0;
	c->unacked_segs = 0;
	c->adv_edge = s->ack + s->window;
	c->st.segments_out++;
	(void)now;
	return (int)(hl + s->len);
}

static int emit_record(struct rel_conn *c, struct seg_rec *r, struct seg_out *o, uint64_t now)
{
	struct rel_seg s = { .flags = REL_F_SEQ, .seq = r->seq, .len = r->len };

	if (r->flags & RF_FIN)
		s.flags |= REL_F_FIN;
	if (c->p.unordered && r->len > 0) {
		s.flags |= REL_F_MSG;
		s.msg_off = r->msg_off;
		s.msg_len = r->msg_len;
	}
	fill_ack(c, &s, REL_DATA_SACKS);
	r->xmit_us = now;
	r->flags |= RF_INFLIGHT;
	c->flight += rec_bytes(r);
	arm_timer_on_send(c, now);
	return emit(c, &s, o, now);
}

static bool cwnd_allows(const struct rel_conn *c, uint64_t bytes)
{
	return c->flight == 0 || c->tlp_pending || c->flight + bytes <= c->cwnd;
}

static int output_retransmit(struct rel_conn *c, struct seg_out *o, uint64_t now)
{
	while (!fifo_empty(&c->lostq)) {
		uint64_t num = fifo_front(&c->lostq)->start;
		struct seg_rec *r;

		if (!rec_live(c, num) || !(rec_at(c, num)->flags & RF_LOST) ||
		    (rec_at(c, num)->flags & RF_SACKED)) {
			fifo_pop(&c->lostq);
			continue;
		}
		r = rec_at(c, num);
		if (!cwnd_allows(c, rec_bytes(r)))
			return 0;
		fifo_pop(&c->lostq);
		r->flags = (uint8_t)((r->flags & ~RF_LOST) | RF_RETX);
		c->st.retransmits++;
		c->st.bytes_retransmitted += r->len;
		(void)fifo_push(&c->retxq, num, now);
		return emit_record(c, r, o, now);
	}
	return 0;
}

/* How much of the unsent data the next new segment carries (0: none may go now). */
static uint32_t next_segment_len(struct rel_conn *c)
{
	uint64_t want = min_u64(c->pmss, c->snd_end - c->snd_nxt);
	uint64_t wnd = c->wnd_edge > c->snd_nxt ? c->wnd_edge - c->snd_nxt : 0;

	if (c->p.unordered && !fifo_empty(&c->msgq))
		want = min_u64(want, fifo_front(&c->msgq)->end - c->snd_nxt);
	if (wnd < want && c->flight > 0)
		return 0;   /* no silly small segments while ACKs will open the window */
	return (uint32_t)min_u64(want, wnd);
}

static int output_new_data(struct rel_conn *c, struct seg_out *o, uint64_t now)
{
	uint32_t len;
	struct seg_rec *r;

	if (c->snd_nxt >= c->snd_end || c->fin_sent)
		return 0;
	len = next_segment_len(c);
	if (len == 0) {
		if (!c->rto_at)
			c->rto_at = now + c->rto;   /* window probe if it stays closed */
		return 0;
	}
	if (!cwnd_allows(c, len))
		return 0;
	r = rec_push(c);
	if (!r)
		return 0;
	*r = (struct seg_rec){ .seq = c->snd_nxt, .len = len };
	if (c->p.unordered) {
		const struct range *m = fifo_front(&c->msgq);

		r->msg_off = (uint32_t)(c->snd_nxt - m->start);
		r->msg_len = (uint32_t)(m->end - m->start);
		if (c->snd_nxt + len == m->end)
			fifo_pop(&c->msgq);
	}
	c->snd_nxt += len;
	return emit_record(c, r, o, now);
}

static int output_fin(struct rel_conn *c, struct seg_out *o, uint64_t now);

/* The tail loss probe: new data if any may go, else the last segment again, or when the
 * peer already has that one (SACKed: the window or the send buffer keeps new data back),
 * the first segment not acknowledged, the hole the peer waits for. */
static int output_probe(struct rel_conn *c, struct seg_out *o, uint64_t now)
{
	int n = output_new_data(c, o, now);
	uint64_t num = c->rec_head + c->rec_n - 1;
	struct seg_rec *r;

	if (n == 0)
		n = output_fin(c, o, now);
	c->tlp_pending = false;
	if (n != 0 || c->rec_n == 0)
		return n;
	if (rec_at(c, num)->flags & RF_SACKED)
		num = c->rec_head;   /* never SACKed: SACK blocks lie above the ACK */
	r = rec_at(c, num);
	leave_pipe(c, r);
	r->flags = (uint8_t)((r->flags & ~RF_LOST) | RF_RETX);
	c->st.retransmits++;
	c->st.bytes_retransmitted += r->len;
	(void)fifo_push(&c->retxq, num, now);
	return emit_record(c, r, o, now);
}

static int output_fin(struct rel_conn *c, struct seg_out *o, uint64_t now)
{
	struct seg_rec *r;

	if (!c->fin_queued || c->fin_sent || c->snd_nxt != c->snd_end || !cwnd_allows(c, 1))
		return 0;
	r = rec_push(c);
	if (!r)
		return 0;
	*r = (struct seg_rec){ .seq = c->snd_end, .flags = RF_FIN };
	c->snd_nxt = c->snd_end + 1;
	c->fin_sent = true;
	return emit_record(c, r, o, now);
}

static int output_control(struct rel_conn *c, uint8_t flags, struct seg_out *o,
			  uint64_t now)
{
	struct rel_seg s = { .flags = flags };

	fill_ack(c, &s, REL_MAX_SACK);
	return emit(c, &s, o, now);
}

static void run_timers(struct rel_conn *c, uint64_t now)
{
	if (finished(c) || c->state == REL_CLOSED)
		return;
	if (now - c->last_rx >= (uint64_t)c->p.dead_ms * 1000) {
		end_conn(c, REL_TIMED_OUT, INSEL_E_TIMEOUT, true);
		return;
	}
	if (c->state == REL_CLOSING && now >= c->close_at) {
		end_conn(c, REL_ABORTED, INSEL_E_TIMEOUT, true);
		return;
	}
	if (c->state != REL_CLOSING && c->p.idle_ms != UINT32_MAX &&
	    now - c->last_app >= (uint64_t)c->p.idle_ms * 1000)
		rel_close(c, now);
	if (c->rto_at && now >= c->rto_at) {
		if (c->timer_is_tlp)
			on_probe_timer(c, now);
		else
			on_timeout(c, now);
	}
	if (c->rack_at && now >= c->rack_at)
		detect_losses(c, now);
	if (c->ack_due && now >= c->ack_due)
		c->ack_now = true;
	if (now >= max_u64(c->last_rx, c->last_ka) + (uint64_t)c->p.keepalive_ms * 1000) {
		c->probe_pending = true;
		c->last_ka = now;
	}
}

/* Why nothing more can be sent now, for the limit chronographs (rel_stats). */
static enum send_limit send_limit_now(struct rel_conn *c)
{
	if (c->state == REL_CLOSED || finished(c))
		return LIMIT_NONE;
	if (c->snd_nxt < c->snd_end && !c->fin_sent)
		return next_segment_len(c) == 0 ? LIMIT_WINDOW : LIMIT_CWND;
	return c->fin_queued ? LIMIT_NONE : LIMIT_DATA;
}

static void note_send_limit(struct rel_conn *c, enum send_limit limit, uint64_t now)
{
	if (limit == c->limit)
		return;
	if (now > c->limit_since) {
		uint64_t d = now - c->limit_since;

		if (c->limit == LIMIT_CWND)
			c->st.cwnd_limited_us += d;
		else if (c->limit == LIMIT_WINDOW)
			c->st.window_limited_us += d;
		else if (c->limit == LIMIT_DATA)
			c->st.data_limited_us += d;
	}
	c->limit = limit;
	c->limit_since = now;
}

static int output_next(struct rel_conn *c, uint64_t now_us, struct seg_out *o)
{
	int n;

	if (finished(c)) {
		if (!c->rst_pending)
			return 0;
		c->rst_pending = false;
		return output_control(c, REL_F_RST, o, now_us);
	}
	if ((n = output_retransmit(c, o, now_us)) != 0)
		return n;
	if (c->tlp_pending && (n = output_probe(c, o, now_us)) != 0)
		return n;
	if ((n = output_new_data(c, o, now_us)) != 0)
		return n;
	if ((n = output_fin(c, o, now_us)) != 0)
		return n;
	if (c->probe_pending) {
		c->probe_pending = false;
		return output_control(c, REL_F_ACK_REQ, o, now_us);
	}
	if (c->ack_now)
		return output_control(c, 0, o, now_us);
	return 0;
}

/* The timers, then the next segment (rel_output, rel_output_view). */
static int output_one(struct rel_conn *c, uint64_t now_us, struct seg_out *o)
{
	int n;

	settle_lent(c);
	if (o->cap < c->mss_high)
		return INSEL_E_NOSPACE;
	run_timers(c, now_us);
	n = output_next(c, now_us, o);
	note_send_limit(c, n == 0 ? send_limit_now(c) : LIMIT_NONE, now_us);
	return n;
}

int rel_output(struct rel_conn *c, uint64_t now_us, uint8_t *out, size_t cap)
{
	struct seg_out o = {.buf = out, .cap = cap};

	return output_one(c, now_us, &o);
}

int rel_output_view(struct rel_conn *c, uint64_t now_us, uint8_t *out, size_t cap,
		    const uint8_t **seg)
{
	struct seg_out o = {.buf = out, .cap = cap, .in_place = true};
	int n = output_one(c, now_us, &o);

	*seg = n > 0 ? o.seg : out;
	return n;
}

/* How long a closed connection still answers the peer's FIN again (our ACK of it may have
 * been lost): two RTOs, but not less than with the 200 ms floor of before, since the
 * peer's own RTO (1 s with no sample, as for a receiver that only sent its FIN) does not
 * follow ours down. */
static uint64_t linger_us(const struct rel_conn *c)
{
	return max_u64(2 * c->rto, REL_LINGER_MIN_US);
}

uint64_t rel_next_deadline(const struct rel_conn *c)
{
	uint64_t t = UINT64_MAX;

	if (finished(c))
		return c->rst_pending ? 0 : UINT64_MAX;
	if (c->state == REL_CLOSED)
		return c->closed_at + linger_us(c);
	t = min_u64(t, c->last_rx + (uint64_t)c->p.dead_ms * 1000);
	t = min_u64(t, max_u64(c->last_rx, c->last_ka) + (uint64_t)c->p.keepalive_ms * 1000);
	if (c->state == REL_CLOSING)
		t = min_u64(t, c->close_at);
	else if (c->p.idle_ms != UINT32_MAX)
		t = min_u64(t, c->last_app + (uint64_t)c->p.idle_ms * 1000);
	if (c->rto_at)
		t = min_u64(t, c->rto_at);
	if (c->rack_at)
		t = min_u64(t, c->rack_at);
	if (c->ack_due)
		t = min_u64(t, c->ack_due);
	if (c->ack_now || c->probe_pending)
		t = 0;
	return t;
}

/* ---- the application's side ---- */

size_t rel_send_space(const struct rel_conn *c)
{
	uint64_t used = c->snd_end - c->snd_una;
	uint64_t room = c->sbuf_size > used ? c->sbuf_size - used : 0;

	if (finished(c) || c->fin_queued)
		return 0;
	if (c->p.unordered)
		room = min_u64(room, REL_MAX_MSG);
	return (size_t)min_u64(room, INT_MAX);
}

int rel_send(struct rel_conn *c, const void *data, size_t len)
{
	size_t room = rel_send_space(c);

	settle_lent(c);
	if (finished(c) || c->fin_queued || c->state == REL_CLOSED)
		return INSEL_E_CLOSED;
	if (c->p.unordered) {
		if (len == 0 || len > REL_MAX_MSG)
			return INSEL_E_TOO_BIG;
		if (len > room)
			return -EAGAIN;
		if (fifo_push(&c->msgq, c->snd_end, c->snd_end + len) < 0)
			return -ENOMEM;
	} else {
		if (len == 0)
			return 0;
		if (room == 0)
			return -EAGAIN;
		len = len < room ? len : room;
	}
	if (len > INT_MAX)
		len = INT_MAX;
	ring_put(c->sbuf, c->sbuf_size, c->snd_end, data, len);
	c->snd_end += len;
	c->sbuf_high = max_u64(c->sbuf_high, c->snd_end);
	c->st.bytes_sent += len;
	return (int)len;
}

size_t rel_send_room(struct rel_conn *c, uint8_t **at)
{
	size_t room = rel_send_space(c), off = (size_t)(c->snd_end & (c->sbuf_size - 1));

	settle_lent(c);
	*at = c->sbuf + off;
	if (c->p.unordered || c->state == REL_CLOSED)
		return 0;
	room = (size_t)min_u64(room, c->sbuf_size - off);
	/* What the host writes there is wiped at rel_free even if never committed. */
	c->sbuf_high = max_u64(c->sbuf_high, c->snd_end + room);
	return room;
}

int rel_send_commit(struct rel_conn *c, size_t len)
{
	uint8_t *at;

	if (finished(c) || c->fin_queued || c->state == REL_CLOSED)
		return INSEL_E_CLOSED;
	if (c->p.unordered || len > rel_send_room(c, &at))
		return INSEL_E_BAD_FIELD;
	c->snd_end += len;
	c->st.bytes_sent += len;
	return (int)len;
}

/* After the application took data: an update if the window grew by a quarter. */
static void window_taken(struct rel_conn *c)
{
	if (c->rcv_base + c->rbuf_size >= c->adv_edge + c->rbuf_size / 4)
		c->ack_now = true;
}

static int recv_ordered(struct rel_conn *c, void *buf, size_t cap)
{
	uint64_t data_end = c->peer_fin_in ? c->peer_fin_seq : c->rcv_nxt;
	uint64_t avail = data_end - c->rcv_base;
	size_t n;

	if (avail == 0)
		return c->peer_fin_in ? 0 : -EAGAIN;
	n = (size_t)min_u64(min_u64(avail, cap), INT_MAX);
	ring_get(c->rbuf, c->rbuf_size, c->rcv_base, buf, n);
	c->rcv_base += n;
	c->st.bytes_delivered += n;
	window_taken(c);
	return (int)n;
}

static int recv_unordered(struct rel_conn *c, void *buf, size_t cap)
{
	struct range m;

	if (fifo_empty(&c->ready))
		return c->peer_fin_in ? 0 : -EAGAIN;
	m = *fifo_front(&c->ready);
	if (cap < m.end - m.start)
		return INSEL_E_NOSPACE;
	if (rangeset_add(&c->delivered, m.start, m.end) < 0)
		return INSEL_E_LIMIT;
	fifo_pop(&c->ready);
	ring_get(c->rbuf, c->rbuf_size, m.start, buf, (size_t)(m.end - m.start));
	while (c->delivered.n > 0 && c->delivered.r[0].start == c->rcv_base) {
		c->rcv_base = c->delivered.r[0].end;
		rangeset_trim_below(&c->delivered, c->rcv_base);
	}
	c->st.bytes_delivered += m.end - m.start;
	window_taken(c);
	return (int)(m.end - m.start);
}

size_t rel_recv_peek(const struct rel_conn *c, const uint8_t **at)
{
	uint64_t data_end = c->peer_fin_in ? c->peer_fin_seq : c->rcv_nxt;
	size_t off = (size_t)(c->rcv_base & (c->rbuf_size - 1));

	*at = c->rbuf + off;
	if (c->p.unordered || finished(c))
		return 0;
	return (size_t)min_u64(min_u64(data_end - c->rcv_base, c->rbuf_size - off), INT_MAX);
}

void rel_recv_consume(struct rel_conn *c, size_t n)
{
	const uint8_t *at;
	size_t ready = rel_recv_peek(c, &at);

	n = n < ready ? n : ready;
	c->rcv_base += n;
	c->st.bytes_delivered += n;
	if (n)
		window_taken(c);
}

int rel_recv(struct rel_conn *c, void *buf, size_t cap)
{
	int n;

	if (finished(c))
		return c->error ? c->error : INSEL_E_CLOSED;
	n = c->p.unordered ? recv_unordered(c, buf, cap) : recv_ordered(c, buf, cap);
	return n;
}

size_t rel_recv_next_len(const struct rel_conn *c)
{
	if (finished(c))
		return 0;
	if (c->p.unordered)
		return fifo_empty(&c->ready) ? 0
		       : (size_t)(fifo_front(&c->ready)->end - fifo_front(&c->ready)->start);
	return (size_t)((c->peer_fin_in ? c->peer_fin_seq : c->rcv_nxt) - c->rcv_base);
}

void rel_close(struct rel_conn *c, uint64_t now_us)
{
	if (c->state != REL_OPEN && c->state != REL_ESTABLISHED)
		return;
	c->fin_queued = true;
	c->state = REL_CLOSING;
	c->close_at = now_us + (uint64_t)c->p.close_ms * 1000;
	check_closed(c, now_us);
}

void rel_abort(struct rel_conn *c)
{
	if (finished(c))
		return;
	end_conn(c, REL_ABORTED, 0, true);
}

enum rel_state rel_state(const struct rel_conn *c)
{
	return c->state;
}

int rel_error(const struct rel_conn *c)
{
	return c->error;
}

bool rel_done(const struct rel_conn *c, uint64_t now_us)
{
	if (finished(c))
		return !c->rst_pending;
	return c->state == REL_CLOSED && now_us >= c->closed_at + linger_us(c);
}

bool rel_peer_finished(const struct rel_conn *c)
{
	return c->peer_fin_in;
}

void rel_get_stats(const struct rel_conn *c, struct rel_stats *out)
{
	*out = c->st;
	out->state = c->state;
	out->error = c->error;
	out->srtt_us = c->srtt;
	out->rttvar_us = c->rttvar;
	out->rto_us = c->rto;
	out->mss = c->p.mss;
	out->cwnd = c->cwnd;
	out->ssthresh = c->ssthresh;
	out->flight = c->flight;
	out->peer_window = c->wnd_edge > c->snd_nxt ? c->wnd_edge - c->snd_nxt : 0;
	out->send_queued = c->snd_end > c->snd_una ? c->snd_end - c->snd_una : 0;
	out->recv_ready = c->p.unordered ? c->ready.n : rel_recv_next_len(c);
}

const char *rel_state_name(enum rel_state s)
{
	switch (s) {
	case REL_OPEN: return "open";
	case REL_ESTABLISHED: return "established";
	case REL_CLOSING: return "closing";
	case REL_CLOSED: return "closed";
	case REL_ABORTED: return "aborted";
	case REL_TIMED_OUT: return "timed out";
	}
	return "unknown";
}
