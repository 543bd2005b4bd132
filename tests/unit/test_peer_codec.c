/* Unit tests for the peer protocol's codec (secondary/peer_codec.c): every message encodes
 * and decodes back to itself, the wire form keeps its field names and types, and every
 * malformed field is refused with the sentence the error reply carries, leaving the
 * output untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "peer_codec.h"

static json_t *sample_offer(void)
{
	return json_pack("{s:s, s:[s], s:[s]}", "call", "0123456789abcdef", "ciphers",
			 "aes-256-gcm", "compress", "none");
}

/* Compares with want and drops it. */
static void assert_json_equal_new(const json_t *got, json_t *want)
{
	assert_true(json_equal(got, want));
	json_decref(want);
}

static void udp_request(struct peer_call_request *r, json_t *offer)
{
	memset(r, 0, sizeof *r);
	r->call_id = 0x0123456789abcdefULL;
	strcpy(r->caller, "alice@lan-a");
	strcpy(r->callee, "bob@lan-b");
	strcpy(r->callee_user, "bob");
	r->has_callee_addr = true;
	assert_int_equal(ip_addr_parse("10.2.0.11", &r->callee_addr), 0);
	r->channels.n = 2;
	r->channels.ports[0] = 5004;
	r->channels.ports[1] = 5005;
	r->offer = offer;
}

static void tun_request(struct peer_call_request *r, json_t *offer)
{
	memset(r, 0, sizeof *r);
	r->call_id = 0x1022;
	strcpy(r->caller, "alice@lan-a");
	strcpy(r->callee, "10.2.0.11");
	r->has_callee_addr = true;
	assert_int_equal(ip_addr_parse("10.2.0.11", &r->callee_addr), 0);
	r->channels.tun = true;
	r->channels.n = 1;
	r->offer = offer;
	assert_int_equal(ip_prefix_parse("10.1.0.11/32", true, &r->tun_caller[0]), 0);
	assert_int_equal(ip_prefix_parse("fd01::11/128", true, &r->tun_caller[1]), 0);
	r->ntun_caller = 2;
	assert_int_equal(ip_prefix_parse("10.2.0.11/32", true, &r->tun_callee[0]), 0);
	r->ntun_callee = 1;
	r->has_caller_gateway = true;
	assert_int_equal(ip_addr_parse("10.1.0.1", &r->caller_gateway), 0);
	r->has_caller_gateway6 = true;
	assert_int_equal(ip_addr_parse("fd01::1", &r->caller_gateway6), 0);
}

static void assert_prefixes_equal(const struct ip_prefix *a, const struct ip_prefix *b,
				  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_true(ip_addr_equal(&a[i].addr, &b[i].addr));
		assert_int_equal(a[i].len, b[i].len);
	}
}

static void assert_requests_equal(const struct peer_call_request *a,
				  const struct peer_call_request *b)
{
	assert_true(a->call_id == b->call_id);
	assert_string_equal(a->caller, b->caller);
	assert_string_equal(a->callee, b->callee);
	assert_string_equal(a->callee_user, b->callee_user);
	assert_int_equal(a->has_callee_addr, b->has_callee_addr);
	if (a->has_callee_addr)
		assert_true(ip_addr_equal(&a->callee_addr, &b->callee_addr));
	assert_int_equal(a->channels.tun, b->channels.tun);
	assert_int_equal(a->channels.n, b->channels.n);
	assert_memory_equal(a->channels.ports, b->channels.ports, sizeof a->channels.ports);
	assert_true(json_equal(a->offer, b->offer));
	assert_int_equal(a->trunk, b->trunk);
	assert_int_equal(a->ntun_caller, b->ntun_caller);
	assert_int_equal(a->ntun_callee, b->ntun_callee);
	assert_prefixes_equal(a->tun_caller, b->tun_caller, a->ntun_caller);
	assert_prefixes_equal(a->tun_callee, b->tun_callee, a->ntun_callee);
	assert_int_equal(a->has_caller_gateway, b->has_caller_gateway);
	if (a->has_caller_gateway)
		assert_true(ip_addr_equal(&a->caller_gateway, &b->caller_gateway));
	assert_int_equal(a->has_caller_gateway6, b->has_caller_gateway6);
	if (a->has_caller_gateway6)
		assert_true(ip_addr_equal(&a->caller_gateway6, &b->caller_gateway6));
}

