/* The directory's side of the certificate lifecycle (db_renew.c; schema
 * 002_cert_lifecycle.sql): renewal requests from secondaries, issuing them as the
 * secondary's certificate in one transaction, and every expiry the principal knows of.
 * Same conventions as db.h: 0 or a negative error with db_errmsg() saying why. */
#ifndef INSEL_PRINCIPAL_DB_RENEW_H
#define INSEL_PRINCIPAL_DB_RENEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "pki.h"

/* A secondary's request, as checked by the API (pki_csr_check). */
struct db_renew_request {
	const char *secondary;                  /* its authenticated name */
	const char *key_id;                     /* of the requested key */
	const char *csr;                        /* PEM */
	const struct pki_identity *requested_with;  /* the certificate it asked over */
};

#define DB_RENEW_MAX_PER_DAY 24  /* new requests (new keys) a secondary may file a day */

/* Finds the secondary's request for this key, or files it (superseding the secondary's
 * other pending requests); INSEL_E_LIMIT past DB_RENEW_MAX_PER_DAY new requests. *id is the request's number, *issued whether a certificate
 * for it exists already, *state its state ("pending", "issued", "rejected",
 * "superseded"; a static string). INSEL_E_NOT_FOUND if the secondary is unknown. */
int db_renew_file(struct db *db, const struct db_renew_request *r, int64_t now, int64_t *id,
		  const char **state);

/* One request: {request, secondary, state, key_id, requested_with, requested_with_serial,
 * requested_with_not_after, created_at, decided_at, serial, fingerprint, not_after,
 * issued_by}, plus certificate and csr (PEM) when with_pem. */
int db_renew_get(struct db *db, int64_t id, bool with_pem, json_t **out);
/* Requests (pending only, or all), oldest first, as db_renew_get without PEM. */
int db_renew_list(struct db *db, bool pending_only, json_t **out);

/* Records the certificate issued for pending request id and makes it the secondary's
 * certificate (fingerprint, serial, expiry), keeping the one it asked with as its
 * previous certificate, which peers go on accepting while it switches: all in one
 * transaction. INSEL_E_CONFLICT if the request is no longer pending. */
int db_renew_issued(struct db *db, int64_t id, const char *cert_pem,
		    const struct pki_identity *cert, const char *issued_by, int64_t now);
/* The operator refuses a pending request. */
int db_renew_reject(struct db *db, int64_t id, int64_t now);

/* Registration with a certificate: if it is the secondary's previous one (still valid),
 * writes the current one's fingerprint and serial to fingerprint/serial (the
 * registration then confirms the current certificate instead of rolling it back) and
 * returns true. */
bool db_renew_previous_registers(struct db *db, const char *secondary,
				 const char *fingerprint, int64_t now,
				 char current_fingerprint[PKI_FINGERPRINT_LEN + 1],
				 char current_serial[PKI_SERIAL_MAX + 1]);
/* After a registration with the secondary's current certificate: records its expiry and
 * forgets the previous certificate (the switch is over). */
int db_renew_registered(struct db *db, const char *secondary, const struct pki_identity *id);
/* Adds the previous certificate of a secondary being revoked to the revocation list. */
int db_renew_revoke_previous(struct db *db, const char *secondary, const char *reason,
			     int64_t now);

/* The daemon records the CA's ("ca") and its own ("principal") certificate. */
int db_principal_cert_put(struct db *db, const char *kind, const struct pki_identity *id,
			  int64_t now);
/* Every known expiry, soonest first: [{role, name, serial, not_after, seconds_left,
 * pending_request?}]. */
int db_expiry_list(struct db *db, int64_t now, json_t **out);

#endif
