/* Unit tests for the key exchanges within a call (rekey.h): X25519 against RFC 7748's
 * vectors, the key schedule (both sides agree, every epoch differs, the chain moves), and
 * the schedule of two sides on a fake clock — who starts when, collisions, an exchange
 * abandoned and run again, the responder's tentative keys, the overdue call — and the
 * codecs of the messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "hex.h"
#include "msg.h"
#include "rekey.h"

#define CALL_ID 0x0123456789abcdefULL
#define INTERVAL 10000u

static void unhex(const char *text, uint8_t *out, size_t n)
{
	assert_int_equal(hex_decode(text, strlen(text), out, n), 0);
}

static void x25519_rfc7748_vectors(void **state)
{
	uint8_t a[32], b[32], pub[32], want[32], shared[32];

	unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
	unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
	rekey_x25519_public(a, pub);
	unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", want, 32);
	assert_memory_equal(pub, want, 32);
	assert_int_equal(rekey_x25519_shared(b, pub, shared), 0);
	unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, 32);
	assert_memory_equal(shared, want, 32);
	rekey_x25519_public(b, pub);
	unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", want, 32);
	assert_memory_equal(pub, want, 32);
	assert_int_equal(rekey_x25519_shared(a, pub, shared), 0);
	unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, 32);
	assert_memory_equal(shared, want, 32);
}

static void x25519_small_order_refused(void **state)
{
	uint8_t priv[32], pub[32], zero[32] = {0}, one[32] = {1}, out[32];

	rekey_x25519_keypair(priv, pub);
	assert_int_equal(rekey_x25519_shared(priv, zero, out), INSEL_E_CRYPTO);
	assert_int_equal(rekey_x25519_shared(priv, one, out), INSEL_E_CRYPTO);
	assert_memory_equal(out, zero, 32);
}

static void derive_mirrors_and_moves(void **state)
{
	uint8_t chain0[32], dh[32], ip[32], rp[32], c1[32], c2[32], c3[32];
	struct rekey_keys caller, callee, other;

	memset(chain0, 7, sizeof chain0);
	memset(dh, 9, sizeof dh);
	memset(ip, 1, sizeof ip);
	memset(rp, 2, sizeof rp);
	assert_int_equal(rekey_derive(chain0, dh, CALL_ID, 1, ip, rp, true, 2, c1, &caller), 0);
	assert_int_equal(rekey_derive(chain0, dh, CALL_ID, 1, ip, rp, false, 2, c2, &callee), 0);
	assert_memory_equal(c1, c2, 32);
	assert_int_equal(caller.epoch, 1);
	assert_int_equal(caller.nchannels, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_memory_equal(caller.send[i], callee.recv[i], SEC_KEY_LEN);
		assert_memory_equal(caller.recv[i], callee.send[i], SEC_KEY_LEN);
		assert_memory_not_equal(caller.send[i], caller.recv[i], SEC_KEY_LEN);
	}
	assert_memory_not_equal(caller.send[0], caller.send[1], SEC_KEY_LEN);
	assert_memory_not_equal(c1, chain0, 32);
	/* Another epoch, secret, chain or public key: other keys. */
	assert_int_equal(rekey_derive(chain0, dh, CALL_ID, 2, ip, rp, true, 2, c3, &other), 0);
	assert_memory_not_equal(other.send[0], caller.send[0], SEC_KEY_LEN);
	dh[0] ^= 1;
	assert_int_equal(rekey_derive(chain0, dh, CALL_ID, 1, ip, rp, true, 2, c3, &other), 0);
	assert_memory_not_equal(other.send[0], caller.send[0], SEC_KEY_LEN);
	assert_memory_not_equal(c3, c1, 32);
	dh[0] ^= 1;
	chain0[0] ^= 1;
	assert_int_equal(rekey_derive(chain0, dh, CALL_ID, 1, ip, rp, true, 2, c3, &other), 0);
	assert_memory_not_equal(other.send[0], caller.send[0], SEC_KEY_LEN);
	chain0[0] ^= 1;
	rp[5] ^= 1;
	assert_int_equal(rekey_derive(chain0, dh, CALL_ID, 1, ip, rp, true, 2, c3, &other), 0);
	assert_memory_not_equal(other.send[0], caller.send[0], SEC_KEY_LEN);
	assert_int_equal(rekey_derive(chain0, dh, CALL_ID, 1, ip, rp, true, 0, c3, &other),
			 INSEL_E_BAD_FIELD);
}

