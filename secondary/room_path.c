/* The rooms' data path on a gateway (docs/rooms.md, "The data path"): the principal's
 * "rooms" notice (room_view.h) says which rooms our LAN has members in and who every
 * member is; for each such room and each other site with members in it, one leg: a
 * trunk-like network call between the two gateways that carries exactly the room
 * addresses of our members and of theirs, through an interface named after the room. Its
 * auxiliary maps each local member's LAN address to its room address and back, and drops
 * (and counts) packets of LAN hosts that are no members.
 *
 * As for trunks, only the gateway whose LAN name sorts lower dials a leg, and dials it
 * again after a back-off when it ends. When a notice changes what an up leg carries (a
 * member joined, left, was kicked or banned), each side updates its own leg in place from
 * its own notice: its auxiliary swaps the members' tables ("room_members") and this
 * process routes the peer's new members' /32s into the interface and takes the old
 * ones' away, so the other members' traffic goes on and a kicked member's stops within
 * the time the notice takes. Only when that cannot be done (the call is not up yet, or
 * the auxiliary or a route refuses) does the leg's call end on both sides and the caller
 * place it again with the new members. A leg no longer wanted (its site has no member
 * left, or we have none) ends and goes, with its interface, routes and process. */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "aux_bind.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "netlink.h"
#include "peer_codec.h"
#include "rand.h"
#include "room_view.h"
#include "secondary.h"
#include "timeouts.h"
#include "wire_errors.h"

_Static_assert(ROOM_LEG_MEMBERS <= SECONDARY_MAX_PREFIXES &&
	       ROOM_LEG_MEMBERS <= AUX_TUN_PREFIXES && ROOM_LEG_MEMBERS <= PEER_MAX_PREFIXES,
	       "a leg's members are a network call's prefixes");

#define ROOM_LEG_BACKOFF_FIRST_MS 200
#define ROOM_LEG_BACKOFF_MAX_MS 5000
#define ROOM_LEG_REPLACE_MS 50      /* after a change: the peer's notice is on its way too */
#define ROOM_LEG_WAIT_PRINCIPAL_MS 500
/* An auxiliary that has not swapped its members by then ends with its call: a kicked
 * member's traffic must not outlive the second a kick may take. */
#define ROOM_LEG_UPDATE_TIMEOUT_MS 1000

static void leg_dial(uv_timer_t *timer);

static void schedule(struct room_leg *leg, uint64_t delay_ms)
{
	if (leg->sec->stopping || !leg->initiator || leg->gone)
		return;
	uv_timer_start(&leg->retry, leg_dial, delay_ms, 0);
}

static void leg_dial(uv_timer_t *timer)
{
	struct room_leg *leg = timer->data;

	if (leg->call || leg->gone || leg->sec->stopping)
		return;
	if (!principal_link_up(&leg->sec->principal) || !secondary_is_active(leg->sec)) {
		schedule(leg, ROOM_LEG_WAIT_PRINCIPAL_MS);
		return;
	}
	leg->attempts++;
	log_info("room %s: calling LAN %s (attempt %u)", leg->room, leg->peer_lan, leg->attempts);
	if (call_place_room_leg(leg->sec, leg))
		schedule(leg, rand_backoff_ms(&leg->backoff_ms, ROOM_LEG_BACKOFF_FIRST_MS,
					       ROOM_LEG_BACKOFF_MAX_MS));
}

void room_leg_call_up(struct room_leg *leg, struct call *call)
{
	leg->call = call;
	leg->up_since_ms = leg->last_up_ms = uv_now(leg->sec->loop);
	leg->backoff_ms = 0;
	log_info("room %s: leg to LAN %s is up on interface %s (call %s)", leg->room,
		 leg->peer_lan, call->tun_ifname, call->id_hex);
}

void room_leg_call_ended(struct room_leg *leg, struct call *call, const char *reason)
{
	bool changed = strcmp(reason, WIRE(REPLACED)) == 0;

	if (leg->call != call)
		return;
	leg->call = NULL;
	if (leg->up_since_ms)
		leg->last_up_ms = uv_now(leg->sec->loop);
	leg->up_since_ms = 0;
	if (!leg->initiator || leg->gone || leg->sec->stopping)
		return;
	schedule(leg, changed ? ROOM_LEG_REPLACE_MS
			      : rand_backoff_ms(&leg->backoff_ms, ROOM_LEG_BACKOFF_FIRST_MS,
						ROOM_LEG_BACKOFF_MAX_MS));
	log_info("room %s: leg to LAN %s ended (%s); calling again", leg->room, leg->peer_lan,
		 reason);
}

