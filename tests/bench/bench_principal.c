/* Benchmark of the principal's look-up API (not a test: it prints figures).
 *
 *   bench-principal [PATH/insel-principal] [--connections N] [--seconds S] [--rate R]
 *                   [--dsn DSN] [--principals 1|2]
 *
 * Without a path it runs the insel-principal of its own build tree (meson passes it as
 * INSEL_PRINCIPAL_PATH; `meson test --benchmark principal` passes it as the argument).
 *
 * With --principals 2 a second insel-principal serves the same directory and the
 * connections are spread over both (docs/principals.md); their CPU and memory are added.
 * With --dsn the directory is that PostgreSQL database (empty, or made by an earlier run)
 * instead of a SQLite file; tests/bench/principal_engines.sh runs both in one go.
 *
 * 1. Generates a directory in a temporary folder through the principal's own db layer, in
 *    one batch: 1,000 registered secondaries, each serving one LAN with a /24; 100 hosts
 *    per LAN (100,000); 10 users per LAN (10,000). Issues a CA, the principal's certificate
 *    and one secondary-role client certificate (shared by every connection).
 * 2. Starts the real `insel-principal serve` on 127.0.0.1 (port 0, --port-file) as a child.
 * 3. Opens N (1,000) concurrent mutually authenticated TLS connections from one libuv loop,
 *    says hello on each, then sends `lookup` requests: a mix of host names, addresses in
 *    random LANs (longest-prefix match) and user@lan. Two measured phases follow a warm-up:
 *      closed loop  every connection always has one request outstanding: the most
 *                   look-ups per second; latency there is queueing (Little's law:
 *                   N in flight / rate), not service time;
 *      open loop    requests at a fixed offered rate (R, default 20,000/s) spread evenly
 *                   over all N connections: the latency a client sees at that load.
 * 4. Prints look-ups/s, p50/p90/p99/max, the principal's peak resident memory (VmHWM) and
 *    its CPU use, then stops the child (by PID) and removes the temporary folder.
 *
 * The load generator and the principal share this machine's cores: the client's CPU use is
 * printed beside the server's so that the figures can be read honestly. Every phase is
 * bounded in time; every request count is bounded by the time and the number of
 * connections; only 127.0.0.1 is used. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "db.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "opts.h"
#include "passwd.h"
#include "pki.h"
#include "principal_ops.h"
#include "tls.h"

#ifndef INSEL_PRINCIPAL_PATH
#define INSEL_PRINCIPAL_PATH "insel-principal"
#endif
#define N_LANS 1000
#define HOSTS_PER_LAN 100
#define USERS_PER_LAN 10
#define DEFAULT_CONNECTIONS 1000
#define MAX_CONNECTIONS 10000
#define DEFAULT_SECONDS 10
#define MAX_SECONDS 120
#define DEFAULT_RATE 20000
#define MAX_RATE 1000000
#define WARMUP_MS 2000
#define CONNECT_IN_FLIGHT 64      /* handshakes under way at once */
#define CONNECT_LIMIT_MS 60000
#define HELLO_LIMIT_MS 10000
#define DRAIN_LIMIT_MS 5000
#define START_LIMIT_MS 15000
#define STOP_LIMIT_MS 5000
#define DEPTH 8                   /* requests outstanding per connection, at most */
/* Latency histogram in microseconds: exact below 1,024 us, then 512 buckets per power of
 * two (0.2% resolution) up to 2^40 us. */
#define HIST_EXACT 1024
#define HIST_SUB 512
#define HIST_BUCKETS (HIST_EXACT + 31 * HIST_SUB)

/* ---- clean-up on every path ---- */

static char tmpdir[256];
static pid_t child = -1;
static pid_t child2 = -1;  /* --principals 2: a second principal on the same directory */
static volatile sig_atomic_t interrupted;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static bool child_gone(pid_t pid, int wait_ms, int *status)
{
	for (int i = 0; i <= wait_ms / 10; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		usleep(10000);
	}
	return false;
}

/* The end of the principal's log (its stderr), before the folder goes. */
static void show_log_tail(void)
{
	char path[300], lines[40][512];
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/principal.log", tmpdir);
	f = tmpdir[0] ? fopen(path, "r") : NULL;
	if (!f)
		return;
	while (fgets(lines[n % 40], sizeof lines[0], f))
		n++;
	fclose(f);
	fprintf(stderr, "bench: last lines of the principal's log:\n");
	for (unsigned i = n > 40 ? n - 40 : 0; i < n; i++)
		fprintf(stderr, "  %s", lines[i % 40]);
}

