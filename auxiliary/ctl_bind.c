/* "bind": the first request. Binds one UDP socket per channel on the gateway's LAN address
 * (falling back to a free port when the requested one is busy) and one WAN socket shared
 * by every channel of the call, then drops privileges before anything else is handled.
 * A network call has one channel whose LAN side is a TUN interface (tun.c) instead:
 *   "channels":[{"tun":{"name_hint":"lan-b","mtu":1440,"local":["10.1.0.0/24"],
 *                       "remote":["10.2.0.0/24"]}}]
 *   -> "channels":[{"interface":"lan-b","mtu":1440}]
 * A host call adds "source_routing":true to "tun": its routes go to a table of its own,
 * selected by rules from its local to its remote prefixes, and the reply names it:
 *   -> "channels":[{"interface":"lan-b","mtu":1440,"table":1000000012}]
 *
 *   {"op":"bind","id":1,"call":"<16 hex>","lan_addr":"10.1.0.1","wan_addr":"198.18.1.2",
 *    "party":"10.1.0.11","channels":[{"lan_port":5004},{"lan_port":0}],"uid":200012}
 * "uid" is the call's own unprivileged uid (and gid) to drop to; "user" names a user
 * instead; with neither the process keeps its identity.
 * "party" (UDP channels; of lan_addr's family): the call's own host on the LAN, the only
 * address whose datagrams the LAN sockets relay (relay.c).
 * A network call may add "lan_addr6":"fd01::1", the gateway's IPv6 LAN address (source
 * of the IPv6 routes and of ICMPv6 errors). 
 *   -> {"id":1,"ok":true,"wan_port":P,"channels":[{"lan_port":5004},{"lan_port":40123}]}
 *
 * A request that does not parse changes nothing and may be retried; a socket that cannot
 * be bound or privileges that cannot be dropped end the process (exit 1) after the error
 * reply, since the parent cannot fix the gateway's addresses from here. */
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>

#include "auxiliary.h"
#include "cmd.h"
#include "err.h"
#include "log.h"
#include "rand.h"

struct bind_request {
	uint64_t call_id;
	struct ip_addr lan_addr, wan_addr;
	struct ip_addr lan_addr6;  /* optional: network calls carrying IPv6 */
	bool has_lan_addr6;
	struct ip_addr party;      /* UDP channels: the call's own LAN host */
	uint16_t ports[SEC_MAX_CHANNELS];
	unsigned n_ports;
	struct aux_identity who;  /* its user name points into the request */
	bool tun;          /* a network call: one channel, a TUN interface instead of a port */
	struct aux_tun_request tun_req;
};

static int parse_addr(const json_t *msg, const char *key, struct ip_addr *out, char *why,
		      size_t whylen)
{
	const char *text;
	int rc = msg_get_str(msg, key, &text);

	if (rc) {
		snprintf(why, whylen, "%s", msg_field_error());
		return rc;
	}
	rc = ip_addr_parse(text, out);
	if (rc)
		snprintf(why, whylen, "field '%s': '%s' is not an IP address", key, text);
	return rc;
}

static int parse_ports(const json_t *msg, struct bind_request *req, char *why, size_t whylen)
{
	json_t *channels, *entry;
	size_t i;
	int rc = msg_get_array(msg, "channels", SEC_MAX_CHANNELS, &channels);

	if (rc) {
		snprintf(why, whylen, "%s", msg_field_error());
		return rc;
	}
	if (json_array_size(channels) == 0) {
		snprintf(why, whylen, "field 'channels' must list at least one channel");
		return INSEL_E_BAD_FIELD;
	}
	json_array_foreach(channels, i, entry) {
		json_int_t port;

		if (rc)
			break;
		if (!json_is_object(entry)) {
			snprintf(why, whylen, "channels[%zu] must be an object", i);
			return INSEL_E_BAD_FIELD;
		}
		if (json_object_get(entry, "tun")) {
			if (json_array_size(channels) != 1) {
				snprintf(why, whylen, "a tun channel must be the call's only channel");
				return INSEL_E_BAD_FIELD;
			}
			req->tun = true;
			rc = tun_parse_request(json_object_get(entry, "tun"), &req->tun_req, why,
					       whylen);
			continue;
		}
		rc = msg_get_int_opt(entry, "lan_port", 0, UINT16_MAX, 0, &port);
		req->ports[i] = (uint16_t)port;
	}
	if (rc && !why[0])
		snprintf(why, whylen, "%s", msg_field_error());
	req->n_ports = rc ? 0 : (unsigned)json_array_size(channels);
	return rc;
}

