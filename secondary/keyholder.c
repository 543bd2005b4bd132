/* The key holder's message codec and the daemon's blocking client (see keyholder.h). The
 * holder itself, which loads the key and answers, is keyholder_proc.c and keyholder_serve.c.
 *
 * Every message is parsed with the bounds-checked reader: sticky errors, one check at the
 * end, and nothing may be left over. The client sends one request, waits (poll, bounded)
 * for the reply with the same sequence number, and drops late replies to earlier requests
 * it gave up on. Once the holder is gone (end of stream, an error, or no answer in time)
 * the client says so once in the log and fails every later request at once, so that a
 * daemon whose holder died refuses handshakes quickly instead of stalling its event loop. */
#include "keyholder.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "timeouts.h"
#include "tls.h"

/* ---- checks both ends make ---- */

bool keyholder_algo_fits(uint16_t pk_algo, uint16_t bits, uint16_t sign_algo)
{
	if (pk_algo != GNUTLS_PK_ECDSA)
		return false;
	return (bits == 256 && sign_algo == GNUTLS_SIGN_ECDSA_SECP256R1_SHA256) ||
	       (bits == 384 && sign_algo == GNUTLS_SIGN_ECDSA_SECP384R1_SHA384) ||
	       (bits == 521 && sign_algo == GNUTLS_SIGN_ECDSA_SECP521R1_SHA512);
}

bool keyholder_sign_allowed(uint16_t pk_algo, uint16_t bits, uint16_t sign_algo, size_t len)
{
	gnutls_digest_algorithm_t hash;

	if (!keyholder_algo_fits(pk_algo, bits, sign_algo))
		return false;
	hash = gnutls_sign_get_hash_algorithm((gnutls_sign_algorithm_t)sign_algo);
	return hash != GNUTLS_DIG_UNKNOWN && len == (size_t)gnutls_hash_get_len(hash);
}

int keyholder_key_set_id(struct keyholder_key *key)
{
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, key->spki, key->spki_len, key->id) < 0)
		return INSEL_E_CRYPTO;
	return 0;
}

const char *keyholder_status_str(uint16_t status)
{
	switch (status) {
	case KEYHOLDER_OK:
		return "done";
	case KEYHOLDER_MALFORMED:
		return "the request did not parse";
	case KEYHOLDER_REFUSED:
		return "refused: only one digest, in the key's own TLS 1.3 scheme";
	case KEYHOLDER_UNKNOWN_KEY:
		return "no key with that id";
	case KEYHOLDER_NO_PENDING:
		return "no new key with that id is pending";
	case KEYHOLDER_FAILED:
		return "the key holder failed (crypto library or file system)";
	default:
		return "unknown status";
	}
}

/* ---- encoding ---- */

static void put_key(struct buf_writer *w, const struct keyholder_key *k)
{
	bw_u16(w, k->pk_algo);
	bw_u16(w, k->bits);
	bw_u16(w, (uint16_t)k->spki_len);
	bw_bytes(w, k->spki, k->spki_len);
}

static int finish(struct buf_writer *w)
{
	return bw_error(w) ? bw_error(w) : (int)bw_len(w);
}

int keyholder_encode_request(const struct keyholder_msg *m, uint8_t *out, size_t cap)
{
	struct buf_writer w;

	bw_init(&w, out, cap);
	bw_u8(&w, KEYHOLDER_VERSION);
	bw_u8(&w, m->op);
	bw_u32(&w, m->seq);
	switch (m->op) {
	case KEYHOLDER_INFO:
		break;
	case KEYHOLDER_SIGN:
		if (m->data_len > KEYHOLDER_DATA_MAX)
			return INSEL_E_TOO_BIG;
		bw_bytes(&w, m->key_id, KEYHOLDER_ID_LEN);
		bw_u16(&w, m->sign_algo);
		bw_u16(&w, (uint16_t)m->data_len);
		bw_bytes(&w, m->data, m->data_len);
		break;
	case KEYHOLDER_GENERATE:
		if (m->name_len > KEYHOLDER_NAME_MAX)
			return INSEL_E_TOO_BIG;
		bw_u8(&w, (uint8_t)m->name_len);
		bw_bytes(&w, m->name, m->name_len);
		break;
	case KEYHOLDER_COMMIT:
	case KEYHOLDER_DISCARD:
		bw_bytes(&w, m->key_id, KEYHOLDER_ID_LEN);
		break;
	default:
		return INSEL_E_MALFORMED;
	}
	return finish(&w);
}

