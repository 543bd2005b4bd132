/* The one check of a peer's certificate, shared by the event-driven connections and the
 * blocking secure sockets: it chains to the organisation CA, it is within its dates, its
 * role is one this side accepts, its name is the one expected (if any), and its owner has
 * not revoked it (tls_creds_set_revocation_check). Each failure becomes a sentence that
 * names the check, so that an operator reading either end's log knows what to fix; a
 * handshake that fails for another reason gets its sentence here too. */
#include "tls.h"

#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "tls_priv.h"

static int policy_fail(struct tls_policy *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int policy_fail(struct tls_policy *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof p->error, fmt, ap);
	va_end(ap);
	p->verified = false;
	return INSEL_E_VERIFY;
}

int tls_policy_init(struct tls_policy *p, const struct tls_creds *creds,
		    const enum pki_role *roles, size_t nroles, const char *expect_name)
{
	memset(p, 0, sizeof *p);
	if (nroles == 0 || nroles > TLS_MAX_ROLES)
		return INSEL_E_BAD_FIELD;
	if (expect_name && strlen(expect_name) > PKI_NAME_MAX)
		return INSEL_E_BAD_FIELD;
	p->creds = creds;
	memcpy(p->roles, roles, nroles * sizeof *roles);
	p->nroles = nroles;
	if (expect_name)
		snprintf(p->expect_name, sizeof p->expect_name, "%s", expect_name);
	return 0;
}

static void format_date(long long t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, n, "%lld", t);
}

bool tls_policy_allows(const struct tls_policy *p, enum pki_role r)
{
	for (size_t i = 0; i < p->nroles; i++)
		if (p->roles[i] == r)
			return true;
	return false;
}

static int check_role(struct tls_policy *p)
{
	char expected[64] = "";

	if (tls_policy_allows(p, p->peer.role))
		return 0;
	for (size_t i = 0; i < p->nroles; i++) {
		size_t len = strlen(expected);

		snprintf(expected + len, sizeof expected - len, "%s'%s'", i ? " or " : "",
			 pki_role_name(p->roles[i]));
	}
	return policy_fail(p, "peer '%s' has role '%s', expected %s", p->peer.name,
			   pki_role_name(p->peer.role), expected);
}

/* What GnuTLS's chain check found, as one of our sentences. */
static int check_chain_status(struct tls_policy *p, unsigned status)
{
	const unsigned not_ours = GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNATURE_FAILURE |
				  GNUTLS_CERT_SIGNER_NOT_CA | GNUTLS_CERT_INSECURE_ALGORITHM |
				  GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE;
	long long now = (long long)time(NULL);
	char date[48];

	if (status == 0)
		return 0;
	if (status & not_ours)
		return policy_fail(p, "certificate presented as '%s' is not signed by this "
				      "organisation's CA", p->peer.name);
	if ((status & GNUTLS_CERT_EXPIRED) && p->peer.not_after < now) {
		format_date(p->peer.not_after, date, sizeof date);
		return policy_fail(p, "certificate of '%s' expired on %s", p->peer.name, date);
	}
	if ((status & GNUTLS_CERT_NOT_ACTIVATED) && p->peer.not_before > now) {
		format_date(p->peer.not_before, date, sizeof date);
		return policy_fail(p, "certificate of '%s' is not valid before %s", p->peer.name,
				   date);
	}
	if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED))
		return policy_fail(p, "this organisation's CA certificate is outside its "
				      "validity dates");
	return policy_fail(p, "certificate of '%s' did not verify (status 0x%x)", p->peer.name,
			   status);
}

int tls_verify_peer(gnutls_session_t s, struct tls_policy *p)
{
	const gnutls_datum_t *certs;
	unsigned n = 0, status = 0;
	char why[TLS_ERROR_MAX];
	int rc;

	p->verified = false;
	certs = gnutls_certificate_get_peers(s, &n);
	if ((!certs || n == 0) && tls_policy_allows(p, PKI_ROLE_NONE)) {
		/* A server that takes PKI_ROLE_NONE lets users in without a certificate; they
		 * prove who they are inside the connection (a password). */
		memset(&p->peer, 0, sizeof p->peer);
		p->verified = true;
		p->error[0] = '\0';
		return 0;
	}
	if (!certs || n == 0)
		return policy_fail(p, "peer sent no certificate");
	if (pki_identity_from_der(certs[0].data, certs[0].size, &p->peer, why, sizeof why))
		return policy_fail(p, "peer certificate is unusable: %s", why);
	rc = gnutls_certificate_verify_peers2(s, &status);
	if (rc < 0)
		return policy_fail(p, "cannot verify the certificate of '%s': %s", p->peer.name,
				   gnutls_strerror(rc));
	rc = check_chain_status(p, status);
	if (rc)
		return rc;
	rc = check_role(p);
	if (rc)
		return rc;
	if (p->expect_name[0] && strcmp(p->expect_name, p->peer.name) != 0)
		return policy_fail(p, "peer is '%s', expected '%s'", p->peer.name, p->expect_name);
	if (tls_creds_revoked(p->creds, p->peer.serial))
		return policy_fail(p, "certificate of '%s' is revoked (serial %s)", p->peer.name,
				   p->peer.serial);
	p->verified = true;
	p->error[0] = '\0';
	return 0;
}

static int describe(struct tls_policy *p, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int describe(struct tls_policy *p, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof p->error, fmt, ap);
	va_end(ap);
	return code;
}

int tls_handshake_failure(gnutls_session_t s, struct tls_policy *p, int grc)
{
	if (grc == GNUTLS_E_CERTIFICATE_ERROR && p->error[0])
		return INSEL_E_VERIFY;
	switch (grc) {
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		return describe(p, INSEL_E_REFUSED, "the peer refused the handshake (alert: %s)",
				gnutls_alert_get_name(gnutls_alert_get(s)));
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_CERTIFICATE_REQUIRED:
		return describe(p, INSEL_E_VERIFY, "peer sent no certificate");
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
		return describe(p, INSEL_E_CLOSED, "the peer closed the connection during the "
						   "TLS handshake");
	default:
		return describe(p, INSEL_E_PROTOCOL, "TLS handshake failed: %s",
				gnutls_strerror(grc));
	}
}
