/* The peer protocol's messages: one codec for both secondaries of a call (see
 * peer_codec.h). Each decoder reads every field through the validating getters of msg.h
 * and says in one sentence what it refused. */
#include "peer_codec.h"
#include "room_ops.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "hex.h"
#include "msg.h"
#include "pki.h"
#include "rand.h"
#include "rekey.h"
#include "wire_errors.h"

#define REASON_WORD_MAX 24

static int refuse(const char **why, const char *sentence)
{
	*why = sentence;
	return INSEL_E_BAD_FIELD;
}

/* A field the validating getters refused: their sentence names it. */
static int refuse_field(const char **why)
{
	return refuse(why, msg_field_error());
}

static void set_id(json_t *msg, const char *key, uint64_t id)
{
	char text[ID_STRLEN];

	json_object_set_new(msg, key, json_string(id_format(id, text)));
}

static void set_addr(json_t *obj, const char *key, const struct ip_addr *a)
{
	char text[IP_STRLEN];

	json_object_set_new(obj, key, json_string(ip_addr_format(a, text, sizeof text)));
}

/* A message about one call: "call" follows "op" (and "id"). */
static json_t *naming_call(json_t *msg, uint64_t id)
{
	if (msg)
		set_id(msg, "call", id);
	return msg;
}

uint64_t peer_call_of(const json_t *msg)
{
	const char *text = json_string_value(json_object_get(msg, "call"));
	uint64_t id;

	return text && id_parse(text, &id) == 0 ? id : 0;
}

/* The "call" string every message after hello carries; *id is 0 if it is not an id. */
static int get_call(const json_t *msg, uint64_t *id)
{
	const char *text;
	int rc = msg_get_str(msg, "call", &text);

	*id = rc == 0 ? peer_call_of(msg) : 0;
	return rc;
}

/* An optional LAN address of one family: left out when absent or not such an address. */
static bool get_gateway(const json_t *tun, const char *key, int family, struct ip_addr *out)
{
	const char *text = json_string_value(json_object_get(tun, key));

	return text && ip_addr_parse(text, out) == 0 && out->family == family;
}

/* ---- call_request ---- */

static json_t *tun_request_encode(const struct peer_call_request *r)
{
	json_t *tun = json_pack("{s:o, s:o}",
				"caller", prefix_list_to_json(r->tun_caller, r->ntun_caller),
				"callee", prefix_list_to_json(r->tun_callee, r->ntun_callee));

	if (tun && r->has_caller_gateway)
		set_addr(tun, "caller_gateway", &r->caller_gateway);
	if (tun && r->has_caller_gateway6)
		set_addr(tun, "caller_gateway6", &r->caller_gateway6);
	return tun;
}

json_t *peer_call_request_encode(const struct peer_call_request *r)
{
	json_t *req = msg_request("call_request", 0);

	if (!req)
		return NULL;
	if (r->channels.tun)
		json_object_set_new(req, "tun", tun_request_encode(r));
	if (r->trunk)
		json_object_set_new(req, "trunk", json_true());
	if (r->room[0])
		json_object_set_new(req, "room", json_string(r->room));
	set_id(req, "call", r->call_id);
	json_object_set_new(req, "caller", json_string(r->caller));
	json_object_set_new(req, "callee", json_string(r->callee));
	if (r->callee_user[0])
		json_object_set_new(req, "callee_user", json_string(r->callee_user));
	if (r->has_callee_addr)
		set_addr(req, "callee_address", &r->callee_addr);
	json_object_set_new(req, "channels", call_channels_encode(&r->channels));
	json_object_set_new(req, "offer", json_incref(r->offer));
	return req;
}

/* A caller is user@lan, or for a trunk a LAN's name. */
static bool parties_valid(const struct peer_call_request *r, const char *caller,
			  const char *callee, const char *user)
{
	return strlen(caller) < PEER_PARTY_MAX && strlen(callee) < PEER_PARTY_MAX &&
	       strlen(user) < PEER_PARTY_MAX &&
	       (r->trunk ? pki_name_valid(caller) : strchr(caller, '@') != NULL);
}

