/* A reliable channel (docs/reliable.md): the auxiliary hosts the reliable engine
 * (common/data/reliable.h) between the channel's sealed frames and the call's party on the
 * LAN. The engine's segments travel as the channel's messages, so rekeying, path changes,
 * failover and the relay carry them as they carry datagrams; the engine only sees some of
 * them late or never, and recovers.
 *
 * The party reaches the engine over TCP on the gateway's LAN address, at the channel's
 * LAN port, which it learnt from its call object with the channel's token. The listener
 * is bound at "bind" (before confinement: the allowlist has accept, never socket or
 * bind); only the call's party address is served, one connection at a time, and a
 * connection is nothing until its hello carries the token (stream_attach.h), checked in
 * constant time, within STREAM_HELLO_MS. A LAN stranger can therefore neither read nor
 * inject: it cannot connect from the party's address without being on that host, and
 * without the token it is closed after its hello.
 *
 * Back-pressure goes both ways without copies beyond one buffer: bytes the engine's send
 * buffer cannot take wait in `in` and the party's socket stops being read (until a
 * quarter of the buffer is free again); delivered bytes are written to the party only
 * while less than STREAM_TO_PARTY_MAX is queued in libuv (ordered: one write), so an
 * unread stream fills the engine's receive window and the peer's sender waits. Ordered
 * streams mostly skip even that buffer: the party's socket is read straight into the
 * engine's send buffer (rel_send_room) and written straight from its receive buffer
 * (rel_recv_peek) while the socket takes it.
 *
 * The call ends with the connection: stream_closed once both sides finished and the
 * last bytes reached the party, stream_aborted, or stream_timeout when the peer vanished
 * ([limits] dead_after); an attached party sees its TCP connection reset on the last two
 * and learns the reason from its gateway (call_ended). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auxiliary.h"
#include "cmd.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "reliable.h"
#include "stream_attach.h"
#include "wire_errors.h"

#define STREAM_CHUNK (64 << 10)          /* read from or written to the party at once */
#define STREAM_TO_PARTY_MAX (1 << 20)    /* queued toward the party before we wait */
#define STREAM_IN_PLACE_MIN (16 << 10)  /* a smaller room in the send buffer: read_buffer */
#define STREAM_HELLO_MS 5000             /* an unauthenticated connection's grace */
#define STREAM_BACKLOG 4
/* Pipelining between the two auxiliaries. The sender hands the kernel its segments 64 at
 * a time (one GSO run) instead of sealing a whole window first. The receiver answers at
 * the end of each wake-up's reads (stream_service) and, within a long one (up to 4
 * recvmmsg of 16 GRO'd datagrams of up to 64 frames), after every STREAM_ACK_EVERY
 * segments: with one ACK per batch only, the sender sat idle while the receiver opened
 * the window it had sent, and the two took turns. Each ACK datagram is its own sendmmsg,
 * trip through the network and wake-up of the sender: every 16 segments was about
 * 10,000 of them per 200 MiB, every 64 about 3,000 (their sending alone 13% of the
 * receiving auxiliary's CPU). 256 segments (350 KB) are still a twelfth of the 4 MiB
 * window, far below the round trip that queueing makes of it under load. News for the
 * sender's loss recovery (a hole opened or closed, a FIN, an ACK request) is answered at
 * once (rel_ack_urgent). While a hole is open the sender is in loss recovery, its window
 * small (at 5% loss a few dozen segments) and clocked by these ACKs: every 64th segment
 * then, as before, counted across batches (not from the last ACK): a batch in recovery
 * is shorter than 64, and with the count restarted at each batch's ACK the sender got
 * about one ACK per flight, and losing it (5% are lost) left the sender to a probe or a
 * time-out: 7 time-outs in 10 transfers at 5%, none with the count kept. */
#define STREAM_BURST 64
#define STREAM_ACK_EVERY 256
#define STREAM_ACK_IN_RECOVERY 64
/* Closed cleanly with nobody attached: the call ends this much later, so that a party
 * that just read the end can still ask for the final counters (insel send-file does). */
#define STREAM_END_GRACE_MS 3000
/* Reading the party stops when the engine's send buffer (REL_DEFAULT_BUF) is full and
 * starts again only once this much is free: resuming as soon as one chunk fitted stopped
 * and started the read (two epoll_ctl) for every 64 KiB, 6% of the sending auxiliary's
 * CPU in the benchmark. A quarter of the buffer still holds several round trips' worth at
 * the benchmark's rate. */
#define STREAM_REFILL (REL_DEFAULT_BUF / 4)
/* Write buffers toward the party kept for reuse, enough for STREAM_TO_PARTY_MAX: one
 * malloc and free of 64 KiB per chunk made glibc trim and grow its heap over and over,
 * and the page faults of the fresh pages cost the receiving auxiliary about 6% of its CPU
 * in the benchmark. */
