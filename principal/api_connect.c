/* API op connect (signalling across NAT, docs/nat.md): the caller's secondary cannot dial
 * the callee's, so the principal has the callee's dial back (connection reversal: the
 * caller's endpoint can be dialled) or both dial its splice (neither can). It expects
 * the splice's two ends, tells the callee's secondary over its link (dial_back notice,
 * with the one-time token the caller drew, which both preambles carry) and answers the
 * caller how to wait. Its wire form is principal_ops_connect.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "connect_choice.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "principal_ops.h"
#include "rand.h"
#include "splice.h"

/* How long a dial_back notice for a gateway linked to another principal may wait in the
 * mailbox: well inside the caller's wait for the principal's answer (5 s) and for the
 * dial back (REVERSAL_WAIT_MS, 5 s from its request). */
#define CONNECT_MAIL_TTL_MS 2000

/* Where the callee's secondary can dial the caller's back, if the directory says it can
 * (or has not found out yet: the caller then falls back to a splice if nobody dials), over
 * a family the callee has: the caller's endpoint or its endpoint6 (connect_choice.h). */
static bool caller_dialable(struct api_peer *p, const struct pop_serving *callee,
			    struct ip_endpoint *at)
{
	struct pop_serving caller;

	if (db_secondary_reach(p->srv->db, p->id.name, &caller))
		return false;
	return connect_reversal_to(&caller, callee, at);
}

#define WAY_LEN (IP_STRLEN + 32)

/* The way chosen, for the log: which endpoint and family a reversal dials (a dual-stack
 * caller may be dialled over IPv6 only), or the splice. */
static const char *way_of(const struct pop_connect_reply *r, char out[WAY_LEN])
{
	char to[IP_STRLEN];

	if (r->mode != POP_SIG_REVERSED)
		return "both dial the splice";
	snprintf(out, WAY_LEN, "it dials back at %s (%s)",
		 ip_endpoint_format(&r->to, to, sizeof to),
		 r->to.addr.family == AF_INET6 ? "IPv6" : "IPv4");
	return out;
}

/* The callee LAN's secondary, up and not the caller; 0 or an error already answered. */
static int callee_of(struct api_peer *p, json_int_t id, const char *lan,
		     struct pop_serving *out)
{
	int rc = db_lan_serving(p->srv->db, lan, p->srv->now(), out);

	if (rc) {
		api_reply_db_error(p, id, rc);
		return rc;
	}
	if (strcmp(out->state, "up") != 0) {
		api_reply_error(p, id, INSEL_E_UNAVAILABLE, "the secondary of LAN %s is not up",
				lan);
		return INSEL_E_UNAVAILABLE;
	}
	if (strcmp(out->secondary, p->id.name) == 0) {
		api_reply_error(p, id, INSEL_E_FORBIDDEN, "LAN %s is this secondary's own", lan);
		return INSEL_E_FORBIDDEN;
	}
	return 0;
}

/* A connect whose notice waits in the mailbox for the principal holding the callee's
 * link: answered when it was delivered, or refused when nobody took it in time. */
struct connect_wait {
	struct api_peer *p;
	json_int_t id;
	struct pop_connect_reply reply;
	char callee[80];
	char call[ID_STRLEN];
	uint64_t posted_ms;
};

static uint64_t clock_ms(const struct api_server *s)
{
	return s->clock_ms ? s->clock_ms() : (uint64_t)s->now() * 1000;
}

static void notice_delivered(void *ctx, int err)
{
	struct connect_wait *w = ctx;
	struct api_peer *p = w->p;

	p->mail_pending--;
	if (!p->gone && err == 0) {
		char way[WAY_LEN];

		p->srv->connects++;
		log_info("call %s: %s cannot dial %s (linked to another principal; told in "
			 "%llu ms); %s", w->call, p->id.name, w->callee,
			 (unsigned long long)(clock_ms(p->srv) - w->posted_ms),
			 way_of(&w->reply, way));
		api_reply_ok(p, w->id, pop_connect_reply_encode(&w->reply));
	} else if (!p->gone) {
		api_reply_error(p, w->id, err == INSEL_E_UNAVAILABLE ? err : INSEL_E_UNAVAILABLE,
				"secondary %s has no link to any principal now: the notice was "
				"not delivered within %d ms%s%s", w->callee, CONNECT_MAIL_TTL_MS,
				err == INSEL_E_UNAVAILABLE ? "" : ": ",
				err == INSEL_E_UNAVAILABLE ? "" : insel_strerror(err));
	}
	free(w);
	if (p->gone && api_peer_idle(p))
		p->release(p);
}

