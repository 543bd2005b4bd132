/* The source-routing rules of host-to-host network calls (docs/tun.md, "Routing"), from
 * the secondary's side. An auxiliary adds its call's rules "from LOCAL to REMOTE lookup
 * TABLE" while it is still privileged, but cannot take them back once it has dropped its
 * privileges; and the kernel deletes a call's routes with its interface, not the rules
 * that point at its table. So the secondary, which keeps CAP_NET_ADMIN, removes them:
 * a call's when its auxiliary has exited, however it ended (supervise.c), and at
 * start-up whatever an earlier run left behind when it crashed. insel's rules are the
 * ones marked with NL_RULE_PROTOCOL. */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "netlink.h"
#include "secondary.h"

#define RULES_PER_LIST 1024  /* insel's rules of one family listed at once */
#define RULES_MAX_ROUNDS 16  /* lists per family, should there be more than that */

/* Whether rule is one to remove; table is the purge's argument. */
typedef bool (*rule_doomed_fn)(const struct nl_rule *rule, uint32_t table);

static bool of_table(const struct nl_rule *rule, uint32_t table)
{
	return rule->table == table;
}

/* The call's interface is gone, and its routes with it: the rule leads nowhere. */
static bool interface_gone(const struct nl_rule *rule, uint32_t table)
{
	char name[IF_NAMESIZE];
	int ifindex = nl_call_table_ifindex(rule->table);

	return ifindex == 0 || !if_indextoname((unsigned)ifindex, name);
}

static bool every_rule(const struct nl_rule *rule, uint32_t table)
{
	return true;
}

/* Deletes the rules of insel of one family that doomed selects; returns how many. A rule
 * already gone (another path removed it) counts as removed. */
static size_t purge_family(int family, rule_doomed_fn doomed, uint32_t table)
{
	static struct nl_rule list[RULES_PER_LIST];
	size_t removed = 0;

	for (int round = 0; round < RULES_MAX_ROUNDS; round++) {
		size_t n, gone = 0;
		int rc = nl_rule_list(family, NL_RULE_PROTOCOL, list, RULES_PER_LIST, &n);

		if (rc && rc != -ENOBUFS) {
			log_warn("cannot list the routing rules: %s", strerror(-rc));
			break;
		}
		for (size_t i = 0; i < n; i++) {
			int del;

			if (!doomed(&list[i], table))
				continue;
			del = nl_rule_del(&list[i]);
			if (del == 0 || del == -ENOENT)
				gone++;
			else
				log_warn("cannot remove the routing rule to table %u: %s",
					 (unsigned)list[i].table, strerror(-del));
		}
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

void rules_release(uint32_t table)
{
	size_t n = table ? purge(of_table, table) : purge(interface_gone, 0);

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