int keyholder_encode_reply(const struct keyholder_msg *m, uint8_t *out, size_t cap)
{
	uint8_t op = m->op & (uint8_t)~KEYHOLDER_REPLY;
	struct buf_writer w;

	if (m->key.spki_len > KEYHOLDER_SPKI_MAX || m->pending.spki_len > KEYHOLDER_SPKI_MAX ||
	    m->sig_len > KEYHOLDER_SIG_MAX || m->csr_len > KEYHOLDER_CSR_MAX)
		return INSEL_E_TOO_BIG;
	bw_init(&w, out, cap);
	bw_u8(&w, KEYHOLDER_VERSION);
	bw_u8(&w, op | KEYHOLDER_REPLY);
	bw_u32(&w, m->seq);
	bw_u16(&w, m->status);
	if (m->status != KEYHOLDER_OK)
		return finish(&w);
	switch (op) {
	case KEYHOLDER_INFO:
		put_key(&w, &m->key);
		bw_u8(&w, m->has_pending ? 1 : 0);
		if (m->has_pending)
			put_key(&w, &m->pending);
		break;
	case KEYHOLDER_SIGN:
		bw_u16(&w, (uint16_t)m->sig_len);
		bw_bytes(&w, m->sig, m->sig_len);
		break;
	case KEYHOLDER_GENERATE:
		put_key(&w, &m->key);
		bw_u16(&w, (uint16_t)m->csr_len);
		bw_bytes(&w, m->csr, m->csr_len);
		break;
	case KEYHOLDER_COMMIT:
	case KEYHOLDER_DISCARD:
		break;
	default:
		return INSEL_E_MALFORMED;
	}
	return finish(&w);
}

/* ---- parsing ---- */

/* A u16 length, checked against its limit, then a view of that many bytes. */
static int get_run(struct buf_reader *r, size_t max, const uint8_t **out, size_t *len)
{
	uint16_t n = 0;

	if (br_u16(r, &n) == 0 && n > max)
		return INSEL_E_TOO_BIG;
	*len = n;
	return br_view(r, out, n);
}

static int get_key(struct buf_reader *r, struct keyholder_key *k)
{
	const uint8_t *spki = NULL;
	int rc;

	br_u16(r, &k->pk_algo);
	br_u16(r, &k->bits);
	rc = get_run(r, KEYHOLDER_SPKI_MAX, &spki, &k->spki_len);
	if (rc == INSEL_E_TOO_BIG)
		return rc;
	if (br_error(r) == 0)
		memcpy(k->spki, spki, k->spki_len);
	return br_error(r);
}

/* INFO's flag and, if set, the pending key. */
static int get_pending(struct buf_reader *r, struct keyholder_msg *m)
{
	uint8_t flag = 0;

	if (br_u8(r, &flag))
		return br_error(r);
	if (flag > 1)
		return INSEL_E_MALFORMED;
	m->has_pending = flag == 1;
	return m->has_pending ? get_key(r, &m->pending) : 0;
}

/* Starts reading a message of either direction: its size, then version, op and sequence
 * number. */
static int begin_message(struct buf_reader *r, const uint8_t *msg, size_t len,
			 struct keyholder_msg *m)
{
	uint8_t version = 0;

	if (len > KEYHOLDER_MSG_MAX)
		return INSEL_E_TOO_BIG;
	br_init(r, msg, len);
	memset(m, 0, sizeof *m);
	br_u8(r, &version);
	br_u8(r, &m->op);
	br_u32(r, &m->seq);
	if (br_error(r))
		return br_error(r);
	return version == KEYHOLDER_VERSION ? 0 : INSEL_E_VERSION;
}

