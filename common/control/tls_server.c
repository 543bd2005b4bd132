/* A TLS listener on libuv (see tls.h) and what it lets in. Holding many connections open
 * without authenticating is the cheapest attack on a server, so the server counts the
 * connections it accepted: pending ones (not yet authenticated) in total and per source,
 * authenticated ones apart, and resets at accept whatever is over a pending cap unless a
 * silent pending connection can give way. The connections themselves run in tls_conn.c.
 * The server struct lives until its listener and its last counted connection are both
 * gone. */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "err.h"
#include "log.h"
#include "tls_conn_priv.h"

#define TLS_LISTEN_BACKLOG 128
#define TLS_REFUSAL_LOG_MS 10000  /* at most one line per listener this often */
#define TLS_SILENT_DISPLACE_MS 1000  /* a pending connection silent this long may give way */

struct tls_server {
	uv_tcp_t tcp;
	struct tls_creds *creds;
	enum pki_role roles[TLS_MAX_ROLES];
	size_t nroles;
	tls_accept_fn on_accept;
	tls_preamble_fn preamble;       /* accepted streams may start with a preamble */
	void *data;
	uint16_t port;
	struct tls_server_limits limits;
	struct tls_server_counts counts;
	struct tls_conn *pending;       /* pending connections, to count them per source */
	size_t nconns;                  /* accepted connections not yet closing */
	bool closed;                    /* listener closed: freed with its last connection */
	bool refusal_logged;
	uint64_t refusal_logged_at;     /* uv_now() of the last line about refusals */
	uint64_t refusals_since_log;
};

/* The per-source cap counts an IPv4 address, or an IPv6 /64 (what one host or one
 * subscriber usually holds). */
static void source_of(const struct ip_endpoint *from, struct ip_addr *out)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	*out = from->addr;
	if (out->family == AF_INET6 && memcmp(out->bytes, v4mapped, sizeof v4mapped) != 0)
		memset(out->bytes + 8, 0, 8);
}

static unsigned pending_from(const struct tls_server *s, const struct ip_addr *source)
{
	unsigned n = 0;

	for (const struct tls_conn *c = s->pending; c; c = c->pending_next)
		n += ip_addr_equal(&c->source, source);
	return n;
}

/* A flood is summed up, not logged line by line. */
static void log_refusal(struct tls_server *s, const struct ip_addr *source, const char *why)
{
	uint64_t now = uv_now(s->tcp.loop);
	char from[IP_STRLEN];

	s->refusals_since_log++;
	if (s->refusal_logged && now - s->refusal_logged_at < TLS_REFUSAL_LOG_MS)
		return;
	log_warn("port %u: refusing connections not yet authenticated: %s (the latest from "
		 "%s; %llu refused since the last such line)", s->port, why,
		 ip_addr_format(source, from, sizeof from),
		 (unsigned long long)s->refusals_since_log);
	s->refusal_logged = true;
	s->refusal_logged_at = now;
	s->refusals_since_log = 0;
}

/* When the slots are short, a pending connection that has sent nothing for a second (an
 * idle holder: a real client sends its ClientHello at once) gives way to the newcomer; the
 * oldest such, from source (NULL: from anyone). False if there is none. */
static bool displace_silent(struct tls_server *s, const struct ip_addr *source)
{
	uint64_t now = uv_now(s->tcp.loop);
	struct tls_conn *pick = NULL;

	for (struct tls_conn *c = s->pending; c; c = c->pending_next)
		if (!c->spoke && now - c->accepted_ms >= TLS_SILENT_DISPLACE_MS &&
		    (!source || ip_addr_equal(&c->source, source)) &&
		    (!pick || c->accepted_ms <= pick->accepted_ms))
			pick = c;
	if (!pick)
		return false;
	s->counts.displaced++;
	tls_conn_set_reset(pick);
	tls_conn_fail(pick, INSEL_E_LIMIT, "silent for over %d ms while pending slots were short",
		  TLS_SILENT_DISPLACE_MS);
	return true;
}

/* 0 if the caps leave room for one more pending connection from source (if need be by
 * displacing a silent one). */
