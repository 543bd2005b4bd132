/* "start": the negotiated parameters of every bound channel, in bind order, and where
 * plaintext from the peer goes until a LAN application speaks. Creates the channels and
 * starts the relay and its timers.
 *
 *   {"op":"start","id":2,"idle_timeout_ms":120000,
 *    "channels":[{"params":{...chanparams JSON...},"deliver":"10.2.0.11:5004"}]}
 *   -> {"id":2,"ok":true}
 *
 * A network call's one channel takes "remote_gateway" (the peer gateway's LAN address,
 * whose ICMP errors may cross) and, if it has one, "remote_gateway6" (its IPv6 LAN
 * address, for ICMPv6 errors) instead of "deliver".
 * Every channel is checked before any is created, so a refused start changes nothing and
 * may be retried. The params must name the bound call and their own index, and each
 * channel needs its own receiver session id (the WAN socket demultiplexes on it). */
#include <stdio.h>
#include <string.h>

#include "auxiliary.h"
#include "buf.h"
#include "cmd.h"
#include "err.h"
#include "ipv4.h"
#include "log.h"
#include "rand.h"

struct start_channel {
	struct sec_channel_params params;
	struct ip_endpoint deliver;
	bool has_deliver;
	struct ip_addr remote_gateway;  /* network calls: the peer gateway's LAN address */
	bool has_remote_gateway;
	struct ip_addr remote_gateway6;  /* and its IPv6 one, if it has one */
	bool has_remote_gateway6;
};

/* The hex keys also sit in the parsed request: wipe them there too (the request is ours
 * until the dispatcher returns, and jansson frees strings without wiping). */
static void wipe_key_strings(const json_t *params)
{
	static const char *const keys[] = {"send_key", "recv_key"};

	for (size_t i = 0; i < 2; i++) {
		char *text = (char *)json_string_value(json_object_get(params, keys[i]));

		if (text)
			secure_wipe(text, strlen(text));
	}
}

static int check_params(const struct aux *a, unsigned i, const struct sec_channel_params *p,
			char *why, size_t whylen)
{
	if (p->call_id != a->call_id)
		snprintf(why, whylen, "channels[%u]: params are for another call", i);
	else if (p->channel != i)
		snprintf(why, whylen, "channels[%u]: params are for channel %u", i, p->channel);
	else if (p->peer.addr.family != a->wan_addr.family)
		snprintf(why, whylen, "channels[%u]: peer address family differs from wan_addr",
			 i);
	else
		return 0;
	return INSEL_E_BAD_FIELD;
}

static int parse_deliver(const struct aux *a, unsigned i, const json_t *entry,
			 struct start_channel *out, char *why, size_t whylen)
{
	const char *text;
	int rc;

	if (a->tun_mode) {
		rc = msg_get_str_opt(entry, "remote_gateway", NULL, &text);
		if (rc == 0 && text && (ip_addr_parse(text, &out->remote_gateway) ||
					out->remote_gateway.family != AF_INET)) {
			snprintf(why, whylen, "channels[%u]: 'remote_gateway' must be an IPv4 "
				 "address", i);
			return INSEL_E_BAD_FIELD;
		}
		if (rc)
			snprintf(why, whylen, "channels[%u]: %s", i, msg_field_error());
		out->has_remote_gateway = rc == 0 && text;
		if (rc)
			return rc;
		rc = msg_get_str_opt(entry, "remote_gateway6", NULL, &text);
		if (rc == 0 && text && (ip_addr_parse(text, &out->remote_gateway6) ||
					out->remote_gateway6.family != AF_INET6)) {
			snprintf(why, whylen, "channels[%u]: 'remote_gateway6' must be an IPv6 "
				 "address", i);
			return INSEL_E_BAD_FIELD;
		}
		if (rc)
			snprintf(why, whylen, "channels[%u]: %s", i, msg_field_error());
		out->has_remote_gateway6 = rc == 0 && text;
		return rc;
	}
	rc = msg_get_str_opt(entry, "deliver", NULL, &text);
	if (rc) {
		snprintf(why, whylen, "channels[%u]: %s", i, msg_field_error());
		return rc;
	}
	if (!text)
		return 0;
	if (ip_endpoint_parse(text, &out->deliver) != 0 || out->deliver.port == 0 ||
	    out->deliver.addr.family != a->lan_addr.family) {
		snprintf(why, whylen, "channels[%u]: 'deliver' must be ADDRESS:PORT on the LAN",
			 i);
		return INSEL_E_BAD_FIELD;
	}
	out->has_deliver = true;
	return 0;
}

static int parse_channel(const struct aux *a, unsigned i, const json_t *entry,
			 struct start_channel *out, char *why, size_t whylen)
{
	json_t *params;
	int rc;

