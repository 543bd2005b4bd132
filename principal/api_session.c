/* API ops of a secondary's session with the principal: hello (protocol version),
 * register (its LAN, prefixes and peer endpoint) and heartbeat. Their wire form is
 * principal_ops_session.c's. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "relay_choice.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "principal_ops.h"

static struct pop_timers timers(const struct api_server *s)
{
	return (struct pop_timers){s->heartbeat_ms, db_down_after(s->db) * 1000};
}

void hello_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct pop_hello_req req;
	char why[POP_WHY_LEN];
	int rc;

	if ((rc = pop_hello_req_decode(msg, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	if (req.version != MSG_PROTOCOL_VERSION) {
		api_reply_error(p, id, INSEL_E_VERSION,
				"protocol version %lld is not supported; this principal speaks %d",
				(long long)req.version, MSG_PROTOCOL_VERSION);
		return;
	}
	p->hello_done = true;
	struct pop_hello_reply reply = {MSG_PROTOCOL_VERSION, p->srv->name,
					pki_role_name(p->id.role), p->id.name, timers(p->srv)};

	api_reply_ok(p, id, pop_hello_reply_encode(&reply));
}

/* A dual-stack secondary's IPv6 peer endpoint (or none: a registration replaces it). */
static int register_endpoint6(struct api_peer *p, const struct pop_register_req *req,
			      char *text, size_t textlen)
{
	if (req->has_endpoint6)
		ip_endpoint_format(&req->endpoint6, text, textlen);
	return db_set_endpoint6(p->srv->db, p->id.name, req->has_endpoint6 ? text : NULL);
}

/* Whether an active registration of LAN lan by this secondary would move the LAN to it
 * from another gateway (docs/standby.md). */
static bool lan_moves_to(struct api_peer *p, const char *lan)
{
	struct pop_serving now;

	return db_lan_serving(p->srv->db, lan, p->srv->now(), &now) == 0 &&
	       now.secondary[0] && strcmp(now.secondary, p->id.name) != 0;
}

void register_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	static_assert(POP_MAX_PREFIXES == DB_MAX_PREFIXES, "a LAN's prefixes");
	struct pop_register_req req;
	char endpoint[IP_STRLEN], endpoint6[IP_STRLEN] = "", relay_at[IP_STRLEN];
	char why[POP_WHY_LEN];
	int rc;

	if ((rc = pop_register_req_decode(msg, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	ip_endpoint_format(&req.endpoint, endpoint, sizeof endpoint);
	struct db_registration r = {p->id.name, p->id.fingerprint, p->id.serial, req.lan,
				    req.prefixes, req.nprefixes, endpoint,
				    req.reachable == POP_REACH_UNKNOWN ? -1
				    : req.reachable == POP_REACH_YES, req.standby};
	char current_fp[PKI_FINGERPRINT_LEN + 1], current_serial[PKI_SERIAL_MAX + 1];
	bool with_previous = renew_registration_identity(p, &r, current_fp, current_serial);

	bool moved = !req.standby && lan_moves_to(p, req.lan);

	rc = db_register(p->srv->db, &r, p->srv->now());
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	/* A standby took the LAN over: the other sites hear of it at once. */
	if (moved && p->srv->gateway_moved)
		p->srv->gateway_moved(p->srv, req.lan, p->id.name);
	renew_registered(p, with_previous);
	if ((rc = register_endpoint6(p, &req, endpoint6, sizeof endpoint6)) != 0) {
		api_reply_db_error(p, id, rc);
		return;
	}
	api_event(p->srv, "gateway_up", json_pack("{s:s, s:s, s:b}", "secondary", p->id.name,
						  "lan", req.lan, "standby", req.standby));
	log_info("secondary %s registered LAN %s%s at %s%s%s%s", p->id.name, req.lan,
		 req.standby ? " as a standby gateway" : "", endpoint,
		 endpoint6[0] ? " and " : "", endpoint6,
		 req.reachable == POP_REACH_YES ? " (declared reachable)"
		 : req.reachable == POP_REACH_NO ? " (declared not reachable)" : "");
	/* A relay it runs for others' calls (or none now): docs/relay.md, section 8. */
	if (p->srv->relays)
		relay_choice_announce(p->srv->relays, p->id.name, &req);
	if (req.has_relay)
		log_info("secondary %s runs a relay at %s", p->id.name,
			 ip_endpoint_format(&req.relay, relay_at, sizeof relay_at));
	/* Whether peers can dial those endpoints: the principal tries each, over its own
	 * family (docs/nat.md). */
	if (req.reachable == POP_REACH_UNKNOWN && p->srv->check_reachable) {
		p->srv->check_reachable(p->srv, p->id.name, endpoint);
		if (endpoint6[0])
			p->srv->check_reachable(p->srv, p->id.name, endpoint6);
	}
	struct pop_register_reply reply = {.secondary = p->id.name, .lan = req.lan,
					   .nprefixes = req.nprefixes, .timers = timers(p->srv),
					   .has_stun = p->srv->has_stun, .stun = p->srv->stun,
					   .has_stun_alternate = p->srv->has_stun_alternate,
					   .stun_alternate = p->srv->stun_alternate};

	memcpy(reply.prefixes, req.prefixes, req.nprefixes * sizeof req.prefixes[0]);
	api_reply_ok(p, id, pop_register_reply_encode(&reply));
}

void heartbeat_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct pop_timers t;
	bool revoked;
	int rc;

	(void)msg;
	/* A certificate revoked while its connection was open stops here. While the
	 * directory is unreachable, the daemon's copy of the list (asked before every
	 * request) stands in for it: the link stays, and the heartbeat is refused
	 * `directory_unavailable` and recorded once the directory is back. */
	rc = db_revoked(p->srv->db, p->id.serial, &revoked);
	if (rc != INSEL_E_DB_DOWN && (rc || revoked)) {
		api_reply_error(p, id, INSEL_E_VERIFY, "certificate %s is revoked", p->id.serial);
		p->close(p, INSEL_E_VERIFY);
		return;
	}
	if (!rc)
		rc = db_heartbeat(p->srv->db, p->id.name, p->srv->now());
	if (rc == INSEL_E_DB_DOWN)
		p->heartbeat_unrecorded = p->srv->now();
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	p->heartbeat_unrecorded = 0;
	t = timers(p->srv);
	api_reply_ok(p, id, pop_timers_reply_encode(&t));
}
