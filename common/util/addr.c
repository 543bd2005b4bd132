/* Address, prefix and endpoint utilities (see addr.h). */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

unsigned ip_family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static size_t family_bytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

int ip_addr_parse(const char *text, struct ip_addr *out)
{
	memset(out, 0, sizeof *out);
	if (!text)
		return INSEL_E_BAD_ADDR;
	if (inet_pton(AF_INET, text, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return INSEL_E_BAD_ADDR;
}

char *ip_addr_format(const struct ip_addr *a, char *out, size_t outlen)
{
	if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->bytes, out,
		       (socklen_t)outlen))
		snprintf(out, outlen, "?");
	return out;
}

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, family_bytes(a->family)) == 0;
}

bool ip_endpoint_equal(const struct ip_endpoint *a, const struct ip_endpoint *b)
{
	return a->port == b->port && ip_addr_equal(&a->addr, &b->addr);
}

unsigned ip_addr_bit(const struct ip_addr *a, unsigned i)
{
	return (a->bytes[i / 8] >> (7 - i % 8)) & 1u;
}

/* Clears (or, with set, sets) every bit from position len on. */
static void fill_host_bits(struct ip_addr *a, unsigned len, bool set)
{
	size_t nbytes = family_bytes(a->family);

	for (size_t i = 0; i < nbytes; i++) {
		unsigned first_bit = (unsigned)i * 8;
		uint8_t host_mask;

		if (first_bit + 8 <= len)
			continue;
		host_mask = first_bit >= len ? 0xff : (uint8_t)(0xff >> (len - first_bit));
		if (set)
			a->bytes[i] |= host_mask;
		else
			a->bytes[i] &= (uint8_t)~host_mask;
	}
}

static int parse_prefix_len(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (!*s || strlen(s) > 3)
		return INSEL_E_BAD_PREFIX;
	if (s[0] == '0' && s[1])
		return INSEL_E_BAD_PREFIX;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return INSEL_E_BAD_PREFIX;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max)
		return INSEL_E_BAD_PREFIX;
	*out = v;
	return 0;
}

int ip_prefix_parse(const char *text, bool strict, struct ip_prefix *out)
{
	char addr[IP_STRLEN];
	const char *slash;
	struct ip_addr masked;
	size_t alen;

	memset(out, 0, sizeof *out);
	if (!text)
		return INSEL_E_BAD_PREFIX;
	slash = strchr(text, '/');
	alen = slash ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= sizeof addr)
		return INSEL_E_BAD_PREFIX;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	if (ip_addr_parse(addr, &out->addr))
		return INSEL_E_BAD_PREFIX;
	out->len = ip_family_bits(out->addr.family);
	if (slash && parse_prefix_len(slash + 1, out->len, &out->len))
		return INSEL_E_BAD_PREFIX;
	masked = out->addr;
	fill_host_bits(&masked, out->len, false);
	if (strict && !ip_addr_equal(&masked, &out->addr))
		return INSEL_E_HOST_BITS;
	out->addr = masked;
	return 0;
}

char *ip_prefix_format(const struct ip_prefix *p, char *out, size_t outlen)
{
	char a[IP_STRLEN];

	snprintf(out, outlen, "%s/%u", ip_addr_format(&p->addr, a, sizeof a), p->len);
	return out;
}

