/* Unit tests for the "bind" codec between a secondary and its auxiliary (aux_bind.h):
 * requests of a UDP call and of a network call, and the replies to both, encoded and
 * decoded back to the same thing; every field of each refused when it is missing (where
 * required), of the wrong type or out of range, with the field named in the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "aux_bind.h"
#include "err.h"
#include "msg.h"
#include "netlink.h"

static void udp_request(struct aux_bind_request *r)
{
	memset(r, 0, sizeof *r);
	r->call_id = 0x0123456789abcdefULL;
	assert_int_equal(ip_addr_parse("10.1.0.1", &r->lan_addr), 0);
	assert_int_equal(ip_addr_parse("198.18.1.2", &r->wan_addr), 0);
	assert_int_equal(ip_addr_parse("10.1.0.11", &r->party), 0);
	r->nchannels = 2;
	r->lan_ports[0] = 5004;
	r->lan_ports[1] = 0;
	r->uid = 200012;
	r->has_uid = true;
}

static void tun_request(struct aux_bind_request *r)
{
	struct aux_bind_tun *t = &r->tun_req;

	memset(r, 0, sizeof *r);
	r->call_id = 42;
	assert_int_equal(ip_addr_parse("10.1.0.1", &r->lan_addr), 0);
	assert_int_equal(ip_addr_parse("2001:db8:5::2", &r->wan_addr), 0);
	assert_int_equal(ip_addr_parse("fd01::1", &r->lan_addr6), 0);
	r->has_lan_addr6 = true;
	r->nchannels = 1;
	r->tun = true;
	r->user = "insel-aux";
	t->name_hint = "lan-b";
	t->mtu = 1440;
	t->source_routing = true;
	assert_int_equal(ip_prefix_parse("10.1.0.11/32", true, &t->local[0]), 0);
	assert_int_equal(ip_prefix_parse("fd01::11/128", true, &t->local[1]), 0);
	assert_int_equal(ip_prefix_parse("10.2.0.0/24", true, &t->remote[0]), 0);
	t->nlocal = 2;
	t->nremote = 1;
}

static void request_round_trip(const struct aux_bind_request *r)
{
	struct aux_bind_request back;
	char why[256] = "";
	json_t *j = aux_bind_request_to_json(r);

	assert_non_null(j);
	assert_string_equal(msg_op(j), "bind");
	assert_int_equal(aux_bind_request_from_json(j, &back, why, sizeof why), 0);
	assert_true(aux_bind_request_equal(r, &back));
	json_decref(j);
}

static void stream_request_round_trip(void **state)
{
	struct aux_bind_request r;

	(void)state;
	udp_request(&r);
	r.stream[1] = true;  /* a reliable channel: a TCP listener too */
	request_round_trip(&r);
}

static void requests_round_trip(void **state)
{
	struct aux_bind_request r;
	json_t *j;

	udp_request(&r);
	request_round_trip(&r);
	j = aux_bind_request_to_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "call")), "0123456789abcdef");
	assert_string_equal(json_string_value(json_object_get(j, "party")), "10.1.0.11");
	assert_null(json_object_get(j, "user"));
	json_decref(j);
	r.has_uid = false;
	r.user = "nobody";
	request_round_trip(&r);
	tun_request(&r);
	request_round_trip(&r);
	j = aux_bind_request_to_json(&r);
	assert_null(json_object_get(j, "party"));  /* a network call has no party */
	assert_null(json_object_get(j, "uid"));
	json_decref(j);
	r.tun_req.source_routing = false;
	r.has_lan_addr6 = false;
	request_round_trip(&r);
	/* A peer LAN seen through its mapped prefix (docs/overlap.md). */
	assert_int_equal(ip_prefix_parse("10.2.0.0/24", true, &r.tun_req.remote_real[0]), 0);
	assert_int_equal(ip_prefix_parse("10.99.2.0/24", true, &r.tun_req.remote_as[0]), 0);
	r.tun_req.nremote_map = 1;
	request_round_trip(&r);
}

