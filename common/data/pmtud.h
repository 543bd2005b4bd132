/* Packetization-layer path MTU discovery for one path of a call, in the style of RFC 8899
 * (DPLPMTUD): the largest datagram the path carries is found by sending padded,
 * authenticated probes and waiting for the peer to say it received them, never by
 * trusting ICMP "too big" (which firewalls drop, turning a small link into a black hole).
 *
 * Sizes are UDP payloads, i.e. whole frames: a channel's datagram size (params.mtu). The
 * path's family only fixes the IP + UDP headers beneath (28 bytes over IPv4, 48 over
 * IPv6), so that a 1280-byte link is 1252 bytes of UDP payload over IPv4 and 1232 over
 * IPv6.
 *
 * States:
 *   base       probing PMTUD_BASE_PLPMTU; the PLPMTU is the base size meanwhile
 *   searching  the base (or, below it, the minimum) is confirmed; larger sizes are tried
 *              (the largest first, then halving the interval), each confirmed by an
 *              answered probe; the PLPMTU is the largest confirmed so far
 *   complete   the largest size the path carries is found; while traffic flows, a probe
 *              of the PLPMTU confirms it every confirm_ms (losing it MAX_PROBES times is
 *              a black hole: back to base); every raise_ms a larger size is tried again
 *   error      not even the base size got through: the PLPMTU is PMTUD_MIN_PLPMTU and
 *              sizes between the minimum and the base are tried (a hotel's 1124-byte
 *              link); should the minimum fail too, it stays in use and is probed again
 *              every error_retry_ms
 * A size counts as lost after PMTUD_MAX_PROBES probes of it went unanswered, each for
 * probe_timeout_ms (or twice the smoothed round trip of the answers so far, if longer:
 * a satellite path), or at once when the local interface refuses it (EMSGSIZE). An
 * answer to any probe of the size being tried confirms it, however late.
 *
 * Pure: no I/O and no clock. The owner calls pmtud_tick() (it says when to call again)
 * and sends each probe it asks for, feeds answers in with pmtud_ack(), and reads
 * pmtud_plpmtu() to size its datagrams. */
#ifndef INSEL_PMTUD_H
#define INSEL_PMTUD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Protocol constants (RFC 8899 section 5.1.2, sizes as UDP payloads). */
#define PMTUD_BASE_PLPMTU 1200u   /* fits any IPv6 path (1280 - 48) and most IPv4 ones */
#define PMTUD_MIN_PLPMTU 512u     /* the smallest datagram a channel uses */
#define PMTUD_MAX_PLPMTU 65507u   /* the largest UDP payload over IPv4 */
#define PMTUD_MAX_PROBES 3u       /* unanswered probes of one size before it is lost */
#define PMTUD_IPV4_OVERHEAD 28u   /* IPv4 + UDP headers */
#define PMTUD_IPV6_OVERHEAD 48u   /* IPv6 + UDP headers */

/* Defaults for the params fields left at 0. */
#define PMTUD_DEFAULT_LINK_MTU 1500u
#define PMTUD_DEFAULT_PROBE_TIMEOUT_MS 1000u    /* PROBE_TIMER, shortened: probes are
						 * answered at once */
#define PMTUD_DEFAULT_RAISE_MS 600000u          /* PMTU_RAISE_TIMER */
#define PMTUD_DEFAULT_CONFIRM_MS 5000u          /* black-hole check while traffic flows */
#define PMTUD_DEFAULT_ERROR_RETRY_MS 10000u     /* minimum lost: probe it again after */

enum pmtud_state {
	PMTUD_BASE,
	PMTUD_SEARCHING,
	PMTUD_COMPLETE,
	PMTUD_ERROR,
};

struct pmtud_params {
	bool ipv6;                  /* the path's family: the headers beneath a datagram */
	unsigned link_mtu;          /* the local interface's MTU (IP packets); 0: 1500 */
	unsigned max_plpmtu;        /* a ceiling of the owner's (UDP payload); 0: none */
	uint64_t probe_timeout_ms;  /* 0: the defaults above */
	uint64_t raise_ms;
	uint64_t confirm_ms;
	uint64_t error_retry_ms;
};

