/* "bind", the secondary's first request to a call's auxiliary, and its reply: one codec
 * for both ends (the secondary encodes the request and decodes the reply, the auxiliary
 * the other way round), so that the two halves of the message cannot drift apart.
 *
 * UDP call: one LAN socket per channel, on the gateway's LAN address, heard only by the
 * call's party; a network call: one channel whose LAN side is a TUN interface.
 *   {"op":"bind","id":1,"call":"<16 hex>","lan_addr":"10.1.0.1","wan_addr":"198.18.1.2",
 *    "party":"10.1.0.11","channels":[{"lan_port":5004},{"lan_port":0}],"uid":200012}
 *   -> {"id":1,"ok":true,"wan_port":P,"channels":[{"lan_port":5004},{"lan_port":40123}]}
 *   "channels":[{"tun":{"name_hint":"lan-b","mtu":1440,"local":["10.1.0.0/24"],
 *                       "remote":["10.2.0.0/24"],"source_routing":false}}]
 *   -> "channels":[{"interface":"lan-b","mtu":1440}]   (a host call adds "table":T)
 * A peer LAN whose prefix overlaps ours is seen on our LAN through a mapped prefix
 * (docs/overlap.md): "map_real":["192.168.1.0/24"],"map_as":["10.99.2.0/24"] (IPv4, pairwise
 * the same length): remote addresses inside map_real[i] appear on the LAN as map_as[i].
 * A gateway whose wan has both families gives its IPv6 address too ("wan_addr" is then
 * IPv4): the auxiliary binds one WAN socket per family and replies with the second's port:
 *   "wan_addr6":"2001:db8:1::2"  ->  "wan_port6":P6
 * Either may ask the auxiliary to learn its public endpoint from STUN servers first:
 *   "stun":["198.18.0.1:3478", ...]   (at most AUX_STUN_MAX), "stun_timeout_ms":1000
 *   -> "candidates":[{"kind":"host",...},{"kind":"srflx",...}] (candidate.h),
 *      "nat":{"mapping":"independent","mapped":["198.18.9.1:61000", ...]}
 * docs/auxiliary.md describes every field. */
#ifndef INSEL_AUX_BIND_H
#define INSEL_AUX_BIND_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "candidate.h"
#include "chanparams.h"

#define AUX_USER_MAX 64          /* a user name in "bind" is shorter than this */
#define AUX_TUN_PREFIXES 16      /* authorised prefixes per side of a network call */
#define AUX_TUN_NAME_LEN 16      /* IFNAMSIZ: an interface name and its NUL */
#define AUX_TUN_DEFAULT_MTU 1368 /* CHANNEL_DEFAULT_MTU minus the frame overhead */
#define AUX_TUN_MIN_MTU 576
#define AUX_TUN_MAX_MTU 65504    /* channel.h's largest message less the frame overhead */
#define AUX_STUN_MAX 4           /* STUN servers asked per bind */
#define AUX_STUN_DEFAULT_TIMEOUT_MS 1000  /* how long bind may wait for their answers */
#define AUX_STUN_MIN_TIMEOUT_MS 100
#define AUX_STUN_MAX_TIMEOUT_MS 10000

/* The "tun" object of a network call's one channel. */
struct aux_bind_tun {
	const char *name_hint;   /* the interface's name, or its stem if taken */
	unsigned mtu;
	bool source_routing;     /* a host call: own table, rules from local to remote */
	struct ip_prefix local[AUX_TUN_PREFIXES], remote[AUX_TUN_PREFIXES];
	size_t nlocal, nremote;
	/* A room's leg (docs/rooms.md): "map":["10.1.0.11",...,"fd01::11",...], the LAN
	 * address of the member whose room address is local[i] (an IPv4 /32, or an IPv6
	 * /128 in an IPv6 room). The auxiliary maps a
	 * member's LAN source to its room address on the way out and the room address back
	 * on the way in; packets of any other LAN host are dropped and counted. 0: none. */
	struct ip_addr map[AUX_TUN_PREFIXES];
	/* The remote side as the LAN sees it: map_real[i] appears as map_as[i]. */
	struct ip_prefix remote_real[AUX_TUN_PREFIXES], remote_as[AUX_TUN_PREFIXES];
	size_t nremote_map;
	size_t nmap;
	/* With a map, "room_net":"172.30.0.0/24" (optional): the room's network, whose
	 * broadcast address and multicast the leg carries too (auxiliary/room_cast.c). */
	bool has_room_net;
	struct ip_prefix room_net;
	/* With a map, "room_net6":"fd30::/64" (optional): the room's IPv6 network, routed
	 * into the interface below the members' /128s as room_net is. */
	bool has_room_net6;
	struct ip_prefix room_net6;
};

