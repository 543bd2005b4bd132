/* A whole call's key exchanges on a fake clock, without processes or sockets: two
 * secondaries' rekey cores (rekey.h) drive two real channels (channel.h) the way
 * secondary/call_rekey.c and auxiliary/ctl_rekey.c do, over a control path that
 * delivers in order after a delay (the peer TLS connection) and a data path that delays
 * and reorders every frame (up to 40 ms). The data keeps flowing all along; every frame
 * must open (no bad epoch, no bad tag) across dozens of epochs, including when an
 * answer is lost (the initiator's 10 s time-out, then the same epoch again), when the
 * callee's auxiliary is not ready yet (rekey_pending), when only one side sends data
 * (the other proves its epoch with keep-alives), when both sides start at once, and
 * when either auxiliary stalls (SIGSTOP: it reads neither its control socket nor the
 * network, and sends nothing) across an exchange for longer than any time-out of the
 * exchange, its secondary waiting for its answer (rekey.h, "Waiting for an
 * auxiliary"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "err.h"
#include "rekey.h"

#define STEP_MS 5
#define MAX_FLIGHT 4096
#define CTL_DELAY_MS 15

/* ---- the data path: frames in flight with their arrival times ---- */

struct flight {
	uint64_t at;
	bool to_b;
	size_t len;
	uint8_t d[128];
};

/* ---- the control path: peer messages and their arrival times (in order) ---- */

enum ctl_kind { CTL_REKEY, CTL_ANSWER, CTL_REFUSED, CTL_DONE };

struct ctl {
	uint64_t at;
	bool to_callee;
	enum ctl_kind kind;
	uint32_t epoch;
	uint64_t seq;
	uint8_t pub[32];
};

/* Keys handed to an auxiliary, installed once it runs; then its secondary goes on. */
struct install {
	bool out;
	struct rekey_keys keys;
	bool send_now;         /* the initiator's: commit and "done" follow */
	uint64_t seq;          /* the exchange (initiator) or the request (responder) */
	uint8_t answer_pub[32];
};

struct side {
	struct rekey r;
	struct channel *ch;
	bool sends_data;
	bool request_out;      /* our exchange awaits an answer */
	uint64_t request_seq, request_sent;
	uint64_t stalled_until;  /* the auxiliary is stopped until then */
	struct install install;
	bool waited;           /* the secondary waited for it across a stall */
	bool waited_send_now;  /* ... with the initiator's keys */
};

struct sim {
	uint64_t now;
	struct side caller, callee;
	struct flight *flights;
	size_t nflights;
	struct ctl ctls[64];
	size_t nctls;
	unsigned lose_answers;  /* answers to drop (a lost message) */
	unsigned busy_installs; /* callee auxiliary installs to refuse as rekey_pending */
	uint64_t delivered, refused;
	unsigned seed;
	bool draining;          /* nobody sends: what is in flight arrives */
};

static unsigned rnd(struct sim *s, unsigned n)
{
	s->seed = s->seed * 1103515245u + 12345u;
	return (s->seed >> 16) % n;
}

static void send_frame(struct sim *s, bool to_b, const uint8_t *d, long len)
{
	struct flight *f;

	assert_true(len > 0 && (size_t)len <= sizeof f->d);
	assert_true(s->nflights < MAX_FLIGHT);
	f = &s->flights[s->nflights++];
	f->at = s->now + 1 + rnd(s, 40);
	f->to_b = to_b;
	f->len = (size_t)len;
	memcpy(f->d, d, (size_t)len);
}

static void post(struct sim *s, bool to_callee, enum ctl_kind kind, uint32_t epoch,
		 uint64_t seq, const uint8_t *pub)
{
	struct ctl *c;

	assert_true(s->nctls < 64);
	c = &s->ctls[s->nctls++];
	memset(c, 0, sizeof *c);
	c->at = s->now + CTL_DELAY_MS;
	c->to_callee = to_callee;
	c->kind = kind;
	c->epoch = epoch;
	c->seq = seq;
	if (pub)
		memcpy(c->pub, pub, 32);
}

/* ---- what the secondaries do ---- */

static void run_install(struct sim *s, struct side *me);

static void start_exchange(struct sim *s, struct side *me)
{
	uint8_t pub[32];
	uint32_t epoch;

	if (me->request_out)
		return;
	rekey_begin(&me->r, s->now, &epoch, pub, &me->request_seq);
	me->request_out = true;
	me->request_sent = s->now;
	post(s, me == &s->caller, CTL_REKEY, epoch, me->request_seq, pub);
}

