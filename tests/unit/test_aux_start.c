/* Unit tests for the "start" codec between a secondary and its auxiliary (aux_start.h):
 * a UDP call's and a network call's requests encoded and decoded back to the same thing,
 * the keys wiped from the decoded JSON, and every field refused when it is of the wrong
 * type, out of range or inconsistent with its place, with the field named in the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "aux_start.h"
#include "err.h"
#include "msg.h"

static void channel_params(struct sec_channel_params *p, unsigned i)
{
	memset(p, 0, sizeof *p);
	p->call_id = 0xfedcba9876543210ULL;
	p->channel = (uint8_t)i;
	p->cipher = i ? SEC_CIPHER_AES256GCM : SEC_CIPHER_CHACHA20POLY1305;
	p->compress = SEC_COMPRESS_NONE;
	p->local_session = 100 + i;
	p->remote_session = 200 + i;
	for (int k = 0; k < SEC_KEY_LEN; k++) {
		p->send_key[k] = (uint8_t)(k + i);
		p->recv_key[k] = (uint8_t)(255 - k - i);
	}
	assert_int_equal(ip_endpoint_parse("198.18.2.2:40001", &p->peer), 0);
	p->mtu = 1400;
	p->external_rekey = i == 1;
}

static void udp_request(struct aux_start_request *r)
{
	memset(r, 0, sizeof *r);
	r->idle_timeout_ms = 60000;
	r->failover_after_ms = 250;
	r->nchannels = 2;
	for (unsigned i = 0; i < 2; i++)
		channel_params(&r->channels[i].params, i);
	assert_int_equal(ip_endpoint_parse("10.1.0.11:5004", &r->channels[0].deliver), 0);
	r->channels[0].has_deliver = true;
}

static void tun_request(struct aux_start_request *r)
{
	memset(r, 0, sizeof *r);
	r->idle_timeout_ms = 0;  /* a trunk: never idle */
	r->nchannels = 1;
	channel_params(&r->channels[0].params, 0);
	assert_int_equal(ip_addr_parse("10.2.0.1", &r->channels[0].remote_gateway), 0);
	r->channels[0].has_remote_gateway = true;
	assert_int_equal(ip_addr_parse("fd02::1", &r->channels[0].remote_gateway6), 0);
	r->channels[0].has_remote_gateway6 = true;
}

static void round_trip(struct aux_start_request *r)
{
	struct aux_start_request back;
	char why[256] = "";
	json_t *j = aux_start_request_to_json(r), *params;

	assert_non_null(j);
	assert_string_equal(msg_op(j), "start");
	assert_int_equal(aux_start_request_from_json(j, &back, why, sizeof why), 0);
	assert_true(aux_start_request_equal(r, &back));
	/* The keys are gone from the JSON once read. */
	params = json_object_get(json_array_get(json_object_get(j, "channels"), 0), "params");
	assert_int_equal(json_string_value(json_object_get(params, "send_key"))[0], '\0');
	aux_start_wipe(&back);
	for (int k = 0; k < SEC_KEY_LEN; k++)
		assert_int_equal(back.channels[0].params.send_key[k] |
				 back.channels[1].params.recv_key[k], 0);
	json_decref(j);
}

static void requests_round_trip(void **state)
{
	struct aux_start_request r;

	udp_request(&r);
	round_trip(&r);
	r.channels[1].has_deliver = true;
	assert_int_equal(ip_endpoint_parse("[fd01::11]:5005", &r.channels[1].deliver), 0);
	round_trip(&r);
	tun_request(&r);
	round_trip(&r);
	r.channels[0].has_remote_gateway6 = false;
	round_trip(&r);
	/* A reliable channel: its mode and attach token (docs/reliable.md). */
	udp_request(&r);
	r.channels[1].mode = NEGOTIATE_UNORDERED;
	memset(r.channels[1].token, 0xa5, sizeof r.channels[1].token);
	round_trip(&r);
}

