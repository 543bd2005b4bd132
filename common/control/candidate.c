/* Candidates to and from JSON (candidate.h). They arrive in offers and answers from peers
 * and in control messages, so every field is validated and each refusal says which
 * candidate and why; unknown kinds in a list are skipped so that a newer peer can add
 * kinds without breaking calls to older ones. */
#include "candidate.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "hex.h"
#include "msg_get.h"
#include "rand.h"

static const char *const kind_names[] = {
	[CAND_HOST] = "host",
	[CAND_SRFLX] = "srflx",
	[CAND_RELAY] = "relay",
};

static const char *const mapping_names[] = {
	[NAT_MAPPING_UNKNOWN] = "unknown",
	[NAT_MAPPING_NONE] = "none",
	[NAT_MAPPING_INDEPENDENT] = "independent",
	[NAT_MAPPING_DEPENDENT] = "dependent",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *cand_kind_name(enum cand_kind kind)
{
	return (unsigned)kind < COUNT(kind_names) ? kind_names[kind] : "unknown";
}

int cand_kind_from_name(const char *name, enum cand_kind *out)
{
	for (size_t i = 0; name && i < COUNT(kind_names); i++)
		if (strcmp(name, kind_names[i]) == 0) {
			*out = (enum cand_kind)i;
			return 0;
		}
	return INSEL_E_BAD_FIELD;
}

const char *nat_mapping_name(enum nat_mapping m)
{
	return (unsigned)m < COUNT(mapping_names) ? mapping_names[m] : "unknown";
}

int nat_mapping_from_name(const char *name, enum nat_mapping *out)
{
	for (size_t i = 0; name && i < COUNT(mapping_names); i++)
		if (strcmp(name, mapping_names[i]) == 0) {
			*out = (enum nat_mapping)i;
			return 0;
		}
	return INSEL_E_BAD_FIELD;
}

/* ---- encoding ---- */

static int set_relay_fields(json_t *obj, const struct candidate *c)
{
	char id[ID_STRLEN], token[2 * CAND_TOKEN_LEN + 1];
	char tcp[IP_STRLEN];
	int rc;

	hex_encode(c->relay_token, sizeof c->relay_token, token);
	rc = json_object_set_new(obj, "relay_id", json_string(id_format(c->relay_id, id)));
	rc = rc ? rc : json_object_set_new(obj, "token", json_string(token));
	if (rc == 0 && c->has_tcp)
		rc = json_object_set_new(obj, "tcp", json_string(ip_endpoint_format(
							     &c->tcp, tcp, sizeof tcp)));
	if (rc == 0 && c->preferred)
		rc = json_object_set_new(obj, "preferred", json_true());
	return rc;
}

json_t *candidate_to_json(const struct candidate *c)
{
	char addr[IP_STRLEN];
	json_t *obj = json_pack("{s:s, s:s}", "kind", cand_kind_name(c->kind), "addr",
				ip_endpoint_format(&c->ep, addr, sizeof addr));

	if (obj && c->kind == CAND_RELAY && set_relay_fields(obj, c)) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

json_t *candidates_to_json(const struct candidate *c, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < n; i++)
		if (json_array_append_new(list, candidate_to_json(&c[i]))) {
			json_decref(list);
			return NULL;
		}
	return list;
}

/* ---- decoding ---- */

static bool addr_unspecified(const struct ip_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

static int get_endpoint(const json_t *j, const char *key, struct ip_endpoint *out,
			char *why, size_t whylen)
{
	const char *text;

	if (msg_get_str(j, key, &text))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	if (ip_endpoint_parse(text, out) || out->port == 0 || addr_unspecified(&out->addr))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field '%s' must be ADDRESS:PORT "
			       "with a specified address and a non-zero port", key);
	return 0;
}

static int get_addr(const json_t *j, struct ip_endpoint *out, char *why, size_t whylen)
{
	return get_endpoint(j, "addr", out, why, whylen);
}

static int get_relay_fields(const json_t *j, struct candidate *out, char *why, size_t whylen)
{
	const char *id, *token;

	if (msg_get_str(j, "relay_id", &id) || msg_get_str(j, "token", &token))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "a relay candidate's %s",
			       msg_field_error());
	if (id_parse(id, &out->relay_id) || out->relay_id == 0)
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "a relay candidate's field "
			       "'relay_id' must be 16 hex digits, not all zero");
	if (strlen(token) != 2 * CAND_TOKEN_LEN ||
	    hex_decode(token, strlen(token), out->relay_token, CAND_TOKEN_LEN))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "a relay candidate's field 'token' "
			       "must be %d hex digits", 2 * CAND_TOKEN_LEN);
	if (msg_get_bool_opt(j, "preferred", false, &out->preferred))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "a relay candidate's %s",
			       msg_field_error());
	if (json_object_get(j, "tcp")) {
		out->has_tcp = true;
		return get_endpoint(j, "tcp", &out->tcp, why, whylen);
	}
	return 0;
}

/* The kind alone: INSEL_E_NOT_FOUND (a name this build does not know) is told apart from
 * a malformed field, so that a list can skip the first and refuse the second. */
static int get_kind(const json_t *j, enum cand_kind *out, char *why, size_t whylen)
{
	const char *name;

	if (!json_is_object(j))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "a candidate must be an object");
	if (msg_get_str(j, "kind", &name))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	if (cand_kind_from_name(name, out))
		return err_set(why, whylen, INSEL_E_NOT_FOUND, "field 'kind' must be host, srflx "
			       "or relay, not '%.32s'", name);
	return 0;
}

