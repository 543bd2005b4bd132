/* Unit tests for renewal's certificate requests (pki_csr.h): a request made for a new
 * key passes the check and yields a certificate for that key with the role and name the
 * issuer gives (never the request's); tampered, oversized, NUL-carrying, non-PEM and
 * non-P-256 requests are refused; validity is cut to the CA's own expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "pki.h"
#include "pki_csr.h"

struct fixture {
	char dir[64];
	struct pki_issuer *issuer;
	char *key_pem;
	char *csr_pem;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[256], crt[128], key[128];

	snprintf(f->dir, sizeof f->dir, "/tmp/insel-csr-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(pki_ca_init(f->dir, "Test Org", 30, err, sizeof err), 0);
	snprintf(crt, sizeof crt, "%s/ca.crt", f->dir);
	snprintf(key, sizeof key, "%s/ca.key", f->dir);
	assert_int_equal(pki_issuer_load(crt, key, &f->issuer, err, sizeof err), 0);
	assert_int_equal(pki_key_new_pem(&f->key_pem, err, sizeof err), 0);
	assert_int_equal(pki_csr_make(f->key_pem, "lan-b", &f->csr_pem, err, sizeof err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	pki_issuer_free(f->issuer);
	pki_secret_free(f->key_pem);
	free(f->csr_pem);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void request_checks_and_names_its_key(void **state)
{
	struct fixture *f = *state;
	struct pki_csr_info info;
	char err[256], key_id[PKI_KEYID_LEN + 1];

	assert_int_equal(pki_csr_check(f->csr_pem, strlen(f->csr_pem), &info, err, sizeof err), 0);
	assert_string_equal(info.name, "lan-b");
	assert_int_equal(pki_key_id(f->key_pem, strlen(f->key_pem), key_id), 0);
	assert_string_equal(info.key_id, key_id);
}

static void issued_certificate_keeps_role_and_name(void **state)
{
	struct fixture *f = *state;
	struct pki_identity id, again;
	long long now = (long long)time(NULL);
	char err[256], *cert = NULL;

	/* The request says lan-b; the issuer decides: role secondary, name lan-c. */
	assert_int_equal(pki_issue_csr(f->issuer, f->csr_pem, strlen(f->csr_pem),
				       PKI_ROLE_SECONDARY, "lan-c", now - 60, now + 120, &cert, &id,
				       err, sizeof err), 0);
	assert_int_equal(id.role, PKI_ROLE_SECONDARY);
	assert_string_equal(id.name, "lan-c");
	assert_int_equal(id.not_after, now + 120);
	assert_int_equal(id.not_before, now - 60);
	assert_true(pki_cert_matches_key(cert, strlen(cert), f->key_pem, strlen(f->key_pem)));
	assert_int_equal(pki_identity_from_pem(cert, strlen(cert), &again, err, sizeof err), 0);
	assert_string_equal(again.fingerprint, id.fingerprint);
	assert_string_equal(again.serial, id.serial);
	free(cert);
}

static void validity_is_cut_to_the_ca(void **state)
{
	struct fixture *f = *state;
	struct pki_identity id;
	long long now = (long long)time(NULL);
	char err[256], *cert = NULL;

	assert_int_equal(pki_issue_csr(f->issuer, f->csr_pem, strlen(f->csr_pem),
				       PKI_ROLE_SECONDARY, "lan-b", now, now + 400LL * 86400, &cert,
				       &id, err, sizeof err), 0);
	assert_int_equal(id.not_after, pki_issuer_identity(f->issuer)->not_after);
	free(cert);
	assert_int_equal(pki_issue_csr(f->issuer, f->csr_pem, strlen(f->csr_pem), PKI_ROLE_CA,
				       "lan-b", now, now + 60, &cert, &id, err, sizeof err),
			 INSEL_E_BAD_FIELD);
}

