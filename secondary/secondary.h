/* Private to insel-secondary: the daemon's state and the entry points of its parts.
 *
 *   config.c          the configuration file
 *   principal_link.c  registration, heartbeats and requests to the principal
 *   client_api.c      LAN clients (TLS and a unix socket): login, call, listen, hang up
 *   peer_api.c        other secondaries (mutual TLS): call requests and hang-ups
 *   call_state.c      the call's states, legal transitions and what each event means
 *   call.c            the call's life: ties clients, peers and auxiliaries, does events
 *   supervise.c       spawning, talking to and reaping one auxiliary per call
 *   uid_pool.c        the per-call uids auxiliaries drop to
 *   sandbox.c         the daemon's syscall allowlist
 *   rules.c           removing host calls' routing rules once their auxiliaries are gone
 *   trunk.c           site-to-site trunks: network calls kept up between two LANs
 *   call_rekey.c      ephemeral key exchanges that renew each call's keys
 *   keyholder_proc.c  the key holder process, which alone holds the private key, and
 *   keyholder_serve.c   its answers to signature and renewal requests
 *   renew.c           certificate renewal through the principal, expiry warnings
 *   relay_serve.c     the relay this gateway runs for others' calls ([relay] listen)
 *   timeouts.h        every time-out above, with how they relate
 */
#ifndef INSEL_SECONDARY_H
#define INSEL_SECONDARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "addr.h"
#include "aux_bind.h"
#include "aux_report.h"
#include "aux_start.h"
#include "call_state.h"
#include "chanparams.h"
#include "client_call.h"
#include "config.h"
#include "keyholder.h"
#include "negotiate.h"
#include "pki.h"
#include "principal_ops.h"
#include "rand.h"
#include "room_ops.h"
#include "rpc.h"
#include "tls.h"

#define SECONDARY_MAX_PREFIXES 16
#define SECONDARY_MAX_TRUNKS 32
#define SECONDARY_MAX_PRINCIPALS 8  /* [principal] address: the directory's principals */

/* "[trunk NAME]": a network call to another LAN that this gateway keeps up. */
struct trunk_config {
	const char *name;                 /* the section, "trunk NAME" */
	const char *peer_lan;
	struct ip_prefix local[SECONDARY_MAX_PREFIXES];   /* default: the LAN's prefixes */
	size_t nlocal;
	struct ip_prefix remote[SECONDARY_MAX_PREFIXES];  /* 0: the peer LAN's, from the
							   * directory */
	size_t nremote;
	/* remote_map: the peer LAN's IPv4 prefix of this length is seen here as this one
	 * (docs/overlap.md: the peer LAN's prefix overlaps ours). */
	bool has_remote_map;
	struct ip_prefix remote_map;
};
#define CALL_PARTY_MAX 160  /* "user@lan", a host name or an address */

/* [standby]: a LAN with two gateways sharing lan_address (docs/standby.md). */
struct standby_config {
	bool enabled;
	uint8_t priority;                 /* 1..254, the higher takes the address */
	struct ip_endpoint own, peer;     /* our own LAN address and the partner's, port */
	unsigned prefix_len;              /* of the LAN prefix holding lan_address */
	uint64_t interval_ms, dead_after_ms;
};

