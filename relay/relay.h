/* insel-relay: forwards the sealed frames of calls whose two auxiliaries cannot reach
 * each other, between the two registered legs of each allocation, and holds no call's
 * keys (docs/relay.md). One process, one UDP socket, one libuv loop; driven by its
 * principal over a control socket on fd 3 (hello, allocate, free, stats), confined from
 * the start (an unprivileged user if started as root, no new privileges, a syscall
 * allowlist), and gone when the control socket closes. The forwarding decisions are the
 * pure table's (common/data/forward.h); this process does the I/O around it. */
#ifndef INSEL_RELAY_H
#define INSEL_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "addr.h"
#include "child_control.h"
#include "forward.h"
#include "msg.h"
#include "relay_tcp.h"

#define RELAY_CONTROL_FD 3
#define RELAY_RX_SLOTS 32            /* datagrams read per recvmmsg */
#define RELAY_DGRAM_MAX 65536
#define RELAY_EXPIRY_TICK_MS 1000    /* how often expired allocations are looked for */
#define RELAY_LINGER_MS 2000         /* the last replies' time to leave on close */

enum relay_state {
	RELAY_NEW = 1u << 0,      /* before hello */
	RELAY_SERVING = 1u << 1,
	RELAY_ENDING = 1u << 2,
};

struct relay_options {
	long parent;              /* --parent PID, or 0 */
	int socket_fd;            /* --socket-fd N: a bound UDP socket, or -1 */
	struct ip_endpoint listen;  /* --listen, when no socket_fd */
	bool has_listen;
	const char *user;         /* --user NAME: whom to become when root */
	struct ip_endpoint tcp_listen;  /* --tcp-listen: the TCP fallback (tcp.c) */
	bool has_tcp_listen;
	int tcp_socket_fd;        /* --tcp-socket-fd N: its socket, bound (and listening), or -1 */
	const char *ca, *tls_cert, *tls_key;  /* its TLS credentials, read before confining */
	struct fwd_limits limits;
};

struct relay {
	uv_loop_t *loop;
	enum relay_state state;
	struct child_control ctl;  /* to the principal (control.c); ctl.stream NULL once
				    * closed */
	uv_timer_t expiry_timer;
	uv_signal_t sigterm, sigint;
	int udp_fd;
	uv_poll_t udp_poll;
	bool udp_poll_open;
	uint16_t port;
	struct fwd_table table;
	struct relay_tcp *tcp;    /* NULL: no TCP fallback */
	uint64_t rx_errors, tx_errors, truncated;
	uint64_t gro_messages;    /* messages read that held a GRO run of datagrams */
	uint64_t gso_refused;     /* GSO sends the kernel refused (then sent apart) */
	int exit_code;
};

/* control.c */
int relay_control_init(struct relay *r);
int relay_control_start(struct relay *r, int fd);
void relay_control_finish(struct relay *r);
void relay_control_notify_expired(struct relay *r, uint64_t allocation);
json_t *relay_stats_json(const struct relay *r);

/* udp.c */
int relay_udp_open(struct relay *r, const struct relay_options *o);
int relay_udp_start(struct relay *r);
void relay_udp_close(struct relay *r);

/* confine.c: protection at start (not dumpable, parent-death signal) and the
 * confinement once the socket exists. 0 or -errno. */
int relay_protect_process(void);
int relay_confine(const char *user);

/* cmd_run.c */
int relay_run_main(int argc, char **argv);
void relay_end(struct relay *r, int exit_code, const char *why);

#endif
