/* The sockets a call's auxiliary uses on the gateway's WAN address, made where they can
 * be: an ordinary call's auxiliary makes its own at bind, before it confines itself; a
 * room's leg has them made by the secondary and handed over (auxiliary/room_host.c),
 * since the room's process is confined after its first leg and may make no socket. One
 * recipe for both, so that a hosted leg's sockets are the same as any call's. The
 * relay's UDP socket (relay/udp.c) is bound by the same recipe. */
#ifndef INSEL_WAN_SOCKET_H
#define INSEL_WAN_SOCKET_H

#include <stdint.h>

#include "addr.h"

/* A WAN socket's buffers, bytes: a network call's bursts (a TCP window of full-size
 * packets) or a reliable channel's window must not overflow it. */
#define WAN_SOCKET_BUFFER (4 << 20)

/* A socket of type (SOCK_DGRAM or SOCK_STREAM), close-on-exec and non-blocking, bound
 * to addr:port (0: any port). Returns the descriptor or a negative errno. */
int wan_socket_bound(int type, const struct ip_addr *addr, uint16_t port);
/* The same on port first, or on any port when that one is taken. */
int wan_socket_bound_near(int type, const struct ip_addr *addr, uint16_t port);
/* The port fd is bound to, or 0. */
uint16_t wan_socket_port(int fd);
/* WAN_SOCKET_BUFFER both ways, past the sysctl limits when privileged (SO_*BUFFORCE),
 * else as far as they let. */
void wan_socket_grow_buffers(int fd);

#endif
