/* The data-channel state machine (see channel.h and docs/frames.md): sealing with
 * fragmentation and rekeying on the way out; cheap checks, replay filter, AEAD, roaming
 * and reassembly on the way in; keep-alive and dead-peer timers. */
#include "channel.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "aead.h"
#include "buf.h"
#include "err.h"
#include "replay.h"

#define KEY_LABEL "insel data key"  /* HKDF info prefix; the epoch follows, big-endian */

/* One fragmented message being put together. Fragments are placed at frag * chunk, where
 * chunk is the size of every fragment but the last; the last may arrive before chunk is
 * known, so it waits at the very end of the buffer and moves into place on completion. */
struct reasm_slot {
	bool used;
	uint64_t first_counter;  /* counter of fragment 0: the message's identity */
	uint64_t started_ms;
	uint8_t frags;
	uint8_t got;
	uint8_t type;            /* FRAME_DATA or FRAME_DATA_DEFLATE, the same for all */
	uint64_t have[4];        /* one bit per fragment index */
	size_t chunk;            /* 0 until a non-last fragment arrived */
	size_t last_len;         /* 0 until the last fragment arrived */
	uint8_t *data;           /* CHANNEL_MAX_MSG bytes */
};

struct channel {
	enum sec_cipher cipher;
	uint32_t local_session, remote_session;
	struct ip_endpoint peer;
	size_t mtu;
	size_t tx_cap;                /* bytes of tx: the largest mtu this channel had */
	uint64_t rekey_after_frames;
	uint64_t rekey_after_ms, keepalive_ms, dead_after_ms;
	uint64_t last_sent_ms, last_recv_ms;

	/* Sending: the current epoch's key, raw (to derive the next) and prepared. */
	uint8_t send_raw[SEC_KEY_LEN];
	struct aead send_aead;
	uint32_t send_epoch;
	uint64_t send_counter;        /* next counter to use; never repeats, across epochs */
	/* Probe counters of their own (channel_use_probe_space): probes take probe_counter,
	 * from CHANNEL_PROBE_SPACE up, and are checked against probe_replay, so that a probe
	 * that never arrives (to a candidate nothing answers from, larger than the path)
	 * leaves no gap among the frames meant for the peer. */
	bool probe_space;
	uint64_t probe_counter;
	uint64_t send_epoch_frames;
	uint64_t send_epoch_started_ms;

	/* External rekeying (params.external_rekey): epochs come from channel_install_epoch.
	 * The next epoch's send key waits here until the peer is known to hold it. */
	bool external;
	struct aead send_next;
	bool rekey_due_reported;     /* CHANNEL_REKEY_DUE said once for this send epoch */
	bool keepalive_wanted;       /* prove a new send epoch to the peer at once */

	/* Receiving: previous (for a grace period), current and next epochs' keys. */
	uint32_t recv_epoch;
	struct aead recv_prev, recv_cur, recv_next;
	uint64_t recv_prev_until_ms;
	uint8_t recv_next_raw[SEC_KEY_LEN];  /* to derive the epoch after next */
	struct replay_window replay;
	struct replay_window probe_replay;  /* with probe_space: PROBE frames only */
	uint64_t first_heard;  /* the counter of the first frame accepted (replay.any) */

	struct reasm_slot slots[CHANNEL_REASM_SLOTS];
	uint8_t *delivered;  /* reassembly buffer handed out last time; freed on next call */
	uint8_t *rx;         /* decrypted payload of the datagram being opened */
	uint8_t *tx;         /* datagram being built by channel_seal */
	uint8_t *probe_buf;  /* a probe's padded payload; allocated at the first probe */

	/* Compression (negotiated; off by default, see docs/frames.md on what it leaks).
	 * Each message is deflated on its own, so that a lost datagram costs only its
	 * message. */
	bool deflate;
	z_stream zout, zin;
	uint8_t *zbuf;       /* CHANNEL_MAX_MSG: a message compressed or inflated */
	struct channel_stats stats;
};

/* ---- key schedule ---- */

/* key(epoch) = HKDF-Expand-SHA256(key(epoch - 1), "insel data key" || epoch, 32). */
static int derive_next_key(const uint8_t cur[SEC_KEY_LEN], uint32_t next_epoch,
			   uint8_t out[SEC_KEY_LEN])
{
	uint8_t prk[SEC_KEY_LEN], info[sizeof KEY_LABEL - 1 + 4];
	gnutls_datum_t key = {prk, SEC_KEY_LEN}, inf = {info, sizeof info};
	struct buf_writer w;
	int rc;

	bw_init(&w, info, sizeof info);
	bw_bytes(&w, KEY_LABEL, sizeof KEY_LABEL - 1);
	bw_u32(&w, next_epoch);
	memcpy(prk, cur, SEC_KEY_LEN);
	rc = gnutls_hkdf_expand(GNUTLS_MAC_SHA256, &key, &inf, out, SEC_KEY_LEN);
	secure_wipe(prk, sizeof prk);
	return rc < 0 ? INSEL_E_CRYPTO : 0;
}

/* The sender's epoch advanced (either way of rekeying): the counters of the epoch. */
static void send_epoch_started(struct channel *ch, uint64_t now_ms)
{
	ch->send_epoch++;
	ch->send_epoch_frames = 0;
	ch->send_epoch_started_ms = now_ms;
	ch->rekey_due_reported = false;
	ch->stats.rekeys_out++;
}