	if (!json_is_object(entry)) {
		snprintf(why, whylen, "channels[%u] must be an object", i);
		return INSEL_E_BAD_FIELD;
	}
	if ((rc = msg_get_object(entry, "params", &params)) != 0) {
		snprintf(why, whylen, "channels[%u]: %s", i, msg_field_error());
		return rc;
	}
	rc = chanparams_from_json(params, &out->params);
	wipe_key_strings(params);
	if (rc) {
		snprintf(why, whylen, "channels[%u].params: %s", i, msg_field_error());
		return rc;
	}
	rc = check_params(a, i, &out->params, why, whylen);
	return rc ? rc : parse_deliver(a, i, entry, out, why, whylen);
}

static int check_sessions_distinct(const struct start_channel *sc, unsigned n, char *why,
				   size_t whylen)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (sc[i].params.local_session == sc[j].params.local_session) {
				snprintf(why, whylen, "channels[%u] and [%u] share a local "
					 "session id", i, j);
				return INSEL_E_BAD_FIELD;
			}
	return 0;
}

static int parse_start(const struct aux *a, const json_t *msg, struct start_channel *sc,
		       json_int_t *idle_ms, char *why, size_t whylen)
{
	json_t *channels;
	int rc;

	if ((rc = msg_get_int_opt(msg, "idle_timeout_ms", 0, AUX_MAX_IDLE_TIMEOUT_MS,
				  AUX_DEFAULT_IDLE_TIMEOUT_MS, idle_ms)) != 0 ||
	    (rc = msg_get_array(msg, "channels", SEC_MAX_CHANNELS, &channels)) != 0) {
		snprintf(why, whylen, "%s", msg_field_error());
		return rc;
	}
	if (json_array_size(channels) != a->n_lan) {
		snprintf(why, whylen, "field 'channels' has %zu entries for %u bound channels",
			 json_array_size(channels), a->n_lan);
		return INSEL_E_BAD_FIELD;
	}
	for (unsigned i = 0; i < a->n_lan; i++)
		if ((rc = parse_channel(a, i, json_array_get(channels, i), &sc[i], why,
					whylen)) != 0)
			return rc;
	return check_sessions_distinct(sc, a->n_lan, why, whylen);
}

static int create_channels(struct aux *a, const struct start_channel *sc, char *why,
			   size_t whylen)
{
	uint64_t now = uv_now(a->loop);
	int rc = 0;

	for (unsigned i = 0; i < a->n_lan && rc == 0; i++) {
		rc = channel_new(&sc[i].params, now, &a->lan[i].ch);
		if (rc)
			snprintf(why, whylen, "channels[%u]: %s", i, insel_strerror(rc));
	}
	if (rc)
		for (unsigned i = 0; i < a->n_lan; i++) {
			channel_free(a->lan[i].ch);
			a->lan[i].ch = NULL;
		}
	return rc;
}

void start_handle(struct aux *a, json_int_t id, const json_t *msg)
{
	struct start_channel sc[SEC_MAX_CHANNELS];
	json_int_t idle_ms = 0;
	char why[256], call[ID_STRLEN];
	int rc;

	memset(sc, 0, sizeof sc);
	rc = parse_start(a, msg, sc, &idle_ms, why, sizeof why);
	rc = rc ? rc : create_channels(a, sc, why, sizeof why);
	for (unsigned i = 0; i < SEC_MAX_CHANNELS; i++)
		chanparams_wipe(&sc[i].params);
	if (rc) {
		control_reply_error(a, id, rc, NULL, "%s", why);
		return;
	}
	for (unsigned i = 0; i < a->n_lan; i++) {
		a->lan[i].deliver = sc[i].deliver;
		a->lan[i].has_deliver = sc[i].has_deliver;
	}
	if (a->tun_mode && sc[0].has_remote_gateway)
		a->tun.remote_gateway = ipv4_from_addr(&sc[0].remote_gateway);
	if (a->tun_mode && sc[0].has_remote_gateway6) {
		memcpy(a->tun.remote_gateway6, sc[0].remote_gateway6.bytes, 16);
		a->tun.has_remote_gateway6 = true;
	}
	a->idle_timeout_ms = (uint64_t)idle_ms;
	a->last_data_ms = uv_now(a->loop);
	a->state = AUX_RUNNING;
	if ((rc = relay_start(a)) != 0 || (rc = timers_start(a)) != 0) {
		control_reply_error(a, id, rc, NULL, "cannot start the relay: %s",
				    insel_strerror(rc));
		aux_end(a, "error", "cannot start the relay", EXIT_FAILURE_GENERIC, false);
		return;
	}
	log_info("call %s: relaying %u channel(s)", id_format(a->call_id, call), a->n_lan);
	control_reply(a, msg_reply_ok(id));
}
