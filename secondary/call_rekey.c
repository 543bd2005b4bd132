/* Forward secrecy within calls: the secondary's side of the ephemeral key exchanges
 * (common/data/rekey.h holds the exchange and its timing; docs/frames.md section 4 the key
 * schedule). Each call that is up has a timer; when rekey_tick says so, this side sends
 * the peer secondary (messages: peer_codec.h)
 *
 *   rekey       {call, epoch, public}  -> {public}, or an error (rekey_busy, bad_epoch,
 *                                          bad_key, rekey_pending, bad_state)
 *   rekey_done  {call, epoch}             (a notice: the initiator sends with the epoch)
 *
 * over the call's peer connection, which already authenticates both gateways. The
 * responder has its auxiliary accept the new epoch's keys (still sending with the old
 * ones) before it answers; the initiator then has its auxiliary send with them at once.
 * The DH runs here and not in the auxiliary: the auxiliary gets each epoch's data keys
 * and never the chain key, so a key read out of the process that handles the network's
 * datagrams is good for one epoch only. A lost or refused exchange is run again for the
 * same epoch a second later; the call ends ("rekey_failed") when no exchange has
 * completed for the interval plus REKEY_LATE_MS, and with the peer connection (which
 * ends the call anyway).
 *
 * Our auxiliary's answer to a key installation is awaited as long as the auxiliary
 * lives (AUX_REKEY_WAIT_MS is only a backstop): a stalled process (SIGSTOP, swap, a
 * loaded host) must not cost the call, and a time-out could not be told from a late
 * answer, after which the initiator's auxiliary would send with keys this side had
 * given up on (rekey.h, "Waiting for an auxiliary", has the states). A dead auxiliary
 * still ends the call at once: its exit, or the end of its control socket, fails the
 * request. If the call's key bound (interval + REKEY_LATE_MS) passes while it owes an
 * answer, the call ends "aux_failed", saying so, rather than "rekey_failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_internal.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "rekey.h"
#include "timeouts.h"
#include "wire_errors.h"

struct call_rekey {
	struct call *call;          /* NULL once stopped (the timer is closing) */
	uv_timer_t timer;
	bool timer_closed;
	unsigned inflight;          /* requests out with us as their context: their replies
				     * (or failures) always come, so we are freed after them */
	bool started;
	struct rekey r;
	/* Initiator: the exchange whose request is out, and the one being installed. */
	bool request_out;
	uint64_t request_seq;
	uint64_t install_seq;
	uint32_t install_epoch;
	uint64_t install_sent_ms;   /* when our auxiliary got the keys (either role) */
	/* Responder: the peer's request we answer once our auxiliary took the keys
	 * (rk->r.answering until then). */
	json_int_t answer_id;
	uint8_t answer_pub[REKEY_PUBLIC_LEN];
};

static uint64_t now_ms(const struct call_rekey *rk)
{
	return uv_now(rk->call->sec->loop);
}

static void on_timer(uv_timer_t *t);

static void maybe_free(struct call_rekey *rk)
{
	if (!rk->timer_closed || rk->inflight)
		return;
	rekey_wipe(&rk->r);
	secure_wipe(rk, sizeof *rk);
	free(rk);
}

/* Every reply callback starts here: false if the call is gone (rk may be freed then). */
static bool reply_arrived(struct call_rekey *rk)
{
	rk->inflight--;
	if (rk->call)
		return true;
	maybe_free(rk);
	return false;
}

/* Arms the timer for what rekey_tick asks next (at once if something is due). */
static void rearm(struct call_rekey *rk)
{
	uint64_t now = now_ms(rk), next;
	int events = rekey_tick(&rk->r, now, &next);

	uv_timer_start(&rk->timer, on_timer, events ? 0 : next - now, 0);
}

/* ---- installing keys in our auxiliary ---- */