static int admit(struct tls_server *s, const struct ip_addr *source)
{
	const struct tls_server_limits *l = &s->limits;

	if (l->max_pending && s->counts.pending >= l->max_pending && !displace_silent(s, NULL)) {
		s->counts.refused_pending++;
		log_refusal(s, source, "all pending slots are taken");
		return INSEL_E_LIMIT;
	}
	if (l->max_pending_per_source && pending_from(s, source) >= l->max_pending_per_source &&
	    !displace_silent(s, source)) {
		s->counts.refused_source++;
		log_refusal(s, source, "that source holds its share of pending slots");
		return INSEL_E_LIMIT;
	}
	return 0;
}

static void server_attach(struct tls_server *s, struct tls_conn *c, const struct ip_addr *src)
{
	c->server = s;
	c->source = *src;
	c->accepted_ms = uv_now(s->tcp.loop);
	c->pending = true;
	c->pending_next = s->pending;
	if (s->pending)
		s->pending->pending_prev = c;
	s->pending = c;
	s->counts.pending++;
	s->nconns++;
	if (s->limits.handshake_timeout_ms)
		tls_conn_set_handshake_deadline(c, s->limits.handshake_timeout_ms);
}

static void leave_pending(struct tls_conn *c)
{
	struct tls_server *s = c->server;

	if (!c->pending)
		return;
	if (c->pending_prev)
		c->pending_prev->pending_next = c->pending_next;
	else
		s->pending = c->pending_next;
	if (c->pending_next)
		c->pending_next->pending_prev = c->pending_prev;
	c->pending_prev = c->pending_next = NULL;
	c->pending = false;
	s->counts.pending--;
}

void tls_server_detach(struct tls_conn *c)
{
	struct tls_server *s = c->server;

	if (!s)
		return;
	leave_pending(c);
	if (c->authenticated)
		s->counts.authenticated--;
	c->authenticated = false;
	c->server = NULL;
	if (--s->nconns == 0 && s->closed)
		free(s);
}

void tls_server_count_timeout(struct tls_conn *c, bool handshake)
{
	if (c->server && (handshake || c->pending))
		c->server->counts.timed_out++;
}

int tls_conn_authenticated(struct tls_conn *c)
{
	struct tls_server *s = c->server;

	if (!s || !c->pending)
		return 0;
	if (s->limits.max_authenticated && s->counts.authenticated >= s->limits.max_authenticated) {
		s->counts.refused_authenticated++;
		return INSEL_E_LIMIT;
	}
	leave_pending(c);
	c->authenticated = true;
	s->counts.authenticated++;
	if (c->state == CONN_OPEN)
		uv_timer_stop(&c->timer);
	return 0;
}

bool tls_server_handshake_done(struct tls_conn *c)
{
	struct tls_server *s = c->server;
	char what[TLS_DEADLINE_TEXT_MAX];

	if (s->limits.login_timeout_ms) {
		snprintf(what, sizeof what, "no login within %u ms", s->limits.login_timeout_ms);
		tls_conn_set_deadline(c, s->limits.login_timeout_ms, what);
		return true;
	}
	if (tls_conn_authenticated(c) == 0)
		return true;
	tls_conn_fail(c, INSEL_E_LIMIT, "the server holds its limit of %u authenticated connections",
		  s->limits.max_authenticated);
	return false;
}

/* Over a cap: reset at once (no TIME_WAIT here, no handshake work). */
static void refuse(struct tls_conn *c)
{
	tls_conn_set_reset(c);
	tls_conn_close(c, INSEL_E_LIMIT);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct tls_server *s = listener->data;
	struct ip_endpoint from;
	struct ip_addr source;
	struct tls_conn *c;

	if (status < 0) {
		log_warn("accept failed: %s", uv_strerror(status));
		return;
	}
	c = tls_conn_new(listener->loop, s->creds, true, s->roles, s->nroles, NULL);
	if (!c) {
		log_error("out of memory for a new TLS connection");
		return;
	}
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 ||
	    tls_conn_peer_endpoint(c, &from) != 0) {
		tls_conn_close(c, INSEL_E_CLOSED);
		return;
	}
	source_of(&from, &source);
	if (admit(s, &source) != 0) {
		refuse(c);
		return;
	}
	c->preamble = s->preamble;
	if (tls_conn_start_io(c) != 0) {
		tls_conn_close(c, INSEL_E_CLOSED);
		return;
	}
	server_attach(s, c, &source);
	if (s->on_accept)
		s->on_accept(s, c);
}

