/* Rooms in the directory (schema/009_rooms.sql, docs/rooms.md): virtual LANs that users on
 * any site join, each member getting an address of the room's network from the principal.
 *
 * The functions follow db.h's contract: 0 or a negative error, one transaction per write,
 * nothing changed on a refusal, and db_errmsg() holding a sentence for the person who
 * asked ("room games is full (8 members)"). Join passwords are checked by the caller
 * (db_room_hash gives the stored hash; principal/passwd.h verifies it), because hashing is
 * slow and a daemon does it off its event loop. `by` names who acts, for the record: a
 * user "name@lan" or "operator". */
#ifndef INSEL_PRINCIPAL_DB_ROOMS_H
#define INSEL_PRINCIPAL_DB_ROOMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "db.h"
#include "room_ops.h"

#define ROOM_LEN_MIN 8            /* IPv4 network lengths a room may have */
#define ROOM_LEN_MAX 30
#define ROOM_LEN6_MIN 64          /* and IPv6 ones */
#define ROOM_LEN6_MAX 120
#define ROOM_CAPACITY_MAX 4096
#define ROOM_CAPACITY_DEFAULT 254 /* or fewer when the network holds fewer */
#define ROOM_EVENTS_SHOWN 50      /* the newest events db_room_show gives */

/* Room names follow room_name_valid() (room_ops.h), shared with the client and the
 * secondary, and are quoted back with room_quote(). */

struct db_room_new {
	const char *name;
	const struct ip_prefix *network;   /* IPv4 */
	const struct ip_prefix *network6;  /* NULL: none */
	const char *hash;                  /* passwd_hash() of the join password */
	const char *admin;                 /* "name@lan", NULL: only the operator */
	int64_t capacity;                  /* 0: the default */
	const char *by;
};
/* Refuses (with a sentence) a bad name, a network of the wrong family or length, one that
 * overlaps another room or a LAN prefix, an unknown administrator, a capacity the
 * network cannot hold, and a name already taken. */
int db_room_add(struct db *db, const struct db_room_new *r, int64_t now);
/* Deletes a room with its members and bans; the record keeps a 'delete' event. */
int db_room_remove(struct db *db, const char *room, const char *by, int64_t now);
int db_room_set_hash(struct db *db, const char *room, const char *hash, const char *by,
		     int64_t now);
/* Copies the room's join password hash (INSEL_E_NOT_FOUND for no such room). */
int db_room_hash(struct db *db, const char *room, char *out, size_t outlen);
/* Whether user ("name@lan") administers the room. */
bool db_room_is_admin(struct db *db, const char *room, const char *user);

/* Makes user a member from host (its address on the user's LAN, which must lie in that
 * LAN's prefixes) and gives it a room address: the one it had last time if free, else the
 * lowest free one. Already a member from that host: the same address again, no change.
 * Refuses a banned user (INSEL_E_REFUSED), a full room (INSEL_E_LIMIT) and a host off
 * the user's LAN (INSEL_E_FORBIDDEN). host6 (NULL: none) is the host's IPv6 address on the
 * same LAN, kept (and changed on a later join from host) when the room has an IPv6
 * network, so that its gateway maps it to address6; checked like host (an IPv6 unicast
 * address in a prefix of the user's LAN).
 * *member (if out non-NULL): {room, user, host, host6, address, address6}. */
int db_room_join(struct db *db, const char *room, const char *user, const char *host,
		 const char *host6, const char *by, int64_t now, json_t **member);
/* Takes user out of the room: from host, or from every host when host is NULL.
 * kind is "leave" or "kick" (for the record). INSEL_E_NOT_FOUND if it was no member. */
int db_room_leave(struct db *db, const char *room, const char *user, const char *host,
		  const char *kind, const char *by, int64_t now);
/* Bans user (it leaves at once, and may not join again until unbanned). */
int db_room_ban(struct db *db, const char *room, const char *user, const char *by,
		int64_t now);
int db_room_unban(struct db *db, const char *room, const char *user, const char *by,
		  int64_t now);

/* Rooms, with user non-NULL only those it is a member of:
 * [{name, network, network6, admin, capacity, members, banned, created_at}] */
int db_room_list(struct db *db, const char *user, json_t **out);
/* One room as listed, with lists in place of the counts: the members
 * members:[{user, lan, host, address, address6, joined_at}],
 * bans:[{user, by, at}] and events:[{kind, user, host, address, by, at}] (oldest first,
 * the newest ROOM_EVENTS_SHOWN). */
int db_room_show(struct db *db, const char *room, json_t **out);

/* The "rooms" notice (room_view.h) for the gateway secondary: every room its LAN has a
 * member in, with all members (their host addresses only for its own LAN's). *out NULL
 * when that secondary serves no LAN now (a standby). */
int db_room_gateway_notice(struct db *db, const char *secondary, json_t **out);
/* A number that changes whenever any room's membership, or which secondary serves a
 * LAN, changes (-1 on an error): whether the notices above are worth computing. */
int64_t db_room_fingerprint(struct db *db);

#endif