static int install(struct call_rekey *rk, const struct rekey_keys *keys, bool send_now,
		   rpc_reply_cb cb)
{
	json_t *req = msg_request("rekey", 0);

	if (!req || rekey_install_to_json(keys, send_now, req)) {
		json_decref(req);
		return -ENOMEM;
	}
	if (!rk->call->aux || aux_request(rk->call->aux, req, AUX_REKEY_WAIT_MS, cb, rk))
		return INSEL_E_CLOSED;
	rk->inflight++;
	rk->install_sent_ms = now_ms(rk);
	log_debug("call %s: epoch %u's keys to our auxiliary (%s)", rk->call->id_hex,
		  keys->epoch, send_now ? "to send with" : "to answer with");
	return 0;
}

/* An auxiliary that took long to answer was waited for: say so (a stalled host shows). */
static void note_slow_install(const struct call_rekey *rk)
{
	uint64_t took = now_ms(rk) - rk->install_sent_ms;

	if (took >= AUX_REKEY_SLOW_MS)
		log_warn("call %s: the auxiliary took %llu ms to install epoch %u's keys "
			 "(waited for it)", rk->call->id_hex, (unsigned long long)took,
			 rk->r.epoch + 1);
}

/* Why a call whose auxiliary has not answered a key installation ends. */
static void format_silence(const struct call_rekey *rk, char *why, size_t size)
{
	snprintf(why, size, "the auxiliary has not answered the installation of epoch %u's "
		 "keys for %llu s", rk->r.epoch + 1,
		 (unsigned long long)(now_ms(rk) - rk->install_sent_ms) / 1000);
}

/* A refusal other than rekey_pending, or no answer at all (the auxiliary exited, closed
 * its socket, or the backstop passed): the auxiliary is broken. */
static bool aux_failed(struct call_rekey *rk, const json_t *reply, int err,
		       const char **code)
{
	const char *message = NULL;
	char why[128];

	*code = NULL;
	if (!err && msg_reply_is_ok(reply, code, &message))
		return false;
	if (!err && *code && wire_error_is(*code, WERR_REKEY_PENDING))
		return false;
	if (err == INSEL_E_TIMEOUT)
		format_silence(rk, why, sizeof why);
	else if (err == INSEL_E_CLOSED)
		snprintf(why, sizeof why, "the auxiliary exited (or closed its control socket) "
			 "while installing epoch %u's keys", rk->r.epoch + 1);
	else
		snprintf(why, sizeof why, "%s", err ? insel_strerror(err) : message ? message
			 : "the auxiliary refused a new epoch's keys");
	call_end(rk->call, WIRE(AUX_FAILED), why);
	return true;
}

/* ---- initiator ---- */

static void installed_own(void *ctx, const json_t *reply, int err)
{
	struct call_rekey *rk = ctx;
	struct call *call = rk->call;
	const char *code;

	if (!reply_arrived(rk) || aux_failed(rk, reply, err, &code))
		return;
	note_slow_install(rk);
	if (code) {
		/* The auxiliary has not seen the peer use the current epoch yet; the peer's
		 * tentative keys are replaced when we run the exchange again. */
		log_debug("call %s: epoch %u not installed yet (%s); trying again",
			  call->id_hex, rk->install_epoch, code);
		rekey_abandon(&rk->r, rk->install_seq, now_ms(rk));
		rearm(rk);
		return;
	}
	rekey_commit(&rk->r, rk->install_epoch, now_ms(rk));
	log_debug("call %s: epoch %u from a fresh key exchange (ECDHE), sending with it",
		  call->id_hex, rk->install_epoch);
	if (call->peer) {
		struct peer_rekey_done done = {.call_id = call->id, .epoch = rk->install_epoch};

		peer_send(call->peer, peer_rekey_done_encode(&done));
	}
	rearm(rk);
}

static void exchange_failed(struct call_rekey *rk, uint64_t seq, const char *why)
{
	log_debug("call %s: key exchange not completed: %s", rk->call->id_hex, why);
	rekey_abandon(&rk->r, seq, now_ms(rk));
	rearm(rk);
}

