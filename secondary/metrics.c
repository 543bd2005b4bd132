/* The secondary's /metrics page (metrics.h). Counters of calls are kept as calls change
 * state; traffic and drops come from the auxiliaries' stats: each scrape sums the totals
 * of the calls gone and the last stats of each call up, and asks every auxiliary of a
 * call up for fresh stats (at most once a second, each answer bounded by
 * METRICS_STATS_TIMEOUT_MS), so a scrape never waits for an auxiliary and shows what
 * they said at most one scrape earlier. Names and reasons only: no address, no user. */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aux_report.h"
#include "http_server.h"
#include "log.h"
#include "msg.h"
#include "prom.h"
#include "secondary.h"

#define METRICS_REASONS 48           /* distinct reasons kept; the rest count as "other" */
#define METRICS_DROP_KINDS 64        /* distinct (where, reason) pairs of drops */
#define METRICS_REFRESH_MS 1000      /* fresh stats asked at most this often */
#define METRICS_STATS_TIMEOUT_MS 2000
#define METRICS_MAX_ASKING 512       /* stats requests out at once, whatever the calls */
#define METRICS_ROOMS 64             /* rooms counted by name; the rest as METRICS_ROOM_OTHER */
#define METRICS_ROOM_OTHER "_other"  /* no room's name: one starts with a letter or digit */
#define METRICS_ROOM_LEGS 256        /* (room, site) pairs counted; the rest as _other */

struct reason_count {
	char reason[40];
	uint64_t n;
};

struct reason_table {
	struct reason_count r[METRICS_REASONS];
	size_t n;
};

/* A room's broadcast and multicast (docs/rooms.md, "Broadcast and multicast"), summed
 * over its legs, IPv4 and IPv6 together. */
struct room_casts {
	char room[ROOM_NAME_MAX + 1];
	uint64_t bcast_out, bcast_in, mcast_out, mcast_in, nonmember, limited;
};

/* What a room's leg to one other member site carried (docs/rooms.md, "Counters"),
 * summed over the calls that were that leg: out from our LAN, in to it. */
struct room_leg_traffic {
	char room[ROOM_NAME_MAX + 1], site[PKI_NAME_MAX + 1];
	uint64_t packets_out, bytes_out, packets_in, bytes_in;
};

/* Traffic and drops, summed over channels and calls. */
struct traffic {
	uint64_t bytes_in, bytes_out, frames_in, frames_out;
	struct reason_count drops[METRICS_DROP_KINDS];  /* reason is "where:reason" */
	size_t ndrops;
	struct room_casts rooms[METRICS_ROOMS];
	size_t nrooms;
	struct room_leg_traffic legs[METRICS_ROOM_LEGS];
	size_t nlegs;
};

struct sec_metrics {
	struct http_server *http;
	struct prom_histogram setup_seconds;
	uint64_t calls_up_total;
	struct reason_table refusals, endings;
	struct traffic gone;               /* of the calls that ended */
};

static void count_reason(struct reason_table *t, const char *reason, uint64_t n)
{
	char safe[40];

	prom_label(reason && *reason ? reason : "unknown", safe, sizeof safe);
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->r[i].reason, safe) == 0) {
			t->r[i].n += n;
			return;
		}
	if (t->n >= METRICS_REASONS - 1 && strcmp(safe, "other") != 0) {
		count_reason(t, "other", n);
		return;
	}
	snprintf(t->r[t->n].reason, sizeof t->r[t->n].reason, "%s", safe);
	t->r[t->n++].n = n;
}

static void add_drop(struct traffic *t, const char *where, const char *reason, uint64_t n)
{
	char key[40], safe[32];

	if (n == 0)
		return;
	snprintf(key, sizeof key, "%s:%s", where, prom_label(reason, safe, sizeof safe));
	for (size_t i = 0; i < t->ndrops; i++)
		if (strcmp(t->drops[i].reason, key) == 0) {
			t->drops[i].n += n;
			return;
		}
	if (t->ndrops == METRICS_DROP_KINDS)
		return;
	snprintf(t->drops[t->ndrops].reason, sizeof t->drops[t->ndrops].reason, "%s", key);
	t->drops[t->ndrops++].n = n;
}

static uint64_t count_of(const json_t *obj, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(obj, key));

	return v > 0 ? (uint64_t)v : 0;
}