static int end_of_message(struct buf_reader *r, int rc)
{
	if (rc)
		return rc;
	if (br_error(r))
		return br_error(r);
	return br_remaining(r) == 0 ? 0 : INSEL_E_MALFORMED;
}

int keyholder_parse_request(const uint8_t *msg, size_t len, struct keyholder_msg *out)
{
	struct buf_reader r;
	uint8_t namelen = 0;
	int rc;

	rc = begin_message(&r, msg, len, out);
	if (rc)
		return rc;
	switch (out->op) {
	case KEYHOLDER_INFO:
		break;
	case KEYHOLDER_SIGN:
		br_copy(&r, out->key_id, KEYHOLDER_ID_LEN);
		br_u16(&r, &out->sign_algo);
		rc = get_run(&r, KEYHOLDER_DATA_MAX, &out->data, &out->data_len);
		break;
	case KEYHOLDER_GENERATE:
		if (br_u8(&r, &namelen) == 0 && namelen > KEYHOLDER_NAME_MAX)
			return INSEL_E_TOO_BIG;
		out->name_len = namelen;
		br_view(&r, &out->name, namelen);
		break;
	case KEYHOLDER_COMMIT:
	case KEYHOLDER_DISCARD:
		br_copy(&r, out->key_id, KEYHOLDER_ID_LEN);
		break;
	default:
		return INSEL_E_MALFORMED;
	}
	return end_of_message(&r, rc);
}

int keyholder_parse_reply(const uint8_t *msg, size_t len, struct keyholder_msg *out)
{
	struct buf_reader r;
	int rc;

	rc = begin_message(&r, msg, len, out);
	if (rc)
		return rc;
	if (!(out->op & KEYHOLDER_REPLY))
		return INSEL_E_MALFORMED;
	if (br_u16(&r, &out->status) || out->status != KEYHOLDER_OK)
		return end_of_message(&r, 0);
	switch (out->op & (uint8_t)~KEYHOLDER_REPLY) {
	case KEYHOLDER_INFO:
		rc = get_key(&r, &out->key);
		if (!rc)
			rc = get_pending(&r, out);
		break;
	case KEYHOLDER_SIGN:
		rc = get_run(&r, KEYHOLDER_SIG_MAX, &out->sig, &out->sig_len);
		break;
	case KEYHOLDER_GENERATE:
		rc = get_key(&r, &out->key);
		if (!rc)
			rc = get_run(&r, KEYHOLDER_CSR_MAX, &out->csr, &out->csr_len);
		break;
	case KEYHOLDER_COMMIT:
	case KEYHOLDER_DISCARD:
		break;
	default:
		return INSEL_E_MALFORMED;
	}
	return end_of_message(&r, rc);
}

/* ---- the daemon's client ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int holder_gone(struct keyholder *kh, int err, const char *why)
{
	if (!kh->gone && kh->up)
		log_error("the key holder (pid %ld) %s: this gateway cannot sign TLS handshakes "
			  "any more, so new connections are refused (calls already up go on); "
			  "restart insel-secondary",
			  (long)kh->pid, why);
	kh->gone = true;
	return err;
}

/* A holder that did not answer within the time-out is late, not gone: a host that stalls
 * (a loaded machine descheduling it for seconds) would otherwise leave the gateway
 * refusing every handshake until restarted. While it is late, requests fail at once
 * (the loop must not wait the time-out again for each handshake); once any reply of it
 * arrives, it answers again. One that died is told by SIGCHLD or its closed socket. */
static int holder_late(struct keyholder *kh)
{
	if (!kh->late)
		log_warn("the key holder (pid %ld) did not answer within %u ms: new TLS "
			 "handshakes fail until it answers again", (long)kh->pid,
			 kh->timeout_ms ? kh->timeout_ms : KEYHOLDER_TIMEOUT_MS);
	kh->late = true;
	return INSEL_E_TIMEOUT;
}

