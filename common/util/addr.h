/* IPv4/IPv6 addresses, CIDR prefixes, endpoints, longest-prefix match and network planning.
 * An IPv4 address is stored in the first 4 bytes of ip_addr.bytes; family says which. */
#ifndef INSEL_ADDR_H
#define INSEL_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr_types.h"

struct ip_prefix {
	struct ip_addr addr;  /* the network address: bits past len are zero */
	unsigned len;
};

/* Maximum prefix length of the family: 32 or 128. */
unsigned ip_family_bits(int family);

int ip_addr_parse(const char *text, struct ip_addr *out);
/* Writes the canonical text form (RFC 5952 for IPv6); returns out. */
char *ip_addr_format(const struct ip_addr *a, char *out, size_t outlen);
bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b);
/* Bit i (0 = most significant) of the address. */
unsigned ip_addr_bit(const struct ip_addr *a, unsigned i);

/* "ADDR/LEN"; a bare address means a host prefix (/32 or /128). With strict, host bits
 * set past LEN are an error (INSEL_E_HOST_BITS); without, they are cleared. */
int ip_prefix_parse(const char *text, bool strict, struct ip_prefix *out);
char *ip_prefix_format(const struct ip_prefix *p, char *out, size_t outlen);
bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_addr *a);
/* Whether every address of inner lies in outer. */
bool ip_prefix_covers(const struct ip_prefix *outer, const struct ip_prefix *inner);
bool ip_prefix_overlap(const struct ip_prefix *a, const struct ip_prefix *b);
/* Index of the longest prefix in list containing a, or -1. */
long ip_prefix_longest_match(const struct ip_prefix *list, size_t n, const struct ip_addr *a);

/* "1.2.3.4:80", "[2001:db8::1]:80". */
int ip_endpoint_parse(const char *text, struct ip_endpoint *out);
char *ip_endpoint_format(const struct ip_endpoint *e, char *out, size_t outlen);
bool ip_endpoint_equal(const struct ip_endpoint *a, const struct ip_endpoint *b);
socklen_t ip_endpoint_to_sockaddr(const struct ip_endpoint *e, struct sockaddr_storage *ss);
int ip_endpoint_from_sockaddr(const struct sockaddr *sa, struct ip_endpoint *out);

/* Network planning as the ETCP routers did it: for a prefix, its network address, the
 * gateway (first usable host), first and last host, broadcast (IPv4 only) and the number
 * of usable hosts, saturated at UINT64_MAX. /31 and /32 (RFC 3021) and IPv6 have no
 * broadcast and every address is usable; the gateway is then the first address. */
struct ip_plan {
	struct ip_addr network;
	struct ip_addr gateway;
	struct ip_addr first;
	struct ip_addr last;
	struct ip_addr broadcast;
	bool has_broadcast;
	uint64_t host_count;
};
void ip_prefix_plan(const struct ip_prefix *p, struct ip_plan *out);

/* A binary trie for longest-prefix match over many prefixes of both families.
 * Values are the caller's; the trie never frees them. */
struct lpm_node;
struct lpm_table {
	struct lpm_node *root[2];  /* IPv4, IPv6 */
	size_t count;
};
void lpm_init(struct lpm_table *t);
/* Inserts or replaces; returns 0, or -ENOMEM. */
int lpm_insert(struct lpm_table *t, const struct ip_prefix *p, void *value);
/* Removes an exact prefix; returns its value or NULL. */
void *lpm_remove(struct lpm_table *t, const struct ip_prefix *p);
/* Value of the longest prefix containing a (and its length in *len if non-NULL), or NULL. */
void *lpm_lookup(const struct lpm_table *t, const struct ip_addr *a, unsigned *len);
void lpm_free(struct lpm_table *t);

#endif
