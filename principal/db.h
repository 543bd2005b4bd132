/* The principal's directory: an SQLite database (schema in schema/NNN_*.sql, embedded at
 * build time) of LANs, secondaries, hosts, users, call records and revoked certificates.
 *
 * db_open() creates or upgrades the file (each migration in its own transaction with its
 * PRAGMA user_version bump; a database newer than this program is refused), turns on WAL,
 * foreign keys and a busy timeout, and prepares every statement once. Several processes
 * may use the same file at once: the daemon and any number of operator commands.
 *
 * Every function returns 0 or a negative error (err.h). Writes run in one transaction
 * each; on failure nothing is changed and db_errmsg() holds a sentence for the operator
 * that names the clash ("prefix 10.1.0.0/24 overlaps 10.1.0.0/16 of LAN lan-b").
 * Listings and look-ups return new jansson objects whose fields are what the CLI prints
 * with --json and what the API sends; times are seconds since the epoch. */
#ifndef INSEL_PRINCIPAL_DB_H
#define INSEL_PRINCIPAL_DB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "principal_ops.h"

#define DB_DEFAULT_PATH "/var/lib/insel/principal.db"
#define DB_NAME_MAX 64        /* LAN, secondary, host and user names */
#define DB_MAX_PREFIXES 64    /* per LAN */
#define DB_BUSY_TIMEOUT_MS 5000
#define DB_DEFAULT_DOWN_AFTER_S 30

struct db;
struct uv_loop_s;

/* Opens (creating if needed) and migrates. On failure *out is NULL and err says why. */
int db_open(const char *path, struct db **out, char *err, size_t errlen);
/* Whether what db_open is given names a PostgreSQL database (a libpq URI or a
 * "key=value" connection string) rather than a SQLite file. */
bool db_target_is_dsn(const char *target);
/* Copies every row of the directory src (SQLite) into dst (PostgreSQL) in one transaction
 * of dst, then checks that each table holds as many rows on both sides; any difference
 * undoes it all. dst must hold no row unless replace, which empties it first (in the
 * same transaction). Both are at the newest schema (db_open migrated them). *counts:
 * {"table": rows, ...}. */
int db_copy_to_postgresql(struct db *src, struct db *dst, bool replace, json_t **counts);
/* Whether db was opened on PostgreSQL: path a libpq connection string ("host=... dbname=..."
 * or postgresql://...) rather than a file (docs/directory-engines.md). */
bool db_is_postgresql(const struct db *db);
/* Whether the directory's database is known unreachable at the moment: a PostgreSQL
 * connection lost and not made again yet (never for SQLite). */
bool db_unreachable(const struct db *db);
void db_close(struct db *db);
/* For the daemon: on PostgreSQL, a lost connection made again has the host names of its
 * connection string looked up on loop's thread pool instead of by libpq on the caller's
 * thread (docs/directory-engines.md); nothing on SQLite. The loop outlives db. */
void db_resolve_on_loop(struct db *db, struct uv_loop_s *loop);
/* The sentence explaining the last failure on db. */
const char *db_errmsg(const struct db *db);
/* The schema version of the open database, and the newest this program knows. */
int db_schema_version(struct db *db);
int db_schema_latest(void);
/* A secondary whose last heartbeat is older than this is reported down (default 30s). */
void db_set_down_after(struct db *db, int64_t seconds);
int64_t db_down_after(const struct db *db);
/* Seconds the serving principal itself stalled lately (stall_clock.h): not counted as
 * any secondary's silence, in its marking down and in every state it reports. */
void db_excuse_stalls(struct db *db, int64_t seconds);

/* Bulk loading (imports, the benchmark): between db_batch_begin and db_batch_end every
 * write joins one transaction, so thousands of rows cost one commit. Each write keeps its
 * own all-or-nothing step (a savepoint), so a refused row changes nothing and the batch
 * goes on; db_batch_end commits when rc is 0 and rolls the whole batch back otherwise,
 * returning rc or the commit's failure. */
int db_batch_begin(struct db *db);
int db_batch_end(struct db *db, int rc);

