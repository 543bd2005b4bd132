/* The principal's `links` op (principal_ops.h): a secondary reports the round trip and
 * loss it measured to each gateway it talks to, for the principal's link table and routes
 * (docs/routing.md). One entry per peer gateway, at most POP_MAX_LINKS, every number
 * bounded, so a report is a few kilobytes at most. */
#include <stddef.h>
#include <string.h>

#include "err.h"
#include "msg.h"
#include "principal_ops.h"
#include "principal_ops_priv.h"

static const char *const link_kinds[] = {
	[POP_LINK_DIRECT] = "direct",
	[POP_LINK_RELAYED] = "relayed",
	[POP_LINK_TCP] = "tcp",
};

const char *pop_link_kind_name(enum pop_link_kind k)
{
	return k >= POP_LINK_DIRECT && k <= POP_LINK_TCP ? link_kinds[k] : "invalid";
}

static int link_kind_parse(const char *name, enum pop_link_kind *out)
{
	for (int k = POP_LINK_DIRECT; k <= POP_LINK_TCP; k++)
		if (strcmp(name, link_kinds[k]) == 0) {
			*out = (enum pop_link_kind)k;
			return 0;
		}
	return INSEL_E_BAD_FIELD;
}

static json_t *link_to_json(const struct pop_link *l)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "peer", l->peer,
			 "kind", pop_link_kind_name(l->kind), "rtt_ms", (json_int_t)l->rtt_ms,
			 "loss_ppm", (json_int_t)l->loss_ppm, "probes", (json_int_t)l->probes,
			 "age_ms", (json_int_t)l->age_ms);
}

json_t *pop_links_req_encode(json_int_t id, const struct pop_links_req *r)
{
	json_t *req = msg_request("links", id), *arr = json_array();

	if (!req || !arr)
		goto fail;
	for (size_t i = 0; i < r->nlinks && i < POP_MAX_LINKS; i++)
		if (json_array_append_new(arr, link_to_json(&r->links[i])))
			goto fail;
	if (json_object_set_new(req, "links", arr) == 0)
		return req;
	arr = NULL;
fail:
	json_decref(arr);
	json_decref(req);
	return NULL;
}

static int link_from_json(const json_t *j, size_t i, void *item, char why[POP_WHY_LEN])
{
	struct pop_link *out = item;
	const char *peer, *kind;
	json_int_t rtt, loss, probes, age;

	if (!json_is_object(j))
		return pop_fail(why, INSEL_E_BAD_FIELD, "links[%zu]: must be an object", i);
	if (msg_get_str(j, "peer", &peer) || msg_get_str(j, "kind", &kind) ||
	    msg_get_int(j, "rtt_ms", 0, POP_LINK_RTT_MAX_MS, &rtt) ||
	    msg_get_int(j, "loss_ppm", 0, POP_LINK_LOSS_SCALE, &loss) ||
	    msg_get_int(j, "probes", 0, UINT32_MAX, &probes) ||
	    msg_get_int(j, "age_ms", 0, UINT32_MAX, &age))
		return pop_fail(why, INSEL_E_BAD_FIELD, "links[%zu]: %s", i, msg_field_error());
	if (!pki_name_valid(peer))
		return pop_fail(why, INSEL_E_BAD_FIELD, "links[%zu]: peer: not a secondary's name",
				i);
	if (link_kind_parse(kind, &out->kind))
		return pop_fail(why, INSEL_E_BAD_FIELD, "links[%zu]: kind: must be \"direct\", "
				"\"relayed\" or \"tcp\"", i);
	snprintf(out->peer, sizeof out->peer, "%s", peer);
	out->rtt_ms = (uint32_t)rtt;
	out->loss_ppm = (uint32_t)loss;
	out->probes = (uint32_t)probes;
	out->age_ms = (uint32_t)age;
	return 0;
}

int pop_links_req_decode(const json_t *msg, struct pop_links_req *out, char why[POP_WHY_LEN])
{
	return pop_get_unique_entries(msg, "links", POP_MAX_LINKS, out->links,
				      sizeof out->links[0], offsetof(struct pop_link, peer), "peer",
				      link_from_json, &out->nlinks, why);
}

json_t *pop_links_reply_encode(const struct pop_links_reply *r)
{
	return json_pack("{s:I}", "links", (json_int_t)r->recorded);
}

int pop_links_reply_decode(const json_t *msg, struct pop_links_reply *out,
			   char why[POP_WHY_LEN])
{
	return pop_get_count(msg, "links", POP_MAX_LINKS, &out->recorded, why);
}