static bool stop_one(pid_t *pid);

/* Stops the principals by their PIDs; true if they exited cleanly (status 0). */
static bool stop_child(void)
{
	bool second = stop_one(&child2);

	return stop_one(&child) && second;
}

static bool stop_one(pid_t *pid)
{
	int status = 0;

	if (*pid <= 0)
		return true;
	kill(*pid, SIGTERM);
	if (!child_gone(*pid, STOP_LIMIT_MS, &status)) {
		fprintf(stderr, "bench: the principal ignored SIGTERM; killing it\n");
		kill(*pid, SIGKILL);
		waitpid(*pid, &status, 0);
	}
	*pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	fprintf(stderr, "bench: the principal ended with %s %d\n",
		WIFEXITED(status) ? "exit status" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	show_log_tail();
	return false;
}

static void cleanup(void)
{
	stop_child();
	if (tmpdir[0])
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (child > 0)
		stop_child();
	else
		show_log_tail();
	cleanup();
	exit(1);
}

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

/* ---- names in the generated directory ---- */

static void lan_name(unsigned lan, char *out, size_t n)
{
	snprintf(out, n, "lan-%04u", lan);
}

/* LAN k serves 10.(k / 256).(k % 256).0/24; host h of it is .(h + 1). */
static void lan_octets(unsigned lan, unsigned *a, unsigned *b)
{
	*a = lan / 256;
	*b = lan % 256;
}

static void host_name(unsigned lan, unsigned host, char *out, size_t n)
{
	snprintf(out, n, "host-%04u-%03u", lan, host);
}

/* ---- generating the directory ---- */

static int fill_lan(struct db *db, unsigned lan, const char *hash, int64_t now)
{
	char name[32], sec[32], fp[65], serial[17], ep[32], text[64];
	struct ip_prefix prefix;
	struct ip_addr addr;
	unsigned a, b;
	int rc;

	lan_name(lan, name, sizeof name);
	snprintf(sec, sizeof sec, "sec-%04u", lan);
	lan_octets(lan, &a, &b);
	snprintf(text, sizeof text, "10.%u.%u.0/24", a, b);
	if (ip_prefix_parse(text, true, &prefix))
		return INSEL_E_BAD_FIELD;
	for (int i = 0; i < 64; i++)
		fp[i] = "0123456789abcdef"[(lan * 7u + (unsigned)i) % 16];
	fp[64] = '\0';
	snprintf(serial, sizeof serial, "%016x", lan + 1);
	snprintf(ep, sizeof ep, "198.18.%u.%u:7443", a, b);
	struct db_registration r = {sec, fp, serial, name, &prefix, 1, ep, -1, false};

	/* As an operator would: the secondary and its LAN first, then its registration. */
	rc = db_secondary_add(db, sec, NULL, now);
	if (!rc)
		rc = db_lan_add(db, name, &prefix, 1, sec, now);
	if (!rc)
		rc = db_register(db, &r, now);
	for (unsigned h = 0; !rc && h < HOSTS_PER_LAN; h++) {
		snprintf(text, sizeof text, "10.%u.%u.%u", a, b, h + 1);
		rc = ip_addr_parse(text, &addr);
		host_name(lan, h, sec, sizeof sec);
		if (!rc)
			rc = db_host_add(db, sec, name, &addr, now);
	}
	for (unsigned u = 0; !rc && u < USERS_PER_LAN; u++) {
		snprintf(sec, sizeof sec, "user%u", u);
		rc = db_user_add(db, sec, name, hash, now);
	}
	return rc;
}

static void generate_directory(const char *db_path)
{
	char err[600], hash[PASSWD_HASH_STRLEN];
	int64_t now = (int64_t)time(NULL);
	uint64_t t0 = now_ms();
	struct db *db;
	int rc;

	/* One real hash (few iterations: the look-up never checks it) for every user. */
	if (passwd_hash("bench-password", 1000, hash, sizeof hash))
		die("cannot hash a password");
	if (db_open(db_path, &db, err, sizeof err))
		die("%s", err);
	rc = db_batch_begin(db);
	for (unsigned lan = 0; !rc && lan < N_LANS && !interrupted; lan++)
		rc = fill_lan(db, lan, hash, now);
	if (interrupted && !rc)
		rc = INSEL_E_CLOSED;
	rc = db_batch_end(db, rc);
	if (rc) {
		snprintf(err, sizeof err, "%s", db_errmsg(db));
		db_close(db);
		die("cannot generate the directory: %s", err);
	}
	db_close(db);
	printf("directory: %u LANs (/24 each), %u secondaries, %u hosts, %u users "
	       "generated in %.1f s\n", N_LANS, N_LANS, N_LANS * HOSTS_PER_LAN,
	       N_LANS * USERS_PER_LAN, (double)(now_ms() - t0) / 1000);
}

static void issue_certificates(void)
{
	char ca[300], crt[300], key[300], err[600];

	path_in(ca, sizeof ca, "ca");
	if (mkdir(ca, 0700) != 0 || pki_ca_init(ca, "insel-bench", 2, err, sizeof err))
		die("cannot create the CA: %s", err);
	path_in(crt, sizeof crt, "ca/principal.crt");
	path_in(key, sizeof key, "ca/principal.key");
	if (pki_issue(ca, PKI_ROLE_PRINCIPAL, "principal", 1, crt, key, NULL, err, sizeof err))
		die("cannot issue the principal's certificate: %s", err);
	path_in(crt, sizeof crt, "ca/bench.crt");
	path_in(key, sizeof key, "ca/bench.key");
	if (pki_issue(ca, PKI_ROLE_SECONDARY, "bench-client", 1, crt, key, NULL, err, sizeof err))
		die("cannot issue the client certificate: %s", err);
}

/* ---- the principal as a child process ---- */

static void start_principal(const char *bin, const char *db, unsigned k, pid_t *slot,
			    struct ip_endpoint *to)
{
	char suffix[8] = "";
	char events[300], ca[300], crt[300], key[300], port_file[300], log_path[300];
	uint64_t t0 = now_ms();
	unsigned port = 0;

	if (k > 0)
		snprintf(suffix, sizeof suffix, "%u", k + 1);
	snprintf(events, sizeof events, "%s/principal%s.events", tmpdir, suffix);
	path_in(ca, sizeof ca, "ca/ca.crt");
	path_in(crt, sizeof crt, "ca/principal.crt");
	path_in(key, sizeof key, "ca/principal.key");
	snprintf(port_file, sizeof port_file, "%s/port%s", tmpdir, suffix);
	snprintf(log_path, sizeof log_path, "%s/principal%s.log", tmpdir, suffix);
	fflush(NULL);
	*slot = fork();
	if (*slot < 0)
		die("fork: %s", strerror(errno));
	if (*slot == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		/* If the benchmark dies without cleaning up, so does the principal. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl(bin, bin, "serve", "--db", db, "--events", events, "--listen", "127.0.0.1:0",
		      "--ca", ca,
		      "--cert", crt, "--key", key, "--port-file", port_file,
		      "--down-after", "10m", "--max-pending-per-source", "1000", (char *)NULL);
		_exit(127);
	}
	while (now_ms() - t0 < START_LIMIT_MS && !interrupted) {
		FILE *f = fopen(port_file, "r");

		if (f) {
			if (fscanf(f, "%u", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port)
			break;
		if (waitpid(*slot, NULL, WNOHANG) == *slot) {
			*slot = -1;
			die("insel-principal serve exited at start");
		}
		usleep(20000);
	}
	if (!port || port > 65535)
		die("insel-principal serve did not write its port within %d ms", START_LIMIT_MS);
	if (ip_endpoint_parse("127.0.0.1:0", to))
		die("cannot parse the loopback address");
	to->port = (uint16_t)port;
}

struct proc_figures {
	uint64_t cpu_ticks;  /* user + system */
	long hwm_kib, rss_kib;
};

static struct proc_figures read_proc_one(pid_t pid);

/* The principals' figures together (CPU and memory summed). */
static struct proc_figures read_proc(pid_t pid)
{
	struct proc_figures f = read_proc_one(pid), g;

	if (child2 <= 0)
		return f;
	g = read_proc_one(child2);
	f.cpu_ticks += g.cpu_ticks;
	f.hwm_kib += g.hwm_kib > 0 ? g.hwm_kib : 0;
	f.rss_kib += g.rss_kib > 0 ? g.rss_kib : 0;
	return f;
}

static struct proc_figures read_proc_one(pid_t pid)
{
	struct proc_figures f = {0, -1, -1};
	char path[64], line[512];
	unsigned long utime, stime;
	FILE *fp;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	while (fp && fgets(line, sizeof line, fp)) {
		if (strncmp(line, "VmHWM:", 6) == 0)
			f.hwm_kib = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "VmRSS:", 6) == 0)
			f.rss_kib = strtol(line + 6, NULL, 10);
	}
	if (fp)
		fclose(fp);
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (fp && fgets(line, sizeof line, fp)) {
		/* The command name may hold spaces: fields count from after its ')'. */
		char *p = strrchr(line, ')');

		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
				&stime) == 2)
			f.cpu_ticks = (uint64_t)utime + stime;
	}
	if (fp)
		fclose(fp);
	return f;
}

