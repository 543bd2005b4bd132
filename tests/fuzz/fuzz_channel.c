/* libFuzzer target: the data-frame decoder and the channel's receive path. Two channels
 * with fixed keys; the input is a script of operations read through a buf_reader:
 *   0: open raw bytes        (decoder and cheap checks on anything at all)
 *   1: seal a message        (length and seed from the input; its datagrams are kept)
 *   2: deliver a kept datagram, possibly with one byte flipped, from one of two addresses
 *   3: advance the clock and tick (reassembly time-outs, key grace, keep-alives)
 *   4: seal a keep-alive
 *   5: seal a probe request (size and id from the input)
 * so the fuzzer can reorder, duplicate, corrupt and drop genuine frames across rekeys and
 * fragment boundaries; the first byte turns deflate compression on (bit 0) and probe
 * counters of their own on both channels (bit 1). Invariants: every message delivered is
 * one that was sent, intact, and none is delivered twice; a probe opened is one that was
 * sealed, of the size it was sealed at; a frame that was tampered with is never accepted;
 * with probe counters of their own, no more frames are counted lost than frames other
 * than probes were sealed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define POOL 64
#define MAX_SENT 64
#define MTU 600

struct kept {
	uint8_t d[MTU];
	size_t len;
};

struct script {
	struct channel *tx, *rx;
	struct kept pool[POOL];
	size_t pooled;
	bool delivered[MAX_SENT];
	uint32_t sent;
	uint32_t probes;          /* probe i has id i and a size derived from it */
	uint64_t now;
	struct ip_endpoint from[2];
};

/* Message i: 4-byte index then bytes derived from it, so content can be checked. */
static size_t make_message(uint32_t index, size_t len, uint8_t *out)
{
	struct buf_writer w;

	if (len < 4)
		len = 4;
	bw_init(&w, out, len);
	bw_u32(&w, index);
	for (size_t i = 4; i < len; i++)
		bw_u8(&w, (uint8_t)(index * 31 + i));
	return len;
}

static void check_message(struct script *s, const struct channel_msg *m)
{
	static uint8_t expect[CHANNEL_MAX_MSG];
	struct buf_reader r;
	uint32_t index;

	br_init(&r, m->data, m->len);
	if (br_u32(&r, &index) != 0 || index >= s->sent || s->delivered[index])
		abort();
	make_message(index, m->len, expect);
	if (memcmp(expect, m->data, m->len) != 0)
		abort();
	s->delivered[index] = true;
}

static int keep(void *ctx, const uint8_t *dgram, size_t len)
{
	struct script *s = ctx;
	struct kept *k = &s->pool[s->pooled % POOL];

	if (len > MTU)
		abort();
	memcpy(k->d, dgram, len);
	k->len = len;
	s->pooled++;
	return 0;
}

static size_t probe_size(uint32_t id)
{
	return FRAME_PROBE_MIN_DATAGRAM + (id * 97u) % (MTU - FRAME_PROBE_MIN_DATAGRAM + 1);
}

static void check_probe(struct script *s, const struct channel_msg *m)
{
	if (m->probe.kind != FRAME_PROBE_REQUEST || m->probe.id >= s->probes ||
	    m->len != probe_size(m->probe.id) || m->data)
		abort();
}

static void check_opened(struct script *s, int rc, const struct channel_msg *m)
{
	if (rc == 1)
		check_message(s, m);
	else if (rc == CHANNEL_OPEN_PROBE)
		check_probe(s, m);
}

static void op_probe(struct script *s)
{
	const struct frame_probe req = {.kind = FRAME_PROBE_REQUEST, .id = s->probes};
	struct kept *k = &s->pool[s->pooled % POOL];
	long n = channel_probe(s->tx, &req, probe_size(s->probes), s->now, k->d, sizeof k->d);

	if (n > 0) {
		k->len = (size_t)n;
		s->pooled++;
		s->probes++;
	}
}

static void op_raw(struct script *s, struct buf_reader *r)
{
	struct channel_msg m;
	const uint8_t *bytes;
	uint16_t n;

	if (br_u16(r, &n) != 0)
		return;
	if (n > br_remaining(r))
		n = (uint16_t)br_remaining(r);
	br_view(r, &bytes, n);
	/* Only a byte-exact copy of a genuine datagram could open; it must then be intact. */
	check_opened(s, channel_open(s->rx, bytes, n, &s->from[0], s->now, &m), &m);
}

