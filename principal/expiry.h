/* Certificate expiries the principal knows of (expiry.c): the CA, its own certificate and
 * every secondary's, with the warnings `insel-principal status` prints and the daemon
 * logs. */
#ifndef INSEL_PRINCIPAL_EXPIRY_H
#define INSEL_PRINCIPAL_EXPIRY_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"
#include "pki.h"

#define EXPIRY_WARN_DEFAULT_S (30LL * 86400)

/* Records the CA's (read from ca_path) and the principal's own certificate in the
 * directory. */
int expiry_record_principal(struct db *db, const char *ca_path, const struct pki_identity *self,
			    int64_t now);
/* The expiries within warn_before_s of now (or past), soonest first, each with a
 * sentence: [{role, name, serial, not_after, seconds_left, pending_request?, warning}]. */
int expiry_warnings(struct db *db, int64_t now, int64_t warn_before_s, json_t **out);
/* "3d 4h", "12m 5s": a duration for people. */
void expiry_format_duration(int64_t seconds, char *out, size_t n);

/* The daemon's logging of expiries: each one in the window is logged when first seen,
 * then again after half of what remained (at most daily, at least 10 s apart). */
struct expiry_log {
	json_t *last;        /* "role/name/serial" -> time last logged */
	int64_t checked_at;  /* the directory is read at most every EXPIRY_CHECK_S */
};
#define EXPIRY_CHECK_S 10
void expiry_log_check(struct expiry_log *l, struct db *db, int64_t now, int64_t warn_before_s);
void expiry_log_free(struct expiry_log *l);

#endif
