/* Who a certificate says its holder is: role, name, fingerprint, serial, validity. Apart
 * from pki.h (which issues and reads certificates) because the installed Secsockets
 * header (secsock.h) shows the peer's identity to applications. */
#ifndef INSEL_PKI_TYPES_H
#define INSEL_PKI_TYPES_H

enum pki_role {
	PKI_ROLE_NONE = 0,
	PKI_ROLE_CA,
	PKI_ROLE_PRINCIPAL,
	PKI_ROLE_SECONDARY,
	PKI_ROLE_USER,
	PKI_ROLE_OPERATOR,  /* operators' and monitoring tools: read-only at the principal,
			     * and never taken for the directory by a secondary */
};

#define PKI_NAME_MAX 64
#define PKI_FINGERPRINT_LEN 64  /* SHA-256 of the DER certificate, lowercase hex */
#define PKI_SERIAL_MAX 40       /* lowercase hex */

struct pki_identity {
	enum pki_role role;
	char name[PKI_NAME_MAX + 1];
	char fingerprint[PKI_FINGERPRINT_LEN + 1];
	char serial[PKI_SERIAL_MAX + 1];
	long long not_after;  /* seconds since the epoch */
	long long not_before; /* seconds since the epoch */
};

#endif
