/* The paper's secure-socket verbs as a blocking C API for any program:
 *
 *   sec_init     load credentials; listen on TCP if asked
 *   sec_accept   take one caller: TLS 1.3 with mutual certificates, verified exactly as
 *                TLS connections are (tls_verify_peer), then the channel negotiation (negotiate.h)
 *   sec_connect  the caller's side of the same
 *   sec_send     one message on one channel, sealed into UDP datagrams (channel.h)
 *   sec_recv     the next message on any channel of the call
 *   sec_close    ends the call (close_notify on the TLS control connection)
 *
 * A channel is a datagram channel (a lost datagram is lost) unless the caller asks for a
 * reliable mode for it at sec_connect_modes: a reliable byte stream (SEC_MODE_STREAM) or
 * reliable messages delivered whole and exactly once, in any order (SEC_MODE_MESSAGES).
 * Both ends then run insel's reliable transport engine (the gateways' one, reliable.h)
 * over the channel, and sec_send / sec_recv / sec_shutdown / sec_abort have stream
 * semantics on it (below, and docs/secsock.md "Reliable channels").
 *
 * plus sec_export / sec_import for privilege separation: one process negotiates, exports
 * the channels' parameters (struct sec_channel_params) and the UDP socket, another
 * imports them and carries the traffic. A call negotiates one UDP socket for all its
 * channels; frames are told apart by their receiver session id.
 *
 * Every function that can fail returns a negative insel error (INSEL_E_*, err_codes.h, or
 * a negative errno; sec_strerror names it) and, where it takes err, writes a sentence
 * there.
 *
 * Installed as <insel/secsock.h> with the shared library libinsel-secsock
 * (`pkg-config --cflags --libs insel-secsock`, docs/secsock.md); it includes only the type
 * headers beside it, and the library exports the sec_* functions and nothing else. */
#ifndef INSEL_SECSOCK_H
#define INSEL_SECSOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr_types.h"
#include "chanparams_types.h"
#include "err_codes.h"
#include "negotiate_types.h"
#include "pki_types.h"

#define SEC_TIMEOUT_DEFAULT_MS 10000
#define SEC_MAX_MSG 65536  /* largest message sec_send takes (fragmented as needed) */

struct sec_options {
	const char *ca_file, *cert_file, *key_file;
	const struct ip_endpoint *listen;  /* NULL: this socket only connects */
	const enum pki_role *allowed_roles;/* roles sec_accept admits; NULL: secondaries */
	size_t nroles;
	struct negotiate_prefs prefs;      /* ciphers/compression; all zero: the defaults */
	unsigned timeout_ms;               /* handshake and negotiation; 0: the default */
};

struct sec_socket;
struct sec_call;

int sec_init(const struct sec_options *opt, struct sec_socket **out, char *err,
	     size_t errlen);
/* The TCP port listened on (useful with port 0); 0 if not listening. */
uint16_t sec_port(const struct sec_socket *s);
void sec_free(struct sec_socket *s);

/* Waits for one caller, authenticates it and negotiates its channels. A caller refused
 * (verification, no common cipher, malformed offer) is answered and dropped, and the
 * reason returned; the listening socket stays usable. */
int sec_accept(struct sec_socket *s, struct sec_call **out, char *err, size_t errlen);
/* Calls `to`, expecting a peer of expect_role (and name, unless NULL), and negotiates
 * nchannels channels with the given application ports. */
int sec_connect(struct sec_socket *s, const struct ip_endpoint *to, enum pki_role expect_role,
		const char *expect_name, const struct negotiate_channel *channels,
		size_t nchannels, struct sec_call **out, char *err, size_t errlen);

/* Sends one message of up to SEC_MAX_MSG bytes on a channel; returns len or an error. */
ssize_t sec_send(struct sec_call *c, unsigned channel, const void *data, size_t len);
/* Receives the next message on any channel into buf, its channel into *channel. Waits
 * up to timeout_ms (-1: forever). Returns its length, INSEL_E_TIMEOUT, or INSEL_E_TOO_BIG
 * (the message did not fit in cap and was dropped). Forged or replayed datagrams are
 * dropped and waiting goes on. */
