/* Our leg of the call's relay allocation (docs/relay.md). When "start" names a relay
 * ("relay": a candidate of kind relay and our leg, 0 the caller's auxiliary, 1 the
 * callee's), this auxiliary registers its leg from its WAN socket, the one its frames
 * use: a REGISTER naming the channels' receive session ids, authenticated with the
 * allocation's token, sent at once and again every RELAY_LEG_RETRY_MS (doubling) until
 * the relay answers, then every keep-alive interval, which keeps our NAT's mapping
 * toward the relay open, moves the leg when that mapping changed and keeps the
 * allocation alive. The first authenticated REGISTERED that answers one of ours hands
 * the relay's endpoint to the path logic (path.c) as a relayed candidate: from then on
 * probes go through it too, and the call is relayed if nothing direct answers.
 *
 * A datagram on the WAN socket whose first byte is 0x21 is taken here (relay.c asks
 * first) and never reaches the channels; one that fails a check is counted and dropped.
 * The token is wiped when the call ends. */
#include <string.h>
#include <sys/socket.h>

#include "auxiliary.h"
#include "buf.h"
#include "log.h"
#include "relay_wire.h"

static uint64_t next_delay(const struct aux_relay_leg *r)
{
	return r->registered ? r->interval_ms : r->retry_ms;
}

static void send_register(struct bridge *br)
{
	struct aux_relay_leg *r = &br->relay_leg;
	/* One sequence for the leg over UDP and over TCP (tcp_leg.c): the relay takes
	 * only a counter above the last it saw for the leg, whichever way it came. */
	struct relay_register m = {.allocation = r->allocation, .leg = r->leg,
				   .counter = r->counter = relay_counter_next(br)};
	uint8_t dgram[RELAY_REGISTER_MAX];
	int n;

	for (unsigned i = 0; i < br->n_lan && m.nsessions < RELAY_MAX_SESSIONS; i++)
		if (br->lan[i].ch)
			m.sessions[m.nsessions++] = channel_local_session(br->lan[i].ch);
	n = relay_register_encode(&m, r->token, dgram, sizeof dgram);
	if (n < 0 || sendq_send(br, &br->wan, &r->relay, dgram, (size_t)n) != 0) {
		r->errors++;
		return;
	}
	r->sent++;
}

static void on_timer(uv_timer_t *t)
{
	struct bridge *br = t->data;
	struct aux_relay_leg *r = &br->relay_leg;

	if (!r->registered && r->retry_ms < RELAY_LEG_RETRY_MAX_MS)
		r->retry_ms *= 2;
	send_register(br);
	uv_timer_start(&r->timer, on_timer, next_delay(r), 0);
}

int relay_leg_start(struct bridge *br, const struct aux_start_request *req)
{
	struct aux_relay_leg *r = &br->relay_leg;
	char ep[IP_STRLEN];
	int rc;

	if (!req->has_relay)
		return 0;
	ip_endpoint_format(&req->relay.ep, ep, sizeof ep);
	if (req->relay.ep.addr.family != br->wan_addr.family &&
	    !(br->has_wan6 && req->relay.ep.addr.family == AF_INET6)) {
		log_warn("relay %s: no WAN socket of its address family; not registering", ep);
		return 0;
	}
	r->relay = req->relay.ep;
	r->allocation = req->relay.relay_id;
	memcpy(r->token, req->relay.relay_token, sizeof r->token);
	r->leg = (uint8_t)req->relay_leg;
	r->preferred = req->relay.preferred;
	r->interval_ms = req->channels[0].params.keepalive_ms
			 ? req->channels[0].params.keepalive_ms : CHANNEL_DEFAULT_KEEPALIVE_MS;
	r->retry_ms = RELAY_LEG_RETRY_MS;
	if ((rc = uv_timer_init(br->loop, &r->timer)) != 0)
		return rc;
	r->timer_open = true;
	r->timer.data = br;
	r->active = true;
	log_info("registering leg %u of relay allocation %016llx at %s", (unsigned)r->leg,
		 (unsigned long long)r->allocation, ep);
	send_register(br);
	return uv_timer_start(&r->timer, on_timer, r->retry_ms, 0);
}

/* An answer to one of our REGISTERs, from the relay, authenticated with our token. */
static bool answer_valid(const struct aux_relay_leg *r, const uint8_t *data, size_t n,
			 const struct ip_endpoint *from, struct relay_registered *ack)
{
	return ip_endpoint_equal(from, &r->relay) &&
	       relay_registered_parse(data, n, ack) == 0 &&
	       relay_wire_verify(data, n, r->token) == 0 && ack->allocation == r->allocation &&
	       ack->leg == r->leg && ack->counter <= r->counter && ack->counter > r->acked;
}

bool relay_leg_take(struct bridge *br, const uint8_t *data, size_t n,
		    const struct ip_endpoint *from)
{
	struct aux_relay_leg *r = &br->relay_leg;
	struct relay_registered ack;
	char ep[IP_STRLEN];

	if (!relay_wire_is_registered(data, n))
		return false;
	if (!r->active || !answer_valid(r, data, n, from, &ack)) {
		r->refused++;
		return true;
	}
	r->acked = ack.counter;
	r->answered++;
	if (r->registered)
		return true;
	r->registered = true;
	log_info("leg %u registered on the relay %s", (unsigned)r->leg,
		 ip_endpoint_format(&r->relay, ep, sizeof ep));
	if (path_add_relay_candidate(br, &r->relay, r->preferred) != 0)
		log_warn("the relay could not be added to the path's candidates");
	uv_timer_start(&r->timer, on_timer, r->interval_ms, 0);
	return true;
}

void relay_leg_stop(struct bridge *br)
{
	struct aux_relay_leg *r = &br->relay_leg;

	if (r->timer_open && !uv_is_closing((uv_handle_t *)&r->timer))
		uv_close((uv_handle_t *)&r->timer, NULL);
	r->active = false;
	secure_wipe(r->token, sizeof r->token);
}

json_t *relay_leg_stats_json(const struct bridge *br)
{
	const struct aux_relay_leg *r = &br->relay_leg;
	char ep[IP_STRLEN];

	if (!r->relay.port)
		return json_null();
	return json_pack("{s:s, s:i, s:b, s:I, s:I, s:I, s:I}",
			 "relay", ip_endpoint_format(&r->relay, ep, sizeof ep),
			 "leg", (int)r->leg, "registered", r->registered,
			 "registers_sent", (json_int_t)r->sent,
			 "registered_answers", (json_int_t)r->answered,
			 "refused", (json_int_t)r->refused, "errors", (json_int_t)r->errors);
}
