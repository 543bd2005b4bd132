/* The "start" request from a secondary to its call's auxiliary: the JSON form of struct
 * aux_start_request and its validating decode (aux_start.h). The channels' parameters
 * are chanparams.h's own codec; this file adds where each channel delivers and the call's
 * idle time-out, and checks what one channel's fields say about the others. */
#include "aux_start.h"

#include <string.h>

#include "err.h"
#include "hex.h"
#include "msg.h"
#include "rand.h"
#include "stun.h"

/* ---- encoding ---- */

static int set_text(json_t *obj, const char *key, const char *text)
{
	return json_object_set_new(obj, key, json_string(text));
}

static json_t *channel_to_json(const struct aux_start_channel *c)
{
	json_t *ch = json_object();
	char text[IP_STRLEN];
	int rc = ch ? 0 : -1;

	rc = rc ? rc : json_object_set_new(ch, "params", chanparams_to_json(&c->params));
	if (c->has_remote_gateway)
		rc = rc ? rc : set_text(ch, "remote_gateway",
					ip_addr_format(&c->remote_gateway, text, sizeof text));
	if (c->has_remote_gateway6)
		rc = rc ? rc : set_text(ch, "remote_gateway6",
					ip_addr_format(&c->remote_gateway6, text, sizeof text));
	if (c->has_deliver)
		rc = rc ? rc : set_text(ch, "deliver",
					ip_endpoint_format(&c->deliver, text, sizeof text));
	if (c->mode != NEGOTIATE_DATAGRAM) {
		char token[2 * AUX_STREAM_TOKEN_LEN + 1];

		hex_encode(c->token, sizeof c->token, token);
		rc = rc ? rc : set_text(ch, "reliable", negotiate_mode_name(c->mode));
		rc = rc ? rc : set_text(ch, "token", token);
		secure_wipe(token, sizeof token);
	}
	if (rc) {
		json_decref(ch);
		return NULL;
	}
	return ch;
}

static json_t *relay_to_json(const struct aux_start_request *req)
{
	json_t *relay = candidate_to_json(&req->relay);

	if (relay && json_object_set_new(relay, "leg", json_integer(req->relay_leg))) {
		json_decref(relay);
		return NULL;
	}
	return relay;
}

json_t *aux_start_request_to_json(const struct aux_start_request *req)
{
	json_t *j = msg_request("start", 0), *channels = json_array();
	int rc = j && channels ? 0 : -1;

	for (unsigned i = 0; rc == 0 && i < req->nchannels; i++)
		rc = json_array_append_new(channels, channel_to_json(&req->channels[i]));
	if (rc) {
		json_decref(channels);
		json_decref(j);
		return NULL;
	}
	/* json_object_set_new takes the reference even when it fails. */
	if (json_object_set_new(j, "channels", channels) ||
	    json_object_set_new(j, "idle_timeout_ms",
				json_integer((json_int_t)req->idle_timeout_ms)) ||
	    (req->failover_after_ms &&
	     json_object_set_new(j, "failover_after_ms",
				 json_integer((json_int_t)req->failover_after_ms))) ||
	    (req->npeer_cand &&
	     json_object_set_new(j, "peer_candidates",
				 candidates_to_json(req->peer_cand, req->npeer_cand))) ||
	    (req->has_relay && json_object_set_new(j, "relay", relay_to_json(req))) ||
	    (req->relay_ca_len &&
	     json_object_set_new(j, "relay_ca", json_stringn(req->relay_ca, req->relay_ca_len))) ||
	    (req->prime_ttl &&
	     json_object_set_new(j, "prime", json_pack("{s:i, s:I}", "ttl", req->prime_ttl,
						       "window_ms",
						       (json_int_t)req->prime_window_ms))) ||
	    (req->probe_space && json_object_set_new(j, "probe_space", json_true()))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- decoding ---- */

/* The hex keys also sit in the request: wipe them there too. */
static void wipe_key_strings(const json_t *params)
{
	static const char *const keys[] = {"send_key", "recv_key"};

	for (size_t i = 0; i < 2; i++) {
		char *text = (char *)json_string_value(json_object_get(params, keys[i]));

		if (text)
			secure_wipe(text, strlen(text));
	}
}

/* An optional address of one family; *has says whether it was there. */
static int get_gateway(const json_t *entry, unsigned i, const char *key, int family,
		       struct ip_addr *out, bool *has, char *why, size_t whylen)
{
	const char *text;
	int rc = msg_get_str_opt(entry, key, NULL, &text);

	if (rc)
		return err_set(why, whylen, rc, "channels[%u]: %s", i, msg_field_error());
	if (text && (ip_addr_parse(text, out) || out->family != family))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "channels[%u]: '%s' must be an %s "
			       "address", i, key, family == AF_INET ? "IPv4" : "IPv6");
	*has = text != NULL;
	return 0;
}

static int get_deliver(const json_t *entry, unsigned i, struct aux_start_channel *out,
		       char *why, size_t whylen)
{
	const char *text;
	int rc = msg_get_str_opt(entry, "deliver", NULL, &text);

	if (rc)
		return err_set(why, whylen, rc, "channels[%u]: %s", i, msg_field_error());
	if (!text)
		return 0;
	if (ip_endpoint_parse(text, &out->deliver) != 0 || out->deliver.port == 0)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "channels[%u]: 'deliver' must be ADDRESS:PORT on the LAN", i);
	out->has_deliver = true;
	return 0;
}