static void add_drop_object(struct traffic *t, const char *where, const json_t *drops)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)drops, key, v)
		if (json_is_integer(v))
			add_drop(t, where, key, count_of(drops, key));
}

static struct room_casts *room_casts_of(struct traffic *t, const char *room)
{
	for (size_t i = 0; i < t->nrooms; i++)
		if (strcmp(t->rooms[i].room, room) == 0)
			return &t->rooms[i];
	/* The last entry is kept for the rooms past the others: rooms come and go, and a
	 * label per room ever seen would grow without bound. */
	if (t->nrooms >= METRICS_ROOMS - 1 && strcmp(room, METRICS_ROOM_OTHER) != 0)
		return room_casts_of(t, METRICS_ROOM_OTHER);
	memset(&t->rooms[t->nrooms], 0, sizeof t->rooms[t->nrooms]);
	snprintf(t->rooms[t->nrooms].room, sizeof t->rooms[t->nrooms].room, "%s", room);
	return &t->rooms[t->nrooms++];
}

/* A room leg's broadcast and multicast counters, from its stats' "tun" object (present
 * once the room's capture is open). */
static void add_room_casts(struct traffic *t, const char *room, const json_t *stats)
{
	const json_t *tun = json_object_get(stats, "tun");
	struct room_casts *c;
	char safe[ROOM_NAME_MAX + 1];

	if (!room || !*room || !json_object_get(tun, "room_multicast_out"))
		return;
	c = room_casts_of(t, prom_label(room, safe, sizeof safe));
	c->bcast_out += count_of(tun, "room_broadcast_out");
	c->bcast_in += count_of(tun, "room_broadcast_in");
	c->mcast_out += count_of(tun, "room_multicast_out");
	c->mcast_in += count_of(tun, "room_multicast_in");
	c->nonmember += count_of(tun, "room_cast_nonmember");
	c->limited += count_of(tun, "room_cast_limited");
}

static struct room_leg_traffic *room_leg_of(struct traffic *t, const char *room,
					    const char *site)
{
	struct room_leg_traffic *l;

	for (size_t i = 0; i < t->nlegs; i++)
		if (strcmp(t->legs[i].room, room) == 0 && strcmp(t->legs[i].site, site) == 0)
			return &t->legs[i];
	/* As for rooms: the last entry is kept for the pairs past the others. */
	if (t->nlegs >= METRICS_ROOM_LEGS - 1 &&
	    (strcmp(room, METRICS_ROOM_OTHER) != 0 || strcmp(site, METRICS_ROOM_OTHER) != 0))
		return room_leg_of(t, METRICS_ROOM_OTHER, METRICS_ROOM_OTHER);
	l = &t->legs[t->nlegs++];
	memset(l, 0, sizeof *l);
	snprintf(l->room, sizeof l->room, "%s", room);
	snprintf(l->site, sizeof l->site, "%s", site);
	return l;
}

/* A room leg's packets and bytes each way, read with the codec `insel rooms` uses
 * (aux_report.h), from its stats' "tun" object (present once the leg is bound). */
static void add_room_leg(struct traffic *t, const struct call *call, const json_t *stats)
{
	struct aux_room_counters c;
	struct room_leg_traffic *l;
	char why[128], room[ROOM_NAME_MAX + 1], site[PKI_NAME_MAX + 1];

	if (!call->room[0] || !call->room_site[0] || !json_object_get(stats, "tun") ||
	    aux_room_counters_from_json(stats, &c, why, sizeof why) != 0)
		return;
	l = room_leg_of(t, prom_label(call->room, room, sizeof room),
			prom_label(call->room_site, site, sizeof site));
	l->packets_out += c.packets_out;
	l->bytes_out += c.bytes_out;
	l->packets_in += c.packets_in;
	l->bytes_in += c.bytes_in;
}

/* Adds one auxiliary's stats object (docs/auxiliary.md) of call to t (a room's leg's
 * under its room and site too). */
