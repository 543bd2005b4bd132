/* insel-auxiliary's private header: the state of one call's bridge process.
 *
 * One struct aux per process. The parent (insel-secondary) drives it over the control
 * socket on fd 3 (control.c: bind, start, stats, hangup; docs/auxiliary.md); the relay
 * (relay.c) moves datagrams between the LAN sockets and the shared WAN socket through
 * the channels of channel.h; timers.c runs keep-alives, peer-death and idle detection;
 * privdrop.c confines the process once its sockets exist. Every libuv handle lives
 * inside struct aux, so closing needs no free; run_main() tears down after uv_run. */
#ifndef INSEL_AUXILIARY_H
#define INSEL_AUXILIARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "addr.h"
#include "channel.h"
#include "chanparams.h"
#include "msg.h"

/* Contract with the parent (DESIGN.md "Processes and roles", docs/auxiliary.md). */
#define AUX_CONTROL_FD 3
#define AUX_DEFAULT_IDLE_TIMEOUT_MS 120000  /* ETCP's idle close after two minutes */
#define AUX_MAX_IDLE_TIMEOUT_MS (7LL * 24 * 3600 * 1000)
#define AUX_USER_MAX 64                     /* longest user name accepted in "bind" */

/* Implementation tunables. */
#define AUX_DGRAM_MAX 65536   /* receive buffer: a whole UDP payload, a whole message */
#define AUX_SEND_SLOTS 32     /* datagrams queued when the kernel says EAGAIN */
#define AUX_LINGER_MS 2000    /* at the end, how long the last reply may take to flush */

/* Lifecycle; the values are bits so that the dispatch table can allow several. */
enum aux_state {
	AUX_NEW = 1 << 0,      /* waiting for "bind" */
	AUX_BOUND = 1 << 1,    /* sockets bound, privileges dropped, waiting for "start" */
	AUX_RUNNING = 1 << 2,  /* relaying */
	AUX_ENDING = 1 << 3,   /* closing handles; uv_run is about to return */
};
#define AUX_ANY_LIVE (AUX_NEW | AUX_BOUND | AUX_RUNNING)

struct aux;

/* One channel of the call: its LAN socket, its data channel and where plaintext goes. */
struct aux_lan {
	uv_udp_t udp;
	bool udp_open;
	struct aux *aux;
	unsigned index;
	uint16_t port;             /* the real bound port */
	struct channel *ch;        /* NULL until "start" */
	struct ip_endpoint deliver;  /* from "start": default LAN destination */
	bool has_deliver;
	struct ip_endpoint from;   /* the LAN application that spoke last (the paper's rule) */
	bool has_from;
	uint64_t datagrams_in, datagrams_out, dropped;
};

/* A datagram that could not be sent at once; its buffer is allocated on first use and
 * reused, so the fast path never allocates. */
struct aux_send_slot {
	uv_udp_send_t req;
	struct aux *aux;
	uint8_t *data;
	bool busy;
};

struct aux {
	uv_loop_t *loop;
	enum aux_state state;
	int exit_code;

	struct msg_stream *control;  /* NULL once closed */
	uv_shutdown_t control_shutdown;
	uv_signal_t sigterm, sigint;
	uv_timer_t tick_timer;       /* channel timers: keep-alive, peer dead, reassembly */
	uv_timer_t idle_timer;       /* no data either way for idle_timeout_ms */
	uv_timer_t linger_timer;     /* bounds the final flush of the control socket */

	uint64_t call_id;
	struct ip_addr lan_addr, wan_addr;
	uv_udp_t wan;
	bool wan_open;
	uint16_t wan_port;
	struct aux_lan lan[SEC_MAX_CHANNELS];
	unsigned n_lan;

	uint64_t idle_timeout_ms;    /* 0: never */
	uint64_t last_data_ms;
	uint64_t wan_unknown_session;  /* frames for no channel of ours */
	uint64_t wan_truncated;        /* datagrams too short to name a session */
	uint64_t wan_errors;           /* receive or send errors on the WAN socket */

	struct aux_send_slot slots[AUX_SEND_SLOTS];
};

/* cmd_run.c */
int run_main(int argc, char **argv);
/* Ends the call: optionally tells the parent {"op":"ended",...}, flushes and closes the
 * control socket, closes every handle. exit_code is the process's. Idempotent. */
void aux_end(struct aux *a, const char *reason, const char *message, int exit_code,
	     bool notify);

/* control.c */
int control_start(struct aux *a, int fd);
/* Flushes what was sent, then closes the control socket (bounded by AUX_LINGER_MS). */
void control_finish(struct aux *a);
/* The stats object shared by "stats", "hangup" and "ended" (adds to obj). */
int aux_stats_into(const struct aux *a, json_t *obj);
void control_reply(struct aux *a, json_t *reply);
void control_reply_error(struct aux *a, json_int_t id, int err, const char *code,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ctl_bind.c, ctl_start.c: the handlers with a parse step each. */
void bind_handle(struct aux *a, json_int_t id, const json_t *msg);
void start_handle(struct aux *a, json_int_t id, const json_t *msg);

/* privdrop.c */
int privdrop_to_user(const char *user);
/* Settings that need no privileges and protect the keys: not dumpable, parent-death. */
int privdrop_protect_process(void);

/* relay.c */
int relay_start(struct aux *a);
/* Sends one datagram from sock to dst without allocating unless the kernel pushes back. */
int relay_send(struct aux *a, uv_udp_t *sock, const struct ip_endpoint *dst,
	       const uint8_t *data, size_t len);

/* timers.c */
int timers_start(struct aux *a);
void timers_stop(struct aux *a);

#endif
