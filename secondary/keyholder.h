/* The key holder's protocol: how a daemon that parses network input has its TLS handshakes
 * signed by a small process that alone holds the long-term private key (OpenSSH's
 * privilege-separation monitor, reduced to one key and five requests).
 *
 * The two processes share a SOCK_SEQPACKET socket pair, so every message is one datagram
 * of at most KEYHOLDER_MSG_MAX bytes. All integers are big-endian. A request is
 *     u8 version (1) | u8 op | u32 seq | body
 * and its reply
 *     u8 version (1) | u8 op | 0x80 | u32 seq | u16 status | body (only when status is 0)
 * Bodies, each of exactly the size its lengths say (nothing may follow):
 *     INFO      request: (none)
 *               reply:   key | u8 pending (0 or 1) | key (the pending one, if pending)
 *     SIGN      request: key_id[32] | u16 sign_algo | u16 n | digest[n]
 *               reply:   u16 n | signature[n]
 *     GENERATE  request: u8 n | name[n]   (the CN of the certificate request)
 *               reply:   key | u16 n | csr[n]   (PKCS#10, DER, signed by the new key)
 *     COMMIT    request: key_id[32]
 *               reply:   (none)
 *     DISCARD   request: key_id[32]
 *               reply:   (none)
 * where key is  u16 pk_algo | u16 bits | u16 n | spki[n]  (DER SubjectPublicKeyInfo) and a
 * key_id is the SHA-256 of a key's spki. Algorithms are GnuTLS's numbers.
 *
 * SIGN is refused unless sign_algo is the TLS 1.3 scheme of that key (ecdsa_secp256r1_sha256
 * for the P-256 keys the PKI issues) and data is exactly one digest of that scheme's hash.
 * It is a digest, not the handshake transcript, because GnuTLS hashes before it hands an
 * external ECDSA key anything; so a compromised daemon can have digests of its choice
 * signed while it runs (what it needs to complete handshakes anyway), but never learns
 * the key, and loses the signer the moment it is stopped. Only ECDSA keys are held.
 * GENERATE gives the pending key of a certificate renewal, making it first if there is
 * none: a new key of the current one's kind, written to KEY.pending (0600) beside the key
 * file KEY, so that a renewal that waits for an operator's approval survives a restart
 * (the holder loads KEY.pending at start-up too). COMMIT renames KEY.pending over KEY and
 * makes the pending key the current one; both keys sign until the holder exits, so
 * handshakes under the old certificate still complete while the new one is being
 * installed. DISCARD forgets the pending key and removes KEY.pending.
 *
 * This file has the codec (used by both ends, and fuzzed) and the daemon's side: a
 * blocking client with a time-out, whose failure the daemon treats as "cannot sign"
 * (handshakes fail, nothing else stops). The holder's side is keyholder_proc.c and
 * keyholder_serve.c. */
#ifndef INSEL_KEYHOLDER_H
#define INSEL_KEYHOLDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KEYHOLDER_VERSION 1
#define KEYHOLDER_MSG_MAX 4096
#define KEYHOLDER_ID_LEN 32        /* SHA-256 of the spki */
#define KEYHOLDER_SPKI_MAX 1024    /* an RSA-4096 spki is 550 bytes; P-256's 91 */
#define KEYHOLDER_SIG_MAX 1024     /* RSA-4096: 512; ECDSA P-256 (DER): at most 72 */
#define KEYHOLDER_DATA_MAX 64      /* a digest: SHA-256, -384 or -512 */
#define KEYHOLDER_CSR_MAX 2048
#define KEYHOLDER_NAME_MAX 64
#define KEYHOLDER_REPLY 0x80

enum keyholder_op {
	KEYHOLDER_INFO = 1,
	KEYHOLDER_SIGN = 2,
	KEYHOLDER_GENERATE = 3,
	KEYHOLDER_COMMIT = 4,
	KEYHOLDER_DISCARD = 5,
};

/* Reply statuses: what the holder says when it refuses. */
enum keyholder_status {
	KEYHOLDER_OK = 0,
	KEYHOLDER_MALFORMED = 1,    /* the request does not parse */
	KEYHOLDER_REFUSED = 2,      /* not this key's TLS 1.3 scheme, or not one digest of it */
	KEYHOLDER_UNKNOWN_KEY = 3,  /* no key with that id */
	KEYHOLDER_NO_PENDING = 4,   /* COMMIT or DISCARD without a pending key of that id */
	KEYHOLDER_FAILED = 5,       /* the crypto library or the file system failed */
};

/* A public key as the holder describes it. */
struct keyholder_key {
	uint16_t pk_algo;           /* gnutls_pk_algorithm_t */
	uint16_t bits;
	uint8_t spki[KEYHOLDER_SPKI_MAX];
	size_t spki_len;
	uint8_t id[KEYHOLDER_ID_LEN];  /* filled in by keyholder_key_set_id */
};

