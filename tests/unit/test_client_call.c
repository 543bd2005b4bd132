/* Unit tests for the client API's call codec (common/control/client_call.c): the call
 * object and every call message encode and decode back to themselves, the wire form keeps
 * its field names and types, and every malformed field is refused with a sentence naming
 * it, leaving the output untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "client_call.h"
#include "err.h"
#include "msg.h"

static void udp_call(struct client_call *c)
{
	memset(c, 0, sizeof *c);
	c->id = 0x0123456789abcdefULL;
	strcpy(c->caller, "alice@lan-a");
	strcpy(c->callee, "bob@lan-b");
	c->outgoing = true;
	strcpy(c->state, "up");
	c->cipher = SEC_CIPHER_AES256GCM;
	c->compress = SEC_COMPRESS_DEFLATE;
	c->started = 1764633600;
	strcpy(c->path.signalling, "reversed");
	strcpy(c->path.data, "direct");
	strcpy(c->path.remote, "198.18.2.2:40001");
	strcpy(c->path.reason, "a probe to direct 198.18.2.2:40001 was answered in 1 ms");
	c->path.mtu = 1252;
	strcpy(c->path.mtu_state, "complete");
	c->nchannels = 2;
	for (size_t i = 0; i < 2; i++) {
		struct client_call_channel *ch = &c->channels[i];

		ch->port = (uint16_t)(5004 + i);
		ch->has_local = true;
		assert_int_equal(ip_endpoint_parse(i ? "[fd01::1]:40001" : "10.1.0.1:40000",
						   &ch->local), 0);
		ch->has_deliver = i == 0;
		assert_int_equal(ip_endpoint_parse("10.1.0.11:5004", &ch->deliver), 0);
		ch->has_foreign_lan_sender = true;
		ch->foreign_lan_sender = 3;
		ch->has_bytes = true;
		ch->bytes_in = 1000 + i;
		ch->bytes_out = 1ULL << 40;
		ch->has_epochs = true;
		ch->send_epoch = 2;
		ch->recv_epoch = 1;
		ch->msgs_deflated_out = i * 7;
	}
	/* Channel 1 reliable, with its attach token (docs/reliable.md). */
	c->channels[1].mode = NEGOTIATE_UNORDERED;
	c->channels[1].has_token = true;
	memset(c->channels[1].token, 0x5a, sizeof c->channels[1].token);
	c->has_rekey = true;
	c->epoch = 2;
	c->dh_rekeys = 2;
	c->rekey_interval_ms = 120000;
}

static void tun_call(struct client_call *c, json_t *counters)
{
	struct client_call_channel *ch = &c->channels[0];

	memset(c, 0, sizeof *c);
	c->id = 0x1022;
	strcpy(c->caller, "lan-a");
	strcpy(c->callee, "lan-b");
	strcpy(c->state, "ringing");
	c->started = 5;
	c->nchannels = 1;
	ch->tun = true;
	assert_int_equal(ip_prefix_parse("10.1.0.0/24", true, &ch->local_prefixes[0]), 0);
	assert_int_equal(ip_prefix_parse("fd01::/64", true, &ch->local_prefixes[1]), 0);
	ch->nlocal_prefixes = 2;
	assert_int_equal(ip_prefix_parse("10.2.0.0/24", true, &ch->remote_prefixes[0]), 0);
	ch->nremote_prefixes = 1;
	strcpy(ch->interface, "lan-b");
	ch->mtu = 1440;
	strcpy(ch->trunk, "to-b");
	ch->counters = counters;
}

