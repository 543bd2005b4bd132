/* The client API's op room (docs/rooms.md): a logged-in user's room request is checked
 * with the shared codec (common/control/room_ops.c), then passed on to the principal, which
 * holds the rooms, with who asks (the logged-in user, name@lan) and from which host (the
 * address the client connects from: its address on this LAN, which the room's data path
 * will map). The principal's answer goes back as it came: its code is one of the registry
 * and its sentence says which rule refused. One room request at a time per connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aux_report.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "room_ops.h"
#include "secondary.h"
#include "wire_errors.h"

/* A room list waits for the legs' counters (fresh stats of their auxiliaries) at most
 * this long: an auxiliary that does not answer in time is shown without them. */
#define ROOM_LIST_STATS_TIMEOUT_MS 500

struct room_wait {
	struct client_conn *conn;  /* NULL once the client has gone */
	json_int_t id;
	enum room_action action;
	/* A list: the answer for the client, held while the legs' stats are asked for; the
	 * counters by "ROOM LAN"; how many stats requests are out. */
	json_t *reply;
	json_t *counters;
	unsigned asking;
};

/* One stats request of a list to a leg's auxiliary. */
struct leg_ask {
	struct room_wait *w;
	char key[ROOM_NAME_MAX + PKI_NAME_MAX + 2];
};

/* The path an up leg takes, as for any call: direct, relayed (over UDP) or tcp (the
 * relay's TLS-over-TCP fallback). */
static const char *leg_path(const struct room_leg *leg)
{
	return aux_path_kind(leg->call->path_relayed, leg->call->path_tcp);
}

/* How this gateway reaches a member of a room (docs/rooms.md, "The data path"): on our
 * own LAN; through the room's leg to its site, up (direct, relayed or tcp, how long) or
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
		json_object_set_new(m, "path", json_string(leg_path(leg)));
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

/* The room's legs from here, one per other member site: its state and path, its
 * interface and call, and what it carried and dropped (when its auxiliary answered). */
static json_t *leg_site(struct secondary *s, const struct room_leg *leg, const json_t *counters)
{
	uint64_t now = uv_now(s->loop);
	json_t *site = json_pack("{s:s}", "lan", leg->peer_lan);
	bool up = leg->call && leg->up_since_ms;

	if (!site)
		return NULL;
	json_object_set_new(site, "state", json_string(up ? "up" : "down"));
	if (up) {
		json_object_set_new(site, "path", json_string(leg_path(leg)));
		json_object_set_new(site, "up_ms", json_integer((json_int_t)(now - leg->up_since_ms)));
	} else if (leg->last_up_ms) {
		json_object_set_new(site, "last_up_ms_ago",
				    json_integer((json_int_t)(now - leg->last_up_ms)));
	}
	if (leg->call) {
		json_object_set_new(site, "call", json_string(leg->call->id_hex));
		if (leg->call->tun_ifname[0])
			json_object_set_new(site, "interface", json_string(leg->call->tun_ifname));
	}
	if (counters)
		json_object_update(site, (json_t *)counters);
	return site;
}

static void leg_key(const struct room_leg *leg, char *key, size_t len)
{
	snprintf(key, len, "%s %s", leg->room, leg->peer_lan);
}

