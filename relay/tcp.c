/* The relay's TCP fallback (docs/relay.md, section 6): a TLS 1.3 listener for auxiliaries
 * that no UDP reaches, each connection a leg of the one forwarding table.
 *
 * Each accepted connection is named by an endpoint of its own in the discard-only prefix
 * 100::/64 (RFC 6666): its slot and a generation in the low 64 bits, port 0. No datagram
 * can come from there, so to the forwarding table it is one more source: fwd_input()
 * registers, moves, checks and rate-limits a TCP leg exactly as a UDP one, and whatever
 * it says to send to such an endpoint is written into that connection (relay_send), the
 * rest out of the UDP socket. A record the connection cannot take now (over
 * RELAY_TCP_QUEUE_MAX not yet written) is dropped and counted: frames are datagrams. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "err.h"
#include "log.h"
#include "relay.h"
#include "relay_tcp.h"
#include "relay_stream.h"
#include "relay_wire.h"
#include "tls.h"

#define SLOT_BITS 16
#define SLOT_MASK ((1u << SLOT_BITS) - 1)

/* 100::/64, RFC 6666: the first 8 bytes of every connection's endpoint. */
static const uint8_t discard_prefix[8] = {0x01, 0x00, 0, 0, 0, 0, 0, 0};

struct relay_tcp_conn {
	struct relay *relay;
	struct tls_conn *tls;
	uint64_t id;                 /* generation << SLOT_BITS | slot */
	struct ip_endpoint endpoint; /* [100::id]:0, as the table knows it */
	struct relay_stream_reader reader;
	bool registered;
	bool closing;
};

static struct ip_endpoint endpoint_of(uint64_t id)
{
	struct ip_endpoint e;

	memset(&e, 0, sizeof e);
	e.addr.family = AF_INET6;
	memcpy(e.addr.bytes, discard_prefix, sizeof discard_prefix);
	for (int i = 0; i < 8; i++)
		e.addr.bytes[8 + i] = (uint8_t)(id >> (56 - 8 * i));
	e.port = 0;
	return e;
}

bool relay_tcp_endpoint(const struct ip_endpoint *e)
{
	return e->addr.family == AF_INET6 && e->port == 0 &&
	       memcmp(e->addr.bytes, discard_prefix, sizeof discard_prefix) == 0;
}

static uint64_t id_of(const struct ip_endpoint *e)
{
	uint64_t id = 0;

	for (int i = 0; i < 8; i++)
		id = id << 8 | e->addr.bytes[8 + i];
	return id;
}

static struct relay_tcp_conn *conn_of(const struct relay_tcp *t, const struct ip_endpoint *e)
{
	uint64_t id = id_of(e);
	size_t slot = id & SLOT_MASK;
	struct relay_tcp_conn *c;

	if (slot >= t->max_conns)
		return NULL;
	c = t->slots[slot];
	return c && c->id == id && !c->closing ? c : NULL;
}

/* ---- sending ---- */

static void send_record(struct relay_tcp *t, struct relay_tcp_conn *c, const uint8_t *data,
			size_t len)
{
	static uint8_t record[RELAY_STREAM_PREFIX + RELAY_STREAM_RECORD_MAX];
	int n = relay_stream_encode(data, len, record, sizeof record);
	int rc;

	if (n < 0) {
		t->counts.backpressure++;
		return;
	}
	rc = tls_conn_send_bytes(c->tls, record, (size_t)n, RELAY_TCP_QUEUE_MAX);
	if (rc == INSEL_E_LIMIT)
		t->counts.backpressure++;
	else if (rc == INSEL_E_CLOSED)
		t->counts.gone++;
	else if (rc == 0)
		t->counts.records_out++;
}