static void assert_channels_equal(const struct client_call_channel *a,
				  const struct client_call_channel *b)
{
	assert_int_equal(a->tun, b->tun);
	assert_int_equal(a->port, b->port);
	assert_int_equal(a->has_local, b->has_local);
	if (a->has_local) {
		assert_true(ip_addr_equal(&a->local.addr, &b->local.addr));
		assert_int_equal(a->local.port, b->local.port);
	}
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->has_token, b->has_token);
	if (a->has_token)
		assert_memory_equal(a->token, b->token, sizeof a->token);
	assert_int_equal(a->has_deliver, b->has_deliver);
	if (a->has_deliver) {
		assert_true(ip_addr_equal(&a->deliver.addr, &b->deliver.addr));
		assert_int_equal(a->deliver.port, b->deliver.port);
	}
	assert_int_equal(a->nlocal_prefixes, b->nlocal_prefixes);
	assert_int_equal(a->nremote_prefixes, b->nremote_prefixes);
	for (size_t i = 0; i < a->nlocal_prefixes; i++)
		assert_true(ip_addr_equal(&a->local_prefixes[i].addr, &b->local_prefixes[i].addr));
	for (size_t i = 0; i < a->nremote_prefixes; i++)
		assert_int_equal(a->remote_prefixes[i].len, b->remote_prefixes[i].len);
	assert_string_equal(a->interface, b->interface);
	assert_int_equal(a->mtu, b->mtu);
	assert_string_equal(a->trunk, b->trunk);
	assert_int_equal(a->has_foreign_lan_sender, b->has_foreign_lan_sender);
	assert_true(a->foreign_lan_sender == b->foreign_lan_sender);
	assert_int_equal(a->has_bytes, b->has_bytes);
	assert_true(a->bytes_in == b->bytes_in && a->bytes_out == b->bytes_out);
	assert_int_equal(a->has_epochs, b->has_epochs);
	assert_true(a->send_epoch == b->send_epoch && a->recv_epoch == b->recv_epoch);
	assert_true(a->msgs_deflated_out == b->msgs_deflated_out);
	assert_true(a->counters == b->counters || json_equal(a->counters, b->counters));
}

static void assert_calls_equal(const struct client_call *a, const struct client_call *b)
{
	assert_true(a->id == b->id);
	assert_string_equal(a->caller, b->caller);
	assert_string_equal(a->callee, b->callee);
	assert_int_equal(a->outgoing, b->outgoing);
	assert_string_equal(a->state, b->state);
	assert_int_equal(a->cipher, b->cipher);
	assert_int_equal(a->compress, b->compress);
	assert_true(a->started == b->started);
	assert_int_equal(a->nchannels, b->nchannels);
	for (size_t i = 0; i < a->nchannels; i++)
		assert_channels_equal(&a->channels[i], &b->channels[i]);
	assert_int_equal(a->has_rekey, b->has_rekey);
	assert_int_equal(a->epoch, b->epoch);
	assert_true(a->dh_rekeys == b->dh_rekeys);
	assert_true(a->rekey_interval_ms == b->rekey_interval_ms);
	assert_string_equal(a->path.signalling, b->path.signalling);
	assert_string_equal(a->path.data, b->path.data);
	assert_string_equal(a->path.remote, b->path.remote);
	assert_string_equal(a->path.reason, b->path.reason);
	assert_int_equal(a->path.mtu, b->path.mtu);
	assert_string_equal(a->path.mtu_state, b->path.mtu_state);
}

