/* The `room` request and its replies, shared by the three roles that pass it on
 * (docs/rooms.md): `insel` sends it to its secondary (client API), the secondary adds who
 * asks and from which LAN host and sends it on to the principal (principal API), which
 * holds the rooms. One struct, one encoder, one validating decoder for both hops, and a
 * checker for the replies, so that the client, the secondary and the principal agree on
 * every field and its limits.
 *
 *   {"op":"room","action":"create","room":"games","password":"...",
 *    "network":"172.30.0.0/24","network6":"fd30::/64"?,"capacity":8?}
 *   {"op":"room","action":"join","room":"games","password":"...","host6":"fd01::11"?}
 *   {"op":"room","action":"leave"|"delete","room":"games"}
 *   {"op":"room","action":"kick"|"ban"|"unban","room":"games","target":"bob@lan-b"}
 *   {"op":"room","action":"passwd","room":"games","password":"..."}
 *   {"op":"room","action":"list"}
 * plus, from the secondary to the principal, "user":"alice@lan-a" and "host":"10.1.0.5".
 * A join's host6 is the host's own word for its IPv6 address on the LAN (the client finds
 * it; its gateway passes it on only inside the LAN's IPv6 prefixes), which an IPv6 room
 * maps to the member's address6.
 * Replies: join {member:{room, user, address, address6?}}; list {user, rooms:[{name, network,
 * network6?, admin?, capacity, members_total?, members:[{user, address, address6?}]}]} (a
 * room's members past what fits in one frame are left out: members_total counts them all);
 * the others {}. */
#ifndef INSEL_ROOM_OPS_H
#define INSEL_ROOM_OPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define ROOM_NAME_MAX 15          /* a network interface's name: IFNAMSIZ - 1 */
#define ROOM_PASSWORD_MAX 1024    /* bytes, as user passwords */
#define ROOM_USER_MAX 129         /* "name@lan" */
#define ROOM_WHY_LEN 256
#define ROOM_LIST_MAX 256         /* rooms in a list reply */
#define ROOM_MEMBERS_MAX 4096     /* members of one room in a list reply */

enum room_action {
	ROOM_CREATE,
	ROOM_JOIN,
	ROOM_LEAVE,
	ROOM_LIST,
	ROOM_KICK,
	ROOM_BAN,
	ROOM_UNBAN,
	ROOM_PASSWD,
	ROOM_DELETE,
	ROOM_ACTIONS
};

struct room_req {
	enum room_action action;
	const char *room;                  /* every action but list */
	const char *password;              /* create, join, passwd */
	struct ip_prefix network;          /* create */
	bool has_network6;
	struct ip_prefix network6;         /* create, optional */
	int64_t capacity;                  /* create, optional: 0 for the default */
	const char *target;                /* kick, ban, unban: "name@lan" */
	const char *user;                  /* secondary -> principal: who asks, "name@lan" */
	bool has_host;
	struct ip_addr host;               /* secondary -> principal: from which LAN host */
	bool has_host6;
	struct ip_addr host6;              /* join, optional: its IPv6 address on the LAN */
};

/* 1..15 of a-z 0-9 _ -, starting with a letter or a digit: what a network interface may
 * be called and a shell passes through unquoted. */
bool room_name_valid(const char *name);
/* Writes text into out (outlen > 4) with every byte outside printable ASCII, and the
 * backslash, as \xNN, cut with "..." to fit: a refused hostile name quoted back safely. */
void room_quote(const char *text, char *out, size_t outlen);

const char *room_action_name(enum room_action a);
/* The action of its name; false if none. */
bool room_action_of(const char *name, enum room_action *out);

/* The request; user and host are sent when set (the secondary's hop). The JSON strings
 * are the struct's until the struct's owner frees what they point into. */
json_t *room_req_encode(json_int_t id, const struct room_req *r);
/* Decodes and checks a request: each action's fields present and valid (a room name by
 * the rule above, a network of IPv4 /8../30 with no host bits, an IPv6 one /64../120,
 * a capacity 1..4096, names of users as NAME@LAN). With from_secondary, user and host are
 * required; without, they must be absent (a client may not say who it is). The strings
 * point into msg. INSEL_E_BAD_FIELD with a sentence in why. */
int room_req_decode(const json_t *msg, bool from_secondary, struct room_req *out,
		    char why[ROOM_WHY_LEN]);

/* Checks an ok reply to action a has the fields above, of the right types and sizes.
 * 0, or INSEL_E_BAD_FIELD with a sentence in why. */
int room_reply_check(const json_t *reply, enum room_action a, char why[ROOM_WHY_LEN]);

#endif
