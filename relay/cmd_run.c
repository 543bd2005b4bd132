/* `insel-relay run`: the process. Protects itself (not dumpable, parent-death signal),
 * checks that fd 3 is its control socket, takes its UDP socket (inherited, already bound
 * by the principal, or bound here with --listen), confines itself before it reads a
 * single datagram, and runs the loop until the control socket closes or a signal comes.
 * Exit status: 0 orderly (the principal closed the control socket, SIGTERM), 1 an error
 * (the socket, the confinement), 2 bad usage. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "opts.h"
#include "rand.h"
#include "relay.h"

static const char usage[] =
	"Usage: insel-relay run [--parent PID] (--socket-fd N | --listen ADDR:PORT)\n"
	"                       [--user NAME] [--rate BYTES_PER_S] [--max-allocations N]\n"
	"                       [--expiry DURATION]\n"
	"                       [(--tcp-listen ADDR:PORT | --tcp-socket-fd N)\n"
	"                        --ca FILE --tls-cert FILE --tls-key FILE]\n"
	"Started by insel-principal serve with its control socket on fd 3 (docs/relay.md).\n";

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void relay_end(struct relay *r, int exit_code, const char *why)
{
	if (r->state == RELAY_ENDING)
		return;
	if (exit_code)
		log_error("relay ending: %s", why);
	else
		log_info("relay ending: %s", why);
	r->state = RELAY_ENDING;
	r->exit_code = exit_code;
	log_info("relay totals: %llu forwarded (%llu bytes), %llu registrations, %llu "
		 "refused, %llu allocations expired",
		 (unsigned long long)r->table.reasons[FWD_FORWARDED],
		 (unsigned long long)r->table.bytes_forwarded,
		 (unsigned long long)r->table.reasons[FWD_REGISTERED],
		 (unsigned long long)(r->table.reasons[FWD_MALFORMED] +
				      r->table.reasons[FWD_UNKNOWN_ALLOCATION] +
				      r->table.reasons[FWD_BAD_MAC] +
				      r->table.reasons[FWD_OLD_COUNTER] +
				      r->table.reasons[FWD_SESSION_TAKEN] +
				      r->table.reasons[FWD_UNKNOWN_SESSION] +
				      r->table.reasons[FWD_WRONG_SOURCE] +
				      r->table.reasons[FWD_RATE_LIMITED]),
		 (unsigned long long)r->table.expired);
	relay_control_finish(r);
	relay_udp_close(r);
	relay_tcp_close(r);
	uv_timer_stop(&r->expiry_timer);
	close_handle((uv_handle_t *)&r->expiry_timer);
	close_handle((uv_handle_t *)&r->sigterm);
	close_handle((uv_handle_t *)&r->sigint);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	char why[48];

	snprintf(why, sizeof why, "stopped by signal %d", signum);
	relay_end(sig->data, EXIT_OK, why);
}

static void expired_one(void *ctx, uint64_t allocation)
{
	char hex[ID_STRLEN];

	log_info("allocation %s expired: no leg registered within the expiry time",
		 id_format(allocation, hex));
	relay_control_notify_expired(ctx, allocation);
}

static void on_expiry_tick(uv_timer_t *t)
{
	struct relay *r = t->data;

	fwd_expire(&r->table, uv_now(r->loop), expired_one, r);
}

static int init_handles(struct relay *r)
{
	int rc = uv_signal_init(r->loop, &r->sigterm);

	rc = rc ? rc : uv_signal_init(r->loop, &r->sigint);
	rc = rc ? rc : uv_timer_init(r->loop, &r->expiry_timer);
	rc = rc ? rc : relay_control_init(r);
	if (rc)
		return rc;
	r->sigterm.data = r->sigint.data = r;
	r->expiry_timer.data = r;
	rc = uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	rc = rc ? rc : uv_signal_start(&r->sigint, on_signal, SIGINT);
	return rc ? rc : uv_timer_start(&r->expiry_timer, on_expiry_tick, RELAY_EXPIRY_TICK_MS,
					RELAY_EXPIRY_TICK_MS);
}

static bool control_fd_ok(void)
{
	struct stat st;

	return fstat(RELAY_CONTROL_FD, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* With --parent PID the parent is checked exactly; without it, adoption by init is the
 * sign that it is gone. EOF on fd 3 is the backstop either way. */
static bool parent_alive(long expected)
{
	return expected > 0 ? getppid() == (pid_t)expected : getppid() != 1;
}

static int number(const char *text, long long min, long long max, long long *out)
{
	return cfg_parse_int(text, out) || *out < min || *out > max ? -1 : 0;
}

static int bad(const char *what)
{
	fprintf(stderr, "insel-relay run: %s\n%s", what, usage);
	return EXIT_USAGE;
}

/* The values of the options, checked; -1 to go on, else the exit status. */
static int take_values(struct relay_options *o, const char *parent, const char *fd,
		       const char *listen, const char *rate, const char *max,
		       const char *expiry)
{
	long long v;
	uint64_t ms;

	o->socket_fd = -1;
	if (parent && number(parent, 1, INT32_MAX, &v))
		return bad("--parent: a process id");
	o->parent = parent ? (long)v : 0;
	if (fd && number(fd, RELAY_CONTROL_FD + 1, 1 << 20, &v))
		return bad("--socket-fd: a descriptor number above 3");
	o->socket_fd = fd ? (int)v : -1;
	if (listen && ip_endpoint_parse(listen, &o->listen))
		return bad("--listen: ADDRESS:PORT");
	o->has_listen = listen != NULL;
	if (!fd == !listen)
		return bad("one of --socket-fd and --listen is needed");
	if (rate && number(rate, 0, 1LL << 40, &v))
		return bad("--rate: bytes per second per allocation, 0 for no limit");
	o->limits.rate_bytes = rate ? (uint64_t)v : 0;
	if (max && number(max, 1, 1 << 20, &v))
		return bad("--max-allocations: a number from 1 to 1048576");
	o->limits.max_allocations = max ? (uint32_t)v : 0;
	if (expiry && (cfg_parse_duration_ms(expiry, &ms) || ms < 1000))
		return bad("--expiry: a duration of at least 1s");
	o->limits.expiry_ms = expiry ? ms : 0;
	return -1;
}

