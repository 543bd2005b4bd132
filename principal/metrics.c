/* The principal's /metrics page (metrics.h). Everything here is a count, a state or a
 * duration: no name of a user, no address, no key. The directory's figures come from
 * one read of it per scrape. */
#include "metrics.h"

#include <stdio.h>

#include "prom.h"
#include "wire_errors.h"

static void render_directory(struct http_reply *r, const struct principal_metrics_view *v)
{
	struct db_counts n;

	if (db_counts(v->api->db, v->now, &n) != 0)
		return;  /* the scrape shows the rest; insel_principal_up says it served */
	prom_family(r, "insel_principal_lans", "gauge",
		    "LANs in the directory, by whether a gateway serving them is up");
	prom_sample_u64(r, "insel_principal_lans", "state=\"up\"", (uint64_t)n.lans_up);
	prom_sample_u64(r, "insel_principal_lans", "state=\"down\"",
			(uint64_t)(n.lans - n.lans_up));
	prom_family(r, "insel_principal_secondaries", "gauge",
		    "Gateways (secondaries) in the directory, by state");
	prom_sample_u64(r, "insel_principal_secondaries", "state=\"up\"",
			(uint64_t)n.secondaries_up);
	prom_sample_u64(r, "insel_principal_secondaries", "state=\"down\"",
			(uint64_t)(n.secondaries - n.secondaries_up));
	prom_family(r, "insel_principal_active_calls", "gauge",
		    "Calls recorded as started and not yet ended");
	prom_sample_u64(r, "insel_principal_active_calls", NULL, (uint64_t)n.active_calls);
}

static void render_api(struct http_reply *r, const struct api_server *a)
{
	prom_family(r, "insel_principal_api_requests_total", "counter",
		    "API requests received from secondaries and operators' tools");
	prom_sample_u64(r, "insel_principal_api_requests_total", NULL, a->requests);
	prom_family(r, "insel_principal_api_errors_total", "counter",
		    "API requests answered with an error, by wire error code (docs/errors.md)");
	for (unsigned i = 0; i < WERR_COUNT; i++) {
		char labels[96];

		snprintf(labels, sizeof labels, "code=\"%s\"", wire_error_name(i));
		prom_sample_u64(r, "insel_principal_api_errors_total", labels,
				a->errors_by_code[i]);
	}
	prom_family(r, "insel_principal_api_request_duration_seconds", "histogram",
		    "Time the daemon's loop spent on each API request");
	prom_histogram_write(r, "insel_principal_api_request_duration_seconds", NULL,
			     &a->request_seconds);
	prom_family(r, "insel_principal_lookups_total", "counter",
		    "Look-ups of a callee (user, host or address)");
	prom_sample_u64(r, "insel_principal_lookups_total", NULL, a->lookups);
	prom_family(r, "insel_principal_lookups_failed_total", "counter",
		    "Look-ups that found no callee or no gateway for it");
	prom_sample_u64(r, "insel_principal_lookups_failed_total", NULL, a->lookups_failed);
	prom_family(r, "insel_principal_lookup_duration_seconds", "histogram",
		    "Time one look-up took in the directory");
	prom_histogram_write(r, "insel_principal_lookup_duration_seconds", NULL,
			     &a->lookup_seconds);
	prom_family(r, "insel_principal_logins_failed_total", "counter",
		    "Password checks that found a wrong user name or password");
	prom_sample_u64(r, "insel_principal_logins_failed_total", NULL, a->logins_failed);
}

void principal_metrics_render(struct http_reply *r, const struct principal_metrics_view *v)
{
	http_reply_status(r, 200, PROM_CONTENT_TYPE);
	prom_family(r, "insel_principal_up", "gauge", "1 while the principal serves");
	prom_sample_u64(r, "insel_principal_up", NULL, 1);
	prom_family(r, "insel_principal_connections", "gauge",
		    "Authenticated TLS connections open (secondaries and operators' tools)");
	prom_sample_u64(r, "insel_principal_connections", NULL, (uint64_t)v->connections);
	render_api(r, v->api);
	render_directory(r, v);
}
