/* Every time-out and timer period of insel-secondary, in one place, so that the ones that
 * must fit inside each other can be read side by side. A fixed value is a macro here; a
 * configurable one ([section] key of the configuration file) has its default here, which
 * config.c's schema takes (as text, "30s"), and its bounds stay in that schema. Where a
 * relation between two of them matters, the comment says which must be shorter and why,
 * and the relations between fixed values (and defaults) are checked by the compiler at
 * the end of the file. The auxiliary's and the principal's own timers (auxiliary.h,
 * the principal's --heartbeat and --down-after) are named where they meet ours.
 *
 * A call's life, with the timers that bound each step (docs/protocol.md):
 *
 *   caller side                              callee side
 *   LOOKUP    directory look-up   5 s        (call_request arrives)
 *   DIALING   TLS handshake      10 s *      RINGING  directory check        5 s
 *             peer hello          5 s                 ring the client       30 s *
 *   BINDING   auxiliary bind      5 s        BINDING  auxiliary bind         5 s
 *   RINGING   call_request       30 s * + 10 s        auxiliary start        5 s
 *             auxiliary start     5 s        CONNECTING a probe answered        15 s
 *   CONNECTING a probe answered  15 s
 *   UP        keep-alive 10 s *, dead after 45 s *, idle 120 s *, rekey every 120 s *
 *             (a key installation: as long as the auxiliary lives, up to the key bound)
 *   ENDED     hang-up reply       2 s, then kill grace 3 s
 *   (* configurable; the value shown is the default)
 */
#ifndef INSEL_SECONDARY_TIMEOUTS_H
#define INSEL_SECONDARY_TIMEOUTS_H

#include "channel.h"
#include "rekey.h"

/* A default in whole seconds as the schema's text: TIMEOUT_TEXT(30) is "30s". */
#define TIMEOUT_TEXT_(n) #n "s"
#define TIMEOUT_TEXT(n) TIMEOUT_TEXT_(n)
/* The same for a default in milliseconds: TIMEOUT_TEXT_MS(200) is "200ms". */
#define TIMEOUT_TEXT_MS_(n) #n "ms"
#define TIMEOUT_TEXT_MS(n) TIMEOUT_TEXT_MS_(n)

/* ---- the link to the principal (principal_link.c) ---- */

/* [principal] heartbeat: how often we say we are alive. The principal marks a secondary
 * down after its --down-after (30 s by default) without one: that must be several
 * heartbeats, so that one lost beat does not make the directory send callers away. */
#define HEARTBEAT_DEFAULT_S 10
/* A heartbeat's reply is awaited for this many periods (a heartbeat still goes out every
 * period meanwhile), and only then is the link taken for dead and opened again. One
 * period was too short: a principal whose loop stalled a moment (a busy host, a slow
 * disk) dropped every gateway's link at once, and each gateway refused its new calls
 * principal_unreachable while it reconnected (listing-scale lost 40 of 1,000 calls). A
 * principal that died closes its connection, which is seen at once. */
#define HEARTBEAT_REPLY_BEATS 3
/* Every request to the principal: hello, register, look-ups, directory checks of a
 * call's parties, call records, revocation pages. Shorter than login_timeout, so that a
 * login waiting on the principal's password check is answered (or refused) before its
 * connection's deadline ends it. */
#define PRINCIPAL_REQUEST_TIMEOUT_MS 5000
/* Reconnecting after the link is lost: doubles from the first to the max, with jitter. */
#define PRINCIPAL_BACKOFF_FIRST_MS 500
#define PRINCIPAL_BACKOFF_MAX_MS 30000

/* ---- signalling across NAT (call_out.c, peer_api.c; docs/nat.md) ---- */

/* The caller waits this long for the callee's secondary to dial back (the principal's
 * notice, a TCP connect, the preamble) before asking for a splice instead. The TLS
 * handshake that follows has its own deadline (handshake_timeout). */
