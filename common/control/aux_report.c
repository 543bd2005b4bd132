/* The auxiliary's notices ("ended", "rekey_due", "path", "measure") and the traffic totals of its stats: the
 * JSON forms and their validating decode (aux_report.h). */
#include "aux_report.h"

#include <errno.h>
#include <stdint.h>
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

static const char *const path_states[] = {
	[AUX_PATH_UP] = "up",
	[AUX_PATH_CHANGED] = "changed",
	[AUX_PATH_LOST] = "lost",
};

const char *aux_path_state_name(enum aux_path_state state)
{
	return (unsigned)state <= AUX_PATH_LOST ? path_states[state] : "invalid";
}

static const char *aux_path_kind_name(bool relayed)
{
	return relayed ? "relayed" : "direct";
}

const char *aux_path_kind(bool relayed, bool tcp)
{
	return tcp ? "tcp" : aux_path_kind_name(relayed);
}

json_t *aux_path_to_json(const struct aux_path_notice *n)
{
	char local[IP_STRLEN], remote[IP_STRLEN];
	json_t *j = json_pack("{s:s, s:s, s:s}", "op", "path",
			      "state", aux_path_state_name(n->state),
			      "reason", n->reason ? n->reason : "");

	if (!j || !n->has_endpoints)
		return j;
	if (json_object_set_new(j, "kind", json_string(aux_path_kind(n->relayed, n->tcp))) ||
	    json_object_set_new(j, "local", json_string(ip_endpoint_format(&n->local, local,
									     sizeof local))) ||
	    json_object_set_new(j, "remote", json_string(ip_endpoint_format(&n->remote, remote,
									      sizeof remote))) ||
	    json_object_set_new(j, "rtt_ms", json_integer(n->rtt_ms))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *aux_measure_to_json(const struct aux_measure_notice *n)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I}", "op", "measure",
			 "kind", aux_path_kind(n->relayed, n->tcp), "rtt_ms", (json_int_t)n->rtt_ms,
			 "probes", (json_int_t)n->probes, "replies", (json_int_t)n->replies);
}

static int measure_from_json(const json_t *j, struct aux_notice *out, char *why,
			     size_t whylen)
{
	struct aux_measure_notice *n = &out->measure;
	const char *kind;
	json_int_t rtt, probes, replies;

	if (msg_get_str(j, "kind", &kind) || msg_get_int(j, "rtt_ms", 0, UINT32_MAX, &rtt) ||
	    msg_get_int(j, "probes", 0, AUX_MEASURE_MAX_PROBES, &probes) ||
	    msg_get_int(j, "replies", 0, probes, &replies))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	if (strcmp(kind, "direct") != 0 && strcmp(kind, "relayed") != 0 &&
	    strcmp(kind, "tcp") != 0)
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'kind' must be \"direct\", "
			       "\"relayed\" or \"tcp\"");
	n->tcp = strcmp(kind, "tcp") == 0;
	n->relayed = n->tcp || strcmp(kind, "relayed") == 0;
	n->rtt_ms = (uint32_t)rtt;
	n->probes = (uint32_t)probes;
	n->replies = (uint32_t)replies;
	return 0;
}

static int path_state_from(const char *name, enum aux_path_state *out)
{
	for (unsigned i = 0; i <= AUX_PATH_LOST; i++)
		if (strcmp(name, path_states[i]) == 0) {
			*out = (enum aux_path_state)i;
			return 0;
		}
	return msg_bad_field("state", "must be \"up\", \"changed\" or \"lost\"");
}

static int path_endpoint(const json_t *j, const char *key, struct ip_endpoint *out)
{
	const char *text;

	if (msg_get_str(j, key, &text))
		return INSEL_E_BAD_FIELD;
	if (ip_endpoint_parse(text, out))
		return msg_bad_field(key, "must be ADDRESS:PORT");
	return 0;
}

