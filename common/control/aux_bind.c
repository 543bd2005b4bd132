/* The "bind" request and its reply between a secondary and its call's auxiliary: the JSON
 * form of struct aux_bind_request / aux_bind_reply and its validating decode (aux_bind.h).
 * The decode checks every field on its own; what depends on the process (whether the
 * addresses can be bound, whether a network call's LAN address is IPv4) is the
 * auxiliary's to check. */
#include "aux_bind.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "prefix_list.h"
#include "rand.h"

/* ---- encoding ---- */

static int set_addr(json_t *obj, const char *key, const struct ip_addr *addr)
{
	char text[IP_STRLEN];

	return json_object_set_new(obj, key, json_string(ip_addr_format(addr, text,
									 sizeof text)));
}

static json_t *tun_to_json(const struct aux_bind_tun *t)
{
	json_t *j = json_pack("{s:{s:s, s:i, s:o, s:o, s:b}}", "tun",
			      "name_hint", t->name_hint ? t->name_hint : "",
			      "mtu", (int)t->mtu,
			      "local", prefix_list_to_json(t->local, t->nlocal),
			      "remote", prefix_list_to_json(t->remote, t->nremote),
			      "source_routing", t->source_routing);
	json_t *map = t->nmap ? json_array() : NULL;
	json_t *tun = j ? json_object_get(j, "tun") : NULL;

	for (size_t i = 0; map && i < t->nmap; i++) {
		char text[IP_STRLEN];

		json_array_append_new(map, json_string(ip_addr_format(&t->map[i], text,
								      sizeof text)));
	}
	if (j && map)
		json_object_set_new(tun, "map", map);
	if (j && t->nmap && t->has_room_net) {
		char text[IP_STRLEN];

		json_object_set_new(tun, "room_net",
				    json_string(ip_prefix_format(&t->room_net, text, sizeof text)));
	}
	if (j && t->nmap && t->has_room_net6) {
		char text[IP_STRLEN];

		json_object_set_new(tun, "room_net6",
				    json_string(ip_prefix_format(&t->room_net6, text, sizeof text)));
	}
	/* A peer LAN seen through its mapped prefix (docs/overlap.md). */
	if (tun && t->nremote_map) {
		json_object_set_new(tun, "map_real",
				    prefix_list_to_json(t->remote_real, t->nremote_map));
		json_object_set_new(tun, "map_as", prefix_list_to_json(t->remote_as, t->nremote_map));
	}
	return j;
}

static json_t *request_channels(const struct aux_bind_request *req)
{
	json_t *channels = json_array();

	if (channels && req->tun && json_array_append_new(channels, tun_to_json(&req->tun_req)))
		goto fail;
	for (unsigned i = 0; channels && !req->tun && i < req->nchannels; i++) {
		json_t *ch = json_pack("{s:i}", "lan_port", (int)req->lan_ports[i]);

		if (ch && req->stream[i])
			json_object_set_new(ch, "stream", json_true());
		if (json_array_append_new(channels, ch))
			goto fail;
	}
	return channels;
fail:
	json_decref(channels);
	return NULL;
}

static json_t *endpoint_list(const struct ip_endpoint *e, size_t n)
{
	json_t *list = json_array();
	char text[IP_STRLEN];

	for (size_t i = 0; list && i < n; i++)
		if (json_array_append_new(list, json_string(ip_endpoint_format(&e[i], text,
										sizeof text)))) {
			json_decref(list);
			return NULL;
		}
	return list;
}