static void add_stats(struct traffic *t, const json_t *stats, const struct call *call)
{
	const char *room = call->room;
	const json_t *ch, *lan;
	size_t i;

	json_array_foreach(json_object_get(stats, "channels"), i, ch) {
		const json_t *st = json_object_get(ch, "stats");

		if (!json_is_object(st))
			continue;
		t->bytes_in += count_of(st, "bytes_in");
		t->bytes_out += count_of(st, "bytes_out");
		t->frames_in += count_of(st, "frames_in");
		t->frames_out += count_of(st, "frames_out");
		add_drop_object(t, "channel", json_object_get(st, "drops"));
	}
	json_array_foreach(json_object_get(stats, "lan"), i, lan) {
		const json_t *drops = json_object_get(lan, "drops");

		if (json_is_object(drops))
			add_drop_object(t, "lan", drops);
		else
			add_drop(t, "lan", "dropped", count_of(lan, "dropped"));
		add_drop(t, "lan", "foreign_sender", count_of(lan, "foreign_lan_sender"));
	}
	add_drop_object(t, "wan", json_object_get(stats, "wan"));
	/* The kernel's queue in front of the call's (or room's) interface (tun_queue.c). */
	add_drop(t, "tun", "queue_full", count_of(json_object_get(stats, "tun"), "queue_dropped"));
	add_room_casts(t, room, stats);
	add_room_leg(t, call, stats);
}

/* ---- what calls tell ---- */

void sec_metrics_call_up(struct secondary *s, uint64_t ms)
{
	if (!s->metrics)
		return;
	s->metrics->calls_up_total++;
	prom_histogram_observe(&s->metrics->setup_seconds, (double)ms / 1000.0);
}

void sec_metrics_call_ended(struct secondary *s, const char *reason, bool was_up)
{
	if (s->metrics)
		count_reason(was_up ? &s->metrics->endings : &s->metrics->refusals, reason, 1);
}

void sec_metrics_call_gone(struct call *call)
{
	if (!call->metrics_asking || !call->aux)
		return;
	rpc_forget_ctx(&call->aux->rpc, call);  /* its reply must not find the call gone */
	call->metrics_asking = false;
	if (call->sec->stats_asking > 0)
		call->sec->stats_asking--;
}

void sec_metrics_call_final(struct call *call, const json_t *stats)
{
	struct secondary *s = call->sec;

	if (s->metrics && json_is_object(stats))
		add_stats(&s->metrics->gone, stats, call);
}

/* ---- fresh stats from the auxiliaries of calls up (for this page and call_rates.c) ---- */

static void stats_reply(void *ctx, const json_t *reply, int err)
{
	struct call *call = ctx;

	call->metrics_asking = false;
	if (call->sec->stats_asking > 0)
		call->sec->stats_asking--;
	if (err || !msg_reply_is_ok(reply, NULL, NULL))
		return;
	json_decref(call->last_stats);
	call->last_stats = json_deep_copy(reply);
	call->stats_at_ms = uv_now(call->sec->loop);
}

void sec_stats_refresh(struct secondary *s)
{
	uint64_t now = uv_now(s->loop);

	if (s->stats_refresh_ms && now - s->stats_refresh_ms < METRICS_REFRESH_MS)
		return;
	s->stats_refresh_ms = now;
	for (struct call *call = s->calls; call; call = call->next) {
		if (call->state != CALL_UP || !call->aux || call->metrics_asking)
			continue;
		if (s->stats_asking >= METRICS_MAX_ASKING)
			break;
		if (aux_request(call->aux, msg_request("stats", 0), METRICS_STATS_TIMEOUT_MS,
				stats_reply, call) == 0) {
			call->metrics_asking = true;
			s->stats_asking++;
		}
	}
}

/* ---- the page ---- */

static void render_calls(struct http_reply *r, struct secondary *s)
{
	uint64_t by_state[CALL_STATE_COUNT] = {0};

	for (struct call *call = s->calls; call; call = call->next)
		by_state[call->state]++;
	prom_family(r, "insel_secondary_calls", "gauge", "Calls in progress, by state");
	for (int i = CALL_LOOKUP; i < CALL_ENDED; i++) {
		char labels[48];

		snprintf(labels, sizeof labels, "state=\"%s\"", call_state_name(i));
		prom_sample_u64(r, "insel_secondary_calls", labels, by_state[i]);
	}
	prom_family(r, "insel_secondary_calls_limit", "gauge", "[limits] calls");
	prom_sample_u64(r, "insel_secondary_calls_limit", NULL, (uint64_t)s->cfg.max_calls);
}

static void render_reasons(struct http_reply *r, const char *name, const char *help,
			   const struct reason_table *t)
{
	prom_family(r, name, "counter", help);
	for (size_t i = 0; i < t->n; i++) {
		char labels[64];

		snprintf(labels, sizeof labels, "reason=\"%s\"", t->r[i].reason);
		prom_sample_u64(r, name, labels, t->r[i].n);
	}
}

