/* Per-call channel negotiation (see negotiate.h): offer and answer to and from JSON with
 * every field validated, the callee's choice, and key derivation from the TLS exporter. */
#include "negotiate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "hex.h"
#include "msg_codec.h"
#include "msg_get.h"
#include "rand.h"
#include "stun.h"
#include "wire_errors.h"

#define KEYS_PER_CHANNEL (2 * SEC_KEY_LEN)

void negotiate_prefs_default(struct negotiate_prefs *p)
{
	memset(p, 0, sizeof *p);
	p->ciphers[p->nciphers++] = SEC_CIPHER_AES256GCM;
	p->ciphers[p->nciphers++] = SEC_CIPHER_CHACHA20POLY1305;
	p->compress[p->ncompress++] = SEC_COMPRESS_NONE;
}

static bool session_taken(const uint32_t *ids, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

void negotiate_side_random(struct negotiate_side *s, size_t n)
{
	rand_nonce(s->nonce, sizeof s->nonce);
	memset(s->sessions, 0, sizeof s->sessions);
	memset(s->cand, 0, sizeof s->cand);
	s->ncand = 0;
	s->probe_space = false;
	for (size_t i = 0; i < n && i < SEC_MAX_CHANNELS; i++) {
		uint32_t id;

		do
			id = rand_id32();
		while (id == STUN_MAGIC_COOKIE || session_taken(s->sessions, i, id));
		s->sessions[i] = id;
	}
}

static const char *const mode_names[] = {"datagram", "ordered", "unordered"};

const char *negotiate_mode_name(enum negotiate_mode m)
{
	return (unsigned)m < sizeof mode_names / sizeof mode_names[0] ? mode_names[m] : "?";
}

int negotiate_mode_from_name(const char *name, enum negotiate_mode *out)
{
	for (size_t i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++) {
		if (strcmp(name, mode_names[i]) == 0) {
			*out = (enum negotiate_mode)i;
			return 0;
		}
	}
	return -1;
}

/* ---- small codecs ---- */

static json_t *name_list(const int *values, size_t n, bool cipher)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(cipher ? sec_cipher_name((enum sec_cipher)values[i])
							    : sec_compress_name((enum sec_compress)values[i])));
	return a;
}

static json_t *endpoint_json(const struct ip_endpoint *e)
{
	char text[IP_STRLEN];

	return json_string(ip_endpoint_format(e, text, sizeof text));
}

/* ---- field parsers (each writes a sentence on failure) ---- */

static int get_call(const json_t *j, uint64_t *out, char *err, size_t errlen)
{
	const char *s;

	if (msg_get_str(j, "call", &s))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	if (id_parse(s, out) || *out == 0)
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			   "field 'call' must be 16 hex digits, not all zero");
	return 0;
}

static int get_nonce(const json_t *j, uint8_t *out, char *err, size_t errlen)
{
	const char *s;

	if (msg_get_str(j, "nonce", &s))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	if (hex_decode(s, strlen(s), out, NEGOTIATE_NONCE_LEN))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "field 'nonce' must be %d hex digits",
			   2 * NEGOTIATE_NONCE_LEN);
	return 0;
}

static int get_endpoint(const json_t *j, struct ip_endpoint *out, char *err, size_t errlen)
{
	const char *s;

	if (msg_get_str(j, "endpoint", &s))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	if (ip_endpoint_parse(s, out) || out->port == 0)
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			   "field 'endpoint' must be ADDRESS:PORT with a non-zero port");
	return 0;
}

/* "candidates", optional: without it (or with no kind this build knows), the side has one
 * host candidate at its endpoint, which must be parsed first. */
static int get_candidates(const json_t *j, struct negotiate_side *side, char *err,
			  size_t errlen)
{
	const json_t *list = json_object_get(j, "candidates");
	char why[NEGOTIATE_ERR_MAX - 32];

	side->ncand = 0;
	if (list && candidates_from_json(list, side->cand, CAND_MAX, &side->ncand, why,
					 sizeof why))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "field 'candidates': %s", why);
	if (side->ncand == 0) {
		memset(&side->cand[0], 0, sizeof side->cand[0]);
		side->cand[0].kind = CAND_HOST;
		side->cand[0].ep = side->endpoint;
		side->ncand = 1;
	}
	return 0;
}

