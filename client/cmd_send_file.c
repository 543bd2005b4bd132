/* `insel send-file PEER FILE`: the common case of a reliable connection (docs/reliable.md)
 * in one command. It places a call with one ordered reliable channel, attaches to it,
 * sends a small header (the file's name and size, stream_attach.h) and the file, shows a
 * progress bar on a terminal (bytes, rate, time left; nothing when stderr is not one),
 * and ends with the SHA-256 both sides computed: the receiver (`insel listen --save DIR`,
 * conn_receive_file below) sends back the digest of what it wrote, and both print it.
 * Then the time, the rate and the connection's retransmissions.
 *
 * When the transfer breaks (the peer vanished, or aborted), the gateway resets the
 * attachment and ends the call; the reason comes with the call's end, which this command
 * waits for a moment to print. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "err.h"
#include "msg.h"

#define ENDED_WAIT_MS 5000  /* after a broken transfer: how long the reason may take */

static const char usage[] =
	"Usage: insel send-file PEER FILE [common options]\n"
	"  PEER  USER@LAN or a host on another site, running `insel listen --save DIR`\n"
	"  FILE  the file to send; the receiver writes DIR/<its name>\n"
	"Prints a progress bar on a terminal, then the time, the rate, the retransmissions\n"
	"and the SHA-256 of the file as both sides computed it.\n";

struct ended_wait {
	char reason[CLIENT_CALL_REASON_MAX];
	uint64_t call_id;
};

static void on_notice(struct client_session *s, json_t *msg)
{
	struct ended_wait *w = s->data;
	struct client_call_ended ended;
	const char *op = msg_op(msg), *why;

	if (op && strcmp(op, "call_ended") == 0 &&
	    client_call_ended_decode(msg, &ended, &why) == 0 && ended.call_id == w->call_id) {
		snprintf(w->reason, sizeof w->reason, "%s", ended.reason);
		s->done = true;
	}
	if (msg_id(msg) >= 0)
		session_send(s, msg_reply_ok(msg_id(msg)));
}

static void on_wait_over(uv_timer_t *t)
{
	struct client_session *s = t->data;

	s->done = true;
}

/* The call's end, if its notice comes within ENDED_WAIT_MS: printed with its sentence. */
static void report_end(struct client_session *s, uint64_t call_id)
{
	struct ended_wait w = {.call_id = call_id};
	struct client_call_ended ended = {.call_id = call_id};
	uv_timer_t timer;

	s->data = &w;
	s->on_request = on_notice;
	s->done = false;
	uv_timer_init(&s->loop, &timer);
	timer.data = s;
	uv_timer_start(&timer, on_wait_over, ENDED_WAIT_MS, 0);
	while (!s->closed && !s->done && uv_run(&s->loop, UV_RUN_ONCE))
		;
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(&s->loop, UV_RUN_NOWAIT);
	if (!w.reason[0]) {
		fprintf(stderr, "insel send-file: the gateway reset the connection (the peer "
			"stopped answering or aborted)\n");
		return;
	}
	snprintf(ended.reason, sizeof ended.reason, "%s", w.reason);
	print_call_ended(&ended);
}

static void print_result(const char *file, uint64_t size, double seconds, const json_t *st,
			 const uint8_t ours[STREAM_DIGEST_LEN],
			 const uint8_t theirs[STREAM_DIGEST_LEN], bool agree)
{
	char a[2 * STREAM_DIGEST_LEN + 1], b[2 * STREAM_DIGEST_LEN + 1];

	sha256_hex(ours, a);
	sha256_hex(theirs, b);
	printf("sent %s: %llu bytes in %.2f s (%.2f MiB/s), retransmissions %lld\n", file,
	       (unsigned long long)size, seconds,
	       seconds > 0 ? (double)size / seconds / (1 << 20) : 0.0,
	       st ? (long long)json_integer_value(json_object_get(st, "retransmits")) : -1LL);
	if (st)
		conn_print_stats(stdout, st);
	printf("sha256 sent     %s\nsha256 received %s\n%s\n", a, b,
	       agree ? "sha256 match: the receiver has the same bytes"
		     : "SHA256 MISMATCH: the receiver wrote different bytes");
	fflush(stdout);
}

