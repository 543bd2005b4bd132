/* The source-routing rules of host-to-host network calls (docs/tun.md, "Routing"), from
 * the secondary's side. An auxiliary adds its call's rules ("from LOCAL to REMOTE lookup
 * TABLE", and for the gateway's own packets "to REMOTE iif lo lookup TABLE" and "to
 * REMOTE iif lo lookup main suppress_prefixlength 0") while it is still privileged, but
 * cannot take them back once it has dropped its privileges; and the kernel deletes a
 * call's routes with its interface, not the rules that point at its table. So the
 * secondary, which keeps CAP_NET_ADMIN, removes them: a call's when its auxiliary has
 * exited, however it ended (supervise.c), and at start-up whatever an earlier run left
 * behind when it crashed. insel's rules are the ones marked with NL_RULE_PROTOCOL.
 *
 * The main-table rule is the same for every host call to REMOTE, and each call's
 * auxiliary adds a copy of its own (so that taking its rules back after a failed set-up
 * never takes another call's). Nothing says which copy is whose, so they are counted
 * rather than traced: after a call's rules have gone, the copies to each REMOTE are cut
 * back to as many as there are calls' rules "to REMOTE iif lo lookup TABLE" left
 * (trim_own_main). That removes the last copy with the last call to REMOTE, never one
 * that another call to it still needs, and also a copy whose auxiliary died before it
 * added its own rule to REMOTE. An auxiliary adds its table's rule before its copy of
 * the main one (auxiliary/tun_setup.c), so a set-up going on during the count may be
 * counted without its copy (one copy too many is kept, until the next count) but never
 * its copy without it (which would have one too many removed). */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "netlink.h"
#include "secondary.h"

#define RULES_PER_LIST 1024  /* insel's rules of one family listed at once */
#define RULES_MAX_ROUNDS 16  /* lists per family, should there be more than that */

static struct nl_rule rule_list[RULES_PER_LIST];  /* one listing at a time */

/* Whether rule is one to remove; table is the purge's argument. */
typedef bool (*rule_doomed_fn)(const struct nl_rule *rule, uint32_t table);

static bool of_table(const struct nl_rule *rule, uint32_t table)
{
	return rule->table == table;
}

/* The call's interface is gone, and its routes with it: the rule leads nowhere. (The
 * main table's rules go by count, trim_own_main.) */
static bool interface_gone(const struct nl_rule *rule, uint32_t table)
{
	char name[IF_NAMESIZE];
	int ifindex = nl_call_table_ifindex(rule->table);

	if (rule->table == RT_TABLE_MAIN)
		return false;
	return ifindex == 0 || !if_indextoname((unsigned)ifindex, name);
}

static bool every_rule(const struct nl_rule *rule, uint32_t table)
{
	return true;
}

/* 1 if the rule is gone (also when another path removed it first), 0 if it stays. */
static size_t delete_rule(const struct nl_rule *rule)
{
	int del = nl_rule_del(rule);

	if (del == 0 || del == -ENOENT)
		return 1;
	log_warn("cannot remove the routing rule to table %u: %s", (unsigned)rule->table,
		 strerror(-del));
	return 0;
}

/* Deletes the rules of insel of one family that doomed selects; returns how many. */
static size_t purge_family(int family, rule_doomed_fn doomed, uint32_t table)
{
	struct nl_rule *list = rule_list;
	size_t removed = 0;

	for (int round = 0; round < RULES_MAX_ROUNDS; round++) {
		size_t n, gone = 0;
		int rc = nl_rule_list(family, NL_RULE_PROTOCOL, list, RULES_PER_LIST, &n);

		if (rc && rc != -ENOBUFS) {
			log_warn("cannot list the routing rules: %s", strerror(-rc));
			break;
		}
		for (size_t i = 0; i < n; i++)
			if (doomed(&list[i], table))
				gone += delete_rule(&list[i]);
		removed += gone;
		/* Only a full list that shrank can hide more rules worth another look. */
		if (rc != -ENOBUFS || gone == 0)
			break;
	}
	return removed;
}

static size_t purge(rule_doomed_fn doomed, uint32_t table)
{
	return purge_family(AF_INET, doomed, table) + purge_family(AF_INET6, doomed, table);
}

static bool same_prefix(const struct ip_prefix *a, const struct ip_prefix *b)
{
	return a->len == b->len && ip_addr_equal(&a->addr, &b->addr);
}

/* A call's rule for the gateway's own packets to its remote prefix. */
static bool own_call_rule(const struct nl_rule *rule)
{
	return rule->iif[0] && nl_call_table_ifindex(rule->table) != 0;
}

/* Cuts the copies of "to REMOTE iif lo lookup main suppress_prefixlength 0" of one family
 * back to one per call rule to REMOTE left (see the top of the file); returns how many
 * went. Without the whole list (more rules than one listing holds) it removes none. */
static size_t trim_own_main_family(int family)
{
	struct nl_rule *list = rule_list;
	size_t n, removed = 0;
	int rc = nl_rule_list(family, NL_RULE_PROTOCOL, list, RULES_PER_LIST, &n);

	if (rc) {
		log_warn("cannot list the routing rules: %s", strerror(-rc));
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t needed = 0, before = 0;

		if (list[i].table != RT_TABLE_MAIN)
			continue;
		for (size_t j = 0; j < n; j++) {
			if (own_call_rule(&list[j]) && same_prefix(&list[j].dst, &list[i].dst))
				needed++;
			else if (j < i && list[j].table == RT_TABLE_MAIN &&
				 same_prefix(&list[j].dst, &list[i].dst))
				before++;  /* copies ahead of this one */
		}
		if (before >= needed)
			removed += delete_rule(&list[i]);
	}
	return removed;
}

static size_t trim_own_main(void)
{
	return trim_own_main_family(AF_INET) + trim_own_main_family(AF_INET6);
}

void rules_release(uint32_t table)
{
	size_t n = table ? purge(of_table, table) : purge(interface_gone, 0);

	n += trim_own_main();
	if (table)
		log_debug("table %u: %zu routing rule(s) removed", (unsigned)table, n);
	else if (n)
		log_info("%zu routing rule(s) of ended network calls removed", n);
}

void rules_sweep_leftovers(void)
{
	size_t n = purge(every_rule, 0);

	if (n)
		log_info("%zu routing rule(s) left by an earlier run removed", n);
}
