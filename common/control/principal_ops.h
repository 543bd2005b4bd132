/* The principal's ops, one codec for both ends: every request that a secondary (or an
 * operator's tool) sends to the principal and every reply it gets back, as a C struct
 * with an encoder and a validating decoder. The secondary encodes requests and decodes
 * replies (secondary/principal_link.c, call*.c, client_api.c, renew.c); the principal
 * decodes requests and encodes replies (principal/api*.c). The wire form is described
 * in docs/principal-api.md.
 *
 * The families live in one file each:
 *   principal_ops_session.c    hello, register, heartbeat, the "revoked" notice
 *   principal_ops_directory.c  lookup, list, revocations (and the LAN entries of a list)
 *   principal_ops_records.c    call_start, call_end
 *   principal_ops_auth.c       verify_user, renew
 *   principal_ops_relay.c      relay (an allocation on the principal's relay for a call)
 *   principal_ops_connect.c    connect and the dial_back notice (signalling across NAT)
 *   principal_ops_links.c      links (a secondary's measured links to other gateways)
 *
 * Conventions:
 * - A request encoder makes the whole frame ({"op":...,"id":N,...}); a reply encoder
 *   makes only the op's fields, to which the principal adds "id" and "ok".
 * - Decoders read untrusted JSON through msg.h's validating getters. They return 0, or
 *   an error code (INSEL_E_BAD_FIELD, or the address parser's own) with a sentence in
 *   why, fit for the error reply. A reply decoder reads the fields of a reply that is
 *   ok; whether it is ok is msg_reply_is_ok's to say.
 * - Strings in decoded structs point into the message decoded (valid while it is), except
 *   the fixed-size buffers, which are copied and checked for length. */
#ifndef INSEL_PRINCIPAL_OPS_H
#define INSEL_PRINCIPAL_OPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "candidate.h"
#include "pki.h"

#define POP_WHY_LEN 256           /* the sentence a decoder leaves in why */
#define POP_TEXT_MAX 256          /* caller, callee, reason, ...: printable bytes */
#define POP_MAX_PREFIXES 64       /* a LAN's prefixes */
#define POP_MAX_CALL_CHANNELS 16  /* channels recorded with a call */
#define POP_PASSWORD_MAX 1024     /* bytes of a password to check */
#define POP_LIST_DEFAULT 100      /* items of a page when the request names no limit */
#define POP_LIST_MAX 500          /* most items of a page */

/* ---- shared pieces ---- */

/* The timers the principal suggests, in the replies to hello, register and heartbeat. */
struct pop_timers {
	int64_t heartbeat_ms;
	int64_t down_after_ms;
};

/* A page of a listing asked for: limit 0 in a request to encode sends neither field
 * (the principal's defaults apply). */
struct pop_page {
	int64_t offset;
	int64_t limit;
};

/* Whether a secondary's peer endpoint can be dialled (docs/nat.md): as the principal
 * found by dialling it back, or as the secondary declared ([peers] reachable). Unknown
 * (null on the wire) until the check has answered; in a register request, "auto". */
enum pop_reach { POP_REACH_UNKNOWN = 0, POP_REACH_YES, POP_REACH_NO };

/* Which secondary serves a LAN, as lookup and the LAN entries of list say it. A field
 * the directory has no value for (a secondary that never registered) is "" here and
 * null on the wire. */
struct pop_serving {
	char secondary[PKI_NAME_MAX + 1];
	char endpoint[IP_STRLEN];
	char endpoint6[IP_STRLEN];  /* a dual-stack secondary's IPv6 one too, or "" (absent on
				     * the wire) */
	char fingerprint[PKI_FINGERPRINT_LEN + 1];
	char previous_fingerprint[PKI_FINGERPRINT_LEN + 1];  /* "" unless switching */
	char state[8];              /* "up", "down", "new" */
	bool has_last_heartbeat;
	int64_t last_heartbeat;     /* seconds since the epoch */
	enum pop_reach reachable;   /* "reachable": true, false or null */
	enum pop_reach reachable6;  /* the same for endpoint6 ("reachable6", beside it only;
				     * absent from an older principal: not known) */
};

