/* Codecs of the ops that vouch for someone (see principal_ops.h): verify_user (a LAN
 * user's password, checked by the principal that holds the hashes) and renew (a
 * secondary's request for a certificate for its new key). */
#include <string.h>

#include "err.h"
#include "msg.h"
#include "principal_ops_priv.h"

/* ---- verify_user ---- */

json_t *pop_verify_user_req_encode(json_int_t id, const struct pop_verify_user_req *r)
{
	json_t *req = msg_request("verify_user", id);
	char text[IP_STRLEN];

	json_object_set_new(req, "user", json_string(r->user));
	json_object_set_new(req, "password", json_string(r->password));
	if (r->has_source)
		json_object_set_new(req, "source", json_string(ip_addr_format(&r->source, text,
									      sizeof text)));
	return req;
}

/* "name@lan" into its halves, each a valid name. */
static int split_user(const char *user, struct pop_verify_user_req *out)
{
	const char *at = strchr(user, '@');
	size_t n = at ? (size_t)(at - user) : 0;

	if (!at || n == 0 || n > PKI_NAME_MAX || strlen(at + 1) > PKI_NAME_MAX)
		return INSEL_E_BAD_FIELD;
	memcpy(out->name, user, n);
	out->name[n] = '\0';
	memcpy(out->lan, at + 1, strlen(at + 1) + 1);
	return pki_name_valid(out->name) && pki_name_valid(out->lan) ? 0 : INSEL_E_BAD_FIELD;
}

/* Older secondaries send no source: then has_source is false. */
static int get_source(const json_t *msg, struct pop_verify_user_req *out,
		      char why[POP_WHY_LEN])
{
	const char *text;

	if (msg_get_str_opt(msg, "source", "", &text))
		return pop_field_fail(why);
	if (!text[0])
		return 0;
	if (ip_addr_parse(text, &out->source))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'source' must be an IP address");
	out->has_source = true;
	return 0;
}

int pop_verify_user_req_decode(const json_t *msg, struct pop_verify_user_req *out,
			       char why[POP_WHY_LEN])
{
	memset(out, 0, sizeof *out);
	if (msg_get_str(msg, "user", &out->user) || msg_get_str(msg, "password", &out->password))
		return pop_field_fail(why);
	if (split_user(out->user, out))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'user' must be NAME@LAN");
	if (strlen(out->password) > POP_PASSWORD_MAX)
		return pop_fail(why, INSEL_E_BAD_FIELD, "password longer than %d bytes",
				POP_PASSWORD_MAX);
	return get_source(msg, out, why);
}

json_t *pop_verify_user_reply_encode(const struct pop_verify_user_reply *r)
{
	return json_pack("{s:s, s:s}", "user", r->user, "lan", r->lan);
}

int pop_verify_user_reply_decode(const json_t *msg, struct pop_verify_user_reply *out,
				 char why[POP_WHY_LEN])
{
	if (msg_get_str(msg, "user", &out->user) || msg_get_str(msg, "lan", &out->lan))
		return pop_field_fail(why);
	return 0;
}

/* ---- renew ---- */

json_t *pop_renew_req_encode(json_int_t id, const struct pop_renew_req *r)
{
	json_t *req = msg_request("renew", id);

	json_object_set_new(req, "csr", json_stringn(r->csr, r->csr_len));
	return req;
}

int pop_renew_req_decode(const json_t *msg, struct pop_renew_req *out, char why[POP_WHY_LEN])
{
	const json_t *v = json_object_get(msg, "csr");

	if (!json_is_string(v))
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"field 'csr' must be a PEM certificate request");
	out->csr = json_string_value(v);
	out->csr_len = json_string_length(v);
	return 0;
}

json_t *pop_renew_reply_encode(const struct pop_renew_reply *r)
{
	json_t *j = json_pack("{s:I, s:s}", "request", (json_int_t)r->request, "state",
			      r->state == POP_RENEW_ISSUED ? "issued" : "pending");

	if (j && r->state == POP_RENEW_ISSUED) {
		json_object_set_new(j, "certificate", r->certificate ? json_string(r->certificate)
				    : json_null());
		json_object_set_new(j, "fingerprint", pop_nullable(r->fingerprint));
		json_object_set_new(j, "serial", pop_nullable(r->serial));
		json_object_set_new(j, "not_after", json_integer(r->not_after));
	}
	return j;
}

/* An issued certificate comes with its text; what it is (name, role, key, expiry) is the
 * secondary's to check when it reads it. */
int pop_renew_reply_decode(const json_t *msg, struct pop_renew_reply *out,
			   char why[POP_WHY_LEN])
{
	const char *state;
	json_int_t request, not_after;

	memset(out, 0, sizeof *out);
	if (msg_get_str(msg, "state", &state) ||
	    msg_get_int_opt(msg, "request", 0, INT64_MAX, 0, &request))
		return pop_field_fail(why);
	out->request = request;
	if (strcmp(state, "pending") == 0) {
		out->state = POP_RENEW_PENDING;
		return 0;
	}
	if (strcmp(state, "issued") != 0)
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"field 'state' must be \"issued\" or \"pending\"");
	out->state = POP_RENEW_ISSUED;
	if (msg_get_str(msg, "certificate", &out->certificate) ||
	    msg_get_str_opt(msg, "fingerprint", NULL, &out->fingerprint) ||
	    msg_get_str_opt(msg, "serial", NULL, &out->serial) ||
	    msg_get_int_opt(msg, "not_after", INT64_MIN, INT64_MAX, 0, &not_after))
		return pop_field_fail(why);
	out->not_after = not_after;
	return 0;
}