/* Two sides of one call: the caller (c) and the callee (e). */
struct sides {
	struct rekey c, e;
};

static void sides_init(struct sides *s, uint64_t now)
{
	uint8_t chain0[32];

	memset(chain0, 0x5a, sizeof chain0);
	rekey_init(&s->c, true, CALL_ID, 2, chain0, INTERVAL, now);
	rekey_init(&s->e, false, CALL_ID, 2, chain0, INTERVAL, now);
}

static void keys_mirror(const struct rekey_keys *a, const struct rekey_keys *b)
{
	assert_int_equal(a->epoch, b->epoch);
	for (size_t i = 0; i < a->nchannels; i++) {
		assert_memory_equal(a->send[i], b->recv[i], SEC_KEY_LEN);
		assert_memory_equal(a->recv[i], b->send[i], SEC_KEY_LEN);
	}
}

/* One whole exchange started by init and answered by resp at now. */
static void exchange(struct rekey *init, struct rekey *resp, uint64_t now)
{
	uint8_t ipub[32], rpub[32];
	struct rekey_keys ik, rk;
	uint32_t epoch;
	uint64_t seq;

	rekey_begin(init, now, &epoch, ipub, &seq);
	assert_int_equal(epoch, init->epoch + 1);
	assert_int_equal(rekey_respond(resp, epoch, ipub, now, rpub, &rk), 0);
	assert_true(rekey_aux_owes(resp));
	rekey_answered(resp);  /* its auxiliary took the keys: the answer goes out */
	assert_false(rekey_aux_owes(resp));
	assert_int_equal(rekey_finish(init, seq, rpub, &ik), 0);
	assert_true(rekey_aux_owes(init));
	keys_mirror(&ik, &rk);
	assert_int_equal(rekey_commit(init, epoch, now), 0);
	assert_int_equal(rekey_commit(resp, epoch, now), 0);
	assert_memory_equal(init->chain, resp->chain, REKEY_CHAIN_LEN);
}

static void caller_starts_on_its_interval(void **state)
{
	struct sides s;
	uint64_t next;

	sides_init(&s, 1000);
	assert_int_equal(rekey_tick(&s.c, 1000 + INTERVAL - 1, &next), 0);
	assert_int_equal(next, 1000 + INTERVAL);
	assert_int_equal(rekey_tick(&s.c, 1000 + INTERVAL, NULL), REKEY_START);
	/* The callee waits a quarter interval more: the caller's exchange comes first. */
	assert_int_equal(rekey_tick(&s.e, 1000 + INTERVAL, &next), 0);
	assert_int_equal(next, 1000 + INTERVAL + INTERVAL / 4);
	exchange(&s.c, &s.e, 1000 + INTERVAL);
	assert_int_equal(s.c.epoch, 1);
	assert_int_equal(s.e.epoch, 1);
	assert_int_equal(s.c.exchanges, 1);
	/* Both clocks restart from the commit. */
	assert_int_equal(rekey_tick(&s.c, 1000 + 2 * INTERVAL - 1, NULL), 0);
	assert_int_equal(rekey_tick(&s.e, 1000 + 2 * INTERVAL + INTERVAL / 4 - 1, NULL), 0);
	assert_int_equal(rekey_tick(&s.c, 1000 + 2 * INTERVAL, NULL), REKEY_START);
	exchange(&s.c, &s.e, 1000 + 2 * INTERVAL);
	exchange(&s.c, &s.e, 1000 + 3 * INTERVAL);
	assert_int_equal(s.e.epoch, 3);
	rekey_wipe(&s.c);
	rekey_wipe(&s.e);
}

static void callee_steps_in_when_the_caller_is_late(void **state)
{
	struct sides s;
	uint64_t t;

	sides_init(&s, 0);
	assert_int_equal(rekey_tick(&s.e, INTERVAL + INTERVAL / 4, NULL), REKEY_START);
	exchange(&s.e, &s.c, INTERVAL + INTERVAL / 4);
	assert_int_equal(s.c.epoch, 1);
	/* An auxiliary asking (frame budget) starts one at once, on either side. */
	rekey_request_early(&s.e);
	t = INTERVAL + INTERVAL / 4 + REKEY_MIN_SPACING_MS;
	assert_int_equal(rekey_tick(&s.e, t, NULL), REKEY_START);
	exchange(&s.e, &s.c, t);
	assert_int_equal(s.e.epoch, 2);
	assert_int_equal(rekey_tick(&s.e, t + 1, NULL), 0);
}

