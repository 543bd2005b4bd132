/* libFuzzer target: every decoder of the principal's ops (common/control/principal_ops*.c)
 * on one JSON document, requests as the principal reads them and replies as a secondary
 * reads them. Whatever decodes must encode again and decode back to the same thing
 * (requests compared through their wire form), and every refusal must say why. The
 * principal's handlers around the request decoders are fuzzed by fuzz_principal_api.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "principal_ops.h"
#include "relay_ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_why(int rc, const char *why)
{
	if (rc && !why[0])
		__builtin_trap();  /* every refusal says why */
}

/* Encoded twice from what decoded, the wire form must not change. */
static void same_wire(json_t *a, json_t *b)
{
	if (!a || !b || !json_equal(a, b))
		__builtin_trap();
	json_decref(a);
	json_decref(b);
}

#define ROUND_TRIP(type, decode, encode_call) do {                                \
		struct type x_, y_;                                                \
		char why_[POP_WHY_LEN] = "";                                       \
		int rc_ = decode(j, &x_, why_);                                    \
		check_why(rc_, why_);                                              \
		if (rc_ == 0) {                                                    \
			json_t *first_ = encode_call(&x_);                         \
			if (!first_ || decode(first_, &y_, why_) != 0)             \
				__builtin_trap();                                  \
			same_wire(encode_call(&y_), json_incref(first_));          \
			json_decref(first_);                                       \
		}                                                                  \
	} while (0)

#define REQ(fn) fn##_with_id
#define WITH_ID(fn, type) static json_t *fn##_with_id(const struct type *r) { return fn(1, r); }

WITH_ID(pop_hello_req_encode, pop_hello_req)
WITH_ID(pop_register_req_encode, pop_register_req)
WITH_ID(pop_lookup_req_encode, pop_lookup_req)
WITH_ID(pop_list_req_encode, pop_list_req)
WITH_ID(pop_revocations_req_encode, pop_page)
WITH_ID(pop_call_start_req_encode, pop_call_start_req)
WITH_ID(pop_call_end_req_encode, pop_call_end_req)
WITH_ID(pop_call_event_req_encode, pop_call_event_req)
WITH_ID(pop_verify_user_req_encode, pop_verify_user_req)
WITH_ID(pop_renew_req_encode, pop_renew_req)
WITH_ID(pop_relay_req_encode, pop_relay_req)
WITH_ID(pop_connect_req_encode, pop_connect_req)
WITH_ID(pop_links_req_encode, pop_links_req)
WITH_ID(pop_call_rates_req_encode, pop_call_rates_req)

static void requests(const json_t *j)
{
	ROUND_TRIP(pop_hello_req, pop_hello_req_decode, REQ(pop_hello_req_encode));
	ROUND_TRIP(pop_register_req, pop_register_req_decode, REQ(pop_register_req_encode));
	ROUND_TRIP(pop_lookup_req, pop_lookup_req_decode, REQ(pop_lookup_req_encode));
	ROUND_TRIP(pop_list_req, pop_list_req_decode, REQ(pop_list_req_encode));
	ROUND_TRIP(pop_page, pop_revocations_req_decode, REQ(pop_revocations_req_encode));
	ROUND_TRIP(pop_call_start_req, pop_call_start_req_decode,
		   REQ(pop_call_start_req_encode));
	ROUND_TRIP(pop_call_end_req, pop_call_end_req_decode, REQ(pop_call_end_req_encode));
	ROUND_TRIP(pop_call_event_req, pop_call_event_req_decode,
		   REQ(pop_call_event_req_encode));
	ROUND_TRIP(pop_verify_user_req, pop_verify_user_req_decode,
		   REQ(pop_verify_user_req_encode));
	ROUND_TRIP(pop_renew_req, pop_renew_req_decode, REQ(pop_renew_req_encode));
	ROUND_TRIP(pop_relay_req, pop_relay_req_decode, REQ(pop_relay_req_encode));
	ROUND_TRIP(pop_connect_req, pop_connect_req_decode, REQ(pop_connect_req_encode));
	ROUND_TRIP(pop_links_req, pop_links_req_decode, REQ(pop_links_req_encode));
	ROUND_TRIP(pop_call_rates_req, pop_call_rates_req_decode,
		   REQ(pop_call_rates_req_encode));
	ROUND_TRIP(pop_dial_back, pop_dial_back_notice_decode, pop_dial_back_notice_encode);
	ROUND_TRIP(pop_gateway_notice, pop_gateway_notice_decode, pop_gateway_notice_encode);
}

static void replies(const json_t *j)
{
	ROUND_TRIP(pop_hello_reply, pop_hello_reply_decode, pop_hello_reply_encode);
	ROUND_TRIP(pop_register_reply, pop_register_reply_decode, pop_register_reply_encode);
	ROUND_TRIP(pop_timers, pop_timers_reply_decode, pop_timers_reply_encode);
	ROUND_TRIP(pop_lookup_reply, pop_lookup_reply_decode, pop_lookup_reply_encode);
	ROUND_TRIP(pop_list_reply, pop_list_reply_decode, pop_list_reply_encode);
	ROUND_TRIP(pop_revocations_reply, pop_revocations_reply_decode,
		   pop_revocations_reply_encode);
	ROUND_TRIP(pop_verify_user_reply, pop_verify_user_reply_decode,
		   pop_verify_user_reply_encode);
	ROUND_TRIP(pop_renew_reply, pop_renew_reply_decode, pop_renew_reply_encode);
	ROUND_TRIP(pop_relay_reply, pop_relay_reply_decode, pop_relay_reply_encode);
	ROUND_TRIP(pop_connect_reply, pop_connect_reply_decode, pop_connect_reply_encode);
	ROUND_TRIP(pop_links_reply, pop_links_reply_decode, pop_links_reply_encode);
	ROUND_TRIP(pop_call_rates_reply, pop_call_rates_reply_decode,
		   pop_call_rates_reply_encode);
}

/* Decoders that have no struct to round-trip. */
static void others(const json_t *j)
{
	struct pop_list_reply list;
	struct pop_lan_entry lan;
	struct ip_endpoint ep;
	const json_t *serials;
	const char *call_id;
	char why[POP_WHY_LEN] = "";

	struct relay_allocate allocate;
	struct pop_relay_stats stats;
	uint64_t allocation;

	check_why(pop_revoked_notice_decode(j, &serials, why), why);
	/* A secondary's relay: what it reads of the principal, and the principal of it. */
	if (pop_relay_allocate_decode(j, &allocate, why) == 0)
		same_wire(pop_relay_allocate_encode(1, &allocate),
			  pop_relay_allocate_encode(1, &allocate));
	check_why(pop_relay_allocation_decode(j, &allocation, why), why);
	if (pop_relay_stats_decode(j, &stats, why) == 0 &&
	    (stats.allocations < 0 || stats.forwarded < 0 || stats.dropped < 0))
		__builtin_trap();
	check_why(pop_call_reply_decode(j, &call_id, why), why);
	if (pop_list_reply_decode(j, &list, why) == 0 &&
	    pop_list_find_lan(&list, "lan-b", &lan) == 0) {
		if (lan.nprefixes > POP_MAX_PREFIXES)
			__builtin_trap();
		pop_serving_reachable(&lan.serving, &ep);
		pop_serving_names_certificate(&lan.serving, lan.serving.previous_fingerprint);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (!json_is_object(j)) {
		json_decref(j);
		return 0;
	}
	requests(j);
	replies(j);
	others(j);
	json_decref(j);
	return 0;
}
