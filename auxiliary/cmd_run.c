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

static void close_all_handles(struct bridge *br)
{
	timers_stop(br);
	path_stop(br);
	tcp_leg_stop(br);
	relay_leg_stop(br);
	close_handle((uv_handle_t *)&br->tick_timer);
	close_handle((uv_handle_t *)&br->idle_timer);
	close_handle((uv_handle_t *)&br->pmtu_timer);
	if (!br->hosted) {  /* a hosted bridge has no signal handles: the host does */
		close_handle((uv_handle_t *)&br->sigterm);
		close_handle((uv_handle_t *)&br->sigint);
	}
	/* Closing a UDP handle cancels its queued sends; their callbacks free the slots. */
	if (br->wan_open)
		close_handle((uv_handle_t *)&br->wan);
	if (br->wan6_open)
		close_handle((uv_handle_t *)&br->wan6);
	wan_rx_close(br);
	discover_close(br);
	for (unsigned i = 0; i < br->n_lan; i++)
		if (br->lan[i].udp_open)
			close_handle((uv_handle_t *)&br->lan[i].udp);
	tun_close(br);
	stream_close(br);
}

static json_t *ended_notification(const struct bridge *br, const char *reason,
				  const char *message)
{
	json_t *n = aux_ended_to_json(reason, message);

	if (n && bridge_stats_into(br, n) != 0) {
		json_decref(n);
		return NULL;
	}
	return n;
}

void bridge_end(struct bridge *br, const char *reason, const char *message, int exit_code,
		bool notify)
{
	char call[ID_STRLEN];

	if (br->state == AUX_ENDING)
		return;
	if (exit_code)
		log_error("call %s ended: %s: %s", id_format(br->call_id, call), reason, message);
	else
		log_info("call %s ended: %s: %s", id_format(br->call_id, call), reason, message);
	tun_queue_count(br);
	if (notify && br->ctl.stream)
		msg_stream_send_new(br->ctl.stream, ended_notification(br, reason, message));
	br->state = AUX_ENDING;
	br->exit_code = exit_code;
	br->ended_ms = uv_now(br->loop);
	control_finish(br);
	close_all_handles(br);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct bridge *br = sig->data;
	char why[48];

	snprintf(why, sizeof why, "stopped by signal %d", signum);
	bridge_end(br, WIRE(HANGUP), why, EXIT_OK, true);
}

int bridge_init_handles(struct bridge *br, bool signals)
{
	int rc = signals ? uv_signal_init(br->loop, &br->sigterm) : 0;

	rc = rc || !signals ? rc : uv_signal_init(br->loop, &br->sigint);
	rc = rc ? rc : uv_timer_init(br->loop, &br->tick_timer);
	rc = rc ? rc : uv_timer_init(br->loop, &br->idle_timer);
	rc = rc ? rc : control_init(br);
	rc = rc ? rc : path_init(br);
	rc = rc ? rc : tcp_leg_init(br);
	rc = rc ? rc : uv_timer_init(br->loop, &br->pmtu_timer);
	if (rc)
		return rc;
	br->sigterm.data = br->sigint.data = br;
	br->tick_timer.data = br->idle_timer.data = br;
	br->pmtu_timer.data = br;
	if (!signals)
		return 0;
	rc = uv_signal_start(&br->sigterm, on_signal, SIGTERM);
	return rc ? rc : uv_signal_start(&br->sigint, on_signal, SIGINT);
}

static bool control_fd_ok(void)
{
	struct stat st;

	return fstat(AUX_CONTROL_FD, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Keys live in the channels and in the send slots' copies of plaintext: wipe and free. */
static void release_memory(struct bridge *br)
{
	for (unsigned i = 0; i < br->n_lan; i++) {
		channel_free(br->lan[i].ch);
		br->lan[i].ch = NULL;
	}
	sendq_release(br);
	stream_release(br);
}

void bridge_release(struct bridge *br)
{
	release_memory(br);
	tcp_leg_release(br);
	wan_rx_release(br);
	tun_release(br);  /* the interface and its routes go with the descriptor */
}

static int run_loop(struct bridge *br)
{
	int rc;

	br->exit_code = EXIT_OK;
	rc = bridge_init_handles(br, true);
	if (rc == 0)
		rc = control_start(br, AUX_CONTROL_FD);
	if (rc) {
		log_error("cannot start: %s", insel_strerror(rc));
		bridge_end(br, WIRE(ERROR), "startup failed", EXIT_FAILURE_GENERIC, false);
	}
	uv_run(br->loop, UV_RUN_DEFAULT);
	bridge_release(br);
	rc = uv_loop_close(br->loop);
	if (rc) {
		log_error("loop not clean at exit: %s", insel_strerror(rc));
		return EXIT_FAILURE_GENERIC;
	}
	return br->exit_code;
}

/* The parent may already be gone when PR_SET_PDEATHSIG takes effect. With --parent PID
 * (the secondary's own pid) that is checked exactly; without it, being adopted by init is
 * the sign. Either way EOF on fd 3 is the backstop. */
static bool parent_alive(long expected)
{
	return expected > 0 ? getppid() == (pid_t)expected : getppid() != 1;
}

static int parse_args(int argc, char **argv, long *parent, bool *room)
{
	static const char usage[] =
		"Usage: insel-auxiliary run [--room] [--parent PID]\n"
		"Started by insel-secondary with its control socket on fd 3 (see "
		"docs/auxiliary.md); with --room, a room's auxiliary, handed its peers' "
		"sockets on fd 3 (docs/rooms.md).\n";
	char *end;

	*parent = 0;
	*room = argc > 1 && strcmp(argv[1], "--room") == 0;
	if (*room) {
		argc--;
		argv++;
	}
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
	struct bridge br;
	uv_loop_t loop;
	long parent;
	bool room;
	int rc = parse_args(argc, argv, &parent, &room);

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
	memset(&br, 0, sizeof br);
	if (uv_loop_init(&loop) != 0)
		return EXIT_FAILURE_GENERIC;
	if (room)
		return room_host_run(&loop);
	br.loop = &loop;
	br.state = AUX_NEW;
	br.wan_rx_fd = br.wan6_rx_fd = -1;
	return run_loop(&br);
}