/* kind, local, remote and rtt_ms: all four, or (only when lost) none. */
static int path_endpoints_from(const json_t *j, struct aux_path_notice *n)
{
	const char *kind;
	json_int_t rtt;

	if (!json_object_get(j, "kind") && !json_object_get(j, "local") &&
	    !json_object_get(j, "remote") && !json_object_get(j, "rtt_ms") &&
	    n->state == AUX_PATH_LOST)
		return 0;
	if (msg_get_str(j, "kind", &kind))
		return INSEL_E_BAD_FIELD;
	if (strcmp(kind, "direct") != 0 && strcmp(kind, "relayed") != 0 &&
	    strcmp(kind, "tcp") != 0)
		return msg_bad_field("kind", "must be \"direct\", \"relayed\" or \"tcp\"");
	if (path_endpoint(j, "local", &n->local) || path_endpoint(j, "remote", &n->remote) ||
	    msg_get_int(j, "rtt_ms", 0, UINT32_MAX, &rtt))
		return INSEL_E_BAD_FIELD;
	n->tcp = strcmp(kind, "tcp") == 0;
	n->relayed = n->tcp || strcmp(kind, "relayed") == 0;
	n->rtt_ms = (uint32_t)rtt;
	n->has_endpoints = true;
	return 0;
}

static int path_from_json(const json_t *j, struct aux_notice *out, char *why, size_t whylen)
{
	struct aux_path_notice *n = &out->path;
	const char *state;

	if (msg_get_str(j, "state", &state) || path_state_from(state, &n->state) ||
	    msg_get_str(j, "reason", &n->reason) || path_endpoints_from(j, n)) {
		memset(n, 0, sizeof *n);
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	}
	if (strlen(n->reason) > AUX_PATH_REASON_MAX) {
		memset(n, 0, sizeof *n);
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "field 'reason' is longer than %d "
			       "bytes", AUX_PATH_REASON_MAX);
	}
	return 0;
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
	if (strcmp(op, "path") == 0) {
		out->kind = AUX_NOTICE_PATH;
		return path_from_json(j, out, why, whylen);
	}
	if (strcmp(op, "measure") == 0) {
		out->kind = AUX_NOTICE_MEASURE;
		return measure_from_json(j, out, why, whylen);
	}
	if (strcmp(op, "rekey_due") != 0)
		return 0;
	out->kind = AUX_NOTICE_REKEY_DUE;
	if (msg_get_int(j, "channel", 0, SEC_MAX_CHANNELS - 1, &channel))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
	out->channel = (unsigned)channel;
	return 0;
}

static int room_counter(const json_t *tun, const char *key, uint64_t *out)
{
	json_int_t v;

	if (msg_get_int_opt(tun, key, 0, INT64_MAX, 0, &v))
		return INSEL_E_BAD_FIELD;
	*out = (uint64_t)v;
	return 0;
}

int aux_room_counters_from_json(const json_t *stats, struct aux_room_counters *out,
				char *why, size_t whylen)
{
	json_t *tun;
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (msg_get_object(stats, "tun", &tun))
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "%s", msg_field_error());
#define AUX_ROOM_READ(name, key) rc = rc ? rc : room_counter(tun, key, &out->name);
	AUX_ROOM_COUNTERS(AUX_ROOM_READ)
#undef AUX_ROOM_READ
#define AUX_ROOM_READ(name, key) rc = rc ? rc : room_counter(tun, key, &out->drops.name);
	AUX_ROOM_DROPS(AUX_ROOM_READ)
#undef AUX_ROOM_READ
	if (rc)
		return err_set(why, whylen, INSEL_E_BAD_FIELD, "tun: %s", msg_field_error());
	return 0;
}

int aux_room_counters_into(const struct aux_room_counters *c, json_t *obj)
{
	json_t *drops = json_object();
	uint64_t dropped = 0;
	int rc = drops ? 0 : -1;

#define AUX_ROOM_PUT(name, key) \
	rc |= json_object_set_new(obj, #name, json_integer((json_int_t)c->name));
	AUX_ROOM_COUNTERS(AUX_ROOM_PUT)
#undef AUX_ROOM_PUT
#define AUX_ROOM_PUT(name, key) \
	rc |= drops ? json_object_set_new(drops, #name, json_integer((json_int_t)c->drops.name)) \
		    : -1; \
	dropped += c->drops.name;
	AUX_ROOM_DROPS(AUX_ROOM_PUT)
#undef AUX_ROOM_PUT
	rc |= json_object_set_new(obj, "dropped", json_integer((json_int_t)dropped));
	rc |= drops ? json_object_set_new(obj, "drops", drops) : -1;
	return rc ? -ENOMEM : 0;
}
