/* API op renew: a secondary asks for a certificate for a new key it made (a PKCS#10
 * request, pki_csr.h). The certificate keeps the role and name of the certificate the
 * secondary is connected with, whatever the request says. With an online issuing key
 * (issuing_ca_key in principal.conf) the principal issues at once; otherwise the request
 * waits for `insel-principal pki approve`. The secondary asks again with the same
 * request until it is answered: the same key finds the same request.
 *
 * Also here: how registration treats the two certificates of a secondary in the middle
 * of switching (renew_registration_identity, renew_registered). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db_renew.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "pki_csr.h"

/* As pki_issue: a peer whose clock lags still accepts a certificate issued just now. */
#define RENEW_BACKDATE_S (10 * 60)

/* The request text: a string of at most PKI_CSR_MAX bytes, checked by pki_csr_check. */
static int read_request(struct api_peer *p, json_int_t id, const json_t *msg,
			const char **csr, size_t *len, struct pki_csr_info *info)
{
	const json_t *v = json_object_get(msg, "csr");
	char why[256];
	int rc;

	if (!json_is_string(v)) {
		api_reply_error(p, id, INSEL_E_BAD_FIELD,
				"field 'csr' must be a PEM certificate request");
		return INSEL_E_BAD_FIELD;
	}
	*csr = json_string_value(v);
	*len = json_string_length(v);
	rc = pki_csr_check(*csr, *len, info, why, sizeof why);
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
	json_t *row, *reply;
	int rc = db_renew_get(p->srv->db, rid, true, &row);

	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	reply = json_pack("{s:I, s:s, s:O, s:O, s:O, s:O}", "request", (json_int_t)rid, "state",
			  "issued", "certificate", json_object_get(row, "certificate"),
			  "fingerprint", json_object_get(row, "fingerprint"), "serial",
			  json_object_get(row, "serial"), "not_after",
			  json_object_get(row, "not_after"));
	json_decref(row);
	api_reply_ok(p, id, reply);
}

/* {"op":"renew","id":N,"csr":"-----BEGIN CERTIFICATE REQUEST-----..."} ->
 * {request, state:"issued", certificate, fingerprint, serial, not_after}
 * or {request, state:"pending"} (ask again later with the same request) */
void renew_handle(struct api_peer *p, json_int_t id, const json_t *msg)
{
	struct pki_csr_info info;
	const char *csr, *state;
	size_t len;
	int64_t rid;
	int rc;

	if (read_request(p, id, msg, &csr, &len, &info))
		return;
	struct db_renew_request r = {p->id.name, info.key_id, csr, &p->id};

	rc = db_renew_file(p->srv->db, &r, p->srv->now(), &rid, &state);
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	if (strcmp(state, "pending") == 0 && p->srv->issuer && issue_online(p, rid, csr, len))
		state = "issued";
	if (strcmp(state, "issued") == 0) {
		reply_issued(p, id, rid);
	} else if (strcmp(state, "pending") == 0) {
		log_info("renewal request %lld of %s waits for 'insel-principal pki approve %lld'",
			 (long long)rid, p->id.name, (long long)rid);
		api_reply_ok(p, id, json_pack("{s:I, s:s}", "request", (json_int_t)rid, "state",
					      "pending"));
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