static void request_round_trip(const struct peer_call_request *r)
{
	struct peer_call_request back;
	const char *why = NULL;
	json_t *j = peer_call_request_encode(r);

	assert_non_null(j);
	memset(&back, 0xaa, sizeof back);
	assert_int_equal(peer_call_request_decode(j, &back, &why), 0);
	assert_requests_equal(r, &back);
	json_decref(j);
}

static void call_request_udp(void **state)
{
	struct peer_call_request r;
	json_t *offer = sample_offer(), *j;

	udp_request(&r, offer);
	request_round_trip(&r);
	/* The wire form, as docs/protocol.md gives it. */
	j = peer_call_request_encode(&r);
	assert_string_equal(msg_op(j), "call_request");
	assert_string_equal(json_string_value(json_object_get(j, "call")), "0123456789abcdef");
	assert_string_equal(json_string_value(json_object_get(j, "caller")), "alice@lan-a");
	assert_string_equal(json_string_value(json_object_get(j, "callee_user")), "bob");
	assert_string_equal(json_string_value(json_object_get(j, "callee_address")),
			    "10.2.0.11");
	assert_json_equal_new(json_object_get(j, "channels"),
			      json_pack("[{s:s, s:i}, {s:s, s:i}]", "kind", "udp", "port", 5004,
					"kind", "udp", "port", 5005));
	assert_null(json_object_get(j, "tun"));
	assert_null(json_object_get(j, "trunk"));
	json_decref(j);
	/* Optional fields left out stay out. */
	r.callee_user[0] = '\0';
	r.has_callee_addr = false;
	j = peer_call_request_encode(&r);
	assert_null(json_object_get(j, "callee_user"));
	assert_null(json_object_get(j, "callee_address"));
	json_decref(j);
	request_round_trip(&r);
	json_decref(offer);
}

static void call_request_tun_and_trunk(void **state)
{
	struct peer_call_request r;
	json_t *offer = sample_offer(), *j, *tun;

	tun_request(&r, offer);
	request_round_trip(&r);
	j = peer_call_request_encode(&r);
	tun = json_object_get(j, "tun");
	assert_json_equal_new(json_object_get(j, "channels"), json_pack("[{s:s}]", "kind", "tun"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(tun, "caller"), 1)),
			    "fd01::11/128");
	assert_string_equal(json_string_value(json_object_get(tun, "caller_gateway")),
			    "10.1.0.1");
	assert_string_equal(json_string_value(json_object_get(tun, "caller_gateway6")),
			    "fd01::1");
	json_decref(j);
	/* A trunk: the two LANs' names, without the IPv6 gateway. */
	strcpy(r.caller, "lan-a");
	strcpy(r.callee, "lan-b");
	r.has_callee_addr = false;
	r.trunk = true;
	r.has_caller_gateway6 = false;
	request_round_trip(&r);
	j = peer_call_request_encode(&r);
	assert_true(json_is_true(json_object_get(j, "trunk")));
	assert_null(json_object_get(json_object_get(j, "tun"), "caller_gateway6"));
	json_decref(j);
	json_decref(offer);
}

/* Sets one field of a good request (path "tun.caller" reaches inside "tun") to value, or
 * removes it, and expects a refusal whose sentence contains want. */
