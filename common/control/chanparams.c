/* Channel parameters: cipher and compression names, the JSON form in which a secondary
 * hands a negotiated channel to its auxiliary (keys as hex), and wiping (see chanparams.h). */
#include "chanparams.h"

#include <string.h>

#include "buf.h"
#include "err.h"
#include "hex.h"
#include "msg_get.h"
#include "rand.h"

struct name_entry {
	int value;
	const char *name;
};

static const struct name_entry cipher_names[] = {
	{SEC_CIPHER_AES256GCM, "aes-256-gcm"},
	{SEC_CIPHER_CHACHA20POLY1305, "chacha20-poly1305"},
};

static const struct name_entry compress_names[] = {
	{SEC_COMPRESS_NONE, "none"},
	{SEC_COMPRESS_DEFLATE, "deflate"},
};

#define N_ENTRIES(t) (sizeof(t) / sizeof((t)[0]))

static const char *name_of(const struct name_entry *t, size_t n, int value)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].value == value)
			return t[i].name;
	return NULL;
}

static int value_of(const struct name_entry *t, size_t n, const char *name, int *out)
{
	for (size_t i = 0; name && i < n; i++)
		if (strcmp(t[i].name, name) == 0) {
			*out = t[i].value;
			return 0;
		}
	return INSEL_E_NOT_FOUND;
}

const char *sec_cipher_name(enum sec_cipher c)
{
	const char *name = name_of(cipher_names, N_ENTRIES(cipher_names), (int)c);

	return name ? name : "none";
}

enum sec_cipher sec_cipher_from_name(const char *name)
{
	int v;

	if (value_of(cipher_names, N_ENTRIES(cipher_names), name, &v) != 0)
		return SEC_CIPHER_NONE;
	return (enum sec_cipher)v;
}

const char *sec_compress_name(enum sec_compress c)
{
	const char *name = name_of(compress_names, N_ENTRIES(compress_names), (int)c);

	return name ? name : "unknown";
}

int sec_compress_from_name(const char *name, enum sec_compress *out)
{
	int v;

	if (value_of(compress_names, N_ENTRIES(compress_names), name, &v) != 0)
		return INSEL_E_NOT_FOUND;
	*out = (enum sec_compress)v;
	return 0;
}

/* ---- JSON ---- */

json_t *chanparams_to_json(const struct sec_channel_params *p)
{
	char call[ID_STRLEN], peer[IP_STRLEN];
	char send_hex[2 * SEC_KEY_LEN + 1], recv_hex[2 * SEC_KEY_LEN + 1];
	json_t *j;

	hex_encode(p->send_key, SEC_KEY_LEN, send_hex);
	hex_encode(p->recv_key, SEC_KEY_LEN, recv_hex);
	j = json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I}",
		      "call_id", id_format(p->call_id, call),
		      "channel", (int)p->channel,
		      "cipher", sec_cipher_name(p->cipher),
		      "compress", sec_compress_name(p->compress),
		      "local_session", (json_int_t)p->local_session,
		      "remote_session", (json_int_t)p->remote_session,
		      "send_key", send_hex,
		      "recv_key", recv_hex,
		      "peer", ip_endpoint_format(&p->peer, peer, sizeof peer),
		      "mtu", (int)p->mtu,
		      "rekey_after_frames", (json_int_t)p->rekey_after_frames,
		      "rekey_after_ms", (json_int_t)p->rekey_after_ms,
		      "keepalive_ms", (json_int_t)p->keepalive_ms,
		      "dead_after_ms", (json_int_t)p->dead_after_ms);
	secure_wipe(send_hex, sizeof send_hex);
	secure_wipe(recv_hex, sizeof recv_hex);
	if (j && p->external_rekey)
		json_object_set_new(j, "external_rekey", json_true());
	return j;
}

/* A string field whose text does not parse. */
static int bad_content(const char *key)
{
	return msg_bad_field(key, "has a value that does not parse");
}

static int get_key(const json_t *j, const char *key, uint8_t out[SEC_KEY_LEN])
{
	const char *hex;
	int rc;

	if ((rc = msg_get_str(j, key, &hex)) != 0)
		return rc;
	if (hex_decode(hex, strlen(hex), out, SEC_KEY_LEN) != 0)
		return bad_content(key);
	return 0;
}

