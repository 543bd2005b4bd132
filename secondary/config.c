/* insel-secondary's configuration file: its schema and the typed view of it
 * (deploy/secondary.conf.example documents every key; timeouts.h holds the durations'
 * defaults and how they relate). */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aux_start.h"
#include "cmd.h"
#include "err.h"
#include "secondary.h"
#include "timeouts.h"

static const struct cfg_key secondary_schema[] = {
	{"secondary", "name", CFG_STRING, CFG_REQUIRED, 0, 0, NULL},
	{"secondary", "lan", CFG_STRING, CFG_REQUIRED, 0, 0, NULL},
	{"secondary", "prefix", CFG_PREFIX, CFG_REQUIRED | CFG_MULTI, 0, 0, NULL},
	{"secondary", "lan_address", CFG_ADDR, CFG_REQUIRED, 0, 0, NULL},
	{"secondary", "lan_address6", CFG_ADDR, 0, 0, 0, NULL},
	{"secondary", "seccomp", CFG_STRING, 0, 0, 0, "on"},
	{"principal", "address", CFG_STRING, CFG_REQUIRED | CFG_MULTI, 0, 0, NULL},
	{"principal", "heartbeat", CFG_DURATION, 0, 1000, 600000,
	 TIMEOUT_TEXT(HEARTBEAT_DEFAULT_S)},
	{"principal", "name", CFG_STRING, CFG_REQUIRED, 0, 0, NULL},
	{"principal", "fingerprint", CFG_STRING, 0, 0, 0, NULL},
	{"tls", "ca", CFG_PATH, CFG_REQUIRED, 0, 0, NULL},
	{"tls", "cert", CFG_PATH, CFG_REQUIRED, 0, 0, NULL},
	{"tls", "key", CFG_PATH, CFG_REQUIRED, 0, 0, NULL},
	{"tls", "renew", CFG_BOOL, 0, 0, 0, "yes"},
	{"tls", "renew_before", CFG_DURATION, 0, 1000, 36500LL * 86400000, NULL},
	{"tls", "renew_poll", CFG_DURATION, 0, 500, 86400000,
	 TIMEOUT_TEXT(RENEW_POLL_DEFAULT_S)},
	{"tls", "expiry_warning", CFG_DURATION, 0, 1000, 36500LL * 86400000, "30d"},
	{"peers", "listen", CFG_ENDPOINT, CFG_REQUIRED, 0, 0, NULL},
	{"peers", "public", CFG_ENDPOINT, 0, 0, 0, NULL},
	{"peers", "reachable", CFG_STRING, 0, 0, 0, "auto"},
	{"peers", "wan_address", CFG_ADDR, 0, 0, 0, NULL},
	{"peers", "wan_address6", CFG_ADDR, 0, 0, 0, NULL},
	{"peers", "public6", CFG_ENDPOINT, 0, 0, 0, NULL},
	{"peers", "ciphers", CFG_STRING, 0, 0, 0, "aes-256-gcm,chacha20-poly1305"},
	{"peers", "path_mtu", CFG_INT, 0, 576, 65535, "1500"},
	{"peers", "compression", CFG_STRING, 0, 0, 0, "none"},
	{"peers", "rekey_interval", CFG_DURATION, 0, REKEY_MIN_INTERVAL_MS,
	 REKEY_MAX_INTERVAL_MS, 	 TIMEOUT_TEXT(REKEY_INTERVAL_DEFAULT_S)},
	{"peers", "max_connections", CFG_INT, 0, 1, 100000, "256"},
	{"peers", "max_pending", CFG_INT, 0, 1, 100000, "64"},
	{"peers", "max_pending_per_source", CFG_INT, 0, 1, 100000, "16"},
	{"peers", "handshake_timeout", CFG_DURATION, 0, 100, 600000,
	 TIMEOUT_TEXT(HANDSHAKE_TIMEOUT_DEFAULT_S)},
	{"peers", "idle_timeout", CFG_DURATION, 0, 100, 3600000,
	 TIMEOUT_TEXT(PEER_IDLE_TIMEOUT_DEFAULT_S)},
	{"trunk *", "peer_lan", CFG_STRING, CFG_REQUIRED, 0, 0, NULL},
	{"trunk *", "local", CFG_PREFIX, CFG_MULTI, 0, 0, NULL},
	{"trunk *", "remote", CFG_PREFIX, CFG_MULTI, 0, 0, NULL},
	{"trunk *", "remote_map", CFG_PREFIX, 0, 0, 0, NULL},
	{"clients", "listen", CFG_ENDPOINT, 0, 0, 0, NULL},
	{"clients", "socket", CFG_PATH, 0, 0, 0, "/run/insel/secondary.sock"},
	{"clients", "operator_group", CFG_STRING, 0, 0, 0, NULL},
	{"clients", "max_connections", CFG_INT, 0, 1, 100000, "256"},
	{"clients", "max_pending", CFG_INT, 0, 1, 100000, "64"},
	{"clients", "max_pending_per_source", CFG_INT, 0, 1, 100000, "8"},
	{"clients", "handshake_timeout", CFG_DURATION, 0, 100, 600000,
	 TIMEOUT_TEXT(HANDSHAKE_TIMEOUT_DEFAULT_S)},
	{"clients", "login_timeout", CFG_DURATION, 0, 100, 600000,
	 TIMEOUT_TEXT(LOGIN_TIMEOUT_DEFAULT_S)},
	{"metrics", "listen", CFG_ENDPOINT, 0, 0, 0, NULL},
	{"metrics", "cert", CFG_PATH, 0, 0, 0, NULL},
	{"metrics", "key", CFG_PATH, 0, 0, 0, NULL},
	{"metrics", "plain_remote", CFG_BOOL, 0, 0, 0, "no"},
	{"auxiliary", "program", CFG_PATH, 0, 0, 0, NULL},
	{"auxiliary", "uid_range", CFG_STRING, 0, 0, 0, "200000-200999"},
	{"auxiliary", "user", CFG_STRING, 0, 0, 0, NULL},
	{"limits", "calls", CFG_INT, 0, 1, 10000, "64"},
	{"limits", "idle_timeout", CFG_DURATION, 0, 1000, 86400000,
	 TIMEOUT_TEXT(IDLE_TIMEOUT_DEFAULT_S)},
	{"limits", "ring_timeout", CFG_DURATION, 0, 1000, 600000,
	 TIMEOUT_TEXT(RING_TIMEOUT_DEFAULT_S)},
	{"limits", "keepalive", CFG_DURATION, 0, 100, 600000, TIMEOUT_TEXT(KEEPALIVE_DEFAULT_S)},
	{"limits", "dead_after", CFG_DURATION, 0, 300, 3600000,
	 TIMEOUT_TEXT(DEAD_AFTER_DEFAULT_S)},
	{"limits", "failover_after", CFG_DURATION, 0, AUX_MIN_FAILOVER_AFTER_MS,
	 AUX_MAX_FAILOVER_AFTER_MS, FAILOVER_AFTER_DEFAULT_TEXT},
	{"relay", "listen", CFG_STRING, 0, 0, 0, "off"},
	{"relay", "public", CFG_ENDPOINT, 0, 0, 0, NULL},
	{"relay", "program", CFG_PATH, 0, 0, 0, NULL},
	{"relay", "user", CFG_STRING, 0, 0, 0, "nobody"},
	{"relay", "rate", CFG_INT, 0, 0, 1LL << 40, "0"},  /* 0: no limit */
	{"relay", "max_allocations", CFG_INT, 0, 1, 1048576, "4096"},
	{"relay", "expiry", CFG_DURATION, 0, 1000, 86400000, "60s"},
	{"standby", "priority", CFG_INT, 0, 1, 254, NULL},
	{"standby", "address", CFG_ADDR, 0, 0, 0, NULL},
	{"standby", "peer", CFG_ADDR, 0, 0, 0, NULL},
	{"standby", "port", CFG_INT, 0, 1, 65535, "7446"},
	{"standby", "interval", CFG_DURATION, 0, 20, 10000,
	 TIMEOUT_TEXT_MS(STANDBY_INTERVAL_DEFAULT_MS)},
	{"standby", "dead_after", CFG_DURATION, 0, 60, 60000,
	 TIMEOUT_TEXT_MS(STANDBY_DEAD_AFTER_DEFAULT_MS)},
	{"nat", "stun", CFG_STRING, 0, 0, 0, "principal"},
	{"nat", "stun_timeout", CFG_DURATION, 0, AUX_STUN_MIN_TIMEOUT_MS, STUN_TIMEOUT_MAX_MS,
	 "1s"},
	/* 2: leaves a NAT that is the gateway's first hop, dies at the next router
	 * (docs/nat.md, "Both behind port-preserving NATs") */
	{"nat", "prime_ttl", CFG_INT, 0, 0, 255, "2"},
};