json_t *aux_bind_request_to_json(const struct aux_bind_request *req)
{
	json_t *j = msg_request("bind", 0);
	char call[ID_STRLEN];
	int rc = j ? 0 : -1;

	rc = rc ? rc : json_object_set_new(j, "call", json_string(id_format(req->call_id, call)));
	rc = rc ? rc : set_addr(j, "lan_addr", &req->lan_addr);
	rc = rc ? rc : set_addr(j, "wan_addr", &req->wan_addr);
	if (req->has_wan_addr6)
		rc = rc ? rc : set_addr(j, "wan_addr6", &req->wan_addr6);
	if (req->has_lan_addr6)
		rc = rc ? rc : set_addr(j, "lan_addr6", &req->lan_addr6);
	if (!req->tun)
		rc = rc ? rc : set_addr(j, "party", &req->party);
	rc = rc ? rc : json_object_set_new(j, "channels", request_channels(req));
	if (req->user)
		rc = rc ? rc : json_object_set_new(j, "user", json_string(req->user));
	if (req->has_uid)
		rc = rc ? rc : json_object_set_new(j, "uid", json_integer(req->uid));
	if (req->nstun) {
		rc = rc ? rc : json_object_set_new(j, "stun", endpoint_list(req->stun, req->nstun));
		rc = rc ? rc : json_object_set_new(j, "stun_timeout_ms",
						   json_integer(req->stun_timeout_ms));
	}
	if (rc) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static json_t *reply_channel(const struct aux_bind_reply *r, unsigned i)
{
	json_t *ch;

	if (!r->tun)
		return json_pack("{s:i}", "lan_port", (int)r->lan_ports[i]);
	ch = json_pack("{s:s, s:i}", "interface", r->interface, "mtu", (int)r->mtu);
	if (ch && r->table && json_object_set_new(ch, "table", json_integer(r->table))) {
		json_decref(ch);
		return NULL;
	}
	return ch;
}

static json_t *nat_to_json(const struct aux_bind_reply *r)
{
	return json_pack("{s:s, s:o}", "mapping", nat_mapping_name(r->mapping), "mapped",
			 endpoint_list(r->mapped, r->nmapped));
}

json_t *aux_bind_reply_to_json(json_int_t id, const struct aux_bind_reply *reply)
{
	json_t *j = msg_reply_ok(id), *channels = json_array();

	for (unsigned i = 0; i < reply->nchannels && channels; i++)
		if (json_array_append_new(channels, reply_channel(reply, i))) {
			json_decref(channels);
			channels = NULL;
		}
	if (!j || !channels) {
		json_decref(channels);
		json_decref(j);
		return NULL;
	}
	/* json_object_set_new takes the reference even when it fails. */
	if (json_object_set_new(j, "channels", channels) ||
	    json_object_set_new(j, "wan_port", json_integer(reply->wan_port)) ||
	    (reply->wan_port6 && json_object_set_new(j, "wan_port6",
						     json_integer(reply->wan_port6))) ||
	    (reply->ncand && json_object_set_new(j, "candidates",
						 candidates_to_json(reply->cand, reply->ncand))) ||
	    (reply->has_nat && json_object_set_new(j, "nat", nat_to_json(reply)))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- decoding the request ---- */

/* A getter's failure, explained in why. */
static int field_error(int rc, char *why, size_t whylen)
{
	return err_set(why, whylen, rc, "%s", msg_field_error());
}

static int get_addr(const json_t *j, const char *key, struct ip_addr *out, char *why,
		    size_t whylen)
{
	const char *text;
	int rc = msg_get_str(j, key, &text);

	if (rc)
		return field_error(rc, why, whylen);
	rc = ip_addr_parse(text, out);
	if (rc)
		return err_set(why, whylen, rc, "field '%s': '%s' is not an IP address", key, text);
	return 0;
}

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

static int get_name_hint(const json_t *obj, struct aux_bind_tun *out, char *why,
			 size_t whylen)
{
	const char *hint;
	size_t len;

	if (msg_get_str_opt(obj, "name_hint", "insel", &hint))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "tun: %s", msg_field_error());
	len = strlen(hint);
	if (len == 0 || len >= AUX_TUN_NAME_LEN)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "tun: name_hint must have 1 to 15 characters");
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(hint[i]))
			return err_set(why, whylen, INSEL_E_BAD_FIELD, "tun: name_hint may hold "
				       "letters, digits, '-', '_' and '.'");
	out->name_hint = hint;
	return 0;
}

static int get_prefixes(const json_t *obj, const char *key, struct ip_prefix *out,
			size_t *n, char *why, size_t whylen)
{
	json_t *list;
	size_t bad;

	if (msg_get_array(obj, key, AUX_TUN_PREFIXES, &list))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "tun: %s", msg_field_error());
	if (json_array_size(list) == 0)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "tun: field '%s' must list at least one prefix", key);
	if (prefix_list_from_json(list, AUX_TUN_PREFIXES, false, out, n, &bad))
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "tun: %s[%zu] must be an IPv4 or IPv6 prefix", key, bad);
	return 0;
}

