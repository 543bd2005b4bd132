/* Reading what arrives untrusted in call requests: channel lists, prefix lists, the peer's
 * call_request, and the directory's LAN entries. Pure functions on JSON and the call
 * struct, with no I/O, so that tests/fuzz/fuzz_call_request.c can run them directly. */
#include <stdio.h>
#include <string.h>

#include "call_internal.h"
#include "err.h"
#include "msg.h"

json_t *prefixes_json(const struct ip_prefix *p, size_t n)
{
	json_t *a = json_array();
	char text[IP_STRLEN];

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(ip_prefix_format(&p[i], text, sizeof text)));
	return a;
}

/* 1..SECONDARY_MAX_PREFIXES IPv4 or IPv6 prefixes, host bits clear. */
static int prefixes_from_json(const json_t *a, struct ip_prefix *out, size_t *n)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > SECONDARY_MAX_PREFIXES)
		return INSEL_E_BAD_FIELD;
	json_array_foreach(a, i, v) {
		const char *text = json_string_value(v);

		if (!text || ip_prefix_parse(text, true, &out[i]))
			return INSEL_E_BAD_FIELD;
	}
	*n = json_array_size(a);
	return 0;
}

bool prefixes_within(const struct ip_prefix *inner, size_t n,
		     const struct ip_prefix *outer, size_t m)
{
	for (size_t i = 0; i < n; i++) {
		bool covered = false;

		for (size_t j = 0; j < m && !covered; j++)
			covered = ip_prefix_covers(&outer[j], &inner[i]);
		if (!covered)
			return false;
	}
	return true;
}

void host_prefix(const struct ip_addr *a, struct ip_prefix *out)
{
	out->addr = *a;
	out->len = ip_family_bits(a->family);
}

bool gateways_within(const struct call *call, const struct ip_prefix *dir, size_t n)
{
	struct ip_prefix host;

	if (call->has_remote_gateway) {
		host_prefix(&call->remote_gateway, &host);
		if (!prefixes_within(&host, 1, dir, n))
			return false;
	}
	if (call->has_remote_gateway6) {
		host_prefix(&call->remote_gateway6, &host);
		if (!prefixes_within(&host, 1, dir, n))
			return false;
	}
	return true;
}

/* The entry for LAN name in a reply to {"op":"list","what":"lans"}, or NULL. */
const json_t *directory_lan(const json_t *reply, const char *name)
{
	const json_t *item;
	size_t i;

	json_array_foreach(json_object_get(reply, "items"), i, item) {
		const char *lan = json_string_value(json_object_get(item, "name"));

		if (lan && strcmp(lan, name) == 0)
			return item;
	}
	return NULL;
}

size_t directory_prefixes(const json_t *entry, struct ip_prefix *out, size_t max)
{
	const json_t *v;
	size_t i, n = 0;

	json_array_foreach(json_object_get(entry, "prefixes"), i, v) {
		const char *text = json_string_value(v);

		if (n < max && text && ip_prefix_parse(text, false, &out[n]) == 0)
			n++;
	}
	return n;
}

int parse_channels(struct call *call, const json_t *channels, const char **why)
{
	const json_t *ch;
	size_t i;

	if (json_array_size(channels) == 0) {
		*why = "a call needs at least one channel";
		return INSEL_E_BAD_FIELD;
	}
	json_array_foreach(channels, i, ch) {
		const char *kind;
		json_int_t port;

		if (msg_get_str(ch, "kind", &kind)) {
			*why = msg_field_error();
			return INSEL_E_BAD_FIELD;
		}
		if (strcmp(kind, "tun") == 0) {
			if (json_array_size(channels) != 1) {
				*why = "a tun channel must be the call's only channel";
				return INSEL_E_BAD_FIELD;
			}
			call->tun = true;
			call->channels[0].tun = true;
			break;
		}
		if (msg_get_int(ch, "port", 1, 65535, &port)) {
			*why = msg_field_error();
			return INSEL_E_BAD_FIELD;
		}
		if (strcmp(kind, "udp") != 0) {
			*why = "channels are of kind udp or tun";
			return INSEL_E_BAD_FIELD;
		}
		call->channels[i].port = (uint16_t)port;
	}
	call->nchannels = json_array_size(channels);
	return 0;
}

/* Reads the untrusted call_request into the call; on failure *why says what is wrong. */
/* The "tun" object of a call_request, from the callee's point of view. */
static int read_tun_request(struct call *call, const json_t *req, const char **why)
{
	const json_t *tun = json_object_get(req, "tun");
	const char *gw = json_string_value(json_object_get(tun, "caller_gateway"));
	const char *gw6 = json_string_value(json_object_get(tun, "caller_gateway6"));

	if (!call->tun)
		return 0;
	if (prefixes_from_json(json_object_get(tun, "caller"), call->tun_remote,
			       &call->ntun_remote) ||
	    prefixes_from_json(json_object_get(tun, "callee"), call->tun_local,
			       &call->ntun_local)) {
		*why = "a tun channel needs 'tun' with caller and callee prefixes";
		return INSEL_E_BAD_FIELD;
	}
	call->has_remote_gateway = gw && ip_addr_parse(gw, &call->remote_gateway) == 0 &&
				   call->remote_gateway.family == AF_INET;
	call->has_remote_gateway6 = gw6 && ip_addr_parse(gw6, &call->remote_gateway6) == 0 &&
				    call->remote_gateway6.family == AF_INET6;
	return 0;
}

int read_call_request(struct call *call, const json_t *req, const char **why)
{
	const char *caller, *callee, *user, *address;
	json_t *channels, *offer;
	bool trunk = json_is_true(json_object_get(req, "trunk"));
	int rc;

	if (msg_get_str(req, "caller", &caller) || msg_get_str(req, "callee", &callee) ||
	    msg_get_str_opt(req, "callee_user", "", &user) ||
	    msg_get_str_opt(req, "callee_address", NULL, &address) ||
	    msg_get_array(req, "channels", SEC_MAX_CHANNELS, &channels) ||
	    msg_get_object(req, "offer", &offer)) {
		*why = msg_field_error();
		return INSEL_E_BAD_FIELD;
	}
	if (strlen(caller) >= CALL_PARTY_MAX || strlen(callee) >= CALL_PARTY_MAX ||
	    strlen(user) >= CALL_PARTY_MAX || (!trunk && !strchr(caller, '@')) ||
	    (trunk && !pki_name_valid(caller))) {
		*why = "caller or callee malformed";
		return INSEL_E_BAD_FIELD;
	}
	if (address) {
		if (ip_addr_parse(address, &call->callee_addr)) {
			*why = "callee_address is not an address";
			return INSEL_E_BAD_FIELD;
		}
		call->has_callee_addr = true;
	}
	snprintf(call->caller, sizeof call->caller, "%s", caller);
	snprintf(call->callee, sizeof call->callee, "%s", callee);
	snprintf(call->callee_user, sizeof call->callee_user, "%s", user);
	call->offer = json_incref(offer);
	rc = parse_channels(call, channels, why);
	if (rc == 0 && trunk && !call->tun) {
		*why = "a trunk is a network call: one tun channel";
		return INSEL_E_BAD_FIELD;
	}
	return rc ? rc : read_tun_request(call, req, why);
}
