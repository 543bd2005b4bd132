/* Unit tests for the PKI: a CA in a temporary directory, certificates issued for each
 * role and read back, key files 0600, refusal to overwrite, invalid names and roles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "pki.h"

struct fixture {
	char dir[64];
	char path[256];
	char path2[256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[256];

	snprintf(f->dir, sizeof f->dir, "/tmp/insel-pki-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(pki_ca_init(f->dir, "Test Org", 30, err, sizeof err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const char *in_dir(struct fixture *f, char *out, const char *file)
{
	snprintf(out, 256, "%s/%s", f->dir, file);
	return out;
}

static void ca_identity_and_modes(void **state)
{
	struct fixture *f = *state;
	struct pki_identity id;
	struct stat st;
	char err[256];

	assert_int_equal(pki_read_identity(in_dir(f, f->path, "ca.crt"), &id, err, sizeof err), 0);
	assert_int_equal(id.role, PKI_ROLE_CA);
	assert_string_equal(id.name, "Test Org CA");
	assert_int_equal(strlen(id.fingerprint), PKI_FINGERPRINT_LEN);
	assert_int_equal(stat(in_dir(f, f->path, "ca.key"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A second init on the same directory is refused and leaves the CA intact. */
	assert_int_equal(pki_ca_init(f->dir, "Other", 30, err, sizeof err), INSEL_E_EXISTS);
	assert_non_null(strstr(err, "already exists"));
}