ssize_t sec_recv(struct sec_call *c, unsigned *channel, void *buf, size_t cap, int timeout_ms);
void sec_close(struct sec_call *c);

/* ---- reliable channels (version node INSEL_SECSOCK_0.1) ----
 *
 * On a reliable channel
 *   sec_send    SEC_MODE_STREAM: queues bytes. Blocking (the default): returns len once
 *               every byte is queued, waiting while the send buffer (4 MiB) is full.
 *               Non-blocking (sec_set_nonblocking): returns how many bytes fitted (a
 *               partial write) or -EAGAIN. SEC_MODE_MESSAGES: one whole message of 1 to
 *               SEC_MAX_MSG bytes (returns len, or -EAGAIN when non-blocking and full).
 *   sec_recv    data from any channel of the call as before: for a stream up to cap bytes
 *               in order (a partial read), for messages one whole message (one larger
 *               than cap stays, and INSEL_E_TOO_BIG says so: SEC_MAX_MSG always fits). 0 with
 *               *channel set: the peer finished that channel (sec_shutdown or sec_close;
 *               the end of file, said once).
 *               INSEL_E_RESET (the peer aborted, or closed its call before finishing) or
 *               INSEL_E_PEER_GONE (the peer stopped answering for the stream time-out, or
 *               its process ended) with *channel set: the channel broke; said once. A call
 *               whose every channel is a stream that has ended and been said gives
 *               INSEL_E_CLOSED. INSEL_E_TIMEOUT still means only that timeout_ms passed.
 *   sec_close   drains: every reliable channel not ended is finished (sec_shutdown) and the
 *               call waits until the peer acknowledged everything (bounded by the stream
 *               time-out), then ends the call.
 * Sending on a channel after sec_shutdown or sec_abort gives INSEL_E_CLOSED; after the
 * peer broke it, the error above. Datagram messages of datagram channels that arrive
 * while a call waits inside sec_send or sec_close are kept for sec_recv (up to 64; more
 * are dropped, as a full socket buffer would). A call is used by one thread at a time. */

/* What a channel carries (same values as the negotiation's modes). */
enum sec_mode {
	SEC_MODE_DATAGRAM = 0,   /* messages that may be lost (every channel of sec_connect) */
	SEC_MODE_STREAM = 1,     /* a reliable, ordered byte stream */
	SEC_MODE_MESSAGES = 2,   /* reliable messages, each delivered whole and exactly once,
				  * as soon as it is complete (not in sending order) */
};

/* The engine's figures for a reliable channel (sec_stream_stats). */
struct sec_stream_stats {
	const char *state;         /* "open", "established", "closing", "closed", "aborted",
				    * "timed out" (static storage) */
	uint64_t bytes_sent;       /* taken by sec_send */
	uint64_t bytes_acked;      /* of those, acknowledged by the peer */
	uint64_t bytes_received;   /* arrived from the peer */
	uint64_t bytes_delivered;  /* returned by sec_recv */
	uint64_t retransmits;      /* segments sent again */
	uint64_t timeouts;         /* retransmission time-outs */
	uint64_t srtt_us, rto_us;  /* smoothed round trip, retransmission time-out */
	uint64_t cwnd;             /* congestion window, bytes */
	uint64_t peer_window;      /* what the peer can take now, bytes */
};

/* sec_connect with a mode per channel (modes NULL: all datagram, as sec_connect). A callee
 * of an older library answers every channel as datagram: the call is then refused here
 * with INSEL_E_VERSION and a sentence in err. */
int sec_connect_modes(struct sec_socket *s, const struct ip_endpoint *to,
		      enum pki_role expect_role, const char *expect_name,
		      const struct negotiate_channel *channels, const enum sec_mode *modes,
		      size_t nchannels, struct sec_call **out, char *err, size_t errlen);
/* What the caller asked for on a channel (the callee learns it here after sec_accept);
 * SEC_MODE_DATAGRAM for a channel out of range. */
