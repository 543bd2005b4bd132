/* Unit tests for call negotiation (negotiate.h): the callee picks the caller's first
 * acceptable cipher, refuses with a clear code when nothing is common (and the caller
 * turns that into INSEL_E_NO_COMMON), validates every field of offers and answers, and
 * both sides derive mirrored keys from the same exporter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "negotiate.h"

/* Stands in for the TLS exporter: a deterministic function of label and context, the same
 * on both sides, as the real one is. */
static int fake_export(void *ctx, const char *label, const void *context, size_t context_len,
		       void *out, size_t out_len)
{
	const uint8_t *c = context;
	uint8_t *o = out;
	uint32_t h = 2166136261u;

	(void)ctx;
	for (const char *l = label; *l; l++)
		h = (h ^ (uint8_t)*l) * 16777619u;
	for (size_t i = 0; i < context_len; i++)
		h = (h ^ c[i]) * 16777619u;
	for (size_t i = 0; i < out_len; i++) {
		h = (h ^ (uint32_t)i) * 16777619u;
		o[i] = (uint8_t)(h >> 24);
	}
	return 0;
}

static bool endpoint_is(const struct ip_endpoint *e, const char *text)
{
	struct ip_endpoint x;

	assert_int_equal(ip_endpoint_parse(text, &x), 0);
	return ip_addr_equal(&e->addr, &x.addr) && e->port == x.port;
}

static void make_offer(struct negotiate_offer *o, size_t nchannels)
{
	memset(o, 0, sizeof *o);
	o->call_id = 0x0123456789abcdefULL;
	negotiate_prefs_default(&o->prefs);
	o->nchannels = nchannels;
	for (size_t i = 0; i < nchannels; i++) {
		o->channels[i].port = (uint16_t)(5004 + i);
		o->channels[i].peer_port = (uint16_t)(6004 + i);
	}
	negotiate_side_random(&o->caller, nchannels);
	assert_int_equal(ip_endpoint_parse("198.18.0.1:40000", &o->caller.endpoint), 0);
}

static void make_callee(struct negotiate_side *s, size_t n)
{
	negotiate_side_random(s, n);
	assert_int_equal(ip_endpoint_parse("198.18.0.2:40001", &s->endpoint), 0);
}

/* Offer through JSON, the callee's choice, the answer through JSON, back at the caller. */
static int round_trip(const struct negotiate_offer *o, const struct negotiate_prefs *allowed,
		      struct negotiation *callee, struct negotiation *caller, char *err,
		      size_t errlen)
{
	struct negotiate_offer parsed;
	struct negotiate_refusal refusal;
	struct negotiate_side me;
	json_t *offer = negotiate_offer_to_json(o), *reply;
	int rc;

	assert_non_null(offer);
	assert_int_equal(negotiate_offer_parse(offer, &parsed, err, errlen), 0);
	json_decref(offer);
	make_callee(&me, parsed.nchannels);
	rc = negotiate_choose(&parsed, allowed, &me, callee, &refusal);
	if (rc) {
		assert_int_equal(rc, INSEL_E_NO_COMMON);
		reply = msg_reply_error(1, refusal.code, "%s", refusal.message);
	} else {
		reply = negotiate_answer_to_json(callee);
		json_object_set_new(reply, "id", json_integer(1));
		json_object_set_new(reply, "ok", json_true());
	}
	rc = negotiate_answer_parse(reply, o, caller, err, errlen);
	json_decref(reply);
	return rc;
}

static void first_common_cipher(void **state)
{
	struct negotiate_offer o;
	struct negotiate_prefs allowed;
	struct negotiation callee, caller;
	char err[256];

	make_offer(&o, 1);
	o.prefs.ciphers[0] = SEC_CIPHER_CHACHA20POLY1305;
	o.prefs.ciphers[1] = SEC_CIPHER_AES256GCM;
	negotiate_prefs_default(&allowed);
	assert_int_equal(round_trip(&o, &allowed, &callee, &caller, err, sizeof err), 0);
	assert_int_equal(caller.cipher, SEC_CIPHER_CHACHA20POLY1305);
	assert_int_equal(callee.cipher, SEC_CIPHER_CHACHA20POLY1305);
	assert_int_equal(caller.compress, SEC_COMPRESS_NONE);
	/* The callee allows only AES: the caller's second choice wins. */
	allowed.nciphers = 1;
	allowed.ciphers[0] = SEC_CIPHER_AES256GCM;
	assert_int_equal(round_trip(&o, &allowed, &callee, &caller, err, sizeof err), 0);
	assert_int_equal(caller.cipher, SEC_CIPHER_AES256GCM);
}