#define REVERSAL_WAIT_MS 5000
/* The caller's offer waits this long, at most, for the principal's answer to its relay
 * request when that answer is still out once our auxiliary has bound: a call between two
 * NATs that map every destination apart has no path without the relay candidate. Longer
 * than the principal's budget for designated relays (2 s, api_relay.c), after which its
 * own relay answers at once. Usually the answer is long in: it was asked for in parallel
 * with the dial. */
#define RELAY_WAIT_MS 2500

/* ---- LAN clients and peer secondaries (client_api.c, peer_api.c) ---- */

/* The key holder's answer to one request (keyholder.c): a signature or a new key takes
 * milliseconds, so this only ever catches a holder that is stuck or gone. */
#define KEYHOLDER_TIMEOUT_MS 2000
/* [clients] and [peers] handshake_timeout: a TLS handshake must finish in this time.
 * Longer than the key holder's deadline for one signature (KEYHOLDER_TIMEOUT_MS, 2 s),
 * so that a stuck key holder fails our handshake with its own error first. */
#define HANDSHAKE_TIMEOUT_DEFAULT_S 10
/* [clients] login_timeout: after the handshake, a client must have logged in within this
 * (longer than PRINCIPAL_REQUEST_TIMEOUT_MS: see above). */
#define LOGIN_TIMEOUT_DEFAULT_S 15
/* [peers] idle_timeout: a peer connection that carries no call is closed after this. */
#define PEER_IDLE_TIMEOUT_DEFAULT_S 30
/* Our hello on a peer connection we dialled. */
#define PEER_HELLO_TIMEOUT_MS 5000
/* A client's "calls" listing waits this long for each call's auxiliary counters, then
 * lists without them: far below any client's patience. */
#define CALLS_STATS_TIMEOUT_MS 1000

/* ---- setting a call up (call.c, call_in.c, call_out.c, supervise.c) ---- */

/* [limits] ring_timeout: the callee side rings its client this long for an answer
 * ("no_answer" after it). */
#define RING_TIMEOUT_DEFAULT_S 30
/* The caller side waits for the call_request's reply for its own ring_timeout plus this
 * margin. The callee side answers "no_answer" after its directory check (at most
 * PRINCIPAL_REQUEST_TIMEOUT_MS) and its ring_timeout, so with equal ring time-outs that
 * answer arrives before the caller gives up; an answered call then has the rest of the
 * margin for the callee's auxiliary to bind and start. (If all of the callee's steps run
 * to their limits, the caller gives up first and its hang-up ends the callee's side.) */
#define PEER_REPLY_MARGIN_MS 10000
/* A fresh auxiliary's hello and bind (it binds sockets or makes a TUN interface, and asks
 * the STUN servers of [nat] stun for at most stun_timeout, docs/nat.md). */
#define AUX_BIND_TIMEOUT_MS 5000
/* [nat] stun_timeout's bound: the bind it lengthens keeps 2 s for the rest. */
#define STUN_TIMEOUT_MAX_MS 3000
/* The auxiliary's reply to "start" (it installs the negotiated keys and relays). */
#define AUX_START_TIMEOUT_MS 5000
/* CONNECTING: the auxiliary probes the peer's candidates and says "path" up once one
 * answered; a call with no answer by then ends "no_path". Longer than the auxiliary's
 * own round of probes (PATH_ROUND_MS, 10 s, auxiliary.h), whose "lost" notice says what
 * was tried, so that its reason comes first. */
#define PATH_CONNECT_TIMEOUT_MS 15000
/* Priming ([nat] prime_ttl, docs/nat.md): the callee's auxiliary starts first and sends
 * low-TTL probes until the caller's first probe arrives, or at most for this window: the
 * caller's auxiliary starts once our answer has crossed and the caller's secondary and
 * auxiliary have handled it, so the window is a base for that handling (generous: it
 * costs nothing when the caller's probes come) plus twice the signalling round trip
 * (through a splice, twice the round trip of our own leg more, for the caller's). */
