/* The API's dispatch table and replies (see api.h). */
#include "api.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "msg.h"
#include "wire_errors.h"

#define ROLE(r) (1u << (r))
#define BY_SECONDARY ROLE(PKI_ROLE_SECONDARY)
/* An operator-role certificate: operators' and monitoring tools, read-only. */
#define BY_ANYONE (ROLE(PKI_ROLE_SECONDARY) | ROLE(PKI_ROLE_OPERATOR))

struct api_op {
	const char *name;
	void (*handle)(struct api_peer *p, json_int_t id, const json_t *msg);
	unsigned roles;       /* which certificate roles may send it */
	bool before_hello;    /* allowed as the first message */
};

static const struct api_op ops[] = {
	{"hello", hello_handle, BY_ANYONE, true},
	{"register", register_handle, BY_SECONDARY, false},
	{"heartbeat", heartbeat_handle, BY_SECONDARY, false},
	{"lookup", lookup_handle, BY_ANYONE, false},
	{"list", list_handle, BY_ANYONE, false},
	{"revocations", revocations_handle, BY_ANYONE, false},
	{"call_start", call_start_handle, BY_SECONDARY, false},
	{"call_end", call_end_handle, BY_SECONDARY, false},
	{"verify_user", verify_user_handle, BY_SECONDARY, false},
	{"renew", renew_handle, BY_SECONDARY, false},
};

static const struct api_op *find_op(const char *name)
{
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strcmp(ops[i].name, name) == 0)
			return &ops[i];
	return NULL;
}

void api_reply_ok(struct api_peer *p, json_int_t id, json_t *fields)
{
	json_t *reply;

	/* The handler's object becomes the reply (no copy of its fields on the look-up
	 * path); "id" and "ok" are the API's, so an object that has them is merged instead. */
	if (json_is_object(fields) && !json_object_get(fields, "id") &&
	    !json_object_get(fields, "ok") &&
	    json_object_set_new(fields, "id", json_integer(id)) == 0 &&
	    json_object_set_new(fields, "ok", json_true()) == 0) {
		p->send(p, fields);
		return;
	}
	reply = msg_reply_ok(id);
	if (fields) {
		json_object_update_missing(reply, fields);
		json_decref(fields);
	}
	p->send(p, reply);
}

void api_reply_error(struct api_peer *p, json_int_t id, int err, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	p->srv->errors++;
	log_debug("%s %s: request %lld: %s", pki_role_name(p->id.role), p->id.name,
		  (long long)id, text);
	p->send(p, msg_reply_error(id, wire_error_name(wire_error_of(err)), "%s", text));
}

void api_reply_db_error(struct api_peer *p, json_int_t id, int err)
{
	if (err == INSEL_E_DB)
		log_error("directory failure: %s", db_errmsg(p->srv->db));
	api_reply_error(p, id, err, "%s", db_errmsg(p->srv->db));
}

void api_reply_decode_error(struct api_peer *p, json_int_t id, int err, const char *why)
{
	api_reply_error(p, id, err, "%s", why);
}

static void unreadable_frame(struct api_peer *p, int err)
{
	api_reply_error(p, 0, err, "frame skipped: %s", insel_strerror(err));
	if (++p->bad_frames > API_MAX_BAD_FRAMES) {
		log_warn("%s %s: too many unreadable frames, closing", pki_role_name(p->id.role),
			 p->id.name);
		p->close(p, INSEL_E_PROTOCOL);
	}
}

void api_handle(struct api_peer *p, json_t *msg, int err)
{
	const struct api_op *op;
	const char *name;
	json_int_t id;

	p->srv->requests++;
	if (!msg) {
		unreadable_frame(p, err ? err : INSEL_E_MALFORMED);
		return;
	}
	id = msg_id(msg);
	if (id < 0) {
		unreadable_frame(p, INSEL_E_BAD_FIELD);
		return;
	}
	name = msg_op(msg);
	if (!name) {
		api_reply_error(p, id, INSEL_E_BAD_FIELD, "field 'op' is missing or not a string");
		return;
	}
	op = find_op(name);
	if (!op)
		api_reply_error(p, id, INSEL_E_UNKNOWN_OP, "unknown op '%.64s'", name);
	else if (!p->hello_done && !op->before_hello)
		api_reply_error(p, id, INSEL_E_PROTOCOL, "say hello first");
	else if (!(op->roles & ROLE(p->id.role)))
		api_reply_error(p, id, INSEL_E_FORBIDDEN, "a %s may not use '%s'",
				pki_role_name(p->id.role), op->name);
	else
		op->handle(p, id, msg);
}