static void reliable_fields_refused(void **state)
{
	struct aux_start_request r, back;
	char why[256] = "";
	json_t *j, *ch;

	(void)state;
	udp_request(&r);
	r.channels[0].mode = NEGOTIATE_ORDERED;
	memset(r.channels[0].token, 7, sizeof r.channels[0].token);
	j = aux_start_request_to_json(&r);
	ch = json_array_get(json_object_get(j, "channels"), 0);
	json_object_set_new(ch, "token", json_string("abcd"));
	assert_int_equal(aux_start_request_from_json(j, &back, why, sizeof why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'token' must be 64 hex digits"));
	json_decref(j);
	j = aux_start_request_to_json(&r);
	ch = json_array_get(json_object_get(j, "channels"), 0);
	json_object_set_new(ch, "reliable", json_string("datagram"));
	assert_int_equal(aux_start_request_from_json(j, &back, why, sizeof why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "ordered or unordered"));
	json_decref(j);
	aux_start_wipe(&r);
}

static void with_candidates(struct aux_start_request *r)
{
	r->peer_cand[0].kind = CAND_HOST;
	assert_int_equal(ip_endpoint_parse("198.18.2.2:40001", &r->peer_cand[0].ep), 0);
	r->peer_cand[1].kind = CAND_SRFLX;
	assert_int_equal(ip_endpoint_parse("[2001:db8::2]:50000", &r->peer_cand[1].ep), 0);
	r->npeer_cand = 2;
	r->has_relay = true;
	r->relay.kind = CAND_RELAY;
	assert_int_equal(ip_endpoint_parse("198.18.0.1:3479", &r->relay.ep), 0);
	r->relay.relay_id = 0x77;
	memset(r->relay.relay_token, 0xab, CAND_TOKEN_LEN);
	r->relay_leg = 1;
}

/* The peer's candidates and the relay leg. */
static void candidates_round_trip(void **state)
{
	struct aux_start_request r;
	json_t *j;

	(void)state;
	udp_request(&r);
	with_candidates(&r);
	round_trip(&r);
	j = aux_start_request_to_json(&r);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "relay"), "leg")),
			 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "relay"),
							      "kind")), "relay");
	json_decref(j);
	r.has_relay = false;
	round_trip(&r);
	r.npeer_cand = 0;
	round_trip(&r);
	j = aux_start_request_to_json(&r);
	assert_null(json_object_get(j, "peer_candidates"));
	assert_null(json_object_get(j, "relay"));
	json_decref(j);
}

/* The relay's TCP fallback: where it listens, and the CA its certificate chains to. */
static void relay_tcp_round_trip(void **state)
{
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	struct aux_start_request r;
	json_t *j;

	(void)state;
	udp_request(&r);
	with_candidates(&r);
	r.relay.has_tcp = true;
	assert_int_equal(ip_endpoint_parse("198.18.0.1:443", &r.relay.tcp), 0);
	memcpy(r.relay_ca, pem, sizeof pem);
	r.relay_ca_len = sizeof pem - 1;
	round_trip(&r);
	j = aux_start_request_to_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "relay_ca")), pem);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "relay"),
							      "tcp")), "198.18.0.1:443");
	json_decref(j);
}

/* Priming (docs/nat.md): the TTL and the window, or nothing. */
static void prime_round_trip(void **state)
{
	struct aux_start_request r;
	json_t *j;

	(void)state;
	udp_request(&r);
	with_candidates(&r);
	r.prime_ttl = 2;
	r.prime_window_ms = 1500;
	round_trip(&r);
	j = aux_start_request_to_json(&r);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "prime"), "ttl")),
			 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "prime"),
							    "window_ms")), 1500);
	json_decref(j);
	r.prime_ttl = 255;
	r.prime_window_ms = AUX_PRIME_WINDOW_MAX_MS;
	round_trip(&r);
	r.prime_ttl = 0;
	r.prime_window_ms = 0;
	round_trip(&r);
	j = aux_start_request_to_json(&r);
	assert_null(json_object_get(j, "prime"));
	json_decref(j);
}

