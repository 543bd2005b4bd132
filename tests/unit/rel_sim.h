/* A simulated path for two reliable engines (common/data/reliable.h), shared by
 * tests/unit/test_reliable.c and tests/bench/bench_reliable.c: a virtual clock, and per
 * direction a link of fixed rate and delay with a drop-tail queue, plus deterministic
 * pseudo-random loss, duplication and reordering (xorshift64*, seeded). No real time,
 * no sockets: a run is the same every time for the same seed.
 *
 * The application on each side is a callback run after every step: it moves data with
 * rel_send / rel_recv. A step delivers every packet due, pumps both engines' output into
 * the links and advances the clock to the next event (packet arrival or engine deadline). */
#ifndef INSEL_TEST_REL_SIM_H
#define INSEL_TEST_REL_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reliable.h"

#define SIM_MAX_PKT 2048

struct sim_pkt {
	uint64_t at;        /* arrival time */
	uint64_t order;     /* tie-break: FIFO among equal times */
	int to;             /* 0: A, 1: B */
	uint16_t len;
	struct sim_pkt *next_held;  /* sim_deliver's packets for a busy host */
	uint8_t data[SIM_MAX_PKT];
};

struct sim_link {
	double loss, dup, reorder;   /* probabilities, 0..1 */
	unsigned burst;              /* a loss takes this many packets in a row (0, 1: one),
				      * as a dropped GSO run of up to 64 frames does */
	unsigned burst_left;
	unsigned run;                /* loss by send run instead (0: off): the packets one
				      * end emits in one pump are cut into runs of this many,
				      * and a loss takes a whole run, as nftables drops a
				      * whole GSO skb of the sending host's batch */
	unsigned run_left;           /* packets left in the current run */
	bool run_lost;
	uint64_t delay_us;           /* one way */
	uint64_t reorder_us;         /* extra delay of a reordered packet */
	double bytes_per_us;         /* rate; 0 = unlimited */
	uint64_t queue_us;           /* drop-tail: at most this much queued */
	uint64_t free_at;            /* when the link finishes its current queue */
	bool down;                   /* everything dropped (a vanished peer) */
	uint64_t sent, dropped, queue_drops;
};

struct sim {
	uint64_t now, rng, order;
	struct rel_conn *end[2];
	struct sim_link link[2];     /* link[i] carries packets to end[i] */
	struct sim_pkt **heap;
	size_t heap_n, heap_cap;
	uint64_t steps;
	uint64_t timer_us;           /* the hosts' timer granularity (0: exact): an engine
				      * deadline is met this much rounded up, as a libuv
				      * millisecond timer does */
	uint64_t app_tick_us;        /* the application runs at least this often (0: only
				      * on events), for one that sends on its own clock */
	/* A host that reads in batches (the auxiliary, auxiliary/stream.c): with batch_us,
	 * packets are taken only at multiples of it, all that arrived meanwhile at once,
	 * and each end answers after every ack_every segments of a batch, at once when
	 * rel_ack_urgent says so, and at the end of the batch. 0: every packet alone.
	 * ack_every_hole (0: ack_every) replaces ack_every while the end's received data
	 * has a hole (rel_recv_has_hole), as the auxiliary's STREAM_ACK_IN_RECOVERY; the
	 * count runs across batches, as there. */
	uint64_t batch_us;
	unsigned ack_every, ack_every_hole;
	unsigned taken[2];           /* segments each end took, for that count */
	/* The hosts' CPU per segment (0: free), for a host whose work takes time: each
	 * segment it takes in costs cost_in_us and each it sends cost_out_us of its own
	 * clock cpu_at, which runs ahead of now while it works; what arrives meanwhile
	 * waits until it is free, and what it sends leaves when it is sealed. So a window
	 * sent and answered in one piece makes the two hosts take turns, as the auxiliaries
	 * do, and an ACK within a batch lets the sender work while the receiver still does. */
	double cost_in_us, cost_out_us;
	double cpu_at[2];
	uint64_t outputs_mid_batch;  /* rel_output runs within a batch */
	bool view;                   /* output through rel_output_view, not rel_output */
	uint64_t out_hash[2];        /* FNV-1a of every segment end[i] sent, in order */
	uint64_t out_segs[2];        /* segments end[i] sent */
	uint64_t out_in_place[2];    /* of those, left in the engine's send buffer */
	/* A host that opens what arrives into the engine's receive buffer (rel_input_room),
	 * the copy standing in for the decryption; every forge_every-th room first gets a
	 * forgery's garbage that does not authenticate (rel_input_unroom). */
	bool open_in_room;
	unsigned forge_every;
	uint64_t rooms[2], forged;   /* rooms handed out by end[i]; forgeries opened */
};

static uint64_t sim_rand(struct sim *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 2685821657736338717ull;
}