static void op_seal(struct script *s, struct buf_reader *r)
{
	static uint8_t msg[CHANNEL_MAX_MSG];
	uint16_t len;

	if (br_u16(r, &len) != 0 || s->sent >= MAX_SENT)
		return;
	len = (uint16_t)(len % 8192);
	make_message(s->sent, len, msg);
	if (channel_seal(s->tx, msg, len < 4 ? 4 : len, s->now, keep, s) > 0)
		s->sent++;
}

static void op_deliver(struct script *s, struct buf_reader *r)
{
	struct kept *k;
	uint8_t which, flip_at, flip, from;
	uint8_t copy[MTU];
	struct channel_msg m;
	int rc;

	if (br_u8(r, &which) || br_u8(r, &flip_at) || br_u8(r, &flip) || br_u8(r, &from) ||
	    s->pooled == 0)
		return;
	k = &s->pool[which % (s->pooled < POOL ? s->pooled : POOL)];
	memcpy(copy, k->d, k->len);
	if (flip)
		copy[flip_at % k->len] ^= flip;
	rc = channel_open(s->rx, copy, k->len, &s->from[from & 1], s->now, &m);
	if (flip && rc >= 0)
		abort();  /* a tampered frame got through */
	check_opened(s, rc, &m);
}

static void op_tick(struct script *s, struct buf_reader *r)
{
	uint16_t dt;
	uint8_t out[64];

	if (br_u16(r, &dt) != 0)
		return;
	s->now += dt;
	channel_tick(s->rx, s->now, NULL);
	if (channel_tick(s->tx, s->now, NULL) & CHANNEL_SEND_KEEPALIVE)
		channel_keepalive(s->tx, s->now, out, sizeof out);
}

static void op_keepalive(struct script *s)
{
	struct kept *k = &s->pool[s->pooled % POOL];
	long n = channel_keepalive(s->tx, s->now, k->d, sizeof k->d);

	if (n > 0) {
		k->len = (size_t)n;
		s->pooled++;
	}
}

/* With probe counters of their own, probes never count as lost: only the data space's
 * counters (every frame sealed but the probes) can be missing. */
static void check_lost(const struct script *s)
{
	const struct channel_stats *tx = channel_stats(s->tx);

	if (channel_probe_space(s->rx) &&
	    channel_stats(s->rx)->frames_lost > tx->frames_out - tx->probe_requests_out)
		abort();
}

static void make_pair(struct script *s, bool deflate, bool probe_space)
{
	struct sec_channel_params a, b;

	memset(&a, 0, sizeof a);
	a.cipher = SEC_CIPHER_AES256GCM;
	a.local_session = 1;
	a.remote_session = 2;
	memset(a.send_key, 0x11, SEC_KEY_LEN);
	memset(a.recv_key, 0x22, SEC_KEY_LEN);
	ip_endpoint_parse("127.0.0.1:1000", &a.peer);
	a.mtu = MTU;
	a.rekey_after_frames = 40;  /* rekey often, so scripts cross epochs */
	a.rekey_after_ms = 5000;
	a.compress = deflate ? SEC_COMPRESS_DEFLATE : SEC_COMPRESS_NONE;
	b = a;
	b.local_session = 2;
	b.remote_session = 1;
	memset(b.send_key, 0x22, SEC_KEY_LEN);
	memset(b.recv_key, 0x11, SEC_KEY_LEN);
	ip_endpoint_parse("127.0.0.1:1001", &b.peer);
	if (channel_new(&a, 0, &s->tx) != 0 || channel_new(&b, 0, &s->rx) != 0)
		abort();
	if (probe_space && (channel_use_probe_space(s->tx) != 0 ||
			    channel_use_probe_space(s->rx) != 0))
		abort();
	ip_endpoint_parse("127.0.0.1:1000", &s->from[0]);
	ip_endpoint_parse("127.0.0.2:2000", &s->from[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct script s;
	struct buf_reader r;
	uint8_t op;
	int steps = 0;

	memset(&s, 0, sizeof s);
	br_init(&r, data, size);
	/* The first byte chooses whether the pair compresses (then inflation of genuine,
	 * reordered and fragmented messages is exercised too). */
	if (br_u8(&r, &op) != 0)
		return 0;
	make_pair(&s, op & 1, op & 2);
	while (steps++ < 512 && br_u8(&r, &op) == 0) {
		switch (op % 6) {
		case 0: op_raw(&s, &r); break;
		case 1: op_seal(&s, &r); break;
		case 2: op_deliver(&s, &r); break;
		case 3: op_tick(&s, &r); break;
		case 4: op_keepalive(&s); break;
		default: op_probe(&s); break;
		}
		check_lost(&s);
	}
	channel_free(s.tx);
	channel_free(s.rx);
	return 0;
}
