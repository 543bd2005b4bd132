/* Unit tests for the data channel: two real channels (A and B, real GnuTLS keys) exchange
 * datagrams through memory, with a fake millisecond clock. Covers round trips for both
 * ciphers, every kind of bad frame (dropped, counted, channel goes on), reordering and
 * replay, rekeying under reordered traffic, fragmentation and reassembly time-outs,
 * roaming, keep-alives and dead-peer detection, and the status report. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "aead.h"
#include "channel.h"
#include "err.h"
#include "rand.h"
#include "replay.h"

#define A_SESSION 0x11111111u
#define B_SESSION 0x22222222u

struct pair {
	struct channel *a, *b;
	struct ip_endpoint a_addr, b_addr;
};

static void make_params(struct sec_channel_params *a, struct sec_channel_params *b,
			enum sec_cipher cipher)
{
	memset(a, 0, sizeof *a);
	a->call_id = 0x1234;
	a->cipher = cipher;
	a->local_session = A_SESSION;
	a->remote_session = B_SESSION;
	for (int i = 0; i < SEC_KEY_LEN; i++) {
		a->send_key[i] = (uint8_t)(0x40 + i);
		a->recv_key[i] = (uint8_t)(0x90 + i);
	}
	assert_int_equal(ip_endpoint_parse("127.0.0.1:5002", &a->peer), 0);
	*b = *a;
	b->local_session = B_SESSION;
	b->remote_session = A_SESSION;
	memcpy(b->send_key, a->recv_key, SEC_KEY_LEN);
	memcpy(b->recv_key, a->send_key, SEC_KEY_LEN);
	assert_int_equal(ip_endpoint_parse("127.0.0.1:5001", &b->peer), 0);
}

static void pair_open(struct pair *p, struct sec_channel_params *pa,
		      struct sec_channel_params *pb)
{
	assert_int_equal(channel_new(pa, 0, &p->a), 0);
	assert_int_equal(channel_new(pb, 0, &p->b), 0);
	p->a_addr = pb->peer;
	p->b_addr = pa->peer;
	chanparams_wipe(pa);
	chanparams_wipe(pb);
}

static void pair_new(struct pair *p, enum sec_cipher cipher)
{
	struct sec_channel_params pa, pb;

	make_params(&pa, &pb, cipher);
	pair_open(p, &pa, &pb);
}

static void pair_free(struct pair *p)
{
	channel_free(p->a);
	channel_free(p->b);
}

/* A sends one small message; returns the datagram length. */
static size_t a_seal(struct pair *p, const char *text, uint64_t now, uint8_t *out, size_t cap)
{
	long n = channel_seal_one(p->a, text, strlen(text), now, out, cap);

	assert_true(n > 0);
	return (size_t)n;
}

static int b_open(struct pair *p, const uint8_t *d, size_t len, uint64_t now,
		  struct channel_msg *m)
{
	return channel_open(p->b, d, len, &p->a_addr, now, m);
}

static uint64_t total_drops(const struct channel_stats *s)
{
	return s->drop_truncated + s->drop_malformed + s->drop_unknown_session +
	       s->drop_bad_epoch + s->drop_replay + s->drop_bad_tag + s->drop_too_big +
	       s->drop_bad_fragment;
}

static void round_trip(enum sec_cipher cipher)
{
	struct pair p;
	uint8_t d[2048];
	struct channel_msg m;
	size_t n;
	long back;

	pair_new(&p, cipher);
	n = a_seal(&p, "hello, B", 1, d, sizeof d);
	assert_int_equal(n, strlen("hello, B") + FRAME_OVERHEAD);
	assert_int_equal(b_open(&p, d, n, 1, &m), 1);
	assert_int_equal(m.len, strlen("hello, B"));
	assert_memory_equal(m.data, "hello, B", m.len);
	/* And back, with a different session id and key. */
	back = channel_seal_one(p.b, "hi A", 4, 2, d, sizeof d);
	assert_int_equal(back, 4 + FRAME_OVERHEAD);
	assert_int_equal(channel_open(p.a, d, (size_t)back, &p.b_addr, 2, &m), 1);
	assert_memory_equal(m.data, "hi A", 4);
	/* An empty message is still a message. */
	back = channel_seal_one(p.a, NULL, 0, 3, d, sizeof d);
	assert_int_equal(back, FRAME_OVERHEAD);
	assert_int_equal(b_open(&p, d, (size_t)back, 3, &m), 1);
	assert_int_equal(m.len, 0);
	assert_int_equal(channel_stats(p.b)->msgs_in, 2);
	assert_int_equal(channel_stats(p.a)->frames_out, 2);
	assert_int_equal(total_drops(channel_stats(p.b)), 0);
	pair_free(&p);
}

static void round_trip_aes_gcm(void **state)
{
	round_trip(SEC_CIPHER_AES256GCM);
}

static void round_trip_chacha(void **state)
{
	round_trip(SEC_CIPHER_CHACHA20POLY1305);
}

static void every_flipped_bit_is_dropped(void **state)
{
	struct pair p;
	uint8_t d[256], bad[256];
	struct channel_msg m;
	size_t n;

	pair_new(&p, SEC_CIPHER_AES256GCM);
	n = a_seal(&p, "tamper with me", 1, d, sizeof d);
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, d, n);
			bad[i] ^= (uint8_t)(1u << bit);
			assert_true(b_open(&p, bad, n, 1, &m) < 0);
		}
	}
	assert_int_equal(total_drops(channel_stats(p.b)), n * 8);
	assert_true(channel_stats(p.b)->drop_bad_tag > 0);
	assert_true(channel_stats(p.b)->drop_unknown_session == 32);
	assert_true(channel_stats(p.b)->drop_malformed > 0);
	assert_int_equal(channel_stats(p.b)->frames_in, 0);
	/* The genuine frame still goes through: nothing forged moved the window. */
	assert_int_equal(b_open(&p, d, n, 1, &m), 1);
	assert_memory_equal(m.data, "tamper with me", m.len);
	pair_free(&p);
}

static void replayed_frame_dropped(void **state)
{
	struct pair p;
	uint8_t d[256];
	struct channel_msg m;
	size_t n;

	pair_new(&p, SEC_CIPHER_AES256GCM);
	n = a_seal(&p, "once", 1, d, sizeof d);
	assert_int_equal(b_open(&p, d, n, 1, &m), 1);
	assert_int_equal(b_open(&p, d, n, 2, &m), INSEL_E_REPLAY);
	assert_int_equal(b_open(&p, d, n, 3, &m), INSEL_E_REPLAY);
	assert_int_equal(channel_stats(p.b)->drop_replay, 2);
	n = a_seal(&p, "twice", 4, d, sizeof d);
	assert_int_equal(b_open(&p, d, n, 4, &m), 1);
	pair_free(&p);
}

static void unknown_session_dropped(void **state)
{
	struct pair p;
	uint8_t d[256];
	struct channel_msg m;
	size_t n;

	pair_new(&p, SEC_CIPHER_AES256GCM);
	n = a_seal(&p, "to B", 1, d, sizeof d);
	/* A's own frame carries B's id, not A's. */
	assert_int_equal(channel_open(p.a, d, n, &p.b_addr, 1, &m), INSEL_E_NOT_FOUND);
	assert_int_equal(channel_stats(p.a)->drop_unknown_session, 1);
	assert_int_equal(b_open(&p, d, n, 1, &m), 1);
	pair_free(&p);
}

static void truncated_frames_dropped(void **state)
{
	struct pair p;
	uint8_t d[256];
	struct channel_msg m;
	size_t n;

	pair_new(&p, SEC_CIPHER_CHACHA20POLY1305);
	n = a_seal(&p, "a frame of some length", 1, d, sizeof d);
	for (size_t len = 0; len < n; len++)
		assert_true(b_open(&p, d, len, 1, &m) < 0);
	assert_int_equal(channel_stats(p.b)->drop_truncated, FRAME_OVERHEAD);
	assert_int_equal(channel_stats(p.b)->drop_bad_tag, n - FRAME_OVERHEAD);
	assert_int_equal(b_open(&p, NULL, 0, 1, &m), INSEL_E_TRUNCATED);
	assert_int_equal(b_open(&p, d, n, 1, &m), 1);
	pair_free(&p);
}

