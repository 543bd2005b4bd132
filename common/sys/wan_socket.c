/* The sockets on the gateway's WAN address (wan_socket.h says who makes them). */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wan_socket.h"

int wan_socket_bound(int type, const struct ip_addr *addr, uint16_t port)
{
	struct ip_endpoint ep = {.addr = *addr, .port = port};
	struct sockaddr_storage ss;
	socklen_t len = ip_endpoint_to_sockaddr(&ep, &ss);
	int fd = socket(ss.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	/* No SO_REUSEADDR: a port in use must fail here, not be shared. */
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int wan_socket_bound_near(int type, const struct ip_addr *addr, uint16_t port)
{
	int fd = port ? wan_socket_bound(type, addr, port) : -EADDRINUSE;

	if (fd == -EADDRINUSE || fd == -EACCES)
		fd = wan_socket_bound(type, addr, 0);
	return fd;
}

uint16_t wan_socket_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct ip_endpoint ep;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &ep) != 0)
		return 0;
	return ep.port;
}

void wan_socket_grow_buffers(int fd)
{
	int size = WAN_SOCKET_BUFFER;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}