/* Clock ticks that every core of the machine spent on anything but idling. */
static uint64_t machine_busy_ticks(void)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7]) : 0;

	if (f)
		fclose(f);
	if (n < 4)
		return 0;
	/* user nice system [idle] [iowait] irq softirq steal */
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

static uint64_t self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec +
	       (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
}

/* ---- load generation ---- */

enum phase { PH_CONNECT, PH_HELLO, PH_WARMUP, PH_CLOSED, PH_DRAIN1, PH_OPEN, PH_DRAIN2,
	     PH_DONE };

struct bench;

struct bconn {
	struct bench *b;
	struct tls_conn *tls;
	bool open, ready, hello_ok;
	unsigned head, count;  /* FIFO of outstanding requests (replies come in order) */
	json_int_t ids[DEPTH];
	uint64_t sent_ns[DEPTH];
	json_int_t next_id;
};

struct stats {
	uint32_t *hist;      /* HIST_BUCKETS */
	uint64_t n, errors, max_ns, sum_ns;
	uint64_t start_ns, end_ns;
	uint64_t server_cpu0, server_cpu1, client_cpu0, client_cpu1;
	uint64_t busy0, busy1;  /* whole machine, clock ticks not idle */
};

struct bench {
	uv_loop_t *loop;
	struct tls_creds *creds;
	struct ip_endpoint to[2];  /* the principals; connection i goes to to[i % nto] */
	unsigned nto;
	struct bconn *conns;
	size_t n, started, in_handshake, ready, failed, closed, hellos;
	enum phase phase;
	uint64_t phase_start_ms;
	unsigned seconds;
	double rate;
	uv_timer_t tick;
	uv_prepare_t pump;
	uint64_t rng;
	struct stats closed_st, open_st, *cur;  /* cur: the phase being measured, or NULL */
	uint64_t open_sent, open_skipped, open_lag_max_ns, open_lag_sum_ns;
	size_t rr;  /* round robin over connections for the open loop */
	uint64_t errors_seen;
	char first_error[300];
	uint64_t connect_start_ms;
	struct proc_figures at_end;  /* the principal, read while it holds every connection */
	bool handles_closed;
};

