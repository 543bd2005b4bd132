/* The blocking secure-socket verbs (see secsock.h). TLS runs over the TCP socket itself
 * (gnutls_transport_set_int) with the session set-up and peer verification that the TLS
 * connections use (tls_session.c, tls_verify.c); control messages use msg.h's framing;
 * the data channels are channel.h's state machines over one UDP socket, demultiplexed by
 * receiver session id. */
#include "secsock_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "channel.h"
#include "chanparams.h"
#include "err.h"
#include "frame.h"
#include "msg_codec.h"
#include "negotiate.h"
#include "rand.h"
#include "tls_priv.h"
#include "wire_errors.h"

#define SEC_DGRAM_MAX 65535

_Static_assert(SEC_MAX_MSG == CHANNEL_MAX_MSG, "secsock.h promises what channel.h carries");

uint64_t secsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- sockets ---- */

static int listen_on(const struct ip_endpoint *at, int *fd_out, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = ip_endpoint_to_sockaddr(at, &ss);
	struct ip_endpoint bound;
	int one = 1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 16) != 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	len = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &len);
	ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &bound);
	*port = bound.port;
	*fd_out = fd;
	return 0;
}

static void set_io_timeout(int fd, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* A UDP socket on the same local address as the TCP control connection, any port: the
 * address the peer already reached us on is the best guess at one it can reach again. */
static int open_udp(int tcp_fd, int *udp_fd, struct ip_endpoint *local)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int fd;

	if (getsockname(tcp_fd, (struct sockaddr *)&ss, &len) != 0)
		return -errno;
	ip_endpoint_from_sockaddr((struct sockaddr *)&ss, local);
	local->port = 0;
	len = ip_endpoint_to_sockaddr(local, &ss);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	len = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &len);
	ip_endpoint_from_sockaddr((struct sockaddr *)&ss, local);
	*udp_fd = fd;
	return 0;
}

/* ---- socket life ---- */

int sec_init(const struct sec_options *opt, struct sec_socket **out, char *err,
	     size_t errlen)
{
	static const enum pki_role secondaries[] = {PKI_ROLE_SECONDARY};
	struct sec_socket *s = calloc(1, sizeof *s);
	int rc;

	if (!s)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	s->listen_fd = -1;
	s->timeout_ms = opt->timeout_ms ? opt->timeout_ms : SEC_TIMEOUT_DEFAULT_MS;
	s->prefs = opt->prefs;
	if (s->prefs.nciphers == 0)
		negotiate_prefs_default(&s->prefs);
	s->nroles = opt->allowed_roles ? opt->nroles : 1;
	if (s->nroles == 0 || s->nroles > TLS_MAX_ROLES) {
		free(s);
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "between 1 and %d allowed roles",
			    TLS_MAX_ROLES);
	}
	memcpy(s->roles, opt->allowed_roles ? opt->allowed_roles : secondaries,
	       s->nroles * sizeof s->roles[0]);
	rc = tls_creds_load(&s->creds, opt->ca_file, opt->cert_file, opt->key_file, err, errlen);
	if (!rc)
		tls_creds_set_handshake_timeout(s->creds, s->timeout_ms);
	if (!rc && opt->listen) {
		rc = listen_on(opt->listen, &s->listen_fd, &s->port);
		if (rc)
			err_set(err, errlen, rc, "cannot listen: %s", insel_strerror(rc));
	}
	if (rc) {
		sec_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

uint16_t sec_port(const struct sec_socket *s)
{
	return s->port;
}

void sec_free(struct sec_socket *s)
{
	if (!s)
		return;
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	tls_creds_free(s->creds);
	free(s);
}

/* ---- blocking TLS ---- */

static struct sec_call *call_new(void)
{
	struct sec_call *c = calloc(1, sizeof *c);

	if (c) {
		c->tcp_fd = -1;
		c->udp_fd = -1;
	}
	return c;
}

static int handshake(struct sec_socket *s, struct sec_call *c, bool server,
		     const enum pki_role *roles, size_t nroles, const char *expect_name,
		     char *err, size_t errlen)
{
	int rc = tls_policy_init(&c->policy, s->creds, roles, nroles, expect_name);

	if (!rc)
		/* MSG_NOSIGNAL: a peer that hangs up must not kill us with SIGPIPE. */
		rc = tls_session_new(&c->session, s->creds, server, &c->policy, GNUTLS_NO_SIGNAL);
	if (rc)
		return err_set(err, errlen, rc, "cannot set up TLS: %s", insel_strerror(rc));
	gnutls_transport_set_int(c->session, c->tcp_fd);
	gnutls_handshake_set_timeout(c->session, s->timeout_ms);
	do
		rc = gnutls_handshake(c->session);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0) {
		int code = tls_handshake_failure(c->session, &c->policy, rc);

		if (rc != GNUTLS_E_FATAL_ALERT_RECEIVED)
			gnutls_alert_send_appropriate(c->session, rc);
		return err_set(err, errlen, code, "%s", c->policy.error);
	}
	if (!c->policy.verified && tls_verify_peer(c->session, &c->policy) != 0)
		return err_set(err, errlen, INSEL_E_VERIFY, "%s", c->policy.error);
	gnutls_record_set_timeout(c->session, s->timeout_ms);
	return 0;
}

