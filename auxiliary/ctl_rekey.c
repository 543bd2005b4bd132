/* "rekey": the keys of the call's next epoch, which the secondaries agreed by an
 * ephemeral key exchange over their peer connection (common/data/rekey.h; docs/frames.md
 * section 4, docs/auxiliary.md). The auxiliary never sees the exchange or the chain key,
 * only each epoch's data keys, as it saw epoch 0's in "start".
 *
 *   {"op":"rekey","id":5,"epoch":3,"send_now":false,
 *    "channels":[{"send_key":"<64 hex>","recv_key":"<64 hex>"}, ...]}
 *   -> {"id":5,"ok":true,"channels":[{"send_epoch":2,"recv_epoch":2}, ...]}
 *
 * Every channel is checked before any takes the keys, so all move or none does:
 * "rekey_pending" when a channel has not yet seen the peer use the current epoch both
 * ways. With send_now the channels send with the new epoch at once and a keep-alive
 * proves it to the peer; otherwise each switches when the peer's first frame under the
 * new epoch authenticates. Also the "rekey_due" notice, when a channel's key has sealed
 * half its frame budget. */
#include <errno.h>
#include <stdio.h>

#include "auxiliary.h"
#include "cmd.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "rekey.h"
#include "wire_errors.h"

static json_t *epochs_reply(const struct bridge *br, json_int_t id)
{
	json_t *reply = msg_reply_ok(id), *channels = json_array();

	for (unsigned i = 0; i < br->n_lan && channels; i++)
		json_array_append_new(channels, json_pack("{s:I, s:I}",
			"send_epoch", (json_int_t)channel_send_epoch(br->lan[i].ch),
			"recv_epoch", (json_int_t)channel_recv_epoch(br->lan[i].ch)));
	if (reply)
		json_object_set_new(reply, "channels", channels);
	else
		json_decref(channels);
	return reply;
}

static int check_all(struct bridge *br, json_int_t id, uint32_t epoch)
{
	for (unsigned i = 0; i < br->n_lan; i++) {
		int rc = channel_check_install(br->lan[i].ch, epoch);

		if (rc == -EINVAL) {
			control_reply_error(br, id, rc, WIRE(BAD_STATE), "channel %u was not started "
					    "for external rekeying", i);
			return rc;
		}
		if (rc) {
			control_reply_error(br, id, rc, WIRE(REKEY_PENDING), "channel %u: epoch %u is "
					    "not in use both ways yet", i, epoch - 1);
			return rc;
		}
	}
	return 0;
}

void rekey_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct bridge *br = ctx;
	struct rekey_keys keys;
	uint64_t now = uv_now(br->loop);
	bool send_now = false;
	char call[ID_STRLEN];
	int rc;

	if ((rc = rekey_install_from_json(msg, br->n_lan, &keys, &send_now)) != 0) {
		control_reply_error(br, id, rc, NULL, "%s", msg_field_error());
		return;
	}
	if (check_all(br, id, keys.epoch) != 0) {
		rekey_keys_wipe(&keys);
		return;
	}
	for (unsigned i = 0; i < br->n_lan && rc == 0; i++)
		rc = channel_install_epoch(br->lan[i].ch, keys.epoch, keys.send[i], keys.recv[i],
					   send_now, now);
	rekey_keys_wipe(&keys);
	if (rc) {
		/* Checked above, so only the crypto library can fail here; the channels no
		 * longer agree on one epoch, which the call cannot survive. */
		control_reply_error(br, id, rc, NULL, "cannot install the keys: %s",
				    insel_strerror(rc));
		bridge_end(br, WIRE(ERROR), "cannot install a new epoch's keys",
			   EXIT_FAILURE_GENERIC, true);
		return;
	}
	log_debug("call %s: epoch %u installed%s", id_format(br->call_id, call), keys.epoch,
		  send_now ? ", sending with it" : "");
	if (send_now)
		timers_kick(br);  /* the keep-alives that prove the new epoch, now */
	control_reply(br, epochs_reply(br, id));
}

void rekey_notify_due(struct bridge *br, unsigned channel)
{
	if (!br->ctl.stream)
		return;
	log_debug("channel %u: the send key sealed half its frame budget; asking for a new "
		  "epoch", channel);
	msg_stream_send_new(br->ctl.stream, aux_rekey_due_to_json(channel));
}