static void reordered_accepted_once_and_too_old_dropped(void **state)
{
	enum { N = 100, OLD = REPLAY_WINDOW + 200 };
	static uint8_t d[OLD][64];
	size_t len[OLD];
	struct pair p;
	struct channel_msg m;

	pair_new(&p, SEC_CIPHER_AES256GCM);
	for (size_t i = 0; i < OLD; i++)
		len[i] = a_seal(&p, "x", 1, d[i], sizeof d[i]);
	for (size_t i = N; i-- > 0;)
		assert_int_equal(b_open(&p, d[i], len[i], 1, &m), 1);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(b_open(&p, d[i], len[i], 1, &m), INSEL_E_REPLAY);
	/* Jump to the newest; the frames just behind the window are now too old. */
	assert_int_equal(b_open(&p, d[OLD - 1], len[OLD - 1], 1, &m), 1);
	assert_int_equal(b_open(&p, d[150], len[150], 1, &m), INSEL_E_REPLAY);
	assert_int_equal(b_open(&p, d[OLD - 1 - REPLAY_WINDOW], len[OLD - 1 - REPLAY_WINDOW], 1,
				&m), 1);
	assert_int_equal(b_open(&p, d[OLD - 2 - REPLAY_WINDOW], len[OLD - 2 - REPLAY_WINDOW], 1,
				&m), INSEL_E_REPLAY);
	assert_int_equal(channel_stats(p.b)->msgs_in, N + 2);
	pair_free(&p);
}

/* Continuous traffic that rekeys every 50 frames, delivered in reversed blocks of 16 so
 * that frames of the next epoch arrive before the last ones of the current. */
static void rekey_under_reordering_loses_nothing(void **state)
{
	enum { N = 500, BLOCK = 16 };
	static uint8_t d[N][64];
	size_t len[N];
	struct sec_channel_params pa, pb;
	struct pair p;
	struct channel_msg m;
	char text[24];  /* "m" and any size_t */
	size_t got = 0;

	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	pa.rekey_after_frames = 50;
	pair_open(&p, &pa, &pb);
	for (size_t i = 0; i < N; i++) {
		snprintf(text, sizeof text, "m%zu", i);
		len[i] = a_seal(&p, text, 1, d[i], sizeof d[i]);
	}
	assert_int_equal(channel_send_epoch(p.a), N / 50 - 1);
	assert_int_equal(channel_stats(p.a)->rekeys_out, N / 50 - 1);
	for (size_t start = 0; start < N; start += BLOCK) {
		size_t end = start + BLOCK < N ? start + BLOCK : N;

		for (size_t i = end; i-- > start;) {
			assert_int_equal(b_open(&p, d[i], len[i], 1, &m), 1);
			snprintf(text, sizeof text, "m%zu", i);
			assert_int_equal(m.len, strlen(text));
			assert_memory_equal(m.data, text, m.len);
			got++;
		}
	}
	assert_int_equal(got, N);
	assert_int_equal(channel_recv_epoch(p.b), N / 50 - 1);
	assert_int_equal(total_drops(channel_stats(p.b)), 0);
	pair_free(&p);
}

static void rekey_by_time_and_old_key_expires(void **state)
{
	struct sec_channel_params pa, pb;
	struct pair p;
	struct channel_msg m;
	uint8_t old1[64], old2[64], d[64];
	size_t old1_len, old2_len, n;

	make_params(&pa, &pb, SEC_CIPHER_CHACHA20POLY1305);
	pa.rekey_after_ms = 1000;
	pair_open(&p, &pa, &pb);
	old1_len = a_seal(&p, "epoch 0 a", 10, old1, sizeof old1);
	old2_len = a_seal(&p, "epoch 0 b", 20, old2, sizeof old2);
	assert_int_equal(channel_send_epoch(p.a), 0);
	n = a_seal(&p, "epoch 1", 1010, d, sizeof d);
	assert_int_equal(channel_send_epoch(p.a), 1);
	assert_int_equal(b_open(&p, d, n, 1010, &m), 1);
	assert_int_equal(channel_recv_epoch(p.b), 1);
	/* A straggler from epoch 0 is fine within the grace period... */
	assert_int_equal(b_open(&p, old1, old1_len, 1020, &m), 1);
	assert_memory_equal(m.data, "epoch 0 a", 9);
	/* ...but not once the old key is gone. */
	channel_tick(p.b, 1010 + CHANNEL_REKEY_GRACE_MS, NULL);
	assert_int_equal(b_open(&p, old2, old2_len, 1010 + CHANNEL_REKEY_GRACE_MS, &m),
			 INSEL_E_AUTH);
	assert_int_equal(channel_stats(p.b)->drop_bad_epoch, 1);
	/* The next time-based epoch works as well. */
	n = a_seal(&p, "epoch 2", 2100, d, sizeof d);
	assert_int_equal(channel_send_epoch(p.a), 2);
	assert_int_equal(b_open(&p, d, n, 2100 + CHANNEL_REKEY_GRACE_MS, &m), 1);
	assert_int_equal(channel_recv_epoch(p.b), 2);
	assert_memory_equal(m.data, "epoch 2", 7);
	pair_free(&p);
}

struct captured {
	uint8_t d[16][CHANNEL_DEFAULT_MTU];
	size_t len[16];
	size_t n;
};

static int capture(void *ctx, const uint8_t *dgram, size_t len)
{
	struct captured *c = ctx;

	assert_true(c->n < 16);
	assert_true(len <= CHANNEL_DEFAULT_MTU);
	memcpy(c->d[c->n], dgram, len);
	c->len[c->n++] = len;
	return 0;
}