/* map_real and map_as: pairs of IPv4 prefixes of one length, or refused. */
static void remote_map_refused(void **state)
{
	struct aux_bind_request r, back;
	char why[256];
	json_t *j, *tun;

	(void)state;
	tun_request(&r);
	assert_int_equal(ip_prefix_parse("10.2.0.0/24", true, &r.tun_req.remote_real[0]), 0);
	assert_int_equal(ip_prefix_parse("10.99.2.0/24", true, &r.tun_req.remote_as[0]), 0);
	r.tun_req.nremote_map = 1;
	j = aux_bind_request_to_json(&r);
	tun = json_object_get(json_array_get(json_object_get(j, "channels"), 0), "tun");
	json_object_set_new(tun, "map_as", json_pack("[s]", "10.99.0.0/16"));
	assert_int_equal(aux_bind_request_from_json(j, &back, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "must be IPv4 prefixes of one length"));
	json_object_set_new(tun, "map_as", json_pack("[s, s]", "10.99.2.0/24", "10.98.2.0/24"));
	assert_int_equal(aux_bind_request_from_json(j, &back, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "must pair up"));
	json_decref(j);
}

/* Sets key in the object at path (NULL: the request itself; "tun": the first channel's
 * "tun"; "channel": the first channel) to value (NULL: deletes it) and expects the
 * refusal rc with why naming what. */
static void expect_request_refused(const struct aux_bind_request *r, const char *path,
				   const char *key, json_t *value, int rc, const char *what)
{
	struct aux_bind_request back;
	json_t *j = aux_bind_request_to_json(r), *obj = j;
	char why[256] = "";

	if (path) {
		obj = json_array_get(json_object_get(j, "channels"), 0);
		if (strcmp(path, "tun") == 0)
			obj = json_object_get(obj, "tun");
	}
	assert_non_null(obj);
	if (value)
		json_object_set_new(obj, key, value);
	else
		json_object_del(obj, key);
	assert_int_equal(aux_bind_request_from_json(j, &back, why, sizeof why), rc);
	if (!strstr(why, what))
		fail_msg("'%s' does not name '%s'", why, what);
	json_decref(j);
}

static json_t *many(json_t *item, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append(list, item);
	json_decref(item);
	return list;
}

static void request_fields_refused(void **state)
{
	struct aux_bind_request u, t;
	const int bad = INSEL_E_BAD_FIELD;

	udp_request(&u);
	tun_request(&t);
	expect_request_refused(&u, NULL, "call", NULL, bad, "call");
	expect_request_refused(&u, NULL, "call", json_string("xyz"), bad, "call");
	expect_request_refused(&u, NULL, "call", json_integer(1), bad, "call");
	expect_request_refused(&u, NULL, "lan_addr", NULL, bad, "lan_addr");
	expect_request_refused(&u, NULL, "lan_addr", json_string("not-an-address"),
			       INSEL_E_BAD_ADDR, "lan_addr");
	expect_request_refused(&u, NULL, "wan_addr", json_integer(7), bad, "wan_addr");
	expect_request_refused(&u, NULL, "wan_addr", json_string("10.0.0.0/8"),
			       INSEL_E_BAD_ADDR, "wan_addr");
	expect_request_refused(&u, NULL, "party", NULL, bad, "party");
	expect_request_refused(&u, NULL, "party", json_string("::1"), bad, "party");
	expect_request_refused(&u, NULL, "lan_addr6", json_string("10.1.0.2"), bad, "lan_addr6");
	expect_request_refused(&u, NULL, "lan_addr6", json_string("fd01::zz"),
			       INSEL_E_BAD_ADDR, "lan_addr6");
	expect_request_refused(&u, NULL, "channels", NULL, bad, "channels");
	expect_request_refused(&u, NULL, "channels", json_object(), bad, "channels");
	expect_request_refused(&u, NULL, "channels", json_array(), bad, "channels");
	expect_request_refused(&u, NULL, "channels", many(json_object(), SEC_MAX_CHANNELS + 1),
			       bad, "channels");
	expect_request_refused(&u, NULL, "channels", many(json_integer(5004), 1), bad,
			       "channels[0]");
	expect_request_refused(&u, "channel", "lan_port", json_integer(65536), bad, "lan_port");
	expect_request_refused(&u, "channel", "lan_port", json_integer(-1), bad, "lan_port");
	expect_request_refused(&u, "channel", "lan_port", json_string("5004"), bad, "lan_port");
	expect_request_refused(&u, "channel", "tun", json_object(), bad, "only channel");
	expect_request_refused(&u, NULL, "user", json_string(""), bad, "user");
	expect_request_refused(&u, NULL, "user", json_integer(0), bad, "user");
	expect_request_refused(&u, NULL, "user", json_string("u23456789012345678901234567890"
			       "12345678901234567890123456789012345"), bad, "user");
	expect_request_refused(&u, NULL, "uid", json_integer(0), bad, "uid");
	expect_request_refused(&u, NULL, "uid", json_integer(UINT32_MAX), bad, "uid");
	expect_request_refused(&u, NULL, "uid", json_string("200012"), bad, "uid");

	expect_request_refused(&t, "channel", "tun", json_string("lan-b"), bad, "tun");
	expect_request_refused(&t, "tun", "name_hint", json_string(""), bad, "name_hint");
	expect_request_refused(&t, "tun", "name_hint", json_string("a-sixteen-chars!"), bad,
			       "name_hint");
	expect_request_refused(&t, "tun", "name_hint", json_string("lan b"), bad, "name_hint");
	expect_request_refused(&t, "tun", "name_hint", json_integer(1), bad, "name_hint");
	expect_request_refused(&t, "tun", "mtu", json_integer(AUX_TUN_MIN_MTU - 1), bad, "mtu");
	expect_request_refused(&t, "tun", "mtu", json_integer(65536), bad, "mtu");
	expect_request_refused(&t, "tun", "mtu", json_string("1440"), bad, "mtu");
	expect_request_refused(&t, "tun", "source_routing", json_string("yes"), bad,
			       "source_routing");
	expect_request_refused(&t, "tun", "local", NULL, bad, "local");
	expect_request_refused(&t, "tun", "local", json_array(), bad, "local");
	expect_request_refused(&t, "tun", "local", many(json_string("10.1.0.0/24"),
			       AUX_TUN_PREFIXES + 1), bad, "local");
	expect_request_refused(&t, "tun", "remote", many(json_string("10.2.0.0/33"), 1), bad,
			       "remote[0]");
	expect_request_refused(&t, "tun", "remote", many(json_integer(10), 1), bad, "remote[0]");
	expect_request_refused(&t, "tun", "remote", json_string("10.2.0.0/24"), bad, "remote");
}