struct pmtud_stats {
	uint64_t probes_sent, probes_acked;
	uint64_t probes_timed_out;  /* one per unanswered probe */
	uint64_t probes_refused;    /* the local interface refused the size */
	uint64_t sizes_lost;        /* sizes given up after their probes were all lost */
	uint64_t searches;          /* searches started (the first, after black holes, raises) */
	uint64_t black_holes;       /* the PLPMTU stopped getting through */
	uint64_t raises;            /* searches for a larger size after raise_ms */
	uint64_t stale_acks;        /* answers to no outstanding probe */
};

/* A probe to send: a datagram of exactly size bytes carrying id. */
struct pmtud_probe {
	uint32_t id;
	unsigned size;
};

struct pmtud {
	struct pmtud_params params;   /* defaults filled in */
	enum pmtud_state state;
	unsigned plpmtu;              /* the datagram size in use */
	unsigned max;                 /* the largest size worth trying */
	unsigned low;                 /* the largest confirmed size, 0 if none */
	unsigned high;                /* the largest size not known to be lost */
	bool tried_high;              /* this search has tried high once */
	bool below_base;              /* the base size was lost on this path */

	bool outstanding;             /* a probe size is being tried */
	bool confirming;              /* ... and it is the PLPMTU (black-hole check) */
	unsigned probe_size;
	uint32_t first_id;            /* ids first_id .. next_id - 1 are of probe_size */
	uint32_t next_id;
	unsigned attempts;            /* probes of probe_size sent */
	uint64_t sent_ms[PMTUD_MAX_PROBES];  /* when each went */
	uint64_t deadline_ms;         /* the last one is lost after this */
	uint64_t srtt_ms;             /* smoothed round trip of the answers, 0 before any */

	uint64_t next_probe_ms;       /* when the next size is tried (search, retry) */
	uint64_t complete_ms;         /* when the search completed: raise_ms counts from it */
	uint64_t confirmed_ms;        /* the PLPMTU last got through */
	uint64_t traffic_ms;          /* data last flowed (pmtud_note_traffic) */
	bool traffic;
	struct pmtud_stats stats;
};

/* Starts discovery at now_ms (state base, or error at once when the local link cannot
 * carry the base size). The first probe is due at once. */
void pmtud_init(struct pmtud *p, const struct pmtud_params *params, uint64_t now_ms);
/* Starts again from base (the path changed: a new peer endpoint, another local link). */
void pmtud_restart(struct pmtud *p, uint64_t now_ms);

/* Runs the timers at now_ms. Returns true with *probe set when a probe is to be sent now
 * (the machine counts it as sent); *next_ms (if non-NULL) is the latest time to call
 * again. At most one probe per call. */
bool pmtud_tick(struct pmtud *p, uint64_t now_ms, struct pmtud_probe *probe,
		uint64_t *next_ms);
/* An authenticated answer to probe id, saying the request arrived with size bytes.
 * Returns true when it confirmed the outstanding size (the PLPMTU may have changed). */
bool pmtud_ack(struct pmtud *p, uint32_t id, unsigned size, uint64_t now_ms);
/* The probe id could not be sent because the local interface refused its size
 * (EMSGSIZE): the size is lost at once and nothing larger is tried again. */
void pmtud_refused(struct pmtud *p, uint32_t id, uint64_t now_ms);
/* Data flowed at now_ms: black-hole checks run only while it does. */
void pmtud_note_traffic(struct pmtud *p, uint64_t now_ms);

/* The datagram size to use now. */
unsigned pmtud_plpmtu(const struct pmtud *p);
enum pmtud_state pmtud_state(const struct pmtud *p);
/* Whether the search is over: the PLPMTU is the path's, as far as probing can tell (the
 * owner may then tell its hosts so, e.g. with ICMP "too big"). */
bool pmtud_settled(const struct pmtud *p);
const char *pmtud_state_name(enum pmtud_state s);
/* {"plpmtu":N,"state":"...","below_base":bool,"max":N,"probes_sent":N,...}; new
 * reference or NULL. */
json_t *pmtud_status_json(const struct pmtud *p);

#endif