static int get_fields(const json_t *j, struct candidate *out, char *why, size_t whylen)
{
	int rc = get_addr(j, &out->ep, why, whylen);

	if (rc == 0 && out->kind == CAND_RELAY)
		rc = get_relay_fields(j, out, why, whylen);
	return rc;
}

int candidate_from_json(const json_t *j, struct candidate *out, char *why, size_t whylen)
{
	int rc;

	memset(out, 0, sizeof *out);
	rc = get_kind(j, &out->kind, why, whylen);
	if (rc)
		return INSEL_E_BAD_FIELD;
	rc = get_fields(j, out, why, whylen);
	if (rc)
		memset(out, 0, sizeof *out);
	return rc;
}

int candidates_from_json(const json_t *array, struct candidate *out, size_t max, size_t *n,
			 char *why, size_t whylen)
{
	char reason[160];
	const json_t *entry;
	size_t i;

	*n = 0;
	if (max > CAND_MAX)
		max = CAND_MAX;
	if (!json_is_array(array))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "the candidates must be an array");
	if (json_array_size(array) > max)
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "at most %zu candidates are "
			       "allowed, not %zu", max, json_array_size(array));
	json_array_foreach(array, i, entry) {
		struct candidate c;
		int rc = get_kind(entry, &c.kind, reason, sizeof reason);

		if (rc == INSEL_E_NOT_FOUND)
			continue;
		if (rc == 0)
			rc = candidate_from_json(entry, &c, reason, sizeof reason);
		if (rc)
			return err_set(why, whylen, INSEL_E_BAD_FIELD, "candidate %zu: %s", i, reason);
		out[(*n)++] = c;
	}
	return 0;
}

/* ---- comparing and showing ---- */

static bool same_endpoint(const struct ip_endpoint *a, const struct ip_endpoint *b)
{
	return a->port == b->port && ip_addr_equal(&a->addr, &b->addr);
}

bool candidate_equal(const struct candidate *a, const struct candidate *b)
{
	if (a->kind != b->kind || !same_endpoint(&a->ep, &b->ep))
		return false;
	return a->kind != CAND_RELAY ||
	       (a->relay_id == b->relay_id &&
		memcmp(a->relay_token, b->relay_token, CAND_TOKEN_LEN) == 0 &&
		a->has_tcp == b->has_tcp && (!a->has_tcp || same_endpoint(&a->tcp, &b->tcp)) &&
		a->preferred == b->preferred);
}

bool candidate_listed(const struct candidate *list, size_t n, const struct candidate *c)
{
	for (size_t i = 0; i < n; i++)
		if (same_endpoint(&list[i].ep, &c->ep))
			return true;
	return false;
}

static bool endpoint_listed(const struct ip_endpoint *list, size_t n,
			    const struct ip_endpoint *e)
{
	for (size_t i = 0; i < n; i++)
		if (same_endpoint(&list[i], e))
			return true;
	return false;
}

static enum nat_mapping mapping_of(const struct ip_endpoint *host, size_t answers,
				   const struct ip_endpoint *distinct, size_t ndistinct)
{
	if (answers == 0)
		return NAT_MAPPING_UNKNOWN;
	if (ndistinct > 1)
		return NAT_MAPPING_DEPENDENT;
	if (same_endpoint(&distinct[0], host))
		return NAT_MAPPING_NONE;
	/* One server alone cannot tell an independent mapping from a dependent one. */
	return answers > 1 ? NAT_MAPPING_INDEPENDENT : NAT_MAPPING_UNKNOWN;
}

size_t candidates_gather(const struct ip_endpoint *host, const struct ip_endpoint *mapped,
			 size_t n, struct candidate *out, struct ip_endpoint *distinct,
			 size_t *ndistinct, enum nat_mapping *mapping)
{
	size_t ncand = 0;

	*ndistinct = 0;
	for (size_t i = 0; i < n; i++)
		if (!endpoint_listed(distinct, *ndistinct, &mapped[i]))
			distinct[(*ndistinct)++] = mapped[i];
	*mapping = mapping_of(host, n, distinct, *ndistinct);
	if (host->port && !addr_unspecified(&host->addr)) {
		memset(&out[ncand], 0, sizeof out[ncand]);
		out[ncand].kind = CAND_HOST;
		out[ncand++].ep = *host;
	}
	for (size_t i = 0; i < *ndistinct && ncand < CAND_MAX; i++) {
		struct candidate c = {.kind = CAND_SRFLX, .ep = distinct[i]};

		if (!candidate_listed(out, ncand, &c) && c.ep.port &&
		    !addr_unspecified(&c.ep.addr))
			out[ncand++] = c;
	}
	return ncand;
}

char *candidate_format(const struct candidate *c, char *out, size_t outlen)
{
	char addr[IP_STRLEN];

	snprintf(out, outlen, "%s %s", cand_kind_name(c->kind),
		 ip_endpoint_format(&c->ep, addr, sizeof addr));
	return out;
}

char *candidates_format(const struct candidate *c, size_t n, char *out, size_t outlen)
{
	char one[CAND_STRLEN];
	size_t used = 0;

	snprintf(out, outlen, "%s", n ? "" : "none");
	for (size_t i = 0; i < n && used < outlen; i++) {
		snprintf(out + used, outlen - used, "%s%s", i ? ", " : "",
			 candidate_format(&c[i], one, sizeof one));
		used = strlen(out);
	}
	return out;
}