/* Defaults: a tun without name_hint or mtu, a UDP channel without lan_port. */
static void request_defaults(void **state)
{
	struct aux_bind_request t, back;
	char why[256];
	json_t *j;

	tun_request(&t);
	j = aux_bind_request_to_json(&t);
	json_object_del(json_object_get(json_array_get(json_object_get(j, "channels"), 0), "tun"),
			"name_hint");
	json_object_del(json_object_get(json_array_get(json_object_get(j, "channels"), 0), "tun"),
			"mtu");
	assert_int_equal(aux_bind_request_from_json(j, &back, why, sizeof why), 0);
	assert_string_equal(back.tun_req.name_hint, "insel");
	assert_int_equal(back.tun_req.mtu, AUX_TUN_DEFAULT_MTU);
	json_decref(j);
	j = json_pack("{s:s, s:s, s:s, s:s, s:[{}]}", "call", "00000000000000ff", "lan_addr",
		      "10.1.0.1", "wan_addr", "198.18.1.2", "party", "10.1.0.11", "channels");
	assert_int_equal(aux_bind_request_from_json(j, &back, why, sizeof why), 0);
	assert_int_equal(back.nchannels, 1);
	assert_int_equal(back.lan_ports[0], 0);
	assert_false(back.has_uid);
	assert_null(back.user);
	json_decref(j);
}

static void udp_reply(struct aux_bind_reply *r)
{
	memset(r, 0, sizeof *r);
	r->wan_port = 40000;
	r->nchannels = 2;
	r->lan_ports[0] = 5004;
	r->lan_ports[1] = 5005;
}

static void tun_reply(struct aux_bind_reply *r)
{
	memset(r, 0, sizeof *r);
	r->wan_port = 1;
	r->nchannels = 1;
	r->tun = true;
	strcpy(r->interface, "lan-b1");
	r->mtu = 1440;
	r->table = NL_CALL_TABLE_BASE + 12;
}