static void add_sites(struct secondary *s, json_t *reply, const json_t *counters)
{
	json_t *room;
	size_t i;

	json_array_foreach(json_object_get(reply, "rooms"), i, room) {
		const char *name = json_string_value(json_object_get(room, "name"));
		json_t *sites = json_array();
		char key[ROOM_NAME_MAX + PKI_NAME_MAX + 2];

		for (const struct room_leg *leg = s->room_legs; leg && name && sites; leg = leg->next) {
			if (leg->gone || strcmp(leg->room, name) != 0)
				continue;
			leg_key(leg, key, sizeof key);
			json_array_append_new(sites, leg_site(s, leg, json_object_get(counters, key)));
		}
		if (sites && json_is_object(room))
			json_object_set_new(room, "sites", sites);
		else
			json_decref(sites);
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

static void room_wait_free(struct room_wait *w)
{
	json_decref(w->reply);
	json_decref(w->counters);
	free(w);
}

/* The list, with the sites the counters were gathered for, goes to the client. */
static void list_finish(struct room_wait *w)
{
	struct client_conn *c = w->conn;

	if (c) {
		c->room_wait = NULL;
		add_sites(c->sec, w->reply, w->counters);
		client_send(c, w->reply);
		w->reply = NULL;
	}
	room_wait_free(w);
}

static void leg_stats_reply(void *ctx, const json_t *reply, int err)
{
	struct leg_ask *a = ctx;
	struct room_wait *w = a->w;
	struct aux_room_counters c;
	char why[160];
	json_t *j;

	if (!err && msg_reply_is_ok(reply, NULL, NULL) &&
	    aux_room_counters_from_json(reply, &c, why, sizeof why) == 0 &&
	    (j = json_object())) {
		if (aux_room_counters_into(&c, j) == 0)
			json_object_set(w->counters, a->key, j);
		json_decref(j);
	}
	free(a);
	if (--w->asking == 0)
		list_finish(w);
}

static bool room_listed(const json_t *reply, const char *room)
{
	const json_t *r;
	size_t i;

	json_array_foreach(json_object_get(reply, "rooms"), i, r) {
		const char *name = json_string_value(json_object_get(r, "name"));

		if (name && strcmp(name, room) == 0)
			return true;
	}
	return false;
}

/* Asks each leg of a listed room whose call is up for its auxiliary's stats. */
static void list_ask_legs(struct secondary *s, struct room_wait *w)
{
	w->asking = 1;  /* ours, until every request is out */
	for (struct room_leg *leg = s->room_legs; leg && w->counters; leg = leg->next) {
		struct leg_ask *a;

		if (leg->gone || !leg->call || leg->call->state != CALL_UP || !leg->call->aux ||
		    !room_listed(w->reply, leg->room) || !(a = calloc(1, sizeof *a)))
			continue;
		a->w = w;
		leg_key(leg, a->key, sizeof a->key);
		w->asking++;
		if (aux_request(leg->call->aux, msg_request("stats", 0), ROOM_LIST_STATS_TIMEOUT_MS,
				leg_stats_reply, a)) {
			w->asking--;
			free(a);
		}
	}
	if (--w->asking == 0)
		list_finish(w);
}

static void room_reply(void *ctx, const json_t *reply, int err)
{
	struct room_wait *w = ctx;
	struct client_conn *c = w->conn;

	if (c && w->action == ROOM_LIST && !err && msg_reply_is_ok(reply, NULL, NULL)) {
		w->reply = client_reply(w, reply, err);
		w->counters = json_object();
		if (w->reply && json_object_get(w->reply, "rooms")) {
			list_ask_legs(c->sec, w);
			return;
		}
	}
	if (c) {
		c->room_wait = NULL;
		client_send(c, w->reply ? json_incref(w->reply) : client_reply(w, reply, err));
	}
	room_wait_free(w);
}

/* A join's IPv6 address of the host goes on only inside one of this LAN's prefixes: the
 * room's data path maps it here, and only our own LAN's hosts are ours to map. Outside
 * them it is dropped, not refused: the client may have guessed it from an interface that
 * is not this LAN's. */
static bool host6_on_lan(const struct secondary *s, const struct ip_addr *a)
{
	for (size_t i = 0; i < s->cfg.nprefixes; i++)
		if (ip_prefix_contains(&s->cfg.prefixes[i], a))
			return true;
	return false;
}

static bool lan_has_ipv6(const struct secondary *s)
{
	for (size_t i = 0; i < s->cfg.nprefixes; i++)
		if (s->cfg.prefixes[i].addr.family == AF_INET6)
			return true;
	return false;
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
	/* A LAN with no IPv6 prefix has no IPv6 in its rooms: a host6 (the client says its
	 * first global one unasked) is left out there, not refused. */
	if (r.has_host6 && !lan_has_ipv6(c->sec)) {
		r.has_host6 = false;
		log_debug("user %s: room %s: host6 left out (LAN %s has no IPv6 prefix)", c->user,
			  r.room ? r.room : "", c->sec->cfg.lan);
	}
	if (r.has_host6 && !host6_on_lan(c->sec, &r.host6)) {
		char text[IP_STRLEN];

		/* The client's guess at its address: the join goes on, over IPv4 only. */
		log_info("user %s@%s: room join: host6 %s is not on this LAN; not passed on",
			 c->user, c->sec->cfg.lan, ip_addr_format(&r.host6, text, sizeof text));
		r.has_host6 = false;
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