static void on_request(struct sim *s, struct side *me, const struct ctl *c)
{
	struct rekey_keys keys;
	uint8_t pub[32];
	int rc = rekey_respond(&me->r, c->epoch, c->pub, s->now, pub, &keys);

	if (rc) {
		post(s, me == &s->caller, CTL_REFUSED, c->epoch, c->seq, NULL);
		return;
	}
	assert_false(me->install.out);  /* one installation at a time */
	me->install = (struct install){.out = true, .keys = keys, .seq = c->seq};
	memcpy(me->install.answer_pub, pub, 32);
	rekey_keys_wipe(&keys);
	run_install(s, me);
}

/* The responder's auxiliary has answered: the answer (or a refusal) goes out. */
static void installed_answer(struct sim *s, struct side *me, int rc)
{
	uint32_t epoch = me->install.keys.epoch;

	if (rc) {
		rekey_drop_tentative(&me->r);
		post(s, me == &s->caller, CTL_REFUSED, epoch, me->install.seq, NULL);
		return;
	}
	rekey_answered(&me->r);
	if (s->lose_answers) {
		s->lose_answers--;
		return;
	}
	post(s, me == &s->caller, CTL_ANSWER, epoch, me->install.seq, me->install.answer_pub);
}

/* The initiator's auxiliary has answered: commit and say "done", or run it again. */
static void installed_own(struct sim *s, struct side *me, int rc)
{
	uint32_t epoch = me->install.keys.epoch;

	if (rc == INSEL_E_CONFLICT) {
		rekey_abandon(&me->r, me->install.seq, s->now);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(rekey_commit(&me->r, epoch, s->now), 0);
	post(s, me == &s->caller, CTL_DONE, epoch, 0, NULL);
}

/* What an auxiliary does with the keys once it runs (ctl_rekey.c). */
static void run_install(struct sim *s, struct side *me)
{
	struct install *in = &me->install;
	int rc;

	if (!in->out)
		return;
	if (s->now < me->stalled_until) {
		/* Stopped: the secondary waits, whatever its time-outs, and owes nothing. */
		assert_true(rekey_aux_owes(&me->r));
		me->waited = true;
		me->waited_send_now = in->send_now;
		return;
	}
	in->out = false;
	if (!in->send_now && s->busy_installs) {
		s->busy_installs--;
		rc = INSEL_E_CONFLICT;
	} else {
		rc = channel_install_epoch(me->ch, in->keys.epoch, in->keys.send[0],
					   in->keys.recv[0], in->send_now, s->now);
	}
	if (in->send_now)
		installed_own(s, me, rc);
	else
		installed_answer(s, me, rc);
	rekey_keys_wipe(&in->keys);
}

static void on_answer(struct sim *s, struct side *me, const struct ctl *c)
{
	struct rekey_keys keys;
	int rc;

	if (!me->request_out || c->seq != me->request_seq)
		return;
	me->request_out = false;
	rc = rekey_finish(&me->r, c->seq, c->pub, &keys);
	if (rc == INSEL_E_NOT_FOUND)
		return;
	assert_int_equal(rc, 0);
	assert_false(me->install.out);
	me->install = (struct install){.out = true, .keys = keys, .send_now = true,
				       .seq = c->seq};
	rekey_keys_wipe(&keys);
	run_install(s, me);
}

/* Takes out what is due (in order) before handling it: handlers post more. */
static void deliver_ctl(struct sim *s)
{
	struct ctl due[64];
	size_t ndue = 0, kept = 0;

	for (size_t i = 0; i < s->nctls; i++) {
		if (s->ctls[i].at <= s->now)
			due[ndue++] = s->ctls[i];
		else
			s->ctls[kept++] = s->ctls[i];
	}
	s->nctls = kept;
	for (size_t i = 0; i < ndue; i++) {
		const struct ctl *c = &due[i];
		struct side *me = c->to_callee ? &s->callee : &s->caller;

		switch (c->kind) {
		case CTL_REKEY: on_request(s, me, c); break;
		case CTL_ANSWER: on_answer(s, me, c); break;
		case CTL_REFUSED:
			if (me->request_out && c->seq == me->request_seq) {
				me->request_out = false;
				rekey_abandon(&me->r, c->seq, s->now);
				s->refused++;
			}
			break;
		case CTL_DONE: rekey_commit(&me->r, c->epoch, s->now); break;
		}
	}
}

/* ---- one step of the clock ---- */

static void tick_side(struct sim *s, struct side *me, bool to_b)
{
	uint8_t d[128];
	uint64_t next;
	int ev;

	if (s->draining)
		return;
	ev = rekey_tick(&me->r, s->now, &next);

	assert_false(ev & REKEY_OVERDUE);
	if (ev & REKEY_START)
		start_exchange(s, me);
	/* The initiator's time-out, as the rpc layer gives it. */
	if (me->request_out && s->now >= me->request_sent + REKEY_EXCHANGE_TIMEOUT_MS) {
		me->request_out = false;
		rekey_abandon(&me->r, me->request_seq, s->now);
	}
	run_install(s, me);
	if (s->now < me->stalled_until)
		return;  /* a stopped auxiliary neither ticks nor sends */
	ev = channel_tick(me->ch, s->now, NULL);
	assert_false(ev & CHANNEL_PEER_DEAD);
	if (ev & CHANNEL_SEND_KEEPALIVE)
		send_frame(s, to_b, d, channel_keepalive(me->ch, s->now, d, sizeof d));
	if (me->sends_data)
		send_frame(s, to_b, d, channel_seal_one(me->ch, "data", 4, s->now, d, sizeof d));
}

static void deliver_frames(struct sim *s)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->nflights; i++) {
		struct flight *f = &s->flights[i];
		struct channel_msg m;
		int rc;

		/* Frames to a stopped auxiliary wait in its socket's buffer. */
		if (f->at > s->now || s->now < (f->to_b ? s->callee : s->caller).stalled_until) {
			s->flights[kept++] = *f;
			continue;
		}
		rc = channel_open(f->to_b ? s->callee.ch : s->caller.ch, f->d, f->len, NULL,
				  s->now, &m);
		assert_true(rc == 0 || rc == 1);
		s->delivered++;
	}
	s->nflights = kept;
	/* As the auxiliary does after a WAN wake-up: prove a new send epoch at once. */
	for (int i = 0; i < 2 && !s->draining; i++) {
		struct side *me = i ? &s->callee : &s->caller;
		uint8_t d[128];

		if (s->now >= me->stalled_until && channel_keepalive_wanted(me->ch))
			send_frame(s, me == &s->caller, d,
				   channel_keepalive(me->ch, s->now, d, sizeof d));
	}
}