struct secondary_config {
	struct cfg file;
	const char *name;                 /* this secondary, as named in its certificate */
	const char *lan;                  /* the LAN it serves, as named in the directory */
	struct ip_prefix prefixes[SECONDARY_MAX_PREFIXES];
	size_t nprefixes;
	struct ip_addr lan_address;       /* the gateway's address on the LAN */
	struct ip_addr lan_address6;      /* optional: its IPv6 address there (network
					   * calls carrying IPv6: routes, ICMPv6 errors) */
	bool has_lan_address6;
	struct ip_endpoint principals[SECONDARY_MAX_PRINCIPALS];  /* most preferred first */
	size_t nprincipals;
	const char *principal_name;        /* the name in the principal's certificate */
	const char *principal_fingerprint; /* NULL, or the SHA-256 its certificate must have */
	uint64_t heartbeat_ms;
	const char *ca, *cert, *key;
	struct ip_endpoint peer_listen;   /* where other secondaries reach us */
	struct ip_endpoint peer_public;   /* what we register (defaults to peer_listen) */
	enum pop_reach peer_reachable;    /* [peers] reachable: auto (UNKNOWN: the principal
					   * checks), yes, no (behind NAT: never dialled) */
	struct ip_addr wan_address;       /* where auxiliaries bind their encrypted side */
	struct ip_addr wan_address6;      /* a dual-stack wan: its IPv6 address too */
	bool has_wan_address6;
	struct ip_endpoint peer_public6;  /* a dual-stack wan: the IPv6 peer endpoint */
	bool has_peer_public6;            /* registered beside peer_public */
	bool peer_public6_derived;        /* not configured: wan_address6 at the listener's
					   * port (config.c, derive_public6) */
	bool has_client_listen;
	struct ip_endpoint client_listen; /* TLS for LAN clients */
	const char *client_socket;        /* unix socket for local clients */
	bool has_operator_gid;            /* operator_group: its members' unix-socket */
	gid_t operator_gid;               /* clients (and root's) see every call */
	const char *aux_program;
	const char *aux_user;             /* a user all auxiliaries share, instead of
					   * aux_uid_first..last (one uid per call) */
	bool aux_keep_identity;           /* user = "-": unprivileged test runs only */
	uint32_t aux_uid_first, aux_uid_last;
	const char *seccomp;              /* the daemon's allowlist: "on", "off", "log" */
	long long max_calls;
	uint64_t idle_timeout_ms;
	uint64_t ring_timeout_ms;
	uint64_t keepalive_ms;
	uint64_t dead_after_ms;
	uint64_t failover_after_ms;  /* [limits] failover_after: the auxiliaries' (start) */
	const char *ciphers;              /* our preference, comma-separated */
	enum sec_compress compression;    /* offered first and accepted; none by default */
	unsigned path_mtu;                /* between the gateways; sizes network calls */
	uint64_t rekey_interval_ms;       /* ephemeral key exchange within each call */
	struct tls_server_limits peer_limits;    /* caps and handshake deadline */
	unsigned peer_idle_ms;            /* an incoming peer connection with no call */
	struct tls_server_limits client_limits;  /* the same, and the login deadline */
	struct trunk_config trunks[SECONDARY_MAX_TRUNKS];
	size_t ntrunks;
	/* [metrics] (docs/metrics.md): /metrics on metrics_listen when set; HTTPS with
	 * metrics_cert and metrics_key; plain HTTP off loopback only if metrics_plain_remote */
	const char *metrics_listen, *metrics_cert, *metrics_key;
	bool metrics_plain_remote;
	/* [nat] stun: the STUN servers each call's auxiliary asks at bind (docs/nat.md). */
	bool stun_principal;              /* the principal's, as its register reply names it */
	struct ip_endpoint stun[AUX_STUN_MAX];  /* and these, in order */
	size_t nstun;
	uint64_t stun_timeout_ms;         /* how long bind may wait for their answers */
	unsigned prime_ttl;               /* [nat] prime_ttl: priming probes' TTL, 0 off */
	/* [relay]: an insel-relay run for other sites' calls (relay_serve.c). */
	bool relay;
	struct ip_endpoint relay_listen;
	bool relay_has_public;
	struct ip_endpoint relay_public;
	const char *relay_program, *relay_user;
	uint64_t relay_rate, relay_expiry_ms;
	uint32_t relay_max_allocations;
	struct standby_config standby;
};

int secondary_config_load(struct secondary_config *c, const char *path);
void secondary_config_free(struct secondary_config *c);

struct tls_creds;
struct tls_conn;
struct tls_server;
struct msg_stream;
struct secondary;
struct call;

/* ---- the link to the principal ---- */

enum principal_link_state {
	LINK_DOWN,         /* waiting to (re)connect */
	LINK_CONNECTING,   /* TCP/TLS handshake under way */
	LINK_REGISTERING,  /* hello and register sent */
	LINK_UP,           /* registered; heartbeating */
};

struct principal_link {
	struct secondary *owner;
	struct tls_conn *conn;
	struct rpc rpc;
	enum principal_link_state state;
	uv_timer_t retry;
	uv_timer_t heartbeat;
	uint64_t backoff_ms;
	unsigned failures;
	/* Records (call_start, call_end) in order: [seq, request] pairs waiting for a
	 * link, and the count given to each; one sent stays the sender's until the
	 * principal answers it, and comes back here if the link dies first. */
	json_t *outbox;
	uint64_t record_seq;
	/* The principals ([principal] address, most preferred first): the one this link
	 * uses or tries, how many of the list this round has tried, and a probe of a more
	 * preferred one while a later one serves us (failing back). */
	size_t current;
	size_t tried;
	bool move_pending;       /* the link closes to move to move_to */
	size_t move_to;
	uv_timer_t probe;
	struct tls_conn *probe_conn;
	size_t probe_target, probe_next;
	/* Failing back that did not hold (a principal that answers the handshake but
	 * refuses or drops the link): such moves back wait longer and longer. */
	bool failback;           /* the link was moved back and has not proved itself yet */
	uint64_t up_since_ms;    /* registered at (uv_now), 0 while not */
	unsigned failback_failures;
	uint64_t probe_hold_until_ms;
	json_t *revoked; /* serials the principal revoked, as object keys */
	json_t *revoked_next;   /* the list being fetched page by page, or NULL */
	size_t revoked_count;   /* for the log: the size last reported */
	unsigned heartbeats;
	bool has_stun;           /* the principal answers STUN there (its register reply) */
	struct ip_endpoint stun;
	bool has_stun_alternate; /* and on a second port: the NAT's mapping behaviour */
	struct ip_endpoint stun_alternate;
	unsigned generation;     /* counts connections: a late answer to the previous one's
				  * request is not sent on the next */
	bool reregister;               /* our role changed while registering */
};

