/* libFuzzer target: what a secondary reads from an untrusted peer secondary
 * (secondary/peer_codec.c). The input is one JSON document, decoded as each peer message
 * in turn: call_request (channels, tun prefixes, gateways, offer), its answer, hangup,
 * rekey and its answer, rekey_done. Every refusal must say why; every message that decodes
 * must encode and decode again to the same message. The document is also read as the
 * directory's LAN list (secondary/call_parse.c), against which a network call's gateway
 * addresses are checked: a gateway outside every prefix is never accepted. */
#include <stdint.h>
#include <string.h>

#include "call_internal.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* encode(decode(x)) is a fixed point: decoding it gives what encodes the same again. */
static void call_request_round_trip(const struct peer_call_request *r)
{
	struct peer_call_request back;
	json_t *once = peer_call_request_encode(r), *twice;
	const char *why = NULL;

	CHECK(once);
	CHECK(peer_call_request_decode(once, &back, &why) == 0);
	twice = peer_call_request_encode(&back);
	CHECK(twice && json_equal(once, twice));
	json_decref(once);
	json_decref(twice);
}

static void fuzz_call_request(const json_t *j, struct peer_call_request *r)
{
	const char *why = NULL;

	if (peer_call_request_decode(j, r, &why) != 0) {
		CHECK(why);  /* every refusal says why */
		memset(r, 0, sizeof *r);
		return;
	}
	CHECK(r->call_id != 0 && r->offer && json_is_object(r->offer));
	CHECK(r->channels.n >= 1 && r->channels.n <= SEC_MAX_CHANNELS);
	CHECK(!r->channels.tun || r->channels.n == 1);
	CHECK(!r->trunk || r->channels.tun);
	CHECK(r->ntun_caller <= PEER_MAX_PREFIXES && r->ntun_callee <= PEER_MAX_PREFIXES);
	CHECK(!r->has_caller_gateway || r->caller_gateway.family == AF_INET);
	CHECK(!r->has_caller_gateway6 || r->caller_gateway6.family == AF_INET6);
	call_request_round_trip(r);
}

static void fuzz_answer(const json_t *j)
{
	struct peer_call_answer a, back;
	const char *why = NULL;
	json_t *once, *twice;

	if (peer_call_answer_decode(j, &a, &why) != 0) {
		CHECK(why);
		return;
	}
	CHECK(json_is_object(a.answer));
	once = peer_call_answer_encode(7, &a);
	CHECK(once && peer_call_answer_decode(once, &back, &why) == 0);
	twice = peer_call_answer_encode(7, &back);
	CHECK(twice && json_equal(once, twice));
	json_decref(once);
	json_decref(twice);
}

static void fuzz_hangup_and_rekey(const json_t *j)
{
	struct peer_hangup h, h2;
	struct peer_rekey rk, rk2;
	struct peer_rekey_done d, d2;
	uint8_t pub[PEER_PUBLIC_LEN], pub2[PEER_PUBLIC_LEN];
	const char *why = NULL;
	json_t *e;

	if (peer_hangup_decode(j, &h, &why) == 0) {
		CHECK(h.reason[0] && strlen(h.reason) <= 24);
		e = peer_hangup_encode(&h);
		CHECK(e && peer_hangup_decode(e, &h2, &why) == 0);
		CHECK(h2.call_id == h.call_id && strcmp(h2.reason, h.reason) == 0);
		json_decref(e);
	}
	if (peer_rekey_decode(j, &rk, &why) == 0) {
		e = peer_rekey_encode(&rk);
		CHECK(e && peer_rekey_decode(e, &rk2, &why) == 0);
		CHECK(rk2.call_id == rk.call_id && rk2.epoch == rk.epoch && rk.epoch >= 1 &&
		      memcmp(rk2.public, rk.public, sizeof rk.public) == 0);
		json_decref(e);
	}
	if (peer_rekey_answer_decode(j, pub, &why) == 0) {
		e = peer_rekey_answer_encode(3, pub);
		CHECK(e && peer_rekey_answer_decode(e, pub2, &why) == 0);
		CHECK(memcmp(pub, pub2, sizeof pub) == 0);
		json_decref(e);
	}
	if (peer_rekey_done_decode(j, &d, &why) == 0) {
		e = peer_rekey_done_encode(&d);
		CHECK(e && peer_rekey_done_decode(e, &d2, &why) == 0);
		CHECK(d2.call_id == d.call_id && d2.epoch == d.epoch);
		json_decref(e);
	}
}

/* The peer's gateway addresses against the directory's prefixes. */
static void fuzz_directory(const json_t *j, const struct peer_call_request *r)
{
	struct ip_prefix prefixes[SECONDARY_MAX_PREFIXES];
	static struct call call;
	struct pop_lan_entry lan;
	size_t n = 0;

	memset(&call, 0, sizeof call);
	call.has_remote_gateway = r->has_caller_gateway;
	call.remote_gateway = r->caller_gateway;
	call.has_remote_gateway6 = r->has_caller_gateway6;
	call.remote_gateway6 = r->caller_gateway6;
	if (directory_lan(j, "lan-b", &lan) == 0)
		n = directory_prefixes(&lan, prefixes, SECONDARY_MAX_PREFIXES);
	CHECK(n <= SECONDARY_MAX_PREFIXES);
	if (gateways_within(&call, prefixes, n) && n == 0 &&
	    (call.has_remote_gateway || call.has_remote_gateway6))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	static struct peer_call_request r;

	if (!j)
		return 0;
	fuzz_call_request(j, &r);
	fuzz_answer(j);
	fuzz_hangup_and_rekey(j);
	fuzz_directory(j, &r);
	json_decref(j);
	return 0;
}