/* Adds "candidates" when the side has any; obj is freed on failure. */
static json_t *with_candidates(json_t *obj, const struct negotiate_side *side)
{
	if (obj && side->ncand &&
	    json_object_set_new(obj, "candidates", candidates_to_json(side->cand, side->ncand))) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static int get_session(const json_t *ch, size_t i, uint32_t *out, char *err, size_t errlen)
{
	json_int_t v;

	if (msg_get_int(ch, "session", 1, UINT32_MAX, &v))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "channel %zu: %s", i, msg_field_error());
	*out = (uint32_t)v;
	return 0;
}

/* The "channels" array: 1..SEC_MAX_CHANNELS objects with distinct session ids; ports
 * only when with_ports. Returns the count through *n. */
/* A channel's optional "reliable" word: absent is a datagram channel; a word this build
 * does not know is refused (a newer mode must not silently become datagrams). */
static int get_mode(const json_t *ch, size_t i, enum negotiate_mode *out, char *err,
		    size_t errlen)
{
	const char *word;

	*out = NEGOTIATE_DATAGRAM;
	if (!json_object_get(ch, "reliable"))
		return 0;
	if (msg_get_str(ch, "reliable", &word))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "channel %zu: %s", i,
			   msg_field_error());
	if (negotiate_mode_from_name(word, out) || *out == NEGOTIATE_DATAGRAM)
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			   "channel %zu: field 'reliable' must be ordered or unordered", i);
	return 0;
}

static int get_channels(const json_t *j, bool with_ports, struct negotiate_channel *chans,
			enum negotiate_mode *modes, uint32_t *sessions, size_t *n, char *err,
			size_t errlen)
{
	json_t *a, *ch;
	size_t i;

	if (msg_get_array(j, "channels", SEC_MAX_CHANNELS, &a))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	if (json_array_size(a) == 0)
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "field 'channels' is empty");
	json_array_foreach(a, i, ch) {
		json_int_t port, peer_port;
		int rc;

		if (!json_is_object(ch))
			return err_set(err, errlen, INSEL_E_BAD_FIELD, "channel %zu is not an object", i);
		rc = get_session(ch, i, &sessions[i], err, errlen);
		if (rc)
			return rc;
		if (session_taken(sessions, i, sessions[i]))
			return err_set(err, errlen, INSEL_E_BAD_FIELD,
				   "channel %zu repeats session id %u", i, (unsigned)sessions[i]);
		if ((rc = get_mode(ch, i, &modes[i], err, errlen)) != 0)
			return rc;
		if (!with_ports)
			continue;
		if (msg_get_int_opt(ch, "port", 0, 65535, 0, &port) ||
		    msg_get_int_opt(ch, "peer_port", 0, 65535, 0, &peer_port))
			return err_set(err, errlen, INSEL_E_BAD_FIELD, "channel %zu: %s", i,
				   msg_field_error());
		chans[i].port = (uint16_t)port;
		chans[i].peer_port = (uint16_t)peer_port;
	}
	*n = json_array_size(a);
	return 0;
}

static bool has_cipher(const struct negotiate_prefs *p, enum sec_cipher c)
{
	for (size_t i = 0; i < p->nciphers; i++)
		if (p->ciphers[i] == c)
			return true;
	return false;
}

static bool has_compress(const struct negotiate_prefs *p, enum sec_compress c)
{
	for (size_t i = 0; i < p->ncompress; i++)
		if (p->compress[i] == c)
			return true;
	return false;
}

/* A list of names: strings, at most NEGOTIATE_MAX_CHOICES; names this build does not know
 * are skipped (a newer peer may offer more), repeats too. */
static int get_choices(const json_t *j, const char *key, bool cipher,
		       struct negotiate_prefs *p, char *err, size_t errlen)
{
	json_t *a, *v;
	size_t i;

	if (!cipher && !json_object_get(j, key)) {
		p->compress[p->ncompress++] = SEC_COMPRESS_NONE;
		return 0;
	}
	if (msg_get_array(j, key, NEGOTIATE_MAX_CHOICES, &a))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	if (json_array_size(a) == 0)
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "field '%s' is empty", key);
	json_array_foreach(a, i, v) {
		const char *name = json_string_value(v);
		enum sec_compress z;
		enum sec_cipher c;

		if (!name)
			return err_set(err, errlen, INSEL_E_BAD_FIELD, "field '%s' must list strings",
				   key);
		if (cipher) {
			c = sec_cipher_from_name(name);
			if (c != SEC_CIPHER_NONE && !has_cipher(p, c))
				p->ciphers[p->nciphers++] = c;
		} else if (sec_compress_from_name(name, &z) == 0 && !has_compress(p, z)) {
			p->compress[p->ncompress++] = z;
		}
	}
	return 0;
}

