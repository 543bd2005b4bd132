/* `insel-principal serve`: the directory's TLS API daemon. One libuv loop accepts mutually
 * authenticated TLS 1.3 connections (tls.h) from secondaries (full API) and operator-role
 * tools (read-only), feeds each message to api_handle(), runs password checks on libuv's
 * thread pool, marks silent secondaries down on a timer, and stops cleanly on SIGINT or
 * SIGTERM. Revocation is checked against the directory at every handshake, and against
 * the revocation watch (revocation_watch.h) at every request: a certificate revoked by
 * the operator while its connection is open has that connection closed within half a
 * second, and every secondary connected is told the new serials at once ("revoked"
 * notice, docs/principal-api.md) so that it can end its calls with the revoked party.
 *
 * The messages that arrive in one turn of the loop are read in one read transaction of
 * the directory (db_read_hold), ended after that turn's I/O (a check handle) or by the
 * first write: a burst of look-ups pays for the file's locks once. */
#include "serve.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "api.h"
#include "call_rates.h"
#include "db_clock.h"
#include "db_rooms.h"
#include "db_sync.h"
#include "err.h"
#include "events.h"
#include "expiry.h"
#include "http_server.h"
#include "log.h"
#include "mailbox.h"
#include "metrics.h"
#include "msg.h"
#include "pki_csr.h"
#include "principal_ops.h"
#include "relay_keeper.h"
#include "relay_choice.h"
#include "relay_link.h"
#include "reach.h"
#include "revocation_watch.h"
#include "splice.h"
#include "stall_clock.h"
#include "stun_server.h"
#include "tls.h"
#include "web.h"
#include "wire_errors.h"

struct daemon;

struct conn {
	struct api_peer peer;
	struct rpc rpc;            /* our requests to a secondary (its relay's) */
	struct tls_conn *tls;
	struct daemon *d;
	struct conn *prev, *next;  /* the daemon's list of open connections */
	bool ready;
	/* A secondary's link: the last "rooms" notice it got (room_view.h), and whether it
	 * was told at least once since it serves a LAN. */
	json_t *rooms_sent;
	bool rooms_told;
};

struct daemon {
	uv_loop_t loop;
	struct api_server api;
	struct tls_creds *creds;
	struct tls_server *server;
	uv_timer_t sweep;
	struct stall_clock stall;  /* its own running time, for the sweep's verdicts */
	struct db_clock clock;     /* and its record in the directory, for other readers */
	bool clock_unrecorded;     /* the last attempt to record it failed (logged once) */
	uv_timer_t relay_poll;     /* records the relays for `insel-principal relays` */
	uv_timer_t rooms_poll;     /* tells gateways of their rooms' members (push_rooms) */
	int64_t rooms_fingerprint; /* of the membership last told */
	/* Each LAN's active gateway as our secondaries were last told (or none yet): a
	 * standby that took over by registering with another principal of the directory
	 * is told here by polling it (gateway_watch). */
	json_t *gateways;
	bool gateways_read;        /* read once: what is new after that is a move */
	bool directory_down;       /* as last noted by the sweep */
	uv_check_t reads;  /* ends the turn's read transaction */
	uv_signal_t sigint, sigterm;
	struct revocation_watch revocations;
	bool revocations_polled;  /* in this turn of the loop */
	struct conn *conns;
	size_t nconns;
	bool stopping;
	struct expiry_log expiries;
	int64_t expiry_warning_s;
	struct stun_server stun;
	bool stun_running;
	struct relay_link relay;
	bool relay_running;
	struct relay_choice relays;  /* the secondaries' designated relays */
	int relay_keeper_fd;       /* until the loop takes it over */
	uint16_t relay_port;
	uint16_t relay_tcp_port;   /* 0: no TCP fallback */
	struct reach_checker *reach;   /* connect-back checks of registering secondaries */
	struct web_view *web;      /* the live web view, when configured */
	struct event_log events;       /* DB.events (events.h) */
	struct http_server *metrics;   /* /metrics ([metrics] listen), or NULL */
	struct mailbox mail;           /* messages for gateways of other principals */
	/* The directory's commits made durable off the loop (db_sync.h; NULL on PostgreSQL):
	 * one run at a time on the thread pool, every DB_SYNC_INTERVAL_MS. */
	struct db_syncer *syncer;
	uv_timer_t sync_timer;
	uv_work_t sync_req;
	bool sync_running;
	int sync_rc;                   /* of the last run */
	int sync_logged_rc;            /* the last one logged: a change is logged */
	char sync_err[300];
};

static int64_t now_seconds(void)
{
	return (int64_t)time(NULL);
}

static uint64_t monotonic_ms(void)
{
	return uv_hrtime() / 1000000;
}

/* ---- connections ---- */

/* A reply too big for a control frame would never arrive and its asker would wait for
 * it until its own time-out: it is answered too_big in its place, and the log says
 * which op grew past the limit (every listing pages, docs/principal-api.md). */
static void conn_send(struct api_peer *p, json_t *msg)
{
	struct conn *c = p->transport;
	json_int_t id = msg_id(msg);

	if (!p->gone && tls_conn_send(c->tls, msg) == INSEL_E_TOO_BIG && id >= 0 &&
	    !msg_op(msg)) {
		log_error("a reply to %s (request %lld) exceeds the control frame limit (%d bytes)",
			  p->id.name, (long long)id, MSG_MAX_DEFAULT);
		tls_conn_send_new(c->tls, msg_reply_error(id, WIRE(TOO_BIG),
							 "the answer is too big to send"));
	}
	json_decref(msg);
}

