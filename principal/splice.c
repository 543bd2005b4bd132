/* The principal's splice (see splice.h): pairs two secondaries' TCP streams by the
 * preamble they start with and forwards bytes between them, never looking inside the TLS
 * that follows.
 *
 * A connection is a leg. Until its 32-byte preamble has come it is unpaired (capped in
 * number, and closed if it says nothing valid in time); then it joins the pairing the
 * principal announced for that call, at its end, if the token matches and that end is
 * free. Bytes a leg sends before the other end arrives (the caller's ClientHello) are
 * held, up to the buffer size, reading stopped beyond. Once both are there, each read is
 * written to the other leg; when the other's write queue passes the buffer size, reading
 * stops until it drains to half (back-pressure, so a slow reader costs the principal at
 * most the buffer per direction). An end of stream is passed on as a half-close; an error
 * on either leg, or both ends finished, closes both. */
#include "splice.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "rand.h"

#define SPLICE_SWEEP_MS 1000
#define SPLICE_KEEPALIVE_S 60

struct pairing;

struct leg {
	uv_tcp_t tcp;
	struct splice_server *s;
	struct pairing *pair;        /* NULL until its preamble matched */
	int end;                     /* once paired: 0 the caller's, 1 the callee's */
	uint8_t head[PREAMBLE_LEN];  /* the preamble so far */
	size_t headlen;
	struct buf held;             /* bytes sent before the other end arrived */
	bool reading;
	bool eof;                    /* this end has finished sending */
	bool shut;                   /* its write side was shut (the other's eof passed on) */
	bool closing;
	uint64_t accepted_ms;
	struct leg *prev, *next;     /* the unpaired legs */
	uv_shutdown_t shutdown_req;
};

struct pairing {
	uint64_t call_id;
	uint8_t token[PREAMBLE_TOKEN_LEN];
	char names[2][PKI_NAME_MAX + 1];  /* the caller's and the callee's secondaries */
	uint64_t deadline_ms;
	struct leg *legs[2];
	bool active;
	bool closing;
	struct pairing *prev, *next;
};

struct splice_server {
	uv_tcp_t listener;
	uv_timer_t sweep;
	struct ip_endpoint bound;
	uint64_t (*clock_ms)(void);
	struct pairing *pairs;
	unsigned npairs;
	struct leg *unpaired;
	unsigned nunpaired;
	unsigned handles;            /* open libuv handles: listener, timer, legs */
	bool stopping;
	struct splice_counts counts;
};

struct splice_write {
	uv_write_t req;
	size_t len;
	uint8_t bytes[];
};

static void leg_close(struct leg *l);

static void server_maybe_free(struct splice_server *s)
{
	if (s->stopping && s->handles == 0)
		free(s);
}

/* ---- pairings ---- */

static void pair_unlink(struct splice_server *s, struct pairing *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		s->pairs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	s->npairs--;
	if (p->active)
		s->counts.active--;
	free(p);
}

/* Closes both legs; the pairing goes with the last of them (or now, if it has none). */
static void pair_close(struct splice_server *s, struct pairing *p)
{
	if (!p->closing) {
		p->closing = true;
		for (int i = 0; i < 2; i++)
			if (p->legs[i])
				leg_close(p->legs[i]);
	}
	if (!p->legs[0] && !p->legs[1])
		pair_unlink(s, p);
}

static struct pairing *pair_find(struct splice_server *s, uint64_t call_id)
{
	for (struct pairing *p = s->pairs; p; p = p->next)
		if (p->call_id == call_id && !p->closing)
			return p;
	return NULL;
}

static unsigned pairs_of(const struct splice_server *s, const char *name)
{
	unsigned n = 0;

	for (const struct pairing *p = s->pairs; p; p = p->next)
		n += strcmp(p->names[0], name) == 0 || strcmp(p->names[1], name) == 0;
	return n;
}

