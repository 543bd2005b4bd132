/* Site-to-site trunks: network calls between two whole LANs that the operators configure
 * on both gateways ("[trunk NAME]" with peer_lan, and optionally local and remote
 * prefixes) and that the gateways keep up with no client involved.
 *
 * Only one side dials, so that the two never cross: the gateway whose LAN name sorts
 * lower (strcmp). It places the trunk's call once the principal link is up (call.c,
 * call_place_trunk: directory look-up of the peer LAN, TLS to its secondary, a call
 * request with one tun channel) and, whenever that call ends for any reason (peer lost,
 * auxiliary killed, peer restarted, hang-up by an operator), places it again after a
 * back-off that doubles from 1 s to 30 s, with jitter, and starts over from 1 s once a
 * call has stayed up for a minute. The other side accepts a trunk call only for a peer
 * LAN it has a trunk configured for, without ringing anybody. */
#include <string.h>

#include "log.h"
#include "rand.h"
#include "secondary.h"
#include "timeouts.h"
#include "wire_errors.h"


static void trunk_dial(uv_timer_t *timer);

int trunk_map(struct call *call, const struct trunk_config *cfg)
{
	char text[IP_STRLEN];

	call->has_tun_map = false;
	if (!cfg->has_remote_map)
		return 0;
	for (size_t i = 0; i < call->ntun_remote; i++)
		if (call->tun_remote[i].addr.family == AF_INET &&
		    call->tun_remote[i].len == cfg->remote_map.len) {
			call->tun_map_real = call->tun_remote[i];
			call->tun_map_as = cfg->remote_map;
			call->has_tun_map = true;
			return 0;
		}
	log_warn("trunk %s: remote_map %s: the peer LAN has no IPv4 prefix /%u to map", cfg->name,
		 ip_prefix_format(&cfg->remote_map, text, sizeof text), cfg->remote_map.len);
	call_end(call, WIRE(NO_COMMON), "the trunk's remote_map has no peer IPv4 prefix of its "
		 "length to map");
	return -1;
}

static void schedule(struct trunk *t, uint64_t delay_ms)
{
	if (t->sec->stopping || !t->initiator)
		return;
	uv_timer_start(&t->retry, trunk_dial, delay_ms, 0);
}

static uint64_t next_backoff(struct trunk *t)
{
	return rand_backoff_ms(&t->backoff_ms, TRUNK_BACKOFF_FIRST_MS, TRUNK_BACKOFF_MAX_MS);
}

static void trunk_dial(uv_timer_t *timer)
{
	struct trunk *t = timer->data;
	int rc;

	if (t->call || t->sec->stopping)
		return;
	/* A standby gateway (docs/standby.md) calls once it has taken over. */
	if (!principal_link_up(&t->sec->principal) || !secondary_is_active(t->sec)) {
		schedule(t, TRUNK_WAIT_PRINCIPAL_MS);
		return;
	}
	t->attempts++;
	log_info("trunk %s: calling LAN %s (attempt %u)", t->cfg->name + 6, t->cfg->peer_lan,
		 t->attempts);
	rc = call_place_trunk(t->sec, t);
	if (rc)
		schedule(t, next_backoff(t));
}

void trunk_call_up(struct trunk *t, struct call *call)
{
	t->call = call;
	t->up_since_ms = uv_now(t->sec->loop);
	log_info("trunk %s to LAN %s is up on interface %s (call %s)", t->cfg->name + 6,
		 t->cfg->peer_lan, call->tun_ifname, call->id_hex);
}

void trunk_call_ended(struct trunk *t, struct call *call, const char *reason)
{
	uint64_t now = uv_now(t->sec->loop);

	if (t->call != call)
		return;
	t->call = NULL;
	if (t->up_since_ms && now - t->up_since_ms >= TRUNK_STABLE_MS)
		t->backoff_ms = 0;
	t->up_since_ms = 0;
	/* The peer LAN's gateway failed over: its new one is there already. */
	t->redial_at_once = t->redial_at_once || strcmp(reason, WIRE(GATEWAY_FAILOVER)) == 0;
	if (t->initiator && !t->sec->stopping) {
		uint64_t delay = t->redial_at_once ? 0 : next_backoff(t);

		log_warn("trunk %s to LAN %s is down (%s); calling again in %llu ms",
			 t->cfg->name + 6, t->cfg->peer_lan, reason, (unsigned long long)delay);
		schedule(t, delay);
	}
	t->redial_at_once = false;
}

void trunk_redial_soon(struct trunk *t)
{
	t->backoff_ms = 0;
	if (t->call)
		t->redial_at_once = true;  /* when its call, ending now, has ended */
	else
		schedule(t, 0);
}

void trunks_redial_now(struct secondary *s)
{
	for (size_t i = 0; i < s->ntrunks; i++)
		if (!s->trunks[i].call)
			trunk_redial_soon(&s->trunks[i]);
}

struct trunk *trunk_for_lan(struct secondary *s, const char *lan)
{
	for (size_t i = 0; i < s->ntrunks; i++)
		if (strcmp(s->trunks[i].cfg->peer_lan, lan) == 0)
			return &s->trunks[i];
	return NULL;
}

void trunks_start(struct secondary *s)
{
	s->ntrunks = s->cfg.ntrunks;
	for (size_t i = 0; i < s->ntrunks; i++) {
		struct trunk *t = &s->trunks[i];

		memset(t, 0, sizeof *t);
		t->sec = s;
		t->cfg = &s->cfg.trunks[i];
		t->initiator = strcmp(s->cfg.lan, t->cfg->peer_lan) < 0;
		uv_timer_init(s->loop, &t->retry);
		t->retry.data = t;
		log_info("trunk %s to LAN %s: %s", t->cfg->name + 6, t->cfg->peer_lan,
			 t->initiator ? "this gateway calls" : "waiting for the peer's call");
		schedule(t, TRUNK_FIRST_DELAY_MS);
	}
}

void trunks_stop(struct secondary *s)
{
	for (size_t i = 0; i < s->ntrunks; i++) {
		uv_timer_stop(&s->trunks[i].retry);
		uv_close((uv_handle_t *)&s->trunks[i].retry, NULL);
	}
}
