/* The secondary's side of per-call negotiation (negotiate.h): builds the caller's offer
 * from the call and this gateway's configuration, answers an offer on the callee's side,
 * and derives each channel's parameters from the peer TLS connection's exporter, so that
 * the keys never cross the wire and both gateways' randomness goes in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "negotiate.h"
#include "rekey.h"
#include "secondary.h"
#include "tls.h"

/* Our preference list from the "ciphers" key; unknown names were refused at load. */
static void our_prefs(const struct secondary *s, struct negotiate_prefs *p)
{
	char *copy = strdup(s->cfg.ciphers), *save = NULL, *tok;

	negotiate_prefs_default(p);
	if (!copy)
		return;
	p->nciphers = 0;
	for (tok = strtok_r(copy, ", ", &save); tok && p->nciphers < NEGOTIATE_MAX_CHOICES;
	     tok = strtok_r(NULL, ", ", &save)) {
		enum sec_cipher c = sec_cipher_from_name(tok);

		if (c != SEC_CIPHER_NONE)
			p->ciphers[p->nciphers++] = c;
	}
	free(copy);
	if (p->nciphers == 0)
		negotiate_prefs_default(p);
	/* Compression only where the operator turned it on (docs/frames.md says what it
	 * can leak); "none" stays acceptable so that calls to other sites still work. */
	if (s->cfg.compression == SEC_COMPRESS_DEFLATE) {
		p->compress[0] = SEC_COMPRESS_DEFLATE;
		p->compress[1] = SEC_COMPRESS_NONE;
		p->ncompress = 2;
	}
}

static int export_from_tls(void *ctx, const char *label, const void *context,
			   size_t context_len, void *out, size_t out_len)
{
	return tls_conn_export_keying(ctx, label, context, context_len, out, out_len);
}

/* Our side's endpoint (the host candidate of wan_address) and the bind reply's candidates:
 * discovery's, or on a dual-stack wan a host candidate per family. */
static void our_side(const struct call *call, struct negotiate_side *side)
{
	side->endpoint.addr = call->sec->cfg.wan_address;
	side->endpoint.port = call->wan_port;
	memcpy(side->cand, call->cand, sizeof side->cand);
	side->ncand = call->ncand;
	/* Our auxiliary seals probes with counters of their own when the peer's does too
	 * (docs/frames.md section 3): a probe that never arrives is then no frame lost. */
	side->probe_space = true;
	call_relay_offer(call, side);
}

static bool wan_has_family(const struct secondary_config *cfg, int family)
{
	return cfg->wan_address.family == family ||
	       (cfg->has_wan_address6 && family == AF_INET6);
}

/* The channels start toward the peer's endpoint; when our wan has no address of its
 * family (an IPv6-only peer, or we are), toward its first candidate of a family we have:
 * the peer's "endpoint" is only its primary host candidate. */
static void reachable_peer(const struct call *call, const struct negotiate_side *peer,
			   struct sec_channel_params *params)
{
	const struct secondary_config *cfg = &call->sec->cfg;
	char text[IP_STRLEN];

	if (wan_has_family(cfg, peer->endpoint.addr.family))
		return;
	for (size_t i = 0; i < peer->ncand; i++) {
		if (peer->cand[i].kind == CAND_RELAY ||
		    !wan_has_family(cfg, peer->cand[i].ep.addr.family))
			continue;
		for (size_t c = 0; c < call->nchannels; c++)
			params[c].peer = peer->cand[i].ep;
		log_info("call %s: the peer's endpoint is of a family our wan has not: "
			 "starting toward %s", call->id_hex,
			 ip_endpoint_format(&peer->cand[i].ep, text, sizeof text));
		return;
	}
}

/* Timers that are ours to set, not the peer's: keep-alives and the dead-peer bound. */
static void finish_params(const struct call *call, struct sec_channel_params *params)
{
	for (size_t i = 0; i < call->nchannels; i++) {
		params[i].keepalive_ms = (uint32_t)call->sec->cfg.keepalive_ms;
		params[i].dead_after_ms = (uint32_t)call->sec->cfg.dead_after_ms;
		/* Epochs after 0 come from our key exchanges (call_rekey.c). */
		params[i].external_rekey = true;
		/* A network call sends one frame per IP packet: the interface's MTU plus
		 * the frame overhead fills the path. */
		if (call->tun)
			params[i].mtu = (uint16_t)(call_tun_mtu(call->sec) + FRAME_OVERHEAD);
	}
}

/* The chain key of epoch 0 for the key exchanges within the call: exported from the
 * same TLS session with the same context as the keys, under its own label. */
static int prepare_rekey(struct call *call, const struct negotiation *n)
{
	uint8_t context[NEGOTIATE_CONTEXT_LEN], chain[REKEY_CHAIN_LEN];
	int rc;

	negotiate_exporter_context(n, context);
	rc = tls_conn_export_keying(call->peer->tls, REKEY_EXPORTER_LABEL, context,
				    sizeof context, chain, sizeof chain);
	if (rc == 0)
		rc = call_rekey_prepare(call, chain);
	secure_wipe(chain, sizeof chain);
	return rc;
}

