/* Ephemeral key exchanges within a call (see rekey.h and docs/frames.md section 4):
 * X25519 through nettle (GnuTLS 3.7 has no public ECDH call; nettle is the library its
 * own X25519 runs on), the HKDF key schedule, the initiator's and responder's state, and
 * the validated codecs of the messages that carry them. */
#include "rekey.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/curve25519.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "hex.h"
#include "msg_get.h"
#include "rand.h"

#define KEYS_PER_CHANNEL (2 * SEC_KEY_LEN)

/* ---- X25519 ---- */

void rekey_x25519_public(const uint8_t priv[32], uint8_t pub[32])
{
	curve25519_mul_g(pub, priv);  /* clamps the scalar as RFC 7748 says */
}

void rekey_x25519_keypair(uint8_t priv[32], uint8_t pub[32])
{
	rand_key(priv, 32);
	rekey_x25519_public(priv, pub);
}

int rekey_x25519_shared(const uint8_t priv[32], const uint8_t peer_pub[32], uint8_t out[32])
{
	uint8_t zero = 0;

	curve25519_mul(out, priv, peer_pub);
	for (size_t i = 0; i < 32; i++)
		zero |= out[i];
	if (zero == 0) {
		/* A public key of small order forces the secret: refuse it (RFC 7748 6.1). */
		secure_wipe(out, 32);
		return INSEL_E_CRYPTO;
	}
	return 0;
}

/* ---- the key schedule ---- */

static void split_keys(const uint8_t *okm, bool is_caller, size_t n, struct rekey_keys *keys)
{
	keys->nchannels = n;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *to_callee = okm + i * KEYS_PER_CHANNEL;
		const uint8_t *to_caller = to_callee + SEC_KEY_LEN;

		memcpy(keys->send[i], is_caller ? to_callee : to_caller, SEC_KEY_LEN);
		memcpy(keys->recv[i], is_caller ? to_caller : to_callee, SEC_KEY_LEN);
	}
}

int rekey_derive(const uint8_t chain_prev[REKEY_CHAIN_LEN], const uint8_t dh[32],
		 uint64_t call_id, uint32_t epoch, const uint8_t init_pub[32],
		 const uint8_t resp_pub[32], bool is_caller, size_t nchannels,
		 uint8_t chain_out[REKEY_CHAIN_LEN], struct rekey_keys *keys)
{
	uint8_t salt[REKEY_CHAIN_LEN], ikm[32], prk[32];
	uint8_t info[sizeof REKEY_LABEL - 1 + 8 + 4 + 2 * REKEY_PUBLIC_LEN];
	uint8_t okm[REKEY_CHAIN_LEN + SEC_MAX_CHANNELS * KEYS_PER_CHANNEL];
	gnutls_datum_t salt_d = {salt, sizeof salt}, ikm_d = {ikm, sizeof ikm};
	gnutls_datum_t prk_d = {prk, sizeof prk}, info_d = {info, sizeof info};
	size_t len = REKEY_CHAIN_LEN + nchannels * KEYS_PER_CHANNEL;
	struct buf_writer w;
	int rc;

	if (nchannels == 0 || nchannels > SEC_MAX_CHANNELS)
		return INSEL_E_BAD_FIELD;
	memcpy(salt, chain_prev, sizeof salt);
	memcpy(ikm, dh, sizeof ikm);
	bw_init(&w, info, sizeof info);
	bw_bytes(&w, REKEY_LABEL, sizeof REKEY_LABEL - 1);
	bw_u64(&w, call_id);
	bw_u32(&w, epoch);
	bw_bytes(&w, init_pub, REKEY_PUBLIC_LEN);
	bw_bytes(&w, resp_pub, REKEY_PUBLIC_LEN);
	rc = gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &ikm_d, &salt_d, prk);
	if (rc == 0)
		rc = gnutls_hkdf_expand(GNUTLS_MAC_SHA256, &prk_d, &info_d, okm, len);
	if (rc == 0) {
		memcpy(chain_out, okm, REKEY_CHAIN_LEN);
		keys->epoch = epoch;
		split_keys(okm + REKEY_CHAIN_LEN, is_caller, nchannels, keys);
	}
	secure_wipe(salt, sizeof salt);
	secure_wipe(ikm, sizeof ikm);
	secure_wipe(prk, sizeof prk);
	secure_wipe(okm, sizeof okm);
	return rc < 0 ? INSEL_E_CRYPTO : 0;
}

void rekey_keys_wipe(struct rekey_keys *keys)
{
	secure_wipe(keys, sizeof *keys);
}

/* ---- the schedule ---- */

static uint64_t clamp_interval(uint64_t ms)
{
	if (ms == 0)
		return REKEY_DEFAULT_INTERVAL_MS;
	if (ms < REKEY_MIN_INTERVAL_MS)
		return REKEY_MIN_INTERVAL_MS;
	return ms > REKEY_MAX_INTERVAL_MS ? REKEY_MAX_INTERVAL_MS : ms;
}

