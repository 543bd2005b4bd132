/* The API's dispatch table and replies (see api.h). */
#include "api.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dispatch.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "wire_errors.h"

#define BY_SECONDARY DISPATCH_ROLE(PKI_ROLE_SECONDARY)
/* An operator-role certificate: operators' and monitoring tools, read-only. */
#define BY_ANYONE (BY_SECONDARY | DISPATCH_ROLE(PKI_ROLE_OPERATOR))
#define API_SESSION 1u  /* the API's one state: a session has no other */

static const struct dispatch_op ops[] = {
	{"hello", hello_handle, BY_ANYONE, DISPATCH_ANY_STATE},
	{"register", register_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"heartbeat", heartbeat_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"lookup", lookup_handle, BY_ANYONE, DISPATCH_ANY_STATE},
	{"list", list_handle, BY_ANYONE, DISPATCH_ANY_STATE},
	{"revocations", revocations_handle, BY_ANYONE, DISPATCH_ANY_STATE},
	{"call_start", call_start_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"call_end", call_end_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"call_event", call_event_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"verify_user", verify_user_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"renew", renew_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"relay", relay_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"relay_expired", relay_expired_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"connect", connect_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"room", room_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"links", links_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
	{"call_rates", call_rates_handle, BY_SECONDARY, DISPATCH_ANY_STATE},
};

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

static double monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reply_code(struct api_peer *p, json_int_t id, enum wire_error code,
		       const char *text)
{
	p->srv->errors++;
	if ((unsigned)code < WERR_COUNT)
		p->srv->errors_by_code[code]++;
	log_debug("%s %s: request %lld: %s", pki_role_name(p->id.role), p->id.name,
		  (long long)id, text);
	p->send(p, msg_reply_error(id, wire_error_name(code), "%s", text));
}

void api_reply_error(struct api_peer *p, json_int_t id, int err, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	reply_code(p, id, wire_error_of(err), text);
}

void api_reply_wire(struct api_peer *p, json_int_t id, enum wire_error code,
		    const char *fmt, ...)
{
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	reply_code(p, id, code, text);
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

/* The dispatcher's refusals. A message without a usable id is an unreadable frame: it is
 * answered with id 0, and a peer sending too many of them is cut off. */
static void refuse(void *ctx, json_int_t id, enum wire_error code, const char *message)
{
	struct api_peer *p = ctx;
	char text[400];

	if (id >= 0) {
		reply_code(p, id, code, message);
		return;
	}
	snprintf(text, sizeof text, "frame skipped: %s", message);
	reply_code(p, 0, code, text);
	if (++p->bad_frames > API_MAX_BAD_FRAMES) {
		log_warn("%s %s: too many unreadable frames, closing", pki_role_name(p->id.role),
			 p->id.name);
		p->close(p, INSEL_E_PROTOCOL);
	}
}

static const struct dispatch_table api_table = {
	.ops = ops,
	.n_ops = sizeof ops / sizeof ops[0],
	.state_refusal = WERR_BAD_STATE,
	.refuse = refuse,
};

void api_handle(struct api_peer *p, json_t *msg, int err)
{
	struct dispatch_caller who = {
		.role = DISPATCH_ROLE(p->id.role),
		.role_name = pki_role_name(p->id.role),
		.state = API_SESSION,
		.state_name = "open",
		.hello_done = p->hello_done,
	};

	struct api_server *s = p->srv;
	double started = monotonic_seconds();

	s->requests++;
	dispatch_message(&api_table, &who, p, msg, err);
	/* p may be gone now (a peer cut off); s lives as long as the daemon. */
	prom_histogram_observe(&s->request_seconds, monotonic_seconds() - started);
}

void api_event(struct api_server *s, const char *kind, json_t *fields)
{
	if (s->event)
		s->event(s, kind, fields);
	else
		json_decref(fields);
}

void api_metrics_init(struct api_server *s)
{
	prom_histogram_init(&s->request_seconds, prom_fast_seconds,
			    sizeof prom_fast_seconds / sizeof prom_fast_seconds[0]);
	prom_histogram_init(&s->lookup_seconds, prom_fast_seconds,
			    sizeof prom_fast_seconds / sizeof prom_fast_seconds[0]);
}