/* The daemon's read window: every query between db_read_hold and db_read_release runs in
 * one read transaction, so a burst of look-ups sees one snapshot and takes the file's
 * locks once instead of once per query. Any write ends the window first (it would
 * otherwise write from an old snapshot), and so does db_close. Hold it only briefly: the
 * daemon holds it for the messages of one event-loop turn. On PostgreSQL there is no
 * window (two round trips to the server per turn saved): each query reads its own
 * snapshot. */
void db_read_hold(struct db *db);
void db_read_release(struct db *db);

/* Names of LANs, secondaries, hosts and users: 1..64 of [a-z0-9._-], starting with a
 * letter or a digit. */
bool db_name_valid(const char *name);

/* A page of a listing: rows [offset, offset + limit) in the listing's order (limit -1:
 * to the end), and how many rows the listing has in all, read in one transaction. The
 * SQL reads only the page's rows (LIMIT, OFFSET), so paging through a large directory
 * does not build the whole listing for every page. */
struct db_page {
	int64_t offset;
	int64_t limit;
};

/* ---- LANs and secondaries ---- */
int db_lan_add(struct db *db, const char *name, const struct ip_prefix *prefixes, size_t n,
	       const char *secondary, int64_t now);
/* Overlapping prefixes (docs/overlap.md): with allow, the LAN's one IPv4 prefix may
 * overlap those of other LANs with a mapped prefix; mapped (or, NULL, the first free
 * prefix of the same length in 10.99.0.0/16, written to *chosen) is the prefix by which
 * other LANs reach its hosts: unique, overlapping no mapped or LAN prefix, no room. */
struct db_lan_overlap {
	bool allow;
	const struct ip_prefix *mapped;
	struct ip_prefix *chosen;  /* may be NULL */
};
int db_lan_add_overlap(struct db *db, const char *name, const struct ip_prefix *prefixes,
		       size_t n, const char *secondary, const struct db_lan_overlap *ov,
		       int64_t now);
/* Gives LAN lan (with one IPv4 prefix) the mapped prefix, or changes it. */
int db_lan_map(struct db *db, const char *lan, const struct ip_prefix *mapped);
/* The LAN's mapped prefix as text, "" when none. */
int db_lan_mapped(struct db *db, const char *lan, char out[IP_STRLEN]);
/* Like db_match_address, preferring LAN prefer's prefix when it holds a; *others (may be
 * NULL) counts the other LANs whose prefixes hold a too. */
int db_match_address_in(struct db *db, const struct ip_addr *a, const char *prefer,
			char *lan, size_t lanlen, char *prefix, size_t prefixlen, int *others);
int db_lan_remove(struct db *db, const char *name);
/* secondary NULL: no secondary serves the LAN any more. */
int db_lan_set_secondary(struct db *db, const char *lan, const char *secondary);
int db_lan_add_prefix(struct db *db, const char *lan, const struct ip_prefix *p);
int db_lan_remove_prefix(struct db *db, const char *lan, const struct ip_prefix *p);
/* [{name, prefixes:[..], secondary, endpoint, state, last_heartbeat, hosts, users,
 *   standbys:[..], active_since?}] (secondary: the active gateway) */
int db_lan_list(struct db *db, int64_t now, json_t **out);
int db_lan_page(struct db *db, int64_t now, const struct db_page *page, json_t **out,
		int64_t *total);
int db_lan_show(struct db *db, const char *name, int64_t now, json_t **out);

/* fingerprint non-NULL pins the secondary to that certificate. */
int db_secondary_add(struct db *db, const char *name, const char *fingerprint, int64_t now);
int db_secondary_remove(struct db *db, const char *name);
/* Makes secondary `name` one of LAN `lan`'s gateways with a priority (docs/standby.md):
 * it may then register for the LAN as its standby, or as its active gateway, which moves
 * the LAN to it. A secondary is a gateway of one LAN at most (setting another moves it). */
#define DB_PRIORITY_MIN 1
#define DB_PRIORITY_MAX 254
#define DB_PRIORITY_DEFAULT 100
int db_secondary_set_gateway(struct db *db, const char *name, const char *lan, int priority);
/* [{name, lans:[..], fingerprint, serial, pinned, endpoint, state, last_heartbeat,
 *   reachable, reachable_source, role:"active"|"standby"|null, priority}] */