static int tls_send_msg(struct sec_call *c, const json_t *msg)
{
	struct buf frame;
	size_t off = 0;
	int rc;

	buf_init(&frame, MSG_HEADER_LEN + MSG_MAX_DEFAULT);
	rc = msg_encode(msg, &frame);
	while (rc == 0 && off < frame.len) {
		ssize_t n = gnutls_record_send(c->session, frame.data + off, frame.len - off);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0)
			rc = INSEL_E_CLOSED;
		else
			off += (size_t)n;
	}
	buf_free(&frame);
	return rc;
}

static int keep_first(void *ctx, json_t *msg, int err)
{
	json_t **slot = ctx;

	if (msg && !*slot)
		*slot = json_incref(msg);
	return msg ? 1 : 0;
}

/* Waits for one control message (the record timeout bounds the wait). */
static int tls_recv_msg(struct sec_call *c, json_t **out)
{
	struct msg_reader reader;
	uint8_t plain[16384];
	json_t *msg = NULL;
	int rc = 0;

	msg_reader_init(&reader, MSG_MAX_DEFAULT);
	while (!msg && rc == 0) {
		ssize_t n = gnutls_record_recv(c->session, plain, sizeof plain);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			rc = INSEL_E_TIMEOUT;
		else if (n <= 0)
			rc = INSEL_E_CLOSED;
		else
			msg_reader_feed(&reader, plain, (size_t)n, keep_first, &msg);
	}
	msg_reader_free(&reader);
	*out = msg;
	return msg ? 0 : rc;
}

static int export_keys(void *ctx, const char *label, const void *context,
		       size_t context_len, void *out, size_t out_len)
{
	struct sec_call *c = ctx;

	if (gnutls_prf_rfc5705(c->session, strlen(label), label, context_len, context, out_len,
			       out) < 0)
		return INSEL_E_CRYPTO;
	return 0;
}

/* Builds the channels from agreed parameters; keeps the parameters for sec_export. */
static int start_channels(struct sec_call *c, const struct sec_channel_params *params,
			  size_t n)
{
	uint64_t now = secsock_now_ms();

	c->nchannels = n;
	for (size_t i = 0; i < n; i++) {
		int rc = channel_new(&params[i], now, &c->channels[i]);

		if (rc)
			return rc;
		c->params[i] = params[i];
	}
	return 0;
}

static int derive_and_start(struct sec_socket *s, struct sec_call *c,
			    const struct negotiation *n, bool is_caller)
{
	struct sec_channel_params params[SEC_MAX_CHANNELS];
	int rc = negotiate_derive(n, is_caller, export_keys, c, params);

	if (!rc)
		rc = start_channels(c, params, n->nchannels);
	if (!rc)
		rc = secsock_streams_start(c, s, n->modes);
	for (size_t i = 0; i < n->nchannels; i++)
		chanparams_wipe(&params[i]);
	return rc;
}

/* ---- accept ---- */

