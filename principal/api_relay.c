/* The `relay` op (docs/principal-api.md): a secondary setting up a call asks for an
 * allocation on a relay, and gets a candidate of kind relay for its offer. The principal
 * picks the relay (relay_choice.h): a designated relay that a secondary runs, asked over
 * that secondary's link, or its own `insel-relay`; when the one picked refuses or does
 * not answer in time, the next in the ranking, down to its own. A secondary holds at most
 * [relay] per_secondary allocations on the principal's relay at once, each gone a minute
 * after its legs stopped registering. When the call ends, its allocation is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "principal_ops.h"
#include "rand.h"
#include "relay_choice.h"
#include "relay_link.h"
#include "relay_ops.h"
#include "routes.h"
#include "wire_errors.h"

#define RELAY_PICK_TRIES 4                   /* relays tried for one call, at most */
/* How long the designated relays of one call may take to answer, all together: the
 * caller's offer goes out without waiting for us, so the answer must be quick. Past it,
 * the principal's own relay answers at once. */
#define RELAY_DESIGNATED_TIMEOUT_MS 2000
#define RELAY_DESIGNATED_MIN_MS 100          /* less left than this: not worth asking */

/* A call's choice under way: the ranked relays (a name, or "" for our own), the one
 * being asked. */
struct relay_pick {
	struct api_peer *peer;
	json_int_t id;
	uint64_t call;
	uint64_t deadline_ms;        /* designated relays are asked until then */
	char ranked[RELAY_PICK_TRIES][PKI_NAME_MAX + 1];
	size_t n, next;
	uint64_t allocation;
	uint8_t token[RELAY_OPS_TOKEN_LEN];
	char asked[PKI_NAME_MAX + 1];
	char caller[PKI_NAME_MAX + 1], callee[PKI_NAME_MAX + 1];  /* "" callee: unknown */
};

static void refuse(struct api_peer *p, json_int_t id, const char *why)
{
	p->srv->errors++;
	log_info("secondary %s: no relay: %s", p->id.name, why);
	p->send(p, msg_reply_error(id, WIRE(NO_RELAY), "%s", why));
}

static void grant(struct api_peer *p, json_int_t id, const struct relay_grant *g,
		  bool preferred)
{
	struct pop_relay_reply reply = {.relay = {.kind = CAND_RELAY, .ep = g->ep,
						  .relay_id = g->allocation,
						  .has_tcp = g->has_tcp, .tcp = g->tcp,
						  .preferred = preferred}};

	memcpy(reply.relay.relay_token, g->token, sizeof reply.relay.relay_token);
	api_reply_ok(p, id, pop_relay_reply_encode(&reply));
	secure_wipe(&reply, sizeof reply);
}

/* The secondary that serves the callee: as the caller named it, or a LAN (a trunk's). */
static bool callee_secondary(struct api_server *s, const char *callee,
			     char out[PKI_NAME_MAX + 1])
{
	struct pop_lookup_reply found;
	struct pop_serving serving;

	if (!callee)
		return false;
	if (db_lookup_find(s->db, callee, s->now(), &found) == 0 && found.serving.secondary[0]) {
		snprintf(out, PKI_NAME_MAX + 1, "%s", found.serving.secondary);
		return true;
	}
	if (db_name_valid(callee) && db_lan_serving(s->db, callee, s->now(), &serving) == 0 &&
	    serving.secondary[0]) {
		snprintf(out, PKI_NAME_MAX + 1, "%s", serving.secondary);
		return true;
	}
	return false;
}

/* Each designated relay's cost for a call between caller and callee: the cheapest route
 * through the secondary running it (routes_rank_via, over the link table); 0, unknown,
 * when either part has no fresh link. The principal's own relay is not a gateway of the
 * overlay: its cost stays unknown. */
static void route_costs(struct api_server *s, const char *caller, const char *callee,
			struct relay_option *options, size_t n)
{
	static const char *via[RELAY_CHOICE_MAX];
	static uint32_t costs[RELAY_CHOICE_MAX];
	size_t m = 0;

	for (size_t i = 1; i < n && m < RELAY_CHOICE_MAX; i++)
		via[m++] = options[i].secondary;
	if (!callee || m == 0 || routes_rank_via(s->db, caller, callee, via, m, s->now(), costs))
		return;
	for (size_t i = 0; i < m; i++)
		options[i + 1].cost = costs[i];
}