#define STREAM_SPARE_WRITES (STREAM_TO_PARTY_MAX / STREAM_CHUNK)

struct aux_stream {
	struct bridge *br;
	struct aux_lan *lan;
	enum negotiate_mode mode;
	uint8_t token[STREAM_TOKEN_LEN];
	struct rel_conn *rel;                /* NULL until "start" */
	uv_tcp_t listener;
	bool listener_open;
	uv_tcp_t party;                      /* the connection served now */
	bool party_open, party_closing;
	bool attached;                       /* its hello carried the token */
	enum stream_verb verb;
	uint8_t hello[STREAM_HELLO_LEN];
	size_t hello_got;
	uv_timer_t timer;                    /* the engine's next deadline */
	bool timer_open;
	uv_timer_t hello_timer;
	bool hello_timer_open;
	bool reading;
	/* Bytes read from the party that the engine could not take yet. */
	uint8_t *in;
	size_t in_len, in_off;
	/* Unordered: the party frames messages as a 4-byte length and the message. */
	uint8_t hdr[4];
	size_t hdr_got;
	uint32_t msg_len;
	size_t msg_got;
	uint8_t *msg;
	bool msg_ready;                      /* whole, waiting for room in the engine */
	size_t to_party;                     /* bytes in write requests */
	bool eof_to_party;                   /* the peer's end of stream passed on */
	uv_shutdown_t shutdown_req;
	bool reply_when_closed;              /* a close verb waits for the engine */
	bool party_eof;                      /* the attached party finished writing */
	uint64_t closed_at;                  /* closed and done, nobody attached: since */
	bool dirty;                          /* input since the last service */
	unsigned taken;                      /* segments in, for STREAM_ACK_EVERY */
	struct party_write *spare[STREAM_SPARE_WRITES];  /* chunk-sized, for reuse */
	struct channel_room room;            /* opens segments in the engine (stream_room) */
	unsigned n_spare;
	uint64_t attaches, refused;
};

struct party_write {
	uv_write_t req;
	struct aux_stream *s;
	size_t len, cap;
	uint8_t data[];
};

static uint8_t read_buffer[STREAM_CHUNK];
static uint8_t segment[REL_MAX_MSS];

static uint64_t now_us(void)
{
	return uv_hrtime() / 1000;
}

static void service(struct aux_stream *s);

/* ---- toward the peer ---- */

struct seal_ctx {
	struct bridge *br;
	const struct ip_endpoint *peer;
};

static int emit_fragment(void *ctx, const uint8_t *dgram, size_t len)
{
	struct seal_ctx *c = ctx;

	return batch_add(c->br, &aux_to_wan, &c->br->wan, c->peer, dgram, len,
			 &c->br->wan_errors);
}

/* One segment as one channel message (fragmented only when the path's MTU shrank below
 * the MSS the engine was given). */
static void seal_segment(struct aux_stream *s, const uint8_t *seg, size_t n, uint64_t now)
{
	struct bridge *br = s->br;
	struct aux_lan *l = s->lan;
	struct seal_ctx c = {br, channel_peer(l->ch)};

	if (n <= channel_payload_max(l->ch) && n + FRAME_OVERHEAD <= AUX_BATCH_FRAME) {
		uint8_t *slot = batch_slot(br, &aux_to_wan, &br->wan, c.peer, &br->wan_errors);
		long sealed = channel_seal_one(l->ch, seg, n, now, slot, AUX_BATCH_FRAME);

		if (sealed < 0)
			l->drop_not_sealed++;
		else
			batch_commit(&aux_to_wan, (size_t)sealed);
		return;
	}
	if (channel_seal(l->ch, seg, n, now, emit_fragment, &c) < 0)
		l->drop_not_sealed++;
}

static void on_timer(uv_timer_t *t)
{
	service(t->data);
}

static void arm_timer(struct aux_stream *s, uint64_t now)
{
	uint64_t deadline = rel_next_deadline(s->rel);

	if (!s->timer_open || s->br->state != AUX_RUNNING)
		return;
	if (deadline == UINT64_MAX) {
		uv_timer_stop(&s->timer);
		return;
	}
	uv_timer_start(&s->timer, on_timer, deadline > now ? (deadline - now + 999) / 1000 : 0,
		       0);
}