void tls_server_set_limits(struct tls_server *s, const struct tls_server_limits *l)
{
	s->limits = *l;
}

void tls_server_set_preamble(struct tls_server *s, tls_preamble_fn fn)
{
	s->preamble = fn;
}

void tls_server_counts(const struct tls_server *s, struct tls_server_counts *out)
{
	*out = s->counts;
}

static void server_closed(uv_handle_t *h)
{
	struct tls_server *s = h->data;

	s->closed = true;
	if (s->nconns == 0)
		free(s);
}

/* A server on loop, not listening yet. */
static struct tls_server *server_new(uv_loop_t *loop, struct tls_creds *creds,
				     const enum pki_role *allowed_roles, size_t nroles,
				     tls_accept_fn on_accept, void *data)
{
	struct tls_server *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->creds = creds;
	memcpy(s->roles, allowed_roles, nroles * sizeof *allowed_roles);
	s->nroles = nroles;
	s->on_accept = on_accept;
	s->data = data;
	uv_tcp_init(loop, &s->tcp);
	s->tcp.data = s;
	return s;
}

/* Listens on the socket the server holds (bound by now) and learns its port. */
static int server_listen(struct tls_server *s, struct tls_server **out)
{
	struct sockaddr_storage ss;
	struct ip_endpoint bound;
	int len = sizeof ss;
	int rc = uv_listen((uv_stream_t *)&s->tcp, TLS_LISTEN_BACKLOG, on_connection);

	if (!rc)
		rc = uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len);
	if (!rc)
		rc = ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &bound);
	if (rc) {
		uv_close((uv_handle_t *)&s->tcp, server_closed);
		return rc;
	}
	s->port = bound.port;
	*out = s;
	return 0;
}

int tls_server_listen(uv_loop_t *loop, struct tls_creds *creds, const struct ip_endpoint *bind,
		      const enum pki_role *allowed_roles, size_t nroles, tls_accept_fn on_accept,
		      void *data, struct tls_server **out)
{
	struct sockaddr_storage ss;
	struct tls_server *s;
	int rc;

	if (nroles == 0 || nroles > TLS_MAX_ROLES)
		return INSEL_E_BAD_FIELD;
	s = server_new(loop, creds, allowed_roles, nroles, on_accept, data);
	if (!s)
		return -ENOMEM;
	ip_endpoint_to_sockaddr(bind, &ss);
	rc = uv_tcp_bind(&s->tcp, (struct sockaddr *)&ss, 0);
	if (rc) {
		uv_close((uv_handle_t *)&s->tcp, server_closed);
		return rc;
	}
	return server_listen(s, out);
}

int tls_server_listen_fd(uv_loop_t *loop, struct tls_creds *creds, int fd,
			 const enum pki_role *allowed_roles, size_t nroles,
			 tls_accept_fn on_accept, void *data, struct tls_server **out)
{
	struct tls_server *s;
	int rc;

	if (nroles == 0 || nroles > TLS_MAX_ROLES)
		return INSEL_E_BAD_FIELD;
	s = server_new(loop, creds, allowed_roles, nroles, on_accept, data);
	if (!s)
		return -ENOMEM;
	rc = uv_tcp_open(&s->tcp, fd);
	if (rc) {
		uv_close((uv_handle_t *)&s->tcp, server_closed);
		return rc;
	}
	return server_listen(s, out);
}

void *tls_server_data(const struct tls_server *s)
{
	return s->data;
}

uint16_t tls_server_port(const struct tls_server *s)
{
	return s->port;
}

void tls_server_close(struct tls_server *s)
{
	if (s && !uv_is_closing((uv_handle_t *)&s->tcp))
		uv_close((uv_handle_t *)&s->tcp, server_closed);
}