/* A room leg's map: one LAN address per local prefix, IPv4 for an IPv4 /32 and IPv6 for
 * an IPv6 /128. */
static int get_map(const json_t *obj, struct aux_bind_tun *out, char *why, size_t whylen)
{
	json_t *list;

	if (msg_get_array(obj, "map", AUX_TUN_PREFIXES, &list))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "tun: %s", msg_field_error());
	if (json_array_size(list) != out->nlocal)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "tun: map must have one address per local prefix");
	for (size_t i = 0; i < out->nlocal; i++) {
		const char *text = json_string_value(json_array_get(list, i));

		int fam = out->local[i].addr.family;

		if (!text || ip_addr_parse(text, &out->map[i]) || out->map[i].family != fam ||
		    out->local[i].len != (fam == AF_INET ? 32 : 128))
			return err_set(why, whylen, INSEL_E_BAD_FIELD,
				       "tun: map[%zu] must be an IPv4 address for an IPv4 /32 or an "
				       "IPv6 one for an IPv6 /128", i);
	}
	out->nmap = out->nlocal;
	if (json_object_get(obj, "room_net")) {
		const char *net = json_string_value(json_object_get(obj, "room_net"));

		if (!net || ip_prefix_parse(net, true, &out->room_net) ||
		    out->room_net.addr.family != AF_INET || out->room_net.len < 8 ||
		    out->room_net.len > 30)
			return err_set(why, whylen, INSEL_E_BAD_FIELD,
				       "tun: room_net must be an IPv4 /8 to /30");
		out->has_room_net = true;
	}
	if (json_object_get(obj, "room_net6")) {
		const char *net = json_string_value(json_object_get(obj, "room_net6"));

		if (!net || ip_prefix_parse(net, true, &out->room_net6) ||
		    out->room_net6.addr.family != AF_INET6 || out->room_net6.len < 64 ||
		    out->room_net6.len > 120)
			return err_set(why, whylen, INSEL_E_BAD_FIELD,
				       "tun: room_net6 must be an IPv6 /64 to /120");
		out->has_room_net6 = true;
	}
	return 0;
}

/* The optional mapping of the remote side: pairs of IPv4 prefixes of one length. */
static int get_remote_map(const json_t *obj, struct aux_bind_tun *out, char *why, size_t whylen)
{
	size_t nas = 0;

	if (!json_object_get(obj, "map_real") && !json_object_get(obj, "map_as"))
		return 0;
	if (get_prefixes(obj, "map_real", out->remote_real, &out->nremote_map, why, whylen) ||
	    get_prefixes(obj, "map_as", out->remote_as, &nas, why, whylen))
		return INSEL_E_BAD_FIELD;
	if (nas != out->nremote_map)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "tun: map_real and map_as must pair up");
	for (size_t i = 0; i < out->nremote_map; i++)
		if (out->remote_real[i].addr.family != AF_INET ||
		    out->remote_as[i].addr.family != AF_INET ||
		    out->remote_real[i].len != out->remote_as[i].len)
			return err_set(why, whylen, INSEL_E_BAD_FIELD, "tun: map_real[%zu] and "
				       "map_as[%zu] must be IPv4 prefixes of one length", i, i);
	return 0;
}

static int get_tun(const json_t *obj, struct aux_bind_tun *out, char *why, size_t whylen)
{
	json_int_t mtu;
	int rc;

	memset(out, 0, sizeof *out);
	if (!json_is_object(obj))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'tun' must be an object");
	if ((rc = get_name_hint(obj, out, why, whylen)) != 0)
		return rc;
	if (msg_get_int_opt(obj, "mtu", AUX_TUN_MIN_MTU, AUX_TUN_MAX_MTU, AUX_TUN_DEFAULT_MTU,
			    &mtu) ||
	    msg_get_bool_opt(obj, "source_routing", false, &out->source_routing))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "tun: %s", msg_field_error());
	out->mtu = (unsigned)mtu;
	if (get_prefixes(obj, "local", out->local, &out->nlocal, why, whylen) ||
	    get_prefixes(obj, "remote", out->remote, &out->nremote, why, whylen))
		return INSEL_E_BAD_FIELD;
	if (json_object_get(obj, "map") && (rc = get_map(obj, out, why, whylen)) != 0)
		return rc;
	return get_remote_map(obj, out, why, whylen);
}

