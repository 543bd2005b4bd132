/* Inside libinsel only: what the TLS files share with one another and with the blocking
 * secure sockets (secsock.c), so that the event-driven connections and secsock set their
 * sessions up the same way and verify a peer with one and the same function
 * (tls_verify_peer).
 *
 *   tls_creds.c    credentials: the CA, this party's certificate and key, renewal
 *   tls_signer.c   a private key held by another process (the key holder)
 *   tls_verify.c   what a peer's certificate must pass, and the sentence when it fails
 *   tls_session.c  one GnuTLS session with insel's priorities, credentials and checks
 *   tls_conn.c     a connection on libuv, either end (tls_conn_priv.h)
 *   tls_server.c   a listener and what it lets in (tls_conn_priv.h)
 */
#ifndef INSEL_TLS_PRIV_H
#define INSEL_TLS_PRIV_H

#include <gnutls/gnutls.h>
#include <stdbool.h>

#include "tls.h"

/* TLS 1.3 only; 256-bit AEADs only (both ends are insel), AES-GCM first; ECDHE on X25519
 * or the NIST curves; the medium verification profile (P-256 keys pass, weak keys do not). */
#define TLS_PRIORITY \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:" \
	"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:%PROFILE_MEDIUM"
#define TLS_ERROR_MAX 256
#define TLS_MAX_ROLES 4
#define TLS_HANDSHAKE_TIMEOUT_MS 10000

/* ---- credentials (tls_creds.c, tls_signer.c) ---- */

/* The GnuTLS credentials new sessions are made with now. */
gnutls_certificate_credentials_t tls_creds_current(const struct tls_creds *c);
/* A session was made with the current credentials: they stay until it is gone. */
void tls_creds_session_opened(struct tls_creds *c);
/* A session made with `used` is gone: used may go too if it was replaced since. */
void tls_creds_session_closed(struct tls_creds *c, gnutls_certificate_credentials_t used);
/* The owner's revocation check (tls_creds_set_revocation_check); false without one. */
bool tls_creds_revoked(const struct tls_creds *c, const char *serial_hex);
/* The handshake time-out configured on these credentials, in milliseconds. */
unsigned tls_creds_handshake_timeout(const struct tls_creds *c);
/* Makes signer's key the private key of cred for the PEM certificate chain cert (read
 * from cert_file, named in errors), after checking that the certificate's public key is
 * signer's. */
int tls_signer_install(gnutls_certificate_credentials_t cred, const gnutls_datum_t *cert,
		       const char *cert_file, const struct tls_signer *signer, char *err,
		       size_t errlen);

/* ---- verification (tls_verify.c) ---- */

/* What one side expects of its peer, and what the check found. */
struct tls_policy {
	const struct tls_creds *creds;
	enum pki_role roles[TLS_MAX_ROLES];  /* acceptable roles */
	size_t nroles;
	char expect_name[PKI_NAME_MAX + 1];  /* empty: any name */
	bool verified;                       /* every check passed */
	struct pki_identity peer;            /* valid once verified */
	char error[TLS_ERROR_MAX];           /* the failed check, as a sentence */
};

int tls_policy_init(struct tls_policy *p, const struct tls_creds *creds,
		    const enum pki_role *roles, size_t nroles, const char *expect_name);
/* Whether the policy accepts a peer of role r (PKI_ROLE_NONE: one without a certificate). */
bool tls_policy_allows(const struct tls_policy *p, enum pki_role r);
/* The one verification of a peer: chain to the organisation CA, validity dates, role,
 * name, revocation. 0, or INSEL_E_VERIFY with policy->error naming the failed check. */
int tls_verify_peer(gnutls_session_t s, struct tls_policy *policy);
/* After a failed handshake: puts a sentence in policy->error (the verification reason if
 * there is one) and returns the insel error. */
int tls_handshake_failure(gnutls_session_t s, struct tls_policy *policy, int gnutls_rc);

/* ---- sessions (tls_session.c) ---- */

/* A session with insel's priorities and credentials, requiring a peer certificate, with
 * policy attached (gnutls_session_set_ptr) and checked by tls_verify_peer during the
 * handshake. extra_flags adds to gnutls_init's (e.g. GNUTLS_NONBLOCK). */
int tls_session_new(gnutls_session_t *out, struct tls_creds *creds, bool server,
		    struct tls_policy *policy, unsigned extra_flags);
/* Frees a session made by tls_session_new, and with it (if they were replaced since)
 * the credentials it was made with. */
void tls_session_free(gnutls_session_t s, struct tls_creds *creds);

#endif