/* One request or reply, decoded. Views (data, sig, csr, name) point into the message. */
struct keyholder_msg {
	uint8_t op;                 /* with KEYHOLDER_REPLY set for replies */
	uint32_t seq;
	uint16_t status;            /* replies */
	uint8_t key_id[KEYHOLDER_ID_LEN];  /* SIGN, COMMIT, DISCARD requests */
	uint16_t sign_algo;         /* SIGN request */
	const uint8_t *data;        /* SIGN request: the digest to sign */
	size_t data_len;
	const uint8_t *name;        /* GENERATE request */
	size_t name_len;
	struct keyholder_key key;   /* INFO, GENERATE replies */
	bool has_pending;           /* INFO reply: */
	struct keyholder_key pending;  /* the renewal's key, not yet committed */
	const uint8_t *sig;         /* SIGN reply */
	size_t sig_len;
	const uint8_t *csr;         /* GENERATE reply */
	size_t csr_len;
};

/* Encoders write one whole message into out (KEYHOLDER_MSG_MAX bytes are always enough)
 * and return its length, or a negative error (a field over its limit). */
int keyholder_encode_request(const struct keyholder_msg *m, uint8_t *out, size_t cap);
int keyholder_encode_reply(const struct keyholder_msg *m, uint8_t *out, size_t cap);
/* Decoders: 0, or INSEL_E_MALFORMED / INSEL_E_TRUNCATED / INSEL_E_TOO_BIG /
 * INSEL_E_VERSION for anything but exactly one well-formed message of a known op. */
int keyholder_parse_request(const uint8_t *msg, size_t len, struct keyholder_msg *out);
int keyholder_parse_reply(const uint8_t *msg, size_t len, struct keyholder_msg *out);

/* True if sign_algo is the TLS 1.3 signature scheme for an ECDSA key of that many bits
 * (P-256 with SHA-256, P-384 with SHA-384, P-521 with SHA-512). */
bool keyholder_algo_fits(uint16_t pk_algo, uint16_t bits, uint16_t sign_algo);
/* True if a SIGN request for such a key may be answered: the scheme fits and len is the
 * length of the scheme's digest. */
bool keyholder_sign_allowed(uint16_t pk_algo, uint16_t bits, uint16_t sign_algo, size_t len);
/* Sets key->id to the SHA-256 of key->spki. */
int keyholder_key_set_id(struct keyholder_key *key);
/* A sentence for a reply status. */
const char *keyholder_status_str(uint16_t status);

/* ---- the daemon's side ---- */

struct keyholder {
	int fd;                     /* our end of the socket pair; -1 when none */
	pid_t pid;                  /* the holder's process (0 if not ours to reap) */
	uint32_t seq;
	unsigned timeout_ms;
	bool up;                    /* it answered once: its loss is worth a loud log line */
	bool gone;                  /* it died: nothing more is asked */
	bool late;                  /* a request timed out: none is sent until it answers */
	struct keyholder_key current;
	bool has_pending;           /* as of the last INFO: a renewal's key is pending */
	struct keyholder_key pending;
};

/* Asks for the current key's description (and keeps it in kh->current, with the pending
 * one, if any, in kh->pending). */
int keyholder_info(struct keyholder *kh, struct keyholder_key *out);
/* A signature of a digest with the key whose id is key_id; sig holds cap bytes. Returns the
 * signature's length or a negative error: INSEL_E_REFUSED (the holder said no),
 * INSEL_E_TIMEOUT (it did not answer in time; later requests fail at once until it
 * answers the late one) or INSEL_E_CLOSED (it is gone; every later request fails). */
int keyholder_sign(struct keyholder *kh, const uint8_t key_id[KEYHOLDER_ID_LEN],
		   uint16_t sign_algo, const void *data, size_t len, uint8_t *sig, size_t cap);
/* The pending key of a renewal (made now if there is none): its description, and a
 * certificate request for name signed by it (written to csr, cap bytes; its length to
 * *csr_len). The key stays pending (in KEY.pending) until committed or discarded. */
int keyholder_generate(struct keyholder *kh, const char *name, struct keyholder_key *out,
		       uint8_t *csr, size_t cap, size_t *csr_len);
/* Renames KEY.pending (the key with that id) over KEY and makes it the current one. */
int keyholder_commit(struct keyholder *kh, const uint8_t key_id[KEYHOLDER_ID_LEN]);
/* Forgets the pending key with that id and removes KEY.pending. */
int keyholder_discard(struct keyholder *kh, const uint8_t key_id[KEYHOLDER_ID_LEN]);
/* TLS credentials' view of a held key (tls_creds_load_signer): signatures are asked of
 * kh, for the key whose description is key (copied). kh must outlive the credentials. */
struct tls_signer;
void keyholder_tls_signer(struct keyholder *kh, const struct keyholder_key *key,
			  struct tls_signer *out);
/* Closes our end (the holder exits when it reads the end of the stream) and reaps it. */
void keyholder_close(struct keyholder *kh);

#endif