static int refuse_offer(struct sec_call *c, json_int_t id, const char *code,
			const char *message)
{
	json_t *reply = msg_reply_error(id, code, "%s", message);

	if (reply)
		tls_send_msg(c, reply);
	json_decref(reply);
	return 0;
}

static int answer_offer(struct sec_socket *s, struct sec_call *c, const json_t *req,
			char *err, size_t errlen)
{
	struct negotiate_offer offer;
	struct negotiate_refusal refusal;
	struct negotiate_side me;
	struct negotiation agreed;
	char why[NEGOTIATE_ERR_MAX];
	json_t *answer;
	int rc;

	if (negotiate_offer_parse(req, &offer, why, sizeof why) != 0) {
		refuse_offer(c, msg_id(req), WIRE(BAD_OFFER), why);
		return err_set(err, errlen, INSEL_E_PROTOCOL, "bad offer from '%s': %s",
			    c->policy.peer.name, why);
	}
	negotiate_side_random(&me, offer.nchannels);
	rc = open_udp(c->tcp_fd, &c->udp_fd, &me.endpoint);
	if (rc)
		return err_set(err, errlen, rc, "cannot open a UDP socket: %s", insel_strerror(rc));
	rc = negotiate_choose(&offer, &s->prefs, &me, &agreed, &refusal);
	if (rc) {
		refuse_offer(c, msg_id(req), refusal.code, refusal.message);
		return err_set(err, errlen, rc, "call from '%s' refused: %s", c->policy.peer.name,
			    refusal.message);
	}
	answer = negotiate_answer_to_json(&agreed);
	if (!answer)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	json_object_set_new(answer, "id", json_integer(msg_id(req)));
	json_object_set_new(answer, "ok", json_true());
	rc = tls_send_msg(c, answer);
	json_decref(answer);
	if (!rc)
		rc = derive_and_start(s, c, &agreed, false);
	if (rc)
		return err_set(err, errlen, rc, "cannot answer '%s': %s", c->policy.peer.name,
			    insel_strerror(rc));
	return 0;
}

