/* Standby gateways (docs/standby.md): two secondaries on one LAN share its address
 * ([secondary] lan_address, the one hosts route other sites through). Each sends the
 * other an advertisement every interval over the LAN, with its priority and whether it
 * holds the address. The one that holds it is the active gateway: it is registered as
 * such with the principal (so look-ups name it), places the trunk calls, and takes calls.
 * The other registers as standby and waits. When it has heard no advertisement of an
 * active partner for dead_after, or hears the partner resign (its address keeper does so
 * the moment the partner's daemon dies, kill -9 included), it takes the address, sends
 * gratuitous ARP, registers as active and calls its trunks. Should both hold it at once
 * (they started together, or the LAN was split), the one with the lower priority (or the
 * lower own address at equal priorities) lets it go. Nothing preempts an active gateway:
 * a partner that comes back stays standby until this one goes. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "secondary.h"
#include "standby_codec.h"
#include "standby_keeper.h"

struct standby {
	struct secondary *sec;
	const struct standby_config *cfg;
	struct standby_keeper keeper;
	enum standby_role role;        /* ACTIVE or STANDBY */
	uv_udp_t udp;
	uv_timer_t advert, watch;
	uv_signal_t handover;          /* SIGUSR1: a planned switch to the partner */
	uint64_t asserted_ms;          /* when a conflict last made us register again */
	bool started;
};

static void watch_cb(uv_timer_t *t);

bool secondary_is_active(const struct secondary *s)
{
	return !s->standby || s->standby->role == STANDBY_ROLE_ACTIVE;
}

/* The interface that holds our own LAN address ([standby] address). */
static int own_interface(const struct ip_addr *own)
{
	struct ifaddrs *list, *i;
	int index = 0;

	if (getifaddrs(&list) != 0)
		return 0;
	for (i = list; i && !index; i = i->ifa_next) {
		struct ip_endpoint e;

		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ip_endpoint_from_sockaddr(i->ifa_addr, &e) == 0 && ip_addr_equal(&e.addr, own))
			index = (int)if_nametoindex(i->ifa_name);
	}
	freeifaddrs(list);
	return index;
}

int standby_prepare(struct secondary *s)
{
	const struct standby_config *cfg = &s->cfg.standby;
	struct standby_keeper_config kc;
	struct standby *sb;
	int rc;

	if (!cfg->enabled)
		return 0;
	kc = (struct standby_keeper_config){.ifindex = own_interface(&cfg->own.addr),
					    .address = s->cfg.lan_address,
					    .prefix_len = cfg->prefix_len, .own = cfg->own,
					    .peer = cfg->peer, .priority = cfg->priority};
	if (kc.ifindex == 0) {
		log_error("standby: no interface holds this gateway's own LAN address "
			  "([standby] address)");
		return INSEL_E_CONFIG;
	}
	if (!(sb = calloc(1, sizeof *sb)))
		return -ENOMEM;
	if ((rc = standby_keeper_spawn(&kc, &sb->keeper)) != 0) {
		log_error("standby: cannot start the address keeper: %s", strerror(-rc));
		free(sb);
		return rc;
	}
	/* A leftover of an earlier run (the keeper cleans up, but a machine may crash). */
	standby_keeper_release(&sb->keeper);
	sb->sec = s;
	sb->cfg = cfg;
	sb->role = STANDBY_ROLE_STANDBY;
	s->standby = sb;
	return 0;
}

static void send_advert(struct standby *sb, enum standby_role role)
{
	struct standby_advert a = {sb->cfg->priority, role};
	struct sockaddr_storage to;
	uint8_t wire[STANDBY_ADVERT_LEN];
	uv_buf_t buf = uv_buf_init((char *)wire, sizeof wire);

	standby_advert_encode(&a, wire);
	ip_endpoint_to_sockaddr(&sb->cfg->peer, &to);
	uv_udp_try_send(&sb->udp, &buf, 1, (struct sockaddr *)&to);
}

static void advert_cb(uv_timer_t *t)
{
	struct standby *sb = t->data;

	send_advert(sb, sb->role);
}

static void take_over(struct standby *sb, const char *why)
{
	int rc;

	if (sb->role == STANDBY_ROLE_ACTIVE || sb->sec->stopping)
		return;
	rc = standby_keeper_take(&sb->keeper);
	if (rc) {
		log_error("standby: cannot take the LAN address: %s; trying again",
			  strerror(-rc));
		uv_timer_start(&sb->watch, watch_cb, sb->cfg->interval_ms, 0);
		return;
	}
	sb->role = STANDBY_ROLE_ACTIVE;
	log_warn("standby: %s; this gateway is active now and holds the LAN address", why);
	send_advert(sb, sb->role);
	principal_link_reregister(&sb->sec->principal);
	trunks_redial_now(sb->sec);
}

static void watch_cb(uv_timer_t *t)
{
	take_over(t->data, "no advertisement from an active partner");
}

/* (Re)starts the wait for the partner; a lower priority waits a little longer. */
static void watch_again(struct standby *sb, bool with_skew)
{
	uint64_t skew = with_skew ? (255u - sb->cfg->priority) * sb->cfg->interval_ms / 256 : 0;

	if (sb->role != STANDBY_ROLE_STANDBY)
		return;
	uv_timer_start(&sb->watch, watch_cb, sb->cfg->dead_after_ms + skew, 0);
}

/* Two active gateways: the partner wins on a higher priority, or an equal one and the
 * higher own address. */
static bool partner_wins(const struct standby *sb, const struct standby_advert *a)
{
	if (a->priority != sb->cfg->priority)
		return a->priority > sb->cfg->priority;
	return memcmp(sb->cfg->peer.addr.bytes, sb->cfg->own.addr.bytes, 4) > 0;
}