static void unknown_names_are_skipped(void **state)
{
	json_t *j = json_pack("{s:s, s:[s,s,s], s:s, s:s, s:[{s:i}]}", "call",
			      "00000000000000aa", "ciphers", "rot13", "chacha20-poly1305",
			      "rot13", "nonce",
			      "0000000000000000000000000000000000000000000000000000000000000000",
			      "endpoint", "127.0.0.1:9", "channels", "session", 7);
	struct negotiate_offer o;
	char err[256];

	assert_int_equal(negotiate_offer_parse(j, &o, err, sizeof err), 0);
	assert_int_equal(o.prefs.nciphers, 1);
	assert_int_equal(o.prefs.ciphers[0], SEC_CIPHER_CHACHA20POLY1305);
	/* No "compress": none. */
	assert_int_equal(o.prefs.ncompress, 1);
	assert_int_equal(o.prefs.compress[0], SEC_COMPRESS_NONE);
	assert_int_equal(o.channels[0].port, 0);
	json_decref(j);
}

static void no_common_cipher_refused_on_both_sides(void **state)
{
	struct negotiate_offer o, parsed;
	struct negotiate_prefs allowed;
	struct negotiation callee, caller;
	struct negotiate_refusal refusal;
	struct negotiate_side me;
	char err[256];

	make_offer(&o, 2);
	o.prefs.nciphers = 1;
	o.prefs.ciphers[0] = SEC_CIPHER_CHACHA20POLY1305;
	negotiate_prefs_default(&allowed);
	allowed.nciphers = 1;
	/* The callee's side: a refusal with a stable code and a sentence. */
	json_t *offer = negotiate_offer_to_json(&o);
	assert_int_equal(negotiate_offer_parse(offer, &parsed, err, sizeof err), 0);
	json_decref(offer);
	make_callee(&me, 2);
	assert_int_equal(negotiate_choose(&parsed, &allowed, &me, &callee, &refusal),
			 INSEL_E_NO_COMMON);
	assert_string_equal(refusal.code, "no_common_cipher");
	assert_non_null(strstr(refusal.message, "offers chacha20-poly1305"));
	assert_non_null(strstr(refusal.message, "allows aes-256-gcm"));
	/* The caller's side. */
	assert_int_equal(round_trip(&o, &allowed, &callee, &caller, err, sizeof err),
			 INSEL_E_NO_COMMON);
	assert_non_null(strstr(err, "no common cipher"));
}

static void no_common_compression(void **state)
{
	struct negotiate_offer o;
	struct negotiate_prefs allowed;
	struct negotiation callee, caller;
	char err[256];

	make_offer(&o, 1);
	o.prefs.compress[0] = SEC_COMPRESS_DEFLATE;
	negotiate_prefs_default(&allowed);
	assert_int_equal(round_trip(&o, &allowed, &callee, &caller, err, sizeof err),
			 INSEL_E_NO_COMMON);
	assert_non_null(strstr(err, "no common compression"));
}

static void other_refusals_are_refused(void **state)
{
	struct negotiate_offer o;
	struct negotiation n;
	json_t *reply = msg_reply_error(3, "bad_offer", "field 'nonce' is missing");
	char err[256];

	make_offer(&o, 1);
	assert_int_equal(negotiate_answer_parse(reply, &o, &n, err, sizeof err),
			 INSEL_E_REFUSED);
	assert_non_null(strstr(err, "bad_offer"));
	assert_non_null(strstr(err, "nonce"));
	json_decref(reply);
}

/* Parses a JSON offer text and expects a field error mentioning `what`. */
static void expect_bad_offer(const char *text, const char *what)
{
	json_t *j = json_loads(text, 0, NULL);
	struct negotiate_offer o;
	char err[256] = "";

	assert_non_null(j);
	assert_int_equal(negotiate_offer_parse(j, &o, err, sizeof err), INSEL_E_BAD_FIELD);
	if (!strstr(err, what))
		fail_msg("'%s' does not mention '%s' for %s", err, what, text);
	json_decref(j);
}