static void round_trip(const struct client_call *c)
{
	struct client_call *back = malloc(sizeof *back);
	const char *why = NULL;
	json_t *j = client_call_encode(c);

	assert_non_null(j);
	memset(back, 0xaa, sizeof *back);
	assert_int_equal(client_call_decode(j, back, &why), 0);
	assert_calls_equal(c, back);
	json_decref(j);
	free(back);
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static long long num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static void call_object_udp(void **state)
{
	struct client_call c;
	json_t *j, *ch;

	udp_call(&c);
	round_trip(&c);
	/* The wire form, as docs/protocol.md gives it. */
	j = client_call_encode(&c);
	assert_string_equal(str(j, "id"), "0123456789abcdef");
	assert_string_equal(str(j, "direction"), "out");
	assert_string_equal(str(j, "cipher"), "aes-256-gcm");
	assert_string_equal(str(j, "compression"), "deflate");
	assert_int_equal(num(j, "started"), 1764633600);
	assert_int_equal(num(j, "rekey_interval_ms"), 120000);
	ch = json_array_get(json_object_get(j, "channels"), 1);
	assert_null(json_object_get(ch, "kind"));  /* udp channels have never said so */
	assert_int_equal(num(ch, "port"), 5005);
	assert_string_equal(str(ch, "local"), "[fd01::1]:40001");
	assert_null(json_object_get(ch, "deliver"));
	assert_int_equal(num(ch, "bytes_out"), 1LL << 40);
	assert_int_equal(num(ch, "msgs_deflated_out"), 7);
	assert_null(json_object_get(json_array_get(json_object_get(j, "channels"), 0),
				    "msgs_deflated_out"));
	json_decref(j);
	/* A call being set up: no cipher, no counters, no key exchanges yet. */
	c.cipher = SEC_CIPHER_NONE;
	c.compress = SEC_COMPRESS_NONE;
	c.has_rekey = false;
	c.epoch = 0;
	c.dh_rekeys = c.rekey_interval_ms = 0;
	c.outgoing = false;
	for (size_t i = 0; i < c.nchannels; i++) {
		memset(&c.channels[i], 0, sizeof c.channels[i]);
		c.channels[i].port = 9;
	}
	j = client_call_encode(&c);
	assert_null(json_object_get(j, "cipher"));
	assert_null(json_object_get(j, "compression"));
	assert_null(json_object_get(j, "epoch"));
	assert_string_equal(str(j, "direction"), "in");
	assert_int_equal(json_object_size(json_array_get(json_object_get(j, "channels"), 0)), 1);
	json_decref(j);
	round_trip(&c);
}

static void call_object_tun(void **state)
{
	json_t *counters = json_pack("{s:i, s:i}", "packets_from_lan", 4, "packets_to_lan", 5);
	struct client_call c;
	json_t *j, *ch;

	tun_call(&c, counters);
	round_trip(&c);
	j = client_call_encode(&c);
	ch = json_array_get(json_object_get(j, "channels"), 0);
	assert_string_equal(str(ch, "kind"), "tun");
	assert_string_equal(json_string_value(json_array_get(json_object_get(ch,
									      "local_prefixes"), 1)),
			    "fd01::/64");
	assert_string_equal(str(ch, "interface"), "lan-b");
	assert_int_equal(num(ch, "mtu"), 1440);
	assert_string_equal(str(ch, "trunk"), "to-b");
	assert_true(json_equal(json_object_get(ch, "counters"), counters));
	json_decref(j);
	/* Before the interface exists: neither interface nor MTU. */
	c.channels[0].interface[0] = '\0';
	c.channels[0].mtu = 0;
	c.channels[0].trunk[0] = '\0';
	c.channels[0].counters = NULL;
	j = client_call_encode(&c);
	ch = json_array_get(json_object_get(j, "channels"), 0);
	assert_null(json_object_get(ch, "interface"));
	assert_null(json_object_get(ch, "mtu"));
	assert_null(json_object_get(ch, "trunk"));
	json_decref(j);
	round_trip(&c);
	json_decref(counters);
}

/* Sets one field of a good call object (path "channels.N.key" reaches into channel N)
 * to value, or removes it, and expects a refusal naming want. */
static void expect_refused(bool tun, const char *path, json_t *value, const char *want)
{
	struct client_call c, *out = malloc(sizeof *out);
	json_t *counters = json_object(), *j, *obj;
	const char *why = NULL, *key = path;

	if (tun)
		tun_call(&c, counters);
	else
		udp_call(&c);
	j = client_call_encode(&c);
	obj = j;
	if (strncmp(path, "channels.", 9) == 0) {
		obj = json_array_get(json_object_get(j, "channels"), (size_t)(path[9] - '0'));
		key = path + 11;
	}
	if (value)
		json_object_set_new(obj, key, value);
	else
		json_object_del(obj, key);
	memset(out, 0x55, sizeof *out);
	assert_int_equal(client_call_decode(j, out, &why), INSEL_E_BAD_FIELD);
	assert_non_null(why);
	if (!strstr(why, want))
		fail_msg("%s: refused with '%s', expected '%s'", path, why, want);
	assert_int_equal((unsigned char)out->caller[0], 0x55);  /* untouched */
	json_decref(j);
	json_decref(counters);
	free(out);
}

static void call_object_refusals(void **state)
{
	char long_name[CLIENT_CALL_NAME_MAX + 1];

	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	expect_refused(false, "id", NULL, "'id'");
	expect_refused(false, "id", json_string("zz"), "'id'");
	expect_refused(false, "id", json_string("0000000000000000"), "'id'");
	expect_refused(false, "caller", json_integer(1), "'caller'");
	expect_refused(false, "caller", json_string(long_name), "'caller'");
	expect_refused(false, "callee", NULL, "'callee'");
	expect_refused(false, "direction", json_string("sideways"), "'direction'");
	expect_refused(false, "state", json_string("UP!"), "'state'");
	expect_refused(false, "state", json_string(""), "'state'");
	expect_refused(false, "state", json_string("abcdefghijklmnop"), "'state'");
	expect_refused(false, "cipher", json_string("rot13"), "'cipher'");
	expect_refused(false, "compression", json_string("lz4"), "'compression'");
	expect_refused(false, "started", json_string("now"), "'started'");
	expect_refused(false, "started", NULL, "'started'");
	expect_refused(false, "epoch", json_integer(-1), "'epoch'");
	expect_refused(false, "dh_rekeys", NULL, "'epoch'");
	expect_refused(false, "channels", NULL, "'channels'");
	expect_refused(false, "path", json_string("direct"), "'path'");
	expect_refused(false, "path", json_pack("{s:s}", "signalling", "sideways"),
		       "'signalling'");
	expect_refused(false, "path", json_pack("{s:i}", "signalling", 1), "'signalling'");
	expect_refused(false, "path", json_pack("{s:s}", "data", "carrier pigeon"), "'data'");
	expect_refused(false, "path", json_pack("{s:s}", "remote", "198.18.2.2"), "'remote'");
	expect_refused(false, "path", json_pack("{s:i}", "reason", 3), "'reason'");
	expect_refused(false, "path", json_pack("{s:i}", "mtu", 70000), "'mtu'");
	expect_refused(false, "path", json_pack("{s:i}", "mtu", -1), "'mtu'");
	expect_refused(false, "path", json_pack("{s:i, s:s}", "mtu", 1252, "mtu_state", "lost"),
		       "'mtu_state'");
	expect_refused(false, "channels", json_pack("[i]", 5), "'channels'");
	expect_refused(false, "channels.0.kind", json_string("sctp"), "'kind'");
	expect_refused(false, "channels.0.port", json_integer(65536), "'port'");
	expect_refused(false, "channels.0.port", NULL, "'port'");
	expect_refused(false, "channels.0.local", json_string("10.1.0.1"), "'local'");
	expect_refused(false, "channels.0.deliver", json_integer(4), "'deliver'");
	expect_refused(false, "channels.0.bytes_in", json_integer(-5), "'bytes_in'");
	expect_refused(false, "channels.0.bytes_out", NULL, "'bytes_out'");
	expect_refused(false, "channels.1.recv_epoch", json_string("1"), "'recv_epoch'");
	expect_refused(false, "channels.1.send_epoch", NULL, "'send_epoch'");
	expect_refused(false, "channels.1.foreign_lan_sender", json_true(),
		       "'foreign_lan_sender'");
	expect_refused(false, "channels.1.msgs_deflated_out", json_real(1.5),
		       "'msgs_deflated_out'");
	expect_refused(true, "channels.0.local_prefixes", NULL, "'local_prefixes'");
	expect_refused(true, "channels.0.local_prefixes", json_pack("[s]", "10.1.0.1/24"),
		       "'local_prefixes'");
	expect_refused(true, "channels.0.remote_prefixes", json_string("10.2.0.0/24"),
		       "'remote_prefixes'");
	expect_refused(true, "channels.0.interface", json_string("a-name-far-too-long"),
		       "'interface'");
	expect_refused(true, "channels.0.mtu", NULL, "'mtu'");
	expect_refused(true, "channels.0.trunk", json_integer(3), "'trunk'");
	expect_refused(true, "channels.0.counters", json_integer(3), "'counters'");
}

static void messages_with_a_call(void **state)
{
	struct client_call c, *back = malloc(sizeof *back);
	const char *why = NULL;
	json_t *j;

	udp_call(&c);
	j = client_call_reply_encode(7, &c);
	assert_int_equal(msg_id(j), 7);
	assert_true(msg_reply_is_ok(j, NULL, NULL));
	assert_int_equal(client_call_of(j, back, &why), 0);
	assert_calls_equal(&c, back);
	json_decref(j);
	j = client_incoming_encode(&c);
	assert_string_equal(msg_op(j), "incoming");
	assert_int_equal(client_call_of(j, back, &why), 0);
	json_decref(j);
	j = client_call_up_encode(&c);
	assert_string_equal(msg_op(j), "call_up");
	assert_int_equal(msg_id(j), -1);  /* a notice */
	assert_int_equal(client_call_of(j, back, &why), 0);
	json_object_set_new(j, "call", json_string("0123456789abcdef"));
	assert_int_equal(client_call_of(j, back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'call'"));
	json_decref(j);
	free(back);
}

static void calls_reply(void **state)
{
	struct client_call *calls = calloc(2, sizeof *calls), *back = NULL;
	const char *why = NULL;
	size_t n = 99;
	json_t *j;

	udp_call(&calls[0]);
	tun_call(&calls[1], NULL);
	j = client_calls_encode(NULL);
	assert_string_equal(msg_op(j), "calls");
	json_decref(j);
	j = client_calls_reply_encode(3, calls, 2);
	assert_int_equal(json_array_size(json_object_get(j, "calls")), 2);
	assert_int_equal(client_calls_reply_decode(j, &back, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_calls_equal(&calls[0], &back[0]);
	assert_calls_equal(&calls[1], &back[1]);
	free(back);
	/* One bad call spoils the list. */
	json_object_del(json_array_get(json_object_get(j, "calls"), 1), "state");
	assert_int_equal(client_calls_reply_decode(j, &back, &n, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'state'"));
	json_object_set_new(j, "calls", json_object());
	assert_int_equal(client_calls_reply_decode(j, &back, &n, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'calls'"));
	json_decref(j);
	j = client_calls_reply_encode(4, NULL, 0);
	assert_int_equal(client_calls_reply_decode(j, &back, &n, &why), 0);
	assert_int_equal(n, 0);
	free(back);
	json_decref(j);
	free(calls);
}

/* The request's cursor and limit survive encoding; bad ones are refused by name. */
static void calls_request(void **state)
{
	struct client_calls_request r = {.after = 0x0123456789abcdefULL, .limit = 7}, back;
	const char *why = NULL;
	json_t *j = client_calls_encode(&r);

	assert_int_equal(client_calls_decode(j, &back, &why), 0);
	assert_true(back.after == r.after);
	assert_int_equal(back.limit, 7);
	json_object_set_new(j, "limit", json_integer(CLIENT_CALLS_PAGE_MAX + 1));
	assert_int_equal(client_calls_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'limit'"));
	json_object_del(j, "limit");
	json_object_set_new(j, "after", json_string("zz"));
	assert_int_equal(client_calls_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "after"));
	json_decref(j);
	/* An old client's request without either: the first page, the default size. */
	j = client_calls_encode(NULL);
	assert_int_equal(client_calls_decode(j, &back, &why), 0);
	assert_true(back.after == 0);
	assert_int_equal(back.limit, CLIENT_CALLS_PAGE_DEFAULT);
	json_decref(j);
}

/* 10,000 calls (network calls, the biggest objects, with counters) listed page after
 * page as the gateway and the client do: every page fits in a control frame, "next"
 * leads from each page to the following one, and the pages together hold every call
 * once, in order, with a stale one marked. */
#define MANY_CALLS 10000
static void calls_pages(void **state)
{
	struct client_call *calls = calloc(MANY_CALLS, sizeof *calls), *back = NULL;
	const char *why = NULL;
	size_t at = 0, got = 0, pages = 0, n, listed;
	uint64_t next;

	assert_non_null(calls);
	for (size_t i = 0; i < MANY_CALLS; i++) {
		tun_call(&calls[i], NULL);
		calls[i].id = 0x1000 + i;
		calls[i].stale = i % 1000 == 7;
	}
	while (at < MANY_CALLS) {
		size_t limit = CLIENT_CALLS_PAGE_MAX;
		size_t take = MANY_CALLS - at < limit ? MANY_CALLS - at : limit;
		json_t *j = client_calls_page_encode(5, &calls[at], take, at + take < MANY_CALLS,
						     MANY_CALLS, MSG_MAX_DEFAULT - 1024, &listed);
		char *text = json_dumps(j, JSON_COMPACT);

		assert_true(strlen(text) <= MSG_MAX_DEFAULT);
		free(text);
		assert_true(listed > 0 && listed <= take);
		assert_int_equal(json_integer_value(json_object_get(j, "total")), MANY_CALLS);
		assert_int_equal(client_calls_reply_decode(j, &back, &n, &why), 0);
		assert_int_equal(n, listed);
		for (size_t i = 0; i < n; i++) {
			assert_true(back[i].id == calls[at + i].id);
			assert_int_equal(back[i].stale, calls[at + i].stale);
		}
		free(back);
		assert_int_equal(client_calls_next(j, &next, &why), 0);
		at += listed;
		got += n;
		pages++;
		if (at < MANY_CALLS)
			assert_true(next == calls[at - 1].id);
		else
			assert_true(next == 0);
		json_decref(j);
	}
	assert_int_equal(got, MANY_CALLS);
	assert_true(pages > MANY_CALLS / CLIENT_CALLS_PAGE_MAX);  /* the budget cut pages */
	free(calls);
}

static void call_request(void **state)
{
	struct client_call_request r = {0}, back;
	const char *why = NULL;
	char long_name[CLIENT_CALL_NAME_MAX + 1];
	json_t *j;

	strcpy(r.callee, "bob@lan-b");
	r.channels.n = 2;
	r.channels.ports[0] = 5004;
	r.channels.ports[1] = 5005;
	j = client_call_request_encode(&r);
	assert_string_equal(msg_op(j), "call");
	assert_int_equal(client_call_request_decode(j, &back, &why), 0);
	assert_string_equal(back.callee, "bob@lan-b");
	assert_int_equal(back.channels.n, 2);
	assert_false(back.channels.tun);
	assert_int_equal(back.channels.ports[1], 5005);
	assert_int_equal(back.channels.modes[0], NEGOTIATE_DATAGRAM);
	/* A reliable channel (docs/reliable.md). */
	json_decref(j);
	r.channels.modes[1] = NEGOTIATE_ORDERED;
	j = client_call_request_encode(&r);
	assert_int_equal(client_call_request_decode(j, &back, &why), 0);
	assert_int_equal(back.channels.modes[1], NEGOTIATE_ORDERED);
	json_object_set_new(json_array_get(json_object_get(j, "channels"), 1), "reliable",
			    json_string("always"));
	assert_int_equal(client_call_request_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "ordered or unordered"));
	json_object_set_new(json_array_get(json_object_get(j, "channels"), 1), "reliable",
			    json_string("ordered"));
	r.channels.modes[1] = NEGOTIATE_DATAGRAM;
	/* A name too long for any party names no one. */
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	json_object_set_new(j, "callee", json_string(long_name));
	assert_int_equal(client_call_request_decode(j, &back, &why), 0);
	assert_string_equal(back.callee, "");
	/* Refusals, as hostile clients send them. */
	json_object_set_new(j, "callee", json_integer(5));
	assert_int_equal(client_call_request_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'callee'"));
	json_object_set_new(j, "callee", json_string("bob"));
	json_object_set_new(j, "channels", json_array());
	assert_int_equal(client_call_request_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_string_equal(why, "a call needs at least one channel");
	json_object_set_new(j, "channels", json_pack("[{s:s}, {s:s}]", "kind", "tun", "kind",
						     "tun"));
	assert_int_equal(client_call_request_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_string_equal(why, "a tun channel must be the call's only channel");
	json_object_set_new(j, "channels", json_pack("[{s:s, s:i}]", "kind", "udp", "port", 0));
	assert_int_equal(client_call_request_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'port'"));
	json_object_del(j, "channels");
	assert_int_equal(client_call_request_decode(j, &back, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'channels'"));
	json_decref(j);
	/* A network call. */
	memset(&r.channels, 0, sizeof r.channels);
	r.channels.tun = true;
	r.channels.n = 1;
	j = client_call_request_encode(&r);
	assert_string_equal(str(json_array_get(json_object_get(j, "channels"), 0), "kind"),
			    "tun");
	assert_int_equal(client_call_request_decode(j, &back, &why), 0);
	assert_true(back.channels.tun && back.channels.n == 1);
	json_decref(j);
}

static void listen_hangup_answer_ended(void **state)
{
	struct client_call_ended e = {.call_id = 0xfedcba9876543210ULL}, eback;
	struct client_hangup h;
	const char *why = NULL;
	bool tun = true;
	json_t *j;

	j = client_listen_encode(false);
	assert_null(json_object_get(j, "tun"));
	assert_int_equal(client_listen_decode(j, &tun, &why), 0);
	assert_false(tun);
	json_decref(j);
	j = client_listen_encode(true);
	assert_int_equal(client_listen_decode(j, &tun, &why), 0);
	assert_true(tun);
	json_object_set_new(j, "tun", json_string("yes"));
	assert_int_equal(client_listen_decode(j, &tun, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'tun'"));
	json_decref(j);

	client_hangup_of("0123456789abcdef", &h);
	j = client_hangup_encode(&h);
	assert_string_equal(msg_op(j), "hangup");
	assert_string_equal(str(j, "call"), "0123456789abcdef");
	memset(&h, 0x55, sizeof h);
	assert_int_equal(client_hangup_decode(j, &h, &why), 0);
	assert_string_equal(h.call, "0123456789abcdef");
	json_object_set_new(j, "call", json_string("zz"));  /* names no call */
	assert_int_equal(client_hangup_decode(j, &h, &why), 0);
	assert_string_equal(h.call, "");
	json_object_set_new(j, "call", json_integer(1));
	assert_int_equal(client_hangup_decode(j, &h, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'call'"));
	json_decref(j);

	j = client_answer_encode(11, true);
	assert_int_equal(msg_id(j), 11);
	assert_true(client_answer_accepts(j));
	json_object_set_new(j, "accept", json_string("true"));
	assert_false(client_answer_accepts(j));
	json_decref(j);
	j = client_answer_encode(12, false);
	assert_false(client_answer_accepts(j));
	json_decref(j);

	strcpy(e.reason, "revoked");
	j = client_call_ended_encode(&e);
	assert_string_equal(msg_op(j), "call_ended");
	assert_string_equal(str(j, "call"), "fedcba9876543210");
	assert_int_equal(client_call_ended_decode(j, &eback, &why), 0);
	assert_true(eback.call_id == e.call_id);
	assert_string_equal(eback.reason, "revoked");
	json_object_set_new(j, "reason", json_string("a reason far longer than thirty-one"));
	assert_int_equal(client_call_ended_decode(j, &eback, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'reason'"));
	json_object_set_new(j, "call", json_string("zz"));
	assert_int_equal(client_call_ended_decode(j, &eback, &why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "'call'"));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(call_object_udp),
		cmocka_unit_test(call_object_tun),
		cmocka_unit_test(call_object_refusals),
		cmocka_unit_test(messages_with_a_call),
		cmocka_unit_test(calls_reply),
		cmocka_unit_test(calls_request),
		cmocka_unit_test(calls_pages),
		cmocka_unit_test(call_request),
		cmocka_unit_test(listen_hangup_answer_ended),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