/* Whether a late holder has answered since (its reply is dropped: its asker is gone). */
static int still_late(struct keyholder *kh)
{
	uint8_t buf[KEYHOLDER_MSG_MAX];
	ssize_t n = recv(kh->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return INSEL_E_TIMEOUT;
	if (n <= 0)
		return holder_gone(kh, INSEL_E_CLOSED, "is gone");
	kh->late = false;
	log_info("the key holder (pid %ld) answers again", (long)kh->pid);
	return 0;
}

/* Waits for the reply to seq, dropping stale ones. Fills buf; returns its length. */
static int await_reply(struct keyholder *kh, uint32_t seq, uint8_t *buf, size_t cap,
		       struct keyholder_msg *reply)
{
	uint64_t deadline = now_ms() + (kh->timeout_ms ? kh->timeout_ms : KEYHOLDER_TIMEOUT_MS);

	for (;;) {
		struct pollfd p = {.fd = kh->fd, .events = POLLIN};
		uint64_t now = now_ms();
		ssize_t n;
		int rc;

		if (now >= deadline)
			return holder_late(kh);
		rc = poll(&p, 1, (int)(deadline - now));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return holder_gone(kh, -errno, "cannot be waited for");
		if (rc == 0)
			continue;
		n = recv(kh->fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return holder_gone(kh, n < 0 ? -errno : INSEL_E_CLOSED, "is gone");
		if ((size_t)n > cap || keyholder_parse_reply(buf, (size_t)n, reply) != 0)
			return holder_gone(kh, INSEL_E_PROTOCOL, "sent a malformed reply");
		if (reply->seq == seq)
			return (int)n;
		log_debug("dropping a late reply (seq %u, waiting for %u)", reply->seq, seq);
	}
}

/* One round trip: request out, the reply with the same op and seq back in buf. */
static int round_trip(struct keyholder *kh, struct keyholder_msg *req, uint8_t *buf,
		      size_t cap, struct keyholder_msg *reply)
{
	uint8_t out[KEYHOLDER_MSG_MAX];
	int len, rc;

	if (kh->gone || kh->fd < 0)
		return INSEL_E_CLOSED;
	if (kh->late && (rc = still_late(kh)) != 0)
		return rc;
	req->seq = ++kh->seq;
	len = keyholder_encode_request(req, out, sizeof out);
	if (len < 0)
		return len;
	if (send(kh->fd, out, (size_t)len, MSG_NOSIGNAL) != len)
		return holder_gone(kh, -errno, "cannot be written to");
	rc = await_reply(kh, req->seq, buf, cap, reply);
	if (rc < 0)
		return rc;
	if ((reply->op & (uint8_t)~KEYHOLDER_REPLY) != req->op)
		return holder_gone(kh, INSEL_E_PROTOCOL, "answered another request");
	if (reply->status != KEYHOLDER_OK) {
		log_warn("the key holder refused a request: %s",
			 keyholder_status_str(reply->status));
		return reply->status == KEYHOLDER_FAILED ? INSEL_E_CRYPTO : INSEL_E_REFUSED;
	}
	return 0;
}

static int take_key(const struct keyholder_key *in, struct keyholder_key *out)
{
	*out = *in;
	return keyholder_key_set_id(out);
}

int keyholder_info(struct keyholder *kh, struct keyholder_key *out)
{
	struct keyholder_msg req = {.op = KEYHOLDER_INFO}, reply;
	uint8_t buf[KEYHOLDER_MSG_MAX];
	int rc = round_trip(kh, &req, buf, sizeof buf, &reply);

	if (!rc)
		rc = take_key(&reply.key, &kh->current);
	kh->has_pending = !rc && reply.has_pending;
	if (kh->has_pending)
		rc = take_key(&reply.pending, &kh->pending);
	if (!rc && out)
		*out = kh->current;
	return rc;
}

int keyholder_sign(struct keyholder *kh, const uint8_t key_id[KEYHOLDER_ID_LEN],
		   uint16_t sign_algo, const void *data, size_t len, uint8_t *sig, size_t cap)
{
	struct keyholder_msg req = {.op = KEYHOLDER_SIGN, .sign_algo = sign_algo,
				    .data = data, .data_len = len}, reply;
	uint8_t buf[KEYHOLDER_MSG_MAX];
	int rc;

	memcpy(req.key_id, key_id, KEYHOLDER_ID_LEN);
	rc = round_trip(kh, &req, buf, sizeof buf, &reply);
	if (rc)
		return rc;
	if (reply.sig_len > cap)
		return INSEL_E_NOSPACE;
	memcpy(sig, reply.sig, reply.sig_len);
	return (int)reply.sig_len;
}

int keyholder_generate(struct keyholder *kh, const char *name, struct keyholder_key *out,
		       uint8_t *csr, size_t cap, size_t *csr_len)
{
	struct keyholder_msg req = {.op = KEYHOLDER_GENERATE, .name = (const uint8_t *)name,
				    .name_len = strlen(name)}, reply;
	uint8_t buf[KEYHOLDER_MSG_MAX];
	int rc = round_trip(kh, &req, buf, sizeof buf, &reply);

	if (rc)
		return rc;
	if (reply.csr_len > cap)
		return INSEL_E_NOSPACE;
	memcpy(csr, reply.csr, reply.csr_len);
	*csr_len = reply.csr_len;
	return take_key(&reply.key, out);
}

static int about_pending(struct keyholder *kh, uint8_t op,
			 const uint8_t key_id[KEYHOLDER_ID_LEN])
{
	struct keyholder_msg req = {.op = op}, reply;
	uint8_t buf[KEYHOLDER_MSG_MAX];

	memcpy(req.key_id, key_id, KEYHOLDER_ID_LEN);
	return round_trip(kh, &req, buf, sizeof buf, &reply);
}

int keyholder_commit(struct keyholder *kh, const uint8_t key_id[KEYHOLDER_ID_LEN])
{
	return about_pending(kh, KEYHOLDER_COMMIT, key_id);
}

int keyholder_discard(struct keyholder *kh, const uint8_t key_id[KEYHOLDER_ID_LEN])
{
	return about_pending(kh, KEYHOLDER_DISCARD, key_id);
}

static int tls_sign(void *ctx, const uint8_t *spki, size_t spki_len, unsigned sign_algo,
		    const void *digest, size_t len, uint8_t *sig, size_t cap)
{
	struct keyholder_key key = {.spki_len = spki_len};

	if (spki_len > sizeof key.spki)
		return INSEL_E_TOO_BIG;
	memcpy(key.spki, spki, spki_len);
	if (keyholder_key_set_id(&key) != 0)
		return INSEL_E_CRYPTO;
	return keyholder_sign(ctx, key.id, (uint16_t)sign_algo, digest, len, sig, cap);
}

static bool tls_can_sign(void *ctx, unsigned pk_algo, unsigned bits, unsigned sign_algo)
{
	(void)ctx;
	return pk_algo <= UINT16_MAX && bits <= UINT16_MAX && sign_algo <= UINT16_MAX &&
	       keyholder_algo_fits((uint16_t)pk_algo, (uint16_t)bits, (uint16_t)sign_algo);
}

void keyholder_tls_signer(struct keyholder *kh, const struct keyholder_key *key,
			  struct tls_signer *out)
{
	*out = (struct tls_signer){
		.sign = tls_sign,
		.can_sign = tls_can_sign,
		.ctx = kh,
		.pk_algo = key->pk_algo,
		.bits = key->bits,
		.spki = key->spki,
		.spki_len = key->spki_len,
	};
}

/* The holder exits as soon as it reads the end of the stream; give it a moment, then
 * make sure. */
void keyholder_close(struct keyholder *kh)
{
	if (kh->fd >= 0)
		close(kh->fd);
	kh->fd = -1;
	kh->gone = true;
	if (kh->pid <= 0)
		return;
	for (int i = 0; i < 100; i++) {
		pid_t r = waitpid(kh->pid, NULL, WNOHANG);

		if (r == kh->pid || (r < 0 && errno == ECHILD)) {
			kh->pid = 0;
			return;
		}
		usleep(10 * 1000);
	}
	kill(kh->pid, SIGKILL);
	waitpid(kh->pid, NULL, 0);
	kh->pid = 0;
}