#define NONCE "\"nonce\":\"" \
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\""
#define GOOD_HEAD "{\"call\":\"00000000000000aa\",\"ciphers\":[\"aes-256-gcm\"]," NONCE \
	",\"endpoint\":\"127.0.0.1:9\","

static void channel_validation(void **state)
{
	expect_bad_offer(GOOD_HEAD "\"channels\":[]}", "empty");
	expect_bad_offer(GOOD_HEAD "\"channels\":[{\"session\":1},{\"session\":2},{\"session\":3},"
		"{\"session\":4},{\"session\":5},{\"session\":6},{\"session\":7},{\"session\":8},"
		"{\"session\":9}]}", "more than 8");
	expect_bad_offer(GOOD_HEAD "\"channels\":[{\"session\":0}]}", "session");
	expect_bad_offer(GOOD_HEAD "\"channels\":[{\"session\":4294967296}]}", "session");
	expect_bad_offer(GOOD_HEAD "\"channels\":[{\"session\":1},{\"session\":1}]}", "repeats");
	expect_bad_offer(GOOD_HEAD "\"channels\":[{\"session\":1,\"port\":70000}]}", "port");
	expect_bad_offer(GOOD_HEAD "\"channels\":[{\"session\":1,\"peer_port\":-1}]}", "peer_port");
	expect_bad_offer(GOOD_HEAD "\"channels\":[{\"session\":1,\"port\":\"80\"}]}", "port");
	expect_bad_offer(GOOD_HEAD "\"channels\":[7]}", "not an object");
	expect_bad_offer(GOOD_HEAD "\"channels\":{}}", "channels");
}

static void malformed_offers(void **state)
{
	static const char tail[] = "\"channels\":[{\"session\":1}]}";
	char text[512];

	expect_bad_offer("[]", "not an object");
	snprintf(text, sizeof text, "{\"ciphers\":[\"aes-256-gcm\"]," NONCE
		 ",\"endpoint\":\"127.0.0.1:9\",%s", tail);
	expect_bad_offer(text, "call");
	snprintf(text, sizeof text, "{\"call\":\"xyz\",\"ciphers\":[\"aes-256-gcm\"]," NONCE
		 ",\"endpoint\":\"127.0.0.1:9\",%s", tail);
	expect_bad_offer(text, "call");
	snprintf(text, sizeof text, "{\"call\":\"0000000000000000\",\"ciphers\":[\"aes-256-gcm\"],"
		 NONCE ",\"endpoint\":\"127.0.0.1:9\",%s", tail);
	expect_bad_offer(text, "not all zero");
	snprintf(text, sizeof text, "{\"call\":\"00000000000000aa\",\"ciphers\":\"aes-256-gcm\","
		 NONCE ",\"endpoint\":\"127.0.0.1:9\",%s", tail);
	expect_bad_offer(text, "ciphers");
	snprintf(text, sizeof text, "{\"call\":\"00000000000000aa\",\"ciphers\":[1]," NONCE
		 ",\"endpoint\":\"127.0.0.1:9\",%s", tail);
	expect_bad_offer(text, "strings");
	snprintf(text, sizeof text, "{\"call\":\"00000000000000aa\",\"ciphers\":[]," NONCE
		 ",\"endpoint\":\"127.0.0.1:9\",%s", tail);
	expect_bad_offer(text, "empty");
	snprintf(text, sizeof text, "{\"call\":\"00000000000000aa\",\"ciphers\":[\"a\",\"a\","
		 "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]," NONCE ",\"endpoint\":\"127.0.0.1:9\",%s",
		 tail);
	expect_bad_offer(text, "more than");
	snprintf(text, sizeof text, "{\"call\":\"00000000000000aa\",\"ciphers\":[\"aes-256-gcm\"],"
		 "\"nonce\":\"0011\",\"endpoint\":\"127.0.0.1:9\",%s", tail);
	expect_bad_offer(text, "nonce");
	snprintf(text, sizeof text, "{\"call\":\"00000000000000aa\",\"ciphers\":[\"aes-256-gcm\"],"
		 NONCE ",\"endpoint\":\"127.0.0.1:0\",%s", tail);
	expect_bad_offer(text, "endpoint");
	snprintf(text, sizeof text, "{\"call\":\"00000000000000aa\",\"ciphers\":[\"aes-256-gcm\"],"
		 NONCE ",\"endpoint\":\"lan-b:9\",%s", tail);
	expect_bad_offer(text, "endpoint");
	snprintf(text, sizeof text, "{\"call\":\"00000000000000aa\",\"ciphers\":[\"aes-256-gcm\"],"
		 NONCE ",\"endpoint\":\"127.0.0.1:9\",\"compress\":[null],%s", tail);
	expect_bad_offer(text, "compress");
}

