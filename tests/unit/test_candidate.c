/* Unit tests for the candidate codec (candidate.h): each kind, IPv4 and IPv6, encoded and
 * decoded back to the same thing with the JSON the design fixes; lists with unknown kinds
 * skipped; every malformed field refused with a sentence that names it; the names of the
 * kinds and NAT mappings both ways; deduplication by endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "candidate.h"
#include "err.h"

static struct candidate make(enum cand_kind kind, const char *addr)
{
	struct candidate c;

	memset(&c, 0, sizeof c);
	c.kind = kind;
	assert_int_equal(ip_endpoint_parse(addr, &c.ep), 0);
	if (kind == CAND_RELAY) {
		c.relay_id = 0x0011223344556677ULL;
		for (size_t i = 0; i < CAND_TOKEN_LEN; i++)
			c.relay_token[i] = (uint8_t)(0xa0 + i);
	}
	return c;
}

static void round_trip(const struct candidate *c, const char *expect)
{
	struct candidate back;
	char why[256] = "";
	json_t *j = candidate_to_json(c), *want = json_loads(expect, 0, NULL);

	assert_non_null(j);
	assert_non_null(want);
	assert_true(json_equal(j, want));
	assert_int_equal(candidate_from_json(j, &back, why, sizeof why), 0);
	assert_true(candidate_equal(c, &back));
	json_decref(want);
	json_decref(j);
}

static void kinds_round_trip(void **state)
{
	struct candidate h = make(CAND_HOST, "198.18.0.1:40000");
	struct candidate s = make(CAND_SRFLX, "[2001:db8::9]:61000");
	struct candidate r = make(CAND_RELAY, "198.18.0.1:3479");

	(void)state;
	round_trip(&h, "{\"kind\":\"host\",\"addr\":\"198.18.0.1:40000\"}");
	round_trip(&s, "{\"kind\":\"srflx\",\"addr\":\"[2001:db8::9]:61000\"}");
	round_trip(&r, "{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\",\"relay_id\":"
		       "\"0011223344556677\",\"token\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\"}");
	/* A relay with a TCP fallback says where it listens. */
	r.has_tcp = true;
	assert_int_equal(ip_endpoint_parse("198.18.0.1:443", &r.tcp), 0);
	round_trip(&r, "{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\",\"relay_id\":"
		       "\"0011223344556677\",\"token\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\","
		       "\"tcp\":\"198.18.0.1:443\"}");
	/* The principal's routes go through it: said only when so. */
	r.has_tcp = false;
	r.preferred = true;
	round_trip(&r, "{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\",\"relay_id\":"
		       "\"0011223344556677\",\"token\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\","
		       "\"preferred\":true}");
}

static void list_round_trips(void **state)
{
	struct candidate in[3] = {make(CAND_HOST, "10.0.0.1:1"), make(CAND_SRFLX, "198.18.9.1:2"),
				  make(CAND_RELAY, "[2001:db8::1]:3479")};
	struct candidate out[CAND_MAX];
	char why[256] = "";
	json_t *j = candidates_to_json(in, 3);
	size_t n = 99;

	(void)state;
	assert_non_null(j);
	assert_int_equal(json_array_size(j), 3);
	assert_int_equal(candidates_from_json(j, out, CAND_MAX, &n, why, sizeof why), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_true(candidate_equal(&in[i], &out[i]));
	json_decref(j);
	j = candidates_to_json(in, 0);
	assert_int_equal(candidates_from_json(j, out, CAND_MAX, &n, why, sizeof why), 0);
	assert_int_equal(n, 0);
	json_decref(j);
}

static void unknown_kinds_skipped(void **state)
{
	struct candidate out[CAND_MAX];
	char why[256] = "";
	size_t n;
	json_t *j = json_loads("[{\"kind\":\"tcp\",\"addr\":\"whatever\"},"
			       "{\"kind\":\"srflx\",\"addr\":\"198.18.9.1:61000\"}]", 0, NULL);

	(void)state;
	assert_int_equal(candidates_from_json(j, out, CAND_MAX, &n, why, sizeof why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].kind, CAND_SRFLX);
	assert_int_equal(out[0].ep.port, 61000);
	json_decref(j);
	/* Alone, an unknown kind is refused. */
	j = json_loads("{\"kind\":\"tcp\",\"addr\":\"198.18.9.1:1\"}", 0, NULL);
	assert_int_equal(candidate_from_json(j, out, why, sizeof why), INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "kind"));
	json_decref(j);
}

