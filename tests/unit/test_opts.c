/* Unit tests for the command-line option parser (opts.h): flags, values as "--name VALUE"
 * and "--name=VALUE", shared options, repeated options kept by a callback, positional
 * arguments, "--", --help, and the sentences for each mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "opts.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void values_flags_and_positionals(void **state)
{
	const char *udp = "5004", *user = NULL, *pos[2];
	bool tun = false, json = false;
	const struct opt own[] = {{"--udp", true, &udp, NULL}, {"--tun", false, NULL, &tun}};
	const struct opt shared[] = {{"--user", true, &user, NULL}, {"--json", false, NULL, &json}};
	struct opts o = {.table = own, .n = N(own), .more = shared, .nmore = N(shared),
			 .pos = pos, .max_pos = 2};
	char *argv[] = {"call", "bob@lan-b", "--udp=5004,5005", "--user", "alice", "--json",
			"--", "--tun"};

	(void)state;
	assert_int_equal(opts_parse(&o, (int)N(argv), argv, 1), OPTS_OK);
	assert_string_equal(udp, "5004,5005");
	assert_string_equal(user, "alice");
	assert_true(json);
	assert_false(tun);  /* after "--" it is an argument */
	assert_int_equal(o.npos, 2);
	assert_string_equal(pos[0], "bob@lan-b");
	assert_string_equal(pos[1], "--tun");
}

static void mistakes(void **state)
{
	const char *v = NULL, *pos[1];
	bool f = false;
	const struct opt own[] = {{"--udp", true, &v, NULL}, {"--tun", false, NULL, &f}};
	struct opts o = {.table = own, .n = N(own), .pos = pos, .max_pos = 1};
	char *unknown[] = {"x", "--bogus"}, *no_value[] = {"x", "--udp"};
	char *flag_value[] = {"x", "--tun=1"}, *too_many[] = {"x", "a", "b"};
	char *help[] = {"x", "a", "--help", "--bogus"};

	(void)state;
	assert_int_equal(opts_parse(&o, 2, unknown, 1), OPTS_ERROR);
	assert_string_equal(o.why, "unknown option '--bogus'");
	assert_int_equal(opts_parse(&o, 2, no_value, 1), OPTS_ERROR);
	assert_string_equal(o.why, "option --udp needs a value");
	assert_int_equal(opts_parse(&o, 2, flag_value, 1), OPTS_ERROR);
	assert_string_equal(o.why, "unknown option '--tun=1'");
	assert_int_equal(opts_parse(&o, 3, too_many, 1), OPTS_ERROR);
	assert_string_equal(o.why, "unexpected argument 'b'");
	assert_int_equal(opts_parse(&o, 4, help, 1), OPTS_HELP);
}

struct seen {
	const char *names[4];
	const char *values[4];
	size_t n;
};

static int take(void *ctx, const struct opt *opt, const char *value, char *why, size_t len)
{
	struct seen *s = ctx;

	if (s->n == 2) {
		snprintf(why, len, "too many options");
		return OPTS_ERROR;
	}
	s->names[s->n] = opt->name;
	s->values[s->n++] = value;
	return 0;
}

static void repeated_through_callback(void **state)
{
	const struct opt own[] = {{"--prefix", true, NULL, NULL}, {"--none", false, NULL, NULL}};
	struct seen s = {0};
	struct opts o = {.table = own, .n = N(own), .take = take, .ctx = &s};
	char *argv[] = {"add", "--prefix", "10.0.0.0/8", "--none"};
	char *three[] = {"add", "--prefix", "a", "--prefix", "b", "--none"};

	(void)state;
	assert_int_equal(opts_parse(&o, 4, argv, 1), OPTS_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "--prefix");
	assert_string_equal(s.values[0], "10.0.0.0/8");
	assert_string_equal(s.names[1], "--none");
	assert_null(s.values[1]);
	s.n = 0;
	assert_int_equal(opts_parse(&o, 6, three, 1), OPTS_ERROR);
	assert_string_equal(o.why, "too many options");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(values_flags_and_positionals),
		cmocka_unit_test(mistakes),
		cmocka_unit_test(repeated_through_callback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