static void another_key_does_not_match(void **state)
{
	struct fixture *f = *state;
	struct pki_identity id;
	long long now = (long long)time(NULL);
	char err[256], *cert = NULL, *other = NULL;

	assert_int_equal(pki_issue_csr(f->issuer, f->csr_pem, strlen(f->csr_pem),
				       PKI_ROLE_SECONDARY, "lan-b", now, now + 60, &cert, &id, err,
				       sizeof err), 0);
	assert_int_equal(pki_key_new_pem(&other, err, sizeof err), 0);
	assert_false(pki_cert_matches_key(cert, strlen(cert), other, strlen(other)));
	pki_secret_free(other);
	free(cert);
}

/* Flips one character of the base64 body near its end (inside the signature). */
static void tampered_request_is_refused(void **state)
{
	struct fixture *f = *state;
	struct pki_csr_info info;
	char err[256], *copy = strdup(f->csr_pem);
	char *end = strstr(copy, "-----END");
	char *p = end - 6;

	*p = *p == 'A' ? 'B' : 'A';
	assert_int_not_equal(pki_csr_check(copy, strlen(copy), &info, err, sizeof err), 0);
	free(copy);
}

static void bad_bytes_are_refused(void **state)
{
	struct fixture *f = *state;
	struct pki_csr_info info;
	char err[256], big[PKI_CSR_MAX + 2];
	char *nul = strdup(f->csr_pem);

	memset(big, 'A', sizeof big);
	assert_int_equal(pki_csr_check(big, sizeof big, &info, err, sizeof err), INSEL_E_TOO_BIG);
	assert_int_equal(pki_csr_check("hello", 5, &info, err, sizeof err), INSEL_E_MALFORMED);
	assert_int_equal(pki_csr_check("", 0, &info, err, sizeof err), INSEL_E_MALFORMED);
	nul[10] = '\0';
	assert_int_equal(pki_csr_check(nul, strlen(f->csr_pem), &info, err, sizeof err),
			 INSEL_E_MALFORMED);
	free(nul);
}

/* A well-formed, correctly signed request for an RSA key: not what insel makes. */
static void other_key_types_are_refused(void **state)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crq_t crq;
	gnutls_datum_t d = {NULL, 0};
	struct pki_csr_info info;
	char err[256];

	(void)state;
	assert_int_equal(gnutls_x509_privkey_init(&key), 0);
	assert_int_equal(gnutls_x509_privkey_generate(key, GNUTLS_PK_RSA, 2048, 0), 0);
	assert_int_equal(gnutls_x509_crq_init(&crq), 0);
	assert_int_equal(gnutls_x509_crq_set_version(crq, 1), 0);
	assert_int_equal(gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0,
						       "lan-b", 5), 0);
	assert_int_equal(gnutls_x509_crq_set_key(crq, key), 0);
	assert_int_equal(gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &d), 0);
	assert_int_equal(pki_csr_check((const char *)d.data, d.size, &info, err, sizeof err),
			 INSEL_E_MALFORMED);
	assert_non_null(strstr(err, "P-256"));
	gnutls_free(d.data);
	gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(key);
}

static void invalid_subject_is_refused(void **state)
{
	struct fixture *f = *state;
	char err[256], *csr = NULL;

	assert_int_equal(pki_csr_make(f->key_pem, "Not Valid", &csr, err, sizeof err),
			 INSEL_E_BAD_FIELD);
	assert_null(csr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(request_checks_and_names_its_key, setup, teardown),
		cmocka_unit_test_setup_teardown(issued_certificate_keeps_role_and_name, setup,
						teardown),
		cmocka_unit_test_setup_teardown(validity_is_cut_to_the_ca, setup, teardown),
		cmocka_unit_test_setup_teardown(another_key_does_not_match, setup, teardown),
		cmocka_unit_test_setup_teardown(tampered_request_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_bytes_are_refused, setup, teardown),
		cmocka_unit_test(other_key_types_are_refused),
		cmocka_unit_test_setup_teardown(invalid_subject_is_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
