/* `insel-principal serve`: reads the configuration (a file, see
 * deploy/principal.conf.example, and/or flags that override it) and runs the daemon. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "err.h"
#include "principal.h"
#include "relay_keeper.h"
#include "relay_link.h"
#include "serve.h"
#include "splice.h"
#include "stun_server.h"

#define DEFAULT_LISTEN "0.0.0.0:7443"

static const struct cfg_key schema[] = {
	{"principal", "listen", CFG_ENDPOINT, 0, 0, 0, DEFAULT_LISTEN},
	{"principal", "database", CFG_PATH, 0, 0, 0, DB_DEFAULT_PATH},
	{"directory", "engine", CFG_STRING, 0, 0, 0, "sqlite"},
	{"directory", "dsn", CFG_STRING, 0, 0, 0, NULL},
	{"directory", "events", CFG_PATH, 0, 0, 0, NULL},
	{"principal", "ca", CFG_PATH, 0, 0, 0, NULL},
	{"principal", "cert", CFG_PATH, 0, 0, 0, NULL},
	{"principal", "key", CFG_PATH, 0, 0, 0, NULL},
	{"principal", "down_after", CFG_DURATION, 0, 1000, 86400000, "30s"},
	{"principal", "heartbeat", CFG_DURATION, 0, 100, 3600000, "10s"},
	{"principal", "max_connections", CFG_INT, 0, 1, 1000000, "4096"},
	{"principal", "seccomp", CFG_STRING, 0, 0, 0, "on"},
	{"principal", "max_pending", CFG_INT, 0, 1, 1000000, "256"},
	{"principal", "max_pending_per_source", CFG_INT, 0, 1, 1000000, "16"},
	{"principal", "handshake_timeout", CFG_DURATION, 0, 100, 600000, "10s"},
	{"principal", "issuing_ca_key", CFG_PATH, 0, 0, 0, NULL},
	{"principal", "issue_validity", CFG_DURATION, 0, 60000, 36500LL * 86400000, "365d"},
	{"principal", "expiry_warning", CFG_DURATION, 0, 1000, 36500LL * 86400000, "30d"},
	{"stun", "listen", CFG_STRING, 0, 0, 0, NULL},
	{"stun", "alternate_port", CFG_STRING, 0, 0, 0, NULL},
	{"relay", "listen", CFG_STRING, 0, 0, 0, NULL},
	{"relay", "public", CFG_ENDPOINT, 0, 0, 0, NULL},
	{"relay", "program", CFG_PATH, 0, 0, 0, NULL},
	{"relay", "user", CFG_STRING, 0, 0, 0, "nobody"},
	{"relay", "rate", CFG_INT, 0, 0, 1LL << 40, "0"},  /* 0: no limit */
	{"relay", "per_secondary", CFG_INT, 0, 1, 100000, "256"},
	{"relay", "max_allocations", CFG_INT, 0, 1, 1048576, "4096"},
	{"relay", "expiry", CFG_DURATION, 0, 1000, 86400000, "60s"},
	{"relay", "tcp_listen", CFG_STRING, 0, 0, 0, NULL},
	{"relay", "tls_cert", CFG_PATH, 0, 0, 0, NULL},
	{"relay", "tls_key", CFG_PATH, 0, 0, 0, NULL},
	{"relay", "choose", CFG_STRING, 0, 0, 0, "designated"},
	{"splice", "listen", CFG_STRING, 0, 0, 0, NULL},
	{"web", "listen", CFG_ENDPOINT, 0, 0, 0, NULL},
	{"web", "https", CFG_BOOL, 0, 0, 0, "on"},
	{"web", "cert", CFG_PATH, 0, 0, 0, NULL},
	{"web", "key", CFG_PATH, 0, 0, 0, NULL},
	{"metrics", "listen", CFG_STRING, 0, 0, 0, NULL},
	{"metrics", "cert", CFG_PATH, 0, 0, 0, NULL},
	{"metrics", "key", CFG_PATH, 0, 0, 0, NULL},
	{"metrics", "plain_remote", CFG_BOOL, 0, 0, 0, "no"},
};
#define NKEYS (sizeof schema / sizeof schema[0])

static const char *pick(const struct cli *c, const char *flag, const struct cfg *cfg,
			const char *key)
{
	const char *v = cli_opt(c, flag);

	return v ? v : cfg ? cfg_str(cfg, "principal", key) : NULL;
}