static void exchange_answered(void *ctx, const json_t *reply, int err)
{
	struct call_rekey *rk = ctx;
	uint8_t pub[REKEY_PUBLIC_LEN];
	struct rekey_keys keys;
	const char *code, *message, *why;
	uint64_t seq = rk->request_seq;
	int rc;

	if (!reply_arrived(rk))
		return;
	rk->request_out = false;
	if (err || !msg_reply_is_ok(reply, &code, &message)) {
		exchange_failed(rk, seq, err ? insel_strerror(err) : message);
		return;
	}
	if (peer_rekey_answer_decode(reply, pub, &why)) {
		exchange_failed(rk, seq, why);
		return;
	}
	rc = rekey_finish(&rk->r, seq, pub, &keys);
	if (rc == INSEL_E_NOT_FOUND)
		return;  /* an exchange the peer's own won over; nothing to do */
	if (rc) {
		exchange_failed(rk, seq, insel_strerror(rc));
		return;
	}
	rk->install_seq = seq;
	rk->install_epoch = keys.epoch;
	rc = install(rk, &keys, true, installed_own);
	rekey_keys_wipe(&keys);
	if (rc)
		call_end(rk->call, WIRE(AUX_FAILED), "cannot talk to the call's auxiliary");
}

static void begin_exchange(struct call_rekey *rk)
{
	struct call *call = rk->call;
	struct peer_rekey m = {.call_id = call->id};
	uint64_t seq;
	json_t *req;

	if (!call->peer || rk->request_out || rekey_aux_owes(&rk->r))
		return;
	rekey_begin(&rk->r, now_ms(rk), &m.epoch, m.public, &seq);
	req = peer_rekey_encode(&m);
	if (rpc_call(&call->peer->rpc, req, REKEY_EXCHANGE_TIMEOUT_MS, exchange_answered, rk)) {
		exchange_failed(rk, seq, "cannot send to the other site's gateway");
		return;
	}
	rk->inflight++;
	rk->request_out = true;
	rk->request_seq = seq;
}

static void on_timer(uv_timer_t *t)
{
	struct call_rekey *rk = t->data;
	uint64_t now = now_ms(rk), next;
	int events = rekey_tick(&rk->r, now, &next);
	char why[128];

	if ((events & REKEY_OVERDUE) && rekey_aux_owes(&rk->r)) {
		/* Still alive (its exit would have ended the call) but stalled this long. */
		format_silence(rk, why, sizeof why);
		call_end(rk->call, WIRE(AUX_FAILED), why);
		return;
	}
	if (events & REKEY_OVERDUE) {
		snprintf(why, sizeof why, "no key exchange with the other site completed for "
			 "%llu s", (unsigned long long)(now - rk->r.committed_ms) / 1000);
		call_end(rk->call, WIRE(REKEY_FAILED), why);
		return;
	}
	if (events & REKEY_START)
		begin_exchange(rk);
	events = rekey_tick(&rk->r, now, &next);
	/* A request or an installation under way: its outcome re-arms sooner. */
	uv_timer_start(t, on_timer, (events & REKEY_START) ? REKEY_RETRY_MS : next - now, 0);
}

/* ---- responder ---- */

static void answer_error(struct call *call, json_int_t id, const char *code, const char *why)
{
	if (call->peer)
		peer_send(call->peer, msg_reply_error(id, code, "%s", why));
}

static void installed_answer(void *ctx, const json_t *reply, int err)
{
	struct call_rekey *rk = ctx;
	struct call *call = rk->call;
	const char *code;

	if (!reply_arrived(rk) || aux_failed(rk, reply, err, &code))
		return;
	note_slow_install(rk);
	if (code) {
		rekey_drop_tentative(&rk->r);
		answer_error(call, rk->answer_id, WIRE(REKEY_PENDING),
			     "the current epoch is not in use both ways yet");
		rearm(rk);
		return;
	}
	rekey_answered(&rk->r);
	/* Late if the initiator gave up meanwhile (its rpc drops it): these keys were never
	 * sent with, and its next exchange for the epoch replaces them. */
	if (call->peer)
		peer_send(call->peer, peer_rekey_answer_encode(rk->answer_id, rk->answer_pub));
	rearm(rk);
}

