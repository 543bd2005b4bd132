/* The call's timers. tick_timer runs every channel's channel_tick when the earliest of
 * them asks (keep-alive due, peer silent too long, reassembly or old-key expiry): it sends
 * the keep-alives, ends the call on a dead peer, and tells the parent when a channel's
 * key is half spent (external rekeying). idle_timer ends the call when no data
 * has crossed either way for idle_timeout_ms; it is re-armed lazily from last_data_ms, so
 * the fast path only stores a time stamp. */
#include <stdio.h>

#include "auxiliary.h"
#include "cmd.h"
#include "frame.h"
#include "log.h"
#include "wire_errors.h"

static void send_keepalive(struct aux *a, struct aux_lan *l, uint64_t now)
{
	uint8_t frame[FRAME_OVERHEAD];
	long len = channel_keepalive(l->ch, now, frame, sizeof frame);

	if (len < 0 || sendq_send(a, &a->wan, channel_peer(l->ch), frame, (size_t)len) != 0)
		a->wan_errors++;
}

static void on_tick(uv_timer_t *t)
{
	struct aux *a = t->data;
	uint64_t now = uv_now(a->loop), next = UINT64_MAX;
	char why[96];

	for (unsigned i = 0; i < a->n_lan; i++) {
		struct aux_lan *l = &a->lan[i];
		uint64_t ch_next = UINT64_MAX;
		int events = channel_tick(l->ch, now, &ch_next);

		if (events & CHANNEL_PEER_DEAD) {
			snprintf(why, sizeof why, "channel %u: nothing authenticated from the "
				 "peer within its dead_after_ms", i);
			aux_end(a, WIRE(PEER_DEAD), why, EXIT_OK, true);
			return;
		}
		if (events & CHANNEL_SEND_KEEPALIVE)
			send_keepalive(a, l, now);
		if (events & CHANNEL_REKEY_DUE)
			rekey_notify_due(a, i);
		if (ch_next < next)
			next = ch_next;
	}
	uv_timer_start(t, on_tick, next > now ? next - now : 1, 0);
}

static void on_idle_check(uv_timer_t *t)
{
	struct aux *a = t->data;
	uint64_t now = uv_now(a->loop), quiet = now - a->last_data_ms;
	char why[96];

	if (quiet >= a->idle_timeout_ms) {
		snprintf(why, sizeof why, "no data either way for %llu ms",
			 (unsigned long long)quiet);
		aux_end(a, WIRE(IDLE), why, EXIT_OK, true);
		return;
	}
	uv_timer_start(t, on_idle_check, a->idle_timeout_ms - quiet, 0);
}

int timers_start(struct aux *a)
{
	int rc = uv_timer_start(&a->tick_timer, on_tick, 0, 0);

	if (rc == 0 && a->idle_timeout_ms)
		rc = uv_timer_start(&a->idle_timer, on_idle_check, a->idle_timeout_ms, 0);
	return rc;
}

void timers_kick(struct aux *a)
{
	if (a->state == AUX_RUNNING)
		uv_timer_start(&a->tick_timer, on_tick, 0, 0);
}

void timers_prove_epochs(struct aux *a)
{
	for (unsigned i = 0; i < a->n_lan; i++)
		if (a->lan[i].ch && channel_keepalive_wanted(a->lan[i].ch)) {
			timers_kick(a);
			return;
		}
}

void timers_stop(struct aux *a)
{
	uv_timer_stop(&a->tick_timer);
	uv_timer_stop(&a->idle_timer);
}
