/* API ops that read the directory: lookup (where is a callee), list (LANs or
 * secondaries, paged) and revocations (serials to refuse). */
#include <string.h>

#include "api.h"
#include "err.h"
#include "msg.h"

/* {"op":"lookup","id":N,"callee":"bob@lan-b" | "printer" | "10.2.0.20"} ->
 * {kind, callee, lan, secondary, endpoint, fingerprint, state, last_heartbeat,
 *  [user], [host], [address, prefix]} */
void lookup_handle(struct api_peer *p, json_int_t id, const json_t *msg)
{
	const char *callee;
	json_t *result;
	int rc;

	if (api_get_text(p, id, msg, "callee", true, &callee))
		return;
	rc = db_lookup(p->srv->db, callee, p->srv->now(), &result);
	if (rc)
		api_reply_db_error(p, id, rc);
	else
		api_reply_ok(p, id, result);
}

/* Replies with items [offset, offset + limit) of all, and the total. */
static void reply_page(struct api_peer *p, json_int_t id, const json_t *msg, const char *key,
		       json_t *all, json_t *extra)
{
	json_int_t offset, limit;
	json_t *page = json_array();
	size_t total = json_array_size(all);

	if (msg_get_int_opt(msg, "offset", 0, INT32_MAX, 0, &offset) ||
	    msg_get_int_opt(msg, "limit", 1, API_LIST_MAX, API_LIST_DEFAULT, &limit)) {
		json_decref(all);
		json_decref(page);
		json_decref(extra);
		api_reply_field_error(p, id);
		return;
	}
	for (size_t i = (size_t)offset; i < total && i < (size_t)(offset + limit); i++)
		json_array_append(page, json_array_get(all, i));
	json_decref(all);
	if (!extra)
		extra = json_object();
	json_object_set_new(extra, key, page);
	json_object_set_new(extra, "total", json_integer((json_int_t)total));
	json_object_set_new(extra, "offset", json_integer(offset));
	api_reply_ok(p, id, extra);
}

/* One LAN as a list of zero or one items: a secondary checking a call asks for the LAN
 * involved, whatever the size of the directory. */
static int lan_list_named(struct api_peer *p, const char *name, json_t **out)
{
	json_t *lan;
	int rc = db_lan_show(p->srv->db, name, p->srv->now(), &lan);

	if (rc == INSEL_E_NOT_FOUND) {
		*out = json_array();
		return 0;
	}
	if (rc)
		return rc;
	*out = json_array();
	json_array_append_new(*out, lan);
	return 0;
}

/* {"op":"list","id":N,"what":"lans"|"secondaries","name"?:"...","offset":0,"limit":100} ->
 * {what, items:[...], total, offset} (items as `insel-principal lan list --json`; with a
 * name, that LAN alone, or no item) */
void list_handle(struct api_peer *p, json_int_t id, const json_t *msg)
{
	const char *what, *name;
	json_t *all;
	int rc;

	if (msg_get_str(msg, "what", &what)) {
		api_reply_field_error(p, id);
		return;
	}
	if (api_get_text(p, id, msg, "name", false, &name))
		return;
	if (name && strcmp(what, "lans") != 0) {
		api_reply_error(p, id, INSEL_E_BAD_FIELD, "field 'name' applies to LANs only");
		return;
	}
	if (name)
		rc = lan_list_named(p, name, &all);
	else if (strcmp(what, "lans") == 0)
		rc = db_lan_list(p->srv->db, p->srv->now(), &all);
	else if (strcmp(what, "secondaries") == 0)
		rc = db_secondary_list(p->srv->db, p->srv->now(), &all);
	else {
		api_reply_error(p, id, INSEL_E_BAD_FIELD,
				"field 'what' must be \"lans\" or \"secondaries\"");
		return;
	}
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	reply_page(p, id, msg, "items", all, json_pack("{s:s}", "what", what));
}

/* {"op":"revocations","id":N,"offset":0,"limit":500} -> {serials:[...], total, offset} */
void revocations_handle(struct api_peer *p, json_int_t id, const json_t *msg)
{
	json_t *all, *serials = json_array();
	int rc = db_revoked_list(p->srv->db, &all);

	if (rc) {
		json_decref(serials);
		api_reply_db_error(p, id, rc);
		return;
	}
	for (size_t i = 0; i < json_array_size(all); i++)
		json_array_append(serials, json_object_get(json_array_get(all, i), "serial"));
	json_decref(all);
	reply_page(p, id, msg, "serials", serials, NULL);
}