/* Header, file, end of our stream; then the receiver's digest and its end. */
static int transfer(int fd, int in, const struct stream_file_header *h, struct progress *p,
		    uint8_t ours[STREAM_DIGEST_LEN], uint8_t theirs[STREAM_DIGEST_LEN])
{
	uint8_t header[STREAM_FILE_HEADER_MAX], extra;
	struct sha256 hash;
	uint64_t copied = 0;
	int len = stream_file_header_encode(h, header), rc;

	if (len < 0)
		return len;
	if ((rc = sha256_begin(&hash)) != 0)
		return rc;
	rc = conn_write_full(fd, header, (size_t)len);
	rc = rc ? rc : conn_copy_file(in, fd, &hash, p, h->size, &copied);
	sha256_end(&hash, ours);
	if (rc == 0 && copied != h->size)
		rc = INSEL_E_TRUNCATED;  /* the file shrank while we read it */
	if (rc == 0 && shutdown(fd, SHUT_WR) != 0)
		rc = -errno;
	if (rc == 0 && conn_read_full(fd, theirs, STREAM_DIGEST_LEN) != STREAM_DIGEST_LEN)
		rc = INSEL_E_CLOSED;
	if (rc == 0 && conn_read_full(fd, &extra, 1) != 0)
		rc = INSEL_E_PROTOCOL;
	return rc;
}

int send_file_main(int argc, char **argv)
{
	struct client_options o = {0};
	struct client_session s;
	struct client_call *call = calloc(1, sizeof *call);
	struct stream_file_header h = {0};
	struct conn_target t;
	struct progress p;
	struct stat sb;
	const char *pos[2] = {NULL, NULL}, *why = "";
	uint8_t ours[STREAM_DIGEST_LEN], theirs[STREAM_DIGEST_LEN];
	size_t npos = 0;
	char *copy;
	int rc, in = -1, fd = -1;
	double seconds;
	json_t *st;

	if (!call)
		return EXIT_FAILURE_GENERIC;
	rc = client_parse_args("insel send-file", usage, argc, argv, &o, NULL, 0, pos, 2, &npos);
	if (rc == CLIENT_ARGS_GO_ON && npos != 2) {
		fprintf(stderr, "insel send-file: PEER and FILE, please\n%s", usage);
		rc = EXIT_USAGE;
	}
	if (rc == CLIENT_ARGS_GO_ON && client_finish_options(&o))
		rc = EXIT_USAGE;
	if (rc == CLIENT_ARGS_GO_ON &&
	    ((in = open(pos[1], O_RDONLY | O_CLOEXEC)) < 0 || fstat(in, &sb) != 0 ||
	     !S_ISREG(sb.st_mode))) {
		fprintf(stderr, "insel send-file: %s: %s\n", pos[1],
			in < 0 ? strerror(errno) : "not a regular file");
		rc = EXIT_USAGE;
	}
	if (rc == CLIENT_ARGS_GO_ON) {
		copy = strdup(pos[1]);
		snprintf(h.name, sizeof h.name, "%s", copy ? basename(copy) : "file");
		free(copy);
		h.size = (uint64_t)sb.st_size;
		rc = session_open(&s, &o);
		if (rc) {
			close(in);
			free(call);
			return rc;
		}
		rc = conn_place(&s, pos[0], NEGOTIATE_ORDERED, call);
		if (rc == EXIT_OK && conn_target_of_call(call, &t) != 0) {
			fprintf(stderr, "insel send-file: the gateway did not make the call "
				"reliable\n");
			rc = EXIT_FAILURE_GENERIC;
		}
		if (rc == EXIT_OK &&
		    conn_attach(&t, o.source ? &o.source_addr : NULL, STREAM_VERB_DUPLEX, &fd,
				&why) != STREAM_ATTACH_OK) {
			fprintf(stderr, "insel send-file: %s\n", why);
			rc = EXIT_FAILURE_GENERIC;
		}
		if (rc == EXIT_OK) {
			progress_begin(&p, h.size, isatty(STDERR_FILENO));
			rc = transfer(fd, in, &h, &p, ours, theirs);
			seconds = progress_end(&p);
			close(fd);
			if (rc) {
				fprintf(stderr, "insel send-file: the transfer of %s broke after "
					"%llu of %llu bytes: %s\n", pos[1],
					(unsigned long long)p.done, (unsigned long long)h.size,
					insel_strerror(rc));
				report_end(&s, t.call_id);
				rc = EXIT_FAILURE_GENERIC;
			} else {
				bool agree = memcmp(ours, theirs, sizeof ours) == 0;

				st = conn_query(&t, o.source ? &o.source_addr : NULL);
				print_result(pos[1], h.size, seconds, st, ours, theirs, agree);
				json_decref(st);
				rc = agree ? EXIT_OK : EXIT_FAILURE_GENERIC;
			}
		}
		session_close(&s);
		close(in);
	}
	explicit_bzero(&t, sizeof t);
	free(call);
	return rc == CLIENT_ARGS_GO_ON ? EXIT_USAGE : rc;
}

/* ---- the receiving end (insel listen --save DIR) ---- */

/* The stream's first bytes: a file header, or (from insel open) none. *have bytes of buf
 * were read; returns the header's length, or INSEL_E_MALFORMED for a plain stream. */
