/* The organisation's PKI, on GnuTLS's X.509 API: a CA, and certificates for the principal,
 * each secondary and (optionally) users. The role and name live in the certificate; keys
 * are written with mode 0600. Verification checks the chain to the CA, the validity
 * dates, the role, the name and a revocation list, and says which check failed. */
#ifndef INSEL_PKI_H
#define INSEL_PKI_H

#include <stdbool.h>
#include <stddef.h>

#include "pki_types.h"

const char *pki_role_name(enum pki_role r);            /* "principal", "secondary", ... */
enum pki_role pki_role_from_name(const char *name);    /* PKI_ROLE_NONE if unknown */
/* Names of LANs, secondaries and users: 1..PKI_NAME_MAX of [a-z0-9._-], starting with a
 * letter or digit. */
bool pki_name_valid(const char *name);

/* Creates dir/ca.crt and dir/ca.key (0600) for the organisation; refuses to overwrite. */
int pki_ca_init(const char *dir, const char *organisation, unsigned days, char *err,
		size_t errlen);
/* Issues a certificate signed by dir/ca.{crt,key}, writing cert_path and key_path (0600);
 * refuses to overwrite. The identity of the new certificate is written to *out if non-NULL. */
int pki_issue(const char *ca_dir, enum pki_role role, const char *name, unsigned days,
	      const char *cert_path, const char *key_path, struct pki_identity *out, char *err,
	      size_t errlen);
/* Reads the identity (role, name, fingerprint, serial) from a PEM certificate file. */
int pki_read_identity(const char *cert_path, struct pki_identity *out, char *err,
		      size_t errlen);

/* pki_issue with explicit validity dates (seconds since the epoch), for tests that need
 * expired or not-yet-valid certificates and for operators aligning renewals. */
int pki_issue_validity(const char *ca_dir, enum pki_role role, const char *name,
		       long long not_before, long long not_after, const char *cert_path,
		       const char *key_path, struct pki_identity *out, char *err, size_t errlen);
/* The identity of a DER certificate (as received in a handshake); no verification. */
int pki_identity_from_der(const void *der, size_t len, struct pki_identity *out, char *err,
			  size_t errlen);

#endif
