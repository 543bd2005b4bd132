/* Inside libinsel only: one TLS connection on libuv as both of its files see it. tls_conn.c
 * runs the connection (records through memory buffers, handshake, messages, close) and
 * its client end; tls_server.c accepts server ends and counts them against its caps,
 * which is why a connection carries the fields of the server that counts it. */
#ifndef INSEL_TLS_CONN_PRIV_H
#define INSEL_TLS_CONN_PRIV_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "addr.h"
#include "buf.h"
#include "msg_codec.h"
#include "tls.h"
#include "tls_priv.h"

#define TLS_DEADLINE_TEXT_MAX 96

enum tls_conn_state { CONN_CONNECTING, CONN_HANDSHAKE, CONN_OPEN, CONN_CLOSING };

struct tls_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;      /* handshake time-out, then the close grace period */
	uv_connect_t connect_req;
	uv_shutdown_t shutdown_req;
	int open_handles;      /* handles whose close callback is still to come */
	gnutls_session_t session;
	struct tls_policy policy;
	struct tls_conn_callbacks cb;
	void *data;
	enum tls_conn_state state;
	bool ready_reported;
	bool eof;              /* the peer closed its side of the TCP stream */
	int close_reason;
	struct buf in;         /* ciphertext from the socket; in_off bytes already pulled */
	size_t in_off;
	struct buf out;        /* ciphertext from GnuTLS, not yet handed to uv_write */
	struct buf frame;      /* the message being sent, framed (plaintext: wiped after) */
	struct msg_reader reader;
	tls_conn_bytes_fn raw;  /* set: plaintext goes there, not to the reader */
	unsigned handshake_ms; /* this connection's handshake deadline */
	char deadline_what[TLS_DEADLINE_TEXT_MAX];  /* why the owner's deadline ends it */
	/* Accepted connections: the server that counts them, until they close. */
	struct tls_server *server;
	struct tls_conn *pending_prev, *pending_next;
	struct ip_addr source; /* as the per-source cap counts it */
	bool pending;          /* not authenticated yet */
	bool authenticated;
	bool spoke;            /* the peer has sent at least one byte */
	bool reset;            /* close with a TCP reset, at once (tls_conn_set_reset) */
	uint64_t accepted_ms;  /* uv_now() at accept */
	/* Accepted connections of a server that takes preambles (tls_server_set_preamble):
	 * called with the first bytes until it decides; NULL once it has, or for a stream
	 * that began with a TLS record. */
	tls_preamble_fn preamble;
};

/* The most bytes a preamble callback may leave undecided. */
#define TLS_PREAMBLE_MAX 64

/* ---- tls_conn.c, for the server ---- */

/* A connection whose handshake timer runs; NULL if out of memory. */
struct tls_conn *tls_conn_new(uv_loop_t *loop, struct tls_creds *creds, bool server,
			      const enum pki_role *roles, size_t nroles, const char *expect_name);
/* Starts reading once the socket is connected (accepted); the handshake is then under way. */
int tls_conn_start_io(struct tls_conn *c);
/* Restarts the handshake deadline at ms from now. */
void tls_conn_set_handshake_deadline(struct tls_conn *c, unsigned ms);
/* A failure: the reason (if given) becomes tls_conn_error, the owner hears of it through
 * ready if the handshake had not finished, and the connection closes. */
void tls_conn_fail(struct tls_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The connection's close (to come) is a TCP reset, its socket closed in that very call:
 * for connections the server throws out before they said anything (over a cap, or
 * displaced). No FIN first, no TIME_WAIT, and no loop turn in which the socket stays
 * established and its descriptor held, which under a flood is a whole accept backlog. */
void tls_conn_set_reset(struct tls_conn *c);

/* ---- tls_server.c, for the connection ---- */

/* The connection leaves its server's counts (it is closing). */
void tls_server_detach(struct tls_conn *c);
/* The handshake of an accepted connection has succeeded: either that authenticates it,
 * or the owner's login deadline starts. False if the connection is failing instead. */
bool tls_server_handshake_done(struct tls_conn *c);
/* A deadline passed on c (its handshake's, or the owner's): counted if c is pending. */
void tls_server_count_timeout(struct tls_conn *c, bool handshake);

#endif