int db_secondary_list(struct db *db, int64_t now, json_t **out);
int db_secondary_page(struct db *db, int64_t now, const struct db_page *page, json_t **out,
		      int64_t *total);
int db_secondary_show(struct db *db, const char *name, int64_t now, json_t **out);
/* Revokes the certificate the secondary last registered with and marks it down. */
int db_secondary_revoke(struct db *db, const char *name, const char *reason, int64_t now);
/* Whether secondary `name` serves LAN `lan`. */
bool db_secondary_serves(struct db *db, const char *name, const char *lan);

/* What a secondary states when it registers (API op "register"). */
struct db_registration {
	const char *secondary;    /* name from its certificate */
	const char *fingerprint;  /* of its certificate */
	const char *serial;       /* of its certificate */
	const char *lan;
	const struct ip_prefix *prefixes;
	size_t nprefixes;
	const char *endpoint;     /* canonical "ADDR:PORT" */
	int reachable;            /* as declared: 1 yes, 0 no, -1 auto (to be checked) */
	bool standby;             /* registers as a standby gateway (docs/standby.md) */
};
/* Records a registration against the operator's word: the secondary must be in the
 * directory (`secondary add`), pinned to this certificate if pinned at all (else
 * INSEL_E_CONFLICT), and the LAN must exist and be bound to it (`lan add --secondary`,
 * `lan set-secondary`); every stated prefix must lie inside one of the LAN's prefixes
 * (confirming or narrowing them). Each broken rule is refused with INSEL_E_FORBIDDEN and
 * a sentence naming it: unknown secondary, unknown LAN, LAN served by another secondary,
 * a second LAN for this secondary, an unbound LAN, a prefix outside the LAN's. The
 * directory's LANs and prefixes are never changed by a registration; only the
 * secondary's certificate, endpoint and heartbeat are recorded. The one exception: one of
 * the LAN's gateways (db_secondary_set_gateway) may also register, as a standby (nothing
 * changes) or as active, which makes it the LAN's serving secondary (docs/standby.md). */
int db_register(struct db *db, const struct db_registration *r, int64_t now);
/* The answer of a connect-back check of the secondary's peer endpoint, or of its IPv6
 * one (endpoint6: reachable6; docs/nat.md): kept only if the endpoint is still the one
 * registered and the secondary did not declare its reachability itself. */
int db_set_reachable(struct db *db, const char *secondary, const char *endpoint,
		     bool reachable);
/* The secondary serving LAN lan, as lookup says it (INSEL_E_UNAVAILABLE: none). */
int db_lan_serving(struct db *db, const char *lan, int64_t now, struct pop_serving *out);
/* A secondary's registered peer endpoints and whether each can be dialled: endpoint and
 * reachable, endpoint6 and reachable6 ("" and unknown when it has none); the other
 * fields of out are left empty. */
int db_secondary_reach(struct db *db, const char *secondary, struct pop_serving *out);
/* After db_register: a dual-stack secondary's IPv6 peer endpoint ("[ADDR6]:PORT"), or
 * NULL for one with a single family. */
int db_set_endpoint6(struct db *db, const char *secondary, const char *endpoint6);
/* Records a heartbeat; INSEL_E_NOT_FOUND if the secondary never registered. */
int db_heartbeat(struct db *db, const char *secondary, int64_t now);
/* Marks down every secondary that is up and silent for longer than down_after (and the
 * stalls excused); returns how many, or a negative error. */
int db_mark_down(struct db *db, int64_t now);
/* The same, calling each(ctx, name) for every secondary marked down. */
int db_mark_down_each(struct db *db, int64_t now, void (*each)(void *ctx, const char *name),
		      void *ctx);
/* Each LAN whose active gateway a registration ever moved (docs/standby.md), with that
 * gateway: another principal of the directory may have moved it (serve.c tells its
 * secondaries). 0 or a negative error. */
int db_active_gateways(struct db *db, void (*each)(void *ctx, const char *lan,
						   const char *secondary), void *ctx);

/* ---- hosts ---- */
int db_host_add(struct db *db, const char *name, const char *lan, const struct ip_addr *a,
		int64_t now);