static void fill(uint8_t *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

static void big_message_fragmented_and_reassembled(void **state)
{
	static struct captured c;
	static uint8_t msg[9000];
	const size_t order[] = {3, 0, 6, 1, 5, 2, 4};
	struct pair p;
	struct channel_msg m;

	pair_new(&p, SEC_CIPHER_AES256GCM);
	fill(msg, sizeof msg, 1);
	memset(&c, 0, sizeof c);
	assert_int_equal(channel_seal(p.a, msg, sizeof msg, 1, capture, &c), 7);
	assert_int_equal(c.n, 7);
	assert_int_equal(c.len[0], CHANNEL_DEFAULT_MTU);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(b_open(&p, c.d[order[i]], c.len[order[i]], 2, &m), 0);
	assert_true(channel_stats(p.b)->reasm_bytes > 0);
	assert_int_equal(b_open(&p, c.d[order[6]], c.len[order[6]], 2, &m), 1);
	assert_int_equal(m.len, sizeof msg);
	assert_memory_equal(m.data, msg, sizeof msg);
	assert_int_equal(channel_stats(p.b)->msgs_in, 1);
	/* The delivered buffer is released on the next call. */
	channel_tick(p.b, 3, NULL);
	assert_int_equal(channel_stats(p.b)->reasm_bytes, 0);
	/* Too big for any channel. */
	assert_int_equal(channel_seal(p.a, msg, CHANNEL_MAX_MSG + 1, 3, capture, &c),
			 INSEL_E_TOO_BIG);
	pair_free(&p);
}

/* A host's room (channel_open_into): asked for once per whole DATA message, with its
 * exact length. */
struct room {
	uint8_t buf[64];
	size_t asked, len;
};

static uint8_t *give_room(void *ctx, size_t len)
{
	struct room *r = ctx;

	r->asked++;
	r->len = len;
	return len <= sizeof r->buf ? r->buf : NULL;
}

static void opened_into_the_hosts_room(void **state)
{
	static struct captured c;
	static uint8_t msg[3000];
	struct room r = { .asked = 0 };
	struct channel_room room = { give_room, &r };
	struct pair p;
	struct channel_msg m;
	uint8_t d[2048];
	size_t n;

	(void)state;
	pair_new(&p, SEC_CIPHER_AES256GCM);
	n = a_seal(&p, "into the room", 1, d, sizeof d);
	assert_int_equal(channel_open_into(p.b, d, n, &p.a_addr, 1, &room, &m), 1);
	assert_int_equal(r.asked, 1);
	assert_int_equal(r.len, strlen("into the room"));
	assert_ptr_equal(m.data, r.buf);
	assert_memory_equal(r.buf, "into the room", m.len);
	/* No room (too long for it): the channel's own buffer. */
	fill(msg, 100, 2);
	n = (size_t)channel_seal_one(p.a, msg, 100, 2, d, sizeof d);
	assert_int_equal(channel_open_into(p.b, d, n, &p.a_addr, 2, &room, &m), 1);
	assert_int_equal(r.asked, 2);
	assert_true(m.data != r.buf);
	assert_memory_equal(m.data, msg, 100);
	/* A forgery is opened there and refused: garbage in the room, nothing delivered. */
	n = a_seal(&p, "forged", 3, d, sizeof d);
	d[n - 1] ^= 1;
	assert_int_equal(channel_open_into(p.b, d, n, &p.a_addr, 3, &room, &m), INSEL_E_AUTH);
	assert_int_equal(r.asked, 3);
	/* Fragments and keep-alives never ask. */
	memset(&c, 0, sizeof c);
	fill(msg, sizeof msg, 3);
	assert_int_equal(channel_seal(p.a, msg, sizeof msg, 4, capture, &c), 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(channel_open_into(p.b, c.d[i], c.len[i], &p.a_addr, 4, &room, &m),
				 i == 2 ? 1 : 0);
	assert_memory_equal(m.data, msg, sizeof msg);
	assert_int_equal(r.asked, 3);
	pair_free(&p);
}

/* Fragments straight into B, checking each against the datagram size set. */
struct to_b {
	struct pair *p;
	size_t max, frags;
	int last;
	struct channel_msg m;
};

static int open_at_b(void *ctx, const uint8_t *dgram, size_t len)
{
	struct to_b *t = ctx;

	assert_true(len <= t->max);
	t->frags++;
	t->last = b_open(t->p, dgram, len, 5, &t->m);
	assert_true(t->last >= 0);
	return 0;
}

static void mtu_changes_at_run_time(void **state)
{
	static uint8_t msg[9000], d[4096];
	const size_t sizes[] = {1000, CHANNEL_MIN_MTU, 4000, 1200};
	struct pair p;
	long n;

	pair_new(&p, SEC_CIPHER_AES256GCM);
	fill(msg, sizeof msg, 3);
	assert_int_equal(channel_mtu(p.a), CHANNEL_DEFAULT_MTU);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		struct to_b t = {&p, sizes[i], 0, 0, {0}};

		assert_int_equal(channel_set_mtu(p.a, sizes[i]), 0);
		assert_int_equal(channel_mtu(p.a), sizes[i]);
		assert_int_equal(channel_payload_max(p.a), sizes[i] - FRAME_OVERHEAD);
		assert_int_equal(channel_seal(p.a, msg, sizeof msg, 5, open_at_b, &t),
				 (int)((sizeof msg + sizes[i] - FRAME_OVERHEAD - 1) /
				       (sizes[i] - FRAME_OVERHEAD)));
		assert_int_equal(t.last, 1);
		assert_int_equal(t.m.len, sizeof msg);
		assert_memory_equal(t.m.data, msg, sizeof msg);
		/* One datagram of exactly the size set. */
		n = channel_seal_one(p.a, msg, sizes[i] - FRAME_OVERHEAD, 5, d, sizeof d);
		assert_int_equal(n, (long)sizes[i]);
		assert_int_equal(channel_seal_one(p.a, msg, sizes[i] - FRAME_OVERHEAD + 1, 5, d,
						  sizeof d), INSEL_E_TOO_BIG);
	}
	assert_int_equal(channel_set_mtu(p.a, CHANNEL_MIN_MTU - 1), -EINVAL);
	assert_int_equal(channel_set_mtu(p.a, FRAME_MAX_DATAGRAM + 1), -EINVAL);
	assert_int_equal(channel_mtu(p.a), 1200);
	assert_int_equal(total_drops(channel_stats(p.b)), 0);
	pair_free(&p);
}

static void missing_fragment_times_out_and_frees(void **state)
{
	static struct captured c;
	static uint8_t msg[9000];
	struct pair p;
	struct channel_msg m;
	uint64_t next = 0;

	pair_new(&p, SEC_CIPHER_CHACHA20POLY1305);
	fill(msg, sizeof msg, 2);
	memset(&c, 0, sizeof c);
	assert_int_equal(channel_seal(p.a, msg, sizeof msg, 100, capture, &c), 7);
	for (size_t i = 0; i < 7; i++)
		if (i != 4)
			assert_int_equal(b_open(&p, c.d[i], c.len[i], 100, &m), 0);
	assert_int_equal(channel_stats(p.b)->reasm_bytes, CHANNEL_MAX_MSG);
	channel_tick(p.b, 101, &next);
	assert_true(next <= 100 + CHANNEL_REASM_TIMEOUT_MS);
	channel_tick(p.b, 100 + CHANNEL_REASM_TIMEOUT_MS - 1, NULL);
	assert_int_equal(channel_stats(p.b)->reasm_bytes, CHANNEL_MAX_MSG);
	channel_tick(p.b, 100 + CHANNEL_REASM_TIMEOUT_MS, NULL);
	assert_int_equal(channel_stats(p.b)->reasm_bytes, 0);
	assert_int_equal(channel_stats(p.b)->drop_reasm_timeout, 1);
	/* Messages keep flowing afterwards. */
	memset(&c, 0, sizeof c);
	assert_int_equal(channel_seal(p.a, msg, 2000, 4000, capture, &c), 2);
	assert_int_equal(b_open(&p, c.d[1], c.len[1], 4000, &m), 0);
	assert_int_equal(b_open(&p, c.d[0], c.len[0], 4000, &m), 1);
	assert_memory_equal(m.data, msg, 2000);
	pair_free(&p);
}

static void too_many_partial_messages_evict_oldest(void **state)
{
	static struct captured c[CHANNEL_REASM_SLOTS + 1];
	static uint8_t msg[3000];
	struct pair p;
	struct channel_msg m;

	pair_new(&p, SEC_CIPHER_AES256GCM);
	fill(msg, sizeof msg, 3);
	for (size_t k = 0; k <= CHANNEL_REASM_SLOTS; k++) {
		memset(&c[k], 0, sizeof c[k]);
		assert_int_equal(channel_seal(p.a, msg, sizeof msg, 10 + k, capture, &c[k]), 3);
		assert_int_equal(b_open(&p, c[k].d[0], c[k].len[0], 10 + k, &m), 0);
	}
	assert_int_equal(channel_stats(p.b)->drop_reasm_evicted, 1);
	assert_int_equal(channel_stats(p.b)->reasm_bytes,
			 CHANNEL_REASM_SLOTS * (uint64_t)CHANNEL_MAX_MSG);
	/* The newest completes; the evicted first one cannot any more. */
	assert_int_equal(b_open(&p, c[CHANNEL_REASM_SLOTS].d[1], c[CHANNEL_REASM_SLOTS].len[1],
				20, &m), 0);
	assert_int_equal(b_open(&p, c[CHANNEL_REASM_SLOTS].d[2], c[CHANNEL_REASM_SLOTS].len[2],
				20, &m), 1);
	assert_memory_equal(m.data, msg, sizeof msg);
	pair_free(&p);
}

static void roams_only_on_authenticated_frames(void **state)
{
	struct pair p;
	uint8_t d[128], bad[128];
	struct channel_msg m;
	struct ip_endpoint elsewhere, third;
	size_t n;

	pair_new(&p, SEC_CIPHER_AES256GCM);
	assert_int_equal(ip_endpoint_parse("127.0.0.9:7000", &elsewhere), 0);
	assert_int_equal(ip_endpoint_parse("[::1]:7001", &third), 0);
	n = a_seal(&p, "from a new address", 1, d, sizeof d);
	memcpy(bad, d, n);
	bad[n - 1] ^= 0x80;
	assert_true(channel_open(p.b, bad, n, &elsewhere, 1, &m) < 0);
	assert_true(ip_addr_equal(&channel_peer(p.b)->addr, &p.a_addr.addr));
	assert_int_equal(channel_peer(p.b)->port, p.a_addr.port);
	assert_int_equal(channel_open(p.b, d, n, &elsewhere, 1, &m), 1);
	assert_int_equal(channel_peer(p.b)->port, 7000);
	assert_int_equal(channel_stats(p.b)->roams, 1);
	/* A replay of that genuine frame from a third address moves nothing. */
	assert_int_equal(channel_open(p.b, d, n, &third, 2, &m), INSEL_E_REPLAY);
	assert_int_equal(channel_peer(p.b)->port, 7000);
	/* Nor does a frame with no known source. */
	n = a_seal(&p, "no source", 3, d, sizeof d);
	assert_int_equal(channel_open(p.b, d, n, NULL, 3, &m), 1);
	assert_int_equal(channel_peer(p.b)->port, 7000);
	assert_int_equal(channel_stats(p.b)->roams, 1);
	pair_free(&p);
}

static void keepalive_and_dead_peer_timing(void **state)
{
	struct sec_channel_params pa, pb;
	struct pair p;
	struct channel_msg m;
	uint8_t d[64];
	uint64_t next = 0;
	long n;

	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	pa.keepalive_ms = 5000;
	pa.dead_after_ms = 20000;
	pb.keepalive_ms = 5000;
	pb.dead_after_ms = 20000;
	pair_open(&p, &pa, &pb);
	assert_int_equal(channel_tick(p.a, 4999, &next), 0);
	assert_int_equal(next, 5000);
	assert_int_equal(channel_tick(p.a, 5000, &next), CHANNEL_SEND_KEEPALIVE);
	n = channel_keepalive(p.a, 5000, d, sizeof d);
	assert_int_equal(n, FRAME_OVERHEAD);
	assert_int_equal(channel_tick(p.a, 5001, &next), 0);
	assert_int_equal(next, 10000);
	assert_int_equal(b_open(&p, d, (size_t)n, 5000, &m), 0);
	assert_int_equal(channel_stats(p.b)->keepalives_in, 1);
	assert_int_equal(channel_stats(p.b)->msgs_in, 0);
	/* A clock that steps back raises nothing. */
	assert_int_equal(channel_tick(p.a, 10, NULL), 0);
	/* Sending data also resets the keep-alive timer. */
	assert_true(channel_seal_one(p.a, "data", 4, 9000, d, sizeof d) > 0);
	assert_int_equal(channel_tick(p.a, 13999, NULL), 0);
	/* B heard from A at 5000 only: dead at 25000, not before. B keeps wanting to send
	 * keep-alives since it never sent anything. */
	assert_int_equal(channel_tick(p.b, 24999, NULL), CHANNEL_SEND_KEEPALIVE);
	assert_int_equal(channel_tick(p.b, 25000, NULL),
			 CHANNEL_SEND_KEEPALIVE | CHANNEL_PEER_DEAD);
	/* A never heard from B at all: dead 20000 after creation. */
	assert_int_equal(channel_tick(p.a, 19999, NULL) & CHANNEL_PEER_DEAD, 0);
	assert_int_equal(channel_tick(p.a, 20000, NULL) & CHANNEL_PEER_DEAD, CHANNEL_PEER_DEAD);
	pair_free(&p);
}

/* A sends a probe request of a given size; returns the datagram length. */
static size_t a_probe(struct pair *p, uint32_t id, size_t size, uint64_t now, uint8_t *out,
		      size_t cap)
{
	const struct frame_probe req = {.kind = FRAME_PROBE_REQUEST, .id = id};
	long n = channel_probe(p->a, &req, size, now, out, cap);

	assert_int_equal(n, (long)size);
	return (size_t)n;
}

static void probes_round_trip_without_moving_the_peer(void **state)
{
	static uint8_t d[FRAME_MAX_DATAGRAM], r[FRAME_MAX_DATAGRAM];
	struct frame_probe reply = {.kind = FRAME_PROBE_REPLY};
	struct ip_endpoint candidate;
	struct channel_msg m;
	struct pair p;
	size_t n;
	long rn;

	pair_new(&p, SEC_CIPHER_AES256GCM);
	assert_int_equal(ip_endpoint_parse("198.18.7.7:4000", &candidate), 0);
	/* Larger than the MTU: probes are single frames of any size. */
	n = a_probe(&p, 0x01020304, 3000, 1, d, sizeof d);
	assert_int_equal(channel_open(p.b, d, n, &candidate, 1, &m), CHANNEL_OPEN_PROBE);
	assert_int_equal(m.probe.kind, FRAME_PROBE_REQUEST);
	assert_int_equal(m.probe.id, 0x01020304);
	assert_int_equal(m.len, 3000);
	/* Authenticated, but the peer endpoint stays where it was. */
	assert_int_equal(channel_peer(p.b)->port, p.a_addr.port);
	assert_int_equal(channel_stats(p.b)->roams, 0);
	assert_int_equal(channel_stats(p.b)->probe_requests_in, 1);
	/* The reply says how big the request was; it is the smallest probe. */
	reply.id = m.probe.id;
	reply.size = (uint16_t)m.len;
	rn = channel_probe(p.b, &reply, FRAME_PROBE_MIN_DATAGRAM, 2, r, sizeof r);
	assert_int_equal(rn, FRAME_PROBE_MIN_DATAGRAM);
	assert_int_equal(channel_open(p.a, r, (size_t)rn, &candidate, 2, &m),
			 CHANNEL_OPEN_PROBE);
	assert_int_equal(m.probe.kind, FRAME_PROBE_REPLY);
	assert_int_equal(m.probe.id, 0x01020304);
	assert_int_equal(m.probe.size, 3000);
	assert_int_equal(channel_peer(p.a)->port, p.b_addr.port);
	assert_int_equal(channel_stats(p.a)->probe_requests_out, 1);
	assert_int_equal(channel_stats(p.b)->probe_replies_out, 1);
	assert_int_equal(channel_stats(p.a)->probe_replies_in, 1);
	/* A replayed or tampered probe is dropped like any frame. */
	assert_int_equal(channel_open(p.b, d, n, &candidate, 3, &m), INSEL_E_REPLAY);
	n = a_probe(&p, 5, FRAME_PROBE_MIN_DATAGRAM, 3, d, sizeof d);
	d[FRAME_HEADER_LEN + 4] ^= 1;
	assert_int_equal(channel_open(p.b, d, n, &candidate, 3, &m), INSEL_E_AUTH);
	/* Sizes out of range, or a buffer too small. */
	assert_int_equal(channel_probe(p.a, &reply, FRAME_PROBE_MIN_DATAGRAM - 1, 4, d,
				       sizeof d), -EINVAL);
	assert_int_equal(channel_probe(p.a, &reply, FRAME_MAX_DATAGRAM + 1, 4, d, sizeof d),
			 -EINVAL);
	assert_int_equal(channel_probe(p.a, &reply, 100, 4, d, 99), INSEL_E_NOSPACE);
	pair_free(&p);
}

static void probes_keep_the_keepalive_timer_and_set_peer_moves(void **state)
{
	struct sec_channel_params pa, pb;
	struct ip_endpoint elsewhere;
	struct channel_msg m;
	struct pair p;
	uint8_t d[128];
	size_t n;

	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	pa.keepalive_ms = 5000;
	pb.keepalive_ms = 5000;
	pair_open(&p, &pa, &pb);
	/* Probes are not keep-alives: the timer runs on. */
	a_probe(&p, 1, 64, 4000, d, sizeof d);
	assert_int_equal(channel_tick(p.a, 5000, NULL), CHANNEL_SEND_KEEPALIVE);
	/* A probe received is a sign of life, though. */
	n = a_probe(&p, 2, 64, 30000, d, sizeof d);
	assert_int_equal(channel_open(p.b, d, n, &p.a_addr, 30000, &m), CHANNEL_OPEN_PROBE);
	assert_int_equal(channel_tick(p.b, 30000 + 44999, NULL) & CHANNEL_PEER_DEAD, 0);
	/* The path logic moves the peer itself. */
	assert_int_equal(ip_endpoint_parse("198.18.1.1:9", &elsewhere), 0);
	channel_set_peer(p.a, &elsewhere);
	assert_int_equal(channel_peer(p.a)->port, 9);
	assert_int_equal(channel_stats(p.a)->roams, 0);
	pair_free(&p);
}

static void status_json_reports_counters(void **state)
{
	struct pair p;
	uint8_t d[64];
	struct channel_msg m;
	size_t n;
	json_t *j;

	pair_new(&p, SEC_CIPHER_CHACHA20POLY1305);
	n = a_seal(&p, "x", 1, d, sizeof d);
	assert_int_equal(b_open(&p, d, n, 1, &m), 1);
	assert_int_equal(b_open(&p, d, n, 1, &m), INSEL_E_REPLAY);
	j = channel_status_json(p.b);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "cipher")),
			    "chacha20-poly1305");
	assert_string_equal(json_string_value(json_object_get(j, "peer")), "127.0.0.1:5001");
	assert_int_equal(json_integer_value(json_object_get(j, "local_session")), B_SESSION);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_object_get(j, "stats"), "drops"), "replay")),
			 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "stats"),
							    "frames_in")), 1);
	json_decref(j);
	pair_free(&p);
}

