/* The `links` op (docs/principal-api.md, docs/routing.md): a secondary reports what it
 * measured to the gateways it talks to; each entry replaces its previous measurement of
 * that peer in the link table, from which routes are computed. */
#include "api.h"
#include "err.h"
#include "log.h"
#include "principal_ops.h"

void links_handle(void *ctx, json_int_t id, const json_t *msg)
{
	static struct pop_links_req req;  /* the loop is single-threaded; 20 KiB off the stack */
	struct api_peer *p = ctx;
	struct pop_links_reply reply;
	char why[POP_WHY_LEN];
	size_t recorded;
	int rc;

	if ((rc = pop_links_req_decode(msg, &req, why)) != 0) {
		api_reply_decode_error(p, id, rc, why);
		return;
	}
	rc = db_links_report(p->srv->db, p->id.name, req.links, req.nlinks, p->srv->now(),
			     &recorded);
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	log_debug("secondary %s: %zu of %zu links recorded", p->id.name, recorded, req.nlinks);
	reply.recorded = (int64_t)recorded;
	api_reply_ok(p, id, pop_links_reply_encode(&reply));
}
