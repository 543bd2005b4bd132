/* "start": the negotiated parameters of every bound channel, and where plaintext from the
 * peer goes (its codec, with every field, is common/aux_start.h). Creates the channels
 * and starts the relay, its timers and the probing of the path (path.c).
 *
 * Every channel is checked before any is created, so a refused start changes nothing and
 * may be retried. Beyond what the codec checks, the channels must be the bound ones: one
 * per bound channel, for the bound call, with a peer of a family the WAN sockets have and a
 * delivery address of the LAN's. */
#include <stdio.h>
#include <string.h>

#include "auxiliary.h"
#include "buf.h"
#include "cmd.h"
#include "err.h"
#include "ipv4.h"
#include "log.h"
#include "rand.h"
#include "wire_errors.h"

static int check_channel(const struct bridge *br, unsigned i,
			 const struct aux_start_channel *c, char *why, size_t whylen)
{
	if (c->params.call_id != br->call_id)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "channels[%u]: params are for another call", i);
	if (!wan_has_family(br, c->params.peer.addr.family))
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "channels[%u]: the peer's address is of a family the wan has "
			       "no address of", i);
	if (!br->tun_mode && c->has_deliver && c->deliver.addr.family != br->lan_addr.family)
		return err_set(why, whylen, INSEL_E_BAD_FIELD,
			       "channels[%u]: 'deliver' must be ADDRESS:PORT on the LAN", i);
	return 0;
}

/* The request fits the call that "bind" set up. */
static int check_start(const struct bridge *br, const struct aux_start_request *req,
		       char *why, size_t whylen)
{
	int rc = 0;

	if (req->nchannels != br->n_lan)
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'channels' has %u entries "
			       "for %u bound channels", req->nchannels, br->n_lan);
	for (unsigned i = 0; i < br->n_lan && rc == 0; i++)
		rc = check_channel(br, i, &req->channels[i], why, whylen);
	return rc;
}

static int create_channels(struct bridge *br, const struct aux_start_request *req,
			   char *why, size_t whylen)
{
	uint64_t now = uv_now(br->loop);
	int rc = 0;

	for (unsigned i = 0; i < br->n_lan && rc == 0; i++) {
		rc = channel_new(&req->channels[i].params, now, &br->lan[i].ch);
		/* Before any frame: probes then never show as frames lost at the peer. */
		if (rc == 0 && req->probe_space)
			rc = channel_use_probe_space(br->lan[i].ch);
		if (rc)
			snprintf(why, whylen, "channels[%u]: %s", i, insel_strerror(rc));
	}
	if (rc)
		for (unsigned i = 0; i < br->n_lan; i++) {
			channel_free(br->lan[i].ch);
			br->lan[i].ch = NULL;
		}
	return rc;
}

/* Where plaintext from the peer goes: a UDP channel's first LAN destination, or which
 * peer gateway may send ICMP errors through a network call. */
static void take_destinations(struct bridge *br, const struct aux_start_request *req)
{
	const struct aux_start_channel *c = &req->channels[0];

	for (unsigned i = 0; i < br->n_lan && !br->tun_mode; i++) {
		br->lan[i].deliver = req->channels[i].deliver;
		br->lan[i].has_deliver = req->channels[i].has_deliver;
	}
	if (br->tun_mode && c->has_remote_gateway)
		br->tun.remote_gateway = ipv4_from_addr(&c->remote_gateway);
	if (br->tun_mode && c->has_remote_gateway6) {
		memcpy(br->tun.remote_gateway6, c->remote_gateway6.bytes, 16);
		br->tun.has_remote_gateway6 = true;
	}
}

void start_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct bridge *br = ctx;
	struct aux_start_request req;
	char why[256], call[ID_STRLEN];
	int rc;

	rc = aux_start_request_from_json(msg, &req, why, sizeof why);
	rc = rc ? rc : check_start(br, &req, why, sizeof why);
	rc = rc ? rc : create_channels(br, &req, why, sizeof why);
	if (rc == 0)
		take_destinations(br, &req);
	for (unsigned i = 0; rc == 0 && i < br->n_lan && !br->tun_mode; i++)
		if ((rc = stream_start(br, &br->lan[i], &req.channels[i])) != 0)
			snprintf(why, sizeof why, "channels[%u]: cannot start its reliable mode: %s",
				 i, insel_strerror(rc));
	aux_start_wipe(&req);
	if (rc) {
		control_reply_error(br, id, rc, NULL, "%s", why);
		return;
	}
	br->idle_timeout_ms = req.idle_timeout_ms;
	br->last_data_ms = uv_now(br->loop);
	br->state = AUX_RUNNING;
	prime_start(br, &req, uv_now(br->loop));  /* before the path's first probes */
	if ((rc = relay_start(br)) != 0 || (rc = timers_start(br)) != 0 ||
	    (rc = path_start(br, &req)) != 0 || (rc = tcp_leg_start(br, &req)) != 0 ||
	    (rc = relay_leg_start(br, &req)) != 0) {
		secure_wipe(req.relay.relay_token, sizeof req.relay.relay_token);
		control_reply_error(br, id, rc, NULL, "cannot start the relay: %s",
				    insel_strerror(rc));
		bridge_end(br, WIRE(ERROR), "cannot start the relay", EXIT_FAILURE_GENERIC, false);
		return;
	}
	secure_wipe(req.relay.relay_token, sizeof req.relay.relay_token);
	log_info("call %s: relaying %u channel(s)", id_format(br->call_id, call), br->n_lan);
	control_reply(br, msg_reply_ok(id));
}
