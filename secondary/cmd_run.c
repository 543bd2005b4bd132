/* `insel-secondary run --config FILE`: the LAN gateway daemon. Loads its configuration,
 * forks the key holder (keyholder_proc.c) and loads its certificate, keeps the link to the
 * principal, and stops cleanly on SIGTERM or SIGINT.
 * `insel-secondary check-config --config FILE` only validates the file. */
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "err.h"
#include "keyholder_proc.h"
#include "log.h"
#include "opts.h"
#include "metrics.h"
#include "secondary.h"
#include "tls.h"

#define CONFIG_ARG_GO_ON (-1)

/* The one option of run and check-config, --config FILE: CONFIG_ARG_GO_ON with *path
 * set, or the exit code (EXIT_OK after printing the usage for --help). */
static int config_arg(int argc, char **argv, const char *usage, const char **path)
{
	const struct opt table[] = {{"--config", true, path, NULL}};
	struct opts o = {.table = table, .n = 1};

	*path = NULL;
	switch (opts_parse(&o, argc, argv, 1)) {
	case OPTS_HELP:
		printf("%s", usage);
		return EXIT_OK;
	case OPTS_ERROR:
		fprintf(stderr, "insel-secondary %s: %s\n%s", argv[0], o.why, usage);
		return EXIT_USAGE;
	default:
		if (*path)
			return CONFIG_ARG_GO_ON;
		fprintf(stderr, "%s", usage);
		return EXIT_USAGE;
	}
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct secondary *s = sig->data;

	log_info("signal %d: stopping", signum);
	s->stopping = true;
	trunks_stop(s);
	rooms_stop(s);
	standby_stop(s);
	while (s->calls)
		call_event(s->calls, CALL_EV_SHUTDOWN, NULL);
	client_api_stop(s);
	peer_api_stop(s);
	renew_stop(s);
	principal_link_stop(&s->principal);
	sec_metrics_stop(s);
	secondary_relay_stop(s);
	links_stop(s);
	call_rates_stop(s);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->sigchld, NULL);
}

static void watch_signals(struct secondary *s)
{
	uv_signal_init(s->loop, &s->sigterm);
	uv_signal_init(s->loop, &s->sigint);
	s->sigterm.data = s;
	s->sigint.data = s;
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	uv_signal_start(&s->sigint, on_signal, SIGINT);
}

/* The CA's PEM, kept for the auxiliaries: each checks the relay's certificate on the TLS
 * fallback against it, and can open no file itself. Without it (too big for start, or
 * unreadable now that the credentials loaded) calls simply have no TCP fallback. */
static void keep_relay_ca(struct secondary *s)
{
	FILE *f = fopen(s->cfg.ca, "re");
	size_t n = f ? fread(s->relay_ca, 1, sizeof s->relay_ca, f) : 0;

	if (f)
		fclose(f);
	if (n == 0 || n >= sizeof s->relay_ca) {
		log_warn("%s: cannot keep the CA for the relay's TCP fallback (%s): calls will "
			 "have none", s->cfg.ca, n ? "over 8 KiB" : "unreadable");
		s->relay_ca_len = 0;
		return;
	}
	s->relay_ca[n] = '\0';
	s->relay_ca_len = n;
}

/* The key holder is forked first, before any socket exists: from then on this process
 * has only the certificate, and asks the holder for every handshake's signature. */
static int load_credentials(struct secondary *s, char *err, size_t errlen)
{
	struct tls_signer signer;
	int rc = keyholder_spawn(s->cfg.key, &s->keyholder, err, errlen);

	if (rc)
		return rc;
	renew_recover_files(&s->cfg, &s->keyholder);
	keyholder_tls_signer(&s->keyholder, &s->keyholder.current, &signer);
	rc = tls_creds_load_signer(&s->creds, s->cfg.ca, s->cfg.cert, &signer, err, errlen);
	if (rc)
		keyholder_close(&s->keyholder);
	if (rc == 0)
		keep_relay_ca(s);
	return rc;
}

/* Without root a gateway still carries UDP calls, for tests and trials: each auxiliary
 * keeps this process's uid (it confines itself all the same: no new privileges, its
 * syscall allowlist), and what needs root is refused rather than attempted (a TUN
 * interface, routes and rules: network calls and trunks). With root nothing changes. */
static int check_privileges(struct secondary *s, const char *path)
{
	s->unprivileged = geteuid() != 0;
	if (!s->unprivileged)
		return 0;
	if (s->cfg.standby.enabled) {
		fprintf(stderr, "insel-secondary: %s: [standby] needs root (it adds and removes "
				"the LAN address); run as root, or remove the section\n", path);
		return EXIT_CONFIG;
	}
	if (s->cfg.ntrunks) {
		fprintf(stderr, "insel-secondary: %s: [%s] needs root (a trunk is a network "
				"call: a TUN interface and routes); run as root, or remove the "
				"section\n", path, s->cfg.trunks[0].name);
		return EXIT_CONFIG;
	}
	log_warn("not running as root (uid %u): each auxiliary keeps this uid instead of one "
		 "of its own per call ([auxiliary] uid_range and user are not used), and network "
		 "calls (--tun) are refused: they need root", (unsigned)geteuid());
	s->cfg.aux_user = NULL;
	s->cfg.aux_keep_identity = true;
	return 0;
}