static int get_names(const json_t *j, struct sec_channel_params *p)
{
	const char *call, *cipher, *compress, *peer;
	int rc;

	if ((rc = msg_get_str(j, "call_id", &call)) != 0)
		return rc;
	if (id_parse(call, &p->call_id) != 0)
		return bad_content("call_id");
	if ((rc = msg_get_str(j, "cipher", &cipher)) != 0)
		return rc;
	if ((p->cipher = sec_cipher_from_name(cipher)) == SEC_CIPHER_NONE)
		return bad_content("cipher");
	if ((rc = msg_get_str_opt(j, "compress", "none", &compress)) != 0)
		return rc;
	if (sec_compress_from_name(compress, &p->compress) != 0)
		return bad_content("compress");
	if ((rc = msg_get_str(j, "peer", &peer)) != 0)
		return rc;
	if (ip_endpoint_parse(peer, &p->peer) != 0)
		return bad_content("peer");
	return 0;
}

static int get_numbers(const json_t *j, struct sec_channel_params *p)
{
	json_int_t ch, ls, rs, mtu, frames, rekey_ms, ka_ms, dead_ms;
	bool external = false;
	int rc = 0;

	rc = rc ? rc : msg_get_int(j, "channel", 0, SEC_MAX_CHANNELS - 1, &ch);
	rc = rc ? rc : msg_get_int(j, "local_session", 1, UINT32_MAX, &ls);
	rc = rc ? rc : msg_get_int(j, "remote_session", 1, UINT32_MAX, &rs);
	rc = rc ? rc : msg_get_int_opt(j, "mtu", 0, UINT16_MAX, 0, &mtu);
	rc = rc ? rc : msg_get_int_opt(j, "rekey_after_frames", 0, INT64_MAX, 0, &frames);
	rc = rc ? rc : msg_get_int_opt(j, "rekey_after_ms", 0, UINT32_MAX, 0, &rekey_ms);
	rc = rc ? rc : msg_get_int_opt(j, "keepalive_ms", 0, UINT32_MAX, 0, &ka_ms);
	rc = rc ? rc : msg_get_int_opt(j, "dead_after_ms", 0, UINT32_MAX, 0, &dead_ms);
	rc = rc ? rc : msg_get_bool_opt(j, "external_rekey", false, &external);
	if (rc)
		return rc;
	p->channel = (uint8_t)ch;
	p->local_session = (uint32_t)ls;
	p->remote_session = (uint32_t)rs;
	p->mtu = (uint16_t)mtu;
	p->rekey_after_frames = (uint64_t)frames;
	p->rekey_after_ms = (uint32_t)rekey_ms;
	p->keepalive_ms = (uint32_t)ka_ms;
	p->dead_after_ms = (uint32_t)dead_ms;
	p->external_rekey = external;
	return 0;
}

int chanparams_from_json(const json_t *j, struct sec_channel_params *out)
{
	struct sec_channel_params p;
	int rc;

	memset(&p, 0, sizeof p);
	rc = get_names(j, &p);
	rc = rc ? rc : get_numbers(j, &p);
	rc = rc ? rc : get_key(j, "send_key", p.send_key);
	rc = rc ? rc : get_key(j, "recv_key", p.recv_key);
	if (rc == 0)
		*out = p;
	chanparams_wipe(&p);
	return rc;
}

void chanparams_wipe(struct sec_channel_params *p)
{
	secure_wipe(p->send_key, sizeof p->send_key);
	secure_wipe(p->recv_key, sizeof p->recv_key);
}

bool chanparams_equal(const struct sec_channel_params *a, const struct sec_channel_params *b)
{
	return a->call_id == b->call_id && a->channel == b->channel && a->cipher == b->cipher &&
	       a->compress == b->compress && a->local_session == b->local_session &&
	       a->remote_session == b->remote_session &&
	       memcmp(a->send_key, b->send_key, SEC_KEY_LEN) == 0 &&
	       memcmp(a->recv_key, b->recv_key, SEC_KEY_LEN) == 0 &&
	       ip_addr_equal(&a->peer.addr, &b->peer.addr) && a->peer.port == b->peer.port &&
	       a->mtu == b->mtu && a->rekey_after_frames == b->rekey_after_frames &&
	       a->rekey_after_ms == b->rekey_after_ms && a->keepalive_ms == b->keepalive_ms &&
	       a->dead_after_ms == b->dead_after_ms && a->external_rekey == b->external_rekey;
}