/* The auxiliary installed beside this program, or in the build tree's auxiliary/. */
static const char *default_aux_program(void)
{
	return cmd_program_beside_self("insel-auxiliary", "auxiliary");
}

static int fail(struct secondary_config *c, const char *path, const char *what)
{
	fprintf(stderr, "insel-secondary: %s: %s\n", path, what);
	cfg_free(&c->file);
	return INSEL_E_CONFIG;
}

static bool wan_has_family(const struct secondary_config *c, int family)
{
	return c->wan_address.family == family || (c->has_wan_address6 && family == AF_INET6);
}

/* [relay] listen = ADDRESS:PORT | off: this gateway runs an insel-relay for other sites'
 * calls (docs/relay.md, section 8), announced at registration at [relay] public, else the
 * listen address, else (listening on every address) the peer endpoint's address, with
 * the port bound. */
static int load_relay(struct secondary_config *c, const char *path)
{
	const char *listen = cfg_str(&c->file, "relay", "listen");

	c->relay = strcmp(listen, "off") != 0;
	if (!c->relay)
		return 0;
	if (ip_endpoint_parse(listen, &c->relay_listen))
		return fail(c, path, "relay: listen must be ADDRESS:PORT or off");
	c->relay_has_public = cfg_endpoint(&c->file, "relay", "public", &c->relay_public) == 0;
	if (c->relay_has_public && c->relay_public.port == 0)
		return fail(c, path, "relay: public must name a port");
	c->relay_program = cfg_str(&c->file, "relay", "program");
	if (!c->relay_program)
		c->relay_program = cmd_program_beside_self("insel-relay", "relay");
	c->relay_user = cfg_str(&c->file, "relay", "user");
	c->relay_rate = (uint64_t)cfg_int(&c->file, "relay", "rate");
	c->relay_max_allocations = (uint32_t)cfg_int(&c->file, "relay", "max_allocations");
	c->relay_expiry_ms = cfg_duration_ms(&c->file, "relay", "expiry");
	return 0;
}

