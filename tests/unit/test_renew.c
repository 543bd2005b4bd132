/* Unit tests for renewal at the principal (principal/api_renew.c, db_renew.c, expiry.c),
 * through the API handler with a real CA in a temporary directory and a temporary
 * directory database:
 *   - online issuing: the reply carries a certificate for the request's key with the
 *     caller's role and name; the directory records it as the secondary's (fingerprint,
 *     serial, expiry) and keeps the old one as previous_fingerprint, which look-ups show;
 *   - the same key finds the same request; a request naming someone else is forbidden;
 *   - without an issuing key the request is pending; approving it (db_renew_issued) is
 *     refused twice; a rejected request answers "refused";
 *   - a pinned secondary may register with its previous certificate (the current one
 *     stays), and registering with the current one ends the switch;
 *   - revoking the secondary revokes both certificates;
 *   - expiry warnings name the certificates within the window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "db_scratch.h"
#include "db_renew.h"
#include "err.h"
#include "expiry.h"
#include "msg.h"
#include "pki_csr.h"

struct fixture {
	char dir[64];
	char path[DB_SCRATCH_PATH_LEN];
	struct api_server srv;
	struct api_peer peer;
	json_t *reply;           /* the last reply the handler sent */
	char *key_pem, *csr_pem;
};

static int64_t now_fn(void)
{
	return (int64_t)time(NULL);
}

static void capture(struct api_peer *p, json_t *msg)
{
	struct fixture *f = p->transport;

	json_decref(f->reply);
	f->reply = msg;
}

static void no_close(struct api_peer *p, int reason)
{
	(void)p;
	(void)reason;
}

