/* The call's TCP leg: the relay's TLS-over-TCP fallback (docs/relay.md, section 6) for
 * when no UDP gets through at all. The path logic (path.c) knows the leg as one more
 * candidate, the last one: its endpoint is a marker in the discard-only prefix 100::/64
 * (RFC 6666) that no datagram can come from, and whatever the auxiliary sends there
 * (probes, frames; sendq.c and batch.c ask tcp_leg_owns) is written into the TLS stream
 * as a record with a 2-byte length instead of going out of the WAN socket; records that
 * come back are taken as datagrams from that marker (relay.c). So the channels, the
 * replay windows and the probes work unchanged over it.
 *
 * The sockets are made and bound to the WAN address at bind time, before the process
 * confines itself: the allowlist grants `connect` but no `socket` (sandbox.c says why).
 * A room's leg gets them from the secondary instead (room_host.c, leg_handover.h).
 * There are AUX_TCP_SOCKETS of them, so a call may connect that many times at most.
 *
 * When: AUX_TCP_FALLBACK_MS after start (or after the path was lost) with no path up and
 * no relay leg registered over UDP (then UDP is not blocked here), or
 * half the channels' dead_after if that is shorter (the call must not end no_path first),
 * the leg connects, checks the relay's certificate against the organisation's CA given
 * in start, REGISTERs (the same message as over UDP, authenticated with the allocation's
 * token) and, once REGISTERED, becomes a candidate. It re-registers every keep-alive
 * interval. When the path has been on a UDP candidate for AUX_TCP_LINGER_MS, the
 * connection closes. Writes the stream cannot take (over AUX_TCP_QUEUE_MAX queued) are
 * dropped and counted: frames are datagrams. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auxiliary.h"
#include "err.h"
#include "log.h"
#include "relay_stream.h"
#include "relay_wire.h"
#include "tls.h"
#include "wan_socket.h"

/* [100::1:0]:0 — RFC 6666's discard-only prefix: never a datagram's source. */
static const uint8_t marker_addr[16] = {0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};

static const char *const state_names[] = {
	[TCP_LEG_OFF] = "off", [TCP_LEG_IDLE] = "idle", [TCP_LEG_CONNECTING] = "connecting",
	[TCP_LEG_REGISTERING] = "registering", [TCP_LEG_LIVE] = "live",
	[TCP_LEG_CLOSED] = "closed",
};