void rekey_init(struct rekey *r, bool is_caller, uint64_t call_id, size_t nchannels,
		const uint8_t chain0[REKEY_CHAIN_LEN], uint64_t interval_ms, uint64_t now_ms)
{
	memset(r, 0, sizeof *r);
	r->is_caller = is_caller;
	r->call_id = call_id;
	r->nchannels = nchannels;
	r->interval_ms = clamp_interval(interval_ms);
	memcpy(r->chain, chain0, REKEY_CHAIN_LEN);
	r->committed_ms = now_ms;
}

void rekey_wipe(struct rekey *r)
{
	secure_wipe(r, sizeof *r);
}

/* When our side should start: the caller on its interval, the callee a quarter later
 * (only if the caller's did not come: each commit restarts both clocks), both at once
 * when an auxiliary asked. */
static uint64_t due_ms(const struct rekey *r)
{
	uint64_t due = r->committed_ms + r->interval_ms;

	if (r->due_now)
		due = 0;
	else if (!r->is_caller)
		due += r->interval_ms / 4;
	if (r->tentative && !r->exchanging && due < r->tentative_ms + REKEY_EXCHANGE_TIMEOUT_MS)
		due = r->tentative_ms + REKEY_EXCHANGE_TIMEOUT_MS;  /* the peer's, still coming */
	return due > r->retry_ms ? due : r->retry_ms;
}

int rekey_tick(struct rekey *r, uint64_t now_ms, uint64_t *next_ms)
{
	uint64_t overdue = r->committed_ms + r->interval_ms + REKEY_LATE_MS, next = overdue;
	int events = 0;

	if (now_ms >= overdue)
		events |= REKEY_OVERDUE;
	if (!r->exchanging && !r->answering) {
		uint64_t due = due_ms(r);

		if (now_ms >= due)
			events |= REKEY_START;
		else if (due < next)
			next = due;
	}
	if (next_ms)
		*next_ms = next > now_ms ? next : now_ms + REKEY_RETRY_MS;
	return events;
}

void rekey_request_early(struct rekey *r)
{
	r->due_now = true;
}

void rekey_begin(struct rekey *r, uint64_t now_ms, uint32_t *epoch, uint8_t pub[32],
		 uint64_t *seq)
{
	rekey_x25519_keypair(r->priv, r->pub);
	r->exchanging = true;
	r->answered = false;
	r->due_now = false;
	r->started_ms = now_ms;
	r->exchange_seq++;
	*epoch = r->epoch + 1;
	*seq = r->exchange_seq;
	memcpy(pub, r->pub, REKEY_PUBLIC_LEN);
}

static void set_tentative(struct rekey *r, const uint8_t chain[REKEY_CHAIN_LEN],
			  uint64_t now_ms)
{
	memcpy(r->tentative_chain, chain, REKEY_CHAIN_LEN);
	r->tentative = true;
	r->tentative_ms = now_ms;
}

static void drop_tentative(struct rekey *r)
{
	secure_wipe(r->tentative_chain, sizeof r->tentative_chain);
	r->tentative = false;
}

static void end_exchange(struct rekey *r)
{
	secure_wipe(r->priv, sizeof r->priv);
	r->exchanging = false;
	r->answered = false;
}

int rekey_finish(struct rekey *r, uint64_t seq, const uint8_t peer_pub[32],
		 struct rekey_keys *keys)
{
	uint8_t dh[32], chain[REKEY_CHAIN_LEN];
	int rc;

	if (!r->exchanging || r->answered || seq != r->exchange_seq)
		return INSEL_E_NOT_FOUND;
	rc = rekey_x25519_shared(r->priv, peer_pub, dh);
	secure_wipe(r->priv, sizeof r->priv);
	if (rc == 0)
		rc = rekey_derive(r->chain, dh, r->call_id, r->epoch + 1, r->pub, peer_pub,
				  r->is_caller, r->nchannels, chain, keys);
	if (rc == 0) {
		set_tentative(r, chain, r->started_ms);
		r->answered = true;
	}
	secure_wipe(dh, sizeof dh);
	secure_wipe(chain, sizeof chain);
	return rc;
}

void rekey_abandon(struct rekey *r, uint64_t seq, uint64_t now_ms)
{
	if (!r->exchanging || seq != r->exchange_seq)
		return;
	if (r->answered)
		drop_tentative(r);
	end_exchange(r);
	r->failures++;
	r->retry_ms = now_ms + REKEY_RETRY_MS;
}

int rekey_respond(struct rekey *r, uint32_t epoch, const uint8_t peer_pub[32],
		  uint64_t now_ms, uint8_t pub[32], struct rekey_keys *keys)
{
	uint8_t priv[32], dh[32], chain[REKEY_CHAIN_LEN];
	int rc;

	if (r->answering)
		return INSEL_E_BUSY;
	if (r->exchanging && (r->is_caller || r->answered))
		return INSEL_E_CONFLICT;
	if (r->exchanges && now_ms < r->committed_ms + REKEY_MIN_SPACING_MS)
		return INSEL_E_LIMIT;
	if (epoch != r->epoch + 1)
		return INSEL_E_REPLAY;
	rekey_x25519_keypair(priv, pub);
	rc = rekey_x25519_shared(priv, peer_pub, dh);
	secure_wipe(priv, sizeof priv);
	if (rc == 0)
		rc = rekey_derive(r->chain, dh, r->call_id, epoch, peer_pub, pub, r->is_caller,
				  r->nchannels, chain, keys);
	if (rc == 0) {
		if (r->exchanging)
			end_exchange(r);  /* the caller's exchange wins over ours */
		set_tentative(r, chain, now_ms);
		r->answering = true;
	}
	secure_wipe(dh, sizeof dh);
	secure_wipe(chain, sizeof chain);
	return rc;
}

