/* Unit tests for schema-checked configuration files: every error names file, line, and
 * what is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"

static const struct cfg_key schema[] = {
	{"", "name", CFG_STRING, CFG_REQUIRED, 0, 0, NULL},
	{"principal", "address", CFG_ENDPOINT, CFG_REQUIRED, 0, 0, NULL},
	{"principal", "heartbeat", CFG_DURATION, 0, 1000, 3600000, "10s"},
	{"lan", "prefix", CFG_PREFIX, CFG_REQUIRED | CFG_MULTI, 0, 0, NULL},
	{"lan", "gateway", CFG_ADDR, 0, 0, 0, NULL},
	{"limits", "calls", CFG_INT, 0, 1, 10000, "64"},
	{"limits", "compress", CFG_BOOL, 0, 0, 0, "no"},
	{"trunk *", "peer", CFG_STRING, CFG_REQUIRED, 0, 0, NULL},
	{"trunk *", "local", CFG_PREFIX, 0, 0, 0, NULL},
};
#define NKEYS (sizeof schema / sizeof schema[0])

static const char *good =
	"# a secondary\n"
	"name = lan-a\n"
	"\n"
	"[principal]\n"
	"address = 198.18.0.1:7443 ; inline comment\n"
	"heartbeat = 2s\n"
	"[lan]\n"
	"prefix = 10.1.0.0/16\n"
	"prefix = 2001:db8:1::/48\n"
	"gateway = 10.1.0.1\n"
	"[limits]\n"
	"compress = yes\n"
	"[trunk lan-b]\n"
	"peer = lan-b\n"
	"[trunk lan-c]\n"
	"peer = lan-c\n"
	"local = 10.1.5.0/24\n";

static void reads_a_valid_file(void **state)
{
	struct cfg c;
	struct ip_endpoint e;
	struct ip_prefix p;
	const char *trunks[4];

	assert_int_equal(cfg_load_string(&c, "good.conf", good, schema, NKEYS), 0);
	assert_string_equal(cfg_str(&c, "", "name"), "lan-a");
	assert_int_equal(cfg_endpoint(&c, "principal", "address", &e), 0);
	assert_int_equal(e.port, 7443);
	assert_true(cfg_duration_ms(&c, "principal", "heartbeat") == 2000);
	assert_int_equal(cfg_count(&c, "lan", "prefix"), 2);
	assert_string_equal(cfg_str_at(&c, "lan", "prefix", 1), "2001:db8:1::/48");
	assert_null(cfg_str_at(&c, "lan", "prefix", 2));
	assert_int_equal(cfg_int(&c, "limits", "calls"), 64);  /* default */
	assert_true(cfg_bool(&c, "limits", "compress"));
	assert_int_equal(cfg_sections(&c, "trunk ", trunks, 4), 2);
	assert_string_equal(trunks[0], "trunk lan-b");
	assert_string_equal(cfg_str(&c, trunks[1], "peer"), "lan-c");
	assert_int_equal(cfg_prefix(&c, trunks[1], "local", &p), 0);
	assert_int_equal(cfg_prefix(&c, trunks[0], "local", &p), INSEL_E_NOT_FOUND);
	cfg_free(&c);
}

/* Loads text that must fail and checks the message. */
static void expect_error(const char *text, const char *message)
{
	struct cfg c;

	assert_int_equal(cfg_load_string(&c, "x.conf", text, schema, NKEYS), INSEL_E_CONFIG);
	if (strcmp(cfg_error(&c), message) != 0)
		fail_msg("expected \"%s\"\n     got \"%s\"", message, cfg_error(&c));
	cfg_free(&c);
}

