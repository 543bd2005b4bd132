/* API op room: a user on a site, through its secondary, creates, joins, leaves and lists
 * rooms, and a room's administrator kicks, bans, unbans, changes the password and deletes
 * (docs/rooms.md). The request's codec is common/control/room_ops.c; the directory's
 * rules are principal/db_rooms.c's. The secondary names the user and the LAN host; it must
 * serve the user's LAN, as for verify_user.
 *
 * Hashing a new join password and checking one are slow on purpose: they run off the
 * event loop on the runner of password checks (api_verify's compute/finish), and one
 * user's wrong guesses at one room are slowed as login guesses are (backoff per room and
 * user, so that members joining at once never wait for each other). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "buf.h"
#include "db_rooms.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "room_ops.h"

/* What a slow room action needs once the KDF has run. */
struct room_job {
	struct api_verify v;           /* first: the runner's handle */
	struct room_req req;           /* its strings point into the copies below */
	char room[ROOM_NAME_MAX + 1];
	char user[ROOM_USER_MAX + 1];
	char host[IP_STRLEN];
	char host6[IP_STRLEN];            /* "" when the join gave none */
	char guard[BACKOFF_KEY_MAX + 1];  /* join: the back-off key, room and user */
	unsigned iterations;           /* create, passwd: of the new hash */
};

static uint64_t clock_ms(const struct api_server *s)
{
	return s->clock_ms ? s->clock_ms() : (uint64_t)s->now() * 1000;
}

/* The directory's refusal, with the room codes where one applies. */
static void reply_room_error(struct api_peer *p, json_int_t id, int rc)
{
	const char *why = db_errmsg(p->srv->db);

	if (rc == INSEL_E_LIMIT)
		api_reply_wire(p, id, WERR_ROOM_FULL, "%s", why);
	else if (rc == INSEL_E_REFUSED)
		api_reply_wire(p, id, WERR_ROOM_BANNED, "%s", why);
	else
		api_reply_db_error(p, id, rc);
}

/* ---- the slow actions: create, passwd, join ---- */

static void job_compute(struct api_verify *v)
{
	struct room_job *j = (struct room_job *)v;

	if (j->req.action == ROOM_JOIN)
		v->result = passwd_verify(v->password, v->hash);
	else
		v->result = passwd_hash(v->password, j->iterations, v->hash, sizeof v->hash);
}

static void job_join(struct api_peer *p, struct room_job *j)
{
	json_t *member = NULL;
	int rc;

	if (j->v.result) {
		api_reply_wire(p, j->v.id, WERR_ROOM_PASSWORD, "wrong password for room %s",
			       j->room);
		return;
	}
	rc = db_room_join(p->srv->db, j->room, j->user, j->host, j->host6[0] ? j->host6 : NULL,
			  j->user, p->srv->now(), &member);
	if (rc) {
		reply_room_error(p, j->v.id, rc);
		return;
	}
	json_object_del(member, "host");
	json_object_del(member, "host6");
	log_info("room %s: %s joined from %s as %s", j->room, j->user, j->host,
		 json_string_value(json_object_get(member, "address")));
	api_reply_ok(p, j->v.id, json_pack("{s:o}", "member", member));
}

static void job_store(struct api_peer *p, struct room_job *j)
{
	struct db *db = p->srv->db;
	int rc;

	if (j->v.result) {
		api_reply_error(p, j->v.id, j->v.result, "cannot hash the password: %s",
				insel_strerror(j->v.result));
		return;
	}
	if (j->req.action == ROOM_CREATE)
		rc = db_room_add(db, &(struct db_room_new){
			.name = j->room, .network = &j->req.network,
			.network6 = j->req.has_network6 ? &j->req.network6 : NULL,
			.hash = j->v.hash, .admin = j->user, .capacity = j->req.capacity,
			.by = j->user}, p->srv->now());
	else
		rc = db_room_set_hash(db, j->room, j->v.hash, j->user, p->srv->now());
	if (rc) {
		reply_room_error(p, j->v.id, rc);
		return;
	}
	log_info("room %s: %s by %s", j->room,
		 j->req.action == ROOM_CREATE ? "created" : "password changed", j->user);
	api_reply_ok(p, j->v.id, NULL);
}