static int duration_s(const struct cli *c, const char *flag, const struct cfg *cfg,
		      const char *key, uint64_t dflt_ms, uint64_t *ms)
{
	const char *v = cli_opt(c, flag);

	if (v)
		return cfg_parse_duration_ms(v, ms) ? cli_usage_error(c, "%s: not a duration "
								      "(e.g. 30s, 2m)", flag)
						    : 0;
	*ms = cfg ? cfg_duration_ms(cfg, "principal", key) : dflt_ms;
	return 0;
}

/* A count from a flag, else from the file, else its default. */
static int count_opt(const struct cli *c, const char *flag, const struct cfg *cfg,
		     const char *key, long long dflt, long long *out)
{
	const char *v = cli_opt(c, flag);

	if (v)
		return cfg_parse_int(v, out) || *out < 1 || *out > 1000000
			       ? cli_usage_error(c, "%s: a number from 1 to 1000000", flag)
			       : 0;
	*out = cfg ? cfg_int(cfg, "principal", key) : dflt;
	return 0;
}

/* Renewal and expiry warnings: issuing_ca_key, issue_validity, expiry_warning. */
static int resolve_lifecycle(struct cli *c, const struct cfg *cfg, struct serve_options *o)
{
	uint64_t validity_ms, warning_ms;
	int rc;

	o->issuing_ca_key = pick(c, "--issuing-ca-key", cfg, "issuing_ca_key");
	if ((rc = duration_s(c, "--issue-validity", cfg, "issue_validity", 365ULL * 86400000,
			     &validity_ms)) ||
	    (rc = duration_s(c, "--expiry-warning", cfg, "expiry_warning", 30ULL * 86400000,
			     &warning_ms)))
		return rc;
	if (validity_ms < 60000)
		return cli_usage_error(c, "--issue-validity must be at least 60s");
	o->issue_validity_s = (int64_t)(validity_ms / 1000);
	o->expiry_warning_s = (int64_t)(warning_ms / 1000);
	return 0;
}

/* The STUN responder: --stun-listen, else [stun] listen, ADDRESS:PORT or "off"; by
 * default the TLS listen address at port 3478 (an ephemeral port when that of the TLS
 * listener is ephemeral too, as in tests). */
static int resolve_stun(struct cli *c, const struct cfg *cfg, struct serve_options *o)
{
	const char *v = cli_opt(c, "--stun-listen");

	if (!v && cfg)
		v = cfg_str(cfg, "stun", "listen");
	o->stun = !v || strcmp(v, "off") != 0;
	o->stun_explicit = v != NULL;
	if (!o->stun)
		return 0;
	if (!v) {
		o->stun_listen = o->listen;
		o->stun_listen.port = o->listen.port ? STUN_DEFAULT_PORT : 0;
		return 0;
	}
	if (ip_endpoint_parse(v, &o->stun_listen))
		return cli_usage_error(c, "--stun-listen: '%s' is not ADDRESS:PORT or off", v);
	return 0;
}

/* The responder's second port: --stun-alternate-port, else [stun] alternate_port, a port
 * or "off"; by default 3480 (ephemeral when the responder's own port is). */
static int resolve_stun_alternate(struct cli *c, const struct cfg *cfg,
				  struct serve_options *o)
{
	const char *v = cli_opt(c, "--stun-alternate-port");
	if (!v && cfg)
		v = cfg_str(cfg, "stun", "alternate_port");
	char *end;
	unsigned long port;

	o->stun_alternate = o->stun && (!v || strcmp(v, "off") != 0);
	o->stun_alternate_explicit = v != NULL;
	o->stun_alternate_port = o->stun_listen.port ? STUN_DEFAULT_ALTERNATE_PORT : 0;
	if (!o->stun_alternate || !v)
		return 0;
	port = strtoul(v, &end, 10);
	if (!*v || *end || port > 65535)
		return cli_usage_error(c, "--stun-alternate-port: '%s' is not a port or off", v);
	o->stun_alternate_port = (uint16_t)port;
	return 0;
}

/* The relay's TLS-over-TCP fallback: [relay] tcp_listen, ADDRESS:PORT or "off"; by default
 * the relay's address at port 443 (ephemeral when the relay's port is). Its certificate:
 * [relay] tls_cert and tls_key, by default the principal's own. */