/* Whether the first len bits of a and b agree. */
static bool same_leading_bits(const struct ip_addr *a, const struct ip_addr *b, unsigned len)
{
	unsigned whole = len / 8, rest = len % 8;

	if (memcmp(a->bytes, b->bytes, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a->bytes[whole] ^ b->bytes[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_addr *a)
{
	return p->addr.family == a->family && same_leading_bits(&p->addr, a, p->len);
}

bool ip_prefix_covers(const struct ip_prefix *outer, const struct ip_prefix *inner)
{
	return outer->addr.family == inner->addr.family && outer->len <= inner->len &&
	       same_leading_bits(&outer->addr, &inner->addr, outer->len);
}

bool ip_prefix_overlap(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return ip_prefix_covers(a, b) || ip_prefix_covers(b, a);
}

long ip_prefix_longest_match(const struct ip_prefix *list, size_t n, const struct ip_addr *a)
{
	long best = -1;

	for (size_t i = 0; i < n; i++)
		if (ip_prefix_contains(&list[i], a) &&
		    (best < 0 || list[i].len > list[best].len))
			best = (long)i;
	return best;
}

int ip_endpoint_parse(const char *text, struct ip_endpoint *out)
{
	char host[IP_STRLEN];
	const char *port_text, *host_start = text;
	size_t hlen;
	char *end;
	unsigned long port;

	memset(out, 0, sizeof *out);
	if (!text)
		return INSEL_E_BAD_ADDR;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return INSEL_E_BAD_ADDR;
		host_start = text + 1;
		hlen = (size_t)(close - host_start);
		port_text = close + 2;
	} else {
		const char *colon = strrchr(text, ':');

		if (!colon || memchr(text, ':', (size_t)(colon - text)))
			return INSEL_E_BAD_ADDR;  /* bare IPv6 needs brackets */
		hlen = (size_t)(colon - text);
		port_text = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof host || !*port_text || *port_text == '+' ||
	    *port_text == '-')
		return INSEL_E_BAD_ADDR;
	memcpy(host, host_start, hlen);
	host[hlen] = '\0';
	if (ip_addr_parse(host, &out->addr))
		return INSEL_E_BAD_ADDR;
	if (text[0] == '[' && out->addr.family != AF_INET6)
		return INSEL_E_BAD_ADDR;
	errno = 0;
	port = strtoul(port_text, &end, 10);
	if (errno || *end || port > 65535)
		return INSEL_E_BAD_ADDR;
	out->port = (uint16_t)port;
	return 0;
}

char *ip_endpoint_format(const struct ip_endpoint *e, char *out, size_t outlen)
{
	char a[IP_STRLEN];

	ip_addr_format(&e->addr, a, sizeof a);
	if (e->addr.family == AF_INET6)
		snprintf(out, outlen, "[%s]:%u", a, e->port);
	else
		snprintf(out, outlen, "%s:%u", a, e->port);
	return out;
}

socklen_t ip_endpoint_to_sockaddr(const struct ip_endpoint *e, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (e->addr.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(e->port);
		memcpy(&sin->sin_addr, e->addr.bytes, 4);
		return sizeof *sin;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(e->port);
	memcpy(&sin6->sin6_addr, e->addr.bytes, 16);
	return sizeof *sin6;
}

int ip_endpoint_from_sockaddr(const struct sockaddr *sa, struct ip_endpoint *out)
{
	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		out->addr.family = AF_INET;
		memcpy(out->addr.bytes, &sin->sin_addr, 4);
		out->port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		out->addr.family = AF_INET6;
		memcpy(out->addr.bytes, &sin6->sin6_addr, 16);
		out->port = ntohs(sin6->sin6_port);
		return 0;
	}
	return INSEL_E_BAD_ADDR;
}

/* Adds delta (+1 or -1) to the address as a big-endian integer. */
static void addr_step(struct ip_addr *a, int delta)
{
	for (size_t i = family_bytes(a->family); i-- > 0;) {
		uint8_t before = a->bytes[i];

		a->bytes[i] = (uint8_t)(before + delta);
		if ((delta > 0 && before != 0xff) || (delta < 0 && before != 0x00))
			break;
	}
}

void ip_prefix_plan(const struct ip_prefix *p, struct ip_plan *out)
{
	unsigned bits = ip_family_bits(p->addr.family);
	unsigned host_bits = bits - p->len;
	struct ip_addr top = p->addr;

	memset(out, 0, sizeof *out);
	fill_host_bits(&top, p->len, true);
	out->network = p->addr;
	out->first = p->addr;
	out->last = top;
	out->has_broadcast = p->addr.family == AF_INET && host_bits >= 2;
	if (out->has_broadcast) {
		out->broadcast = top;
		addr_step(&out->first, +1);
		addr_step(&out->last, -1);
	}
	out->gateway = out->first;
	if (host_bits >= 64)
		out->host_count = UINT64_MAX;
	else
		out->host_count = ((uint64_t)1 << host_bits) - (out->has_broadcast ? 2 : 0);
}

/* ---- longest-prefix-match trie ---- */

struct lpm_node {
	struct lpm_node *child[2];
	void *value;
	bool has_value;
};

void lpm_init(struct lpm_table *t)
{
	memset(t, 0, sizeof *t);
}

static struct lpm_node **family_root(struct lpm_table *t, int family)
{
	return &t->root[family == AF_INET ? 0 : 1];
}

int lpm_insert(struct lpm_table *t, const struct ip_prefix *p, void *value)
{
	struct lpm_node **slot = family_root(t, p->addr.family);

	for (unsigned depth = 0;; depth++) {
		if (!*slot) {
			*slot = calloc(1, sizeof **slot);
			if (!*slot)
				return -ENOMEM;
		}
		if (depth == p->len)
			break;
		slot = &(*slot)->child[ip_addr_bit(&p->addr, depth)];
	}
	if (!(*slot)->has_value)
		t->count++;
	(*slot)->value = value;
	(*slot)->has_value = true;
	return 0;
}

/* Removes p below node; frees nodes left empty. Returns whether node itself was freed. */
static bool remove_below(struct lpm_node **node, const struct ip_prefix *p, unsigned depth,
			 void **removed, bool *found)
{
	struct lpm_node *n = *node;

	if (!n)
		return false;
	if (depth == p->len) {
		if (n->has_value) {
			*removed = n->value;
			*found = true;
			n->value = NULL;
			n->has_value = false;
		}
	} else {
		remove_below(&n->child[ip_addr_bit(&p->addr, depth)], p, depth + 1, removed, found);
	}
	if (!n->has_value && !n->child[0] && !n->child[1]) {
		free(n);
		*node = NULL;
		return true;
	}
	return false;
}

void *lpm_remove(struct lpm_table *t, const struct ip_prefix *p)
{
	void *removed = NULL;
	bool found = false;

	remove_below(family_root(t, p->addr.family), p, 0, &removed, &found);
	if (found)
		t->count--;
	return removed;
}

void *lpm_lookup(const struct lpm_table *t, const struct ip_addr *a, unsigned *len)
{
	const struct lpm_node *n = t->root[a->family == AF_INET ? 0 : 1];
	unsigned bits = ip_family_bits(a->family);
	void *best = NULL;

	for (unsigned depth = 0; n; depth++) {
		if (n->has_value) {
			best = n->value;
			if (len)
				*len = depth;
		}
		if (depth == bits)
			break;
		n = n->child[ip_addr_bit(a, depth)];
	}
	return best;
}

static void free_nodes(struct lpm_node *n)
{
	if (!n)
		return;
	free_nodes(n->child[0]);
	free_nodes(n->child[1]);
	free(n);
}

void lpm_free(struct lpm_table *t)
{
	free_nodes(t->root[0]);
	free_nodes(t->root[1]);
	lpm_init(t);
}