static void run(struct sim *s, uint64_t until)
{
	for (; s->now < until; s->now += STEP_MS) {
		tick_side(s, &s->caller, true);
		tick_side(s, &s->callee, false);
		deliver_ctl(s);
		deliver_frames(s);
	}
}

static void sim_init(struct sim *s, unsigned seed)
{
	struct sec_channel_params pc, pe;
	uint8_t chain0[32];

	memset(s, 0, sizeof *s);
	s->seed = seed;
	s->flights = calloc(MAX_FLIGHT, sizeof *s->flights);
	assert_non_null(s->flights);
	memset(&pc, 0, sizeof pc);
	pc.call_id = 42;
	pc.cipher = SEC_CIPHER_AES256GCM;
	pc.local_session = 1;
	pc.remote_session = 2;
	pc.external_rekey = true;
	pc.keepalive_ms = 500;
	pc.dead_after_ms = 20000;
	memset(pc.send_key, 1, SEC_KEY_LEN);
	memset(pc.recv_key, 2, SEC_KEY_LEN);
	pe = pc;
	pe.local_session = 2;
	pe.remote_session = 1;
	memset(pe.send_key, 2, SEC_KEY_LEN);
	memset(pe.recv_key, 1, SEC_KEY_LEN);
	assert_int_equal(channel_new(&pc, 0, &s->caller.ch), 0);
	assert_int_equal(channel_new(&pe, 0, &s->callee.ch), 0);
	memset(chain0, 9, sizeof chain0);
	rekey_init(&s->caller.r, true, 42, 1, chain0, 1000, 0);
	rekey_init(&s->callee.r, false, 42, 1, chain0, 1000, 0);
	s->caller.sends_data = s->callee.sends_data = true;
}

