/* Inside libinsel only: the pieces of the PKI (pki.c) that issuing from a certificate
 * request (pki_csr.c) shares with issuing a fresh key pair, so that both produce the same
 * certificate profile: serial, subject (organisation, role, name), SAN, key usage,
 * purposes and the CA's key id. */
#ifndef INSEL_PKI_PRIV_H
#define INSEL_PKI_PRIV_H

#include <gnutls/x509.h>
#include <stddef.h>

#include "pki.h"

/* A CA certificate with its private key, ready to sign. */
struct pki_ca {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
	char org[PKI_NAME_MAX + 1];
};

/* Loads a CA certificate (role "ca") and its key from two PEM files. */
int pki_ca_load(const char *cert_path, const char *key_path, struct pki_ca *ca, char *err,
		size_t errlen);
void pki_ca_free(struct pki_ca *ca);
/* A new ECDSA P-256 key. */
int pki_key_generate(gnutls_x509_privkey_t *key, char *err, size_t errlen);
/* Version 3, a serial of 128 random bits (positive) and the validity period. A GnuTLS
 * error code (< 0) on failure. */
int pki_crt_set_dates(gnutls_x509_crt_t crt, long long not_before, long long not_after);
/* Everything that makes a leaf an insel identity: subject, SAN, basic constraints, key
 * usage, purposes, authority key id. A GnuTLS error code (< 0) on failure. */
int pki_leaf_set_identity(gnutls_x509_crt_t crt, const struct pki_ca *ca, enum pki_role role,
			  const char *name);
/* The identity (role, name, fingerprint, serial, dates) of a parsed certificate. */
int pki_crt_identity(gnutls_x509_crt_t crt, struct pki_identity *out);

#endif
