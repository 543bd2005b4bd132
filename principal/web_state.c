/* The web view's JSON (web_state.h): the directory's listings, each row cut down to the
 * fields the page shows and each list to its cap. */
#include "web_state.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "db_rooms.h"
#include "err.h"

/* A new object with only the named fields of row (those it has). The one gate between
 * the directory and a browser: a field not named here never leaves. */
static json_t *pick(const json_t *row, const char *const *keys)
{
	json_t *out = json_object();

	for (size_t i = 0; out && keys[i]; i++) {
		json_t *v = json_object_get(row, keys[i]);

		if (v && json_object_set(out, keys[i], v)) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* Appends picked copies of list's rows to out, at most max of them; whether any was left. */
static bool pick_rows(const json_t *list, const char *const *keys, size_t max, json_t *out)
{
	size_t i;
	json_t *row;

	json_array_foreach(list, i, row) {
		if (json_array_size(out) >= max)
			return true;
		json_array_append_new(out, pick(row, keys));
	}
	return false;
}

static json_t *find_by(const json_t *list, const char *key, const char *value)
{
	size_t i;
	json_t *row;

	json_array_foreach(list, i, row) {
		const char *v = json_string_value(json_object_get(row, key));

		if (v && value && strcmp(v, value) == 0)
			return row;
	}
	return NULL;
}

/* A LAN's gateways: the active one first, then its standbys, each with its health. */
static json_t *site_gateways(const json_t *lan, const json_t *secondaries)
{
	static const char *const keys[] = {"name", "role", "state", "last_heartbeat", NULL};
	json_t *out = json_array();
	const json_t *active = find_by(secondaries, "name",
				       json_string_value(json_object_get(lan, "secondary")));
	size_t i;
	json_t *name;

	if (active)
		json_array_append_new(out, pick(active, keys));
	json_array_foreach(json_object_get(lan, "standbys"), i, name) {
		const json_t *s = find_by(secondaries, "name", json_string_value(name));

		if (s && s != active)
			json_array_append_new(out, pick(s, keys));
	}
	return out;
}

static int add_sites(struct db *db, int64_t now, json_t *state, json_t *truncated)
{
	static const char *const keys[] = {"name", "prefixes", "state", "last_heartbeat",
					   "endpoint", NULL};
	json_t *lans = NULL, *secondaries = NULL, *sites = json_array();
	size_t i;
	json_t *lan;
	int rc;

	if ((rc = db_lan_list(db, now, &lans)) || (rc = db_secondary_list(db, now, &secondaries)))
		goto out;
	json_array_foreach(lans, i, lan) {
		json_t *site;

		if (i >= WEB_SITES_MAX)
			break;
		site = pick(lan, keys);
		json_object_set(site, "gateway", json_object_get(lan, "secondary"));
		json_object_set_new(site, "gateways", site_gateways(lan, secondaries));
		json_array_append_new(sites, site);
	}
	json_object_set_new(truncated, "sites", json_boolean(json_array_size(lans) >
							     WEB_SITES_MAX));
	json_object_set(state, "sites", sites);
out:
	json_decref(sites);
	json_decref(lans);
	json_decref(secondaries);
	return rc;
}

static int add_links(struct db *db, int64_t now, json_t *state, json_t *truncated)
{
	static const char *const keys[] = {"a", "b", "kind", "rtt_ms", "loss_pct", "cost",
					   NULL};
	json_t *pairs = NULL, *links = json_array();
	int rc = db_link_pairs(db, now, &pairs);

	if (!rc) {
		json_object_set_new(truncated, "links",
				    json_boolean(pick_rows(pairs, keys, WEB_LINKS_MAX, links)));
		json_object_set(state, "links", links);
	}
	json_decref(links);
	json_decref(pairs);
	return rc;
}

static const struct web_rate *rate_of(const struct web_rate *rates, size_t n, const char *id)
{
	for (size_t i = 0; id && i < n; i++)
		if (rates[i].call_id && strcmp(rates[i].call_id, id) == 0)
			return &rates[i];
	return NULL;
}

/* Bytes per second, or null where not known. */
static json_t *rate_json(double bps)
{
	return bps >= 0 && isfinite(bps) ? json_real(bps) : json_null();
}

/* The live calls and the newest ended ones, newest first. */
static int add_calls(struct db *db, int64_t now, const struct web_rate *rates, size_t nrates,
		     json_t *state, json_t *truncated)
{
	static const char *const keys[] = {"id", "caller", "caller_lan", "callee", "callee_lan",
					   "started_at", "ended_at", "seconds", "bytes_up",
					   "bytes_down", "end_reason", NULL};
	json_t *live = NULL, *recent = NULL, *calls = json_array(), *history = json_array();
	size_t i;
	json_t *row;
	int rc;

	if ((rc = db_call_list(db, true, WEB_CALLS_MAX + 1, now, &live)) ||
	    (rc = db_call_history(db, WEB_HISTORY_MAX + 1, &recent)))
		goto out;
	json_array_foreach(live, i, row) {
		const struct web_rate *r = rate_of(rates, nrates,
						   json_string_value(json_object_get(row, "id")));
		json_t *call;

		if (i >= WEB_CALLS_MAX)
			break;
		call = pick(row, keys);
		json_object_set(call, "path", json_object_get(row, "path_summary"));
		json_object_set_new(call, "rate_up", rate_json(r ? r->up : -1));
		json_object_set_new(call, "rate_down", rate_json(r ? r->down : -1));
		json_array_append_new(calls, call);
	}
	json_array_foreach(recent, i, row) {
		json_t *call;

		if (i >= WEB_HISTORY_MAX)
			break;
		call = pick(row, keys);
		json_object_set(call, "path", json_object_get(row, "path_summary"));
		json_array_append_new(history, call);
	}
	json_object_set_new(truncated, "calls", json_boolean(json_array_size(live) >
							     WEB_CALLS_MAX));
	json_object_set_new(truncated, "history", json_boolean(json_array_size(recent) >
							       WEB_HISTORY_MAX));
	json_object_set(state, "calls", calls);
	json_object_set(state, "history", history);
out:
	json_decref(calls);
	json_decref(history);
	json_decref(live);
	json_decref(recent);
	return rc;
}

/* One room with its first WEB_MEMBERS_MAX members (db_room_show has them all). */
static json_t *room_json(struct db *db, const json_t *listed)
{
	static const char *const keys[] = {"name", "network", "network6", "capacity", NULL};
	static const char *const member_keys[] = {"user", "lan", "host", "address", NULL};
	json_t *room = pick(listed, keys), *shown = NULL, *members = json_array();

	if (db_room_show(db, json_string_value(json_object_get(listed, "name")), &shown) == 0)
		pick_rows(json_object_get(shown, "members"), member_keys, WEB_MEMBERS_MAX,
			  members);
	json_object_set_new(room, "members", members);
	json_object_set_new(room, "members_total",
			    json_integer((json_int_t)json_array_size(json_object_get(shown,
										    "members"))));
	json_decref(shown);
	return room;
}

static int add_rooms(struct db *db, json_t *state, json_t *truncated)
{
	json_t *listed = NULL, *rooms = json_array();
	size_t i;
	json_t *row;
	int rc = db_room_list(db, NULL, &listed);

	if (!rc) {
		json_array_foreach(listed, i, row) {
			if (i >= WEB_ROOMS_MAX)
				break;
			json_array_append_new(rooms, room_json(db, row));
		}
		json_object_set_new(truncated, "rooms", json_boolean(json_array_size(listed) >
								     WEB_ROOMS_MAX));
		json_object_set(state, "rooms", rooms);
	}
	json_decref(rooms);
	json_decref(listed);
	return rc;
}

int web_state_build(struct db *db, const char *principal, int64_t now,
		    const struct web_rate *rates, size_t nrates, json_t **out)
{
	json_t *state = json_pack("{s:s, s:I}", "principal", principal ? principal : "",
				  "generated_at", (json_int_t)now);
	json_t *truncated = json_object();
	int rc;

	*out = NULL;
	if (!state || !truncated) {
		json_decref(state);
		json_decref(truncated);
		return -ENOMEM;
	}
	if ((rc = add_sites(db, now, state, truncated)) ||
	    (rc = add_links(db, now, state, truncated)) ||
	    (rc = add_calls(db, now, rates, nrates, state, truncated)) ||
	    (rc = add_rooms(db, state, truncated))) {
		json_decref(state);
		json_decref(truncated);
		return rc;
	}
	json_object_set_new(state, "truncated", truncated);
	*out = state;
	return 0;
}

char *web_state_text(const json_t *state, size_t *len)
{
	char *text = json_dumps(state, JSON_COMPACT);

	*len = text ? strlen(text) : 0;
	if (text && *len > WEB_STATE_MAX_BYTES) {
		free(text);
		return NULL;
	}
	return text;
}
