/* The auxiliary's notices ("ended", "rekey_due") and the traffic totals of its stats: the
 * JSON forms and their validating decode (aux_report.h). */
#include "aux_report.h"

#include <string.h>

#include "chanparams.h"
#include "err.h"
#include "msg.h"

json_t *aux_rekey_due_to_json(unsigned channel)
{
	return json_pack("{s:s, s:I}", "op", "rekey_due", "channel", (json_int_t)channel);
}

json_t *aux_ended_to_json(const char *reason, const char *message)
{
	return json_pack("{s:s, s:s, s:s}", "op", "ended", "reason", reason, "message", message);
}

/* One channel's entry: null before "start", else its counters. */
static int channel_traffic(const json_t *ch, size_t i, struct aux_traffic *sum, char *why,
			   size_t whylen)
{
	json_int_t in, out;
	json_t *stats;

	if (json_is_null(ch))
		return 0;
	if (!json_is_object(ch) || msg_get_object(ch, "stats", &stats) ||
	    msg_get_int(stats, "bytes_in", 0, INT64_MAX, &in) ||
	    msg_get_int(stats, "bytes_out", 0, INT64_MAX, &out))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "channels[%zu]: %s", i,
			       json_is_object(ch) ? msg_field_error() : "must be an object");
	sum->bytes_in += (uint64_t)in;
	sum->bytes_out += (uint64_t)out;
	return 0;
}

int aux_traffic_from_json(const json_t *stats, struct aux_traffic *out, char *why,
			  size_t whylen)
{
	json_t *channels;
	int rc;

	memset(out, 0, sizeof *out);
	if (msg_get_array(stats, "channels", SEC_MAX_CHANNELS, &channels))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	for (size_t i = 0; i < json_array_size(channels); i++)
		if ((rc = channel_traffic(json_array_get(channels, i), i, out, why, whylen)) != 0)
			return rc;
	return 0;
}

static int ended_from_json(const json_t *j, struct aux_notice *out, char *why,
			   size_t whylen)
{
	if (msg_get_str(j, "reason", &out->reason) || msg_get_str(j, "message", &out->message)) {
		out->reason = out->message = NULL;
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	}
	return aux_traffic_from_json(j, &out->traffic, why, whylen);
}

int aux_notice_from_json(const json_t *j, struct aux_notice *out, char *why, size_t whylen)
{
	const char *op = msg_op(j);
	json_int_t channel;

	memset(out, 0, sizeof *out);
	if (!op)
		return 0;
	if (strcmp(op, "ended") == 0) {
		out->kind = AUX_NOTICE_ENDED;
		return ended_from_json(j, out, why, whylen);
	}
	if (strcmp(op, "rekey_due") != 0)
		return 0;
	out->kind = AUX_NOTICE_REKEY_DUE;
	if (msg_get_int(j, "channel", 0, SEC_MAX_CHANNELS - 1, &channel))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	out->channel = (unsigned)channel;
	return 0;
}
