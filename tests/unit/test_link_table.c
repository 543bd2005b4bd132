/* Unit tests for the secondary's link table (secondary/link_table.h), driven by a fake
 * clock: notices gathered per peer gateway, loss over the sliding window, the first
 * report at once, significant changes reported after the minimum gap and small ones
 * only with the periodic report, silent peers forgotten, and the table's bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "link_table.h"

static struct link_table table;
static struct pop_links_req req;

static void notice(const char *peer, uint32_t rtt, uint32_t probes, uint32_t replies,
		   uint64_t now)
{
	struct aux_measure_notice m = {.rtt_ms = rtt, .probes = probes, .replies = replies};

	assert_true(link_table_measured(&table, peer, &m, now));
}

static const struct pop_link *reported(const char *peer)
{
	for (size_t i = 0; i < req.nlinks; i++)
		if (strcmp(req.links[i].peer, peer) == 0)
			return &req.links[i];
	return NULL;
}

static void first_report_at_once(void **state)
{
	const struct pop_link *l;

	(void)state;
	link_table_init(&table);
	assert_false(link_table_report_due(&table, 1000));
	notice("gw-b", 12, 5, 5, 1000);
	notice("gw-c", 30, 5, 4, 1000);
	assert_true(link_table_report_due(&table, 1000));
	link_table_fill(&table, 1000, &req);
	assert_int_equal(req.nlinks, 2);
	l = reported("gw-b");
	assert_non_null(l);
	assert_int_equal(l->rtt_ms, 12);
	assert_int_equal(l->loss_ppm, 0);
	assert_int_equal(l->probes, 5);
	assert_int_equal(l->kind, POP_LINK_DIRECT);
	assert_int_equal(l->age_ms, 0);
	assert_int_equal(reported("gw-c")->loss_ppm, 200000);
	/* Nothing new: not due until the periodic report. */
	notice("gw-b", 12, 5, 5, 6000);
	assert_false(link_table_report_due(&table, 6000));
	assert_false(link_table_report_due(&table, 1000 + LINK_REPORT_MS - 1));
	notice("gw-b", 12, 5, 5, 1000 + LINK_REPORT_MS - 1);
	assert_true(link_table_report_due(&table, 1000 + LINK_REPORT_MS));
}

static void significant_change_after_the_gap(void **state)
{
	uint64_t now = 10000;

	(void)state;
	link_table_init(&table);
	notice("gw-b", 10, 5, 5, now);
	link_table_fill(&table, now, &req);
	/* 40% of the probes lost: due, but only once the gap has passed. */
	notice("gw-b", 10, 5, 0, now + 1000);
	notice("gw-b", 10, 5, 3, now + 2000);
	assert_false(link_table_report_due(&table, now + 2000));
	assert_true(link_table_report_due(&table, now + LINK_MIN_GAP_MS));
	link_table_fill(&table, now + LINK_MIN_GAP_MS, &req);
	/* 15 probes in the window, 8 answered. */
	assert_int_equal(req.links[0].probes, 15);
	assert_int_equal(req.links[0].loss_ppm, 7 * 1000000 / 15);
	/* The round trip grows from 10 to 100 ms: smoothed, but a change all the same. */
	now += LINK_MIN_GAP_MS;
	notice("gw-b", 100, 5, 5, now + LINK_MIN_GAP_MS);
	assert_true(link_table_report_due(&table, now + LINK_MIN_GAP_MS));
	link_table_fill(&table, now + LINK_MIN_GAP_MS, &req);
	assert_true(req.links[0].rtt_ms > 30);
	/* Another kind of path is a change too. */
	now += LINK_MIN_GAP_MS;
	struct aux_measure_notice relayed = {.relayed = true, .rtt_ms = 40, .probes = 5,
					     .replies = 5};
	assert_true(link_table_measured(&table, "gw-b", &relayed, now + LINK_MIN_GAP_MS));
	assert_true(link_table_report_due(&table, now + LINK_MIN_GAP_MS));
	link_table_fill(&table, now + LINK_MIN_GAP_MS, &req);
	assert_int_equal(req.links[0].kind, POP_LINK_RELAYED);
}

static void small_moves_wait(void **state)
{
	(void)state;
	link_table_init(&table);
	notice("gw-b", 50, 5, 5, 1000);
	link_table_fill(&table, 1000, &req);
	/* 2 ms more, one probe in 40 lost: neither is significant. */
	notice("gw-b", 58, 5, 5, 1000 + LINK_MIN_GAP_MS);
	notice("gw-b", 50, 30, 29, 1000 + LINK_MIN_GAP_MS);
	assert_false(link_table_report_due(&table, 1000 + LINK_MIN_GAP_MS));
	assert_true(link_table_report_due(&table, 1000 + LINK_REPORT_MS));
}

static void window_slides_and_peers_are_forgotten(void **state)
{
	uint64_t now = 100000;

	(void)state;
	link_table_init(&table);
	notice("gw-b", 10, 10, 0, now);   /* all lost ... */
	notice("gw-b", 10, 10, 10, now + LINK_SLOT_MS * LINK_WINDOW_SLOTS + 1);
	link_table_fill(&table, now + LINK_SLOT_MS * LINK_WINDOW_SLOTS + 1, &req);
	/* ... but that slot has left the window. */
	assert_int_equal(req.links[0].probes, 10);
	assert_int_equal(req.links[0].loss_ppm, 0);
	/* Never answered: the age says so. */
	notice("gw-c", 0, 3, 0, now + 40000);
	link_table_fill(&table, now + 40000, &req);
	assert_int_equal(reported("gw-c")->age_ms, UINT32_MAX);
	assert_int_equal(reported("gw-c")->loss_ppm, 1000000);
	/* gw-b silent for LINK_FORGET_MS: dropped; gw-c still listed. */
	link_table_fill(&table, now + LINK_SLOT_MS * LINK_WINDOW_SLOTS + 1 + LINK_FORGET_MS,
			&req);
	assert_null(reported("gw-b"));
	assert_int_equal(table.n, 1);
}

static void bounded(void **state)
{
	struct aux_measure_notice m = {.rtt_ms = 1, .probes = 1, .replies = 1};
	char name[32];

	(void)state;
	link_table_init(&table);
	for (int i = 0; i < LINK_TABLE_MAX; i++) {
		snprintf(name, sizeof name, "gw-%d", i);
		assert_true(link_table_measured(&table, name, &m, 1000));
	}
	assert_false(link_table_measured(&table, "one-too-many", &m, 1000));
	assert_true(link_table_measured(&table, "gw-0", &m, 1000));
	link_table_fill(&table, 1000, &req);
	assert_int_equal(req.nlinks, POP_MAX_LINKS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_report_at_once),
		cmocka_unit_test(significant_change_after_the_gap),
		cmocka_unit_test(small_moves_wait),
		cmocka_unit_test(window_slides_and_peers_are_forgotten),
		cmocka_unit_test(bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
