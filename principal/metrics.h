/* The principal's /metrics page (docs/metrics.md): what the daemon counts (api.h), what
 * the directory holds now, and the daemon's connections, in Prometheus' text format. */
#ifndef INSEL_PRINCIPAL_METRICS_H
#define INSEL_PRINCIPAL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "http_server.h"

struct principal_metrics_view {
	struct api_server *api;
	size_t connections;       /* authenticated TLS connections open */
	int64_t now;              /* seconds since the epoch */
};

void principal_metrics_render(struct http_reply *r, const struct principal_metrics_view *v);

#endif