/* External rekeying: the installed key of the next epoch becomes the send key. */
static void switch_send_to_next(struct channel *ch, uint64_t now_ms)
{
	aead_free(&ch->send_aead);
	ch->send_aead = ch->send_next;
	ch->send_next.handle = NULL;
	send_epoch_started(ch, now_ms);
	ch->keepalive_wanted = true;
}

/* Moves the sending side to the next epoch; the old key is gone afterwards. */
static int rekey_send(struct channel *ch, uint64_t now_ms)
{
	uint8_t next[SEC_KEY_LEN];
	struct aead fresh;
	int rc;

	if ((rc = derive_next_key(ch->send_raw, ch->send_epoch + 1, next)) != 0)
		return rc;
	rc = aead_init(&fresh, ch->cipher, next);
	if (rc == 0) {
		aead_free(&ch->send_aead);
		ch->send_aead = fresh;
		memcpy(ch->send_raw, next, SEC_KEY_LEN);
		send_epoch_started(ch, now_ms);
	}
	secure_wipe(next, sizeof next);
	return rc;
}

/* Prepares recv_next for epoch recv_epoch + 1 from recv_next_raw, which holds the key of
 * recv_epoch on entry and of recv_epoch + 1 on return. */
static int prepare_recv_next(struct channel *ch)
{
	uint8_t next[SEC_KEY_LEN];
	int rc;

	if ((rc = derive_next_key(ch->recv_next_raw, ch->recv_epoch + 1, next)) != 0)
		return rc;
	rc = aead_init(&ch->recv_next, ch->cipher, next);
	memcpy(ch->recv_next_raw, next, SEC_KEY_LEN);
	secure_wipe(next, sizeof next);
	return rc;
}

/* The peer's sender moved to the next epoch (proved by a frame that authenticated under
 * it): current becomes previous for a grace period, next becomes current. */
static void promote_recv_epoch(struct channel *ch, uint64_t now_ms)
{
	aead_free(&ch->recv_prev);
	ch->recv_prev = ch->recv_cur;
	ch->recv_prev_until_ms = now_ms + CHANNEL_REKEY_GRACE_MS;
	ch->recv_cur = ch->recv_next;
	ch->recv_next.handle = NULL;
	ch->recv_epoch++;
	ch->stats.rekeys_in++;
	if (ch->external) {
		/* The peer sends with the new epoch, so it holds its keys: we may too. */
		if (aead_ready(&ch->send_next) && ch->send_epoch + 1 == ch->recv_epoch)
			switch_send_to_next(ch, now_ms);
		return;
	}
	/* On failure recv_next stays empty: frames of the following epoch are then dropped
	 * as bad_epoch, which the peer sees as a dead channel rather than a silent hole. */
	prepare_recv_next(ch);
}

/* The key for a frame's epoch byte, or NULL. */
static struct aead *recv_key_for(struct channel *ch, uint8_t epoch, uint64_t now_ms)
{
	if (epoch == (uint8_t)ch->recv_epoch)
		return &ch->recv_cur;
	if (epoch == (uint8_t)(ch->recv_epoch + 1) && aead_ready(&ch->recv_next))
		return &ch->recv_next;
	if (epoch == (uint8_t)(ch->recv_epoch - 1) && aead_ready(&ch->recv_prev) &&
	    now_ms < ch->recv_prev_until_ms)
		return &ch->recv_prev;
	return NULL;
}

/* ---- set-up and tear-down ---- */

/* Milliseconds from since to now; 0 if the caller's clock stepped back. */
static uint64_t elapsed(uint64_t now_ms, uint64_t since_ms)
{
	return now_ms > since_ms ? now_ms - since_ms : 0;
}

static uint64_t or_default(uint64_t v, uint64_t dflt)
{
	return v ? v : dflt;
}

static int check_params(const struct sec_channel_params *p)
{
	if (p->cipher != SEC_CIPHER_AES256GCM && p->cipher != SEC_CIPHER_CHACHA20POLY1305)
		return -EINVAL;
	if (p->compress != SEC_COMPRESS_NONE && p->compress != SEC_COMPRESS_DEFLATE)
		return -ENOTSUP;
	if (p->local_session == 0 || p->remote_session == 0)
		return -EINVAL;
	if (p->mtu != 0 && (p->mtu < CHANNEL_MIN_MTU || p->mtu > FRAME_MAX_DATAGRAM))
		return -EINVAL;
	return 0;
}

static void copy_settings(struct channel *ch, const struct sec_channel_params *p,
			  uint64_t now_ms)
{
	ch->cipher = p->cipher;
	ch->local_session = p->local_session;
	ch->remote_session = p->remote_session;
	ch->peer = p->peer;
	ch->mtu = or_default(p->mtu, CHANNEL_DEFAULT_MTU);
	ch->rekey_after_frames = or_default(p->rekey_after_frames,
					    CHANNEL_DEFAULT_REKEY_AFTER_FRAMES);
	ch->rekey_after_ms = or_default(p->rekey_after_ms, CHANNEL_DEFAULT_REKEY_AFTER_MS);
	ch->keepalive_ms = or_default(p->keepalive_ms, CHANNEL_DEFAULT_KEEPALIVE_MS);
	ch->dead_after_ms = or_default(p->dead_after_ms, CHANNEL_DEFAULT_DEAD_AFTER_MS);
	ch->last_sent_ms = now_ms;
	ch->last_recv_ms = now_ms;
	ch->send_epoch_started_ms = now_ms;
	ch->external = p->external_rekey;
}

