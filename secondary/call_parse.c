/* What the call state machine checks calls against: prefix lists, the peer gateways'
 * addresses, the directory's LAN entries (decoded by principal_ops.h), and the call's
 * channels as the codecs carry them (client_call.h, peer_codec.h). Pure functions on JSON
 * and the call struct, with no I/O, so that tests/fuzz/fuzz_peer_codec.c can run them
 * directly. */
#include <stdio.h>
#include <string.h>

#include "call_internal.h"
#include "err.h"
#include "msg.h"
#include "rand.h"

/* The peer codec's bounds are the call's. */
_Static_assert(PEER_MAX_PREFIXES == SECONDARY_MAX_PREFIXES, "prefixes per side");
_Static_assert(PEER_PARTY_MAX == CALL_PARTY_MAX, "a party's name");
/* And so are the call object's. */
_Static_assert(CLIENT_CALL_PREFIXES_MAX == SECONDARY_MAX_PREFIXES, "prefixes per side");
_Static_assert(CLIENT_CALL_NAME_MAX == CALL_PARTY_MAX, "a party's name");

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

int directory_lan(const json_t *reply, const char *name, struct pop_lan_entry *out)
{
	struct pop_list_reply list;
	char why[POP_WHY_LEN];
	int rc = pop_list_reply_decode(reply, &list, why);

	return rc ? rc : pop_list_find_lan(&list, name, out);
}

size_t directory_prefixes(const struct pop_lan_entry *entry, struct ip_prefix *out, size_t max)
{
	size_t n = entry->nprefixes < max ? entry->nprefixes : max;

	memcpy(out, entry->prefixes, n * sizeof out[0]);
	return n;
}

void call_set_channels(struct call *call, const struct call_channel_list *l)
{
	call->tun = l->tun;
	call->nchannels = l->n;
	for (size_t i = 0; i < l->n; i++) {
		call->channels[i].tun = l->tun;
		call->channels[i].port = l->tun ? 0 : l->ports[i];
		call->channels[i].mode = l->tun ? NEGOTIATE_DATAGRAM : l->modes[i];
		/* Only this side's party learns the token (its call object), over its TLS
		 * session: a LAN host that does not have it cannot attach. */
		if (call->channels[i].mode != NEGOTIATE_DATAGRAM)
			rand_key(call->channels[i].token, sizeof call->channels[i].token);
	}
}

void call_channel_list(const struct call *call, struct call_channel_list *out)
{
	memset(out, 0, sizeof *out);
	out->tun = call->tun;
	out->n = call->nchannels;
	for (size_t i = 0; i < call->nchannels && !call->tun; i++) {
		out->ports[i] = call->channels[i].port;
		out->modes[i] = call->channels[i].mode;
	}
}
