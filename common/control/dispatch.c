/* The one dispatcher of control requests (see dispatch.h): the look-up, the checks in their
 * order, and the refusals, each with its code from the wire error registry. */
#include "dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "msg_codec.h"
#include "rpc.h"

static void refuse(const struct dispatch_table *t, void *ctx, json_int_t id,
		   enum wire_error code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void refuse(const struct dispatch_table *t, void *ctx, json_int_t id,
		   enum wire_error code, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	t->refuse(ctx, id, code, text);
}

const struct dispatch_op *dispatch_find(const struct dispatch_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_ops; i++)
		if (strcmp(t->ops[i].name, name) == 0)
			return &t->ops[i];
	return NULL;
}

/* True if the caller may send op now; otherwise the refusal is sent. */
static bool allowed(const struct dispatch_table *t, const struct dispatch_caller *who,
		    void *ctx, json_int_t id, const struct dispatch_op *op)
{
	bool is_hello = strcmp(op->name, DISPATCH_HELLO) == 0;

	if (!who->hello_done && !is_hello) {
		refuse(t, ctx, id, WERR_PROTOCOL, "say hello first");
		return false;
	}
	if (!(op->roles & who->role)) {
		refuse(t, ctx, id, WERR_FORBIDDEN, "a %s may not use '%s'",
		       who->role_name ? who->role_name : "sender of this role", op->name);
		return false;
	}
	if (!(op->states & who->state)) {
		refuse(t, ctx, id, t->state_refusal, "'%s' is not allowed in state %s", op->name,
		       who->state_name ? who->state_name : "?");
		return false;
	}
	if (who->hello_done && is_hello) {
		refuse(t, ctx, id, WERR_PROTOCOL, "hello was already said");
		return false;
	}
	return true;
}

void dispatch_message(const struct dispatch_table *t, const struct dispatch_caller *who,
		      void *ctx, const json_t *msg, int err)
{
	const struct dispatch_op *op;
	const char *name;
	json_int_t id;

	if (!msg) {
		err = err ? err : INSEL_E_MALFORMED;
		t->refuse(ctx, -1, wire_error_of(err), insel_strerror(err));
		return;
	}
	if (who->rpc && rpc_take_reply(who->rpc, msg))
		return;
	id = msg_id(msg);
	if (id < 0 && !t->notices) {
		refuse(t, ctx, -1, WERR_BAD_FIELD, "field 'id' must be a non-negative integer");
		return;
	}
	name = msg_op(msg);
	if (!name) {
		refuse(t, ctx, id, WERR_BAD_FIELD, "field 'op' must be a string");
		return;
	}
	op = dispatch_find(t, name);
	if (!op) {
		refuse(t, ctx, id, WERR_UNKNOWN_OP, "unknown op '%.64s'", name);
		return;
	}
	if (allowed(t, who, ctx, id, op))
		op->handle(ctx, id, msg);
}
