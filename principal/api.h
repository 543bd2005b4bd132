/* The principal's control API over mutually authenticated TLS: JSON requests framed per
 * msg.h, answered by one handler per message family (api_session.c: hello, register,
 * heartbeat; api_lookup.c: lookup, list, revocations; api_calls.c: call_start, call_end;
 * api_user.c: verify_user; api_renew.c: renew; api_relay.c: relay; api_room.c: room;
 * api_links.c: links).
 * A table in api.c says which certificate role may send each op; the dispatcher all
 * control protocols share (dispatch.h) checks it and that hello comes first, and calls
 * the handler with the api_peer as its ctx. Each handler reads its request and writes its reply with the
 * op's codec in common/control/principal_ops.h (room's: room_ops.h), the one the
 * secondary uses too. The
 * handlers never see the transport: serve.c feeds them messages from TLS connections,
 * tests/fuzz/fuzz_principal_api.c from a fuzzer.
 *
 * Bad input never changes the directory (each write is one transaction) and never ends
 * the daemon; it gets {"id":N,"ok":false,"error":{"code":...,"message":...}}. A frame
 * that could not be read at all is answered with id 0. The operations are documented
 * in docs/principal-api.md. */
#ifndef INSEL_PRINCIPAL_API_H
#define INSEL_PRINCIPAL_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "db.h"
#include "passwd.h"
#include "pki.h"
#include "principal_ops.h"
#include "prom.h"
#include "rpc.h"
#include "wire_errors.h"

#define API_MAX_BAD_FRAMES 32      /* a peer sending more unreadable frames is cut off */
#define API_MAX_VERIFY_PENDING 8   /* password checks in flight per connection */
#define API_GUESS_KEYS 4096        /* users, and sources, whose failures are remembered */

struct api_peer;
struct api_verify;
struct relay_link;

struct api_server {
	struct db *db;
	char name[PKI_NAME_MAX + 1];   /* the principal's own certificate name */
	int64_t heartbeat_ms;          /* interval suggested to secondaries */
	/* Runs a password check off the event loop, then calls api_verify_finish on it;
	 * the fuzzer and tests run both steps inline. */
	void (*run_verify)(struct api_server *s, struct api_verify *v);
	int64_t (*now)(void);          /* seconds since the epoch */
	uint64_t (*clock_ms)(void);    /* monotonic, for back-off (NULL: now() in ms) */
	/* Password guessing (api_auth_init): back-off per user and per source address, and
	 * the hash that an unknown user's password is checked against, at full cost. */
	struct backoff_table *guess_by_user, *guess_by_source;
	char dummy_hash[PASSWD_HASH_STRLEN];
	unsigned hash_iterations;      /* of the dummy hash, and of new room passwords */
	struct pki_issuer *issuer;     /* online issuing key for renewals, or NULL: queued */
	int64_t issue_validity_s;      /* lifetime of certificates issued on renewal */
	uint64_t requests, errors;     /* counters for the log */
	struct relay_link *relay;      /* the principal's relay (relay_link.h), or NULL */
	bool has_stun;                 /* the STUN responder runs: where (register's reply) */
	struct ip_endpoint stun;
	bool has_stun_alternate;       /* and on a second port (same address) */
	struct ip_endpoint stun_alternate;
	/* Signalling across NAT (api_connect.c, docs/nat.md), wired by serve.c; NULL where
	 * there is no transport (the fuzzer, unit tests): */
	/* Dials a registering secondary's peer endpoint back; the answer goes to the
	 * directory (db_set_reachable). */
	void (*check_reachable)(struct api_server *s, const char *secondary,
				const char *endpoint);
	/* Sends n to the named secondary over its link (for a splice, n->to is filled from
	 * that link first); INSEL_E_UNAVAILABLE if it has none. */
	int (*dial_back)(struct api_server *s, const char *secondary, struct pop_dial_back *n);
	/* Leaves msg (not taken) for a secondary whose link another principal of the
	 * directory holds (mailbox.h, docs/principals.md); done(ctx, err) once, within
	 * ttl_ms: 0 delivered, INSEL_E_UNAVAILABLE nobody held its link. 0 or an error
	 * (done not called). NULL: only this principal's links count. */
	int (*post)(struct api_server *s, const char *secondary, const json_t *msg,
		    uint32_t ttl_ms, void (*done)(void *ctx, int err), void *ctx);
	/* Tells every connected secondary that LAN lan's active gateway is now secondary
	 * (a standby took over, docs/standby.md). */
	void (*gateway_moved)(struct api_server *s, const char *lan, const char *secondary);
	struct splice_server *splice;  /* NULL: splicing off */
	/* Relays run by secondaries (relay_choice.h, docs/relay.md section 8): the ones
	 * announced, or NULL where none are kept; and the request to a secondary's link
	 * that drives its relay (serve.c; NULL without a transport). 0, or
	 * INSEL_E_UNAVAILABLE (req freed) when that secondary has no link. */
	struct relay_choice *relays;
	uint64_t relay_rate;           /* [relay] rate, given to designated relays too */
	int (*secondary_request)(struct api_server *s, const char *secondary, json_t *req,
				 uint32_t timeout_ms, rpc_reply_cb cb, void *ctx);
	uint64_t connects;             /* connect requests answered */
	/* For /metrics (principal/metrics.c): refusals by wire code, each request's time on
	 * the loop (a password check's or a relay's wait not included), look-ups and their
	 * time, and password checks that found a wrong password. */
	uint64_t errors_by_code[WERR_COUNT];
	struct prom_histogram request_seconds, lookup_seconds;
	uint64_t lookups, lookups_failed, logins_failed;
	/* Live calls' byte counters and rates (call_rates.h), for the web view; NULL: the
	 * reports are answered and dropped. */
	struct call_rates *rates;
	/* The event log (serve.c; NULL in tests and the fuzzer): see api_event. */
	void (*event)(struct api_server *s, const char *kind, json_t *fields);
};

