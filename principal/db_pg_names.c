/* The host names of the PostgreSQL connection string, looked up off the daemon's event
 * loop before each attempt to connect again (db_pg_conn.c).
 *
 * libpq looks a host name up inside the connection attempt with getaddrinfo, which
 * blocks: on the principal's loop, a slow or silent name server would stop every
 * heartbeat and look-up for as long as the look-up lasts (seconds per name, per attempt).
 * So the daemon's directory has the names looked up on the loop's thread pool, and hands
 * libpq each address as hostaddr= beside its name as host=: libpq then connects without a
 * look-up of its own, and still uses the name where a name is needed (TLS verify-full,
 * the password file). A name with several addresses becomes one entry per address, its
 * port repeated, so a list of hosts keeps its order and target_session_attrs still
 * chooses among all of them. Unix socket folders, addresses and an empty entry need no
 * look-up and stay as they are; a name that does not resolve is left out of that attempt.
 *
 * Left to libpq (nothing looked up here): a connection string that gives hostaddr itself,
 * or uses a service file. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include <libpq-fe.h>

#include "db_pg_names.h"

#define HOSTS_MAX 16           /* entries of host= looked at */
#define ADDRS_PER_NAME 8       /* addresses of one name given to libpq */
#define LIST_MAX 4096          /* one list (host=, hostaddr=, port=) for libpq */
#define ENTRY_MAX 256          /* one host name or port */

/* One look-up under way on the thread pool: it owns copies of the names, so that the
 * directory may close meanwhile (then owner is NULL and the look-up frees itself). */
struct lookup {
	uv_work_t work;
	uv_mutex_t lock;
	uv_cond_t done_cond;
	struct pg_names *owner;
	size_t n;
	char name[HOSTS_MAX][ENTRY_MAX];      /* "" where no look-up is needed */
	bool done;                             /* under lock; what follows is the
						* worker's until it is set */
	int err[HOSTS_MAX];                    /* getaddrinfo's error, 0 */
	size_t naddr[HOSTS_MAX];
	char addr[HOSTS_MAX][ADDRS_PER_NAME][INET6_ADDRSTRLEN + 16];
};

struct pg_names {
	size_t n;
	char host[HOSTS_MAX][ENTRY_MAX];
	char port[HOSTS_MAX][ENTRY_MAX];   /* "" when the string gives one port or none */
	bool name[HOSTS_MAX];              /* needs a look-up */
	bool per_host_ports;
	enum pg_names_state state;
	struct lookup *pending;            /* PG_NAMES_PENDING */
	char why[200];                     /* PG_NAMES_FAILED: why no address */
	char hosts[LIST_MAX], addrs[LIST_MAX], ports[LIST_MAX];
};

/* The value of key in what PQconninfoParse gave, else the environment's (as libpq). */
static const char *option(PQconninfoOption *o, const char *key, const char *env)
{
	for (; o->keyword; o++)
		if (strcmp(o->keyword, key) == 0 && o->val && *o->val)
			return o->val;
	return env ? getenv(env) : NULL;
}

/* Splits a comma-separated list into at most HOSTS_MAX entries; their count, or -1. */
static int split(const char *list, char out[HOSTS_MAX][ENTRY_MAX])
{
	int n = 0;

	for (const char *s = list;; n++) {
		size_t len = strcspn(s, ",");

		if (n == HOSTS_MAX || len >= ENTRY_MAX)
			return -1;
		memcpy(out[n], s, len);
		out[n][len] = '\0';
		if (!s[len])
			return n + 1;
		s += len + 1;
	}
}

/* Whether libpq would look host up by name: not a socket folder, not an address. */
static bool is_name(const char *host)
{
	unsigned char a[16];

	return *host && *host != '/' && *host != '@' && inet_pton(AF_INET, host, a) != 1 &&
	       inet_pton(AF_INET6, host, a) != 1;
}

/* n's entries from the host and port lists: false when libpq would refuse them (it then
 * says why) or none needs a look-up. */
static bool fill(struct pg_names *n, const char *host, const char *port)
{
	char ports[HOSTS_MAX][ENTRY_MAX];
	int nhosts = split(host, n->host), nports = port ? split(port, ports) : 0;
	bool any = false;

	if (nhosts < 0 || nports < 0 || (nports > 1 && nports != nhosts))
		return false;
	n->n = (size_t)nhosts;
	n->per_host_ports = nports > 1;
	for (size_t i = 0; i < n->n; i++) {
		if (n->per_host_ports)
			memcpy(n->port[i], ports[i], ENTRY_MAX);
		n->name[i] = is_name(n->host[i]);
		any |= n->name[i];
	}
	return any;
}

struct pg_names *pg_names_parse(const char *dsn)
{
	PQconninfoOption *o = PQconninfoParse(dsn, NULL);
	const char *host, *port;
	struct pg_names *n = NULL;

	if (!o)
		return NULL;
	/* libpq's order: the string, a service file, then the environment; with a service
	 * file, libpq is left to it */
	host = option(o, "host", "PGHOST");
	port = option(o, "port", "PGPORT");
	if (host && !option(o, "hostaddr", "PGHOSTADDR") && !option(o, "service", "PGSERVICE") &&
	    (n = calloc(1, sizeof *n)) && !fill(n, host, port)) {
		free(n);
		n = NULL;
	}
	PQconninfoFree(o);
	return n;
}

/* On the thread pool: every name's addresses, numeric, without duplicates. The loop
 * reads them only after it saw done set under the lock. */
