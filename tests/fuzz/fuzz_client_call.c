/* libFuzzer target: what the client API's call codec (common/control/client_call.c) reads
 * on either end: the secondary reads the client's call, calls (a page: after, limit),
 * listen and hangup requests and its answer to an incoming call; the client reads call
 * objects (in the call reply, incoming, call_up and the calls reply, with its next) and
 * call_ended. The input is one JSON document,
 * decoded as each message in turn. Every refusal must say why; every message that decodes
 * must encode and decode again to the same message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_call.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* encode(decode(x)) is a fixed point of decode-then-encode. */
static void call_round_trip(const struct client_call *c)
{
	struct client_call *back = malloc(sizeof *back);
	json_t *once = client_call_encode(c), *twice;
	const char *why = NULL;

	CHECK(back && once);
	CHECK(client_call_decode(once, back, &why) == 0);
	twice = client_call_encode(back);
	CHECK(twice && json_equal(once, twice));
	json_decref(once);
	json_decref(twice);
	free(back);
}

static void fuzz_call_objects(const json_t *j)
{
	struct client_call *c = malloc(sizeof *c), *list = NULL;
	const char *why = NULL;
	size_t n = 0;

	CHECK(c);
	if (client_call_decode(j, c, &why) == 0) {
		CHECK(c->id != 0 && c->nchannels <= SEC_MAX_CHANNELS && c->state[0]);
		call_round_trip(c);
	} else {
		CHECK(why);
	}
	if (client_call_of(j, c, &why) == 0)
		call_round_trip(c);
	if (client_calls_reply_decode(j, &list, &n, &why) == 0) {
		for (size_t i = 0; i < n; i++)
			call_round_trip(&list[i]);
		free(list);
	}
	free(c);
}

static void fuzz_requests(const json_t *j)
{
	struct client_call_request r, r2;
	struct client_hangup h, h2;
	struct client_call_ended e, e2;
	struct client_calls_request pg, pg2;
	uint64_t next;
	const char *why = NULL;
	bool tun, tun2;
	json_t *once;

	if (client_call_request_decode(j, &r, &why) == 0) {
		CHECK(r.channels.n >= 1 && r.channels.n <= SEC_MAX_CHANNELS);
		once = client_call_request_encode(&r);
		CHECK(once && client_call_request_decode(once, &r2, &why) == 0);
		CHECK(strcmp(r.callee, r2.callee) == 0 && r.channels.tun == r2.channels.tun &&
		      r.channels.n == r2.channels.n &&
		      memcmp(r.channels.ports, r2.channels.ports, sizeof r.channels.ports) == 0);
		json_decref(once);
	}
	if (client_calls_decode(j, &pg, &why) == 0) {
		CHECK(pg.limit >= 1 && pg.limit <= CLIENT_CALLS_PAGE_MAX);
		once = client_calls_encode(&pg);
		CHECK(once && client_calls_decode(once, &pg2, &why) == 0);
		CHECK(pg.after == pg2.after && pg.limit == pg2.limit);
		json_decref(once);
	} else {
		CHECK(why);
	}
	if (client_calls_next(j, &next, &why) != 0)
		CHECK(why);
	if (client_listen_decode(j, &tun, &why) == 0) {
		once = client_listen_encode(tun);
		CHECK(once && client_listen_decode(once, &tun2, &why) == 0 && tun == tun2);
		json_decref(once);
	}
	if (client_hangup_decode(j, &h, &why) == 0) {
		once = client_hangup_encode(&h);
		CHECK(once && client_hangup_decode(once, &h2, &why) == 0);
		CHECK(strcmp(h.call, h2.call) == 0);
		json_decref(once);
	}
	if (client_call_ended_decode(j, &e, &why) == 0) {
		once = client_call_ended_encode(&e);
		CHECK(once && client_call_ended_decode(once, &e2, &why) == 0);
		CHECK(e.call_id == e2.call_id && strcmp(e.reason, e2.reason) == 0);
		json_decref(once);
	}
	(void)client_answer_accepts(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (!j)
		return 0;
	fuzz_call_objects(j);
	fuzz_requests(j);
	json_decref(j);
	return 0;
}