int splice_expect(struct splice_server *s, uint64_t call_id,
		  const uint8_t token[PREAMBLE_TOKEN_LEN], const char *caller, const char *callee)
{
	struct pairing *p;

	if (s->stopping || s->npairs >= SPLICE_MAX_PAIRS ||
	    pairs_of(s, caller) >= SPLICE_MAX_PER_SECONDARY ||
	    pairs_of(s, callee) >= SPLICE_MAX_PER_SECONDARY)
		return INSEL_E_LIMIT;
	if (pair_find(s, call_id))
		return INSEL_E_EXISTS;
	p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->call_id = call_id;
	memcpy(p->token, token, PREAMBLE_TOKEN_LEN);
	snprintf(p->names[0], sizeof p->names[0], "%s", caller);
	snprintf(p->names[1], sizeof p->names[1], "%s", callee);
	p->deadline_ms = s->clock_ms() + SPLICE_PAIR_TIMEOUT_MS;
	p->next = s->pairs;
	if (s->pairs)
		s->pairs->prev = p;
	s->pairs = p;
	s->npairs++;
	s->counts.expected++;
	return 0;
}

/* ---- forwarding ---- */

static struct leg *other_leg(const struct leg *l)
{
	return l->pair ? l->pair->legs[1 - l->end] : NULL;
}

static size_t queued(const struct leg *l)
{
	return uv_stream_get_write_queue_size((const uv_stream_t *)&l->tcp);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static char scratch[64 * 1024];

	(void)h;
	(void)suggested;
	*b = uv_buf_init(scratch, sizeof scratch);
}

static void read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *b);

static void set_reading(struct leg *l, bool on)
{
	if (l->closing || l->eof || l->reading == on)
		return;
	if (on ? uv_read_start((uv_stream_t *)&l->tcp, alloc_cb, read_cb) == 0
	       : uv_read_stop((uv_stream_t *)&l->tcp) == 0)
		l->reading = on;
}

static void write_cb(uv_write_t *req, int status)
{
	struct leg *to = req->handle->data;
	struct leg *from = other_leg(to);

	free(req);
	if (status < 0) {
		if (status != UV_ECANCELED && to->pair)
			pair_close(to->s, to->pair);
		return;
	}
	/* Drained to half the buffer: the sender may go on. */
	if (from && !from->closing && queued(to) <= SPLICE_BUFFER_BYTES / 2)
		set_reading(from, true);
}

/* Writes a copy of the bytes to leg `to`; false if it cannot. */
static bool send_to(struct leg *to, const void *data, size_t len)
{
	struct splice_write *w;
	uv_buf_t b;

	if (to->closing || len == 0)
		return len == 0;
	w = malloc(sizeof *w + len);
	if (!w)
		return false;
	memcpy(w->bytes, data, len);
	w->len = len;
	b = uv_buf_init((char *)w->bytes, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&to->tcp, &b, 1, write_cb) != 0) {
		free(w);
		return false;
	}
	to->s->counts.bytes += len;
	return true;
}

/* Bytes from leg `from`: to the other end, or held until it comes. */
static void forward(struct leg *from, const uint8_t *data, size_t len)
{
	struct leg *to = other_leg(from);

	if (!to || !from->pair->active) {
		if (buf_append(&from->held, data, len) != 0) {
			pair_close(from->s, from->pair);
			return;
		}
		if (from->held.len >= SPLICE_BUFFER_BYTES)
			set_reading(from, false);
		return;
	}
	if (!send_to(to, data, len)) {
		pair_close(from->s, from->pair);
		return;
	}
	if (queued(to) > SPLICE_BUFFER_BYTES)
		set_reading(from, false);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	(void)req;
	(void)status;
}

/* Leg `from` has finished sending: so does the other's write side; both done, both go. */
static void end_of_stream(struct leg *from)
{
	struct leg *to = other_leg(from);

	from->eof = true;
	from->reading = false;
	if (!from->pair || !from->pair->active) {
		if (from->pair)
			pair_close(from->s, from->pair);
		else
			leg_close(from);
		return;
	}
	if (to && !to->shut && !to->closing) {
		to->shut = true;
		to->shutdown_req.data = to;
		if (uv_shutdown(&to->shutdown_req, (uv_stream_t *)&to->tcp, shutdown_cb) != 0) {
			pair_close(from->s, from->pair);
			return;
		}
	}
	if (!to || to->eof)
		pair_close(from->s, from->pair);
}