static void answers_that_do_not_fit(void **state)
{
	struct negotiate_offer o;
	struct negotiation callee, caller;
	struct negotiate_side me;
	char err[256];
	json_t *answer;

	make_offer(&o, 2);
	o.prefs.nciphers = 1;  /* AES only */
	make_callee(&me, 2);
	memset(&callee, 0, sizeof callee);
	callee.call_id = o.call_id;
	callee.cipher = SEC_CIPHER_CHACHA20POLY1305;
	callee.nchannels = 2;
	callee.callee = me;
	answer = negotiate_answer_to_json(&callee);
	assert_int_equal(negotiate_answer_parse(answer, &o, &caller, err, sizeof err),
			 INSEL_E_PROTOCOL);
	assert_non_null(strstr(err, "not offered"));
	json_decref(answer);
	callee.cipher = SEC_CIPHER_AES256GCM;
	callee.call_id = 99;
	answer = negotiate_answer_to_json(&callee);
	assert_int_equal(negotiate_answer_parse(answer, &o, &caller, err, sizeof err),
			 INSEL_E_PROTOCOL);
	assert_non_null(strstr(err, "another call"));
	json_decref(answer);
	callee.call_id = o.call_id;
	callee.nchannels = 1;
	answer = negotiate_answer_to_json(&callee);
	assert_int_equal(negotiate_answer_parse(answer, &o, &caller, err, sizeof err),
			 INSEL_E_PROTOCOL);
	assert_non_null(strstr(err, "1 channels, the offer had 2"));
	json_decref(answer);
	assert_int_equal(negotiate_answer_parse(json_null(), &o, &caller, err, sizeof err),
			 INSEL_E_PROTOCOL);
}

static void keys_are_mirrored(void **state)
{
	struct negotiate_offer o;
	struct negotiate_prefs allowed;
	struct negotiation callee, caller;
	struct sec_channel_params a[3], b[3];
	char err[256];

	make_offer(&o, 3);
	negotiate_prefs_default(&allowed);
	assert_int_equal(round_trip(&o, &allowed, &callee, &caller, err, sizeof err), 0);
	assert_int_equal(negotiate_key_material_len(&caller), 3 * 64);
	assert_int_equal(negotiate_derive(&caller, true, fake_export, NULL, a), 0);
	assert_int_equal(negotiate_derive(&callee, false, fake_export, NULL, b), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(a[i].call_id, o.call_id);
		assert_int_equal(a[i].channel, i);
		assert_int_equal(b[i].channel, i);
		assert_int_equal(a[i].cipher, SEC_CIPHER_AES256GCM);
		assert_memory_equal(a[i].send_key, b[i].recv_key, SEC_KEY_LEN);
		assert_memory_equal(a[i].recv_key, b[i].send_key, SEC_KEY_LEN);
		assert_memory_not_equal(a[i].send_key, a[i].recv_key, SEC_KEY_LEN);
		assert_int_equal(a[i].local_session, b[i].remote_session);
		assert_int_equal(a[i].remote_session, b[i].local_session);
		assert_int_equal(a[i].local_session, o.caller.sessions[i]);
		assert_true(endpoint_is(&a[i].peer, "198.18.0.2:40001"));
		assert_true(endpoint_is(&b[i].peer, "198.18.0.1:40000"));
		if (i)
			assert_memory_not_equal(a[i].send_key, a[0].send_key, SEC_KEY_LEN);
	}
	/* Another callee nonce gives other keys: both sides' randomness goes in. */
	callee.callee.nonce[0] ^= 1;
	assert_int_equal(negotiate_derive(&callee, false, fake_export, NULL, b), 0);
	assert_memory_not_equal(a[0].send_key, b[0].recv_key, SEC_KEY_LEN);
	chanparams_wipe(&a[0]);
}

