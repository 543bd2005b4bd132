/* Mutually authenticated TLS 1.3 connections on libuv, carrying framed JSON control
 * messages (msg.h). Used by the principal's API, the secondaries' registration, the peer
 * protocol between secondaries and the client API.
 *
 * Both sides present a certificate issued by the organisation CA (pki.h). A connection is
 * usable once its ready callback reports 0: by then the peer's chain, validity dates,
 * role, name (when one was expected) and revocation status have been checked, and
 * tls_conn_peer() tells who it is. A failed check ends the connection with a reason that
 * says which check failed (tls_conn_error()).
 *
 * GnuTLS runs over memory buffers: libuv reads ciphertext into the session, and records
 * that GnuTLS produces are written with uv_write; so one event loop serves many
 * connections without blocking.
 *
 * Where each part lives: credentials in tls_creds.c (a key held by another process:
 * tls_signer.c), the checks of a peer in tls_verify.c, session set-up in tls_session.c,
 * a connection (either end, and the client's connect) in tls_conn.c, a listener and its
 * caps in tls_server.c. */
#ifndef INSEL_TLS_H
#define INSEL_TLS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "addr.h"
#include "pki.h"

struct tls_creds;
struct tls_conn;
struct tls_server;

/* Loads the CA certificate, this party's certificate and its private key. On failure
 * returns a negative error and writes a sentence naming the file and the problem.
 * cert_file and key_file both NULL: a party without a certificate (an end user's client)
 * that can only connect to servers accepting PKI_ROLE_NONE. */
int tls_creds_load(struct tls_creds **out, const char *ca_file, const char *cert_file,
		   const char *key_file, char *err, size_t errlen);
void tls_creds_free(struct tls_creds *c);
/* Credentials of a party without a certificate that trusts the CA given in memory (PEM):
 * a confined process that can open no file (an auxiliary checking its relay). It can only
 * connect to servers that accept PKI_ROLE_NONE. */
int tls_creds_load_ca_pem(struct tls_creds **out, const void *pem, size_t len, char *err,
			  size_t errlen);
/* A private key that another process holds (keyholder.h): its public half, and how to
 * have a handshake signed with it. */
#define TLS_SPKI_MAX 1024
struct tls_signer {
	/* Signs digest (GnuTLS hashes first) with the GnuTLS signature algorithm sign_algo,
	 * using the key whose public half is spki. Returns the signature's length in sig (at
	 * most cap bytes) or a negative error; the handshake then fails. */
	int (*sign)(void *ctx, const uint8_t *spki, size_t spki_len, unsigned sign_algo,
		    const void *digest, size_t len, uint8_t *sig, size_t cap);
	/* May this key sign with sign_algo? */
	bool (*can_sign)(void *ctx, unsigned pk_algo, unsigned bits, unsigned sign_algo);
	void *ctx;                 /* must outlive the credentials */
	unsigned pk_algo;          /* gnutls_pk_algorithm_t */
	unsigned bits;
	const uint8_t *spki;       /* DER SubjectPublicKeyInfo; copied */
	size_t spki_len;
};
/* tls_creds_load for a party whose private key stays in another process: the key is
 * never read here; each handshake's signature is asked of signer. The certificate's
 * public key must be signer's. */
int tls_creds_load_signer(struct tls_creds **out, const char *ca_file, const char *cert_file,
			  const struct tls_signer *signer, char *err, size_t errlen);
/* Replaces this party's certificate and its key (a key file, or a signer for a key held
 * by another process: exactly one of them) for every connection made or accepted from now
 * on (a renewed certificate), after the same checks as tls_creds_load (they match, the
 * certificate chains to the CA loaded then). Connections already open keep the
 * credentials they were made with, which are freed with the last of them. On failure
 * nothing changes. */
int tls_creds_replace(struct tls_creds *c, const char *cert_file, const char *key_file,
		      const struct tls_signer *signer, char *err, size_t errlen);
/* Revocation is asked of the owner at every handshake (the principal looks in its
 * directory; a secondary in the list it fetched from the principal). Return true if the
 * certificate with that serial (lowercase hex) is revoked. */
typedef bool (*tls_revoked_fn)(void *ctx, const char *serial_hex);
void tls_creds_set_revocation_check(struct tls_creds *c, tls_revoked_fn fn, void *ctx);
/* A handshake (TCP connect included) that has not finished after this long is abandoned
 * with INSEL_E_TIMEOUT, so a silent peer cannot hold a slot. 0 restores the default, 10 s.
 * Applies to connections made after the call. */
void tls_creds_set_handshake_timeout(struct tls_creds *c, unsigned ms);
/* This party's own identity, as read from its certificate. */
const struct pki_identity *tls_creds_identity(const struct tls_creds *c);

