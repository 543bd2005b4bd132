/* Codecs of the ops that read the directory (see principal_ops.h): lookup (where is a
 * callee, and which secondary serves it), list (LANs or secondaries, paged; a secondary
 * checking a call reads the LAN entries) and revocations (the serials to refuse). */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "principal_ops_priv.h"

/* ---- lookup ---- */

static const char *const kind_names[] = {NULL, "user", "host", "address"};

const char *pop_lookup_kind_name(enum pop_lookup_kind k)
{
	return k >= POP_LOOKUP_USER && k <= POP_LOOKUP_ADDRESS ? kind_names[k] : "unknown";
}

static enum pop_lookup_kind kind_from_name(const char *name)
{
	for (int k = POP_LOOKUP_USER; name && k <= POP_LOOKUP_ADDRESS; k++)
		if (strcmp(kind_names[k], name) == 0)
			return (enum pop_lookup_kind)k;
	return 0;
}

json_t *pop_lookup_req_encode(json_int_t id, const struct pop_lookup_req *r)
{
	json_t *req = msg_request("lookup", id);

	json_object_set_new(req, "callee", json_string(r->callee));
	return req;
}

int pop_lookup_req_decode(const json_t *msg, struct pop_lookup_req *out, char why[POP_WHY_LEN])
{
	return pop_get_text(msg, "callee", true, &out->callee, why);
}

/* The order is the directory's: what the callee is, where its address falls, then the
 * LAN and its serving secondary. */
json_t *pop_lookup_reply_encode(const struct pop_lookup_reply *r)
{
	json_t *j = json_object();
	char text[IP_STRLEN];

	json_object_set_new(j, "callee", json_string(r->callee));
	json_object_set_new(j, "kind", json_string(pop_lookup_kind_name(r->kind)));
	if (r->kind == POP_LOOKUP_USER)
		json_object_set_new(j, "user", json_string(r->user));
	if (r->kind == POP_LOOKUP_HOST)
		json_object_set_new(j, "host", json_string(r->host));
	if (r->has_address) {
		json_object_set_new(j, "address",
				    json_string(ip_addr_format(&r->address, text, sizeof text)));
		json_object_set_new(j, "prefix", json_string(r->prefix));
	}
	if (r->kind == POP_LOOKUP_ADDRESS && r->host[0])
		json_object_set_new(j, "host", json_string(r->host));
	json_object_set_new(j, "lan", json_string(r->lan));
	if (r->mapped_prefix[0])
		json_object_set_new(j, "mapped_prefix", json_string(r->mapped_prefix));
	if (r->has_mapped_address)
		json_object_set_new(j, "mapped_address",
				    json_string(ip_addr_format(&r->mapped_address, text,
							       sizeof text)));
	pop_put_serving(j, &r->serving);
	return j;
}

static int get_lookup_address(const json_t *msg, struct pop_lookup_reply *out,
			      char why[POP_WHY_LEN])
{
	char address[IP_STRLEN], mapped[IP_STRLEN];
	int rc;

	if ((rc = pop_get_nullable(msg, "address", address, sizeof address, why)) ||
	    (rc = pop_get_nullable(msg, "prefix", out->prefix, sizeof out->prefix, why)) ||
	    (rc = pop_get_nullable(msg, "mapped_prefix", out->mapped_prefix,
				   sizeof out->mapped_prefix, why)) ||
	    (rc = pop_get_nullable(msg, "mapped_address", mapped, sizeof mapped, why)))
		return rc;
	/* An address that does not parse is no address: the caller needs none for a user. */
	out->has_address = address[0] && ip_addr_parse(address, &out->address) == 0;
	out->has_mapped_address = mapped[0] && ip_addr_parse(mapped, &out->mapped_address) == 0;
	return 0;
}

int pop_lookup_reply_decode(const json_t *msg, struct pop_lookup_reply *out,
			    char why[POP_WHY_LEN])
{
	char kind[16];
	const char *lan;
	int rc;

	memset(out, 0, sizeof *out);
	if (msg_get_str(msg, "lan", &lan))
		return pop_field_fail(why);
	if (strlen(lan) > PKI_NAME_MAX)
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'lan' is not a LAN name");
	memcpy(out->lan, lan, strlen(lan) + 1);
	if ((rc = pop_get_nullable(msg, "kind", kind, sizeof kind, why)) ||
	    (rc = pop_get_nullable(msg, "callee", out->callee, sizeof out->callee, why)) ||
	    (rc = pop_get_nullable(msg, "user", out->user, sizeof out->user, why)) ||
	    (rc = pop_get_nullable(msg, "host", out->host, sizeof out->host, why)) ||
	    (rc = get_lookup_address(msg, out, why)) ||
	    (rc = pop_get_serving(msg, &out->serving, why)))
		return rc;
	out->kind = kind_from_name(kind);
	return 0;
}

/* ---- list ---- */

static const char *const what_names[] = {NULL, "lans", "secondaries"};

const char *pop_list_what_name(enum pop_list_what w)
{
	return w == POP_LIST_LANS || w == POP_LIST_SECONDARIES ? what_names[w] : "unknown";
}