static void reply_round_trip(const struct aux_bind_reply *r)
{
	struct aux_bind_reply back;
	char why[256] = "";
	json_t *j = aux_bind_reply_to_json(9, r);

	assert_non_null(j);
	assert_int_equal(msg_id(j), 9);
	assert_true(msg_reply_is_ok(j, NULL, NULL));
	assert_int_equal(aux_bind_reply_from_json(j, &back, why, sizeof why), 0);
	assert_true(aux_bind_reply_equal(r, &back));
	json_decref(j);
}

static void replies_round_trip(void **state)
{
	struct aux_bind_reply r;
	json_t *j;

	udp_reply(&r);
	reply_round_trip(&r);
	tun_reply(&r);
	reply_round_trip(&r);
	r.table = 0;  /* a trunk's: no table of its own */
	reply_round_trip(&r);
	j = aux_bind_reply_to_json(9, &r);
	assert_null(json_object_get(json_array_get(json_object_get(j, "channels"), 0), "table"));
	json_decref(j);
}

static void expect_reply_refused(const struct aux_bind_reply *r, bool in_channel,
				 const char *key, json_t *value)
{
	struct aux_bind_reply back;
	json_t *j = aux_bind_reply_to_json(9, r), *obj = j;
	char why[256] = "";

	if (in_channel)
		obj = json_array_get(json_object_get(j, "channels"), 0);
	if (value)
		json_object_set_new(obj, key, value);
	else
		json_object_del(obj, key);
	assert_int_equal(aux_bind_reply_from_json(j, &back, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "malformed"));
	json_decref(j);
}

static void reply_fields_refused(void **state)
{
	struct aux_bind_reply u, t;

	udp_reply(&u);
	tun_reply(&t);
	expect_reply_refused(&u, false, "wan_port", NULL);
	expect_reply_refused(&u, false, "wan_port", json_integer(0));
	expect_reply_refused(&u, false, "wan_port", json_integer(65536));
	expect_reply_refused(&u, false, "channels", NULL);
	expect_reply_refused(&u, false, "channels", json_array());
	expect_reply_refused(&u, false, "channels", many(json_pack("{s:i}", "lan_port", 1),
							 SEC_MAX_CHANNELS + 1));
	expect_reply_refused(&u, true, "lan_port", NULL);
	expect_reply_refused(&u, true, "lan_port", json_integer(0));
	expect_reply_refused(&u, true, "lan_port", json_string("5004"));
	expect_reply_refused(&t, true, "interface", json_integer(3));
	expect_reply_refused(&t, true, "interface", json_string("sixteen-letters!"));
	expect_reply_refused(&t, true, "mtu", NULL);
	expect_reply_refused(&t, true, "mtu", json_integer(67));
	expect_reply_refused(&t, true, "table", json_integer(0));
	expect_reply_refused(&t, true, "table", json_integer(1LL << 32));
	expect_reply_refused(&t, true, "table", json_string("1000000012"));
	expect_reply_refused(&t, false, "channels", many(json_pack("{s:s, s:i}", "interface",
							 "lan-b", "mtu", 1400), 2));
}

/* The STUN servers of a bind request, and the candidates and NAT mapping of its reply. */
static void discovery_round_trips(void **state)
{
	struct aux_bind_request r;
	struct aux_bind_reply p;
	json_t *j;

	(void)state;
	udp_request(&r);
	assert_int_equal(ip_endpoint_parse("198.18.0.1:3478", &r.stun[0]), 0);
	assert_int_equal(ip_endpoint_parse("[2001:db8::1]:3478", &r.stun[1]), 0);
	r.nstun = 2;
	r.stun_timeout_ms = 700;
	request_round_trip(&r);
	j = aux_bind_request_to_json(&r);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "stun"), 1)),
			    "[2001:db8::1]:3478");
	json_decref(j);
	udp_reply(&p);
	p.cand[0].kind = CAND_HOST;
	assert_int_equal(ip_endpoint_parse("100.64.1.2:40000", &p.cand[0].ep), 0);
	p.cand[1].kind = CAND_SRFLX;
	assert_int_equal(ip_endpoint_parse("198.18.9.1:61000", &p.cand[1].ep), 0);
	p.ncand = 2;
	reply_round_trip(&p);
	p.has_nat = true;
	p.mapping = NAT_MAPPING_DEPENDENT;
	p.mapped[0] = p.cand[1].ep;
	assert_int_equal(ip_endpoint_parse("198.18.9.1:61001", &p.mapped[1]), 0);
	p.nmapped = 2;
	reply_round_trip(&p);
	j = aux_bind_reply_to_json(3, &p);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "nat"),
							      "mapping")), "dependent");
	json_decref(j);
	p.mapping = NAT_MAPPING_UNKNOWN;
	p.nmapped = 0;
	reply_round_trip(&p);
	/* Neither field: an auxiliary asked no server, or an older one. */
	udp_reply(&p);
	j = aux_bind_reply_to_json(3, &p);
	assert_null(json_object_get(j, "candidates"));
	assert_null(json_object_get(j, "nat"));
	json_decref(j);
}