void principal_link_start(struct principal_link *l, struct secondary *s);
void principal_link_stop(struct principal_link *l);
bool principal_link_up(const struct principal_link *l);
/* A request to the principal; INSEL_E_UNAVAILABLE at once if the link is not up. */
int principal_request(struct secondary *s, json_t *req, rpc_reply_cb cb, void *ctx);

/* links.c: the round trip and loss to the gateways we have calls with, as the
 * auxiliaries measure them, reported to the principal (docs/routing.md). */
struct link_table;
struct aux_measure_notice;
void links_start(struct secondary *s);
void links_stop(struct secondary *s);
void links_measured(struct secondary *s, const char *peer, const struct aux_measure_notice *m);

/* call_rates.c: the byte counters of our live calls, reported to the principal every
 * CALL_RATES_REPORT_MS for the rates of its web view (docs/principal-api.md). */
void call_rates_start(struct secondary *s);
void call_rates_stop(struct secondary *s);

/* call_relay.c: the call's relay allocation (docs/relay.md). ask: the caller's side, as
 * the call is placed; offer: adds our relay candidate to the offer's side; take_peer:
 * the callee's side finds it among the offer's candidates; start: the "relay" of our
 * auxiliary's start request; forget: wipes it when the call goes. */
struct negotiate_side;
struct aux_start_request;
void call_relay_ask(struct call *call);
/* Caller side, once its auxiliary has bound: sends the offer now, or when the relay's
 * answer comes (at most RELAY_WAIT_MS later) if it is still out. */
void call_relay_then_offer(struct call *call);
void call_relay_offer(const struct call *call, struct negotiate_side *side);
void call_relay_take_peer(struct call *call, const struct negotiate_side *peer);
void call_relay_start(const struct call *call, struct aux_start_request *req);
void call_relay_forget(struct call *call);
/* relay_serve.c: the relay this gateway runs ([relay] listen; docs/relay.md, section 8).
 * fork: binds its socket and forks its keeper, before the loop and the sandbox exist;
 * start/stop: its control socket on the loop; announce: what register says of it (false
 * without one); handle: the principal's relay_* requests (true if msg was one). */
struct pop_register_req;
int secondary_relay_fork(struct secondary *s);
int secondary_relay_start(struct secondary *s);
void secondary_relay_stop(struct secondary *s);
bool secondary_relay_announce(const struct secondary *s, struct pop_register_req *r);
bool secondary_relay_handle(struct secondary *s, const json_t *msg);
/* A reply to a request the principal sent on the link as it was at generation (dropped if
 * the link has been re-made since). */
void principal_reply(struct secondary *s, unsigned generation, json_t *reply);
/* A record (call start/end) for the principal: sent now, or kept (up to a bound) and
 * sent once the link is back, so that a principal restart loses no call record. */
void principal_record(struct secondary *s, json_t *req);

/* ---- LAN clients ---- */

struct client_conn {
	struct secondary *sec;
	struct client_conn *prev, *next;
	struct msg_stream *stream;  /* local unix socket, or */
	struct tls_conn *tls;       /* TLS from the LAN */
	struct rpc rpc;             /* requests we send it: incoming, call_up, call_ended */
	struct ip_addr addr;        /* where it connects from (the gateway itself for unix) */
	bool hello_done;            /* it said hello (as a client): other requests may follow */
	bool operator;              /* unix socket, peer root or in operator_group: sees
				     * and may hang up every call */
	char user[PKI_NAME_MAX + 1];  /* "" until logged in */
	bool login_pending;
	void *login_wait;           /* the pending login's state, while login_pending */
	bool listening;
	bool accept_tun;            /* listening with --tun: network calls welcome */
	struct call *ringing;       /* the call it is being asked to answer */
	void *calls_wait;           /* a "calls" request gathering auxiliaries' counters */
	void *room_wait;            /* a "room" request waiting on the principal */
};

int client_api_start(struct secondary *s);
/* The op room (client_room.c): passed on to the principal; and a client gone. */
void client_room_handle(void *ctx, json_int_t id, const json_t *req);
void client_room_gone(struct client_conn *c);
void client_api_stop(struct secondary *s);
int client_send(struct client_conn *c, json_t *msg);
/* A listening client for a callee: by user name, or else by host address. */
struct client_conn *client_find_listener(struct secondary *s, const char *user,
					 const struct ip_addr *addr);

/* ---- peer secondaries ---- */