static void conn_close(struct api_peer *p, int reason)
{
	struct conn *c = p->transport;

	if (!p->gone)
		tls_conn_close(c->tls, reason);
}

static void conn_release(struct api_peer *p)
{
	free(p->transport);
}

static void conn_ready(struct tls_conn *t, int status)
{
	struct conn *c = tls_conn_data(t);

	if (status)
		return;  /* tls_conn.c logged why; close follows */
	c->ready = true;
	c->peer.id = *tls_conn_peer(t);
	c->peer.has_local = tls_conn_local_endpoint(t, &c->peer.local) == 0;
	log_debug("%s %s connected", pki_role_name(c->peer.id.role), c->peer.id.name);
}

/* Closes the connection if its certificate has been revoked since the handshake. */
static bool close_if_revoked(struct conn *c)
{
	if (!revocation_watch_revoked(&c->d->revocations, c->peer.id.serial))
		return false;
	log_warn("closing the connection of %s %s: its certificate (serial %s) is revoked",
		 pki_role_name(c->peer.id.role), c->peer.id.name, c->peer.id.serial);
	tls_conn_close(c->tls, INSEL_E_VERIFY);
	return true;
}

static void conn_message(struct tls_conn *t, json_t *msg, int err)
{
	struct conn *c = tls_conn_data(t);
	struct daemon *d = c->d;
	bool linked = c->peer.hello_done;

	if (!c->ready)
		return;
	/* Once per turn of the loop, before the turn's read window opens. */
	if (!d->revocations_polled) {
		revocation_watch_refresh(&d->revocations);
		d->revocations_polled = true;
	}
	if (close_if_revoked(c))
		return;
	/* A secondary's answer to a request of ours (no op, an ok): not for the API. */
	if (msg && !json_object_get(msg, "op") && json_object_get(msg, "ok") &&
	    rpc_take_reply(&c->rpc, msg))
		return;
	db_read_hold(d->api.db);
	api_handle(&c->peer, msg, err);
	/* A gateway that just linked here may have mail left for it by another principal
	 * while it was moving. */
	if (!linked && c->peer.hello_done && !c->peer.gone &&
	    c->peer.id.role == PKI_ROLE_SECONDARY)
		mailbox_check(&d->mail);
}

#define REVOKED_NOTICE_MAX POP_LIST_MAX  /* serials per notice, well inside a frame */

/* {"op":"revoked","serials":[...]}: no id, and no reply expected. */
static void notify_revoked(struct conn *c, const json_t *newly)
{
	size_t n = json_array_size(newly);

	for (size_t first = 0; first < n; first += REVOKED_NOTICE_MAX) {
		json_t *serials = json_array();

		for (size_t i = first; i < n && i < first + REVOKED_NOTICE_MAX; i++)
			json_array_append(serials, json_array_get(newly, i));
		tls_conn_send_new(c->tls, pop_revoked_notice_encode(serials));
		json_decref(serials);
	}
}

/* The operator revoked certificates: their connections close now, and every other
 * secondary hears of it. */
static void revocations_changed(void *ctx, const json_t *newly)
{
	struct daemon *d = ctx;

	for (struct conn *c = d->conns, *next; c; c = next) {
		next = c->next;
		if (!c->ready || c->peer.gone || close_if_revoked(c))
			continue;
		if (c->peer.id.role == PKI_ROLE_SECONDARY && c->peer.hello_done)
			notify_revoked(c, newly);
	}
}

/* ---- signalling across NAT (api_connect.c) ---- */

static struct daemon *daemon_of(struct api_server *s)
{
	return (struct daemon *)((char *)s - offsetof(struct daemon, api));
}

/* The named secondary's link: its most recent connection that said hello. */
static struct conn *link_of(struct daemon *d, const char *secondary)
{
	for (struct conn *c = d->conns; c; c = c->next)
		if (c->ready && !c->peer.gone && c->peer.hello_done &&
		    c->peer.id.role == PKI_ROLE_SECONDARY &&
		    strcmp(c->peer.id.name, secondary) == 0)
			return c;
	return NULL;
}

/* A LAN's active gateway changed (docs/standby.md): every secondary hears of it. */
static void tell_gateway(struct daemon *d, const char *lan, const char *secondary)
{
	struct pop_gateway_notice n = {lan, secondary};

	log_info("LAN %s is served by its gateway %s now; telling every secondary", lan,
		 secondary);
	if (d->gateways)
		json_object_set_new(d->gateways, lan, json_string(secondary));
	for (struct conn *c = d->conns; c; c = c->next)
		if (c->ready && !c->peer.gone && c->peer.id.role == PKI_ROLE_SECONDARY &&
		    c->peer.hello_done)
			tls_conn_send_new(c->tls, pop_gateway_notice_encode(&n));
}

static void gateway_moved(struct api_server *s, const char *lan, const char *secondary)
{
	tell_gateway(daemon_of(s), lan, secondary);
}

static void gateway_seen(void *ctx, const char *lan, const char *secondary)
{
	struct daemon *d = ctx;
	const char *told = json_string_value(json_object_get(d->gateways, lan));

	if (told ? strcmp(told, secondary) != 0 : d->gateways_read)
		tell_gateway(d, lan, secondary);
	else if (!told)
		json_object_set_new(d->gateways, lan, json_string(secondary));
}

/* Several principals on one directory (docs/principals.md): a registration that moved a
 * LAN to its standby gateway may have come to another principal, whose notice reaches
 * only its own secondaries; ours hear of it from here, when the directory's LANs
 * changed (the rooms' fingerprint covers each LAN's gateway). */
