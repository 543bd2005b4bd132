/* What a call's auxiliary tells its secondary without being asked, and the traffic totals
 * the secondary reads from its stats: one codec for both ends (the auxiliary encodes, the
 * secondary decodes).
 *
 *   {"op":"rekey_due","channel":0}       a channel's key sealed half its frame budget
 *   {"op":"ended","reason":"idle","message":"no data either way for 120000 ms",
 *    "channels":[...], ...}              the call ended on the auxiliary's side; the
 *                                        stats object's fields (below) come with it
 *   {"op":"path","state":"up","kind":"direct","local":"198.18.1.2:40001",
 *    "remote":"198.18.2.2:40007","rtt_ms":3,"reason":"..."}
 *                                        the data path: a probe was answered ("up"),
 *                                        the call moved to another path ("changed"),
 *                                        or nothing answers ("lost": kind, local and
 *                                        remote say what was last used, if anything)
 *   {"op":"measure","kind":"direct","rtt_ms":3,"probes":5,"replies":5}
 *                                        the path measured while up: the smoothed round
 *                                        trip of its probes, and how many were sent and
 *                                        answered since the last such notice (every
 *                                        PATH_MEASURE_REPORT_MS; docs/routing.md)
 *
 * The stats object (the replies to "stats" and "hangup", and "ended") has one entry per
 * bound channel in "channels": null before "start", else the channel's status with its
 * counters in "stats" ({"bytes_in":N,"bytes_out":N,...}, wire bytes); docs/auxiliary.md
 * lists the rest, which the secondary passes on to clients as it is. */
#ifndef INSEL_AUX_REPORT_H
#define INSEL_AUX_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define AUX_PATH_REASON_MAX 240  /* bytes of a path notice's reason */

enum aux_notice_kind {
	AUX_NOTICE_OTHER,      /* not a notice of the auxiliary's (a reply, another op) */
	AUX_NOTICE_ENDED,
	AUX_NOTICE_REKEY_DUE,
	AUX_NOTICE_PATH,
	AUX_NOTICE_MEASURE,
};

enum aux_path_state {
	AUX_PATH_UP,        /* a probe was answered: authenticated frames crossed both ways */
	AUX_PATH_CHANGED,   /* the data goes another way now (direct found, re-probed, relay) */
	AUX_PATH_LOST,      /* nothing answers the probes */
};

/* The "path" notice. reason points into the JSON decoded from (or the caller's). */
struct aux_path_notice {
	enum aux_path_state state;
	bool relayed;                 /* kind "relayed" (through a relay), else "direct" */
	bool tcp;                     /* kind "tcp": through the relay's TLS-over-TCP
				       * fallback (relayed is set too) */
	bool has_endpoints;           /* kind, local, remote present (always but in "lost") */
	struct ip_endpoint local;     /* our candidate the path uses */
	struct ip_endpoint remote;    /* where the frames go */
	uint32_t rtt_ms;              /* the probe's round trip */
	const char *reason;           /* a sentence: why this path, or what was tried */
};

/* The "measure" notice: the path carrying the call, as its probes found it. */
struct aux_measure_notice {
	bool relayed, tcp;            /* kind, as in the path notice */
	uint32_t rtt_ms;              /* smoothed round trip of the path's probes */
	uint32_t probes, replies;     /* since the last measure notice; replies <= probes */
};
#define AUX_MEASURE_MAX_PROBES 100000  /* in one notice */

/* Bytes on the wire, summed over the channels. */
struct aux_traffic {
	uint64_t bytes_in, bytes_out;
};

/* What a room's leg carried to and from one peer site, and what it dropped by reason, as
 * its stats' "tun" object counts it (docs/rooms.md, "Counters"): "out" is from our LAN to
 * the peer, "in" from the peer to our LAN. The names are those `insel rooms --json` shows. */
#define AUX_ROOM_COUNTERS(X) \
	X(packets_out, "packets_from_lan") X(bytes_out, "bytes_from_lan") \
	X(packets_in, "packets_to_lan") X(bytes_in, "bytes_to_lan") \
	X(broadcast_out, "room_broadcast_out") X(broadcast_in, "room_broadcast_in") \
	X(multicast_out, "room_multicast_out") X(multicast_in, "room_multicast_in")
#define AUX_ROOM_DROPS(X) \
	X(nonmember, "room_nonmember") X(no_member, "room_no_member") \
	X(unauthorised_from_lan, "unauthorised_from_lan") \
	X(unauthorised_from_peer, "unauthorised_from_peer") \
	X(cast_nonmember, "room_cast_nonmember") X(cast_limited, "room_cast_limited") \
	X(malformed, "malformed") X(too_big, "too_big") X(errors, "errors") \
	X(queue_full, "queue_dropped")
#define AUX_ROOM_FIELD(name, key) uint64_t name;
struct aux_room_counters {
	AUX_ROOM_COUNTERS(AUX_ROOM_FIELD)
	struct {
		AUX_ROOM_DROPS(AUX_ROOM_FIELD)
	} drops;
};
#undef AUX_ROOM_FIELD

/* reason and message point into the JSON decoded from. */
struct aux_notice {
	enum aux_notice_kind kind;
	const char *reason;           /* ended: a stable word ("idle", "peer_dead", ...) */
	const char *message;          /* ended: a sentence */
	struct aux_traffic traffic;   /* ended: the channels' final totals */
	unsigned channel;             /* rekey_due */
	struct aux_path_notice path;  /* path */
	struct aux_measure_notice measure;  /* measure */
};

const char *aux_path_state_name(enum aux_path_state state);
/* "direct", "relayed" or "tcp". */
const char *aux_path_kind(bool relayed, bool tcp);
json_t *aux_path_to_json(const struct aux_path_notice *n);

json_t *aux_measure_to_json(const struct aux_measure_notice *n);
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

/* A room leg's counters from its auxiliary's stats (a missing field counts 0): 0, or
 * INSEL_E_BAD_FIELD with why set (no "tun" object, a counter that is no count). */
int aux_room_counters_from_json(const json_t *stats, struct aux_room_counters *out,
				char *why, size_t whylen);
/* Adds them to obj under the names above, the drops in "drops" with their sum as
 * "dropped". */
int aux_room_counters_into(const struct aux_room_counters *c, json_t *obj);

#endif