static uint64_t rnd(struct bench *b)
{
	/* xorshift64*: cheap and good enough to pick callees. */
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 0x2545F4914F6CDD1DULL;
}

/* A third each: host name, address in a random LAN (half of them a host's), user@lan. */
static void pick_callee(struct bench *b, char *out, size_t n)
{
	uint64_t r = rnd(b);
	unsigned lan = (unsigned)(r % N_LANS), x = (unsigned)((r >> 20) % 3), a, c;
	char name[32];

	lan_octets(lan, &a, &c);
	if (x == 0) {
		host_name(lan, (unsigned)((r >> 32) % HOSTS_PER_LAN), out, n);
	} else if (x == 1) {
		snprintf(out, n, "10.%u.%u.%u", a, c, (unsigned)((r >> 32) % 200) + 1);
	} else {
		lan_name(lan, name, sizeof name);
		snprintf(out, n, "user%u@%s", (unsigned)((r >> 32) % USERS_PER_LAN), name);
	}
}

static bool send_lookup(struct bconn *c)
{
	struct bench *b = c->b;
	char callee[64];
	json_t *req;
	unsigned slot;

	if (!c->open || !c->hello_ok || c->count >= DEPTH)
		return false;
	pick_callee(b, callee, sizeof callee);
	req = pop_lookup_req_encode(c->next_id, &(struct pop_lookup_req){callee});
	if (!req)
		return false;
	slot = (c->head + c->count) % DEPTH;
	c->ids[slot] = c->next_id++;
	c->sent_ns[slot] = uv_hrtime();
	c->count++;
	if (tls_conn_send_new(c->tls, req) != 0) {
		c->count--;
		return false;
	}
	return true;
}

static size_t bucket_of(uint64_t us)
{
	unsigned msb;

	if (us < HIST_EXACT)
		return (size_t)us;
	if (us >= (1ull << 40))
		return HIST_BUCKETS - 1;
	msb = 63u - (unsigned)__builtin_clzll(us);  /* 10..39 */
	return HIST_EXACT + (msb - 10) * HIST_SUB + (size_t)((us >> (msb - 9)) - HIST_SUB);
}