/* Everything the engine wants sent now, in one batch. */
static void send_segments(struct aux_stream *s, uint64_t now)
{
	struct bridge *br = s->br;
	uint64_t now_ms = uv_now(br->loop);
	const uint8_t *seg;
	unsigned sent = 0;
	int n;

	/* Each segment sealed where it lies, mostly in the engine's send buffer
	 * (rel_output_view): the payload is read once, by the cipher. */
	while (br->state == AUX_RUNNING &&
	       (n = rel_output_view(s->rel, now, segment, sizeof segment, &seg)) > 0) {
		seal_segment(s, seg, (size_t)n, now_ms);
		if (++sent % STREAM_BURST == 0)
			batch_flush(br, &aux_to_wan);
	}
	if (!sent)
		return;
	batch_flush(br, &aux_to_wan);
	path_data_sent(br, now_ms);
}

/* ---- the party's connection ---- */

static void on_party_closed(uv_handle_t *h)
{
	struct aux_stream *s = h->data;

	s->party_open = s->party_closing = false;
}

static void detach(struct aux_stream *s, bool reset)
{
	if (!s->party_open || s->party_closing)
		return;
	s->party_closing = true;
	s->attached = s->reading = false;
	s->hello_got = 0;
	s->in_len = s->in_off = 0;
	s->hdr_got = s->msg_got = 0;
	s->msg_ready = false;
	s->reply_when_closed = false;
	s->party_eof = false;
	if (s->hello_timer_open)
		uv_timer_stop(&s->hello_timer);
	if (reset)
		uv_tcp_close_reset(&s->party, on_party_closed);
	else
		uv_close((uv_handle_t *)&s->party, on_party_closed);
}

/* A status byte or line: small, so written at once (the socket's buffer is empty or
 * nearly); what does not fit is dropped with the connection. */
static void say(struct aux_stream *s, const void *data, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);

	if (s->party_open && !s->party_closing && uv_try_write((uv_stream_t *)&s->party, &b, 1) !=
	    (int)len)
		log_warn("reliable channel %u: a status to the party did not fit", s->lan->index);
}

static void say_status(struct aux_stream *s, enum stream_status st)
{
	uint8_t byte = (uint8_t)st;

	say(s, &byte, 1);
}

/* A write buffer of cap bytes: a chunk-sized one from the spares when there is one. */
static struct party_write *party_write_new(struct aux_stream *s, size_t cap)
{
	struct party_write *w;

	if (cap == STREAM_CHUNK && s->n_spare)
		return s->spare[--s->n_spare];
	w = malloc(sizeof *w + cap);
	if (w)
		w->cap = cap;
	return w;
}

static void party_write_done(struct aux_stream *s, struct party_write *w)
{
	if (w->cap == STREAM_CHUNK && s->n_spare < STREAM_SPARE_WRITES)
		s->spare[s->n_spare++] = w;
	else
		free(w);
}

static void on_written(uv_write_t *req, int status)
{
	struct party_write *w = (struct party_write *)req;
	struct aux_stream *s = w->s;

	(void)status;
	s->to_party -= w->len;
	party_write_done(s, w);
	if (s->br->state == AUX_RUNNING)
		service(s);
}

static int write_party(struct aux_stream *s, struct party_write *w, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
	int rc;

	w->s = s;
	w->len = len;
	rc = uv_write(&w->req, (uv_stream_t *)&s->party, &b, 1, on_written);
	if (rc) {
		party_write_done(s, w);
		return rc;
	}
	s->to_party += len;
	s->br->last_data_ms = uv_now(s->br->loop);
	return 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)req;
	(void)status;
}

static bool delivers(const struct aux_stream *s)
{
	return s->attached && !s->party_closing &&
	       (s->verb == STREAM_VERB_DUPLEX || s->verb == STREAM_VERB_RECV);
}

/* The peer's end of stream: the party's read side ends once the writes before it are
 * out (libuv queues the shutdown behind them). A reader alone closes our side too. */
static void end_to_party(struct aux_stream *s)
{
	if (s->eof_to_party)
		return;
	s->eof_to_party = true;
	uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->party, on_shutdown);
	if (s->verb == STREAM_VERB_RECV)
		rel_close(s->rel, now_us());
}

/* Ordered: delivered bytes written to the party straight from the engine's receive
 * buffer while its socket takes them and nothing is queued before them (no copy into a
 * write buffer). Returns false once the socket is full. */
static bool deliver_in_place(struct aux_stream *s)
{
	while (s->to_party == 0 && delivers(s) && !s->eof_to_party) {
		const uint8_t *at;
		size_t ready = rel_recv_peek(s->rel, &at);
		uv_buf_t b = uv_buf_init((char *)at, (unsigned)(ready < STREAM_TO_PARTY_MAX
								 ? ready : STREAM_TO_PARTY_MAX));
		int n;

		if (ready == 0)
			return true;
		n = uv_try_write((uv_stream_t *)&s->party, &b, 1);
		if (n <= 0)
			return false;
		rel_recv_consume(s->rel, (size_t)n);
		s->br->last_data_ms = uv_now(s->br->loop);
		if ((size_t)n < b.len)
			return false;
	}
	return true;
}