static void send_udp(struct relay *r, const uint8_t *data, size_t len,
		     const struct ip_endpoint *to)
{
	struct sockaddr_storage ss;
	socklen_t sl = ip_endpoint_to_sockaddr(to, &ss);

	if (sendto(r->udp_fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0)
		r->tx_errors++;
}

void relay_tcp_send(struct relay *r, const uint8_t *data, size_t len,
		    const struct ip_endpoint *to)
{
	struct relay_tcp_conn *c;

	if (!r->tcp)
		return;
	c = conn_of(r->tcp, to);
	if (!c) {
		r->tcp->counts.gone++;
		return;
	}
	send_record(r->tcp, c, data, len);
}

/* Whatever the table decided about a record that came over a connection. */
static void carry_out(struct relay *r, const uint8_t *data, size_t len,
		      const struct fwd_verdict *v)
{
	if (v->action == FWD_ANSWER && relay_tcp_endpoint(&v->to))
		relay_tcp_send(r, v->answer, v->answer_len, &v->to);
	else if (v->action == FWD_ANSWER)
		send_udp(r, v->answer, v->answer_len, &v->to);
	else if (v->action == FWD_SEND && relay_tcp_endpoint(&v->to))
		relay_tcp_send(r, data, len, &v->to);
	else if (v->action == FWD_SEND)
		send_udp(r, data, len, &v->to);
}

/* ---- receiving ---- */

static int on_record(void *ctx, const uint8_t *record, size_t len)
{
	struct relay_tcp_conn *c = ctx;
	struct relay *r = c->relay;
	struct fwd_verdict v;

	r->tcp->counts.records_in++;
	/* The first record must be the leg's REGISTER: nothing else has a meaning before. */
	if (!c->registered && !relay_wire_is_register(record, len)) {
		r->tcp->counts.closed_malformed++;
		tls_conn_close(c->tls, INSEL_E_PROTOCOL);
		return INSEL_E_PROTOCOL;
	}
	uv_update_time(r->loop);
	fwd_input(&r->table, record, len, &c->endpoint, uv_now(r->loop), &v);
	if (v.reason == FWD_REGISTERED)
		c->registered = true;
	if (c->registered)
		tls_conn_set_deadline(c->tls, RELAY_TCP_IDLE_MS,
				      "no record from the leg within the idle time");
	carry_out(r, record, len, &v);
	return 0;
}

static void on_bytes(struct tls_conn *tls, const uint8_t *data, size_t len)
{
	struct relay_tcp_conn *c = tls_conn_data(tls);
	int rc;

	if (c->closing)
		return;
	rc = relay_stream_feed(&c->reader, data, len, on_record, c);
	if (rc == INSEL_E_MALFORMED) {
		c->relay->tcp->counts.closed_malformed++;
		tls_conn_close(tls, rc);
	} else if (rc && rc != INSEL_E_PROTOCOL) {
		tls_conn_close(tls, rc);
	}
}

static void on_ready(struct tls_conn *tls, int status)
{
	if (status != 0)
		return;
	tls_conn_set_raw(tls, on_bytes);
	tls_conn_set_deadline(tls, RELAY_TCP_REGISTER_MS, "no REGISTER after the handshake");
}

static void on_close(struct tls_conn *tls)
{
	struct relay_tcp_conn *c = tls_conn_data(tls);
	struct relay_tcp *t = c->relay->tcp;
	int reason = tls_conn_close_reason(tls);

	if (reason == INSEL_E_TIMEOUT && c->registered)
		t->counts.closed_idle++;
	t->slots[c->id & SLOT_MASK] = NULL;
	t->open--;
	relay_stream_reader_free(&c->reader);
	free(c);
}

static const struct tls_conn_callbacks conn_cb = {on_ready, NULL, on_close};

static int free_slot(const struct relay_tcp *t)
{
	for (size_t i = 0; i < t->max_conns; i++)
		if (!t->slots[i])
			return (int)i;
	return -1;
}

static void on_accept(struct tls_server *s, struct tls_conn *tls)
{
	struct relay *r = tls_server_data(s);
	struct relay_tcp *t = r->tcp;
	int slot = free_slot(t);
	struct relay_tcp_conn *c = slot >= 0 ? calloc(1, sizeof *c) : NULL;

	if (!c) {
		t->counts.refused++;
		tls_conn_set_callbacks(tls, NULL, NULL);
		tls_conn_close(tls, INSEL_E_LIMIT);
		return;
	}
	c->relay = r;
	c->tls = tls;
	c->id = (++t->generation << SLOT_BITS) | (uint64_t)slot;
	c->endpoint = endpoint_of(c->id);
	relay_stream_reader_init(&c->reader);
	t->slots[slot] = c;
	t->open++;
	t->counts.accepted++;
	tls_conn_set_callbacks(tls, &conn_cb, c);
}

/* ---- the listener ---- */

int relay_tcp_open(struct relay *r, const struct relay_options *o)
{
	static const enum pki_role roles[] = {PKI_ROLE_NONE};
	const struct tls_server_limits limits = {
		.max_pending = RELAY_TCP_MAX_PENDING,
		.max_pending_per_source = RELAY_TCP_MAX_PENDING_PER_SOURCE,
		.handshake_timeout_ms = RELAY_TCP_HANDSHAKE_MS,
	};
	struct relay_tcp *t;
	char err[256];
	int rc;

	if (!o->has_tcp_listen && o->tcp_socket_fd < 0)
		return 0;
	if (!o->ca || !o->tls_cert || !o->tls_key) {
		log_error("--tcp-listen needs --ca, --tls-cert and --tls-key");
		return INSEL_E_CONFIG;
	}
	t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->max_conns = RELAY_TCP_MAX_CONNS;
	t->slots = calloc(t->max_conns, sizeof *t->slots);
	rc = t->slots ? tls_creds_load(&t->creds, o->ca, o->tls_cert, o->tls_key, err,
				       sizeof err)
		      : -ENOMEM;
	if (rc == 0 && o->tcp_socket_fd >= 0)
		rc = tls_server_listen_fd(r->loop, t->creds, o->tcp_socket_fd, roles, 1,
					  on_accept, r, &t->server);
	else if (rc == 0)
		rc = tls_server_listen(r->loop, t->creds, &o->tcp_listen, roles, 1, on_accept, r,
				       &t->server);
	if (rc) {
		log_error("no TCP fallback listener: %s", rc == -ENOMEM ? "out of memory"
			  : t->creds ? insel_strerror(rc) : err);
		if (t->creds)
			tls_creds_free(t->creds);
		free(t->slots);
		free(t);
		return rc;
	}
	tls_server_set_limits(t->server, &limits);
	t->port = tls_server_port(t->server);
	r->tcp = t;
	log_info("TCP fallback on port %u (TLS, at most %zu connections)", t->port,
		 t->max_conns);
	return 0;
}

void relay_tcp_close(struct relay *r)
{
	struct relay_tcp *t = r->tcp;

	if (!t || t->closed)
		return;
	t->closed = true;
	tls_server_close(t->server);
	for (size_t i = 0; i < t->max_conns; i++) {
		if (t->slots[i] && !t->slots[i]->closing) {
			t->slots[i]->closing = true;
			tls_conn_close(t->slots[i]->tls, 0);
		}
	}
}

/* After the loop has ended: every connection's close callback has run. */
void relay_tcp_free(struct relay *r)
{
	if (!r->tcp)
		return;
	tls_creds_free(r->tcp->creds);
	free(r->tcp->slots);
	free(r->tcp);
	r->tcp = NULL;
}

json_t *relay_tcp_stats_json(const struct relay *r)
{
	const struct relay_tcp *t = r->tcp;

	if (!t)
		return json_null();
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "port", (int)t->port,
			 "open", (json_int_t)t->open,
			 "accepted", (json_int_t)t->counts.accepted,
			 "refused", (json_int_t)t->counts.refused,
			 "records_in", (json_int_t)t->counts.records_in,
			 "records_out", (json_int_t)t->counts.records_out,
			 "backpressure", (json_int_t)t->counts.backpressure,
			 "gone", (json_int_t)t->counts.gone,
			 "closed_idle", (json_int_t)t->counts.closed_idle,
			 "closed_malformed", (json_int_t)t->counts.closed_malformed);
}
