/* Messages for gateways linked to another principal of the same directory
 * (docs/principals.md, "Messages for a gateway linked to another principal"): the
 * principal that must tell a gateway something it holds no link to leaves the message in
 * the directory's mailbox (db_mail.h) and waits; the principal holding that gateway's
 * link claims and sends it; the sender hears of the delivery, or withdraws the message
 * when its time is up and tells its requester so.
 *
 * How a principal notices mail: on PostgreSQL, a connection of its own LISTENs to
 * insel_gateway_mail, which every post and every delivery NOTIFYs (a few milliseconds);
 * it also polls the table, every MAILBOX_POLL_MS while that connection is down, while it
 * waits for its own messages, and always on SQLite (several principals on one SQLite
 * file share one machine), and every MAILBOX_IDLE_POLL_MS otherwise (and while the
 * directory fails). */
#ifndef INSEL_PRINCIPAL_MAILBOX_H
#define INSEL_PRINCIPAL_MAILBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "db.h"

#define MAILBOX_POLL_MS 100
#define MAILBOX_IDLE_POLL_MS 1000
#define MAILBOX_KEEP_S 60             /* rows older than this are swept, whoever left them */
#define MAILBOX_SWEEP_MS 10000
#define MAILBOX_RELISTEN_MS 1000      /* a lost LISTEN connection is made again after */
#define MAILBOX_MAX_WAITS 1024        /* messages of ours waiting at once */

/* The daemon's side: whether it holds the named secondary's link, and sending msg over
 * it (the reference is taken; 0 or an error). */
struct mailbox_links {
	bool (*holds)(void *ctx, const char *secondary);
	int (*send)(void *ctx, const char *secondary, json_t *msg);
	void *ctx;
};

/* A message's end: 0 delivered, INSEL_E_UNAVAILABLE when no principal delivered it in
 * time, another error when it could not be posted or the principal stops. */
typedef void (*mailbox_done_fn)(void *ctx, int err);

struct mailbox_wait;
struct pg_conn;

struct mailbox {
	uv_loop_t *loop;
	struct db *db;
	struct mailbox_links links;
	char name[40];                 /* ours in sender and delivered_by: unique per run */
	uv_timer_t tick;
	uint64_t ticks;
	uint64_t last_sweep_ms;
	struct mailbox_wait *waits;
	unsigned nwaits;
	bool stopping;
	bool db_failing;               /* the last look at the mailbox failed */
	/* PostgreSQL: the LISTEN connection (connected on the thread pool, then read on the
	 * loop), and its connection string. */
	char *dsn;
	struct pg_conn *listen;
	bool listening, connecting, poll_open;
	uv_poll_t poll;
	uv_work_t connect_work;
	uv_timer_t relisten;
	uint64_t posted, delivered, expired, wakeups;
};

/* Starts polling db (and, when dsn is a PostgreSQL connection string, listening). */
int mailbox_start(struct mailbox *m, uv_loop_t *loop, struct db *db, const char *dsn,
		  const struct mailbox_links *links);
/* Leaves msg (not taken) for the named secondary; done is called once, from the loop,
 * at most ttl_ms later. 0, or an error (done not called): INSEL_E_LIMIT over a cap. */
int mailbox_post(struct mailbox *m, const char *secondary, const json_t *msg,
		 uint32_t ttl_ms, mailbox_done_fn done, void *ctx);
/* Looks at the mailbox now (a gateway just registered here, say). */
void mailbox_check(struct mailbox *m);
/* Ends every wait with INSEL_E_CLOSED and closes the handles (the loop must run on). */
void mailbox_stop(struct mailbox *m);
/* Frees what is left once the loop ran its last close callback. */
void mailbox_free(struct mailbox *m);

#endif