static int post_notice(struct api_peer *p, json_int_t id, const struct pop_serving *callee,
		       const struct pop_dial_back *notice, const struct pop_connect_reply *reply)
{
	struct api_server *s = p->srv;
	struct connect_wait *w = calloc(1, sizeof *w);
	json_t *msg = pop_dial_back_notice_encode(notice);
	int rc = !w || !msg ? -ENOMEM : 0;

	if (!rc) {
		w->p = p;
		w->id = id;
		w->reply = *reply;
		snprintf(w->callee, sizeof w->callee, "%s", callee->secondary);
		id_format(notice->call_id, w->call);
		w->posted_ms = clock_ms(s);
		rc = s->post(s, callee->secondary, msg, CONNECT_MAIL_TTL_MS, notice_delivered, w);
	}
	json_decref(msg);
	if (rc) {
		free(w);
		api_reply_error(p, id, rc == INSEL_E_LIMIT ? rc : INSEL_E_UNAVAILABLE,
				"secondary %s has no link to this principal, and the notice "
				"cannot be left for another: %s", callee->secondary,
				insel_strerror(rc));
		return rc;
	}
	p->mail_pending++;
	return 0;
}

void connect_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct api_server *s = p->srv;
	struct pop_connect_req req;
	struct pop_connect_reply reply;
	struct pop_dial_back notice;
	struct pop_serving callee;
	char why[POP_WHY_LEN], call[ID_STRLEN], to[IP_STRLEN], way[WAY_LEN];
	int rc;

	if ((rc = pop_connect_req_decode(msg, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	if (callee_of(p, id, req.callee_lan, &callee))
		return;
	memset(&notice, 0, sizeof notice);
	memset(&reply, 0, sizeof reply);
	notice.call_id = req.call_id;
	notice.caller = p->id.name;
	if (!req.splice && caller_dialable(p, &callee, &notice.to)) {
		notice.mode = POP_SIG_REVERSED;
	} else if (s->splice) {
		notice.mode = POP_SIG_SPLICED;
	} else {
		api_reply_error(p, id, INSEL_E_UNAVAILABLE, "neither gateway can be dialled, and "
				"this principal does not splice ([splice] listen is off)");
		return;
	}
	memcpy(notice.token, req.token, sizeof notice.token);
	if (notice.mode == POP_SIG_SPLICED &&
	    (rc = splice_expect(s->splice, req.call_id, notice.token, p->id.name,
				callee.secondary))) {
		api_reply_error(p, id, rc, "%s", rc == INSEL_E_EXISTS
				? "the splice already expects this call"
				: "the splice takes no more calls of these gateways now");
		return;
	}
	reply.mode = notice.mode;
	if (notice.mode == POP_SIG_SPLICED)
		splice_endpoint_for(s->splice, p->has_local ? &p->local : NULL, &reply.splice);
	if (notice.mode == POP_SIG_REVERSED) {
		reply.has_to = true;
		reply.to = notice.to;
	}
	rc = s->dial_back ? s->dial_back(s, callee.secondary, &notice) : INSEL_E_UNAVAILABLE;
	if (rc == INSEL_E_UNAVAILABLE && s->post) {
		/* The callee's link is another principal's: the notice goes through the
		 * mailbox, with our splice in it (the one the caller is told of). */
		notice.to = notice.mode == POP_SIG_SPLICED ? reply.splice : notice.to;
		rc = post_notice(p, id, &callee, &notice, &reply);
		secure_wipe(&notice, sizeof notice);
		return;
	}
	if (rc) {
		api_reply_error(p, id, INSEL_E_UNAVAILABLE, "secondary %s has no link to the "
				"principal now", callee.secondary);
		return;  /* an expected splice expires unpaired */
	}
	s->connects++;
	log_info("call %s: %s cannot dial %s; %s", id_format(req.call_id, call), p->id.name,
		 callee.secondary, way_of(&reply, way));
	log_debug("call %s: %s dials %s", call, callee.secondary,
		  ip_endpoint_format(&notice.to, to, sizeof to));
	api_reply_ok(p, id, pop_connect_reply_encode(&reply));
	secure_wipe(&notice, sizeof notice);
}