static void gateway_watch(struct daemon *d)
{
	if (!d->gateways && !(d->gateways = json_object()))
		return;
	if (db_active_gateways(d->api.db, gateway_seen, d) == 0)
		d->gateways_read = true;
}

static int send_dial_back(struct api_server *s, const char *secondary, struct pop_dial_back *n)
{
	struct daemon *d = daemon_of(s);
	struct conn *c = link_of(d, secondary);

	if (!c)
		return INSEL_E_UNAVAILABLE;
	if (n->mode == POP_SIG_SPLICED)
		splice_endpoint_for(s->splice, c->peer.has_local ? &c->peer.local : NULL, &n->to);
	return tls_conn_send_new(c->tls, pop_dial_back_notice_encode(n));
}

/* ---- the mailbox: notices for gateways whose link another principal holds ---- */

static bool mail_holds(void *ctx, const char *secondary)
{
	return link_of(ctx, secondary) != NULL;
}

static int mail_send(void *ctx, const char *secondary, json_t *msg)
{
	struct conn *c = link_of(ctx, secondary);

	if (!c) {
		json_decref(msg);
		return INSEL_E_UNAVAILABLE;
	}
	return tls_conn_send_new(c->tls, msg);
}

static int mail_post(struct api_server *s, const char *secondary, const json_t *msg,
		     uint32_t ttl_ms, void (*done)(void *ctx, int err), void *ctx)
{
	return mailbox_post(&daemon_of(s)->mail, secondary, msg, ttl_ms, done, ctx);
}

static int start_mailbox(struct daemon *d, const struct serve_options *o)
{
	struct mailbox_links links = {mail_holds, mail_send, d};
	int rc = mailbox_start(&d->mail, &d->loop, d->api.db, o->db_path, &links);

	if (rc)
		log_error("cannot start the mailbox: %s", insel_strerror(rc));
	else
		d->api.post = mail_post;
	return rc;
}

static int conn_rpc_send(void *conn, const json_t *msg)
{
	struct conn *c = conn;

	return c->peer.gone ? INSEL_E_CLOSED : tls_conn_send(c->tls, msg);
}

/* A request to a secondary over its link (its relay's allocate, free, stats). */
static int secondary_request(struct api_server *s, const char *secondary, json_t *req,
			     uint32_t timeout_ms, rpc_reply_cb cb, void *ctx)
{
	struct conn *c = link_of(daemon_of(s), secondary);

	if (!c) {
		json_decref(req);
		return INSEL_E_UNAVAILABLE;
	}
	return rpc_call(&c->rpc, req, timeout_ms, cb, ctx);
}

static void check_reachable(struct api_server *s, const char *secondary, const char *endpoint)
{
	struct daemon *d = daemon_of(s);

	if (d->reach && !d->stopping)
		reach_check(d->reach, secondary, endpoint);
}

/* The splice, like the STUN responder: a default address whose port is taken is a
 * warning, a configured one that cannot be bound stops the principal. */
static int start_splice(struct daemon *d, const struct serve_options *o)
{
	char ep[IP_STRLEN];
	int rc;

	d->api.dial_back = send_dial_back;
	d->api.check_reachable = check_reachable;
	d->api.secondary_request = secondary_request;
	d->api.gateway_moved = gateway_moved;
	if ((rc = reach_start(&d->loop, d->creds, d->api.db, &d->reach)))
		return rc;
	if (!o->splice) {
		log_info("splice off: calls between two gateways that cannot be dialled fail");
		return 0;
	}
	ip_endpoint_format(&o->splice_listen, ep, sizeof ep);
	rc = splice_start(&d->loop, &o->splice_listen, monotonic_ms, &d->api.splice);
	if (rc) {
		d->api.splice = NULL;
		if (o->splice_explicit)
			log_error("cannot splice on %s: %s", ep, uv_strerror(rc));
		else
			log_warn("no splice: cannot bind %s (%s); set [splice] listen", ep,
				 uv_strerror(rc));
		return o->splice_explicit ? rc : 0;
	}
	log_info("splicing the signalling of gateways that cannot be dialled on %s (TCP port %u)",
		 ep, splice_port(d->api.splice));
	return 0;
}

static void conn_closed(struct tls_conn *t)
{
	struct conn *c = tls_conn_data(t);

	c->peer.gone = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->d->nconns--;
	if (c->ready)
		log_debug("%s %s disconnected", pki_role_name(c->peer.id.role), c->peer.id.name);
	/* A secondary's last link gone: its relay is no longer one to give calls. */
	if (c->ready && c->peer.hello_done && c->peer.id.role == PKI_ROLE_SECONDARY &&
	    !link_of(c->d, c->peer.id.name) && relay_choice_find(&c->d->relays, c->peer.id.name)) {
		log_info("secondary %s is offline: its relay carries no new call",
			 c->peer.id.name);
		relay_choice_offline(&c->d->relays, c->peer.id.name);
	}
	rpc_fail_all(&c->rpc, INSEL_E_CLOSED);
	json_decref(c->rooms_sent);
	c->rooms_sent = NULL;
	/* A password check or a relay choice still running frees it when it finishes
	 * (api_verify_finish, api_relay.c). */
	if (api_peer_idle(&c->peer))
		free(c);
}

static const struct tls_conn_callbacks conn_callbacks = {
	.ready = conn_ready,
	.message = conn_message,
	.close = conn_closed,
};

