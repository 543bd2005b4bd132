/* One data channel of a call: the state machine behind the encrypted UDP frames
 * (frame.h, docs/frames.md). It does no socket I/O and reads no clock: the caller passes
 * datagrams in, takes datagrams out, and supplies the time in milliseconds from any
 * monotonic clock. That keeps it usable from the auxiliary's libuv loop and from the
 * blocking sec_send/sec_recv verbs alike, and testable with a fake clock.
 *
 * Sending: channel_seal() cuts a message into datagrams of at most params.mtu bytes and
 * hands each to a callback; channel_seal_one() writes a message that fits one datagram
 * straight into the caller's buffer; channel_keepalive() makes an empty frame;
 * channel_probe() a path probe of any size.
 * Receiving: channel_open() runs cheap checks, the replay check, the AEAD open, commits
 * the replay window, moves the peer endpoint on authenticated frames (roaming), and
 * reassembles fragments; it returns 1 when a whole message is ready.
 * Timers: channel_tick() says when to send a keep-alive and when the peer is dead, and
 * expires reassembly and old keys. Keys rotate by themselves (time or frame count),
 * each epoch's key derived from the previous one with HKDF on both sides; or, with
 * external rekeying, only when the owner installs the next epoch's keys (the secondary's
 * ephemeral key exchanges, rekey.h), the sender switching once the peer holds them.
 * Every frame refused is counted in struct channel_stats by reason; none is fatal.
 * A channel has one owner: calls on one channel must not run concurrently. */
#ifndef INSEL_CHANNEL_H
#define INSEL_CHANNEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "chanparams.h"
#include "frame.h"

/* Protocol constants. */
#define CHANNEL_MAX_MSG 65536            /* largest message, before fragmentation */
#define CHANNEL_MIN_MTU 512              /* keeps a 64 KiB message within 255 fragments */
/* With probe counters of their own (channel_use_probe_space), PROBE frames take counters
 * from here up and every other frame stays below: docs/frames.md section 3. */
#define CHANNEL_PROBE_SPACE (1ULL << 63)
#define CHANNEL_REASM_SLOTS 4            /* fragmented messages in flight per channel */

/* Defaults for the params fields left at 0. */
#define CHANNEL_DEFAULT_MTU 1400
#define CHANNEL_DEFAULT_REKEY_AFTER_FRAMES (1ULL << 28)
#define CHANNEL_DEFAULT_REKEY_AFTER_MS 120000u
#define CHANNEL_DEFAULT_KEEPALIVE_MS 10000u
#define CHANNEL_DEFAULT_DEAD_AFTER_MS 45000u

/* Implementation tunables. */
#define CHANNEL_REKEY_GRACE_MS 10000u   /* old receive key kept this long after a rekey */
#define CHANNEL_REASM_TIMEOUT_MS 3000u  /* an incomplete message is dropped after this */

struct channel;

struct channel_stats {
	uint64_t frames_out, bytes_out;    /* datagrams sealed and their bytes */
	uint64_t frames_in, bytes_in;      /* datagrams accepted and their bytes */
	/* Counters the peer spent that never arrived, from the first frame heard on: its
	 * frames lost on the way (in the network, in our socket's receive buffer, or dropped
	 * by the peer after sealing), less those that came late. Exact per frame, where the
	 * kernel counts a socket's drops per packet (a UDP GSO packet carries many frames).
	 * With probe counters of their own, probes (which often go where nothing answers)
	 * are outside it; without, every probe that did not arrive is in it. */
	uint64_t frames_lost;
	uint64_t msgs_out, msgs_in;        /* whole messages */
	uint64_t keepalives_out, keepalives_in;
	uint64_t rekeys_out, rekeys_in;    /* epochs advanced, per direction */
	uint64_t roams;                    /* peer endpoint moves */
	uint64_t msgs_deflated_out;        /* messages sent compressed (compression on) */
	uint64_t epochs_installed;         /* external rekeying: channel_install_epoch calls */
	uint64_t probe_requests_out, probe_replies_out;  /* PROBE frames sealed, by kind */
	uint64_t probe_requests_in, probe_replies_in;    /* PROBE frames accepted, by kind */
	/* Drops, by reason. */
	uint64_t drop_truncated;           /* shorter than a header and a tag */
	uint64_t drop_malformed;           /* unknown type, bad fragment fields */
	uint64_t drop_unknown_session;     /* receiver id not ours */
	uint64_t drop_bad_epoch;           /* no key for that epoch (too old or too new) */
	uint64_t drop_replay;              /* counter seen before or behind the window */
	uint64_t drop_bad_tag;             /* AEAD verification failed */
	uint64_t drop_too_big;             /* datagram or reassembled message over the limits */
	uint64_t drop_bad_fragment;        /* fragments that do not fit together */
	uint64_t drop_reasm_timeout;       /* messages whose fragments did not all arrive */
	uint64_t drop_reasm_evicted;       /* incomplete messages pushed out by newer ones */
	uint64_t drop_bad_compression;     /* compressed messages that do not inflate */
	uint64_t drop_key_exhausted;       /* external rekeying: the send key sealed its
					    * rekey_after_frames and no new one came */
	/* Gauge: memory held for reassembly now. */
	uint64_t reasm_bytes;
};

