/* The reliable mode of a channel (issue 15): one connection's transport engine, with no
 * I/O and no clock of its own, like channel.h. The host (the auxiliary, or secsock)
 *   - feeds it the sealed payloads that arrive for the connection (rel_input),
 *   - pulls the segments it wants sent, one per call, seals each as one DATA frame and
 *     sends it (rel_output), until rel_output returns 0,
 *   - arms one timer at rel_next_deadline() and calls rel_output when it fires,
 *   - moves application bytes with rel_send / rel_recv.
 * After any call that may change the state (input, send, recv, close, abort, timer), the
 * host runs rel_output until it returns 0 and re-arms its timer. Time is microseconds from
 * any monotonic clock, passed in by the host.
 *
 * The protocol (docs/frames.md, "Reliable payload"): byte sequence numbers (64 bits, from
 * 0, never wrapping), a cumulative acknowledgement plus up to REL_MAX_SACK selective
 * acknowledgement blocks and the receiver's window on every segment; retransmission
 * time-out from the smoothed round-trip time and its variance (RFC 6298, Karn's rule,
 * doubling back-off); SACK-based loss recovery (RFC 6675 style, with fast retransmit on
 * three segments' worth of SACKed bytes above a hole, and lost retransmissions found by
 * send time as in RACK) under AIMD congestion control (slow start, congestion avoidance,
 * multiplicative decrease once per window of loss); flow control by the receiver's
 * advertised window, with window probes when it is closed.
 *
 * Two delivery modes, chosen at open and the same on both ends:
 *   ordered   a byte stream (files): rel_send accepts bytes, rel_recv returns them in
 *             order; message boundaries are not kept.
 *   unordered messages of 1..REL_MAX_MSG bytes: each message is delivered whole, exactly
 *             once, as soon as all its bytes arrived, whatever happened to earlier ones.
 * Both are segmented to the MSS and reassembled by the engine.
 *
 * There is no handshake: both ends create their engine from the same negotiated
 * parameters (the offer/answer sets conn_id, mode and MSS), and sequence numbers start at
 * 0. A connection ends by rel_close (the pending data is delivered, then FIN; if the FIN
 * is not acknowledged within close_ms the connection is aborted), by rel_abort (RST, data
 * discarded both sides), by the peer vanishing (nothing heard for dead_ms while
 * something is outstanding, or for dead_ms after keep-alives: REL_TIMED_OUT, error
 * INSEL_E_TIMEOUT) or by idling (no application bytes either way for idle_ms: closed
 * cleanly as by rel_close).
 *
 * Every function is safe to call in any state; a connection has one owner (no locking). */
#ifndef INSEL_RELIABLE_H
#define INSEL_RELIABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol constants. */
#define REL_MAX_MSG 65536u           /* largest unordered message */
#define REL_MIN_MSS 256u             /* smallest segment (sealed payload) */
#define REL_MAX_MSS 65000u           /* largest segment: a datagram's worth */

/* Defaults for the params fields left at 0. */
#define REL_DEFAULT_MSS 1350u        /* CHANNEL_DEFAULT_MTU minus the frame's 32 + slack */
#define REL_DEFAULT_BUF (4u << 20)   /* send and receive buffers: a 1 Gbit/s x 30 ms BDP */
#define REL_DEFAULT_IDLE_MS 120000u  /* the 2-minute idle close */
#define REL_DEFAULT_DEAD_MS 30000u   /* peer silent this long with data outstanding */
#define REL_DEFAULT_CLOSE_MS 30000u  /* rel_close aborts if the FIN is not acked by then */
#define REL_DEFAULT_KEEPALIVE_MS 10000u
#define REL_DEFAULT_RTO_MIN_MS 30u   /* see docs/frames.md for why not RFC 6298's 1 s */
#define REL_DEFAULT_RTO_MAX_MS 60000u
#define REL_INITIAL_RTO_MS 1000u     /* RFC 6298 2.1 */

/* Limits on the params. */
#define REL_MIN_BUF (256u << 10)     /* at least four largest messages */
#define REL_MAX_BUF (1u << 30)

enum rel_state {
	REL_OPEN = 0,        /* created, nothing heard from the peer yet */
	REL_ESTABLISHED,     /* the peer answered */
	REL_CLOSING,         /* rel_close (or idle): draining, FIN queued or in flight */
	REL_CLOSED,          /* both FINs sent and acknowledged: finished cleanly */
	REL_ABORTED,         /* RST sent (rel_abort, close time-out) or received */
	REL_TIMED_OUT,       /* the peer vanished */
};

