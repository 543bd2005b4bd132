/* Printing calls for people: one shape for `insel call`, `insel listen` and `insel calls`. */
#include <stdio.h>
#include <string.h>

#include "client.h"

static const char *str(const json_t *o, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : dflt;
}

static void print_prefixes(const json_t *list)
{
	const json_t *p;
	size_t i;

	json_array_foreach(list, i, p)
		printf("%s%s", i ? "," : "", json_string_value(p) ? json_string_value(p) : "?");
}

/* A network call: which interface carries it and which addresses may cross. */
static void print_tun_channel(size_t i, const json_t *ch)
{
	const json_t *counters = json_object_get(ch, "counters");

	printf("  channel %zu: network (tun %s, MTU %lld): ", i, str(ch, "interface", "?"),
	       (long long)json_integer_value(json_object_get(ch, "mtu")));
	print_prefixes(json_object_get(ch, "local_prefixes"));
	printf(" <-> ");
	print_prefixes(json_object_get(ch, "remote_prefixes"));
	if (counters)
		printf("; packets out %lld, in %lld, refused %lld",
		       (long long)json_integer_value(json_object_get(counters, "packets_from_lan")),
		       (long long)json_integer_value(json_object_get(counters, "packets_to_lan")),
		       (long long)(json_integer_value(json_object_get(counters,
								      "unauthorised_from_lan")) +
				   json_integer_value(json_object_get(counters,
								      "unauthorised_from_peer"))));
	putchar('\n');
}

void print_call(const json_t *call)
{
	const json_t *channels = json_object_get(call, "channels");
	size_t i;
	const json_t *ch;

	printf("call %s  %s -> %s  %s", str(call, "id", "?"), str(call, "caller", "?"),
	       str(call, "callee", "?"), str(call, "state", "?"));
	if (json_object_get(call, "cipher"))
		printf("  (%s)", str(call, "cipher", ""));
	/* Keys renewed by a fresh key exchange so far (docs/frames.md section 4). */
	if (json_integer_value(json_object_get(call, "epoch")) > 0)
		printf("  keys renewed %lld times",
		       (long long)json_integer_value(json_object_get(call, "epoch")));
	putchar('\n');
	json_array_foreach(channels, i, ch) {
		if (strcmp(str(ch, "kind", "udp"), "tun") == 0) {
			print_tun_channel(i, ch);
			continue;
		}
		printf("  channel %zu: send to %s", i, str(ch, "local", "?"));
		if (json_object_get(ch, "deliver"))
			printf("; peer traffic arrives at %s", str(ch, "deliver", "?"));
		if (json_is_integer(json_object_get(ch, "bytes_in")))
			printf("; in %lld B, out %lld B",
			       (long long)json_integer_value(json_object_get(ch, "bytes_in")),
			       (long long)json_integer_value(json_object_get(ch, "bytes_out")));
		putchar('\n');
	}
	fflush(stdout);
}

void print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	fflush(stdout);
}