struct peer_conn {
	struct secondary *sec;
	struct tls_conn *tls;
	struct rpc rpc;
	struct call *call;          /* one connection per call */
	bool outgoing;
	bool ready;
	bool hello_done;            /* incoming: the peer said hello */
	char expected_fingerprint[PKI_FINGERPRINT_LEN + 1];  /* outgoing: from the directory */
	/* The peer's certificate, once the handshake is done: a revocation of that serial
	 * ends the call (principal_link.c). */
	char name[PKI_NAME_MAX + 1];
	char serial[PKI_SERIAL_MAX + 1];
	char expected_previous[PKI_FINGERPRINT_LEN + 1];     /* and its certificate before a
							      * renewal, if switching */
	/* How the connection was made (docs/nat.md): 0 or DIRECT, the usual dial; REVERSED
	 * or SPLICED after a preamble (dialled back, or through the principal's splice). */
	enum pop_signalling signalling;
	bool dialled_back;          /* incoming end that we dialled (counted apart) */
};

int peer_api_start(struct secondary *s);
void peer_api_stop(struct secondary *s);
int peer_send(struct peer_conn *p, json_t *msg);
/* Connects to a peer secondary for an outgoing call; ready/failure go to call.c. */
int peer_connect(struct secondary *s, struct call *call, const struct ip_endpoint *to,
		 const char *name, const char *fingerprint, struct peer_conn **out);
void peer_close(struct peer_conn *p);
/* An outgoing connection also accepts the certificate the directory names as the peer
 * secondary's previous one (it is switching to a renewed certificate). */
void peer_also_accept(struct peer_conn *p, const char *previous_fingerprint);
/* Signalling across NAT: the caller's end of a spliced connection (dials the splice,
 * then is the TLS client checking the callee's name, as peer_connect). */
int peer_connect_spliced(struct secondary *s, struct call *call, const struct ip_endpoint *to,
			 const uint8_t token[POP_TOKEN_LEN], const char *name,
			 const char *fingerprint, struct peer_conn **out);
/* The callee's end, on the principal's dial_back notice: dials the caller's secondary (or
 * the splice), sends the preamble, and serves the peer protocol there as if the caller
 * had dialled us (TLS server). */
int peer_dial_back(struct secondary *s, const struct pop_dial_back *n);

/* ---- auxiliaries ---- */

struct aux {
	struct secondary *sec;
	struct call *call;
	uv_process_t process;
	struct msg_stream *control;
	struct rpc rpc;
	bool exited;
	int64_t exit_status;
	int term_signal;
	bool source_routed;    /* a host call's: its rules are ours to remove at exit */
	uint32_t rule_table;   /* their table, from the bind reply (0: never heard) */
};

typedef void (*aux_bound_cb)(struct call *call, const json_t *reply, int err);
/* Spawns an auxiliary and asks it to bind the call's sockets (with the uid it is to
 * become added to the request). */
int aux_spawn(struct secondary *s, struct call *call, const struct aux_bind_request *bind,
	      aux_bound_cb cb, struct aux **out);
int aux_request(struct aux *a, json_t *req, uint32_t timeout_ms, rpc_reply_cb cb, void *ctx);
/* Asks the auxiliary to hang up (it exits after replying) and forgets it; the process
 * is reaped in the background. */
void aux_release(struct aux *a);
/* Reads at once what the auxiliary has already written and handles it (its "ended"
 * notice ends the call), ahead of an event the loop would otherwise run first. */
void aux_read_pending(struct aux *a);
/* A room's one auxiliary (docs/rooms.md): the process (its handle has no call and no
 * control stream; NULL if it cannot start), whether it still takes legs, and a leg
 * handed to it: its own control socket and WAN socket, then hello and bind as for
 * aux_spawn; the leg's aux exits when its control socket ends. aux_release on the room's
 * handle closes its fd 3: every leg ends, and the process with them. */
struct aux *aux_room_spawn(struct secondary *s, const char *room);
bool aux_room_alive(const struct aux *room);
int aux_attach(struct secondary *s, struct aux *room, struct call *call,
	       const struct aux_bind_request *bind, aux_bound_cb cb, struct aux **out);

/* ---- routing rules of host-to-host network calls (rules.c) ---- */

/* Removes the rules of table (0: the bind reply never came, so every rule of insel whose
 * interface is gone), once the call's auxiliary has exited; then the copies of the
 * main-table rule for the gateway's own packets that no call needs any more. */
void rules_release(uint32_t table);
/* At start-up, before any call: removes every rule of insel an earlier run left. */
void rules_sweep_leftovers(void);

/* ---- negotiation (negotiation.c): cipher, channels, endpoints and per-call keys ---- */

/* Caller side: our offer (ciphers, our auxiliary's endpoint, nonce, session ids). */
json_t *negotiation_offer(struct call *call);
/* Callee side: answer the caller's offer and derive the channels' parameters. */
int negotiation_answer(struct call *call, const json_t *offer, json_t **answer,
		       struct sec_channel_params *params, char *why, size_t whylen);
