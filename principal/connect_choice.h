/* Which way the principal connects a caller that cannot dial its callee (the connect op,
 * docs/nat.md "Signalling across NAT"): a connection reversal, the callee dialling one of
 * the caller's registered peer endpoints, or else the splice. A pure core over what the
 * directory says of the two secondaries, so that a unit test decides every case. */
#ifndef INSEL_PRINCIPAL_CONNECT_CHOICE_H
#define INSEL_PRINCIPAL_CONNECT_CHOICE_H

#include <stdbool.h>

#include "addr.h"
#include "principal_ops.h"

/* The caller's endpoint the callee should dial back, if any: one of the caller's
 * endpoint (reachable) and endpoint6 (reachable6) whose family the callee has (the
 * families of its own registered endpoints; any, if it has none that parses), one known
 * dialable before one not yet checked, and of two alike the endpoint before endpoint6
 * (IPv4, as before there was an endpoint6). False when none qualifies: the splice. */
bool connect_reversal_to(const struct pop_serving *caller, const struct pop_serving *callee,
			 struct ip_endpoint *to);

#endif