/* Frames that never arrive are counted lost, exactly, from the first frame heard on: a
 * late one takes its count back, a duplicate or a forged copy changes nothing, and
 * what was sent before the first frame heard is not counted. */
static void lost_frames_counted_and_late_ones_taken_back(void **state)
{
	enum { N = 12 };
	uint8_t d[N][64];
	size_t len[N];
	struct pair p;
	struct channel_msg m;
	json_t *j;

	pair_new(&p, SEC_CIPHER_AES256GCM);
	for (size_t i = 0; i < N; i++)
		len[i] = a_seal(&p, "x", 1, d[i], sizeof d[i]);
	/* 0 and 1 never come: before the first frame heard. */
	assert_int_equal(b_open(&p, d[2], len[2], 1, &m), 1);
	assert_int_equal(b_open(&p, d[3], len[3], 1, &m), 1);
	assert_int_equal(b_open(&p, d[6], len[6], 1, &m), 1);
	assert_int_equal(channel_stats(p.b)->frames_lost, 2);  /* 4 and 5 */
	assert_int_equal(b_open(&p, d[4], len[4], 1, &m), 1);   /* late: not lost after all */
	assert_int_equal(channel_stats(p.b)->frames_lost, 1);
	assert_int_equal(b_open(&p, d[4], len[4], 1, &m), INSEL_E_REPLAY);
	d[5][len[5] - 1] ^= 1;                                   /* forged: still missing */
	assert_int_equal(b_open(&p, d[5], len[5], 1, &m), INSEL_E_AUTH);
	assert_int_equal(b_open(&p, d[0], len[0], 1, &m), 1);   /* before the first heard */
	assert_int_equal(channel_stats(p.b)->frames_lost, 1);
	assert_int_equal(b_open(&p, d[N - 1], len[N - 1], 1, &m), 1);
	assert_int_equal(channel_stats(p.b)->frames_lost, 5);   /* 5, 7, 8, 9, 10 */
	j = channel_status_json(p.b);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "stats"),
							    "frames_lost")), 5);
	json_decref(j);
	pair_free(&p);
}