/* Caller side: read the answer and derive the channels' parameters. */
int negotiation_finish(struct call *call, const json_t *answer,
		       struct sec_channel_params *params, char *why, size_t whylen);

/* ---- calls ---- */

struct call_channel {
	bool tun;                   /* a network call's only channel: a TUN interface */
	uint16_t port;              /* the port the caller asked for */
	uint16_t lan_port;          /* where the local auxiliary listens on the LAN */
	struct ip_endpoint deliver; /* where peer traffic goes until a LAN app speaks */
	enum negotiate_mode mode;   /* a reliable channel (docs/reliable.md), or datagram */
	uint8_t token[AUX_STREAM_TOKEN_LEN];  /* reliable: what the party attaches with */
};

struct call {
	struct secondary *sec;
	struct call *prev, *next;
	uint64_t id;
	char id_hex[ID_STRLEN];
	bool outgoing;
	enum call_state state;             /* changed only by call_set_state */
	char caller[CALL_PARTY_MAX];       /* user@lan */
	char callee[CALL_PARTY_MAX];       /* as the caller named it */
	char callee_user[CALL_PARTY_MAX];  /* resolved user name on the callee's LAN, if any */
	char callee_lan[PKI_NAME_MAX + 1];  /* the callee's LAN, from the directory */
	struct ip_addr caller_addr, callee_addr;
	bool has_callee_addr;
	/* Our side's party: the caller's host (caller side) or the host of the listening
	 * client that answered (callee side). Its UDP channels hear only that address, and
	 * only that user (or the operator) may list or hang up the call. */
	struct ip_addr party_addr;
	char party_user[PKI_NAME_MAX + 1];  /* "" for a trunk */
	struct call_channel channels[SEC_MAX_CHANNELS];
	size_t nchannels;
	enum sec_cipher cipher;
	enum sec_compress compress;
	bool probe_space;              /* negotiated: probes in a counter space of their own */
	struct client_conn *client;    /* the local party's connection, while it lasts */
	json_int_t client_request;     /* caller side: the pending "call" request's id */
	struct peer_conn *peer;
	json_int_t peer_request;       /* callee side: the pending "call_request" id */
	json_t *offer;                 /* callee: the caller's offer, then our answer */
	struct negotiate_offer sent_offer;  /* caller: what we proposed */
	struct aux *aux;
	void (*relay_started)(struct call *call);  /* run once the auxiliary relays */
	uint16_t wan_port;
	/* Where our auxiliary may be reached (its bind reply: host, srflx; none when no
	 * STUN server was asked) and the NAT mapping it saw; the peer's, from the offer or
	 * answer, for "start". */
	struct candidate cand[CAND_MAX];
	size_t ncand;
	bool has_nat;
	enum nat_mapping nat_mapping;
	struct candidate peer_cand[CAND_MAX];
	size_t npeer_cand;
	/* The call's relay allocation (call_relay.c): asked for by the caller's side
	 * (relay_ours), or taken from the offer by the callee's; the leg is 0 for the
	 * caller's auxiliary, 1 for the callee's. */
	bool has_relay, relay_ours;
	bool relay_asked;              /* caller: the principal's answer is still out */
	bool offer_waits_relay;        /* caller: bound, the offer held for that answer */
	struct candidate relay;
	unsigned relay_leg;
	uint16_t wan_port6;            /* a dual-stack wan: the IPv6 socket's; else 0 */
	uv_timer_t timer;              /* armed only while the caller waits for the callee
					* to dial back (REVERSAL_WAIT_MS), while its offer
					* waits for the relay (RELAY_WAIT_MS) and while
					* connecting (PATH_CONNECT_TIMEOUT_MS); other set-up
					* steps time out as requests, timeouts.h. Closing it
					* frees the call once libuv is done with this turn */
	/* The data path, as the auxiliary's last "path" notice told it. */
	bool has_path;
	bool path_relayed;
	bool path_tcp;               /* through the relay's TCP fallback */
	char path_remote[IP_STRLEN];
	char path_reason[AUX_PATH_REASON_MAX + 1];
	/* How the path moved since it first came up (the final path, the number of
	 * moves and the latest of them), for the call's end record. */
	struct pop_path_summary path_moves;
	time_t started, answered;
	uint64_t created_ms;           /* loop time at call_new: the set-up's duration */
	json_t *last_stats;            /* the auxiliary's latest stats, for /metrics */
	uint64_t stats_at_ms;          /* loop time they came */
	bool metrics_asking;           /* a stats request of metrics.c is out */
	/* What call_rates.c last told the principal of the counters, and when. */
	uint64_t rates_up, rates_down, rates_at_ms;
	uint64_t bytes_in, bytes_out;
	bool recorded;                 /* the principal has a start record */
	bool told_placed;              /* the principal has its call_placed event */
	/* Network calls (one tun channel): what may cross, where the interface is. */
	bool tun;
	struct trunk *trunk;           /* the site-to-site trunk it carries, or NULL */
	struct room_leg *room_leg;     /* or the room's leg (then trunk is NULL) */
	char room[ROOM_NAME_MAX + 1];  /* the room of that leg, kept once the leg lets go (its
				       * final stats count under it in /metrics); "" if none */
	char room_site[PKI_NAME_MAX + 1];  /* and the leg's other site (its LAN) */
	struct ip_prefix tun_local[SECONDARY_MAX_PREFIXES], tun_remote[SECONDARY_MAX_PREFIXES];
	size_t ntun_local, ntun_remote;
	/* The peer LAN overlaps ours (docs/overlap.md): its real prefix, and the mapped one
	 * our LAN sees it through (the directory's, or a trunk's remote_map). */
	bool has_tun_map;
	struct ip_prefix tun_map_real, tun_map_as;
	struct ip_addr remote_gateway;  /* the peer gateway's LAN address */
	bool has_remote_gateway;
	struct ip_addr remote_gateway6; /* and its IPv6 one, if it has one */
	bool has_remote_gateway6;
	char tun_ifname[16];
	unsigned tun_mtu;
	struct ip_endpoint peer_endpoint;  /* caller: the peer secondary, from the
					    * directory */
	char peer_name[PKI_NAME_MAX + 1];
	char peer_fingerprint[PKI_FINGERPRINT_LEN + 1];
	char peer_previous[PKI_FINGERPRINT_LEN + 1];  /* the directory's previous_fingerprint
						       * of that secondary (renewing), or "" */
	struct call_rekey *rekey;      /* key exchanges within the call (call_rekey.c) */
	/* Caller of a network call: the callee LAN's prefixes in the directory, which must
	 * hold the gateway address(es) the callee's secondary answers with. */
	struct ip_prefix peer_prefixes[SECONDARY_MAX_PREFIXES];
	size_t npeer_prefixes;
	/* Signalling across NAT (docs/nat.md): how the peer connection was made, whether the
	 * directory says the callee's gateway can be dialled, and, while the caller waits
	 * for the callee to dial back, the token its preamble must carry. */
	enum pop_signalling signalling;
	enum pop_reach peer_reachable;
	bool awaiting_reversal;
	bool asked_splice;
	uint8_t reverse_token[POP_TOKEN_LEN];
};

