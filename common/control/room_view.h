/* The "rooms" notice: what the principal tells a LAN's gateway about the rooms that LAN
 * has members in (docs/rooms.md, "The data path"). It is pushed on the gateway's link
 * whenever that changes (a join, leave, kick, ban, a room deleted) and once after the
 * gateway says hello, so that a restarted gateway starts from the directory's word:
 *
 *   {"op":"rooms","lan":"lan-a","rooms":[{"name":"games","network":"172.30.0.0/24",
 *     "network6":"fd30::/64",
 *     "members":[{"address":"172.30.0.1","address6":"fd30::1","lan":"lan-a",
 *                 "host":"10.1.0.11","host6":"fd01::11","user":"alice@lan-a"},
 *                {"address":"172.30.0.2","address6":"fd30::2","lan":"lan-b",
 *                 "user":"bob@lan-b"}]}]}
 *
 * network6 is there for a room with an IPv6 network; address6 for its members whose
 * IPv6 address on their LAN is known (host6, given only to the members' own gateway):
 * the ones the legs carry over IPv6, so that both ends of a leg agree on them.
 *
 * Only the members of the gateway's own LAN carry "host" (their address on that LAN): a
 * gateway learns no other site's addresses. An empty "rooms" means: no room has a member
 * here (every room's interface, route and process goes). One codec for both ends. */
#ifndef INSEL_ROOM_VIEW_H
#define INSEL_ROOM_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "room_ops.h"

#define ROOM_VIEW_ROOMS 64        /* rooms in one notice */
#define ROOM_VIEW_MEMBERS 1024    /* members of one room in a notice */
#define ROOM_VIEW_LAN_MAX 64      /* PKI_NAME_MAX: a LAN's name */

struct room_view_member {
	uint32_t address;                  /* the room address, host order */
	char lan[ROOM_VIEW_LAN_MAX + 1];
	char user[ROOM_USER_MAX + 1];
	bool has_host;                     /* a member of the receiving gateway's LAN */
	uint32_t host;                     /* its address on that LAN, host order */
	bool has_address6;                 /* the room has an IPv6 network */
	uint8_t address6[16];
	bool has_host6;                    /* a member of ours that said its IPv6 address */
	uint8_t host6[16];
};

struct room_view_room {
	char name[ROOM_NAME_MAX + 1];
	struct ip_prefix network;          /* IPv4 */
	bool has_network6;
	struct ip_prefix network6;         /* IPv6, /64../120 */
	struct room_view_member *members;  /* allocated by the decoder */
	size_t nmembers;
};

struct room_view {
	char lan[ROOM_VIEW_LAN_MAX + 1];
	struct room_view_room rooms[ROOM_VIEW_ROOMS];
	size_t nrooms;
};

json_t *room_view_encode(const struct room_view *v);
/* Checks and reads a notice: names by room_name_valid, networks IPv4 /8../30 without
 * host bits, addresses inside their room's network, not twice in a room, a host only on
 * a member of "lan". 0 (free the result with room_view_free), or INSEL_E_BAD_FIELD with
 * a sentence in why and nothing to free. */
int room_view_decode(const json_t *msg, struct room_view *out, char why[ROOM_WHY_LEN]);
void room_view_free(struct room_view *v);

/* ---- what a gateway makes of it: one leg per room and other member site ---- */

#define ROOM_LEG_MEMBERS 16       /* members of one site a leg carries (a call's prefixes) */

/* What the leg of room r between the receiving gateway's LAN and peer_lan carries: the
 * room addresses of the local members (those with a host) with their LAN addresses, and
 * those of peer_lan's members, in the notice's order, at most ROOM_LEG_MEMBERS each. */
struct room_view_leg {
	uint32_t local[ROOM_LEG_MEMBERS], local_host[ROOM_LEG_MEMBERS];
	size_t nlocal;
	uint32_t remote[ROOM_LEG_MEMBERS];
	size_t nremote;
	/* IPv6 (a room with network6): local members with address6 and host6, remote ones
	 * with address6, in the same order, so that nlocal + nlocal6 and nremote + nremote6
	 * stay within ROOM_LEG_MEMBERS (a call's prefixes per side): IPv4 first. */
	uint8_t local6[ROOM_LEG_MEMBERS][16], local_host6[ROOM_LEG_MEMBERS][16];
	size_t nlocal6;
	uint8_t remote6[ROOM_LEG_MEMBERS][16];
	size_t nremote6;
	bool truncated;                    /* a side had more members than that */
};
void room_view_leg(const struct room_view_room *r, const char *peer_lan,
		   struct room_view_leg *out);
/* The other LANs the receiving gateway (of LAN own_lan) needs a leg to in room r: none
 * when r has no member of own_lan, else each other LAN with a member, once, in the order
 * of their first member; at most max into out (pointers into r). How many. */
size_t room_view_peer_lans(const struct room_view_room *r, const char *own_lan,
			   const char **out, size_t max);

/* The room of that name in v, or NULL. */
const struct room_view_room *room_view_find(const struct room_view *v, const char *name);

#endif