/* Whether fingerprint is the serving secondary's certificate, or the one it is being
 * renewed from. */
bool pop_serving_names_certificate(const struct pop_serving *s, const char *fingerprint);
/* The endpoint, when the directory has a valid one and the secondary is up. */
bool pop_serving_reachable(const struct pop_serving *s, struct ip_endpoint *out);
/* Which of a secondary's endpoints a dialler whose wan has the families in has_ipv4 and
 * has_ipv6 dials, ep coming in as its endpoint: endpoint6 instead when the dialler has
 * IPv6 and either not the endpoint's family or a better word on endpoint6 (reachable6
 * known where reachable is not, or reachable false and reachable6 not); else the
 * endpoint, even of a family the dialler lacks (the dial will say why it failed). */
void pop_serving_choose_endpoint(const struct pop_serving *s, bool has_ipv4, bool has_ipv6,
				 struct ip_endpoint *ep);
/* The endpoint when the secondary is up, chosen as pop_serving_choose_endpoint says. */
bool pop_serving_reachable_from(const struct pop_serving *s, bool has_ipv4, bool has_ipv6,
				struct ip_endpoint *out);
/* Whether `chosen` (as pop_serving_reachable_from chose it) can be dialled: reachable6
 * when it is the secondary's endpoint6, else reachable. */
enum pop_reach pop_serving_reach_of(const struct pop_serving *s,
				    const struct ip_endpoint *chosen);

/* ---- session: hello, register, heartbeat, revoked ---- */

struct pop_hello_req {
	int64_t version;     /* MSG_PROTOCOL_VERSION when encoding */
	const char *role;    /* the sender's role ("secondary"); NULL if absent */
};
json_t *pop_hello_req_encode(json_int_t id, const struct pop_hello_req *r);
int pop_hello_req_decode(const json_t *msg, struct pop_hello_req *out, char why[POP_WHY_LEN]);

struct pop_hello_reply {
	int64_t version;
	const char *name;        /* the principal's certificate name */
	const char *peer_role;   /* the role and name the principal sees the caller as */
	const char *peer_name;
	struct pop_timers timers;
};
json_t *pop_hello_reply_encode(const struct pop_hello_reply *r);
int pop_hello_reply_decode(const json_t *msg, struct pop_hello_reply *out,
			   char why[POP_WHY_LEN]);

struct pop_register_req {
	const char *lan;
	struct ip_prefix prefixes[POP_MAX_PREFIXES];
	size_t nprefixes;                 /* 1..POP_MAX_PREFIXES */
	struct ip_endpoint endpoint;      /* the peer protocol's, port not 0 */
	enum pop_reach reachable;         /* "reachable": "auto" (UNKNOWN), "yes", "no" */
	struct ip_endpoint endpoint6;     /* "endpoint6", optional: a dual-stack secondary's */
	bool has_endpoint6;               /* IPv6 one beside an IPv4 endpoint */
	/* "relay":{"addr":"ADDR:PORT","tcp":"ADDR:PORT"}, optional: the secondary runs a
	 * relay ([relay] listen) the principal may give calls (docs/relay.md, section 8);
	 * "tcp", optional, its TLS-over-TCP fallback. Neither address unspecified. */
	bool has_relay;
	struct ip_endpoint relay;
	bool has_relay_tcp;
	struct ip_endpoint relay_tcp;
	/* "role": "active" (the default: it serves the LAN and holds its address) or
	 * "standby" (one of the LAN's gateways waiting to take over, docs/standby.md) */
	bool standby;
};
json_t *pop_register_req_encode(json_int_t id, const struct pop_register_req *r);
int pop_register_req_decode(const json_t *msg, struct pop_register_req *out,
			    char why[POP_WHY_LEN]);