static void expect_refused(const char *text, const char *word)
{
	struct candidate c;
	char why[256] = "";
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	assert_int_equal(candidate_from_json(j, &c, why, sizeof why), INSEL_E_BAD_FIELD);
	if (!strstr(why, word))
		fail_msg("'%s': reason '%s' does not name '%s'", text, why, word);
	json_decref(j);
}

static void fields_refused(void **state)
{
	(void)state;
	expect_refused("[]", "object");
	expect_refused("{\"addr\":\"198.18.0.1:1\"}", "kind");
	expect_refused("{\"kind\":1,\"addr\":\"198.18.0.1:1\"}", "kind");
	expect_refused("{\"kind\":\"host\"}", "addr");
	expect_refused("{\"kind\":\"host\",\"addr\":7}", "addr");
	expect_refused("{\"kind\":\"host\",\"addr\":\"198.18.0.1\"}", "addr");
	expect_refused("{\"kind\":\"host\",\"addr\":\"198.18.0.1:0\"}", "addr");
	expect_refused("{\"kind\":\"host\",\"addr\":\"198.18.0.1:65536\"}", "addr");
	expect_refused("{\"kind\":\"host\",\"addr\":\"0.0.0.0:5\"}", "addr");
	expect_refused("{\"kind\":\"srflx\",\"addr\":\"[::]:5\"}", "addr");
	expect_refused("{\"kind\":\"srflx\",\"addr\":\"2001:db8::1:5\"}", "addr");
	expect_refused("{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\",\"token\":"
		       "\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\"}", "relay_id");
	expect_refused("{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\",\"relay_id\":"
		       "\"0000000000000000\",\"token\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\"}",
		       "relay_id");
	expect_refused("{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\",\"relay_id\":"
		       "\"0011223344556677\"}", "token");
	expect_refused("{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\",\"relay_id\":"
		       "\"0011223344556677\",\"token\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\","
		       "\"tcp\":\"198.18.0.1:0\"}", "tcp");
	expect_refused("{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\",\"relay_id\":"
		       "\"0011223344556677\",\"token\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\","
		       "\"tcp\":443}", "tcp");
	expect_refused("{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\",\"relay_id\":"
		       "\"0011223344556677\",\"token\":\"a0a1\"}", "token");
	expect_refused("{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\",\"relay_id\":"
		       "\"0011223344556677\",\"token\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeafzz\"}",
		       "token");
	expect_refused("{\"kind\":\"relay\",\"addr\":\"198.18.0.1:3479\",\"relay_id\":"
		       "\"0011223344556677\",\"token\":\"g0a1a2a3a4a5a6a7a8a9aaabacadaeaf\"}",
		       "token");
}