static void collision_caller_wins(void **state)
{
	struct sides s;
	uint8_t cpub[32], epub[32], out[32];
	struct rekey_keys ck, ek;
	uint32_t ce, ee;
	uint64_t cseq, eseq;

	sides_init(&s, 0);
	rekey_begin(&s.c, INTERVAL, &ce, cpub, &cseq);
	rekey_begin(&s.e, INTERVAL, &ee, epub, &eseq);
	assert_int_equal(ce, ee);
	/* The caller refuses the callee's exchange; the callee answers the caller's. */
	assert_int_equal(rekey_respond(&s.c, ee, epub, INTERVAL, out, &ck), INSEL_E_CONFLICT);
	assert_int_equal(rekey_respond(&s.e, ce, cpub, INTERVAL, out, &ek), 0);
	assert_false(s.e.exchanging);
	/* The refusal of the callee's own exchange arrives late: ignored. */
	assert_int_equal(rekey_finish(&s.e, eseq, cpub, &ek), INSEL_E_NOT_FOUND);
	rekey_abandon(&s.e, eseq, INTERVAL);
	assert_true(s.e.tentative);
	assert_int_equal(rekey_finish(&s.c, cseq, out, &ck), 0);
	keys_mirror(&ck, &ek);
	assert_int_equal(rekey_commit(&s.c, ce, INTERVAL), 0);
	assert_int_equal(rekey_commit(&s.e, ce, INTERVAL), 0);
	assert_memory_equal(s.c.chain, s.e.chain, REKEY_CHAIN_LEN);
}

static void abandoned_exchange_runs_again(void **state)
{
	struct sides s;
	uint8_t ipub[32], rpub[32], first_chain[32];
	struct rekey_keys ik, rk, rk_first;
	uint32_t epoch;
	uint64_t seq, next;

	sides_init(&s, 0);
	rekey_begin(&s.c, INTERVAL, &epoch, ipub, &seq);
	assert_int_equal(rekey_respond(&s.e, epoch, ipub, INTERVAL, rpub, &rk_first), 0);
	rekey_answered(&s.e);
	memcpy(first_chain, s.e.tentative_chain, 32);
	/* The answer never comes (or our auxiliary refused the keys): give up, retry soon. */
	rekey_abandon(&s.c, seq, INTERVAL + REKEY_EXCHANGE_TIMEOUT_MS);
	assert_int_equal(s.c.failures, 1);
	assert_int_equal(s.c.epoch, 0);
	assert_int_equal(rekey_tick(&s.c, INTERVAL + REKEY_EXCHANGE_TIMEOUT_MS, &next), 0);
	assert_int_equal(next, INTERVAL + REKEY_EXCHANGE_TIMEOUT_MS + REKEY_RETRY_MS);
	assert_int_equal(rekey_tick(&s.c, next, NULL), REKEY_START);
	/* The same epoch again, with fresh keys that replace the tentative ones. */
	rekey_begin(&s.c, next, &epoch, ipub, &seq);
	assert_int_equal(epoch, 1);
	assert_int_equal(rekey_respond(&s.e, epoch, ipub, next, rpub, &rk), 0);
	assert_memory_not_equal(first_chain, s.e.tentative_chain, 32);
	assert_memory_not_equal(rk.send[0], rk_first.send[0], SEC_KEY_LEN);
	assert_int_equal(rekey_finish(&s.c, seq, rpub, &ik), 0);
	keys_mirror(&ik, &rk);
	assert_int_equal(rekey_commit(&s.c, 1, next), 0);
	/* "done" for an epoch that is not tentative changes nothing. */
	assert_int_equal(rekey_commit(&s.e, 2, next), INSEL_E_NOT_FOUND);
	assert_int_equal(rekey_commit(&s.e, 1, next), 0);
	assert_memory_equal(s.c.chain, s.e.chain, 32);
}