static void exporter_context_layout(void **state)
{
	struct negotiation n = {.call_id = 0x0102030405060708ULL};
	uint8_t ctx[NEGOTIATE_CONTEXT_LEN];

	memset(n.caller.nonce, 0xaa, sizeof n.caller.nonce);
	memset(n.callee.nonce, 0xbb, sizeof n.callee.nonce);
	negotiate_exporter_context(&n, ctx);
	assert_int_equal(ctx[0], 1);
	assert_int_equal(ctx[7], 8);
	assert_int_equal(ctx[8], 0xaa);
	assert_int_equal(ctx[39], 0xaa);
	assert_int_equal(ctx[40], 0xbb);
	assert_int_equal(ctx[71], 0xbb);
}

static void set_cand(struct candidate *c, enum cand_kind kind, const char *addr)
{
	memset(c, 0, sizeof *c);
	c->kind = kind;
	assert_int_equal(ip_endpoint_parse(addr, &c->ep), 0);
}

/* Both sides' candidates cross in the offer and the answer; a side without any is one
 * host candidate at its endpoint. */
static void candidates_cross(void **state)
{
	struct negotiate_offer o, parsed;
	struct negotiate_refusal refusal;
	struct negotiate_prefs allowed;
	struct negotiate_side me;
	struct negotiation callee, caller;
	json_t *offer, *answer;
	char err[256];

	(void)state;
	make_offer(&o, 1);
	set_cand(&o.caller.cand[0], CAND_HOST, "100.64.1.2:40000");
	set_cand(&o.caller.cand[1], CAND_SRFLX, "198.18.9.1:61000");
	o.caller.ncand = 2;
	offer = negotiate_offer_to_json(&o);
	assert_int_equal(json_array_size(json_object_get(offer, "candidates")), 2);
	assert_int_equal(negotiate_offer_parse(offer, &parsed, err, sizeof err), 0);
	assert_int_equal(parsed.caller.ncand, 2);
	assert_true(candidate_equal(&parsed.caller.cand[1], &o.caller.cand[1]));
	json_decref(offer);
	negotiate_prefs_default(&allowed);
	make_callee(&me, 1);
	assert_int_equal(me.ncand, 0);
	assert_int_equal(negotiate_choose(&parsed, &allowed, &me, &callee, &refusal), 0);
	answer = negotiate_answer_to_json(&callee);
	assert_null(json_object_get(answer, "candidates"));
	assert_int_equal(negotiate_answer_parse(answer, &o, &caller, err, sizeof err), 0);
	assert_int_equal(caller.callee.ncand, 1);
	assert_int_equal(caller.callee.cand[0].kind, CAND_HOST);
	assert_true(endpoint_is(&caller.callee.cand[0].ep, "198.18.0.2:40001"));
	assert_int_equal(caller.caller.ncand, 2);
	json_decref(answer);
}

static void candidates_malformed(void **state)
{
	struct negotiate_offer o, parsed;
	struct negotiation n;
	json_t *offer, *answer;
	char err[256];

	(void)state;
	make_offer(&o, 1);
	offer = negotiate_offer_to_json(&o);
	json_object_set_new(offer, "candidates", json_pack("[{s:s, s:s}]", "kind", "srflx",
							   "addr", "198.18.9.1:0"));
	assert_int_equal(negotiate_offer_parse(offer, &parsed, err, sizeof err),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(err, "candidates"));
	json_object_set_new(offer, "candidates", json_string("198.18.9.1:1"));
	assert_int_equal(negotiate_offer_parse(offer, &parsed, err, sizeof err),
			 INSEL_E_BAD_FIELD);
	/* Only kinds this build does not know: the endpoint stands in. */
	json_object_set_new(offer, "candidates", json_pack("[{s:s}]", "kind", "tcp"));
	assert_int_equal(negotiate_offer_parse(offer, &parsed, err, sizeof err), 0);
	assert_int_equal(parsed.caller.ncand, 1);
	assert_true(endpoint_is(&parsed.caller.cand[0].ep, "198.18.0.1:40000"));
	json_decref(offer);
	answer = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:i}], s:[{s:s}]}", "call",
			   "0123456789abcdef", "cipher", "aes-256-gcm", "compress", "none",
			   "nonce", "0000000000000000000000000000000000000000000000000000000000000000",
			   "endpoint", "198.18.0.2:1", "channels", "session", 5, "candidates",
			   "kind", "host");
	assert_int_equal(negotiate_answer_parse(answer, &o, &n, err, sizeof err),
			 INSEL_E_PROTOCOL);
	assert_non_null(strstr(err, "candidates"));
	json_decref(answer);
}