struct channel_msg {
	const uint8_t *data;  /* valid until the next channel_open/tick/free; NULL for a probe */
	size_t len;           /* a probe: the length of the datagram received */
	struct frame_probe probe;  /* channel_open returned CHANNEL_OPEN_PROBE */
};

/* channel_open's return for an authenticated PROBE frame (msg->probe, msg->len). */
#define CHANNEL_OPEN_PROBE 2

/* What channel_tick asks of the caller (bit flags). */
enum channel_event {
	CHANNEL_SEND_KEEPALIVE = 1,  /* nothing sent for keepalive_ms: send channel_keepalive() */
	CHANNEL_PEER_DEAD = 2,       /* nothing authenticated received for dead_after_ms */
	CHANNEL_REKEY_DUE = 4,       /* external rekeying: the send key sealed half its
				      * rekey_after_frames; ask for a new epoch (once) */
};

/* Receives each datagram channel_seal produces; a non-zero return stops sealing and is
 * returned by channel_seal. The datagram is only valid during the call. */
typedef int (*channel_emit_fn)(void *ctx, const uint8_t *dgram, size_t len);

/* Builds a channel from negotiated params at time now_ms (params are copied; the caller
 * still wipes its copy). With SEC_COMPRESS_DEFLATE each message that shrinks is sent
 * raw-deflated in FRAME_DATA_DEFLATE frames. 0, -EINVAL for bad params, -ENOTSUP for an
 * unknown compression, -ENOMEM, or INSEL_E_CRYPTO. */
int channel_new(const struct sec_channel_params *params, uint64_t now_ms,
		struct channel **out);
/* Wipes every key and frees; NULL is fine. */
void channel_free(struct channel *ch);

/* Largest message channel_seal_one accepts: mtu minus FRAME_OVERHEAD. */
size_t channel_payload_max(const struct channel *ch);
/* The largest datagram the channel sends (params.mtu at first). */
size_t channel_mtu(const struct channel *ch);
/* Changes it from the next message on (path MTU discovery, pmtud.h): larger messages are
 * cut into more fragments; the receiver needs no notice. 0, -EINVAL outside
 * CHANNEL_MIN_MTU .. FRAME_MAX_DATAGRAM, or -ENOMEM (nothing changed). */
int channel_set_mtu(struct channel *ch, size_t mtu);
/* Seals a message of up to CHANNEL_MAX_MSG bytes into as many datagrams as the MTU needs.
 * Returns the number of datagrams, INSEL_E_TOO_BIG, INSEL_E_LIMIT (counter space spent),
 * INSEL_E_CRYPTO, or what emit returned. */
int channel_seal(struct channel *ch, const void *msg, size_t len, uint64_t now_ms,
		 channel_emit_fn emit, void *ctx);
/* Seals a message of at most channel_payload_max() bytes as one datagram into out.
 * Returns the datagram length, or INSEL_E_TOO_BIG / INSEL_E_NOSPACE / INSEL_E_LIMIT /
 * INSEL_E_CRYPTO. */
long channel_seal_one(struct channel *ch, const void *msg, size_t len, uint64_t now_ms,
		      uint8_t *out, size_t cap);
/* Seals a keep-alive into out (FRAME_OVERHEAD bytes); returns its length or an error. */
long channel_keepalive(struct channel *ch, uint64_t now_ms, uint8_t *out, size_t cap);

/* From now on PROBE frames are sealed with counters of their own, from CHANNEL_PROBE_SPACE
 * up, and received ones are checked against a replay window of their own and never
 * counted in frames_lost; every other frame must then have a counter below it (either
 * way a frame in the wrong space is malformed). Both ends must agree, before either
 * seals or opens a frame (the secondaries negotiate it per call): a receiver without it
 * would take a probe's counter as the newest and refuse the data after it as replays.
 * 0, or -EINVAL once the channel has sealed or opened a frame (nothing changes). */
int channel_use_probe_space(struct channel *ch);
/* Whether channel_use_probe_space was called. */
bool channel_probe_space(const struct channel *ch);

