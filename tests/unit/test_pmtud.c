/* Unit tests for the path MTU search (pmtud.h), on a simulated path with a fake clock:
 * the path carries datagrams up to a size and silently drops larger ones (a black hole:
 * no ICMP), answering each probe it carries after one round trip. Links of 1500, 1280,
 * 1124 and 576 bytes over IPv4 and IPv6, a link too small for anything, a black hole
 * appearing mid-call, a larger MTU appearing, a local interface refusing a size, and
 * answers that must not count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pmtud.h"

#define RTT_MS 20u

struct sim {
	struct pmtud p;
	uint64_t now;
	unsigned path;          /* largest UDP payload the path carries */
	unsigned refuse_above;  /* the local interface refuses larger sizes (0: none) */
	bool traffic;           /* data flows: note it at every step */
	bool check_plpmtu;      /* the PLPMTU must never exceed the path */
	unsigned probes;        /* probes handed out */
	unsigned last_size;
};

/* The UDP payload a link of MTU link carries. */
static unsigned v4(unsigned link)
{
	return link - PMTUD_IPV4_OVERHEAD;
}

static unsigned v6(unsigned link)
{
	return link - PMTUD_IPV6_OVERHEAD;
}

static void sim_init(struct sim *s, bool ipv6, unsigned local_link, unsigned path)
{
	struct pmtud_params pp = {.ipv6 = ipv6, .link_mtu = local_link};

	memset(s, 0, sizeof *s);
	s->now = 1000;
	s->path = path;
	s->check_plpmtu = true;
	pmtud_init(&s->p, &pp, s->now);
}

/* One step: a probe sent (and answered, if the path carries it), or time moved to the
 * next timer. */
static void sim_step(struct sim *s, uint64_t until)
{
	struct pmtud_probe pr;
	uint64_t next = 0;

	if (s->traffic)
		pmtud_note_traffic(&s->p, s->now);
	if (pmtud_tick(&s->p, s->now, &pr, &next)) {
		s->probes++;
		s->last_size = pr.size;
		if (s->refuse_above && pr.size > s->refuse_above) {
			pmtud_refused(&s->p, pr.id, s->now);
		} else if (pr.size <= s->path) {
			s->now += RTT_MS;
			assert_true(pmtud_ack(&s->p, pr.id, pr.size, s->now));
		}
	} else {
		assert_true(next > s->now);
		s->now = next < until ? next : until;
	}
	/* A confirmed PLPMTU (base and error only assume theirs) never exceeds the path. */
	if (s->check_plpmtu && (pmtud_state(&s->p) == PMTUD_SEARCHING ||
				pmtud_settled(&s->p)))
		assert_true(pmtud_plpmtu(&s->p) <= s->path);
}

static void sim_run_until(struct sim *s, uint64_t until)
{
	for (unsigned guard = 0; s->now < until; guard++) {
		assert_true(guard < 100000);
		sim_step(s, until);
	}
}

/* Runs until the search completes; returns how long it took. */
static uint64_t sim_settle(struct sim *s, uint64_t within_ms)
{
	uint64_t start = s->now;

	for (unsigned guard = 0; !pmtud_settled(&s->p); guard++) {
		assert_true(guard < 100000);
		assert_true(s->now - start <= within_ms);
		sim_step(s, start + within_ms + 1);
	}
	return s->now - start;
}

static void clean_1500_ipv4_in_one_round_trip(void **state)
{
	struct sim s;

	sim_init(&s, false, 1500, v4(1500));
	assert_int_equal(pmtud_state(&s.p), PMTUD_BASE);
	assert_int_equal(pmtud_plpmtu(&s.p), PMTUD_BASE_PLPMTU);
	assert_true(sim_settle(&s, 100) <= 2 * RTT_MS);
	assert_int_equal(pmtud_plpmtu(&s.p), 1472);
	assert_int_equal(s.probes, 2);  /* the base, then the largest */
	assert_int_equal(s.p.stats.probes_acked, 2);
	assert_false(s.p.below_base);
}

static void clean_1500_ipv6(void **state)
{
	struct sim s;

	sim_init(&s, true, 1500, v6(1500));
	sim_settle(&s, 100);
	assert_int_equal(pmtud_plpmtu(&s.p), 1452);
}

