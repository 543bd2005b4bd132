/* Rooms in the directory (db_rooms.h): validation, address allocation and the record of
 * what happened. Room operations are rare next to look-ups, so their statements are
 * prepared when used rather than kept in db.c's table. The schema's triggers keep the
 * same rules (capacity, bans, addresses inside the network) for any writer; the checks
 * here come first so that a refusal is a sentence for people, not SQLite's. */
#include "db_rooms.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db_internal.h"
#include "err.h"
#include "room_view.h"

/* ---- helpers ---- */

static int prepare(struct db *db, const char *sql, struct db_st **st)
{
	if (db_prepare(db, sql, st))
		return db_engine_error(db, "cannot prepare a room query");
	return 0;
}

/* Runs a write of up to four text bindings (NULL binds NULL) and an integer at ?5. */
static int exec_write(struct db *db, const char *sql, const char *t1, const char *t2,
		      const char *t3, const char *t4, int64_t i5, const char *what)
{
	struct db_st *st;
	int rc = prepare(db, sql, &st);

	if (rc)
		return rc;
	db_bind_text_or_null(st, 1, t1);
	db_bind_text_or_null(st, 2, t2);
	db_bind_text_or_null(st, 3, t3);
	db_bind_text_or_null(st, 4, t4);
	st_bind_int64(st, 5, i5);
	rc = db_exec_stmt(db, st, what);
	st_finalize(st);
	return rc;
}

