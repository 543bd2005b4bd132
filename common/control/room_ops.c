/* The room request's codec and the checks of its replies (room_ops.h). Every field of a
 * request is checked here, once, for all three roles: what reaches the principal's
 * directory code is already a valid room name, network and user. */
#include "room_ops.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "pki.h"

static const char *const action_names[ROOM_ACTIONS] = {
	[ROOM_CREATE] = "create", [ROOM_JOIN] = "join",   [ROOM_LEAVE] = "leave",
	[ROOM_LIST] = "list",     [ROOM_KICK] = "kick",   [ROOM_BAN] = "ban",
	[ROOM_UNBAN] = "unban",   [ROOM_PASSWD] = "passwd", [ROOM_DELETE] = "delete",
};

bool room_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > ROOM_NAME_MAX)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

void room_quote(const char *text, char *out, size_t outlen)
{
	size_t used = 0;

	for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
		char one[5];
		size_t n;

		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			snprintf(one, sizeof one, "%c", *p);
		else
			snprintf(one, sizeof one, "\\x%02x", *p);
		n = strlen(one);
		if (used + n + 4 > outlen) {
			snprintf(out + used, outlen - used, "...");
			return;
		}
		memcpy(out + used, one, n + 1);
		used += n;
	}
	out[used] = '\0';
}

const char *room_action_name(enum room_action a)
{
	return (unsigned)a < ROOM_ACTIONS ? action_names[a] : "?";
}

bool room_action_of(const char *name, enum room_action *out)
{
	for (unsigned a = 0; name && a < ROOM_ACTIONS; a++)
		if (strcmp(name, action_names[a]) == 0) {
			*out = (enum room_action)a;
			return true;
		}
	return false;
}

json_t *room_req_encode(json_int_t id, const struct room_req *r)
{
	json_t *req = msg_request("room", id);
	char text[IP_STRLEN];

	json_object_set_new(req, "action", json_string(room_action_name(r->action)));
	if (r->room)
		json_object_set_new(req, "room", json_string(r->room));
	if (r->password)
		json_object_set_new(req, "password", json_string(r->password));
	if (r->action == ROOM_CREATE) {
		json_object_set_new(req, "network", json_string(ip_prefix_format(&r->network, text,
										   sizeof text)));
		if (r->has_network6)
			json_object_set_new(req, "network6", json_string(ip_prefix_format(
						    &r->network6, text, sizeof text)));
		if (r->capacity)
			json_object_set_new(req, "capacity", json_integer(r->capacity));
	}
	if (r->action == ROOM_JOIN && r->has_host6)
		json_object_set_new(req, "host6", json_string(ip_addr_format(&r->host6, text,
									     sizeof text)));
	if (r->target)
		json_object_set_new(req, "target", json_string(r->target));
	if (r->user)
		json_object_set_new(req, "user", json_string(r->user));
	if (r->has_host)
		json_object_set_new(req, "host", json_string(ip_addr_format(&r->host, text,
									    sizeof text)));
	return req;
}

static int fail(char why[ROOM_WHY_LEN], const char *sentence)
{
	snprintf(why, ROOM_WHY_LEN, "%s", sentence);
	return INSEL_E_BAD_FIELD;
}

static int field_fail(char why[ROOM_WHY_LEN])
{
	snprintf(why, ROOM_WHY_LEN, "%s", msg_field_error());
	return INSEL_E_BAD_FIELD;
}

/* "name@lan", each half a valid name. */
static bool user_valid(const char *user)
{
	char name[ROOM_USER_MAX + 1];
	const char *at = user ? strchr(user, '@') : NULL;
	size_t n = at ? (size_t)(at - user) : 0;

	if (!at || n == 0 || strlen(user) > ROOM_USER_MAX)
		return false;
	memcpy(name, user, n);
	name[n] = '\0';
	return pki_name_valid(name) && pki_name_valid(at + 1);
}

static int get_network(const json_t *msg, struct room_req *out, char why[ROOM_WHY_LEN])
{
	const char *text, *text6;

	if (msg_get_str(msg, "network", &text) || msg_get_str_opt(msg, "network6", "", &text6))
		return field_fail(why);
	if (ip_prefix_parse(text, true, &out->network) || out->network.addr.family != AF_INET ||
	    out->network.len < 8 || out->network.len > 30)
		return fail(why, "field 'network' must be an IPv4 network /8 to /30 with no host "
			    "bits (e.g. 172.30.0.0/24)");
	if (!text6[0])
		return 0;
	if (ip_prefix_parse(text6, true, &out->network6) ||
	    out->network6.addr.family != AF_INET6 || out->network6.len < 64 ||
	    out->network6.len > 120)
		return fail(why, "field 'network6' must be an IPv6 network /64 to /120 with no "
			    "host bits");
	out->has_network6 = true;
	return 0;
}

/* A join's optional IPv6 address of the host: unicast, not link-local. */
static int get_host6(const json_t *msg, struct room_req *out, char why[ROOM_WHY_LEN])
{
	const char *text;
	const uint8_t *b = out->host6.bytes;

	if (msg_get_str_opt(msg, "host6", "", &text))
		return field_fail(why);
	if (!text[0])
		return 0;
	if (ip_addr_parse(text, &out->host6) || out->host6.family != AF_INET6 ||
	    b[0] == 0xff || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80))
		return fail(why, "field 'host6' must be an IPv6 unicast address that is not "
			    "link-local");
	out->has_host6 = true;
	return 0;
}

