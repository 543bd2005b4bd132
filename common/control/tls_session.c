/* One GnuTLS session as insel makes it, for both transports (tls_conn.c on libuv,
 * secsock.c blocking): TLS 1.3 with insel's priorities, the credentials current at that
 * moment, a certificate demanded of the peer and checked by tls_verify_peer inside the
 * handshake (a refused peer gets an alert, not a session). Freeing a session gives its
 * credentials back, which lets replaced ones go with their last session. */
#include "tls.h"

#include <gnutls/gnutls.h>

#include "err.h"
#include "tls_priv.h"

static int verify_during_handshake(gnutls_session_t s)
{
	struct tls_policy *p = gnutls_session_get_ptr(s);

	return tls_verify_peer(s, p) == 0 ? 0 : GNUTLS_E_CERTIFICATE_ERROR;
}

int tls_session_new(gnutls_session_t *out, struct tls_creds *creds, bool server,
		    struct tls_policy *policy, unsigned extra_flags)
{
	gnutls_session_t s;
	int rc = gnutls_init(&s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_TICKETS |
				 extra_flags);

	if (rc < 0)
		return INSEL_E_CRYPTO;
	rc = gnutls_priority_set_direct(s, TLS_PRIORITY, NULL);
	if (rc >= 0)
		rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tls_creds_current(creds));
	if (rc < 0) {
		gnutls_deinit(s);
		return INSEL_E_CRYPTO;
	}
	if (server) {
		gnutls_certificate_server_set_request(s, tls_policy_allows(policy, PKI_ROLE_NONE)
							      ? GNUTLS_CERT_REQUEST
							      : GNUTLS_CERT_REQUIRE);
		/* No CA names in the request: a client of another organisation then still sends
		 * its certificate, and the refusal can say what is wrong with it. */
		gnutls_certificate_send_x509_rdn_sequence(s, 1);
	}
	gnutls_session_set_ptr(s, policy);
	gnutls_session_set_verify_function(s, verify_during_handshake);
	tls_creds_session_opened(creds);
	*out = s;
	return 0;
}

void tls_session_free(gnutls_session_t s, struct tls_creds *creds)
{
	void *used = NULL;

	if (gnutls_credentials_get(s, GNUTLS_CRD_CERTIFICATE, &used) < 0)
		used = NULL;
	gnutls_deinit(s);
	if (used)
		tls_creds_session_closed(creds, used);
}
