/* libFuzzer target: certificate requests as a secondary sends them for renewal
 * (pki_csr_check: size bound, PEM, PKCS#10, self-signature, key type, subject name), and
 * for the requests it accepts, issuing a certificate from them (pki_issue_csr) with a CA
 * made once in a temporary directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki.h"
#include "pki_csr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct pki_issuer *issuer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/insel-fuzz-csr-XXXXXX", crt[64], key[64], err[256], cmd[96];

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir) || pki_ca_init(dir, "Fuzz", 30, err, sizeof err) != 0)
		abort();
	snprintf(crt, sizeof crt, "%s/ca.crt", dir);
	snprintf(key, sizeof key, "%s/ca.key", dir);
	if (pki_issuer_load(crt, key, &issuer, err, sizeof err) != 0)
		abort();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pki_csr_info info;
	struct pki_identity id;
	long long now = (long long)time(NULL);
	char err[256], *cert = NULL;

	if (pki_csr_check((const char *)data, size, &info, err, sizeof err) != 0)
		return 0;
	if (pki_issue_csr(issuer, (const char *)data, size, PKI_ROLE_SECONDARY, info.name, now,
			  now + 60, &cert, &id, err, sizeof err) != 0)
		abort();  /* a request that passed the check must be issuable */
	if (strcmp(id.name, info.name) != 0 || id.role != PKI_ROLE_SECONDARY)
		abort();
	free(cert);
	return 0;
}
