/* The "rooms" notice's codec (room_view.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "msg_get.h"
#include "room_view.h"

static uint32_t v4_of(const struct ip_addr *a)
{
	return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	       (uint32_t)a->bytes[2] << 8 | a->bytes[3];
}

static const char *v4_text(uint32_t a, char *out, size_t outlen)
{
	struct in_addr in = {htonl(a)};

	return inet_ntop(AF_INET, &in, out, (socklen_t)outlen);
}

static const char *v6_text(const uint8_t a[16])
{
	static char text[IP_STRLEN];
	struct ip_addr x = {.family = AF_INET6};

	memcpy(x.bytes, a, 16);
	return ip_addr_format(&x, text, sizeof text);
}

static json_t *member_to_json(const struct room_view_member *m)
{
	char addr[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN];
	json_t *j = json_pack("{s:s, s:s, s:s}", "address",
			      v4_text(m->address, addr, sizeof addr), "lan", m->lan,
			      "user", m->user);

	if (j && m->has_host)
		json_object_set_new(j, "host", json_string(v4_text(m->host, host, sizeof host)));
	if (j && m->has_address6)
		json_object_set_new(j, "address6", json_string(v6_text(m->address6)));
	if (j && m->has_host6)
		json_object_set_new(j, "host6", json_string(v6_text(m->host6)));
	return j;
}

static json_t *room_to_json(const struct room_view_room *r)
{
	char net[IP_STRLEN];
	json_t *members = json_array();

	json_t *j;

	for (size_t i = 0; members && i < r->nmembers; i++)
		json_array_append_new(members, member_to_json(&r->members[i]));
	j = json_pack("{s:s, s:s, s:o}", "name", r->name, "network",
		      ip_prefix_format(&r->network, net, sizeof net), "members", members);
	if (j && r->has_network6)
		json_object_set_new(j, "network6", json_string(ip_prefix_format(&r->network6, net,
										  sizeof net)));
	return j;
}

json_t *room_view_encode(const struct room_view *v)
{
	json_t *rooms = json_array();

	for (size_t i = 0; rooms && i < v->nrooms; i++)
		json_array_append_new(rooms, room_to_json(&v->rooms[i]));
	return json_pack("{s:s, s:s, s:o}", "op", "rooms", "lan", v->lan, "rooms", rooms);
}

void room_view_free(struct room_view *v)
{
	for (size_t i = 0; i < v->nrooms; i++) {
		free(v->rooms[i].members);
		v->rooms[i].members = NULL;
	}
	v->nrooms = 0;
}

const struct room_view_room *room_view_find(const struct room_view *v, const char *name)
{
	for (size_t i = 0; i < v->nrooms; i++)
		if (strcmp(v->rooms[i].name, name) == 0)
			return &v->rooms[i];
	return NULL;
}

static int get_v4(const json_t *obj, const char *key, bool optional, bool *has,
		  uint32_t *out)
{
	const char *text;
	struct ip_addr a;

	if (optional && !json_object_get(obj, key)) {
		*has = false;
		return 0;
	}
	if (msg_get_str(obj, key, &text) || ip_addr_parse(text, &a) || a.family != AF_INET)
		return INSEL_E_BAD_FIELD;
	*out = v4_of(&a);
	if (has)
		*has = true;
	return 0;
}

static bool in_network(const struct ip_prefix *p, uint32_t a)
{
	uint32_t net = v4_of(&p->addr);
	uint32_t mask = p->len ? ~0u << (32 - p->len) : 0;

	return (a & mask) == net && a != net && a != (net | ~mask);
}

/* An optional IPv6 address; inside net when net is given. */
static int get_v6(const json_t *obj, const char *key, const struct ip_prefix *net, bool *has,
		  uint8_t out[16])
{
	const char *text;
	struct ip_addr a;

	*has = false;
	if (!json_object_get(obj, key))
		return 0;
	if (msg_get_str(obj, key, &text) || ip_addr_parse(text, &a) || a.family != AF_INET6 ||
	    (net && (!ip_prefix_contains(net, &a) || memcmp(a.bytes, net->addr.bytes, 16) == 0)))
		return INSEL_E_BAD_FIELD;
	memcpy(out, a.bytes, 16);
	*has = true;
	return 0;
}

static int get_name(const json_t *obj, const char *key, size_t max, char *out)
{
	const char *text;

	if (msg_get_str(obj, key, &text) || !*text || strlen(text) > max)
		return INSEL_E_BAD_FIELD;
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return INSEL_E_BAD_FIELD;
	memcpy(out, text, strlen(text) + 1);
	return 0;
}

static int get_member(const json_t *j, const struct room_view *v,
		      const struct room_view_room *r, struct room_view_member *m,
		      char *why)
{
	if (!json_is_object(j) || get_v4(j, "address", false, NULL, &m->address) ||
	    !in_network(&r->network, m->address))
		return err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD,
			       "room %s: a member's address is not in the room's network", r->name);
	if (get_name(j, "lan", ROOM_VIEW_LAN_MAX, m->lan) ||
	    get_name(j, "user", ROOM_USER_MAX, m->user))
		return err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD,
			       "room %s: a member needs a lan and a user", r->name);
	if (get_v4(j, "host", true, &m->has_host, &m->host) ||
	    (m->has_host && strcmp(m->lan, v->lan) != 0))
		return err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD,
			       "room %s: a host address only for members of LAN %s", r->name,
			       v->lan);
	if ((r->has_network6 ? get_v6(j, "address6", &r->network6, &m->has_address6,
				      m->address6)
			     : (json_object_get(j, "address6") ? INSEL_E_BAD_FIELD : 0)) ||
	    get_v6(j, "host6", NULL, &m->has_host6, m->host6) || (m->has_host6 && !m->has_host))
		return err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD,
			       "room %s: a member's address6 must be in the room's network6, and "
			       "host6 only beside host", r->name);
	return 0;
}

