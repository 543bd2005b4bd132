/* Which relay carries a call (relay_choice.h). */
#include "relay_choice.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const policy_names[] = {"designated", "principal", "least-loaded"};

int relay_policy_parse(const char *text, enum relay_policy *out)
{
	for (size_t i = 0; i < sizeof policy_names / sizeof policy_names[0]; i++)
		if (strcmp(text, policy_names[i]) == 0) {
			*out = (enum relay_policy)i;
			return 0;
		}
	return -1;
}

const char *relay_policy_name(enum relay_policy p)
{
	return (size_t)p < sizeof policy_names / sizeof policy_names[0] ? policy_names[p] : "?";
}

/* ---- the ranking ---- */

static bool is_end(const char *secondary, const char *caller, const char *callee)
{
	return secondary && ((caller && strcmp(secondary, caller) == 0) ||
			     (callee && strcmp(secondary, callee) == 0));
}

/* The policy's class of an option: lower first. */
static unsigned policy_class(const struct relay_option *o, enum relay_policy policy)
{
	if (policy == RELAY_PREFER_DESIGNATED)
		return o->secondary ? 0 : 1;
	return 0;
}

/* A cost of 0 is not known: after every known one. */
static uint64_t known_cost(uint32_t cost)
{
	return cost ? cost : UINT64_MAX;
}

/* Whether a goes before b. */
static bool better(const struct relay_option *a, const struct relay_option *b,
		   enum relay_policy policy)
{
	unsigned ca = policy_class(a, policy), cb = policy_class(b, policy);

	if (ca != cb)
		return ca < cb;
	if (known_cost(a->cost) != known_cost(b->cost))
		return known_cost(a->cost) < known_cost(b->cost);
	return a->live < b->live;
}

size_t relay_choice_rank(const struct relay_option *options, size_t n, const char *caller,
			 const char *callee, enum relay_policy policy, size_t *rank)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct relay_option *o = &options[i];
		size_t j;

		if (!o->available || is_end(o->secondary, caller, callee) ||
		    (policy == RELAY_PRINCIPAL_ONLY && o->secondary))
			continue;
		/* Insertion, stable: equals keep the order they came in. */
		for (j = k; j > 0 && better(o, &options[rank[j - 1]], policy); j--)
			rank[j] = rank[j - 1];
		rank[j] = i;
		k++;
	}
	return k;
}

/* ---- the designated relays ---- */

struct designated_relay *relay_choice_find(struct relay_choice *c, const char *secondary)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->relays[i].secondary, secondary) == 0)
			return &c->relays[i];
	return NULL;
}

static void forget_relay_allocations(struct relay_choice *c, const char *secondary)
{
	struct designated_allocation **p = &c->allocations;

	while (*p) {
		struct designated_allocation *a = *p;

		if (strcmp(a->relay, secondary) == 0) {
			*p = a->next;
			free(a);
		} else {
			p = &a->next;
		}
	}
}

static void remove_relay(struct relay_choice *c, struct designated_relay *r)
{
	forget_relay_allocations(c, r->secondary);
	*r = c->relays[--c->n];
}

void relay_choice_announce(struct relay_choice *c, const char *secondary,
			   const struct pop_register_req *req)
{
	struct designated_relay *r = relay_choice_find(c, secondary);

	if (!req->has_relay) {
		if (r)
			remove_relay(c, r);
		return;
	}
	if (!r) {
		if (c->n == RELAY_CHOICE_MAX)
			return;
		r = &c->relays[c->n++];
		memset(r, 0, sizeof *r);
		snprintf(r->secondary, sizeof r->secondary, "%s", secondary);
	}
	r->ep = req->relay;
	r->has_tcp = req->has_relay_tcp;
	r->tcp = req->relay_tcp;
	r->online = true;
}

void relay_choice_offline(struct relay_choice *c, const char *secondary)
{
	struct designated_relay *r = relay_choice_find(c, secondary);

	if (!r)
		return;
	r->online = false;
	r->live = 0;
	r->has_stats = false;
	forget_relay_allocations(c, secondary);
}

int relay_choice_allocated(struct relay_choice *c, const char *relay, uint64_t id,
			   uint64_t call)
{
	struct designated_relay *r = relay_choice_find(c, relay);
	struct designated_allocation *a;

	if (!r)
		return -ENOENT;
	a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->id = id;
	a->call = call;
	snprintf(a->relay, sizeof a->relay, "%s", relay);
	a->next = c->allocations;
	c->allocations = a;
	r->live++;
	r->granted++;
	return 0;
}

bool relay_choice_forget(struct relay_choice *c, const char *relay, uint64_t id)
{
	for (struct designated_allocation **p = &c->allocations; *p; p = &(*p)->next) {
		struct designated_allocation *a = *p;
		struct designated_relay *r;

		if (a->id != id || strcmp(a->relay, relay) != 0)
			continue;
		*p = a->next;
		r = relay_choice_find(c, relay);
		if (r && r->live)
			r->live--;
		free(a);
		return true;
	}
	return false;
}

bool relay_choice_of_call(const struct relay_choice *c, uint64_t call, uint64_t *id,
			  char relay[PKI_NAME_MAX + 1])
{
	for (const struct designated_allocation *a = c->allocations; a; a = a->next)
		if (a->call == call) {
			*id = a->id;
			snprintf(relay, PKI_NAME_MAX + 1, "%s", a->relay);
			return true;
		}
	return false;
}

void relay_choice_free(struct relay_choice *c)
{
	while (c->allocations) {
		struct designated_allocation *a = c->allocations;

		c->allocations = a->next;
		free(a);
	}
	c->n = 0;
}
