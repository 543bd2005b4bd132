/* What a secondary knows of its links to other gateways (docs/routing.md): the "measure"
 * notices of its calls' auxiliaries, gathered per peer gateway (its certificate name):
 * a smoothed round trip, probes sent and answered over a sliding window, when a probe was
 * last answered, and how the path went (direct, relayed, tcp). It says when a report to
 * the principal is due (every LINK_REPORT_MS, or sooner on a significant change, but
 * never twice within LINK_MIN_GAP_MS) and fills the `links` request.
 *
 * A core with no I/O and no clock of its own (the caller passes milliseconds on a
 * monotonic clock), tested with a fake one. Only gateways we have calls or trunks with
 * are measured: a peer no auxiliary has measured for LINK_FORGET_MS is dropped. */
#ifndef INSEL_SECONDARY_LINK_TABLE_H
#define INSEL_SECONDARY_LINK_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aux_report.h"
#include "principal_ops.h"

#define LINK_TABLE_MAX POP_MAX_LINKS
#define LINK_SLOT_MS 5000        /* the loss window: LINK_WINDOW_SLOTS slots of this */
#define LINK_WINDOW_SLOTS 6      /* 30 s */
#define LINK_FORGET_MS 60000     /* a peer not measured for this long is dropped */
#define LINK_REPORT_MS 30000     /* a report at least this often while there are links */
#define LINK_MIN_GAP_MS 5000     /* and never two closer than this */
/* Significant changes, reported without waiting: a round trip that moved by more than
 * LINK_RTT_CHANGE_MS and by more than a quarter, loss that moved by 5 points, another
 * kind of path, a new peer. */
#define LINK_RTT_CHANGE_MS 5
#define LINK_LOSS_CHANGE_PPM 50000

struct link_entry {
	char peer[PKI_NAME_MAX + 1];
	enum pop_link_kind kind;
	uint32_t rtt_ms;
	bool has_rtt;
	uint32_t probes[LINK_WINDOW_SLOTS], replies[LINK_WINDOW_SLOTS];
	uint64_t slot;               /* the index (now / LINK_SLOT_MS) of the newest slot */
	uint64_t last_measure_ms;    /* the latest notice */
	uint64_t last_answer_ms;     /* the latest notice with a probe answered; 0 never */
	/* As last reported, to see a significant change. */
	bool reported;
	uint32_t reported_rtt_ms, reported_loss_ppm;
	enum pop_link_kind reported_kind;
};

struct link_table {
	struct link_entry e[LINK_TABLE_MAX];
	size_t n;
	uint64_t last_report_ms;
	bool ever_reported;
};

void link_table_init(struct link_table *t);
/* A notice of a call's auxiliary whose peer gateway is peer; notices of more than
 * LINK_TABLE_MAX peers at once are dropped (false). */
bool link_table_measured(struct link_table *t, const char *peer,
			 const struct aux_measure_notice *m, uint64_t now);
/* Whether a report should go now. */
bool link_table_report_due(struct link_table *t, uint64_t now);
/* The report: every peer with probes in the window (forgetting peers silent for
 * LINK_FORGET_MS); remembers it as reported at now. */
void link_table_fill(struct link_table *t, uint64_t now, struct pop_links_req *out);

#endif