static void errors_name_file_line_and_problem(void **state)
{
	expect_error("name = a\n[principal]\naddress = 198.18.0.1\n[lan]\nprefix = 10.0.0.0/8\n",
		     "x.conf:3: key 'address' in [principal] must be ADDRESS:PORT (IPv6 as "
		     "[ADDRESS]:PORT), got '198.18.0.1'");
	expect_error("name = a\n[principal]\naddress = 198.18.0.1:1\n[lan]\nprefix = 10.1.2.3/16\n",
		     "x.conf:5: key 'prefix' in [lan] prefix has host bits set (use the network "
		     "address), got '10.1.2.3/16'");
	expect_error("name = a\n[limits]\ncalls = many\n",
		     "x.conf:3: key 'calls' in [limits] must be an integer from 1 to 10000, got "
		     "'many'");
	expect_error("name = a\n[limits]\ncalls = 0\n",
		     "x.conf:3: key 'calls' in [limits] must be an integer from 1 to 10000, got '0'");
	expect_error("name = a\n[limits]\ncompress = maybe\n",
		     "x.conf:3: key 'compress' in [limits] must be yes or no, got 'maybe'");
	expect_error("name = a\n[principal]\nheartbeat = 10 s\n",
		     "x.conf:3: key 'heartbeat' in [principal] must be a duration such as 500ms, "
		     "30s, 5m, 2h or 30d within the allowed range, got '10 s'");
	expect_error("name = a\n[principal]\nheartbeat = 2h\n",
		     "x.conf:3: key 'heartbeat' in [principal] must be a duration such as 500ms, "
		     "30s, 5m, 2h or 30d within the allowed range, got '2h'");
	expect_error("name = a\n[princpal]\naddress = 198.18.0.1:1\n",
		     "x.conf:3: unknown section [princpal]");
	expect_error("name = a\n[lan]\nprefixes = 10.0.0.0/8\n",
		     "x.conf:3: unknown key 'prefixes' in [lan]");
	expect_error("name = a\nname = b\n", "x.conf:2: key 'name' in [] is already set on line 1");
	expect_error("name = a\n[lan\n", "x.conf:2: syntax error: expected '[section]' or "
					  "'key = value'");
	expect_error("name = a\njust words\n",
		     "x.conf:2: syntax error: expected '[section]' or 'key = value'");
	expect_error("name = a\n", "x.conf: missing required key 'address' in [principal]");
	expect_error("[principal]\naddress = 198.18.0.1:1\n", "x.conf: missing required key 'name'");
	expect_error("name = a\n[principal]\naddress = 198.18.0.1:1\n[lan]\nprefix = 10.0.0.0/8\n"
		     "[trunk b]\nlocal = 10.0.0.0/24\n",
		     "x.conf: missing required key 'peer' in [trunk b]");
	expect_error("name = a\n[trunk ]\npeer = x\n", "x.conf:3: unknown section [trunk ]");
}

static void long_lines_are_refused_not_split(void **state)
{
	char text[600];

	snprintf(text, sizeof text, "name = %0500d\n", 7);
	expect_error(text, "x.conf:1: line too long (at most 198 characters)");
}

static void loads_from_a_file(void **state)
{
	char path[] = "/tmp/insel-cfg-XXXXXX";
	int fd = mkstemp(path);
	struct cfg c;
	char expected[128];

	assert_true(fd >= 0);
	assert_int_equal(write(fd, good, strlen(good)), (ssize_t)strlen(good));
	close(fd);
	assert_int_equal(cfg_load_file(&c, path, schema, NKEYS), 0);
	assert_string_equal(cfg_str(&c, "lan", "gateway"), "10.1.0.1");
	cfg_free(&c);
	unlink(path);
	assert_true(cfg_load_file(&c, path, schema, NKEYS) < 0);
	snprintf(expected, sizeof expected, "%s: cannot open: No such file or directory", path);
	assert_string_equal(cfg_error(&c), expected);
	cfg_free(&c);
}

static void value_parsers(void **state)
{
	uint64_t ms;
	bool b;
	long long n;

	assert_int_equal(cfg_parse_duration_ms("250ms", &ms), 0);
	assert_true(ms == 250);
	assert_int_equal(cfg_parse_duration_ms("5m", &ms), 0);
	assert_true(ms == 300000);
	assert_int_equal(cfg_parse_duration_ms("7", &ms), 0);
	assert_true(ms == 7000);
	assert_int_equal(cfg_parse_duration_ms("-1s", &ms), INSEL_E_CONFIG);
	assert_int_equal(cfg_parse_duration_ms("30d", &ms), 0);
	assert_true(ms == 30ULL * 86400000);
	assert_int_equal(cfg_parse_duration_ms("1w", &ms), INSEL_E_CONFIG);
	assert_int_equal(cfg_parse_duration_ms("99999999999999999999h", &ms), INSEL_E_CONFIG);
	assert_int_equal(cfg_parse_bool("Off", &b), 0);
	assert_false(b);
	assert_int_equal(cfg_parse_int("12x", &n), INSEL_E_CONFIG);
	assert_int_equal(cfg_parse_int("-12", &n), 0);
	assert_int_equal(n, -12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_a_valid_file),
		cmocka_unit_test(errors_name_file_line_and_problem),
		cmocka_unit_test(long_lines_are_refused_not_split),
		cmocka_unit_test(loads_from_a_file),
		cmocka_unit_test(value_parsers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