static void responder_refuses_wrong_epochs(void **state)
{
	struct sides s;
	uint8_t pub[32], out[32];
	struct rekey_keys k;

	sides_init(&s, 0);
	rekey_x25519_keypair(out, pub);
	assert_int_equal(rekey_respond(&s.e, 0, pub, 1, out, &k), INSEL_E_REPLAY);
	assert_int_equal(rekey_respond(&s.e, 2, pub, 1, out, &k), INSEL_E_REPLAY);
	exchange(&s.c, &s.e, 5);
	/* A peer cannot make us run exchanges back to back. */
	assert_int_equal(rekey_respond(&s.e, 2, pub, 5 + REKEY_MIN_SPACING_MS - 1, out, &k),
			 INSEL_E_LIMIT);
	assert_int_equal(rekey_respond(&s.e, 1, pub, 500, out, &k), INSEL_E_REPLAY);
	memset(pub, 0, sizeof pub);
	assert_int_equal(rekey_respond(&s.e, 2, pub, 500, out, &k), INSEL_E_CRYPTO);
	assert_false(s.e.tentative);
}

static void responder_waits_for_pending_done(void **state)
{
	struct sides s;
	uint8_t ipub[32], rpub[32];
	struct rekey_keys k;
	uint32_t epoch;
	uint64_t seq, next;

	sides_init(&s, 0);
	rekey_request_early(&s.e);
	rekey_begin(&s.c, 100, &epoch, ipub, &seq);
	assert_int_equal(rekey_respond(&s.e, epoch, ipub, 100, rpub, &k), 0);
	rekey_answered(&s.e);
	/* Our own exchange would race the peer's "done": wait for it (bounded). */
	assert_int_equal(rekey_tick(&s.e, 200, &next), 0);
	assert_int_equal(next, 100 + REKEY_EXCHANGE_TIMEOUT_MS);
	assert_int_equal(rekey_tick(&s.e, next, NULL), REKEY_START);
}

/* The initiator's auxiliary is installing (send_now) and does not answer for longer than
 * any exchange time-out: its secondary keeps waiting, starts nothing, refuses the peer's
 * exchanges, and only the call's key bound (REKEY_OVERDUE) can end the wait. Once the
 * auxiliary answers, the exchange commits on both sides as if nothing had happened. */
static void initiator_waits_for_its_auxiliary(void **state)
{
	struct sides s;
	uint8_t ipub[32], rpub[32], epub[32], out[32];
	struct rekey_keys ik, rk, k;
	uint32_t epoch, e_epoch;
	uint64_t seq, eseq, next, t = INTERVAL;

	sides_init(&s, 0);
	rekey_begin(&s.c, t, &epoch, ipub, &seq);
	assert_int_equal(rekey_respond(&s.e, epoch, ipub, t, rpub, &rk), 0);
	rekey_answered(&s.e);
	assert_int_equal(rekey_finish(&s.c, seq, rpub, &ik), 0);
	/* Our auxiliary got the keys and stalls (SIGSTOP). */
	assert_true(rekey_aux_owes(&s.c));
	for (t = INTERVAL; t < INTERVAL + REKEY_LATE_MS; t += 500) {
		assert_int_equal(rekey_tick(&s.c, t, &next), 0);
		assert_true(next <= INTERVAL + REKEY_LATE_MS);
	}
	assert_int_equal(rekey_tick(&s.c, t, NULL), REKEY_OVERDUE);
	/* The callee, answered and waiting for "done", starts its own in time: refused. */
	t = INTERVAL + INTERVAL / 4 + REKEY_EXCHANGE_TIMEOUT_MS;
	assert_int_equal(rekey_tick(&s.e, t, NULL), REKEY_START);
	rekey_begin(&s.e, t, &e_epoch, epub, &eseq);
	assert_int_equal(e_epoch, epoch);
	assert_int_equal(rekey_respond(&s.c, e_epoch, epub, t, out, &k), INSEL_E_CONFLICT);
	rekey_abandon(&s.e, eseq, t);
	assert_true(s.e.tentative);  /* the keys it answered with are still the ones */
	/* The auxiliary runs again and says it took the keys: commit, "done". */
	assert_int_equal(rekey_commit(&s.c, epoch, t + 1), 0);
	assert_false(rekey_aux_owes(&s.c));
	assert_int_equal(rekey_commit(&s.e, epoch, t + 2), 0);
	assert_memory_equal(s.c.chain, s.e.chain, REKEY_CHAIN_LEN);
	keys_mirror(&ik, &rk);
	assert_int_equal(s.c.failures, 0);
}