/* A channel object with its "reliable" word when it is not a datagram channel (older
 * peers never see the field on datagram channels). */
static json_t *with_mode(json_t *ch, enum negotiate_mode m)
{
	if (ch && m != NEGOTIATE_DATAGRAM)
		json_object_set_new(ch, "reliable", json_string(negotiate_mode_name(m)));
	return ch;
}

/* "probe_space", optional: a boolean; absent (an older side) is false. */
static int get_probe_space(const json_t *j, bool *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(j, "probe_space");

	*out = json_is_true(v);
	if (v && !json_is_boolean(v))
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			       "field 'probe_space' must be true or false");
	return 0;
}

/* Adds "probe_space":true when on; obj is freed on failure. */
static json_t *with_probe_space(json_t *obj, bool on)
{
	if (obj && on && json_object_set_new(obj, "probe_space", json_true())) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* ---- offer ---- */

json_t *negotiate_offer_to_json(const struct negotiate_offer *o)
{
	char call[ID_STRLEN], nonce[2 * NEGOTIATE_NONCE_LEN + 1];
	int ciphers[NEGOTIATE_MAX_CHOICES], compress[NEGOTIATE_MAX_CHOICES];
	json_t *chans = json_array();

	for (size_t i = 0; i < o->prefs.nciphers; i++)
		ciphers[i] = (int)o->prefs.ciphers[i];
	for (size_t i = 0; i < o->prefs.ncompress; i++)
		compress[i] = (int)o->prefs.compress[i];
	for (size_t i = 0; chans && i < o->nchannels; i++)
		json_array_append_new(chans, with_mode(json_pack("{s:i, s:i, s:I}", "port",
								 o->channels[i].port, "peer_port",
								 o->channels[i].peer_port, "session",
								 (json_int_t)o->caller.sessions[i]),
						       o->modes[i]));
	hex_encode(o->caller.nonce, sizeof o->caller.nonce, nonce);
	return with_probe_space(with_candidates(json_pack("{s:s, s:o, s:o, s:s, s:o, s:o}", "call",
					 id_format(o->call_id, call), "ciphers",
					 name_list(ciphers, o->prefs.nciphers, true), "compress",
					 name_list(compress, o->prefs.ncompress, false), "nonce",
					 nonce, "endpoint", endpoint_json(&o->caller.endpoint),
					 "channels", chans),
			       &o->caller), o->caller.probe_space);
}

int negotiate_offer_parse(const json_t *j, struct negotiate_offer *out, char *err,
			  size_t errlen)
{
	int rc;

	memset(out, 0, sizeof *out);
	if (!json_is_object(j))
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "the offer is not an object");
	rc = get_call(j, &out->call_id, err, errlen);
	if (!rc)
		rc = get_choices(j, "ciphers", true, &out->prefs, err, errlen);
	if (!rc)
		rc = get_choices(j, "compress", false, &out->prefs, err, errlen);
	if (!rc)
		rc = get_nonce(j, out->caller.nonce, err, errlen);
	if (!rc)
		rc = get_endpoint(j, &out->caller.endpoint, err, errlen);
	if (!rc)
		rc = get_candidates(j, &out->caller, err, errlen);
	if (!rc)
		rc = get_probe_space(j, &out->caller.probe_space, err, errlen);
	if (!rc)
		rc = get_channels(j, true, out->channels, out->modes, out->caller.sessions,
				  &out->nchannels, err, errlen);
	return rc;
}

/* ---- choice ---- */

static void list_names(const struct negotiate_prefs *p, bool cipher, char *out, size_t n)
{
	size_t count = cipher ? p->nciphers : p->ncompress;

	snprintf(out, n, "%s", count ? "" : "nothing known");
	for (size_t i = 0; i < count; i++) {
		size_t len = strlen(out);

		snprintf(out + len, n - len, "%s%s", i ? ", " : "",
			 cipher ? sec_cipher_name(p->ciphers[i]) : sec_compress_name(p->compress[i]));
	}
}

static int refuse(struct negotiate_refusal *r, const char *code, const char *what,
		  const struct negotiate_prefs *offered, const struct negotiate_prefs *allowed,
		  bool cipher)
{
	char a[72], b[72];

	list_names(offered, cipher, a, sizeof a);
	list_names(allowed, cipher, b, sizeof b);
	r->code = code;
	snprintf(r->message, sizeof r->message, "no common %s: the caller offers %s; this side "
		 "allows %s", what, a, b);
	return INSEL_E_NO_COMMON;
}

