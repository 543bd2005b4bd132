/* The paper's secure-socket verbs as a blocking C API for any program:
 *
 *   sec_init     load credentials; listen on TCP if asked
 *   sec_accept   take one caller: TLS 1.3 with mutual certificates, verified exactly as
 *                TLS connections are (tls_verify_peer), then the channel negotiation (negotiate.h)
 *   sec_connect  the caller's side of the same
 *   sec_send     one message on one channel, sealed into UDP datagrams (channel.h)
 *   sec_recv     the next message on any channel of the call
 *   sec_close    ends the call (close_notify on the TLS control connection)
 *
 * plus sec_export / sec_import for privilege separation: one process negotiates, exports
 * the channels' parameters (struct sec_channel_params) and the UDP socket, another
 * imports them and carries the traffic. A call negotiates one UDP socket for all its
 * channels; frames are told apart by their receiver session id.
 *
 * Every function that can fail returns a negative insel error (INSEL_E_*, err_codes.h, or
 * a negative errno; sec_strerror names it) and, where it takes err, writes a sentence
 * there.
 *
 * Installed as <insel/secsock.h> with the shared library libinsel-secsock
 * (`pkg-config --cflags --libs insel-secsock`, docs/secsock.md); it includes only the type
 * headers beside it, and the library exports the sec_* functions and nothing else. */
#ifndef INSEL_SECSOCK_H
#define INSEL_SECSOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr_types.h"
#include "chanparams_types.h"
#include "err_codes.h"
#include "negotiate_types.h"
#include "pki_types.h"

#define SEC_TIMEOUT_DEFAULT_MS 10000
#define SEC_MAX_MSG 65536  /* largest message sec_send takes (fragmented as needed) */

struct sec_options {
	const char *ca_file, *cert_file, *key_file;
	const struct ip_endpoint *listen;  /* NULL: this socket only connects */
	const enum pki_role *allowed_roles;/* roles sec_accept admits; NULL: secondaries */
	size_t nroles;
	struct negotiate_prefs prefs;      /* ciphers/compression; all zero: the defaults */
	unsigned timeout_ms;               /* handshake and negotiation; 0: the default */
};

struct sec_socket;
struct sec_call;

int sec_init(const struct sec_options *opt, struct sec_socket **out, char *err,
	     size_t errlen);
/* The TCP port listened on (useful with port 0); 0 if not listening. */
uint16_t sec_port(const struct sec_socket *s);
void sec_free(struct sec_socket *s);

/* Waits for one caller, authenticates it and negotiates its channels. A caller refused
 * (verification, no common cipher, malformed offer) is answered and dropped, and the
 * reason returned; the listening socket stays usable. */
int sec_accept(struct sec_socket *s, struct sec_call **out, char *err, size_t errlen);
/* Calls `to`, expecting a peer of expect_role (and name, unless NULL), and negotiates
 * nchannels channels with the given application ports. */
int sec_connect(struct sec_socket *s, const struct ip_endpoint *to, enum pki_role expect_role,
		const char *expect_name, const struct negotiate_channel *channels,
		size_t nchannels, struct sec_call **out, char *err, size_t errlen);

/* Sends one message of up to SEC_MAX_MSG bytes on a channel; returns len or an error. */
ssize_t sec_send(struct sec_call *c, unsigned channel, const void *data, size_t len);
/* Receives the next message on any channel into buf, its channel into *channel. Waits
 * up to timeout_ms (-1: forever). Returns its length, INSEL_E_TIMEOUT, or INSEL_E_TOO_BIG
 * (the message did not fit in cap and was dropped). Forged or replayed datagrams are
 * dropped and waiting goes on. */
ssize_t sec_recv(struct sec_call *c, unsigned *channel, void *buf, size_t cap, int timeout_ms);
void sec_close(struct sec_call *c);

size_t sec_call_channels(const struct sec_call *c);
/* Who the peer is (NULL for an imported call). */
const struct pki_identity *sec_call_peer(const struct sec_call *c);
/* The local UDP endpoint of the call's data channels. */
int sec_call_udp_endpoint(const struct sec_call *c, struct ip_endpoint *out);

/* Hands the call's channels over: params[0..*n) (at most SEC_MAX_CHANNELS) and a
 * duplicate of the UDP socket in *udp_fd. Only a call that has not sent or received yet
 * can be exported (a counter must never be used twice under one key); afterwards this
 * call can no longer carry data, only be closed. The caller wipes params
 * (sec_params_wipe) once they are passed on. */
int sec_export(struct sec_call *c, struct sec_channel_params *params, size_t *n, int *udp_fd);
/* Builds a call from exported channels; takes ownership of udp_fd. */
int sec_import(const struct sec_channel_params *params, size_t n, int udp_fd,
	       struct sec_call **out);

/* Wipes the keys of exported channel parameters. */
void sec_params_wipe(struct sec_channel_params *p);

/* "1.2.3.4:80", "[2001:db8::1]:80"; 0, or INSEL_E_BAD_ADDR. */
int sec_endpoint_parse(const char *text, struct ip_endpoint *out);
/* The text form of an endpoint (at most IP_STRLEN bytes with its NUL); returns out. */
char *sec_endpoint_format(const struct ip_endpoint *e, char *out, size_t outlen);
/* A sentence for any error a sec_* function returned; never NULL. */
const char *sec_strerror(int err);

#endif
