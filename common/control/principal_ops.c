/* What the codecs of the principal's ops share (see principal_ops.h): sentences for
 * errors, bounded printable text, pages, nullable strings, prefixes, the timers and the
 * serving secondary that several replies carry. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "principal_ops_priv.h"

int pop_fail(char why[POP_WHY_LEN], int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, POP_WHY_LEN, fmt, ap);
	va_end(ap);
	return code;
}

int pop_field_fail(char why[POP_WHY_LEN])
{
	return pop_fail(why, INSEL_E_BAD_FIELD, "%s", msg_field_error());
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int pop_get_text(const json_t *msg, const char *key, bool required, const char **out,
		 char why[POP_WHY_LEN])
{
	int rc = required ? msg_get_str(msg, key, out) : msg_get_str_opt(msg, key, NULL, out);

	if (rc)
		return pop_field_fail(why);
	if (*out && (strlen(*out) > POP_TEXT_MAX || !printable(*out) || (required && !**out)))
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"field '%s' must be 1-%d printable characters", key, POP_TEXT_MAX);
	return 0;
}

int pop_get_nullable(const json_t *msg, const char *key, char *out, size_t outlen,
		     char why[POP_WHY_LEN])
{
	const char *text;

	if (msg_get_str_opt(msg, key, "", &text))
		return pop_field_fail(why);
	if (strlen(text) >= outlen)
		return pop_fail(why, INSEL_E_BAD_FIELD, "field '%s' is longer than %zu bytes", key,
				outlen - 1);
	memcpy(out, text, strlen(text) + 1);
	return 0;
}

json_t *pop_nullable(const char *text)
{
	return text && text[0] ? json_string(text) : json_null();
}

int pop_get_page(const json_t *msg, struct pop_page *out, char why[POP_WHY_LEN])
{
	json_int_t offset, limit;

	if (msg_get_int_opt(msg, "offset", 0, INT32_MAX, 0, &offset) ||
	    msg_get_int_opt(msg, "limit", 1, POP_LIST_MAX, POP_LIST_DEFAULT, &limit))
		return pop_field_fail(why);
	out->offset = offset;
	out->limit = limit;
	return 0;
}

void pop_put_page(json_t *req, const struct pop_page *page)
{
	if (!page || page->limit <= 0)
		return;
	json_object_set_new(req, "offset", json_integer(page->offset));
	json_object_set_new(req, "limit", json_integer(page->limit));
}

int pop_get_prefixes(const json_t *msg, const char *key, struct ip_prefix *out, size_t *n,
		     char why[POP_WHY_LEN])
{
	json_t *list;
	size_t bad;
	int err;

	if (msg_get_array(msg, key, POP_MAX_PREFIXES, &list))
		return pop_field_fail(why);
	err = prefix_list_from_json(list, POP_MAX_PREFIXES, true, out, n, &bad);
	if (!err)
		return 0;
	if (!json_is_string(json_array_get(list, bad)))
		return pop_fail(why, INSEL_E_BAD_FIELD, "%s[%zu] must be a string", key, bad);
	return pop_fail(why, err, "prefix '%.64s': %s", json_string_value(json_array_get(list, bad)),
			insel_strerror(err));
}

void pop_put_timers(json_t *obj, const struct pop_timers *t)
{
	json_object_set_new(obj, "heartbeat_ms", json_integer(t->heartbeat_ms));
	json_object_set_new(obj, "down_after_ms", json_integer(t->down_after_ms));
}

int pop_get_timers(const json_t *msg, struct pop_timers *out, char why[POP_WHY_LEN])
{
	json_int_t beat, down;

	if (msg_get_int(msg, "heartbeat_ms", 0, INT64_MAX, &beat) ||
	    msg_get_int(msg, "down_after_ms", 0, INT64_MAX, &down))
		return pop_field_fail(why);
	out->heartbeat_ms = beat;
	out->down_after_ms = down;
	return 0;
}

static json_t *reach_json(enum pop_reach r)
{
	return r == POP_REACH_UNKNOWN ? json_null() : json_boolean(r == POP_REACH_YES);
}

/* Absent (an older principal) or null: not known. */
static int get_reach(const json_t *msg, const char *field, enum pop_reach *out,
		     char why[POP_WHY_LEN])
{
	const json_t *v = json_object_get(msg, field);

	*out = POP_REACH_UNKNOWN;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field '%s' must be true, false or null",
				field);
	*out = json_is_true(v) ? POP_REACH_YES : POP_REACH_NO;
	return 0;
}

/* The order is the directory's: secondary, endpoint, fingerprint, state, last_heartbeat,
 * and previous_fingerprint only while the secondary switches certificates. */
void pop_put_serving(json_t *obj, const struct pop_serving *s)
{
	json_object_set_new(obj, "secondary", pop_nullable(s->secondary));
	json_object_set_new(obj, "endpoint", pop_nullable(s->endpoint));
	if (s->endpoint6[0])
		json_object_set_new(obj, "endpoint6", json_string(s->endpoint6));
	json_object_set_new(obj, "fingerprint", pop_nullable(s->fingerprint));
	json_object_set_new(obj, "state", pop_nullable(s->state));
	json_object_set_new(obj, "last_heartbeat", s->has_last_heartbeat
			    ? json_integer(s->last_heartbeat) : json_null());
	if (s->previous_fingerprint[0])
		json_object_set_new(obj, "previous_fingerprint",
				    json_string(s->previous_fingerprint));
	json_object_set_new(obj, "reachable", reach_json(s->reachable));
	if (s->endpoint6[0])
		json_object_set_new(obj, "reachable6", reach_json(s->reachable6));
}

