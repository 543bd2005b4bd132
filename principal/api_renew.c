/* API op renew: a secondary asks for a certificate for a new key it made (a PKCS#10
 * request, pki_csr.h). The certificate keeps the role and name of the certificate the
 * secondary is connected with, whatever the request says. With an online issuing key
 * (issuing_ca_key in principal.conf) the principal issues at once; otherwise the request
 * waits for `insel-principal pki approve`. The secondary asks again with the same
 * request until it is answered: the same key finds the same request.
 *
 * Also here: how registration treats the two certificates of a secondary in the middle
 * of switching (renew_registration_identity, renew_registered). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db_renew.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "pki_csr.h"
#include "principal_ops.h"

/* As pki_issue: a peer whose clock lags still accepts a certificate issued just now. */
#define RENEW_BACKDATE_S (10 * 60)

/* The request (its wire form is principal_ops_auth.c's), checked by pki_csr_check and
 * naming the caller. */
static int read_request(struct api_peer *p, json_int_t id, const json_t *msg,
			struct pop_renew_req *req, struct pki_csr_info *info)
{
	char why[256];
	int rc;

	static_assert(sizeof why >= POP_WHY_LEN, "room for the decoder's sentence");
	if ((rc = pop_renew_req_decode(msg, req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return rc;
	}
	rc = pki_csr_check(req->csr, req->csr_len, info, why, sizeof why);
	if (rc) {
		api_reply_error(p, id, rc, "%s", why);
		return rc;
	}
	if (strcmp(info->name, p->id.name) != 0) {
		api_reply_error(p, id, INSEL_E_FORBIDDEN,
				"the request names '%s' but this certificate is '%s'", info->name,
				p->id.name);
		return INSEL_E_FORBIDDEN;
	}
	return 0;
}

/* Issues pending request rid with the online key: true once the certificate is recorded
 * as the secondary's; on failure the request stays pending (for the operator). */
static bool issue_online(struct api_peer *p, int64_t rid, const char *csr, size_t len)
{
	struct api_server *s = p->srv;
	struct pki_identity cert;
	int64_t now = s->now();
	char why[256], *pem = NULL;
	int rc = pki_issue_csr(s->issuer, csr, len, PKI_ROLE_SECONDARY, p->id.name,
			       now - RENEW_BACKDATE_S, now + s->issue_validity_s, &pem, &cert, why,
			       sizeof why);

	if (rc) {
		log_error("cannot issue renewal request %lld of %s: %s", (long long)rid, p->id.name,
			  why);
		return false;
	}
	rc = db_renew_issued(s->db, rid, pem, &cert, "online", now);
	if (rc)
		log_error("cannot record the certificate issued to %s: %s", p->id.name,
			  db_errmsg(s->db));
	else
		log_info("renewed the certificate of %s: serial %s, fingerprint %.16s..., valid "
			 "for %llds", p->id.name, cert.serial, cert.fingerprint,
			 (long long)(cert.not_after - now));
	free(pem);
	return rc == 0;
}

static void reply_issued(struct api_peer *p, json_int_t id, int64_t rid)
{
	json_t *row;
	int rc = db_renew_get(p->srv->db, rid, true, &row);

	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	struct pop_renew_reply reply = {
		.request = rid,
		.state = POP_RENEW_ISSUED,
		.certificate = json_string_value(json_object_get(row, "certificate")),
		.fingerprint = json_string_value(json_object_get(row, "fingerprint")),
		.serial = json_string_value(json_object_get(row, "serial")),
		.not_after = json_integer_value(json_object_get(row, "not_after")),
	};

	api_reply_ok(p, id, pop_renew_reply_encode(&reply));
	json_decref(row);
}

void renew_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct pop_renew_req req;
	struct pki_csr_info info;
	const char *state;
	int64_t rid;
	int rc;

	if (read_request(p, id, msg, &req, &info))
		return;
	struct db_renew_request r = {p->id.name, info.key_id, req.csr, &p->id};

	rc = db_renew_file(p->srv->db, &r, p->srv->now(), &rid, &state);
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	if (strcmp(state, "pending") == 0 && p->srv->issuer &&
	    issue_online(p, rid, req.csr, req.csr_len))
		state = "issued";
	if (strcmp(state, "issued") == 0) {
		reply_issued(p, id, rid);
	} else if (strcmp(state, "pending") == 0) {
		struct pop_renew_reply reply = {.request = rid, .state = POP_RENEW_PENDING};

		log_info("renewal request %lld of %s waits for 'insel-principal pki approve %lld'",
			 (long long)rid, p->id.name, (long long)rid);
		api_reply_ok(p, id, pop_renew_reply_encode(&reply));
	} else {
		api_reply_error(p, id, INSEL_E_REFUSED, "renewal request %lld was %s; make a new "
				"key and ask again", (long long)rid, state);
	}
}

bool renew_registration_identity(struct api_peer *p, struct db_registration *r,
				 char *fingerprint, char *serial)
{
	if (!db_renew_previous_registers(p->srv->db, p->id.name, p->id.fingerprint,
					 p->srv->now(), fingerprint, serial))
		return false;
	log_info("secondary %s registers with the certificate it is being renewed from",
		 p->id.name);
	r->fingerprint = fingerprint;
	r->serial = serial;
	return true;
}

void renew_registered(struct api_peer *p, bool with_previous)
{
	if (!with_previous && db_renew_registered(p->srv->db, p->id.name, &p->id))
		log_error("cannot record the expiry of %s's certificate: %s", p->id.name,
			  db_errmsg(p->srv->db));
}