struct room_leg *room_leg_find(struct secondary *s, const char *room, const char *peer_lan)
{
	for (struct room_leg *leg = s->room_legs; leg; leg = leg->next)
		if (strcmp(leg->room, room) == 0 && strcmp(leg->peer_lan, peer_lan) == 0)
			return leg;
	return NULL;
}

static bool same_prefix(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->addr.family == b->addr.family && a->len == b->len &&
	       memcmp(a->addr.bytes, b->addr.bytes, ip_family_bits(a->addr.family) / 8) == 0;
}

static bool prefix_in(const struct ip_prefix *p, const struct ip_prefix *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (same_prefix(p, &set[i]))
			return true;
	return false;
}

static bool same_set(const struct ip_prefix *a, size_t na, const struct ip_prefix *b,
		     size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!prefix_in(&a[i], b, nb))
			return false;
	return true;
}

bool room_leg_matches(const struct room_leg *leg, const struct call *call)
{
	return same_set(leg->local, leg->nlocal, call->tun_local, call->ntun_local) &&
	       same_set(leg->remote, leg->nremote, call->tun_remote, call->ntun_remote);
}

size_t room_leg_hosts(const struct room_leg *leg, const struct ip_prefix *local, size_t n,
		      struct ip_addr *hosts)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		while (k < leg->nlocal && !same_prefix(&local[i], &leg->local[k]))
			k++;
		if (k == leg->nlocal)
			return 0;
		hosts[i] = leg->local_host[k];
	}
	return n;
}

static void v4_addr(uint32_t a, struct ip_addr *out)
{
	memset(out, 0, sizeof *out);
	out->family = AF_INET;
	out->bytes[0] = (uint8_t)(a >> 24);
	out->bytes[1] = (uint8_t)(a >> 16);
	out->bytes[2] = (uint8_t)(a >> 8);
	out->bytes[3] = (uint8_t)a;
}

static void v4_prefix(uint32_t a, struct ip_prefix *out)
{
	memset(out, 0, sizeof *out);
	v4_addr(a, &out->addr);
	out->len = 32;
}

static void v6_addr(const uint8_t a[16], struct ip_addr *out)
{
	memset(out, 0, sizeof *out);
	out->family = AF_INET6;
	memcpy(out->bytes, a, 16);
}

static void v6_prefix(const uint8_t a[16], struct ip_prefix *out)
{
	memset(out, 0, sizeof *out);
	v6_addr(a, &out->addr);
	out->len = 128;
}

/* What the leg of room r to peer_lan should carry, from the notice. */
static void leg_wants(struct room_leg *leg, const struct room_view_room *r)
{
	struct room_view_leg w;

	room_view_leg(r, leg->peer_lan, &w);
	if (w.truncated)
		log_warn("room %s: a leg to LAN %s carries %d members a side at most; the rest "
			 "are not reached from here", leg->room, leg->peer_lan, ROOM_LEG_MEMBERS);
	leg->network = r->network;
	leg->has_network6 = r->has_network6;
	leg->network6 = r->network6;
	leg->nlocal = w.nlocal;
	leg->nremote = w.nremote;
	for (size_t i = 0; i < w.nlocal; i++) {
		v4_prefix(w.local[i], &leg->local[i]);
		v4_addr(w.local_host[i], &leg->local_host[i]);
	}
	for (size_t i = 0; i < w.nremote; i++)
		v4_prefix(w.remote[i], &leg->remote[i]);
	/* An IPv6 room: each member's /128 after the IPv4 /32s (room_view_leg kept the
	 * total within a call's prefixes). */
	for (size_t i = 0; i < w.nlocal6; i++) {
		v6_prefix(w.local6[i], &leg->local[leg->nlocal]);
		v6_addr(w.local_host6[i], &leg->local_host[leg->nlocal++]);
	}
	for (size_t i = 0; i < w.nremote6; i++)
		v6_prefix(w.remote6[i], &leg->remote[leg->nremote++]);
}