struct pop_register_reply {
	const char *secondary;
	const char *lan;
	struct ip_prefix prefixes[POP_MAX_PREFIXES];
	size_t nprefixes;
	struct pop_timers timers;
	/* "stun":"ADDR:PORT", where the principal answers STUN (docs/nat.md), when its
	 * responder runs; an unspecified address means the one the secondary reaches it at. */
	bool has_stun;
	struct ip_endpoint stun;
	/* "stun_alternate":"ADDR:PORT", the same responder on a second port: asking both
	 * tells an endpoint-dependent NAT mapping from an independent one. */
	bool has_stun_alternate;
	struct ip_endpoint stun_alternate;
};
json_t *pop_register_reply_encode(const struct pop_register_reply *r);
int pop_register_reply_decode(const json_t *msg, struct pop_register_reply *out,
			      char why[POP_WHY_LEN]);

/* heartbeat has no fields; its reply is the timers. */
json_t *pop_heartbeat_req_encode(json_int_t id);
json_t *pop_timers_reply_encode(const struct pop_timers *t);
int pop_timers_reply_decode(const json_t *msg, struct pop_timers *out, char why[POP_WHY_LEN]);

/* {"op":"revoked","serials":[...]}: a notice from the principal, no id, no reply. */
/* {"op":"gateway","lan":L,"secondary":S}: a notice from the principal to every
 * secondary when LAN L's active gateway became S (a standby took over, docs/standby.md):
 * calls with the LAN's old gateway end, trunks to the LAN are placed again at once. */
struct pop_gateway_notice {
	const char *lan;
	const char *secondary;
};
json_t *pop_gateway_notice_encode(const struct pop_gateway_notice *n);
int pop_gateway_notice_decode(const json_t *msg, struct pop_gateway_notice *out,
			      char why[POP_WHY_LEN]);

json_t *pop_revoked_notice_encode(const json_t *serials);
int pop_revoked_notice_decode(const json_t *msg, const json_t **serials,
			      char why[POP_WHY_LEN]);

/* ---- directory: lookup, list, revocations ---- */

struct pop_lookup_req {
	const char *callee;  /* "user@lan", a host name or an address: 1..POP_TEXT_MAX */
};
json_t *pop_lookup_req_encode(json_int_t id, const struct pop_lookup_req *r);
int pop_lookup_req_decode(const json_t *msg, struct pop_lookup_req *out, char why[POP_WHY_LEN]);

enum pop_lookup_kind { POP_LOOKUP_USER = 1, POP_LOOKUP_HOST, POP_LOOKUP_ADDRESS };

struct pop_lookup_reply {
	enum pop_lookup_kind kind;
	char callee[POP_TEXT_MAX + 1];
	char lan[PKI_NAME_MAX + 1];
	struct pop_serving serving;
	char user[PKI_NAME_MAX + 1];   /* kind user: the user's name, without the LAN */
	char host[PKI_NAME_MAX + 1];   /* kind host, or an address the directory names */
	bool has_address;              /* kinds host and address */
	struct ip_addr address;
	char prefix[IP_STRLEN];        /* the LAN prefix holding the address */
	/* The LAN's mapped prefix, "" when none (docs/overlap.md); with an address, the
	 * address other LANs reach it by (address is then the real one). */
	char mapped_prefix[IP_STRLEN];
	bool has_mapped_address;
	struct ip_addr mapped_address;
};
json_t *pop_lookup_reply_encode(const struct pop_lookup_reply *r);
int pop_lookup_reply_decode(const json_t *msg, struct pop_lookup_reply *out,
			    char why[POP_WHY_LEN]);
const char *pop_lookup_kind_name(enum pop_lookup_kind k);

enum pop_list_what { POP_LIST_LANS = 1, POP_LIST_SECONDARIES };

struct pop_list_req {
	enum pop_list_what what;
	const char *name;        /* LANs only: that LAN alone; NULL: all */
	struct pop_page page;
};
json_t *pop_list_req_encode(json_int_t id, const struct pop_list_req *r);
int pop_list_req_decode(const json_t *msg, struct pop_list_req *out, char why[POP_WHY_LEN]);

