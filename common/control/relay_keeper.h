/* The relay's keeper: a small process that the relay's parent (`insel-principal serve`,
 * or an `insel-secondary` with [relay] listen) forks before it confines itself, so that
 * the parent never starts a program from its event loop and yet its relay is restarted
 * when it dies. The keeper spawns insel-relay onto fixed descriptors (fd 3: a fresh
 * control socket, fd 4: the relay's UDP socket, bound by the parent), passes the parent
 * its end of each new control socket over the keeper socket (SCM_RIGHTS), and spawns
 * again, with back-off, whenever the relay exits. It parses nothing from the network and
 * holds no key; it ends (and its relay with it) when the parent closes the keeper socket
 * or dies. Shared by both roles that run a relay; relay_control.h is the parent's end of
 * the relay's control socket. */
#ifndef INSEL_PRINCIPAL_RELAY_KEEPER_H
#define INSEL_PRINCIPAL_RELAY_KEEPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

#define RELAY_DEFAULT_PORT 3479
#define RELAY_TCP_DEFAULT_PORT 443     /* the TLS-over-TCP fallback (docs/relay.md, 6) */
#define RELAY_RESTART_FIRST_MS 500     /* the first back-off after a relay died young */
#define RELAY_RESTART_MAX_MS 30000
#define RELAY_HEALTHY_MS 10000         /* a relay that lived this long resets the back-off */

struct relay_keeper_options {
	const char *program;         /* insel-relay */
	int udp_fd;                  /* bound; the keeper's copy is the relay's fd 4 */
	int tcp_fd;                  /* the TCP fallback's listening socket (fd 5), or -1 */
	const char *ca, *tls_cert, *tls_key;  /* its TLS credentials (files) */
	const char *user;            /* for the relay to become when run as root */
	uint64_t rate;               /* bytes per second per allocation, 0: the relay's */
	uint32_t max_allocations;    /* 0: the relay's */
	uint64_t expiry_ms;          /* 0: the relay's */
	bool verbose;
};

/* Forks the keeper. On success *keeper_fd is the principal's end of the keeper socket
 * (SOCK_SEQPACKET, close-on-exec) and *pid the keeper's; the caller closes its copy of
 * udp_fd (and tcp_fd). 0 or -errno. */
int relay_keeper_start(const struct relay_keeper_options *o, int *keeper_fd, pid_t *pid);

/* Binds a relay socket where the parent has the privilege to (a low port): SOCK_DGRAM
 * for its UDP port, SOCK_STREAM (listening) for the TCP fallback. The socket
 * (close-on-exec), with the port it got in *port, or -errno. */
int relay_bind_socket(const struct ip_endpoint *at, int type, uint16_t *port);

/* The parent's side: takes one control socket the keeper sent, if any is waiting.
 * 1 and *control_fd (close-on-exec) and *relay_pid; 0 if nothing is waiting; -EPIPE when
 * the keeper is gone; another -errno on error. */
int relay_keeper_receive(int keeper_fd, int *control_fd, pid_t *relay_pid);

/* The default program: installed beside insel-principal, or in the build tree. */
const char *relay_default_program(void);

#endif