struct tls_conn_callbacks {
	/* Handshake and peer checks finished: status 0, or a negative error (the connection
	 * is then closing; close is still called). */
	void (*ready)(struct tls_conn *c, int status);
	/* One control message, as msg_frame_cb in msg.h (msg borrowed; err for skipped
	 * frames). */
	void (*message)(struct tls_conn *c, json_t *msg, int err);
	/* The connection is gone; the struct is freed right after this returns. */
	void (*close)(struct tls_conn *c);
};

/* Accepted connections: the server calls on_accept with a new conn whose handshake is
 * under way; the owner sets callbacks and data there. allowed_roles: a peer whose
 * certificate has another role is refused at the handshake. PKI_ROLE_NONE among them lets
 * peers without a certificate in (their identity then has role NONE and no name); a peer
 * that does present one is still verified in full. */
typedef void (*tls_accept_fn)(struct tls_server *s, struct tls_conn *c);
int tls_server_listen(uv_loop_t *loop, struct tls_creds *creds, const struct ip_endpoint *bind,
		      const enum pki_role *allowed_roles, size_t nroles, tls_accept_fn on_accept,
		      void *data, struct tls_server **out);
/* The same on a bound TCP socket the caller made (by a process with the privilege to bind
 * it, or in a process that may no longer make sockets); the server takes fd over. */
int tls_server_listen_fd(uv_loop_t *loop, struct tls_creds *creds, int fd,
			 const enum pki_role *allowed_roles, size_t nroles,
			 tls_accept_fn on_accept, void *data, struct tls_server **out);
void *tls_server_data(const struct tls_server *s);

/* What a listening server lets in before and after authentication. A connection is
 * pending from accept until it authenticates: at the end of the TLS handshake where the
 * certificate is the authentication, or when the owner calls tls_conn_authenticated (a
 * password login) on servers with a login deadline. One source (an IPv4 address, an IPv6
 * /64) holding many idle connections thus fills only its own share of the pending slots,
 * never the authenticated ones. When a cap is reached, the oldest pending connection (of
 * that source, for the per-source cap) that has sent nothing for a second gives way to
 * the newcomer; without one, the newcomer is reset. So idle holders cannot keep out even
 * a client behind the same address (a gateway and its NATed LAN hosts). A count of 0
 * means no cap. */
struct tls_server_limits {
	unsigned max_pending;             /* pending connections; more are reset at accept */
	unsigned max_pending_per_source;  /* pending connections from one source */
	unsigned max_authenticated;       /* authenticated connections; more are closed as
					   * they authenticate (INSEL_E_LIMIT) */
	unsigned handshake_timeout_ms;    /* TLS handshake deadline (0: the credentials') */
	unsigned login_timeout_ms;        /* 0: the handshake authenticates; else the owner
					   * must call tls_conn_authenticated this long after
					   * the handshake, or the connection ends */
};
void tls_server_set_limits(struct tls_server *s, const struct tls_server_limits *l);

struct tls_server_counts {
	unsigned pending, authenticated;  /* now */
	uint64_t refused_pending;         /* reset at accept: over max_pending */
	uint64_t refused_source;          /* reset at accept: over max_pending_per_source */
	uint64_t refused_authenticated;   /* closed on authenticating: over max_authenticated */
	uint64_t displaced;               /* pending, silent for a second, closed to make room */
	uint64_t timed_out;               /* handshake or login deadline passed */
};
void tls_server_counts(const struct tls_server *s, struct tls_server_counts *out);
/* The port actually bound (useful with port 0). */
uint16_t tls_server_port(const struct tls_server *s);
/* Connection reversal and splicing (docs/nat.md): a peer connection may start with a
 * short preamble (preamble.h) before its TLS. On a server given this callback, an
 * accepted stream whose first byte is not a TLS handshake record (0x16) is shown to fn,
 * with every byte received so far, before any TLS: fn returns 0 to wait for more (at most
 * TLS_PREAMBLE_MAX bytes), a negative error to refuse the connection, or the number of
 * bytes the preamble took, once it has decided what the connection is (typically by
 * calling tls_conn_become_client and setting the owner's callbacks). A stream that starts
 * with a TLS record is served as usual. */
typedef int (*tls_preamble_fn)(struct tls_conn *c, const uint8_t *data, size_t len);
void tls_server_set_preamble(struct tls_server *s, tls_preamble_fn fn);
/* Stops listening; open connections are not affected. */
void tls_server_close(struct tls_server *s);

/* Connects and handshakes; expect_name NULL accepts any name of that role. */
int tls_connect(uv_loop_t *loop, struct tls_creds *creds, const struct ip_endpoint *to,
		enum pki_role expect_role, const char *expect_name,
		const struct tls_conn_callbacks *cb, void *data, struct tls_conn **out);
/* tls_connect on a TCP socket the caller made and bound (a confined process may make no
 * new socket): the connection takes fd over, and closes it with itself or on failure. */