static void pair_new_deflate(struct pair *p, bool a_deflates, bool b_deflates)
{
	struct sec_channel_params pa, pb;

	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	pa.compress = a_deflates ? SEC_COMPRESS_DEFLATE : SEC_COMPRESS_NONE;
	pb.compress = b_deflates ? SEC_COMPRESS_DEFLATE : SEC_COMPRESS_NONE;
	pair_open(p, &pa, &pb);
}

struct collect {
	uint8_t dgrams[64][1500];
	size_t lens[64];
	size_t n;
};

static int collect_dgram(void *ctx, const uint8_t *d, size_t len)
{
	struct collect *c = ctx;

	assert_true(c->n < 64 && len <= sizeof c->dgrams[0]);
	memcpy(c->dgrams[c->n], d, len);
	c->lens[c->n++] = len;
	return 0;
}

static void deflate_shrinks_and_round_trips(void **state)
{
	static uint8_t text[20000], noise[3000];
	struct collect c = {0};
	struct channel_msg m;
	struct pair p;
	size_t wire = 0;
	int rc = 0;

	for (size_t i = 0; i < sizeof text; i++)
		text[i] = (uint8_t)("insel compresses repetitive payloads "[i % 37]);
	rand_nonce(noise, sizeof noise);
	pair_new_deflate(&p, true, true);
	/* 20000 repetitive bytes need 15 fragments plain; deflated they fit in one. */
	assert_int_equal(channel_seal(p.a, text, sizeof text, 1, collect_dgram, &c), 1);
	assert_int_equal(b_open(&p, c.dgrams[0], c.lens[0], 1, &m), 1);
	assert_int_equal(m.len, sizeof text);
	assert_memory_equal(m.data, text, sizeof text);
	assert_int_equal(channel_stats(p.a)->msgs_deflated_out, 1);
	/* Noise does not shrink: it goes plain, fragmented, and arrives intact. */
	c.n = 0;
	assert_int_equal(channel_seal(p.a, noise, sizeof noise, 2, collect_dgram, &c), 3);
	for (size_t i = 0; i < c.n; i++) {
		wire += c.lens[i];
		rc = b_open(&p, c.dgrams[i], c.lens[i], 2, &m);
	}
	assert_int_equal(rc, 1);
	assert_true(wire > sizeof noise);
	assert_memory_equal(m.data, noise, sizeof noise);
	assert_int_equal(channel_stats(p.a)->msgs_deflated_out, 1);
	pair_free(&p);
}

static void deflate_refused_when_not_negotiated(void **state)
{
	static uint8_t text[4000];
	struct collect c = {0};
	struct channel_msg m;
	struct pair p;

	memset(text, 'z', sizeof text);
	pair_new_deflate(&p, true, false);
	assert_int_equal(channel_seal(p.a, text, sizeof text, 1, collect_dgram, &c), 1);
	assert_int_equal(b_open(&p, c.dgrams[0], c.lens[0], 1, &m), INSEL_E_MALFORMED);
	assert_int_equal(channel_stats(p.b)->drop_malformed, 1);
	pair_free(&p);
}

/* A peer holding the keys could still send a "bomb": a small frame that inflates past the
 * message limit. Built here by hand with the sender's key; refused and counted. */