static void on_accept(struct tls_server *s, struct tls_conn *t)
{
	struct daemon *d = tls_server_data(s);
	struct conn *c = calloc(1, sizeof *c);

	/* The caps (pending and authenticated) are the TLS server's (tls_server_set_limits). */
	if (!c || d->stopping) {
		free(c);
		tls_conn_close(t, INSEL_E_LIMIT);
		return;
	}
	c->tls = t;
	c->d = d;
	rpc_init(&c->rpc, &d->loop, conn_rpc_send, c);
	c->peer.srv = &d->api;
	c->peer.send = conn_send;
	c->peer.close = conn_close;
	c->peer.release = conn_release;
	c->peer.transport = c;
	c->next = d->conns;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	d->nconns++;
	tls_conn_set_callbacks(t, &conn_callbacks, c);
}

/* ---- password checks on the thread pool ---- */

static void verify_work(uv_work_t *req)
{
	api_verify_compute(req->data);
}

static void verify_after(uv_work_t *req, int status)
{
	struct api_verify *v = req->data;

	(void)status;
	free(req);
	api_verify_finish(v);
}

static void run_verify(struct api_server *s, struct api_verify *v)
{
	struct daemon *d = (struct daemon *)((char *)s - offsetof(struct daemon, api));
	uv_work_t *req = calloc(1, sizeof *req);

	if (req)
		req->data = v;  /* before queueing: a worker may pick it up at once */
	if (!req || uv_queue_work(&d->loop, req, verify_work, verify_after)) {
		free(req);
		v->result = INSEL_E_LIMIT;
		api_verify_finish(v);
	}
}

/* ---- the directory's syncs on the thread pool ---- */

static void sync_work(uv_work_t *req)
{
	struct daemon *d = req->data;
	char err[sizeof d->sync_err];
	int rc = db_syncer_run(d->syncer, err, sizeof err);

	/* Read on the loop only after this work is done (sync_after). */
	d->sync_rc = rc;
	if (rc)
		memcpy(d->sync_err, err, sizeof err);
}

static void sync_after(uv_work_t *req, int status)
{
	struct daemon *d = req->data;

	(void)status;
	d->sync_running = false;
	if (d->sync_rc && d->sync_rc != d->sync_logged_rc)
		log_error("%s: the directory's last commits are not on the disk yet",
			  d->sync_err);
	else if (!d->sync_rc && d->sync_logged_rc)
		log_info("the directory's commits reach the disk again");
	d->sync_logged_rc = d->sync_rc;
}

static void sync_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;

	/* A run still waiting for a busy disk: the next one would wait behind it. */
	if (d->sync_running)
		return;
	d->sync_req.data = d;
	if (uv_queue_work(&d->loop, &d->sync_req, sync_work, sync_after) == 0)
		d->sync_running = true;
}

static int open_syncer(struct daemon *d, const char *path)
{
	char err[600];
	int rc = db_syncer_open(d->api.db, path, &d->syncer, err, sizeof err);

	if (rc)
		log_error("%s", err);
	return rc;
}

static void start_syncs(struct daemon *d)
{
	if (!d->syncer)
		return;
	uv_timer_init(&d->loop, &d->sync_timer);
	d->sync_timer.data = d;
	uv_timer_start(&d->sync_timer, sync_cb, DB_SYNC_INTERVAL_MS, DB_SYNC_INTERVAL_MS);
}

/* ---- timers and signals ---- */

/* Time this principal did not run is nobody's silence (stall_clock.h): noticed after
 * each turn's I/O and at each sweep, so that the first timers to run after a stall (the
 * sweep, the web view) already excuse it, however libuv orders them. */
static void note_stall(struct daemon *d)
{
	uint64_t stalled = stall_clock_tick(&d->stall, monotonic_ms());

	if (stalled)
		log_warn("this principal did not run for %llu ms (its process stopped, or its "
			 "host or disk overloaded): that time is not counted as its gateways' "
			 "silence", (unsigned long long)stalled);
	db_excuse_stalls(d->api.db, (int64_t)((stall_clock_excused_ms(&d->stall) + 999) / 1000));
}

static void reads_cb(uv_check_t *h)
{
	struct daemon *d = h->data;

	db_read_release(d->api.db);
	d->revocations_polled = false;
	note_stall(d);
}

static void gateway_down(void *ctx, const char *name)
{
	struct daemon *d = ctx;

	event_log_add(&d->events, now_seconds(), "gateway_down",
		      json_pack("{s:s}", "secondary", name ? name : ""));
}

/* Heartbeats answered while the directory was unreachable, recorded now that it may be
 * back: a gateway that kept its link all along is not marked down for the outage. */
static void record_unrecorded_heartbeats(struct daemon *d)
{
	for (struct conn *c = d->conns; c; c = c->next)
		if (c->peer.heartbeat_unrecorded &&
		    db_heartbeat(d->api.db, c->peer.id.name, c->peer.heartbeat_unrecorded) == 0)
			c->peer.heartbeat_unrecorded = 0;
}

/* One line when the directory's database becomes unreachable, one when it is back
 * (not one per refused request). */
static void note_directory_reachability(struct daemon *d)
{
	bool down = db_unreachable(d->api.db);

	if (down && !d->directory_down)
		log_warn("the directory's database is unreachable (%s): requests are answered "
			 "directory_unavailable while the principal connects again",
			 db_errmsg(d->api.db));
	else if (!down && d->directory_down)
		log_info("the directory's database is reachable again");
	d->directory_down = down;
}

/* When this principal last ran and how it judges, for whoever reads the directory
 * directly (db_clock.h): written at each sweep, so at most a period old while it runs. */