void call_rekey_request(struct call *call, const json_t *req)
{
	struct call_rekey *rk = call->rekey;
	json_int_t id = msg_id(req);
	struct peer_rekey m;
	struct rekey_keys keys;
	const char *why;
	int rc;

	if (!rk || !rk->started) {
		answer_error(call, id, WIRE(BAD_STATE), "the call is not up");
		return;
	}
	if (peer_rekey_decode(req, &m, &why)) {
		answer_error(call, id, WIRE(BAD_REQUEST), why);
		return;
	}
	rc = rekey_respond(&rk->r, m.epoch, m.public, now_ms(rk), rk->answer_pub, &keys);
	if (rc) {
		bool busy = rc == INSEL_E_BUSY || rc == INSEL_E_CONFLICT || rc == INSEL_E_LIMIT;

		answer_error(call, id,
			     busy ? WIRE(REKEY_BUSY)
			     : rc == INSEL_E_REPLAY ? WIRE(BAD_EPOCH) : WIRE(BAD_KEY),
			     rc == INSEL_E_BUSY ? "an exchange is being answered"
			     : rc == INSEL_E_CONFLICT ? "this side's own exchange is under way"
			     : rc == INSEL_E_LIMIT ? "the last exchange was a moment ago"
			     : rc == INSEL_E_REPLAY ? "not the next epoch"
			     : "the public key is not usable");
		return;
	}
	rk->answer_id = id;
	rc = install(rk, &keys, false, installed_answer);
	rekey_keys_wipe(&keys);
	if (rc)
		call_end(call, WIRE(AUX_FAILED), "cannot talk to the call's auxiliary");
}

void call_rekey_done(struct call *call, const json_t *notice)
{
	struct call_rekey *rk = call->rekey;
	struct peer_rekey_done done;
	const char *why;

	if (!rk || !rk->started || peer_rekey_done_decode(notice, &done, &why))
		return;
	if (rekey_commit(&rk->r, done.epoch, now_ms(rk)) == 0)
		log_debug("call %s: epoch %u from a fresh key exchange (ECDHE)", call->id_hex,
			  done.epoch);
	rearm(rk);
}

void call_rekey_due(struct call *call)
{
	struct call_rekey *rk = call->rekey;

	if (!rk || !rk->started)
		return;
	rekey_request_early(&rk->r);
	rearm(rk);
}

/* ---- life cycle ---- */

int call_rekey_prepare(struct call *call, const uint8_t chain0[REKEY_CHAIN_LEN])
{
	struct call_rekey *rk = call->rekey;

	if (!rk) {
		if (!(rk = calloc(1, sizeof *rk)))
			return -ENOMEM;
		uv_timer_init(call->sec->loop, &rk->timer);
		rk->timer.data = rk;
		rk->call = call;
		call->rekey = rk;
	}
	rekey_init(&rk->r, call->outgoing, call->id, call->nchannels, chain0,
		   call->sec->cfg.rekey_interval_ms, uv_now(call->sec->loop));
	return 0;
}

void call_rekey_start(struct call *call)
{
	struct call_rekey *rk = call->rekey;

	if (!rk)
		return;
	rk->started = true;
	rk->r.committed_ms = now_ms(rk);
	rearm(rk);
}

static void rekey_closed(uv_handle_t *h)
{
	struct call_rekey *rk = h->data;

	rk->timer_closed = true;
	maybe_free(rk);
}

void call_rekey_stop(struct call *call)
{
	struct call_rekey *rk = call->rekey;

	if (!rk)
		return;
	/* Replies still due come back to a call-less rk, which they free. */
	call->rekey = NULL;
	rk->call = NULL;
	uv_timer_stop(&rk->timer);
	uv_close((uv_handle_t *)&rk->timer, rekey_closed);
}

void call_rekey_describe(const struct call *call, struct client_call *out)
{
	const struct call_rekey *rk = call->rekey;

	if (!rk || !rk->started)
		return;
	out->has_rekey = true;
	out->epoch = rk->r.epoch;
	out->dh_rekeys = rk->r.exchanges;
	out->rekey_interval_ms = rk->r.interval_ms;
}