/* Probe counters of their own (docs/frames.md section 3): said when on, absent when off. */
static void probe_space_round_trip(void **state)
{
	struct aux_start_request r;
	json_t *j;

	(void)state;
	udp_request(&r);
	r.probe_space = true;
	round_trip(&r);
	j = aux_start_request_to_json(&r);
	assert_true(json_is_true(json_object_get(j, "probe_space")));
	json_decref(j);
	r.probe_space = false;
	round_trip(&r);
	j = aux_start_request_to_json(&r);
	assert_null(json_object_get(j, "probe_space"));
	json_decref(j);
}

static void idle_default(void **state)
{
	struct aux_start_request r, back;
	char why[256];
	json_t *j;

	udp_request(&r);
	j = aux_start_request_to_json(&r);
	json_object_del(j, "idle_timeout_ms");
	assert_int_equal(aux_start_request_from_json(j, &back, why, sizeof why), 0);
	assert_true(back.idle_timeout_ms == AUX_DEFAULT_IDLE_TIMEOUT_MS);
	aux_start_wipe(&back);
	json_decref(j);
}

/* Sets key in the request (channel -1) or in channels[channel] (in its params with
 * in_params) to value (NULL: deletes it) and expects a refusal naming what; the decoded
 * request then holds no key. */
static void expect_refused(int channel, bool in_params, const char *key, json_t *value,
			   const char *what)
{
	struct aux_start_request r, back;
	json_t *j, *obj;
	char why[256] = "";

	udp_request(&r);
	j = aux_start_request_to_json(&r);
	obj = channel < 0 ? j : json_array_get(json_object_get(j, "channels"), (size_t)channel);
	if (in_params)
		obj = json_object_get(obj, "params");
	assert_non_null(obj);
	if (value)
		json_object_set_new(obj, key, value);
	else
		json_object_del(obj, key);
	memset(&back, 0x55, sizeof back);
	assert_int_equal(aux_start_request_from_json(j, &back, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	if (!strstr(why, what))
		fail_msg("'%s' does not name '%s'", why, what);
	for (unsigned i = 0; i < SEC_MAX_CHANNELS; i++)
		for (int k = 0; k < SEC_KEY_LEN; k++)
			assert_int_equal(back.channels[i].params.send_key[k] |
					 back.channels[i].params.recv_key[k], 0);
	json_decref(j);
}

static void fields_refused(void **state)
{
	json_t *nine = json_array();

	for (int i = 0; i <= SEC_MAX_CHANNELS; i++)
		json_array_append_new(nine, json_object());
	expect_refused(-1, false, "idle_timeout_ms", json_integer(-1), "idle_timeout_ms");
	expect_refused(-1, false, "idle_timeout_ms", json_integer(AUX_MAX_IDLE_TIMEOUT_MS + 1),
		       "idle_timeout_ms");
	expect_refused(-1, false, "idle_timeout_ms", json_string("soon"), "idle_timeout_ms");
	expect_refused(-1, false, "failover_after_ms", json_integer(10), "failover_after_ms");
	expect_refused(-1, false, "failover_after_ms",
		       json_integer(AUX_MAX_FAILOVER_AFTER_MS + 1), "failover_after_ms");
	expect_refused(-1, false, "relay_ca", json_string("not a certificate"), "relay_ca");
	expect_refused(-1, false, "relay_ca", json_integer(1), "relay_ca");
	expect_refused(-1, false, "prime", json_integer(2), "prime");
	expect_refused(-1, false, "prime", json_pack("{s:i}", "ttl", 2), "window_ms");
	expect_refused(-1, false, "prime", json_pack("{s:i}", "window_ms", 100), "ttl");
	expect_refused(-1, false, "prime", json_pack("{s:i, s:i}", "ttl", 0, "window_ms", 100),
		       "ttl");
	expect_refused(-1, false, "prime", json_pack("{s:i, s:i}", "ttl", 256, "window_ms", 1),
		       "ttl");
	expect_refused(-1, false, "prime", json_pack("{s:i, s:i}", "ttl", 2, "window_ms", 0),
		       "window_ms");
	expect_refused(-1, false, "prime", json_pack("{s:i, s:i}", "ttl", 2, "window_ms",
						     AUX_PRIME_WINDOW_MAX_MS + 1), "window_ms");
	expect_refused(-1, false, "probe_space", json_integer(1), "probe_space");
	expect_refused(-1, false, "channels", NULL, "channels");
	expect_refused(-1, false, "channels", json_object(), "channels");
	expect_refused(-1, false, "channels", json_array(), "channels");
	expect_refused(-1, false, "channels", nine, "channels");
	expect_refused(-1, false, "channels", json_pack("[i]", 1), "channels[0]");
	expect_refused(0, false, "params", NULL, "params");
	expect_refused(0, false, "params", json_string("{}"), "params");
	expect_refused(1, true, "cipher", json_string("des"), "channels[1].params");
	expect_refused(1, true, "send_key", json_string("00"), "send_key");
	expect_refused(1, true, "channel", json_integer(0), "params are for channel 0");
	expect_refused(1, true, "local_session", json_integer(100), "share a local session");
	expect_refused(0, false, "deliver", json_string("10.1.0.11"), "deliver");
	expect_refused(0, false, "deliver", json_string("10.1.0.11:0"), "deliver");
	expect_refused(0, false, "deliver", json_integer(5004), "deliver");
	expect_refused(0, false, "remote_gateway", json_string("fd02::1"), "remote_gateway");
	expect_refused(0, false, "remote_gateway", json_string("gateway"), "remote_gateway");
	expect_refused(0, false, "remote_gateway", json_true(), "remote_gateway");
	expect_refused(0, false, "remote_gateway6", json_string("10.2.0.1"), "remote_gateway6");
	expect_refused(0, false, "remote_gateway6", json_integer(6), "remote_gateway6");
	expect_refused(1, true, "local_session", json_integer(0x2112A442), "magic cookie");
	expect_refused(-1, false, "peer_candidates", json_string("198.18.2.2:1"),
		       "peer_candidates");
	expect_refused(-1, false, "peer_candidates", json_pack("[{s:s, s:s}]", "kind", "srflx",
							       "addr", "198.18.2.2"),
		       "peer_candidates");
	expect_refused(-1, false, "relay", json_pack("{s:s, s:s, s:i}", "kind", "host", "addr",
						     "198.18.0.1:3479", "leg", 0), "kind relay");
	expect_refused(-1, false, "relay", json_pack("{s:s, s:s, s:s, s:s}", "kind", "relay",
						     "addr", "198.18.0.1:3479", "relay_id",
						     "0000000000000077", "token",
						     "abababababababababababababababab"), "leg");
	expect_refused(-1, false, "relay", json_pack("{s:s, s:s, s:s, s:s, s:i}", "kind",
						     "relay", "addr", "198.18.0.1:3479",
						     "relay_id", "0000000000000077", "token",
						     "abababababababababababababababab", "leg", 2),
		       "leg");
	expect_refused(-1, false, "relay", json_pack("{s:s, s:s, s:s, s:i}", "kind", "relay",
						     "addr", "198.18.0.1:3479", "relay_id",
						     "0000000000000077", "leg", 0), "token");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(requests_round_trip),
		cmocka_unit_test(reliable_fields_refused),
		cmocka_unit_test(idle_default),
		cmocka_unit_test(fields_refused),
		cmocka_unit_test(candidates_round_trip),
		cmocka_unit_test(relay_tcp_round_trip),
		cmocka_unit_test(prime_round_trip),
		cmocka_unit_test(probe_space_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