static void record_clock(struct daemon *d)
{
	int rc;

	d->clock.ticked_at = now_seconds();
	d->clock.excused = (int64_t)((stall_clock_excused_ms(&d->stall) + 999) / 1000);
	rc = db_clock_record(d->api.db, &d->clock);
	if (rc && !d->clock_unrecorded)
		log_warn("cannot record this principal's clock in the directory (%s): the "
			 "operator's listings judge its gateways without its stalls",
			 db_errmsg(d->api.db));
	d->clock_unrecorded = rc != 0;
}

static void sweep_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	int n;

	note_stall(d);
	record_clock(d);
	note_directory_reachability(d);
	record_unrecorded_heartbeats(d);
	n = db_mark_down_each(d->api.db, now_seconds(), gateway_down, d);

	if (n > 0)
		log_warn("%d secondar%s marked down: no heartbeat for %llds", n, n == 1 ? "y" : "ies",
			 (long long)db_down_after(d->api.db));
	else if (n < 0)
		log_error("cannot mark secondaries down: %s", db_errmsg(d->api.db));
	expiry_log_check(&d->expiries, d->api.db, now_seconds(), d->expiry_warning_s);
}

static void stop(struct daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	log_info("stopping: %llu requests served, %llu refused",
		 (unsigned long long)d->api.requests, (unsigned long long)d->api.errors);
	tls_server_close(d->server);
	if (d->metrics)
		http_server_close(d->metrics, NULL, NULL);
	d->metrics = NULL;
	if (d->stun_running)
		stun_server_close(&d->stun);
	d->stun_running = false;
	if (d->relay_running)
		relay_link_close(&d->relay);
	d->relay_running = false;
	d->api.relay = NULL;
	splice_stop(d->api.splice);
	d->api.splice = NULL;
	mailbox_stop(&d->mail);
	d->api.post = NULL;
	reach_stop(d->reach);
	d->reach = NULL;
	web_view_stop(d->web);
	d->web = NULL;
	uv_timer_stop(&d->sweep);
	uv_close((uv_handle_t *)&d->sweep, NULL);
	if (d->syncer)
		uv_close((uv_handle_t *)&d->sync_timer, NULL);  /* a run under way finishes */
	uv_close((uv_handle_t *)&d->relay_poll, NULL);
	uv_close((uv_handle_t *)&d->rooms_poll, NULL);
	db_read_release(d->api.db);
	if (d->clock.run[0])  /* stopped in order: no reader waits for it to run again */
		db_clock_forget(d->api.db, d->clock.run);
	revocation_watch_stop(&d->revocations);
	uv_close((uv_handle_t *)&d->reads, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	for (struct conn *c = d->conns, *next; c; c = next) {
		next = c->next;
		tls_conn_close(c->tls, INSEL_E_CLOSED);
	}
}

static void signal_cb(uv_signal_t *s, int signum)
{
	log_info("signal %d", signum);
	stop(s->data);
}

/* At each handshake. While the directory is unreachable, the list the daemon holds
 * (revocation_watch.h, as fresh as the moment it was lost) answers instead: a gateway
 * whose link broke may come back, but nobody revoked gets in. */
static bool revoked_cb(void *ctx, const char *serial)
{
	struct daemon *d = ctx;
	bool revoked;
	int rc = db_revoked(d->api.db, serial, &revoked);

	if (rc == INSEL_E_DB_DOWN)
		return revocation_watch_revoked(&d->revocations, serial);
	return rc || revoked;
}

/* ---- start and run ---- */

/* Certificate lifecycle: record the CA's and our own expiry, load the online issuing key
 * if there is one (refusing to start with one that does not load). */
static int start_lifecycle(struct daemon *d, const struct serve_options *o)
{
	char err[512];
	int rc;

	d->expiry_warning_s = o->expiry_warning_s > 0 ? o->expiry_warning_s
						      : EXPIRY_WARN_DEFAULT_S;
	d->api.issue_validity_s = o->issue_validity_s;
	expiry_record_principal(d->api.db, o->ca, tls_creds_identity(d->creds), now_seconds());
	if (!o->issuing_ca_key) {
		log_info("renewal requests wait for 'insel-principal pki approve' (no "
			 "issuing_ca_key)");
		return 0;
	}
	rc = pki_issuer_load(o->ca, o->issuing_ca_key, &d->api.issuer, err, sizeof err);
	if (rc)
		log_error("issuing_ca_key: %s", err);
	else
		log_info("renewals are issued at once with the key in %s, valid for %llds",
			 o->issuing_ca_key, (long long)o->issue_validity_s);
	return rc;
}

/* The responder's second port, on the same address: like the first, fatal only when
 * configured. */
static int start_stun_alternate(struct daemon *d, const struct serve_options *o)
{
	struct ip_endpoint at = o->stun_listen;
	int rc;

	if (!o->stun_alternate)
		return 0;
	at.port = o->stun_alternate_port;
	rc = stun_server_add_port(&d->stun, &d->loop, &at);
	if (rc) {
		if (o->stun_alternate_explicit)
			log_error("cannot answer STUN on port %u: %s", at.port, uv_strerror(rc));
		else
			log_warn("STUN on one port only: cannot bind port %u (%s); set [stun] "
				 "alternate_port", at.port, uv_strerror(rc));
		return o->stun_alternate_explicit ? rc : 0;
	}
	d->api.has_stun_alternate = true;
	d->api.stun_alternate = d->api.stun;
	d->api.stun_alternate.port = stun_server_port(&d->stun, 1);
	log_info("answering STUN on the alternate UDP port %u too",
		 d->api.stun_alternate.port);
	return 0;
}

/* The STUN responder. When its address was only defaulted, a port already taken (by
 * another STUN server on this host, say) is worth a warning, not a principal that will
 * not start; when configured, it is fatal. */
static int start_stun(struct daemon *d, const struct serve_options *o)
{
	char ep[IP_STRLEN];
	int rc;

	if (!o->stun) {
		log_info("STUN responder off");
		return 0;
	}
	ip_endpoint_format(&o->stun_listen, ep, sizeof ep);
	rc = stun_server_start(&d->stun, &d->loop, &o->stun_listen, monotonic_ms);
	if (rc) {
		if (o->stun_explicit)
			log_error("cannot answer STUN on %s: %s", ep, uv_strerror(rc));
		else
			log_warn("no STUN responder: cannot bind %s (%s); set [stun] listen", ep,
				 uv_strerror(rc));
		return o->stun_explicit ? rc : 0;
	}
	d->stun_running = true;
	/* Secondaries learn it at registration, for their calls' auxiliaries. */
	d->api.has_stun = true;
	d->api.stun = o->stun_listen;
	d->api.stun.port = stun_server_port(&d->stun, 0);
	log_info("answering STUN Binding requests on %s (UDP port %u)", ep,
		 stun_server_port(&d->stun, 0));
	return start_stun_alternate(d, o);
}

/* ---- the relay ---- */

/* The relay's TCP fallback, if wanted and possible: -1 without it (said why), or its
 * socket; a configured one that cannot be bound is an error (< -1). */
static int relay_tcp_socket(struct daemon *d, const struct serve_options *o)
{
	char ep[IP_STRLEN];
	int fd;

	d->relay_tcp_port = 0;
	if (!o->relay_tcp) {
		log_info("relay: TCP fallback off");
		return -1;
	}
	ip_endpoint_format(&o->relay_tcp_listen, ep, sizeof ep);
	fd = relay_bind_socket(&o->relay_tcp_listen, SOCK_STREAM, &d->relay_tcp_port);
	if (fd < 0) {
		log_warn("relay: no TCP fallback: cannot bind %s (%s)%s", ep, strerror(-fd),
			 o->relay_tcp_explicit ? "" : "; set [relay] tcp_listen");
		return o->relay_tcp_explicit ? INSEL_E_CONFIG : -1;
	}
	return fd;
}

/* Before anything else of the daemon exists (so that the keeper inherits nothing): binds
 * the relay's socket and forks its keeper. When the relay was only defaulted, a port
 * taken or a program missing is worth a warning, not a principal that will not start. */
static int fork_relay(struct daemon *d, const struct serve_options *o)
{
	struct relay_keeper_options k = {
		.program = o->relay_program ? o->relay_program : relay_default_program(),
		.user = geteuid() == 0 ? o->relay_user : NULL,
		.rate = o->relay_rate,
		.max_allocations = o->relay_max_allocations,
		.expiry_ms = o->relay_expiry_ms,
		.verbose = log_get_level() >= LOG_LVL_DEBUG,
	};
	char ep[IP_STRLEN];
	pid_t keeper;
	int fd, rc;

	d->relay_keeper_fd = -1;
	if (!o->relay) {
		log_info("relay off");
		return 0;
	}
	ip_endpoint_format(&o->relay_listen, ep, sizeof ep);
	if (access(k.program, X_OK) != 0) {
		rc = -errno;
		log_warn("no relay: %s: %s", k.program, strerror(errno));
		return o->relay_explicit ? rc : 0;
	}
	fd = relay_bind_socket(&o->relay_listen, SOCK_DGRAM, &d->relay_port);
	if (fd < 0) {
		log_warn("no relay: cannot bind %s (%s)%s", ep, strerror(-fd),
			 o->relay_explicit ? "" : "; set [relay] listen");
		return o->relay_explicit ? fd : 0;
	}
	k.udp_fd = fd;
	k.tcp_fd = relay_tcp_socket(d, o);
	if (k.tcp_fd < -1) {
		close(fd);
		return k.tcp_fd;
	}
	k.ca = o->ca;
	k.tls_cert = o->relay_tls_cert;
	k.tls_key = o->relay_tls_key;
	rc = relay_keeper_start(&k, &d->relay_keeper_fd, &keeper);
	close(fd);
	if (k.tcp_fd >= 0)
		close(k.tcp_fd);
	if (rc) {
		log_error("no relay: cannot start its keeper: %s", strerror(-rc));
		return o->relay_explicit ? rc : 0;
	}
	log_info("relay on %s (UDP port %u, TCP port %u), kept by process %d", ep,
		 d->relay_port, d->relay_tcp_port, (int)keeper);
	return 0;
}

static int start_relay(struct daemon *d, const struct serve_options *o)
{
	struct relay_link_options l = {
		.keeper_fd = d->relay_keeper_fd,
		.port = d->relay_port,
		.tcp_port = d->relay_tcp_port,
		.has_public = o->relay_has_public,
		.public_ep = o->relay_public,
		.listen = o->relay_listen,
		.per_secondary = o->relay_per_secondary,
	};
	int rc;

	if (d->relay_keeper_fd < 0)
		return 0;
	rc = relay_link_start(&d->relay, &d->loop, &l);
	if (rc) {
		log_error("cannot watch the relay's keeper: %s", uv_strerror(rc));
		return rc;
	}
	d->relay_keeper_fd = -1;  /* the link's now */
	d->relay_running = true;
	d->api.relay = &d->relay;
	return 0;
}

#define RELAY_POLL_MS 1000

/* The rooms' data path (docs/rooms.md): every gateway hears of the members of the rooms
 * its LAN has members in whenever that changes, whoever changed it (a client through the
 * API, the operator's CLI in another process), within ROOMS_PUSH_MS, and once after it
 * registers. A cheap fingerprint of the membership saves the per-gateway queries while
 * nothing changed. */
#define ROOMS_PUSH_MS 200

static void tell_rooms(struct daemon *d, struct conn *c)
{
	json_t *notice;

	if (db_room_gateway_notice(d->api.db, c->peer.id.name, &notice) || !notice)
		return;
	c->rooms_told = true;
	if (c->rooms_sent && json_equal(notice, c->rooms_sent)) {
		json_decref(notice);
		return;
	}
	log_debug("telling secondary %s of its rooms (%zu)", c->peer.id.name,
		  json_array_size(json_object_get(notice, "rooms")));
	tls_conn_send(c->tls, notice);
	json_decref(c->rooms_sent);
	c->rooms_sent = notice;
}

static void rooms_poll_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	int64_t fp = db_room_fingerprint(d->api.db);
	bool changed = fp != d->rooms_fingerprint;

	if (d->stopping)
		return;
	if (changed)
		gateway_watch(d);
	d->rooms_fingerprint = fp;
	for (struct conn *c = d->conns; c; c = c->next)
		if (c->ready && !c->peer.gone && c->peer.hello_done &&
		    c->peer.id.role == PKI_ROLE_SECONDARY && (changed || !c->rooms_told))
			tell_rooms(d, c);
}