static void render_traffic(struct http_reply *r, const struct traffic *t)
{
	prom_family(r, "insel_secondary_bytes_total", "counter",
		    "Bytes on the wire of the calls' channels (this and ended calls)");
	prom_sample_u64(r, "insel_secondary_bytes_total", "direction=\"in\"", t->bytes_in);
	prom_sample_u64(r, "insel_secondary_bytes_total", "direction=\"out\"", t->bytes_out);
	prom_family(r, "insel_secondary_frames_total", "counter",
		    "Encrypted frames of the calls' channels");
	prom_sample_u64(r, "insel_secondary_frames_total", "direction=\"in\"", t->frames_in);
	prom_sample_u64(r, "insel_secondary_frames_total", "direction=\"out\"", t->frames_out);
	prom_family(r, "insel_secondary_drops_total", "counter",
		    "Datagrams or frames the auxiliaries dropped, by where and why");
	for (size_t i = 0; i < t->ndrops; i++) {
		char labels[96], where[16];
		const char *colon = strchr(t->drops[i].reason, ':');
		size_t wl = colon ? (size_t)(colon - t->drops[i].reason) : 0;

		snprintf(where, sizeof where, "%.*s", (int)wl, t->drops[i].reason);
		snprintf(labels, sizeof labels, "where=\"%s\",reason=\"%s\"", where,
			 colon ? colon + 1 : t->drops[i].reason);
		prom_sample_u64(r, "insel_secondary_drops_total", labels, t->drops[i].n);
	}
}

static void render_room_casts(struct http_reply *r, const struct traffic *t)
{
	static const char casts[] = "insel_secondary_room_casts_total";
	static const char drops[] = "insel_secondary_room_cast_drops_total";
	char labels[96];

	prom_family(r, casts, "counter", "Broadcast and multicast datagrams a room's legs "
		    "carried out to other sites or delivered in from them, by room");
	for (size_t i = 0; i < t->nrooms; i++) {
		const struct room_casts *c = &t->rooms[i];
		const struct {
			const char *kind, *direction;
			uint64_t n;
		} v[] = {
			{"broadcast", "out", c->bcast_out}, {"broadcast", "in", c->bcast_in},
			{"multicast", "out", c->mcast_out}, {"multicast", "in", c->mcast_in},
		};

		for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) {
			snprintf(labels, sizeof labels, "room=\"%s\",kind=\"%s\",direction=\"%s\"",
				 c->room, v[j].kind, v[j].direction);
			prom_sample_u64(r, casts, labels, v[j].n);
		}
	}
	prom_family(r, drops, "counter", "A room's broadcast and multicast refused: from a "
		    "LAN host that is no member, or past a member's allowance");
	for (size_t i = 0; i < t->nrooms; i++) {
		snprintf(labels, sizeof labels, "room=\"%s\",reason=\"nonmember\"", t->rooms[i].room);
		prom_sample_u64(r, drops, labels, t->rooms[i].nonmember);
		snprintf(labels, sizeof labels, "room=\"%s\",reason=\"limited\"", t->rooms[i].room);
		prom_sample_u64(r, drops, labels, t->rooms[i].limited);
	}
}

typedef uint64_t (*leg_count_fn)(const struct room_leg_traffic *leg, bool out);

/* One family of the legs' counters: value(leg, out) is the leg's count that way. */
static void render_leg_family(struct http_reply *r, const struct traffic *t,
			      const char *name, const char *help, leg_count_fn value)
{
	char labels[ROOM_NAME_MAX + PKI_NAME_MAX + 48];

	prom_family(r, name, "counter", help);
	for (size_t i = 0; i < t->nlegs; i++)
		for (int out = 1; out >= 0; out--) {
			snprintf(labels, sizeof labels, "room=\"%s\",site=\"%s\",direction=\"%s\"",
				 t->legs[i].room, t->legs[i].site, out ? "out" : "in");
			prom_sample_u64(r, name, labels, value(&t->legs[i], out));
		}
}

static uint64_t leg_packets(const struct room_leg_traffic *l, bool out)
{
	return out ? l->packets_out : l->packets_in;
}

static uint64_t leg_bytes(const struct room_leg_traffic *l, bool out)
{
	return out ? l->bytes_out : l->bytes_in;
}