static void step_down(struct standby *sb)
{
	int rc = standby_keeper_release(&sb->keeper);

	if (rc)
		log_error("standby: cannot release the LAN address: %s", strerror(-rc));
	sb->role = STANDBY_ROLE_STANDBY;
	log_warn("standby: the partner holds the LAN address too and wins; standing by");
	principal_link_reregister(&sb->sec->principal);
	watch_again(sb, false);
}

/* A planned switch (SIGUSR1, docs/standby.md): the active gateway lets the address go
 * and resigns, as its keeper would if it died; the partner takes over at once. Should no
 * partner answer, this gateway takes the address back after dead_after. */
static void handover_cb(uv_signal_t *sig, int signum)
{
	struct standby *sb = sig->data;
	int rc;

	(void)signum;
	if (sb->role != STANDBY_ROLE_ACTIVE) {
		log_info("standby: asked to hand over, but this gateway is the standby");
		return;
	}
	if ((rc = standby_keeper_release(&sb->keeper)) != 0) {
		log_error("standby: cannot release the LAN address: %s", strerror(-rc));
		return;
	}
	sb->role = STANDBY_ROLE_STANDBY;
	log_warn("standby: handing the LAN over to the partner, as asked (SIGUSR1)");
	for (int i = 0; i < 3; i++)
		send_advert(sb, STANDBY_ROLE_RESIGNING);
	principal_link_reregister(&sb->sec->principal);
	watch_again(sb, false);
}

/* Both hold the address and this one wins: the partner lets it go, but may have been
 * the last to register as active, so the directory hears from the winner again (once
 * per dead_after, however many of the partner's advertisements cross its step-down). */
static void assert_active(struct standby *sb)
{
	uint64_t now = uv_now(sb->sec->loop);

	if (sb->asserted_ms && now - sb->asserted_ms < sb->cfg->dead_after_ms)
		return;
	sb->asserted_ms = now;
	log_warn("standby: the partner holds the LAN address too and loses; registering as "
		 "active again");
	principal_link_reregister(&sb->sec->principal);
}

static void on_advert(struct standby *sb, const struct standby_advert *a)
{
	switch (a->role) {
	case STANDBY_ROLE_RESIGNING:
		take_over(sb, "the active partner resigned");
		break;
	case STANDBY_ROLE_ACTIVE:
		if (sb->role == STANDBY_ROLE_STANDBY)
			watch_again(sb, false);
		else if (partner_wins(sb, a))
			step_down(sb);
		else
			assert_active(sb);
		break;
	case STANDBY_ROLE_STANDBY:
		break;
	}
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char space[64];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(space, sizeof space);
}

static void recv_cb(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
		    unsigned flags)
{
	struct standby *sb = u->data;
	struct standby_advert a;
	struct ip_endpoint src;

	if (n <= 0 || !from || (flags & UV_UDP_PARTIAL))
		return;
	/* Only the configured partner speaks for the LAN's other gateway. */
	if (ip_endpoint_from_sockaddr(from, &src) != 0 ||
	    !ip_addr_equal(&src.addr, &sb->cfg->peer.addr))
		return;
	if (standby_advert_decode((const uint8_t *)buf->base, (size_t)n, &a) != 0) {
		log_debug("standby: an unreadable advertisement from the partner");
		return;
	}
	on_advert(sb, &a);
}

int standby_start(struct secondary *s)
{
	struct standby *sb = s->standby;
	struct sockaddr_storage at;
	int rc;

	if (!sb)
		return 0;
	uv_udp_init(s->loop, &sb->udp);
	uv_timer_init(s->loop, &sb->advert);
	uv_timer_init(s->loop, &sb->watch);
	uv_signal_init(s->loop, &sb->handover);
	sb->udp.data = sb->advert.data = sb->watch.data = sb->handover.data = sb;
	sb->started = true;
	ip_endpoint_to_sockaddr(&sb->cfg->own, &at);
	rc = uv_udp_bind(&sb->udp, (struct sockaddr *)&at, UV_UDP_REUSEADDR);
	if (!rc)
		rc = uv_udp_recv_start(&sb->udp, alloc_cb, recv_cb);
	if (rc) {
		log_error("standby: cannot listen for the partner on port %u: %s",
			  (unsigned)sb->cfg->own.port, uv_strerror(rc));
		return INSEL_E_UNAVAILABLE;
	}
	uv_signal_start(&sb->handover, handover_cb, SIGUSR1);
	uv_timer_start(&sb->advert, advert_cb, 0, sb->cfg->interval_ms);
	watch_again(sb, true);
	log_info("standby: priority %u, waiting to hear an active partner", sb->cfg->priority);
	return 0;
}

void standby_stop(struct secondary *s)
{
	struct standby *sb = s->standby;

	if (!sb)
		return;
	/* The keeper lets the address go and tells the partner to take over. */
	standby_keeper_close(&sb->keeper);
	if (sb->started) {
		uv_timer_stop(&sb->advert);
		uv_timer_stop(&sb->watch);
		uv_close((uv_handle_t *)&sb->advert, NULL);
		uv_close((uv_handle_t *)&sb->watch, NULL);
		uv_close((uv_handle_t *)&sb->udp, NULL);
		uv_close((uv_handle_t *)&sb->handover, NULL);
		sb->started = false;
	}
	sb->role = STANDBY_ROLE_STANDBY;
}

void standby_free(struct secondary *s)
{
	free(s->standby);
	s->standby = NULL;
}
