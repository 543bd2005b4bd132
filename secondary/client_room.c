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

/* How this gateway reaches a member of a room (docs/rooms.md, "The data path"): on our
 * own LAN; through the room's leg to its site, up (direct or relayed, for how long) or
 * down (and when it was last up); or not from here (no member of ours in the room). */
static void add_reach(struct secondary *s, const char *room, json_t *m)
{
	const char *user = json_string_value(json_object_get(m, "user"));
	const char *lan = user ? strchr(user, '@') : NULL;
	struct room_leg *leg;
	uint64_t now = uv_now(s->loop);

	if (!lan)
		return;
	lan++;
	if (strcmp(lan, s->cfg.lan) == 0) {
		json_object_set_new(m, "reach", json_string("this site"));
		return;
	}
	leg = room_leg_find(s, room, lan);
	if (!leg) {
		json_object_set_new(m, "reach", json_string("not from here"));
		return;
	}
	if (leg->call && leg->up_since_ms) {
		json_object_set_new(m, "reach", json_string("up"));
		json_object_set_new(m, "path", json_string(leg->call->path_relayed ? "relayed"
										    : "direct"));
		json_object_set_new(m, "up_ms", json_integer((json_int_t)(now - leg->up_since_ms)));
		return;
	}
	json_object_set_new(m, "reach", json_string("down"));
	if (leg->last_up_ms)
		json_object_set_new(m, "last_up_ms_ago",
				    json_integer((json_int_t)(now - leg->last_up_ms)));
}

static void add_reachability(struct secondary *s, json_t *reply)
{
	json_t *room, *m;
	size_t i, k;

	json_array_foreach(json_object_get(reply, "rooms"), i, room) {
		const char *name = json_string_value(json_object_get(room, "name"));

		json_array_foreach(json_object_get(room, "members"), k, m)
			if (name && json_is_object(m))
				add_reach(s, name, m);
	}
}

/* The principal's reply, as the client gets it (a list with each member's reachability
 * from here). */
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
	if (w->action == ROOM_LIST && w->conn) {
		json_t *rooms = json_deep_copy(json_object_get(ok, "rooms"));

		json_object_set_new(ok, "rooms", rooms);
		add_reachability(w->conn->sec, ok);
	}
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