/* ---- a membership change, in place ---- */

/* What was asked of the auxiliary, kept until it answers (the call may be gone then). */
struct members_update {
	struct secondary *sec;
	char call_id[ID_STRLEN];
	struct ip_prefix local[SECONDARY_MAX_PREFIXES], remote[SECONDARY_MAX_PREFIXES];
	size_t nlocal, nremote;
};

/* The peer members' /32s: the departed ones' routes go, the new ones' come. */
static int reroute(struct call *call, const struct members_update *u)
{
	int ifindex = (int)if_nametoindex(call->tun_ifname);
	const struct ip_addr *src = &call->sec->cfg.lan_address;
	char text[IP_STRLEN];

	if (ifindex == 0)
		return -ENODEV;
	for (size_t i = 0; i < call->ntun_remote; i++) {
		int rc;

		if (prefix_in(&call->tun_remote[i], u->remote, u->nremote))
			continue;
		rc = nl_route_del(ifindex, &call->tun_remote[i], RT_TABLE_MAIN);
		if (rc && rc != -ESRCH) {
			log_warn("call %s: cannot remove the route to %s: %s", call->id_hex,
				 ip_prefix_format(&call->tun_remote[i], text, sizeof text),
				 strerror(-rc));
			return rc;
		}
	}
	for (size_t i = 0; i < u->nremote; i++) {
		int rc;

		if (prefix_in(&u->remote[i], call->tun_remote, call->ntun_remote))
			continue;
		rc = nl_route_add(ifindex, &u->remote[i], src, RT_TABLE_MAIN);
		if (rc) {
			log_warn("call %s: cannot route %s through %s: %s", call->id_hex,
				 ip_prefix_format(&u->remote[i], text, sizeof text),
				 call->tun_ifname, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void members_updated(void *ctx, const json_t *reply, int err)
{
	struct members_update *u = ctx;
	struct call *call = call_find(u->sec, u->call_id);
	const char *code = NULL, *message = NULL;

	if (!call || !call->room_leg || call->state == CALL_ENDED) {
		free(u);
		return;
	}
	if (err || !msg_reply_is_ok(reply, &code, &message) || reroute(call, u) != 0) {
		log_warn("room %s: the leg to LAN %s cannot change in place (%s); placing it "
			 "again", call->room_leg->room, call->room_leg->peer_lan,
			 err ? insel_strerror(err) : message ? message : "a route");
		call_end(call, WIRE(REPLACED), "the room's members changed");
		free(u);
		return;
	}
	memcpy(call->tun_local, u->local, u->nlocal * sizeof u->local[0]);
	memcpy(call->tun_remote, u->remote, u->nremote * sizeof u->remote[0]);
	call->ntun_local = u->nlocal;
	call->ntun_remote = u->nremote;
	log_info("room %s: the leg to LAN %s now carries %zu local and %zu remote member(s), "
		 "in place (call %s)", call->room_leg->room, call->room_leg->peer_lan,
		 u->nlocal, u->nremote, call->id_hex);
	free(u);
}

/* Asks the up leg's auxiliary to carry the leg's new members; false if it cannot be
 * asked (then the caller ends the call, as before in-place updates existed). */
static bool update_in_place(struct call *call)
{
	const struct room_leg *leg = call->room_leg;
	struct members_update *u;
	struct aux_bind_tun t = {0};
	json_t *req;

	if (call->state != CALL_UP || !call->aux || leg->nlocal == 0 || leg->nremote == 0)
		return false;
	memcpy(t.local, leg->local, leg->nlocal * sizeof t.local[0]);
	memcpy(t.remote, leg->remote, leg->nremote * sizeof t.remote[0]);
	memcpy(t.map, leg->local_host, leg->nlocal * sizeof t.map[0]);
	t.nlocal = t.nmap = leg->nlocal;
	t.nremote = leg->nremote;
	u = calloc(1, sizeof *u);
	req = msg_request("room_members", 0);
	if (!u || !req || aux_room_members_into(req, &t) != 0) {
		free(u);
		json_decref(req);
		return false;
	}
	u->sec = call->sec;
	snprintf(u->call_id, sizeof u->call_id, "%s", call->id_hex);
	memcpy(u->local, leg->local, sizeof u->local);
	memcpy(u->remote, leg->remote, sizeof u->remote);
	u->nlocal = leg->nlocal;
	u->nremote = leg->nremote;
	if (aux_request(call->aux, req, ROOM_LEG_UPDATE_TIMEOUT_MS, members_updated, u) != 0) {
		free(u);
		return false;
	}
	return true;
}

/* ---- each room's one auxiliary ---- */

struct aux *room_aux_for(struct secondary *s, const char *room)
{
	struct room_aux **pp = &s->room_auxes, *ra;

	for (; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->room, room) == 0)
			break;
	if (*pp && aux_room_alive((*pp)->proc))
		return (*pp)->proc;
	if (*pp) {  /* it died: its legs end with it, the next ones get a new one */
		ra = *pp;
		*pp = ra->next;
		aux_release(ra->proc);
		free(ra);
	}
	if (!(ra = calloc(1, sizeof *ra)))
		return NULL;
	snprintf(ra->room, sizeof ra->room, "%s", room);
	if (!(ra->proc = aux_room_spawn(s, room))) {
		free(ra);
		return NULL;
	}
	ra->next = s->room_auxes;
	s->room_auxes = ra;
	return ra->proc;
}

static bool room_has_legs(struct secondary *s, const char *room)
{
	for (struct room_leg *leg = s->room_legs; leg; leg = leg->next)
		if (strcmp(leg->room, room) == 0)
			return true;
	return false;
}

/* Rooms with no leg left: their process goes (fd 3 closed), and with it the interface. */
static void room_auxes_follow(struct secondary *s, bool all)
{
	for (struct room_aux **pp = &s->room_auxes, *ra; (ra = *pp);) {
		if (all || !room_has_legs(s, ra->room)) {
			*pp = ra->next;
			log_info("room %s: no leg left: its auxiliary stops", ra->room);
			aux_release(ra->proc);
			free(ra);
		} else {
			pp = &ra->next;
		}
	}
}

/* Whether another live call of the room carries p (its route is that call's now). */
static bool carried_elsewhere(const struct call *call, const struct ip_prefix *p)
{
	for (const struct call *c = call->sec->calls; c; c = c->next)
		if (c != call && c->room_leg && c->state != CALL_ENDED &&
		    strcmp(c->room_leg->room, call->room_leg->room) == 0 &&
		    prefix_in(p, c->tun_remote, c->ntun_remote))
			return true;
	return false;
}

void room_leg_routes(struct call *call, bool add)
{
	int ifindex = call->tun_ifname[0] ? (int)if_nametoindex(call->tun_ifname) : 0;
	const struct ip_addr *src = &call->sec->cfg.lan_address;
	char text[IP_STRLEN];

	if (ifindex == 0 || !call->room_leg)
		return;
	for (size_t i = 0; i < call->ntun_remote; i++) {
		const struct ip_prefix *p = &call->tun_remote[i];
		int rc;

		if (!add && carried_elsewhere(call, p))
			continue;
		rc = add ? nl_route_add(ifindex, p, src, RT_TABLE_MAIN)
			 : nl_route_del(ifindex, p, RT_TABLE_MAIN);
		if (rc && rc != -EEXIST && rc != -ESRCH)
			log_warn("call %s: cannot %s the route to %s through %s: %s", call->id_hex,
				 add ? "add" : "remove", ip_prefix_format(p, text, sizeof text),
				 call->tun_ifname, strerror(-rc));
	}
}

static void leg_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Out of the list; its call ends and its timer closes (which frees it). */
static void leg_remove(struct secondary *s, struct room_leg *leg, const char *why)
{
	struct call *call = leg->call;

	for (struct room_leg **p = &s->room_legs; *p; p = &(*p)->next)
		if (*p == leg) {
			*p = leg->next;
			break;
		}
	leg->gone = true;
	leg->call = NULL;
	if (call) {
		room_leg_routes(call, false);  /* the room's interface may stay for others */
		call->room_leg = NULL;
		call_end(call, WIRE(HANGUP), why);
	}
	/* Calls still being set up for it (the callee's side) go too. */
	for (struct call *c = s->calls, *next; c; c = next) {
		next = c->next;
		if (c->room_leg == leg) {
			room_leg_routes(c, false);
			c->room_leg = NULL;
			call_end(c, WIRE(HANGUP), why);
		}
	}
	log_info("room %s: no leg to LAN %s any more (%s)", leg->room, leg->peer_lan, why);
	uv_timer_stop(&leg->retry);
	uv_close((uv_handle_t *)&leg->retry, leg_timer_closed);
}

static struct room_leg *leg_new(struct secondary *s, const char *room, const char *peer_lan)
{
	struct room_leg *leg = calloc(1, sizeof *leg);

	if (!leg)
		return NULL;
	leg->sec = s;
	snprintf(leg->room, sizeof leg->room, "%s", room);
	snprintf(leg->peer_lan, sizeof leg->peer_lan, "%s", peer_lan);
	leg->initiator = strcmp(s->cfg.lan, peer_lan) < 0;
	uv_timer_init(s->loop, &leg->retry);
	leg->retry.data = leg;
	leg->next = s->room_legs;
	s->room_legs = leg;
	log_info("room %s: a leg to LAN %s (%s)", room, peer_lan,
		 leg->initiator ? "this gateway calls" : "waiting for the peer's call");
	return leg;
}

static bool room_has_local(const struct room_view_room *r)
{
	for (size_t i = 0; i < r->nmembers; i++)
		if (r->members[i].has_host)
			return true;
	return false;
}

/* Whether the notice still wants this leg; if so, what it carries is brought up to date. */
static bool leg_wanted(struct room_leg *leg, const struct room_view *v)
{
	const struct room_view_room *r = room_view_find(v, leg->room);

	if (!r || !room_has_local(r))
		return false;
	leg_wants(leg, r);
	return leg->nremote > 0;
}

static void follow(struct secondary *s, const struct room_view *v)
{
	for (struct room_leg *leg = s->room_legs, *next; leg; leg = next) {
		next = leg->next;
		if (!leg_wanted(leg, v))
			leg_remove(s, leg, "the room has no members on one side any more");
	}
	/* A call carrying other members than the notice's is brought up to date in place
	 * when it is up; otherwise it ends at once and the caller places the leg again with
	 * the new members. Either way a kicked member's traffic stops now. */
	for (struct call *c = s->calls, *next; c; c = next) {
		next = c->next;
		if (c->room_leg && c->state != CALL_ENDED && !room_leg_matches(c->room_leg, c) &&
		    !update_in_place(c))
			call_end(c, WIRE(REPLACED), "the room's members changed");
	}
	for (size_t i = 0; i < v->nrooms; i++) {
		const struct room_view_room *r = &v->rooms[i];
		const char *lans[ROOM_VIEW_MEMBERS];
		size_t n = room_view_peer_lans(r, s->cfg.lan, lans, ROOM_VIEW_MEMBERS);

		for (size_t k = 0; k < n; k++) {
			struct room_leg *leg;

			if (room_leg_find(s, r->name, lans[k]))
				continue;
			leg = leg_new(s, r->name, lans[k]);
			if (leg && leg_wanted(leg, v))
				schedule(leg, 0);
		}
	}
	for (struct room_leg *leg = s->room_legs; leg; leg = leg->next)
		if (!leg->call && leg->initiator && !uv_is_active((uv_handle_t *)&leg->retry))
			schedule(leg, 0);
	room_auxes_follow(s, false);
}

void rooms_notice(struct secondary *s, const json_t *msg)
{
	struct room_view v;
	char why[ROOM_WHY_LEN];

	if (room_view_decode(msg, &v, why)) {
		log_warn("unreadable rooms notice from the principal: %s", why);
		return;
	}
	if (strcmp(v.lan, s->cfg.lan) != 0) {
		log_warn("the principal's rooms notice is for LAN %s, not ours", v.lan);
		room_view_free(&v);
		return;
	}
	json_decref(s->rooms);
	s->rooms = json_deep_copy(msg);
	log_info("rooms: our LAN has members in %zu room%s", v.nrooms, v.nrooms == 1 ? "" : "s");
	follow(s, &v);
	room_view_free(&v);
}

void rooms_stop(struct secondary *s)
{
	while (s->room_legs)
		leg_remove(s, s->room_legs, "the gateway stops");
	room_auxes_follow(s, true);
	json_decref(s->rooms);
	s->rooms = NULL;
}
