/* Unit tests for the codec of the principal's ops (principal_ops.h): every request and
 * reply encoded and decoded back to the same struct, the exact wire fields the principal
 * and the secondaries exchange, and the refusals (with their codes and sentences) of the
 * request decoders, which the principal sends back as error replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json_assert.h"
#include "msg.h"
#include "principal_ops.h"
#include "relay_ops.h"
#include "principal_ops_priv.h"

#define FP_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* A reply as the secondary receives it: the op's fields plus id and ok. */
static json_t *as_reply(json_t *fields)
{
	assert_non_null(fields);
	json_object_set_new(fields, "id", json_integer(4));
	json_object_set_new(fields, "ok", json_true());
	return fields;
}

static void prefix(const char *text, struct ip_prefix *out)
{
	assert_int_equal(ip_prefix_parse(text, true, out), 0);
}

static void assert_same_prefix(const struct ip_prefix *a, const struct ip_prefix *b)
{
	char ta[IP_STRLEN], tb[IP_STRLEN];

	assert_string_equal(ip_prefix_format(a, ta, sizeof ta), ip_prefix_format(b, tb, sizeof tb));
}

static void assert_same_endpoint(const struct ip_endpoint *a, const struct ip_endpoint *b)
{
	char ta[IP_STRLEN], tb[IP_STRLEN];

	assert_string_equal(ip_endpoint_format(a, ta, sizeof ta),
			    ip_endpoint_format(b, tb, sizeof tb));
}

static void assert_same_serving(const struct pop_serving *a, const struct pop_serving *b)
{
	assert_string_equal(a->secondary, b->secondary);
	assert_string_equal(a->endpoint, b->endpoint);
	assert_string_equal(a->endpoint6, b->endpoint6);
	assert_string_equal(a->fingerprint, b->fingerprint);
	assert_string_equal(a->previous_fingerprint, b->previous_fingerprint);
	assert_string_equal(a->state, b->state);
	assert_int_equal(a->has_last_heartbeat, b->has_last_heartbeat);
	assert_int_equal(a->last_heartbeat, b->last_heartbeat);
	assert_int_equal(a->reachable, b->reachable);
}

static void assert_same_lookup(const struct pop_lookup_reply *a,
			       const struct pop_lookup_reply *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_string_equal(a->callee, b->callee);
	assert_string_equal(a->lan, b->lan);
	assert_string_equal(a->user, b->user);
	assert_string_equal(a->host, b->host);
	assert_int_equal(a->has_address, b->has_address);
	if (a->has_address)
		assert_true(ip_addr_equal(&a->address, &b->address));
	assert_string_equal(a->prefix, b->prefix);
	assert_same_serving(&a->serving, &b->serving);
}

/* Decodes text with the request decoder and checks the refusal. */
#define assert_refused(decode, out, text, code, sentence) do {                     \
		json_t *m_ = parse(text);                                          \
		char why_[POP_WHY_LEN];                                            \
		assert_int_equal(decode(m_, out, why_), code);                     \
		assert_string_equal(why_, sentence);                               \
		json_decref(m_);                                                   \
	} while (0)

/* As assert_refused, the sentence only beginning as given. */
#define assert_refused_with(decode, out, text, code, start) do {                 \
		json_t *m_ = parse(text);                                          \
		char why_[POP_WHY_LEN];                                            \
		assert_int_equal(decode(m_, out, why_), code);                     \
		assert_memory_equal(why_, start, strlen(start));                   \
		json_decref(m_);                                                   \
	} while (0)

static void session_round_trip(void **state)
{
	char why[POP_WHY_LEN];
	json_t *j;

	(void)state;
	struct pop_hello_req hello = {MSG_PROTOCOL_VERSION, "secondary"}, hello2;

	j = pop_hello_req_encode(3, &hello);
	assert_string_equal(msg_op(j), "hello");
	assert_int_equal(msg_id(j), 3);
	assert_int_equal(pop_hello_req_decode(j, &hello2, why), 0);
	assert_int_equal(hello2.version, MSG_PROTOCOL_VERSION);
	assert_string_equal(hello2.role, "secondary");
	json_decref(j);

	struct pop_hello_reply hr = {1, "principal", "secondary", "gw-a", {1000, 30000}}, hr2;

	j = as_reply(pop_hello_reply_encode(&hr));
	assert_json(j, "{\"id\":4,\"ok\":true,\"version\":1,\"role\":\"principal\","
		    "\"name\":\"principal\",\"peer\":{\"role\":\"secondary\",\"name\":\"gw-a\"},"
		    "\"heartbeat_ms\":1000,\"down_after_ms\":30000}");
	assert_int_equal(pop_hello_reply_decode(j, &hr2, why), 0);
	assert_string_equal(hr2.name, "principal");
	assert_string_equal(hr2.peer_role, "secondary");
	assert_string_equal(hr2.peer_name, "gw-a");
	assert_int_equal(hr2.timers.heartbeat_ms, 1000);
	assert_int_equal(hr2.timers.down_after_ms, 30000);
	json_decref(j);

	struct pop_register_req reg = {.lan = "lan-a", .nprefixes = 2}, reg2;

	prefix("10.1.0.0/24", &reg.prefixes[0]);
	prefix("2001:db8:1::/48", &reg.prefixes[1]);
	assert_int_equal(ip_endpoint_parse("[2001:db8::1]:7443", &reg.endpoint), 0);
	j = pop_register_req_encode(5, &reg);
	assert_json(j, "{\"op\":\"register\",\"id\":5,\"lan\":\"lan-a\",\"prefixes\":"
		    "[\"10.1.0.0/24\",\"2001:db8:1::/48\"],\"endpoint\":\"[2001:db8::1]:7443\"}");
	assert_int_equal(pop_register_req_decode(j, &reg2, why), 0);
	assert_string_equal(reg2.lan, "lan-a");
	assert_int_equal(reg2.nprefixes, 2);
	assert_same_prefix(&reg2.prefixes[1], &reg.prefixes[1]);
	assert_same_endpoint(&reg2.endpoint, &reg.endpoint);
	assert_false(reg2.standby);
	json_decref(j);

	/* A standby gateway of the LAN says so; any other role is refused. */
	reg.standby = true;
	j = pop_register_req_encode(6, &reg);
	assert_string_equal(json_string_value(json_object_get(j, "role")), "standby");
	assert_int_equal(pop_register_req_decode(j, &reg2, why), 0);
	assert_true(reg2.standby);
	json_object_set_new(j, "role", json_string("leader"));
	assert_int_equal(pop_register_req_decode(j, &reg2, why), INSEL_E_BAD_FIELD);
	json_decref(j);

	struct pop_register_reply rr = {.secondary = "gw-a", .lan = "lan-a", .nprefixes = 1,
					.timers = {500, 2000}}, rr2;

	rr.prefixes[0] = reg.prefixes[0];
	j = as_reply(pop_register_reply_encode(&rr));
	assert_json(j, "{\"id\":4,\"ok\":true,\"secondary\":\"gw-a\",\"lan\":\"lan-a\","
		    "\"prefixes\":[\"10.1.0.0/24\"],\"heartbeat_ms\":500,\"down_after_ms\":2000}");
	assert_int_equal(pop_register_reply_decode(j, &rr2, why), 0);
	assert_string_equal(rr2.secondary, "gw-a");
	assert_int_equal(rr2.nprefixes, 1);
	assert_int_equal(rr2.timers.down_after_ms, 2000);
	assert_false(rr2.has_stun);
	json_decref(j);
	/* Where the principal answers STUN, when its responder runs. */
	rr.has_stun = true;
	assert_int_equal(ip_endpoint_parse("198.18.0.1:3478", &rr.stun), 0);
	j = as_reply(pop_register_reply_encode(&rr));
	assert_string_equal(json_string_value(json_object_get(j, "stun")), "198.18.0.1:3478");
	assert_int_equal(pop_register_reply_decode(j, &rr2, why), 0);
	assert_true(rr2.has_stun);
	assert_same_endpoint(&rr2.stun, &rr.stun);
	json_object_set_new(j, "stun", json_string("198.18.0.1:0"));
	assert_int_equal(pop_register_reply_decode(j, &rr2, why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "stun"));
	json_object_set_new(j, "stun", json_integer(3478));
	assert_int_equal(pop_register_reply_decode(j, &rr2, why), INSEL_E_BAD_FIELD);
	json_decref(j);
	/* And its second port, which tells the NAT's mapping behaviour. */
	assert_false(rr2.has_stun_alternate);
	rr.has_stun_alternate = true;
	assert_int_equal(ip_endpoint_parse("198.18.0.1:3480", &rr.stun_alternate), 0);
	j = as_reply(pop_register_reply_encode(&rr));
	assert_string_equal(json_string_value(json_object_get(j, "stun_alternate")),
			    "198.18.0.1:3480");
	assert_int_equal(pop_register_reply_decode(j, &rr2, why), 0);
	assert_true(rr2.has_stun_alternate);
	assert_same_endpoint(&rr2.stun_alternate, &rr.stun_alternate);
	json_object_set_new(j, "stun_alternate", json_string("nonsense"));
	assert_int_equal(pop_register_reply_decode(j, &rr2, why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "stun_alternate"));
	json_decref(j);

	struct pop_timers t = {10000, 30000}, t2;

	j = pop_heartbeat_req_encode(6);
	assert_json(j, "{\"op\":\"heartbeat\",\"id\":6}");
	json_decref(j);
	j = as_reply(pop_timers_reply_encode(&t));
	assert_int_equal(pop_timers_reply_decode(j, &t2, why), 0);
	assert_int_equal(t2.heartbeat_ms, 10000);
	json_decref(j);

	json_t *serials = parse("[\"3f09\",\"0a\"]");
	const json_t *got;

	j = pop_revoked_notice_encode(serials);
	assert_json(j, "{\"op\":\"revoked\",\"serials\":[\"3f09\",\"0a\"]}");
	assert_int_equal(pop_revoked_notice_decode(j, &got, why), 0);
	assert_true(json_equal((json_t *)got, serials));
	json_decref(j);
	json_decref(serials);
}

