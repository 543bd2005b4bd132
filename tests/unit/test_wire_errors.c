/* Unit tests of the registry of wire error codes: unique names that the peer protocol can
 * carry as a hang-up reason, a meaning, a sentence and an exit status for every code, name
 * <-> enum round trips (aliases included), the error space mapped onto codes, and
 * docs/errors.md holding exactly the table generated from the registry.
 *
 *   test-wire-errors DOC          runs the tests against the doc at DOC
 *   test-wire-errors --markdown   prints the table to paste into docs/errors.md */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "err.h"
#include "wire_errors.h"

#define DOC_BEGIN "<!-- BEGIN generated from common/control/wire_errors.def -->\n"
#define DOC_END "<!-- END generated -->\n"

static const char *doc_path;

static bool is_wire_word(const char *s)
{
	size_t n = strlen(s);

	/* The peer protocol passes on a hang-up reason only if it looks like this. */
	return n > 0 && n <= 24 && strspn(s, "abcdefghijklmnopqrstuvwxyz_") == n;
}

static void names_are_unique_wire_words(void **state)
{
	const char *old;
	enum wire_error e;

	(void)state;
	for (int i = 0; i < WERR_COUNT; i++) {
		assert_true(is_wire_word(wire_error_name(i)));
		for (int j = i + 1; j < WERR_COUNT; j++)
			assert_string_not_equal(wire_error_name(i), wire_error_name(j));
	}
	for (size_t a = 0; wire_error_alias(a, &old, &e); a++) {
		assert_true(is_wire_word(old));
		for (int i = 0; i < WERR_COUNT; i++)
			assert_string_not_equal(old, wire_error_name(i));
	}
}

static bool is_sentence(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 1 && s[0] >= 'A' && s[0] <= 'Z' && s[n - 1] == '.';
}

/* Test scripts quote the client's output in single quotes; these older sentences, which
 * no script quotes, keep theirs. */
static bool may_hold_a_quote(enum wire_error e)
{
	return e == WERR_BAD_REQUEST || e == WERR_BAD_FIELD || e == WERR_PEER_DOWN ||
	       e == WERR_GATEWAY_OUTSIDE_LAN;
}

static void every_code_has_meaning_sentence_and_exit_code(void **state)
{
	(void)state;
	for (int i = 0; i < WERR_COUNT; i++) {
		const char *meaning = wire_error_meaning(i);

		assert_non_null(meaning);
		assert_true(strlen(meaning) > 0);
		assert_null(strchr(meaning, '|'));  /* a cell of the doc's table */
		if (!is_sentence(wire_error_sentence(i, WIRE_STEP_ANY)))
			fail_msg("%s: not a sentence", wire_error_name(i));
		assert_true(is_sentence(wire_error_sentence(i, WIRE_STEP_LOGIN)));
		if (!may_hold_a_quote(i) && (strchr(wire_error_sentence(i, WIRE_STEP_ANY), '\'') ||
					     strchr(wire_error_sentence(i, WIRE_STEP_LOGIN), '\'')))
			fail_msg("%s: a quote in its sentence", wire_error_name(i));
		assert_in_range(wire_error_exit_code(i, WIRE_STEP_ANY), EXIT_FAILURE_GENERIC,
				EXIT_UNAVAILABLE);
		assert_in_range(wire_error_exit_code(i, WIRE_STEP_LOGIN), EXIT_FAILURE_GENERIC,
				EXIT_UNAVAILABLE);
	}
}

static void names_round_trip(void **state)
{
	enum wire_error e;

	(void)state;
	for (int i = 0; i < WERR_COUNT; i++) {
		assert_true(wire_error_lookup(wire_error_name(i), &e));
		assert_int_equal(e, i);
		assert_true(wire_error_is(wire_error_name(i), i));
	}
	assert_string_equal(WIRE(PEER_DOWN), "peer_down");
	assert_false(wire_error_lookup("a_code_from_a_newer_peer", &e));
	assert_false(wire_error_lookup(NULL, &e));
	assert_false(wire_error_is(NULL, WERR_INTERNAL));
	assert_false(wire_error_is("peer_down", WERR_PEER_LOST));
}

/* One name for a version refused; secondaries used to say "version". */
static void old_version_name_is_read_as_unsupported_version(void **state)
{
	enum wire_error e;

	(void)state;
	assert_string_equal(WIRE(UNSUPPORTED_VERSION), "unsupported_version");
	assert_true(wire_error_lookup("version", &e));
	assert_int_equal(e, WERR_UNSUPPORTED_VERSION);
	assert_true(wire_error_is("version", WERR_UNSUPPORTED_VERSION));
}

static void error_space_maps_onto_codes(void **state)
{
	(void)state;
	for (int err = INSEL_E_BASE - 1; err > INSEL_E_LAST; err--) {
		enum wire_error e = wire_error_of(err);

		if (e == WERR_INTERNAL || e == WERR_SYSTEM)
			fail_msg("%d (%s) has no wire code of its own", err, insel_strerror(err));
		for (int other = err - 1; other > INSEL_E_LAST; other--)
			assert_int_not_equal(e, wire_error_of(other));
	}
	assert_string_equal(wire_error_name(wire_error_of(INSEL_E_VERSION)), "unsupported_version");
	assert_string_equal(wire_error_name(wire_error_of(INSEL_E_BAD_FIELD)), "bad_field");
	assert_int_equal(wire_error_of(-ENOMEM), WERR_SYSTEM);
	assert_int_equal(wire_error_of(0), WERR_INTERNAL);
	assert_int_equal(wire_error_of(INSEL_E_LAST), WERR_INTERNAL);
}