/* Sets the histograms' buckets (the counters start at zero with the server). */
void api_metrics_init(struct api_server *s);
/* Hands an event (events.h: kind and an object of fields, whose reference it takes) to
 * s->event, the daemon's event log; without one it is dropped. */
void api_event(struct api_server *s, const char *kind, json_t *fields);

/* Sets up the guessing defences: the back-off tables, and a dummy hash with the given
 * iteration count (what new hashes get) of a random password. 0 or a negative error. */
int api_auth_init(struct api_server *s, unsigned iterations);
void api_auth_free(struct api_server *s);

struct api_peer {
	struct api_server *srv;
	struct pki_identity id;  /* from the peer's certificate */
	bool has_local;
	struct ip_endpoint local;  /* where the peer reached us (a relay's, a splice's
				    * address) */
	bool hello_done;
	unsigned bad_frames;
	unsigned verify_pending;
	unsigned relay_pending;  /* relay requests waiting for a secondary's relay */
	unsigned mail_pending;   /* connect requests waiting for another principal */
	bool gone;               /* the transport closed; freed once verify_pending is 0 */
	/* When a heartbeat came that the directory could not record (unreachable): the
	 * sweep records it once the directory is back, before marking anyone down. */
	int64_t heartbeat_unrecorded;
	/* Sends msg (taking the reference) and closes the transport. */
	void (*send)(struct api_peer *p, json_t *msg);
	void (*close)(struct api_peer *p, int reason);
	void (*release)(struct api_peer *p);  /* frees p once gone and idle */
	void *transport;
};

/* Whether nothing of p's is in flight any more: once gone, it may be freed. */
static inline bool api_peer_idle(const struct api_peer *p)
{
	return p->verify_pending == 0 && p->relay_pending == 0 && p->mail_pending == 0;
}