static void register_refusals(void **state)
{
	struct pop_register_req r;

	(void)state;
	assert_refused(pop_register_req_decode, &r, "{\"prefixes\":[],\"endpoint\":\"x\"}",
		       INSEL_E_BAD_FIELD, "field 'lan' is missing");
	assert_refused(pop_register_req_decode, &r,
		       "{\"lan\":\"a\",\"prefixes\":[],\"endpoint\":\"1.2.3.4:5\"}",
		       INSEL_E_BAD_FIELD, "field 'prefixes' must not be empty");
	assert_refused(pop_register_req_decode, &r,
		       "{\"lan\":\"a\",\"prefixes\":[\"10.0.0.0/8\",7],\"endpoint\":\"1.2.3.4:5\"}",
		       INSEL_E_BAD_FIELD, "prefixes[1] must be a string");
	assert_refused(pop_register_req_decode, &r,
		       "{\"lan\":\"a\",\"prefixes\":[\"10.0.0.1/8\"],\"endpoint\":\"1.2.3.4:5\"}",
		       INSEL_E_HOST_BITS, "prefix '10.0.0.1/8': prefix has host bits set (use the network address)");
	assert_refused(pop_register_req_decode, &r,
		       "{\"lan\":\"a\",\"prefixes\":[\"10.0.0.0/8\"],\"endpoint\":\"1.2.3.4:0\"}",
		       INSEL_E_BAD_FIELD, "field 'endpoint' must be ADDRESS:PORT or [ADDRESS6]:PORT");
}

static void lookup_round_trip(void **state)
{
	char why[POP_WHY_LEN];
	json_t *j;

	(void)state;
	struct pop_lookup_req req = {"printer"}, req2;

	j = pop_lookup_req_encode(8, &req);
	assert_json(j, "{\"op\":\"lookup\",\"id\":8,\"callee\":\"printer\"}");
	assert_int_equal(pop_lookup_req_decode(j, &req2, why), 0);
	assert_string_equal(req2.callee, "printer");
	json_decref(j);

	struct pop_lookup_reply r = {.kind = POP_LOOKUP_HOST, .callee = "printer",
				     .lan = "lan-b", .host = "printer", .has_address = true,
				     .prefix = "10.2.0.0/24"}, r2;

	assert_int_equal(ip_addr_parse("10.2.0.20", &r.address), 0);
	strcpy(r.serving.secondary, "gw-b");
	strcpy(r.serving.endpoint, "198.18.0.2:7443");
	strcpy(r.serving.fingerprint, FP_A);
	strcpy(r.serving.previous_fingerprint, FP_B);
	strcpy(r.serving.state, "up");
	r.serving.has_last_heartbeat = true;
	r.serving.last_heartbeat = 1700000000;
	r.serving.reachable = POP_REACH_NO;
	j = as_reply(pop_lookup_reply_encode(&r));
	assert_json(j, "{\"id\":4,\"ok\":true,\"callee\":\"printer\",\"kind\":\"host\","
		    "\"host\":\"printer\",\"address\":\"10.2.0.20\",\"prefix\":\"10.2.0.0/24\","
		    "\"lan\":\"lan-b\",\"secondary\":\"gw-b\",\"endpoint\":\"198.18.0.2:7443\","
		    "\"fingerprint\":\"" FP_A "\",\"state\":\"up\",\"last_heartbeat\":1700000000,"
		    "\"previous_fingerprint\":\"" FP_B "\",\"reachable\":false}");
	assert_int_equal(pop_lookup_reply_decode(j, &r2, why), 0);
	assert_same_lookup(&r, &r2);
	assert_true(pop_serving_names_certificate(&r2.serving, FP_A));
	assert_true(pop_serving_names_certificate(&r2.serving, FP_B));
	assert_false(pop_serving_names_certificate(&r2.serving, ""));
	json_decref(j);

	/* A secondary that never registered: its endpoint and heartbeat are null. */
	struct pop_lookup_reply u = {.kind = POP_LOOKUP_USER, .callee = "bob@lan-b",
				     .lan = "lan-b", .user = "bob"}, u2;
	struct ip_endpoint ep;

	strcpy(u.serving.secondary, "gw-b");
	strcpy(u.serving.state, "new");
	j = as_reply(pop_lookup_reply_encode(&u));
	assert_json(j, "{\"id\":4,\"ok\":true,\"callee\":\"bob@lan-b\",\"kind\":\"user\","
		    "\"user\":\"bob\",\"lan\":\"lan-b\",\"secondary\":\"gw-b\",\"endpoint\":null,"
		    "\"fingerprint\":null,\"state\":\"new\",\"last_heartbeat\":null,"
		    "\"reachable\":null}");
	assert_int_equal(pop_lookup_reply_decode(j, &u2, why), 0);
	assert_same_lookup(&u, &u2);
	assert_false(pop_serving_reachable(&u2.serving, &ep));
	assert_false(pop_serving_names_certificate(&u2.serving, FP_A));
	json_decref(j);
}

