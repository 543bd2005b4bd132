/* libFuzzer target: what a secondary reads from its auxiliary unasked ("ended",
 * "rekey_due", "path", "measure"), and the totals of
 * its stats (aux_report.h). A notice that decodes must encode and decode again to the
 * same fields, totals included. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aux_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_path(const struct aux_path_notice *a, const struct aux_path_notice *b)
{
	return a->state == b->state && a->has_endpoints == b->has_endpoints &&
	       strcmp(a->reason, b->reason) == 0 &&
	       (!a->has_endpoints ||
		(a->relayed == b->relayed && a->rtt_ms == b->rtt_ms &&
		 ip_endpoint_equal(&a->local, &b->local) &&
		 ip_endpoint_equal(&a->remote, &b->remote)));
}

static bool same(const struct aux_notice *a, const struct aux_notice *b)
{
	if (a->kind == AUX_NOTICE_PATH)
		return b->kind == AUX_NOTICE_PATH && same_path(&a->path, &b->path);
	if (a->kind == AUX_NOTICE_MEASURE)
		return b->kind == AUX_NOTICE_MEASURE && a->measure.tcp == b->measure.tcp &&
		       a->measure.relayed == b->measure.relayed &&
		       a->measure.rtt_ms == b->measure.rtt_ms &&
		       a->measure.probes == b->measure.probes &&
		       a->measure.replies == b->measure.replies;
	return a->kind == b->kind && a->channel == b->channel &&
	       a->traffic.bytes_in == b->traffic.bytes_in &&
	       a->traffic.bytes_out == b->traffic.bytes_out &&
	       (a->kind != AUX_NOTICE_ENDED ||
		(strcmp(a->reason, b->reason) == 0 && strcmp(a->message, b->message) == 0));
}

static void round_trip(const json_t *j, const struct aux_notice *first)
{
	struct aux_notice again;
	json_t *once;
	char why[160];

	if (first->kind == AUX_NOTICE_REKEY_DUE) {
		once = aux_rekey_due_to_json(first->channel);
	} else if (first->kind == AUX_NOTICE_PATH) {
		once = aux_path_to_json(&first->path);
	} else if (first->kind == AUX_NOTICE_MEASURE) {
		once = aux_measure_to_json(&first->measure);
	} else {
		once = aux_ended_to_json(first->reason, first->message);
		/* The stats travel beside the notice's own fields, as the auxiliary adds them. */
		if (once && json_object_set(once, "channels", json_object_get(j, "channels")))
			abort();
	}
	if (!once || aux_notice_from_json(once, &again, why, sizeof why) != 0 ||
	    !same(first, &again))
		abort();
	json_decref(once);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct aux_traffic traffic;
	struct aux_notice first;
	char why[160];

	if (!j)
		return 0;
	aux_traffic_from_json(j, &traffic, why, sizeof why);
	if (aux_notice_from_json(j, &first, why, sizeof why) == 0 &&
	    first.kind != AUX_NOTICE_OTHER)
		round_trip(j, &first);
	json_decref(j);
	return 0;
}