/* Delivered bytes (ordered) or messages with their length (unordered) to the party.
 * Ordered, what the socket does not take now goes into one queued write, whose
 * completion says when it takes more; then in place again. */
static void deliver(struct aux_stream *s)
{
	bool ordered = s->mode == NEGOTIATE_ORDERED;

	if (ordered)
		deliver_in_place(s);
	while (delivers(s) && !s->eof_to_party &&
	       s->to_party < (ordered ? 1 : STREAM_TO_PARTY_MAX)) {
		bool framed = s->mode == NEGOTIATE_UNORDERED;
		size_t want = framed ? rel_recv_next_len(s->rel) : STREAM_CHUNK;
		struct party_write *w;
		int n;

		if (framed && want == 0 && !rel_peer_finished(s->rel))
			return;
		w = party_write_new(s, framed ? 4 + (want ? want : 1) : STREAM_CHUNK);
		if (!w)
			return;
		n = rel_recv(s->rel, w->data + (framed ? 4 : 0), want ? want : 1);
		if (n <= 0) {
			party_write_done(s, w);
			if (n == 0)
				end_to_party(s);
			return;
		}
		if (framed) {
			w->data[0] = (uint8_t)(n >> 24);
			w->data[1] = (uint8_t)(n >> 16);
			w->data[2] = (uint8_t)(n >> 8);
			w->data[3] = (uint8_t)n;
		}
		if (write_party(s, w, (size_t)n + (framed ? 4 : 0)))
			return;
	}
}

/* An attached sender's bytes can be read straight into the engine's send buffer. */
static bool reads_in_place(const struct aux_stream *s)
{
	return s->rel && s->attached && !s->party_closing && s->mode == NEGOTIATE_ORDERED &&
	       (s->verb == STREAM_VERB_DUPLEX || s->verb == STREAM_VERB_SEND) &&
	       s->in_off >= s->in_len;
}

/* Into the engine's send buffer when it has room in one piece (ordered: no copy through
 * read_buffer); else, and for the hello, into read_buffer. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct aux_stream *s = h->data;
	uint8_t *at;
	size_t room;

	(void)suggested;
	if (reads_in_place(s) && (room = rel_send_room(s->rel, &at)) >= STREAM_IN_PLACE_MIN) {
		*b = uv_buf_init((char *)at, (unsigned)(room < STREAM_TO_PARTY_MAX
							? room : STREAM_TO_PARTY_MAX));
		return;
	}
	*b = uv_buf_init((char *)read_buffer, sizeof read_buffer);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static void pause_reading(struct aux_stream *s)
{
	if (s->reading)
		uv_read_stop((uv_stream_t *)&s->party);
	s->reading = false;
}

static void resume_reading(struct aux_stream *s)
{
	if (!s->reading && s->party_open && !s->party_closing &&
	    uv_read_start((uv_stream_t *)&s->party, on_alloc, on_read) == 0)
		s->reading = true;
}

/* Unordered: bytes into the message being framed; a whole one goes to the engine.
 * Returns what was consumed (less than n when the engine is full). */
static size_t frame_messages(struct aux_stream *s, const uint8_t *data, size_t n)
{
	size_t used = 0;

	while (used < n || s->msg_ready) {
		if (s->msg_ready) {
			int rc = rel_send(s->rel, s->msg, s->msg_len);

			if (rc == -EAGAIN)
				return used;
			s->msg_ready = false;
			s->hdr_got = s->msg_got = 0;
			continue;
		}
		if (s->hdr_got < 4) {
			s->hdr[s->hdr_got++] = data[used++];
			if (s->hdr_got < 4)
				continue;
			s->msg_len = (uint32_t)s->hdr[0] << 24 | (uint32_t)s->hdr[1] << 16 |
				     (uint32_t)s->hdr[2] << 8 | s->hdr[3];
			if (s->msg_len == 0 || s->msg_len > REL_MAX_MSG) {
				log_warn("reliable channel %u: the party framed a message of %u "
					 "bytes; detached", s->lan->index, (unsigned)s->msg_len);
				detach(s, true);
				return n;
			}
			continue;
		}
		size_t take = s->msg_len - s->msg_got < n - used ? s->msg_len - s->msg_got
								 : n - used;

		memcpy(s->msg + s->msg_got, data + used, take);
		s->msg_got += take;
		used += take;
		s->msg_ready = s->msg_got == s->msg_len;
	}
	return used;
}