static void lookup_refusals(void **state)
{
	struct pop_lookup_req r;
	struct pop_lookup_reply reply;
	char long_callee[POP_TEXT_MAX + 40];

	(void)state;
	assert_refused(pop_lookup_req_decode, &r, "{}", INSEL_E_BAD_FIELD,
		       "field 'callee' is missing");
	assert_refused(pop_lookup_req_decode, &r, "{\"callee\":\"\"}", INSEL_E_BAD_FIELD,
		       "field 'callee' must be 1-256 printable characters");
	assert_refused(pop_lookup_req_decode, &r, "{\"callee\":\"a\\u0001b\"}",
		       INSEL_E_BAD_FIELD, "field 'callee' must be 1-256 printable characters");
	snprintf(long_callee, sizeof long_callee, "{\"callee\":\"%0*d\"}", POP_TEXT_MAX + 1, 0);
	assert_refused(pop_lookup_req_decode, &r, long_callee, INSEL_E_BAD_FIELD,
		       "field 'callee' must be 1-256 printable characters");
	assert_refused(pop_lookup_reply_decode, &reply, "{\"lan\":\"lan-b\",\"endpoint\":7}",
		       INSEL_E_BAD_FIELD, "field 'endpoint' must be a string");
	assert_refused(pop_lookup_reply_decode, &reply, "{\"secondary\":\"gw\"}",
		       INSEL_E_BAD_FIELD, "field 'lan' is missing");
}

static void list_round_trip(void **state)
{
	char why[POP_WHY_LEN];
	json_t *j;

	(void)state;
	struct pop_list_req req = {POP_LIST_LANS, "lan-b", {0, 0}}, req2;

	/* A secondary asks for one LAN and no page. */
	j = pop_list_req_encode(0, &req);
	assert_json(j, "{\"op\":\"list\",\"id\":0,\"what\":\"lans\",\"name\":\"lan-b\"}");
	assert_int_equal(pop_list_req_decode(j, &req2, why), 0);
	assert_int_equal(req2.what, POP_LIST_LANS);
	assert_string_equal(req2.name, "lan-b");
	assert_int_equal(req2.page.offset, 0);
	assert_int_equal(req2.page.limit, POP_LIST_DEFAULT);
	json_decref(j);

	struct pop_list_req all = {POP_LIST_SECONDARIES, NULL, {20, 10}};

	j = pop_list_req_encode(2, &all);
	assert_json(j, "{\"op\":\"list\",\"id\":2,\"what\":\"secondaries\",\"offset\":20,"
		    "\"limit\":10}");
	assert_int_equal(pop_list_req_decode(j, &req2, why), 0);
	assert_null(req2.name);
	assert_int_equal(req2.page.offset, 20);
	assert_int_equal(req2.page.limit, 10);
	json_decref(j);

	json_t *items = parse("[{\"name\":\"lan-a\",\"prefixes\":[\"10.1.0.0/24\"],"
			      "\"secondary\":null,\"endpoint\":null,\"state\":null,"
			      "\"last_heartbeat\":null,\"fingerprint\":null},"
			      "{\"name\":\"lan-b\",\"prefixes\":[\"10.2.0.0/24\",\"bogus\","
			      "\"2001:db8:2::/48\"],\"secondary\":\"gw-b\",\"endpoint\":"
			      "\"198.18.0.2:7443\",\"state\":\"up\",\"last_heartbeat\":17,"
			      "\"fingerprint\":\"" FP_A "\",\"hosts\":1,\"users\":2}]");
	struct pop_list_reply reply = {POP_LIST_LANS, items, 12, 0}, reply2;
	struct pop_lan_entry lan;
	struct ip_endpoint ep;

	j = as_reply(pop_list_reply_encode(&reply));
	assert_int_equal(pop_list_reply_decode(j, &reply2, why), 0);
	assert_int_equal(reply2.what, POP_LIST_LANS);
	assert_int_equal(reply2.total, 12);
	assert_true(json_equal((json_t *)reply2.items, items));
	assert_int_equal(pop_list_find_lan(&reply2, "lan-b", &lan), 0);
	assert_string_equal(lan.name, "lan-b");
	assert_int_equal(lan.nprefixes, 2);  /* the one that does not parse is skipped */
	assert_true(pop_serving_reachable(&lan.serving, &ep));
	assert_int_equal(ep.port, 7443);
	assert_true(pop_serving_names_certificate(&lan.serving, FP_A));
	assert_int_equal(pop_list_find_lan(&reply2, "lan-a", &lan), 0);
	assert_false(pop_serving_reachable(&lan.serving, &ep));
	assert_int_equal(pop_list_find_lan(&reply2, "lan-c", &lan), INSEL_E_NOT_FOUND);
	json_decref(j);
	json_decref(items);
}

static void list_refusals(void **state)
{
	struct pop_list_req r;
	struct pop_page page;

	(void)state;
	assert_refused(pop_list_req_decode, &r, "{\"what\":7}", INSEL_E_BAD_FIELD,
		       "field 'what' must be a string");
	assert_refused(pop_list_req_decode, &r, "{\"what\":\"secondaries\",\"name\":\"x\"}",
		       INSEL_E_BAD_FIELD, "field 'name' applies to LANs only");
	assert_refused(pop_list_req_decode, &r, "{\"what\":\"hosts\"}", INSEL_E_BAD_FIELD,
		       "field 'what' must be \"lans\" or \"secondaries\"");
	assert_refused(pop_list_req_decode, &r, "{\"what\":\"lans\",\"limit\":501}",
		       INSEL_E_BAD_FIELD, "field 'limit' must be between 1 and 500");
	assert_refused(pop_revocations_req_decode, &page, "{\"offset\":-1}", INSEL_E_BAD_FIELD,
		       "field 'offset' must be between 0 and 2147483647");
}

static void revocations_round_trip(void **state)
{
	char why[POP_WHY_LEN];
	struct pop_page page = {500, POP_LIST_MAX}, page2;
	json_t *j, *serials = parse("[\"01\",\"ff\"]");

	(void)state;
	j = pop_revocations_req_encode(9, &page);
	assert_json(j, "{\"op\":\"revocations\",\"id\":9,\"offset\":500,\"limit\":500}");
	assert_int_equal(pop_revocations_req_decode(j, &page2, why), 0);
	assert_int_equal(page2.offset, 500);
	assert_int_equal(page2.limit, 500);
	json_decref(j);

	struct pop_revocations_reply r = {serials, 502, 500}, r2;

	j = as_reply(pop_revocations_reply_encode(&r));
	assert_json(j, "{\"id\":4,\"ok\":true,\"serials\":[\"01\",\"ff\"],\"total\":502,"
		    "\"offset\":500}");
	assert_int_equal(pop_revocations_reply_decode(j, &r2, why), 0);
	assert_int_equal(r2.total, 502);
	assert_int_equal(r2.offset, 500);
	assert_true(json_equal((json_t *)r2.serials, serials));
	json_decref(j);
	json_decref(serials);
}

