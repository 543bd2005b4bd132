/* Prometheus text exposition (prom.h). */
#include "prom.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const double prom_fast_seconds[12] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
				      0.005, 0.01, 0.025, 0.1, 0.25, 1.0};
const double prom_setup_seconds[12] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
				       1.0, 2.5, 10.0, 60.0};

void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nbounds)
{
	memset(h, 0, sizeof *h);
	h->bounds = bounds;
	h->nbounds = nbounds < PROM_MAX_BUCKETS ? nbounds : PROM_MAX_BUCKETS;
}

void prom_histogram_observe(struct prom_histogram *h, double value)
{
	size_t i = 0;

	if (!isfinite(value) || value < 0)
		value = 0;
	while (i < h->nbounds && value > h->bounds[i])
		i++;
	if (i < h->nbounds)
		h->in_bucket[i]++;
	h->count++;
	h->sum += value;
}

void prom_family(struct http_reply *r, const char *name, const char *type, const char *help)
{
	http_reply_printf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_sample(struct http_reply *r, const char *name, const char *labels, double value)
{
	if (labels && *labels)
		http_reply_printf(r, "%s{%s} %.17g\n", name, labels, value);
	else
		http_reply_printf(r, "%s %.17g\n", name, value);
}

void prom_sample_u64(struct http_reply *r, const char *name, const char *labels,
		     uint64_t value)
{
	if (labels && *labels)
		http_reply_printf(r, "%s{%s} %llu\n", name, labels, (unsigned long long)value);
	else
		http_reply_printf(r, "%s %llu\n", name, (unsigned long long)value);
}

void prom_histogram_write(struct http_reply *r, const char *name, const char *labels,
			  const struct prom_histogram *h)
{
	const char *sep = labels && *labels ? "," : "";
	uint64_t cumulative = 0;

	if (!labels)
		labels = "";
	for (size_t i = 0; i < h->nbounds; i++) {
		cumulative += h->in_bucket[i];
		http_reply_printf(r, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
				  h->bounds[i], (unsigned long long)cumulative);
	}
	http_reply_printf(r, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
			  (unsigned long long)h->count);
	if (*labels) {
		http_reply_printf(r, "%s_sum{%s} %.17g\n", name, labels, h->sum);
		http_reply_printf(r, "%s_count{%s} %llu\n", name, labels,
				  (unsigned long long)h->count);
	} else {
		http_reply_printf(r, "%s_sum %.17g\n%s_count %llu\n", name, h->sum, name,
				  (unsigned long long)h->count);
	}
}

const char *prom_label(const char *text, char *out, size_t outlen)
{
	size_t n = 0;

	for (; text && *text && n + 1 < outlen; text++) {
		unsigned char c = (unsigned char)*text;

		out[n++] = isalnum(c) || strchr("_-.:@", c) ? (char)c : '_';
	}
	if (outlen)
		out[n] = '\0';
	return out;
}