/* One entry of "channels": a UDP channel's port, or a network call's "tun". */
static int get_channel(const json_t *entry, size_t i, size_t n,
		       struct aux_bind_request *req, char *why, size_t whylen)
{
	json_int_t port;
	int rc;

	if (!json_is_object(entry))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "channels[%zu] must be an object",
			       i);
	if (json_object_get(entry, "tun")) {
		if (n != 1)
			return err_set(why, whylen, INSEL_E_BAD_FIELD,
				       "a tun channel must be the call's only channel");
		req->tun = true;
		return get_tun(json_object_get(entry, "tun"), &req->tun_req, why, whylen);
	}
	if ((rc = msg_get_int_opt(entry, "lan_port", 0, UINT16_MAX, 0, &port)) != 0 ||
	    (rc = msg_get_bool_opt(entry, "stream", false, &req->stream[i])) != 0)
		return field_error(rc, why, whylen);
	req->lan_ports[i] = (uint16_t)port;
	return 0;
}

static int get_channels(const json_t *j, struct aux_bind_request *req, char *why,
			size_t whylen)
{
	json_t *channels;
	size_t n;
	int rc = msg_get_array(j, "channels", SEC_MAX_CHANNELS, &channels);

	if (rc)
		return field_error(rc, why, whylen);
	n = json_array_size(channels);
	if (n == 0)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "field 'channels' must list at least one channel");
	for (size_t i = 0; i < n; i++)
		if ((rc = get_channel(json_array_get(channels, i), i, n, req, why, whylen)) != 0)
			return rc;
	req->nchannels = (unsigned)n;
	return 0;
}

/* UDP channels hear one LAN host, of the LAN address's family. */
static int get_party(const json_t *j, struct aux_bind_request *req, char *why,
		     size_t whylen)
{
	int rc = get_addr(j, "party", &req->party, why, whylen);

	if (rc == 0 && req->party.family != req->lan_addr.family)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "field 'party' must be of lan_addr's family");
	return rc;
}

static int get_lan_addr6(const json_t *j, struct aux_bind_request *req, char *why,
			 size_t whylen)
{
	int rc;

	if (!json_object_get(j, "lan_addr6"))
		return 0;
	if ((rc = get_addr(j, "lan_addr6", &req->lan_addr6, why, whylen)) != 0)
		return rc;
	if (req->lan_addr6.family != AF_INET6)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "field 'lan_addr6' must be an IPv6 address");
	req->has_lan_addr6 = true;
	return 0;
}

/* A dual-stack wan: wan_addr is its IPv4 address, wan_addr6 its IPv6 one. */
static int get_wan_addr6(const json_t *j, struct aux_bind_request *req, char *why,
			 size_t whylen)
{
	int rc;

	if (!json_object_get(j, "wan_addr6"))
		return 0;
	if ((rc = get_addr(j, "wan_addr6", &req->wan_addr6, why, whylen)) != 0)
		return rc;
	if (req->wan_addr6.family != AF_INET6 || req->wan_addr.family != AF_INET)
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'wan_addr6' must be an "
			       "IPv6 address beside an IPv4 wan_addr");
	req->has_wan_addr6 = true;
	return 0;
}

/* Who to become: "user" names one, "uid" gives the call's own uid; both are optional. */
static int get_identity(const json_t *j, struct aux_bind_request *req, char *why,
			size_t whylen)
{
	json_int_t uid;
	int rc;

	if ((rc = msg_get_str_opt(j, "user", NULL, &req->user)) != 0)
		return field_error(rc, why, whylen);
	if (req->user && (req->user[0] == '\0' || strlen(req->user) >= AUX_USER_MAX))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'user' must be a user name");
	if (!json_object_get(j, "uid"))
		return 0;
	if ((rc = msg_get_int(j, "uid", 1, (json_int_t)UINT32_MAX - 1, &uid)) != 0)
		return field_error(rc, why, whylen);
	req->uid = (uint32_t)uid;
	req->has_uid = true;
	return 0;
}