/* A reliable channel: "reliable" (ordered, unordered) and its "token". */
static int get_stream(const json_t *entry, unsigned i, struct aux_start_channel *out,
		      char *why, size_t whylen)
{
	const char *mode, *token;

	if (!json_object_get(entry, "reliable"))
		return 0;
	if (msg_get_str(entry, "reliable", &mode) || msg_get_str(entry, "token", &token))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "channels[%u]: %s", i,
			       msg_field_error());
	if (negotiate_mode_from_name(mode, &out->mode) || out->mode == NEGOTIATE_DATAGRAM)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "channels[%u]: 'reliable' must be ordered or unordered", i);
	if (strlen(token) != 2 * AUX_STREAM_TOKEN_LEN ||
	    hex_decode(token, strlen(token), out->token, sizeof out->token))
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "channels[%u]: 'token' must be %d hex digits", i,
			       2 * AUX_STREAM_TOKEN_LEN);
	return 0;
}

static int get_params(const json_t *entry, unsigned i, struct sec_channel_params *out,
		      char *why, size_t whylen)
{
	json_t *params;
	int rc;

	if ((rc = msg_get_object(entry, "params", &params)) != 0)
		return err_set(why, whylen, rc, "channels[%u]: %s", i, msg_field_error());
	rc = chanparams_from_json(params, out);
	wipe_key_strings(params);
	if (rc)
		return err_set(why, whylen, rc, "channels[%u].params: %s", i, msg_field_error());
	if (out->channel != i)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "channels[%u]: params are for channel %u", i, out->channel);
	return 0;
}

static int get_channel(const json_t *entry, unsigned i, struct aux_start_channel *out,
		       char *why, size_t whylen)
{
	int rc;

	if (!json_is_object(entry))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "channels[%u] must be an object", i);
	rc = get_params(entry, i, &out->params, why, whylen);
	rc = rc ? rc : get_deliver(entry, i, out, why, whylen);
	rc = rc ? rc : get_stream(entry, i, out, why, whylen);
	rc = rc ? rc : get_gateway(entry, i, "remote_gateway", AF_INET, &out->remote_gateway,
				   &out->has_remote_gateway, why, whylen);
	rc = rc ? rc : get_gateway(entry, i, "remote_gateway6", AF_INET6,
				   &out->remote_gateway6, &out->has_remote_gateway6, why, whylen);
	return rc;
}

/* The WAN socket demultiplexes on the receiver session id: one per channel, and never
 * the STUN magic cookie (a datagram with it at bytes 4..7 is STUN). */
