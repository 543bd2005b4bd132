/* Inside libinsel-secsock: the socket and call objects that secsock.c (control, datagram
 * channels) and secsock_stream.c (reliable channels) share. Not installed. */
#ifndef INSEL_SECSOCK_PRIV_H
#define INSEL_SECSOCK_PRIV_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdint.h>

#include "channel.h"
#include "negotiate.h"
#include "secsock.h"
#include "tls_priv.h"

#define SEC_HELD_MAX 64  /* datagram messages kept while a call waits for a stream */

struct sec_socket {
	struct tls_creds *creds;
	int listen_fd;
	uint16_t port;
	enum pki_role roles[TLS_MAX_ROLES];
	size_t nroles;
	struct negotiate_prefs prefs;
	unsigned timeout_ms;
	uint32_t stream_dead_ms, stream_idle_ms;  /* 0: the engine's defaults */
};

/* A datagram message taken off the socket while the call waited inside sec_send or
 * sec_close: sec_recv returns it first. */
struct sec_held {
	unsigned channel;
	size_t len;
	uint8_t data[];
};

/* The reliable side of a call (secsock_stream.c); all zero for a datagram-only call. */
struct sec_streams {
	bool any;                                  /* at least one reliable channel */
	enum sec_mode modes[SEC_MAX_CHANNELS];
	struct rel_conn *rel[SEC_MAX_CHANNELS];    /* NULL on datagram channels */
	int broken[SEC_MAX_CHANNELS];              /* an end the engine does not know of:
						    * our abort, the peer's call gone */
	bool shut[SEC_MAX_CHANNELS];               /* sec_shutdown or sec_abort was called */
	bool end_said[SEC_MAX_CHANNELS];           /* sec_recv gave its end or error */
	uint32_t dead_ms;                          /* the engines' dead_ms and close_ms */
	bool nonblocking;
	bool peer_left;                            /* the peer's TLS session ended */
	bool peer_died;                            /* ... without close_notify */
	unsigned next_rr;                          /* where sec_recv looks first */
	struct sec_held *held[SEC_HELD_MAX];       /* a ring */
	size_t held_head, held_count;
	uint64_t held_dropped;
};

struct sec_call {
	int tcp_fd;                 /* -1 for an imported call */
	gnutls_session_t session;   /* NULL for an imported call */
	struct tls_policy policy;
	int udp_fd;
	size_t nchannels;
	struct channel *channels[SEC_MAX_CHANNELS];
	struct sec_channel_params params[SEC_MAX_CHANNELS];  /* kept only until export */
	bool used;                  /* data sent or received: export would reuse counters */
	bool exported;
	struct sec_streams streams;
};

/* secsock.c */
uint64_t secsock_now_ms(void);
int secsock_send_dgram(struct sec_call *c, struct channel *ch, const uint8_t *dgram, size_t len);
/* Keep-alives due on any channel; returns the earliest time (ms) to tick again. */
uint64_t secsock_run_timers(struct sec_call *c, uint64_t now);
/* The channel a datagram is for, by its receiver session id; -1 if none. */
int secsock_channel_for(const struct sec_call *c, const uint8_t *dgram, size_t len);
int secsock_mark_used(struct sec_call *c);

/* secsock_stream.c */
/* Starts an engine on every channel agreed reliable; 0 or an error. */
int secsock_streams_start(struct sec_call *c, const struct sec_socket *s,
		      const enum negotiate_mode *modes);
void secsock_streams_free(struct sec_call *c);
ssize_t secsock_stream_send(struct sec_call *c, unsigned channel, const void *data, size_t len);
/* sec_recv for a call with reliable channels. */
ssize_t secsock_streams_recv(struct sec_call *c, unsigned *channel, void *buf, size_t cap,
			 int timeout_ms);
/* sec_close's drain: finishes every reliable channel and waits (bounded). */
void secsock_streams_drain(struct sec_call *c);

#endif