struct pop_list_reply {
	enum pop_list_what what;
	const json_t *items;     /* rows as `insel-principal lan/secondary list --json` */
	int64_t total;
	int64_t offset;
};
json_t *pop_list_reply_encode(const struct pop_list_reply *r);
int pop_list_reply_decode(const json_t *msg, struct pop_list_reply *out,
			  char why[POP_WHY_LEN]);
const char *pop_list_what_name(enum pop_list_what w);

/* A LAN entry of a list reply, as a secondary checking a call reads it. Prefixes that do
 * not parse are skipped; strings the directory has no value for are "". */
struct pop_lan_entry {
	char name[PKI_NAME_MAX + 1];
	struct ip_prefix prefixes[POP_MAX_PREFIXES];
	size_t nprefixes;
	struct pop_serving serving;
	/* Its mapped prefix, when its IPv4 prefix may overlap others' (docs/overlap.md). */
	bool has_mapped;
	struct ip_prefix mapped;
};
/* The entry for LAN name among the items of a list of LANs: 0, or INSEL_E_NOT_FOUND. */
int pop_list_find_lan(const struct pop_list_reply *r, const char *name,
		      struct pop_lan_entry *out);

/* revocations: a page of the revoked serials. */
json_t *pop_revocations_req_encode(json_int_t id, const struct pop_page *page);
int pop_revocations_req_decode(const json_t *msg, struct pop_page *out, char why[POP_WHY_LEN]);

struct pop_revocations_reply {
	const json_t *serials;   /* lowercase hex strings */
	int64_t total;
	int64_t offset;
};
json_t *pop_revocations_reply_encode(const struct pop_revocations_reply *r);
int pop_revocations_reply_decode(const json_t *msg, struct pop_revocations_reply *out,
				 char why[POP_WHY_LEN]);

/* ---- records: call_start, call_end ---- */

struct pop_call_start_req {
	const char *call_id;     /* 16 lowercase hex digits (the directory checks) */
	const char *caller;      /* user@caller_lan, or caller_lan for a trunk */
	const char *caller_lan;
	const char *callee;
	const char *callee_lan;  /* NULL if not known */
	const json_t *channels;  /* array of at most POP_MAX_CALL_CHANNELS; NULL: none */
	const char *signalling;  /* "direct", "reversed", "spliced"; NULL if not said */
	const char *path;        /* the data path at up: "direct", "relayed" or "tcp" (the
				  * relay's TLS-over-TCP fallback); NULL if not said */
	const char *path_remote; /* where its frames went, ADDRESS:PORT; NULL if not said */
};
json_t *pop_call_start_req_encode(json_int_t id, const struct pop_call_start_req *r);
int pop_call_start_req_decode(const json_t *msg, struct pop_call_start_req *out,
			      char why[POP_WHY_LEN]);

#define POP_PATH_HISTORY_MAX 8   /* moves of a call's path a record keeps (the latest) */

/* One move of a call's data path: at seconds after the call started, to path (a kind as
 * in call_start) towards remote. */
struct pop_path_step {
	int64_t at;
	char path[8];
	char remote[IP_STRLEN];
};

/* How a call's data path went after up (call_end's optional "path" object:
 * {"final":KIND,"remote":"ADDR:PORT","changes":N,"history":[{"at":S,"path":KIND,
 *  "remote":"ADDR:PORT"},...]}). */
struct pop_path_summary {
	bool present;
	char final[8];           /* the path when the call ended */
	char remote[IP_STRLEN];
	int64_t changes;         /* moves after up, all of them */
	struct pop_path_step history[POP_PATH_HISTORY_MAX];   /* the latest, oldest first */
	size_t nhistory;
};