/* A list of at most max "ADDRESS:PORT" strings, each with a specified address and a
 * non-zero port. what is the list's field name, for the sentence. */
static int get_endpoints(const json_t *list, const char *what, struct ip_endpoint *out,
			 size_t max, size_t *n, char *why, size_t whylen)
{
	static const uint8_t zero[16];
	const json_t *v;
	size_t i;

	if (!json_is_array(list) || json_array_size(list) > max)
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field '%s' must be an array of at "
			       "most %zu endpoints", what, max);
	json_array_foreach(list, i, v) {
		const char *text = json_string_value(v);

		if (!text || ip_endpoint_parse(text, &out[i]) || out[i].port == 0 ||
		    memcmp(out[i].addr.bytes, zero, out[i].addr.family == AF_INET ? 4 : 16) == 0)
			return err_set(why, whylen, INSEL_E_BAD_FIELD, "field '%s[%zu]' must be "
				       "ADDRESS:PORT with a specified address and a non-zero port",
				       what, i);
	}
	*n = json_array_size(list);
	return 0;
}

static int get_stun(const json_t *j, struct aux_bind_request *req, char *why, size_t whylen)
{
	const json_t *list = json_object_get(j, "stun");
	json_int_t timeout;

	if (msg_get_int_opt(j, "stun_timeout_ms", AUX_STUN_MIN_TIMEOUT_MS,
			    AUX_STUN_MAX_TIMEOUT_MS, AUX_STUN_DEFAULT_TIMEOUT_MS, &timeout))
		return field_error(INSEL_E_BAD_FIELD, why, whylen);
	req->stun_timeout_ms = (uint32_t)timeout;
	if (!list)
		return 0;
	return get_endpoints(list, "stun", req->stun, AUX_STUN_MAX, &req->nstun, why,
			     whylen);
}

int aux_bind_request_from_json(const json_t *j, struct aux_bind_request *out, char *why,
			       size_t whylen)
{
	const char *call;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = msg_get_str(j, "call", &call)) != 0)
		return field_error(rc, why, whylen);
	if (id_parse(call, &out->call_id) != 0)
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'call' must be 16 hex digits");
	if ((rc = get_addr(j, "lan_addr", &out->lan_addr, why, whylen)) != 0 ||
	    (rc = get_addr(j, "wan_addr", &out->wan_addr, why, whylen)) != 0 ||
	    (rc = get_wan_addr6(j, out, why, whylen)) != 0 ||
	    (rc = get_channels(j, out, why, whylen)) != 0 ||
	    (!out->tun && (rc = get_party(j, out, why, whylen)) != 0) ||
	    (rc = get_lan_addr6(j, out, why, whylen)) != 0 ||
	    (rc = get_stun(j, out, why, whylen)) != 0)
		return rc;
	return get_identity(j, out, why, whylen);
}

/* ---- decoding the reply ---- */

static int malformed(char *why, size_t whylen, const char *what)
{
	return err_set(why, whylen, INSEL_E_BAD_FIELD, "the auxiliary's bind reply is "
		       "malformed: %s", what);
}

static int get_tun_channel(const json_t *ch, struct aux_bind_reply *out, char *why,
			   size_t whylen)
{
	const char *name;
	json_int_t mtu, table;

	if (msg_get_str(ch, "interface", &name) || strlen(name) >= sizeof out->interface ||
	    msg_get_int(ch, "mtu", 68, 65535, &mtu) ||
	    msg_get_int_opt(ch, "table", 1, UINT32_MAX, 0, &table))
		return malformed(why, whylen, "a network call's channel");
	snprintf(out->interface, sizeof out->interface, "%s", name);
	out->mtu = (unsigned)mtu;
	out->table = (uint32_t)table;
	out->tun = true;
	return 0;
}

/* "candidates" and "nat", both optional (an auxiliary asked no STUN server, or an older
 * one, sends neither). */