static void relay_poll_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;

	if (!d->stopping)
		relay_poll(&d->api);
}

/* Relays that secondaries run: kept as they announce them, whatever ours does. */
static void start_relay_choice(struct daemon *d, const struct serve_options *o)
{
	d->relays.policy = o->relay_choose;
	d->api.relays = &d->relays;
	d->api.relay_rate = o->relay_rate;
	log_info("relay choice: %s", relay_policy_name(o->relay_choose));
}

static void on_event(struct api_server *s, const char *kind, json_t *fields)
{
	event_log_add(&daemon_of(s)->events, now_seconds(), kind, fields);
}

static void on_metrics(void *ctx, const struct http_request *req, struct http_reply *r)
{
	struct daemon *d = ctx;

	principal_metrics_render(r, &(struct principal_metrics_view){
		.api = &d->api, .connections = d->nconns, .now = now_seconds()});
}

/* /metrics when [metrics] listen says where (docs/metrics.md). */
static int start_metrics(struct daemon *d, const struct serve_options *o)
{
	struct http_server_config cfg = {
		.listen = o->metrics_listen,
		.cert_file = o->metrics_cert,
		.key_file = o->metrics_key,
		.allow_plain_remote = o->metrics_plain_remote,
		.max_connections = 16,
		.max_per_client = 4,
	};
	char err[300];
	int rc;

	if (!o->metrics_listen)
		return 0;
	rc = http_server_start(&d->loop, &cfg, &d->metrics, err, sizeof err);
	if (rc == 0)
		rc = http_server_route(d->metrics, "/metrics", on_metrics, d);
	if (rc != 0) {
		log_error("metrics: %s", err);
		return rc;
	}
	log_info("metrics on %s%s (port %u)", http_server_is_tls(d->metrics) ? "https://" :
		 "http://", o->metrics_listen, http_server_port(d->metrics));
	return 0;
}

