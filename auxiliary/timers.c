/* The call's timers. tick_timer runs every channel's channel_tick when the earliest of
 * them asks (keep-alive due, peer silent too long, reassembly or old-key expiry): it sends
 * the keep-alives, ends the call on a dead peer (no_path if no probe was ever answered:
 * the peer was never reached, path.c), and tells the parent when a channel's
 * key is half spent (external rekeying). idle_timer ends the call when no data
 * has crossed either way for idle_timeout_ms; it is re-armed lazily from last_data_ms, so
 * the fast path only stores a time stamp. Path MTU discovery runs a timer of its own
 * (pmtu.c), started and stopped with these. */
#include <stdio.h>

#include "auxiliary.h"
#include "cmd.h"
#include "frame.h"
#include "log.h"
#include "wire_errors.h"

static void send_keepalive(struct bridge *br, struct aux_lan *l, uint64_t now)
{
	uint8_t frame[FRAME_OVERHEAD];
	long len = channel_keepalive(l->ch, now, frame, sizeof frame);

	if (len < 0 || sendq_send(br, &br->wan, channel_peer(l->ch), frame, (size_t)len) != 0)
		br->wan_errors++;
}

static void on_tick(uv_timer_t *t)
{
	struct bridge *br = t->data;
	uint64_t now = uv_now(br->loop), next = UINT64_MAX;
	char why[96];

	for (unsigned i = 0; i < br->n_lan; i++) {
		struct aux_lan *l = &br->lan[i];
		uint64_t ch_next = UINT64_MAX;
		int events = channel_tick(l->ch, now, &ch_next);

		if ((events & CHANNEL_PEER_DEAD) && !path_ever_up(br)) {
			path_end_unanswered(br);
			return;
		}
		if (events & CHANNEL_PEER_DEAD) {
			snprintf(why, sizeof why, "channel %u: nothing authenticated from the "
				 "peer within its dead_after_ms", i);
			bridge_end(br, WIRE(PEER_DEAD), why, EXIT_OK, true);
			return;
		}
		if (events & CHANNEL_SEND_KEEPALIVE)
			send_keepalive(br, l, now);
		if (events & CHANNEL_REKEY_DUE)
			rekey_notify_due(br, i);
		if (ch_next < next)
			next = ch_next;
	}
	uv_timer_start(t, on_tick, next > now ? next - now : 1, 0);
}

static void on_idle_check(uv_timer_t *t)
{
	struct bridge *br = t->data;
	uint64_t now = uv_now(br->loop), quiet = now - br->last_data_ms;
	char why[96];

	if (quiet >= br->idle_timeout_ms) {
		snprintf(why, sizeof why, "no data either way for %llu ms",
			 (unsigned long long)quiet);
		bridge_end(br, WIRE(IDLE), why, EXIT_OK, true);
		return;
	}
	uv_timer_start(t, on_idle_check, br->idle_timeout_ms - quiet, 0);
}

int timers_start(struct bridge *br)
{
	int rc = uv_timer_start(&br->tick_timer, on_tick, 0, 0);

	if (rc == 0 && br->idle_timeout_ms)
		rc = uv_timer_start(&br->idle_timer, on_idle_check, br->idle_timeout_ms, 0);
	return rc ? rc : pmtu_start(br);
}

void timers_kick(struct bridge *br)
{
	if (br->state == AUX_RUNNING)
		uv_timer_start(&br->tick_timer, on_tick, 0, 0);
}

void timers_prove_epochs(struct bridge *br)
{
	for (unsigned i = 0; i < br->n_lan; i++)
		if (br->lan[i].ch && channel_keepalive_wanted(br->lan[i].ch)) {
			timers_kick(br);
			return;
		}
}

void timers_stop(struct bridge *br)
{
	uv_timer_stop(&br->tick_timer);
	uv_timer_stop(&br->idle_timer);
	pmtu_stop(br);
}