static double sim_uniform(struct sim *s)
{
	return (double)(sim_rand(s) >> 11) / (double)(1ull << 53);
}

static bool sim_before(const struct sim_pkt *a, const struct sim_pkt *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void sim_heap_push(struct sim *s, struct sim_pkt *p)
{
	size_t i;

	if (s->heap_n == s->heap_cap) {
		s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 1024;
		s->heap = realloc(s->heap, s->heap_cap * sizeof(*s->heap));
		if (!s->heap)
			abort();
	}
	i = s->heap_n++;
	s->heap[i] = p;
	while (i > 0 && sim_before(s->heap[i], s->heap[(i - 1) / 2])) {
		struct sim_pkt *t = s->heap[i];

		s->heap[i] = s->heap[(i - 1) / 2];
		s->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct sim_pkt *sim_heap_pop(struct sim *s)
{
	struct sim_pkt *top = s->heap[0];
	size_t i = 0;

	s->heap[0] = s->heap[--s->heap_n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct sim_pkt *t;

		if (l < s->heap_n && sim_before(s->heap[l], s->heap[m]))
			m = l;
		if (r < s->heap_n && sim_before(s->heap[r], s->heap[m]))
			m = r;
		if (m == i)
			break;
		t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
	return top;
}

/* What end i's host reads on its clock: now, or later while it is still busy. */
static uint64_t sim_host_now(const struct sim *s, int i)
{
	uint64_t busy = (uint64_t)s->cpu_at[i];

	return busy > s->now ? busy : s->now;
}

static void sim_init(struct sim *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->rng = seed ? seed : 1;
	s->now = 1000000;   /* not 0: a zero time is not special to the engine */
	s->out_hash[0] = s->out_hash[1] = 14695981039346656037ull;
}

static void sim_free(struct sim *s)
{
	while (s->heap_n)
		free(sim_heap_pop(s));
	free(s->heap);
	for (int i = 0; i < 2; i++)
		rel_free(s->end[i]);
}

static void sim_enqueue(struct sim *s, int to, const uint8_t *data, size_t len, uint64_t at)
{
	struct sim_pkt *p = malloc(sizeof(*p));

	if (!p)
		abort();
	p->at = at;
	p->order = s->order++;
	p->to = to;
	p->len = (uint16_t)len;
	memcpy(p->data, data, len);
	sim_heap_push(s, p);
}

/* One packet from end[1 - to] onto link[to]: the queue, then the random faults. */
static void sim_transmit(struct sim *s, int to, const uint8_t *data, size_t len)
{
	struct sim_link *l = &s->link[to];
	uint64_t sent_at = sim_host_now(s, 1 - to), depart = sent_at, at;

	l->sent++;
	if (l->bytes_per_us > 0) {
		uint64_t start = l->free_at > sent_at ? l->free_at : sent_at;

		if (l->queue_us && start - sent_at > l->queue_us) {
			l->queue_drops++;
			return;
		}
		depart = start + (uint64_t)((double)len / l->bytes_per_us) + 1;
		l->free_at = depart;
	}
	if (l->run > 0) {
		if (l->run_left == 0) {
			l->run_left = l->run;
			l->run_lost = l->down || sim_uniform(s) < l->loss;
		}
		l->run_left--;
		if (l->run_lost) {
			l->dropped++;
			return;
		}
	} else if (l->burst_left > 0) {
		l->burst_left--;
		l->dropped++;
		return;
	} else if (l->down || sim_uniform(s) < l->loss) {
		l->dropped++;
		if (l->burst > 1)
			l->burst_left = l->burst - 1;
		return;
	}
	at = depart + l->delay_us;
	if (l->reorder > 0 && sim_uniform(s) < l->reorder)
		at += l->reorder_us;
	sim_enqueue(s, to, data, len, at);
	if (l->dup > 0 && sim_uniform(s) < l->dup)
		sim_enqueue(s, to, data, len, at + 1 + sim_rand(s) % (l->delay_us + 1));
}

/* The next segment of end[from] as the host takes it (rel_output or rel_output_view),
 * counted and hashed. */
static int sim_output(struct sim *s, int from, uint8_t *buf, size_t cap, const uint8_t **seg)
{
	uint64_t now = sim_host_now(s, from);
	int n;

	*seg = buf;
	if (s->view)
		n = rel_output_view(s->end[from], now, buf, cap, seg);
	else
		n = rel_output(s->end[from], now, buf, cap);
	if (n <= 0)
		return n;
	if (s->cost_out_us > 0)
		s->cpu_at[from] = (double)now + s->cost_out_us;
	s->out_segs[from]++;
	s->out_in_place[from] += *seg != buf;
	for (int i = 0; i < n; i++)
		s->out_hash[from] = (s->out_hash[from] ^ (*seg)[i]) * 1099511628211ull;
	return n;
}

static void sim_pump_one(struct sim *s, int from)
{
	uint8_t buf[SIM_MAX_PKT];
	const uint8_t *seg;
	int n;

	if (!s->end[from])
		return;
	while ((n = sim_output(s, from, buf, sizeof(buf), &seg)) > 0)
		sim_transmit(s, 1 - from, seg, (size_t)n);
	s->link[1 - from].run_left = 0;   /* a run never spans two batches */
}

static void sim_pump(struct sim *s)
{
	for (int from = 0; from < 2; from++)
		sim_pump_one(s, from);
}

/* One packet into end[to] as the host gives it: from its own buffer, or opened into
 * the room the engine offers (as auxiliary/stream.c does with what it decrypts). */
static int sim_input(struct sim *s, int to, const uint8_t *data, size_t len, uint64_t now)
{
	struct rel_conn *c = s->end[to];
	uint8_t *room;

	if (!s->open_in_room || !(room = rel_input_room(c, len)))
		return rel_input(c, data, len, now);
	s->rooms[to]++;
	if (s->forge_every && s->rooms[to] % s->forge_every == 0) {
		for (size_t i = 0; i < len; i++)
			room[i] = (uint8_t)(data[i] ^ 0x5a ^ i);
		rel_input_unroom(c);
		s->forged++;
		if (!(room = rel_input_room(c, len)))
			return rel_input(c, data, len, now);
	}
	memcpy(room, data, len);
	return rel_input(c, room, len, now);
}

/* Whether a batching host answers after this segment, as stream.c does. */
static bool sim_answer_now(struct sim *s, int to)
{
	struct rel_conn *c = s->end[to];
	unsigned every = s->ack_every_hole && rel_recv_has_hole(c) ? s->ack_every_hole
								    : s->ack_every;

	return ++s->taken[to] % every == 0 || rel_ack_urgent(c);
}

/* Every packet due, into its end; a batching host answers within the batch as
 * stream.c does. */
static void sim_deliver(struct sim *s)
{
	bool reading[2] = {false, false};
	struct sim_pkt *held = NULL;

	while (s->heap_n && s->heap[0]->at <= s->now) {
		struct sim_pkt *p = sim_heap_pop(s);
		struct rel_conn *c = s->end[p->to];
		uint64_t now = sim_host_now(s, p->to);

		if (now > s->now && !reading[p->to]) {
			/* Its host is busy: it reads this when it is done, in the order
			 * it arrived (kept in the heap as it was). */
			p->next_held = held;
			held = p;
			continue;
		}
		reading[p->to] = true;
		if (s->cost_in_us > 0)
			s->cpu_at[p->to] = (double)now + s->cost_in_us;
		if (c && sim_input(s, p->to, p->data, p->len, now) == 0 && s->batch_us &&
		    sim_answer_now(s, p->to)) {
			s->outputs_mid_batch++;
			sim_pump_one(s, p->to);
		}
		free(p);
	}
	while (held) {
		struct sim_pkt *p = held;

		held = p->next_held;
		sim_heap_push(s, p);
	}
}

/* When the next packet can be read: its arrival, or when its busy host is free. */
static uint64_t sim_next_read(const struct sim *s)
{
	uint64_t at = s->heap[0]->at;

	if (at <= s->now)
		for (int i = 0; i < 2; i++)
			if (sim_host_now(s, i) > s->now &&
			    (at <= s->now || sim_host_now(s, i) < at))
				at = sim_host_now(s, i);
	return at;
}

typedef void (*sim_app_fn)(struct sim *s, void *ctx);

/* Runs until done() says so or the clock passes until; true if done. */
static bool sim_run(struct sim *s, sim_app_fn app, bool (*done)(struct sim *, void *),
		    void *ctx, uint64_t until)
{
	while (s->now < until) {
		uint64_t next = UINT64_MAX;

		sim_deliver(s);
		if (app)
			app(s, ctx);
		sim_pump(s);
		if (done && done(s, ctx))
			return true;
		if (s->heap_n) {
			next = sim_next_read(s);
			if (s->batch_us)
				next = (next + s->batch_us - 1) / s->batch_us * s->batch_us;
		}
		for (int i = 0; i < 2; i++)
			if (s->end[i] && !rel_done(s->end[i], s->now)) {
				uint64_t d = rel_next_deadline(s->end[i]);

				if (s->timer_us && d > s->now && d != UINT64_MAX)
					d = s->now + (d - s->now + s->timer_us - 1) / s->timer_us *
						     s->timer_us;
				next = d < next ? d : next;
			}
		if (s->app_tick_us && s->now + s->app_tick_us < next)
			next = s->now + s->app_tick_us;
		s->now = next > s->now ? next : s->now + 1;
		s->steps++;
	}
	return done && done(s, ctx);
}

#endif
