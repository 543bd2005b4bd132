/* A room's leg handed to the room's auxiliary (docs/rooms.md, "One auxiliary per room"):
 * the room's process is confined after its first leg's bind and may make no socket, so
 * the secondary makes every socket a leg needs and passes them over the process's fd 3,
 * a unix SOCK_SEQPACKET socket, as one message: LEG_HANDOVER_HEADER bytes
 * {'L', n_wan6, n_tcp} and, in one SCM_RIGHTS, the leg's control socket, its IPv4 (or
 * only) WAN socket, its IPv6 WAN socket if n_wan6 is 1 (a dual-stack wan) and n_tcp TCP
 * sockets bound on the WAN address for the relay's TLS-over-TCP fallback — what an
 * ordinary call's auxiliary makes for itself at bind. Both ends use this one codec. */
#ifndef INSEL_LEG_HANDOVER_H
#define INSEL_LEG_HANDOVER_H

#define LEG_HANDOVER_TAG 'L'
#define LEG_HANDOVER_HEADER 3
#define LEG_HANDOVER_TCP_MAX 3   /* the TCP leg's sockets: connections a call may make */
#define LEG_HANDOVER_FDS_MAX (3 + LEG_HANDOVER_TCP_MAX)

struct leg_sockets {
	int ctl;                 /* the leg's control socket */
	int wan;                 /* its WAN socket (the WAN address's family) */
	int wan6;                /* a dual-stack wan's IPv6 socket, or -1 */
	int tcp[LEG_HANDOVER_TCP_MAX];
	unsigned ntcp;
};

/* Every descriptor -1, none of TCP. */
void leg_sockets_init(struct leg_sockets *s);
/* Closes what s holds and sets it back to leg_sockets_init's. */
void leg_sockets_close(struct leg_sockets *s);
/* Sends s on fd (the descriptors stay the caller's to close). 0 or a negative errno. */
int leg_sockets_send(int fd, const struct leg_sockets *s);
/* Receives one hand-over from fd without waiting: 1 with s filled (the descriptors are
 * the caller's), 0 at end of file, -EAGAIN when none is there, -EBADMSG for a message
 * that is not a hand-over as above (whatever descriptors it carried are closed), else
 * a negative errno. */
int leg_sockets_recv(int fd, struct leg_sockets *s);

#endif