static int read_header(int fd, uint8_t *buf, size_t cap, size_t *have,
		       struct stream_file_header *h)
{
	*have = 0;
	for (;;) {
		int rc = stream_file_header_decode(buf, *have, h);
		ssize_t n;

		if (rc != 0)
			return rc;
		if (*have == cap)
			return INSEL_E_MALFORMED;
		n = read(fd, buf + *have, cap - *have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? INSEL_E_TRUNCATED : -errno;
		*have += (size_t)n;
	}
}

static int open_in(const char *dir, const char *name, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", dir, name);
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
}

/* A plain stream (a named connection): saved whole as DIR/stream-CALLID. */
static int save_stream(int fd, const char *dir, const struct conn_target *t,
		       const uint8_t *first, size_t nfirst)
{
	char path[4096], id[ID_STRLEN], name[32];
	uint64_t copied = 0;
	int out, rc;

	snprintf(name, sizeof name, "stream-%s", id_format(t->call_id, id));
	if ((out = open_in(dir, name, path, sizeof path)) < 0) {
		perror(path);
		return EXIT_FAILURE_GENERIC;
	}
	rc = conn_write_full(out, first, nfirst);
	rc = rc ? rc : conn_copy(fd, out, NULL, NULL, UINT64_MAX, &copied);
	close(out);
	shutdown(fd, SHUT_WR);
	printf("received %llu bytes into %s%s%s\n", (unsigned long long)(copied + nfirst), path,
	       rc ? ": the connection broke: " : "", rc ? insel_strerror(rc) : "");
	fflush(stdout);
	return rc ? EXIT_FAILURE_GENERIC : EXIT_OK;
}

int conn_receive_file(int fd, const char *dir, const struct conn_target *t,
		      const struct ip_addr *source)
{
	uint8_t buf[STREAM_FILE_HEADER_MAX], digest[STREAM_DIGEST_LEN];
	char tmp[4096], path[4096], hex[2 * STREAM_DIGEST_LEN + 1], part[STREAM_FILE_NAME_MAX + 8];
	struct stream_file_header h;
	struct progress p;
	struct sha256 hash;
	uint64_t copied = 0;
	size_t have, extra;
	int len = read_header(fd, buf, sizeof buf, &have, &h), out, rc;
	json_t *st;

	if (len == INSEL_E_MALFORMED)
		return save_stream(fd, dir, t, buf, have);
	if (len < 0) {
		fprintf(stderr, "insel listen: the connection ended before a header: %s\n",
			insel_strerror(len));
		return EXIT_FAILURE_GENERIC;
	}
	snprintf(part, sizeof part, ".%s.part", h.name);
	if ((out = open_in(dir, part, tmp, sizeof tmp)) < 0 || sha256_begin(&hash) != 0) {
		perror(tmp);
		return EXIT_FAILURE_GENERIC;
	}
	progress_begin(&p, h.size, false);
	extra = have - (size_t)len;
	if (extra > h.size)
		extra = (size_t)h.size;  /* nothing follows a file but its end */
	sha256_add(&hash, buf + len, extra);
	rc = conn_write_full(out, buf + len, extra);
	rc = rc ? rc : conn_copy(fd, out, &hash, &p, h.size - extra, &copied);
	copied += extra;
	sha256_end(&hash, digest);
	close(out);
	if (rc == 0 && copied != h.size)
		rc = INSEL_E_TRUNCATED;
	if (rc) {
		unlink(tmp);
		fprintf(stderr, "insel listen: receiving %s broke after %llu of %llu bytes: %s\n",
			h.name, (unsigned long long)copied, (unsigned long long)h.size,
			rc == INSEL_E_TRUNCATED ? "the sender stopped" : insel_strerror(rc));
		return EXIT_FAILURE_GENERIC;
	}
	snprintf(path, sizeof path, "%s/%s", dir, h.name);
	rc = rename(tmp, path) == 0 ? 0 : -errno;
	/* The digest goes back and ends our stream: the sender compares. */
	rc = rc ? rc : conn_write_full(fd, digest, sizeof digest);
	shutdown(fd, SHUT_WR);
	conn_read_full(fd, buf, 1);  /* the sender's end (already come) */
	close(fd);
	sha256_hex(digest, hex);
	printf("received %s: %llu bytes in %.2f s into %s\nsha256 received %s\n", h.name,
	       (unsigned long long)h.size, progress_end(&p), path, hex);
	st = conn_query(t, source);
	if (st)
		conn_print_stats(stdout, st);
	json_decref(st);
	fflush(stdout);
	return rc ? EXIT_FAILURE_GENERIC : EXIT_OK;
}