/* Caller side: a logged-in client asks for a call. The reply goes to the client when the
 * call is up or has failed. */
void call_place(struct secondary *s, struct client_conn *c, json_int_t request_id,
		const struct client_call_request *r);
/* Caller side, signalling across NAT (call_out.c): the direct dial failed before TLS
 * (status, message); true if the call goes on by asking the principal to connect us. */
bool call_dial_failed(struct call *call, int status, const char *message);
/* A reversed connection arrived at our peer listener with this call's id and token. */
struct call *call_awaiting_reversal(struct secondary *s, uint64_t id,
				    const uint8_t token[POP_TOKEN_LEN]);
/* Callee side: a peer secondary's call_request. */
void call_incoming(struct secondary *s, struct peer_conn *p, const json_t *request);
/* Ends a call from any state and any side; reason is a stable word (hangup, rejected,
 * idle, peer_dead, peer_lost, aux_failed, ...). */
void call_end(struct call *call, const char *reason, const char *message);
struct call *call_find(struct secondary *s, const char *id_hex);
/* The call object that clients see (client_call.h), as a struct and as JSON. */
void call_describe(const struct call *call, struct client_call *out);
json_t *call_to_json(const struct call *call);
/* What happens to a call from its connections and its auxiliary reaches it through
 * call_event (call_state.h). */
size_t call_count(const struct secondary *s);
/* A trunk's call (caller side): looks the peer LAN up in the directory, dials it. */
int call_place_trunk(struct secondary *s, struct trunk *t);
/* MTU of a network call's interface: path MTU minus IP, UDP and frame overhead. */
unsigned call_tun_mtu(const struct secondary *s);

/* ---- key exchanges within calls (call_rekey.c) ---- */

struct call_rekey;
/* After negotiation: the call's chain key of epoch 0, exported from the peer TLS
 * session like its keys (common/data/rekey.h). */
int call_rekey_prepare(struct call *call, const uint8_t chain0[32]);
/* The call is up: exchanges start on the configured interval. */
void call_rekey_start(struct call *call);
/* The call ends: its timer stops and its secrets are wiped. */
void call_rekey_stop(struct call *call);
/* Peer requests: "rekey" (answered once our auxiliary holds the keys), "rekey_done". */
void call_rekey_request(struct call *call, const json_t *req);
void call_rekey_done(struct call *call, const json_t *notice);
/* The auxiliary's "rekey_due": a channel's key is half spent. */
void call_rekey_due(struct call *call);
/* The call's epoch, exchanges so far and interval, for its call object. */
void call_rekey_describe(const struct call *call, struct client_call *out);