static void issue_and_read_back(void **state)
{
	struct fixture *f = *state;
	static const enum pki_role roles[] = {PKI_ROLE_PRINCIPAL, PKI_ROLE_SECONDARY,
					      PKI_ROLE_USER};
	static const char *const names[] = {"principal", "lan-b", "alice.smith_2"};
	struct pki_identity issued, read;
	struct stat st;
	char err[256], key[256];

	for (size_t i = 0; i < 3; i++) {
		snprintf(f->path, sizeof f->path, "%s/%s.crt", f->dir, names[i]);
		snprintf(key, sizeof key, "%s/%s.key", f->dir, names[i]);
		assert_int_equal(pki_issue(f->dir, roles[i], names[i], 10, f->path, key, &issued,
					   err, sizeof err), 0);
		assert_int_equal(pki_read_identity(f->path, &read, err, sizeof err), 0);
		assert_int_equal(read.role, roles[i]);
		assert_string_equal(read.name, names[i]);
		assert_string_equal(read.serial, issued.serial);
		assert_string_equal(read.fingerprint, issued.fingerprint);
		assert_int_equal(strlen(read.serial), 32);
		assert_true(read.not_after > time(NULL) + 9 * 86400);
		assert_true(read.not_before <= time(NULL));
		assert_int_equal(stat(key, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
}

static void serials_differ(void **state)
{
	struct fixture *f = *state;
	struct pki_identity a, b;
	char err[256], k1[256], k2[256];

	assert_int_equal(pki_issue(f->dir, PKI_ROLE_USER, "u1", 1, in_dir(f, f->path, "u1.crt"),
				   in_dir(f, k1, "u1.key"), &a, err, sizeof err), 0);
	assert_int_equal(pki_issue(f->dir, PKI_ROLE_USER, "u2", 1, in_dir(f, f->path2, "u2.crt"),
				   in_dir(f, k2, "u2.key"), &b, err, sizeof err), 0);
	assert_string_not_equal(a.serial, b.serial);
}

static void refuses_overwrite(void **state)
{
	struct fixture *f = *state;
	struct pki_identity a, b;
	char err[256], key[256], key2[256];

	in_dir(f, f->path, "x.crt");
	in_dir(f, key, "x.key");
	assert_int_equal(pki_issue(f->dir, PKI_ROLE_SECONDARY, "lan-x", 5, f->path, key, &a, err,
				   sizeof err), 0);
	/* Same key path: refused, the first certificate stays as it was. */
	assert_int_equal(pki_issue(f->dir, PKI_ROLE_SECONDARY, "lan-x", 5,
				   in_dir(f, f->path2, "y.crt"), key, NULL, err, sizeof err),
			 INSEL_E_EXISTS);
	assert_non_null(strstr(err, "x.key"));
	/* Same certificate path with a fresh key path: refused, and the new key is removed. */
	in_dir(f, key2, "y.key");
	assert_int_equal(pki_issue(f->dir, PKI_ROLE_SECONDARY, "lan-x", 5, f->path, key2, NULL,
				   err, sizeof err), INSEL_E_EXISTS);
	assert_int_equal(access(key2, F_OK), -1);
	assert_int_equal(access(f->path2, F_OK), -1);
	assert_int_equal(pki_read_identity(f->path, &b, err, sizeof err), 0);
	assert_string_equal(a.serial, b.serial);
}

static void invalid_names_and_roles(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {"", "Upper", "-lead", ".lead", "has space", "a/b",
					  "x@y", "é"};
	char err[256], key[256], long_name[PKI_NAME_MAX + 2];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_false(pki_name_valid(bad[i]));
		assert_int_equal(pki_issue(f->dir, PKI_ROLE_USER, bad[i], 1,
					   in_dir(f, f->path, "bad.crt"), in_dir(f, key, "bad.key"),
					   NULL, err, sizeof err), INSEL_E_BAD_FIELD);
		assert_non_null(strstr(err, "not a valid name"));
	}
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	assert_false(pki_name_valid(long_name));
	long_name[PKI_NAME_MAX] = '\0';
	assert_true(pki_name_valid(long_name));
	assert_false(pki_name_valid(NULL));
	assert_true(pki_name_valid("0lan"));
	assert_int_equal(pki_issue(f->dir, PKI_ROLE_CA, "sub", 1, f->path, key, NULL, err,
				   sizeof err), INSEL_E_BAD_FIELD);
	assert_int_equal(pki_issue(f->dir, PKI_ROLE_USER, "ok", 0, f->path, key, NULL, err,
				   sizeof err), INSEL_E_BAD_FIELD);
	assert_int_equal(access(f->path, F_OK), -1);
}

static void role_names_round_trip(void **state)
{
	for (enum pki_role r = PKI_ROLE_CA; r <= PKI_ROLE_USER; r++)
		assert_int_equal(pki_role_from_name(pki_role_name(r)), r);
	assert_int_equal(pki_role_from_name("admin"), PKI_ROLE_NONE);
	assert_int_equal(pki_role_from_name(NULL), PKI_ROLE_NONE);
	assert_string_equal(pki_role_name((enum pki_role)99), "none");
}

static void errors_name_the_file(void **state)
{
	struct fixture *f = *state;
	struct pki_identity id;
	char err[256], key[256];
	FILE *fp;

	assert_int_equal(pki_read_identity("/nonexistent/x.crt", &id, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.crt"));
	fp = fopen(in_dir(f, f->path, "junk.crt"), "w");
	fputs("not a certificate\n", fp);
	fclose(fp);
	assert_int_equal(pki_read_identity(f->path, &id, err, sizeof err), INSEL_E_MALFORMED);
	assert_non_null(strstr(err, "junk.crt"));
	/* Issuing from a directory without a CA names the missing file. */
	assert_int_equal(pki_issue("/nonexistent", PKI_ROLE_USER, "u", 1, f->path2,
				   in_dir(f, key, "u.key"), NULL, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/ca.crt"));
}

static void explicit_validity(void **state)
{
	struct fixture *f = *state;
	struct pki_identity id;
	char err[256], key[256];
	long long now = (long long)time(NULL);

	assert_int_equal(pki_issue_validity(f->dir, PKI_ROLE_SECONDARY, "old", now - 7200,
					    now - 3600, in_dir(f, f->path, "old.crt"),
					    in_dir(f, key, "old.key"), &id, err, sizeof err), 0);
	assert_int_equal(id.not_after, now - 3600);
	assert_int_equal(id.not_before, now - 7200);
	assert_int_equal(pki_issue_validity(f->dir, PKI_ROLE_SECONDARY, "bad", now, now - 1,
					    in_dir(f, f->path2, "bad.crt"),
					    in_dir(f, key, "bad.key"), &id, err, sizeof err),
			 INSEL_E_BAD_FIELD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ca_identity_and_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(issue_and_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(serials_differ, setup, teardown),
		cmocka_unit_test_setup_teardown(refuses_overwrite, setup, teardown),
		cmocka_unit_test_setup_teardown(invalid_names_and_roles, setup, teardown),
		cmocka_unit_test(role_names_round_trip),
		cmocka_unit_test_setup_teardown(errors_name_the_file, setup, teardown),
		cmocka_unit_test_setup_teardown(explicit_validity, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
