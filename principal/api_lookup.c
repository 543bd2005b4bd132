/* API ops that read the directory: lookup (where is a callee), list (LANs or
 * secondaries, paged) and revocations (serials to refuse). Their wire form is
 * principal_ops_directory.c's. */
#include <string.h>

#include "api.h"
#include "err.h"
#include "msg.h"
#include "principal_ops.h"

void lookup_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct pop_lookup_req req;
	struct pop_lookup_reply reply;
	char why[POP_WHY_LEN];
	int rc;

	if ((rc = pop_lookup_req_decode(msg, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	rc = db_lookup_find(p->srv->db, req.callee, p->srv->now(), &reply);
	if (rc)
		api_reply_db_error(p, id, rc);
	else
		api_reply_ok(p, id, pop_lookup_reply_encode(&reply));
}

/* Items [offset, offset + limit) of all (whose reference it drops), and the total. */
static json_t *page_of(json_t *all, const struct pop_page *page, int64_t *total)
{
	json_t *items = json_array();
	size_t n = json_array_size(all);

	for (size_t i = (size_t)page->offset; i < n && i < (size_t)(page->offset + page->limit);
	     i++)
		json_array_append(items, json_array_get(all, i));
	json_decref(all);
	*total = (int64_t)n;
	return items;
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

void list_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct pop_list_req req;
	struct pop_list_reply reply;
	char why[POP_WHY_LEN];
	json_t *all, *items;
	int rc;

	if ((rc = pop_list_req_decode(msg, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	if (req.name)
		rc = lan_list_named(p, req.name, &all);
	else if (req.what == POP_LIST_LANS)
		rc = db_lan_list(p->srv->db, p->srv->now(), &all);
	else
		rc = db_secondary_list(p->srv->db, p->srv->now(), &all);
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	items = page_of(all, &req.page, &reply.total);
	reply.what = req.what;
	reply.items = items;
	reply.offset = req.page.offset;
	api_reply_ok(p, id, pop_list_reply_encode(&reply));
	json_decref(items);
}

void revocations_handle(void *ctx, json_int_t id, const json_t *msg)
{
	struct api_peer *p = ctx;
	struct pop_page page;
	struct pop_revocations_reply reply;
	char why[POP_WHY_LEN];
	json_t *all, *serials = json_array(), *items;
	int rc;

	if ((rc = pop_revocations_req_decode(msg, &page, why))) {
		json_decref(serials);
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	rc = db_revoked_list(p->srv->db, &all);
	if (rc) {
		json_decref(serials);
		api_reply_db_error(p, id, rc);
		return;
	}
	for (size_t i = 0; i < json_array_size(all); i++)
		json_array_append(serials, json_object_get(json_array_get(all, i), "serial"));
	json_decref(all);
	items = page_of(serials, &page, &reply.total);
	reply.serials = items;
	reply.offset = page.offset;
	api_reply_ok(p, id, pop_revocations_reply_encode(&reply));
	json_decref(items);
}