/* The request's strings, channels and offer. */
static int request_fields(const json_t *msg, struct peer_call_request *r, const char **why)
{
	const char *caller, *callee, *user, *address;
	json_t *channels, *offer;

	if (msg_get_str(msg, "caller", &caller) || msg_get_str(msg, "callee", &callee) ||
	    msg_get_str_opt(msg, "callee_user", "", &user) ||
	    msg_get_str_opt(msg, "callee_address", NULL, &address) ||
	    msg_get_array(msg, "channels", SEC_MAX_CHANNELS, &channels) ||
	    msg_get_object(msg, "offer", &offer))
		return refuse_field(why);
	if (!parties_valid(r, caller, callee, user))
		return refuse(why, "caller or callee malformed");
	if (address) {
		if (ip_addr_parse(address, &r->callee_addr))
			return refuse(why, "callee_address is not an address");
		r->has_callee_addr = true;
	}
	snprintf(r->caller, sizeof r->caller, "%s", caller);
	snprintf(r->callee, sizeof r->callee, "%s", callee);
	snprintf(r->callee_user, sizeof r->callee_user, "%s", user);
	r->offer = offer;
	return call_channels_decode(channels, &r->channels, why);
}

/* The "tun" object of a network call, from the callee's point of view. */
static int tun_request_decode(const json_t *msg, struct peer_call_request *r,
			      const char **why)
{
	const json_t *tun = json_object_get(msg, "tun");

	if (call_prefixes_decode(json_object_get(tun, "caller"), r->tun_caller,
				 PEER_MAX_PREFIXES, &r->ntun_caller) ||
	    call_prefixes_decode(json_object_get(tun, "callee"), r->tun_callee,
				 PEER_MAX_PREFIXES, &r->ntun_callee))
		return refuse(why, "a tun channel needs 'tun' with caller and callee prefixes");
	r->has_caller_gateway = get_gateway(tun, "caller_gateway", AF_INET, &r->caller_gateway);
	r->has_caller_gateway6 = get_gateway(tun, "caller_gateway6", AF_INET6,
					     &r->caller_gateway6);
	return 0;
}

int peer_call_request_decode(const json_t *msg, struct peer_call_request *out,
			     const char **why)
{
	struct peer_call_request r;
	int rc;

	memset(&r, 0, sizeof r);
	if (get_call(msg, &out->call_id) || out->call_id == 0)
		return refuse(why, "bad call id");
	r.call_id = out->call_id;
	r.trunk = json_is_true(json_object_get(msg, "trunk"));
	if ((rc = request_fields(msg, &r, why)) != 0)
		return rc;
	if (r.trunk && !r.channels.tun)
		return refuse(why, "a trunk is a network call: one tun channel");
	if (json_object_get(msg, "room")) {
		const char *room = json_string_value(json_object_get(msg, "room"));

		if (!r.trunk || !room || !room_name_valid(room))
			return refuse(why, "a room's leg is a trunk named by a valid room name");
		snprintf(r.room, sizeof r.room, "%s", room);
	}
	if (r.channels.tun && (rc = tun_request_decode(msg, &r, why)) != 0)
		return rc;
	*out = r;
	return 0;
}

/* ---- its answer ---- */

json_t *peer_call_answer_encode(json_int_t id, const struct peer_call_answer *a)
{
	json_t *reply = msg_reply_ok(id), *tun;

	if (!reply)
		return NULL;
	json_object_set_new(reply, "answer", json_incref(a->answer));
	if (!a->tun)
		return reply;
	tun = json_object();
	if (a->has_callee_gateway)
		set_addr(tun, "callee_gateway", &a->callee_gateway);
	if (a->has_callee_gateway6)
		set_addr(tun, "callee_gateway6", &a->callee_gateway6);
	json_object_set_new(reply, "tun", tun);
	return reply;
}