static void clock_init(struct daemon *d, const struct serve_options *o, uint64_t sweep_ms)
{
	struct ip_endpoint at = o->listen;

	at.port = tls_server_port(d->server);
	snprintf(d->clock.run, sizeof d->clock.run, "%s", d->mail.name);
	ip_endpoint_format(&at, d->clock.listen, sizeof d->clock.listen);
	d->clock.period_ms = (int64_t)sweep_ms;
	d->clock.down_after = o->down_after_s;
}

static int start(struct daemon *d, const struct serve_options *o)
{
	/* Secondaries and operators' tools; a principal-role certificate is the
	 * directory's own and is never a client here. */
	static const enum pki_role roles[] = {PKI_ROLE_SECONDARY, PKI_ROLE_OPERATOR};
	char err[512], ep[IP_STRLEN];
	uint64_t sweep_ms = (uint64_t)o->down_after_s * 1000 / 4;
	int rc;

	sweep_ms = sweep_ms < 250 ? 250 : sweep_ms > 5000 ? 5000 : sweep_ms;

	rc = tls_creds_load(&d->creds, o->ca, o->cert, o->key, err, sizeof err);
	if (rc) {
		log_error("%s", err);
		return rc;
	}
	if ((rc = open_syncer(d, o->db_path)))
		return rc;
	tls_creds_set_revocation_check(d->creds, revoked_cb, d);
	rc = revocation_watch_start(&d->revocations, &d->loop, d->api.db, revocations_changed, d);
	if (rc) {
		log_error("cannot watch the revocation list");
		return rc;
	}
	snprintf(d->api.name, sizeof d->api.name, "%s", tls_creds_identity(d->creds)->name);
	rc = start_lifecycle(d, o);
	if (rc)
		return rc;
	rc = tls_server_listen(&d->loop, d->creds, &o->listen, roles, 2, on_accept, d, &d->server);
	if (rc) {
		log_error("cannot listen on %s: %s", ip_endpoint_format(&o->listen, ep, sizeof ep),
			  insel_strerror(rc));
		return rc;
	}
	tls_server_set_limits(d->server, &(struct tls_server_limits){
		.max_pending = o->max_pending,
		.max_pending_per_source = o->max_pending_per_source,
		.max_authenticated = o->max_connections > UINT_MAX ? UINT_MAX
								  : (unsigned)o->max_connections,
		.handshake_timeout_ms = o->handshake_timeout_ms,
	});
	if (!(d->api.rates = call_rates_new()))
		log_warn("out of memory: no live call rates");
	if ((rc = start_stun(d, o)) || (rc = start_relay(d, o)) || (rc = start_splice(d, o)) ||
	    (rc = start_mailbox(d, o)) ||
	    (rc = web_view_start(&d->loop, d->api.db, d->api.name, d->api.rates, &o->web,
				  &d->web)) ||
	    (rc = start_metrics(d, o)))
		return rc;
	start_relay_choice(d, o);
	uv_timer_init(&d->loop, &d->rooms_poll);
	d->rooms_poll.data = d;
	d->rooms_fingerprint = -1;
	uv_timer_start(&d->rooms_poll, rooms_poll_cb, ROOMS_PUSH_MS, ROOMS_PUSH_MS);
	uv_timer_init(&d->loop, &d->relay_poll);
	d->relay_poll.data = d;
	uv_timer_start(&d->relay_poll, relay_poll_cb, 500, RELAY_POLL_MS);
	uv_timer_init(&d->loop, &d->sweep);
	d->sweep.data = d;
	stall_clock_init(&d->stall, sweep_ms, (uint64_t)o->down_after_s * 1000, monotonic_ms());
	clock_init(d, o, sweep_ms);
	uv_timer_start(&d->sweep, sweep_cb, 0, sweep_ms);
	uv_check_init(&d->loop, &d->reads);
	d->reads.data = d;
	uv_check_start(&d->reads, reads_cb);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sigterm);
	d->sigint.data = d->sigterm.data = d;
	uv_signal_start(&d->sigint, signal_cb, SIGINT);
	uv_signal_start(&d->sigterm, signal_cb, SIGTERM);
	start_syncs(d);
	return 0;
}