#define PRIME_WINDOW_BASE_MS 1000
#define PRIME_WINDOW_MAX_MS 5000

/* ---- a call that is up ---- */

/* [limits] keepalive and dead_after: the auxiliaries' keep-alives and the silence after
 * which the peer is dead (the call ends "peer_dead"). dead_after must be longer than
 * keepalive (config.c refuses otherwise), by several keep-alives so that a lost one or
 * two do not kill a call. The defaults are the channel's own (channel.h). */
#define KEEPALIVE_DEFAULT_S 10
#define DEAD_AFTER_DEFAULT_S 45
/* [limits] failover_after: the active path silent this long while the auxiliary sends,
 * it probes for another and moves the call there (AUX_DEFAULT_FAILOVER_AFTER_MS). */
#define FAILOVER_AFTER_DEFAULT_TEXT "300ms"
/* [limits] idle_timeout: a call with no data either way this long ends ("idle"); run by
 * the auxiliary, off for trunks. */
#define IDLE_TIMEOUT_DEFAULT_S 120
/* [peers] rekey_interval: a key exchange within each call this often (bounds and default
 * in rekey.h; REKEY_EXCHANGE_TIMEOUT_MS, REKEY_RETRY_MS and REKEY_LATE_MS there too). */
#define REKEY_INTERVAL_DEFAULT_S 120
/* Our auxiliary installing an epoch's keys is awaited as long as it lives (call_rekey.c,
 * rekey.h "Waiting for an auxiliary"): its exit or the end of its control socket ends the
 * call at once, but a stalled one (stopped, swapping, a loaded host) is waited for. A
 * time-out here would not be safe to retry after (the initiator's auxiliary sends with
 * the keys the moment it takes them), and it used to end the call "aux_failed" after
 * 5 s of stall. What bounds a stall instead is the call's own: the peer auxiliary's
 * dead_after (peer_dead), and rekey_interval + REKEY_LATE_MS after the last exchange,
 * when the call ends "aux_failed" (the auxiliary has not answered for N s). This is only
 * the request's backstop, longer than that bound can ever be, so never reached first.
 * The initiator meanwhile gives up on a responder that waits (REKEY_EXCHANGE_TIMEOUT_MS)
 * and asks again, refused "rekey_busy" until the responder's auxiliary answered. */
#define AUX_REKEY_WAIT_MS 150000
/* An installation answered after this long is logged as a warning (the stall shows). */
#define AUX_REKEY_SLOW_MS 1000

/* ---- ending a call (call.c, supervise.c) ---- */

/* The hang-up wait: after "hangup" the auxiliary replies with its final counters (the
 * call record's bytes) and exits; we wait this long for that reply, then release it. */
#define AUX_HANGUP_TIMEOUT_MS 2000
/* The kill grace: once released (its control socket closed, which it takes as a hang-up
 * too), an auxiliary that has not exited after this is killed. Longer than the
 * auxiliary's own linger (AUX_LINGER_MS, 2 s: how long its last reply may take to flush
 * before it exits), so that an auxiliary leaving in good order is never killed. From
 * call_end to SIGKILL thus takes at most AUX_HANGUP_TIMEOUT_MS + AUX_HANGUP_GRACE_MS. */
#define AUX_HANGUP_GRACE_MS 3000

/* ---- trunks (trunk.c) ---- */

/* The first dial after start-up, and while the principal link is not up yet. */
/* [standby] (docs/standby.md): the advertisement interval between a LAN's two gateways,
 * and how long the standby waits without hearing the active one before it takes the LAN
 * address (a daemon that dies has its keeper resign at once instead). A standby that
 * starts waits a little more the lower its priority (VRRP's skew), so that of two that
 * start together the higher takes the address first. */