static int get_room(const json_t *j, const struct room_view *v, struct room_view_room *r,
		    char *why)
{
	const char *name, *net;
	json_t *members;
	size_t n;

	if (!json_is_object(j) || msg_get_str(j, "name", &name) || !room_name_valid(name))
		return err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD, "a room needs a valid name");
	snprintf(r->name, sizeof r->name, "%s", name);
	if (msg_get_str(j, "network", &net) || ip_prefix_parse(net, true, &r->network) ||
	    r->network.addr.family != AF_INET || r->network.len < 8 || r->network.len > 30)
		return err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD,
			       "room %s: network must be an IPv4 /8 to /30", name);
	if (json_object_get(j, "network6") &&
	    (msg_get_str(j, "network6", &net) || ip_prefix_parse(net, true, &r->network6) ||
	     r->network6.addr.family != AF_INET6 || r->network6.len < 64 ||
	     r->network6.len > 120))
		return err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD,
			       "room %s: network6 must be an IPv6 /64 to /120", name);
	r->has_network6 = json_object_get(j, "network6") != NULL;
	if (msg_get_array(j, "members", ROOM_VIEW_MEMBERS, &members))
		return err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD, "room %s: %s", name,
			       msg_field_error());
	n = json_array_size(members);
	r->members = n ? calloc(n, sizeof *r->members) : NULL;
	if (n && !r->members)
		return err_set(why, ROOM_WHY_LEN, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int rc = get_member(json_array_get(members, i), v, r, &r->members[i], why);

		if (rc)
			return rc;
		for (size_t k = 0; k < i; k++)
			if (r->members[k].address == r->members[i].address)
				return err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD,
					       "room %s: an address held twice", name);
		r->nmembers = i + 1;
	}
	return 0;
}

int room_view_decode(const json_t *msg, struct room_view *out, char why[ROOM_WHY_LEN])
{
	struct room_view *v = calloc(1, sizeof *v);
	json_t *rooms;
	int rc = 0;

	if (!v)
		return err_set(why, ROOM_WHY_LEN, -ENOMEM, "out of memory");
	if (get_name(msg, "lan", ROOM_VIEW_LAN_MAX, v->lan))
		rc = err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD, "field 'lan' must be a name");
	else if (msg_get_array(msg, "rooms", ROOM_VIEW_ROOMS, &rooms))
		rc = err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	for (size_t i = 0; !rc && i < json_array_size(rooms); i++) {
		v->nrooms = i + 1;
		rc = get_room(json_array_get(rooms, i), v, &v->rooms[i], why);
		for (size_t k = 0; !rc && k < i; k++)
			if (strcmp(v->rooms[k].name, v->rooms[i].name) == 0)
				rc = err_set(why, ROOM_WHY_LEN, INSEL_E_BAD_FIELD,
					     "room %s listed twice", v->rooms[i].name);
	}
	if (rc)
		room_view_free(v);
	else
		*out = *v;
	free(v);
	return rc;
}

/* The IPv6 room addresses in what room addresses leave room for (IPv4 first). */
static void leg_ipv6(const struct room_view_room *r, const char *peer_lan,
		     struct room_view_leg *out)
{
	for (size_t i = 0; r->has_network6 && i < r->nmembers; i++) {
		const struct room_view_member *m = &r->members[i];

		if (m->has_host && m->has_address6 && m->has_host6) {
			if (out->nlocal + out->nlocal6 >= ROOM_LEG_MEMBERS) {
				out->truncated = true;
				continue;
			}
			memcpy(out->local6[out->nlocal6], m->address6, 16);
			memcpy(out->local_host6[out->nlocal6++], m->host6, 16);
		} else if (!m->has_host && m->has_address6 && strcmp(m->lan, peer_lan) == 0) {
			if (out->nremote + out->nremote6 >= ROOM_LEG_MEMBERS) {
				out->truncated = true;
				continue;
			}
			memcpy(out->remote6[out->nremote6++], m->address6, 16);
		}
	}
}

void room_view_leg(const struct room_view_room *r, const char *peer_lan,
		   struct room_view_leg *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < r->nmembers; i++) {
		const struct room_view_member *m = &r->members[i];

		if (m->has_host) {
			if (out->nlocal == ROOM_LEG_MEMBERS) {
				out->truncated = true;
				continue;
			}
			out->local[out->nlocal] = m->address;
			out->local_host[out->nlocal++] = m->host;
		} else if (strcmp(m->lan, peer_lan) == 0) {
			if (out->nremote == ROOM_LEG_MEMBERS) {
				out->truncated = true;
				continue;
			}
			out->remote[out->nremote++] = m->address;
		}
	}
	leg_ipv6(r, peer_lan, out);
}

size_t room_view_peer_lans(const struct room_view_room *r, const char *own_lan,
			   const char **out, size_t max)
{
	bool local = false;
	size_t n = 0;

	for (size_t i = 0; i < r->nmembers && !local; i++)
		local = r->members[i].has_host;
	for (size_t i = 0; local && i < r->nmembers && n < max; i++) {
		const char *lan = r->members[i].lan;
		size_t k = 0;

		if (strcmp(lan, own_lan) == 0)
			continue;
		while (k < n && strcmp(out[k], lan) != 0)
			k++;
		if (k == n)
			out[n++] = lan;
	}
	return n;
}
