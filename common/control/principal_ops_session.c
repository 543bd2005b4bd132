/* Codecs of a secondary's session with the principal (see principal_ops.h): hello (the
 * protocol version), register (its LAN, prefixes and peer endpoint), heartbeat, and the
 * "revoked" notice the principal pushes when an operator revokes certificates. */
#include <string.h>

#include "err.h"
#include "msg.h"
#include "principal_ops_priv.h"

/* ---- hello ---- */

json_t *pop_hello_req_encode(json_int_t id, const struct pop_hello_req *r)
{
	json_t *req = msg_hello(id, r->role ? r->role : "secondary");

	if (req && r->version != MSG_PROTOCOL_VERSION)
		json_object_set_new(req, "version", json_integer(r->version));
	return req;
}

int pop_hello_req_decode(const json_t *msg, struct pop_hello_req *out, char why[POP_WHY_LEN])
{
	json_int_t version;

	if (msg_get_int(msg, "version", 0, INT32_MAX, &version))
		return pop_field_fail(why);
	out->version = version;
	out->role = json_string_value(json_object_get(msg, "role"));
	return 0;
}

json_t *pop_hello_reply_encode(const struct pop_hello_reply *r)
{
	json_t *j = json_object();

	pop_put_timers(j, &r->timers);
	json_object_set_new(j, "version", json_integer(r->version));
	json_object_set_new(j, "role", json_string("principal"));
	json_object_set_new(j, "name", json_string(r->name));
	json_object_set_new(j, "peer", json_pack("{s:s, s:s}", "role", r->peer_role, "name",
						 r->peer_name));
	return j;
}

int pop_hello_reply_decode(const json_t *msg, struct pop_hello_reply *out,
			   char why[POP_WHY_LEN])
{
	json_int_t version;
	json_t *peer;

	memset(out, 0, sizeof *out);
	if (msg_get_int(msg, "version", 0, INT32_MAX, &version) ||
	    msg_get_str(msg, "name", &out->name) || msg_get_object(msg, "peer", &peer) ||
	    msg_get_str(peer, "role", &out->peer_role) ||
	    msg_get_str(peer, "name", &out->peer_name))
		return pop_field_fail(why);
	out->version = version;
	return pop_get_timers(msg, &out->timers, why);
}

/* ---- register ---- */

json_t *pop_register_req_encode(json_int_t id, const struct pop_register_req *r)
{
	json_t *req = msg_request("register", id);
	char text[IP_STRLEN];

	json_object_set_new(req, "lan", json_string(r->lan));
	json_object_set_new(req, "prefixes", prefix_list_to_json(r->prefixes, r->nprefixes));
	json_object_set_new(req, "endpoint",
			    json_string(ip_endpoint_format(&r->endpoint, text, sizeof text)));
	if (r->reachable != POP_REACH_UNKNOWN)
		json_object_set_new(req, "reachable",
				    json_string(r->reachable == POP_REACH_YES ? "yes" : "no"));
	if (r->has_endpoint6)
		json_object_set_new(req, "endpoint6", json_string(ip_endpoint_format(
					    &r->endpoint6, text, sizeof text)));
	if (r->has_relay) {
		json_t *relay = json_object();

		json_object_set_new(relay, "addr", json_string(ip_endpoint_format(
						    &r->relay, text, sizeof text)));
		if (r->has_relay_tcp)
			json_object_set_new(relay, "tcp", json_string(ip_endpoint_format(
							   &r->relay_tcp, text, sizeof text)));
		json_object_set_new(req, "relay", relay);
	}
	if (r->standby)
		json_object_set_new(req, "role", json_string("standby"));
	return req;
}

static bool endpoint_unspecified(const struct ip_endpoint *ep)
{
	static const uint8_t zero[16];

	return ep->port == 0 ||
	       memcmp(ep->addr.bytes, zero, ep->addr.family == AF_INET ? 4 : 16) == 0;
}