static void sim_check_and_free(struct sim *s, uint32_t min_epoch)
{
	const struct channel_stats *a = channel_stats(s->caller.ch);
	const struct channel_stats *b = channel_stats(s->callee.ch);

	/* Everything in flight arrives. */
	s->draining = true;
	run(s, s->now + 200);
	assert_int_equal(a->drop_bad_epoch + a->drop_bad_tag + a->drop_replay, 0);
	assert_int_equal(b->drop_bad_epoch + b->drop_bad_tag + b->drop_replay, 0);
	assert_int_equal(a->drop_key_exhausted + b->drop_key_exhausted, 0);
	assert_int_equal(a->frames_in, b->frames_out);
	assert_int_equal(b->frames_in, a->frames_out);
	assert_true(s->caller.r.epoch >= min_epoch);
	assert_int_equal(s->callee.r.epoch, s->caller.r.epoch);
	assert_memory_equal(s->caller.r.chain, s->callee.r.chain, REKEY_CHAIN_LEN);
	/* The data plane followed: both directions at the committed epoch (or installing
	 * the next one). */
	assert_true(channel_send_epoch(s->caller.ch) >= s->caller.r.epoch);
	assert_true(channel_recv_epoch(s->callee.ch) >= s->caller.r.epoch);
	channel_free(s->caller.ch);
	channel_free(s->callee.ch);
	rekey_wipe(&s->caller.r);
	rekey_wipe(&s->callee.r);
	free(s->flights);
}

static void steady_traffic_both_ways(void **state)
{
	for (unsigned seed = 1; seed <= 4; seed++) {
		struct sim s;

		sim_init(&s, seed);
		run(&s, 30000);
		assert_true(s.delivered > 10000);
		sim_check_and_free(&s, 28);
	}
}

static void lost_answer_and_unready_auxiliary(void **state)
{
	struct sim s;

	sim_init(&s, 2);
	run(&s, 3500);
	s.lose_answers = 1;   /* the next answer never arrives: time-out, same epoch again */
	run(&s, 3500 + REKEY_EXCHANGE_TIMEOUT_MS + 3000);
	s.busy_installs = 2;  /* then the callee's auxiliary refuses twice */
	run(&s, 3500 + REKEY_EXCHANGE_TIMEOUT_MS + 9000);
	assert_true(s.refused >= 2);
	assert_true(s.caller.r.failures >= 3);
	sim_check_and_free(&s, 8);
}

static void one_way_traffic_proves_by_keepalives(void **state)
{
	struct sim s;

	sim_init(&s, 3);
	s.callee.sends_data = false;  /* the callee only sends keep-alives */
	run(&s, 20000);
	sim_check_and_free(&s, 10);
}

static void both_start_at_once(void **state)
{
	struct sim s;

	sim_init(&s, 4);
	for (int i = 0; i < 5; i++) {
		run(&s, s.now + 300);
		rekey_request_early(&s.caller.r);
		rekey_request_early(&s.callee.r);
	}
	run(&s, s.now + 3000);
	assert_true(s.refused >= 1);  /* the callee's exchanges lost to the caller's */
	sim_check_and_free(&s, 4);
}

/* Stops one side's auxiliary for stall_ms from the moment the caller's next exchange is
 * sent (so the keys reach the stopped auxiliary: the initiator's with its answer, the
 * responder's with the request), and checks that its secondary waited and that the call
 * went on at full health: every frame opened, both sides at the same epoch and chain. */
static void stall_across_an_exchange(struct side *(*pick)(struct sim *), bool as_initiator,
				     uint64_t stall_ms, unsigned seed)
{
	struct sim s;
	struct side *me;

	sim_init(&s, seed);
	me = pick(&s);
	run(&s, 2500);
	while (!s.caller.request_out)
		run(&s, s.now + STEP_MS);
	me->stalled_until = s.now + stall_ms;
	run(&s, me->stalled_until + 6000);
	assert_true(me->waited);
	assert_true(me->waited_send_now == as_initiator);
	/* A stalled responder: the caller's exchange timed out and was refused busy. */
	if (!as_initiator && stall_ms > REKEY_EXCHANGE_TIMEOUT_MS)
		assert_true(s.caller.r.failures >= 2);
	sim_check_and_free(&s, 8);
}

static struct side *the_caller(struct sim *s) { return &s->caller; }
static struct side *the_callee(struct sim *s) { return &s->callee; }

static void initiator_auxiliary_stalls(void **state)
{
	/* The caller starts on its interval: its auxiliary stops with keys to send with. */
	stall_across_an_exchange(the_caller, true, 7000, 5);
}

static void responder_auxiliary_stalls(void **state)
{
	/* Longer than the caller's wait for the answer: it times out and asks again (refused
	 * busy) before the callee's auxiliary answers the first exchange late. */
	stall_across_an_exchange(the_callee, false, REKEY_EXCHANGE_TIMEOUT_MS + 2000, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(steady_traffic_both_ways),
		cmocka_unit_test(lost_answer_and_unready_auxiliary),
		cmocka_unit_test(one_way_traffic_proves_by_keepalives),
		cmocka_unit_test(both_start_at_once),
		cmocka_unit_test(initiator_auxiliary_stalls),
		cmocka_unit_test(responder_auxiliary_stalls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