int sec_accept(struct sec_socket *s, struct sec_call **out, char *err, size_t errlen)
{
	struct sec_call *c;
	json_t *req = NULL;
	int rc;

	if (s->listen_fd < 0)
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "this secure socket does not listen");
	c = call_new();
	if (!c)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	do
		c->tcp_fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (c->tcp_fd < 0 && errno == EINTR);
	if (c->tcp_fd < 0) {
		rc = err_set(err, errlen, -errno, "accept failed: %s", strerror(errno));
		sec_close(c);
		return rc;
	}
	set_io_timeout(c->tcp_fd, s->timeout_ms);
	rc = handshake(s, c, true, s->roles, s->nroles, NULL, err, errlen);
	if (!rc) {
		rc = tls_recv_msg(c, &req);
		if (rc)
			err_set(err, errlen, rc, "no offer from '%s': %s", c->policy.peer.name,
			     insel_strerror(rc));
	}
	if (!rc)
		rc = answer_offer(s, c, req, err, errlen);
	json_decref(req);
	if (rc) {
		sec_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---- connect ---- */

static int tcp_connect(const struct ip_endpoint *to, unsigned timeout_ms, int *out)
{
	struct sockaddr_storage ss;
	socklen_t len = ip_endpoint_to_sockaddr(to, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -errno;
	set_io_timeout(fd, timeout_ms);  /* SO_SNDTIMEO also bounds connect() on Linux */
	do
		rc = connect(fd, (struct sockaddr *)&ss, len);
	while (rc != 0 && errno == EINTR);
	if (rc != 0) {
		int e = errno == EINPROGRESS ? ETIMEDOUT : errno;

		close(fd);
		return -e;
	}
	*out = fd;
	return 0;
}

static int make_offer(struct sec_socket *s, struct sec_call *c,
		      const struct negotiate_channel *channels, const enum sec_mode *modes,
		      size_t n, struct negotiate_offer *o)
{
	memset(o, 0, sizeof *o);
	o->call_id = rand_id64();
	o->prefs = s->prefs;
	o->nchannels = n;
	memcpy(o->channels, channels, n * sizeof *channels);
	for (size_t i = 0; modes && i < n; i++)
		o->modes[i] = (enum negotiate_mode)modes[i];
	negotiate_side_random(&o->caller, n);
	return open_udp(c->tcp_fd, &c->udp_fd, &o->caller.endpoint);
}

/* A callee of an older library answers a reliable channel as a datagram channel. */
static int check_modes(const struct sec_call *c, const struct negotiate_offer *asked,
		       const struct negotiation *agreed, char *err, size_t errlen)
{
	for (size_t i = 0; i < agreed->nchannels; i++)
		if (agreed->modes[i] != asked->modes[i])
			return err_set(err, errlen, INSEL_E_VERSION,
				    "'%s' does not run reliable channels (an older library): "
				    "channel %zu would be %s, not %s", c->policy.peer.name, i,
				    negotiate_mode_name(agreed->modes[i]),
				    negotiate_mode_name(asked->modes[i]));
	return 0;
}

static int offer_and_wait(struct sec_socket *s, struct sec_call *c,
			  const struct negotiate_channel *channels, const enum sec_mode *modes,
			  size_t n, char *err, size_t errlen)
{
	struct negotiate_offer offer;
	struct negotiation agreed;
	json_t *req, *reply = NULL;
	int rc = make_offer(s, c, channels, modes, n, &offer);

	if (rc)
		return err_set(err, errlen, rc, "cannot open a UDP socket: %s", insel_strerror(rc));
	req = negotiate_offer_to_json(&offer);
	if (!req)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	json_object_set_new(req, "op", json_string("negotiate"));
	json_object_set_new(req, "id", json_integer(1));
	rc = tls_send_msg(c, req);
	json_decref(req);
	if (!rc)
		rc = tls_recv_msg(c, &reply);
	if (rc)
		return err_set(err, errlen, rc, "no answer from '%s': %s", c->policy.peer.name,
			    insel_strerror(rc));
	rc = negotiate_answer_parse(reply, &offer, &agreed, err, errlen);
	json_decref(reply);
	if (!rc)
		rc = check_modes(c, &offer, &agreed, err, errlen);
	if (!rc) {
		rc = derive_and_start(s, c, &agreed, true);
		if (rc)
			err_set(err, errlen, rc, "cannot start the channels: %s", insel_strerror(rc));
	}
	return rc;
}

static bool modes_valid(const enum sec_mode *modes, size_t n)
{
	for (size_t i = 0; modes && i < n; i++)
		if (modes[i] != SEC_MODE_DATAGRAM && modes[i] != SEC_MODE_STREAM &&
		    modes[i] != SEC_MODE_MESSAGES)
			return false;
	return true;
}

int sec_connect_modes(struct sec_socket *s, const struct ip_endpoint *to,
		      enum pki_role expect_role, const char *expect_name,
		      const struct negotiate_channel *channels, const enum sec_mode *modes,
		      size_t nchannels, struct sec_call **out, char *err, size_t errlen)
{
	char where[IP_STRLEN];
	struct sec_call *c;
	int rc;

	if (nchannels == 0 || nchannels > SEC_MAX_CHANNELS)
		return err_set(err, errlen, INSEL_E_BAD_FIELD, "a call has 1 to %d channels",
			    SEC_MAX_CHANNELS);
	if (!modes_valid(modes, nchannels))
		return err_set(err, errlen, INSEL_E_BAD_FIELD,
			    "a channel's mode is datagram, stream or messages");
	c = call_new();
	if (!c)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	rc = tcp_connect(to, s->timeout_ms, &c->tcp_fd);
	if (rc)
		err_set(err, errlen, rc, "cannot connect to %s: %s",
		     ip_endpoint_format(to, where, sizeof where), insel_strerror(rc));
	if (!rc)
		rc = handshake(s, c, false, &expect_role, 1, expect_name, err, errlen);
	if (!rc)
		rc = offer_and_wait(s, c, channels, modes, nchannels, err, errlen);
	if (rc) {
		sec_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

int sec_connect(struct sec_socket *s, const struct ip_endpoint *to, enum pki_role expect_role,
		const char *expect_name, const struct negotiate_channel *channels,
		size_t nchannels, struct sec_call **out, char *err, size_t errlen)
{
	return sec_connect_modes(s, to, expect_role, expect_name, channels, NULL, nchannels,
				 out, err, errlen);
}

/* ---- data ---- */

struct emit_ctx {
	struct sec_call *call;
	struct channel *ch;
};

int secsock_send_dgram(struct sec_call *c, struct channel *ch, const uint8_t *dgram,
		      size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen = ip_endpoint_to_sockaddr(channel_peer(ch), &ss);

	/* A full socket buffer loses a datagram, as the network may: not an error. */
	if (sendto(c->udp_fd, dgram, len, 0, (struct sockaddr *)&ss, sslen) < 0 &&
	    errno != ENOBUFS && errno != EAGAIN)
		return -errno;
	return 0;
}

static int emit_dgram(void *ctx, const uint8_t *dgram, size_t len)
{
	struct emit_ctx *e = ctx;

	return secsock_send_dgram(e->call, e->ch, dgram, len);
}

/* The first use of the channels: from now on they cannot be exported, so the copy of
 * their keys kept for that goes. */
int secsock_mark_used(struct sec_call *c)
{
	if (c->exported || c->nchannels == 0)
		return INSEL_E_CLOSED;
	if (!c->used) {
		c->used = true;
		for (size_t i = 0; i < c->nchannels; i++)
			chanparams_wipe(&c->params[i]);
	}
	return 0;
}

ssize_t sec_send(struct sec_call *c, unsigned channel, const void *data, size_t len)
{
	struct emit_ctx e;
	int rc = secsock_mark_used(c);

	if (rc)
		return rc;
	if (channel >= c->nchannels)
		return INSEL_E_BAD_FIELD;
	if (c->streams.rel[channel])
		return secsock_stream_send(c, channel, data, len);
	e.call = c;
	e.ch = c->channels[channel];
	rc = channel_seal(e.ch, data, len, secsock_now_ms(), emit_dgram, &e);
	return rc < 0 ? rc : (ssize_t)len;
}

uint64_t secsock_run_timers(struct sec_call *c, uint64_t now)
{
	uint64_t earliest = UINT64_MAX;

	for (size_t i = 0; i < c->nchannels; i++) {
		uint8_t ka[256];
		uint64_t next = UINT64_MAX;
		int ev = channel_tick(c->channels[i], now, &next);

		if (ev & CHANNEL_SEND_KEEPALIVE) {
			long n = channel_keepalive(c->channels[i], now, ka, sizeof ka);

			if (n > 0)
				secsock_send_dgram(c, c->channels[i], ka, (size_t)n);
		}
		if (next < earliest)
			earliest = next;
	}
	return earliest;
}

int secsock_channel_for(const struct sec_call *c, const uint8_t *dgram, size_t len)
{
	uint32_t session;

	if (frame_peek_session(dgram, len, &session) != 0)
		return -1;
	for (size_t i = 0; i < c->nchannels; i++)
		if (channel_local_session(c->channels[i]) == session)
			return (int)i;
	return -1;
}

/* Waits for the socket until the deadline or the next timer; 1 if readable. */
static int wait_readable(int fd, uint64_t now, uint64_t deadline, uint64_t next_tick)
{
	uint64_t until = deadline < next_tick ? deadline : next_tick;
	int ms = until <= now ? 0 : (until - now > 60000 ? 60000 : (int)(until - now));
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int rc = poll(&p, 1, ms);

	return rc < 0 ? (errno == EINTR ? 0 : -errno) : rc;
}

ssize_t sec_recv(struct sec_call *c, unsigned *channel, void *buf, size_t cap, int timeout_ms)
{
	static _Thread_local uint8_t dgram[SEC_DGRAM_MAX];
	uint64_t now = secsock_now_ms();
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms;
	int rc = secsock_mark_used(c);

	if (rc == 0 && c->streams.any)
		return secsock_streams_recv(c, channel, buf, cap, timeout_ms);
	while (rc == 0) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof ss;
		struct ip_endpoint from;
		struct channel_msg msg;
		ssize_t n;
		int idx;

		rc = wait_readable(c->udp_fd, now, deadline, secsock_run_timers(c, now));
		now = secsock_now_ms();
		if (rc < 0)
			return rc;
		if (rc == 0) {
			if (now >= deadline)
				return INSEL_E_TIMEOUT;
			continue;
		}
		rc = 0;
		n = recvfrom(c->udp_fd, dgram, sizeof dgram, MSG_DONTWAIT, (struct sockaddr *)&ss,
			     &sslen);
		if (n < 0 || ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &from) != 0)
			continue;
		idx = secsock_channel_for(c, dgram, (size_t)n);
		if (idx < 0 || channel_open(c->channels[idx], dgram, (size_t)n, &from, now, &msg) != 1)
			continue;  /* dropped and counted by the channel, or not a whole message */
		if (msg.len > cap)
			return INSEL_E_TOO_BIG;
		memcpy(buf, msg.data, msg.len);
		*channel = (unsigned)idx;
		return (ssize_t)msg.len;
	}
	return rc;
}

/* ---- close, accessors, export ---- */

void sec_close(struct sec_call *c)
{
	if (!c)
		return;
	if (c->streams.any && !c->exported)
		secsock_streams_drain(c);
	secsock_streams_free(c);
	if (c->session) {
		gnutls_record_set_timeout(c->session, 1000);
		if (c->policy.verified)
			gnutls_bye(c->session, GNUTLS_SHUT_WR);
		gnutls_deinit(c->session);
	}
	if (c->tcp_fd >= 0)
		close(c->tcp_fd);
	if (c->udp_fd >= 0)
		close(c->udp_fd);
	for (size_t i = 0; i < c->nchannels; i++) {
		channel_free(c->channels[i]);
		chanparams_wipe(&c->params[i]);
	}
	secure_wipe(c, sizeof *c);
	free(c);
}

size_t sec_call_channels(const struct sec_call *c)
{
	return c->nchannels;
}

const struct pki_identity *sec_call_peer(const struct sec_call *c)
{
	return c->session ? &c->policy.peer : NULL;
}

int sec_call_udp_endpoint(const struct sec_call *c, struct ip_endpoint *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(c->udp_fd, (struct sockaddr *)&ss, &len) != 0)
		return -errno;
	return ip_endpoint_from_sockaddr((struct sockaddr *)&ss, out);
}

int sec_export(struct sec_call *c, struct sec_channel_params *params, size_t *n, int *udp_fd)
{
	int fd;

	if (c->used || c->exported || c->nchannels == 0 || c->streams.any)
		return INSEL_E_CONFLICT;
	fd = fcntl(c->udp_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < c->nchannels; i++) {
		params[i] = c->params[i];
		chanparams_wipe(&c->params[i]);
		channel_free(c->channels[i]);
		c->channels[i] = NULL;
	}
	*n = c->nchannels;
	*udp_fd = fd;
	c->exported = true;
	return 0;
}

int sec_import(const struct sec_channel_params *params, size_t n, int udp_fd,
	       struct sec_call **out)
{
	struct sec_call *c;
	int rc;

	if (n == 0 || n > SEC_MAX_CHANNELS || udp_fd < 0)
		return INSEL_E_BAD_FIELD;
	c = call_new();
	if (!c)
		return -ENOMEM;
	c->udp_fd = udp_fd;
	rc = start_channels(c, params, n);
	if (rc) {
		c->udp_fd = -1;  /* ownership passes only on success */
		sec_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---- helpers the installed header offers, so applications need nothing else ---- */

void sec_params_wipe(struct sec_channel_params *p)
{
	chanparams_wipe(p);
}

int sec_endpoint_parse(const char *text, struct ip_endpoint *out)
{
	return ip_endpoint_parse(text, out);
}

char *sec_endpoint_format(const struct ip_endpoint *e, char *out, size_t outlen)
{
	return ip_endpoint_format(e, out, outlen);
}

const char *sec_strerror(int err)
{
	return insel_strerror(err);
}