static enum pop_list_what what_from_name(const char *name)
{
	if (strcmp(name, "lans") == 0)
		return POP_LIST_LANS;
	if (strcmp(name, "secondaries") == 0)
		return POP_LIST_SECONDARIES;
	return 0;
}

json_t *pop_list_req_encode(json_int_t id, const struct pop_list_req *r)
{
	json_t *req = msg_request("list", id);

	json_object_set_new(req, "what", json_string(pop_list_what_name(r->what)));
	if (r->name)
		json_object_set_new(req, "name", json_string(r->name));
	pop_put_page(req, &r->page);
	return req;
}

/* The principal's order of checks: what's type, name, name with what, what's value, then
 * the page. */
int pop_list_req_decode(const json_t *msg, struct pop_list_req *out, char why[POP_WHY_LEN])
{
	const char *what;
	int rc;

	memset(out, 0, sizeof *out);
	if (msg_get_str(msg, "what", &what))
		return pop_field_fail(why);
	if ((rc = pop_get_text(msg, "name", false, &out->name, why)))
		return rc;
	if (out->name && strcmp(what, "lans") != 0)
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'name' applies to LANs only");
	out->what = what_from_name(what);
	if (!out->what)
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"field 'what' must be \"lans\" or \"secondaries\"");
	return pop_get_page(msg, &out->page, why);
}

json_t *pop_list_reply_encode(const struct pop_list_reply *r)
{
	return json_pack("{s:s, s:O, s:I, s:I}", "what", pop_list_what_name(r->what), "items",
			 (json_t *)r->items, "total", (json_int_t)r->total, "offset",
			 (json_int_t)r->offset);
}

int pop_list_reply_decode(const json_t *msg, struct pop_list_reply *out,
			  char why[POP_WHY_LEN])
{
	const char *what;
	json_t *items;
	json_int_t total, offset;

	memset(out, 0, sizeof *out);
	if (msg_get_str(msg, "what", &what) ||
	    msg_get_array(msg, "items", POP_LIST_MAX, &items) ||
	    msg_get_int(msg, "total", 0, INT32_MAX, &total) ||
	    msg_get_int(msg, "offset", 0, INT32_MAX, &offset))
		return pop_field_fail(why);
	out->what = what_from_name(what);
	if (!out->what)
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"field 'what' must be \"lans\" or \"secondaries\"");
	out->items = items;
	out->total = total;
	out->offset = offset;
	return 0;
}

/* The prefixes of an entry that parse (the directory's text is canonical). */
static size_t entry_prefixes(const json_t *entry, struct ip_prefix *out)
{
	const json_t *v;
	size_t i, n = 0;

	json_array_foreach(json_object_get(entry, "prefixes"), i, v) {
		const char *text = json_string_value(v);

		if (n < POP_MAX_PREFIXES && text && ip_prefix_parse(text, false, &out[n]) == 0)
			n++;
	}
	return n;
}

int pop_list_find_lan(const struct pop_list_reply *r, const char *name,
		      struct pop_lan_entry *out)
{
	const json_t *item;
	size_t i;
	char why[POP_WHY_LEN];

	if (r->what != POP_LIST_LANS)
		return INSEL_E_NOT_FOUND;
	json_array_foreach(r->items, i, item) {
		const char *lan = json_string_value(json_object_get(item, "name"));

		if (!lan || strcmp(lan, name) != 0 || strlen(lan) > PKI_NAME_MAX)
			continue;
		memset(out, 0, sizeof *out);
		memcpy(out->name, lan, strlen(lan) + 1);
		out->nprefixes = entry_prefixes(item, out->prefixes);
		{
			const char *mapped = json_string_value(json_object_get(item, "mapped"));

			out->has_mapped = mapped && ip_prefix_parse(mapped, true, &out->mapped) == 0 &&
					  out->mapped.addr.family == AF_INET;
		}
		return pop_get_serving(item, &out->serving, why) ? INSEL_E_BAD_FIELD : 0;
	}
	return INSEL_E_NOT_FOUND;
}

/* ---- revocations ---- */

json_t *pop_revocations_req_encode(json_int_t id, const struct pop_page *page)
{
	json_t *req = msg_request("revocations", id);

	pop_put_page(req, page);
	return req;
}

int pop_revocations_req_decode(const json_t *msg, struct pop_page *out, char why[POP_WHY_LEN])
{
	return pop_get_page(msg, out, why);
}

json_t *pop_revocations_reply_encode(const struct pop_revocations_reply *r)
{
	return json_pack("{s:O, s:I, s:I}", "serials", (json_t *)r->serials, "total",
			 (json_int_t)r->total, "offset", (json_int_t)r->offset);
}

int pop_revocations_reply_decode(const json_t *msg, struct pop_revocations_reply *out,
				 char why[POP_WHY_LEN])
{
	json_t *serials;
	json_int_t total, offset;

	if (msg_get_array(msg, "serials", POP_LIST_MAX, &serials) ||
	    msg_get_int(msg, "total", 0, INT32_MAX, &total) ||
	    msg_get_int(msg, "offset", 0, INT32_MAX, &offset))
		return pop_field_fail(why);
	out->serials = serials;
	out->total = total;
	out->offset = offset;
	return 0;
}
