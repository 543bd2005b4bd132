/* The principal's daemon (serve.c), started by `insel-principal serve` (cmd_serve.c). */
#ifndef INSEL_PRINCIPAL_SERVE_H
#define INSEL_PRINCIPAL_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "relay_choice.h"
#include "web.h"

struct serve_options {
	struct ip_endpoint listen;
	const char *db_path;
	const char *events_path;  /* the event log, NULL: beside db_path (events.h) */
	const char *ca, *cert, *key;
	int64_t down_after_s;      /* a secondary silent this long is down */
	int64_t heartbeat_ms;      /* interval suggested to secondaries */
	size_t max_connections;    /* authenticated connections */
	unsigned max_pending;      /* connections still in their handshake, in total */
	unsigned max_pending_per_source;
	unsigned handshake_timeout_ms;
	const char *port_file;     /* if set, the bound port is written there */
	const char *seccomp;       /* the syscall allowlist: "on" (NULL), "off", "log" */
	const char *issuing_ca_key;  /* online issuing key for renewals (NULL: queue them) */
	int64_t issue_validity_s;  /* lifetime of certificates issued on renewal */
	int64_t expiry_warning_s;  /* warn of certificates expiring within this */
	bool stun;                 /* answer STUN Binding requests on stun_listen */
	bool stun_explicit;        /* stun_listen was configured: failing to bind is fatal */
	struct ip_endpoint stun_listen;
	bool stun_alternate;       /* answer on a second port too (stun_alternate_port) */
	bool stun_alternate_explicit;
	uint16_t stun_alternate_port;  /* 0: ephemeral */
	bool relay;                /* run insel-relay (docs/relay.md) on relay_listen */
	bool relay_explicit;       /* relay_listen was configured: failing to start is fatal */
	struct ip_endpoint relay_listen;
	bool relay_has_public;     /* the address secondaries are told ([relay] public) */
	struct ip_endpoint relay_public;
	const char *relay_program; /* NULL: beside this program */
	const char *relay_user;    /* whom the relay becomes when run as root */
	uint64_t relay_rate;       /* bytes per second per allocation; 0: the relay's */
	unsigned relay_per_secondary;  /* live allocations per secondary */
	enum relay_policy relay_choose;  /* [relay] choose: which relay carries a call */
	unsigned relay_max_allocations;  /* in all; 0: the relay's */
	uint64_t relay_expiry_ms;  /* an allocation no leg refreshed this long goes; 0: 60 s */
	bool relay_tcp;            /* the relay's TLS-over-TCP fallback on relay_tcp_listen */
	bool relay_tcp_explicit;   /* configured: failing to bind it is fatal */
	struct ip_endpoint relay_tcp_listen;
	const char *relay_tls_cert, *relay_tls_key;  /* its certificate (default: ours) */
	bool splice;               /* pair secondaries' streams on splice_listen */
	bool splice_explicit;      /* splice_listen was configured: failing to bind is fatal */
	struct ip_endpoint splice_listen;
	struct web_options web;    /* the live web view ([web]); off when web.listen is NULL */
	/* [metrics] (docs/metrics.md): /metrics on metrics_listen when set; HTTPS with
	 * metrics_cert and metrics_key; plain HTTP off loopback only if metrics_plain_remote */
	const char *metrics_listen, *metrics_cert, *metrics_key;
	bool metrics_plain_remote;
};

/* sandbox.c: installs the daemon's syscall allowlist; 0 or -errno. */
int principal_sandbox_enter(const char *mode);

/* Runs until SIGINT or SIGTERM; returns the exit code. */
int serve_run(const struct serve_options *o);

#endif
