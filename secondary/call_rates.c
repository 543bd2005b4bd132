/* The byte counters of our live calls, told to the principal (docs/principal-api.md,
 * `call_rates`) so that its web view shows each call's rate. Every CALL_RATES_REPORT_MS:
 * one request with the calls we placed (we record those) whose counters moved since we
 * last told them, at most POP_MAX_CALL_RATES, the longest untold first; then fresh stats
 * are asked of the auxiliaries, the same requests /metrics makes (metrics.c), for the
 * next report. A report the principal cannot take now (link down) is not sent. */
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "secondary.h"

#define CALL_RATES_REPORT_MS 2000

static void report_reply(void *ctx, const json_t *reply, int err)
{
	const char *code, *message;

	(void)ctx;
	if (err)
		log_debug("call rates: the principal did not answer (%s)", insel_strerror(err));
	else if (!msg_reply_is_ok(reply, &code, &message))
		log_warn("principal refused a call rates report: %s (%s)", message, code);
}

/* The call's counters as its auxiliary last counted them, when they are news. */
static bool counters_moved(struct call *call, struct aux_traffic *t)
{
	char why[160];

	if (!call->outgoing || !call->recorded || call->state != CALL_UP || !call->last_stats ||
	    call->stats_at_ms <= call->rates_at_ms)
		return false;
	if (aux_traffic_from_json(call->last_stats, t, why, sizeof why))
		return false;
	return t->bytes_out != call->rates_up || t->bytes_in != call->rates_down;
}

/* Picks at most POP_MAX_CALL_RATES calls whose counters moved, those told longest ago
 * first, so a gateway with more calls than a report holds gets round to each. */
static size_t pick(struct secondary *s, struct call **picked)
{
	size_t n = 0;
	struct aux_traffic t;

	for (struct call *call = s->calls; call; call = call->next) {
		size_t newest = 0;

		if (!counters_moved(call, &t))
			continue;
		if (n < POP_MAX_CALL_RATES) {
			picked[n++] = call;
			continue;
		}
		for (size_t i = 1; i < n; i++)
			if (picked[i]->rates_at_ms > picked[newest]->rates_at_ms)
				newest = i;
		if (call->rates_at_ms < picked[newest]->rates_at_ms)
			picked[newest] = call;
	}
	return n;
}

static void report(struct secondary *s)
{
	static struct pop_call_rates_req req;  /* 6 KiB: not on the stack */
	struct call *picked[POP_MAX_CALL_RATES];
	struct aux_traffic t;
	size_t n = pick(s, picked);

	req.ncalls = 0;
	for (size_t i = 0; i < n; i++) {
		struct call *call = picked[i];
		struct pop_call_count *c = &req.calls[req.ncalls++];

		counters_moved(call, &t);
		snprintf(c->call_id, sizeof c->call_id, "%s", call->id_hex);
		c->bytes_up = t.bytes_out;    /* the caller's auxiliary sent them towards the callee */
		c->bytes_down = t.bytes_in;
		c->at_ms = call->stats_at_ms;
		call->rates_up = t.bytes_out;
		call->rates_down = t.bytes_in;
		call->rates_at_ms = call->stats_at_ms;
	}
	if (req.ncalls == 0)
		return;
	log_debug("call rates: reporting %zu call%s", req.ncalls, req.ncalls == 1 ? "" : "s");
	principal_request(s, pop_call_rates_req_encode(0, &req), report_reply, NULL);
}

static void tick(uv_timer_t *timer)
{
	struct secondary *s = timer->data;

	if (!s->calls)
		return;
	if (principal_link_up(&s->principal))
		report(s);
	sec_stats_refresh(s);
}

void call_rates_start(struct secondary *s)
{
	uv_timer_init(s->loop, &s->rates_timer);
	s->rates_timer.data = s;
	uv_timer_start(&s->rates_timer, tick, CALL_RATES_REPORT_MS, CALL_RATES_REPORT_MS);
	uv_unref((uv_handle_t *)&s->rates_timer);
	s->rates_running = true;
}

void call_rates_stop(struct secondary *s)
{
	if (s->rates_running && !uv_is_closing((uv_handle_t *)&s->rates_timer))
		uv_close((uv_handle_t *)&s->rates_timer, NULL);
	s->rates_running = false;
}
