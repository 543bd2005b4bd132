/* The mailbox on the daemon's loop (mailbox.h): posting and waiting, delivering what
 * waits for the gateways this principal holds, and the PostgreSQL LISTEN connection
 * that makes both prompt. */
#include "mailbox.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_mail.h"
#include "err.h"
#include "hex.h"
#include "log.h"
#include "rand.h"

struct mailbox_wait {
	struct mailbox_wait *next;
	int64_t id;
	uint64_t deadline_ms;
	char secondary[80];
	mailbox_done_fn done;
	void *ctx;
};

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

static int64_t wall_s(void)
{
	return (int64_t)time(NULL);
}

static void arm(struct mailbox *m);

/* ---- our messages: posted, then delivered or withdrawn ---- */

static void finish(struct mailbox *m, struct mailbox_wait *w, int err)
{
	struct mailbox_wait **pp = &m->waits;

	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (*pp)
		*pp = w->next;
	m->nwaits--;
	w->done(w->ctx, err);
	free(w);
}

static struct mailbox_wait *wait_of(struct mailbox *m, int64_t id)
{
	for (struct mailbox_wait *w = m->waits; w; w = w->next)
		if (w->id == id)
			return w;
	return NULL;
}

int mailbox_post(struct mailbox *m, const char *secondary, const json_t *msg,
		 uint32_t ttl_ms, mailbox_done_fn done, void *ctx)
{
	struct mailbox_wait *w;
	char *body;
	int rc;

	if (m->stopping)
		return INSEL_E_CLOSED;
	if (m->nwaits >= MAILBOX_MAX_WAITS)
		return INSEL_E_LIMIT;
	if (!(w = calloc(1, sizeof *w)) || !(body = json_dumps(msg, JSON_COMPACT))) {
		free(w);
		return -ENOMEM;
	}
	rc = db_mail_post(m->db, secondary, m->name, body, wall_s(), &w->id);
	free(body);
	if (rc) {
		log_warn("cannot leave a message for secondary %s: %s", secondary,
			 db_errmsg(m->db));
		free(w);
		return rc;
	}
	snprintf(w->secondary, sizeof w->secondary, "%s", secondary);
	w->deadline_ms = now_ms() + ttl_ms;
	w->done = done;
	w->ctx = ctx;
	w->next = m->waits;
	m->waits = w;
	m->nwaits++;
	m->posted++;
	log_debug("message %lld left for secondary %s (linked to another principal)",
		  (long long)w->id, secondary);
	arm(m);
	return 0;
}

static void delivered_cb(void *ctx, int64_t id)
{
	struct mailbox *m = ctx;
	struct mailbox_wait *w = wait_of(m, id);

	if (!w)
		return;  /* ours from an earlier wait that ended: the sweep takes it */
	db_mail_remove(m->db, id);
	log_debug("message %lld for secondary %s delivered", (long long)id, w->secondary);
	finish(m, w, 0);
}

/* Time is up for a message: withdrawn if nobody claimed it (the requester hears so),
 * delivered after all if someone did in the meantime. */
static void expire(struct mailbox *m, struct mailbox_wait *w)
{
	int rc = db_mail_withdraw(m->db, w->id);

	if (rc == INSEL_E_EXISTS) {
		finish(m, w, 0);
		return;
	}
	m->expired++;
	log_info("no principal holds a link to secondary %s: its message %lld expired "
		 "undelivered", w->secondary, (long long)w->id);
	finish(m, w, rc ? rc : INSEL_E_UNAVAILABLE);
}

static void check_waits(struct mailbox *m)
{
	uint64_t now = now_ms();
	struct mailbox_wait *w, *next;

	if (!m->waits)
		return;
	if (db_mail_delivered(m->db, m->name, delivered_cb, m))
		log_debug("mailbox: %s", db_errmsg(m->db));
	for (w = m->waits; w; w = next) {
		next = w->next;
		if (w->deadline_ms <= now)
			expire(m, w);
	}
}

/* ---- messages for the gateways we hold ---- */

static void waiting_cb(void *ctx, int64_t id, const char *secondary, const char *body)
{
	struct mailbox *m = ctx;
	json_t *msg;

	if (!m->links.holds(m->links.ctx, secondary) || db_mail_claim(m->db, id, m->name))
		return;
	msg = json_loads(body, 0, NULL);
	if (!msg || m->links.send(m->links.ctx, secondary, msg)) {
		db_mail_unclaim(m->db, id);
		return;
	}
	m->delivered++;
	log_info("message %lld of another principal delivered to secondary %s",
		 (long long)id, secondary);
}

static void deliver(struct mailbox *m)
{
	uint64_t before = m->delivered;

	m->db_failing = db_mail_waiting(m->db, wall_s() - MAILBOX_KEEP_S, 64, waiting_cb, m) != 0;
	if (m->db_failing)
		log_debug("mailbox: %s", db_errmsg(m->db));
	if (m->delivered != before)
		db_mail_notify(m->db);  /* the senders hear of it at once */
}

void mailbox_check(struct mailbox *m)
{
	uint64_t now = now_ms();

	if (!m->loop || m->stopping)
		return;
	deliver(m);
	check_waits(m);
	if (now - m->last_sweep_ms >= MAILBOX_SWEEP_MS) {
		m->last_sweep_ms = now;
		db_mail_sweep(m->db, wall_s() - MAILBOX_KEEP_S);
	}
}

/* Fast while waiting for our own messages or without a LISTEN connection, slow (a net
 * under lost notifications) otherwise, and slow while the directory fails (its engine
 * reconnects on statements: no need to ask ten times a second). */