#define STANDBY_INTERVAL_DEFAULT_MS 200
#define STANDBY_DEAD_AFTER_DEFAULT_MS 1000
_Static_assert(STANDBY_DEAD_AFTER_DEFAULT_MS >= 3 * STANDBY_INTERVAL_DEFAULT_MS,
	       "the standby waits out several lost advertisements");

#define TRUNK_FIRST_DELAY_MS 300
#define TRUNK_WAIT_PRINCIPAL_MS 500
/* After a trunk's call ends: back-off doubling from the first to the max, with jitter. */
#define TRUNK_BACKOFF_FIRST_MS 1000
#define TRUNK_BACKOFF_MAX_MS 30000
/* A trunk up this long has proved itself: its next failure retries from the first
 * back-off again. Longer than dead_after (by default), so that a trunk whose data path
 * never worked (its auxiliary ends it as "peer_dead") keeps backing off. */
#define TRUNK_STABLE_MS 60000

/* ---- certificate renewal (renew.c) ---- */

/* [tls] renew_poll: how often a renewal the principal queued for an operator is asked
 * about again, and the shortest time between two looks at the clock. */
#define RENEW_POLL_DEFAULT_S 60
/* The clock is read again at least this often (a suspended machine wakes up late). */
#define RENEW_CHECK_MAX_MS (3600 * 1000ULL)
/* Switching to a new certificate waits for the principal link to be idle, looking this
 * often, and reopens it anyway after RECYCLE_GIVE_UP_CHECKS looks (30 s). */
#define RECYCLE_CHECK_MS 200
#define RECYCLE_GIVE_UP_CHECKS 150

/* ---- the relations above, checked ---- */

_Static_assert(PRINCIPAL_REQUEST_TIMEOUT_MS < LOGIN_TIMEOUT_DEFAULT_S * 1000,
	       "a login's password check must be answered before the login deadline");
_Static_assert(KEYHOLDER_TIMEOUT_MS < HANDSHAKE_TIMEOUT_DEFAULT_S * 1000,
	       "a signature must be refused before the handshake deadline");
_Static_assert(PEER_REPLY_MARGIN_MS > PRINCIPAL_REQUEST_TIMEOUT_MS,
	       "the callee's no_answer arrives before the caller gives up");
_Static_assert(KEEPALIVE_DEFAULT_S * 1000 == CHANNEL_DEFAULT_KEEPALIVE_MS &&
	       DEAD_AFTER_DEFAULT_S * 1000 == CHANNEL_DEFAULT_DEAD_AFTER_MS,
	       "the configured defaults are the channel's");
_Static_assert(DEAD_AFTER_DEFAULT_S > 3 * KEEPALIVE_DEFAULT_S,
	       "dead_after spans several keep-alives");
_Static_assert(REKEY_INTERVAL_DEFAULT_S * 1000 == REKEY_DEFAULT_INTERVAL_MS,
	       "the configured default is rekey.h's");
_Static_assert(STUN_TIMEOUT_MAX_MS + 2000 <= AUX_BIND_TIMEOUT_MS,
	       "the STUN answers fit in the auxiliary's bind");
_Static_assert(AUX_REKEY_WAIT_MS >= REKEY_MAX_INTERVAL_MS + REKEY_LATE_MS,
	       "a stalled auxiliary is bounded by the call's key bound, not by its request");
_Static_assert(TRUNK_STABLE_MS > DEAD_AFTER_DEFAULT_S * 1000,
	       "a trunk ended by dead_after has not proved itself");
_Static_assert(TRUNK_BACKOFF_FIRST_MS <= TRUNK_BACKOFF_MAX_MS &&
	       PRINCIPAL_BACKOFF_FIRST_MS <= PRINCIPAL_BACKOFF_MAX_MS,
	       "back-offs grow");
_Static_assert(RECYCLE_CHECK_MS * RECYCLE_GIVE_UP_CHECKS == 30000,
	       "the comment says 30 s");

#endif