/* One message from the peer: msg NULL with err for a frame that could not be read. */
void api_handle(struct api_peer *p, json_t *msg, int err);

/* Replies, used by the handlers. */
void api_reply_ok(struct api_peer *p, json_int_t id, json_t *fields);
void api_reply_error(struct api_peer *p, json_int_t id, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A directory failure: the code of err and the directory's sentence. */
void api_reply_db_error(struct api_peer *p, json_int_t id, int err);
/* A request the op's decoder (principal_ops.h) refused: its code and sentence. */
void api_reply_decode_error(struct api_peer *p, json_int_t id, int err, const char *why);

/* The handlers, one family per file (dispatch_handler: ctx is the struct api_peer). */
void hello_handle(void *ctx, json_int_t id, const json_t *msg);
void register_handle(void *ctx, json_int_t id, const json_t *msg);
void heartbeat_handle(void *ctx, json_int_t id, const json_t *msg);
void lookup_handle(void *ctx, json_int_t id, const json_t *msg);
void list_handle(void *ctx, json_int_t id, const json_t *msg);
void revocations_handle(void *ctx, json_int_t id, const json_t *msg);
void call_start_handle(void *ctx, json_int_t id, const json_t *msg);
void call_end_handle(void *ctx, json_int_t id, const json_t *msg);
void call_event_handle(void *ctx, json_int_t id, const json_t *msg);
void verify_user_handle(void *ctx, json_int_t id, const json_t *msg);
void renew_handle(void *ctx, json_int_t id, const json_t *msg);
void relay_handle(void *ctx, json_int_t id, const json_t *msg);
void relay_expired_handle(void *ctx, json_int_t id, const json_t *msg);
/* A call ended (api_calls.c): its relay allocation, wherever it is, is freed now. */
void relay_call_ended(struct api_server *s, const char *call_id);
/* About once a second (serve.c): records the relays known, for `insel-principal relays`,
 * and asks each for its counters. */
void relay_poll(struct api_server *s);
void connect_handle(void *ctx, json_int_t id, const json_t *msg);
void room_handle(void *ctx, json_int_t id, const json_t *msg);
/* A reply with an explicit wire code (one no INSEL_E_* value maps to). */
void api_reply_wire(struct api_peer *p, json_int_t id, enum wire_error code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void links_handle(void *ctx, json_int_t id, const json_t *msg);
void call_rates_handle(void *ctx, json_int_t id, const json_t *msg);

/* Renewal and registration (api_renew.c): a registration made with the certificate a
 * secondary is being renewed from confirms the new one (the fingerprint and serial in *r
 * are swapped for the current ones, stored in the caller's buffers); one made with the
 * current certificate ends the switch and records its expiry. */
struct db_registration;
bool renew_registration_identity(struct api_peer *p, struct db_registration *r,
				 char *fingerprint, char *serial);
void renew_registered(struct api_peer *p, bool with_previous);

/* A password check in flight (api_user.c). */
struct api_verify {
	struct api_peer *peer;
	json_int_t id;
	char user[2 * DB_NAME_MAX + 2];  /* name@lan */
	char lan[DB_NAME_MAX + 1];
	char password[PASSWD_MAX_LEN + 1];
	char hash[PASSWD_HASH_STRLEN];   /* the user's, or the dummy hash */
	bool known;                      /* the user exists */
	char source_key[BACKOFF_KEY_MAX + 1];  /* back-off keys, released when done */
	int result;
	void *work;                      /* the runner's (a uv_work_t) */
	/* Other slow password work on the same runner (api_room.c): when set, these run
	 * instead of the user check; finish replies, wipes and frees. */
	void (*compute)(struct api_verify *v);
	void (*finish)(struct api_verify *v);
};
/* The slow part, safe on a worker thread: touches only v. */
void api_verify_compute(struct api_verify *v);
/* Back on the loop: replies (unless the peer is gone), wipes and frees v. */
void api_verify_finish(struct api_verify *v);

#endif
