/* Printing calls for people: one shape for `insel call`, `insel listen` and `insel calls`,
 * from the call objects the gateway sends (common/control/client_call.h). */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "cmd.h"

static void print_prefixes(const struct ip_prefix *p, size_t n)
{
	char text[IP_STRLEN];

	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", ip_prefix_format(&p[i], text, sizeof text));
}

static long long counter(const json_t *counters, const char *key)
{
	return (long long)json_integer_value(json_object_get(counters, key));
}

/* A network call: which interface carries it and which addresses may cross. Its tunnel
 * MTU is the one in force: lower than the interface's once the path's was found smaller. */
static void print_tun_channel(size_t i, const struct client_call_channel *ch)
{
	long long in_force = counter(ch->counters, "path_mtu");

	printf("  channel %zu: network (tun %s, MTU %u", i,
	       ch->interface[0] ? ch->interface : "?", ch->mtu);
	if (in_force > 0 && in_force != (long long)ch->mtu)
		printf(", %lld on this path", in_force);
	printf("): ");
	print_prefixes(ch->local_prefixes, ch->nlocal_prefixes);
	printf(" <-> ");
	print_prefixes(ch->remote_prefixes, ch->nremote_prefixes);
	/* The auxiliary's tun counters (docs/auxiliary.md). */
	if (ch->counters)
		printf("; packets out %lld, in %lld, refused %lld",
		       counter(ch->counters, "packets_from_lan"),
		       counter(ch->counters, "packets_to_lan"),
		       counter(ch->counters, "unauthorised_from_lan") +
		       counter(ch->counters, "unauthorised_from_peer"));
	putchar('\n');
}

static void print_udp_channel(size_t i, const struct client_call_channel *ch)
{
	char text[IP_STRLEN];

	printf("  channel %zu: send to %s", i,
	       ch->has_local ? ip_endpoint_format(&ch->local, text, sizeof text) : "?");
	if (ch->has_deliver)
		printf("; peer traffic arrives at %s",
		       ip_endpoint_format(&ch->deliver, text, sizeof text));
	if (ch->has_bytes)
		printf("; in %llu B, out %llu B", (unsigned long long)ch->bytes_in,
		       (unsigned long long)ch->bytes_out);
	if (ch->has_dropped && ch->dropped > 0)
		printf("; dropped %llu (socket buffer full %llu, send queue full %llu, "
		       "lost in transit %llu)",
		       (unsigned long long)ch->dropped,
		       (unsigned long long)ch->dropped_buffer_full,
		       (unsigned long long)ch->dropped_queue_full,
		       (unsigned long long)ch->dropped_in_transit);
	putchar('\n');
}

void print_call(const struct client_call *call)
{
	char id[ID_STRLEN];

	printf("call %s  %s -> %s  %s", id_format(call->id, id), call->caller, call->callee,
	       call->state);
	if (call->cipher != SEC_CIPHER_NONE)
		printf("  (%s)", sec_cipher_name(call->cipher));
	/* How the gateways' connection was made across NAT (docs/nat.md). */
	if (call->path.signalling[0])
		printf("  signalling %s", call->path.signalling);
	/* Keys renewed by a fresh key exchange so far (docs/frames.md section 4). */
	if (call->epoch > 0)
		printf("  keys renewed %u times", call->epoch);
	putchar('\n');
	/* Where the data goes (the auxiliary's probes found it), and why. */
	if (call->path.data[0])
		printf("  path: %s%s%s%s%s\n", call->path.data, call->path.remote[0] ? " to " : "",
		       call->path.remote, call->path.reason[0] ? " - " : "", call->path.reason);
	/* Its size, as probing found it (docs/nat.md "Path MTU"): every kind of call. */
	if (call->path.mtu)
		printf("  path MTU: %u bytes of UDP payload%s%s%s\n", call->path.mtu,
		       call->path.mtu_state[0] ? " (search " : "", call->path.mtu_state,
		       call->path.mtu_state[0] ? ")" : "");
	for (size_t i = 0; i < call->nchannels; i++) {
		if (call->channels[i].tun)
			print_tun_channel(i, &call->channels[i]);
		else
			print_udp_channel(i, &call->channels[i]);
	}
	fflush(stdout);
}

void print_call_ended(const struct client_call_ended *ended)
{
	const char *advice = error_advice(ended->reason);
	char id[ID_STRLEN];

	printf("call %s ended: %s\n", id_format(ended->call_id, id), ended->reason);
	if (advice)
		printf("  %s\n", advice);
}

int report_unreadable(const char *what, const char *why)
{
	fprintf(stderr, "insel: %s: the gateway's answer cannot be read: %s\n", what, why);
	return EXIT_FAILURE_GENERIC;
}

void print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	fflush(stdout);
}