static void black_hole_1280_ipv4(void **state)
{
	struct sim s;
	uint64_t took;

	sim_init(&s, false, 1500, v4(1280));
	took = sim_settle(&s, 60000);
	assert_int_equal(pmtud_plpmtu(&s.p), 1252);
	assert_int_equal(pmtud_state(&s.p), PMTUD_COMPLETE);
	assert_false(s.p.below_base);
	/* Each lost size cost MAX_PROBES time-outs; log2(1472 - 1200) sizes at most. */
	assert_true(took <= 9 * PMTUD_MAX_PROBES * PMTUD_DEFAULT_PROBE_TIMEOUT_MS);
	assert_int_equal(s.p.stats.probes_timed_out % PMTUD_MAX_PROBES, 0);
	assert_int_equal(s.p.stats.sizes_lost * PMTUD_MAX_PROBES, s.p.stats.probes_timed_out);
}

static void black_hole_1280_ipv6(void **state)
{
	struct sim s;

	sim_init(&s, true, 1500, v6(1280));
	sim_settle(&s, 60000);
	assert_int_equal(pmtud_plpmtu(&s.p), 1232);
}

static void local_link_1280_needs_no_loss(void **state)
{
	struct sim s;

	sim_init(&s, false, 1280, v4(1280));
	assert_int_equal(s.p.max, 1252);
	sim_settle(&s, 100);
	assert_int_equal(pmtud_plpmtu(&s.p), 1252);
	assert_int_equal(s.p.stats.probes_timed_out, 0);
}

static void hotel_1124_below_base(void **state)
{
	struct sim s;

	sim_init(&s, false, 1500, v4(1124));
	/* The base is lost: the minimum is used at once, then the search below the base. */
	for (unsigned guard = 0; !s.p.below_base; guard++) {
		assert_true(guard < 100);
		sim_step(&s, UINT64_MAX);
	}
	assert_int_equal(s.p.stats.sizes_lost, 1);
	assert_int_equal(pmtud_plpmtu(&s.p), PMTUD_MIN_PLPMTU);
	sim_step(&s, UINT64_MAX);  /* the minimum confirmed */
	assert_int_equal(pmtud_state(&s.p), PMTUD_SEARCHING);
	assert_int_equal(pmtud_plpmtu(&s.p), PMTUD_MIN_PLPMTU);
	sim_settle(&s, 60000);
	assert_int_equal(pmtud_plpmtu(&s.p), 1096);
	assert_true(s.p.below_base);
	assert_string_equal(pmtud_state_name(pmtud_state(&s.p)), "complete");
}

static void hotel_1124_local_link_starts_below_base(void **state)
{
	struct sim s;

	sim_init(&s, false, 1124, v4(1124));
	assert_int_equal(pmtud_state(&s.p), PMTUD_ERROR);  /* the base cannot even leave */
	sim_settle(&s, 100);
	assert_int_equal(pmtud_plpmtu(&s.p), 1096);
	assert_int_equal(s.probes, 2);  /* the minimum, then the largest */
}

static void link_576_uses_what_fits(void **state)
{
	struct sim s;

	sim_init(&s, false, 1500, v4(576));
	sim_settle(&s, 60000);
	assert_int_equal(pmtud_plpmtu(&s.p), 548);
	assert_true(s.p.below_base);
}

static void link_below_minimum_keeps_minimum_and_retries(void **state)
{
	struct sim s;
	uint64_t sent;

	sim_init(&s, false, 1500, 400);
	s.check_plpmtu = false;
	sim_run_until(&s, s.now + 20000);
	assert_int_equal(pmtud_state(&s.p), PMTUD_ERROR);
	assert_int_equal(pmtud_plpmtu(&s.p), PMTUD_MIN_PLPMTU);
	assert_false(pmtud_settled(&s.p));
	/* The minimum is probed again error_retry_ms after each loss, MAX_PROBES at a time:
	 * a cycle of 13 s with the defaults. */
	sent = s.p.stats.probes_sent;
	sim_run_until(&s, s.now + 130000);
	assert_true(s.p.stats.probes_sent - sent >= 9 * PMTUD_MAX_PROBES);
	assert_true(s.p.stats.probes_sent - sent <= 11 * PMTUD_MAX_PROBES);
	/* The path heals: the search goes on from the minimum. */
	s.path = v4(1500);
	s.check_plpmtu = true;
	sim_settle(&s, PMTUD_DEFAULT_ERROR_RETRY_MS + 5000);
	assert_int_equal(pmtud_plpmtu(&s.p), PMTUD_BASE_PLPMTU - 1);
	assert_true(s.p.below_base);
}