/* Both ends are there: what each held goes to the other, and both read on. */
static void activate(struct splice_server *s, struct pairing *p)
{
	char id[ID_STRLEN];

	p->active = true;
	s->counts.spliced++;
	s->counts.active++;
	log_info("splice: call %s between %s and %s", id_format(p->call_id, id), p->names[0],
		 p->names[1]);
	for (int i = 0; i < 2; i++) {
		struct leg *l = p->legs[i];

		if (l->held.len && !send_to(p->legs[1 - i], l->held.data, l->held.len)) {
			pair_close(s, p);
			return;
		}
		buf_consume(&l->held, l->held.len);
	}
	for (int i = 0; i < 2; i++)
		set_reading(p->legs[i], true);
}

/* ---- preamble ---- */

static void unpaired_unlink(struct leg *l)
{
	struct splice_server *s = l->s;

	if (l->prev)
		l->prev->next = l->next;
	else
		s->unpaired = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
	s->nunpaired--;
}

static void refuse(struct leg *l, const char *why)
{
	char peer[IP_STRLEN] = "?";
	struct sockaddr_storage ss;
	struct ip_endpoint ep;
	int len = sizeof ss;

	if (uv_tcp_getpeername(&l->tcp, (struct sockaddr *)&ss, &len) == 0 &&
	    ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &ep) == 0)
		ip_endpoint_format(&ep, peer, sizeof peer);
	log_info("splice: refused a connection from %s: %s", peer, why);
	l->s->counts.refused++;
	leg_close(l);
}

/* A whole preamble: the leg joins its pairing, or is refused. */
static bool join(struct leg *l, const struct preamble *pre)
{
	struct pairing *p = pair_find(l->s, pre->call_id);
	int end = pre->end == PREAMBLE_CALLER ? 0 : 1;

	if (!p || !preamble_token_equal(p->token, pre->token)) {
		refuse(l, "no such call expected, or a wrong token");
		return false;
	}
	if (p->legs[end]) {
		refuse(l, "that end of the call is already connected");
		return false;
	}
	unpaired_unlink(l);
	l->pair = p;
	l->end = end;
	p->legs[end] = l;
	if (p->legs[1 - end])
		activate(l->s, p);
	return true;
}

/* The first bytes of an unpaired leg; what follows its preamble is forwarded. */
static void take_head(struct leg *l, const uint8_t *data, size_t len)
{
	size_t take = PREAMBLE_LEN - l->headlen;
	struct preamble pre;
	int rc;

	if (take > len)
		take = len;
	memcpy(l->head + l->headlen, data, take);
	l->headlen += take;
	rc = preamble_decode(l->head, l->headlen, &pre);
	if (rc < 0) {
		refuse(l, "not a preamble");
		return;
	}
	if (rc == 0 || !join(l, &pre))
		return;
	if (len > take && !l->closing)
		forward(l, data + take, len - take);
}

static void read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *b)
{
	struct leg *l = stream->data;

	if (l->closing)
		return;
	if (n == UV_EOF) {
		uv_read_stop(stream);
		end_of_stream(l);
		return;
	}
	if (n < 0) {
		if (l->pair)
			pair_close(l->s, l->pair);
		else
			leg_close(l);
		return;
	}
	if (!l->pair)
		take_head(l, (const uint8_t *)b->base, (size_t)n);
	else
		forward(l, (const uint8_t *)b->base, (size_t)n);
}

/* ---- legs ---- */

static void leg_closed(uv_handle_t *h)
{
	struct leg *l = h->data;
	struct splice_server *s = l->s;
	struct pairing *p = l->pair;

	if (p) {
		p->legs[l->end] = NULL;
		if (p->closing && !p->legs[1 - l->end])
			pair_unlink(s, p);
	} else {
		unpaired_unlink(l);
	}
	buf_free(&l->held);
	free(l);
	s->handles--;
	server_maybe_free(s);
}

static void leg_close(struct leg *l)
{
	if (l->closing)
		return;
	l->closing = true;
	uv_close((uv_handle_t *)&l->tcp, leg_closed);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct splice_server *s = listener->data;
	struct leg *l;

	if (status < 0)
		return;
	l = calloc(1, sizeof *l);
	if (!l)
		return;
	l->s = s;
	buf_init(&l->held, SPLICE_BUFFER_BYTES + 64 * 1024);
	uv_tcp_init(listener->loop, &l->tcp);
	l->tcp.data = l;
	l->accepted_ms = s->clock_ms();
	s->handles++;
	l->next = s->unpaired;
	if (s->unpaired)
		s->unpaired->prev = l;
	s->unpaired = l;
	s->nunpaired++;
	if (uv_accept(listener, (uv_stream_t *)&l->tcp) != 0) {
		leg_close(l);
		return;
	}
	if (s->stopping || s->nunpaired > SPLICE_MAX_UNPAIRED) {
		refuse(l, "too many connections waiting to be paired");
		return;
	}
	uv_tcp_nodelay(&l->tcp, 1);
	/* A paired stream lasts as long as its call: a NAT that forgets one end silently
	 * must not leave the other open for ever. */
	uv_tcp_keepalive(&l->tcp, 1, SPLICE_KEEPALIVE_S);
	set_reading(l, true);
}

