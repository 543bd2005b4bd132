/* `insel-auxiliary run`: the process around one call. Protects itself (not dumpable,
 * parent-death signal), checks that fd 3 is its control socket, runs the libuv loop until
 * the call ends (hang-up, idle, peer dead, parent gone, SIGTERM), then releases every
 * handle, wipes the keys and closes the loop. The exit code says how it ended:
 * 0 orderly (hangup, idle, peer_dead, parent closed the control socket, SIGTERM),
 * 1 an error (bind or privilege drop failed, a socket failed), 2 bad usage. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auxiliary.h"
#include "cmd.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "wire_errors.h"

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void close_all_handles(struct aux *a)
{
	timers_stop(a);
	close_handle((uv_handle_t *)&a->tick_timer);
	close_handle((uv_handle_t *)&a->idle_timer);
	close_handle((uv_handle_t *)&a->sigterm);
	close_handle((uv_handle_t *)&a->sigint);
	/* Closing a UDP handle cancels its queued sends; their callbacks free the slots. */
	if (a->wan_open)
		close_handle((uv_handle_t *)&a->wan);
	wan_rx_close(a);
	for (unsigned i = 0; i < a->n_lan; i++)
		if (a->lan[i].udp_open)
			close_handle((uv_handle_t *)&a->lan[i].udp);
	tun_close(a);
}

static json_t *ended_notification(const struct aux *a, const char *reason,
				  const char *message)
{
	json_t *n = json_pack("{s:s, s:s, s:s}", "op", "ended", "reason", reason, "message",
			      message);

	if (n && aux_stats_into(a, n) != 0) {
		json_decref(n);
		return NULL;
	}
	return n;
}

void aux_end(struct aux *a, const char *reason, const char *message, int exit_code,
	     bool notify)
{
	char call[ID_STRLEN];

	if (a->state == AUX_ENDING)
		return;
	if (exit_code)
		log_error("call %s ended: %s: %s", id_format(a->call_id, call), reason, message);
	else
		log_info("call %s ended: %s: %s", id_format(a->call_id, call), reason, message);
	if (notify && a->control)
		msg_stream_send_new(a->control, ended_notification(a, reason, message));
	a->state = AUX_ENDING;
	a->exit_code = exit_code;
	control_finish(a);
	close_all_handles(a);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct aux *a = sig->data;
	char why[48];

	snprintf(why, sizeof why, "stopped by signal %d", signum);
	aux_end(a, WIRE(HANGUP), why, EXIT_OK, true);
}

static int init_handles(struct aux *a)
{
	int rc = uv_signal_init(a->loop, &a->sigterm);

	rc = rc ? rc : uv_signal_init(a->loop, &a->sigint);
	rc = rc ? rc : uv_timer_init(a->loop, &a->tick_timer);
	rc = rc ? rc : uv_timer_init(a->loop, &a->idle_timer);
	rc = rc ? rc : uv_timer_init(a->loop, &a->linger_timer);
	if (rc)
		return rc;
	a->sigterm.data = a->sigint.data = a;
	a->tick_timer.data = a->idle_timer.data = a->linger_timer.data = a;
	rc = uv_signal_start(&a->sigterm, on_signal, SIGTERM);
	return rc ? rc : uv_signal_start(&a->sigint, on_signal, SIGINT);
}

static bool control_fd_ok(void)
{
	struct stat st;

	return fstat(AUX_CONTROL_FD, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Keys live in the channels and in the send slots' copies of plaintext: wipe and free. */
static void release_memory(struct aux *a)
{
	for (unsigned i = 0; i < a->n_lan; i++) {
		channel_free(a->lan[i].ch);
		a->lan[i].ch = NULL;
	}
	sendq_release(a);
}

static int run_loop(struct aux *a)
{
	int rc;

	a->exit_code = EXIT_OK;
	rc = init_handles(a);
	if (rc == 0)
		rc = control_start(a, AUX_CONTROL_FD);
	if (rc) {
		log_error("cannot start: %s", insel_strerror(rc));
		aux_end(a, WIRE(ERROR), "startup failed", EXIT_FAILURE_GENERIC, false);
	}
	uv_run(a->loop, UV_RUN_DEFAULT);
	release_memory(a);
	wan_rx_release(a);
	tun_release(a);  /* the interface and its routes go with the descriptor */
	rc = uv_loop_close(a->loop);
	if (rc) {
		log_error("loop not clean at exit: %s", insel_strerror(rc));
		return EXIT_FAILURE_GENERIC;
	}
	return a->exit_code;
}

/* The parent may already be gone when PR_SET_PDEATHSIG takes effect. With --parent PID
 * (the secondary's own pid) that is checked exactly; without it, being adopted by init is
 * the sign. Either way EOF on fd 3 is the backstop. */
static bool parent_alive(long expected)
{
	return expected > 0 ? getppid() == (pid_t)expected : getppid() != 1;
}

static int parse_args(int argc, char **argv, long *parent)
{
	static const char usage[] =
		"Usage: insel-auxiliary run [--parent PID]\n"
		"Started by insel-secondary with its control socket on fd 3 (see "
		"docs/auxiliary.md).\n";
	char *end;

	*parent = 0;
	if (argc == 3 && strcmp(argv[1], "--parent") == 0) {
		errno = 0;
		*parent = strtol(argv[2], &end, 10);
		if (errno == 0 && *end == '\0' && *parent > 0)
			return -1;
	} else if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return EXIT_OK;
	} else if (argc == 1) {
		return -1;
	}
	fputs(usage, stderr);
	return EXIT_USAGE;
}

int run_main(int argc, char **argv)
{
	struct aux a;
	uv_loop_t loop;
	long parent;
	int rc = parse_args(argc, argv, &parent);

	if (rc >= 0)
		return rc;
	/* A write to a control socket whose parent is gone must fail, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (privdrop_protect_process() != 0)
		return EXIT_FAILURE_GENERIC;
	if (!parent_alive(parent)) {
		log_error("parent already gone at start: exiting");
		return EXIT_FAILURE_GENERIC;
	}
	if (!control_fd_ok()) {
		fprintf(stderr, "insel-auxiliary: fd %d is not a socket; this program is "
			"started by insel-secondary\n", AUX_CONTROL_FD);
		return EXIT_USAGE;
	}
	memset(&a, 0, sizeof a);
	if (uv_loop_init(&loop) != 0)
		return EXIT_FAILURE_GENERIC;
	a.loop = &loop;
	a.state = AUX_NEW;
	a.wan_rx_fd = -1;
	return run_loop(&a);
}