static void job_finish(struct api_verify *v)
{
	struct room_job *j = (struct room_job *)v;
	struct api_peer *p = v->peer;

	if (j->guard[0])
		backoff_end(p->srv->guess_by_user, j->guard,
			    v->result == 0 ? BACKOFF_SUCCESS
			    : v->result == INSEL_E_AUTH ? BACKOFF_FAILURE : BACKOFF_CANCELLED,
			    clock_ms(p->srv));
	if (!p->gone)
		(j->req.action == ROOM_JOIN ? job_join : job_store)(p, j);
	secure_wipe(j, sizeof *j);
	free(j);
}

/* Copies what the job keeps of the request, then hands it to the runner. */
static void start_job(struct api_peer *p, json_int_t id, const struct room_req *req,
		      const char *hash)
{
	struct room_job *j = calloc(1, sizeof *j);
	uint64_t retry = 0;

	if (!j) {
		api_reply_error(p, id, INSEL_E_LIMIT, "out of memory");
		return;
	}
	j->req = *req;
	snprintf(j->room, sizeof j->room, "%s", req->room);
	snprintf(j->user, sizeof j->user, "%s", req->user);
	ip_addr_format(&req->host, j->host, sizeof j->host);
	if (req->has_host6)
		ip_addr_format(&req->host6, j->host6, sizeof j->host6);
	snprintf(j->v.password, sizeof j->v.password, "%s", req->password);
	if (hash)
		snprintf(j->v.hash, sizeof j->v.hash, "%s", hash);
	j->req.room = j->room;
	j->req.user = j->user;
	j->req.password = j->v.password;
	j->v.peer = p;
	j->v.id = id;
	j->iterations = p->srv->hash_iterations ? p->srv->hash_iterations
						 : PASSWD_DEFAULT_ITERATIONS;
	j->v.compute = job_compute;
	j->v.finish = job_finish;
	if (req->action == ROOM_JOIN && p->srv->guess_by_user) {
		snprintf(j->guard, sizeof j->guard, "room:%s %s", req->room, req->user);
		if (backoff_begin(p->srv->guess_by_user, j->guard, clock_ms(p->srv), &retry)) {
			api_reply_error(p, id, INSEL_E_BUSY, "too many wrong passwords for room %s "
					"from %s; try again in %llu s", req->room, req->user,
					(unsigned long long)((retry + 999) / 1000));
			secure_wipe(j, sizeof *j);
			free(j);
			return;
		}
	}
	p->verify_pending++;
	p->srv->run_verify(p->srv, &j->v);
}

/* ---- the quick actions ---- */

/* How many bytes the list may take as the principal sends it: the gateway adds each
 * member's reachability (some 50 bytes a member) before it passes the list on, and both
 * hops must stay under the control frame limit (64 KiB). */
#define ROOM_LIST_BUDGET (32 * 1024)

static size_t encoded_size(const json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	size_t n = text ? strlen(text) : SIZE_MAX;

	free(text);
	return n;
}

/* Keeps the first `cap` members of every room (their full number stays in
 * members_total). */
static json_t *cap_members(const json_t *reply, size_t cap)
{
	json_t *copy = json_deep_copy(reply), *r, *members;
	size_t i;

	json_array_foreach(json_object_get(copy, "rooms"), i, r) {
		members = json_object_get(r, "members");
		while (json_array_size(members) > cap)
			json_array_remove(members, json_array_size(members) - 1);
	}
	return copy;
}

/* A list too big for a frame (rooms of thousands of members) lists as many members of
 * each room as fit, the same number in every room, found by halving: a user always
 * learns which rooms it is in and how many members each has. */
static json_t *fit_budget(json_t *reply)
{
	size_t lo = 0, hi = 0, i;
	json_t *r, *best;

	if (encoded_size(reply) <= ROOM_LIST_BUDGET)
		return reply;
	json_array_foreach(json_object_get(reply, "rooms"), i, r)
		if (json_array_size(json_object_get(r, "members")) > hi)
			hi = json_array_size(json_object_get(r, "members"));
	while (lo + 1 < hi) {  /* lo fits (or is 0), hi does not */
		size_t mid = lo + (hi - lo) / 2;
		json_t *t = cap_members(reply, mid);

		if (encoded_size(t) <= ROOM_LIST_BUDGET)
			lo = mid;
		else
			hi = mid;
		json_decref(t);
	}
	best = cap_members(reply, lo);
	json_decref(reply);
	return best;
}

/* {user, rooms:[{name, network, network6, admin, capacity, members_total, members:[{user,
 * address, address6}]}]}: the rooms the user is in, with their members (as many as fit).
 * A member's address6 only when its IPv6 address on its LAN is known: the one the rooms'
 * legs carry (docs/rooms.md); null otherwise, as for a room without an IPv6 network. */