/* ---- trunks (trunk.c) ---- */

struct trunk {
	struct secondary *sec;
	const struct trunk_config *cfg;
	bool initiator;                /* our LAN's name sorts lower: we dial */
	struct call *call;             /* the call carrying it now, or NULL */
	uv_timer_t retry;
	uint64_t backoff_ms;
	uint64_t up_since_ms;          /* 0: not up */
	unsigned attempts;
	bool redial_at_once;           /* the peer LAN failed over: no back-off this time */
};

void trunks_start(struct secondary *s);
void trunks_stop(struct secondary *s);
/* The trunk configured towards LAN lan, or NULL. */
struct trunk *trunk_for_lan(struct secondary *s, const char *lan);
void trunk_call_up(struct trunk *t, struct call *call);
/* The trunk's remote_map onto the call's remote IPv4 prefix of its length (overlap.md);
 * -1 when there is none (the call is ended, with a sentence). */
int trunk_map(struct call *call, const struct trunk_config *cfg);
void trunk_call_ended(struct trunk *t, struct call *call, const char *reason);

/* ---- rooms' legs (room_path.c, docs/rooms.md "The data path") ---- */

/* One room's leg to one other member site: a trunk-like network call that carries the
 * room addresses of our members and theirs, mapped in its auxiliary. */
struct room_leg {
	struct secondary *sec;
	struct room_leg *next;
	char room[ROOM_NAME_MAX + 1];
	char peer_lan[PKI_NAME_MAX + 1];
	struct ip_prefix network;      /* the room's */
	bool has_network6;
	struct ip_prefix network6;     /* its IPv6 one, if it has */
	bool initiator;                /* our LAN's name sorts lower: we dial */
	struct call *call;             /* the call carrying it now, or NULL */
	uv_timer_t retry;
	uint64_t backoff_ms;
	uint64_t up_since_ms;          /* 0: not up */
	uint64_t last_up_ms;           /* when a call of this leg last was up */
	unsigned attempts;
	bool gone;                     /* no longer wanted: freed once its timer closed */
	/* What the leg should carry now (from the principal's last notice): our members'
	 * room addresses with their LAN addresses, and the peer site's room addresses. */
	struct ip_prefix local[SECONDARY_MAX_PREFIXES], remote[SECONDARY_MAX_PREFIXES];
	struct ip_addr local_host[SECONDARY_MAX_PREFIXES];
	size_t nlocal, nremote;
};

/* A room's one auxiliary process on this gateway (auxiliary/room_host.c): every leg of
 * the room is handed to it, so that the room has one process and one interface. */
struct room_aux {
	struct room_aux *next;
	char room[ROOM_NAME_MAX + 1];
	struct aux *proc;
};
/* The room's process, started if it has none (or its last one died); NULL if it cannot
 * start. */
struct aux *room_aux_for(struct secondary *s, const char *room);
/* A leg's peer members' /32s into the room's interface once its bind is answered (add),
 * or out of it when its call ends (those another call of the room carries stay). */
void room_leg_routes(struct call *call, bool add);

/* The principal's "rooms" notice: the legs follow it (placed, re-placed with the new
 * members, ended) at once. */
void rooms_notice(struct secondary *s, const json_t *msg);
void rooms_stop(struct secondary *s);
/* The leg of room with the peer LAN, or NULL. */
struct room_leg *room_leg_find(struct secondary *s, const char *room, const char *peer_lan);
void room_leg_call_up(struct room_leg *leg, struct call *call);
void room_leg_call_ended(struct room_leg *leg, struct call *call, const char *reason);
/* The LAN address of the member at each of the n room addresses local[] into hosts[];
 * n, or 0 when one is no longer the leg's (the auxiliary then refuses the bind). */
size_t room_leg_hosts(const struct room_leg *leg, const struct ip_prefix *local, size_t n,
		      struct ip_addr *hosts);
/* Whether a call's prefixes are what the leg should carry now. */
bool room_leg_matches(const struct room_leg *leg, const struct call *call);
/* A room leg's call (caller side): looks the peer LAN up in the directory, dials it. */
int call_place_room_leg(struct secondary *s, struct room_leg *leg);

/* ---- per-call uids of auxiliaries (uid_pool.c) ---- */

#define UID_POOL_MAX 65536  /* uids in a range at most */
struct uid_pool {
	uint32_t first, count;  /* count 0: no range */
	uint32_t next;          /* where the next search starts */
	uint32_t in_use;
	uint8_t used[UID_POOL_MAX / 8];
};
void uid_pool_init(struct uid_pool *p, uint32_t first, uint32_t last);
/* A uid no live auxiliary has; -EAGAIN when every one is taken. */
int uid_pool_take(struct uid_pool *p, uint32_t *uid);
void uid_pool_give(struct uid_pool *p, uint32_t uid);