int rekey_commit(struct rekey *r, uint32_t epoch, uint64_t now_ms)
{
	if (!r->tentative || epoch != r->epoch + 1)
		return INSEL_E_NOT_FOUND;
	memcpy(r->chain, r->tentative_chain, REKEY_CHAIN_LEN);
	drop_tentative(r);
	if (r->exchanging)
		end_exchange(r);
	r->epoch = epoch;
	r->committed_ms = now_ms;
	r->retry_ms = 0;
	r->exchanges++;
	return 0;
}

void rekey_answered(struct rekey *r)
{
	r->answering = false;
}

bool rekey_aux_owes(const struct rekey *r)
{
	return r->answering || (r->exchanging && r->answered);
}

void rekey_drop_tentative(struct rekey *r)
{
	if (r->tentative && !r->exchanging)
		drop_tentative(r);
	r->answering = false;
	r->failures++;
}

/* ---- messages ---- */

static int get_hex32(const json_t *j, const char *key, uint8_t out[32], bool wipe)
{
	const char *text;
	int rc;

	if ((rc = msg_get_str(j, key, &text)) != 0)
		return rc;
	rc = strlen(text) == 64 && hex_decode(text, 64, out, 32) == 0
		     ? 0 : msg_bad_field(key, "must be 64 hex digits");
	if (wipe)
		secure_wipe((char *)text, strlen(text));
	return rc;
}

int rekey_public_from_json(const json_t *j, uint32_t *epoch, uint8_t pub[32])
{
	json_int_t e;
	int rc;

	if (epoch) {
		if ((rc = msg_get_int(j, "epoch", 1, UINT32_MAX, &e)) != 0)
			return rc;
		*epoch = (uint32_t)e;
	}
	return get_hex32(j, "public", pub, false);
}

int rekey_install_from_json(const json_t *j, size_t nchannels, struct rekey_keys *keys,
			    bool *send_now)
{
	json_t *channels;
	json_int_t e;
	int rc;

	memset(keys, 0, sizeof *keys);
	rc = msg_get_int(j, "epoch", 1, UINT32_MAX, &e);
	rc = rc ? rc : msg_get_bool_opt(j, "send_now", false, send_now);
	rc = rc ? rc : msg_get_array(j, "channels", SEC_MAX_CHANNELS, &channels);
	if (rc == 0 && json_array_size(channels) != nchannels)
		rc = msg_bad_field("channels", "must have one entry per channel of the call");
	for (size_t i = 0; rc == 0 && i < nchannels; i++) {
		const json_t *ch = json_array_get(channels, i);

		if (!json_is_object(ch))
			rc = msg_bad_field("channels", "must hold objects");
		rc = rc ? rc : get_hex32(ch, "send_key", keys->send[i], true);
		rc = rc ? rc : get_hex32(ch, "recv_key", keys->recv[i], true);
	}
	/* Key strings left in the request are wiped even when a later field fails. */
	for (size_t i = 0; rc && json_is_array(json_object_get(j, "channels")) &&
			   i < json_array_size(json_object_get(j, "channels")); i++) {
		const json_t *ch = json_array_get(json_object_get(j, "channels"), i);
		const char *names[] = {"send_key", "recv_key"};

		for (size_t k = 0; k < 2; k++) {
			const char *text = json_string_value(json_object_get(ch, names[k]));

			if (text)
				secure_wipe((char *)text, strlen(text));
		}
	}
	if (rc) {
		rekey_keys_wipe(keys);
		return rc;
	}
	keys->epoch = (uint32_t)e;
	keys->nchannels = nchannels;
	return 0;
}

int rekey_install_to_json(const struct rekey_keys *keys, bool send_now, json_t *req)
{
	json_t *channels = json_array();
	char send[2 * SEC_KEY_LEN + 1], recv[2 * SEC_KEY_LEN + 1];
	int rc = channels ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < keys->nchannels; i++) {
		hex_encode(keys->send[i], SEC_KEY_LEN, send);
		hex_encode(keys->recv[i], SEC_KEY_LEN, recv);
		rc = json_array_append_new(channels, json_pack("{s:s, s:s}", "send_key", send,
								 "recv_key", recv));
	}
	secure_wipe(send, sizeof send);
	secure_wipe(recv, sizeof recv);
	if (rc) {
		json_decref(channels);
		return -ENOMEM;
	}
	rc = json_object_set_new(req, "epoch", json_integer(keys->epoch));
	rc |= json_object_set_new(req, "send_now", json_boolean(send_now));
	rc |= json_object_set_new(req, "channels", channels);
	return rc ? -ENOMEM : 0;
}