/* The strings (user, tun.name_hint) point into the JSON they were decoded from, or into
 * the caller's storage when encoding: valid as long as that lives. */
struct aux_bind_request {
	uint64_t call_id;
	struct ip_addr lan_addr, wan_addr;
	struct ip_addr wan_addr6;    /* a dual-stack wan: its IPv6 address (wan_addr IPv4) */
	bool has_wan_addr6;
	struct ip_addr lan_addr6;    /* network calls carrying IPv6: the gateway's address */
	bool has_lan_addr6;
	struct ip_addr party;        /* UDP calls: the only LAN host the channels hear */
	unsigned nchannels;
	uint16_t lan_ports[SEC_MAX_CHANNELS];  /* UDP calls: asked for (0: any) */
	/* A reliable channel ("stream":true, docs/reliable.md): a TCP listener on the LAN
	 * port too, bound while privileged; its party attaches its stream there. */
	bool stream[SEC_MAX_CHANNELS];
	bool tun;                    /* a network call: one channel, an interface */
	struct aux_bind_tun tun_req;
	const char *user;            /* a user to become, or NULL */
	uint32_t uid;                /* the call's own uid (and gid) to become, if has_uid */
	bool has_uid;
	struct ip_endpoint stun[AUX_STUN_MAX];  /* STUN servers to learn srflx candidates from */
	size_t nstun;
	uint32_t stun_timeout_ms;    /* with nstun: how long to wait for their answers */
};

/* What the auxiliary bound: the WAN port, and per channel its LAN port, or for a network
 * call the interface it created (and a host call's routing table). */
struct aux_bind_reply {
	uint16_t wan_port;
	uint16_t wan_port6;          /* the IPv6 WAN socket's, when wan_addr6 was given; else 0 */
	unsigned nchannels;
	uint16_t lan_ports[SEC_MAX_CHANNELS];
	bool tun;
	char interface[AUX_TUN_NAME_LEN];
	unsigned mtu;
	uint32_t table;              /* a host call's routing table (netlink.h);
				      * 0: none (a trunk's routes are in the main table) */
	struct candidate cand[CAND_MAX];  /* host first, then srflx; none from an older one */
	size_t ncand;
	bool has_nat;                /* what STUN showed (only when servers were asked) */
	enum nat_mapping mapping;
	struct ip_endpoint mapped[AUX_STUN_MAX];  /* every distinct mapped endpoint seen */
	size_t nmapped;
};

/* {"op":"bind","id":0,...}; NULL if out of memory. */
json_t *aux_bind_request_to_json(const struct aux_bind_request *req);
/* 0, or INSEL_E_BAD_FIELD / INSEL_E_BAD_ADDR with why set; *out is then unspecified. */
int aux_bind_request_from_json(const json_t *j, struct aux_bind_request *out, char *why,
			       size_t whylen);

/* {"id":id,"ok":true,...}; NULL if out of memory. */
json_t *aux_bind_reply_to_json(json_int_t id, const struct aux_bind_reply *reply);
/* The fields of an ok reply: 0, or INSEL_E_BAD_FIELD with why set. */
int aux_bind_reply_from_json(const json_t *j, struct aux_bind_reply *out, char *why,
			     size_t whylen);

/* "room_members", the secondary's request to a room leg's running auxiliary when the
 * leg's members change and the leg stays (docs/rooms.md, "Membership changes"): the new
 * local room addresses with each member's LAN address, and the peer's room addresses:
 *   {"op":"room_members","id":N,"local":["172.30.0.1/32",...],"map":["10.1.0.11",...],
 *    "remote":["172.30.0.3/32",...]}   -> {"id":N,"ok":true}
 * The same fields and checks as bind's "tun" (each side non-empty, map one IPv4 address
 * per local IPv4 /32). Only local, remote and map (nmap) of t are used. */
int aux_room_members_into(json_t *req, const struct aux_bind_tun *t);
/* 0, or INSEL_E_BAD_FIELD with why set; *out is then unspecified. */
int aux_room_members_from_json(const json_t *j, struct aux_bind_tun *out, char *why,
			       size_t whylen);
bool aux_room_members_equal(const struct aux_bind_tun *a, const struct aux_bind_tun *b);

/* Field by field, strings by content (round-trip tests and fuzz targets). */
bool aux_bind_request_equal(const struct aux_bind_request *a,
			    const struct aux_bind_request *b);
bool aux_bind_reply_equal(const struct aux_bind_reply *a, const struct aux_bind_reply *b);

#endif