/* Bytes from the party into the engine; returns what it took. */
static size_t take_from_party(struct aux_stream *s, const uint8_t *data, size_t n)
{
	size_t used = 0;

	if (s->mode == NEGOTIATE_UNORDERED)
		return frame_messages(s, data, n);
	while (used < n) {
		int rc = rel_send(s->rel, data + used, n - used);

		if (rc <= 0)
			break;
		used += (size_t)rc;
	}
	return used;
}

/* What waited for room in the engine, then the socket again. */
static void drain_pending(struct aux_stream *s)
{
	if (!s->attached || s->party_closing)
		return;
	if (s->in_off < s->in_len || s->msg_ready) {
		s->in_off += take_from_party(s, s->in + s->in_off, s->in_len - s->in_off);
		if (s->in_off < s->in_len || s->msg_ready)
			return;
		s->in_off = s->in_len = 0;
	}
	if (s->reading || (s->verb != STREAM_VERB_DUPLEX && s->verb != STREAM_VERB_SEND))
		return;
	if (s->mode == NEGOTIATE_ORDERED && rel_state(s->rel) <= REL_ESTABLISHED &&
	    rel_send_space(s->rel) < STREAM_REFILL)
		return;  /* an acknowledgement frees more and calls again */
	resume_reading(s);
}

static void party_data(struct aux_stream *s, const uint8_t *data, size_t n)
{
	size_t used;

	if (s->verb != STREAM_VERB_DUPLEX && s->verb != STREAM_VERB_SEND)
		return;  /* a reader, closer or asker sends nothing after its hello */
	s->br->last_data_ms = uv_now(s->br->loop);
	used = take_from_party(s, data, n);
	if (used < n && !s->party_closing) {
		memcpy(s->in, data + used, n - used);
		s->in_len = n - used;
		s->in_off = 0;
		pause_reading(s);
	}
}

/* The party finished writing: a duplex party finishes our stream, a sender detaches. */
static void party_finished(struct aux_stream *s)
{
	pause_reading(s);
	s->party_eof = true;
	if (s->verb == STREAM_VERB_DUPLEX) {
		rel_close(s->rel, now_us());
		return;
	}
	if (s->verb == STREAM_VERB_CLOSE && s->reply_when_closed)
		return;  /* waits for the engine; the reply goes nowhere if it left */
	detach(s, false);
}

static void status_line(struct aux_stream *s)
{
	json_t *j = stream_stats_json(s->lan);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (text) {
		size_t len = strlen(text);

		text[len] = '\n';  /* over the NUL: say writes len + 1 bytes */
		say(s, text, len + 1);
		free(text);
	}
	json_decref(j);
}

/* The hello checked: what the verb asks. */
static void attach(struct aux_stream *s, const struct stream_hello *h)
{
	enum rel_state st = rel_state(s->rel);
	bool over = st == REL_ABORTED || st == REL_TIMED_OUT;

	s->attaches++;
	s->attached = true;
	s->verb = h->verb;
	if (s->hello_timer_open)
		uv_timer_stop(&s->hello_timer);
	switch (h->verb) {
	case STREAM_VERB_STATUS:
		status_line(s);
		detach(s, false);
		return;
	case STREAM_VERB_ABORT:
		rel_abort(s->rel);
		say_status(s, STREAM_ATTACH_OK);
		detach(s, false);
		return;
	case STREAM_VERB_CLOSE:
		if (over) {
			say_status(s, STREAM_ATTACH_ENDED);
			detach(s, false);
			return;
		}
		s->reply_when_closed = true;
		rel_close(s->rel, now_us());
		return;
	default:
		if (over) {
			say_status(s, STREAM_ATTACH_ENDED);
			detach(s, false);
			return;
		}
		s->eof_to_party = false;
		say_status(s, STREAM_ATTACH_OK);
	}
}

static void hello_bytes(struct aux_stream *s, const uint8_t *data, size_t n)
{
	size_t take = STREAM_HELLO_LEN - s->hello_got < n ? STREAM_HELLO_LEN - s->hello_got : n;
	struct stream_hello h;

	memcpy(s->hello + s->hello_got, data, take);
	s->hello_got += take;
	if (s->hello_got < STREAM_HELLO_LEN)
		return;
	if (stream_hello_decode(s->hello, STREAM_HELLO_LEN, &h) != 0 ||
	    !stream_token_equal(h.token, s->token)) {
		s->refused++;
		log_warn("reliable channel %u: an attachment with a wrong hello or token; closed",
			 s->lan->index);
		say_status(s, STREAM_ATTACH_BAD_TOKEN);
		detach(s, false);
		return;
	}
	attach(s, &h);
	if (take < n && s->attached)
		party_data(s, data + take, n - take);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct aux_stream *s = st->data;

	if (s->br->state != AUX_RUNNING || s->party_closing)
		return;
	if (n < 0) {
		if (!s->attached)
			detach(s, false);
		else
			party_finished(s);
	} else if (n > 0 && !s->attached) {
		hello_bytes(s, (const uint8_t *)b->base, (size_t)n);
	} else if (n > 0 && b->base != (char *)read_buffer) {
		s->br->last_data_ms = uv_now(s->br->loop);  /* read in place (on_alloc) */
		rel_send_commit(s->rel, (size_t)n);
	} else if (n > 0) {
		party_data(s, (const uint8_t *)b->base, (size_t)n);
	}
	if (s->br->state == AUX_RUNNING)
		service(s);
}