/* One server of [nat] stun: ADDRESS:PORT, [IPV6]:PORT or NAME:PORT (looked up once, at
 * load: the first address of a family the wan has, either on a dual-stack wan). */
static int stun_server(const struct secondary_config *c, const char *text,
		       struct ip_endpoint *out)
{
	int family = c->has_wan_address6 ? AF_UNSPEC : c->wan_address.family;
	struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_DGRAM,
				 .ai_flags = AI_NUMERICSERV}, *res = NULL;
	char host[256];
	const char *colon = strrchr(text, ':');
	int rc;

	if (ip_endpoint_parse(text, out) == 0)
		return out->port && wan_has_family(c, out->addr.family) ? 0 : INSEL_E_CONFIG;
	if (!colon || colon == text || (size_t)(colon - text) >= sizeof host || !colon[1] ||
	    memchr(text, '[', (size_t)(colon - text)))
		return INSEL_E_CONFIG;
	snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
		return INSEL_E_CONFIG;
	rc = ip_endpoint_from_sockaddr(res->ai_addr, out);
	freeaddrinfo(res);
	return rc || out->port == 0 ? INSEL_E_CONFIG : 0;
}

/* [principal] address = A[, B...], the key repeated or a list (or both): the principals
 * of one directory, most preferred first (principal_link.c fails over between them). */
