/* Connect-back checks (see reach.h). Each check is one TLS connection with its own timer:
 * a handshake that completes with the registered secondary's certificate means peers can
 * dial it; anything else (no route, a reset, silence for REACH_TIMEOUT_MS, another
 * certificate) means they cannot. Only the outcome is kept: the connection closes at
 * once. A secondary's peer listener lets the principal's certificate complete its
 * handshake and then closes it (secondary/peer_api.c). */
#include "reach.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

struct reach_check {
	struct reach_checker *r;
	struct tls_conn *conn;
	uv_timer_t timer;
	char secondary[PKI_NAME_MAX + 1];
	char endpoint[IP_STRLEN];
	bool decided;
	bool conn_gone, timer_gone;
	struct reach_check *prev, *next;  /* the checks in flight */
};

struct reach_checker {
	uv_loop_t *loop;
	struct tls_creds *creds;
	struct db *db;
	unsigned in_flight;
	struct reach_check *checks;
	bool stopping;
};

static void checker_maybe_free(struct reach_checker *r)
{
	if (r->stopping && r->in_flight == 0)
		free(r);
}

static void check_maybe_free(struct reach_check *c)
{
	struct reach_checker *r = c->r;

	if (!c->conn_gone || !c->timer_gone)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		r->checks = c->next;
	if (c->next)
		c->next->prev = c->prev;
	r->in_flight--;
	free(c);
	checker_maybe_free(r);
}

static void decide(struct reach_check *c, bool reachable, const char *why)
{
	if (c->decided)
		return;
	c->decided = true;
	uv_timer_stop(&c->timer);
	if (c->r->stopping)
		return;
	if (reachable)
		log_info("secondary %s can be dialled at %s", c->secondary, c->endpoint);
	else
		log_info("secondary %s cannot be dialled at %s (%s): calls to it will be "
			 "reversed or spliced", c->secondary, c->endpoint, why);
	if (db_set_reachable(c->r->db, c->secondary, c->endpoint, reachable))
		log_warn("cannot record whether secondary %s can be dialled: %s", c->secondary,
			 db_errmsg(c->r->db));
}

static void timer_closed(uv_handle_t *h)
{
	struct reach_check *c = h->data;

	c->timer_gone = true;
	check_maybe_free(c);
}

static void on_ready(struct tls_conn *t, int status)
{
	struct reach_check *c = tls_conn_data(t);

	decide(c, status == 0, status ? tls_conn_error(t) : NULL);
	if (status == 0)
		tls_conn_close(t, 0);
}

static void on_message(struct tls_conn *t, json_t *msg, int err)
{
	(void)msg;
	(void)err;
	tls_conn_close(t, 0);
}

static void on_close(struct tls_conn *t)
{
	struct reach_check *c = tls_conn_data(t);

	decide(c, false, tls_conn_error(t)[0] ? tls_conn_error(t) : "the connection closed");
	c->conn = NULL;
	c->conn_gone = true;
	if (!uv_is_closing((uv_handle_t *)&c->timer))
		uv_close((uv_handle_t *)&c->timer, timer_closed);
}

static const struct tls_conn_callbacks check_callbacks = {on_ready, on_message, on_close};

static void timed_out(uv_timer_t *timer)
{
	struct reach_check *c = timer->data;

	decide(c, false, "no TLS handshake within the check's time");
	if (c->conn)
		tls_conn_close(c->conn, INSEL_E_TIMEOUT);
}

int reach_start(uv_loop_t *loop, struct tls_creds *creds, struct db *db,
		struct reach_checker **out)
{
	struct reach_checker *r = calloc(1, sizeof *r);

	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->creds = creds;
	r->db = db;
	*out = r;
	return 0;
}

void reach_check(struct reach_checker *r, const char *secondary, const char *endpoint)
{
	struct ip_endpoint to;
	struct reach_check *c;
	int rc;

	if (r->stopping || ip_endpoint_parse(endpoint, &to))
		return;
	if (r->in_flight >= REACH_MAX_CHECKS) {
		log_warn("too many reachability checks at once: secondary %s stays unchecked",
			 secondary);
		return;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->r = r;
	snprintf(c->secondary, sizeof c->secondary, "%s", secondary);
	snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
	rc = tls_connect(r->loop, r->creds, &to, PKI_ROLE_SECONDARY, secondary, &check_callbacks,
			 c, &c->conn);
	if (rc) {
		c->decided = true;
		free(c);
		log_info("secondary %s cannot be dialled at %s (%s)", secondary, endpoint,
			 insel_strerror(rc));
		db_set_reachable(r->db, secondary, endpoint, false);
		return;
	}
	r->in_flight++;
	c->next = r->checks;
	if (r->checks)
		r->checks->prev = c;
	r->checks = c;
	uv_timer_init(r->loop, &c->timer);
	c->timer.data = c;
	uv_timer_start(&c->timer, timed_out, REACH_TIMEOUT_MS, 0);
}

void reach_stop(struct reach_checker *r)
{
	if (!r)
		return;
	r->stopping = true;
	for (struct reach_check *c = r->checks; c; c = c->next)
		if (c->conn)
			tls_conn_close(c->conn, INSEL_E_CLOSED);
	checker_maybe_free(r);
}