/* The middle of bucket i, in microseconds. */
static double bucket_us(size_t i)
{
	size_t k, msb;

	if (i < HIST_EXACT)
		return (double)i + 0.5;
	k = i - HIST_EXACT;
	msb = 10 + k / HIST_SUB;
	return ((double)(HIST_SUB + k % HIST_SUB) + 0.5) * (double)(1ull << (msb - 9));
}

static void record(struct bench *b, uint64_t ns, bool ok)
{
	struct stats *s = b->cur;
	uint64_t us = ns / 1000;

	if (!s)
		return;
	s->n++;
	s->sum_ns += ns;
	if (!ok)
		s->errors++;
	if (ns > s->max_ns)
		s->max_ns = ns;
	s->hist[bucket_of(us)]++;
}

static void enter(struct bench *b, enum phase p);

static void on_reply(struct bconn *c, const json_t *msg)
{
	struct bench *b = c->b;
	const char *code = NULL, *text = NULL;
	bool ok = msg_reply_is_ok(msg, &code, &text);
	uint64_t now = uv_hrtime();

	if (!ok && b->errors_seen++ == 0)
		snprintf(b->first_error, sizeof b->first_error, "%s: %s", code ? code : "?",
			 text ? text : "?");
	if (!c->hello_ok) {
		c->hello_ok = ok;
		if (++b->hellos == b->ready && b->phase == PH_HELLO)
			enter(b, PH_WARMUP);
		return;
	}
	if (c->count == 0 || msg_id(msg) != c->ids[c->head]) {
		if (b->errors_seen++ == 0)
			snprintf(b->first_error, sizeof b->first_error,
				 "reply id %lld out of order", (long long)msg_id(msg));
		return;
	}
	record(b, now - c->sent_ns[c->head], ok);
	c->head = (c->head + 1) % DEPTH;
	c->count--;
	if (b->phase == PH_WARMUP || b->phase == PH_CLOSED)
		send_lookup(c);
}

/* ---- connections ---- */

static void connect_more(struct bench *b);

static void conn_ready(struct tls_conn *t, int status)
{
	struct bconn *c = tls_conn_data(t);
	struct bench *b = c->b;
	json_t *hello;

	b->in_handshake--;
	if (status) {
		if (b->failed++ == 0)
			fprintf(stderr, "bench: a handshake failed: %s\n", tls_conn_error(t));
		return;
	}
	c->ready = true;
	b->ready++;
	hello = pop_hello_req_encode(0, &(struct pop_hello_req){MSG_PROTOCOL_VERSION,
								  "secondary"});
	c->next_id = 1;
	tls_conn_send_new(t, hello);
	connect_more(b);
}

static void conn_message(struct tls_conn *t, json_t *msg, int err)
{
	struct bconn *c = tls_conn_data(t);

	if (!msg) {
		if (c->b->errors_seen++ == 0)
			snprintf(c->b->first_error, sizeof c->b->first_error,
				 "unreadable reply: %s", insel_strerror(err));
		return;
	}
	on_reply(c, msg);
}

static void conn_close(struct tls_conn *t)
{
	struct bconn *c = tls_conn_data(t);
	struct bench *b = c->b;

	if (!c->ready)
		connect_more(b);
	if (b->phase < PH_DONE && c->ready && b->failed++ == 0)
		fprintf(stderr, "bench: the principal closed a connection: %s\n",
			tls_conn_error(t));
	c->open = false;
	c->tls = NULL;
	b->closed++;
}

static const struct tls_conn_callbacks callbacks = {conn_ready, conn_message, conn_close};

static void connect_more(struct bench *b)
{
	while (b->phase == PH_CONNECT && b->started < b->n &&
	       b->in_handshake < CONNECT_IN_FLIGHT) {
		struct bconn *c = &b->conns[b->started++];
		int rc;

		c->b = b;
		rc = tls_connect(b->loop, b->creds, &b->to[(b->started - 1) % b->nto],
				 PKI_ROLE_PRINCIPAL, NULL, &callbacks,
				 c, &c->tls);
		if (rc) {
			if (b->failed++ == 0)
				fprintf(stderr, "bench: cannot connect: %s\n", insel_strerror(rc));
			b->closed++;  /* no callbacks will come */
			continue;
		}
		c->open = true;
		b->in_handshake++;
	}
}

/* ---- phases ---- */

static void start_measuring(struct bench *b, struct stats *s)
{
	s->start_ns = uv_hrtime();
	s->server_cpu0 = read_proc(child).cpu_ticks;
	s->client_cpu0 = self_cpu_us();
	s->busy0 = machine_busy_ticks();
	b->cur = s;
}