static int resolve_relay_tcp(struct cli *c, const struct cfg *cfg, struct serve_options *o)
{
	const char *v = cfg ? cfg_str(cfg, "relay", "tcp_listen") : NULL;
	const char *cert = cfg ? cfg_str(cfg, "relay", "tls_cert") : NULL;
	const char *key = cfg ? cfg_str(cfg, "relay", "tls_key") : NULL;

	o->relay_tcp = !v || strcmp(v, "off") != 0;
	o->relay_tcp_explicit = v != NULL;
	if (!o->relay_tcp)
		return 0;
	if (!v) {
		o->relay_tcp_listen = o->relay_listen;
		o->relay_tcp_listen.port = o->relay_listen.port ? RELAY_TCP_DEFAULT_PORT : 0;
	} else if (ip_endpoint_parse(v, &o->relay_tcp_listen)) {
		return cli_usage_error(c, "[relay] tcp_listen: '%s' is not ADDRESS:PORT or off", v);
	}
	if (!cert != !key)
		return cli_usage_error(c, "[relay] tls_cert and tls_key go together");
	o->relay_tls_cert = cert ? cert : o->cert;
	o->relay_tls_key = key ? key : o->key;
	return 0;
}

/* The relay: --relay-listen, else [relay] listen, ADDRESS:PORT or "off"; by default the
 * TLS listen address at port 3479 (ephemeral when the TLS port is), like STUN's. */
static int resolve_relay(struct cli *c, const struct cfg *cfg, struct serve_options *o)
{
	const char *v = cli_opt(c, "--relay-listen");
	const char *pub = cfg ? cfg_str(cfg, "relay", "public") : NULL;

	if (relay_policy_parse(cfg ? cfg_str(cfg, "relay", "choose") : "designated",
			       &o->relay_choose))
		return cli_usage_error(c, "[relay] choose: must be designated, principal or "
				       "least-loaded");
	if (!v && cfg)
		v = cfg_str(cfg, "relay", "listen");
	o->relay = !v || strcmp(v, "off") != 0;
	o->relay_explicit = v != NULL;
	if (!o->relay)
		return 0;
	if (!v) {
		o->relay_listen = o->listen;
		o->relay_listen.port = o->listen.port ? RELAY_DEFAULT_PORT : 0;
	} else if (ip_endpoint_parse(v, &o->relay_listen)) {
		return cli_usage_error(c, "--relay-listen: '%s' is not ADDRESS:PORT or off", v);
	}
	if (pub && ip_endpoint_parse(pub, &o->relay_public))
		return cli_usage_error(c, "[relay] public: '%s' is not ADDRESS:PORT", pub);
	o->relay_has_public = pub != NULL;
	o->relay_program = cfg ? cfg_str(cfg, "relay", "program") : NULL;
	o->relay_user = cfg ? cfg_str(cfg, "relay", "user") : "nobody";
	o->relay_rate = cfg ? (uint64_t)cfg_int(cfg, "relay", "rate") : 0;
	o->relay_per_secondary = cfg ? (unsigned)cfg_int(cfg, "relay", "per_secondary")
				     : RELAY_DEFAULT_PER_SECONDARY;
	o->relay_max_allocations = cfg ? (unsigned)cfg_int(cfg, "relay", "max_allocations") : 0;
	o->relay_expiry_ms = cfg ? cfg_duration_ms(cfg, "relay", "expiry") : 0;
	return resolve_relay_tcp(c, cfg, o);
}

/* The splice (signalling across NAT): --splice-listen, else [splice] listen,
 * ADDRESS:PORT or "off"; by default the TLS listen address at the next port (ephemeral
 * when the TLS port is). */
static int resolve_splice(struct cli *c, const struct cfg *cfg, struct serve_options *o)
{
	const char *v = cli_opt(c, "--splice-listen");

	if (!v && cfg)
		v = cfg_str(cfg, "splice", "listen");
	o->splice = !v || strcmp(v, "off") != 0;
	o->splice_explicit = v != NULL;
	if (!o->splice)
		return 0;
	if (!v) {
		o->splice_listen = o->listen;
		o->splice_listen.port = o->listen.port && o->listen.port < UINT16_MAX
					? (uint16_t)(o->listen.port + SPLICE_PORT_OFFSET) : 0;
		return 0;
	}
	if (ip_endpoint_parse(v, &o->splice_listen))
		return cli_usage_error(c, "--splice-listen: '%s' is not ADDRESS:PORT or off", v);
	return 0;
}

