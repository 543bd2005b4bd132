/* Printing calls for people: one shape for `insel call`, `insel listen` and `insel calls`. */
#include <stdio.h>

#include "client.h"

static const char *str(const json_t *o, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : dflt;
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
	putchar('\n');
	json_array_foreach(channels, i, ch) {
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