static void render_room_legs(struct http_reply *r, const struct traffic *t)
{
	render_leg_family(r, t, "insel_secondary_room_packets_total", "Packets a room's leg "
			  "carried out from this LAN to another member site or in from it, by "
			  "room and site", leg_packets);
	render_leg_family(r, t, "insel_secondary_room_bytes_total",
			  "Bytes of those packets (IP headers included)", leg_bytes);
}

static void render_links(struct http_reply *r, struct secondary *s)
{
	uint64_t up = 0;

	for (size_t i = 0; i < s->ntrunks; i++)
		up += s->trunks[i].up_since_ms != 0;
	prom_family(r, "insel_secondary_trunks", "gauge", "Site-to-site trunks, by state");
	prom_sample_u64(r, "insel_secondary_trunks", "state=\"up\"", up);
	prom_sample_u64(r, "insel_secondary_trunks", "state=\"down\"", s->ntrunks - up);
	prom_family(r, "insel_secondary_principal_link_up", "gauge",
		    "1 while the link to the principal is up");
	prom_sample_u64(r, "insel_secondary_principal_link_up", NULL,
			principal_link_up(&s->principal) ? 1 : 0);
}

static void on_metrics(void *ctx, const struct http_request *req, struct http_reply *r)
{
	struct secondary *s = ctx;
	struct sec_metrics *m = s->metrics;
	struct traffic *now = malloc(sizeof *now);

	http_reply_status(r, 200, PROM_CONTENT_TYPE);
	prom_family(r, "insel_secondary_up", "gauge", "1 while the secondary serves");
	prom_sample_u64(r, "insel_secondary_up", NULL, 1);
	render_calls(r, s);
	prom_family(r, "insel_secondary_call_setups_total", "counter",
		    "Calls that came up (both sides count theirs)");
	prom_sample_u64(r, "insel_secondary_call_setups_total", NULL, m->calls_up_total);
	prom_family(r, "insel_secondary_call_setup_duration_seconds", "histogram",
		    "From a call's start on this side to its first answered probe");
	prom_histogram_write(r, "insel_secondary_call_setup_duration_seconds", NULL,
			     &m->setup_seconds);
	render_reasons(r, "insel_secondary_call_refusals_total",
		       "Calls that ended before they came up (refused, failed), by reason",
		       &m->refusals);
	render_reasons(r, "insel_secondary_calls_ended_total",
		       "Calls that ended after they came up, by reason", &m->endings);
	if (now) {
		*now = m->gone;
		for (struct call *call = s->calls; call; call = call->next)
			if (call->last_stats)
				add_stats(now, call->last_stats, call);
		render_traffic(r, now);
		render_room_casts(r, now);
		render_room_legs(r, now);
		free(now);
	}
	render_links(r, s);
	sec_stats_refresh(s);
}

int sec_metrics_start(struct secondary *s)
{
	struct http_server_config cfg = {
		.listen = s->cfg.metrics_listen,
		.cert_file = s->cfg.metrics_cert,
		.key_file = s->cfg.metrics_key,
		.allow_plain_remote = s->cfg.metrics_plain_remote,
		.max_connections = 16,
		.max_per_client = 4,
	};
	char err[300];
	int rc;

	if (!s->cfg.metrics_listen)
		return 0;
	s->metrics = calloc(1, sizeof *s->metrics);
	if (!s->metrics)
		return -ENOMEM;
	prom_histogram_init(&s->metrics->setup_seconds, prom_setup_seconds,
			    sizeof prom_setup_seconds / sizeof prom_setup_seconds[0]);
	rc = http_server_start(s->loop, &cfg, &s->metrics->http, err, sizeof err);
	if (rc == 0)
		rc = http_server_route(s->metrics->http, "/metrics", on_metrics, s);
	if (rc != 0) {
		log_error("metrics: %s", err);
		sec_metrics_stop(s);
		return rc;
	}
	log_info("metrics on %s%s (port %u)", http_server_is_tls(s->metrics->http) ? "https://"
		 : "http://", s->cfg.metrics_listen, http_server_port(s->metrics->http));
	return 0;
}

void sec_metrics_stop(struct secondary *s)
{
	if (s->metrics && s->metrics->http) {
		http_server_close(s->metrics->http, NULL, NULL);
		s->metrics->http = NULL;
	}
}

void sec_metrics_free(struct secondary *s)
{
	free(s->metrics);
	s->metrics = NULL;
}