int db_host_remove(struct db *db, const char *name);
/* lan NULL: every LAN. [{name, lan, address}] */
int db_host_list(struct db *db, const char *lan, json_t **out);
int db_host_show(struct db *db, const char *name, json_t **out);

/* ---- users ---- */
int db_user_add(struct db *db, const char *name, const char *lan, const char *hash,
		int64_t now);
int db_user_set_hash(struct db *db, const char *name, const char *lan, const char *hash);
int db_user_remove(struct db *db, const char *name, const char *lan);
/* Copies the stored hash; INSEL_E_NOT_FOUND for an unknown user. */
int db_user_hash(struct db *db, const char *name, const char *lan, char *out, size_t outlen);
/* lan NULL: every LAN. [{name, lan, user:"name@lan", iterations, created_at}] */
int db_user_list(struct db *db, const char *lan, json_t **out);
int db_user_show(struct db *db, const char *name, const char *lan, json_t **out);
/* Splits "name@lan"; INSEL_E_BAD_FIELD if either part is not a valid name. */
int db_split_user(const char *text, char name[DB_NAME_MAX + 1], char lan[DB_NAME_MAX + 1]);

/* ---- call records ---- */
struct db_call_start {
	const char *id;          /* 16 hex digits */
	const char *caller;
	const char *caller_lan;
	const char *callee;
	const char *callee_lan;  /* may be NULL */
	const char *channels;    /* JSON text */
	const char *reported_by; /* secondary name, may be NULL */
	const char *signalling;  /* "direct", "reversed", "spliced", or NULL */
	const char *path;        /* at up: "direct", "relayed", "tcp", or NULL */
	const char *path_remote; /* ADDRESS:PORT, or NULL */
};
/* INSEL_E_EXISTS if a call with that id is already recorded; INSEL_E_FORBIDDEN if the
 * caller is not of caller_lan, or reported_by does not serve caller_lan (a secondary
 * records only its own LAN's side of a call). */
int db_call_start(struct db *db, const struct db_call_start *c, int64_t now);
/* How the data path moved during a call, as its secondary reports at the end. */
struct db_call_path {
	const char *final;       /* "direct", "relayed" or "tcp" */
	const char *remote;      /* ADDRESS:PORT */
	int64_t changes;         /* moves after up */
	const char *history;     /* JSON text: [{at, path, remote}], the latest moves */
};
/* Ends an active call; INSEL_E_NOT_FOUND if unknown, INSEL_E_CONFLICT if already ended.
 * path: NULL when not reported (an operator's end, an older secondary). */
int db_call_end_path(struct db *db, const char *id, int64_t bytes_up, int64_t bytes_down,
		     const char *reason, const struct db_call_path *path, int64_t now);
int db_call_end(struct db *db, const char *id, int64_t bytes_up, int64_t bytes_down,
		const char *reason, int64_t now);
/* [{id, caller, caller_lan, callee, callee_lan, channels, started_at, ended_at, seconds,
 *   bytes_up, bytes_down, end_reason, reported_by, signalling, path, path_remote,
 *   path_final, path_final_remote, path_changes, path_history, path_summary}] newest
 * first, at most limit. path_summary is one line for a listing: the path at up and, if it
 * moved, "-> FINAL" with the number of moves ("direct -> relayed (2 changes)"). */
int db_call_list(struct db *db, bool active_only, int64_t limit, int64_t now, json_t **out);
/* The ended calls only, as db_call_list lists them, newest first, at most limit. */
int db_call_history(struct db *db, int64_t limit, json_t **out);
int db_call_show(struct db *db, const char *id, int64_t now, json_t **out);
/* Name of the secondary that recorded the call's start (copied), for authorisation. */
int db_call_reporter(struct db *db, const char *id, char *out, size_t outlen);

/* ---- revoked certificates ---- */
/* Revokes a serial; the active calls recorded by the secondary holding that certificate
 * end with reason 'revoked' in the same transaction (it can no longer record them). */
int db_revoke(struct db *db, const char *serial, const char *name, const char *reason,
	      int64_t now);
