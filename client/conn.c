/* Named reliable connections on the client's side (docs/reliable.md): where a reliable
 * channel is attached (its gateway's LAN endpoint and token, from the call object), the
 * saved names (one small file each, readable by the user only, since it holds the token),
 * attaching with a verb, and the byte copies with their SHA-256 and progress bar.
 * A copy ends when the gateway resets the connection: it does when the peer vanished
 * or aborted (the call's end says which). */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "err.h"
#include "hex.h"


int conn_target_of_call(const struct client_call *call, struct conn_target *t)
{
	const struct client_call_channel *ch = &call->channels[0];

	if (call->nchannels < 1 || ch->tun || ch->mode == NEGOTIATE_DATAGRAM || !ch->has_token ||
	    !ch->has_local)
		return INSEL_E_NOT_FOUND;
	memset(t, 0, sizeof *t);
	t->call_id = call->id;
	t->at = ch->local;
	t->mode = ch->mode;
	memcpy(t->token, ch->token, sizeof t->token);
	return 0;
}

/* ---- saved names ---- */

static bool name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CONN_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(name[i] == '-' || name[i] == '_' || name[i] == '.' ||
		      (name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= 'A' && name[i] <= 'Z')))
			return false;
	return true;
}

/* INSEL_CONN_DIR, else $XDG_RUNTIME_DIR/insel-conns, else ~/.insel/conns. */
int conn_dir(char *out, size_t n)
{
	const char *env = getenv("INSEL_CONN_DIR"), *run = getenv("XDG_RUNTIME_DIR");
	const char *home = getenv("HOME");
	int len;

	if (env && *env)
		len = snprintf(out, n, "%s", env);
	else if (run && *run)
		len = snprintf(out, n, "%s/insel-conns", run);
	else if (home && *home)
		len = snprintf(out, n, "%s/.insel/conns", home);
	else
		return -ENOENT;
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	if (!env && !run && home) {
		char parent[4096];

		snprintf(parent, sizeof parent, "%s/.insel", home);
		mkdir(parent, 0700);
	}
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int conn_path(const char *name, char *out, size_t n)
{
	char dir[4000];
	int rc;

	if (!name_valid(name))
		return INSEL_E_BAD_FIELD;
	if ((rc = conn_dir(dir, sizeof dir)) != 0)
		return rc;
	return snprintf(out, n, "%s/%s", dir, name) < (int)n ? 0 : -ENAMETOOLONG;
}

int conn_save(const char *name, const struct conn_target *t, const char *peer)
{
	char path[4096], id[ID_STRLEN], at[IP_STRLEN], token[2 * STREAM_TOKEN_LEN + 1];
	json_t *j;
	int fd, rc;

	if ((rc = conn_path(name, path, sizeof path)) != 0)
		return rc;
	hex_encode(t->token, sizeof t->token, token);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "call", id_format(t->call_id, id), "at",
		      ip_endpoint_format(&t->at, at, sizeof at), "token", token, "mode",
		      negotiate_mode_name(t->mode), "peer", peer);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	rc = fd < 0 ? -errno : json_dumpfd(j, fd, JSON_COMPACT) ? -EIO : 0;
	if (fd >= 0)
		close(fd);
	json_decref(j);
	explicit_bzero(token, sizeof token);
	return rc;
}

int conn_load(const char *name, struct conn_target *t, char *peer, size_t peerlen)
{
	char path[4096];
	const char *call, *at, *token, *mode, *who;
	json_t *j;
	int rc;

	if ((rc = conn_path(name, path, sizeof path)) != 0)
		return rc;
	j = json_load_file(path, 0, NULL);
	if (!j)
		return INSEL_E_NOT_FOUND;
	rc = json_unpack(j, "{s:s, s:s, s:s, s:s, s:s}", "call", &call, "at", &at, "token", &token,
			 "mode", &mode, "peer", &who) ? INSEL_E_MALFORMED : 0;
	memset(t, 0, sizeof *t);
	if (rc == 0 && (id_parse(call, &t->call_id) || ip_endpoint_parse(at, &t->at) ||
			strlen(token) != 2 * STREAM_TOKEN_LEN ||
			hex_decode(token, strlen(token), t->token, sizeof t->token) ||
			negotiate_mode_from_name(mode, &t->mode)))
		rc = INSEL_E_MALFORMED;
	if (rc == 0 && peer)
		snprintf(peer, peerlen, "%s", who);
	json_decref(j);
	return rc;
}

int conn_forget(const char *name)
{
	char path[4096];
	int rc = conn_path(name, path, sizeof path);

	return rc ? rc : unlink(path) == 0 ? 0 : -errno;
}

/* ---- attaching ---- */

