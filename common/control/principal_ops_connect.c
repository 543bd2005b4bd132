/* Codecs of signalling across NAT (see principal_ops.h, docs/nat.md): the caller's
 * secondary asks the principal to connect it to a callee it cannot dial ("connect"), and
 * the principal tells the callee's secondary to dial back or dial the splice
 * ("dial_back" notice). The token in both is what the preamble (preamble.h) carries. */
#include <string.h>

#include "err.h"
#include "hex.h"
#include "msg.h"
#include "preamble.h"
#include "principal_ops_priv.h"
#include "rand.h"

_Static_assert(POP_TOKEN_LEN == PREAMBLE_TOKEN_LEN, "the token the preamble carries");

static const char *const signalling_names[] = {NULL, "direct", "reversed", "spliced"};

const char *pop_signalling_name(enum pop_signalling s)
{
	return s >= POP_SIG_DIRECT && s <= POP_SIG_SPLICED ? signalling_names[s] : "unknown";
}

int pop_signalling_parse(const char *name, enum pop_signalling *out)
{
	for (int s = POP_SIG_DIRECT; name && s <= POP_SIG_SPLICED; s++)
		if (strcmp(name, signalling_names[s]) == 0) {
			*out = (enum pop_signalling)s;
			return 0;
		}
	return INSEL_E_BAD_FIELD;
}

static void put_call(json_t *msg, uint64_t id)
{
	char text[ID_STRLEN];

	json_object_set_new(msg, "call", json_string(id_format(id, text)));
}

static int get_call(const json_t *msg, uint64_t *out, char why[POP_WHY_LEN])
{
	const char *text;

	if (msg_get_str(msg, "call", &text))
		return pop_field_fail(why);
	if (strlen(text) != ID_STRLEN - 1 || id_parse(text, out) || *out == 0)
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'call' must be 16 hex digits");
	return 0;
}

static void put_token(json_t *msg, const uint8_t token[POP_TOKEN_LEN])
{
	char text[2 * POP_TOKEN_LEN + 1];

	hex_encode(token, POP_TOKEN_LEN, text);
	json_object_set_new(msg, "token", json_string(text));
}

static int get_token(const json_t *msg, uint8_t out[POP_TOKEN_LEN], char why[POP_WHY_LEN])
{
	const char *text;

	if (msg_get_str(msg, "token", &text))
		return pop_field_fail(why);
	if (strlen(text) != 2 * POP_TOKEN_LEN ||
	    hex_decode(text, 2 * POP_TOKEN_LEN, out, POP_TOKEN_LEN))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'token' must be 32 hex digits");
	return 0;
}

static void put_endpoint(json_t *msg, const char *key, const struct ip_endpoint *ep)
{
	char text[IP_STRLEN];

	json_object_set_new(msg, key, json_string(ip_endpoint_format(ep, text, sizeof text)));
}

static int get_endpoint(const json_t *msg, const char *key, struct ip_endpoint *out,
			char why[POP_WHY_LEN])
{
	const char *text;

	if (msg_get_str(msg, key, &text))
		return pop_field_fail(why);
	if (ip_endpoint_parse(text, out) || out->port == 0)
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"field '%s' must be ADDRESS:PORT or [ADDRESS6]:PORT", key);
	return 0;
}

/* reversed or spliced: a connection is never asked for or announced as direct. */
static int get_mode(const json_t *msg, enum pop_signalling *out, char why[POP_WHY_LEN])
{
	const char *text;

	if (msg_get_str(msg, "mode", &text))
		return pop_field_fail(why);
	if (pop_signalling_parse(text, out) || *out == POP_SIG_DIRECT)
		return pop_fail(why, INSEL_E_BAD_FIELD,
				"field 'mode' must be \"reversed\" or \"spliced\"");
	return 0;
}

/* ---- connect ---- */

json_t *pop_connect_req_encode(json_int_t id, const struct pop_connect_req *r)
{
	json_t *req = msg_request("connect", id);

	put_call(req, r->call_id);
	json_object_set_new(req, "callee_lan", json_string(r->callee_lan));
	if (r->splice)
		json_object_set_new(req, "splice", json_true());
	put_token(req, r->token);
	return req;
}

int pop_connect_req_decode(const json_t *msg, struct pop_connect_req *out,
			   char why[POP_WHY_LEN])
{
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = get_call(msg, &out->call_id, why)) ||
	    (rc = pop_get_text(msg, "callee_lan", true, &out->callee_lan, why)) ||
	    (rc = get_token(msg, out->token, why)))
		return rc;
	if (msg_get_bool_opt(msg, "splice", false, &out->splice))
		return pop_field_fail(why);
	return 0;
}

json_t *pop_connect_reply_encode(const struct pop_connect_reply *r)
{
	json_t *j = json_object();

	json_object_set_new(j, "mode", json_string(pop_signalling_name(r->mode)));
	if (r->mode == POP_SIG_SPLICED)
		put_endpoint(j, "splice", &r->splice);
	if (r->mode == POP_SIG_REVERSED && r->has_to)
		put_endpoint(j, "to", &r->to);
	return j;
}

int pop_connect_reply_decode(const json_t *msg, struct pop_connect_reply *out,
			     char why[POP_WHY_LEN])
{
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = get_mode(msg, &out->mode, why)))
		return rc;
	if (out->mode == POP_SIG_SPLICED)
		return get_endpoint(msg, "splice", &out->splice, why);
	/* "to" is a newer principal's word on where the callee dials back. */
	if (json_object_get(msg, "to")) {
		if ((rc = get_endpoint(msg, "to", &out->to, why)))
			return rc;
		out->has_to = true;
	}
	return 0;
}

/* ---- dial_back ---- */

json_t *pop_dial_back_notice_encode(const struct pop_dial_back *n)
{
	json_t *j = json_pack("{s:s}", "op", "dial_back");

	put_call(j, n->call_id);
	json_object_set_new(j, "caller", json_string(n->caller));
	json_object_set_new(j, "mode", json_string(pop_signalling_name(n->mode)));
	put_endpoint(j, "to", &n->to);
	put_token(j, n->token);
	return j;
}

int pop_dial_back_notice_decode(const json_t *msg, struct pop_dial_back *out,
				char why[POP_WHY_LEN])
{
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = get_call(msg, &out->call_id, why)) ||
	    (rc = pop_get_text(msg, "caller", true, &out->caller, why)) ||
	    (rc = get_mode(msg, &out->mode, why)) ||
	    (rc = get_endpoint(msg, "to", &out->to, why)) ||
	    (rc = get_token(msg, out->token, why)))
		return rc;
	if (!pki_name_valid(out->caller))
		return pop_fail(why, INSEL_E_BAD_FIELD, "field 'caller' is not a secondary's name");
	return 0;
}