/* A datagram with the cookie at bytes 4..7 is STUN: no session id may be the cookie. */
/* Reliable mode (docs/reliable.md): a channel that asks for it gets it from a callee of
 * this build; an older callee answers without the word (the channel stays datagram); an
 * answer naming a mode not asked for, or a word unknown, is refused. */
static void reliable_mode_negotiated(void **state)
{
	struct negotiate_offer o;
	struct negotiation callee, caller;
	struct negotiate_prefs allowed;
	char err[NEGOTIATE_ERR_MAX];

	(void)state;
	make_offer(&o, 2);
	o.modes[0] = NEGOTIATE_ORDERED;
	o.modes[1] = NEGOTIATE_UNORDERED;
	negotiate_prefs_default(&allowed);
	assert_int_equal(round_trip(&o, &allowed, &callee, &caller, err, sizeof err), 0);
	assert_int_equal(callee.modes[0], NEGOTIATE_ORDERED);
	assert_int_equal(caller.modes[0], NEGOTIATE_ORDERED);
	assert_int_equal(caller.modes[1], NEGOTIATE_UNORDERED);
}

static void reliable_mode_older_peer_and_bad_words(void **state)
{
	struct negotiate_offer o, parsed;
	struct negotiation n;
	char err[NEGOTIATE_ERR_MAX];
	json_t *offer, *answer;

	(void)state;
	make_offer(&o, 1);
	o.modes[0] = NEGOTIATE_ORDERED;
	/* An older callee: the answer's channel has no "reliable". */
	answer = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:i}]}", "call", "0123456789abcdef",
			   "cipher", "aes-256-gcm", "compress", "none", "nonce",
			   "0000000000000000000000000000000000000000000000000000000000000001",
			   "endpoint", "198.18.0.2:40001", "channels", "session", 77);
	assert_int_equal(negotiate_answer_parse(answer, &o, &n, err, sizeof err), 0);
	assert_int_equal(n.modes[0], NEGOTIATE_DATAGRAM);
	/* A mode not asked for. */
	o.modes[0] = NEGOTIATE_DATAGRAM;
	json_object_set_new(json_array_get(json_object_get(answer, "channels"), 0), "reliable",
			    json_string("unordered"));
	assert_int_equal(negotiate_answer_parse(answer, &o, &n, err, sizeof err),
			 INSEL_E_PROTOCOL);
	assert_non_null(strstr(err, "not asked for"));
	json_decref(answer);
	/* An unknown word in an offer. */
	offer = negotiate_offer_to_json(&o);
	json_object_set_new(json_array_get(json_object_get(offer, "channels"), 0), "reliable",
			    json_string("sometimes"));
	assert_int_equal(negotiate_offer_parse(offer, &parsed, err, sizeof err),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(err, "ordered or unordered"));
	json_decref(offer);
}

/* Probe counters of their own (docs/frames.md sections 1a and 3): on only when the offer
 * and the answer both say so; an older side on either end (no field) leaves it off; an
 * answer agreeing to what was not offered, or a field that is no boolean, is refused. */