static void stop_measuring(struct bench *b)
{
	struct stats *s = b->cur;

	if (!s)
		return;
	s->end_ns = uv_hrtime();
	s->server_cpu1 = read_proc(child).cpu_ticks;
	s->client_cpu1 = self_cpu_us();
	s->busy1 = machine_busy_ticks();
	b->cur = NULL;
}

static size_t outstanding(const struct bench *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		n += b->conns[i].count;
	return n;
}

static void close_all(struct bench *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->conns[i].open)
			tls_conn_close(b->conns[i].tls, 0);
}

static void enter(struct bench *b, enum phase p)
{
	b->phase = p;
	b->phase_start_ms = now_ms();
	switch (p) {
	case PH_HELLO:
		printf("connections: %zu of %zu open in %.1f s (%zu failed)\n", b->ready, b->n,
		       (double)(b->phase_start_ms - b->connect_start_ms) / 1000, b->failed);
		if (b->hellos == b->ready)
			enter(b, PH_WARMUP);
		break;
	case PH_WARMUP:
		for (size_t i = 0; i < b->n; i++)
			send_lookup(&b->conns[i]);
		break;
	case PH_CLOSED:
		start_measuring(b, &b->closed_st);
		break;
	case PH_DRAIN1:
	case PH_DRAIN2:
		stop_measuring(b);
		break;
	case PH_OPEN:
		b->open_sent = 0;
		b->rr = 0;
		start_measuring(b, &b->open_st);
		break;
	case PH_CONNECT:
		break;
	case PH_DONE:
		stop_measuring(b);
		/* Read while the principal still holds every connection, then let them go. */
		b->at_end = read_proc(child);
		close_all(b);
		break;
	}
}

/* Sends what the open loop's schedule says is due by now. */
static void pump_open(struct bench *b)
{
	uint64_t now = uv_hrtime(), elapsed = now - b->open_st.start_ns;
	uint64_t due = (uint64_t)((double)elapsed * b->rate / 1e9);

	while (b->open_sent < due) {
		uint64_t sched = b->open_st.start_ns + (uint64_t)((double)b->open_sent * 1e9 / b->rate);
		struct bconn *c = &b->conns[b->rr];

		b->rr = (b->rr + 1) % b->n;
		b->open_sent++;
		if (!send_lookup(c)) {
			b->open_skipped++;
			continue;
		}
		if (now - sched > b->open_lag_max_ns)
			b->open_lag_max_ns = now - sched;
		b->open_lag_sum_ns += now - sched;
	}
}

static void pump_cb(uv_prepare_t *p)
{
	struct bench *b = p->data;

	if (b->phase == PH_OPEN)
		pump_open(b);
}

static void tick_cb(uv_timer_t *t)
{
	struct bench *b = t->data;
	uint64_t in_phase = now_ms() - b->phase_start_ms;

	if (interrupted && b->phase != PH_DONE) {
		fprintf(stderr, "bench: interrupted\n");
		enter(b, PH_DONE);
	}
	switch (b->phase) {
	case PH_CONNECT:
		if (b->ready + b->failed >= b->n || in_phase > CONNECT_LIMIT_MS)
			enter(b, PH_HELLO);
		break;
	case PH_HELLO:
		if (in_phase > HELLO_LIMIT_MS) {
			fprintf(stderr, "bench: only %zu of %zu hellos answered\n", b->hellos,
				b->ready);
			enter(b, PH_WARMUP);
		}
		break;
	case PH_WARMUP:
		if (in_phase >= WARMUP_MS)
			enter(b, PH_CLOSED);
		break;
	case PH_CLOSED:
		if (in_phase >= b->seconds * 1000ull)
			enter(b, PH_DRAIN1);
		break;
	case PH_DRAIN1:
		if (outstanding(b) == 0 || in_phase > DRAIN_LIMIT_MS)
			enter(b, PH_OPEN);
		break;
	case PH_OPEN:
		pump_open(b);
		if (in_phase >= b->seconds * 1000ull)
			enter(b, PH_DRAIN2);
		break;
	case PH_DRAIN2:
		if (outstanding(b) == 0 || in_phase > DRAIN_LIMIT_MS)
			enter(b, PH_DONE);
		break;
	case PH_DONE:
		break;
	}
	if (b->phase == PH_DONE && !b->handles_closed) {
		b->handles_closed = true;
		uv_timer_stop(&b->tick);
		uv_close((uv_handle_t *)&b->tick, NULL);
		uv_prepare_stop(&b->pump);
		uv_close((uv_handle_t *)&b->pump, NULL);
	}
}