static const char *old_fp = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct ip_prefix p;
	char err[256], crt[128], key[128];

	snprintf(f->dir, sizeof f->dir, "/tmp/insel-renew-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(pki_ca_init(f->dir, "Test Org", 30, err, sizeof err), 0);
	db_scratch_target(f->dir, "principal.db", f->path, sizeof f->path);
	assert_int_equal(db_open(f->path, &f->srv.db, err, sizeof err), 0);
	f->srv.now = now_fn;
	f->srv.issue_validity_s = 3600;
	snprintf(crt, sizeof crt, "%s/ca.crt", f->dir);
	snprintf(key, sizeof key, "%s/ca.key", f->dir);
	assert_int_equal(pki_issuer_load(crt, key, &f->srv.issuer, err, sizeof err), 0);
	/* lan-b, pinned to the certificate it registers with (old_fp, serial 0b). */
	assert_int_equal(db_secondary_add(f->srv.db, "lan-b", old_fp, now_fn()), 0);
	assert_int_equal(ip_prefix_parse("10.2.0.0/24", true, &p), 0);
	assert_int_equal(db_lan_add(f->srv.db, "lan-b", &p, 1, "lan-b", now_fn()), 0);
	struct db_registration r = {"lan-b", old_fp, "0b", "lan-b", &p, 1, "198.18.2.2:7445", -1, false};

	assert_int_equal(db_register(f->srv.db, &r, now_fn()), 0);
	f->peer.srv = &f->srv;
	f->peer.hello_done = true;
	f->peer.id.role = PKI_ROLE_SECONDARY;
	f->peer.id.not_after = now_fn() + 100;
	snprintf(f->peer.id.name, sizeof f->peer.id.name, "lan-b");
	snprintf(f->peer.id.fingerprint, sizeof f->peer.id.fingerprint, "%s", old_fp);
	snprintf(f->peer.id.serial, sizeof f->peer.id.serial, "0b");
	f->peer.send = capture;
	f->peer.close = no_close;
	f->peer.transport = f;
	assert_int_equal(pki_key_new_pem(&f->key_pem, err, sizeof err), 0);
	assert_int_equal(pki_csr_make(f->key_pem, "lan-b", &f->csr_pem, err, sizeof err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	json_decref(f->reply);
	pki_issuer_free(f->srv.issuer);
	db_close(f->srv.db);
	db_scratch_drop(f->path);
	pki_secret_free(f->key_pem);
	free(f->csr_pem);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const json_t *ask(struct fixture *f, const char *csr)
{
	json_t *req = msg_request("renew", 7);

	if (csr)
		json_object_set_new(req, "csr", json_string(csr));
	api_handle(&f->peer, req, 0);
	json_decref(req);
	assert_non_null(f->reply);
	return f->reply;
}

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

static const char *error_code(const json_t *reply)
{
	return str(json_object_get(reply, "error"), "code");
}

static json_t *lookup_lan_b(struct fixture *f)
{
	json_t *out = NULL;

	assert_int_equal(db_lookup(f->srv.db, "10.2.0.5", now_fn(), &out), 0);
	return out;
}

static void online_issue_records_new_and_previous(void **state)
{
	struct fixture *f = *state;
	struct pki_identity id;
	const json_t *reply = ask(f, f->csr_pem);
	const char *cert = str(reply, "certificate");
	json_int_t request;
	char err[256];
	json_t *look;

	assert_true(msg_reply_is_ok(reply, NULL, NULL));
	assert_string_equal(str(reply, "state"), "issued");
	request = json_integer_value(json_object_get(reply, "request"));
	assert_int_equal(pki_identity_from_pem(cert, strlen(cert), &id, err, sizeof err), 0);
	assert_int_equal(id.role, PKI_ROLE_SECONDARY);
	assert_string_equal(id.name, "lan-b");
	assert_true(pki_cert_matches_key(cert, strlen(cert), f->key_pem, strlen(f->key_pem)));
	assert_string_equal(str(reply, "fingerprint"), id.fingerprint);
	look = lookup_lan_b(f);
	assert_string_equal(str(look, "fingerprint"), id.fingerprint);
	assert_string_equal(str(look, "previous_fingerprint"), old_fp);
	json_decref(look);
	/* The same key again: the same request, the same certificate. */
	reply = ask(f, f->csr_pem);
	assert_int_equal(json_integer_value(json_object_get(reply, "request")), request);
	assert_string_equal(str(reply, "fingerprint"), id.fingerprint);
}

static void registration_during_and_after_the_switch(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix p;
	char new_fp[PKI_FINGERPRINT_LEN + 1], new_serial[PKI_SERIAL_MAX + 1];
	json_t *look, *reg;

	snprintf(new_fp, sizeof new_fp, "%s", str(ask(f, f->csr_pem), "fingerprint"));
	snprintf(new_serial, sizeof new_serial, "%s", str(f->reply, "serial"));
	assert_int_equal(ip_prefix_parse("10.2.0.0/24", true, &p), 0);
	/* Pinned, and registering with the previous certificate: accepted, nothing rolled
	 * back. */
	reg = json_pack("{s:s, s:I, s:s, s:[s], s:s}", "op", "register", "id", 8, "lan", "lan-b",
			"prefixes", "10.2.0.0/24", "endpoint", "198.18.2.2:7445");
	api_handle(&f->peer, reg, 0);
	assert_true(msg_reply_is_ok(f->reply, NULL, NULL));
	look = lookup_lan_b(f);
	assert_string_equal(str(look, "fingerprint"), new_fp);
	assert_string_equal(str(look, "previous_fingerprint"), old_fp);
	json_decref(look);
	/* Registering with the new certificate ends the switch. */
	snprintf(f->peer.id.fingerprint, sizeof f->peer.id.fingerprint, "%s", new_fp);
	snprintf(f->peer.id.serial, sizeof f->peer.id.serial, "%s", new_serial);
	api_handle(&f->peer, reg, 0);
	assert_true(msg_reply_is_ok(f->reply, NULL, NULL));
	json_decref(reg);
	look = lookup_lan_b(f);
	assert_string_equal(str(look, "fingerprint"), new_fp);
	assert_null(json_object_get(look, "previous_fingerprint"));
	json_decref(look);
}

static void revoking_revokes_both(void **state)
{
	struct fixture *f = *state;
	char new_serial[PKI_SERIAL_MAX + 1];

	snprintf(new_serial, sizeof new_serial, "%s", str(ask(f, f->csr_pem), "serial"));
	assert_int_equal(db_secondary_revoke(f->srv.db, "lan-b", "test", now_fn()), 0);
	assert_true(db_is_revoked(f->srv.db, new_serial));
	assert_true(db_is_revoked(f->srv.db, "0b"));
}

static void queued_without_issuing_key(void **state)
{
	struct fixture *f = *state;
	struct pki_issuer *issuer = f->srv.issuer;
	struct pki_identity cert;
	json_int_t request;
	json_t *list = NULL, *warnings = NULL;
	char err[256], *pem = NULL;

	f->srv.issuer = NULL;
	ask(f, f->csr_pem);
	assert_string_equal(str(f->reply, "state"), "pending");
	request = json_integer_value(json_object_get(f->reply, "request"));
	assert_int_equal(db_renew_list(f->srv.db, true, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	/* status: lan-b's certificate (100 s left) waits for approval. */
	assert_int_equal(db_renew_registered(f->srv.db, "lan-b", &f->peer.id), 0);
	assert_int_equal(expiry_warnings(f->srv.db, now_fn(), 3600, &warnings), 0);
	assert_int_equal(json_array_size(warnings), 1);
	assert_non_null(strstr(str(json_array_get(warnings, 0), "warning"), "pki approve"));
	json_decref(warnings);
	/* The operator approves (what pki approve does), once. */
	assert_int_equal(pki_issue_csr(issuer, f->csr_pem, strlen(f->csr_pem), PKI_ROLE_SECONDARY,
				       "lan-b", now_fn(), now_fn() + 600, &pem, &cert, err,
				       sizeof err), 0);
	assert_int_equal(db_renew_issued(f->srv.db, request, pem, &cert, "operator", now_fn()), 0);
	assert_int_equal(db_renew_issued(f->srv.db, request, pem, &cert, "operator", now_fn()),
			 INSEL_E_CONFLICT);
	free(pem);
	ask(f, f->csr_pem);
	assert_string_equal(str(f->reply, "state"), "issued");
	assert_string_equal(str(f->reply, "fingerprint"), cert.fingerprint);
	f->srv.issuer = issuer;
}

static void rejected_and_foreign_requests(void **state)
{
	struct fixture *f = *state;
	char err[256], *other = NULL;
	json_int_t request;
	struct pki_issuer *issuer = f->srv.issuer;

	f->srv.issuer = NULL;
	ask(f, f->csr_pem);
	request = json_integer_value(json_object_get(f->reply, "request"));
	assert_int_equal(db_renew_reject(f->srv.db, request, now_fn()), 0);
	ask(f, f->csr_pem);
	assert_false(msg_reply_is_ok(f->reply, NULL, NULL));
	assert_string_equal(error_code(f->reply), "refused");
	f->srv.issuer = issuer;
	assert_int_equal(pki_csr_make(f->key_pem, "lan-c", &other, err, sizeof err), 0);
	ask(f, other);
	assert_string_equal(error_code(f->reply), "forbidden");
	free(other);
	ask(f, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
	assert_string_equal(error_code(f->reply), "malformed");
	ask(f, NULL);
	assert_string_equal(error_code(f->reply), "bad_field");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(online_issue_records_new_and_previous, setup,
						teardown),
		cmocka_unit_test_setup_teardown(registration_during_and_after_the_switch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(revoking_revokes_both, setup, teardown),
		cmocka_unit_test_setup_teardown(queued_without_issuing_key, setup, teardown),
		cmocka_unit_test_setup_teardown(rejected_and_foreign_requests, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