/* The candidates as the ranking sees them: ours first, then the designated ones. */
static size_t rank_relays(struct api_server *s, const char *caller, const char *callee,
			  struct relay_pick *pick)
{
	static struct relay_option options[1 + RELAY_CHOICE_MAX];
	static size_t rank[1 + RELAY_CHOICE_MAX];
	struct relay_choice *c = s->relays;
	enum relay_policy policy = c ? c->policy : RELAY_PRINCIPAL_ONLY;
	size_t n = 0, k;

	options[n++] = (struct relay_option){NULL, s->relay && s->relay->control.ready,
					     s->relay ? (unsigned)s->relay->count : 0, 0};
	for (size_t i = 0; c && i < c->n; i++)
		options[n++] = (struct relay_option){c->relays[i].secondary, c->relays[i].online,
						     c->relays[i].live, 0};
	route_costs(s, caller, callee, options, n);
	k = relay_choice_rank(options, n, caller, callee, policy, rank);
	pick->n = 0;
	for (size_t i = 0; i < k && pick->n < RELAY_PICK_TRIES; i++) {
		const char *name = options[rank[i]].secondary;

		snprintf(pick->ranked[pick->n++], PKI_NAME_MAX + 1, "%s", name ? name : "");
	}
	/* Whatever the policy, our own relay is the last resort. */
	if (options[0].available && pick->n < RELAY_PICK_TRIES) {
		bool listed = false;

		for (size_t i = 0; i < pick->n; i++)
			listed |= pick->ranked[i][0] == '\0';
		if (!listed)
			pick->ranked[pick->n++][0] = '\0';
	}
	return pick->n;
}

static void pick_done(struct relay_pick *pick)
{
	struct api_peer *p = pick->peer;

	secure_wipe(pick, sizeof *pick);
	free(pick);
	if (--p->relay_pending == 0 && p->gone && api_peer_idle(p))
		p->release(p);
}

static void try_next(struct relay_pick *pick);

/* Whether the call's route goes through the secondary whose relay took it rather than
 * direct (docs/routing.md): the relay candidate then says "preferred", and both
 * auxiliaries carry the call through it while it answers, direct as their standby. */
static bool route_goes_through(struct api_server *s, const struct relay_pick *pick)
{
	double via = 0, direct = 0;
	bool prefer = false;
	char call[ID_STRLEN];

	if (!pick->callee[0] ||
	    routes_prefer_via(s->db, pick->caller, pick->callee, pick->asked, s->now(), &prefer,
			      &via, &direct) != 0 || !prefer)
		return false;
	log_info("call %s: the route from %s to %s goes through %s (cost %.1f against %.1f "
		 "direct): its relay is preferred", id_format(pick->call, call), pick->caller,
		 pick->callee, pick->asked, via, direct);
	return true;
}

static void designated_reply(void *ctx, const json_t *reply, int err)
{
	struct relay_pick *pick = ctx;
	struct api_peer *p = pick->peer;
	struct api_server *s = p->srv;
	struct designated_relay *r = s->relays ? relay_choice_find(s->relays, pick->asked) : NULL;
	const char *code = NULL, *message = NULL;
	char call[ID_STRLEN];

	id_format(pick->call, call);
	if (err || !msg_reply_is_ok(reply, &code, &message) || !r || !r->online) {
		log_info("call %s: the relay of secondary %s %s: %s", call, pick->asked,
			 err ? "did not answer" : "refused", err ? insel_strerror(err)
			 : message ? message : "gone");
		if (r)
			r->refused++;
		try_next(pick);
		return;
	}
	relay_choice_allocated(s->relays, pick->asked, pick->allocation, pick->call);
	log_info("call %s of secondary %s: relayed by secondary %s", call, p->id.name,
		 pick->asked);
	if (!p->gone) {
		struct relay_grant g = {.ep = r->ep, .has_tcp = r->has_tcp, .tcp = r->tcp,
					.allocation = pick->allocation};

		memcpy(g.token, pick->token, sizeof g.token);
		grant(p, pick->id, &g, route_goes_through(s, pick));
		secure_wipe(&g, sizeof g);
	}
	pick_done(pick);
}

static uint64_t clock_ms(const struct api_server *s)
{
	return s->clock_ms ? s->clock_ms() : (uint64_t)s->now() * 1000;
}

