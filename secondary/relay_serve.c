/* The relay this gateway runs for other sites' calls ([relay] listen; docs/relay.md,
 * section 8): the same insel-relay as the principal's, kept by the same keeper and
 * driven over the same control socket (relay_keeper.h, relay_control.h), confined the
 * same way. The gateway only passes requests on: the principal, which picks the relay of
 * each call, asks over its link (relay_allocate, relay_free, relay_stats) and the gateway
 * forwards each to its relay and the answer back; the relay's expiry notices go the
 * other way. The gateway remembers the allocations its relay accepted, until they are
 * freed or expire, so that a relay that restarted is given them again (as the principal
 * does for its own) and the calls' legs find them at their next registration. The relay
 * sees only each allocation's token and the calls' sealed frames. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "principal_ops.h"
#include "relay_control.h"
#include "relay_keeper.h"
#include "relay_ops.h"
#include "secondary.h"
#include "wire_errors.h"

/* An allocation the relay accepted, kept to give a restarted relay. */
struct kept {
	struct kept *next;
	struct relay_allocate a;
};

struct relay_serve {
	struct relay_control control;
	struct kept *kept;
	size_t nkept;
};

static struct kept **find_kept(struct relay_serve *r, uint64_t allocation)
{
	struct kept **k = &r->kept;

	while (*k && (*k)->a.allocation != allocation)
		k = &(*k)->next;
	return k;
}

static void keep(struct relay_serve *r, const struct relay_allocate *a, size_t max)
{
	struct kept *k;

	if (*find_kept(r, a->allocation) || r->nkept >= max || !(k = malloc(sizeof *k)))
		return;
	k->a = *a;
	k->next = r->kept;
	r->kept = k;
	r->nkept++;
}

static void forget(struct relay_serve *r, uint64_t allocation)
{
	struct kept **p = find_kept(r, allocation), *k = *p;

	if (!k)
		return;
	*p = k->next;
	r->nkept--;
	secure_wipe(k, sizeof *k);
	free(k);
}