struct rel_params {
	uint32_t conn_id;        /* the connection's id, the same on both ends; on every
				  * segment, so a host can demultiplex (rel_peek_conn) */
	bool unordered;          /* false: ordered byte stream; true: unordered messages */
	uint32_t mss;            /* largest segment (sealed payload) this side sends;
				  * 0 = REL_DEFAULT_MSS; REL_MIN_MSS..REL_MAX_MSS */
	uint32_t snd_buf;        /* bytes queued unacknowledged (0 = default) */
	uint32_t rcv_buf;        /* receive window (0 = default); rounded up to a power
				  * of two, REL_MIN_BUF..REL_MAX_BUF */
	uint32_t idle_ms;        /* 0 = default; UINT32_MAX = never */
	uint32_t dead_ms;        /* 0 = default */
	uint32_t close_ms;       /* 0 = default */
	uint32_t keepalive_ms;   /* 0 = default */
	uint32_t rto_min_ms;     /* 0 = default */
	uint32_t rto_max_ms;     /* 0 = default */
};

struct rel_stats {
	enum rel_state state;
	int error;                    /* why it ended (rel_error) */
	uint64_t bytes_sent;          /* application bytes accepted by rel_send */
	uint64_t bytes_acked;         /* of those, cumulatively acknowledged by the peer */
	uint64_t bytes_delivered;     /* application bytes returned by rel_recv */
	uint64_t bytes_received;      /* new in-window payload bytes accepted from the peer */
	uint64_t segments_out, segments_in;
	uint64_t retransmits;         /* segments sent again (fast or on time-out) */
	uint64_t bytes_retransmitted;
	uint64_t fast_recoveries;     /* loss episodes entered on SACK evidence */
	uint64_t timeouts;            /* retransmission time-outs */
	uint64_t timeouts_undone;     /* of those, found spurious and undone */
	uint64_t segments_in_place;   /* of segments_in, opened where their payload stays
				       * (rel_input_room) */
	uint64_t dup_segments_in;     /* segments with no new bytes */
	uint64_t bad_segments_in;     /* rejected by rel_input */
	uint64_t srtt_us, rttvar_us, rto_us;
	uint32_t mss;                 /* the largest segment sent now (rel_set_mss) */
	uint64_t cwnd, ssthresh;      /* bytes */
	uint64_t flight;              /* bytes in flight (RFC 6675 pipe) */
	uint64_t peer_window;         /* bytes the peer can take now */
	uint64_t send_queued;         /* bytes in the send buffer (unacked + unsent) */
	uint64_t recv_ready;          /* bytes (ordered) or messages (unordered) rel_recv
				       * can return now */
	/* Time the sender spent unable to send, by cause (as Linux's TCP_INFO chronographs):
	 * it had data but the congestion window was full, or the peer's window was; or it
	 * had sent all it was given and the application had not closed (waiting for data,
	 * idle included). A period ends at the next rel_output that sends; the one still
	 * open is not counted yet. */
	uint64_t cwnd_limited_us, window_limited_us, data_limited_us;
};

struct rel_conn;

/* A new connection, or NULL with *err set (INSEL_E_BAD_FIELD for params out of range,
 * -ENOMEM). now_us starts its timers. */
struct rel_conn *rel_new(const struct rel_params *params, uint64_t now_us, int *err);
/* Changes the MSS for the segments cut from now on (a host that learns a larger or
 * smaller path MTU); segments already sent keep their size when resent, so rel_output's
 * cap must stay at least the largest MSS ever set. 0, or INSEL_E_BAD_FIELD out of
 * REL_MIN_MSS..REL_MAX_MSS. The peer needs no notice: any segment size is accepted. */
int rel_set_mss(struct rel_conn *c, uint32_t mss);
/* Frees everything (buffers wiped); sends nothing: call rel_abort first for an RST. */
void rel_free(struct rel_conn *c);

/* The conn_id of a segment, for a host with several connections on one channel:
 * 0, or INSEL_E_TRUNCATED / INSEL_E_MALFORMED. */
int rel_peek_conn(const uint8_t *payload, size_t len, uint32_t *conn_id);

/* One received sealed payload. 0 when accepted (also for duplicates), else a negative
 * error and nothing changed: INSEL_E_TRUNCATED / INSEL_E_MALFORMED (does not parse),
 * INSEL_E_PROTOCOL (parses but impossible: acknowledges data never sent, another
 * conn_id, a message where the mode has none). Never fatal for the connection. */
int rel_input(struct rel_conn *c, const uint8_t *payload, size_t len, uint64_t now_us);

/* Opening in place, for a host that decrypts (opens) what arrives: where to open a
 * sealed payload of len bytes so that, if it is the segment the engine expects next (new
 * data right after the highest received, with the last such segment's header length),
 * its payload already lies where it belongs in the receive buffer and rel_input copies
 * nothing. The header lands in front of it, over bytes of the buffer that are kept and
 * put back. NULL when there is no such room (the host opens into its own buffer). After
 * a room was handed out, the host's next call on c must be rel_input with exactly that
 * room and len (whatever was opened there: a wrong guess is moved out and taken as a
 * copy) or, when nothing was opened there (the frame did not authenticate),
 * rel_input_unroom. Until then the receive buffer is not to be read. */
uint8_t *rel_input_room(struct rel_conn *c, size_t len);
void rel_input_unroom(struct rel_conn *c);