/* Asks a designated relay; 0 if the question is on its way. */
static int ask_designated(struct relay_pick *pick, const char *secondary)
{
	struct api_server *s = pick->peer->srv;
	struct relay_allocate a = {.rate = s->relay_rate};
	uint64_t now = clock_ms(s);
	json_t *req;

	if (!s->secondary_request || now + RELAY_DESIGNATED_MIN_MS > pick->deadline_ms)
		return INSEL_E_UNAVAILABLE;
	do
		pick->allocation = rand_id64();
	while (pick->allocation == 0);
	rand_key(pick->token, sizeof pick->token);
	a.allocation = pick->allocation;
	memcpy(a.token, pick->token, sizeof a.token);
	req = pop_relay_allocate_encode(0, &a);
	secure_wipe(&a, sizeof a);
	snprintf(pick->asked, sizeof pick->asked, "%s", secondary);
	return s->secondary_request(s, secondary, req, (uint32_t)(pick->deadline_ms - now),
				    designated_reply, pick);
}

/* Our own relay: answered at once. */
static bool allocate_own(struct relay_pick *pick)
{
	struct api_peer *p = pick->peer;
	struct relay_grant g;
	int rc = relay_link_allocate(p->srv->relay, p->id.name, pick->call,
				     p->has_local ? &p->local : NULL, &g);

	if (rc == INSEL_E_LIMIT) {
		refuse(p, pick->id, "this secondary holds as many relay allocations as it may");
		return true;
	}
	if (rc)
		return false;
	grant(p, pick->id, &g, false);
	secure_wipe(&g, sizeof g);
	return true;
}

static void try_next(struct relay_pick *pick)
{
	struct api_peer *p = pick->peer;

	while (pick->next < pick->n && !p->gone) {
		const char *name = pick->ranked[pick->next++];

		if (name[0] == '\0') {
			if (allocate_own(pick)) {
				pick_done(pick);
				return;
			}
		} else if (ask_designated(pick, name) == 0) {
			return;
		}
	}
	if (!p->gone)
		refuse(p, pick->id, p->srv->relay || (p->srv->relays && p->srv->relays->n)
		       ? "no relay is running right now" : "this principal runs no relay");
	pick_done(pick);
}

void relay_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct pop_relay_req req;
	struct relay_pick *pick;
	char why[POP_WHY_LEN], callee[PKI_NAME_MAX + 1];
	bool known;
	int rc;

	if ((rc = pop_relay_req_decode(msg, &req, why)) != 0) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	pick = calloc(1, sizeof *pick);
	if (!pick) {
		refuse(p, id, "out of memory");
		return;
	}
	*pick = (struct relay_pick){.peer = p, .id = id, .call = req.call,
				    .deadline_ms = clock_ms(p->srv) + RELAY_DESIGNATED_TIMEOUT_MS};
	known = callee_secondary(p->srv, req.callee, callee);
	snprintf(pick->caller, sizeof pick->caller, "%s", p->id.name);
	snprintf(pick->callee, sizeof pick->callee, "%s", known ? callee : "");
	rank_relays(p->srv, p->id.name, known ? callee : NULL, pick);
	p->relay_pending++;
	try_next(pick);
}

void relay_expired_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	char why[POP_WHY_LEN];
	uint64_t allocation;
	int rc;

	if ((rc = pop_relay_allocation_decode(msg, &allocation, why)) != 0) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	if (p->srv->relays)
		relay_choice_forget(p->srv->relays, p->id.name, allocation);
	api_reply_ok(p, id, NULL);
}

static void free_reply(void *ctx, const json_t *reply, int err)
{
	(void)ctx;
	(void)reply;
	(void)err;
}

void relay_call_ended(struct api_server *s, const char *call_id)
{
	char relay[PKI_NAME_MAX + 1], hex[ID_STRLEN];
	uint64_t call, allocation;

	if (id_parse(call_id, &call) != 0 || call == 0)
		return;
	if (s->relay && relay_link_free_call(s->relay, call))
		log_debug("call %s ended: its allocation on the principal's relay is freed",
			  call_id);
	if (!s->relays || !relay_choice_of_call(s->relays, call, &allocation, relay))
		return;
	relay_choice_forget(s->relays, relay, allocation);
	if (s->secondary_request)
		s->secondary_request(s, relay, pop_relay_free_encode(0, allocation),
				     RELAY_DESIGNATED_TIMEOUT_MS, free_reply, NULL);
	log_info("call %s ended: allocation %s on the relay of secondary %s freed", call_id,
		  id_format(allocation, hex), relay);
}

