/* The secondary's link reports (docs/routing.md): the measure notices of its calls'
 * auxiliaries go into the link table (link_table.h), per peer gateway, and the table goes
 * to the principal in a `links` request when due: every LINK_REPORT_MS while calls run,
 * and within LINK_MIN_GAP_MS of a significant change. A report the principal cannot take
 * now (link down) is simply not sent: the next one says the same, fresher. */
#include <stdlib.h>

#include "err.h"
#include "link_table.h"
#include "log.h"
#include "msg.h"
#include "secondary.h"

static void report_reply(void *ctx, const json_t *reply, int err)
{
	const char *code, *message;

	(void)ctx;
	if (err)
		log_debug("links: the principal did not answer a report (%s)", insel_strerror(err));
	else if (!msg_reply_is_ok(reply, &code, &message))
		log_warn("principal refused a links report: %s (%s)", message, code);
}

static void report_if_due(struct secondary *s)
{
	static struct pop_links_req req;  /* 22 KiB: not on the stack */
	uint64_t now = uv_now(s->loop);

	if (!s->links || !principal_link_up(&s->principal) ||
	    !link_table_report_due(s->links, now))
		return;
	link_table_fill(s->links, now, &req);
	log_debug("links: reporting %zu link%s", req.nlinks, req.nlinks == 1 ? "" : "s");
	principal_request(s, pop_links_req_encode(0, &req), report_reply, NULL);
}

static void tick(uv_timer_t *t)
{
	report_if_due(t->data);
}

void links_start(struct secondary *s)
{
	if (!(s->links = malloc(sizeof *s->links))) {
		log_warn("links: out of memory: no link reports");
		return;
	}
	link_table_init(s->links);
	uv_timer_init(s->loop, &s->links_timer);
	s->links_timer.data = s;
	uv_timer_start(&s->links_timer, tick, LINK_MIN_GAP_MS, LINK_MIN_GAP_MS);
	uv_unref((uv_handle_t *)&s->links_timer);
}

static void timer_closed(uv_handle_t *h)
{
	struct secondary *s = h->data;

	free(s->links);
	s->links = NULL;
}

void links_stop(struct secondary *s)
{
	if (s->links && !uv_is_closing((uv_handle_t *)&s->links_timer))
		uv_close((uv_handle_t *)&s->links_timer, timer_closed);
}

void links_measured(struct secondary *s, const char *peer, const struct aux_measure_notice *m)
{
	if (!s->links || !peer || !peer[0] || uv_is_closing((uv_handle_t *)&s->links_timer))
		return;
	if (!link_table_measured(s->links, peer, m, uv_now(s->loop)))
		log_debug("links: too many peers measured at once; %s left out", peer);
	report_if_due(s);
}