int peer_call_answer_decode(const json_t *msg, struct peer_call_answer *out,
			    const char **why)
{
	struct peer_call_answer a;
	const json_t *tun = json_object_get(msg, "tun");
	json_t *answer;

	memset(&a, 0, sizeof a);
	if (msg_get_object(msg, "answer", &answer))
		return refuse_field(why);
	if (tun && !json_is_object(tun))
		return refuse(why, "field 'tun' must be an object");
	a.answer = answer;
	a.tun = tun != NULL;
	a.has_callee_gateway = get_gateway(tun, "callee_gateway", AF_INET, &a.callee_gateway);
	a.has_callee_gateway6 = get_gateway(tun, "callee_gateway6", AF_INET6,
					    &a.callee_gateway6);
	*out = a;
	return 0;
}

/* ---- hangup ---- */

json_t *peer_hangup_encode(const struct peer_hangup *h)
{
	json_t *notice = naming_call(json_pack("{s:s}", "op", "hangup"), h->call_id);

	if (notice)
		json_object_set_new(notice, "reason", json_string(h->reason));
	return notice;
}

/* A reason from the peer is untrusted text: kept only if it is one short word. */
static bool reason_is_word(const char *reason)
{
	size_t n = strlen(reason);

	return n > 0 && n <= REASON_WORD_MAX &&
	       strspn(reason, "abcdefghijklmnopqrstuvwxyz_") == n;
}

int peer_hangup_decode(const json_t *msg, struct peer_hangup *out, const char **why)
{
	const char *reason;
	uint64_t id;

	if (get_call(msg, &id) || msg_get_str_opt(msg, "reason", WIRE(HANGUP), &reason))
		return refuse_field(why);
	out->call_id = id;
	snprintf(out->reason, sizeof out->reason, "%s",
		 reason_is_word(reason) ? reason : WIRE(PEER_ENDED));
	return 0;
}

/* ---- rekey, its answer, rekey_done ---- */

json_t *peer_rekey_encode(const struct peer_rekey *r)
{
	char hex[2 * PEER_PUBLIC_LEN + 1];
	json_t *req = naming_call(msg_request("rekey", 0), r->call_id);

	if (!req)
		return NULL;
	hex_encode(r->public, sizeof r->public, hex);
	json_object_set_new(req, "epoch", json_integer((json_int_t)r->epoch));
	json_object_set_new(req, "public", json_string(hex));
	return req;
}

int peer_rekey_decode(const json_t *msg, struct peer_rekey *out, const char **why)
{
	struct peer_rekey r;

	if (get_call(msg, &r.call_id) || rekey_public_from_json(msg, &r.epoch, r.public))
		return refuse_field(why);
	*out = r;
	return 0;
}

json_t *peer_rekey_answer_encode(json_int_t id, const uint8_t public[PEER_PUBLIC_LEN])
{
	char hex[2 * PEER_PUBLIC_LEN + 1];
	json_t *reply = msg_reply_ok(id);

	if (!reply)
		return NULL;
	hex_encode(public, PEER_PUBLIC_LEN, hex);
	json_object_set_new(reply, "public", json_string(hex));
	return reply;
}

int peer_rekey_answer_decode(const json_t *msg, uint8_t public[PEER_PUBLIC_LEN],
			     const char **why)
{
	uint8_t pub[PEER_PUBLIC_LEN];

	if (rekey_public_from_json(msg, NULL, pub))
		return refuse_field(why);
	memcpy(public, pub, sizeof pub);
	return 0;
}

json_t *peer_rekey_done_encode(const struct peer_rekey_done *d)
{
	json_t *notice = naming_call(json_pack("{s:s}", "op", "rekey_done"), d->call_id);

	if (notice)
		json_object_set_new(notice, "epoch", json_integer((json_int_t)d->epoch));
	return notice;
}

int peer_rekey_done_decode(const json_t *msg, struct peer_rekey_done *out,
			   const char **why)
{
	struct peer_rekey_done d;
	json_int_t epoch;

	if (get_call(msg, &d.call_id) || msg_get_int(msg, "epoch", 1, UINT32_MAX, &epoch))
		return refuse_field(why);
	d.epoch = (uint32_t)epoch;
	*out = d;
	return 0;
}