static void expect_refused(bool tun, const char *path, json_t *value, const char *want)
{
	struct peer_call_request r, out;
	json_t *offer = sample_offer(), *j, *obj;
	const char *why = NULL, *key = path, *dot = strchr(path, '.');
	char parent[32];

	if (tun)
		tun_request(&r, offer);
	else
		udp_request(&r, offer);
	j = peer_call_request_encode(&r);
	obj = j;
	if (dot) {
		snprintf(parent, sizeof parent, "%.*s", (int)(dot - path), path);
		obj = json_object_get(j, parent);
		key = dot + 1;
	}
	if (value)
		json_object_set_new(obj, key, value);
	else
		json_object_del(obj, key);
	memset(&out, 0x55, sizeof out);
	assert_int_equal(peer_call_request_decode(j, &out, &why), INSEL_E_BAD_FIELD);
	assert_non_null(why);
	if (!strstr(why, want))
		fail_msg("%s: refused with '%s', expected '%s'", path, why, want);
	/* Only the call id is written on failure (a refusal names its call). */
	assert_int_equal((unsigned char)out.caller[0], 0x55);
	assert_int_equal(out.ntun_caller, (size_t)0x5555555555555555ULL);
	json_decref(j);
	json_decref(offer);
}

/* A trunk is placed between two LANs, over one tun channel. */
static void expect_trunk_refused(void)
{
	struct peer_call_request r, out;
	json_t *offer = sample_offer(), *j;
	const char *why = NULL;

	udp_request(&r, offer);
	strcpy(r.caller, "lan-a");
	r.trunk = true;
	j = peer_call_request_encode(&r);
	assert_int_equal(peer_call_request_decode(j, &out, &why), INSEL_E_BAD_FIELD);
	assert_string_equal(why, "a trunk is a network call: one tun channel");
	json_decref(j);
	json_decref(offer);
}

static void call_request_refusals(void **state)
{
	char long_name[PEER_PARTY_MAX + 8];

	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	long_name[3] = '@';
	expect_refused(false, "call", NULL, "bad call id");
	expect_refused(false, "call", json_string("123"), "bad call id");
	expect_refused(false, "call", json_string("0000000000000000"), "bad call id");
	expect_refused(false, "call", json_integer(5), "bad call id");
	expect_refused(false, "caller", NULL, "'caller'");
	expect_refused(false, "caller", json_integer(1), "'caller'");
	expect_refused(false, "caller", json_string("alice"), "caller or callee malformed");
	expect_refused(false, "caller", json_string(long_name), "caller or callee malformed");
	expect_refused(false, "callee", NULL, "'callee'");
	expect_refused(false, "callee", json_string(long_name), "caller or callee malformed");
	expect_refused(false, "callee_user", json_false(), "'callee_user'");
	expect_refused(false, "callee_user", json_string(long_name),
		       "caller or callee malformed");
	expect_refused(false, "callee_address", json_integer(7), "'callee_address'");
	expect_refused(false, "callee_address", json_string("10.2.0"),
		       "callee_address is not an address");
	expect_refused(false, "offer", NULL, "'offer'");
	expect_refused(false, "offer", json_string("{}"), "'offer'");
	expect_refused(false, "channels", NULL, "'channels'");
	expect_refused(false, "channels", json_string("many"), "'channels'");
	expect_refused(false, "channels", json_array(), "at least one channel");
	expect_refused(false, "channels",
		       json_pack("[{s:s,s:i},{s:s,s:i},{s:s,s:i},{s:s,s:i},{s:s,s:i},{s:s,s:i},"
				 "{s:s,s:i},{s:s,s:i},{s:s,s:i}]",
				 "kind", "udp", "port", 1, "kind", "udp", "port", 2, "kind", "udp",
				 "port", 3, "kind", "udp", "port", 4, "kind", "udp", "port", 5,
				 "kind", "udp", "port", 6, "kind", "udp", "port", 7, "kind", "udp",
				 "port", 8, "kind", "udp", "port", 9), "'channels'");
	expect_refused(false, "channels", json_pack("[{s:i}]", "port", 5004), "'kind'");
	expect_refused(false, "channels", json_pack("[{s:s}]", "kind", "udp"), "'port'");
	expect_refused(false, "channels", json_pack("[{s:s, s:i}]", "kind", "udp", "port", 0),
		       "'port'");
	expect_refused(false, "channels", json_pack("[{s:s, s:i}]", "kind", "udp", "port",
						    65536), "'port'");
	expect_refused(false, "channels", json_pack("[{s:s, s:i}]", "kind", "sctp", "port",
						    5004), "of kind udp or tun");
	expect_refused(false, "channels", json_pack("[{s:s, s:i}, {s:s}]", "kind", "udp",
						    "port", 5004, "kind", "tun"),
		       "the call's only channel");
	expect_refused(false, "trunk", json_true(), "caller or callee malformed");
	expect_trunk_refused();
	expect_refused(true, "tun", NULL, "caller and callee prefixes");
	expect_refused(true, "tun.caller", NULL, "caller and callee prefixes");
	expect_refused(true, "tun.caller", json_array(), "caller and callee prefixes");
	expect_refused(true, "tun.caller", json_pack("[s]", "10.1.0.11/24"),
		       "caller and callee prefixes");
	expect_refused(true, "tun.callee", json_pack("[i]", 10), "caller and callee prefixes");
	expect_refused(true, "tun.callee",
		       json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]", "10.0.0.0/8", "10.0.0.0/8",
				 "10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8",
				 "10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8",
				 "10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8",
				 "10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8"),
		       "caller and callee prefixes");
}