static int parse_args(int argc, char **argv, struct relay_options *o)
{
	const char *parent = NULL, *fd = NULL, *listen = NULL, *rate = NULL, *max = NULL,
		   *expiry = NULL, *tcp_listen = NULL, *tcp_fd = NULL;
	long long v;
	const struct opt table[] = {
		{"--parent", true, &parent, NULL}, {"--socket-fd", true, &fd, NULL},
		{"--listen", true, &listen, NULL}, {"--user", true, &o->user, NULL},
		{"--rate", true, &rate, NULL}, {"--max-allocations", true, &max, NULL},
		{"--expiry", true, &expiry, NULL},
		{"--tcp-listen", true, &tcp_listen, NULL},
		{"--tcp-socket-fd", true, &tcp_fd, NULL}, {"--ca", true, &o->ca, NULL},
		{"--tls-cert", true, &o->tls_cert, NULL}, {"--tls-key", true, &o->tls_key, NULL},
	};
	struct opts p = {.table = table, .n = sizeof table / sizeof table[0]};

	switch (opts_parse(&p, argc, argv, 1)) {
	case OPTS_HELP:
		fputs(usage, stdout);
		return EXIT_OK;
	case OPTS_ERROR:
		return bad(p.why);
	case OPTS_OK:
		break;
	}
	if (tcp_listen && ip_endpoint_parse(tcp_listen, &o->tcp_listen))
		return bad("--tcp-listen: ADDRESS:PORT");
	o->has_tcp_listen = tcp_listen != NULL;
	if (tcp_fd && number(tcp_fd, RELAY_CONTROL_FD + 1, 1 << 20, &v))
		return bad("--tcp-socket-fd: a descriptor number above 3");
	o->tcp_socket_fd = tcp_fd ? (int)v : -1;
	if (tcp_listen && tcp_fd)
		return bad("one of --tcp-listen and --tcp-socket-fd");
	if ((tcp_listen || tcp_fd) && (!o->ca || !o->tls_cert || !o->tls_key))
		return bad("the TCP fallback needs --ca, --tls-cert and --tls-key");
	return take_values(o, parent, fd, listen, rate, max, expiry);
}

static int run(struct relay *r, const struct relay_options *o)
{
	int rc = init_handles(r);

	if (rc) {
		log_error("cannot start: %s", insel_strerror(rc));
		return EXIT_FAILURE_GENERIC;
	}
	rc = fwd_init(&r->table, &o->limits);
	if (rc == 0 && (rc = relay_udp_open(r, o)) != 0)
		log_error("no relay socket: %s", insel_strerror(rc));
	if (rc == 0)
		rc = relay_tcp_open(r, o);
	/* Confined before reading anything from the network or the principal. */
	if (rc == 0 && (rc = relay_confine(o->user)) != 0)
		log_error("cannot confine the relay: %s", insel_strerror(rc));
	if (rc == 0)
		rc = relay_control_start(r, RELAY_CONTROL_FD);
	if (rc == 0)
		rc = relay_udp_start(r);
	if (rc) {
		relay_end(r, EXIT_FAILURE_GENERIC, "start-up failed");
	} else {
		r->state = RELAY_NEW;
		char rate[48] = "no rate limit";

		if (r->table.limits.rate_bytes)
			snprintf(rate, sizeof rate, "%llu bytes/s each",
				 (unsigned long long)r->table.limits.rate_bytes);
		log_info("relaying on UDP port %u (at most %u allocations, %s, expiry %llu ms)",
			 r->port, r->table.limits.max_allocations, rate,
			 (unsigned long long)r->table.limits.expiry_ms);
	}
	uv_run(r->loop, UV_RUN_DEFAULT);
	fwd_free_all(&r->table);
	relay_tcp_free(r);
	rc = uv_loop_close(r->loop);
	if (rc) {
		log_error("loop not clean at exit: %s", insel_strerror(rc));
		return EXIT_FAILURE_GENERIC;
	}
	return r->exit_code;
}

int relay_run_main(int argc, char **argv)
{
	struct relay_options o = {0};
	struct relay r;
	uv_loop_t loop;
	int rc = parse_args(argc, argv, &o);

	if (rc >= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	if (relay_protect_process() != 0)
		return EXIT_FAILURE_GENERIC;
	if (!parent_alive(o.parent)) {
		log_error("parent already gone at start: exiting");
		return EXIT_FAILURE_GENERIC;
	}
	if (!control_fd_ok()) {
		fprintf(stderr, "insel-relay: fd %d is not a socket; this program is started by "
			"insel-principal serve\n", RELAY_CONTROL_FD);
		return EXIT_USAGE;
	}
	memset(&r, 0, sizeof r);
	if (uv_loop_init(&loop) != 0)
		return EXIT_FAILURE_GENERIC;
	r.loop = &loop;
	r.udp_fd = -1;
	return run(&r, &o);
}