static void write_port_file(const char *path, uint16_t port)
{
	char tmp[4200];
	FILE *f;

	/* Written whole and renamed, so that a test polling for it never reads half. */
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
		log_error("cannot write the port to %s", path);
}

int serve_run(const struct serve_options *o)
{
	struct daemon *d = calloc(1, sizeof *d);
	char err[600], ep[IP_STRLEN];
	int rc;

	if (!d)
		return EXIT_FAILURE;
	signal(SIGPIPE, SIG_IGN);
	if (fork_relay(d, o) != 0) {
		free(d);
		return 1;
	}
	uv_loop_init(&d->loop);
	d->events.fd = -1;
	api_metrics_init(&d->api);
	d->api.event = on_event;
	d->api.heartbeat_ms = o->heartbeat_ms;
	d->api.run_verify = run_verify;
	d->api.now = now_seconds;
	d->api.clock_ms = monotonic_ms;
	rc = api_auth_init(&d->api, PASSWD_DEFAULT_ITERATIONS);
	if (rc)
		log_error("cannot set up password checks: %s", insel_strerror(rc));
	if (!rc && (rc = db_open(o->db_path, &d->api.db, err, sizeof err)))
		log_error("%s", err);
	else
		db_set_down_after(d->api.db, o->down_after_s);
	if (!rc)
		db_resolve_on_loop(d->api.db, &d->loop);
	if (!rc && (rc = event_log_open(&d->events, o->db_path, o->events_path)) != 0)
		log_error("cannot open the event log beside %s: %s", o->db_path, strerror(-rc));
	if (!rc)
		rc = start(d, o);
	if (!rc) {
		ep[0] = '\0';
		ip_endpoint_format(&o->listen, ep, sizeof ep);
		log_info("serving the directory %s on %s (port %u), secondaries down after %llds",
			 o->db_path, ep, tls_server_port(d->server), (long long)o->down_after_s);
		if (o->port_file)
			write_port_file(o->port_file, tls_server_port(d->server));
		/* From here on the daemon only serves what it has opened. */
		rc = principal_sandbox_enter(o->seccomp);
		if (rc)
			stop(d);
		else
			uv_run(&d->loop, UV_RUN_DEFAULT);
	} else {
		revocation_watch_stop(&d->revocations);  /* its timer would hold the loop */
		if (d->server)
			tls_server_close(d->server);
		if (d->stun_running)
			stun_server_close(&d->stun);
		if (d->relay_running)
			relay_link_close(&d->relay);
		if (d->relay_keeper_fd >= 0)
			close(d->relay_keeper_fd);  /* the keeper stops its relay */
		splice_stop(d->api.splice);
		mailbox_stop(&d->mail);
		reach_stop(d->reach);
		web_view_stop(d->web);
		if (d->metrics)
			http_server_close(d->metrics, NULL, NULL);
	}
	/* Let every close callback run before the loop goes away. */
	uv_run(&d->loop, UV_RUN_DEFAULT);
	uv_loop_close(&d->loop);
	tls_creds_free(d->creds);
	relay_choice_free(&d->relays);
	call_rates_free(d->api.rates);
	d->api.rates = NULL;
	json_decref(d->gateways);
	mailbox_free(&d->mail);
	pki_issuer_free(d->api.issuer);
	expiry_log_free(&d->expiries);
	event_log_close(&d->events);
	db_close(d->api.db);
	/* Closed last, its connection checkpoints the WAL and syncs the file. */
	db_syncer_close(d->syncer);
	api_auth_free(&d->api);
	free(d);
	return rc ? 1 : 0;
}