/* The gateways are hints: one of the wrong family or form is left out, not refused. */
static void call_request_gateway_hints(void **state)
{
	struct peer_call_request r, out;
	json_t *offer = sample_offer(), *j, *tun;
	const char *why;

	tun_request(&r, offer);
	j = peer_call_request_encode(&r);
	tun = json_object_get(j, "tun");
	json_object_set_new(tun, "caller_gateway", json_string("fd01::1"));
	json_object_set_new(tun, "caller_gateway6", json_integer(6));
	assert_int_equal(peer_call_request_decode(j, &out, &why), 0);
	assert_false(out.has_caller_gateway);
	assert_false(out.has_caller_gateway6);
	json_decref(j);
	json_decref(offer);
}

static void call_answer(void **state)
{
	struct peer_call_answer a = {0}, back;
	json_t *answer = json_pack("{s:s}", "cipher", "aes-256-gcm"), *j;
	const char *why = NULL;

	a.answer = answer;
	j = peer_call_answer_encode(12, &a);
	assert_int_equal(msg_id(j), 12);
	assert_true(msg_reply_is_ok(j, NULL, NULL));
	assert_null(json_object_get(j, "tun"));
	assert_int_equal(peer_call_answer_decode(j, &back, &why), 0);
	assert_true(json_equal(back.answer, answer));
	assert_false(back.tun);
	json_decref(j);

	a.tun = true;
	a.has_callee_gateway = true;
	assert_int_equal(ip_addr_parse("10.2.0.1", &a.callee_gateway), 0);
	a.has_callee_gateway6 = true;
	assert_int_equal(ip_addr_parse("fd02::1", &a.callee_gateway6), 0);
	j = peer_call_answer_encode(13, &a);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "tun"),
							      "callee_gateway")), "10.2.0.1");
	assert_int_equal(peer_call_answer_decode(j, &back, &why), 0);
	assert_true(back.tun && back.has_callee_gateway && back.has_callee_gateway6);
	assert_true(ip_addr_equal(&back.callee_gateway, &a.callee_gateway));
	assert_true(ip_addr_equal(&back.callee_gateway6, &a.callee_gateway6));
	/* Refusals. */
	json_object_set_new(j, "tun", json_string("10.2.0.1"));
	assert_int_equal(peer_call_answer_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'tun'"));
	json_object_set_new(j, "answer", json_string("yes"));
	assert_int_equal(peer_call_answer_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'answer'"));
	json_object_del(j, "answer");
	assert_int_equal(peer_call_answer_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'answer'"));
	json_decref(j);
	json_decref(answer);
}

static void hangup(void **state)
{
	struct peer_hangup h = {.call_id = 0xabcdef0123456789ULL}, back;
	const char *why = NULL;
	json_t *j;

	strcpy(h.reason, "gateway_outside_lan");
	j = peer_hangup_encode(&h);
	assert_string_equal(msg_op(j), "hangup");
	assert_int_equal(msg_id(j), -1);  /* a notice */
	assert_string_equal(json_string_value(json_object_get(j, "call")), "abcdef0123456789");
	assert_int_equal(peer_hangup_decode(j, &back, &why), 0);
	assert_true(back.call_id == h.call_id);
	assert_string_equal(back.reason, "gateway_outside_lan");
	/* Untrusted reasons: only one short word is kept. */
	json_object_set_new(j, "reason", json_string("Rm -rf"));
	assert_int_equal(peer_hangup_decode(j, &back, &why), 0);
	assert_string_equal(back.reason, "peer_ended");
	json_object_set_new(j, "reason", json_string("abcdefghijklmnopqrstuvwxy"));
	assert_int_equal(peer_hangup_decode(j, &back, &why), 0);
	assert_string_equal(back.reason, "peer_ended");
	json_object_del(j, "reason");
	assert_int_equal(peer_hangup_decode(j, &back, &why), 0);
	assert_string_equal(back.reason, "hangup");
	/* A call that is not an id names no call; a missing or non-string one is refused. */
	json_object_set_new(j, "call", json_string("zz"));
	assert_int_equal(peer_hangup_decode(j, &back, &why), 0);
	assert_true(back.call_id == 0);
	json_object_set_new(j, "reason", json_integer(3));
	assert_int_equal(peer_hangup_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'reason'"));
	json_object_del(j, "call");
	assert_int_equal(peer_hangup_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'call'"));
	json_decref(j);
}

static void rekey_messages(void **state)
{
	struct peer_rekey r = {.call_id = 42, .epoch = 7}, back;
	struct peer_rekey_done d = {.call_id = 42, .epoch = 7}, dback;
	uint8_t pub[PEER_PUBLIC_LEN];
	const char *why = NULL;
	json_t *j;

	for (size_t i = 0; i < sizeof r.public; i++)
		r.public[i] = (uint8_t)(i * 7 + 1);
	j = peer_rekey_encode(&r);
	assert_string_equal(msg_op(j), "rekey");
	assert_int_equal(json_integer_value(json_object_get(j, "epoch")), 7);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "public"))), 64);
	assert_int_equal(peer_rekey_decode(j, &back, &why), 0);
	assert_true(back.call_id == 42 && back.epoch == 7);
	assert_memory_equal(back.public, r.public, sizeof r.public);
	json_object_set_new(j, "epoch", json_integer(0));
	assert_int_equal(peer_rekey_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'epoch'"));
	json_object_set_new(j, "epoch", json_integer(8));
	json_object_set_new(j, "public", json_string("00ff"));
	assert_int_equal(peer_rekey_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'public'"));
	assert_int_equal(back.epoch, 7);  /* untouched on failure */
	json_object_del(j, "call");
	assert_int_equal(peer_rekey_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'call'"));
	json_decref(j);

	j = peer_rekey_answer_encode(9, r.public);
	assert_int_equal(msg_id(j), 9);
	assert_int_equal(peer_rekey_answer_decode(j, pub, &why), 0);
	assert_memory_equal(pub, r.public, sizeof pub);
	json_object_set_new(j, "public", json_string("zz"));
	assert_int_equal(peer_rekey_answer_decode(j, pub, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'public'"));
	json_decref(j);

	j = peer_rekey_done_encode(&d);
	assert_string_equal(msg_op(j), "rekey_done");
	assert_int_equal(msg_id(j), -1);
	assert_int_equal(peer_rekey_done_decode(j, &dback, &why), 0);
	assert_true(dback.call_id == 42 && dback.epoch == 7);
	assert_true(peer_call_of(j) == 42);
	json_object_set_new(j, "epoch", json_integer(0x100000000LL));
	assert_int_equal(peer_rekey_done_decode(j, &dback, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'epoch'"));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(call_request_udp),
		cmocka_unit_test(call_request_tun_and_trunk),
		cmocka_unit_test(call_request_refusals),
		cmocka_unit_test(call_request_gateway_hints),
		cmocka_unit_test(call_answer),
		cmocka_unit_test(hangup),
		cmocka_unit_test(rekey_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