static void look_up(uv_work_t *w)
{
	struct lookup *l = w->data;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};

	for (size_t i = 0; i < l->n; i++) {
		struct addrinfo *res = NULL;

		if (!l->name[i][0])
			continue;
		l->err[i] = getaddrinfo(l->name[i], NULL, &hints, &res);
		for (struct addrinfo *a = res; a && l->naddr[i] < ADDRS_PER_NAME; a = a->ai_next) {
			char *text = l->addr[i][l->naddr[i]];
			bool seen = false;

			if (getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof l->addr[i][0], NULL,
					0, NI_NUMERICHOST) != 0)
				continue;
			for (size_t k = 0; k < l->naddr[i]; k++)
				seen |= strcmp(l->addr[i][k], text) == 0;
			l->naddr[i] += !seen;
		}
		if (res)
			freeaddrinfo(res);
	}
	uv_mutex_lock(&l->lock);
	l->done = true;
	uv_cond_signal(&l->done_cond);
	uv_mutex_unlock(&l->lock);
}

static void append(char *list, const char *item, bool first)
{
	size_t used = strlen(list);

	snprintf(list + used, LIST_MAX - used, "%s%s", first ? "" : ",", item);
}

/* The lists for libpq from a finished look-up; false (why says it) when no entry is left. */
static bool make_lists(struct pg_names *n, const struct lookup *l)
{
	size_t entries = 0;

	n->hosts[0] = n->addrs[0] = n->ports[0] = '\0';
	n->why[0] = '\0';
	for (size_t i = 0; i < n->n; i++) {
		size_t count = n->name[i] ? l->naddr[i] : 1;

		if (n->name[i] && !count && !n->why[0])
			snprintf(n->why, sizeof n->why, "cannot resolve the host name %s: %s",
				 n->host[i], l->err[i] ? gai_strerror(l->err[i]) : "no address");
		for (size_t k = 0; k < count; k++, entries++) {
			append(n->hosts, n->host[i], entries == 0);
			append(n->addrs, n->name[i] ? l->addr[i][k] : "", entries == 0);
			append(n->ports, n->port[i], entries == 0);
		}
	}
	if (entries && strlen(n->hosts) + 1 < LIST_MAX && strlen(n->addrs) + 1 < LIST_MAX &&
	    strlen(n->ports) + 1 < LIST_MAX) {
		n->state = PG_NAMES_READY;
		return true;
	}
	if (!n->why[0])
		snprintf(n->why, sizeof n->why, "too many addresses for the host names");
	n->state = PG_NAMES_FAILED;
	return false;
}

static void lookup_free(struct lookup *l)
{
	uv_cond_destroy(&l->done_cond);
	uv_mutex_destroy(&l->lock);
	free(l);
}

/* On the loop, after the worker: the look-up's results go to its owner unless taken
 * already (pg_names_wait); it is freed. */
static void looked_up(uv_work_t *w, int status)
{
	struct lookup *l = w->data;
	struct pg_names *n = l->owner;

	if (n) {
		n->pending = NULL;
		if (status == 0) {
			make_lists(n, l);
		} else {
			snprintf(n->why, sizeof n->why, "the host name look-up did not run");
			n->state = PG_NAMES_FAILED;
		}
	}
	lookup_free(l);
}

int pg_names_lookup(struct pg_names *n, struct uv_loop_s *loop)
{
	struct lookup *l = calloc(1, sizeof *l);
	int rc;

	if (!l)
		return -ENOMEM;
	if (uv_mutex_init(&l->lock) != 0) {
		free(l);
		return -ENOMEM;
	}
	if (uv_cond_init(&l->done_cond) != 0) {
		uv_mutex_destroy(&l->lock);
		free(l);
		return -ENOMEM;
	}
	l->owner = n;
	l->n = n->n;
	for (size_t i = 0; i < n->n; i++)
		if (n->name[i])
			memcpy(l->name[i], n->host[i], ENTRY_MAX);
	l->work.data = l;
	n->why[0] = '\0';
	rc = uv_queue_work(loop, &l->work, look_up, looked_up);
	if (rc) {
		lookup_free(l);
		return rc;
	}
	n->pending = l;
	n->state = PG_NAMES_PENDING;
	return 0;
}

enum pg_names_state pg_names_state(const struct pg_names *n)
{
	return n->state;
}

enum pg_names_state pg_names_wait(struct pg_names *n, int64_t wait_ms)
{
	struct lookup *l = n->pending;
	uint64_t end = uv_hrtime() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000;
	bool done;

	if (n->state != PG_NAMES_PENDING)
		return n->state;
	uv_mutex_lock(&l->lock);
	while (!l->done) {
		uint64_t now = uv_hrtime();

		if (now >= end || uv_cond_timedwait(&l->done_cond, &l->lock, end - now) != 0)
			break;
	}
	done = l->done;
	uv_mutex_unlock(&l->lock);
	if (!done)
		return PG_NAMES_PENDING;
	/* Taken now; the loop frees the look-up later (looked_up, with no owner). */
	l->owner = NULL;
	n->pending = NULL;
	make_lists(n, l);
	return n->state;
}

const char *pg_names_failed(struct pg_names *n)
{
	n->state = PG_NAMES_IDLE;  /* the next attempt looks them up again */
	return n->why[0] ? n->why : "no address for the host names";
}

void pg_names_take(struct pg_names *n, const char **hosts, const char **addrs,
		   const char **ports)
{
	*hosts = n->hosts;
	*addrs = n->addrs;
	*ports = n->per_host_ports ? n->ports : NULL;
	n->state = PG_NAMES_IDLE;  /* the next attempt looks the names up again */
}

void pg_names_free(struct pg_names *n)
{
	if (!n)
		return;
	if (n->pending)
		n->pending->owner = NULL;  /* it frees itself when the worker is done */
	free(n);
}