static void records_round_trip(void **state)
{
	char why[POP_WHY_LEN];
	const char *call_id;
	json_t *j, *channels = parse("[{\"kind\":\"udp\",\"port\":5004}]");

	(void)state;
	struct pop_call_start_req s = {"0123456789abcdef", "alice@lan-a", "lan-a", "bob@lan-b",
				       "lan-b", channels, NULL, NULL, NULL}, s2;

	j = pop_call_start_req_encode(0, &s);
	assert_json(j, "{\"op\":\"call_start\",\"id\":0,\"call_id\":\"0123456789abcdef\","
		    "\"caller\":\"alice@lan-a\",\"caller_lan\":\"lan-a\",\"callee\":\"bob@lan-b\","
		    "\"callee_lan\":\"lan-b\",\"channels\":[{\"kind\":\"udp\",\"port\":5004}]}");
	assert_int_equal(pop_call_start_req_decode(j, &s2, why), 0);
	assert_string_equal(s2.call_id, s.call_id);
	assert_string_equal(s2.caller, s.caller);
	assert_string_equal(s2.caller_lan, s.caller_lan);
	assert_string_equal(s2.callee, s.callee);
	assert_string_equal(s2.callee_lan, s.callee_lan);
	assert_true(json_equal((json_t *)s2.channels, channels));
	assert_null(s2.path);
	json_decref(j);
	/* The data path, when the caller's auxiliary found one. */
	s.path = "relayed";
	s.path_remote = "198.18.0.2:3479";
	j = pop_call_start_req_encode(0, &s);
	assert_int_equal(pop_call_start_req_decode(j, &s2, why), 0);
	assert_string_equal(s2.path, "relayed");
	assert_string_equal(s2.path_remote, "198.18.0.2:3479");
	json_object_set_new(j, "path", json_string("teleported"));
	assert_int_equal(pop_call_start_req_decode(j, &s2, why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'path'"));
	json_object_set_new(j, "path", json_string("direct"));
	json_object_set_new(j, "path_remote", json_string("198.18.0.2"));
	assert_int_equal(pop_call_start_req_decode(j, &s2, why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'path_remote'"));
	json_decref(j);

	/* The TCP fallback is a path of its own. */
	s.path = "tcp";
	s.path_remote = "198.18.0.2:443";
	j = pop_call_start_req_encode(0, &s);
	assert_int_equal(pop_call_start_req_decode(j, &s2, why), 0);
	assert_string_equal(s2.path, "tcp");
	json_decref(j);

	struct pop_call_end_req e = {"0123456789abcdef", "idle", 1LL << 40, 7, {0}}, e2;

	j = pop_call_end_req_encode(0, &e);
	assert_json(j, "{\"op\":\"call_end\",\"id\":0,\"call_id\":\"0123456789abcdef\","
		    "\"reason\":\"idle\",\"bytes_up\":1099511627776,\"bytes_down\":7}");
	assert_int_equal(pop_call_end_req_decode(j, &e2, why), 0);
	assert_string_equal(e2.reason, "idle");
	assert_int_equal(e2.bytes_up, 1LL << 40);
	assert_int_equal(e2.bytes_down, 7);
	assert_false(e2.path.present);
	json_decref(j);

	/* How the path moved: direct, then relayed after a rebinding; the address comes back
	 * in its canonical form. */
	e.path = (struct pop_path_summary){
		.present = true, .final = "relayed", .remote = "198.18.0.2:3479", .changes = 1,
		.history = {{0, "direct", "198.18.2.2:40007"}, {12, "relayed", "198.18.0.2:3479"}},
		.nhistory = 2};
	j = pop_call_end_req_encode(0, &e);
	assert_json(json_object_get(j, "path"),
		    "{\"final\":\"relayed\",\"remote\":\"198.18.0.2:3479\",\"changes\":1,"
		    "\"history\":[{\"at\":0,\"path\":\"direct\",\"remote\":\"198.18.2.2:40007\"},"
		    "{\"at\":12,\"path\":\"relayed\",\"remote\":\"198.18.0.2:3479\"}]}");
	assert_int_equal(pop_call_end_req_decode(j, &e2, why), 0);
	assert_true(e2.path.present);
	assert_string_equal(e2.path.final, "relayed");
	assert_string_equal(e2.path.remote, "198.18.0.2:3479");
	assert_int_equal(e2.path.changes, 1);
	assert_int_equal(e2.path.nhistory, 2);
	assert_int_equal(e2.path.history[1].at, 12);
	assert_string_equal(e2.path.history[0].path, "direct");
	assert_string_equal(e2.path.history[0].remote, "198.18.2.2:40007");
	json_decref(j);

	j = as_reply(pop_call_reply_encode("0123456789abcdef"));
	assert_int_equal(pop_call_reply_decode(j, &call_id, why), 0);
	assert_string_equal(call_id, "0123456789abcdef");
	json_decref(j);
	json_decref(channels);
}

static void records_refusals(void **state)
{
	struct pop_call_start_req s;
	struct pop_call_end_req e;

	(void)state;
	assert_refused(pop_call_start_req_decode, &s,
		       "{\"call_id\":\"01\",\"caller\":\"a@b\",\"callee\":\"c\"}",
		       INSEL_E_BAD_FIELD, "field 'caller_lan' is missing");
	assert_refused(pop_call_start_req_decode, &s,
		       "{\"call_id\":\"01\",\"caller\":\"a@b\",\"caller_lan\":\"b\","
		       "\"callee\":\"c\",\"channels\":{}}",
		       INSEL_E_BAD_FIELD, "field 'channels' must be an array");
	assert_refused(pop_call_end_req_decode, &e, "{\"call_id\":\"01\",\"bytes_up\":-1}",
		       INSEL_E_BAD_FIELD,
		       "field 'bytes_up' must be between 0 and 9223372036854775807");
	/* No reason and no counts: the defaults. */
	json_t *j = parse("{\"call_id\":\"01\"}");
	char why[POP_WHY_LEN];

	assert_int_equal(pop_call_end_req_decode(j, &e, why), 0);
	assert_null(e.reason);
	assert_int_equal(e.bytes_up, 0);
	json_decref(j);
	/* A path summary is checked through and through. */
	assert_refused_with(pop_call_end_req_decode, &e,
		       "{\"call_id\":\"01\",\"path\":{\"final\":\"warp\",\"remote\":\"1.2.3.4:5\","
		       "\"changes\":0,\"history\":[]}}",
		       INSEL_E_BAD_FIELD, "field 'final' must be");
	assert_refused_with(pop_call_end_req_decode, &e,
		       "{\"call_id\":\"01\",\"path\":{\"final\":\"tcp\",\"remote\":\"1.2.3.4\","
		       "\"changes\":0,\"history\":[]}}",
		       INSEL_E_BAD_FIELD, "field 'remote' must be ADDRESS:PORT");
	assert_refused_with(pop_call_end_req_decode, &e,
		       "{\"call_id\":\"01\",\"path\":{\"final\":\"tcp\",\"remote\":\"1.2.3.4:5\","
		       "\"changes\":-1,\"history\":[]}}",
		       INSEL_E_BAD_FIELD, "field 'changes' must be between");
	assert_refused_with(pop_call_end_req_decode, &e,
		       "{\"call_id\":\"01\",\"path\":{\"final\":\"tcp\",\"remote\":\"1.2.3.4:5\","
		       "\"changes\":9,\"history\":[1,2,3,4,5,6,7,8,9]}}",
		       INSEL_E_BAD_FIELD, "field 'history'");
	assert_refused_with(pop_call_end_req_decode, &e,
		       "{\"call_id\":\"01\",\"path\":{\"final\":\"tcp\",\"remote\":\"1.2.3.4:5\","
		       "\"changes\":1,\"history\":[{\"at\":1,\"path\":\"direct\"}]}}",
		       INSEL_E_BAD_FIELD, "field 'remote' is missing");
	assert_refused_with(pop_call_end_req_decode, &e, "{\"call_id\":\"01\",\"path\":\"direct\"}",
		       INSEL_E_BAD_FIELD, "field 'path' must be an object");
}

static void relay_round_trip(void **state)
{
	struct pop_relay_req req = {.call = 0x0123456789abcdefULL}, req_back;
	struct pop_relay_reply rep = {.relay = {.kind = CAND_RELAY, .relay_id = 0xfeedULL}};
	struct pop_relay_reply rep_back;
	char why[POP_WHY_LEN];
	json_t *j;

	(void)state;
	j = pop_relay_req_encode(4, &req);
	assert_json(j, "{\"op\":\"relay\",\"id\":4,\"call\":\"0123456789abcdef\"}");
	assert_int_equal(pop_relay_req_decode(j, &req_back, why), 0);
	assert_true(req_back.call == req.call);
	json_decref(j);

	assert_int_equal(ip_endpoint_parse("198.18.0.1:3479", &rep.relay.ep), 0);
	for (int i = 0; i < CAND_TOKEN_LEN; i++)
		rep.relay.relay_token[i] = (uint8_t)i;
	j = pop_relay_reply_encode(&rep);
	assert_json(j, "{\"relay\":{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\","
		       "\"relay_id\":\"000000000000feed\","
		       "\"token\":\"000102030405060708090a0b0c0d0e0f\"}}");
	assert_int_equal(pop_relay_reply_decode(j, &rep_back, why), 0);
	assert_true(candidate_equal(&rep_back.relay, &rep.relay));
	json_decref(j);
}

static void relay_refusals(void **state)
{
	struct pop_relay_req q;
	struct pop_relay_reply r;

	(void)state;
	assert_refused(pop_relay_req_decode, &q, "{}", INSEL_E_BAD_FIELD,
		       "field 'call' is missing");
	assert_refused(pop_relay_req_decode, &q, "{\"call\":\"0000000000000000\"}",
		       INSEL_E_BAD_FIELD, "call: must be 16 hex digits, not all zero");
	assert_refused(pop_relay_reply_decode, &r,
		       "{\"relay\":{\"kind\":\"host\",\"addr\":\"1.2.3.4:5\","
		       "\"relay_id\":\"0000000000000001\",\"token\":\"00\"}}",
		       INSEL_E_BAD_FIELD, "relay: must be a candidate of kind relay");
	assert_refused(pop_relay_reply_decode, &r,
		       "{\"relay\":{\"kind\":\"relay\",\"addr\":\"1.2.3.4:0\","
		       "\"relay_id\":\"0000000000000001\",\"token\":\"00\"}}",
		       INSEL_E_BAD_FIELD,
		       "field 'addr' must be ADDRESS:PORT with a specified address and a non-zero "
		       "port");
	assert_refused(pop_relay_reply_decode, &r,
		       "{\"relay\":{\"kind\":\"relay\",\"addr\":\"1.2.3.4:5\","
		       "\"relay_id\":\"0000000000000001\",\"token\":\"00\"}}",
		       INSEL_E_BAD_FIELD, "a relay candidate's field 'token' must be 32 hex digits");
}

/* A secondary's relay: announced at registration, driven over its link. */
static void designated_relay_round_trip(void **state)
{
	struct pop_register_req reg = {.lan = "lan-c", .nprefixes = 1}, reg_back;
	struct pop_relay_req req = {.call = 0x0123456789abcdefULL, .callee = "bob@lan-b"}, back;
	struct relay_allocate a = {.allocation = 0x42, .rate = 1000}, a_back;
	struct pop_relay_stats st;
	char why[POP_WHY_LEN];
	uint64_t id;
	json_t *j;

	(void)state;
	assert_int_equal(ip_prefix_parse("10.3.0.0/24", true, &reg.prefixes[0]), 0);
	assert_int_equal(ip_endpoint_parse("198.18.103.2:7445", &reg.endpoint), 0);
	assert_int_equal(ip_endpoint_parse("198.18.103.2:3479", &reg.relay), 0);
	reg.has_relay = true;
	j = pop_register_req_encode(1, &reg);
	assert_json(j, "{\"op\":\"register\",\"id\":1,\"lan\":\"lan-c\","
		       "\"prefixes\":[\"10.3.0.0/24\"],\"endpoint\":\"198.18.103.2:7445\","
		       "\"relay\":{\"addr\":\"198.18.103.2:3479\"}}");
	assert_int_equal(pop_register_req_decode(j, &reg_back, why), 0);
	assert_true(reg_back.has_relay && !reg_back.has_relay_tcp);
	assert_true(ip_endpoint_equal(&reg_back.relay, &reg.relay));
	json_decref(j);

	j = pop_relay_req_encode(4, &req);
	assert_json(j, "{\"op\":\"relay\",\"id\":4,\"call\":\"0123456789abcdef\","
		       "\"callee\":\"bob@lan-b\"}");
	assert_int_equal(pop_relay_req_decode(j, &back, why), 0);
	assert_string_equal(back.callee, "bob@lan-b");
	json_decref(j);

	for (int i = 0; i < RELAY_OPS_TOKEN_LEN; i++)
		a.token[i] = (uint8_t)(0xa0 + i);
	j = pop_relay_allocate_encode(7, &a);
	assert_json(j, "{\"op\":\"relay_allocate\",\"id\":7,\"allocation\":\"0000000000000042\","
		       "\"token\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\"rate\":1000}");
	assert_int_equal(pop_relay_allocate_decode(j, &a_back, why), 0);
	assert_memory_equal(&a_back, &a, sizeof a);
	json_decref(j);
	j = pop_relay_free_encode(8, 0x42);
	assert_json(j, "{\"op\":\"relay_free\",\"id\":8,\"allocation\":\"0000000000000042\"}");
	assert_int_equal(pop_relay_allocation_decode(j, &id, why), 0);
	assert_true(id == 0x42);
	json_decref(j);
	j = pop_relay_expired_encode(9, 0x43);
	assert_json(j, "{\"op\":\"relay_expired\",\"id\":9,\"allocation\":\"0000000000000043\"}");
	json_decref(j);
	j = pop_relay_stats_encode(10);
	assert_json(j, "{\"op\":\"relay_stats\",\"id\":10}");
	json_decref(j);

	j = json_loads("{\"allocations\":3,\"datagrams\":{\"forwarded\":100,\"registered\":7,"
		       "\"bad_mac\":2,\"wrong_source\":5}}", 0, NULL);
	assert_int_equal(pop_relay_stats_decode(j, &st, why), 0);
	assert_true(st.allocations == 3 && st.forwarded == 100 && st.dropped == 7);
	json_decref(j);
}

static void designated_relay_refusals(void **state)
{
	struct pop_register_req reg;
	struct pop_relay_stats st;
	struct pop_relay_req q;

	(void)state;
	assert_refused(pop_register_req_decode, &reg,
		       "{\"lan\":\"l\",\"prefixes\":[\"10.0.0.0/8\"],\"endpoint\":\"1.2.3.4:5\","
		       "\"relay\":{\"addr\":\"0.0.0.0:3479\"}}", INSEL_E_BAD_FIELD,
		       "field 'relay.addr' must be ADDRESS:PORT, neither unspecified");
	assert_refused(pop_register_req_decode, &reg,
		       "{\"lan\":\"l\",\"prefixes\":[\"10.0.0.0/8\"],\"endpoint\":\"1.2.3.4:5\","
		       "\"relay\":{\"tcp\":\"1.2.3.4:443\"}}", INSEL_E_BAD_FIELD,
		       "field 'addr' is missing");
	assert_refused(pop_register_req_decode, &reg,
		       "{\"lan\":\"l\",\"prefixes\":[\"10.0.0.0/8\"],\"endpoint\":\"1.2.3.4:5\","
		       "\"relay\":\"1.2.3.4:3479\"}", INSEL_E_BAD_FIELD,
		       "field 'relay' must be an object");
	assert_refused(pop_relay_req_decode, &q,
		       "{\"call\":\"0000000000000001\",\"callee\":\"a\\u0001b\"}", INSEL_E_BAD_FIELD,
		       "field 'callee' must be 1-256 printable characters");
	assert_refused(pop_relay_stats_decode, &st,
		       "{\"allocations\":1,\"datagrams\":{\"forwarded\":-1}}", INSEL_E_BAD_FIELD,
		       "datagrams: each count must be a whole number >= 0");
}

static void auth_round_trip(void **state)
{
	char why[POP_WHY_LEN];
	json_t *j;

	(void)state;
	struct pop_verify_user_req v = {.user = "alice@lan-a", .password = "pw",
					.has_source = true}, v2;

	assert_int_equal(ip_addr_parse("10.1.0.11", &v.source), 0);
	j = pop_verify_user_req_encode(0, &v);
	assert_json(j, "{\"op\":\"verify_user\",\"id\":0,\"user\":\"alice@lan-a\","
		    "\"password\":\"pw\",\"source\":\"10.1.0.11\"}");
	assert_int_equal(pop_verify_user_req_decode(j, &v2, why), 0);
	assert_string_equal(v2.name, "alice");
	assert_string_equal(v2.lan, "lan-a");
	assert_string_equal(v2.password, "pw");
	assert_true(v2.has_source);
	assert_true(ip_addr_equal(&v2.source, &v.source));
	json_decref(j);

	struct pop_verify_user_reply vr = {"alice@lan-a", "lan-a"}, vr2;

	j = as_reply(pop_verify_user_reply_encode(&vr));
	assert_int_equal(pop_verify_user_reply_decode(j, &vr2, why), 0);
	assert_string_equal(vr2.user, "alice@lan-a");
	assert_string_equal(vr2.lan, "lan-a");
	json_decref(j);

	static const char csr[] = "-----BEGIN CERTIFICATE REQUEST-----\nMII...\n";
	struct pop_renew_req rq = {csr, sizeof csr - 1}, rq2;

	j = pop_renew_req_encode(0, &rq);
	assert_int_equal(pop_renew_req_decode(j, &rq2, why), 0);
	assert_int_equal(rq2.csr_len, rq.csr_len);
	assert_memory_equal(rq2.csr, csr, rq.csr_len);
	json_decref(j);

	struct pop_renew_reply pending = {.request = 3, .state = POP_RENEW_PENDING}, r2;

	j = as_reply(pop_renew_reply_encode(&pending));
	assert_json(j, "{\"id\":4,\"ok\":true,\"request\":3,\"state\":\"pending\"}");
	assert_int_equal(pop_renew_reply_decode(j, &r2, why), 0);
	assert_int_equal(r2.state, POP_RENEW_PENDING);
	assert_int_equal(r2.request, 3);
	json_decref(j);

	struct pop_renew_reply issued = {3, POP_RENEW_ISSUED, "PEM", FP_A, "0f", 1800000000};

	j = as_reply(pop_renew_reply_encode(&issued));
	assert_json(j, "{\"id\":4,\"ok\":true,\"request\":3,\"state\":\"issued\","
		    "\"certificate\":\"PEM\",\"fingerprint\":\"" FP_A "\",\"serial\":\"0f\","
		    "\"not_after\":1800000000}");
	assert_int_equal(pop_renew_reply_decode(j, &r2, why), 0);
	assert_int_equal(r2.state, POP_RENEW_ISSUED);
	assert_string_equal(r2.certificate, "PEM");
	assert_string_equal(r2.fingerprint, FP_A);
	assert_string_equal(r2.serial, "0f");
	assert_int_equal(r2.not_after, 1800000000);
	json_decref(j);
}

static void auth_refusals(void **state)
{
	struct pop_verify_user_req v;
	struct pop_renew_req r;
	struct pop_renew_reply reply;
	char text[POP_PASSWORD_MAX + 64];

	(void)state;
	assert_refused(pop_verify_user_req_decode, &v, "{\"user\":\"alice@lan-a\"}",
		       INSEL_E_BAD_FIELD, "field 'password' is missing");
	assert_refused(pop_verify_user_req_decode, &v, "{\"user\":\"alice\",\"password\":\"\"}",
		       INSEL_E_BAD_FIELD, "field 'user' must be NAME@LAN");
	assert_refused(pop_verify_user_req_decode, &v,
		       "{\"user\":\"Alice@lan-a\",\"password\":\"\"}",
		       INSEL_E_BAD_FIELD, "field 'user' must be NAME@LAN");
	snprintf(text, sizeof text, "{\"user\":\"a@b\",\"password\":\"%0*d\"}",
		 POP_PASSWORD_MAX + 1, 0);
	assert_refused(pop_verify_user_req_decode, &v, text, INSEL_E_BAD_FIELD,
		       "password longer than 1024 bytes");
	assert_refused(pop_verify_user_req_decode, &v,
		       "{\"user\":\"a@b\",\"password\":\"x\",\"source\":\"nowhere\"}",
		       INSEL_E_BAD_FIELD, "field 'source' must be an IP address");
	assert_refused(pop_renew_req_decode, &r, "{\"csr\":5}", INSEL_E_BAD_FIELD,
		       "field 'csr' must be a PEM certificate request");
	assert_refused(pop_renew_reply_decode, &reply, "{\"state\":\"issued\",\"request\":1}",
		       INSEL_E_BAD_FIELD, "field 'certificate' is missing");
	assert_refused(pop_renew_reply_decode, &reply, "{\"state\":\"maybe\"}",
		       INSEL_E_BAD_FIELD, "field 'state' must be \"issued\" or \"pending\"");

	/* No source: an older secondary. */
	json_t *j = parse("{\"user\":\"a@b\",\"password\":\"x\"}");
	char why[POP_WHY_LEN];

	assert_int_equal(pop_verify_user_req_decode(j, &v, why), 0);
	assert_false(v.has_source);
	json_decref(j);
}

/* connect, its reply and the dial_back notice: round trips and refusals. */
static void connect_round_trip(void **state)
{
	char why[POP_WHY_LEN];
	json_t *j;

	(void)state;
	struct pop_connect_req c = {0x0123456789abcdefULL, "lan-b", true, {0}}, c2;

	memset(c.token, 0xab, sizeof c.token);
	j = pop_connect_req_encode(7, &c);
	assert_json(j, "{\"op\":\"connect\",\"id\":7,\"call\":\"0123456789abcdef\","
		    "\"callee_lan\":\"lan-b\",\"splice\":true,\"token\":"
		    "\"abababababababababababababababab\"}");
	assert_int_equal(pop_connect_req_decode(j, &c2, why), 0);
	assert_true(c2.call_id == c.call_id);
	assert_memory_equal(c2.token, c.token, POP_TOKEN_LEN);
	assert_string_equal(c2.callee_lan, "lan-b");
	assert_true(c2.splice);
	json_decref(j);

	struct pop_connect_reply r = {.mode = POP_SIG_SPLICED}, r2;

	assert_int_equal(ip_endpoint_parse("198.18.0.1:7444", &r.splice), 0);
	j = as_reply(pop_connect_reply_encode(&r));
	assert_json(j, "{\"id\":4,\"ok\":true,\"mode\":\"spliced\","
		    "\"splice\":\"198.18.0.1:7444\"}");
	assert_int_equal(pop_connect_reply_decode(j, &r2, why), 0);
	assert_int_equal(r2.mode, POP_SIG_SPLICED);
	assert_same_endpoint(&r2.splice, &r.splice);
	json_decref(j);
	/* Reversed: where the callee dials back ("to", optional), of either family. */
	r = (struct pop_connect_reply){.mode = POP_SIG_REVERSED, .has_to = true};
	assert_int_equal(ip_endpoint_parse("[2001:db8:1::2]:7445", &r.to), 0);
	j = as_reply(pop_connect_reply_encode(&r));
	assert_json(j, "{\"id\":4,\"ok\":true,\"mode\":\"reversed\","
		    "\"to\":\"[2001:db8:1::2]:7445\"}");
	assert_int_equal(pop_connect_reply_decode(j, &r2, why), 0);
	assert_int_equal(r2.mode, POP_SIG_REVERSED);
	assert_true(r2.has_to);
	assert_same_endpoint(&r2.to, &r.to);
	json_object_del(j, "to");  /* an older principal's reply */
	assert_int_equal(pop_connect_reply_decode(j, &r2, why), 0);
	assert_false(r2.has_to);
	json_decref(j);

	struct pop_dial_back n = {.call_id = 42, .caller = "gw-a", .mode = POP_SIG_REVERSED},
			     n2;

	memset(n.token, 0x01, sizeof n.token);
	assert_int_equal(ip_endpoint_parse("198.18.1.2:7445", &n.to), 0);
	j = pop_dial_back_notice_encode(&n);
	assert_json(j, "{\"op\":\"dial_back\",\"call\":\"000000000000002a\",\"caller\":"
		    "\"gw-a\",\"mode\":\"reversed\",\"to\":\"198.18.1.2:7445\",\"token\":"
		    "\"01010101010101010101010101010101\"}");
	assert_int_equal(pop_dial_back_notice_decode(j, &n2, why), 0);
	assert_true(n2.call_id == 42);
	assert_string_equal(n2.caller, "gw-a");
	assert_int_equal(n2.mode, POP_SIG_REVERSED);
	assert_same_endpoint(&n2.to, &n.to);
	assert_memory_equal(n2.token, n.token, POP_TOKEN_LEN);
	json_decref(j);

	/* A LAN's active gateway changed (docs/standby.md). */
	struct pop_gateway_notice g = {.lan = "lan-b", .secondary = "lan-b2"}, g2;

	j = pop_gateway_notice_encode(&g);
	assert_json(j, "{\"op\":\"gateway\",\"lan\":\"lan-b\",\"secondary\":\"lan-b2\"}");
	assert_int_equal(pop_gateway_notice_decode(j, &g2, why), 0);
	assert_string_equal(g2.lan, "lan-b");
	assert_string_equal(g2.secondary, "lan-b2");
	json_decref(j);
	assert_refused(pop_gateway_notice_decode, &g2, "{\"lan\":\"lan-b\"}",
		       INSEL_E_BAD_FIELD, "field 'secondary' is missing");
	assert_refused(pop_gateway_notice_decode, &g2, "{\"lan\":\"a b\",\"secondary\":\"x\"}",
		       INSEL_E_BAD_FIELD, "fields 'lan' and 'secondary' must be names");
}

static void connect_refusals(void **state)
{
	struct pop_connect_req c;
	struct pop_connect_reply r;
	struct pop_dial_back n;
	enum pop_signalling sig;

	(void)state;
	assert_refused(pop_connect_req_decode, &c, "{\"call\":\"0000000000000000\","
		       "\"callee_lan\":\"lan-b\"}", INSEL_E_BAD_FIELD,
		       "field 'call' must be 16 hex digits");
	assert_refused(pop_connect_req_decode, &c, "{\"call\":\"12\",\"callee_lan\":\"b\"}",
		       INSEL_E_BAD_FIELD, "field 'call' must be 16 hex digits");
	assert_refused(pop_connect_reply_decode, &r, "{\"mode\":\"direct\"}", INSEL_E_BAD_FIELD,
		       "field 'mode' must be \"reversed\" or \"spliced\"");
	assert_refused(pop_connect_req_decode, &c, "{\"call\":\"000000000000002a\","
		       "\"callee_lan\":\"b\",\"token\":\"abab\"}", INSEL_E_BAD_FIELD,
		       "field 'token' must be 32 hex digits");
	assert_refused(pop_connect_reply_decode, &r, "{\"mode\":\"spliced\","
		       "\"splice\":\"nowhere\"}",
		       INSEL_E_BAD_FIELD, "field 'splice' must be ADDRESS:PORT or [ADDRESS6]:PORT");
	assert_refused(pop_connect_reply_decode, &r, "{\"mode\":\"reversed\","
		       "\"to\":\"[2001:db8::1]:0\"}",
		       INSEL_E_BAD_FIELD, "field 'to' must be ADDRESS:PORT or [ADDRESS6]:PORT");
	assert_refused(pop_dial_back_notice_decode, &n, "{\"call\":\"000000000000002a\","
		       "\"caller\":\"no good\",\"mode\":\"reversed\",\"to\":\"1.2.3.4:5\","
		       "\"token\":\"abababababababababababababababab\"}", INSEL_E_BAD_FIELD,
		       "field 'caller' is not a secondary's name");
	assert_int_equal(pop_signalling_parse("reversed", &sig), 0);
	assert_int_equal(sig, POP_SIG_REVERSED);
	assert_int_equal(pop_signalling_parse("sideways", &sig), INSEL_E_BAD_FIELD);
	assert_string_equal(pop_signalling_name(POP_SIG_DIRECT), "direct");
}

/* A dual-stack secondary: endpoint6 in register and in the serving entry, and which of
 * the two a dialler of each kind takes. */
static void dual_stack_endpoints(void **state)
{
	struct pop_register_req reg = {.lan = "lan-a", .nprefixes = 1}, reg2;
	struct pop_serving s = {.secondary = "gw-a", .fingerprint = FP_A, .state = "up"}, s2;
	struct ip_endpoint ep;
	char why[POP_WHY_LEN];
	json_t *j;

	(void)state;
	prefix("10.1.0.0/24", &reg.prefixes[0]);
	assert_int_equal(ip_endpoint_parse("198.18.1.2:7445", &reg.endpoint), 0);
	assert_int_equal(ip_endpoint_parse("[2001:db8:1::2]:7445", &reg.endpoint6), 0);
	reg.has_endpoint6 = true;
	j = pop_register_req_encode(5, &reg);
	assert_string_equal(json_string_value(json_object_get(j, "endpoint6")),
			    "[2001:db8:1::2]:7445");
	assert_int_equal(pop_register_req_decode(j, &reg2, why), 0);
	assert_true(reg2.has_endpoint6);
	assert_same_endpoint(&reg2.endpoint6, &reg.endpoint6);
	json_object_set_new(j, "endpoint6", json_string("198.18.1.3:7445"));
	assert_int_equal(pop_register_req_decode(j, &reg2, why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "endpoint6"));
	json_object_set_new(j, "endpoint6", json_string("[2001:db8:1::2]:0"));
	assert_int_equal(pop_register_req_decode(j, &reg2, why), INSEL_E_BAD_FIELD);
	json_object_set_new(j, "endpoint6", json_integer(7445));
	assert_int_equal(pop_register_req_decode(j, &reg2, why), INSEL_E_BAD_FIELD);
	json_object_set_new(j, "endpoint", json_string("[2001:db8:1::3]:7445"));
	json_object_set_new(j, "endpoint6", json_string("[2001:db8:1::2]:7445"));
	assert_int_equal(pop_register_req_decode(j, &reg2, why), INSEL_E_BAD_FIELD);
	json_object_del(j, "endpoint6");  /* a single-family secondary, as before */
	assert_int_equal(pop_register_req_decode(j, &reg2, why), 0);
	assert_false(reg2.has_endpoint6);
	json_decref(j);

	strcpy(s.endpoint, "198.18.1.2:7445");
	strcpy(s.endpoint6, "[2001:db8:1::2]:7445");
	s.reachable = POP_REACH_NO;   /* its IPv4 endpoint behind NAT, */
	s.reachable6 = POP_REACH_YES; /* its IPv6 one open */
	j = json_object();
	pop_put_serving(j, &s);
	assert_int_equal(pop_get_serving(j, &s2, why), 0);
	assert_string_equal(s2.endpoint6, "[2001:db8:1::2]:7445");
	assert_int_equal(s2.reachable, POP_REACH_NO);
	assert_int_equal(s2.reachable6, POP_REACH_YES);
	json_object_set_new(j, "reachable6", json_string("yes"));
	assert_int_equal(pop_get_serving(j, &s2, why), INSEL_E_BAD_FIELD);
	json_object_del(j, "reachable6");  /* an older principal: not known */
	assert_int_equal(pop_get_serving(j, &s2, why), 0);
	assert_int_equal(s2.reachable6, POP_REACH_UNKNOWN);
	json_decref(j);
	assert_true(pop_serving_reachable_from(&s, true, false, &ep));
	assert_int_equal(ep.addr.family, AF_INET);
	assert_int_equal(pop_serving_reach_of(&s, &ep), POP_REACH_NO);
	/* A dual-stack dialler dials the IPv6 one: only it can be dialled. */
	assert_true(pop_serving_reachable_from(&s, true, true, &ep));
	assert_int_equal(ep.addr.family, AF_INET6);
	assert_int_equal(pop_serving_reach_of(&s, &ep), POP_REACH_YES);
	s.reachable6 = POP_REACH_UNKNOWN;  /* not checked is worth a try before a reversal */
	assert_true(pop_serving_reachable_from(&s, true, true, &ep));
	assert_int_equal(ep.addr.family, AF_INET6);
	s.reachable6 = POP_REACH_NO;       /* neither: the endpoint, and a reversal */
	assert_true(pop_serving_reachable_from(&s, true, true, &ep));
	assert_int_equal(ep.addr.family, AF_INET);
	s.reachable = s.reachable6 = POP_REACH_YES;  /* both: the endpoint, as before */
	assert_true(pop_serving_reachable_from(&s, true, true, &ep));
	assert_int_equal(ep.addr.family, AF_INET);
	s.reachable = POP_REACH_UNKNOWN;   /* a known answer before an unchecked one */
	assert_true(pop_serving_reachable_from(&s, true, true, &ep));
	assert_int_equal(ep.addr.family, AF_INET6);
	s.reachable = POP_REACH_NO;
	assert_true(pop_serving_reachable_from(&s, false, true, &ep));
	assert_int_equal(ep.addr.family, AF_INET6);  /* IPv6 only: endpoint6 */
	assert_int_equal(ep.port, 7445);
	/* Dialled over IPv6, the IPv6 endpoint's answer decides (a reversal or not). */
	assert_int_equal(pop_serving_reach_of(&s, &ep), POP_REACH_YES);
	s.endpoint6[0] = '\0';
	j = json_object();
	pop_put_serving(j, &s);
	assert_null(json_object_get(j, "endpoint6"));  /* absent, for older secondaries */
	assert_null(json_object_get(j, "reachable6"));  /* and so is its reachability */
	json_decref(j);
	assert_true(pop_serving_reachable_from(&s, false, true, &ep));
	assert_int_equal(ep.addr.family, AF_INET);  /* nothing better to try */
	strcpy(s.state, "down");
	assert_false(pop_serving_reachable_from(&s, true, true, &ep));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(session_round_trip),
		cmocka_unit_test(dual_stack_endpoints),
		cmocka_unit_test(register_refusals),
		cmocka_unit_test(lookup_round_trip),
		cmocka_unit_test(lookup_refusals),
		cmocka_unit_test(list_round_trip),
		cmocka_unit_test(list_refusals),
		cmocka_unit_test(revocations_round_trip),
		cmocka_unit_test(records_round_trip),
		cmocka_unit_test(connect_round_trip),
		cmocka_unit_test(connect_refusals),
		cmocka_unit_test(records_refusals),
		cmocka_unit_test(auth_round_trip),
		cmocka_unit_test(auth_refusals),
		cmocka_unit_test(relay_round_trip),
		cmocka_unit_test(relay_refusals),
		cmocka_unit_test(designated_relay_round_trip),
		cmocka_unit_test(designated_relay_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