/* One address of "relay": ADDR:PORT, neither unspecified (peers send there). */
static int get_relay_endpoint(const json_t *relay, const char *key, bool required,
			      struct ip_endpoint *out, bool *has, char why[POP_WHY_LEN])
{
	const char *text;

	if (required ? msg_get_str(relay, key, &text) : msg_get_str_opt(relay, key, NULL, &text))
		return pop_field_fail(why);
	*has = text != NULL;
	if (text && (ip_endpoint_parse(text, out) || endpoint_unspecified(out)))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'relay.%s' must be ADDRESS:PORT, "
				"neither unspecified", key);
	return 0;
}

/* "relay", optional: {"addr":"ADDR:PORT","tcp":"ADDR:PORT"}. */
static int get_relay(const json_t *msg, struct pop_register_req *out, char why[POP_WHY_LEN])
{
	json_t *relay;
	int rc;

	if (!json_object_get(msg, "relay"))
		return 0;
	if (msg_get_object(msg, "relay", &relay))
		return pop_field_fail(why);
	if ((rc = get_relay_endpoint(relay, "addr", true, &out->relay, &out->has_relay, why)) ||
	    (rc = get_relay_endpoint(relay, "tcp", false, &out->relay_tcp, &out->has_relay_tcp,
				     why))) {
		out->has_relay = out->has_relay_tcp = false;
		return rc;
	}
	return 0;
}

/* "endpoint6", optional: a dual-stack secondary's IPv6 peer endpoint, beside an IPv4
 * "endpoint". */
static int get_endpoint6(const json_t *msg, struct pop_register_req *out,
			 char why[POP_WHY_LEN])
{
	const char *text;

	if (msg_get_str_opt(msg, "endpoint6", NULL, &text))
		return pop_field_fail(why);
	if (!text)
		return 0;
	if (ip_endpoint_parse(text, &out->endpoint6) || out->endpoint6.port == 0 ||
	    out->endpoint6.addr.family != AF_INET6 || out->endpoint.addr.family != AF_INET)
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'endpoint6' must be "
				"[ADDRESS6]:PORT beside an IPv4 endpoint");
	out->has_endpoint6 = true;
	return 0;
}

/* The principal's order of checks: the three fields' types, then the prefixes, then the
 * endpoint's text. */
int pop_register_req_decode(const json_t *msg, struct pop_register_req *out,
			    char why[POP_WHY_LEN])
{
	const char *endpoint, *reachable, *role;
	json_t *list;
	int rc;

	memset(out, 0, sizeof *out);
	if (msg_get_str(msg, "lan", &out->lan) || msg_get_str(msg, "endpoint", &endpoint) ||
	    msg_get_array(msg, "prefixes", POP_MAX_PREFIXES, &list) ||
	    msg_get_str_opt(msg, "reachable", "auto", &reachable) ||
	    msg_get_str_opt(msg, "role", "active", &role))
		return pop_field_fail(why);
	if (strcmp(role, "standby") == 0)
		out->standby = true;
	else if (strcmp(role, "active") != 0)
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"field 'role' must be \"active\" or \"standby\"");
	if (strcmp(reachable, "yes") == 0)
		out->reachable = POP_REACH_YES;
	else if (strcmp(reachable, "no") == 0)
		out->reachable = POP_REACH_NO;
	else if (strcmp(reachable, "auto") != 0)
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"field 'reachable' must be \"auto\", \"yes\" or \"no\"");
	if (json_array_size(list) == 0)
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'prefixes' must not be empty");
	rc = pop_get_prefixes(msg, "prefixes", out->prefixes, &out->nprefixes, why);
	if (rc)
		return rc;
	if (ip_endpoint_parse(endpoint, &out->endpoint) || out->endpoint.port == 0)
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"field 'endpoint' must be ADDRESS:PORT or [ADDRESS6]:PORT");
	if ((rc = get_endpoint6(msg, out, why)))
		return rc;
	return get_relay(msg, out, why);
}

