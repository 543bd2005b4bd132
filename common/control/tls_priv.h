/* Inside libinsel only: what the event-driven TLS connections (tls.c) and the blocking
 * secure sockets (secsock.c) share, so that both set sessions up the same way and verify a
 * peer with one and the same function (tls_verify_peer). */
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
/* A session with insel's priorities and credentials, requiring a peer certificate, with
 * policy attached (gnutls_session_set_ptr) and checked by tls_verify_peer during the
 * handshake. extra_flags adds to gnutls_init's (e.g. GNUTLS_NONBLOCK). */
int tls_session_new(gnutls_session_t *out, struct tls_creds *creds, bool server,
		    struct tls_policy *policy, unsigned extra_flags);
/* Frees a session made by tls_session_new, and with it (if they were replaced since)
 * the credentials it was made with. */
void tls_session_free(gnutls_session_t s, struct tls_creds *creds);
/* The one verification of a peer: chain to the organisation CA, validity dates, role,
 * name, revocation. 0, or INSEL_E_VERIFY with policy->error naming the failed check. */
int tls_verify_peer(gnutls_session_t s, struct tls_policy *policy);
/* After a failed handshake: puts a sentence in policy->error (the verification reason if
 * there is one) and returns the insel error. */
int tls_handshake_failure(gnutls_session_t s, struct tls_policy *policy, int gnutls_rc);
/* The handshake time-out configured on these credentials, in milliseconds. */
unsigned tls_creds_handshake_timeout(const struct tls_creds *c);

#endif