static void on_hello_late(uv_timer_t *t)
{
	struct aux_stream *s = t->data;

	if (!s->attached) {
		s->refused++;
		detach(s, false);
	}
}

static bool from_party(struct aux_stream *s, uv_tcp_t *c)
{
	struct sockaddr_storage ss;
	struct ip_endpoint from;
	int len = sizeof ss;

	return uv_tcp_getpeername(c, (struct sockaddr *)&ss, &len) == 0 &&
	       ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &from) == 0 &&
	       ip_addr_equal(&from.addr, &s->br->party);
}

static void on_refused_closed(uv_handle_t *h)
{
	free(h);
}

/* A connection we will not serve (busy, not started, another host): closed at once. */
static void refuse_connection(struct aux_stream *s)
{
	uv_tcp_t *c = malloc(sizeof *c);

	s->refused++;
	if (!c || uv_tcp_init(s->br->loop, c) != 0) {
		free(c);
		return;
	}
	if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)c) == 0)
		uv_tcp_close_reset(c, on_refused_closed);
	else
		uv_close((uv_handle_t *)c, on_refused_closed);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct aux_stream *s = listener->data;

	if (status < 0 || s->br->state != AUX_RUNNING)
		return;
	if (!s->rel || s->party_open) {
		refuse_connection(s);
		return;
	}
	if (uv_tcp_init(s->br->loop, &s->party) != 0)
		return;
	s->party.data = s;
	s->party_open = true;
	if (uv_accept(listener, (uv_stream_t *)&s->party) != 0 || !from_party(s, &s->party)) {
		s->refused++;
		detach(s, true);
		return;
	}
	uv_tcp_nodelay(&s->party, 1);
	uv_timer_start(&s->hello_timer, on_hello_late, STREAM_HELLO_MS, 0);
	resume_reading(s);
}

/* ---- the end ---- */

static void end_call(struct aux_stream *s, const char *reason, const char *message)
{
	char text[160];

	snprintf(text, sizeof text, "reliable channel %u: %s", s->lan->index, message);
	bridge_end(s->br, reason, text, EXIT_OK, true);
}

/* A close is answered once everything we sent, the end included, was acknowledged
 * (the peer's party may read it later: the call stays until it did, or idles out). */
static bool drained(const struct aux_stream *s)
{
	struct rel_stats st;

	rel_get_stats(s->rel, &st);
	return st.state == REL_CLOSED ||
	       (st.state == REL_CLOSING && st.send_queued == 0 && st.flight == 0);
}

/* Whether the connection is over, and the call with it. */
static void check_end(struct aux_stream *s)
{
	enum rel_state st = rel_state(s->rel);
	uint64_t now = now_us();

	if (s->reply_when_closed && drained(s)) {
		say_status(s, STREAM_ATTACH_OK);
		detach(s, false);
	}
	/* A duplex party that finished writing and has everything, the end included. */
	if (s->attached && s->verb == STREAM_VERB_DUPLEX && s->party_eof && s->eof_to_party &&
	    s->to_party == 0)
		detach(s, false);
	if (st == REL_ABORTED || st == REL_TIMED_OUT) {
		if (s->reply_when_closed)
			say_status(s, STREAM_ATTACH_FAILED);
		detach(s, true);
		if (!rel_done(s->rel, now))
			return;
		if (st == REL_TIMED_OUT)
			end_call(s, WIRE(STREAM_TIMEOUT), "the peer went silent with data "
				 "outstanding");
		else
			end_call(s, WIRE(STREAM_ABORTED), rel_error(s->rel) == INSEL_E_TIMEOUT ?
				 "the close was not acknowledged in time" : "aborted");
		return;
	}
	/* Closed cleanly, nobody attached: the call ends after the grace. */
	if (st != REL_CLOSED || !rel_done(s->rel, now) || s->party_open) {
		s->closed_at = 0;
		return;
	}
	if (!s->closed_at)
		s->closed_at = now;
	if (now - s->closed_at >= STREAM_END_GRACE_MS * 1000ULL)
		end_call(s, WIRE(STREAM_CLOSED), "closed by both sides");
	else
		uv_timer_start(&s->timer, on_timer,
			       STREAM_END_GRACE_MS - (now - s->closed_at) / 1000, 0);
}