static void discovery_refused(void **state)
{
	struct aux_bind_request u;
	struct aux_bind_reply p;
	const int bad = INSEL_E_BAD_FIELD;

	(void)state;
	udp_request(&u);
	expect_request_refused(&u, NULL, "stun", json_string("198.18.0.1:3478"), bad, "stun");
	expect_request_refused(&u, NULL, "stun", many(json_string("198.18.0.1:3478"),
						      AUX_STUN_MAX + 1), bad, "stun");
	expect_request_refused(&u, NULL, "stun", many(json_string("198.18.0.1"), 1), bad,
			       "stun[0]");
	expect_request_refused(&u, NULL, "stun", many(json_string("198.18.0.1:0"), 1), bad,
			       "stun[0]");
	expect_request_refused(&u, NULL, "stun", many(json_string("0.0.0.0:3478"), 1), bad,
			       "stun[0]");
	expect_request_refused(&u, NULL, "stun", many(json_integer(3478), 1), bad, "stun[0]");
	expect_request_refused(&u, NULL, "stun_timeout_ms", json_integer(99), bad,
			       "stun_timeout_ms");
	expect_request_refused(&u, NULL, "stun_timeout_ms", json_integer(10001), bad,
			       "stun_timeout_ms");
	expect_request_refused(&u, NULL, "stun_timeout_ms", json_string("1s"), bad,
			       "stun_timeout_ms");
	udp_reply(&p);
	expect_reply_refused(&p, false, "candidates", json_string("x"));
	expect_reply_refused(&p, false, "candidates", many(json_pack("{s:s, s:s}", "kind", "host",
								     "addr", "10.0.0.1:0"), 1));
	expect_reply_refused(&p, false, "nat", json_string("dependent"));
	expect_reply_refused(&p, false, "nat", json_pack("{s:s, s:[]}", "mapping", "symmetric",
							 "mapped"));
	expect_reply_refused(&p, false, "nat", json_pack("{s:s}", "mapping", "none"));
	expect_reply_refused(&p, false, "nat", json_pack("{s:s, s:[s]}", "mapping", "none",
							 "mapped", "x:1"));
	expect_reply_refused(&p, false, "nat", json_pack("{s:s, s:o}", "mapping", "none",
							 "mapped", many(json_string("1.2.3.4:5"),
									AUX_STUN_MAX + 1)));
}

/* A dual-stack wan: the IPv6 address beside the IPv4 one, and the second socket's port. */
static void dual_stack_wan(void **state)
{
	struct aux_bind_request r;
	struct aux_bind_reply p;
	const int bad = INSEL_E_BAD_FIELD;
	json_t *j;

	(void)state;
	udp_request(&r);
	assert_int_equal(ip_addr_parse("2001:db8:1::2", &r.wan_addr6), 0);
	r.has_wan_addr6 = true;
	request_round_trip(&r);
	j = aux_bind_request_to_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "wan_addr6")), "2001:db8:1::2");
	json_decref(j);
	expect_request_refused(&r, NULL, "wan_addr6", json_string("198.18.1.3"), bad,
			       "wan_addr6");
	expect_request_refused(&r, NULL, "wan_addr6", json_string("2001:db8::zz"),
			       INSEL_E_BAD_ADDR, "wan_addr6");
	expect_request_refused(&r, NULL, "wan_addr6", json_integer(6), bad, "wan_addr6");
	/* beside an IPv6 wan_addr (an IPv6-only wan), a second IPv6 address is refused */
	expect_request_refused(&r, NULL, "wan_addr", json_string("2001:db8:2::2"), bad,
			       "wan_addr6");
	udp_reply(&p);
	p.wan_port6 = 40002;
	reply_round_trip(&p);
	j = aux_bind_reply_to_json(3, &p);
	assert_int_equal(json_integer_value(json_object_get(j, "wan_port6")), 40002);
	json_decref(j);
	expect_reply_refused(&p, false, "wan_port6", json_integer(0));
	expect_reply_refused(&p, false, "wan_port6", json_integer(65536));
	expect_reply_refused(&p, false, "wan_port6", json_string("40002"));
	udp_reply(&p);  /* a single-family wan: no wan_port6 */
	j = aux_bind_reply_to_json(3, &p);
	assert_null(json_object_get(j, "wan_port6"));
	json_decref(j);
}