/* The peer's candidates, for our auxiliary's "start" (at least its endpoint). */
static void take_peer_candidates(struct call *call, const struct negotiate_side *peer)
{
	char list[CAND_LIST_STRLEN];

	memcpy(call->peer_cand, peer->cand, sizeof call->peer_cand);
	call->npeer_cand = peer->ncand;
	log_info("call %s: the peer's candidates: %s", call->id_hex,
		 candidates_format(peer->cand, peer->ncand, list, sizeof list));
}

/* Both sides, once agreed: derive the channels' keys from the peer connection and take
 * what was chosen. */
static int adopt(struct call *call, const struct negotiation *n, bool is_caller,
		 struct sec_channel_params *params, char *why, size_t whylen)
{
	int rc = negotiate_derive(n, is_caller, export_from_tls, call->peer->tls, params);

	if (rc == 0)
		rc = prepare_rekey(call, n);
	if (rc) {
		snprintf(why, whylen, "cannot derive the call's keys: %s", insel_strerror(rc));
		return rc;
	}
	finish_params(call, params);
	take_peer_candidates(call, is_caller ? &n->callee : &n->caller);
	reachable_peer(call, is_caller ? &n->callee : &n->caller, params);
	call_relay_take_peer(call, is_caller ? &n->callee : &n->caller);
	call->cipher = n->cipher;
	call->compress = n->compress;
	call->probe_space = n->probe_space;
	return 0;
}

json_t *negotiation_offer(struct call *call)
{
	struct negotiate_offer *o = &call->sent_offer;

	memset(o, 0, sizeof *o);
	o->call_id = call->id;
	our_prefs(call->sec, &o->prefs);
	o->nchannels = call->nchannels;
	for (size_t i = 0; i < call->nchannels; i++) {
		o->channels[i].port = call->channels[i].port;
		o->channels[i].peer_port = call->channels[i].port;
		o->modes[i] = call->channels[i].mode;
	}
	negotiate_side_random(&o->caller, call->nchannels);
	our_side(call, &o->caller);
	return negotiate_offer_to_json(o);
}

int negotiation_answer(struct call *call, const json_t *offer_json, json_t **answer,
		       struct sec_channel_params *params, char *why, size_t whylen)
{
	struct negotiate_offer offer;
	struct negotiate_prefs allowed;
	struct negotiate_side me;
	struct negotiation n;
	struct negotiate_refusal refusal;
	int rc;

	rc = negotiate_offer_parse(offer_json, &offer, why, whylen);
	if (rc)
		return rc;
	if (offer.call_id != call->id || offer.nchannels != call->nchannels) {
		snprintf(why, whylen, "the offer does not match the call request");
		return INSEL_E_PROTOCOL;
	}
	our_prefs(call->sec, &allowed);
	negotiate_side_random(&me, offer.nchannels);
	our_side(call, &me);
	rc = negotiate_choose(&offer, &allowed, &me, &n, &refusal);
	if (rc) {
		snprintf(why, whylen, "%s", refusal.message);
		return rc;
	}
	/* The call request said which channels are reliable; the offer must agree (the
	 * auxiliary was bound for them). */
	for (size_t i = 0; i < n.nchannels; i++) {
		if (n.modes[i] != call->channels[i].mode) {
			snprintf(why, whylen, "channel %zu: the offer asks for %s, the call request "
				 "for %s", i, negotiate_mode_name(n.modes[i]),
				 negotiate_mode_name(call->channels[i].mode));
			return INSEL_E_PROTOCOL;
		}
	}
	rc = adopt(call, &n, false, params, why, whylen);
	if (rc)
		return rc;
	*answer = negotiate_answer_to_json(&n);
	return *answer ? 0 : INSEL_E_NOSPACE;
}

int negotiation_finish(struct call *call, const json_t *answer,
		       struct sec_channel_params *params, char *why, size_t whylen)
{
	struct negotiation n;
	int rc;

	if (!call->peer) {
		snprintf(why, whylen, "the connection to the callee's gateway is gone");
		return INSEL_E_CLOSED;
	}
	rc = negotiate_answer_parse(answer, &call->sent_offer, &n, why, whylen);
	if (rc)
		return rc;
	/* An older callee answers a reliable channel without the word: it would relay our
	 * segments as datagrams to a LAN port; end the call instead. */
	for (size_t i = 0; i < n.nchannels; i++) {
		if (n.modes[i] != call->channels[i].mode) {
			snprintf(why, whylen, "the callee's gateway does not run reliable mode "
				 "(channel %zu would carry datagrams)", i);
			return INSEL_E_VERSION;
		}
	}
	return adopt(call, &n, true, params, why, whylen);
}
