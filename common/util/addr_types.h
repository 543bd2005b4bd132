/* An IP address and an endpoint, as libinsel passes them around. Apart from addr.h (what
 * works on them) because the installed Secsockets header (secsock.h) shows these types
 * to applications, which get none of addr.h's functions. */
#ifndef INSEL_ADDR_TYPES_H
#define INSEL_ADDR_TYPES_H

#include <stdint.h>

/* Large enough for "[ffff:...:ffff]:65535" and "ffff:...:ffff/128". */
#define IP_STRLEN 64

struct ip_addr {
	int family;  /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
};

struct ip_endpoint {
	struct ip_addr addr;
	uint16_t port;
};

#endif
