/* Unit tests for password hashes (principal/passwd.c): round trip, wrong password, salts
 * differ, the iteration count is kept in the string, malformed hashes are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "passwd.h"

#define FAST PASSWD_MIN_ITERATIONS

static void round_trip(void **state)
{
	char h[PASSWD_HASH_STRLEN];

	(void)state;
	assert_int_equal(passwd_hash("correct horse", FAST, h, sizeof h), 0);
	assert_true(strncmp(h, "pbkdf2-sha256$1000$", 19) == 0);
	assert_int_equal(strlen(h), strlen("pbkdf2-sha256$1000$") + 32 + 1 + 64);
	assert_int_equal(passwd_verify("correct horse", h), 0);
	assert_int_equal(passwd_verify("correct horsf", h), INSEL_E_AUTH);
	assert_int_equal(passwd_verify("", h), INSEL_E_AUTH);
}

static void salts_differ(void **state)
{
	char a[PASSWD_HASH_STRLEN], b[PASSWD_HASH_STRLEN];

	(void)state;
	assert_int_equal(passwd_hash("pw", FAST, a, sizeof a), 0);
	assert_int_equal(passwd_hash("pw", FAST, b, sizeof b), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(passwd_verify("pw", a), 0);
	assert_int_equal(passwd_verify("pw", b), 0);
}

static void iterations_are_stored(void **state)
{
	char h[PASSWD_HASH_STRLEN];

	(void)state;
	assert_int_equal(passwd_hash("pw", 2345, h, sizeof h), 0);
	assert_non_null(strstr(h, "$2345$"));
	assert_int_equal(passwd_verify("pw", h), 0);
	/* Changing the stored count changes the key: the count really is used. */
	memcpy(strstr(h, "$2345$"), "$2346$", 6);
	assert_int_equal(passwd_verify("pw", h), INSEL_E_AUTH);
}

static void bad_input(void **state)
{
	char h[PASSWD_HASH_STRLEN], *huge = malloc(PASSWD_MAX_LEN + 2);

	(void)state;
	memset(huge, 'a', PASSWD_MAX_LEN + 1);
	huge[PASSWD_MAX_LEN + 1] = '\0';
	assert_int_equal(passwd_hash("", FAST, h, sizeof h), INSEL_E_BAD_FIELD);
	assert_int_equal(passwd_hash(huge, FAST, h, sizeof h), INSEL_E_BAD_FIELD);
	assert_int_equal(passwd_hash("pw", 10, h, sizeof h), INSEL_E_BAD_FIELD);
	assert_int_equal(passwd_hash("pw", FAST, h, 20), INSEL_E_NOSPACE);
	free(huge);
	assert_int_equal(passwd_verify("pw", ""), INSEL_E_MALFORMED);
	assert_int_equal(passwd_verify("pw", "md5$1000$00$00"), INSEL_E_MALFORMED);
	assert_int_equal(passwd_verify("pw", "pbkdf2-sha256$1000$zz$00"), INSEL_E_MALFORMED);
	assert_int_equal(passwd_verify("pw", "pbkdf2-sha256$5$00112233445566778899aabbccddeeff$"
				       "00"), INSEL_E_MALFORMED);
	assert_int_equal(passwd_verify("pw", "pbkdf2-sha256$1000$00112233445566778899aabbccddeeff"
				       "$0011"), INSEL_E_MALFORMED);
	assert_int_equal(passwd_verify("pw", NULL), INSEL_E_MALFORMED);
	passwd_verify_dummy("pw", FAST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(salts_differ),
		cmocka_unit_test(iterations_are_stored),
		cmocka_unit_test(bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