static int parse_uid(const json_t *msg, struct aux_identity *who, char *why, size_t whylen)
{
	json_int_t uid;
	int rc;

	if (!json_object_get(msg, "uid"))
		return 0;
	if ((rc = msg_get_int(msg, "uid", 1, (json_int_t)UINT32_MAX - 1, &uid)) != 0) {
		snprintf(why, whylen, "%s", msg_field_error());
		return rc;
	}
	who->uid = (uint32_t)uid;
	who->has_uid = true;
	return 0;
}

static int parse_bind(const json_t *msg, struct bind_request *req, char *why, size_t whylen)
{
	const char *call;
	int rc;

	memset(req, 0, sizeof *req);
	why[0] = '\0';
	if ((rc = msg_get_str(msg, "call", &call)) != 0) {
		snprintf(why, whylen, "%s", msg_field_error());
		return rc;
	}
	if ((rc = id_parse(call, &req->call_id)) != 0) {
		snprintf(why, whylen, "field 'call' must be 16 hex digits");
		return INSEL_E_BAD_FIELD;
	}
	if ((rc = parse_addr(msg, "lan_addr", &req->lan_addr, why, whylen)) != 0 ||
	    (rc = parse_addr(msg, "wan_addr", &req->wan_addr, why, whylen)) != 0 ||
	    (rc = parse_ports(msg, req, why, whylen)) != 0)
		return rc;
	if (!req->tun) {
		if ((rc = parse_addr(msg, "party", &req->party, why, whylen)) != 0)
			return rc;
		if (req->party.family != req->lan_addr.family) {
			snprintf(why, whylen, "field 'party' must be of lan_addr's family");
			return INSEL_E_BAD_FIELD;
		}
	}
	if (json_object_get(msg, "lan_addr6")) {
		if ((rc = parse_addr(msg, "lan_addr6", &req->lan_addr6, why, whylen)) != 0)
			return rc;
		if (req->lan_addr6.family != AF_INET6) {
			snprintf(why, whylen, "field 'lan_addr6' must be an IPv6 address");
			return INSEL_E_BAD_FIELD;
		}
		req->has_lan_addr6 = true;
	}
	if ((rc = msg_get_str_opt(msg, "user", NULL, &req->who.user)) != 0) {
		snprintf(why, whylen, "%s", msg_field_error());
		return rc;
	}
	if (req->who.user &&
	    (req->who.user[0] == '\0' || strlen(req->who.user) >= AUX_USER_MAX)) {
		snprintf(why, whylen, "field 'user' must be a user name");
		return INSEL_E_BAD_FIELD;
	}
	return parse_uid(msg, &req->who, why, whylen);
}

static int bound_port(const uv_udp_t *h, uint16_t *port)
{
	struct sockaddr_storage ss;
	struct ip_endpoint ep;
	int len = sizeof ss;
	int rc = uv_udp_getsockname(h, (struct sockaddr *)&ss, &len);

	rc = rc ? rc : ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &ep);
	if (rc == 0)
		*port = ep.port;
	return rc;
}

static int try_bind(uv_udp_t *h, const struct ip_addr *addr, uint16_t port)
{
	struct ip_endpoint ep = {.addr = *addr, .port = port};
	struct sockaddr_storage ss;

	ip_endpoint_to_sockaddr(&ep, &ss);
	/* No UV_UDP_REUSEADDR: a port in use must fail here, not be shared. */
	return uv_udp_bind(h, (struct sockaddr *)&ss, 0);
}

/* Binds addr:port on a fresh handle (marked open as soon as it exists, so that aux_end
 * closes it); with fallback, a busy port gives way to a free one. */
static int bind_udp(struct aux *a, uv_udp_t *h, bool *open, const struct ip_addr *addr,
		    uint16_t port, bool fallback, uint16_t *bound, char *why, size_t whylen)
{
	char text[IP_STRLEN];
	/* Every socket reads in batches (recvmmsg; relay.c). */
	int rc = uv_udp_init_ex(a->loop, h, AF_UNSPEC | UV_UDP_RECVMMSG);

	if (rc == 0) {
		*open = true;
		rc = try_bind(h, addr, port);
	}
	if (fallback && port != 0 && (rc == UV_EADDRINUSE || rc == UV_EACCES)) {
		log_info("UDP port %u on %s is busy: taking a free one", port,
			 ip_addr_format(addr, text, sizeof text));
		port = 0;
		rc = try_bind(h, addr, 0);  /* the same socket, still unbound */
	}
	rc = rc ? rc : bound_port(h, bound);
	if (rc)
		snprintf(why, whylen, "cannot bind UDP %s port %u: %s",
			 ip_addr_format(addr, text, sizeof text), port, insel_strerror(rc));
	return rc;
}

/* Bursts of a network call (a TCP window of full-size packets) must not overflow the
 * WAN socket: large buffers, forced past the sysctl limits while still privileged. */
