/* The `call_rates` op (docs/principal-api.md): the caller's secondary reports its live
 * calls' byte counters; the principal keeps them in memory (call_rates.h) for the web
 * view's rates. A call is taken from the secondary that recorded it only: the directory
 * is asked once, when the call is first heard of. */
#include <string.h>

#include "api.h"
#include "call_rates.h"
#include "err.h"
#include "log.h"
#include "principal_ops.h"

static bool recorded_by(struct api_peer *p, const char *call_id)
{
	char reporter[DB_NAME_MAX + 1];

	if (call_rates_has(p->srv->rates, call_id, p->id.name))
		return true;
	return db_call_reporter(p->srv->db, call_id, reporter, sizeof reporter) == 0 &&
	       strcmp(reporter, p->id.name) == 0;
}

void call_rates_handle(void *ctx, json_int_t id, const json_t *msg)
{
	static struct pop_call_rates_req req;  /* the loop is single-threaded; off the stack */
	struct api_peer *p = ctx;
	struct pop_call_rates_reply reply = {0};
	char why[POP_WHY_LEN];
	uint64_t now_ms;
	int rc;

	if ((rc = pop_call_rates_req_decode(msg, &req, why)) != 0) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	now_ms = call_rates_clock_ms();
	for (size_t i = 0; p->srv->rates && i < req.ncalls; i++)
		if (recorded_by(p, req.calls[i].call_id) &&
		    call_rates_report(p->srv->rates, p->id.name, &req.calls[i], now_ms))
			reply.taken++;
	log_debug("secondary %s: %lld of %zu call counters taken", p->id.name,
		  (long long)reply.taken, req.ncalls);
	api_reply_ok(p, id, pop_call_rates_reply_encode(&reply));
}
