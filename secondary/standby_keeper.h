/* The LAN address keeper of a gateway with a standby partner (docs/standby.md): a child
 * forked before the daemon opens any socket, which adds and removes the LAN address on
 * the daemon's word and announces it with gratuitous ARP. Its reason to be a process of
 * its own is the daemon's death: when the daemon dies (kill -9 included) the keeper reads
 * end-of-file on its socket pair, takes the address off the LAN and tells the partner
 * "resigning", so the partner takes over at once instead of after dead_after, and the
 * dead gateway keeps nothing that answers for the address. */
#ifndef INSEL_STANDBY_KEEPER_H
#define INSEL_STANDBY_KEEPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

struct standby_keeper_config {
	int ifindex;                 /* the LAN interface (the one holding `own`) */
	struct ip_addr address;      /* the LAN address hosts use: [secondary] lan_address */
	unsigned prefix_len;         /* of the LAN prefix that holds it */
	struct ip_endpoint own;      /* [standby] address, port: where advertisements leave */
	struct ip_endpoint peer;     /* [standby] peer, port */
	uint8_t priority;
};

struct standby_keeper {
	pid_t pid;
	int fd;                      /* the daemon's end of the socket pair; -1: none */
	bool holding;                /* the address is on the interface */
};

/* Forks the keeper (named insel-standby). 0, or a negative errno. */
int standby_keeper_spawn(const struct standby_keeper_config *cfg, struct standby_keeper *out);
/* Adds the address and sends gratuitous ARP / takes it off (blocking: one netlink round
 * trip in the keeper). 0, or a negative errno from the kernel. */
int standby_keeper_take(struct standby_keeper *k);
int standby_keeper_release(struct standby_keeper *k);
/* Closes the socket pair: the keeper releases the address if held, resigns and exits;
 * reaped here (bounded wait). */
void standby_keeper_close(struct standby_keeper *k);

#endif