static bool unspecified(const struct ip_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

int secondary_relay_fork(struct secondary *s)
{
	const struct secondary_config *c = &s->cfg;
	struct relay_keeper_options k = {
		.program = c->relay_program,
		.user = geteuid() == 0 ? c->relay_user : NULL,
		.rate = c->relay_rate,
		.max_allocations = c->relay_max_allocations,
		.expiry_ms = c->relay_expiry_ms,
		.tcp_fd = -1,
		.verbose = log_get_level() >= LOG_LVL_DEBUG,
	};
	char ep[IP_STRLEN];
	int fd, rc;

	s->relay_keeper_fd = -1;
	if (!c->relay)
		return 0;
	ip_endpoint_format(&c->relay_listen, ep, sizeof ep);
	if (access(k.program, X_OK) != 0) {
		log_error("no relay: %s: %s", k.program, strerror(errno));
		return -errno;
	}
	fd = relay_bind_socket(&c->relay_listen, SOCK_DGRAM, &s->relay_port);
	if (fd < 0) {
		log_error("no relay: cannot bind %s: %s", ep, strerror(-fd));
		return fd;
	}
	k.udp_fd = fd;
	rc = relay_keeper_start(&k, &s->relay_keeper_fd, &s->relay_keeper_pid);
	close(fd);
	if (rc) {
		log_error("no relay: cannot start its keeper: %s", strerror(-rc));
		return rc;
	}
	log_info("relay for other sites' calls on %s (UDP port %u), kept by process %d", ep,
		 s->relay_port, (int)s->relay_keeper_pid);
	return 0;
}

/* The relay says an allocation expired: the principal, which counts them, hears of it. */
static void expired_reply(void *ctx, const json_t *reply, int err)
{
	(void)ctx;
	(void)reply;
	(void)err;
}

static void relay_expired(void *ctx, uint64_t allocation)
{
	struct secondary *s = ctx;
	char hex[ID_STRLEN];

	log_debug("relay allocation %s expired", id_format(allocation, hex));
	forget(s->relay, allocation);
	principal_request(s, pop_relay_expired_encode(0, allocation), expired_reply, NULL);
}

/* A restarted relay's answer to an allocation given again: one it refused is forgotten. */
struct given_again {
	struct secondary *sec;
	uint64_t allocation;
};

static void given_again_reply(void *ctx, const json_t *reply, int err)
{
	struct given_again *g = ctx;

	(void)err;
	if (reply && !msg_reply_is_ok(reply, NULL, NULL) && g->sec->relay_running)
		forget(g->sec->relay, g->allocation);
	free(g);
}

/* A relay that restarted knows nothing: the allocations still live are given again. */
static void relay_ready(void *ctx)
{
	struct secondary *s = ctx;
	struct given_again *g;
	size_t n = 0;

	for (struct kept *k = s->relay->kept; k; k = k->next) {
		if (!(g = malloc(sizeof *g)))
			break;
		*g = (struct given_again){s, k->a.allocation};
		if (relay_control_call(&s->relay->control, relay_allocate_to_json(0, &k->a),
				       given_again_reply, g) == 0)
			n++;
		else
			free(g);
	}
	if (n)
		log_info("relay allocations handed over again: %zu", n);
}

int secondary_relay_start(struct secondary *s)
{
	static const struct relay_control_callbacks cb = {relay_ready, relay_expired};
	int rc;

	if (s->relay_keeper_fd < 0)
		return 0;
	s->relay = calloc(1, sizeof *s->relay);
	if (!s->relay)
		return -ENOMEM;
	rc = relay_control_start(&s->relay->control, s->loop, s->relay_keeper_fd, s->relay_port,
				 &cb, s);
	if (rc) {
		log_error("cannot watch the relay's keeper: %s", uv_strerror(rc));
		return rc;
	}
	s->relay_keeper_fd = -1;
	s->relay_running = true;
	return 0;
}

void secondary_relay_stop(struct secondary *s)
{
	if (s->relay_running)
		relay_control_close(&s->relay->control);
	s->relay_running = false;
	while (s->relay && s->relay->kept)
		forget(s->relay, s->relay->kept->a.allocation);
	if (s->relay_keeper_fd >= 0)
		close(s->relay_keeper_fd);
	s->relay_keeper_fd = -1;
}

bool secondary_relay_announce(const struct secondary *s, struct pop_register_req *r)
{
	const struct secondary_config *c = &s->cfg;

	if (!s->relay_running)
		return false;
	if (c->relay_has_public) {
		r->relay = c->relay_public;
	} else {
		r->relay = c->relay_listen;
		if (unspecified(&r->relay.addr))
			r->relay.addr = c->peer_public.addr;
		r->relay.port = s->relay_port;
	}
	r->has_relay = !unspecified(&r->relay.addr);
	return r->has_relay;
}

/* ---- the principal's requests ---- */

/* A request of the principal's passed on to the relay: its answer goes back with the
 * principal's id, on the link it came over. */
struct forwarded {
	struct secondary *sec;
	json_int_t id;
	unsigned generation;
	const char *op;
	bool allocate;                 /* kept once the relay accepted it: */
	struct relay_allocate a;
};

static void forwarded_reply(void *ctx, const json_t *reply, int err)
{
	struct forwarded *f = ctx;
	json_t *answer;

	if (err) {
		answer = msg_reply_error(f->id, WIRE(UNAVAILABLE), "the relay did not answer %s: %s",
					 f->op, insel_strerror(err));
	} else {
		answer = json_deep_copy(reply);
		if (answer)
			json_object_set_new(answer, "id", json_integer(f->id));
		if (f->allocate && msg_reply_is_ok(reply, NULL, NULL) && f->sec->relay_running)
			keep(f->sec->relay, &f->a, f->sec->cfg.relay_max_allocations);
	}
	if (answer)
		principal_reply(f->sec, f->generation, answer);
	secure_wipe(f, sizeof *f);
	free(f);
}

/* The relay's request for the principal's; an allocate's fields in f (to keep), a freed
 * allocation forgotten at once. */
static json_t *to_relay(struct secondary *s, const char *op, const json_t *msg,
			struct forwarded *f, char why[POP_WHY_LEN])
{
	uint64_t allocation;

	if (strcmp(op, "relay_stats") == 0)
		return msg_request("stats", 0);
	if (strcmp(op, "relay_free") == 0) {
		if (pop_relay_allocation_decode(msg, &allocation, why))
			return NULL;
		forget(s->relay, allocation);
		return relay_free_to_json(0, allocation);
	}
	if (pop_relay_allocate_decode(msg, &f->a, why))
		return NULL;
	f->allocate = true;
	return relay_allocate_to_json(0, &f->a);
}

bool secondary_relay_handle(struct secondary *s, const json_t *msg)
{
	static const char *const ops[] = {"relay_allocate", "relay_free", "relay_stats"};
	const char *op = msg_op(msg);
	json_int_t id = msg_id(msg);
	struct forwarded *f;
	char why[POP_WHY_LEN] = "";
	json_t *req;
	size_t i;

	for (i = 0; op && i < sizeof ops / sizeof ops[0] && strcmp(op, ops[i]) != 0; i++)
		;
	if (!op || i == sizeof ops / sizeof ops[0])
		return false;
	if (id < 0)
		return true;  /* a request without an id cannot be answered */
	if (!s->relay_running) {
		principal_reply(s, s->principal.generation,
				msg_reply_error(id, WIRE(NO_RELAY), "this gateway runs no relay"));
		return true;
	}
	f = calloc(1, sizeof *f);
	if (!f)
		return true;
	*f = (struct forwarded){.sec = s, .id = id, .generation = s->principal.generation,
				.op = ops[i]};
	req = to_relay(s, op, msg, f, why);
	if (!req) {
		principal_reply(s, s->principal.generation,
				msg_reply_error(id, WIRE(BAD_FIELD), "%s", why));
		free(f);
		return true;
	}
	if (relay_control_call(&s->relay->control, req, forwarded_reply, f) != 0) {
		principal_reply(s, f->generation, msg_reply_error(id, WIRE(NO_RELAY),
								  "the relay is not running "
								  "right now"));
		secure_wipe(f, sizeof *f);
		free(f);
	}
	return true;
}