static bool is_loopback(const struct ip_addr *a)
{
	static const uint8_t v6_loopback[16] = {[15] = 1};

	return a->family == AF_INET ? a->bytes[0] == 127
				    : memcmp(a->bytes, v6_loopback, sizeof v6_loopback) == 0;
}

/* The web view (docs/webview.md): [web] listen, off unless set; HTTPS with [web] cert and
 * key, by default the principal's own, or, with https = off, plain HTTP on a loopback
 * address only (nothing on the network reads the page unencrypted). */
static int resolve_web(struct cli *c, const struct cfg *cfg, struct serve_options *o)
{
	const char *cert = cfg ? cfg_str(cfg, "web", "cert") : NULL;
	const char *key = cfg ? cfg_str(cfg, "web", "key") : NULL;
	struct ip_endpoint at;

	o->web.listen = cfg ? cfg_str(cfg, "web", "listen") : NULL;
	if (!o->web.listen)
		return 0;
	o->web.https = cfg_bool(cfg, "web", "https");
	if (ip_endpoint_parse(o->web.listen, &at))
		return cli_usage_error(c, "[web] listen: '%s' is not ADDRESS:PORT", o->web.listen);
	if (!o->web.https && !is_loopback(&at.addr))
		return cli_usage_error(c, "[web] https = off serves plain HTTP, on a loopback "
				       "address only (127.0.0.1:PORT or [::1]:PORT), not on %s",
				       o->web.listen);
	if (!cert != !key)
		return cli_usage_error(c, "[web] cert and key go together");
	o->web.cert = cert ? cert : o->cert;
	o->web.key = key ? key : o->key;
	return 0;
}

/* /metrics (docs/metrics.md): [metrics] listen, cert, key, plain_remote; off without
 * listen. */
static int resolve_metrics(struct cli *c, const struct cfg *cfg, struct serve_options *o)
{
	struct ip_endpoint ep;

	if (!cfg)
		return 0;
	o->metrics_listen = cfg_str(cfg, "metrics", "listen");
	o->metrics_cert = cfg_str(cfg, "metrics", "cert");
	o->metrics_key = cfg_str(cfg, "metrics", "key");
	o->metrics_plain_remote = cfg_bool(cfg, "metrics", "plain_remote");
	if (o->metrics_listen && ip_endpoint_parse(o->metrics_listen, &ep))
		return cli_usage_error(c, "[metrics] listen: '%s' is not ADDRESS:PORT",
				       o->metrics_listen);
	if (!o->metrics_cert != !o->metrics_key)
		return cli_usage_error(c, "[metrics] cert and key go together");
	return 0;
}

/* The directory: --db or --dsn, else [directory] engine: sqlite ([principal] database)
 * or postgresql ([directory] dsn). */
static int resolve_directory(struct cli *c, const struct cfg *cfg, const char **target)
{
	const char *engine = cfg ? cfg_str(cfg, "directory", "engine") : "sqlite";
	const char *dsn = cfg ? cfg_str(cfg, "directory", "dsn") : NULL;

	if (strcmp(c->db_path, DB_DEFAULT_PATH) != 0 || !cfg) {
		*target = c->db_path;
		return 0;
	}
	if (strcmp(engine, "postgresql") == 0) {
		if (!dsn || !db_target_is_dsn(dsn))
			return cli_usage_error(c, "[directory] engine = postgresql needs dsn = "
					       "a PostgreSQL connection string");
		*target = dsn;
		return 0;
	}
	if (strcmp(engine, "sqlite") != 0)
		return cli_usage_error(c, "[directory] engine: '%s' is neither sqlite nor "
				       "postgresql", engine);
	*target = cfg_str(cfg, "principal", "database");
	return 0;
}