static void tick_cb(uv_timer_t *t)
{
	struct mailbox *m = t->data;

	m->ticks++;
	if ((m->listening || m->db_failing) && !m->waits &&
	    m->ticks % (MAILBOX_IDLE_POLL_MS / MAILBOX_POLL_MS) != 0)
		return;
	mailbox_check(m);
}

static void arm(struct mailbox *m)
{
	if (!uv_is_active((uv_handle_t *)&m->tick))
		uv_timer_start(&m->tick, tick_cb, MAILBOX_POLL_MS, MAILBOX_POLL_MS);
}

/* ---- PostgreSQL: LISTEN insel_gateway_mail ---- */

static void relisten_later(struct mailbox *m);

static void poll_closed(uv_handle_t *h)
{
	struct mailbox *m = h->data;

	m->poll_open = false;
	if (m->listen)
		PQfinish((PGconn *)m->listen);
	m->listen = NULL;
	if (!m->stopping)
		relisten_later(m);
}

static void listen_lost(struct mailbox *m, const char *why)
{
	if (!m->stopping)
		log_warn("mailbox: the LISTEN connection is lost (%s); polling every %d ms until "
			 "it is back", why, MAILBOX_POLL_MS);
	m->listening = false;
	if (m->poll_open && !uv_is_closing((uv_handle_t *)&m->poll))
		uv_close((uv_handle_t *)&m->poll, poll_closed);
}

static void readable_cb(uv_poll_t *h, int status, int events)
{
	struct mailbox *m = h->data;
	PGconn *c = (PGconn *)m->listen;
	PGnotify *n;
	PGresult *r;
	bool woken = false;

	(void)events;
	if (status < 0 || !PQconsumeInput(c)) {
		listen_lost(m, status < 0 ? uv_strerror(status) : PQerrorMessage(c));
		return;
	}
	while (!PQisBusy(c) && (r = PQgetResult(c)))
		PQclear(r);  /* LISTEN's own answer */
	while ((n = PQnotifies(c))) {
		woken = true;
		PQfreemem(n);
	}
	if (PQstatus(c) != CONNECTION_OK) {
		listen_lost(m, PQerrorMessage(c));
		return;
	}
	if (woken) {
		m->wakeups++;
		mailbox_check(m);
	}
}

/* On the thread pool: libpq's connect may wait for the network. */
static void connect_work(uv_work_t *req)
{
	struct mailbox *m = req->data;

	m->listen = (struct pg_conn *)PQconnectdb(m->dsn);
}

static void connected(uv_work_t *req, int status)
{
	struct mailbox *m = req->data;
	PGconn *c = (PGconn *)m->listen;

	m->connecting = false;
	if (status || !c || PQstatus(c) != CONNECTION_OK || PQsetnonblocking(c, 1) ||
	    !PQsendQuery(c, "LISTEN insel_gateway_mail") || m->stopping ||
	    uv_poll_init(m->loop, &m->poll, PQsocket(c))) {
		if (!m->stopping)
			log_debug("mailbox: no LISTEN connection: %s",
				  c ? PQerrorMessage(c) : "out of memory");
		if (c)
			PQfinish(c);
		m->listen = NULL;
		if (!m->stopping)
			relisten_later(m);
		return;
	}
	PQflush(c);
	m->poll.data = m;
	m->poll_open = true;
	m->listening = true;
	uv_poll_start(&m->poll, UV_READABLE, readable_cb);
	log_info("mailbox: listening for the other principals' messages");
	mailbox_check(m);  /* what came while we did not listen */
}

static void relisten_cb(uv_timer_t *t)
{
	struct mailbox *m = t->data;

	if (m->stopping || m->connecting || m->poll_open)
		return;
	m->connecting = true;
	m->connect_work.data = m;
	if (uv_queue_work(m->loop, &m->connect_work, connect_work, connected)) {
		m->connecting = false;
		relisten_later(m);
	}
}

static void relisten_later(struct mailbox *m)
{
	uv_timer_start(&m->relisten, relisten_cb, MAILBOX_RELISTEN_MS, 0);
}

/* ---- start and stop ---- */

int mailbox_start(struct mailbox *m, uv_loop_t *loop, struct db *db, const char *dsn,
		  const struct mailbox_links *links)
{
	uint8_t r[8];

	m->loop = loop;
	m->db = db;
	m->links = *links;
	rand_key(r, sizeof r);
	memcpy(m->name, "p-", 2);
	hex_encode(r, sizeof r, m->name + 2);
	uv_timer_init(loop, &m->tick);
	m->tick.data = m;
	uv_timer_init(loop, &m->relisten);
	m->relisten.data = m;
	m->last_sweep_ms = now_ms();
	arm(m);
	if (dsn && db_is_postgresql(db)) {
		if (!(m->dsn = strdup(dsn)))
			return -ENOMEM;
		relisten_cb(&m->relisten);
	}
	return 0;
}

void mailbox_stop(struct mailbox *m)
{
	if (!m->loop || m->stopping)
		return;
	m->stopping = true;
	while (m->waits)
		finish(m, m->waits, INSEL_E_CLOSED);
	uv_close((uv_handle_t *)&m->tick, NULL);
	uv_close((uv_handle_t *)&m->relisten, NULL);
	listen_lost(m, "stopping");
	log_info("mailbox: %llu messages left for other principals' gateways, %llu of theirs "
		 "delivered, %llu expired", (unsigned long long)m->posted,
		 (unsigned long long)m->delivered, (unsigned long long)m->expired);
}

/* After the loop ran out: what the handles' closing left (the serve loop calls this
 * once the last close callback ran). */
void mailbox_free(struct mailbox *m)
{
	if (m->listen)
		PQfinish((PGconn *)m->listen);
	m->listen = NULL;
	free(m->dsn);
	m->dsn = NULL;
}