int db_unrevoke(struct db *db, const char *serial);
/* Fails closed: true also when the directory cannot answer. */
bool db_is_revoked(struct db *db, const char *serial);
/* Whether serial is revoked, into *revoked; an error (INSEL_E_DB_DOWN while the
 * directory is unreachable) when the directory cannot answer. */
int db_revoked(struct db *db, const char *serial, bool *revoked);
/* [{serial, name, reason, revoked_at}] */
int db_revoked_list(struct db *db, json_t **out);
int db_revoked_page(struct db *db, const struct db_page *page, json_t **out, int64_t *total);
/* SQLite's PRAGMA data_version: changes whenever another connection (an operator command)
 * committed to the file since the last call, so a daemon can poll for revocations
 * cheaply. */
int db_data_version(struct db *db, int64_t *out);
/* Lowercase hex, 1..40 digits (as pki.h prints serials). */
bool db_serial_valid(const char *serial);

/* ---- look-up ---- */
/* Where is callee? "user@lan", a host name, or an address (longest-prefix match):
 * {kind:"user"|"host"|"address", callee, lan, prefix?, address?, host?, user?,
 *  secondary, endpoint, fingerprint, state:"up"|"down"|"new", last_heartbeat}
 * INSEL_E_NOT_FOUND when nothing matches, INSEL_E_UNAVAILABLE when the LAN has no
 * secondary. */
struct pop_lookup_reply;
int db_lookup_find(struct db *db, const char *callee, int64_t now,
		   struct pop_lookup_reply *out);
/* The same, as the API's reply fields (principal_ops.h encodes them). */
int db_lookup(struct db *db, const char *callee, int64_t now, json_t **out);

/* ---- overlay links (db_links.c, docs/routing.md) ---- */
#define DB_LINK_STALE_S 90      /* a measurement older than this is left out of routes */
#define DB_LINK_EXPIRY_S 3600   /* and one older than this is deleted */
struct pop_link;
/* A secondary's `links` report: each peer that names a secondary in the directory
 * replaces from's measurement of it (others are skipped: *recorded counts those kept);
 * measurements older than DB_LINK_EXPIRY_S are deleted. One transaction. */
int db_links_report(struct db *db, const char *from, const struct pop_link *links, size_t n,
		    int64_t now, size_t *recorded);
/* The operator's weight (NULL: unchanged, 1 for a new link) and penalty (NULL: unchanged,
 * 0 for new) on the link between secondaries a and b, both directions. */
int db_link_set(struct db *db, const char *a, const char *b, const double *weight,
		const int64_t *penalty_ms, int64_t now);
/* Every measurement: [{from, to, kind, rtt_ms, loss_pct, probes, last_seen, measured_at,
 * weight, penalty_ms, cost, state: "fresh"|"stale"}], by from then to. */
int db_link_list(struct db *db, int64_t now, json_t **out);
/* Each pair of gateways with a fresh measurement either way, once, as routes use it:
 * [{a, b, kind, rtt_ms, loss_pct, weight, penalty_ms, cost}] with the worse of the two
 * directions' figures. */
int db_link_pairs(struct db *db, int64_t now, json_t **out);

/* Counts for `status`: {schema_version, lans, secondaries, secondaries_up, hosts, users,
 * active_calls, calls, revoked} */
int db_status(struct db *db, int64_t now, json_t **out);
/* What /metrics shows: LANs (those whose gateway is up), secondaries (up), calls open. */
struct db_counts {
	int64_t lans, lans_up, secondaries, secondaries_up, active_calls;
};
int db_counts(struct db *db, int64_t now, struct db_counts *out);

/* The relays the running daemon knows (db_relays.c): replaced whole by the daemon when
 * they change; listed by `insel-principal relays`. */
struct db_relay_row {
	char secondary[DB_NAME_MAX + 1];   /* "" for the principal's own relay */
	char address[IP_STRLEN], tcp[IP_STRLEN];  /* "" if none */
	bool online;
	int64_t live;                      /* allocations the principal made there, live */
	bool has_stats;                    /* the relay's own counters, when known: */
	int64_t allocations, forwarded, dropped;
};
int db_relays_replace(struct db *db, const struct db_relay_row *rows, size_t n, int64_t now);
int db_relays_list(struct db *db, json_t **out);

#endif