static int load_principals(struct secondary_config *c, const char *path)
{
	size_t keys = cfg_count(&c->file, "principal", "address");
	char list[512], *save, *tok, why[320];

	c->nprincipals = 0;
	for (size_t k = 0; k < keys; k++) {
		snprintf(list, sizeof list, "%s", cfg_str_at(&c->file, "principal", "address", k));
		save = NULL;
		for (tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
			if (c->nprincipals == SECONDARY_MAX_PRINCIPALS)
				return fail(c, path, "principal: address names at most 8 principals");
			if (ip_endpoint_parse(tok, &c->principals[c->nprincipals]) != 0) {
				snprintf(why, sizeof why, "principal: address: '%.200s' is not "
					 "ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)", tok);
				return fail(c, path, why);
			}
			c->nprincipals++;
		}
	}
	if (c->nprincipals == 0)
		return fail(c, path, "principal: address must name at least one principal");
	return 0;
}

/* [nat] stun = principal | off | SERVER[, SERVER...], where "principal" may also be one
 * of the servers. At most AUX_STUN_MAX in all. */
static int load_nat(struct secondary_config *c, const char *path)
{
	char list[512], *save = NULL, *tok, why[320];
	size_t total = 0;

	snprintf(list, sizeof list, "%s", cfg_str(&c->file, "nat", "stun"));
	c->stun_timeout_ms = cfg_duration_ms(&c->file, "nat", "stun_timeout");
	c->prime_ttl = (unsigned)cfg_int(&c->file, "nat", "prime_ttl");
	c->stun_principal = false;
	c->nstun = 0;
	if (strcmp(list, "off") == 0)
		return 0;
	for (tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (++total > AUX_STUN_MAX)
			return fail(c, path, "nat: stun names at most 4 servers");
		if (strcmp(tok, "principal") == 0) {
			c->stun_principal = true;
			continue;
		}
		if (stun_server(c, tok, &c->stun[c->nstun]) != 0) {
			snprintf(why, sizeof why, "nat: stun: '%.200s' is not ADDRESS:PORT or "
				 "NAME:PORT of a family the wan has (or principal, or off)", tok);
			return fail(c, path, why);
		}
		c->nstun++;
	}
	if (total == 0)
		return fail(c, path, "nat: stun must be principal, off or a list of servers");
	return 0;
}

static bool ciphers_valid(const char *list)
{
	char copy[256], *save = NULL, *tok;
	size_t n = 0;

	snprintf(copy, sizeof copy, "%s", list);
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save), n++)
		if (sec_cipher_from_name(tok) == SEC_CIPHER_NONE)
			return false;
	return n > 0;
}

static bool fingerprint_valid(const char *fp)
{
	return strlen(fp) == PKI_FINGERPRINT_LEN &&
	       strspn(fp, "0123456789abcdef") == PKI_FINGERPRINT_LEN;
}

/* [principal] fingerprint: one, or a list (one per principal of the directory). */
static bool fingerprints_valid(const char *list)
{
	char copy[1024], *save = NULL, *tok;
	size_t n = 0;

	if (strlen(list) >= sizeof copy)
		return false;
	snprintf(copy, sizeof copy, "%s", list);
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save), n++)
		if (!fingerprint_valid(tok))
			return false;
	return n > 0;
}

static bool lan_address_inside(const struct secondary_config *c, const struct ip_addr *a)
{
	for (size_t i = 0; i < c->nprefixes; i++)
		if (ip_prefix_contains(&c->prefixes[i], a))
			return true;
	return false;
}

static bool inside_lan(const struct secondary_config *c, const struct ip_prefix *p)
{
	for (size_t i = 0; i < c->nprefixes; i++)
		if (ip_prefix_covers(&c->prefixes[i], p))
			return true;
	return false;
}

static int load_prefix_list(struct secondary_config *c, const char *section, const char *key,
			    struct ip_prefix *out, size_t *n)
{
	size_t count = cfg_count(&c->file, section, key);

	if (count > SECONDARY_MAX_PREFIXES)
		return -1;
	for (*n = 0; *n < count; (*n)++)
		ip_prefix_parse(cfg_str_at(&c->file, section, key, *n), true, &out[*n]);
	return 0;
}

/* [peers] reachable: auto (the principal dials us back to find out), yes, no. */
static int load_reachable(struct secondary_config *c, const char *path)
{
	const char *v = cfg_str(&c->file, "peers", "reachable");

	if (strcmp(v, "auto") == 0)
		c->peer_reachable = POP_REACH_UNKNOWN;
	else if (strcmp(v, "yes") == 0)
		c->peer_reachable = POP_REACH_YES;
	else if (strcmp(v, "no") == 0)
		c->peer_reachable = POP_REACH_NO;
	else
		return fail(c, path, "peers: reachable must be auto, yes or no");
	return 0;
}

