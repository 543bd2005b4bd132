/* Certificate renewal on the organisation's PKI: a gateway makes a new key and a PKCS#10
 * certificate request (CSR) for it; the principal checks the request and issues a
 * certificate for the request's public key. The request only proves possession of the
 * new key: the role and name of the certificate come from the requester's authenticated
 * identity, never from the request, so a request cannot ask for someone else's name or a
 * wider role.
 *
 * Requests arrive from the network (untrusted): pki_csr_check bounds their size, parses
 * them with GnuTLS, checks the self-signature and accepts only what insel itself makes
 * (one ECDSA P-256 key, a subject CN that is a valid name). */
#ifndef INSEL_PKI_CSR_H
#define INSEL_PKI_CSR_H

#include <stdbool.h>
#include <stddef.h>

#include "pki.h"

#define PKI_CSR_MAX 4096     /* bytes of PEM; insel's own are about 500 */
#define PKI_KEYID_LEN 64     /* SHA-256 of the SubjectPublicKeyInfo, lowercase hex */
#define PKI_CERT_PEM_MAX 8192

/* What a valid request says. */
struct pki_csr_info {
	char name[PKI_NAME_MAX + 1];        /* subject CN */
	char key_id[PKI_KEYID_LEN + 1];     /* identifies the key (the same key: the same id) */
};

/* A new private key (PEM, PKCS#8; *key_pem is secret: free it with pki_secret_free). */
int pki_key_new_pem(char **key_pem, char *err, size_t errlen);
/* A request for the key in key_pem, with subject CN name, signed by that key. */
int pki_csr_make(const char *key_pem, const char *name, char **csr_pem, char *err,
		 size_t errlen);
/* Checks untrusted request bytes (len bytes of PEM, at most PKI_CSR_MAX). 0 and *out
 * filled, or INSEL_E_TOO_BIG / INSEL_E_MALFORMED / INSEL_E_VERIFY with err naming the
 * problem. */
int pki_csr_check(const char *pem, size_t len, struct pki_csr_info *out, char *err,
		  size_t errlen);

/* An issuing CA: its certificate and private key, loaded once (the principal's online
 * issuing key, or the operator's CA directory for `pki approve`). */
struct pki_issuer;
int pki_issuer_load(const char *ca_cert_path, const char *ca_key_path,
		    struct pki_issuer **out, char *err, size_t errlen);
void pki_issuer_free(struct pki_issuer *is);
/* The issuer's own identity (its expiry bounds what it issues). */
const struct pki_identity *pki_issuer_identity(const struct pki_issuer *is);
/* Issues a certificate for the public key of a request that pki_csr_check accepted, with
 * the given role and name, valid from not_before to not_after (cut to the CA's own
 * expiry). *cert_pem (malloc'd, NUL-terminated) and *out describe it. */
int pki_issue_csr(const struct pki_issuer *is, const char *csr_pem, size_t len,
		  enum pki_role role, const char *name, long long not_before,
		  long long not_after, char **cert_pem, struct pki_identity *out, char *err,
		  size_t errlen);

/* The identity of a PEM certificate held in memory. */
int pki_identity_from_pem(const char *pem, size_t len, struct pki_identity *out, char *err,
			  size_t errlen);
/* Whether the certificate (PEM) certifies the public half of the key (PEM). */
bool pki_cert_matches_key(const char *cert_pem, size_t cert_len, const char *key_pem,
			  size_t key_len);
/* The key id (as in pki_csr_info) of the key in key_pem. */
int pki_key_id(const char *key_pem, size_t key_len, char out[PKI_KEYID_LEN + 1]);
/* A request in DER (as a key holder makes it) as PEM text (malloc'd). */
int pki_csr_der_to_pem(const void *der, size_t len, char **pem);
/* The DER SubjectPublicKeyInfo of a PEM certificate's key, in out (cap bytes). */
int pki_cert_spki(const char *pem, size_t len, unsigned char *out, size_t cap,
		  size_t *out_len);
/* Wipes and frees a secret string. */
void pki_secret_free(char *secret);

#endif