static int resolve(struct cli *c, const struct cfg *cfg, struct serve_options *o)
{
	const char *listen = pick(c, "--listen", cfg, "listen");
	long long maxc, pending, per_source;
	uint64_t down_ms, hb_ms, handshake_ms;
	int rc;

	if (ip_endpoint_parse(listen ? listen : DEFAULT_LISTEN, &o->listen))
		return cli_usage_error(c, "--listen: '%s' is not ADDRESS:PORT", listen);
	if ((rc = resolve_directory(c, cfg, &o->db_path)))
		return rc;
	o->events_path = c->events ? c->events : cfg ? cfg_str(cfg, "directory", "events") : NULL;
	o->ca = pick(c, "--ca", cfg, "ca");
	o->cert = pick(c, "--cert", cfg, "cert");
	o->key = pick(c, "--key", cfg, "key");
	if (!o->ca || !o->cert || !o->key)
		return cli_usage_error(c, "the CA, certificate and key are needed: --ca, --cert, "
				       "--key, or ca/cert/key in [principal] of --config");
	if ((rc = duration_s(c, "--down-after", cfg, "down_after", 30000, &down_ms)) ||
	    (rc = duration_s(c, "--heartbeat", cfg, "heartbeat", 10000, &hb_ms)) ||
	    (rc = duration_s(c, "--handshake-timeout", cfg, "handshake_timeout", 10000,
			     &handshake_ms)) ||
	    (rc = count_opt(c, "--max-connections", cfg, "max_connections", 4096, &maxc)) ||
	    (rc = count_opt(c, "--max-pending", cfg, "max_pending", 256, &pending)) ||
	    (rc = count_opt(c, "--max-pending-per-source", cfg, "max_pending_per_source", 16,
			    &per_source)))
		return rc;
	if (handshake_ms < 100 || handshake_ms > 600000)
		return cli_usage_error(c, "--handshake-timeout must be from 100ms to 10m");
	if (down_ms < 1000)
		return cli_usage_error(c, "--down-after must be at least 1s");
	o->down_after_s = (int64_t)(down_ms / 1000);
	o->heartbeat_ms = (int64_t)hb_ms;
	o->max_connections = (size_t)maxc;
	o->max_pending = (unsigned)pending;
	o->max_pending_per_source = (unsigned)per_source;
	o->handshake_timeout_ms = (unsigned)handshake_ms;
	o->port_file = cli_opt(c, "--port-file");
	o->seccomp = cfg ? cfg_str(cfg, "principal", "seccomp") : NULL;
	if (o->seccomp && strcmp(o->seccomp, "on") && strcmp(o->seccomp, "off") &&
	    strcmp(o->seccomp, "log"))
		return cli_usage_error(c, "seccomp must be on, off or log");
	if ((rc = resolve_stun(c, cfg, o)) || (rc = resolve_stun_alternate(c, cfg, o)) ||
	    (rc = resolve_relay(c, cfg, o)) || (rc = resolve_splice(c, cfg, o)) ||
	    (rc = resolve_web(c, cfg, o)) ||
	    (rc = resolve_metrics(c, cfg, o)))
		return rc;
	return resolve_lifecycle(c, cfg, o);
}

int serve_main(int argc, char **argv)
{
	static const char *const opts[] = {"--config", "--listen", "--ca", "--cert", "--key",
					   "--down-after", "--heartbeat", "--port-file",
					   "--max-connections", "--max-pending",
					   "--max-pending-per-source", "--handshake-timeout",
					   "--issuing-ca-key", "--issue-validity", "--expiry-warning",
					   "--stun-listen", "--stun-alternate-port",
					   "--relay-listen", "--splice-listen", NULL};
	struct cli c = {.db_path = DB_DEFAULT_PATH,
			.usage = "[--config FILE] [--listen ADDR:PORT] [--ca FILE] [--cert FILE] "
				 "[--key FILE] [--down-after DURATION] [--heartbeat DURATION] "
				 "[--port-file FILE] [--max-connections N] [--max-pending N] "
				 "[--max-pending-per-source N] [--handshake-timeout DURATION] "
				 "[--issuing-ca-key FILE] [--issue-validity DURATION] "
				 "[--expiry-warning DURATION] [--stun-listen ADDR:PORT|off] "
				 "[--stun-alternate-port PORT|off] [--relay-listen ADDR:PORT|off] "
				 "[--splice-listen ADDR:PORT|off]"};
	struct serve_options o = {0};
	struct cfg cfg = {0};
	bool have_cfg = false;
	int rc;

	snprintf(c.prog, sizeof c.prog, "insel-principal serve");
	if (cli_parse(&c, argc, argv, opts, NULL, 0, 0))
		return c.exit_code;
	if (cli_opt(&c, "--config")) {
		if (cfg_load_file(&cfg, cli_opt(&c, "--config"), schema, NKEYS)) {
			fprintf(stderr, "%s: %s\n", c.prog, cfg_error(&cfg));
			cfg_free(&cfg);
			return EXIT_CONFIG;
		}
		have_cfg = true;
	}
	rc = resolve(&c, have_cfg ? &cfg : NULL, &o);
	if (!rc)
		rc = serve_run(&o);
	if (have_cfg)
		cfg_free(&cfg);
	return rc;
}