static int fail_trunk(struct secondary_config *c, const char *path, const char *section,
		      const char *what)
{
	char why[320];

	snprintf(why, sizeof why, "[%.200s]: %s", section, what);
	return fail(c, path, why);
}

/* "[trunk NAME]" sections: a peer LAN other than ours, local prefixes inside our LAN. */
static int load_trunks(struct secondary_config *c, const char *path)
{
	const char *names[SECONDARY_MAX_TRUNKS + 1];
	size_t n = cfg_sections(&c->file, "trunk ", names, SECONDARY_MAX_TRUNKS + 1);
	if (n > SECONDARY_MAX_TRUNKS)
		return fail(c, path, "too many [trunk] sections (at most 32)");
	for (size_t i = 0; i < n; i++) {
		struct trunk_config *t = &c->trunks[i];

		t->name = names[i];
		t->peer_lan = cfg_str(&c->file, names[i], "peer_lan");
		if (strcmp(t->peer_lan, c->lan) == 0)
			return fail_trunk(c, path, names[i], "peer_lan is this gateway's own LAN");
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->trunks[j].peer_lan, t->peer_lan) == 0)
				return fail_trunk(c, path, names[i], "another trunk has the same "
							    "peer_lan");
		if (load_prefix_list(c, names[i], "local", t->local, &t->nlocal) ||
		    load_prefix_list(c, names[i], "remote", t->remote, &t->nremote))
			return fail_trunk(c, path, names[i], "at most 16 local and 16 remote prefixes");
		for (size_t j = 0; j < t->nlocal; j++)
			if (!inside_lan(c, &t->local[j]))
				return fail_trunk(c, path, names[i], "each local prefix must be "
							    "inside the LAN's prefixes");
		if (cfg_count(&c->file, names[i], "remote_map") == 1) {
			ip_prefix_parse(cfg_str(&c->file, names[i], "remote_map"), true,
					&t->remote_map);
			t->has_remote_map = true;
			if (t->remote_map.addr.family != AF_INET)
				return fail_trunk(c, path, names[i], "remote_map must be an IPv4 "
								    "prefix");
			for (size_t j = 0; j < c->nprefixes; j++)
				if (ip_prefix_overlap(&t->remote_map, &c->prefixes[j]))
					return fail_trunk(c, path, names[i], "remote_map must not "
							  "overlap the LAN's own prefixes");
		}
		if (t->nlocal == 0) {  /* the LAN's prefixes, IPv4 and IPv6 */
			memcpy(t->local, c->prefixes, sizeof t->local);
			t->nlocal = c->nprefixes;
		}
	}
	c->ntrunks = n;
	return 0;
}

/* "FIRST-LAST": unprivileged uids no account uses, at least one per call allowed. */
static int load_uid_range(struct secondary_config *c, const char *path)
{
	const char *text = cfg_str(&c->file, "auxiliary", "uid_range");
	unsigned long first, last;
	char *end;

	errno = 0;
	first = strtoul(text, &end, 10);
	if (errno || end == text || *end != '-')
		return fail(c, path, "auxiliary: uid_range must be FIRST-LAST (e.g. "
				     "200000-200999)");
	text = end + 1;
	last = strtoul(text, &end, 10);
	if (errno || end == text || *end || first == 0 || last < first ||
	    last >= UINT32_MAX || last - first >= UID_POOL_MAX)
		return fail(c, path, "auxiliary: uid_range must be FIRST-LAST, above 0, with at "
				     "most 65536 uids");
	if (last - first + 1 < (unsigned long)c->max_calls + c->ntrunks)
		return fail(c, path, "auxiliary: uid_range must hold a uid for every call "
				     "([limits] calls) and trunk");
	c->aux_uid_first = (uint32_t)first;
	c->aux_uid_last = (uint32_t)last;
	return 0;
}