static long forge_frame(const struct sec_channel_params *from, uint8_t type, uint64_t counter,
			const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
	struct frame_header h = {type, 0, 0, 1, from->remote_session, counter};
	uint8_t nonce[AEAD_NONCE_LEN];
	struct aead key;
	long n;

	assert_int_equal(aead_init(&key, from->cipher, from->send_key), 0);
	assert_int_equal(frame_header_encode(&h, out, cap), 0);
	frame_nonce(h.epoch, h.counter, nonce);
	n = aead_seal(&key, nonce, out, FRAME_HEADER_LEN, payload, len, out + FRAME_HEADER_LEN,
		      cap - FRAME_HEADER_LEN);
	aead_free(&key);
	assert_true(n > 0);
	return FRAME_HEADER_LEN + n;
}

static long forge_deflate_frame(const struct sec_channel_params *from, uint64_t counter,
				const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
	return forge_frame(from, FRAME_DATA_DEFLATE, counter, payload, len, out, cap);
}

static void deflate_bomb_refused(void **state)
{
	static uint8_t huge[200000], packed[2000];
	struct sec_channel_params pa, pb;
	struct channel *b;
	z_stream z = {0};
	struct channel_msg m;
	uint8_t d[1500];
	long n;

	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	pb.compress = SEC_COMPRESS_DEFLATE;
	assert_int_equal(channel_new(&pb, 0, &b), 0);
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = huge;
	z.avail_in = sizeof huge;
	z.next_out = packed;
	z.avail_out = sizeof packed;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	assert_true(z.total_out < 1000);
	n = forge_deflate_frame(&pa, 0, packed, z.total_out, d, sizeof d);
	assert_int_equal(channel_open(b, d, (size_t)n, NULL, 1, &m), INSEL_E_TOO_BIG);
	assert_int_equal(channel_stats(b)->drop_too_big, 1);
	/* Bytes that are not deflate at all are refused too, and counted apart. */
	memset(packed, 0xff, 64);
	n = forge_deflate_frame(&pa, 1, packed, 64, d, sizeof d);
	assert_int_equal(channel_open(b, d, (size_t)n, NULL, 1, &m), INSEL_E_MALFORMED);
	assert_int_equal(channel_stats(b)->drop_bad_compression, 1);
	/* And the channel goes on: a proper deflated message comes through. */
	memset(&z, 0, sizeof z);
	assert_int_equal(deflateInit2(&z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)"still here";
	z.avail_in = 10;
	z.next_out = packed;
	z.avail_out = sizeof packed;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	n = forge_deflate_frame(&pa, 2, packed, z.total_out, d, sizeof d);
	assert_int_equal(channel_open(b, d, (size_t)n, NULL, 1, &m), 1);
	assert_int_equal(m.len, 10);
	assert_memory_equal(m.data, "still here", 10);
	channel_free(b);
}

/* External rekeying (the secondaries' key exchanges): a pair whose epochs come only from
 * channel_install_epoch. */
static void external_pair(struct pair *p, uint64_t frames)
{
	struct sec_channel_params pa, pb;

	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	pa.external_rekey = pb.external_rekey = true;
	pa.rekey_after_ms = pb.rekey_after_ms = 1000;  /* ignored: no rotation by time */
	pa.rekey_after_frames = pb.rekey_after_frames = frames;
	pair_open(p, &pa, &pb);
}

static void fill_key(uint8_t k[SEC_KEY_LEN], uint8_t v)
{
	memset(k, v, SEC_KEY_LEN);
}

static void external_rekey_switches_without_loss(void **state)
{
	struct pair p;
	struct channel_msg m;
	uint8_t old[64], d[64], a2b[SEC_KEY_LEN], b2a[SEC_KEY_LEN];
	size_t old_len, n;
	long len;

	external_pair(&p, 0);
	old_len = a_seal(&p, "epoch 0", 5000, old, sizeof old);
	assert_int_equal(channel_send_epoch(p.a), 0);  /* no rotation by time */
	fill_key(a2b, 0x31);
	fill_key(b2a, 0x32);
	/* The responder (B) first: it accepts epoch 1 and still sends epoch 0. */
	assert_int_equal(channel_install_epoch(p.b, 1, b2a, a2b, false, 5000), 0);
	assert_int_equal(channel_send_epoch(p.b), 0);
	len = channel_seal_one(p.b, "b0", 2, 5000, d, sizeof d);
	assert_int_equal(channel_open(p.a, d, (size_t)len, &p.b_addr, 5000, &m), 1);
	/* Then the initiator (A), which sends with it at once and wants a keep-alive. */
	assert_int_equal(channel_install_epoch(p.a, 1, a2b, b2a, true, 5001), 0);
	assert_int_equal(channel_send_epoch(p.a), 1);
	assert_true(channel_tick(p.a, 5001, NULL) & CHANNEL_SEND_KEEPALIVE);
	/* A's next epoch is refused until B is seen using epoch 1. */
	assert_int_equal(channel_install_epoch(p.a, 2, a2b, b2a, true, 5001), INSEL_E_CONFLICT);
	n = a_seal(&p, "epoch 1", 5002, d, sizeof d);
	assert_int_equal(b_open(&p, d, n, 5002, &m), 1);
	assert_int_equal(channel_recv_epoch(p.b), 1);
	/* B's sender followed (A proved it holds the keys), and a straggler still opens. */
	assert_int_equal(channel_send_epoch(p.b), 1);
	assert_true(channel_keepalive_wanted(p.b));
	assert_true(channel_tick(p.b, 5002, NULL) & CHANNEL_SEND_KEEPALIVE);
	assert_int_equal(b_open(&p, old, old_len, 5003, &m), 1);
	assert_memory_equal(m.data, "epoch 0", 7);
	len = channel_keepalive(p.b, 5003, d, sizeof d);
	assert_int_equal(channel_open(p.a, d, (size_t)len, &p.b_addr, 5003, &m), 0);
	assert_int_equal(channel_recv_epoch(p.a), 1);
	assert_false(channel_keepalive_wanted(p.b));
	assert_false(channel_tick(p.b, 5004, NULL) & CHANNEL_SEND_KEEPALIVE);
	/* A data frame proves the epoch as well as a keep-alive: A's "epoch 1" did. */
	assert_false(channel_keepalive_wanted(p.a));
	/* Epoch 2 now, and an epoch that skips one is refused. */
	assert_int_equal(channel_install_epoch(p.b, 3, b2a, a2b, false, 5004), INSEL_E_CONFLICT);
	fill_key(a2b, 0x41);
	assert_int_equal(channel_install_epoch(p.b, 2, b2a, a2b, false, 5004), 0);
	assert_int_equal(channel_install_epoch(p.a, 2, a2b, b2a, true, 5004), 0);
	n = a_seal(&p, "epoch 2", 5005, d, sizeof d);
	assert_int_equal(b_open(&p, d, n, 5005, &m), 1);
	assert_int_equal(channel_stats(p.b)->rekeys_in, 2);
	assert_int_equal(channel_stats(p.a)->epochs_installed, 2);
	assert_int_equal(total_drops(channel_stats(p.b)), 0);
	pair_free(&p);
}

static void external_rekey_replaced_keys_and_frame_budget(void **state)
{
	struct pair p;
	struct channel_msg m;
	uint8_t d[64], k1[SEC_KEY_LEN], k2[SEC_KEY_LEN], back[SEC_KEY_LEN];
	struct channel *spare;
	struct sec_channel_params pa, pb;
	size_t n;

	external_pair(&p, 4);
	fill_key(k1, 0x51);
	fill_key(k2, 0x52);
	fill_key(back, 0x53);
	/* B installs epoch 1 twice (an exchange run again): the second keys replace the
	 * first, which A never used. */
	assert_int_equal(channel_install_epoch(p.b, 1, back, k1, false, 1), 0);
	assert_int_equal(channel_install_epoch(p.b, 1, back, k2, false, 1), 0);
	assert_int_equal(channel_install_epoch(p.a, 1, k2, back, true, 1), 0);
	n = a_seal(&p, "k2", 2, d, sizeof d);
	assert_int_equal(b_open(&p, d, n, 2, &m), 1);
	/* A frame under the replaced keys does not authenticate. */
	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	pa.external_rekey = true;
	assert_int_equal(channel_new(&pa, 0, &spare), 0);
	assert_int_equal(channel_install_epoch(spare, 1, k1, back, true, 0), 0);
	n = (size_t)channel_seal_one(spare, "k1", 2, 3, d, sizeof d);
	assert_int_equal(b_open(&p, d, n, 3, &m), INSEL_E_REPLAY);  /* counter 0 again */
	n = (size_t)channel_seal_one(spare, "k1", 2, 3, d, sizeof d);
	assert_int_equal(b_open(&p, d, n, 3, &m), INSEL_E_AUTH);    /* counter 1: bad tag */
	assert_int_equal(channel_stats(p.b)->drop_bad_tag, 1);
	channel_free(spare);
	/* Frame budget: half of it asks for a new epoch (once), all of it stops sealing. */
	assert_false(channel_tick(p.a, 4, NULL) & CHANNEL_REKEY_DUE);
	a_seal(&p, "x", 4, d, sizeof d);
	assert_true(channel_tick(p.a, 4, NULL) & CHANNEL_REKEY_DUE);
	assert_false(channel_tick(p.a, 4, NULL) & CHANNEL_REKEY_DUE);
	a_seal(&p, "x", 4, d, sizeof d);
	a_seal(&p, "x", 4, d, sizeof d);
	assert_int_equal(channel_seal_one(p.a, "x", 1, 4, d, sizeof d), INSEL_E_LIMIT);
	assert_int_equal(channel_stats(p.a)->drop_key_exhausted, 1);
	/* Without external rekeying there is nothing to install. */
	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	assert_int_equal(channel_new(&pa, 0, &spare), 0);
	assert_int_equal(channel_install_epoch(spare, 1, k1, back, true, 0), -EINVAL);
	channel_free(spare);
	pair_free(&p);
}

static void bad_params_refused(void **state)
{
	struct sec_channel_params pa, pb;
	struct channel *ch = (struct channel *)&pa;

	make_params(&pa, &pb, SEC_CIPHER_NONE);
	assert_int_equal(channel_new(&pa, 0, &ch), -EINVAL);
	assert_null(ch);
	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	pa.compress = (enum sec_compress)7;
	assert_int_equal(channel_new(&pa, 0, &ch), -ENOTSUP);
	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	pa.mtu = 100;
	assert_int_equal(channel_new(&pa, 0, &ch), -EINVAL);
	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	pa.local_session = 0;
	assert_int_equal(channel_new(&pa, 0, &ch), -EINVAL);
	channel_free(NULL);
}

/* ---- probe counters of their own (docs/frames.md sections 1a and 3) ---- */

static uint64_t header_counter(const uint8_t *d)
{
	uint64_t c = 0;

	for (int i = 8; i < 16; i++)
		c = c << 8 | d[i];
	return c;
}

static void pair_new_probe_space(struct pair *p, struct sec_channel_params *pa,
				 struct sec_channel_params *pb)
{
	make_params(pa, pb, SEC_CIPHER_AES256GCM);
	assert_int_equal(channel_new(pa, 0, &p->a), 0);
	assert_int_equal(channel_new(pb, 0, &p->b), 0);
	p->a_addr = pb->peer;
	p->b_addr = pa->peer;
	assert_int_equal(channel_use_probe_space(p->a), 0);
	assert_int_equal(channel_use_probe_space(p->b), 0);
}

/* Probes that never arrive (to a candidate nothing answers from, larger than the path)
 * leave no gap among the peer's frames; a data frame that never arrives still does. */
static void probes_in_their_space_never_create_a_loss_gap(void **state)
{
	struct sec_channel_params pa, pb;
	uint8_t d[8][128], pr[4][128];
	size_t len[8], plen[4];
	struct channel_msg m;
	struct pair p;
	json_t *j;

	pair_new_probe_space(&p, &pa, &pb);
	len[0] = a_seal(&p, "d0", 1, d[0], sizeof d[0]);
	for (uint32_t i = 0; i < 4; i++)
		plen[i] = a_probe(&p, i, FRAME_PROBE_MIN_DATAGRAM + 8 * i, 1, pr[i], sizeof pr[i]);
	len[1] = a_seal(&p, "d1", 1, d[1], sizeof d[1]);
	len[2] = a_seal(&p, "d2", 1, d[2], sizeof d[2]);
	len[3] = a_seal(&p, "d3", 1, d[3], sizeof d[3]);
	/* Data counts on from 0 as if no probe was sent; probes from the top half. */
	assert_int_equal(header_counter(d[1]), 1);
	assert_true(header_counter(pr[0]) == CHANNEL_PROBE_SPACE);
	assert_true(header_counter(pr[3]) == CHANNEL_PROBE_SPACE + 3);
	/* Only probe 2 arrives, between the data frames. */
	assert_int_equal(b_open(&p, d[0], len[0], 1, &m), 1);
	assert_int_equal(b_open(&p, pr[2], plen[2], 1, &m), CHANNEL_OPEN_PROBE);
	assert_int_equal(m.probe.id, 2);
	assert_int_equal(b_open(&p, d[1], len[1], 1, &m), 1);
	assert_int_equal(channel_stats(p.b)->frames_lost, 0);
	/* A probe heard first starts no count either: only data frames do. */
	assert_int_equal(b_open(&p, d[3], len[3], 1, &m), 1);
	assert_int_equal(channel_stats(p.b)->frames_lost, 1);   /* d2, meant for B */
	assert_int_equal(b_open(&p, pr[3], plen[3], 1, &m), CHANNEL_OPEN_PROBE);
	assert_int_equal(channel_stats(p.b)->frames_lost, 1);
	assert_int_equal(b_open(&p, d[2], len[2], 1, &m), 1);   /* late after all */
	assert_int_equal(channel_stats(p.b)->frames_lost, 0);
	assert_int_equal(channel_stats(p.b)->probe_requests_in, 2);
	/* Too late to change spaces once frames went either way. */
	assert_int_equal(channel_use_probe_space(p.a), -EINVAL);
	assert_true(channel_probe_space(p.b));
	j = channel_status_json(p.b);
	assert_true(json_is_true(json_object_get(j, "probe_space")));
	json_decref(j);
	chanparams_wipe(&pa);
	chanparams_wipe(&pb);
	pair_free(&p);
}

/* Probes have a replay window of their own: a replay is refused, a probe reordered within
 * the window is taken once, one older than the window is refused, and neither moves the
 * data frames' window. */
static void replayed_probe_refused_in_its_space(void **state)
{
	enum { N = REPLAY_WINDOW + 3 };
	struct sec_channel_params pa, pb;
	static uint8_t pr[N][FRAME_PROBE_MIN_DATAGRAM];
	uint8_t d[2][64];
	size_t dlen[2];
	struct channel_msg m;
	struct pair p;

	pair_new_probe_space(&p, &pa, &pb);
	dlen[0] = a_seal(&p, "d0", 1, d[0], sizeof d[0]);
	for (uint32_t i = 0; i < N; i++)
		a_probe(&p, i, FRAME_PROBE_MIN_DATAGRAM, 1, pr[i], sizeof pr[i]);
	dlen[1] = a_seal(&p, "d1", 1, d[1], sizeof d[1]);
	assert_int_equal(b_open(&p, pr[5], sizeof pr[5], 1, &m), CHANNEL_OPEN_PROBE);
	assert_int_equal(b_open(&p, pr[5], sizeof pr[5], 1, &m), INSEL_E_REPLAY);
	assert_int_equal(b_open(&p, pr[4], sizeof pr[4], 1, &m), CHANNEL_OPEN_PROBE);
	assert_int_equal(b_open(&p, pr[4], sizeof pr[4], 1, &m), INSEL_E_REPLAY);
	assert_int_equal(b_open(&p, pr[N - 1], sizeof pr[N - 1], 1, &m), CHANNEL_OPEN_PROBE);
	/* pr[1] is more than the window behind pr[N-1]: refused; pr[3] is just inside. */
	assert_int_equal(b_open(&p, pr[1], sizeof pr[1], 1, &m), INSEL_E_REPLAY);
	assert_int_equal(b_open(&p, pr[3], sizeof pr[3], 1, &m), CHANNEL_OPEN_PROBE);
	assert_int_equal(channel_stats(p.b)->drop_replay, 3);
	/* The data window never saw them: d1 then d0 (late) both arrive, nothing lost. */
	assert_int_equal(b_open(&p, d[1], dlen[1], 1, &m), 1);
	assert_int_equal(b_open(&p, d[0], dlen[0], 1, &m), 1);
	assert_int_equal(b_open(&p, d[0], dlen[0], 1, &m), INSEL_E_REPLAY);
	assert_int_equal(channel_stats(p.b)->frames_lost, 0);
	chanparams_wipe(&pa);
	chanparams_wipe(&pb);
	pair_free(&p);
}

/* With probe counters of their own, a frame in the other space is malformed even though it
 * authenticates (built here with the sender's key): a data frame or a keep-alive with a
 * probe's counter would otherwise skip the loss count, a probe with a data counter would
 * open a gap. Nothing changes: no window moves, nothing is counted lost. */
static void frame_in_the_wrong_space_refused(void **state)
{
	struct sec_channel_params pa, pb;
	uint8_t d[128], probe[FRAME_PROBE_PAYLOAD_MIN] = {FRAME_PROBE_REQUEST};
	struct channel_msg m;
	struct pair p;
	long n;

	pair_new_probe_space(&p, &pa, &pb);
	n = forge_frame(&pa, FRAME_DATA, CHANNEL_PROBE_SPACE + 5, (const uint8_t *)"x", 1, d,
			sizeof d);
	assert_int_equal(b_open(&p, d, (size_t)n, 1, &m), INSEL_E_MALFORMED);
	n = forge_frame(&pa, FRAME_KEEPALIVE, CHANNEL_PROBE_SPACE, NULL, 0, d, sizeof d);
	assert_int_equal(b_open(&p, d, (size_t)n, 1, &m), INSEL_E_MALFORMED);
	n = forge_frame(&pa, FRAME_PROBE, 7, probe, sizeof probe, d, sizeof d);
	assert_int_equal(b_open(&p, d, (size_t)n, 1, &m), INSEL_E_MALFORMED);
	assert_int_equal(channel_stats(p.b)->drop_malformed, 3);
	assert_int_equal(channel_stats(p.b)->frames_in, 0);
	/* The same frames in their own spaces are fine, and data from 0 shows no gap. */
	n = forge_frame(&pa, FRAME_DATA, 0, (const uint8_t *)"x", 1, d, sizeof d);
	assert_int_equal(b_open(&p, d, (size_t)n, 1, &m), 1);
	n = forge_frame(&pa, FRAME_PROBE, CHANNEL_PROBE_SPACE + 7, probe, sizeof probe, d,
			sizeof d);
	assert_int_equal(b_open(&p, d, (size_t)n, 1, &m), CHANNEL_OPEN_PROBE);
	n = forge_frame(&pa, FRAME_DATA, 1, (const uint8_t *)"y", 1, d, sizeof d);
	assert_int_equal(b_open(&p, d, (size_t)n, 1, &m), 1);
	assert_int_equal(channel_stats(p.b)->frames_lost, 0);
	chanparams_wipe(&pa);
	chanparams_wipe(&pb);
	pair_free(&p);
}

/* Off (a peer of the previous version, or Secsockets): probes take the data counters as
 * before, so a probe that never arrives is a gap, and a probe with a top-half counter
 * would be taken as data's newest; that is why both ends must agree first. */
static void probe_space_off_keeps_the_shared_counters(void **state)
{
	struct sec_channel_params pa, pb;
	uint8_t d[3][128];
	size_t len[3];
	struct channel_msg m;
	struct pair p;
	json_t *j;

	pair_new(&p, SEC_CIPHER_AES256GCM);
	assert_false(channel_probe_space(p.a));
	len[0] = a_seal(&p, "d0", 1, d[0], sizeof d[0]);
	len[1] = a_probe(&p, 1, FRAME_PROBE_MIN_DATAGRAM, 1, d[1], sizeof d[1]);
	len[2] = a_seal(&p, "d2", 1, d[2], sizeof d[2]);
	assert_int_equal(header_counter(d[1]), 1);
	assert_int_equal(header_counter(d[2]), 2);
	assert_int_equal(b_open(&p, d[0], len[0], 1, &m), 1);
	assert_int_equal(b_open(&p, d[2], len[2], 1, &m), 1);
	assert_int_equal(channel_stats(p.b)->frames_lost, 1);   /* the probe */
	assert_int_equal(b_open(&p, d[1], len[1], 1, &m), CHANNEL_OPEN_PROBE);
	assert_int_equal(channel_stats(p.b)->frames_lost, 0);
	j = channel_status_json(p.b);
	assert_true(json_is_false(json_object_get(j, "probe_space")));
	json_decref(j);
	pair_free(&p);
	/* A sender with its own probe counters and a receiver without: the data after the
	 * probe is refused as replayed. The negotiation never lets this happen. */
	make_params(&pa, &pb, SEC_CIPHER_AES256GCM);
	pair_open(&p, &pa, &pb);
	assert_int_equal(channel_use_probe_space(p.a), 0);
	len[0] = a_probe(&p, 1, FRAME_PROBE_MIN_DATAGRAM, 1, d[0], sizeof d[0]);
	len[1] = a_seal(&p, "d0", 1, d[1], sizeof d[1]);
	assert_int_equal(b_open(&p, d[0], len[0], 1, &m), CHANNEL_OPEN_PROBE);
	assert_int_equal(b_open(&p, d[1], len[1], 1, &m), INSEL_E_REPLAY);
	pair_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_aes_gcm),
		cmocka_unit_test(round_trip_chacha),
		cmocka_unit_test(every_flipped_bit_is_dropped),
		cmocka_unit_test(replayed_frame_dropped),
		cmocka_unit_test(unknown_session_dropped),
		cmocka_unit_test(truncated_frames_dropped),
		cmocka_unit_test(reordered_accepted_once_and_too_old_dropped),
		cmocka_unit_test(rekey_under_reordering_loses_nothing),
		cmocka_unit_test(rekey_by_time_and_old_key_expires),
		cmocka_unit_test(big_message_fragmented_and_reassembled),
		cmocka_unit_test(opened_into_the_hosts_room),
		cmocka_unit_test(mtu_changes_at_run_time),
		cmocka_unit_test(missing_fragment_times_out_and_frees),
		cmocka_unit_test(too_many_partial_messages_evict_oldest),
		cmocka_unit_test(roams_only_on_authenticated_frames),
		cmocka_unit_test(keepalive_and_dead_peer_timing),
		cmocka_unit_test(status_json_reports_counters),
		cmocka_unit_test(lost_frames_counted_and_late_ones_taken_back),
		cmocka_unit_test(probes_round_trip_without_moving_the_peer),
		cmocka_unit_test(probes_keep_the_keepalive_timer_and_set_peer_moves),
		cmocka_unit_test(deflate_shrinks_and_round_trips),
		cmocka_unit_test(deflate_refused_when_not_negotiated),
		cmocka_unit_test(deflate_bomb_refused),
		cmocka_unit_test(bad_params_refused),
		cmocka_unit_test(external_rekey_switches_without_loss),
		cmocka_unit_test(external_rekey_replaced_keys_and_frame_budget),
		cmocka_unit_test(probes_in_their_space_never_create_a_loss_gap),
		cmocka_unit_test(replayed_probe_refused_in_its_space),
		cmocka_unit_test(frame_in_the_wrong_space_refused),
		cmocka_unit_test(probe_space_off_keeps_the_shared_counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