int pop_get_serving(const json_t *msg, struct pop_serving *out, char why[POP_WHY_LEN])
{
	const json_t *beat = json_object_get(msg, "last_heartbeat");
	char previous[POP_TEXT_MAX + 1];
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = pop_get_nullable(msg, "secondary", out->secondary, sizeof out->secondary,
				   why)) ||
	    (rc = pop_get_nullable(msg, "endpoint", out->endpoint, sizeof out->endpoint, why)) ||
	    (rc = pop_get_nullable(msg, "endpoint6", out->endpoint6, sizeof out->endpoint6,
				   why)) ||
	    (rc = pop_get_nullable(msg, "fingerprint", out->fingerprint,
				   sizeof out->fingerprint, why)) ||
	    (rc = pop_get_nullable(msg, "state", out->state, sizeof out->state, why)) ||
	    (rc = pop_get_nullable(msg, "previous_fingerprint", previous, sizeof previous, why)))
		return rc;
	/* Only a fingerprint of the right length counts as the previous certificate. */
	if (strlen(previous) == PKI_FINGERPRINT_LEN)
		memcpy(out->previous_fingerprint, previous, PKI_FINGERPRINT_LEN + 1);
	if (beat && !json_is_null(beat)) {
		if (!json_is_integer(beat))
			return pop_fail(why, INSEL_E_BAD_FIELD,
					"field 'last_heartbeat' must be an integer");
		out->has_last_heartbeat = true;
		out->last_heartbeat = json_integer_value(beat);
	}
	if (get_reach(msg, "reachable", &out->reachable, why) ||
	    get_reach(msg, "reachable6", &out->reachable6, why))
		return INSEL_E_BAD_FIELD;
	if (!out->endpoint6[0])
		out->reachable6 = POP_REACH_UNKNOWN;  /* it says something of endpoint6 only */
	return 0;
}

bool pop_serving_names_certificate(const struct pop_serving *s, const char *fingerprint)
{
	return fingerprint && fingerprint[0] &&
	       (strcmp(s->fingerprint, fingerprint) == 0 ||
		strcmp(s->previous_fingerprint, fingerprint) == 0);
}

bool pop_serving_reachable(const struct pop_serving *s, struct ip_endpoint *out)
{
	return s->secondary[0] && s->fingerprint[0] && strcmp(s->state, "up") == 0 &&
	       ip_endpoint_parse(s->endpoint, out) == 0;
}

/* How worth dialling an endpoint is: known dialable, not checked yet, known not. */
static int reach_rank(enum pop_reach r)
{
	return r == POP_REACH_YES ? 2 : r == POP_REACH_UNKNOWN ? 1 : 0;
}

void pop_serving_choose_endpoint(const struct pop_serving *s, bool has_ipv4, bool has_ipv6,
				 struct ip_endpoint *ep)
{
	struct ip_endpoint v6;
	bool ours = (ep->addr.family == AF_INET && has_ipv4) ||
		    (ep->addr.family == AF_INET6 && has_ipv6);

	if (!has_ipv6 || ip_endpoint_parse(s->endpoint6, &v6) || v6.addr.family != AF_INET6 ||
	    !v6.port || ip_endpoint_equal(&v6, ep))
		return;
	/* A dual-stack secondary whose IPv4 port is behind a NAT may be open over IPv6. */
	if (!ours || reach_rank(s->reachable6) > reach_rank(s->reachable))
		*ep = v6;
}

bool pop_serving_reachable_from(const struct pop_serving *s, bool has_ipv4, bool has_ipv6,
				struct ip_endpoint *out)
{
	if (!pop_serving_reachable(s, out))
		return false;
	pop_serving_choose_endpoint(s, has_ipv4, has_ipv6, out);
	return true;
}

enum pop_reach pop_serving_reach_of(const struct pop_serving *s,
				    const struct ip_endpoint *chosen)
{
	struct ip_endpoint v4, v6;

	if (ip_endpoint_parse(s->endpoint6, &v6) == 0 && ip_endpoint_equal(&v6, chosen) &&
	    !(ip_endpoint_parse(s->endpoint, &v4) == 0 && ip_endpoint_equal(&v4, chosen)))
		return s->reachable6;
	return s->reachable;
}

int pop_get_unique_entries(const json_t *msg, const char *field, size_t max, void *items,
			   size_t size, size_t key_offset, const char *key_name,
			   pop_entry_decode decode, size_t *n, char why[POP_WHY_LEN])
{
	char *base = items;
	json_t *arr;
	size_t count;
	int rc;

	if (msg_get_array(msg, field, max, &arr))
		return pop_field_fail(why);
	count = json_array_size(arr);
	for (size_t i = 0; i < count; i++) {
		const char *key = base + i * size + key_offset;

		if ((rc = decode(json_array_get(arr, i), i, base + i * size, why)) != 0)
			return rc;
		for (size_t k = 0; k < i; k++)
			if (strcmp(base + k * size + key_offset, key) == 0)
				return pop_fail(why, INSEL_E_BAD_FIELD, "%s[%zu]: %s %s is listed "
						"twice", field, i, key_name, key);
	}
	*n = count;
	return 0;
}

int pop_get_count(const json_t *msg, const char *field, size_t max, int64_t *out,
		  char why[POP_WHY_LEN])
{
	json_int_t n;

	if (msg_get_int(msg, field, 0, (json_int_t)max, &n))
		return pop_field_fail(why);
	*out = n;
	return 0;
}