static bool probe_space_agreed(bool caller_can, bool callee_can, bool *answered)
{
	struct negotiate_offer o, parsed;
	struct negotiate_prefs allowed;
	struct negotiate_refusal refusal;
	struct negotiate_side me;
	struct negotiation callee, caller;
	char err[NEGOTIATE_ERR_MAX];
	json_t *offer, *answer;

	make_offer(&o, 1);
	o.caller.probe_space = caller_can;
	offer = negotiate_offer_to_json(&o);
	assert_int_equal(json_object_get(offer, "probe_space") != NULL, caller_can);
	assert_int_equal(negotiate_offer_parse(offer, &parsed, err, sizeof err), 0);
	json_decref(offer);
	assert_int_equal(parsed.caller.probe_space, caller_can);
	negotiate_prefs_default(&allowed);
	make_callee(&me, 1);
	me.probe_space = callee_can;
	assert_int_equal(negotiate_choose(&parsed, &allowed, &me, &callee, &refusal), 0);
	answer = negotiate_answer_to_json(&callee);
	*answered = json_is_true(json_object_get(answer, "probe_space"));
	assert_int_equal(negotiate_answer_parse(answer, &o, &caller, err, sizeof err), 0);
	json_decref(answer);
	assert_int_equal(caller.probe_space, callee.probe_space);
	return caller.probe_space;
}

static void probe_space_negotiated_only_by_both(void **state)
{
	struct negotiate_offer o, parsed;
	struct negotiation n;
	char err[NEGOTIATE_ERR_MAX];
	json_t *offer, *answer;
	bool answered;

	(void)state;
	assert_true(probe_space_agreed(true, true, &answered));
	assert_true(answered);
	assert_false(probe_space_agreed(true, false, &answered));  /* an older callee */
	assert_false(answered);
	assert_false(probe_space_agreed(false, true, &answered));  /* an older caller */
	assert_false(answered);
	assert_false(probe_space_agreed(false, false, &answered));
	/* Agreeing to what was not offered. */
	make_offer(&o, 1);
	answer = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:[{s:i}]}", "call",
			   "0123456789abcdef", "cipher", "aes-256-gcm", "compress", "none",
			   "nonce",
			   "0000000000000000000000000000000000000000000000000000000000000001",
			   "endpoint", "198.18.0.2:40001", "probe_space", 1, "channels", "session",
			   77);
	assert_int_equal(negotiate_answer_parse(answer, &o, &n, err, sizeof err),
			 INSEL_E_PROTOCOL);
	assert_non_null(strstr(err, "probe_space"));
	/* Offered: the same answer is fine; false is as good as absent. */
	o.caller.probe_space = true;
	assert_int_equal(negotiate_answer_parse(answer, &o, &n, err, sizeof err), 0);
	assert_true(n.probe_space);
	json_object_set_new(answer, "probe_space", json_false());
	assert_int_equal(negotiate_answer_parse(answer, &o, &n, err, sizeof err), 0);
	assert_false(n.probe_space);
	json_object_set_new(answer, "probe_space", json_string("yes"));
	assert_int_equal(negotiate_answer_parse(answer, &o, &n, err, sizeof err),
			 INSEL_E_PROTOCOL);
	json_decref(answer);
	offer = negotiate_offer_to_json(&o);
	json_object_set_new(offer, "probe_space", json_integer(1));
	assert_int_equal(negotiate_offer_parse(offer, &parsed, err, sizeof err),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(err, "probe_space"));
	json_decref(offer);
}

static void sessions_never_the_stun_cookie(void **state)
{
	struct negotiate_side s;

	(void)state;
	for (int round = 0; round < 2000; round++) {
		negotiate_side_random(&s, SEC_MAX_CHANNELS);
		for (size_t i = 0; i < SEC_MAX_CHANNELS; i++)
			assert_int_not_equal(s.sessions[i], 0x2112A442u);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_common_cipher),
		cmocka_unit_test(unknown_names_are_skipped),
		cmocka_unit_test(no_common_cipher_refused_on_both_sides),
		cmocka_unit_test(no_common_compression),
		cmocka_unit_test(other_refusals_are_refused),
		cmocka_unit_test(channel_validation),
		cmocka_unit_test(malformed_offers),
		cmocka_unit_test(answers_that_do_not_fit),
		cmocka_unit_test(keys_are_mirrored),
		cmocka_unit_test(exporter_context_layout),
		cmocka_unit_test(candidates_cross),
		cmocka_unit_test(candidates_malformed),
		cmocka_unit_test(sessions_never_the_stun_cookie),
		cmocka_unit_test(reliable_mode_negotiated),
		cmocka_unit_test(reliable_mode_older_peer_and_bad_words),
		cmocka_unit_test(probe_space_negotiated_only_by_both),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