/* ---- what the operator sees: `insel-principal relays` ---- */

static void own_stats_reply(void *ctx, const json_t *reply, int err)
{
	struct relay_link *l = ctx;
	char why[POP_WHY_LEN];

	if (!err && msg_reply_is_ok(reply, NULL, NULL) &&
	    pop_relay_stats_decode(reply, &l->stats, why) == 0)
		l->has_stats = true;
}

/* The stats answer of a secondary's relay; ctx is the relay's name (freed here). */
static void designated_stats_reply(void *ctx, const json_t *reply, int err)
{
	char *name = ctx;
	struct api_server *s = *(struct api_server **)name;
	struct designated_relay *r = s->relays ? relay_choice_find(s->relays,
								   name + sizeof s) : NULL;
	struct pop_relay_stats st;
	char why[POP_WHY_LEN];

	if (r && r->online && !err && msg_reply_is_ok(reply, NULL, NULL) &&
	    pop_relay_stats_decode(reply, &st, why) == 0) {
		r->stats = st;
		r->has_stats = true;
	}
	free(name);
}

static void ask_stats(struct api_server *s)
{
	if (s->relay)
		relay_control_call(&s->relay->control, msg_request("stats", 0), own_stats_reply,
				   s->relay);
	for (size_t i = 0; s->relays && s->secondary_request && i < s->relays->n; i++) {
		struct designated_relay *r = &s->relays->relays[i];
		size_t len = strlen(r->secondary) + 1;
		char *ctx;

		if (!r->online || !(ctx = malloc(sizeof s + len)))
			continue;
		memcpy(ctx, &s, sizeof s);
		memcpy(ctx + sizeof s, r->secondary, len);
		if (s->secondary_request(s, r->secondary, pop_relay_stats_encode(0),
					 RELAY_DESIGNATED_TIMEOUT_MS, designated_stats_reply, ctx))
			free(ctx);
	}
}

static void own_row(struct api_server *s, struct db_relay_row *row)
{
	struct relay_link *l = s->relay;
	struct relay_grant g;

	memset(row, 0, sizeof *row);
	row->online = l->control.ready;
	row->live = (int64_t)l->count;
	if (relay_link_advertised(l, NULL, &g.ep) == 0)
		ip_endpoint_format(&g.ep, row->address, sizeof row->address);
	row->has_stats = l->has_stats && l->control.ready;
	row->allocations = l->stats.allocations;
	row->forwarded = l->stats.forwarded;
	row->dropped = l->stats.dropped;
}

static void designated_row(const struct designated_relay *r, struct db_relay_row *row)
{
	memset(row, 0, sizeof *row);
	snprintf(row->secondary, sizeof row->secondary, "%s", r->secondary);
	ip_endpoint_format(&r->ep, row->address, sizeof row->address);
	if (r->has_tcp)
		ip_endpoint_format(&r->tcp, row->tcp, sizeof row->tcp);
	row->online = r->online;
	row->live = r->live;
	row->has_stats = r->has_stats;
	row->allocations = r->stats.allocations;
	row->forwarded = r->stats.forwarded;
	row->dropped = r->stats.dropped;
}

void relay_poll(struct api_server *s)
{
	/* What was last written: the directory is written again only when it changed. */
	static struct db_relay_row rows[1 + RELAY_CHOICE_MAX], written[1 + RELAY_CHOICE_MAX];
	static size_t nwritten = SIZE_MAX;
	size_t n = 0;
	int rc;

	if (s->relay)
		own_row(s, &rows[n++]);
	for (size_t i = 0; s->relays && i < s->relays->n; i++)
		designated_row(&s->relays->relays[i], &rows[n++]);
	if (n != nwritten || memcmp(rows, written, n * sizeof rows[0]) != 0) {
		if ((rc = db_relays_replace(s->db, rows, n, s->now())) != 0) {
			log_warn("cannot record the relays: %s", db_errmsg(s->db));
		} else {
			memcpy(written, rows, n * sizeof rows[0]);
			nwritten = n;
		}
	}
	ask_stats(s);
}