static void probes_retried_max_probes_times(void **state)
{
	struct sim s;
	struct pmtud_probe pr;
	uint64_t next;
	uint32_t ids[PMTUD_MAX_PROBES];

	sim_init(&s, false, 1500, 0);
	for (unsigned i = 0; i < PMTUD_MAX_PROBES; i++) {
		assert_true(pmtud_tick(&s.p, s.now, &pr, &next));
		assert_int_equal(pr.size, PMTUD_BASE_PLPMTU);
		assert_int_equal(next, s.now + PMTUD_DEFAULT_PROBE_TIMEOUT_MS);
		ids[i] = pr.id;
		if (i)
			assert_int_not_equal(ids[i], ids[i - 1]);
		/* nothing more until the time-out */
		assert_false(pmtud_tick(&s.p, s.now + 10, &pr, &next));
		s.now += PMTUD_DEFAULT_PROBE_TIMEOUT_MS;
	}
	/* The third time-out: the base is lost, the minimum goes out at once. */
	assert_true(pmtud_tick(&s.p, s.now, &pr, &next));
	assert_int_equal(pr.size, PMTUD_MIN_PLPMTU);
	assert_int_equal(pmtud_state(&s.p), PMTUD_ERROR);
	/* A late answer to the base is not counted (it was given up). */
	assert_false(pmtud_ack(&s.p, ids[0], PMTUD_BASE_PLPMTU, s.now));
	assert_int_equal(s.p.stats.stale_acks, 1);
}

static void answer_to_an_earlier_attempt_counts(void **state)
{
	struct sim s;
	struct pmtud_probe first, second;
	uint64_t next;

	sim_init(&s, false, 1500, 0);
	assert_true(pmtud_tick(&s.p, s.now, &first, &next));
	s.now += PMTUD_DEFAULT_PROBE_TIMEOUT_MS;
	assert_true(pmtud_tick(&s.p, s.now, &second, &next));
	assert_true(pmtud_ack(&s.p, first.id, first.size, s.now + 5));
	assert_int_equal(pmtud_state(&s.p), PMTUD_SEARCHING);
	/* The second attempt's answer comes too: stale, harmless. */
	assert_false(pmtud_ack(&s.p, second.id, second.size, s.now + 6));
}

/* A satellite path: answers take longer than the probe time-out. The first size is
 * confirmed by its first probe's late answer (while the second is out), and from then on
 * probes are waited for twice the round trip. */
static void long_round_trip(void **state)
{
	struct sim s;
	struct pmtud_probe first, second, pr;
	uint64_t next;

	sim_init(&s, false, 1500, v4(1500));
	assert_true(pmtud_tick(&s.p, s.now, &first, &next));
	s.now += PMTUD_DEFAULT_PROBE_TIMEOUT_MS;
	assert_true(pmtud_tick(&s.p, s.now, &second, &next));
	s.now += 500;
	assert_true(pmtud_ack(&s.p, first.id, first.size, s.now));  /* 1500 ms late */
	assert_int_equal(s.p.srtt_ms, 1500);
	assert_int_equal(pmtud_state(&s.p), PMTUD_SEARCHING);
	assert_true(pmtud_tick(&s.p, s.now, &pr, &next));
	assert_int_equal(pr.size, 1472);
	assert_int_equal(next, s.now + 3000);
	/* Nothing is sent again before that. */
	assert_false(pmtud_tick(&s.p, s.now + 2999, &pr, &next));
	assert_true(pmtud_ack(&s.p, pr.id, pr.size, s.now + 1500));
	assert_true(pmtud_settled(&s.p));
	assert_int_equal(pmtud_plpmtu(&s.p), 1472);
	assert_int_equal(s.p.stats.probes_timed_out, 1);
}

static void wrong_answers_do_not_count(void **state)
{
	struct sim s;
	struct pmtud_probe pr;
	uint64_t next;

	sim_init(&s, false, 1500, v4(1500));
	assert_true(pmtud_tick(&s.p, s.now, &pr, &next));
	assert_false(pmtud_ack(&s.p, pr.id + 1, pr.size, s.now));  /* never sent */
	assert_false(pmtud_ack(&s.p, pr.id, pr.size - 1, s.now));  /* arrived cut short */
	assert_false(pmtud_ack(&s.p, pr.id - 1, pr.size, s.now));
	assert_int_equal(s.p.stats.stale_acks, 3);
	assert_int_equal(pmtud_state(&s.p), PMTUD_BASE);
	assert_true(pmtud_ack(&s.p, pr.id, pr.size, s.now));
	assert_false(pmtud_ack(&s.p, pr.id, pr.size, s.now));  /* a replayed answer */
}