struct pop_call_end_req {
	const char *call_id;
	const char *reason;      /* NULL: "hangup" */
	int64_t bytes_up;        /* caller -> callee */
	int64_t bytes_down;
	struct pop_path_summary path;
};
/* The history as the record stores it: [{"at":S,"path":KIND,"remote":"ADDR:PORT"}]. */
json_t *pop_path_history_encode(const struct pop_path_summary *s);
json_t *pop_call_end_req_encode(json_int_t id, const struct pop_call_end_req *r);
int pop_call_end_req_decode(const json_t *msg, struct pop_call_end_req *out,
			    char why[POP_WHY_LEN]);

/* call_event: the caller's secondary placed a call ("placed"), or the call ended before
 * it came up ("refused", with the reason's wire code), for the principal's event log. */
#define POP_EVENT_REASON_MAX 40
struct pop_call_event_req {
	const char *event;       /* "placed" or "refused" */
	const char *call_id;     /* 16 lowercase hex */
	const char *caller;      /* "user@lan", or the LAN of a trunk */
	const char *callee;
	const char *reason;      /* refused only: [a-z0-9_], 1..POP_EVENT_REASON_MAX */
};
json_t *pop_call_event_req_encode(json_int_t id, const struct pop_call_event_req *r);
int pop_call_event_req_decode(const json_t *msg, struct pop_call_event_req *out,
			      char why[POP_WHY_LEN]);

/* The reply to call_start, call_end and call_event: the call's id. */
json_t *pop_call_reply_encode(const char *call_id);
int pop_call_reply_decode(const json_t *msg, const char **call_id, char why[POP_WHY_LEN]);

/* ---- relay: an allocation on a relay the principal picks (docs/relay.md) ---- */

struct pop_relay_req {
	uint64_t call;           /* the call the allocation is for */
	const char *callee;      /* "callee", optional: as the caller named it ("user@lan",
				  * a host, an address) or the peer LAN of a trunk, so that
				  * the principal never picks the callee's own relay; NULL */
};
json_t *pop_relay_req_encode(json_int_t id, const struct pop_relay_req *r);
int pop_relay_req_decode(const json_t *msg, struct pop_relay_req *out, char why[POP_WHY_LEN]);

/* {"relay":{"kind":"relay","addr":"ADDR:PORT","relay_id":"<16 hex>","token":"<32 hex>"}}:
 * a candidate of kind relay (candidate.h), as the offer carries it. */
struct pop_relay_reply {
	struct candidate relay;  /* kind CAND_RELAY */
};
json_t *pop_relay_reply_encode(const struct pop_relay_reply *r);
int pop_relay_reply_decode(const json_t *msg, struct pop_relay_reply *out,
			   char why[POP_WHY_LEN]);

/* A secondary's relay, driven by the principal over that secondary's link (docs/relay.md,
 * section 8). principal -> secondary: "relay_allocate" (the fields of the relay's own
 * allocate, relay_ops.h), "relay_free" {"allocation"}, "relay_stats" {} (answered with the
 * relay's stats fields); secondary -> principal: "relay_expired" {"allocation"}, the
 * relay's expiry notice passed on (a request, answered ok). */
struct relay_allocate;
json_t *pop_relay_allocate_encode(json_int_t id, const struct relay_allocate *a);
int pop_relay_allocate_decode(const json_t *msg, struct relay_allocate *out,
			      char why[POP_WHY_LEN]);
json_t *pop_relay_free_encode(json_int_t id, uint64_t allocation);
json_t *pop_relay_expired_encode(json_int_t id, uint64_t allocation);
/* The "allocation" of relay_free and relay_expired. */
int pop_relay_allocation_decode(const json_t *msg, uint64_t *out, char why[POP_WHY_LEN]);
json_t *pop_relay_stats_encode(json_int_t id);

/* What the principal reads of a relay's stats (its own relay's reply, or a secondary's
 * relay_stats reply): live allocations, datagrams forwarded, and datagrams dropped (every
 * outcome but forwarded and registered). */
struct pop_relay_stats {
	int64_t allocations;
	int64_t forwarded;
	int64_t dropped;
};
int pop_relay_stats_decode(const json_t *msg, struct pop_relay_stats *out,
			   char why[POP_WHY_LEN]);