/* While logging in, "busy" and "limit" are about logins; elsewhere about calls. */
static void login_step_has_its_own_sentences(void **state)
{
	(void)state;
	assert_non_null(strstr(wire_error_sentence(WERR_BUSY, WIRE_STEP_LOGIN),
			       "Too many failed logins"));
	assert_int_equal(wire_error_exit_code(WERR_BUSY, WIRE_STEP_LOGIN), EXIT_UNAVAILABLE);
	assert_non_null(strstr(wire_error_sentence(WERR_BUSY, WIRE_STEP_ANY), "busy in another"));
	assert_int_equal(wire_error_exit_code(WERR_BUSY, WIRE_STEP_ANY), EXIT_FAILURE_GENERIC);
	assert_non_null(strstr(wire_error_sentence(WERR_LIMIT, WIRE_STEP_LOGIN),
			       "max_connections"));
	assert_non_null(strstr(wire_error_sentence(WERR_LIMIT, WIRE_STEP_ANY),
			       "limit of concurrent"));
	assert_string_equal(wire_error_sentence(WERR_REJECTED, WIRE_STEP_LOGIN),
			    wire_error_sentence(WERR_REJECTED, WIRE_STEP_ANY));
}

/* Sentences the netns tests look for in the client's output. */
static void client_sentences_keep_their_words(void **state)
{
	static const struct {
		enum wire_error e;
		const char *words;
	} kept[] = {
		{WERR_UNKNOWN_CALLEE, "Nobody by that name"},
		{WERR_BAD_PASSWORD, "password is wrong"},
		{WERR_NOT_LISTENING, "not waiting for calls"},
		{WERR_REJECTED, "declined"},
		{WERR_NOT_IN_LAN, "inside your LAN"},
		{WERR_PRINCIPAL_UNREACHABLE, "directory"},
		{WERR_UNKNOWN_CALL, "no such call"},
		{WERR_REVOKED, "revoked the certificate of a gateway"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
		assert_non_null(strstr(wire_error_sentence(kept[i].e, WIRE_STEP_ANY),
				       kept[i].words));
}

static void put(struct buf *b, const char *s)
{
	assert_int_equal(buf_append(b, s, strlen(s)), 0);
}

static void put_code(struct buf *b, const char *name)
{
	put(b, "| `");
	put(b, name);
	put(b, "` | ");
}

static void put_exit_code(struct buf *b, int code)
{
	char n[16];

	snprintf(n, sizeof n, " | %d |\n", code);
	put(b, n);
}

/* The doc's table: one row per code, then the codes that say something else while
 * logging in, then the old names still read. */
static void markdown_table(struct buf *b)
{
	const char *old;
	enum wire_error e;

	put(b, DOC_BEGIN);
	put(b, "| code | meaning | the client says | exit |\n| --- | --- | --- | --- |\n");
	for (int i = 0; i < WERR_COUNT; i++) {
		put_code(b, wire_error_name(i));
		put(b, wire_error_meaning(i));
		put(b, " | ");
		put(b, wire_error_sentence(i, WIRE_STEP_ANY));
		put_exit_code(b, wire_error_exit_code(i, WIRE_STEP_ANY));
	}
	put(b, "\nWhile logging in:\n\n| code | the client says | exit |\n| --- | --- | --- |\n");
	for (int i = 0; i < WERR_COUNT; i++) {
		if (wire_error_sentence(i, WIRE_STEP_LOGIN) == wire_error_sentence(i, WIRE_STEP_ANY))
			continue;
		put_code(b, wire_error_name(i));
		put(b, wire_error_sentence(i, WIRE_STEP_LOGIN));
		put_exit_code(b, wire_error_exit_code(i, WIRE_STEP_LOGIN));
	}
	put(b, "\nOld names, read as the code they stand for and never sent:\n\n");
	for (size_t a = 0; wire_error_alias(a, &old, &e); a++) {
		put(b, "- `");
		put(b, old);
		put(b, "`: `");
		put(b, wire_error_name(e));
		put(b, "`\n");
	}
	put(b, DOC_END);
}

static char *read_doc(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 1 << 20);
	size_t n;

	if (!f)
		fail_msg("cannot open %s", path);
	assert_non_null(text);
	n = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

static void doc_holds_the_generated_table(void **state)
{
	struct buf want;
	char *doc = read_doc(doc_path), *begin = strstr(doc, DOC_BEGIN), *end;
	size_t len;

	(void)state;
	buf_init(&want, 1 << 20);
	markdown_table(&want);
	end = begin ? strstr(begin, DOC_END) : NULL;
	if (!end)
		fail_msg("%s: no generated table (see test-wire-errors --markdown)", doc_path);
	len = (size_t)(end - begin) + strlen(DOC_END);
	if (len != want.len || memcmp(begin, want.data, len) != 0)
		fail_msg("%s: the table differs from the registry; regenerate it with "
			 "test-wire-errors --markdown", doc_path);
	buf_free(&want);
	free(doc);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_are_unique_wire_words),
		cmocka_unit_test(every_code_has_meaning_sentence_and_exit_code),
		cmocka_unit_test(names_round_trip),
		cmocka_unit_test(old_version_name_is_read_as_unsupported_version),
		cmocka_unit_test(error_space_maps_onto_codes),
		cmocka_unit_test(login_step_has_its_own_sentences),
		cmocka_unit_test(client_sentences_keep_their_words),
		cmocka_unit_test(doc_holds_the_generated_table),
	};

	if (argc == 2 && strcmp(argv[1], "--markdown") == 0) {
		struct buf b;

		buf_init(&b, 1 << 20);
		markdown_table(&b);
		fwrite(b.data, 1, b.len, stdout);
		buf_free(&b);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s DOCS/errors.md | --markdown\n", argv[0]);
		return EXIT_USAGE;
	}
	doc_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