static void lists_refused(void **state)
{
	struct candidate out[CAND_MAX];
	char why[256] = "";
	json_t *many = json_array(), *j;
	size_t n;

	(void)state;
	for (size_t i = 0; i <= CAND_MAX; i++)
		json_array_append_new(many, json_pack("{s:s, s:s}", "kind", "host", "addr",
						      "10.0.0.1:1"));
	assert_int_equal(candidates_from_json(many, out, CAND_MAX, &n, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "at most"));
	assert_int_equal(candidates_from_json(many, out, 2, &n, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	json_decref(many);
	j = json_object();
	assert_int_equal(candidates_from_json(j, out, CAND_MAX, &n, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	json_decref(j);
	j = json_loads("[{\"kind\":\"host\",\"addr\":\"10.0.0.1:1\"},{\"kind\":\"host\"}]", 0,
		       NULL);
	assert_int_equal(candidates_from_json(j, out, CAND_MAX, &n, why, sizeof why),
			 INSEL_E_BAD_FIELD);
	assert_non_null(strstr(why, "candidate 1"));
	json_decref(j);
}

static void names_both_ways(void **state)
{
	enum cand_kind k;
	enum nat_mapping m;

	(void)state;
	for (int i = CAND_HOST; i <= CAND_RELAY; i++) {
		assert_int_equal(cand_kind_from_name(cand_kind_name((enum cand_kind)i), &k), 0);
		assert_int_equal(k, i);
	}
	for (int i = NAT_MAPPING_UNKNOWN; i <= NAT_MAPPING_DEPENDENT; i++) {
		assert_int_equal(nat_mapping_from_name(nat_mapping_name((enum nat_mapping)i), &m),
				 0);
		assert_int_equal(m, i);
	}
	assert_string_equal(nat_mapping_name(NAT_MAPPING_DEPENDENT), "dependent");
	assert_int_equal(cand_kind_from_name("prflx", &k), INSEL_E_BAD_FIELD);
	assert_int_equal(nat_mapping_from_name("symmetric", &m), INSEL_E_BAD_FIELD);
	assert_int_equal(cand_kind_from_name(NULL, &k), INSEL_E_BAD_FIELD);
}

static void listed_and_formatted(void **state)
{
	struct candidate list[2] = {make(CAND_HOST, "198.18.0.1:40000"),
				    make(CAND_SRFLX, "198.18.9.1:61000")};
	struct candidate same_as_host = make(CAND_SRFLX, "198.18.0.1:40000");
	struct candidate other_port = make(CAND_SRFLX, "198.18.0.1:40001");
	char text[CAND_STRLEN];

	(void)state;
	assert_true(candidate_listed(list, 2, &same_as_host));
	assert_false(candidate_listed(list, 2, &other_port));
	assert_false(candidate_listed(list, 0, &same_as_host));
	assert_false(candidate_equal(&list[0], &same_as_host));
	assert_string_equal(candidate_format(&list[1], text, sizeof text),
			    "srflx 198.18.9.1:61000");
	{
		char all[CAND_LIST_STRLEN], small[20];

		assert_string_equal(candidates_format(list, 2, all, sizeof all),
				    "host 198.18.0.1:40000, srflx 198.18.9.1:61000");
		assert_string_equal(candidates_format(list, 0, all, sizeof all), "none");
		/* Cut short, never past the buffer. */
		assert_int_equal(strlen(candidates_format(list, 2, small, sizeof small)), 19);
	}
}

static struct ip_endpoint ep(const char *text)
{
	struct ip_endpoint e;

	assert_int_equal(ip_endpoint_parse(text, &e), 0);
	return e;
}

/* What STUN answers make of the candidates and the mapping. */
static void gathered(void **state)
{
	struct ip_endpoint host = ep("100.64.1.2:40000"), wild = ep("0.0.0.0:40000");
	struct ip_endpoint one[1] = {ep("198.18.9.1:61000")};
	struct ip_endpoint same[2] = {ep("198.18.9.1:61000"), ep("198.18.9.1:61000")};
	struct ip_endpoint differ[2] = {ep("198.18.9.1:61000"), ep("198.18.9.1:61001")};
	struct ip_endpoint none[2] = {host, host};
	struct ip_endpoint distinct[2];
	struct candidate c[CAND_MAX];
	enum nat_mapping m;
	size_t nd, n;

	(void)state;
	n = candidates_gather(&host, NULL, 0, c, distinct, &nd, &m);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].kind, CAND_HOST);
	assert_int_equal(nd, 0);
	assert_int_equal(m, NAT_MAPPING_UNKNOWN);
	n = candidates_gather(&host, one, 1, c, distinct, &nd, &m);
	assert_int_equal(n, 2);
	assert_int_equal(c[1].kind, CAND_SRFLX);
	assert_int_equal(c[1].ep.port, 61000);
	assert_int_equal(m, NAT_MAPPING_UNKNOWN);
	n = candidates_gather(&host, same, 2, c, distinct, &nd, &m);
	assert_int_equal(n, 2);
	assert_int_equal(nd, 1);
	assert_int_equal(m, NAT_MAPPING_INDEPENDENT);
	n = candidates_gather(&host, differ, 2, c, distinct, &nd, &m);
	assert_int_equal(n, 3);
	assert_int_equal(nd, 2);
	assert_int_equal(m, NAT_MAPPING_DEPENDENT);
	n = candidates_gather(&host, none, 2, c, distinct, &nd, &m);
	assert_int_equal(n, 1);
	assert_int_equal(m, NAT_MAPPING_NONE);
	n = candidates_gather(&host, none, 1, c, distinct, &nd, &m);
	assert_int_equal(m, NAT_MAPPING_NONE);
	/* A socket on the wildcard address has no host candidate to give. */
	n = candidates_gather(&wild, one, 1, c, distinct, &nd, &m);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].kind, CAND_SRFLX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kinds_round_trip),
		cmocka_unit_test(list_round_trips),
		cmocka_unit_test(unknown_kinds_skipped),
		cmocka_unit_test(fields_refused),
		cmocka_unit_test(lists_refused),
		cmocka_unit_test(names_both_ways),
		cmocka_unit_test(listed_and_formatted),
		cmocka_unit_test(gathered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