enum sec_mode sec_call_mode(const struct sec_call *c, unsigned channel);
/* The stream time-out of calls made or accepted afterwards: a reliable channel whose peer
 * answers nothing for dead_ms while data is outstanding breaks with INSEL_E_PEER_GONE, and
 * a close not acknowledged within dead_ms ends it too (default 30000); idle_ms: a reliable
 * channel with no byte either way for that long is closed cleanly (default 120000,
 * UINT32_MAX never). 0 keeps the default. 0, or INSEL_E_BAD_FIELD (dead_ms below 1000). */
int sec_set_stream_timeouts(struct sec_socket *s, unsigned dead_ms, unsigned idle_ms);
/* Non-blocking sec_send / sec_shutdown on reliable channels (on != 0): they return
 * -EAGAIN (-EINPROGRESS for sec_shutdown) instead of waiting; sec_close still drains. sec_recv keeps its
 * timeout_ms (0 does not wait). Poll sec_call_fd for input, and call sec_pump (or
 * sec_recv / sec_send) when it is readable or sec_call_timeout_ms passed. 0. */
int sec_set_nonblocking(struct sec_call *c, int on);
/* The descriptor to poll for input (POLLIN) in an event loop. */
int sec_call_fd(const struct sec_call *c);
/* Milliseconds until the reliable channels' timers need sec_pump (retransmissions,
 * acknowledgements); -1: none pending. */
int sec_call_timeout_ms(const struct sec_call *c);
/* Takes what arrived and runs the timers, without waiting; 0 or a negative errno. */
int sec_pump(struct sec_call *c);
/* Finishes sending on a reliable channel (what was queued is delivered, then the end,
 * which the peer's sec_recv reads as 0). Blocking: returns 0 once the peer acknowledged
 * it all, or the error that broke the channel (INSEL_E_PEER_GONE when nothing was
 * acknowledged for the stream time-out). Non-blocking: -EINPROGRESS until then (call it
 * again). Receiving goes on until the peer finishes too. INSEL_E_BAD_FIELD on a datagram
 * channel. */
int sec_shutdown(struct sec_call *c, unsigned channel);
/* Ends a reliable channel at once: what is not yet delivered is discarded on both sides;
 * the peer's sec_recv gives INSEL_E_RESET. 0, or INSEL_E_BAD_FIELD on a datagram channel. */
int sec_abort(struct sec_call *c, unsigned channel);
/* 0 and *out for a reliable channel, INSEL_E_BAD_FIELD for another. */
int sec_stream_stats(const struct sec_call *c, unsigned channel, struct sec_stream_stats *out);

size_t sec_call_channels(const struct sec_call *c);
/* Who the peer is (NULL for an imported call). */
const struct pki_identity *sec_call_peer(const struct sec_call *c);
/* The local UDP endpoint of the call's data channels. */
int sec_call_udp_endpoint(const struct sec_call *c, struct ip_endpoint *out);

/* Hands the call's channels over: params[0..*n) (at most SEC_MAX_CHANNELS) and a
 * duplicate of the UDP socket in *udp_fd. Only a call of datagram channels that has not
 * sent or received yet can be exported (INSEL_E_CONFLICT otherwise) (a counter must never be used twice under one key); afterwards this
 * call can no longer carry data, only be closed. The caller wipes params
 * (sec_params_wipe) once they are passed on. */
int sec_export(struct sec_call *c, struct sec_channel_params *params, size_t *n, int *udp_fd);
/* Builds a call from exported channels; takes ownership of udp_fd. */
int sec_import(const struct sec_channel_params *params, size_t n, int udp_fd,
	       struct sec_call **out);

/* Wipes the keys of exported channel parameters. */
void sec_params_wipe(struct sec_channel_params *p);

/* "1.2.3.4:80", "[2001:db8::1]:80"; 0, or INSEL_E_BAD_ADDR. */
int sec_endpoint_parse(const char *text, struct ip_endpoint *out);
/* The text form of an endpoint (at most IP_STRLEN bytes with its NUL); returns out. */
char *sec_endpoint_format(const struct ip_endpoint *e, char *out, size_t outlen);
/* A sentence for any error a sec_* function returned; never NULL. */
const char *sec_strerror(int err);

#endif