/* The responder's auxiliary does not answer: the initiator's exchange times out and runs
 * again, and is refused busy while the responder still waits (it may not answer twice);
 * the late answer to the abandoned exchange is ignored, and the next one completes with
 * keys that replace the unused ones. */
static void responder_busy_while_its_auxiliary_installs(void **state)
{
	struct sides s;
	uint8_t ipub[32], rpub[32], late_pub[32], first_chain[32];
	struct rekey_keys ik, rk, late;
	uint32_t epoch;
	uint64_t seq, late_seq, next, t = INTERVAL;

	sides_init(&s, 0);
	rekey_begin(&s.c, t, &epoch, ipub, &late_seq);
	assert_int_equal(rekey_respond(&s.e, epoch, ipub, t, late_pub, &late), 0);
	memcpy(first_chain, s.e.tentative_chain, 32);
	/* Even asked early (frame budget), it starts nothing of its own while it waits. */
	rekey_request_early(&s.e);
	assert_int_equal(rekey_tick(&s.e, t + INTERVAL * 2, &next), 0);
	/* The initiator's time-out: abandoned, run again a second later, refused busy. */
	t += REKEY_EXCHANGE_TIMEOUT_MS;
	rekey_abandon(&s.c, late_seq, t);
	t += REKEY_RETRY_MS;
	assert_int_equal(rekey_tick(&s.c, t, NULL), REKEY_START);
	rekey_begin(&s.c, t, &epoch, ipub, &seq);
	assert_int_equal(rekey_respond(&s.e, epoch, ipub, t, rpub, &rk), INSEL_E_BUSY);
	rekey_abandon(&s.c, seq, t);
	/* The auxiliary answers at last; its answer reaches an initiator that gave up. */
	rekey_answered(&s.e);
	assert_false(rekey_aux_owes(&s.e));
	assert_int_equal(rekey_finish(&s.c, late_seq, late_pub, &ik), INSEL_E_NOT_FOUND);
	assert_int_equal(s.c.epoch, 0);
	/* The next run completes; its keys are not the late ones. */
	t += REKEY_RETRY_MS;
	assert_int_equal(rekey_tick(&s.c, t, NULL), REKEY_START);
	rekey_begin(&s.c, t, &epoch, ipub, &seq);
	assert_int_equal(rekey_respond(&s.e, epoch, ipub, t, rpub, &rk), 0);
	assert_memory_not_equal(first_chain, s.e.tentative_chain, 32);
	assert_memory_not_equal(rk.send[0], late.send[0], SEC_KEY_LEN);
	rekey_answered(&s.e);
	assert_int_equal(rekey_finish(&s.c, seq, rpub, &ik), 0);
	keys_mirror(&ik, &rk);
	assert_int_equal(rekey_commit(&s.c, epoch, t), 0);
	assert_int_equal(rekey_commit(&s.e, epoch, t), 0);
	assert_memory_equal(s.c.chain, s.e.chain, REKEY_CHAIN_LEN);
	/* An auxiliary that refused (rekey_pending) is not waited for either. */
	t += INTERVAL;
	rekey_begin(&s.c, t, &epoch, ipub, &seq);
	assert_int_equal(rekey_respond(&s.e, epoch, ipub, t, rpub, &rk), 0);
	rekey_drop_tentative(&s.e);
	assert_false(rekey_aux_owes(&s.e));
	assert_false(s.e.tentative);
}

static void overdue_when_nothing_commits(void **state)
{
	struct sides s;
	uint8_t ipub[32];
	uint32_t epoch;
	uint64_t seq, next;

	sides_init(&s, 0);
	rekey_begin(&s.c, INTERVAL, &epoch, ipub, &seq);
	assert_int_equal(rekey_tick(&s.c, INTERVAL + 1, &next), 0);
	assert_int_equal(next, INTERVAL + REKEY_LATE_MS);
	assert_true(rekey_tick(&s.c, INTERVAL + REKEY_LATE_MS, NULL) & REKEY_OVERDUE);
	assert_true(rekey_tick(&s.e, INTERVAL + REKEY_LATE_MS, NULL) & REKEY_OVERDUE);
}