/* ---- figures ---- */

static double percentile_ms(const struct stats *s, double q)
{
	uint64_t want = (uint64_t)((double)s->n * q), seen = 0;

	if (s->n == 0)
		return 0;
	if (want >= s->n)
		want = s->n - 1;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += s->hist[i];
		if (seen > want) {
			double ms = bucket_us(i) / 1000;

			return ms < (double)s->max_ns / 1e6 ? ms : (double)s->max_ns / 1e6;
		}
	}
	return (double)s->max_ns / 1e6;
}

static void print_stats(const char *title, const struct stats *s, long ticks_per_s)
{
	double wall = (double)(s->end_ns - s->start_ns) / 1e9;
	double server = (double)(s->server_cpu1 - s->server_cpu0) / (double)ticks_per_s;
	double client = (double)(s->client_cpu1 - s->client_cpu0) / 1e6;
	double busy = (double)(s->busy1 - s->busy0) / (double)ticks_per_s;
	double others = busy - server - client;

	if (wall <= 0)
		return;
	printf("%s\n", title);
	printf("  look-ups/s     %10.0f   (%" PRIu64 " in %.1f s, %" PRIu64 " errors)\n",
	       (double)s->n / wall, s->n, wall, s->errors);
	printf("  latency ms     p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  mean %.3f\n",
	       percentile_ms(s, 0.50), percentile_ms(s, 0.90), percentile_ms(s, 0.99),
	       (double)s->max_ns / 1e6, s->n ? (double)s->sum_ns / (double)s->n / 1e6 : 0);
	printf("  CPU            principal %.0f%% of one core, load generator %.0f%%, other "
	       "processes %.0f%% (of %ld cores = %ld%%)\n", 100 * server / wall,
	       100 * client / wall, others > 0 ? 100 * others / wall : 0.0,
	       sysconf(_SC_NPROCESSORS_ONLN), 100 * sysconf(_SC_NPROCESSORS_ONLN));
	if (server > 0)
		printf("  server cost    %.1f us of principal CPU per look-up\n",
		       server * 1e6 / (double)(s->n ? s->n : 1));
}

/* ---- main ---- */

static void raise_fd_limit(size_t conns)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < conns + 64)
		die("the open-file limit (%llu) is too low for %zu connections",
		    (unsigned long long)rl.rlim_cur, conns);
}

static unsigned long parse_opt(const char *name, const char *v, unsigned long max)
{
	char *end;
	unsigned long x = strtoul(v, &end, 10);

	if (!*v || *end || x == 0 || x > max) {
		fprintf(stderr, "bench-principal: %s must be 1 to %lu\n", name, max);
		exit(2);
	}
	return x;
}