static uint64_t elapsed_ms(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/* ---- at bind: the sockets, while the process may still make them ---- */

int tcp_leg_prepare(struct bridge *br)
{
	struct aux_tcp_leg *t = &br->tcp;

	for (size_t i = 0; i < AUX_TCP_SOCKETS; i++) {
		int fd = wan_socket_bound(SOCK_STREAM, &br->wan_addr, 0);

		if (fd < 0)
			return fd;
		t->fds[t->nfds++] = fd;
	}
	return 0;
}

uint64_t relay_counter_next(struct bridge *br)
{
	return ++br->relay_counter;
}

/* ---- the marker ---- */

bool tcp_leg_owns(const struct bridge *br, const struct ip_endpoint *ep)
{
	return br->tcp.state != TCP_LEG_OFF && ep->port == 0 && ep->addr.family == AF_INET6 &&
	       memcmp(ep->addr.bytes, marker_addr, sizeof marker_addr) == 0;
}

static struct ip_endpoint marker(void)
{
	struct ip_endpoint e;

	memset(&e, 0, sizeof e);
	e.addr.family = AF_INET6;
	memcpy(e.addr.bytes, marker_addr, sizeof marker_addr);
	return e;
}

/* ---- sending ---- */

static int write_record(struct aux_tcp_leg *t, const uint8_t *data, size_t len)
{
	static uint8_t record[RELAY_STREAM_PREFIX + RELAY_STREAM_RECORD_MAX];
	int n = relay_stream_encode(data, len, record, sizeof record);
	int rc;

	if (n < 0)
		return n;
	rc = tls_conn_send_bytes(t->conn, record, (size_t)n, AUX_TCP_QUEUE_MAX);
	if (rc == INSEL_E_LIMIT)
		t->backpressure++;
	else if (rc == 0)
		t->records_out++;
	return rc;
}

int tcp_leg_send(struct bridge *br, const uint8_t *data, size_t len)
{
	struct aux_tcp_leg *t = &br->tcp;

	if (t->state != TCP_LEG_LIVE || !t->conn) {
		t->not_live++;
		return INSEL_E_CLOSED;
	}
	return write_record(t, data, len);
}

static void send_register(struct bridge *br)
{
	struct aux_tcp_leg *t = &br->tcp;
	struct relay_register m = {.allocation = t->allocation, .leg = (uint8_t)t->leg,
				   .counter = relay_counter_next(br)};
	uint8_t dgram[RELAY_REGISTER_MAX];
	int n;

	for (unsigned i = 0; i < br->n_lan && i < RELAY_MAX_SESSIONS; i++)
		m.sessions[m.nsessions++] = channel_local_session(br->lan[i].ch);
	n = relay_register_encode(&m, t->token, dgram, sizeof dgram);
	if (n > 0 && write_record(t, dgram, (size_t)n) == 0) {
		t->counter = m.counter;
		t->registers++;
	}
}

/* ---- receiving ---- */

static void take_registered(struct bridge *br, const uint8_t *rec, size_t len)
{
	struct aux_tcp_leg *t = &br->tcp;
	struct relay_registered m;
	struct ip_endpoint ep = marker();
	char at[IP_STRLEN];

	if (relay_registered_parse(rec, len, &m) != 0 ||
	    relay_wire_verify(rec, len, t->token) != 0 || m.allocation != t->allocation ||
	    m.counter != t->counter) {
		t->bad_records++;
		return;
	}
	t->registered_ms = uv_now(br->loop);
	if (t->state == TCP_LEG_LIVE)
		return;
	t->state = TCP_LEG_LIVE;
	log_info("TCP leg: registered with the relay at %s over TLS",
		 ip_endpoint_format(&t->relay, at, sizeof at));
	path_add_tcp_candidate(br, &ep);
}

static int on_record(void *ctx, const uint8_t *rec, size_t len)
{
	struct bridge *br = ctx;
	struct aux_tcp_leg *t = &br->tcp;
	struct ip_endpoint from = marker();

	t->records_in++;
	if (relay_wire_is_registered(rec, len)) {
		take_registered(br, rec, len);
		return 0;
	}
	if (t->state != TCP_LEG_LIVE) {
		t->bad_records++;
		return 0;
	}
	relay_take_datagram(br, rec, len, &from);
	return br->state == AUX_RUNNING ? 0 : INSEL_E_CLOSED;
}

static void on_bytes(struct tls_conn *c, const uint8_t *data, size_t len)
{
	struct bridge *br = tls_conn_data(c);
	int rc = relay_stream_feed(&br->tcp.reader, data, len, on_record, br);

	if (br->state == AUX_RUNNING)
		relay_take_done(br);
	if (rc == INSEL_E_MALFORMED) {
		br->tcp.bad_records++;
		tls_conn_close(c, rc);
	}
}

static void on_ready(struct tls_conn *c, int status)
{
	struct bridge *br = tls_conn_data(c);
	struct aux_tcp_leg *t = &br->tcp;
	char at[IP_STRLEN];

	ip_endpoint_format(&t->relay, at, sizeof at);
	if (status != 0) {
		snprintf(t->error, sizeof t->error, "TLS with the relay at %s failed: %s", at,
			 tls_conn_error(c));
		log_warn("TCP leg: %s", t->error);
		return;
	}
	log_info("TCP leg: TLS with the relay at %s (certificate of the organisation)", at);
	t->state = TCP_LEG_REGISTERING;
	tls_conn_set_raw(c, on_bytes);
	send_register(br);
}

static void on_close(struct tls_conn *c)
{
	struct bridge *br = tls_conn_data(c);
	struct aux_tcp_leg *t = &br->tcp;

	t->conn = NULL;
	relay_stream_reader_free(&t->reader);
	if (t->state == TCP_LEG_OFF)
		return;
	if (t->state == TCP_LEG_LIVE || t->state == TCP_LEG_REGISTERING)
		log_info("TCP leg: the connection to the relay closed");
	t->state = t->nfds > t->next_fd ? TCP_LEG_IDLE : TCP_LEG_CLOSED;
	t->closed_ms = uv_now(br->loop);
	t->closes++;
}

static const struct tls_conn_callbacks leg_cb = {on_ready, NULL, on_close};

/* ---- when ---- */

static void connect_leg(struct bridge *br, const char *why)
{
	struct aux_tcp_leg *t = &br->tcp;
	char at[IP_STRLEN];
	int rc;

	ip_endpoint_format(&t->relay, at, sizeof at);
	log_info("TCP leg: %s: connecting to the relay at %s", why, at);
	relay_stream_reader_init(&t->reader);
	t->state = TCP_LEG_CONNECTING;
	t->connects++;
	rc = tls_connect_socket(br->loop, t->creds, t->fds[t->next_fd], &t->relay,
				PKI_ROLE_PRINCIPAL, NULL, &leg_cb, br, &t->conn);
	t->fds[t->next_fd++] = -1;  /* the connection has it now, even on failure */
	if (rc) {
		snprintf(t->error, sizeof t->error, "cannot connect to the relay at %s: %s", at,
			 insel_strerror(rc));
		log_warn("TCP leg: %s", t->error);
		relay_stream_reader_free(&t->reader);
		t->conn = NULL;
		t->state = t->nfds > t->next_fd ? TCP_LEG_IDLE : TCP_LEG_CLOSED;
		t->closed_ms = uv_now(br->loop);
	}
}

static void on_tick(uv_timer_t *timer)
{
	struct bridge *br = timer->data;
	struct aux_tcp_leg *t = &br->tcp;
	uint64_t now = uv_now(br->loop);
	bool on_udp = path_is_up(br) && !path_on_tcp(br);

	if (br->state != AUX_RUNNING)
		return;
	if (!path_is_up(br) && t->down_since_ms == 0)
		t->down_since_ms = now;
	if (path_is_up(br))
		t->down_since_ms = 0;
	/* UDP blocked is when neither the peer nor the relay answer over it: a relay leg that
	 * registered over UDP waits for the peer to reach the relay (over TCP, perhaps). */
	if (t->state == TCP_LEG_IDLE && t->down_since_ms && !path_has_udp_relay(br) &&
	    elapsed_ms(now, t->down_since_ms) >= t->fallback_ms &&
	    elapsed_ms(now, t->closed_ms) >= t->fallback_ms)
		connect_leg(br, "no UDP probe answered");
	/* Re-registered while the leg is of use: once the call is back on UDP, the UDP relay
	 * leg's registrations are to hold the relay's leg, not this one's. */
	if (t->state == TCP_LEG_LIVE && !on_udp &&
	    elapsed_ms(now, t->registered_ms) >= br->path.keepalive_ms)
		send_register(br);
	/* Back on UDP for a while: what was in flight on the stream has arrived. */
	if (!on_udp)
		t->udp_since_ms = 0;
	else if (t->udp_since_ms == 0)
		t->udp_since_ms = now;
	if (t->conn && t->state == TCP_LEG_LIVE && t->udp_since_ms &&
	    elapsed_ms(now, t->udp_since_ms) >= AUX_TCP_LINGER_MS) {
		log_info("TCP leg: the call has been on UDP for %u ms: closing the connection",
			 AUX_TCP_LINGER_MS);
		tls_conn_close(t->conn, 0);
	}
}

int tcp_leg_init(struct bridge *br)
{
	struct aux_tcp_leg *t = &br->tcp;

	memset(t, 0, sizeof *t);
	for (size_t i = 0; i < AUX_TCP_SOCKETS; i++)
		t->fds[i] = -1;
	t->timer.data = br;
	return uv_timer_init(br->loop, &t->timer);
}

int tcp_leg_start(struct bridge *br, const struct aux_start_request *req)
{
	struct aux_tcp_leg *t = &br->tcp;
	char why[256];
	int rc;

	if (!req->has_relay || !req->relay.has_tcp || !req->relay_ca_len || t->nfds == 0)
		return 0;  /* no fallback for this call */
	if (req->relay.tcp.addr.family != br->wan_addr.family) {
		log_warn("TCP leg: the relay's TCP endpoint is not of the WAN address's family");
		return 0;
	}
	rc = tls_creds_load_ca_pem(&t->creds, req->relay_ca, req->relay_ca_len, why, sizeof why);
	if (rc) {
		log_warn("TCP leg: no fallback: %s", why);
		return 0;
	}
	t->relay = req->relay.tcp;
	t->allocation = req->relay.relay_id;
	memcpy(t->token, req->relay.relay_token, sizeof t->token);
	t->leg = req->relay_leg;
	t->state = TCP_LEG_IDLE;
	t->down_since_ms = uv_now(br->loop);
	t->fallback_ms = AUX_TCP_FALLBACK_MS;
	if (req->channels[0].params.dead_after_ms / 2 < t->fallback_ms)
		t->fallback_ms = req->channels[0].params.dead_after_ms / 2;
	return uv_timer_start(&t->timer, on_tick, AUX_TCP_TICK_MS, AUX_TCP_TICK_MS);
}

void tcp_leg_stop(struct bridge *br)
{
	struct aux_tcp_leg *t = &br->tcp;

	uv_timer_stop(&t->timer);
	if (!uv_is_closing((uv_handle_t *)&t->timer))
		uv_close((uv_handle_t *)&t->timer, NULL);
	t->state = TCP_LEG_OFF;
	if (t->conn)
		tls_conn_close(t->conn, 0);
	for (size_t i = 0; i < AUX_TCP_SOCKETS; i++)
		if (t->fds[i] >= 0) {
			close(t->fds[i]);
			t->fds[i] = -1;
		}
}

/* After the loop: the connection's close callback has run. */
void tcp_leg_release(struct bridge *br)
{
	tls_creds_free(br->tcp.creds);
	br->tcp.creds = NULL;
	secure_wipe(br->tcp.token, sizeof br->tcp.token);
}

const char *tcp_leg_describe(const struct bridge *br, char *out, size_t len)
{
	char at[IP_STRLEN];

	snprintf(out, len, "tcp relay %s", ip_endpoint_format(&br->tcp.relay, at, sizeof at));
	return out;
}

json_t *tcp_leg_stats_json(const struct bridge *br)
{
	const struct aux_tcp_leg *t = &br->tcp;
	char at[IP_STRLEN];

	if (t->state == TCP_LEG_OFF && !t->connects)
		return json_null();
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
			 "state", state_names[t->state],
			 "relay", ip_endpoint_format(&t->relay, at, sizeof at),
			 "connects", (json_int_t)t->connects, "closes", (json_int_t)t->closes,
			 "registers", (json_int_t)t->registers,
			 "records_in", (json_int_t)t->records_in,
			 "records_out", (json_int_t)t->records_out,
			 "backpressure", (json_int_t)t->backpressure,
			 "bad_records", (json_int_t)t->bad_records,
			 "not_live", (json_int_t)t->not_live, "error", t->error);
}