static void interval_clamped(void **state)
{
	struct rekey r;
	uint8_t chain[32] = {0};

	rekey_init(&r, true, 1, 1, chain, 0, 0);
	assert_int_equal(r.interval_ms, REKEY_DEFAULT_INTERVAL_MS);
	rekey_init(&r, true, 1, 1, chain, 10, 0);
	assert_int_equal(r.interval_ms, REKEY_MIN_INTERVAL_MS);
	rekey_init(&r, true, 1, 1, chain, 3600000, 0);
	assert_int_equal(r.interval_ms, REKEY_MAX_INTERVAL_MS);
}

static void public_message_parsed(void **state)
{
	uint8_t pub[32];
	uint32_t epoch;
	json_t *j;

	j = json_pack("{s:i, s:s}", "epoch", 3, "public",
		      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	assert_int_equal(rekey_public_from_json(j, &epoch, pub), 0);
	assert_int_equal(epoch, 3);
	assert_int_equal(pub[0], 0x85);
	json_object_set_new(j, "epoch", json_integer(0));
	assert_int_equal(rekey_public_from_json(j, &epoch, pub), INSEL_E_BAD_FIELD);
	assert_int_equal(rekey_public_from_json(j, NULL, pub), 0);
	json_object_set_new(j, "public", json_string("8520f0"));
	assert_int_equal(rekey_public_from_json(j, NULL, pub), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(msg_field_error(), "public"));
	json_object_set_new(j, "public", json_integer(5));
	assert_int_equal(rekey_public_from_json(j, NULL, pub), INSEL_E_BAD_FIELD);
	json_decref(j);
}

static void install_message_round_trip(void **state)
{
	struct rekey_keys k, back;
	json_t *req = json_object(), *ch;
	const char *text;
	bool send_now = false;

	memset(&k, 0, sizeof k);
	k.epoch = 7;
	k.nchannels = 2;
	memset(k.send[1], 0xab, SEC_KEY_LEN);
	memset(k.recv[0], 0xcd, SEC_KEY_LEN);
	assert_int_equal(rekey_install_to_json(&k, true, req), 0);
	ch = json_array_get(json_object_get(req, "channels"), 1);
	assert_int_equal(rekey_install_from_json(req, 2, &back, &send_now), 0);
	assert_true(send_now);
	assert_int_equal(back.epoch, 7);
	assert_memory_equal(back.send[1], k.send[1], SEC_KEY_LEN);
	assert_memory_equal(back.recv[0], k.recv[0], SEC_KEY_LEN);
	/* The hex keys in the request are wiped once read. */
	text = json_string_value(json_object_get(ch, "send_key"));
	assert_null(strstr(text, "abab"));
	/* One entry per channel, 64 hex digits each. */
	assert_int_equal(rekey_install_from_json(req, 3, &back, &send_now), INSEL_E_BAD_FIELD);
	json_object_set_new(ch, "send_key", json_string("zz"));
	assert_int_equal(rekey_install_from_json(req, 2, &back, &send_now), INSEL_E_BAD_FIELD);
	json_array_set_new(json_object_get(req, "channels"), 1, json_integer(1));
	assert_int_equal(rekey_install_from_json(req, 2, &back, &send_now), INSEL_E_BAD_FIELD);
	json_object_del(req, "epoch");
	assert_int_equal(rekey_install_from_json(req, 2, &back, &send_now), INSEL_E_BAD_FIELD);
	json_decref(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(x25519_rfc7748_vectors),
		cmocka_unit_test(x25519_small_order_refused),
		cmocka_unit_test(derive_mirrors_and_moves),
		cmocka_unit_test(caller_starts_on_its_interval),
		cmocka_unit_test(callee_steps_in_when_the_caller_is_late),
		cmocka_unit_test(collision_caller_wins),
		cmocka_unit_test(abandoned_exchange_runs_again),
		cmocka_unit_test(responder_refuses_wrong_epochs),
		cmocka_unit_test(responder_waits_for_pending_done),
		cmocka_unit_test(initiator_waits_for_its_auxiliary),
		cmocka_unit_test(responder_busy_while_its_auxiliary_installs),
		cmocka_unit_test(overdue_when_nothing_commits),
		cmocka_unit_test(interval_clamped),
		cmocka_unit_test(public_message_parsed),
		cmocka_unit_test(install_message_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