static int load_seccomp(struct secondary_config *c, const char *path)
{
	const char *mode = cfg_str(&c->file, "secondary", "seccomp");

	if (strcmp(mode, "on") && strcmp(mode, "off") && strcmp(mode, "log"))
		return fail(c, path, "secondary: seccomp must be on, off or log");
	c->seccomp = mode;
	return 0;
}

/* The group whose members, on the gateway's unix socket, are operators (root always is). */
static int load_operator_group(struct secondary_config *c)
{
	const char *name = cfg_str(&c->file, "clients", "operator_group");
	struct group *g;

	if (!name)
		return 0;
	g = getgrnam(name);
	if (!g)
		return -1;
	c->operator_gid = g->gr_gid;
	c->has_operator_gid = true;
	return 0;
}

/* A dual-stack wan: wan_address6 beside an IPv4 wan_address (each call's auxiliary binds
 * one socket per family and offers a host candidate of each), and public6 beside an IPv4
 * public endpoint (registered too: gateways with IPv6 only dial it). */
static int load_second_family(struct secondary_config *c, const char *path)
{
	c->has_wan_address6 = cfg_addr(&c->file, "peers", "wan_address6",
				       &c->wan_address6) == 0;
	if (c->has_wan_address6 && (c->wan_address6.family != AF_INET6 ||
				    c->wan_address.family != AF_INET))
		return fail(c, path, "peers: wan_address6 must be an IPv6 address beside an IPv4 "
				     "wan_address (an IPv6-only wan needs only wan_address)");
	c->has_peer_public6 = cfg_endpoint(&c->file, "peers", "public6", &c->peer_public6) == 0;
	if (c->has_peer_public6 && (c->peer_public6.addr.family != AF_INET6 ||
				    c->peer_public.addr.family != AF_INET))
		return fail(c, path, "peers: public6 must be an IPv6 endpoint beside an IPv4 "
				     "public endpoint");
	return 0;
}

/* A global unicast IPv6 address (2000::/3): one the Internet routes, unlike a unique
 * local (fc00::/7), link-local, loopback, multicast or IPv4-mapped one. */
static bool global_unicast6(const struct ip_addr *a)
{
	return a->family == AF_INET6 && (a->bytes[0] & 0xe0) == 0x20;
}

/* Whether the peer listener takes connections at a: it listens on a itself, or on every
 * IPv6 address ([::], which takes both families). */
static bool listener_takes6(const struct secondary_config *c, const struct ip_addr *a)
{
	static const uint8_t any[16];

	return c->peer_listen.addr.family == AF_INET6 &&
	       (memcmp(c->peer_listen.addr.bytes, any, sizeof any) == 0 ||
		ip_addr_equal(&c->peer_listen.addr, a));
}

/* A dual-stack wan without public6: its IPv6 endpoint is the wan's IPv6 address at the
 * listener's port, registered as if configured (docs/nat.md, "The TLS peer connection"),
 * so that gateways with IPv6 only can dial it, or be dialled back by it, rather than be
 * spliced at once. Only where that endpoint is true as far as the gateway can tell (a
 * global address, a listener there, no NAT of its own in between: IPv6 has none) and the
 * principal checks it (reachable = auto): a port firewalled off is found not dialable
 * (reachable6 false) before anyone counts on it. */
static void derive_public6(struct secondary_config *c)
{
	if (c->has_peer_public6 || !c->has_wan_address6 || c->peer_public.addr.family != AF_INET ||
	    c->peer_reachable != POP_REACH_UNKNOWN || !global_unicast6(&c->wan_address6) ||
	    !listener_takes6(c, &c->wan_address6) || c->peer_listen.port == 0)
		return;
	c->peer_public6 = (struct ip_endpoint){.addr = c->wan_address6,
					       .port = c->peer_listen.port};
	c->has_peer_public6 = c->peer_public6_derived = true;
}

/* [standby] (docs/standby.md): this gateway shares the LAN address with a partner. Both
 * of its own addresses are on the LAN; the shared one is lan_address, IPv4. */
