/* The connection reversal's endpoint (connect_choice.h). The caller's registered
 * endpoints are each checked by the principal over their own family (reach.c): a
 * dual-stack gateway whose IPv4 port is behind a NAT may well be dialable over IPv6, and
 * an IPv6-only callee can dial back nothing but IPv6. */
#include "connect_choice.h"

#include <string.h>

/* An endpoint of the caller's, and what the directory knows of dialling it. */
struct reversal_option {
	struct ip_endpoint at;
	enum pop_reach reach;
	bool valid;
};

static bool endpoint_of(const char *text, struct ip_endpoint *out)
{
	return text[0] && ip_endpoint_parse(text, out) == 0 && out->port != 0;
}

/* Whether the callee's secondary can dial an endpoint of this family: it registered one
 * of it. A callee whose endpoints do not parse (it never registered, an older directory)
 * is not held to a family. */
static bool callee_has_family(const struct pop_serving *callee, int family)
{
	struct ip_endpoint ep;
	bool known = false;

	if (endpoint_of(callee->endpoint, &ep)) {
		known = true;
		if (ep.addr.family == family)
			return true;
	}
	if (endpoint_of(callee->endpoint6, &ep)) {
		known = true;
		if (ep.addr.family == family)
			return true;
	}
	return !known;
}

bool connect_reversal_to(const struct pop_serving *caller, const struct pop_serving *callee,
			 struct ip_endpoint *to)
{
	struct reversal_option options[2];
	static const enum pop_reach rounds[] = {POP_REACH_YES, POP_REACH_UNKNOWN};

	memset(options, 0, sizeof options);
	options[0].valid = endpoint_of(caller->endpoint, &options[0].at);
	options[0].reach = caller->reachable;
	options[1].valid = endpoint_of(caller->endpoint6, &options[1].at) &&
			   options[1].at.addr.family == AF_INET6;
	options[1].reach = caller->reachable6;
	for (size_t r = 0; r < sizeof rounds / sizeof rounds[0]; r++)
		for (size_t i = 0; i < 2; i++)
			if (options[i].valid && options[i].reach == rounds[r] &&
			    callee_has_family(callee, options[i].at.addr.family)) {
				*to = options[i].at;
				return true;
			}
	return false;
}