int main(int argc, char **argv)
{
	struct bench b = {.n = DEFAULT_CONNECTIONS, .seconds = DEFAULT_SECONDS,
			  .rate = DEFAULT_RATE, .rng = 0x9e3779b97f4a7c15ULL};
	char db_path[300], ca[300], crt[300], key[300], err[600];
	struct proc_figures before_stop;
	struct sigaction sa;
	bool clean_exit;
	long ticks = sysconf(_SC_CLK_TCK);

	const char *bin = INSEL_PRINCIPAL_PATH, *connections = NULL, *seconds = NULL, *rate = NULL;
	const char *dsn = NULL, *principals = NULL;
	const struct opt table[] = {
		{"--dsn", true, &dsn, NULL},
		{"--principals", true, &principals, NULL},
		{"--connections", true, &connections, NULL},
		{"--seconds", true, &seconds, NULL},
		{"--rate", true, &rate, NULL},
	};
	struct opts o = {.table = table, .n = sizeof table / sizeof table[0], .pos = &bin,
			 .max_pos = 1};

	if (opts_parse(&o, argc, argv, 1) != OPTS_OK) {
		fprintf(stderr, "%s%susage: bench-principal [PATH/insel-principal] "
			"[--connections N] [--seconds S] [--rate LOOKUPS_PER_S] [--dsn DSN] "
			"[--principals 1|2]\n", o.why,
			o.why[0] ? "\n" : "");
		return 2;
	}
	if (connections)
		b.n = parse_opt("--connections", connections, MAX_CONNECTIONS);
	b.nto = principals ? (unsigned)parse_opt("--principals", principals, 2) : 1;
	if (seconds)
		b.seconds = (unsigned)parse_opt("--seconds", seconds, MAX_SECONDS);
	if (rate)
		b.rate = (double)parse_opt("--rate", rate, MAX_RATE);
	log_init("bench-principal");
	log_set_level(LOG_LVL_WARN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(b.n);

	snprintf(tmpdir, sizeof tmpdir, "/tmp/insel-bench-principal.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = '\0';
		die("mkdtemp: %s", strerror(errno));
	}
	printf("insel principal benchmark: %zu TLS connections on 127.0.0.1, %u s per phase "
	       "after a %d ms warm-up\n", b.n, b.seconds, WARMUP_MS);
	printf("note: the load generator (one libuv thread, TLS and JSON like the principal) "
	       "shares this machine's %ld cores with the principal\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
	if (dsn)
		snprintf(db_path, sizeof db_path, "%s", dsn);
	else
		path_in(db_path, sizeof db_path, "principal.db");
	printf("directory: %s\n", dsn ? "PostgreSQL" : "SQLite");
	generate_directory(db_path);
	issue_certificates();
	/* Two principals serve one directory (docs/principals.md): the connections are
	 * spread over them, and their CPU and memory are added up. */
	start_principal(bin, db_path, 0, &child, &b.to[0]);
	if (b.nto == 2) {
		start_principal(bin, db_path, 1, &child2, &b.to[1]);
		printf("two principals on the one directory, connections spread over both\n");
	}

	path_in(ca, sizeof ca, "ca/ca.crt");
	path_in(crt, sizeof crt, "ca/bench.crt");
	path_in(key, sizeof key, "ca/bench.key");
	if (tls_creds_load(&b.creds, ca, crt, key, err, sizeof err))
		die("%s", err);
	b.conns = calloc(b.n, sizeof *b.conns);
	b.closed_st.hist = calloc(HIST_BUCKETS, sizeof *b.closed_st.hist);
	b.open_st.hist = calloc(HIST_BUCKETS, sizeof *b.open_st.hist);
	if (!b.conns || !b.closed_st.hist || !b.open_st.hist)
		die("out of memory");
	b.loop = uv_default_loop();
	uv_timer_init(b.loop, &b.tick);
	uv_prepare_init(b.loop, &b.pump);
	b.tick.data = b.pump.data = &b;
	uv_timer_start(&b.tick, tick_cb, 1, 1);
	uv_prepare_start(&b.pump, pump_cb);
	b.phase = PH_CONNECT;
	b.phase_start_ms = now_ms();
	b.connect_start_ms = b.phase_start_ms;
	connect_more(&b);
	/* Returns once every connection has closed (tls_conn.c bounds each close by a grace
	 * period) and the tick and pump handles are closed. */
	uv_run(b.loop, UV_RUN_DEFAULT);
	before_stop = b.at_end;
	print_stats("closed loop (every connection always has one look-up outstanding):",
		    &b.closed_st, ticks);
	if (b.closed_st.n)
		printf("  (%zu look-ups always in flight: latency here is mostly queueing)\n",
		       b.ready);
	{
		char title[160];

		snprintf(title, sizeof title, "open loop (%.0f look-ups/s offered, spread over "
			 "%zu connections):", b.rate, b.ready);
		print_stats(title, &b.open_st, ticks);
		if (b.open_sent)
			printf("  sends behind schedule: mean %.3f ms, max %.3f ms; %" PRIu64
			       " not sent (connection busy)\n",
			       (double)b.open_lag_sum_ns / (double)(b.open_sent - b.open_skipped +
								  (b.open_sent == b.open_skipped)) / 1e6,
			       (double)b.open_lag_max_ns / 1e6, b.open_skipped);
	}
	printf("principal memory: peak resident (VmHWM) %.1f MiB, resident now %.1f MiB, "
	       "with %zu connections open\n", (double)before_stop.hwm_kib / 1024,
	       (double)before_stop.rss_kib / 1024, b.ready);
	printf("principal CPU time over the whole run: %.1f s\n",
	       (double)before_stop.cpu_ticks / (double)ticks);
	if (b.errors_seen)
		printf("errors: %" PRIu64 " (first: %s)\n", b.errors_seen, b.first_error);
	if (b.failed)
		printf("connection failures: %zu\n", b.failed);

	clean_exit = stop_child();
	uv_run(b.loop, UV_RUN_NOWAIT);
	if (uv_loop_close(b.loop) != 0)
		fprintf(stderr, "bench: some handles were still open at the end\n");
	tls_creds_free(b.creds);
	free(b.conns);
	free(b.closed_st.hist);
	free(b.open_st.hist);
	cleanup();
	if (interrupted)
		return 130;
	return b.errors_seen || b.failed || !clean_exit ? 1 : 0;
}