static int load_standby(struct secondary_config *c, const char *path)
{
	struct standby_config *sb = &c->standby;

	if (!cfg_str(&c->file, "standby", "priority"))
		return 0;
	if (cfg_addr(&c->file, "standby", "address", &sb->own.addr) ||
	    cfg_addr(&c->file, "standby", "peer", &sb->peer.addr))
		return fail(c, path, "standby: priority needs address (this gateway's own LAN "
				     "address) and peer (the partner's)");
	if (c->lan_address.family != AF_INET || sb->own.addr.family != AF_INET ||
	    sb->peer.addr.family != AF_INET)
		return fail(c, path, "standby: lan_address, address and peer must be IPv4");
	if (!lan_address_inside(c, &sb->own.addr) || !lan_address_inside(c, &sb->peer.addr) ||
	    ip_addr_equal(&sb->own.addr, &sb->peer.addr) ||
	    ip_addr_equal(&sb->own.addr, &c->lan_address) ||
	    ip_addr_equal(&sb->peer.addr, &c->lan_address))
		return fail(c, path, "standby: address and peer must be two other addresses "
				     "inside the LAN's prefixes than lan_address");
	sb->enabled = true;
	sb->priority = (uint8_t)cfg_int(&c->file, "standby", "priority");
	sb->own.port = sb->peer.port = (uint16_t)cfg_int(&c->file, "standby", "port");
	sb->interval_ms = cfg_duration_ms(&c->file, "standby", "interval");
	sb->dead_after_ms = cfg_duration_ms(&c->file, "standby", "dead_after");
	if (sb->dead_after_ms < 3 * sb->interval_ms)
		return fail(c, path, "standby: dead_after must be at least three intervals");
	for (size_t i = 0; i < c->nprefixes; i++)
		if (ip_prefix_contains(&c->prefixes[i], &c->lan_address))
			sb->prefix_len = c->prefixes[i].len;
	return 0;
}

/* The caps and handshake deadline of the [peers] or [clients] listener. */
static void load_listener_limits(const struct cfg *f, const char *section,
				 struct tls_server_limits *l)
{
	l->max_authenticated = (unsigned)cfg_int(f, section, "max_connections");
	l->max_pending = (unsigned)cfg_int(f, section, "max_pending");
	l->max_pending_per_source = (unsigned)cfg_int(f, section, "max_pending_per_source");
	l->handshake_timeout_ms = (unsigned)cfg_duration_ms(f, section, "handshake_timeout");
}

