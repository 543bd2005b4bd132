/* API ops that read the directory: lookup (where is a callee), list (LANs or
 * secondaries, paged) and revocations (serials to refuse). Their wire form is
 * principal_ops_directory.c's. A page reads only its rows from the directory and holds
 * no more than fits in one control frame. */
#include <string.h>
#include <time.h>

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
	struct timespec t0, t1;
	int rc;

	if ((rc = pop_lookup_req_decode(msg, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = db_lookup_find(p->srv->db, req.callee, p->srv->now(), &reply);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	p->srv->lookups++;
	p->srv->lookups_failed += rc != 0;
	prom_histogram_observe(&p->srv->lookup_seconds, (double)(t1.tv_sec - t0.tv_sec) +
							(double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (rc)
		api_reply_db_error(p, id, rc);
	else
		api_reply_ok(p, id, pop_lookup_reply_encode(&reply));
}

/* A page's items as far as they fit in one reply: whole items while their encoded size
 * stays within API_PAGE_BUDGET (the first always), the rest dropped. A client pages on
 * from offset + the number of items it got (docs/principal-api.md), so a short page is
 * never a lost one. */
#define API_PAGE_BUDGET (MSG_MAX_DEFAULT - 1024)  /* the envelope: id, what, total */
static void page_fit(json_t *items)
{
	size_t used = 0, i;

	for (i = 0; i < json_array_size(items); i++) {
		size_t size = json_dumpb(json_array_get(items, i), NULL, 0, JSON_COMPACT) + 1;

		if (i > 0 && used + size > API_PAGE_BUDGET)
			break;
		used += size;
	}
	while (json_array_size(items) > i)
		json_array_remove(items, json_array_size(items) - 1);
}

static struct db_page db_page_of(const struct pop_page *p)
{
	return (struct db_page){.offset = p->offset, .limit = p->limit};
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
	struct db_page page;
	json_t *items;
	int rc;

	if ((rc = pop_list_req_decode(msg, &req, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	page = db_page_of(&req.page);
	if (req.name) {
		rc = lan_list_named(p, req.name, &items);
		reply.total = rc ? 0 : (int64_t)json_array_size(items);
	} else if (req.what == POP_LIST_LANS) {
		rc = db_lan_page(p->srv->db, p->srv->now(), &page, &items, &reply.total);
	} else {
		rc = db_secondary_page(p->srv->db, p->srv->now(), &page, &items, &reply.total);
	}
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	page_fit(items);
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
	json_t *rows, *serials;
	int rc;

	if ((rc = pop_revocations_req_decode(msg, &page, why))) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	rc = db_revoked_page(p->srv->db, &(struct db_page){page.offset, page.limit}, &rows,
			     &reply.total);
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	serials = json_array();
	for (size_t i = 0; i < json_array_size(rows); i++)
		json_array_append(serials, json_object_get(json_array_get(rows, i), "serial"));
	json_decref(rows);
	page_fit(serials);
	reply.serials = serials;
	reply.offset = page.offset;
	api_reply_ok(p, id, pop_revocations_reply_encode(&reply));
	json_decref(serials);
}
