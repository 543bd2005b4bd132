/* libFuzzer target: the configuration parser and validator over arbitrary text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct cfg_key schema[] = {
	{"", "name", CFG_STRING, 0, 0, 0, NULL},
	{"principal", "address", CFG_ENDPOINT, CFG_REQUIRED, 0, 0, NULL},
	{"principal", "heartbeat", CFG_DURATION, 0, 1000, 3600000, "10s"},
	{"lan", "prefix", CFG_PREFIX, CFG_MULTI, 0, 0, NULL},
	{"lan", "gateway", CFG_ADDR, 0, 0, 0, NULL},
	{"limits", "calls", CFG_INT, 0, 1, 10000, "64"},
	{"limits", "compress", CFG_BOOL, 0, 0, 0, "no"},
	{"trunk *", "peer", CFG_STRING, CFG_REQUIRED, 0, 0, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct cfg c;
	const char *sections[8];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (cfg_load_string(&c, "fuzz.conf", text, schema, sizeof schema / sizeof schema[0]) ==
	    0) {
		cfg_str(&c, "", "name");
		cfg_int(&c, "limits", "calls");
		cfg_duration_ms(&c, "principal", "heartbeat");
		for (size_t i = 0; i < cfg_count(&c, "lan", "prefix"); i++)
			cfg_str_at(&c, "lan", "prefix", i);
		cfg_sections(&c, "trunk ", sections, 8);
	}
	cfg_free(&c);
	free(text);
	return 0;
}