static int install_keys(struct channel *ch, const struct sec_channel_params *p)
{
	int rc;

	memcpy(ch->send_raw, p->send_key, SEC_KEY_LEN);
	memcpy(ch->recv_next_raw, p->recv_key, SEC_KEY_LEN);
	if ((rc = aead_init(&ch->send_aead, ch->cipher, ch->send_raw)) != 0)
		return rc;
	if ((rc = aead_init(&ch->recv_cur, ch->cipher, ch->recv_next_raw)) != 0)
		return rc;
	if (ch->external) {
		secure_wipe(ch->send_raw, sizeof ch->send_raw);
		secure_wipe(ch->recv_next_raw, sizeof ch->recv_next_raw);
		return 0;  /* the next epoch's keys come from channel_install_epoch */
	}
	return prepare_recv_next(ch);
}

/* Raw deflate (no zlib header: the AEAD already guards integrity), fastest level. */
static int deflate_setup(struct channel *ch)
{
	if (!(ch->zbuf = malloc(CHANNEL_MAX_MSG)))
		return -ENOMEM;
	if (deflateInit2(&ch->zout, Z_BEST_SPEED, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	if (inflateInit2(&ch->zin, -15) != Z_OK) {
		deflateEnd(&ch->zout);
		return -ENOMEM;
	}
	ch->deflate = true;
	return 0;
}

int channel_new(const struct sec_channel_params *params, uint64_t now_ms,
		struct channel **out)
{
	struct channel *ch;
	int rc;

	*out = NULL;
	if ((rc = check_params(params)) != 0)
		return rc;
	if (!(ch = calloc(1, sizeof *ch)))
		return -ENOMEM;
	copy_settings(ch, params, now_ms);
	replay_init(&ch->replay);
	replay_init(&ch->probe_replay);
	ch->rx = malloc(FRAME_MAX_DATAGRAM);
	ch->tx = malloc(ch->mtu);
	ch->tx_cap = ch->mtu;
	if (!ch->rx || !ch->tx) {
		channel_free(ch);
		return -ENOMEM;
	}
	if ((rc = install_keys(ch, params)) != 0 ||
	    (params->compress == SEC_COMPRESS_DEFLATE && (rc = deflate_setup(ch)) != 0)) {
		channel_free(ch);
		return rc;
	}
	*out = ch;
	return 0;
}

static void slot_release(struct channel *ch, struct reasm_slot *s)
{
	if (s->data) {
		secure_wipe(s->data, CHANNEL_MAX_MSG);
		free(s->data);
		ch->stats.reasm_bytes -= CHANNEL_MAX_MSG;
	}
	memset(s, 0, sizeof *s);
}

static void release_delivered(struct channel *ch)
{
	if (!ch->delivered)
		return;
	secure_wipe(ch->delivered, CHANNEL_MAX_MSG);
	free(ch->delivered);
	ch->delivered = NULL;
	ch->stats.reasm_bytes -= CHANNEL_MAX_MSG;
}

void channel_free(struct channel *ch)
{
	if (!ch)
		return;
	for (size_t i = 0; i < CHANNEL_REASM_SLOTS; i++)
		slot_release(ch, &ch->slots[i]);
	release_delivered(ch);
	if (ch->deflate) {
		deflateEnd(&ch->zout);
		inflateEnd(&ch->zin);
	}
	if (ch->zbuf) {
		secure_wipe(ch->zbuf, CHANNEL_MAX_MSG);
		free(ch->zbuf);
	}
	aead_free(&ch->send_aead);
	aead_free(&ch->send_next);
	aead_free(&ch->recv_prev);
	aead_free(&ch->recv_cur);
	aead_free(&ch->recv_next);
	if (ch->rx)
		secure_wipe(ch->rx, FRAME_MAX_DATAGRAM);
	if (ch->tx)
		secure_wipe(ch->tx, ch->tx_cap);
	free(ch->rx);
	free(ch->tx);
	free(ch->probe_buf);
	secure_wipe(ch, sizeof *ch);
	free(ch);
}

/* ---- sending ---- */

size_t channel_payload_max(const struct channel *ch)
{
	return ch->mtu - FRAME_OVERHEAD;
}

size_t channel_mtu(const struct channel *ch)
{
	return ch->mtu;
}

int channel_set_mtu(struct channel *ch, size_t mtu)
{
	uint8_t *tx;

	if (mtu < CHANNEL_MIN_MTU || mtu > FRAME_MAX_DATAGRAM)
		return -EINVAL;
	if (mtu > ch->tx_cap) {
		if (!(tx = malloc(mtu)))
			return -ENOMEM;
		secure_wipe(ch->tx, ch->tx_cap);
		free(ch->tx);
		ch->tx = tx;
		ch->tx_cap = mtu;
	}
	ch->mtu = mtu;
	return 0;
}

/* Rotates the send key when this epoch has carried enough frames or lived long enough.
 * With external rekeying the epoch only changes by channel_install_epoch, and a key that
 * has sealed rekey_after_frames frames seals no more. */
static int maybe_rekey_send(struct channel *ch, uint64_t now_ms)
{
	if (ch->external) {
		if (ch->send_epoch_frames < ch->rekey_after_frames)
			return 0;
		ch->stats.drop_key_exhausted++;
		return INSEL_E_LIMIT;
	}
	if (ch->send_epoch_frames < ch->rekey_after_frames &&
	    elapsed(now_ms, ch->send_epoch_started_ms) < ch->rekey_after_ms)
		return 0;
	return rekey_send(ch, now_ms);
}

/* The counter a frame of this type spends, and where its space ends: with probe counters
 * of their own the two spaces never meet, so no counter is ever sealed twice. */
static uint64_t *counter_for(struct channel *ch, uint8_t type, uint64_t *limit)
{
	if (!ch->probe_space) {
		*limit = REPLAY_COUNTER_LIMIT;
		return &ch->send_counter;
	}
	*limit = type == FRAME_PROBE ? REPLAY_COUNTER_LIMIT : CHANNEL_PROBE_SPACE;
	return type == FRAME_PROBE ? &ch->probe_counter : &ch->send_counter;
}

/* Seals one frame of any type into out; returns the datagram length. */
static long seal_frame(struct channel *ch, uint8_t type, uint8_t frag, uint8_t frags,
		       const void *payload, size_t len, uint64_t now_ms, uint8_t *out,
		       size_t cap)
{
	struct frame_header h;
	uint8_t nonce[AEAD_NONCE_LEN];
	uint64_t limit, *counter = counter_for(ch, type, &limit);
	long n;
	int rc;

	if (cap < FRAME_HEADER_LEN || len > cap - FRAME_OVERHEAD)
		return INSEL_E_NOSPACE;
	if (*counter >= limit)
		return INSEL_E_LIMIT;
	if ((rc = maybe_rekey_send(ch, now_ms)) != 0)
		return rc;
	h = (struct frame_header){type, (uint8_t)ch->send_epoch, frag, frags,
				  ch->remote_session, *counter};
	frame_header_encode(&h, out, cap);
	frame_nonce(h.epoch, h.counter, nonce);
	n = aead_seal(&ch->send_aead, nonce, out, FRAME_HEADER_LEN, payload, len,
		      out + FRAME_HEADER_LEN, cap - FRAME_HEADER_LEN);
	if (n < 0)
		return n;
	/* The counter is spent even if the caller never sends the datagram. */
	(*counter)++;
	ch->keepalive_wanted = false;  /* any frame proves the send epoch to the peer */
	ch->send_epoch_frames++;
	ch->last_sent_ms = now_ms;
	ch->stats.frames_out++;
	ch->stats.bytes_out += FRAME_HEADER_LEN + (uint64_t)n;
	return FRAME_HEADER_LEN + n;
}

/* With compression on, replaces (msg, len) by its deflated form when that is shorter and
 * says which frame type carries it; otherwise leaves it alone. */
static uint8_t maybe_deflate(struct channel *ch, const void **msg, size_t *len)
{
	size_t limit = *len;  /* only worth it if strictly smaller */

	if (!ch->deflate || *len < 16 || deflateReset(&ch->zout) != Z_OK)
		return FRAME_DATA;
	ch->zout.next_in = (Bytef *)(uintptr_t)*msg;
	ch->zout.avail_in = (uInt)*len;
	ch->zout.next_out = ch->zbuf;
	ch->zout.avail_out = (uInt)(limit - 1);
	if (deflate(&ch->zout, Z_FINISH) != Z_STREAM_END)
		return FRAME_DATA;  /* did not shrink */
	*msg = ch->zbuf;
	*len = ch->zout.total_out;
	ch->stats.msgs_deflated_out++;
	return FRAME_DATA_DEFLATE;
}

long channel_seal_one(struct channel *ch, const void *msg, size_t len, uint64_t now_ms,
		      uint8_t *out, size_t cap)
{
	uint8_t type;
	long n;

	if (len > channel_payload_max(ch))
		return INSEL_E_TOO_BIG;
	type = maybe_deflate(ch, &msg, &len);
	n = seal_frame(ch, type, 0, 1, msg, len, now_ms, out, cap);
	if (n > 0)
		ch->stats.msgs_out++;
	return n;
}

int channel_seal(struct channel *ch, const void *msg, size_t len, uint64_t now_ms,
		 channel_emit_fn emit, void *ctx)
{
	size_t chunk = channel_payload_max(ch), frags;
	const uint8_t *p;
	uint8_t type;

	if (len > CHANNEL_MAX_MSG)
		return INSEL_E_TOO_BIG;
	type = maybe_deflate(ch, &msg, &len);
	p = msg;
	frags = len <= chunk ? 1 : (len + chunk - 1) / chunk;
	if (frags > FRAME_MAX_FRAGMENTS)
		return INSEL_E_TOO_BIG;
	for (size_t i = 0; i < frags; i++) {
		size_t off = i * chunk, n = len - off < chunk ? len - off : chunk;
		long dlen = seal_frame(ch, type, (uint8_t)i, (uint8_t)frags,
				       p ? p + off : p, n, now_ms, ch->tx, ch->mtu);
		int rc;

		if (dlen < 0)
			return (int)dlen;
		if ((rc = emit(ctx, ch->tx, (size_t)dlen)) != 0)
			return rc;
	}
	ch->stats.msgs_out++;
	return (int)frags;
}

long channel_keepalive(struct channel *ch, uint64_t now_ms, uint8_t *out, size_t cap)
{
	long n = seal_frame(ch, FRAME_KEEPALIVE, 0, 1, NULL, 0, now_ms, out, cap);

	if (n > 0)
		ch->stats.keepalives_out++;
	return n;
}

int channel_use_probe_space(struct channel *ch)
{
	/* Switching later would leave counters already spent in the wrong space. */
	if (ch->send_counter != 0 || ch->replay.any)
		return -EINVAL;
	ch->probe_space = true;
	ch->probe_counter = CHANNEL_PROBE_SPACE;
	return 0;
}

bool channel_probe_space(const struct channel *ch)
{
	return ch->probe_space;
}

long channel_probe(struct channel *ch, const struct frame_probe *probe, size_t dgram_len,
		   uint64_t now_ms, uint8_t *out, size_t cap)
{
	uint64_t last_sent = ch->last_sent_ms;
	bool keepalive_wanted = ch->keepalive_wanted;
	size_t plen;
	long n;

	if (dgram_len < FRAME_PROBE_MIN_DATAGRAM || dgram_len > FRAME_MAX_DATAGRAM)
		return -EINVAL;
	if (dgram_len > cap)
		return INSEL_E_NOSPACE;
	if (!ch->probe_buf && !(ch->probe_buf = malloc(FRAME_MAX_DATAGRAM)))
		return -ENOMEM;
	plen = dgram_len - FRAME_OVERHEAD;
	frame_probe_encode(probe, ch->probe_buf, plen);
	n = seal_frame(ch, FRAME_PROBE, 0, 1, ch->probe_buf, plen, now_ms, out, cap);
	/* A probe may have gone to a candidate rather than the peer: it neither holds the
	 * peer's NAT binding open nor proves a new send epoch to it. */
	ch->last_sent_ms = last_sent;
	ch->keepalive_wanted = keepalive_wanted;
	if (n > 0 && probe->kind == FRAME_PROBE_REPLY)
		ch->stats.probe_replies_out++;
	else if (n > 0)
		ch->stats.probe_requests_out++;
	return n;
}

/* ---- external rekeying ---- */

int channel_check_install(const struct channel *ch, uint32_t epoch)
{
	if (!ch->external)
		return -EINVAL;
	/* Both directions must have reached epoch - 1: then at most three epochs (the
	 * previous in its grace period, the current, the installed one) are ever live. */
	if (epoch != ch->recv_epoch + 1 || ch->send_epoch != ch->recv_epoch)
		return INSEL_E_CONFLICT;
	return 0;
}

int channel_install_epoch(struct channel *ch, uint32_t epoch,
			  const uint8_t send_key[SEC_KEY_LEN],
			  const uint8_t recv_key[SEC_KEY_LEN], bool send_now, uint64_t now_ms)
{
	struct aead send = {0}, recv = {0};
	int rc;

	if ((rc = channel_check_install(ch, epoch)) != 0)
		return rc;
	if ((rc = aead_init(&send, ch->cipher, send_key)) != 0 ||
	    (rc = aead_init(&recv, ch->cipher, recv_key)) != 0) {
		aead_free(&send);
		return rc;
	}
	/* Installing an epoch again (an exchange run anew) replaces its unused keys. */
	aead_free(&ch->send_next);
	aead_free(&ch->recv_next);
	ch->send_next = send;
	ch->recv_next = recv;
	ch->stats.epochs_installed++;
	if (send_now)
		switch_send_to_next(ch, now_ms);
	return 0;
}

/* ---- reassembly ---- */

static void reasm_expire(struct channel *ch, uint64_t now_ms)
{
	for (size_t i = 0; i < CHANNEL_REASM_SLOTS; i++) {
		struct reasm_slot *s = &ch->slots[i];

		if (s->used && elapsed(now_ms, s->started_ms) >= CHANNEL_REASM_TIMEOUT_MS) {
			ch->stats.drop_reasm_timeout++;
			slot_release(ch, s);
		}
	}
}

/* The slot for a message, or a new one (pushing out the oldest if all are busy). */
static struct reasm_slot *reasm_slot_for(struct channel *ch, uint64_t first, uint8_t frags,
					 uint8_t type, uint64_t now_ms)
{
	struct reasm_slot *free_slot = NULL, *oldest = NULL;

	for (size_t i = 0; i < CHANNEL_REASM_SLOTS; i++) {
		struct reasm_slot *s = &ch->slots[i];

		if (s->used && s->first_counter == first)
			return s;
		if (!s->used && !free_slot)
			free_slot = s;
		if (s->used && (!oldest || s->started_ms < oldest->started_ms))
			oldest = s;
	}
	if (!free_slot) {
		ch->stats.drop_reasm_evicted++;
		slot_release(ch, oldest);
		free_slot = oldest;
	}
	if (!(free_slot->data = malloc(CHANNEL_MAX_MSG)))
		return NULL;
	ch->stats.reasm_bytes += CHANNEL_MAX_MSG;
	free_slot->used = true;
	free_slot->type = type;
	free_slot->first_counter = first;
	free_slot->frags = frags;
	free_slot->started_ms = now_ms;
	return free_slot;
}

/* Whether what is known of the message's shape still fits CHANNEL_MAX_MSG. */
static bool reasm_shape_ok(const struct reasm_slot *s)
{
	size_t body = s->chunk * (size_t)(s->frags - 1);

	if (s->chunk && s->last_len > s->chunk)
		return false;
	return body <= CHANNEL_MAX_MSG && s->last_len <= CHANNEL_MAX_MSG - body;
}

/* Stores one authenticated fragment; returns 1 when the message is complete. */
static int reasm_store(struct reasm_slot *s, uint8_t frag, const uint8_t *data, size_t len)
{
	bool last = frag == s->frags - 1;

	if (s->have[frag / 64] & (1ULL << (frag % 64)))
		return INSEL_E_MALFORMED;
	if (len == 0)
		return INSEL_E_MALFORMED;
	if (last) {
		s->last_len = len;
	} else if (!s->chunk) {
		s->chunk = len;
	} else if (len != s->chunk) {
		return INSEL_E_MALFORMED;
	}
	if (!reasm_shape_ok(s))
		return INSEL_E_TOO_BIG;
	if (last)
		memcpy(s->data + CHANNEL_MAX_MSG - len, data, len);
	else
		memcpy(s->data + (size_t)frag * s->chunk, data, len);
	s->have[frag / 64] |= 1ULL << (frag % 64);
	s->got++;
	return s->got == s->frags;
}

/* Moves a completed message out of its slot into *msg. */
static void reasm_deliver(struct channel *ch, struct reasm_slot *s, struct channel_msg *msg)
{
	size_t body = s->chunk * (size_t)(s->frags - 1);

	memmove(s->data + body, s->data + CHANNEL_MAX_MSG - s->last_len, s->last_len);
	ch->delivered = s->data;
	msg->data = s->data;
	msg->len = body + s->last_len;
	s->data = NULL;
	memset(s, 0, sizeof *s);
}

static int reasm_add(struct channel *ch, const struct frame_header *h, const uint8_t *data,
		     size_t len, uint64_t now_ms, struct channel_msg *msg)
{
	struct reasm_slot *s;
	int rc;

	if (h->counter < h->frag) {
		ch->stats.drop_bad_fragment++;
		return INSEL_E_MALFORMED;
	}
	s = reasm_slot_for(ch, h->counter - h->frag, h->frags, h->type, now_ms);
	if (!s)
		return -ENOMEM;
	if (s->frags != h->frags || s->type != h->type) {
		ch->stats.drop_bad_fragment++;
		return INSEL_E_MALFORMED;
	}
	rc = reasm_store(s, h->frag, data, len);
	if (rc < 0) {
		if (rc == INSEL_E_TOO_BIG)
			ch->stats.drop_too_big++;
		else
			ch->stats.drop_bad_fragment++;
		slot_release(ch, s);
		return rc;
	}
	if (rc == 0)
		return 0;
	reasm_deliver(ch, s, msg);
	return 1;
}

/* ---- receiving ---- */

static bool endpoint_equal(const struct ip_endpoint *a, const struct ip_endpoint *b)
{
	return a->port == b->port && ip_addr_equal(&a->addr, &b->addr);
}

/* The replay window a frame's counter belongs to, or NULL for a frame in the wrong space
 * (with probe counters of their own: a probe below CHANNEL_PROBE_SPACE, any other frame
 * at or above it). Without them every frame shares one window, as before. */
static struct replay_window *window_for(struct channel *ch, const struct frame_header *h)
{
	bool probe_counter = h->counter >= CHANNEL_PROBE_SPACE;

	if (!ch->probe_space)
		return &ch->replay;
	if (probe_counter != (h->type == FRAME_PROBE))
		return NULL;
	return probe_counter ? &ch->probe_replay : &ch->replay;
}

/* Key-free checks, cheapest first; counts the drop reason. */
static int precheck(struct channel *ch, const uint8_t *dgram, size_t len,
		    struct frame_view *v)
{
	struct replay_window *w;
	int rc;

	if (len > FRAME_MAX_DATAGRAM) {
		ch->stats.drop_too_big++;
		return INSEL_E_TOO_BIG;
	}
	rc = frame_decode(dgram, len, v);
	if (rc == INSEL_E_TRUNCATED) {
		ch->stats.drop_truncated++;
		return rc;
	}
	if (rc != 0) {
		ch->stats.drop_malformed++;
		return rc;
	}
	if (v->hdr.session != ch->local_session) {
		ch->stats.drop_unknown_session++;
		return INSEL_E_NOT_FOUND;
	}
	if (!(w = window_for(ch, &v->hdr))) {
		ch->stats.drop_malformed++;
		return INSEL_E_MALFORMED;
	}
	if (!replay_check(w, v->hdr.counter)) {
		ch->stats.drop_replay++;
		return INSEL_E_REPLAY;
	}
	return 0;
}

/* The counters a frame about to be accepted shows missing: one past the newest adds
 * those it skipped; a late one (the replay check let it through) fills one of them. A
 * frame the channel refuses (a bad tag, an unknown epoch) leaves its counter missing. */
static void count_lost(struct channel *ch, uint64_t counter)
{
	const struct replay_window *w = &ch->replay;

	if (!w->any)
		ch->first_heard = counter;  /* what came before is not ours to count */
	else if (counter > w->newest)
		ch->stats.frames_lost += counter - w->newest - 1;
	else if (counter > ch->first_heard && ch->stats.frames_lost > 0)
		ch->stats.frames_lost--;
}

/* Everything an authenticated frame changes besides its payload. */
static void accept_frame(struct channel *ch, const struct frame_view *v, struct aead *key,
			 size_t len, const struct ip_endpoint *from, uint64_t now_ms)
{
	struct replay_window *w = window_for(ch, &v->hdr);  /* precheck found one */

	if (w == &ch->replay)
		count_lost(ch, v->hdr.counter);  /* probes in their own space are never lost */
	replay_commit(w, v->hdr.counter);
	if (key == &ch->recv_next)
		promote_recv_epoch(ch, now_ms);
	if (from && !endpoint_equal(from, &ch->peer)) {
		ch->peer = *from;
		ch->stats.roams++;
	}
	ch->last_recv_ms = now_ms;
	ch->stats.frames_in++;
	ch->stats.bytes_in += len;
}

/* Inflates a complete message into zbuf, refusing anything that would grow past
 * CHANNEL_MAX_MSG (a compression bomb costs the sender, not us). */
static int inflate_message(struct channel *ch, struct channel_msg *msg)
{
	int zrc;

	if (inflateReset(&ch->zin) != Z_OK)
		return INSEL_E_MALFORMED;
	ch->zin.next_in = (Bytef *)(uintptr_t)msg->data;
	ch->zin.avail_in = (uInt)msg->len;
	ch->zin.next_out = ch->zbuf;
	ch->zin.avail_out = CHANNEL_MAX_MSG;
	zrc = inflate(&ch->zin, Z_FINISH);
	if (zrc == Z_STREAM_END && ch->zin.avail_in == 0) {
		msg->data = ch->zbuf;
		msg->len = ch->zin.total_out;
		return 1;
	}
	if (zrc == Z_BUF_ERROR && ch->zin.avail_out == 0) {
		ch->stats.drop_too_big++;
		return INSEL_E_TOO_BIG;
	}
	ch->stats.drop_bad_compression++;
	return INSEL_E_MALFORMED;
}

/* An authenticated probe: a sign of life like any frame, but it never moves the peer
 * endpoint (a probe to or from a candidate says nothing about where data should go). */
static int open_probe(struct channel *ch, const struct frame_view *v, struct aead *key,
		      size_t plen, size_t len, uint64_t now_ms, struct channel_msg *msg)
{
	if (frame_probe_decode(ch->rx, plen, &msg->probe) != 0) {
		ch->stats.drop_malformed++;
		return INSEL_E_MALFORMED;
	}
	accept_frame(ch, v, key, len, NULL, now_ms);
	if (msg->probe.kind == FRAME_PROBE_REPLY)
		ch->stats.probe_replies_in++;
	else
		ch->stats.probe_requests_in++;
	msg->data = NULL;
	msg->len = len;
	return CHANNEL_OPEN_PROBE;
}

/* Where the frame's plaintext goes: the host's room for a whole uncompressed message,
 * else the channel's buffer. */
static uint8_t *open_target(struct channel *ch, const struct frame_view *v,
			    const struct channel_room *room, size_t *cap)
{
	uint8_t *at = NULL;

	*cap = FRAME_MAX_DATAGRAM;
	if (room && v->hdr.type == FRAME_DATA && v->hdr.frags == 1) {
		*cap = v->sealed_len - AEAD_TAG_LEN;
		at = room->room(room->ctx, *cap);
	}
	if (!at)
		*cap = FRAME_MAX_DATAGRAM;
	return at ? at : ch->rx;
}

int channel_open(struct channel *ch, const uint8_t *dgram, size_t len,
		 const struct ip_endpoint *from, uint64_t now_ms, struct channel_msg *msg)
{
	return channel_open_into(ch, dgram, len, from, now_ms, NULL, msg);
}

int channel_open_into(struct channel *ch, const uint8_t *dgram, size_t len,
		      const struct ip_endpoint *from, uint64_t now_ms,
		      const struct channel_room *room, struct channel_msg *msg)
{
	struct frame_view v;
	uint8_t nonce[AEAD_NONCE_LEN];
	struct aead *key;
	uint8_t *plain;
	size_t cap;
	long plen;
	int rc;

	release_delivered(ch);
	if ((rc = precheck(ch, dgram, len, &v)) != 0)
		return rc;
	if (!(key = recv_key_for(ch, v.hdr.epoch, now_ms))) {
		ch->stats.drop_bad_epoch++;
		return INSEL_E_AUTH;
	}
	frame_nonce(v.hdr.epoch, v.hdr.counter, nonce);
	plain = open_target(ch, &v, room, &cap);
	plen = aead_open(key, nonce, v.ad, FRAME_HEADER_LEN, v.sealed, v.sealed_len, plain,
			 cap);
	if (plen < 0) {
		ch->stats.drop_bad_tag++;
		return INSEL_E_AUTH;
	}
	if (v.hdr.type == FRAME_PROBE)
		return open_probe(ch, &v, key, (size_t)plen, len, now_ms, msg);
	accept_frame(ch, &v, key, len, from, now_ms);
	if (v.hdr.type == FRAME_KEEPALIVE) {
		ch->stats.keepalives_in++;
		return 0;
	}
	if (v.hdr.type == FRAME_DATA_DEFLATE && !ch->deflate) {
		ch->stats.drop_malformed++;  /* compression was not negotiated */
		return INSEL_E_MALFORMED;
	}
	if (v.hdr.frags == 1) {
		msg->data = plain;
		msg->len = (size_t)plen;
		rc = 1;
	} else {
		rc = reasm_add(ch, &v.hdr, ch->rx, (size_t)plen, now_ms, msg);
	}
	if (rc == 1 && v.hdr.type == FRAME_DATA_DEFLATE)
		rc = inflate_message(ch, msg);
	if (rc == 1)
		ch->stats.msgs_in++;
	return rc;
}

/* ---- timers ---- */

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int channel_tick(struct channel *ch, uint64_t now_ms, uint64_t *next_ms)
{
	uint64_t next = now_ms + ch->keepalive_ms;
	int events = 0;

	release_delivered(ch);
	reasm_expire(ch, now_ms);
	if (aead_ready(&ch->recv_prev) && now_ms >= ch->recv_prev_until_ms)
		aead_free(&ch->recv_prev);
	if (ch->external && !ch->rekey_due_reported &&
	    ch->send_epoch_frames >= ch->rekey_after_frames / 2) {
		ch->rekey_due_reported = true;
		events |= CHANNEL_REKEY_DUE;
	}
	if (ch->keepalive_wanted || elapsed(now_ms, ch->last_sent_ms) >= ch->keepalive_ms)
		events |= CHANNEL_SEND_KEEPALIVE;
	else
		next = earliest(next, ch->last_sent_ms + ch->keepalive_ms);
	if (elapsed(now_ms, ch->last_recv_ms) >= ch->dead_after_ms)
		events |= CHANNEL_PEER_DEAD;
	else
		next = earliest(next, ch->last_recv_ms + ch->dead_after_ms);
	for (size_t i = 0; i < CHANNEL_REASM_SLOTS; i++)
		if (ch->slots[i].used)
			next = earliest(next, ch->slots[i].started_ms + CHANNEL_REASM_TIMEOUT_MS);
	if (aead_ready(&ch->recv_prev))
		next = earliest(next, ch->recv_prev_until_ms);
	if (next_ms)
		*next_ms = next;
	return events;
}

/* ---- inspection ---- */

const struct ip_endpoint *channel_peer(const struct channel *ch)
{
	return &ch->peer;
}

uint64_t channel_last_recv_ms(const struct channel *ch)
{
	return ch->last_recv_ms;
}

void channel_set_peer(struct channel *ch, const struct ip_endpoint *peer)
{
	ch->peer = *peer;
}

uint32_t channel_local_session(const struct channel *ch)
{
	return ch->local_session;
}

bool channel_keepalive_wanted(const struct channel *ch)
{
	return ch->keepalive_wanted;
}

uint32_t channel_send_epoch(const struct channel *ch)
{
	return ch->send_epoch;
}

uint32_t channel_recv_epoch(const struct channel *ch)
{
	return ch->recv_epoch;
}

const struct channel_stats *channel_stats(const struct channel *ch)
{
	return &ch->stats;
}

static json_t *stats_json(const struct channel_stats *s)
{
	json_t *drops = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"truncated", (json_int_t)s->drop_truncated,
		"malformed", (json_int_t)s->drop_malformed,
		"unknown_session", (json_int_t)s->drop_unknown_session,
		"bad_epoch", (json_int_t)s->drop_bad_epoch,
		"replay", (json_int_t)s->drop_replay,
		"bad_tag", (json_int_t)s->drop_bad_tag,
		"too_big", (json_int_t)s->drop_too_big,
		"bad_fragment", (json_int_t)s->drop_bad_fragment,
		"reassembly_timeout", (json_int_t)s->drop_reasm_timeout,
		"reassembly_evicted", (json_int_t)s->drop_reasm_evicted);
	json_object_set_new(drops, "bad_compression", json_integer((json_int_t)s->drop_bad_compression));

	json_t *j = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o?}",
		"frames_out", (json_int_t)s->frames_out, "bytes_out", (json_int_t)s->bytes_out,
		"frames_in", (json_int_t)s->frames_in, "bytes_in", (json_int_t)s->bytes_in,
		"msgs_out", (json_int_t)s->msgs_out, "msgs_in", (json_int_t)s->msgs_in,
		"keepalives_out", (json_int_t)s->keepalives_out,
		"keepalives_in", (json_int_t)s->keepalives_in,
		"rekeys_out", (json_int_t)s->rekeys_out, "rekeys_in", (json_int_t)s->rekeys_in,
		"roams", (json_int_t)s->roams, "reassembly_bytes", (json_int_t)s->reasm_bytes,
		"drops", drops);

	json_object_set_new(j, "msgs_deflated_out", json_integer((json_int_t)s->msgs_deflated_out));
	json_object_set_new(j, "frames_lost", json_integer((json_int_t)s->frames_lost));
	json_object_set_new(j, "epochs_installed", json_integer((json_int_t)s->epochs_installed));
	json_object_set_new(j, "probes", json_pack(
		"{s:I, s:I, s:I, s:I}",
		"requests_out", (json_int_t)s->probe_requests_out,
		"replies_out", (json_int_t)s->probe_replies_out,
		"requests_in", (json_int_t)s->probe_requests_in,
		"replies_in", (json_int_t)s->probe_replies_in));
	json_object_set_new(drops, "key_exhausted", json_integer((json_int_t)s->drop_key_exhausted));
	return j;
}

json_t *channel_status_json(const struct channel *ch)
{
	char peer[IP_STRLEN];

	return json_pack("{s:s, s:s, s:b, s:I, s:I, s:s, s:I, s:I, s:I, s:o?}",
			 "cipher", sec_cipher_name(ch->cipher),
			 "rekey", ch->external ? "external" : "chain",
			 "probe_space", ch->probe_space,
			 "local_session", (json_int_t)ch->local_session,
			 "remote_session", (json_int_t)ch->remote_session,
			 "peer", ip_endpoint_format(&ch->peer, peer, sizeof peer),
			 "send_epoch", (json_int_t)ch->send_epoch,
			 "recv_epoch", (json_int_t)ch->recv_epoch,
			 "mtu", (json_int_t)ch->mtu,
			 "stats", stats_json(&ch->stats));
}