int negotiate_choose(const struct negotiate_offer *offer, const struct negotiate_prefs *allowed,
		     const struct negotiate_side *callee, struct negotiation *out,
		     struct negotiate_refusal *refusal)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < offer->prefs.nciphers && !out->cipher; i++)
		if (has_cipher(allowed, offer->prefs.ciphers[i]))
			out->cipher = offer->prefs.ciphers[i];
	if (!out->cipher)
		return refuse(refusal, WIRE(NO_COMMON_CIPHER), "cipher", &offer->prefs, allowed,
			      true);
	out->compress = (enum sec_compress)-1;
	for (size_t i = 0; i < offer->prefs.ncompress; i++) {
		if (has_compress(allowed, offer->prefs.compress[i])) {
			out->compress = offer->prefs.compress[i];
			break;
		}
	}
	if (out->compress == (enum sec_compress)-1)
		return refuse(refusal, WIRE(NO_COMMON_COMPRESSION), "compression",
			      &offer->prefs, allowed, false);
	out->call_id = offer->call_id;
	out->nchannels = offer->nchannels;
	memcpy(out->channels, offer->channels, sizeof out->channels);
	memcpy(out->modes, offer->modes, sizeof out->modes);
	out->caller = offer->caller;
	out->callee = *callee;
	out->probe_space = offer->caller.probe_space && callee->probe_space;
	return 0;
}

/* ---- answer ---- */

json_t *negotiate_answer_to_json(const struct negotiation *n)
{
	char call[ID_STRLEN], nonce[2 * NEGOTIATE_NONCE_LEN + 1];
	json_t *chans = json_array();

	for (size_t i = 0; chans && i < n->nchannels; i++)
		json_array_append_new(chans, with_mode(json_pack("{s:I}", "session",
								 (json_int_t)n->callee.sessions[i]),
						       n->modes[i]));
	hex_encode(n->callee.nonce, sizeof n->callee.nonce, nonce);
	return with_probe_space(with_candidates(json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "call",
					 id_format(n->call_id, call), "cipher",
					 sec_cipher_name(n->cipher), "compress",
					 sec_compress_name(n->compress), "nonce", nonce, "endpoint",
					 endpoint_json(&n->callee.endpoint), "channels", chans),
			       &n->callee), n->probe_space);
}

/* An error reply to the offer: the peer's reason, mapped into our error space. */
static int refusal_of(const json_t *reply, char *err, size_t errlen)
{
	const char *code, *message;

	msg_reply_is_ok(reply, &code, &message);
	if (wire_error_is(code, WERR_NO_COMMON_CIPHER) ||
	    wire_error_is(code, WERR_NO_COMMON_COMPRESSION))
		return err_set(err, errlen, INSEL_E_NO_COMMON, "the peer refused the call: %s",
			   message);
	return err_set(err, errlen, INSEL_E_REFUSED, "the peer refused the call (%s): %s", code,
		   message);
}

static int get_choice(const json_t *j, const struct negotiate_offer *sent,
		      struct negotiation *out, char *err, size_t errlen)
{
	const char *cipher, *compress;

	if (msg_get_str(j, "cipher", &cipher) || msg_get_str(j, "compress", &compress))
		return err_set(err, errlen, INSEL_E_PROTOCOL, "answer: %s", msg_field_error());
	out->cipher = sec_cipher_from_name(cipher);
	if (!has_cipher(&sent->prefs, out->cipher))
		return err_set(err, errlen, INSEL_E_PROTOCOL,
			   "the peer chose cipher '%.40s', which was not offered", cipher);
	if (sec_compress_from_name(compress, &out->compress) ||
	    !has_compress(&sent->prefs, out->compress))
		return err_set(err, errlen, INSEL_E_PROTOCOL,
			   "the peer chose compression '%.40s', which was not offered", compress);
	return 0;
}