/* "room_members": encoded and decoded back; each side and the map refused when wrong. */
static void room_members_round_trip(void **state)
{
	struct aux_bind_tun t = {0}, back;
	json_t *j = json_object(), *bad;
	char why[256];

	(void)state;
	assert_int_equal(ip_prefix_parse("172.30.0.1/32", true, &t.local[0]), 0);
	assert_int_equal(ip_prefix_parse("172.30.0.4/32", true, &t.local[1]), 0);
	assert_int_equal(ip_addr_parse("10.1.0.11", &t.map[0]), 0);
	assert_int_equal(ip_addr_parse("10.1.0.12", &t.map[1]), 0);
	assert_int_equal(ip_prefix_parse("172.30.0.3/32", true, &t.remote[0]), 0);
	t.nlocal = t.nmap = 2;
	t.nremote = 1;
	assert_int_equal(aux_room_members_into(j, &t), 0);
	assert_int_equal(aux_room_members_from_json(j, &back, why, sizeof why), 0);
	assert_true(aux_room_members_equal(&t, &back));
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "map"), 1)),
			    "10.1.0.12");

	bad = json_deep_copy(j);
	json_object_set_new(bad, "map", json_pack("[s]", "10.1.0.11"));
	assert_int_equal(aux_room_members_from_json(bad, &back, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "one address per local prefix"));
	json_object_del(bad, "map");
	assert_int_equal(aux_room_members_from_json(bad, &back, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "map"));
	json_decref(bad);

	bad = json_deep_copy(j);
	json_object_set_new(bad, "remote", json_array());
	assert_int_equal(aux_room_members_from_json(bad, &back, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "remote"));
	json_decref(bad);

	bad = json_deep_copy(j);
	json_object_set_new(bad, "local", json_pack("[s, s]", "172.30.0.0/24", "172.30.0.4/32"));
	assert_int_equal(aux_room_members_from_json(bad, &back, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "map[0]"));
	json_decref(bad);
	assert_int_equal(aux_room_members_from_json(json_array_get(j, 0), &back, why,
						    sizeof why), INSEL_E_BAD_FIELD);
	json_decref(j);

	/* An IPv6 room: a /128 with an IPv6 LAN address; an IPv4 one for it is refused. */
	j = json_object();
	assert_int_equal(ip_prefix_parse("fd30::1/128", true, &t.local[2]), 0);
	assert_int_equal(ip_addr_parse("fd01::11", &t.map[2]), 0);
	assert_int_equal(ip_prefix_parse("fd30::3/128", true, &t.remote[1]), 0);
	t.nlocal = t.nmap = 3;
	t.nremote = 2;
	assert_int_equal(aux_room_members_into(j, &t), 0);
	assert_int_equal(aux_room_members_from_json(j, &back, why, sizeof why), 0);
	assert_true(aux_room_members_equal(&t, &back));
	json_array_set_new(json_object_get(j, "map"), 2, json_string("10.1.0.13"));
	assert_int_equal(aux_room_members_from_json(j, &back, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "map[2]"));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(requests_round_trip),
		cmocka_unit_test(stream_request_round_trip),
		cmocka_unit_test(request_fields_refused),
		cmocka_unit_test(request_defaults),
		cmocka_unit_test(remote_map_refused),
		cmocka_unit_test(replies_round_trip),
		cmocka_unit_test(reply_fields_refused),
		cmocka_unit_test(discovery_round_trips),
		cmocka_unit_test(discovery_refused),
		cmocka_unit_test(dual_stack_wan),
		cmocka_unit_test(room_members_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
