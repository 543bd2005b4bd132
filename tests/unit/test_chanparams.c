/* Unit tests for channel parameters: cipher/compression names, the JSON hand-over
 * (round trip with hex keys) and its rejection of malformed input, and wiping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "chanparams.h"
#include "err.h"
#include "msg.h"

static void sample(struct sec_channel_params *p)
{
	memset(p, 0, sizeof *p);
	p->call_id = 0xfedcba9876543210ULL;
	p->channel = 1;
	p->cipher = SEC_CIPHER_CHACHA20POLY1305;
	p->compress = SEC_COMPRESS_NONE;
	p->local_session = 0xffffffffu;
	p->remote_session = 7;
	for (int i = 0; i < SEC_KEY_LEN; i++) {
		p->send_key[i] = (uint8_t)(i * 9);
		p->recv_key[i] = (uint8_t)(255 - i);
	}
	assert_int_equal(ip_endpoint_parse("[2001:db8::5]:40000", &p->peer), 0);
	p->mtu = 1280;
	p->rekey_after_frames = 1ULL << 40;
	p->rekey_after_ms = 60000;
	p->keepalive_ms = 3000;
	p->dead_after_ms = 30000;
}

static void names(void **state)
{
	enum sec_compress c = SEC_COMPRESS_DEFLATE;

	assert_string_equal(sec_cipher_name(SEC_CIPHER_AES256GCM), "aes-256-gcm");
	assert_string_equal(sec_cipher_name(SEC_CIPHER_CHACHA20POLY1305), "chacha20-poly1305");
	assert_int_equal(sec_cipher_from_name("aes-256-gcm"), SEC_CIPHER_AES256GCM);
	assert_int_equal(sec_cipher_from_name("chacha20-poly1305"),
			 SEC_CIPHER_CHACHA20POLY1305);
	assert_int_equal(sec_cipher_from_name("rot13"), SEC_CIPHER_NONE);
	assert_int_equal(sec_cipher_from_name(NULL), SEC_CIPHER_NONE);
	assert_string_equal(sec_compress_name(SEC_COMPRESS_NONE), "none");
	assert_string_equal(sec_compress_name(SEC_COMPRESS_DEFLATE), "deflate");
	assert_int_equal(sec_compress_from_name("none", &c), 0);
	assert_int_equal(c, SEC_COMPRESS_NONE);
	assert_int_equal(sec_compress_from_name("lz4", &c), INSEL_E_NOT_FOUND);
}

static void json_round_trip(void **state)
{
	struct sec_channel_params p, q;
	json_t *j;

	sample(&p);
	j = chanparams_to_json(&p);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "call_id")),
			    "fedcba9876543210");
	assert_string_equal(json_string_value(json_object_get(j, "send_key")),
			    "0009121b242d363f48515a636c757e879099a2abb4bdc6cfd8e1eaf3fc050e17");
	memset(&q, 0xaa, sizeof q);
	assert_int_equal(chanparams_from_json(j, &q), 0);
	assert_true(q.call_id == p.call_id);
	assert_int_equal(q.channel, 1);
	assert_int_equal(q.cipher, p.cipher);
	assert_int_equal(q.compress, p.compress);
	assert_int_equal(q.local_session, p.local_session);
	assert_int_equal(q.remote_session, p.remote_session);
	assert_memory_equal(q.send_key, p.send_key, SEC_KEY_LEN);
	assert_memory_equal(q.recv_key, p.recv_key, SEC_KEY_LEN);
	assert_true(ip_addr_equal(&q.peer.addr, &p.peer.addr));
	assert_int_equal(q.peer.port, 40000);
	assert_int_equal(q.mtu, 1280);
	assert_true(q.rekey_after_frames == 1ULL << 40);
	assert_int_equal(q.rekey_after_ms, 60000);
	assert_int_equal(q.keepalive_ms, 3000);
	assert_int_equal(q.dead_after_ms, 30000);
	json_decref(j);
	chanparams_wipe(&p);
	chanparams_wipe(&q);
	for (int i = 0; i < SEC_KEY_LEN; i++)
		assert_int_equal(q.send_key[i] | q.recv_key[i], 0);
}

/* Sets one field of a good hand-over to a bad value and expects a refusal naming it. */
static void expect_refused(const char *key, json_t *value)
{
	struct sec_channel_params p, q;
	json_t *j;

	sample(&p);
	j = chanparams_to_json(&p);
	if (value)
		json_object_set_new(j, key, value);
	else
		json_object_del(j, key);
	memset(&q, 0x55, sizeof q);
	assert_int_equal(chanparams_from_json(j, &q), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(msg_field_error(), key));
	assert_int_equal(q.local_session, 0x55555555u);  /* out untouched on failure */
	json_decref(j);
}

static void malformed_json_refused(void **state)
{
	struct sec_channel_params q;
	json_t *arr = json_array();

	expect_refused("send_key", NULL);
	expect_refused("send_key", json_string("00"));
	expect_refused("recv_key", json_string(
		"zz09121b242d363f48515a636c757e87909aa3acb5bec7d0d9e2ebf4fd060f18"));
	expect_refused("recv_key", json_integer(5));
	expect_refused("call_id", json_string("123"));
	expect_refused("cipher", json_string("des"));
	expect_refused("compress", json_string("zstd"));
	expect_refused("peer", json_string("not an endpoint"));
	expect_refused("local_session", json_integer(0));
	expect_refused("remote_session", json_integer(0x100000000LL));
	expect_refused("channel", json_integer(SEC_MAX_CHANNELS));
	expect_refused("mtu", json_integer(70000));
	expect_refused("keepalive_ms", json_string("soon"));
	assert_int_equal(chanparams_from_json(arr, &q), INSEL_E_BAD_FIELD);
	json_decref(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(json_round_trip),
		cmocka_unit_test(malformed_json_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