static void service(struct aux_stream *s)
{
	uint64_t now;

	if (!s->rel || s->br->state != AUX_RUNNING)
		return;
	s->dirty = false;
	deliver(s);
	drain_pending(s);
	now = now_us();
	send_segments(s, now);
	if (s->br->state != AUX_RUNNING)
		return;
	if (s->br->state == AUX_RUNNING)
		arm_timer(s, now);
	check_end(s);
}

/* ---- the relay's entry points ---- */

int stream_prepare(struct bridge *br, struct aux_lan *l, char *why, size_t whylen)
{
	struct ip_endpoint ep = {.addr = br->lan_addr, .port = l->port};
	struct aux_stream *s = calloc(1, sizeof *s);
	struct sockaddr_storage ss;
	char text[IP_STRLEN];
	int rc;

	if (!s)
		return -ENOMEM;
	l->stream = s;
	s->br = br;
	s->lan = l;
	s->in = malloc(STREAM_CHUNK);
	s->msg = malloc(REL_MAX_MSG);
	rc = s->in && s->msg ? 0 : -ENOMEM;
	rc = rc ? rc : uv_tcp_init(br->loop, &s->listener);
	if (rc == 0)
		s->listener_open = true;
	rc = rc ? rc : uv_timer_init(br->loop, &s->timer);
	if (rc == 0)
		s->timer_open = true;
	rc = rc ? rc : uv_timer_init(br->loop, &s->hello_timer);
	if (rc == 0)
		s->hello_timer_open = true;
	s->listener.data = s->timer.data = s->hello_timer.data = s;
	ip_endpoint_to_sockaddr(&ep, &ss);
	rc = rc ? rc : uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
	rc = rc ? rc : uv_listen((uv_stream_t *)&s->listener, STREAM_BACKLOG, on_connection);
	if (rc)
		snprintf(why, whylen, "cannot listen on TCP %s for the reliable channel: %s",
			 ip_endpoint_format(&ep, text, sizeof text), insel_strerror(rc));
	return rc;
}

/* One segment, one frame: the channel reassembles only CHANNEL_REASM_SLOTS fragmented
 * messages at once, so a lossy window of fragmented segments would be lost whole. A
 * segment starts at what fits path MTU discovery's base size (which fits one frame on
 * any path it settles on) and then follows the search (stream_follow_path): the channel's
 * largest one-frame payload at the size the path was proven to carry. Larger segments
 * mean fewer seals, frames and ACKs per byte: 1368 bytes instead of 1168 on a 1400-byte
 * channel. Segments cut before a shrink are resent fragmented (seal_segment). */
static uint32_t segment_size(const struct aux_lan *l, bool path_known)
{
	size_t mss = channel_payload_max(l->ch);

	if (!path_known && mss > PMTUD_BASE_PLPMTU - FRAME_OVERHEAD)
		mss = PMTUD_BASE_PLPMTU - FRAME_OVERHEAD;
	if (mss < REL_MIN_MSS)
		mss = REL_MIN_MSS;
	return mss > REL_MAX_MSS ? REL_MAX_MSS : (uint32_t)mss;
}

void stream_follow_path(struct aux_lan *l)
{
	struct aux_stream *s = l->stream;
	struct rel_stats st;
	uint32_t mss;

	if (!s || !s->rel)
		return;
	mss = segment_size(l, true);
	rel_get_stats(s->rel, &st);
	if (st.mss != mss)
		(void)rel_set_mss(s->rel, mss);
}

int stream_start(struct bridge *br, struct aux_lan *l, const struct aux_start_channel *c)
{
	struct aux_stream *s = l->stream;
	uint32_t dead = c->params.dead_after_ms ? c->params.dead_after_ms
						: CHANNEL_DEFAULT_DEAD_AFTER_MS;
	struct rel_params p = {
		/* Both ends know the call id and the channel: no handshake needed. */
		.conn_id = (uint32_t)br->call_id ^ l->index,
		.unordered = c->mode == NEGOTIATE_UNORDERED,
		.mss = segment_size(l, false),
		/* The call's idle time-out (timers.c) counts the party's bytes: the engine's
		 * own would end the stream while a party is slow to attach. */
		.idle_ms = UINT32_MAX,
		/* Shorter than the channel's dead peer, so the call ends saying why. */
		.dead_ms = dead - dead / 4,
		.close_ms = dead,
	};
	int rc = 0;

	if (!s || c->mode == NEGOTIATE_DATAGRAM)
		return s ? INSEL_E_BAD_FIELD : 0;  /* bound reliable, started datagram: refused */
	s->mode = c->mode;
	memcpy(s->token, c->token, sizeof s->token);
	s->rel = rel_new(&p, now_us(), &rc);
	return s->rel ? 0 : rc;
}