static int get_discovery(const json_t *j, struct aux_bind_reply *out, char *why,
			 size_t whylen)
{
	const json_t *list = json_object_get(j, "candidates"), *nat = json_object_get(j, "nat");
	const char *mapping;
	json_t *mapped;
	char reason[192];

	if (list && candidates_from_json(list, out->cand, CAND_MAX, &out->ncand, reason,
					 sizeof reason))
		return malformed(why, whylen, reason);
	if (!nat)
		return 0;
	if (!json_is_object(nat) || msg_get_str(nat, "mapping", &mapping) ||
	    nat_mapping_from_name(mapping, &out->mapping) ||
	    msg_get_array(nat, "mapped", AUX_STUN_MAX, &mapped))
		return malformed(why, whylen, "nat");
	if (get_endpoints(mapped, "nat.mapped", out->mapped, AUX_STUN_MAX, &out->nmapped,
			  reason, sizeof reason))
		return malformed(why, whylen, reason);
	out->has_nat = true;
	return 0;
}

int aux_bind_reply_from_json(const json_t *j, struct aux_bind_reply *out, char *why,
			     size_t whylen)
{
	json_t *channels;
	json_int_t port;
	size_t n;

	memset(out, 0, sizeof *out);
	if (msg_get_int(j, "wan_port", 1, 65535, &port))
		return malformed(why, whylen, "wan_port");
	out->wan_port = (uint16_t)port;
	if (msg_get_int_opt(j, "wan_port6", 1, 65535, 0, &port))
		return malformed(why, whylen, "wan_port6");
	out->wan_port6 = (uint16_t)port;
	if (get_discovery(j, out, why, whylen))
		return INSEL_E_BAD_FIELD;
	if (msg_get_array(j, "channels", SEC_MAX_CHANNELS, &channels) ||
	    json_array_size(channels) == 0)
		return malformed(why, whylen, "channels");
	n = json_array_size(channels);
	if (json_object_get(json_array_get(channels, 0), "interface")) {
		out->nchannels = 1;
		return n == 1 ? get_tun_channel(json_array_get(channels, 0), out, why, whylen)
			      : malformed(why, whylen, "a network call has one channel");
	}
	for (size_t i = 0; i < n; i++) {
		if (msg_get_int(json_array_get(channels, i), "lan_port", 1, 65535, &port))
			return malformed(why, whylen, "lan_port");
		out->lan_ports[i] = (uint16_t)port;
	}
	out->nchannels = (unsigned)n;
	return 0;
}

/* ---- room_members ---- */

static json_t *addr_list_to_json(const struct ip_addr *a, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < n; i++) {
		char text[IP_STRLEN];

		if (json_array_append_new(list, json_string(ip_addr_format(&a[i], text,
									   sizeof text)))) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

int aux_room_members_into(json_t *req, const struct aux_bind_tun *t)
{
	int rc = json_object_set_new(req, "local", prefix_list_to_json(t->local, t->nlocal));

	rc |= json_object_set_new(req, "map", addr_list_to_json(t->map, t->nmap));
	rc |= json_object_set_new(req, "remote", prefix_list_to_json(t->remote, t->nremote));
	return rc ? -ENOMEM : 0;
}

int aux_room_members_from_json(const json_t *j, struct aux_bind_tun *out, char *why,
			       size_t whylen)
{
	memset(out, 0, sizeof *out);
	if (!json_is_object(j))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "room_members must be an object");
	if (get_prefixes(j, "local", out->local, &out->nlocal, why, whylen) ||
	    get_prefixes(j, "remote", out->remote, &out->nremote, why, whylen))
		return INSEL_E_BAD_FIELD;
	if (!json_object_get(j, "map"))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "room_members: field 'map' is "
			       "missing");
	if (get_map(j, out, why, whylen))
		return INSEL_E_BAD_FIELD;
	out->has_room_net = false;  /* the room's networks stay what bind said */
	out->has_room_net6 = false;
	return 0;
}

/* ---- comparing ---- */

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_prefixes(const struct ip_prefix *a, const struct ip_prefix *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].len != b[i].len || !ip_addr_equal(&a[i].addr, &b[i].addr))
			return false;
	return true;
}

bool aux_room_members_equal(const struct aux_bind_tun *a, const struct aux_bind_tun *b)
{
	return a->nlocal == b->nlocal && a->nremote == b->nremote && a->nmap == b->nmap &&
	       same_prefixes(a->local, b->local, a->nlocal) &&
	       same_prefixes(a->remote, b->remote, a->nremote) &&
	       (a->nmap == 0 || memcmp(a->map, b->map, a->nmap * sizeof a->map[0]) == 0);
}