int secondary_config_load(struct secondary_config *c, const char *path)
{
	size_t n;
	const char *user;

	memset(c, 0, sizeof *c);
	if (cfg_load_file(&c->file, path, secondary_schema,
			  sizeof secondary_schema / sizeof secondary_schema[0])) {
		fprintf(stderr, "insel-secondary: %s\n", cfg_error(&c->file));
		cfg_free(&c->file);
		return INSEL_E_CONFIG;
	}
	c->name = cfg_str(&c->file, "secondary", "name");
	c->lan = cfg_str(&c->file, "secondary", "lan");
	n = cfg_count(&c->file, "secondary", "prefix");
	if (n > SECONDARY_MAX_PREFIXES)
		return fail(c, path, "too many prefixes for one LAN (at most 16)");
	for (c->nprefixes = 0; c->nprefixes < n; c->nprefixes++)
		ip_prefix_parse(cfg_str_at(&c->file, "secondary", "prefix", c->nprefixes), true,
				&c->prefixes[c->nprefixes]);
	cfg_addr(&c->file, "secondary", "lan_address", &c->lan_address);
	if (!lan_address_inside(c, &c->lan_address))
		return fail(c, path, "lan_address is not inside any of the LAN's prefixes");
	c->has_lan_address6 = cfg_addr(&c->file, "secondary", "lan_address6",
				       &c->lan_address6) == 0;
	if (c->has_lan_address6 && (c->lan_address6.family != AF_INET6 ||
				    !lan_address_inside(c, &c->lan_address6)))
		return fail(c, path, "lan_address6 must be an IPv6 address inside one of the "
				     "LAN's prefixes");
	if (load_principals(c, path) != 0)
		return INSEL_E_CONFIG;
	c->heartbeat_ms = cfg_duration_ms(&c->file, "principal", "heartbeat");
	c->principal_name = cfg_str(&c->file, "principal", "name");
	if (!pki_name_valid(c->principal_name))
		return fail(c, path, "principal: name must be the name in the principal's "
				     "certificate (1-64 of a-z 0-9 . _ -)");
	c->principal_fingerprint = cfg_str(&c->file, "principal", "fingerprint");
	if (c->principal_fingerprint && !fingerprints_valid(c->principal_fingerprint))
		return fail(c, path, "principal: fingerprint must be 64 lowercase hex digits "
				     "(SHA-256, as `insel-principal pki show` prints it), or a "
				     "list of them");
	c->ca = cfg_str(&c->file, "tls", "ca");
	c->cert = cfg_str(&c->file, "tls", "cert");
	c->key = cfg_str(&c->file, "tls", "key");
	cfg_endpoint(&c->file, "peers", "listen", &c->peer_listen);
	if (cfg_endpoint(&c->file, "peers", "public", &c->peer_public))
		c->peer_public = c->peer_listen;
	if (cfg_addr(&c->file, "peers", "wan_address", &c->wan_address))
		c->wan_address = c->peer_listen.addr;
	if (load_second_family(c, path) != 0 || load_reachable(c, path) != 0)
		return INSEL_E_CONFIG;
	derive_public6(c);
	c->ciphers = cfg_str(&c->file, "peers", "ciphers");
	if (sec_compress_from_name(cfg_str(&c->file, "peers", "compression"),
				   &c->compression) != 0)
		return fail(c, path, "peers: compression must be none or deflate");
	if (!ciphers_valid(c->ciphers))
		return fail(c, path, "peers: ciphers must list aes-256-gcm and/or "
				     "chacha20-poly1305, separated by commas");
	c->has_client_listen = cfg_endpoint(&c->file, "clients", "listen", &c->client_listen) == 0;
	c->client_socket = cfg_str(&c->file, "clients", "socket");
	if (load_operator_group(c) != 0)
		return fail(c, path, "clients: operator_group names no group of this system");
	c->metrics_listen = cfg_str(&c->file, "metrics", "listen");
	c->metrics_cert = cfg_str(&c->file, "metrics", "cert");
	c->metrics_key = cfg_str(&c->file, "metrics", "key");
	c->metrics_plain_remote = cfg_bool(&c->file, "metrics", "plain_remote");
	if (!c->metrics_cert != !c->metrics_key)
		return fail(c, path, "metrics: cert and key go together");
	c->aux_program = cfg_str(&c->file, "auxiliary", "program");
	if (!c->aux_program)
		c->aux_program = default_aux_program();
	user = cfg_str(&c->file, "auxiliary", "user");
	c->aux_keep_identity = user && strcmp(user, "-") == 0;
	c->aux_user = user && !c->aux_keep_identity ? user : NULL;
	c->max_calls = cfg_int(&c->file, "limits", "calls");
	c->idle_timeout_ms = cfg_duration_ms(&c->file, "limits", "idle_timeout");
	c->ring_timeout_ms = cfg_duration_ms(&c->file, "limits", "ring_timeout");
	c->keepalive_ms = cfg_duration_ms(&c->file, "limits", "keepalive");
	c->dead_after_ms = cfg_duration_ms(&c->file, "limits", "dead_after");
	c->failover_after_ms = cfg_duration_ms(&c->file, "limits", "failover_after");
	if (c->dead_after_ms <= c->keepalive_ms)
		return fail(c, path, "limits: dead_after must be longer than keepalive");
	c->path_mtu = (unsigned)cfg_int(&c->file, "peers", "path_mtu");
	c->rekey_interval_ms = cfg_duration_ms(&c->file, "peers", "rekey_interval");
	load_listener_limits(&c->file, "peers", &c->peer_limits);
	c->peer_idle_ms = (unsigned)cfg_duration_ms(&c->file, "peers", "idle_timeout");
	load_listener_limits(&c->file, "clients", &c->client_limits);
	c->client_limits.login_timeout_ms =
		(unsigned)cfg_duration_ms(&c->file, "clients", "login_timeout");
	if (load_trunks(c, path) || load_uid_range(c, path) || load_seccomp(c, path) ||
	    load_nat(c, path) || load_relay(c, path) || load_standby(c, path))
		return INSEL_E_CONFIG;
	return 0;
}

void secondary_config_free(struct secondary_config *c)
{
	cfg_free(&c->file);
}