/* ---- time-outs ---- */

static void sweep_cb(uv_timer_t *t)
{
	struct splice_server *s = t->data;
	uint64_t now = s->clock_ms();

	for (struct pairing *p = s->pairs, *next; p; p = next) {
		next = p->next;
		if (!p->active && !p->closing && now >= p->deadline_ms) {
			char id[ID_STRLEN];

			log_info("splice: call %s: %s did not arrive in time", id_format(p->call_id, id),
				 !p->legs[0] && !p->legs[1] ? "neither end"
				 : !p->legs[0] ? "the caller's end" : "the callee's end");
			s->counts.expired++;
			pair_close(s, p);
		}
	}
	for (struct leg *l = s->unpaired, *next; l; l = next) {
		next = l->next;
		if (!l->closing && now - l->accepted_ms >= SPLICE_PAIR_TIMEOUT_MS)
			refuse(l, "no preamble in time");
	}
}

/* ---- the server ---- */

static void handle_closed(uv_handle_t *h)
{
	struct splice_server *s = h->data;

	s->handles--;
	server_maybe_free(s);
}

int splice_start(uv_loop_t *loop, const struct ip_endpoint *at, uint64_t (*clock_ms)(void),
		 struct splice_server **out)
{
	struct splice_server *s = calloc(1, sizeof *s);
	struct sockaddr_storage ss;
	int len = sizeof ss, rc;

	if (!s)
		return -ENOMEM;
	s->clock_ms = clock_ms;
	uv_tcp_init(loop, &s->listener);
	uv_timer_init(loop, &s->sweep);
	s->listener.data = s->sweep.data = s;
	s->handles = 2;
	ip_endpoint_to_sockaddr(at, &ss);
	rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
	if (!rc)
		rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
	if (!rc)
		rc = ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &s->bound);
	if (rc) {
		s->stopping = true;
		uv_close((uv_handle_t *)&s->listener, handle_closed);
		uv_close((uv_handle_t *)&s->sweep, handle_closed);
		return rc;
	}
	uv_timer_start(&s->sweep, sweep_cb, SPLICE_SWEEP_MS, SPLICE_SWEEP_MS);
	*out = s;
	return 0;
}

uint16_t splice_port(const struct splice_server *s)
{
	return s->bound.port;
}

static bool is_wildcard(const struct ip_addr *a)
{
	static const uint8_t zero[sizeof a->bytes];

	return memcmp(a->bytes, zero, sizeof a->bytes) == 0;
}

void splice_endpoint_for(const struct splice_server *s, const struct ip_endpoint *seen,
			 struct ip_endpoint *out)
{
	*out = s->bound;
	if (is_wildcard(&s->bound.addr) && seen)
		out->addr = seen->addr;
}

void splice_counts(const struct splice_server *s, struct splice_counts *out)
{
	*out = s->counts;
}

void splice_stop(struct splice_server *s)
{
	if (!s || s->stopping)
		return;
	s->stopping = true;
	log_info("splice: %llu expected, %llu spliced, %llu expired, %llu refused, %llu bytes "
		 "forwarded", (unsigned long long)s->counts.expected,
		 (unsigned long long)s->counts.spliced, (unsigned long long)s->counts.expired,
		 (unsigned long long)s->counts.refused, (unsigned long long)s->counts.bytes);
	uv_timer_stop(&s->sweep);
	uv_close((uv_handle_t *)&s->listener, handle_closed);
	uv_close((uv_handle_t *)&s->sweep, handle_closed);
	for (struct pairing *p = s->pairs, *next; p; p = next) {
		next = p->next;
		pair_close(s, p);
	}
	for (struct leg *l = s->unpaired; l; l = l->next)
		leg_close(l);
}