static bool same_tun(const struct aux_bind_tun *a, const struct aux_bind_tun *b)
{
	return same_text(a->name_hint, b->name_hint) && a->mtu == b->mtu &&
	       a->source_routing == b->source_routing && a->nlocal == b->nlocal &&
	       a->nremote == b->nremote && same_prefixes(a->local, b->local, a->nlocal) &&
	       same_prefixes(a->remote, b->remote, a->nremote) && a->nmap == b->nmap &&
	       (a->nmap == 0 || memcmp(a->map, b->map, a->nmap * sizeof a->map[0]) == 0) &&
	       a->has_room_net == b->has_room_net &&
	       (!a->has_room_net || (a->room_net.len == b->room_net.len &&
				     memcmp(a->room_net.addr.bytes, b->room_net.addr.bytes, 4) == 0)) &&
	       a->has_room_net6 == b->has_room_net6 &&
	       (!a->has_room_net6 || (a->room_net6.len == b->room_net6.len &&
				      memcmp(a->room_net6.addr.bytes, b->room_net6.addr.bytes,
					     16) == 0)) &&
	       a->nremote_map == b->nremote_map &&
	       same_prefixes(a->remote_real, b->remote_real, a->nremote_map) &&
	       same_prefixes(a->remote_as, b->remote_as, a->nremote_map);
}

static bool same_endpoints(const struct ip_endpoint *a, size_t na,
			   const struct ip_endpoint *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].port != b[i].port || !ip_addr_equal(&a[i].addr, &b[i].addr))
			return false;
	return true;
}

static bool same_discovery(const struct aux_bind_reply *a, const struct aux_bind_reply *b)
{
	if (a->ncand != b->ncand || a->has_nat != b->has_nat)
		return false;
	for (size_t i = 0; i < a->ncand; i++)
		if (!candidate_equal(&a->cand[i], &b->cand[i]))
			return false;
	return !a->has_nat || (a->mapping == b->mapping &&
			       same_endpoints(a->mapped, a->nmapped, b->mapped, b->nmapped));
}

bool aux_bind_request_equal(const struct aux_bind_request *a,
			    const struct aux_bind_request *b)
{
	if (a->call_id != b->call_id || !ip_addr_equal(&a->lan_addr, &b->lan_addr) ||
	    !ip_addr_equal(&a->wan_addr, &b->wan_addr) || a->has_wan_addr6 != b->has_wan_addr6 ||
	    (a->has_wan_addr6 && !ip_addr_equal(&a->wan_addr6, &b->wan_addr6)) ||
	    a->has_lan_addr6 != b->has_lan_addr6 ||
	    (a->has_lan_addr6 && !ip_addr_equal(&a->lan_addr6, &b->lan_addr6)) ||
	    a->nchannels != b->nchannels || a->tun != b->tun || !same_text(a->user, b->user) ||
	    a->has_uid != b->has_uid || (a->has_uid && a->uid != b->uid) ||
	    !same_endpoints(a->stun, a->nstun, b->stun, b->nstun) ||
	    (a->nstun && a->stun_timeout_ms != b->stun_timeout_ms))
		return false;
	if (a->tun)
		return same_tun(&a->tun_req, &b->tun_req);
	return ip_addr_equal(&a->party, &b->party) &&
	       memcmp(a->lan_ports, b->lan_ports, a->nchannels * sizeof a->lan_ports[0]) == 0 &&
	       memcmp(a->stream, b->stream, a->nchannels * sizeof a->stream[0]) == 0;
}

bool aux_bind_reply_equal(const struct aux_bind_reply *a, const struct aux_bind_reply *b)
{
	if (a->wan_port != b->wan_port || a->wan_port6 != b->wan_port6 || a->nchannels != b->nchannels || a->tun != b->tun ||
	    !same_discovery(a, b))
		return false;
	if (a->tun)
		return strcmp(a->interface, b->interface) == 0 && a->mtu == b->mtu &&
		       a->table == b->table;
	return memcmp(a->lan_ports, b->lan_ports, a->nchannels * sizeof a->lan_ports[0]) == 0;
}