static int check_sessions_distinct(const struct aux_start_request *req, char *why,
				   size_t whylen)
{
	for (unsigned i = 0; i < req->nchannels; i++)
		if (req->channels[i].params.local_session == STUN_MAGIC_COOKIE)
			return err_set(why, whylen, INSEL_E_BAD_FIELD, "channels[%u]: the local "
				       "session id is the STUN magic cookie", i);
	for (unsigned i = 0; i < req->nchannels; i++)
		for (unsigned k = i + 1; k < req->nchannels; k++)
			if (req->channels[i].params.local_session ==
			    req->channels[k].params.local_session)
				return err_set(why, whylen, INSEL_E_BAD_FIELD, "channels[%u] and "
					       "[%u] share a local session id", i, k);
	return 0;
}

static int get_peer_candidates(const json_t *j, struct aux_start_request *out, char *why,
			       size_t whylen)
{
	const json_t *list = json_object_get(j, "peer_candidates");
	char reason[192];

	if (list && candidates_from_json(list, out->peer_cand, CAND_MAX, &out->npeer_cand,
					 reason, sizeof reason))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'peer_candidates': %s",
			       reason);
	return 0;
}

static int get_relay(const json_t *j, struct aux_start_request *out, char *why,
		     size_t whylen)
{
	const json_t *relay = json_object_get(j, "relay");
	char reason[192];
	json_int_t leg;

	if (!relay)
		return 0;
	if (candidate_from_json(relay, &out->relay, reason, sizeof reason))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'relay': %s", reason);
	if (out->relay.kind != CAND_RELAY)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "field 'relay' must be a candidate of kind relay");
	if (msg_get_int(relay, "leg", 0, 1, &leg))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'relay': %s",
			       msg_field_error());
	out->relay_leg = (unsigned)leg;
	out->has_relay = true;
	return 0;
}

#define PEM_CERT_BEGIN "-----BEGIN CERTIFICATE-----"

static int get_relay_ca(const json_t *j, struct aux_start_request *out, char *why,
			size_t whylen)
{
	const json_t *ca = json_object_get(j, "relay_ca");
	size_t len = json_string_length(ca);

	if (!ca)
		return 0;
	if (!json_is_string(ca) || len >= AUX_RELAY_CA_MAX ||
	    strncmp(json_string_value(ca), PEM_CERT_BEGIN, strlen(PEM_CERT_BEGIN)) != 0 ||
	    memchr(json_string_value(ca), '\0', len))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'relay_ca' must be a PEM "
			       "certificate of at most %d bytes", AUX_RELAY_CA_MAX - 1);
	memcpy(out->relay_ca, json_string_value(ca), len);
	out->relay_ca[len] = '\0';
	out->relay_ca_len = len;
	return 0;
}

/* "prime": both fields, a TTL of 1 to 255 and a window of 1 ms to
 * AUX_PRIME_WINDOW_MAX_MS. */
static int get_prime(const json_t *j, struct aux_start_request *out, char *why,
		     size_t whylen)
{
	json_int_t ttl, window;
	json_t *prime;

	if (!json_object_get(j, "prime"))
		return 0;
	if (msg_get_object(j, "prime", &prime) ||
	    msg_get_int(prime, "ttl", 1, 255, &ttl) ||
	    msg_get_int(prime, "window_ms", 1, AUX_PRIME_WINDOW_MAX_MS, &window))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'prime': %s",
			       msg_field_error());
	out->prime_ttl = (uint8_t)ttl;
	out->prime_window_ms = (uint32_t)window;
	return 0;
}