int run_main(int argc, char **argv)
{
	static const char usage[] = "Usage: insel-secondary run --config FILE\n";
	const char *path;
	int rc = config_arg(argc, argv, usage, &path);
	struct secondary s = {0};
	char err[512];

	if (rc != CONFIG_ARG_GO_ON)
		return rc;
	if (secondary_config_load(&s.cfg, path))
		return EXIT_CONFIG;
	if (check_privileges(&s, path)) {
		secondary_config_free(&s.cfg);
		return EXIT_CONFIG;
	}
	if (load_credentials(&s, err, sizeof err)) {
		fprintf(stderr, "insel-secondary: %s\n", err);
		secondary_config_free(&s.cfg);
		return EXIT_CONFIG;
	}
	/* A peer that hangs up mid-write must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	/* The relay's keeper before the loop exists, so that it inherits nothing of it. */
	if (secondary_relay_fork(&s)) {
		tls_creds_free(s.creds);
		keyholder_close(&s.keyholder);
		secondary_config_free(&s.cfg);
		return EXIT_UNAVAILABLE;
	}
	/* The LAN address keeper, before any socket, like the key holder (and after the
	 * relay's keeper, which must not hold its socket pair open: it closes all others). */
	if (standby_prepare(&s)) {
		free(s.relay);
		keyholder_close(&s.keyholder);
		tls_creds_free(s.creds);
		secondary_config_free(&s.cfg);
		return EXIT_CONFIG;
	}
	s.loop = uv_default_loop();
	keyholder_watch(s.loop, &s.keyholder, &s.sigchld);
	if (peer_api_start(&s) || client_api_start(&s) || secondary_relay_start(&s) ||
	    standby_start(&s)) {
		peer_api_stop(&s);
		client_api_stop(&s);
		secondary_relay_stop(&s);
		standby_stop(&s);
		uv_close((uv_handle_t *)&s.sigchld, NULL);
		uv_run(s.loop, UV_RUN_DEFAULT);
		tls_creds_free(s.creds);
		keyholder_close(&s.keyholder);
		standby_free(&s);
		secondary_config_free(&s.cfg);
		return EXIT_UNAVAILABLE;
	}
	watch_signals(&s);
	if (!s.unprivileged)  /* an earlier run's rules are root's to remove */
		rules_sweep_leftovers();
	if (sec_metrics_start(&s) != 0) {
		on_signal(&s.sigterm, SIGTERM);
		uv_run(s.loop, UV_RUN_DEFAULT);
		uv_loop_close(s.loop);
		sec_metrics_free(&s);
		tls_creds_free(s.creds);
		keyholder_close(&s.keyholder);
		standby_free(&s);
		secondary_config_free(&s.cfg);
		return EXIT_UNAVAILABLE;
	}
	principal_link_start(&s.principal, &s);
	links_start(&s);
	call_rates_start(&s);
	renew_start(&s);
	trunks_start(&s);
	/* Listeners exist: from here on only what serving needs (sandbox.c). */
	if (secondary_sandbox_enter(&s.cfg) != 0) {
		on_signal(&s.sigterm, SIGTERM);
		uv_run(s.loop, UV_RUN_DEFAULT);
		uv_loop_close(s.loop);
		tls_creds_free(s.creds);
		secondary_config_free(&s.cfg);
		return EXIT_UNAVAILABLE;
	}
	log_info("secondary '%s' for LAN '%s' started", s.cfg.name, s.cfg.lan);
	if (s.cfg.peer_public6_derived) {
		char at[IP_STRLEN];

		log_info("public6 is not set: registering %s, the wan's IPv6 address at the peer "
			 "port, as this gateway's IPv6 endpoint (the principal checks it)",
			 ip_endpoint_format(&s.cfg.peer_public6, at, sizeof at));
	}
	uv_run(s.loop, UV_RUN_DEFAULT);
	uv_loop_close(s.loop);
	sec_metrics_free(&s);
	free(s.relay);
	tls_creds_free(s.creds);
	keyholder_close(&s.keyholder);
	standby_free(&s);
	secondary_config_free(&s.cfg);
	return EXIT_OK;
}

int check_config_main(int argc, char **argv)
{
	static const char usage[] = "Usage: insel-secondary check-config --config FILE\n";
	const char *path;
	int rc = config_arg(argc, argv, usage, &path);
	struct secondary_config cfg;

	if (rc != CONFIG_ARG_GO_ON)
		return rc;
	if (secondary_config_load(&cfg, path))
		return EXIT_CONFIG;
	printf("%s: configuration is valid (LAN '%s', %zu prefix%s)\n", path, cfg.lan,
	       cfg.nprefixes, cfg.nprefixes == 1 ? "" : "es");
	secondary_config_free(&cfg);
	return EXIT_OK;
}