/* The fields each action needs, and nothing it does not take. */
static int get_action_fields(const json_t *msg, struct room_req *out, char why[ROOM_WHY_LEN])
{
	enum room_action a = out->action;
	json_int_t capacity = 0;
	char quoted[64];
	int rc;

	if (a != ROOM_LIST) {
		if (msg_get_str(msg, "room", &out->room))
			return field_fail(why);
		if (!room_name_valid(out->room)) {
			room_quote(out->room, quoted, sizeof quoted);
			snprintf(why, ROOM_WHY_LEN, "invalid room name '%s': use 1-%d of a-z 0-9 _ -, "
				 "starting with a letter or digit", quoted, ROOM_NAME_MAX);
			return INSEL_E_BAD_FIELD;
		}
	}
	if (a == ROOM_CREATE || a == ROOM_JOIN || a == ROOM_PASSWD) {
		if (msg_get_str(msg, "password", &out->password))
			return field_fail(why);
		if (!out->password[0] || strlen(out->password) > ROOM_PASSWORD_MAX)
			return fail(why, "field 'password' must be 1 to 1024 bytes");
	}
	if (a == ROOM_CREATE) {
		if (get_network(msg, out, why) ||
		    msg_get_int_opt(msg, "capacity", 1, 4096, 0, &capacity))
			return why[0] ? INSEL_E_BAD_FIELD : field_fail(why);
		out->capacity = capacity;
	}
	if (a == ROOM_JOIN && (rc = get_host6(msg, out, why)))
		return rc;
	if (a == ROOM_KICK || a == ROOM_BAN || a == ROOM_UNBAN) {
		if (msg_get_str(msg, "target", &out->target))
			return field_fail(why);
		if (!user_valid(out->target))
			return fail(why, "field 'target' must be NAME@LAN");
	}
	return 0;
}

static int get_asker(const json_t *msg, bool from_secondary, struct room_req *out,
		     char why[ROOM_WHY_LEN])
{
	const char *host;

	if (!from_secondary) {
		if (json_object_get(msg, "user") || json_object_get(msg, "host"))
			return fail(why, "a client does not say who it is: fields 'user' and "
				    "'host' are the gateway's");
		return 0;
	}
	if (msg_get_str(msg, "user", &out->user) || msg_get_str(msg, "host", &host))
		return field_fail(why);
	if (!user_valid(out->user))
		return fail(why, "field 'user' must be NAME@LAN");
	if (ip_addr_parse(host, &out->host))
		return fail(why, "field 'host' must be an IP address");
	out->has_host = true;
	return 0;
}

int room_req_decode(const json_t *msg, bool from_secondary, struct room_req *out,
		    char why[ROOM_WHY_LEN])
{
	const char *action;
	int rc;

	memset(out, 0, sizeof *out);
	why[0] = '\0';
	if (msg_get_str(msg, "action", &action))
		return field_fail(why);
	if (!room_action_of(action, &out->action))
		return fail(why, "field 'action' must be create, join, leave, list, kick, ban, "
			    "unban, passwd or delete");
	if ((rc = get_action_fields(msg, out, why)))
		return rc;
	return get_asker(msg, from_secondary, out, why);
}

/* ---- replies ---- */

static bool is_text(const json_t *o, const char *key, bool optional)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return optional;
	return json_is_string(v) && json_string_length(v) >= 1 && json_string_length(v) <= 256;
}

static int check_member(const json_t *m, char why[ROOM_WHY_LEN])
{
	if (!json_is_object(m) || !is_text(m, "user", false) || !is_text(m, "address", false) ||
	    !is_text(m, "address6", true))
		return fail(why, "a member needs 'user' and 'address'");
	return 0;
}

static int check_room(const json_t *r, char why[ROOM_WHY_LEN])
{
	const json_t *members = json_object_get(r, "members");
	size_t i;
	json_t *m;

	if (!json_is_object(r) || !is_text(r, "name", false) || !is_text(r, "network", false) ||
	    !is_text(r, "network6", true) || !is_text(r, "admin", true) ||
	    !json_is_integer(json_object_get(r, "capacity")) || !json_is_array(members) ||
	    json_array_size(members) > ROOM_MEMBERS_MAX)
		return fail(why, "a room needs 'name', 'network', 'capacity' and 'members'");
	if (json_object_get(r, "members_total") &&
	    (!json_is_integer(json_object_get(r, "members_total")) ||
	     json_integer_value(json_object_get(r, "members_total")) <
	     (json_int_t)json_array_size(members)))
		return fail(why, "'members_total' must count at least the members listed");
	json_array_foreach(members, i, m)
		if (check_member(m, why))
			return INSEL_E_BAD_FIELD;
	return 0;
}

int room_reply_check(const json_t *reply, enum room_action a, char why[ROOM_WHY_LEN])
{
	const json_t *rooms;
	size_t i;
	json_t *r;

	why[0] = '\0';
	if (a == ROOM_JOIN)
		return check_member(json_object_get(reply, "member"), why);
	if (a != ROOM_LIST)
		return 0;
	rooms = json_object_get(reply, "rooms");
	if (!json_is_array(rooms) || json_array_size(rooms) > ROOM_LIST_MAX)
		return fail(why, "field 'rooms' must be a list");
	json_array_foreach(rooms, i, r)
		if (check_room(r, why))
			return INSEL_E_BAD_FIELD;
	return 0;
}
