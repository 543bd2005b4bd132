/* The client API's op room (docs/rooms.md): a logged-in user's room request is checked
 * with the shared codec (common/control/room_ops.c), then passed on to the principal, which
 * holds the rooms, with who asks (the logged-in user, name@lan) and from which host (the
 * address the client connects from: its address on this LAN, which the room's data path
 * will map). The principal's answer goes back as it came: its code is one of the registry
 * and its sentence says which rule refused. One room request at a time per connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aux_report.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "netlink.h"
#include "room_ops.h"
#include "secondary.h"
#include "wire_errors.h"

/* A room list waits for the legs' counters (fresh stats of their auxiliaries) at most
 * this long: an auxiliary that does not answer in time is shown without them. */
#define ROOM_LIST_STATS_TIMEOUT_MS 500
/* A join's host6 the neighbour table does not know yet is asked for, then looked for
 * again this often, this many times (the LAN answers in well under a millisecond). */
#define ROOM_NEIGHBOUR_WAIT_MS 100
#define ROOM_NEIGHBOUR_TRIES 5

struct room_wait {
	struct client_conn *conn;  /* NULL once the client has gone */
	json_int_t id;
	enum room_action action;
	/* A list: the answer for the client, held while the legs' stats are asked for; the
	 * counters by "ROOM LAN"; how many stats requests are out. */
	json_t *reply;
	json_t *counters;
	unsigned asking;
	/* Before it goes to the principal: the client's request (r's strings point into
	 * it), and the wait for the neighbour table to learn the host's host6. */
	json_t *req;
	struct room_req r;
	uv_timer_t timer;
	bool timer_open;
	unsigned tries;
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

static void room_wait_closed(uv_handle_t *h)
{
	free(h->data);
}

static void room_wait_free(struct room_wait *w)
{
	json_decref(w->reply);
	json_decref(w->counters);
	json_decref(w->req);
	if (w->timer_open) {  /* freed once the loop lets go of its timer */
		w->timer.data = w;
		uv_close((uv_handle_t *)&w->timer, room_wait_closed);
		return;
	}
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

/* ---- the member's addresses, as its gateway can tell them ----
 *
 * The client connects from one address, which the gateway sees: its IPv4 `host` or, over
 * IPv6, its `host6`. The other family's address is found, or checked, in the gateway's
 * neighbour table: the entry on the same interface with the same link-layer address is
 * the same host (docs/rooms.md, "A member's IPv6 address on its LAN"). */

struct neigh_find {
	const struct ip_addr *addr;
	struct nl_neigh found;
	bool hit;
};

static bool neigh_of_addr(const struct nl_neigh *n, void *ctx)
{
	struct neigh_find *f = ctx;

	if (!ip_addr_equal(&n->addr, f->addr))
		return false;
	f->found = *n;
	return f->hit = true;
}

/* The neighbour table's entry of address a, if it has one that answered. */
static bool neighbour_of(const struct ip_addr *a, struct nl_neigh *out)
{
	struct neigh_find f = {.addr = a};

	if (nl_neigh_each(a->family, neigh_of_addr, &f) != 0 || !f.hit)
		return false;
	*out = f.found;
	return true;
}

struct neigh_same {
	const struct secondary *s;
	const struct nl_neigh *of;
	struct ip_addr found;
	bool hit;
};

static bool neigh_same_link(const struct nl_neigh *n, void *ctx)
{
	struct neigh_same *m = ctx;

	if (n->ifindex != m->of->ifindex || n->lllen != m->of->lllen ||
	    memcmp(n->lladdr, m->of->lladdr, n->lllen) != 0 || !host6_on_lan(m->s, &n->addr))
		return false;
	m->found = n->addr;
	return m->hit = true;
}

/* The IPv4 address on this LAN of the host that connects from IPv6 address a. */
static bool ipv4_of_host(const struct secondary *s, const struct ip_addr *a, struct ip_addr *out)
{
	struct nl_neigh n;
	struct neigh_same m = {.s = s, .of = &n};

	if (!neighbour_of(a, &n) || nl_neigh_each(AF_INET, neigh_same_link, &m) != 0 || !m.hit)
		return false;
	*out = m.found;
	return true;
}

/* Whether addresses a and b (of either family) are the same host's on this LAN: the
 * same link-layer address on the same interface. */
static bool same_host(const struct ip_addr *a, const struct ip_addr *b)
{
	struct nl_neigh na, nb;

	if (ip_addr_equal(a, b))
		return true;
	return neighbour_of(a, &na) && neighbour_of(b, &nb) && na.ifindex == nb.ifindex &&
	       na.lllen == nb.lllen && memcmp(na.lladdr, nb.lladdr, na.lllen) == 0;
}

/* One datagram to a (the discard port): the kernel resolves a's link-layer address to
 * send it, so that the neighbour table knows it a moment later. */
static void ask_neighbour(const struct ip_addr *a)
{
	struct ip_endpoint ep = {.addr = *a, .port = 9};
	struct sockaddr_storage ss;
	socklen_t len = ip_endpoint_to_sockaddr(&ep, &ss);
	int fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return;
	if (len)
		(void)sendto(fd, "", 0, 0, (struct sockaddr *)&ss, len);
	close(fd);
}

/* A join's host6, given by the client, against the connecting host's entry: 0 (the same
 * host: kept), 1 (no entry for it: left out, with a line in the log) or -1 (another
 * host's: refused, with a sentence in why). */
static int check_host6(struct client_conn *c, struct room_req *r, char why[ROOM_WHY_LEN])
{
	char text[IP_STRLEN], from[IP_STRLEN];
	struct nl_neigh n;

	if (!r->has_host6 || same_host(&c->addr, &r->host6))
		return 0;
	ip_addr_format(&r->host6, text, sizeof text);
	ip_addr_format(&c->addr, from, sizeof from);
	r->has_host6 = false;
	if (neighbour_of(&r->host6, &n) && neighbour_of(&c->addr, &n)) {
		snprintf(why, ROOM_WHY_LEN, "host6 %s is another host's on this LAN than %s (its "
			 "link-layer address differs): give this host's own IPv6 address", text,
			 from);
		return -1;
	}
	log_info("user %s@%s: room join: host6 %s cannot be told to be %s's (not in the "
		 "gateway's neighbour table); not passed on, the join goes on over IPv4", c->user,
		 c->sec->cfg.lan, text, from);
	return 1;
}

/* The member's addresses as the gateway can tell them, into w->r: 0, or a refusal (its
 * code and sentence) for the client. */
static const char *settle_hosts(struct room_wait *w, char why[ROOM_WHY_LEN])
{
	struct client_conn *c = w->conn;
	struct room_req *r = &w->r;
	char text[IP_STRLEN];

	r->has_host = true;
	r->host = c->addr;
	if (c->addr.family == AF_INET6) {
		/* Over IPv6: the connection is the host6; the IPv4 host, which the room maps
		 * first, is the neighbour with the same link-layer address. */
		if (ipv4_of_host(c->sec, &c->addr, &r->host)) {
			if (r->action == ROOM_JOIN && check_host6(c, r, why) < 0)
				return WIRE(FORBIDDEN);
			if (!r->has_host6)
				r->host6 = c->addr;
			r->has_host6 = true;
			return NULL;
		}
		if (r->action != ROOM_JOIN)
			return NULL;
		snprintf(why, ROOM_WHY_LEN, "the gateway does not know the IPv4 address on this LAN "
			 "of %s (its neighbour table has no IPv4 entry with that host's link-layer "
			 "address), which a room member needs: connect to the gateway over IPv4 "
			 "(its LAN address) and join again",
			 ip_addr_format(&c->addr, text, sizeof text));
		return WIRE(UNAVAILABLE);
	}
	if (r->action == ROOM_JOIN && check_host6(c, r, why) < 0)
		return WIRE(FORBIDDEN);
	return NULL;
}

/* The request goes to the principal, the member's addresses settled. */
static void room_forward(struct room_wait *w)
{
	struct client_conn *c = w->conn;
	char why[ROOM_WHY_LEN], user[ROOM_USER_MAX + 1];
	const char *refusal = settle_hosts(w, why);
	json_t *fwd;

	snprintf(user, sizeof user, "%s@%s", c->user, c->sec->cfg.lan);
	w->r.user = user;
	if (refusal) {
		client_send(c, msg_reply_error(w->id, refusal, "%s", why));
	} else if (!(fwd = room_req_encode(0, &w->r)) ||
		   principal_request(c->sec, fwd, room_reply, w)) {
		client_send(c, msg_reply_error(w->id, WIRE(PRINCIPAL_UNREACHABLE),
					       "the directory cannot be reached right now"));
	} else {
		log_info("user %s: room %s %s", user, room_action_name(w->r.action),
			 w->r.room ? w->r.room : "");
		return;
	}
	c->room_wait = NULL;
	room_wait_free(w);
}

/* A join from IPv4 with a host6 the neighbour table does not know yet: asked for (one
 * datagram), and looked at again a little later, a few times at most. */
static bool host6_unknown(const struct room_wait *w)
{
	struct nl_neigh n;

	return w->r.action == ROOM_JOIN && w->r.has_host6 && w->conn->addr.family == AF_INET &&
	       !neighbour_of(&w->r.host6, &n);
}

static void room_settle(struct room_wait *w);

static void on_neighbour_wait(uv_timer_t *t)
{
	struct room_wait *w = t->data;

	if (!w->conn) {  /* the client has gone */
		room_wait_free(w);
		return;
	}
	room_settle(w);
}

static void room_settle(struct room_wait *w)
{
	if (host6_unknown(w) && w->tries < ROOM_NEIGHBOUR_TRIES &&
	    (w->timer_open || uv_timer_init(w->conn->sec->loop, &w->timer) == 0)) {
		w->timer_open = true;
		w->timer.data = w;
		if (w->tries++ == 0)
			ask_neighbour(&w->r.host6);
		if (uv_timer_start(&w->timer, on_neighbour_wait, ROOM_NEIGHBOUR_WAIT_MS, 0) == 0)
			return;
	}
	room_forward(w);
}

void client_room_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct client_conn *c = ctx;
	char why[ROOM_WHY_LEN];
	struct room_req r;
	struct room_wait *w;

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
	w->req = json_incref((json_t *)req);  /* r's strings point into it */
	w->r = r;
	c->room_wait = w;
	room_settle(w);
}

void client_room_gone(struct client_conn *c)
{
	if (c->room_wait)
		((struct room_wait *)c->room_wait)->conn = NULL;
	c->room_wait = NULL;
}