static void grow_wan_buffers(struct aux *a)
{
	int size = AUX_WAN_SOCKBUF;
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&a->wan, &fd) != 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

static int bind_sockets(struct aux *a, const struct bind_request *req, char *why,
			size_t whylen)
{
	int rc = bind_udp(a, &a->wan, &a->wan_open, &req->wan_addr, 0, false, &a->wan_port,
			  why, whylen);

	a->wan.data = a;
	if (rc == 0 && req->tun)
		grow_wan_buffers(a);
	if (rc == 0 && req->tun) {
		a->tun_mode = true;
		a->lan[0].aux = a;
		a->lan[0].index = 0;
		a->n_lan = 1;
		if (a->lan_addr.family != AF_INET) {
			snprintf(why, whylen, "network calls need an IPv4 lan_addr");
			return INSEL_E_BAD_FIELD;
		}
		return tun_create(a, &req->tun_req, why, whylen);
	}
	for (unsigned i = 0; rc == 0 && i < req->n_ports; i++) {
		struct aux_lan *l = &a->lan[i];

		l->aux = a;
		l->index = i;
		l->udp.data = l;
		a->n_lan = i + 1;
		rc = bind_udp(a, &l->udp, &l->udp_open, &req->lan_addr, req->ports[i], true,
			      &l->port, why, whylen);
	}
	return rc;
}

/* A network call's channel: the interface, and a host call's routing table, which the
 * parent needs to remove the call's rules once we are gone. */
static json_t *tun_channel_reply(const struct aux_tun *t)
{
	json_t *ch = json_pack("{s:s, s:i}", "interface", t->name, "mtu", (int)t->mtu);

	if (ch && t->table && json_object_set_new(ch, "table", json_integer(t->table))) {
		json_decref(ch);
		return NULL;
	}
	return ch;
}

static json_t *bind_reply(const struct aux *a, json_int_t id)
{
	json_t *reply = msg_reply_ok(id), *channels = json_array();

	for (unsigned i = 0; i < a->n_lan && channels; i++)
		if (json_array_append_new(channels, a->tun_mode ? tun_channel_reply(&a->tun)
				: json_pack("{s:i}", "lan_port", (int)a->lan[i].port))) {
			json_decref(channels);
			channels = NULL;
		}
	if (!reply || !channels ||
	    json_object_set_new(reply, "wan_port", json_integer(a->wan_port)) ||
	    json_object_set_new(reply, "channels", channels)) {
		json_decref(reply);
		return NULL;
	}
	return reply;
}

void bind_handle(struct aux *a, json_int_t id, const json_t *msg)
{
	struct bind_request req;
	char why[256], call[ID_STRLEN];
	int rc = parse_bind(msg, &req, why, sizeof why);

	if (rc) {
		control_reply_error(a, id, rc, NULL, "%s", why);
		return;
	}
	a->call_id = req.call_id;
	a->lan_addr = req.lan_addr;
	a->lan_addr6 = req.lan_addr6;
	a->has_lan_addr6 = req.has_lan_addr6;
	a->party = req.party;
	a->wan_addr = req.wan_addr;
	if (bind_sockets(a, &req, why, sizeof why) != 0) {
		control_reply_error(a, id, 0, "bind_failed", "%s", why);
		aux_end(a, "error", why, EXIT_FAILURE_GENERIC, false);
		return;
	}
	/* libuv probes recvmmsg once, with a socket of its own, on the first receive: have
	 * it probe now, since the allowlist entered below refuses new sockets (and libuv
	 * would then quietly read one datagram per call). The WAN socket's reader needs its
	 * descriptor duplicated before then too. */
	uv_udp_using_recvmmsg(&a->wan);
	if (wan_rx_prepare(a) != 0) {
		control_reply_error(a, id, 0, "bind_failed", "cannot prepare the WAN socket");
		aux_end(a, "error", "cannot prepare the WAN socket", EXIT_FAILURE_GENERIC, false);
		return;
	}
	/* Drop before replying: once the parent hears "ok", the process is confined. */
	if (privdrop_confine(&req.who) != 0) {
		if (req.who.has_uid)
			control_reply_error(a, id, 0, "privdrop_failed", "cannot drop privileges "
					    "to uid %u", (unsigned)req.who.uid);
		else
			control_reply_error(a, id, 0, "privdrop_failed", "cannot drop privileges "
					    "to user '%s'",
					    req.who.user ? req.who.user : "(current)");
		aux_end(a, "error", "cannot drop privileges", EXIT_FAILURE_GENERIC, false);
		return;
	}
	a->state = AUX_BOUND;
	log_info("call %s: WAN port %u, %u channel(s)", id_format(a->call_id, call),
		 a->wan_port, a->n_lan);
	control_reply(a, bind_reply(a, id));
}