static void black_hole_mid_call(void **state)
{
	struct sim s;
	uint64_t hole_at, detected;

	sim_init(&s, false, 1500, v4(1500));
	s.traffic = true;
	sim_settle(&s, 100);
	assert_int_equal(pmtud_plpmtu(&s.p), 1472);
	/* Confirmations at the PLPMTU keep flowing while data does; all answered. */
	sim_run_until(&s, s.now + 60000);
	assert_int_equal(pmtud_plpmtu(&s.p), 1472);
	assert_true(s.p.stats.probes_sent >= 2 + 60000 / PMTUD_DEFAULT_CONFIRM_MS - 1);
	assert_int_equal(s.p.stats.black_holes, 0);
	/* A router with a 1280-byte link and no ICMP appears on the path. */
	s.path = v4(1280);
	s.check_plpmtu = false;
	hole_at = s.now;
	for (unsigned guard = 0; s.p.stats.black_holes == 0; guard++) {
		assert_true(guard < 1000);
		sim_step(&s, UINT64_MAX);
	}
	detected = s.now - hole_at;
	assert_true(detected <= PMTUD_DEFAULT_CONFIRM_MS +
				 PMTUD_MAX_PROBES * PMTUD_DEFAULT_PROBE_TIMEOUT_MS);
	/* Straight back to the base, which the path carries, and a new search. */
	assert_int_equal(pmtud_plpmtu(&s.p), PMTUD_BASE_PLPMTU);
	s.check_plpmtu = true;
	sim_settle(&s, 60000);
	assert_int_equal(pmtud_plpmtu(&s.p), 1252);
	assert_int_equal(s.p.stats.black_holes, 1);
}

static void black_hole_below_base_mid_call(void **state)
{
	struct sim s;

	sim_init(&s, false, 1500, v4(1500));
	s.traffic = true;
	sim_settle(&s, 100);
	s.path = v4(1124);
	s.check_plpmtu = false;
	sim_run_until(&s, s.now + PMTUD_DEFAULT_CONFIRM_MS + 60000);
	assert_true(pmtud_settled(&s.p));
	assert_int_equal(pmtud_plpmtu(&s.p), 1096);
	assert_true(s.p.below_base);
}

static void idle_path_is_not_probed(void **state)
{
	struct sim s;

	sim_init(&s, false, 1500, v4(1500));
	sim_settle(&s, 100);
	sim_run_until(&s, s.now + PMTUD_DEFAULT_RAISE_MS / 2);
	assert_int_equal(s.p.stats.probes_sent, 2);
	/* Nor raised: it is at its local link's size already. */
	sim_run_until(&s, s.now + 3 * PMTUD_DEFAULT_RAISE_MS);
	assert_int_equal(s.p.stats.probes_sent, 2);
	assert_int_equal(s.p.stats.raises, 0);
}

static void larger_mtu_appears(void **state)
{
	struct sim s;
	uint64_t settled_at;

	sim_init(&s, false, 1500, v4(1280));
	sim_settle(&s, 60000);
	settled_at = s.p.complete_ms;
	assert_int_equal(pmtud_plpmtu(&s.p), 1252);
	s.path = v4(1500);
	/* Nothing changes before PMTU_RAISE_TIMER ... */
	sim_run_until(&s, settled_at + PMTUD_DEFAULT_RAISE_MS - 1);
	assert_int_equal(pmtud_plpmtu(&s.p), 1252);
	assert_int_equal(s.p.stats.raises, 0);
	/* ... then the largest size is tried at once and confirmed. */
	sim_run_until(&s, settled_at + PMTUD_DEFAULT_RAISE_MS + 2 * RTT_MS);
	assert_int_equal(pmtud_plpmtu(&s.p), 1472);
	assert_int_equal(s.p.stats.raises, 1);
	assert_true(pmtud_settled(&s.p));
}

static void raise_that_fails_keeps_plpmtu(void **state)
{
	struct sim s;
	uint64_t settled_at;

	sim_init(&s, false, 1500, v4(1280));
	sim_settle(&s, 60000);
	settled_at = s.p.complete_ms;
	sim_run_until(&s, settled_at + PMTUD_DEFAULT_RAISE_MS + 60000);
	assert_int_equal(s.p.stats.raises, 1);
	assert_int_equal(pmtud_plpmtu(&s.p), 1252);  /* never lowered by the failed sizes */
	assert_int_equal(s.p.stats.black_holes, 0);
	assert_true(pmtud_settled(&s.p));
}

