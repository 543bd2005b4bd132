/* The secondary's key holder process (keyholder_proc.c): forked at start-up, before any
 * socket exists, it alone reads the private key and signs TLS handshakes for the daemon
 * over a socket pair (the protocol is secondary/keyholder.h). */
#ifndef INSEL_KEYHOLDER_PROC_H
#define INSEL_KEYHOLDER_PROC_H

#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "keyholder.h"

/* Forks the holder for key_file and asks it for the key's description (kh->current).
 * On failure returns a negative error and writes a sentence to err; the holder has then
 * logged its own reason. */
int keyholder_spawn(const char *key_file, struct keyholder *kh, char *err, size_t errlen);
/* Reaps the holder when it dies (SIGCHLD) and says so in the log: from then on the
 * daemon refuses new handshakes and keeps the calls it has. sig is initialised here;
 * the caller closes it at shutdown. */
void keyholder_watch(uv_loop_t *loop, struct keyholder *kh, uv_signal_t *sig);

/* ---- inside the holder (keyholder_serve.c) ---- */

struct held_key {
	gnutls_x509_privkey_t x509;
	gnutls_privkey_t priv;       /* signs; refers to x509 */
	struct keyholder_key pub;
};

struct holder {
	struct held_key current;
	struct held_key other;       /* pending (generated, not committed) or the previous */
	bool other_pending;
	int dirfd;                   /* the key file's directory */
	char name[NAME_MAX + 1];     /* the key file's name in it */
	unsigned long signatures;
};

/* Reads and checks the key (ECDSA), opens its directory; a sentence in err on failure. */
int holder_load(struct holder *h, const char *key_file, char *err, size_t errlen);
void holder_free(struct holder *h);
/* Answers one request (len bytes); returns the reply's length in out, or a negative
 * error if no reply could be encoded. */
int holder_handle(struct holder *h, const uint8_t *msg, size_t len, uint8_t *out, size_t cap);
/* Answers requests on fd until the daemon closes its end (0) or an error (1). */
int holder_serve(struct holder *h, int fd);

#endif