static int log_event(struct db *db, const char *room, const char *kind, const char *user,
		     const char *host, const char *address, const char *by, int64_t now)
{
	struct db_st *st;
	int rc = prepare(db, "INSERT INTO room_events (room, kind, \"user\", host, address, "
			 "\"by\", at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st);

	if (rc)
		return rc;
	db_bind_text_or_null(st, 1, room);
	db_bind_text_or_null(st, 2, kind);
	db_bind_text_or_null(st, 3, user);
	db_bind_text_or_null(st, 4, host);
	db_bind_text_or_null(st, 5, address);
	db_bind_text_or_null(st, 6, by ? by : "operator");
	st_bind_int64(st, 7, now);
	rc = db_exec_stmt(db, st, "cannot record a room event");
	st_finalize(st);
	return rc;
}

static int check_room_name(struct db *db, const char *room)
{
	char quoted[64];

	if (room_name_valid(room))
		return 0;
	room_quote(room, quoted, sizeof quoted);
	return db_set_error(db, INSEL_E_BAD_FIELD,
			    "invalid room name '%s': use 1-%d of a-z 0-9 _ -, starting with a "
			    "letter or digit (it names a network interface)", quoted, ROOM_NAME_MAX);
}

/* What the room operations need of a room row. */
struct room_row {
	int64_t id;
	uint32_t net;        /* host order */
	unsigned len;
	int64_t capacity;
	bool has6;
	struct ip_prefix net6;
};

static uint32_t v4_of(const struct ip_addr *a)
{
	return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	       (uint32_t)a->bytes[2] << 8 | a->bytes[3];
}

static int64_t slots_of(unsigned len)
{
	return ((int64_t)1 << (32 - len)) - 2;
}

static int room_get(struct db *db, const char *room, struct room_row *r)
{
	struct db_st *st;
	int rc = check_room_name(db, room);

	if (rc || (rc = prepare(db, "SELECT id, net, len, capacity, network6 FROM rooms "
				"WHERE name = ?1", &st)))
		return rc;
	st_bind_text(st, 1, room);
	rc = st_step(st);
	if (rc == DB_ROW && st_col_bytes(st, 1) == 4) {
		const unsigned char *b = st_col_blob(st, 1);

		memset(r, 0, sizeof *r);
		r->id = st_col_int64(st, 0);
		r->net = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		r->len = (unsigned)(int)st_col_int64(st, 2);
		r->capacity = st_col_int64(st, 3);
		r->has6 = !st_col_null(st, 4) &&
			  ip_prefix_parse((const char *)st_col_text(st, 4), true,
					  &r->net6) == 0;
		rc = 0;
	} else if (rc == DB_ROW || rc == DB_DONE) {
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no room named %s", room);
	} else {
		rc = db_engine_error(db, "cannot read the room");
	}
	st_finalize(st);
	return rc;
}

/* The id and LAN of user "name@lan". */
static int user_get(struct db *db, const char *user, int64_t *id, int64_t *lan_id)
{
	char name[DB_NAME_MAX + 1], lan[DB_NAME_MAX + 1], quoted[160];
	struct db_st *st;
	int rc;

	if (db_split_user(user, name, lan)) {
		room_quote(user, quoted, sizeof quoted);
		return db_set_error(db, INSEL_E_BAD_FIELD, "'%s' is not a valid user@lan",
				    quoted);
	}
	if ((rc = prepare(db, "SELECT u.id, u.lan_id FROM users u JOIN lans l ON "
			  "l.id = u.lan_id WHERE u.name = ?1 AND l.name = ?2", &st)))
		return rc;
	st_bind_text(st, 1, name);
	st_bind_text(st, 2, lan);
	rc = st_step(st);
	if (rc == DB_ROW) {
		*id = st_col_int64(st, 0);
		if (lan_id)
			*lan_id = st_col_int64(st, 1);
		rc = 0;
	} else if (rc == DB_DONE) {
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no user %s", user);
	} else {
		rc = db_engine_error(db, "cannot read the user");
	}
	st_finalize(st);
	return rc;
}

/* One integer from a query binding (?1, ?2) as integers; -1 when there is no row. */
static int64_t query_int(struct db *db, const char *sql, int64_t a, int64_t b)
{
	struct db_st *st;
	int64_t v = -1;

	if (prepare(db, sql, &st))
		return -1;
	st_bind_int64(st, 1, a);
	st_bind_int64(st, 2, b);
	if (st_step(st) == DB_ROW)
		v = st_col_int64(st, 0);
	st_finalize(st);
	return v;
}

/* ---- creating and deleting ---- */

static int check_network(struct db *db, const struct db_room_new *r)
{
	const struct ip_prefix *p = r->network;
	char text[IP_STRLEN];

	if (!p || p->addr.family != AF_INET || p->len < ROOM_LEN_MIN || p->len > ROOM_LEN_MAX)
		return db_set_error(db, INSEL_E_BAD_FIELD,
				    "a room's network is IPv4, /%d to /%d (e.g. 172.30.0.0/24)",
				    ROOM_LEN_MIN, ROOM_LEN_MAX);
	if (r->network6 && (r->network6->addr.family != AF_INET6 || r->network6->len < ROOM_LEN6_MIN ||
			    r->network6->len > ROOM_LEN6_MAX))
		return db_set_error(db, INSEL_E_BAD_FIELD,
				    "a room's IPv6 network is /%d to /%d (e.g. fd30::/64)",
				    ROOM_LEN6_MIN, ROOM_LEN6_MAX);
	if (r->network6 && r->network6->len - p->len > 96)
		return db_set_error(db, INSEL_E_BAD_FIELD,
				    "IPv6 network /%u is too small for IPv4 network /%u: a member has "
				    "one number in both, so use /%u or shorter",
				    r->network6->len, p->len, p->len + 96);
	ip_prefix_format(p, text, sizeof text);
	if (r->capacity < 0 || r->capacity > ROOM_CAPACITY_MAX ||
	    r->capacity > slots_of(p->len))
		return db_set_error(db, INSEL_E_BAD_FIELD,
				    "capacity %lld does not fit: %s holds %lld members (and at most "
				    "%d are allowed)", (long long)r->capacity, text,
				    (long long)slots_of(p->len), ROOM_CAPACITY_MAX);
	return 0;
}

/* Another room or a LAN prefix the new network overlaps, named in the refusal. */
static int check_overlaps(struct db *db, const struct ip_prefix *p, const struct ip_prefix *p6)
{
	struct db_st *st;
	char text[IP_STRLEN];
	int rc;

	if ((rc = prepare(db, "SELECT name, network, network6 FROM rooms", &st)))
		return rc;
	while (!rc && st_step(st) == DB_ROW) {
		const char *name = db_col_text(st, 0);
		struct ip_prefix other;

		for (int col = 1; col <= 2 && !rc; col++) {
			const char *net = db_col_text(st, col);
			const struct ip_prefix *mine = col == 1 ? p : p6;

			if (mine && net && ip_prefix_parse(net, true, &other) == 0 &&
			    ip_prefix_overlap(mine, &other))
				rc = db_set_error(db, INSEL_E_CONFLICT,
						  "network %s overlaps %s of room %s",
						  ip_prefix_format(mine, text, sizeof text), net, name);
		}
	}
	st_finalize(st);
	for (int i = 0; i < 2 && !rc; i++) {
		const struct ip_prefix *mine = i == 0 ? p : p6;
		char lan[DB_NAME_MAX + 1], prefix[IP_STRLEN];
		struct ip_addr last;

		if (!mine)
			continue;
		/* Any LAN prefix holding the network's first or last address, or inside it. */
		db_prefix_last(mine, &last);
		for (int k = 0; k < 2 && !rc; k++) {
			rc = db_match_address(db, k ? &last : &mine->addr, lan, sizeof lan,
					      prefix, sizeof prefix);
			if (!rc && lan[0])
				rc = db_set_error(db, INSEL_E_CONFLICT,
						  "network %s overlaps %s of LAN %s",
						  ip_prefix_format(mine, text, sizeof text), prefix,
						  lan);
		}
		if (!rc && i == 0 && (rc = prepare(db, "SELECT m.prefix, l.name FROM lan_maps m "
					 "JOIN lans l ON l.id = m.lan_id WHERE ?1 = 4 AND "
					 "m.network <= ?3 AND m.last_addr >= ?2 LIMIT 1", &st)) == 0) {
			db_bind_prefix(st, 1, mine);
			if (st_step(st) == DB_ROW)
				rc = db_set_error(db, INSEL_E_CONFLICT,
						  "network %s overlaps the mapped prefix %s of LAN %s",
						  ip_prefix_format(mine, text, sizeof text),
						  db_col_text(st, 0), db_col_text(st, 1));
			st_finalize(st);
		}
		if (!rc && (rc = prepare(db, "SELECT p.prefix, l.name FROM lan_prefixes p JOIN "
					 "lans l ON l.id = p.lan_id WHERE p.family = ?1 AND "
					 "p.network >= ?2 AND p.network <= ?3 LIMIT 1", &st)) == 0) {
			db_bind_prefix(st, 1, mine);
			if (st_step(st) == DB_ROW)
				rc = db_set_error(db, INSEL_E_CONFLICT,
						  "network %s overlaps %s of LAN %s",
						  ip_prefix_format(mine, text, sizeof text),
						  db_col_text(st, 0), db_col_text(st, 1));
			st_finalize(st);
		}
	}
	return rc;
}

static int room_add_tx(struct db *db, const struct db_room_new *r, int64_t now)
{
	char net[IP_STRLEN], net6[IP_STRLEN];
	int64_t admin_id = 0, capacity = r->capacity;
	struct db_st *st;
	int rc;

	if ((rc = check_room_name(db, r->name)) || (rc = check_network(db, r)) ||
	    (r->admin && (rc = user_get(db, r->admin, &admin_id, NULL))) ||
	    (rc = check_overlaps(db, r->network, r->network6)))
		return rc;
	if (room_get(db, r->name, &(struct room_row){0}) == 0)
		return db_set_error(db, INSEL_E_EXISTS, "room %s exists already", r->name);
	if (capacity == 0)
		capacity = slots_of(r->network->len) < ROOM_CAPACITY_DEFAULT
				   ? slots_of(r->network->len) : ROOM_CAPACITY_DEFAULT;
	if ((rc = prepare(db, "INSERT INTO rooms (name, network, net, len, network6, len6, "
			  "password_hash, admin_user_id, capacity, created_at) VALUES "
			  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", &st)))
		return rc;
	st_bind_text(st, 1, r->name);
	st_bind_text(st, 2, ip_prefix_format(r->network, net, sizeof net));
	st_bind_blob(st, 3, r->network->addr.bytes, 4);
	st_bind_int64(st, 4, (int)r->network->len);
	if (r->network6) {
		st_bind_text(st, 5, ip_prefix_format(r->network6, net6, sizeof net6));
		st_bind_int64(st, 6, (int)r->network6->len);
	}
	st_bind_text(st, 7, r->hash);
	if (admin_id)
		st_bind_int64(st, 8, admin_id);
	st_bind_int64(st, 9, capacity);
	st_bind_int64(st, 10, now);
	rc = db_exec_stmt(db, st, "cannot add the room");
	st_finalize(st);
	return rc ? rc : log_event(db, r->name, "create", NULL, NULL, NULL, r->by, now);
}

int db_room_add(struct db *db, const struct db_room_new *r, int64_t now)
{
	int rc = db_tx_begin(db);

	if (rc)
		return rc;
	return db_tx_end(db, room_add_tx(db, r, now));
}

int db_room_remove(struct db *db, const char *room, const char *by, int64_t now)
{
	struct room_row r;
	int rc = db_tx_begin(db);

	if (rc)
		return rc;
	if (!(rc = room_get(db, room, &r)) &&
	    !(rc = exec_write(db, "DELETE FROM rooms WHERE name = ?1", room, NULL, NULL, NULL, 0,
			      "cannot delete the room")))
		rc = log_event(db, room, "delete", NULL, NULL, NULL, by, now);
	return db_tx_end(db, rc);
}

int db_room_set_hash(struct db *db, const char *room, const char *hash, const char *by,
		     int64_t now)
{
	struct room_row r;
	int rc = db_tx_begin(db);

	if (rc)
		return rc;
	if (!(rc = room_get(db, room, &r)) &&
	    !(rc = exec_write(db, "UPDATE rooms SET password_hash = ?2 WHERE name = ?1", room,
			      hash, NULL, NULL, 0, "cannot change the room's password")))
		rc = log_event(db, room, "password", NULL, NULL, NULL, by, now);
	return db_tx_end(db, rc);
}

int db_room_hash(struct db *db, const char *room, char *out, size_t outlen)
{
	struct db_st *st;
	int rc = check_room_name(db, room);

	if (rc || (rc = prepare(db, "SELECT password_hash FROM rooms WHERE name = ?1", &st)))
		return rc;
	st_bind_text(st, 1, room);
	if (st_step(st) == DB_ROW)
		rc = snprintf(out, outlen, "%s", db_col_text(st, 0)) < (int)outlen
			     ? 0 : db_set_error(db, INSEL_E_TOO_BIG, "room hash too long");
	else
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no room named %s", room);
	st_finalize(st);
	return rc;
}

bool db_room_is_admin(struct db *db, const char *room, const char *user)
{
	struct room_row r;
	int64_t uid;

	if (room_get(db, room, &r) || user_get(db, user, &uid, NULL))
		return false;
	return query_int(db, "SELECT 1 FROM rooms WHERE id = ?1 AND admin_user_id = ?2",
			 r.id, uid) == 1;
}

/* ---- members ---- */

static void slot_addresses(const struct room_row *r, int64_t slot, char v4[IP_STRLEN],
			   char v6[IP_STRLEN])
{
	uint32_t a = r->net + (uint32_t)slot;
	struct ip_addr x = {.family = AF_INET};

	x.bytes[0] = (uint8_t)(a >> 24);
	x.bytes[1] = (uint8_t)(a >> 16);
	x.bytes[2] = (uint8_t)(a >> 8);
	x.bytes[3] = (uint8_t)a;
	ip_addr_format(&x, v4, IP_STRLEN);
	v6[0] = '\0';
	if (r->has6) {
		x = r->net6.addr;
		for (int i = 0; i < 4; i++)
			x.bytes[15 - i] |= (uint8_t)((uint64_t)slot >> (8 * i));
		ip_addr_format(&x, v6, IP_STRLEN);
	}
}

/* The slot user had from host the last time it joined, if that address is still inside
 * the network (the room may have been deleted and made again); 0 if none. */
static int64_t previous_slot(struct db *db, const struct room_row *r, const char *room,
			     const char *user, const char *host)
{
	struct db_st *st;
	struct ip_addr a;
	int64_t slot = 0;

	if (prepare(db, "SELECT address FROM room_events WHERE room = ?1 AND \"user\" = ?2 AND "
		    "host = ?3 AND kind = 'join' ORDER BY id DESC LIMIT 1", &st))
		return 0;
	st_bind_text(st, 1, room);
	st_bind_text(st, 2, user);
	st_bind_text(st, 3, host);
	if (st_step(st) == DB_ROW && db_col_text(st, 0) &&
	    ip_addr_parse(db_col_text(st, 0), &a) == 0 && a.family == AF_INET) {
		int64_t s = (int64_t)v4_of(&a) - (int64_t)r->net;

		if (s >= 1 && s <= slots_of(r->len))
			slot = s;
	}
	st_finalize(st);
	return slot;
}

/* The previous slot if free, else the lowest free one; 0 if none is (the capacity
 * trigger refuses first in practice). */
static int64_t choose_slot(struct db *db, const struct room_row *r, int64_t wanted)
{
	struct db_st *st;
	int64_t next = 1;

	if (wanted && query_int(db, "SELECT 1 FROM room_members WHERE room_id = ?1 AND "
				"slot = ?2", r->id, wanted) != 1)
		return wanted;
	if (prepare(db, "SELECT slot FROM room_members WHERE room_id = ?1 ORDER BY slot", &st))
		return 0;
	st_bind_int64(st, 1, r->id);
	while (st_step(st) == DB_ROW && st_col_int64(st, 0) == next)
		next++;
	st_finalize(st);
	return next <= slots_of(r->len) ? next : 0;
}

static json_t *member_json(const char *room, const char *user, const char *host,
			   const char *host6, const char *v4, const char *v6)
{
	return json_pack("{s:s,s:s,s:s,s:o,s:s,s:o}", "room", room, "user", user, "host", host,
			 "host6", host6 && v6[0] ? json_string(host6) : json_null(),
			 "address", v4, "address6", v6[0] ? json_string(v6) : json_null());
}

/* The member's current address from host, if it is one. */
static bool current_member(struct db *db, const struct room_row *r, int64_t uid,
			   const char *host, char v4[IP_STRLEN], char v6[IP_STRLEN])
{
	struct db_st *st;
	bool found = false;

	if (prepare(db, "SELECT slot FROM room_members WHERE room_id = ?1 AND user_id = ?2 AND "
		    "host = ?3", &st))
		return false;
	st_bind_int64(st, 1, r->id);
	st_bind_int64(st, 2, uid);
	st_bind_text(st, 3, host);
	if (st_step(st) == DB_ROW) {
		slot_addresses(r, st_col_int64(st, 0), v4, v6);
		found = true;
	}
	st_finalize(st);
	return found;
}

static int check_host(struct db *db, const char *user, int64_t lan_id, const char *host,
		      int family, char canon[IP_STRLEN])
{
	char quoted[80], lan[DB_NAME_MAX + 1], prefix[IP_STRLEN];
	struct ip_addr a;
	int64_t host_lan;

	room_quote(host, quoted, sizeof quoted);
	if (!host || ip_addr_parse(host, &a) || a.family != family)
		return db_set_error(db, INSEL_E_BAD_FIELD, "'%s' is not an %s host address%s",
				    quoted, family == AF_INET6 ? "IPv6" : "IPv4",
				    family == AF_INET6 ? "" : " (a member's host is its IPv4 address "
				    "on the LAN, which the room maps; its IPv6 one is host6)");
	if (a.family == AF_INET6 && (a.bytes[0] == 0xff || (a.bytes[0] == 0xfe &&
							   (a.bytes[1] & 0xc0) == 0x80)))
		return db_set_error(db, INSEL_E_BAD_FIELD, "host %s is multicast or link-local: "
				    "give the host's address on the LAN's IPv6 prefix", quoted);
	ip_addr_format(&a, canon, IP_STRLEN);
	/* The user's own LAN first: its prefix may overlap another LAN's (overlap.md). */
	if (db_match_address_in(db, &a, strchr(user, '@') ? strchr(user, '@') + 1 : NULL, lan,
				sizeof lan, prefix, sizeof prefix, NULL) || !lan[0] ||
	    db_lan_id(db, lan, &host_lan) || host_lan != lan_id)
		return db_set_error(db, INSEL_E_FORBIDDEN, "host %s is not on the LAN of %s",
				    canon, user);
	return 0;
}

/* A member from host gives (or changes) its IPv6 address: kept, so that its gateway
 * maps it from now on (the slot, hence the room addresses, stay). */
static int set_host6(struct db *db, const struct room_row *r, int64_t uid, const char *host,
		     const char *host6)
{
	struct db_st *st;
	int rc;

	if ((rc = prepare(db, "UPDATE room_members SET host6 = ?4 WHERE room_id = ?1 AND "
			  "user_id = ?2 AND host = ?3 AND host6 IS NOT ?4", &st)))
		return rc;
	st_bind_int64(st, 1, r->id);
	st_bind_int64(st, 2, uid);
	st_bind_text(st, 3, host);
	db_bind_text_or_null(st, 4, host6);
	rc = db_exec_stmt(db, st, "cannot update the member");
	st_finalize(st);
	return rc;
}

/* A room's leg between two gateways is a network call, whose sides carry
 * ROOM_LEG_MEMBERS room addresses each (room_view.h): a member counts one, two with its
 * IPv6 address. Checked after the member's row is written (the transaction rolls back
 * on refusal), so that a join past it is refused with a sentence instead of leaving a
 * member whom no leg carries. */
static int check_site_addresses(struct db *db, const struct room_row *r, int64_t lan_id,
				const char *room, const char *user)
{
	int64_t n = query_int(db, "SELECT count(*) + count(m.host6) FROM room_members m "
			      "JOIN users u ON u.id = m.user_id WHERE m.room_id = ?1 AND "
			      "u.lan_id = ?2", r->id, lan_id);

	if (n < 0)
		return db_engine_error(db, "cannot count the site's members");
	if (n > ROOM_LEG_MEMBERS)
		return db_set_error(db, INSEL_E_LIMIT, "room %s carries at most %d addresses of "
				    "one site (a member takes one, two with IPv6) and the site of "
				    "%s has that many already", room, ROOM_LEG_MEMBERS,
				    user);
	return 0;
}

static int room_join_tx(struct db *db, const char *room, const char *user, const char *host,
			const char *host6, const char *by, int64_t now, json_t **member)
{
	char v4[IP_STRLEN], v6[IP_STRLEN], canon[IP_STRLEN], canon6[IP_STRLEN] = "";
	struct room_row r;
	int64_t uid, lan_id, slot, count;
	struct db_st *st;
	int rc;

	/* host6 only matters (and is checked) when the room has an IPv6 network. */
	if ((rc = room_get(db, room, &r)) || (rc = user_get(db, user, &uid, &lan_id)) ||
	    (rc = check_host(db, user, lan_id, host, AF_INET, canon)) ||
	    (host6 && r.has6 && (rc = check_host(db, user, lan_id, host6, AF_INET6, canon6))))
		return rc;
	if (current_member(db, &r, uid, canon, v4, v6)) {
		/* A new IPv6 address is recorded as a join, which the gateways' notices follow. */
		if (canon6[0] && ((rc = set_host6(db, &r, uid, canon, canon6)) ||
				  (db_changes(db) &&
				   ((rc = check_site_addresses(db, &r, lan_id, room, user)) ||
				    (rc = log_event(db, room, "join", user, canon, v4, by, now))))))
			return rc;
		goto out;
	}
	if (query_int(db, "SELECT 1 FROM room_bans WHERE room_id = ?1 AND user_id = ?2", r.id,
		      uid) == 1)
		return db_set_error(db, INSEL_E_REFUSED, "%s is banned from room %s", user,
				    room);
	count = query_int(db, "SELECT count(*) FROM room_members WHERE room_id = ?1", r.id, 0);
	if (count >= r.capacity ||
	    !(slot = choose_slot(db, &r, previous_slot(db, &r, room, user, canon))))
		return db_set_error(db, INSEL_E_LIMIT, "room %s is full (%lld members)", room,
				    (long long)r.capacity);
	slot_addresses(&r, slot, v4, v6);
	if ((rc = prepare(db, "INSERT INTO room_members (room_id, user_id, host, slot, address, "
			  "address6, joined_at, host6) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			  &st)))
		return rc;
	st_bind_int64(st, 1, r.id);
	st_bind_int64(st, 2, uid);
	st_bind_text(st, 3, canon);
	st_bind_int64(st, 4, slot);
	st_bind_text(st, 5, v4);
	db_bind_text_or_null(st, 6, v6[0] ? v6 : NULL);
	st_bind_int64(st, 7, now);
	db_bind_text_or_null(st, 8, canon6[0] ? canon6 : NULL);
	rc = db_exec_stmt(db, st, "cannot add the member");
	st_finalize(st);
	if (rc || (rc = check_site_addresses(db, &r, lan_id, room, user)) ||
	    (rc = log_event(db, room, "join", user, canon, v4, by, now)))
		return rc;
out:
	if (member && !(*member = member_json(room, user, canon, canon6[0] ? canon6 : NULL, v4,
					       v6)))
		return db_set_error(db, -ENOMEM, "out of memory");
	return 0;
}

int db_room_join(struct db *db, const char *room, const char *user, const char *host,
		 const char *host6, const char *by, int64_t now, json_t **member)
{
	int rc = db_tx_begin(db);

	if (member)
		*member = NULL;
	if (rc)
		return rc;
	rc = db_tx_end(db, room_join_tx(db, room, user, host, host6, by, now, member));
	if (rc && member) {
		json_decref(*member);
		*member = NULL;
	}
	return rc;
}

/* Records one event per membership that ends, then ends them. */
static int room_leave_tx(struct db *db, const char *room, const char *user, const char *host,
			 const char *kind, const char *by, int64_t now)
{
	struct room_row r;
	struct db_st *st;
	int64_t uid;
	int n = 0, rc;

	if ((rc = room_get(db, room, &r)) || (rc = user_get(db, user, &uid, NULL)) ||
	    (rc = prepare(db, "SELECT host, address FROM room_members WHERE room_id = ?1 AND "
			  "user_id = ?2 AND (?3 IS NULL OR host = ?3)", &st)))
		return rc;
	st_bind_int64(st, 1, r.id);
	st_bind_int64(st, 2, uid);
	db_bind_text_or_null(st, 3, host);
	while (!rc && st_step(st) == DB_ROW) {
		rc = log_event(db, room, kind, user, db_col_text(st, 0), db_col_text(st, 1), by,
			       now);
		n++;
	}
	st_finalize(st);
	if (rc)
		return rc;
	if (n == 0)
		return db_set_error(db, INSEL_E_NOT_FOUND, "%s is not in room %s%s%s", user, room,
				    host ? " from " : "", host ? host : "");
	if ((rc = prepare(db, "DELETE FROM room_members WHERE room_id = ?1 AND user_id = ?2 "
			  "AND (?3 IS NULL OR host = ?3)", &st)))
		return rc;
	st_bind_int64(st, 1, r.id);
	st_bind_int64(st, 2, uid);
	db_bind_text_or_null(st, 3, host);
	rc = db_exec_stmt(db, st, "cannot remove the member");
	st_finalize(st);
	return rc;
}

int db_room_leave(struct db *db, const char *room, const char *user, const char *host,
		  const char *kind, const char *by, int64_t now)
{
	int rc = db_tx_begin(db);

	if (rc)
		return rc;
	return db_tx_end(db, room_leave_tx(db, room, user, host, kind, by, now));
}

static int room_ban_tx(struct db *db, const char *room, const char *user, bool ban,
		       const char *by, int64_t now)
{
	struct room_row r;
	int64_t uid, banned;
	struct db_st *st;
	int rc;

	if ((rc = room_get(db, room, &r)) || (rc = user_get(db, user, &uid, NULL)))
		return rc;
	banned = query_int(db, "SELECT 1 FROM room_bans WHERE room_id = ?1 AND user_id = ?2",
			   r.id, uid);
	if (ban && banned == 1)
		return db_set_error(db, INSEL_E_EXISTS, "%s is banned from room %s already",
				    user, room);
	if (!ban && banned != 1)
		return db_set_error(db, INSEL_E_NOT_FOUND, "%s is not banned from room %s", user,
				    room);
	if (ban && query_int(db, "SELECT count(*) FROM room_members WHERE room_id = ?1 AND "
			     "user_id = ?2", r.id, uid) > 0 &&
	    (rc = room_leave_tx(db, room, user, NULL, "kick", by, now)))
		return rc;
	if ((rc = prepare(db, ban ? "INSERT INTO room_bans (room_id, user_id, banned_by, "
				    "banned_at) VALUES (?1, ?2, ?3, ?4)"
				  : "DELETE FROM room_bans WHERE room_id = ?1 AND user_id = ?2",
			  &st)))
		return rc;
	st_bind_int64(st, 1, r.id);
	st_bind_int64(st, 2, uid);
	if (ban) {
		st_bind_text(st, 3, by ? by : "operator");
		st_bind_int64(st, 4, now);
	}
	rc = db_exec_stmt(db, st, "cannot change the room's bans");
	st_finalize(st);
	return rc ? rc : log_event(db, room, ban ? "ban" : "unban", user, NULL, NULL, by, now);
}

int db_room_ban(struct db *db, const char *room, const char *user, const char *by,
		int64_t now)
{
	int rc = db_tx_begin(db);

	if (rc)
		return rc;
	return db_tx_end(db, room_ban_tx(db, room, user, true, by, now));
}

int db_room_unban(struct db *db, const char *room, const char *user, const char *by,
		  int64_t now)
{
	int rc = db_tx_begin(db);

	if (rc)
		return rc;
	return db_tx_end(db, room_ban_tx(db, room, user, false, by, now));
}

/* ---- listings ---- */

#define ROOM_STR2(x) #x
#define ROOM_STR(x) ROOM_STR2(x)

#define ROOM_COLUMNS \
	"r.name, r.network, r.network6, " \
	"(SELECT u.name || '@' || l.name FROM users u JOIN lans l ON l.id = u.lan_id " \
	" WHERE u.id = r.admin_user_id), r.capacity, " \
	"(SELECT count(*) FROM room_members m WHERE m.room_id = r.id), " \
	"(SELECT count(*) FROM room_bans b WHERE b.room_id = r.id), r.created_at, r.id "

static json_t *room_json(struct db_st *st, const void *ctx)
{
	(void)ctx;
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "name", db_col_json_str(st, 0),
			 "network", db_col_json_str(st, 1), "network6", db_col_json_str(st, 2),
			 "admin", db_col_json_str(st, 3), "capacity", db_col_json_int(st, 4),
			 "members", db_col_json_int(st, 5), "banned", db_col_json_int(st, 6),
			 "created_at", db_col_json_int(st, 7));
}

int db_room_list(struct db *db, const char *user, json_t **out)
{
	int64_t uid = 0;
	struct db_st *st;
	int rc;

	*out = NULL;
	if (user && (rc = user_get(db, user, &uid, NULL)))
		return rc;
	if ((rc = prepare(db, "SELECT " ROOM_COLUMNS "FROM rooms r WHERE ?1 IS NULL OR "
			  "EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.id AND "
			  "m.user_id = ?1) ORDER BY r.name", &st)))
		return rc;
	if (user)
		st_bind_int64(st, 1, uid);
	rc = db_list_rows(db, st, room_json, NULL, "cannot list the rooms", out);
	st_finalize(st);
	return rc;
}

static json_t *member_row(struct db_st *st, const void *ctx)
{
	(void)ctx;
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "user", db_col_json_str(st, 0),
			 "lan", db_col_json_str(st, 1), "host", db_col_json_str(st, 2),
			 "address", db_col_json_str(st, 3), "address6", db_col_json_str(st, 4),
			 "joined_at", db_col_json_int(st, 5), "host6", db_col_json_str(st, 6));
}

static json_t *ban_row(struct db_st *st, const void *ctx)
{
	(void)ctx;
	return json_pack("{s:o,s:o,s:o}", "user", db_col_json_str(st, 0),
			 "by", db_col_json_str(st, 1), "at", db_col_json_int(st, 2));
}

static json_t *event_row(struct db_st *st, const void *ctx)
{
	(void)ctx;
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "kind", db_col_json_str(st, 0),
			 "user", db_col_json_str(st, 1), "host", db_col_json_str(st, 2),
			 "address", db_col_json_str(st, 3), "by", db_col_json_str(st, 4),
			 "at", db_col_json_int(st, 5));
}

/* Adds key: the rows of sql to obj, binding ?1 to name, or to id when name is NULL. */
static int add_rows(struct db *db, json_t *obj, const char *key, const char *sql,
		    int64_t id, const char *name, db_row_json_fn row)
{
	struct db_st *st;
	json_t *rows = NULL;
	int rc = prepare(db, sql, &st);

	if (rc)
		return rc;
	if (name)
		st_bind_text(st, 1, name);
	else
		st_bind_int64(st, 1, id);
	rc = db_list_rows(db, st, row, NULL, "cannot read the room", &rows);
	st_finalize(st);
	if (!rc)
		json_object_set_new(obj, key, rows);
	return rc;
}

static int room_show_read(struct db *db, const char *room, json_t **out)
{
	struct room_row r;
	struct db_st *st;
	json_t *list = NULL;
	int rc;

	if ((rc = room_get(db, room, &r)) ||
	    (rc = prepare(db, "SELECT " ROOM_COLUMNS "FROM rooms r WHERE r.id = ?1", &st)))
		return rc;
	st_bind_int64(st, 1, r.id);
	rc = db_list_rows(db, st, room_json, NULL, "cannot read the room", &list);
	st_finalize(st);
	if (rc)
		return rc;
	*out = json_incref(json_array_get(list, 0));
	json_decref(list);
	if (!*out)
		return db_set_error(db, INSEL_E_NOT_FOUND, "no room named %s", room);
	json_object_del(*out, "members");
	json_object_del(*out, "banned");
	if ((rc = add_rows(db, *out, "members",
			   "SELECT u.name || '@' || l.name, l.name, m.host, m.address, "
			   "m.address6, m.joined_at, m.host6 FROM room_members m JOIN users u ON "
			   "u.id = m.user_id JOIN lans l ON l.id = u.lan_id WHERE m.room_id = ?1 "
			   "ORDER BY m.slot", r.id, NULL, member_row)) ||
	    (rc = add_rows(db, *out, "bans",
			   "SELECT u.name || '@' || l.name, b.banned_by, b.banned_at FROM "
			   "room_bans b JOIN users u ON u.id = b.user_id JOIN lans l ON "
			   "l.id = u.lan_id WHERE b.room_id = ?1 ORDER BY b.banned_at", r.id,
			   NULL, ban_row)) ||
	    (rc = add_rows(db, *out, "events",
			   "SELECT kind, \"user\", host, address, \"by\", at FROM (SELECT * "
			   "FROM room_events WHERE room = ?1 ORDER BY id DESC LIMIT "
			   ROOM_STR(ROOM_EVENTS_SHOWN) ") AS e ORDER BY id",
			   0, room, event_row))) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

int db_room_show(struct db *db, const char *room, json_t **out)
{
	bool began = db_read_begin(db);
	int rc;

	*out = NULL;
	rc = room_show_read(db, room, out);
	db_read_end(db, began);
	return rc;
}

/* ---- what each gateway is told (the "rooms" notice, room_view.h) ---- */

static json_t *notice_room(json_t *rooms, const char *name, const char *network,
			   const char *network6)
{
	size_t n = json_array_size(rooms);
	json_t *last = n ? json_array_get(rooms, n - 1) : NULL;
	json_t *room;

	if (last && strcmp(json_string_value(json_object_get(last, "name")), name) == 0)
		return json_object_get(last, "members");
	room = json_pack("{s:s, s:s, s:[]}", "name", name, "network", network, "members");
	if (room && network6)
		json_object_set_new(room, "network6", json_string(network6));
	if (!room || json_array_append_new(rooms, room))
		return NULL;
	return json_object_get(room, "members");
}

/* The LAN the named secondary serves now, or "" if none. */
static int gateway_lan(struct db *db, const char *secondary, char *out, size_t outlen)
{
	struct db_st *st;
	int rc = prepare(db, "SELECT l.name FROM lans l JOIN secondaries s ON "
			 "s.id = l.secondary_id WHERE s.name = ?1 ORDER BY l.id LIMIT 1", &st);

	*out = 0;
	if (rc)
		return rc;
	st_bind_text(st, 1, secondary);
	rc = st_step(st);
	if (rc == DB_ROW)
		snprintf(out, outlen, "%s", (const char *)st_col_text(st, 0));
	st_finalize(st);
	return rc == DB_ROW || rc == DB_DONE ? 0
	       : db_engine_error(db, "cannot find a gateway's LAN");
}

int db_room_gateway_notice(struct db *db, const char *secondary, json_t **out)
{
	static const char *sql =
		"SELECT r.name, r.network, m.address, l.name, u.name || '@' || l.name, m.host, "
		"       l.name = g.name, r.network6, "
		"       CASE WHEN m.host6 IS NOT NULL THEN m.address6 END, m.host6 "
		"FROM (SELECT l2.name, l2.id FROM lans l2 JOIN secondaries s ON "
		"      s.id = l2.secondary_id WHERE s.name = ?1) g "
		"JOIN rooms r ON EXISTS (SELECT 1 FROM room_members m2 JOIN users u2 ON "
		"     u2.id = m2.user_id WHERE m2.room_id = r.id AND u2.lan_id = g.id) "
		"JOIN room_members m ON m.room_id = r.id JOIN users u ON u.id = m.user_id "
		"JOIN lans l ON l.id = u.lan_id ORDER BY r.name, m.slot";
	json_t *rooms, *notice;
	char lan[128];
	struct db_st *st;
	int rc;

	*out = NULL;
	if ((rc = gateway_lan(db, secondary, lan, sizeof lan)) || !*lan)
		return rc;  /* a standby, or no LAN yet: nothing to tell */
	rooms = json_array();
	if (!rooms)
		return -ENOMEM;
	if ((rc = prepare(db, sql, &st))) {
		json_decref(rooms);
		return rc;
	}
	st_bind_text(st, 1, secondary);
	while ((rc = st_step(st)) == DB_ROW) {
		json_t *members = notice_room(rooms, (const char *)st_col_text(st, 0),
					      (const char *)st_col_text(st, 1),
					      (const char *)st_col_text(st, 7));
		json_t *m = json_pack("{s:s, s:s, s:s}", "address",
				      (const char *)st_col_text(st, 2), "lan",
				      (const char *)st_col_text(st, 3), "user",
				      (const char *)st_col_text(st, 4));

		if (!members || !m) {
			json_decref(m);
			break;
		}
		if (st_col_text(st, 8))
			json_object_set_new(m, "address6", json_string((const char *)
							st_col_text(st, 8)));
		/* A host written before hosts had to be IPv4 (an IPv6 one, from a client
		 * connected over IPv6) is left out: the gateway would refuse the whole notice,
		 * and no leg can map it. */
		bool own = (int)st_col_int64(st, 6) && !strchr((const char *)st_col_text(st, 5),
								 ':');

		if (own)
			json_object_set_new(m, "host", json_string((const char *)
							st_col_text(st, 5)));
		if (own && st_col_text(st, 9))
			json_object_set_new(m, "host6", json_string((const char *)
							st_col_text(st, 9)));
		json_array_append_new(members, m);
	}
	st_finalize(st);
	if (rc != DB_DONE) {
		json_decref(rooms);
		return db_engine_error(db, "cannot list a gateway's rooms");
	}
	notice = json_pack("{s:s, s:s, s:o}", "op", "rooms", "lan", lan, "rooms", rooms);
	if (!notice)
		return -ENOMEM;
	*out = notice;
	return 0;
}

int64_t db_room_fingerprint(struct db *db)
{
	struct db_st *st;
	int64_t fp = -1;

	if (prepare(db, "SELECT (SELECT coalesce(max(id), 0) FROM room_events) * 1000003 + "
		    "(SELECT coalesce(sum(m.slot * 7919 + m.user_id * 31 + m.room_id), 0) + "
		    " count(*) FROM room_members m) * 10007 + "
		    "(SELECT coalesce(sum(id * 131 + coalesce(secondary_id, 0)), 0) FROM lans)",
		    &st))
		return -1;
	if (st_step(st) == DB_ROW)
		fp = st_col_int64(st, 0);
	st_finalize(st);
	return fp;
}