int tls_connect_socket(uv_loop_t *loop, struct tls_creds *creds, int fd,
		       const struct ip_endpoint *to, enum pki_role expect_role,
		       const char *expect_name, const struct tls_conn_callbacks *cb, void *data,
		       struct tls_conn **out);
/* The same from a given local address (on a host with several, the one the peer is to
 * see); from NULL lets the kernel choose, as tls_connect does. */
int tls_connect_from(uv_loop_t *loop, struct tls_creds *creds, const struct ip_addr *from,
		     const struct ip_endpoint *to, enum pki_role expect_role,
		     const char *expect_name, const struct tls_conn_callbacks *cb, void *data,
		     struct tls_conn **out);

/* Connects, writes the preamble's bytes, then handshakes as the TLS server (as_server:
 * the end of a reversed or spliced connection that was called) or client, expecting a
 * peer of peer_role (and name, unless NULL). The handshake deadline covers it all. */
int tls_connect_preamble(uv_loop_t *loop, struct tls_creds *creds,
			 const struct ip_endpoint *to, const void *preamble, size_t len,
			 bool as_server, enum pki_role peer_role, const char *expect_name,
			 const struct tls_conn_callbacks *cb, void *data, struct tls_conn **out);
/* An accepted connection, still before its handshake (from a preamble callback), is to
 * be the TLS client instead, expecting a server of that role and name: the connection
 * was dialled back by the party this side called. 0, or a negative error. */
int tls_conn_become_client(struct tls_conn *c, enum pki_role expect_role,
			   const char *expect_name);

void tls_conn_set_callbacks(struct tls_conn *c, const struct tls_conn_callbacks *cb,
			    void *data);
void *tls_conn_data(const struct tls_conn *c);
int tls_conn_send(struct tls_conn *c, const json_t *msg);
/* Sends msg and drops the reference. */
int tls_conn_send_new(struct tls_conn *c, json_t *msg);
/* A connection that carries its owner's own byte stream instead of control messages (the
 * relay's TCP fallback, relay_stream.h). From this call on, every byte decrypted goes to
 * `bytes` and `message` is never called; set it in the ready callback at the latest. */
typedef void (*tls_conn_bytes_fn)(struct tls_conn *c, const uint8_t *data, size_t len);
void tls_conn_set_raw(struct tls_conn *c, tls_conn_bytes_fn bytes);
/* Sends bytes on a raw connection as one write. When more than max_queued bytes already
 * wait to be written (the peer or the path is slower than the sender), nothing is sent
 * and INSEL_E_LIMIT returned: the connection stays, the caller drops what it would have
 * queued (datagrams are not queued without bound). 0, INSEL_E_CLOSED, or an error that
 * ends the connection. */
int tls_conn_send_bytes(struct tls_conn *c, const void *data, size_t len, size_t max_queued);
/* Ciphertext bytes waiting to be written. */
size_t tls_conn_queued(const struct tls_conn *c);
/* Who the peer is; valid after ready reported 0. */
const struct pki_identity *tls_conn_peer(const struct tls_conn *c);
/* The peer's address as seen on the socket. */
int tls_conn_peer_endpoint(const struct tls_conn *c, struct ip_endpoint *out);
/* Our own address on the socket: where the peer reached us. */
int tls_conn_local_endpoint(const struct tls_conn *c, struct ip_endpoint *out);
/* The TCP connection's smoothed round trip as the kernel measures it (TCP_INFO), in ms
 * (at least 1): 0, or a negative errno when it cannot be had. */
int tls_conn_rtt_ms(const struct tls_conn *c, unsigned *out);
/* RFC 8446 keying-material exporter; both ends get the same bytes for the same label and
 * context, and nothing of them ever crosses the wire. */
int tls_conn_export_keying(struct tls_conn *c, const char *label, const void *context,
			   size_t context_len, void *out, size_t out_len);
/* The owner has authenticated the peer of an accepted connection (a password login): it
 * leaves its server's pending count and its login deadline. INSEL_E_LIMIT if the server
 * already holds max_authenticated connections: the owner says so and closes. 0 for a
 * connection that is already authenticated or was not accepted by a server. */
int tls_conn_authenticated(struct tls_conn *c);
/* A deadline the owner sets on an open connection (an idle time-out): unless cleared
 * (ms 0) or set again before it passes, the connection fails with INSEL_E_TIMEOUT and
 * the sentence `what` as its error. Replaces a login deadline still running. */
void tls_conn_set_deadline(struct tls_conn *c, unsigned ms, const char *what);
/* Closes (sending close_notify when possible); reason is kept for the close callback. */
void tls_conn_close(struct tls_conn *c, int reason);
int tls_conn_close_reason(const struct tls_conn *c);
/* A sentence describing the last handshake or verification failure on c. */
const char *tls_conn_error(const struct tls_conn *c);

#endif