static int list_rooms(struct db *db, const char *user, json_t **out)
{
	json_t *rooms = NULL, *r, *full, *members, *m;
	size_t i, k;
	int rc = db_room_list(db, user, &rooms);

	if (rc)
		return rc;
	json_array_foreach(rooms, i, r) {
		if ((rc = db_room_show(db, json_string_value(json_object_get(r, "name")), &full)))
			break;
		members = json_array();
		json_array_foreach(json_object_get(full, "members"), k, m)
			json_array_append_new(members, json_pack(
				"{s:O,s:O,s:O}", "user", json_object_get(m, "user"),
				"address", json_object_get(m, "address"),
				"address6", json_is_string(json_object_get(m, "host6")) ?
					json_object_get(m, "address6") : json_null()));
		json_object_set_new(r, "members_total", json_integer((json_int_t)json_array_size(members)));
		json_object_set_new(r, "members", members);
		json_object_del(r, "banned");
		json_decref(full);
	}
	if (rc) {
		json_decref(rooms);
		return rc;
	}
	*out = fit_budget(json_pack("{s:s,s:o}", "user", user, "rooms", rooms));
	return *out ? 0 : -ENOMEM;
}

static int quick_action(struct api_peer *p, const struct room_req *req, json_t **reply)
{
	struct db *db = p->srv->db;
	int64_t now = p->srv->now();
	char host[IP_STRLEN];

	switch (req->action) {
	case ROOM_LIST:
		return list_rooms(db, req->user, reply);
	case ROOM_LEAVE:
		return db_room_leave(db, req->room, req->user,
				     ip_addr_format(&req->host, host, sizeof host), "leave",
				     req->user, now);
	case ROOM_KICK:
		return db_room_leave(db, req->room, req->target, NULL, "kick", req->user, now);
	case ROOM_BAN:
		return db_room_ban(db, req->room, req->target, req->user, now);
	case ROOM_UNBAN:
		return db_room_unban(db, req->room, req->target, req->user, now);
	case ROOM_DELETE:
		return db_room_remove(db, req->room, req->user, now);
	default:
		return INSEL_E_BAD_FIELD;
	}
}

static bool admin_only(enum room_action a)
{
	return a == ROOM_KICK || a == ROOM_BAN || a == ROOM_UNBAN || a == ROOM_PASSWD ||
	       a == ROOM_DELETE;
}

void room_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	char why[ROOM_WHY_LEN], hash[PASSWD_HASH_STRLEN] = "";
	const char *lan;
	struct room_req req;
	json_t *reply = NULL;
	int rc;

	if ((rc = room_req_decode(msg, true, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	lan = strchr(req.user, '@') + 1;
	if (!db_secondary_serves(p->srv->db, p->id.name, lan)) {
		api_reply_error(p, id, INSEL_E_FORBIDDEN, "secondary %s does not serve LAN %s",
				p->id.name, lan);
		return;
	}
	if (req.action != ROOM_LIST && req.action != ROOM_CREATE &&
	    db_room_hash(p->srv->db, req.room, hash, sizeof hash)) {
		api_reply_wire(p, id, WERR_UNKNOWN_ROOM, "no room named %s", req.room);
		return;
	}
	if (admin_only(req.action) && !db_room_is_admin(p->srv->db, req.room, req.user)) {
		api_reply_wire(p, id, WERR_NOT_ROOM_ADMIN, "%s is not the administrator of room %s",
			       req.user, req.room);
		return;
	}
	if (req.action == ROOM_CREATE || req.action == ROOM_JOIN || req.action == ROOM_PASSWD) {
		start_job(p, id, &req, req.action == ROOM_JOIN ? hash : NULL);
		secure_wipe(hash, sizeof hash);
		return;
	}
	rc = quick_action(p, &req, &reply);
	if (rc == INSEL_E_NOT_FOUND && req.action == ROOM_LEAVE)
		api_reply_wire(p, id, WERR_UNKNOWN_ROOM, "%s", db_errmsg(p->srv->db));
	else if (rc)
		reply_room_error(p, id, rc);
	else
		api_reply_ok(p, id, reply);
	if (!rc && req.action != ROOM_LIST)
		log_info("room %s: %s by %s%s%s", req.room, room_action_name(req.action), req.user,
			 req.target ? " of " : "", req.target ? req.target : "");
}