/* True when input since the last rel_output brought news the peer's loss recovery waits
 * for: a hole in the received data opened or closed, the peer's FIN, or its request for
 * an ACK. rel_output answers everything at once; a host that calls it once per batch of
 * input (and every so many segments within one) calls it at once for these. */
bool rel_ack_urgent(const struct rel_conn *c);
/* True while the received data has a hole (the peer is in loss recovery, its window
 * small and clocked by our ACKs): a batching host answers more often then. */
bool rel_recv_has_hole(const struct rel_conn *c);

/* The next segment to send, written to out (cap >= the largest MSS set): its length, or
 * 0 when there is nothing to send now. Runs the timers first (retransmission, delayed ACK, window
 * probe, keep-alive, dead peer, idle, close). What it returns counts as sent. */
int rel_output(struct rel_conn *c, uint64_t now_us, uint8_t *out, size_t cap);

/* rel_output without copying the payload: the same segment, in *seg, which points either
 * at out or, for most data segments, into the engine's send buffer, where the segment's
 * header was written just in front of its payload (the bytes it covered are put back by
 * the next call on c that uses that buffer). *seg stays valid until the next call on c;
 * seal it before anything else. Same returns as rel_output (out as its buffer for
 * segments that must be copied: no payload, or a payload that wraps around the buffer). */
int rel_output_view(struct rel_conn *c, uint64_t now_us, uint8_t *out, size_t cap,
		    const uint8_t **seg);

/* When the host must next call rel_output even without input (UINT64_MAX: never). */
uint64_t rel_next_deadline(const struct rel_conn *c);

/* Queues application data. Ordered: as many bytes as fit (>= 1), or -EAGAIN when the send
 * buffer is full. Unordered: one whole message (1..REL_MAX_MSG bytes) and returns len, or
 * -EAGAIN when it does not fit now, INSEL_E_TOO_BIG when it never will.
 * INSEL_E_CLOSED after rel_close or the end of the connection (rel_error says why). */
int rel_send(struct rel_conn *c, const void *data, size_t len);
/* Bytes rel_send would accept now (unordered: the largest message). */
size_t rel_send_space(const struct rel_conn *c);
/* Ordered, without a copy: where the next bytes go in the send buffer and how many fit
 * there in one piece (0: none now, or unordered). The host writes there (a socket read
 * straight into the buffer), then rel_send_commit queues len of them (at most that room)
 * as rel_send would: len, INSEL_E_CLOSED as rel_send, INSEL_E_BAD_FIELD beyond the room.
 * Nothing written there counts until committed. */
size_t rel_send_room(struct rel_conn *c, uint8_t **at);
int rel_send_commit(struct rel_conn *c, size_t len);

/* Takes delivered data. Ordered: up to cap bytes in order. Unordered: one whole message,
 * or INSEL_E_NOSPACE if cap is smaller than it (rel_recv_next_len tells its size).
 * 0 at the end of the stream (the peer's FIN, everything before it taken); -EAGAIN when
 * nothing is ready; the connection's error once it was aborted or timed out. */
int rel_recv(struct rel_conn *c, void *buf, size_t cap);
/* Unordered: the length of the next message rel_recv returns, or 0 if none. Ordered: the
 * bytes ready. */
size_t rel_recv_next_len(const struct rel_conn *c);
/* Ordered, without a copy: the bytes rel_recv would return next, in place in the
 * receive buffer, as many as lie in one piece (0 when none is ready, or unordered, or the
 * connection ended: rel_recv then says the end or the error). They stay valid and in
 * place until rel_recv_consume takes n of them (at most what peek returned), which opens
 * the window as rel_recv does. */
size_t rel_recv_peek(const struct rel_conn *c, const uint8_t **at);
void rel_recv_consume(struct rel_conn *c, size_t n);

/* Finishes sending: the data queued is delivered, then a FIN; aborts (RST, REL_ABORTED
 * with INSEL_E_TIMEOUT) if the FIN is not acknowledged within close_ms. The connection
 * reaches REL_CLOSED when the peer's FIN has come too and ours is acknowledged. */
void rel_close(struct rel_conn *c, uint64_t now_us);
/* Ends at once: discards both buffers, queues one RST, REL_ABORTED. */
void rel_abort(struct rel_conn *c);

enum rel_state rel_state(const struct rel_conn *c);
/* 0 while open or closed cleanly; INSEL_E_TIMEOUT (the peer vanished, or a close or
 * idle close that never finished), INSEL_E_CLOSED (the peer aborted: RST). */
int rel_error(const struct rel_conn *c);
/* True once the host may free the connection: aborted or timed out with nothing left to
 * send, or closed and a short linger (for the peer's retransmitted FIN) is over. */
bool rel_done(const struct rel_conn *c, uint64_t now_us);
/* True when the peer finished its stream (FIN received). */
bool rel_peer_finished(const struct rel_conn *c);

void rel_get_stats(const struct rel_conn *c, struct rel_stats *out);
const char *rel_state_name(enum rel_state s);

#endif
