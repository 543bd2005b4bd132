/* What a call's auxiliary tells its secondary without being asked, and the traffic totals
 * the secondary reads from its stats: one codec for both ends (the auxiliary encodes, the
 * secondary decodes).
 *
 *   {"op":"rekey_due","channel":0}       a channel's key sealed half its frame budget
 *   {"op":"ended","reason":"idle","message":"no data either way for 120000 ms",
 *    "channels":[...], ...}              the call ended on the auxiliary's side; the
 *                                        stats object's fields (below) come with it
 *
 * The stats object (the replies to "stats" and "hangup", and "ended") has one entry per
 * bound channel in "channels": null before "start", else the channel's status with its
 * counters in "stats" ({"bytes_in":N,"bytes_out":N,...}, wire bytes); docs/auxiliary.md
 * lists the rest, which the secondary passes on to clients as it is. */
#ifndef INSEL_AUX_REPORT_H
#define INSEL_AUX_REPORT_H

#include <jansson.h>
#include <stdint.h>

enum aux_notice_kind {
	AUX_NOTICE_OTHER,      /* not a notice of the auxiliary's (a reply, another op) */
	AUX_NOTICE_ENDED,
	AUX_NOTICE_REKEY_DUE,
};

/* Bytes on the wire, summed over the channels. */
struct aux_traffic {
	uint64_t bytes_in, bytes_out;
};

/* reason and message point into the JSON decoded from. */
struct aux_notice {
	enum aux_notice_kind kind;
	const char *reason;           /* ended: a stable word ("idle", "peer_dead", ...) */
	const char *message;          /* ended: a sentence */
	struct aux_traffic traffic;   /* ended: the channels' final totals */
	unsigned channel;             /* rekey_due */
};

json_t *aux_rekey_due_to_json(unsigned channel);
/* The notice without its stats, which the auxiliary adds. */
json_t *aux_ended_to_json(const char *reason, const char *message);

/* 0 with out->kind saying which notice (AUX_NOTICE_OTHER for anything else), or
 * INSEL_E_BAD_FIELD with why set when a notice's fields are malformed; out->kind still
 * names the notice then. */
int aux_notice_from_json(const json_t *j, struct aux_notice *out, char *why, size_t whylen);
/* The totals of a stats object (channels not started count nothing): 0, or
 * INSEL_E_BAD_FIELD with why set. */
int aux_traffic_from_json(const json_t *stats, struct aux_traffic *out, char *why,
			  size_t whylen);

#endif