static int connect_to(const struct ip_endpoint *at, const struct ip_addr *source)
{
	struct sockaddr_storage ss;
	int fd = socket(at->addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	socklen_t len = ip_endpoint_to_sockaddr(at, &ss);

	if (fd < 0)
		return -errno;
	if (source && source->family == at->addr.family) {
		struct ip_endpoint from = {.addr = *source, .port = 0};
		struct sockaddr_storage fs;
		socklen_t flen = ip_endpoint_to_sockaddr(&from, &fs);

		if (bind(fd, (struct sockaddr *)&fs, flen) != 0) {
			int e = -errno;

			close(fd);
			return e;
		}
	}
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

int conn_read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r == 0)
			return (int)got;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		got += (size_t)r;
	}
	return (int)got;
}

int conn_write_full(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The gateway says busy while the previous command's connection is still being closed
 * on its side: a few tries. */
#define ATTACH_TRIES 20
#define ATTACH_RETRY_MS 100

int conn_attach(const struct conn_target *t, const struct ip_addr *source,
		enum stream_verb verb, int *fd_out, const char **why)
{
	struct stream_hello h = {.verb = verb};
	uint8_t hello[STREAM_HELLO_LEN], status = STREAM_ATTACH_BUSY;
	int fd = -1;

	memcpy(h.token, t->token, sizeof h.token);
	stream_hello_encode(&h, hello);
	explicit_bzero(&h, sizeof h);
	for (int i = 0; i < ATTACH_TRIES; i++) {
		int rc;

		if (i)
			usleep(ATTACH_RETRY_MS * 1000);
		fd = connect_to(&t->at, source);
		if (fd < 0) {
			*why = insel_strerror(fd);
			if (fd == -ECONNREFUSED) {
				*why = "the connection has ended (its gateway no longer listens)";
				return STREAM_ATTACH_ENDED;
			}
			continue;
		}
		if (conn_write_full(fd, hello, sizeof hello) != 0) {
			close(fd);
			continue;
		}
		/* The status verb answers with its line, not a byte. */
		if (verb == STREAM_VERB_STATUS) {
			*fd_out = fd;
			explicit_bzero(hello, sizeof hello);
			return STREAM_ATTACH_OK;
		}
		rc = conn_read_full(fd, &status, 1);
		if (rc == 1 && status == STREAM_ATTACH_OK) {
			*fd_out = fd;
			explicit_bzero(hello, sizeof hello);
			return STREAM_ATTACH_OK;
		}
		close(fd);
		if (rc == 1 && status != STREAM_ATTACH_BUSY) {
			*why = stream_status_text(status);
			explicit_bzero(hello, sizeof hello);
			return status;
		}
		status = STREAM_ATTACH_BUSY;  /* closed before its status: busy */
	}
	explicit_bzero(hello, sizeof hello);
	*why = stream_status_text(STREAM_ATTACH_BUSY);
	return STREAM_ATTACH_BUSY;
}

json_t *conn_query(const struct conn_target *t, const struct ip_addr *source)
{
	char line[4096];
	const char *why;
	int fd, n;

	if (conn_attach(t, source, STREAM_VERB_STATUS, &fd, &why) != STREAM_ATTACH_OK)
		return NULL;
	n = conn_read_full(fd, line, sizeof line - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	line[n] = '\0';
	return json_loads(line, 0, NULL);
}

void conn_print_stats(FILE *out, const json_t *st)
{
	json_int_t srtt = json_integer_value(json_object_get(st, "srtt_us"));
	json_int_t rto = json_integer_value(json_object_get(st, "rto_us"));

	fprintf(out,
		"  state %s (%s), sent %lld bytes (%lld acknowledged), received %lld, "
		"retransmissions %lld, RTT %.1f ms, RTO %.1f ms, window %lld bytes, "
		"congestion window %lld bytes, time-outs %lld (%lld undone), loss episodes %lld, "
		"segment %lld bytes, segments %lld out and %lld in, "
		"waited for the congestion window %.1f ms, the peer's window %.1f ms, "
		"data to send %.1f ms\n",
		json_string_value(json_object_get(st, "state")),
		json_string_value(json_object_get(st, "mode")),
		(long long)json_integer_value(json_object_get(st, "bytes_sent")),
		(long long)json_integer_value(json_object_get(st, "bytes_acked")),
		(long long)json_integer_value(json_object_get(st, "bytes_received")),
		(long long)json_integer_value(json_object_get(st, "retransmits")), srtt / 1000.0,
		rto / 1000.0, (long long)json_integer_value(json_object_get(st, "peer_window")),
		(long long)json_integer_value(json_object_get(st, "cwnd")),
		(long long)json_integer_value(json_object_get(st, "timeouts")),
		(long long)json_integer_value(json_object_get(st, "timeouts_undone")),
		(long long)json_integer_value(json_object_get(st, "loss_episodes")),
		(long long)json_integer_value(json_object_get(st, "mss")),
		(long long)json_integer_value(json_object_get(st, "segments_out")),
		(long long)json_integer_value(json_object_get(st, "segments_in")),
		json_integer_value(json_object_get(st, "cwnd_limited_us")) / 1000.0,
		json_integer_value(json_object_get(st, "window_limited_us")) / 1000.0,
		json_integer_value(json_object_get(st, "data_limited_us")) / 1000.0);
}

/* ---- progress ---- */

static double seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void progress_begin(struct progress *p, uint64_t total, bool show)
{
	memset(p, 0, sizeof *p);
	p->total = total;
	p->show = show;
	p->t0 = p->last = seconds_now();
}

static void human_bytes(double v, char *out, size_t n)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, n, "%.1f %s", v, unit[u]);
}

