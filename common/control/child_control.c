/* The control socket of a child process to its parent (see child_control.h): the dispatch
 * of its requests, its replies and refusals, the hello both children answer the same way,
 * and the orderly close, in one place for insel-auxiliary and insel-relay. */
#include "child_control.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "msg.h"
#include "wire_errors.h"

void child_control_send(struct child_control *c, json_t *msg)
{
	if (!msg) {
		log_error("out of memory building a reply");
		return;
	}
	if (c->stream)
		msg_stream_send(c->stream, msg);
	json_decref(msg);
}

static void refuse_text(struct child_control *c, json_int_t id, const char *code,
			const char *text)
{
	json_t *msg;

	if (c->p->log_codes)
		log_warn("request %lld refused: %s: %s", (long long)id, code, text);
	else
		log_warn("request %lld refused: %s", (long long)id, text);
	msg = msg_reply_error(id < 0 ? 0 : id, code, "%s", text);
	/* A message we could not identify is answered with "id":null. */
	if (msg && id < 0)
		json_object_set_new(msg, "id", json_null());
	child_control_send(c, msg);
}

void child_control_vrefuse(struct child_control *c, json_int_t id, int err, const char *code,
			   const char *fmt, va_list ap)
{
	char text[512];

	vsnprintf(text, sizeof text, fmt, ap);
	refuse_text(c, id, code ? code : wire_error_name(wire_error_of(err)), text);
}

void child_control_refuse(struct child_control *c, json_int_t id, int err, const char *code,
			  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	child_control_vrefuse(c, id, err, code, fmt, ap);
	va_end(ap);
}

void child_control_hello(struct child_control *c, json_int_t id, const json_t *msg)
{
	json_int_t version;
	const char *role;
	json_t *ok;

	if (msg_get_int(msg, "version", 1, INT32_MAX, &version) != 0) {
		child_control_refuse(c, id, INSEL_E_BAD_FIELD, NULL, "%s", msg_field_error());
		return;
	}
	if (version != MSG_PROTOCOL_VERSION) {
		child_control_refuse(c, id, INSEL_E_VERSION, NULL, "version %lld not supported",
				     (long long)version);
		return;
	}
	if (msg_get_str(msg, "role", &role) != 0 || strcmp(role, c->p->parent_role) != 0) {
		child_control_refuse(c, id, INSEL_E_FORBIDDEN, NULL, "only the %s that started "
				     "this process may drive it", c->p->parent_role);
		return;
	}
	c->hello_done = true;
	ok = msg_reply_ok(id);
	if (ok && (json_object_set_new(ok, "version", json_integer(MSG_PROTOCOL_VERSION)) ||
		   json_object_set_new(ok, "role", json_string(c->p->own_role)) ||
		   (c->p->greeted && c->p->greeted(c->owner, ok) != 0))) {
		json_decref(ok);
		ok = NULL;
	}
	child_control_send(c, ok);
}

/* ---- dispatch ---- */

static void on_msg(struct msg_stream *s, json_t *msg, int err)
{
	struct child_control *c = s->data;
	struct dispatch_caller parent = {
		.role = CHILD_CONTROL_PARENT,
		.role_name = c->p->parent_role,
		.state = c->p->state(c->owner),
		.state_name = c->p->state_name(c->owner),
		.hello_done = c->hello_done,
	};

	if (c->p->ending(c->owner))
		return;
	dispatch_message(&c->table, &parent, c->owner, msg, err);
}

static void linger_closed(uv_handle_t *h)
{
	(void)h;
}

static void close_linger_timer(struct child_control *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->linger_timer))
		uv_close((uv_handle_t *)&c->linger_timer, linger_closed);
}

static void on_close(struct msg_stream *s)
{
	struct child_control *c = s->data;
	int reason = s->close_reason;

	c->stream = NULL;
	close_linger_timer(c);
	if (!c->p->ending(c->owner))
		c->p->closed(c->owner, reason);
}

int child_control_init(struct child_control *c, uv_loop_t *loop,
		       const struct child_control_params *p, void *owner)
{
	memset(c, 0, sizeof *c);
	c->p = p;
	c->owner = owner;
	c->loop = loop;
	c->table = (struct dispatch_table){
		.ops = p->ops,
		.n_ops = p->n_ops,
		.state_refusal = WERR_BAD_STATE,
		.refuse = p->refuse,
	};
	c->linger_timer.data = c;
	return uv_timer_init(loop, &c->linger_timer);
}

int child_control_start(struct child_control *c, int fd)
{
	c->stream = msg_stream_open_fd(c->loop, fd, MSG_MAX_DEFAULT);
	if (!c->stream)
		return -ENOMEM;
	c->stream->data = c;
	return msg_stream_start(c->stream, on_msg, on_close);
}

/* ---- the orderly close ---- */

static void on_flushed(uv_shutdown_t *req, int status)
{
	struct child_control *c = req->data;

	(void)status;
	if (c->stream)
		msg_stream_close(c->stream, 0);
}

static void on_linger_expired(uv_timer_t *t)
{
	struct child_control *c = t->data;

	log_warn("the %s did not read the last control messages in time", c->p->parent_role);
	if (c->stream)
		msg_stream_close(c->stream, INSEL_E_TIMEOUT);
}

void child_control_finish(struct child_control *c)
{
	if (!c->stream || c->stream->closing) {
		close_linger_timer(c);
		return;
	}
	/* Stop reading so that nothing else is dispatched; shut down the write side once
	 * the queued messages are written, so that the parent reads them before EOF. */
	uv_read_stop(&c->stream->h.stream);
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, &c->stream->h.stream, on_flushed) != 0) {
		msg_stream_close(c->stream, 0);
		return;
	}
	uv_timer_start(&c->linger_timer, on_linger_expired, c->p->linger_ms, 0);
}