/* ---- links: what a secondary measured to the gateways it talks to (docs/routing.md) ---- */

#define POP_MAX_LINKS 256          /* peers in one report */
#define POP_LINK_RTT_MAX_MS 600000 /* a round trip longer than 10 minutes is nonsense */
#define POP_LINK_LOSS_SCALE 1000000  /* loss in parts per million */

enum pop_link_kind { POP_LINK_DIRECT = 1, POP_LINK_RELAYED, POP_LINK_TCP };
const char *pop_link_kind_name(enum pop_link_kind k);

/* One peer gateway: {"peer":"sec-b","kind":"direct","rtt_ms":12,"loss_ppm":0,
 * "probes":30,"age_ms":800}. */
struct pop_link {
	char peer[PKI_NAME_MAX + 1];   /* the peer's secondary (certificate name) */
	enum pop_link_kind kind;       /* how the last measured path went */
	uint32_t rtt_ms;               /* smoothed round trip */
	uint32_t loss_ppm;             /* probes unanswered in the window, per million */
	uint32_t probes;               /* probes sent in the window */
	uint32_t age_ms;               /* since the last probe was answered */
};

struct pop_links_req {
	struct pop_link links[POP_MAX_LINKS];
	size_t nlinks;
};
json_t *pop_links_req_encode(json_int_t id, const struct pop_links_req *r);
int pop_links_req_decode(const json_t *msg, struct pop_links_req *out, char why[POP_WHY_LEN]);

/* {"links":N}: how many were recorded. */
struct pop_links_reply {
	int64_t recorded;
};
json_t *pop_links_reply_encode(const struct pop_links_reply *r);
int pop_links_reply_decode(const json_t *msg, struct pop_links_reply *out,
			   char why[POP_WHY_LEN]);

/* ---- call_rates: a live call's byte counters (principal_ops_rates.c) ---- */

#define POP_MAX_CALL_RATES 128        /* calls in one report */
#define POP_CALL_ID_LEN 16            /* lowercase hex digits */
#define POP_CALL_BYTES_MAX ((json_int_t)1 << 53)  /* exact in every JSON reader */

/* {"call_id":"<16 hex>","bytes_up":N,"bytes_down":N,"at_ms":N}: what the caller's
 * auxiliary had carried (caller to callee, and back) at at_ms on the secondary's
 * monotonic clock. */
struct pop_call_count {
	char call_id[POP_CALL_ID_LEN + 1];
	uint64_t bytes_up, bytes_down, at_ms;
};

struct pop_call_rates_req {
	struct pop_call_count calls[POP_MAX_CALL_RATES];
	size_t ncalls;
};
json_t *pop_call_rates_req_encode(json_int_t id, const struct pop_call_rates_req *r);
int pop_call_rates_req_decode(const json_t *msg, struct pop_call_rates_req *out,
			      char why[POP_WHY_LEN]);

/* {"calls":N}: how many were taken (a call not live, or recorded by another secondary,
 * is skipped). */
struct pop_call_rates_reply {
	int64_t taken;
};
json_t *pop_call_rates_reply_encode(const struct pop_call_rates_reply *r);
int pop_call_rates_reply_decode(const json_t *msg, struct pop_call_rates_reply *out,
				char why[POP_WHY_LEN]);

/* ---- auth: verify_user, renew ---- */

struct pop_verify_user_req {
	const char *user;        /* name@lan as sent */
	char name[PKI_NAME_MAX + 1];  /* decoded: its two halves, each a valid name */
	char lan[PKI_NAME_MAX + 1];
	const char *password;    /* at most POP_PASSWORD_MAX bytes */
	bool has_source;         /* the LAN host's address, as its secondary sees it */
	struct ip_addr source;
};
json_t *pop_verify_user_req_encode(json_int_t id, const struct pop_verify_user_req *r);
int pop_verify_user_req_decode(const json_t *msg, struct pop_verify_user_req *out,
			       char why[POP_WHY_LEN]);

