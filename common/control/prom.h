/* The Prometheus text exposition format (version 0.0.4), written into an HTTP reply
 * (http_server.h): metric families with their HELP and TYPE lines, samples with labels,
 * and histograms kept here with fixed buckets. What the daemons' /metrics pages are made
 * of (docs/metrics.md lists every name). */
#ifndef INSEL_PROM_H
#define INSEL_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "http_server.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_MAX_BUCKETS 16

/* A histogram: bounds are the buckets' upper bounds, increasing (+Inf is implied). */
struct prom_histogram {
	const double *bounds;
	size_t nbounds;
	uint64_t in_bucket[PROM_MAX_BUCKETS];  /* observations in (bounds[i-1], bounds[i]] */
	uint64_t count;
	double sum;
};

/* Bounds in seconds for what happens on one turn of an event loop (50 µs .. 1 s), and for
 * what crosses networks (a call's set-up: 1 ms .. 60 s). */
extern const double prom_fast_seconds[12];
extern const double prom_setup_seconds[12];

void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nbounds);
void prom_histogram_observe(struct prom_histogram *h, double value);

/* The HELP and TYPE lines of a family ("counter", "gauge", "histogram"). */
void prom_family(struct http_reply *r, const char *name, const char *type, const char *help);
/* One sample; labels is NULL or 'key="value",...' (values already safe: prom_label). */
void prom_sample(struct http_reply *r, const char *name, const char *labels, double value);
void prom_sample_u64(struct http_reply *r, const char *name, const char *labels,
		     uint64_t value);
/* The _bucket, _sum and _count samples of a histogram. */
void prom_histogram_write(struct http_reply *r, const char *name, const char *labels,
			  const struct prom_histogram *h);
/* A label value made safe from any text: letters, digits, '_', '-', '.', ':' and '@'
 * are kept, anything else becomes '_'; at most outlen - 1 bytes. */
const char *prom_label(const char *text, char *out, size_t outlen);

#endif