static void local_interface_refuses(void **state)
{
	struct sim s;

	sim_init(&s, false, 1500, v4(1500));
	s.refuse_above = 1400;  /* say, a tunnel interface under the WAN address */
	sim_settle(&s, 60000);
	assert_int_equal(pmtud_plpmtu(&s.p), 1400);
	assert_true(s.p.stats.probes_refused >= 1);
	assert_int_equal(s.p.stats.probes_timed_out, 0);  /* no waiting for a refusal */
	assert_true(s.p.max < 1472);
	/* Not tried again at a raise. */
	sim_run_until(&s, s.p.complete_ms + PMTUD_DEFAULT_RAISE_MS + 60000);
	assert_int_equal(pmtud_plpmtu(&s.p), 1400);
}

static void restart_begins_at_base(void **state)
{
	struct sim s;

	sim_init(&s, false, 1500, v4(1500));
	sim_settle(&s, 100);
	pmtud_restart(&s.p, s.now);
	assert_int_equal(pmtud_state(&s.p), PMTUD_BASE);
	assert_int_equal(pmtud_plpmtu(&s.p), PMTUD_BASE_PLPMTU);
	s.path = v4(1280);
	sim_settle(&s, 60000);
	assert_int_equal(pmtud_plpmtu(&s.p), 1252);
	assert_int_equal(s.p.stats.searches, 2);
}

static void ceilings(void **state)
{
	struct pmtud p;
	struct pmtud_params pp = {.max_plpmtu = 1300};

	pmtud_init(&p, &pp, 0);
	assert_int_equal(p.max, 1300);
	assert_int_equal(p.params.link_mtu, PMTUD_DEFAULT_LINK_MTU);
	pp = (struct pmtud_params){.link_mtu = 65535};
	pmtud_init(&p, &pp, 0);
	assert_int_equal(p.max, 65507);
	pp = (struct pmtud_params){.link_mtu = 300};
	pmtud_init(&p, &pp, 0);
	assert_int_equal(p.max, PMTUD_MIN_PLPMTU);
	assert_int_equal(pmtud_state(&p), PMTUD_ERROR);
}

static void status_json(void **state)
{
	struct sim s;
	json_t *j;

	sim_init(&s, false, 1500, v4(1280));
	sim_settle(&s, 60000);
	j = pmtud_status_json(&s.p);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "plpmtu")), 1252);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "complete");
	assert_true(json_is_false(json_object_get(j, "below_base")));
	assert_int_equal(json_integer_value(json_object_get(j, "probes_sent")),
			 (json_int_t)s.p.stats.probes_sent);
	assert_int_equal(json_integer_value(json_object_get(j, "probes_acked")),
			 (json_int_t)s.p.stats.probes_acked);
	assert_non_null(json_object_get(j, "black_holes"));
	json_decref(j);
	assert_string_equal(pmtud_state_name(PMTUD_BASE), "base");
	assert_string_equal(pmtud_state_name(PMTUD_SEARCHING), "searching");
	assert_string_equal(pmtud_state_name(PMTUD_ERROR), "error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_1500_ipv4_in_one_round_trip),
		cmocka_unit_test(clean_1500_ipv6),
		cmocka_unit_test(black_hole_1280_ipv4),
		cmocka_unit_test(black_hole_1280_ipv6),
		cmocka_unit_test(local_link_1280_needs_no_loss),
		cmocka_unit_test(hotel_1124_below_base),
		cmocka_unit_test(hotel_1124_local_link_starts_below_base),
		cmocka_unit_test(link_576_uses_what_fits),
		cmocka_unit_test(link_below_minimum_keeps_minimum_and_retries),
		cmocka_unit_test(probes_retried_max_probes_times),
		cmocka_unit_test(answer_to_an_earlier_attempt_counts),
		cmocka_unit_test(long_round_trip),
		cmocka_unit_test(wrong_answers_do_not_count),
		cmocka_unit_test(black_hole_mid_call),
		cmocka_unit_test(black_hole_below_base_mid_call),
		cmocka_unit_test(idle_path_is_not_probed),
		cmocka_unit_test(larger_mtu_appears),
		cmocka_unit_test(raise_that_fails_keeps_plpmtu),
		cmocka_unit_test(local_interface_refuses),
		cmocka_unit_test(restart_begins_at_base),
		cmocka_unit_test(ceilings),
		cmocka_unit_test(status_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
