/* The principal's end of its relay (relay_link.h). */
#include "relay_link.h"


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "rand.h"
#include "wire_errors.h"

struct relay_allocation {
	struct relay_allocation *next;
	uint64_t id;
	uint64_t call;
	uint8_t token[RELAY_OPS_TOKEN_LEN];
	char owner[PKI_NAME_MAX + 1];
};

static bool unspecified(const struct ip_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

/* ---- the allocations ---- */

static struct relay_allocation **find(struct relay_link *l, uint64_t id)
{
	struct relay_allocation **p = &l->allocations;

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

static void forget(struct relay_link *l, uint64_t id)
{
	struct relay_allocation **p = find(l, id), *a = *p;

	if (!a)
		return;
	*p = a->next;
	l->count--;
	secure_wipe(a, sizeof *a);
	free(a);
}

static unsigned held_by(const struct relay_link *l, const char *owner)
{
	unsigned n = 0;

	for (const struct relay_allocation *a = l->allocations; a; a = a->next)
		n += strcmp(a->owner, owner) == 0;
	return n;
}

/* ---- the relay's control socket (relay_control.h) ---- */

/* The relay's answer to an allocate: an allocation it refused is forgotten (it would
 * count against its secondary for ever); one that met a closed socket is given again to
 * the next relay. */
struct allocate_sent {
	struct relay_link *link;
	uint64_t id;
};

static void allocate_reply(void *ctx, const json_t *reply, int err)
{
	struct allocate_sent *sent = ctx;
	const char *code, *message;
	char hex[ID_STRLEN];

	id_format(sent->id, hex);
	if (err) {
		log_warn("the relay did not confirm allocation %s: %s", hex, insel_strerror(err));
	} else if (!msg_reply_is_ok(reply, &code, &message)) {
		log_warn("the relay refused allocation %s: %s: %s", hex, code, message);
		forget(sent->link, sent->id);
	}
	free(sent);
}

static int send_allocate(struct relay_link *l, const struct relay_allocation *a)
{
	struct relay_allocate req = {.allocation = a->id};
	struct allocate_sent *sent = malloc(sizeof *sent);
	json_t *msg;
	int rc;

	if (!sent)
		return -ENOMEM;
	*sent = (struct allocate_sent){l, a->id};
	memcpy(req.token, a->token, sizeof req.token);
	msg = relay_allocate_to_json(0, &req);
	secure_wipe(&req, sizeof req);
	rc = relay_control_call(&l->control, msg, allocate_reply, sent);
	if (rc)
		free(sent);
	return rc;
}

/* A relay that restarted knows nothing: the allocations still live are given again. */
static void relay_ready(void *ctx)
{
	struct relay_link *l = ctx;
	size_t n = 0;

	for (struct relay_allocation *a = l->allocations; a; a = a->next)
		n += send_allocate(l, a) == 0;
	if (n)
		log_info("relay allocations handed over again: %zu", n);
}

static void relay_expired(void *ctx, uint64_t id)
{
	struct relay_link *l = ctx;
	char hex[ID_STRLEN];

	log_debug("relay allocation %s expired", id_format(id, hex));
	l->expired++;
	forget(l, id);
}

int relay_link_start(struct relay_link *l, uv_loop_t *loop, const struct relay_link_options *o)
{
	static const struct relay_control_callbacks cb = {relay_ready, relay_expired};

	memset(l, 0, sizeof *l);
	l->opt = *o;
	if (!l->opt.per_secondary)
		l->opt.per_secondary = RELAY_DEFAULT_PER_SECONDARY;
	return relay_control_start(&l->control, loop, o->keeper_fd, o->port, &cb, l);
}

void relay_link_close(struct relay_link *l)
{
	log_info("relay: %llu allocations granted, %llu refused, %llu expired, %llu restarts",
		 (unsigned long long)l->granted, (unsigned long long)l->refused,
		 (unsigned long long)l->expired, (unsigned long long)l->control.restarts);
	relay_control_close(&l->control);
	while (l->allocations)
		forget(l, l->allocations->id);
}

/* Where the secondary is to send: the configured public address, the bound one, or the
 * address it reached us at. */
int relay_link_advertised(const struct relay_link *l, const struct ip_endpoint *local,
			  struct ip_endpoint *out)
{
	if (l->opt.has_public) {
		*out = l->opt.public_ep;
		return 0;
	}
	if (!unspecified(&l->opt.listen.addr)) {
		*out = l->opt.listen;
	} else if (local && !unspecified(&local->addr)) {
		*out = *local;
	} else {
		return INSEL_E_UNAVAILABLE;
	}
	out->port = l->opt.port;
	return 0;
}

int relay_link_allocate(struct relay_link *l, const char *owner, uint64_t call,
			const struct ip_endpoint *local, struct relay_grant *out)
{
	struct relay_allocation *a;
	int rc;

	if (!l->control.ready || relay_link_advertised(l, local, &out->ep) != 0) {
		l->refused++;
		return INSEL_E_UNAVAILABLE;
	}
	out->has_tcp = l->opt.tcp_port != 0;
	out->tcp = out->ep;
	out->tcp.port = l->opt.tcp_port;
	if (held_by(l, owner) >= l->opt.per_secondary) {
		l->refused++;
		return INSEL_E_LIMIT;
	}
	a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	do
		a->id = rand_id64();
	while (*find(l, a->id));
	a->call = call;
	rand_key(a->token, sizeof a->token);
	snprintf(a->owner, sizeof a->owner, "%s", owner);
	if ((rc = send_allocate(l, a)) != 0) {
		secure_wipe(a, sizeof *a);
		free(a);
		l->refused++;
		return rc;
	}
	a->next = l->allocations;
	l->allocations = a;
	l->count++;
	l->granted++;
	out->allocation = a->id;
	memcpy(out->token, a->token, sizeof out->token);
	return 0;
}

static void free_reply(void *ctx, const json_t *reply, int err)
{
	const char *code, *message;

	(void)ctx;
	if (!err && !msg_reply_is_ok(reply, &code, &message) &&
	    !wire_error_is(code, WERR_NOT_FOUND))
		log_warn("the relay refused to free an allocation: %s", message);
}

bool relay_link_free_call(struct relay_link *l, uint64_t call)
{
	struct relay_allocation *a = l->allocations;

	while (a && a->call != call)
		a = a->next;
	if (!a)
		return false;
	relay_control_call(&l->control, relay_free_to_json(0, a->id), free_reply, NULL);
	l->freed++;
	forget(l, a->id);
	return true;
}