struct pop_verify_user_reply {
	const char *user;        /* name@lan */
	const char *lan;
};
json_t *pop_verify_user_reply_encode(const struct pop_verify_user_reply *r);
int pop_verify_user_reply_decode(const json_t *msg, struct pop_verify_user_reply *out,
				 char why[POP_WHY_LEN]);

struct pop_renew_req {
	const char *csr;         /* PEM PKCS#10; pki_csr_check says whether it is one */
	size_t csr_len;
};
json_t *pop_renew_req_encode(json_int_t id, const struct pop_renew_req *r);
int pop_renew_req_decode(const json_t *msg, struct pop_renew_req *out, char why[POP_WHY_LEN]);

enum pop_renew_state { POP_RENEW_PENDING = 1, POP_RENEW_ISSUED };

struct pop_renew_reply {
	int64_t request;         /* the principal's number for the request */
	enum pop_renew_state state;
	/* issued only: */
	const char *certificate; /* PEM */
	const char *fingerprint;
	const char *serial;
	int64_t not_after;
};
json_t *pop_renew_reply_encode(const struct pop_renew_reply *r);
int pop_renew_reply_decode(const json_t *msg, struct pop_renew_reply *out,
			   char why[POP_WHY_LEN]);

/* ---- connect: signalling across NAT ----
 * The caller's secondary cannot dial the callee's: it asks the principal to connect
 * them, with a one-time token of its drawing. The principal answers how (the callee
 * dials the caller back, or both dial its splice port) and tells the callee's secondary
 * over its link, with the token, in a dial_back notice. Both ends then start their TCP
 * stream with the preamble (preamble.h) naming the call, their end and the token. The
 * caller draws the token so that it can recognise a callee dialling back before the
 * principal's reply has reached it. */

enum pop_signalling { POP_SIG_DIRECT = 1, POP_SIG_REVERSED, POP_SIG_SPLICED };
const char *pop_signalling_name(enum pop_signalling s);
/* 0 and the value, or INSEL_E_BAD_FIELD for another word. */
int pop_signalling_parse(const char *name, enum pop_signalling *out);

#define POP_TOKEN_LEN 16

struct pop_connect_req {
	uint64_t call_id;        /* "call": 16 hex digits, not 0 */
	const char *callee_lan;  /* the LAN whose secondary is to be reached */
	bool splice;             /* "splice": true asks for splicing at once (a reversal
				  * did not arrive) */
	uint8_t token[POP_TOKEN_LEN];  /* "token": 32 hex digits, random */
};
json_t *pop_connect_req_encode(json_int_t id, const struct pop_connect_req *r);
int pop_connect_req_decode(const json_t *msg, struct pop_connect_req *out,
			   char why[POP_WHY_LEN]);

struct pop_connect_reply {
	enum pop_signalling mode;          /* "mode": "reversed" or "spliced" */
	struct ip_endpoint splice;         /* "splice": spliced only, where to dial */
	/* "to", optional, reversed only: the caller's endpoint the callee was told to dial
	 * back (of either family: a dual-stack caller may be dialable over IPv6 only).
	 * Absent from an older principal. */
	bool has_to;
	struct ip_endpoint to;
};
json_t *pop_connect_reply_encode(const struct pop_connect_reply *r);
int pop_connect_reply_decode(const json_t *msg, struct pop_connect_reply *out,
			     char why[POP_WHY_LEN]);

/* {"op":"dial_back",...}: a notice from the principal to the callee's secondary. */
struct pop_dial_back {
	uint64_t call_id;
	const char *caller;                /* the caller's secondary (certificate name) */
	enum pop_signalling mode;          /* reversed: dial the caller; spliced: the splice */
	struct ip_endpoint to;             /* where to dial, over its family (reversed: the
					    * caller's endpoint or endpoint6) */
	uint8_t token[POP_TOKEN_LEN];
};
json_t *pop_dial_back_notice_encode(const struct pop_dial_back *n);
int pop_dial_back_notice_decode(const json_t *msg, struct pop_dial_back *out,
				char why[POP_WHY_LEN]);

#endif
