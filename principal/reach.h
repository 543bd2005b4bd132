/* Connect-back checks (docs/nat.md): when a secondary registers its peer endpoint, the
 * principal dials it with TLS and checks the certificate there is that secondary's. The
 * answer (could it be dialled?) goes to the directory, where lookup and the listings
 * show it and where "connect" reads it to choose between reversal and splicing. A
 * gateway behind NAT registers an address nobody outside can reach: the check fails and
 * callers go straight to "connect" instead of waiting for a dial that cannot succeed. */
#ifndef INSEL_PRINCIPAL_REACH_H
#define INSEL_PRINCIPAL_REACH_H

#include <uv.h>

#include "db.h"
#include "tls.h"

#define REACH_TIMEOUT_MS 3000   /* a check that has not finished is a failure */
#define REACH_MAX_CHECKS 64     /* in flight; more registrations stay "not known" */

struct reach_checker;

int reach_start(uv_loop_t *loop, struct tls_creds *creds, struct db *db,
		struct reach_checker **out);
/* Dials endpoint ("ADDR:PORT") expecting secondary's certificate; records the answer. */
void reach_check(struct reach_checker *r, const char *secondary, const char *endpoint);
/* Abandons checks in flight; the struct goes with the last of them. */
void reach_stop(struct reach_checker *r);

#endif
