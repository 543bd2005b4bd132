/* The daemon's revocation watch (revocation_watch.h). */
#include "revocation_watch.h"

#include "log.h"

/* The directory's revoked serials as a set; NULL if it cannot be read. */
static json_t *load_set(struct db *db)
{
	json_t *list, *set;
	const json_t *row;
	size_t i;

	if (db_revoked_list(db, &list)) {
		log_error("cannot read the revocation list: %s", db_errmsg(db));
		return NULL;
	}
	set = json_object();
	json_array_foreach(list, i, row) {
		const char *serial = json_string_value(json_object_get(row, "serial"));

		if (serial)
			json_object_set_new(set, serial, json_true());
	}
	json_decref(list);
	return set;
}

void revocation_watch_refresh(struct revocation_watch *w)
{
	json_t *set, *newly;
	const char *serial;
	json_t *value;
	int64_t version;

	if (db_data_version(w->db, &version) || version == w->data_version)
		return;
	set = load_set(w->db);
	if (!set)
		return;  /* tried again at the next poll */
	w->data_version = version;
	newly = json_array();
	json_object_foreach(set, serial, value)
		if (!json_object_get(w->revoked, serial))
			json_array_append_new(newly, json_string(serial));
	json_decref(w->revoked);
	w->revoked = set;
	if (json_array_size(newly)) {
		log_info("%zu certificate%s newly revoked", json_array_size(newly),
			 json_array_size(newly) == 1 ? "" : "s");
		w->changed(w->ctx, newly);
	}
	json_decref(newly);
}

static void poll_cb(uv_timer_t *t)
{
	revocation_watch_refresh(t->data);
}

int revocation_watch_start(struct revocation_watch *w, uv_loop_t *loop, struct db *db,
			   revocation_changed_fn changed, void *ctx)
{
	int rc;

	w->db = db;
	w->changed = changed;
	w->ctx = ctx;
	rc = db_data_version(db, &w->data_version);
	if (rc)
		return rc;
	w->revoked = load_set(db);
	if (!w->revoked)
		return -1;
	uv_timer_init(loop, &w->timer);
	w->timer.data = w;
	uv_timer_start(&w->timer, poll_cb, REVOCATION_POLL_MS, REVOCATION_POLL_MS);
	return 0;
}

bool revocation_watch_revoked(const struct revocation_watch *w, const char *serial)
{
	return w->revoked && serial && json_object_get(w->revoked, serial) != NULL;
}

void revocation_watch_stop(struct revocation_watch *w)
{
	if (!w->revoked)
		return;
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, NULL);
	json_decref(w->revoked);
	w->revoked = NULL;
}