static void put_stun(json_t *j, const char *key, bool has, const struct ip_endpoint *at)
{
	char text[IP_STRLEN];

	if (has)
		json_object_set_new(j, key, json_string(ip_endpoint_format(at, text, sizeof text)));
}

json_t *pop_register_reply_encode(const struct pop_register_reply *r)
{
	json_t *j = json_object();

	pop_put_timers(j, &r->timers);
	json_object_set_new(j, "secondary", json_string(r->secondary));
	json_object_set_new(j, "lan", json_string(r->lan));
	json_object_set_new(j, "prefixes", prefix_list_to_json(r->prefixes, r->nprefixes));
	put_stun(j, "stun", r->has_stun, &r->stun);
	put_stun(j, "stun_alternate", r->has_stun_alternate, &r->stun_alternate);
	return j;
}

/* A STUN endpoint, optional: ADDR:PORT with a non-zero port. */
static int get_stun(const json_t *msg, const char *key, bool *has, struct ip_endpoint *at,
		    char why[POP_WHY_LEN])
{
	const char *text;

	if (msg_get_str_opt(msg, key, NULL, &text))
		return pop_field_fail(why);
	if (!text)
		return 0;
	if (ip_endpoint_parse(text, at) || at->port == 0) {
		msg_bad_field(key, "must be ADDRESS:PORT with a non-zero port");
		return pop_field_fail(why);
	}
	*has = true;
	return 0;
}

int pop_register_reply_decode(const json_t *msg, struct pop_register_reply *out,
			      char why[POP_WHY_LEN])
{
	int rc;

	memset(out, 0, sizeof *out);
	if (msg_get_str(msg, "secondary", &out->secondary) || msg_get_str(msg, "lan", &out->lan))
		return pop_field_fail(why);
	rc = pop_get_prefixes(msg, "prefixes", out->prefixes, &out->nprefixes, why);
	rc = rc ? rc : get_stun(msg, "stun", &out->has_stun, &out->stun, why);
	rc = rc ? rc : get_stun(msg, "stun_alternate", &out->has_stun_alternate,
				&out->stun_alternate, why);
	return rc ? rc : pop_get_timers(msg, &out->timers, why);
}

/* ---- heartbeat ---- */

json_t *pop_heartbeat_req_encode(json_int_t id)
{
	return msg_request("heartbeat", id);
}

json_t *pop_timers_reply_encode(const struct pop_timers *t)
{
	json_t *j = json_object();

	pop_put_timers(j, t);
	return j;
}

int pop_timers_reply_decode(const json_t *msg, struct pop_timers *out, char why[POP_WHY_LEN])
{
	return pop_get_timers(msg, out, why);
}

/* ---- revoked ---- */

json_t *pop_revoked_notice_encode(const json_t *serials)
{
	return json_pack("{s:s, s:O}", "op", "revoked", "serials", serials);
}

int pop_revoked_notice_decode(const json_t *msg, const json_t **serials,
			      char why[POP_WHY_LEN])
{
	json_t *list;

	if (msg_get_array(msg, "serials", POP_LIST_MAX, &list))
		return pop_field_fail(why);
	*serials = list;
	return 0;
}

/* ---- gateway ---- */

json_t *pop_gateway_notice_encode(const struct pop_gateway_notice *n)
{
	return json_pack("{s:s, s:s, s:s}", "op", "gateway", "lan", n->lan, "secondary",
			 n->secondary);
}

int pop_gateway_notice_decode(const json_t *msg, struct pop_gateway_notice *out,
			      char why[POP_WHY_LEN])
{
	struct pop_gateway_notice n;

	if (msg_get_str(msg, "lan", &n.lan) || msg_get_str(msg, "secondary", &n.secondary))
		return pop_field_fail(why);
	if (!pki_name_valid(n.lan) || !pki_name_valid(n.secondary))
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"fields 'lan' and 'secondary' must be names");
	*out = n;
	return 0;
}