/* Seals a PROBE frame (a request or a reply, frame.h) padded to exactly dgram_len bytes
 * (FRAME_PROBE_MIN_DATAGRAM .. FRAME_MAX_DATAGRAM, whatever the channel's MTU: PLPMTUD
 * sends probes larger than it) into out. The caller sends it to any endpoint it likes:
 * a probe uses the channel's counters and keys like any frame, but does not count as
 * sent for the keep-alive timer (it may have gone to a candidate, not the peer).
 * Returns the datagram length, -EINVAL for a size out of range, INSEL_E_NOSPACE,
 * INSEL_E_LIMIT, INSEL_E_CRYPTO or -ENOMEM. */
long channel_probe(struct channel *ch, const struct frame_probe *probe, size_t dgram_len,
		   uint64_t now_ms, uint8_t *out, size_t cap);

/* Takes one received datagram from endpoint from (NULL: unknown, never roams) at now_ms.
 * Returns 1 with *msg set when a whole message is ready, CHANNEL_OPEN_PROBE with
 * msg->probe and msg->len set for an authenticated probe (which never moves the peer
 * endpoint: the path logic decides where frames go), 0 when the frame was accepted but
 * completes nothing (keep-alive, fragment), or a negative code when it was dropped
 * (and counted): INSEL_E_TRUNCATED, INSEL_E_MALFORMED, INSEL_E_NOT_FOUND (session),
 * INSEL_E_REPLAY, INSEL_E_AUTH (tag or epoch), INSEL_E_TOO_BIG. */
int channel_open(struct channel *ch, const uint8_t *dgram, size_t len,
		 const struct ip_endpoint *from, uint64_t now_ms, struct channel_msg *msg);

/* Where a host would have a message opened instead of the channel's own buffer: room()
 * returns a buffer of len bytes, or NULL for the channel's. Asked only for a whole
 * message in one uncompressed DATA frame, before it is authenticated: when it returned
 * a buffer, channel_open_into returns 1 with msg->data there, or an error with the
 * buffer holding garbage. (A reliable channel opens its segments straight into the
 * engine's receive buffer: reliable.h, rel_input_room.) */
struct channel_room {
	uint8_t *(*room)(void *ctx, size_t len);
	void *ctx;
};

/* channel_open, with the message opened where room says (NULL: as channel_open). */
int channel_open_into(struct channel *ch, const uint8_t *dgram, size_t len,
		      const struct ip_endpoint *from, uint64_t now_ms,
		      const struct channel_room *room, struct channel_msg *msg);

/* External rekeying (params.external_rekey; docs/frames.md section 4): the keys of epoch
 * recv_epoch + 1, once both directions are at recv_epoch (else INSEL_E_CONFLICT and
 * nothing changes; -EINVAL without external rekeying). The receiver accepts the new
 * epoch at once and the current one until the peer moves (then for a grace period).
 * With send_now the sender switches at once (the peer already holds the keys) and a
 * keep-alive is due at once to prove it; otherwise it switches on the first frame that
 * authenticates under the new epoch. Installing the same epoch again replaces keys not
 * used yet. check_install says whether install would be refused, changing nothing. */
int channel_check_install(const struct channel *ch, uint32_t epoch);
int channel_install_epoch(struct channel *ch, uint32_t epoch,
			  const uint8_t send_key[SEC_KEY_LEN],
			  const uint8_t recv_key[SEC_KEY_LEN], bool send_now, uint64_t now_ms);

/* Runs the timers at now_ms: returns a mask of enum channel_event and sets *next_ms
 * (if non-NULL) to the latest time the caller should tick again. */
int channel_tick(struct channel *ch, uint64_t now_ms, uint64_t *next_ms);

/* Where frames go now (moves when the peer roams). */
const struct ip_endpoint *channel_peer(const struct channel *ch);
/* When the last authenticated frame (of any type) arrived; the channel's creation
 * before any did. */
uint64_t channel_last_recv_ms(const struct channel *ch);
/* Sends frames elsewhere from now on (the path logic chose another candidate). */
void channel_set_peer(struct channel *ch, const struct ip_endpoint *peer);
/* The receiver id frames to us carry, for demultiplexing several channels on one socket. */
uint32_t channel_local_session(const struct channel *ch);
/* External rekeying: the sender switched epochs and has sealed nothing since, so a
 * keep-alive now would prove the new epoch to the peer (channel_tick asks for it too). */
bool channel_keepalive_wanted(const struct channel *ch);
/* Current key epochs (they advance independently per direction). */
uint32_t channel_send_epoch(const struct channel *ch);
uint32_t channel_recv_epoch(const struct channel *ch);
const struct channel_stats *channel_stats(const struct channel *ch);
/* Status for reports: ids, cipher, peer, epochs, counters. New reference or NULL. */
json_t *channel_status_json(const struct channel *ch);

#endif