static void progress_draw(struct progress *p, double now)
{
	double elapsed = now - p->t0, rate = elapsed > 0 ? p->done / elapsed : 0;
	char done[24], total[24], speed[24], left[24] = "?";
	int width = 30, fill = p->total ? (int)(width * (double)p->done / (double)p->total) : 0;

	human_bytes((double)p->done, done, sizeof done);
	human_bytes((double)p->total, total, sizeof total);
	human_bytes(rate, speed, sizeof speed);
	if (rate > 0 && p->total >= p->done) {
		long s = (long)((double)(p->total - p->done) / rate);

		snprintf(left, sizeof left, "%ld:%02ld", s / 60, s % 60);
	}
	fprintf(stderr, "\r[%.*s%*s] %s / %s  %s/s  %s left ", fill,
		"##############################", width - fill, "", done, total, speed, left);
}

void progress_add(struct progress *p, uint64_t n)
{
	double now;

	p->done += n;
	if (!p->show)
		return;
	now = seconds_now();
	if (now - p->last < 0.2)
		return;
	p->last = now;
	progress_draw(p, now);
}

double progress_end(struct progress *p)
{
	double now = seconds_now();

	if (p->show) {
		progress_draw(p, now);
		fputc('\n', stderr);
	}
	return now - p->t0;
}

/* ---- SHA-256 ---- */

int sha256_begin(struct sha256 *h)
{
	return gnutls_hash_init((gnutls_hash_hd_t *)&h->hd, GNUTLS_DIG_SHA256) ? INSEL_E_CRYPTO : 0;
}

void sha256_add(struct sha256 *h, const void *data, size_t n)
{
	gnutls_hash((gnutls_hash_hd_t)h->hd, data, n);
}

void sha256_end(struct sha256 *h, uint8_t out[STREAM_DIGEST_LEN])
{
	gnutls_hash_deinit((gnutls_hash_hd_t)h->hd, out);
	h->hd = NULL;
}

void sha256_hex(const uint8_t d[STREAM_DIGEST_LEN], char out[2 * STREAM_DIGEST_LEN + 1])
{
	hex_encode(d, STREAM_DIGEST_LEN, out);
}

/* ---- copies ---- */

/* At most want bytes of in into buf: from offset at (pread) where in is a file we may seek
 * in (at >= 0), else from where it stands (read). Bytes read, 0 at its end, or -errno. */
static ssize_t read_chunk(int in, uint8_t *buf, size_t want, off_t at)
{
	for (;;) {
		ssize_t n = at < 0 ? read(in, buf, want) : pread(in, buf, want, at);

		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

/* The one copy loop of conn_copy and conn_copy_file: reads into our buffer (at >= 0: a
 * file, from that offset), hashes and writes from it. Not sendfile(2) for a file: the
 * chunk is read for its hash anyway, and written from this buffer while it is in the
 * caches the kernel's copy into the socket is cheap, where sendfile handed the gateway's
 * auxiliary page-cache pages to copy from, long out of the caches by the time it read
 * them (a loopback micro-benchmark of pread + SHA-256 + sendfile or write against recv
 * into a 4 MiB ring, 200 MiB, six runs each: reader CPU medians 0.147 s -> 0.098 s,
 * writer 0.243 s -> 0.212 s). */
static int copy_chunks(int in, int to, off_t at, struct sha256 *h, struct progress *p,
		       uint64_t limit, uint64_t *copied)
{
	static uint8_t buf[256 << 10];

	*copied = 0;
	while (*copied < limit) {
		size_t want = limit - *copied < sizeof buf ? (size_t)(limit - *copied) : sizeof buf;
		ssize_t n = read_chunk(in, buf, want, at);
		int rc;

		if (n <= 0)
			return (int)n;
		if (h)
			sha256_add(h, buf, (size_t)n);
		rc = conn_write_full(to, buf, (size_t)n);
		if (rc != 0)
			return rc;
		if (at >= 0)
			at += n;
		*copied += (uint64_t)n;
		if (p)
			progress_add(p, (uint64_t)n);
	}
	return 0;
}

int conn_copy(int from, int to, struct sha256 *h, struct progress *p, uint64_t limit,
	      uint64_t *copied)
{
	return copy_chunks(from, to, -1, h, p, limit, copied);
}

int conn_copy_file(int in, int to, struct sha256 *h, struct progress *p, uint64_t limit,
		   uint64_t *copied)
{
	off_t at = lseek(in, 0, SEEK_CUR);

	return copy_chunks(in, to, at < 0 ? -1 : at, h, p, limit, copied);
}
