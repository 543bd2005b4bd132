/* The client API's op room (docs/rooms.md): a logged-in user's room request is checked
 * with the shared codec (common/control/room_ops.c), then passed on to the principal, which
 * holds the rooms, with who asks (the logged-in user, name@lan) and from which host (the
 * address the client connects from: its address on this LAN, which the room's data path
 * will map). The principal's answer goes back as it came: its code is one of the registry
 * and its sentence says which rule refused. One room request at a time per connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "msg.h"
#include "room_ops.h"
#include "secondary.h"
#include "wire_errors.h"

struct room_wait {
	struct client_conn *conn;  /* NULL once the client has gone */
	json_int_t id;
	enum room_action action;
};

/* The principal's reply, as the client gets it. */
static json_t *client_reply(const struct room_wait *w, const json_t *reply, int err)
{
	const char *code, *message;
	char why[ROOM_WHY_LEN];
	json_t *ok;

	if (err)
		return msg_reply_error(w->id, WIRE(PRINCIPAL_UNREACHABLE),
				       "the directory cannot be reached: %s", insel_strerror(err));
	if (!msg_reply_is_ok(reply, &code, &message)) {
		enum wire_error e;

		/* A code this build does not know is passed on as the registry's "error". */
		return msg_reply_error(w->id, wire_error_lookup(code, &e) ? code : WIRE(ERROR),
				       "%s", message);
	}
	if (room_reply_check(reply, w->action, why))
		return msg_reply_error(w->id, WIRE(INTERNAL), "the directory's answer: %s", why);
	ok = msg_reply_ok(w->id);
	json_object_update_missing(ok, (json_t *)reply);
	return ok;
}

static void room_reply(void *ctx, const json_t *reply, int err)
{
	struct room_wait *w = ctx;
	struct client_conn *c = w->conn;

	if (c) {
		c->room_wait = NULL;
		client_send(c, client_reply(w, reply, err));
	}
	free(w);
}

void client_room_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct client_conn *c = ctx;
	char why[ROOM_WHY_LEN], user[ROOM_USER_MAX + 1];
	struct room_req r;
	struct room_wait *w;
	json_t *fwd;

	if (room_req_decode(req, false, &r, why)) {
		client_send(c, msg_reply_error(id, WIRE(BAD_REQUEST), "%s", why));
		return;
	}
	if (c->room_wait) {
		client_send(c, msg_reply_error(id, WIRE(BAD_REQUEST),
					       "a room request is already in progress"));
		return;
	}
	if (!(w = calloc(1, sizeof *w))) {
		client_send(c, msg_reply_error(id, WIRE(INTERNAL), "out of memory"));
		return;
	}
	w->conn = c;
	w->id = id;
	w->action = r.action;
	snprintf(user, sizeof user, "%s@%s", c->user, c->sec->cfg.lan);
	r.user = user;
	r.has_host = true;
	r.host = c->addr;
	fwd = room_req_encode(0, &r);
	if (principal_request(c->sec, fwd, room_reply, w)) {
		free(w);
		client_send(c, msg_reply_error(id, WIRE(PRINCIPAL_UNREACHABLE),
					       "the directory cannot be reached right now"));
		return;
	}
	c->room_wait = w;
	log_info("user %s: room %s %s", user, room_action_name(r.action), r.room ? r.room : "");
}

void client_room_gone(struct client_conn *c)
{
	if (c->room_wait)
		((struct room_wait *)c->room_wait)->conn = NULL;
	c->room_wait = NULL;
}
