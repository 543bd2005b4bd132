/* What the call state machine checks calls against: prefix lists, the peer gateways'
 * addresses, the directory's LAN entries, and the call's channels as the codecs carry
 * them (client_call.h, peer_codec.h). Pure functions on JSON and the call struct, with no
 * I/O, so that tests/fuzz/fuzz_peer_codec.c can run them directly. */
#include <stdio.h>
#include <string.h>

#include "call_internal.h"
#include "err.h"
#include "msg.h"

/* The peer codec's bounds are the call's. */
_Static_assert(PEER_MAX_PREFIXES == SECONDARY_MAX_PREFIXES, "prefixes per side");
_Static_assert(PEER_PARTY_MAX == CALL_PARTY_MAX, "a party's name");
/* And so are the call object's. */
_Static_assert(CLIENT_CALL_PREFIXES_MAX == SECONDARY_MAX_PREFIXES, "prefixes per side");
_Static_assert(CLIENT_CALL_NAME_MAX == CALL_PARTY_MAX, "a party's name");

json_t *prefixes_json(const struct ip_prefix *p, size_t n)
{
	return call_prefixes_encode(p, n);
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

void call_set_channels(struct call *call, const struct call_channel_list *l)
{
	call->tun = l->tun;
	call->nchannels = l->n;
	for (size_t i = 0; i < l->n; i++) {
		call->channels[i].tun = l->tun;
		call->channels[i].port = l->tun ? 0 : l->ports[i];
	}
}

void call_channel_list(const struct call *call, struct call_channel_list *out)
{
	memset(out, 0, sizeof *out);
	out->tun = call->tun;
	out->n = call->nchannels;
	for (size_t i = 0; i < call->nchannels && !call->tun; i++)
		out->ports[i] = call->channels[i].port;
}