int negotiate_answer_parse(const json_t *reply, const struct negotiate_offer *sent,
			   struct negotiation *out, char *err, size_t errlen)
{
	char why[NEGOTIATE_ERR_MAX];
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if (!json_is_object(reply))
		return err_set(err, errlen, INSEL_E_PROTOCOL, "the answer is not an object");
	if (json_object_get(reply, "error") || json_is_false(json_object_get(reply, "ok")))
		return refusal_of(reply, err, errlen);
	rc = get_call(reply, &out->call_id, why, sizeof why);
	if (!rc && out->call_id != sent->call_id)
		return err_set(err, errlen, INSEL_E_PROTOCOL, "the answer is for another call");
	if (!rc)
		rc = get_nonce(reply, out->callee.nonce, why, sizeof why);
	if (!rc)
		rc = get_endpoint(reply, &out->callee.endpoint, why, sizeof why);
	if (!rc)
		rc = get_candidates(reply, &out->callee, why, sizeof why);
	if (!rc)
		rc = get_probe_space(reply, &out->callee.probe_space, why, sizeof why);
	if (!rc)
		rc = get_channels(reply, false, NULL, out->modes, out->callee.sessions, &n, why,
				  sizeof why);
	if (rc)
		return err_set(err, errlen, INSEL_E_PROTOCOL, "malformed answer: %s", why);
	if (n != sent->nchannels)
		return err_set(err, errlen, INSEL_E_PROTOCOL,
			   "the answer has %zu channels, the offer had %zu", n, sent->nchannels);
	for (size_t i = 0; i < n; i++)
		if (out->modes[i] != NEGOTIATE_DATAGRAM && out->modes[i] != sent->modes[i])
			return err_set(err, errlen, INSEL_E_PROTOCOL,
				   "the answer makes channel %zu %s, which was not asked for", i,
				   negotiate_mode_name(out->modes[i]));
	if (out->callee.probe_space && !sent->caller.probe_space)
		return err_set(err, errlen, INSEL_E_PROTOCOL,
			       "the answer agrees to probe_space, which was not offered");
	rc = get_choice(reply, sent, out, err, errlen);
	if (rc)
		return rc;
	out->probe_space = out->callee.probe_space;
	out->nchannels = n;
	memcpy(out->channels, sent->channels, sizeof out->channels);
	out->caller = sent->caller;
	return 0;
}

/* ---- keys ---- */

void negotiate_exporter_context(const struct negotiation *n, uint8_t out[NEGOTIATE_CONTEXT_LEN])
{
	struct buf_writer w;

	bw_init(&w, out, NEGOTIATE_CONTEXT_LEN);
	bw_u64(&w, n->call_id);
	bw_bytes(&w, n->caller.nonce, NEGOTIATE_NONCE_LEN);
	bw_bytes(&w, n->callee.nonce, NEGOTIATE_NONCE_LEN);
}

size_t negotiate_key_material_len(const struct negotiation *n)
{
	return n->nchannels * KEYS_PER_CHANNEL;
}

void negotiate_params_from_keys(const struct negotiation *n, bool is_caller,
				const uint8_t *keys, struct sec_channel_params *params)
{
	const struct negotiate_side *me = is_caller ? &n->caller : &n->callee;
	const struct negotiate_side *peer = is_caller ? &n->callee : &n->caller;

	for (size_t i = 0; i < n->nchannels; i++) {
		struct sec_channel_params *p = &params[i];
		const uint8_t *to_callee = keys + i * KEYS_PER_CHANNEL;
		const uint8_t *to_caller = to_callee + SEC_KEY_LEN;

		memset(p, 0, sizeof *p);
		p->call_id = n->call_id;
		p->channel = (uint8_t)i;
		p->cipher = n->cipher;
		p->compress = n->compress;
		p->local_session = me->sessions[i];
		p->remote_session = peer->sessions[i];
		memcpy(p->send_key, is_caller ? to_callee : to_caller, SEC_KEY_LEN);
		memcpy(p->recv_key, is_caller ? to_caller : to_callee, SEC_KEY_LEN);
		p->peer = peer->endpoint;
	}
}

int negotiate_derive(const struct negotiation *n, bool is_caller, negotiate_export_fn fn,
		     void *ctx, struct sec_channel_params *params)
{
	uint8_t context[NEGOTIATE_CONTEXT_LEN], keys[SEC_MAX_CHANNELS * KEYS_PER_CHANNEL];
	int rc;

	if (n->nchannels == 0 || n->nchannels > SEC_MAX_CHANNELS)
		return INSEL_E_BAD_FIELD;
	negotiate_exporter_context(n, context);
	rc = fn(ctx, NEGOTIATE_EXPORTER_LABEL, context, sizeof context, keys,
		negotiate_key_material_len(n));
	if (rc == 0)
		negotiate_params_from_keys(n, is_caller, keys, params);
	secure_wipe(keys, sizeof keys);
	return rc;
}