static uint8_t *room_in_engine(void *ctx, size_t len)
{
	struct aux_stream *s = ctx;

	return rel_input_room(s->rel, len);
}

const struct channel_room *stream_room(struct aux_lan *l)
{
	struct aux_stream *s = l->stream;

	if (!s || !s->rel)
		return NULL;
	s->room = (struct channel_room){room_in_engine, s};
	return &s->room;
}

void stream_unroom(struct aux_lan *l)
{
	if (l->stream && l->stream->rel)
		rel_input_unroom(l->stream->rel);
}

bool stream_take(struct bridge *br, struct aux_lan *l, const struct channel_msg *m,
		 uint64_t now)
{
	struct aux_stream *s = l->stream;
	unsigned every;

	(void)br;
	if (!s)
		return false;
	if (s->rel && rel_input(s->rel, m->data, m->len, now) == 0) {
		s->dirty = true;
		every = rel_recv_has_hole(s->rel) ? STREAM_ACK_IN_RECOVERY : STREAM_ACK_EVERY;
		if (++s->taken % every == 0 || rel_ack_urgent(s->rel))
			send_segments(s, now);
	}
	return true;
}

void stream_service(struct bridge *br)
{
	for (unsigned i = 0; i < br->n_lan && br->state == AUX_RUNNING; i++)
		if (br->lan[i].stream && br->lan[i].stream->dirty)
			service(br->lan[i].stream);
}

static void close_if(uv_handle_t *h, bool *open)
{
	if (*open && !uv_is_closing(h))
		uv_close(h, NULL);
	*open = false;
}

void stream_close(struct bridge *br)
{
	for (unsigned i = 0; i < br->n_lan; i++) {
		struct aux_stream *s = br->lan[i].stream;

		if (!s)
			continue;
		close_if((uv_handle_t *)&s->listener, &s->listener_open);
		close_if((uv_handle_t *)&s->timer, &s->timer_open);
		close_if((uv_handle_t *)&s->hello_timer, &s->hello_timer_open);
		if (s->party_open && !s->party_closing) {
			s->party_closing = true;
			uv_close((uv_handle_t *)&s->party, on_party_closed);
		}
	}
}

void stream_release(struct bridge *br)
{
	for (unsigned i = 0; i < br->n_lan; i++) {
		struct aux_stream *s = br->lan[i].stream;

		if (!s)
			continue;
		rel_free(s->rel);
		while (s->n_spare)
			free(s->spare[--s->n_spare]);
		free(s->in);
		free(s->msg);
		secure_wipe(s->token, sizeof s->token);
		free(s);
		br->lan[i].stream = NULL;
	}
}

json_t *stream_stats_json(const struct aux_lan *l)
{
	const struct aux_stream *s = l->stream;
	struct rel_stats st;

	if (!s)
		return NULL;
	if (!s->rel)
		return json_pack("{s:s}", "state", "binding");
	rel_get_stats(s->rel, &st);
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
			 "state", rel_state_name(st.state), "mode", negotiate_mode_name(s->mode),
			 "bytes_sent", (json_int_t)st.bytes_sent,
			 "bytes_acked", (json_int_t)st.bytes_acked,
			 "bytes_received", (json_int_t)st.bytes_received,
			 "bytes_delivered", (json_int_t)st.bytes_delivered,
			 "retransmits", (json_int_t)st.retransmits,
			 "timeouts", (json_int_t)st.timeouts,
			 "timeouts_undone", (json_int_t)st.timeouts_undone,
			 "loss_episodes", (json_int_t)st.fast_recoveries,
			 "segments_out", (json_int_t)st.segments_out,
			 "segments_in", (json_int_t)st.segments_in,
			 "mss", (json_int_t)st.mss,
			 "srtt_us", (json_int_t)st.srtt_us,
			 "rttvar_us", (json_int_t)st.rttvar_us,
			 "rto_us", (json_int_t)st.rto_us,
			 "cwnd", (json_int_t)st.cwnd,
			 "peer_window", (json_int_t)st.peer_window,
			 "flight", (json_int_t)st.flight,
			 "send_queued", (json_int_t)st.send_queued,
			 "cwnd_limited_us", (json_int_t)st.cwnd_limited_us,
			 "window_limited_us", (json_int_t)st.window_limited_us,
			 "data_limited_us", (json_int_t)st.data_limited_us,
			 "attaches", (json_int_t)s->attaches,
			 "refused", (json_int_t)s->refused,
			 "attached", s->attached);
}