static int get_request(const json_t *j, struct aux_start_request *out, char *why,
		       size_t whylen)
{
	json_int_t idle_ms, failover_ms;
	json_t *channels;
	int rc;

	if ((rc = msg_get_int_opt(j, "idle_timeout_ms", 0, AUX_MAX_IDLE_TIMEOUT_MS,
				  AUX_DEFAULT_IDLE_TIMEOUT_MS, &idle_ms)) != 0 ||
	    (rc = msg_get_int_opt(j, "failover_after_ms", 0, AUX_MAX_FAILOVER_AFTER_MS, 0,
				  &failover_ms)) != 0 ||
	    (rc = msg_get_bool_opt(j, "probe_space", false, &out->probe_space)) != 0 ||
	    (rc = msg_get_array(j, "channels", SEC_MAX_CHANNELS, &channels)) != 0)
		return err_set(why, whylen, rc, "%s", msg_field_error());
	if (json_array_size(channels) == 0)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "field 'channels' must list at least one channel");
	out->idle_timeout_ms = (uint64_t)idle_ms;
	if (failover_ms && failover_ms < AUX_MIN_FAILOVER_AFTER_MS)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "field 'failover_after_ms' must be 0 (the default) or at least %d",
			       AUX_MIN_FAILOVER_AFTER_MS);
	out->failover_after_ms = (uint64_t)failover_ms;
	out->nchannels = (unsigned)json_array_size(channels);
	for (unsigned i = 0; i < out->nchannels; i++)
		if ((rc = get_channel(json_array_get(channels, i), i, &out->channels[i], why,
				      whylen)) != 0)
			return rc;
	if ((rc = get_peer_candidates(j, out, why, whylen)) != 0 ||
	    (rc = get_relay(j, out, why, whylen)) != 0 ||
	    (rc = get_relay_ca(j, out, why, whylen)) != 0 ||
	    (rc = get_prime(j, out, why, whylen)) != 0)
		return rc;
	return check_sessions_distinct(out, why, whylen);
}

int aux_start_request_from_json(const json_t *j, struct aux_start_request *out, char *why,
				size_t whylen)
{
	int rc;

	memset(out, 0, sizeof *out);
	rc = get_request(j, out, why, whylen);
	if (rc)
		aux_start_wipe(out);
	return rc;
}

void aux_start_wipe(struct aux_start_request *req)
{
	for (unsigned i = 0; i < SEC_MAX_CHANNELS; i++) {
		chanparams_wipe(&req->channels[i].params);
		secure_wipe(req->channels[i].token, sizeof req->channels[i].token);
	}
}

/* An optional address: both absent, or both present and equal. */
static bool same_optional(bool has_a, const struct ip_addr *a, bool has_b,
			  const struct ip_addr *b)
{
	return has_a == has_b && (!has_a || ip_addr_equal(a, b));
}

static bool same_channel(const struct aux_start_channel *a, const struct aux_start_channel *b)
{
	return chanparams_equal(&a->params, &b->params) && a->mode == b->mode &&
	       memcmp(a->token, b->token, sizeof a->token) == 0 &&
	       same_optional(a->has_deliver, &a->deliver.addr, b->has_deliver,
			     &b->deliver.addr) &&
	       (!a->has_deliver || a->deliver.port == b->deliver.port) &&
	       same_optional(a->has_remote_gateway, &a->remote_gateway, b->has_remote_gateway,
			     &b->remote_gateway) &&
	       same_optional(a->has_remote_gateway6, &a->remote_gateway6,
			     b->has_remote_gateway6, &b->remote_gateway6);
}

bool aux_start_request_equal(const struct aux_start_request *a,
			     const struct aux_start_request *b)
{
	if (a->idle_timeout_ms != b->idle_timeout_ms ||
	    a->failover_after_ms != b->failover_after_ms || a->nchannels != b->nchannels ||
	    a->npeer_cand != b->npeer_cand || a->has_relay != b->has_relay ||
	    (a->has_relay && (a->relay_leg != b->relay_leg ||
			      !candidate_equal(&a->relay, &b->relay))) ||
	    a->relay_ca_len != b->relay_ca_len || a->prime_ttl != b->prime_ttl ||
	    a->probe_space != b->probe_space ||
	    a->prime_window_ms != b->prime_window_ms ||
	    memcmp(a->relay_ca, b->relay_ca, a->relay_ca_len) != 0)
		return false;
	for (size_t i = 0; i < a->npeer_cand; i++)
		if (!candidate_equal(&a->peer_cand[i], &b->peer_cand[i]))
			return false;
	for (unsigned i = 0; i < a->nchannels; i++)
		if (!same_channel(&a->channels[i], &b->channels[i]))
			return false;
	return true;
}