/* ---- the daemon's syscall allowlist (sandbox.c) ---- */

/* Installs it once the listeners exist, unless [secondary] seccomp = off. */
int secondary_sandbox_enter(const struct secondary_config *cfg);

/* ---- certificate renewal (renew.c) ---- */

struct renew;
/* Before the credentials are loaded: finishes a certificate switch that a crash or power
 * loss interrupted (the new certificate written, its key still pending in the holder or
 * already the current one, the certificate file not yet replaced). */
void renew_recover_files(const struct secondary_config *cfg, struct keyholder *kh);
int renew_start(struct secondary *s);
void renew_stop(struct secondary *s);
/* Replaces the gateway's certificate, and the key (held by the key holder) that signs for
 * it, for every connection made from now on; connections already open (calls, the
 * principal link) keep theirs. */
int secondary_creds_replace(struct secondary *s, const char *cert_path,
			    const struct keyholder_key *key, char *err, size_t errlen);
/* Adds the certificates' expiries, warnings and the renewal's state to a status reply. */
void renew_status(struct secondary *s, json_t *reply);

struct secondary {
	uv_loop_t *loop;
	/* Stats queries to auxiliaries out for "calls" listings (client_api.c caps them). */
	unsigned calls_stats_outstanding;
	struct secondary_config cfg;
	struct tls_creds *creds;       /* our certificate; the key is the key holder's */
	char relay_ca[AUX_RELAY_CA_MAX];  /* the organisation's CA (PEM), for the relay's */
	size_t relay_ca_len;              /* TLS fallback: given to auxiliaries in start */
	struct keyholder keyholder;    /* the process that signs our handshakes */
	uv_signal_t sigchld;           /* says so when the key holder dies */
	struct principal_link principal;
	/* Our relay ([relay] listen, relay_serve.c): its keeper's socket until the loop
	 * takes it, its control socket, and the port it is bound to. */
	int relay_keeper_fd;
	pid_t relay_keeper_pid;
	bool relay_running;
	struct relay_serve *relay;     /* its control socket, the allocations it holds */
	uint16_t relay_port;
	struct tls_server *peer_server;
	struct tls_server *client_server;
	uv_pipe_t client_pipe;
	bool client_pipe_open;
	struct client_conn *clients;
	struct call *calls;
	uv_signal_t sigterm, sigint;
	bool stopping;
	unsigned dialing_back;         /* dial_back connections still in their handshake */
	struct trunk trunks[SECONDARY_MAX_TRUNKS];
	size_t ntrunks;
	struct room_leg *room_legs;    /* room_path.c */
	struct room_aux *room_auxes;   /* room_path.c: each room's one auxiliary */
	json_t *rooms;                 /* the principal's last "rooms" notice, or NULL */
	struct uid_pool aux_uids;
	/* Not root (cmd_run.c): auxiliaries keep our uid, and network calls and trunks,
	 * which need a TUN interface and routes, are refused. */
	bool unprivileged;

	struct renew *renew;
	struct standby *standby;       /* [standby]: the partner and the LAN address */
	struct link_table *links;      /* our links to other gateways (links.c) */
	uv_timer_t links_timer;
	struct sec_metrics *metrics;   /* /metrics (metrics.c), or NULL when off */
	uint64_t stats_refresh_ms;     /* auxiliaries last asked for stats (metrics.c) */
	unsigned stats_asking;         /* stats requests out */
	uv_timer_t rates_timer;        /* call_rates.c */
	bool rates_running;
};

/* ---- standby gateways (standby.c, docs/standby.md) ---- */

/* Forks the LAN address keeper (before any socket), then, once the loop runs, watches the
 * partner. No-ops without [standby]. */
int standby_prepare(struct secondary *s);
int standby_start(struct secondary *s);
/* Releases the address (the partner takes over at once) and stops. */
void standby_stop(struct secondary *s);
void standby_free(struct secondary *s);
/* Whether this gateway serves the LAN now: always without [standby]; with it, while it
 * holds the LAN address. A standby registers as such, places no trunk calls and refuses
 * calls. */
bool secondary_is_active(const struct secondary *s);
/* The principal link tells the directory our role again (after a change). */
void principal_link_reregister(struct principal_link *l);
/* Calls every trunk whose call is down now (a standby that took over). */
void trunks_redial_now(struct secondary *s);
/* Calls the trunk again at once, or as soon as its current call has ended (the peer
 * LAN's gateway failed over). */
void trunk_redial_soon(struct trunk *t);

int run_main(int argc, char **argv);
int check_config_main(int argc, char **argv);

#endif
