/* Unit tests for the principal's directory (principal/db*.c) on a temporary SQLite file:
 * migrations and refusal of a newer schema, LANs and overlap refusal naming the clash,
 * registration, heartbeats and down-marking, hosts inside their LAN, users, look-ups by
 * user@lan, host name and address (longest-prefix match), call records, revocations,
 * and that a failed write leaves nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "db_clock.h"
#include "db_mail.h"
#include "db_fixture.h"
#include "err.h"
#include "passwd.h"
#include "schema.h"

#define NOW 1700000000

static int setup(void **state)
{
	struct fixture *f = fixture_new("db");

	*state = f;
	return 0;
}

static struct ip_addr addr(const char *text)
{
	struct ip_addr a;

	assert_int_equal(ip_addr_parse(text, &a), 0);
	return a;
}

/* What the operator does before a secondary may register: add it, and add its LAN bound
 * to it (either may exist already). */
static void bind_lan(struct db *db, const char *sec, const char *lan, const char *prefix,
		     int64_t now)
{
	struct ip_prefix p = pfx(prefix);
	int rc = db_secondary_add(db, sec, NULL, now);

	assert_true(rc == 0 || rc == INSEL_E_EXISTS);
	rc = db_lan_add(db, lan, &p, 1, sec, now);
	assert_true(rc == 0 || rc == INSEL_E_EXISTS);
}

static void register_lan(struct db *db, const char *sec, const char *lan, const char *prefix,
			 const char *endpoint, int64_t now)
{
	struct ip_prefix p = pfx(prefix);
	struct db_registration r = {sec, "aa", "01", lan, &p, 1, endpoint, -1, false};

	bind_lan(db, sec, lan, prefix, now);
	assert_int_equal(db_register(db, &r, now), 0);
}

/* A LAN with two gateways (docs/standby.md): a standby registration changes nothing, an
 * active one moves the LAN to its gateway; a secondary of no standing moves nothing. */
static void standby_gateways(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix p = pfx("10.2.0.0/24");
	struct db_registration r1 = {"b1", "b1", "0b1", "lan-b", &p, 1, "198.18.2.2:7445", -1,
				     false};
	struct db_registration r2 = {"b2", "b2", "0b2", "lan-b", &p, 1, "198.18.3.2:7445", -1,
				     true};
	struct pop_serving serving;
	json_t *sec;

	assert_int_equal(db_lan_add(f->db, "lan-b", &p, 1, NULL, NOW), 0);
	assert_int_equal(db_secondary_add(f->db, "b1", NULL, NOW), 0);
	assert_int_equal(db_secondary_add(f->db, "b2", NULL, NOW), 0);
	assert_int_equal(db_secondary_add(f->db, "b3", NULL, NOW), 0);
	assert_int_equal(db_secondary_set_gateway(f->db, "b1", "lan-b", 200), 0);
	assert_int_equal(db_secondary_set_gateway(f->db, "b2", "lan-b", 100), 0);
	assert_int_equal(db_secondary_set_gateway(f->db, "b2", "lan-b", 0), INSEL_E_BAD_FIELD);
	assert_int_equal(db_secondary_set_gateway(f->db, "b2", "lan-x", 9), INSEL_E_NOT_FOUND);
	/* b2 stands by first: nobody serves the LAN yet. */
	assert_int_equal(db_register(f->db, &r2, NOW), 0);
	assert_int_equal(db_lan_serving(f->db, "lan-b", NOW, &serving), INSEL_E_UNAVAILABLE);
	/* b1 registers as active: look-ups name it. */
	assert_int_equal(db_register(f->db, &r1, NOW), 0);
	assert_int_equal(db_lan_serving(f->db, "lan-b", NOW, &serving), 0);
	assert_string_equal(serving.secondary, "b1");
	assert_string_equal(serving.endpoint, "198.18.2.2:7445");
	assert_true(db_secondary_serves(f->db, "b1", "lan-b"));
	assert_int_equal(db_secondary_show(f->db, "b2", NOW, &sec), 0);
	assert_string_equal(json_string_value(json_object_get(sec, "role")), "standby");
	assert_int_equal(json_integer_value(json_object_get(sec, "priority")), 100);
	json_decref(sec);
	/* b1 dies; b2 takes the address over and registers as active. */
	r2.standby = false;
	assert_int_equal(db_register(f->db, &r2, NOW + 1), 0);
	assert_int_equal(db_lan_serving(f->db, "lan-b", NOW + 1, &serving), 0);
	assert_string_equal(serving.secondary, "b2");
	assert_string_equal(serving.endpoint, "198.18.3.2:7445");
	assert_false(db_secondary_serves(f->db, "b1", "lan-b"));
	assert_int_equal(db_secondary_show(f->db, "b1", NOW, &sec), 0);
	assert_string_equal(json_string_value(json_object_get(sec, "role")), "standby");
	json_decref(sec);
	/* b1 comes back as a standby: b2 stays active. */
	r1.standby = true;
	assert_int_equal(db_register(f->db, &r1, NOW + 2), 0);
	assert_int_equal(db_lan_serving(f->db, "lan-b", NOW + 2, &serving), 0);
	assert_string_equal(serving.secondary, "b2");
	/* A secondary that is not one of the LAN's gateways takes nothing. */
	r1.secondary = "b3";
	r1.standby = false;
	assert_int_equal(db_register(f->db, &r1, NOW + 3), INSEL_E_FORBIDDEN);
	assert_int_equal(db_lan_serving(f->db, "lan-b", NOW + 3, &serving), 0);
	assert_string_equal(serving.secondary, "b2");
}

static void schema_is_current(void **state)
{
	struct fixture *f = *state;
	char err[256];
	struct db *again;

	assert_int_equal(db_schema_version(f->db), db_schema_latest());
	/* Re-opening an up-to-date database changes nothing. */
	assert_int_equal(db_open(f->path, &again, err, sizeof err), 0);
	assert_int_equal(db_schema_version(again), db_schema_latest());
	db_close(again);
}

static void newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct db *again;
	char err[256];

	db_scratch_exec(f->path, db_scratch_pg() ? "UPDATE insel_schema SET version = 999"
			: "PRAGMA user_version = 999");
	assert_int_equal(db_open(f->path, &again, err, sizeof err), INSEL_E_VERSION);
	assert_null(again);
	assert_non_null(strstr(err, "newer"));
}

static void lan_overlap_refused_and_named(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix a[] = {pfx("10.1.0.0/16"), pfx("2001:db8:1::/48")};
	struct ip_prefix b = pfx("10.1.2.0/24"), c = pfx("10.0.0.0/8"), d = pfx("10.2.0.0/16");
	json_t *lans;

	assert_int_equal(db_lan_add(f->db, "lan-a", a, 2, NULL, NOW), 0);
	assert_int_equal(db_lan_add(f->db, "lan-b", &b, 1, NULL, NOW), INSEL_E_CONFLICT);
	assert_non_null(strstr(db_errmsg(f->db), "10.1.0.0/16 of LAN lan-a"));
	assert_int_equal(db_lan_add(f->db, "lan-c", &c, 1, NULL, NOW), INSEL_E_CONFLICT);
	assert_int_equal(db_lan_add(f->db, "lan-a", &d, 1, NULL, NOW), INSEL_E_EXISTS);
	assert_int_equal(db_lan_add(f->db, "Bad Name", &d, 1, NULL, NOW), INSEL_E_BAD_FIELD);
	assert_int_equal(db_lan_add(f->db, "lan-d", &d, 1, "nobody", NOW), INSEL_E_NOT_FOUND);
	/* None of the refused LANs left a row behind. */
	assert_int_equal(db_lan_list(f->db, NOW, &lans), 0);
	assert_int_equal(json_array_size(lans), 1);
	assert_int_equal(json_array_size(json_object_get(json_array_get(lans, 0), "prefixes")),
			 2);
	json_decref(lans);
	assert_int_equal(db_lan_add(f->db, "lan-d", &d, 1, NULL, NOW), 0);
	assert_int_equal(db_lan_remove(f->db, "lan-d"), 0);
	assert_int_equal(db_lan_remove(f->db, "lan-d"), INSEL_E_NOT_FOUND);
}

/* Overlapping prefixes (010_overlap.sql, docs/overlap.md): refused unless allowed and
 * both LANs have a mapped prefix; the mapped prefix unique and clear of real prefixes;
 * hosts of both LANs on one address; a look-up by a mapped address names one LAN and the
 * real address, one by a shared real address is ambiguous, one by host name is not. */
static void lan_overlap_with_mapped_prefixes(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix p = pfx("192.168.1.0/24"), m1 = pfx("10.99.1.0/24");
	struct ip_prefix m2 = pfx("10.99.2.0/24"), chosen;
	struct db_lan_overlap allow = {true, &m2, &chosen}, taken = {true, &m1, NULL};
	struct db_lan_overlap assign = {true, NULL, &chosen};
	struct pop_lookup_reply r;
	struct ip_addr a;
	char text[IP_STRLEN];

	assert_int_equal(db_lan_add(f->db, "lan-a", &p, 1, NULL, NOW), 0);
	/* lan-a has no mapped prefix yet: refused, naming it. */
	assert_int_equal(db_lan_add_overlap(f->db, "lan-b", &p, 1, NULL, &allow, NOW),
			 INSEL_E_CONFLICT);
	assert_non_null(strstr(db_errmsg(f->db), "of LAN lan-a, which has no mapped prefix"));
	assert_int_equal(db_lan_map(f->db, "lan-a", &m1), 0);
	/* Without --allow-overlap the mapped prefix alone does not allow it. */
	assert_int_equal(db_lan_add(f->db, "lan-b", &p, 1, NULL, NOW), INSEL_E_CONFLICT);
	assert_int_equal(db_lan_add_overlap(f->db, "lan-b", &p, 1, NULL, &taken, NOW),
			 INSEL_E_CONFLICT);
	assert_non_null(strstr(db_errmsg(f->db), "10.99.1.0/24 is taken by LAN lan-a"));
	assert_int_equal(db_lan_add_overlap(f->db, "lan-b", &p, 1, NULL, &allow, NOW), 0);
	assert_string_equal(ip_prefix_format(&chosen, text, sizeof text), "10.99.2.0/24");
	assert_int_equal(db_lan_add_overlap(f->db, "lan-c", &p, 1, NULL, &assign, NOW), 0);
	assert_string_equal(ip_prefix_format(&chosen, text, sizeof text), "10.99.0.0/24");

	assert_int_equal(ip_addr_parse("192.168.1.7", &a), 0);
	assert_int_equal(db_host_add(f->db, "a7", "lan-a", &a, NOW), 0);
	assert_int_equal(db_host_add(f->db, "b7", "lan-b", &a, NOW), 0);

	/* No secondary serves them: the look-up fills the LAN, then says so. */
	assert_int_equal(db_lookup_find(f->db, "10.99.2.7", NOW, &r), INSEL_E_UNAVAILABLE);
	assert_string_equal(r.lan, "lan-b");
	assert_string_equal(r.host, "b7");
	assert_string_equal(ip_addr_format(&r.address, text, sizeof text), "192.168.1.7");
	assert_true(r.has_mapped_address);
	assert_string_equal(r.mapped_prefix, "10.99.2.0/24");
	assert_int_equal(db_lookup_find(f->db, "a7", NOW, &r), INSEL_E_UNAVAILABLE);
	assert_string_equal(r.lan, "lan-a");
	assert_string_equal(ip_addr_format(&r.mapped_address, text, sizeof text), "10.99.1.7");
	assert_int_equal(db_lookup_find(f->db, "192.168.1.7", NOW, &r), INSEL_E_CONFLICT);
	assert_non_null(strstr(db_errmsg(f->db), "192.168.1.7 is ambiguous"));
	assert_non_null(strstr(db_errmsg(f->db), "lan-b (192.168.1.0/24, mapped: 10.99.2.7)"));
}

/* Whether a secondary can be dialled: unknown until checked, the check's answer kept only
 * for the endpoint it dialled, a declaration kept over any check; listed and looked up. */
static void reachability(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix p = pfx("10.1.0.0/24");
	struct db_registration r = {"gw-a", "aa", "01", "lan-a", &p, 1, "198.18.0.1:7443",
				    -1, false};
	struct pop_serving serving, reach;
	json_t *sec;

	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	assert_int_equal(db_secondary_reach(f->db, "gw-a", &reach), 0);
	assert_string_equal(reach.endpoint, "198.18.0.1:7443");
	assert_int_equal(reach.reachable, POP_REACH_UNKNOWN);
	assert_string_equal(reach.endpoint6, "");  /* one family */
	assert_int_equal(reach.reachable6, POP_REACH_UNKNOWN);
	/* A check of an endpoint no longer registered changes nothing. */
	assert_int_equal(db_set_reachable(f->db, "gw-a", "198.18.0.1:9", true), 0);
	assert_int_equal(db_lan_serving(f->db, "lan-a", NOW, &serving), 0);
	assert_int_equal(serving.reachable, POP_REACH_UNKNOWN);
	assert_int_equal(db_set_reachable(f->db, "gw-a", "198.18.0.1:7443", false), 0);
	assert_int_equal(db_lan_serving(f->db, "lan-a", NOW, &serving), 0);
	assert_int_equal(serving.reachable, POP_REACH_NO);
	assert_int_equal(db_secondary_show(f->db, "gw-a", NOW, &sec), 0);
	assert_true(json_is_false(json_object_get(sec, "reachable")));
	assert_string_equal(json_string_value(json_object_get(sec, "reachable_source")), "check");
	json_decref(sec);
	/* A dual-stack secondary's IPv6 endpoint is checked apart, and both answers
	 * reach the look-up (reachable6: a call over IPv6 decides on it). */
	assert_int_equal(db_set_endpoint6(f->db, "gw-a", "[2001:db8::1]:7443"), 0);
	assert_int_equal(db_lan_serving(f->db, "lan-a", NOW, &serving), 0);
	assert_int_equal(serving.reachable6, POP_REACH_UNKNOWN);
	assert_int_equal(db_set_reachable(f->db, "gw-a", "[2001:db8::1]:7443", true), 0);
	assert_int_equal(db_lan_serving(f->db, "lan-a", NOW, &serving), 0);
	assert_int_equal(serving.reachable, POP_REACH_NO);
	assert_int_equal(serving.reachable6, POP_REACH_YES);
	/* And the connect op's read of the caller (connect_choice.h) has both. */
	assert_int_equal(db_secondary_reach(f->db, "gw-a", &reach), 0);
	assert_int_equal(reach.reachable, POP_REACH_NO);
	assert_string_equal(reach.endpoint6, "[2001:db8::1]:7443");
	assert_int_equal(reach.reachable6, POP_REACH_YES);
	/* Declared: a check does not overrule the operator's word. */
	r.reachable = 1;
	assert_int_equal(db_register(f->db, &r, NOW), 0);
	assert_int_equal(db_set_reachable(f->db, "gw-a", "198.18.0.1:7443", false), 0);
	assert_int_equal(db_secondary_reach(f->db, "gw-a", &reach), 0);
	assert_int_equal(reach.reachable, POP_REACH_YES);
	assert_int_equal(db_secondary_show(f->db, "gw-a", NOW, &sec), 0);
	assert_string_equal(json_string_value(json_object_get(sec, "reachable_source")),
			    "declared");
	json_decref(sec);
	/* Registering for the check again forgets both. */
	r.reachable = -1;
	assert_int_equal(db_register(f->db, &r, NOW), 0);
	assert_int_equal(db_secondary_reach(f->db, "gw-a", &reach), 0);
	assert_int_equal(reach.reachable, POP_REACH_UNKNOWN);
	assert_int_equal(db_secondary_reach(f->db, "nobody", &reach), INSEL_E_NOT_FOUND);
}

static void registration_and_conflicts(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix p = pfx("10.1.0.0/24"), q = pfx("10.2.0.0/24");
	struct db_registration r = {"gw-b", "bb", "02", "lan-a", &p, 1, "198.18.0.2:7443",
				    -1, false};
	json_t *sec, *lan;

	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	/* A secondary the operator never added cannot register, nor appear. */
	assert_int_equal(db_register(f->db, &r, NOW), INSEL_E_FORBIDDEN);
	assert_non_null(strstr(db_errmsg(f->db), "gw-b is not in the directory"));
	assert_int_equal(db_secondary_show(f->db, "gw-b", NOW, &sec), INSEL_E_NOT_FOUND);
	/* Another secondary cannot take over a served LAN. */
	assert_int_equal(db_secondary_add(f->db, "gw-b", NULL, NOW), 0);
	assert_int_equal(db_register(f->db, &r, NOW), INSEL_E_FORBIDDEN);
	assert_non_null(strstr(db_errmsg(f->db), "served by secondary gw-a, not gw-b"));
	/* A registration cannot create a LAN. */
	r.lan = "lan-b";
	r.prefixes = &q;
	assert_int_equal(db_register(f->db, &r, NOW), INSEL_E_FORBIDDEN);
	assert_non_null(strstr(db_errmsg(f->db), "LAN lan-b is not in the directory"));
	assert_int_equal(db_lan_show(f->db, "lan-b", NOW, &lan), INSEL_E_NOT_FOUND);
	/* Nor claim a LAN the operator bound to nobody. */
	assert_int_equal(db_lan_add(f->db, "lan-b", &q, 1, NULL, NOW), 0);
	assert_int_equal(db_register(f->db, &r, NOW), INSEL_E_FORBIDDEN);
	assert_non_null(strstr(db_errmsg(f->db), "LAN lan-b is bound to no secondary"));
	/* Nor serve a second LAN: gw-a serves lan-a. */
	r.secondary = "gw-a";
	assert_int_equal(db_register(f->db, &r, NOW), INSEL_E_FORBIDDEN);
	assert_non_null(strstr(db_errmsg(f->db), "gw-a serves LAN lan-a and may not claim a "
					  "second LAN (lan-b)"));
	/* Bound by the operator, gw-b registers lan-b. */
	r.secondary = "gw-b";
	assert_int_equal(db_lan_set_secondary(f->db, "lan-b", "gw-b"), 0);
	assert_int_equal(db_register(f->db, &r, NOW), 0);
	assert_int_equal(db_secondary_show(f->db, "gw-a", NOW, &sec), 0);
	assert_string_equal(json_string_value(json_object_get(sec, "state")), "up");
	assert_string_equal(json_string_value(json_object_get(sec, "endpoint")),
			    "198.18.0.1:7443");
	json_decref(sec);
}

static void registration_may_narrow_never_widen(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix narrow = pfx("10.1.0.128/25"), wide = pfx("10.1.0.0/16");
	struct ip_prefix across[] = {pfx("10.1.0.0/24"), pfx("10.2.0.0/25")};
	struct ip_prefix outside = pfx("10.9.0.0/24"), two[] = {pfx("10.1.0.0/25"),
								pfx("2001:db8:1::/64")};
	struct ip_prefix v6 = pfx("2001:db8:1::/48");
	struct db_registration r = {"gw-a", "aa", "01", "lan-a", &narrow, 1, "198.18.0.1:7444",
				    -1, false};
	json_t *lan;

	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	bind_lan(f->db, "gw-b", "lan-b", "10.2.0.0/24", NOW);
	assert_int_equal(db_lan_add_prefix(f->db, "lan-a", &v6), 0);
	/* Narrowing is accepted; the directory keeps the operator's prefixes. */
	assert_int_equal(db_register(f->db, &r, NOW + 1), 0);
	r.prefixes = two;
	r.nprefixes = 2;
	assert_int_equal(db_register(f->db, &r, NOW + 1), 0);
	assert_int_equal(db_lan_show(f->db, "lan-a", NOW, &lan), 0);
	assert_int_equal(json_array_size(json_object_get(lan, "prefixes")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(lan, "prefixes"), 0)),
			    "10.1.0.0/24");
	assert_string_equal(json_string_value(json_object_get(lan, "endpoint")),
			    "198.18.0.1:7444");
	json_decref(lan);
	/* Widening, reaching into another LAN, or claiming unknown space is refused. */
	r.nprefixes = 1;
	r.prefixes = &wide;
	assert_int_equal(db_register(f->db, &r, NOW + 2), INSEL_E_FORBIDDEN);
	assert_non_null(strstr(db_errmsg(f->db), "prefix 10.1.0.0/16 is not inside a prefix of "
					  "LAN lan-a"));
	assert_non_null(strstr(db_errmsg(f->db), "never widen"));
	r.prefixes = across;
	r.nprefixes = 2;
	assert_int_equal(db_register(f->db, &r, NOW + 2), INSEL_E_FORBIDDEN);
	assert_non_null(strstr(db_errmsg(f->db), "prefix 10.2.0.0/25"));
	r.prefixes = &outside;
	r.nprefixes = 1;
	assert_int_equal(db_register(f->db, &r, NOW + 2), INSEL_E_FORBIDDEN);
	/* The refusals changed nothing: the endpoint is the accepted registration's. */
	assert_int_equal(db_lan_show(f->db, "lan-a", NOW, &lan), 0);
	assert_string_equal(json_string_value(json_object_get(lan, "endpoint")),
			    "198.18.0.1:7444");
	json_decref(lan);
}

static void pinned_fingerprint(void **state)
{
	struct fixture *f = *state;
	const char *fp = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct ip_prefix p = pfx("10.9.0.0/24");
	struct db_registration r = {"gw-p", "ff", "09", "lan-p", &p, 1, "198.18.0.9:7443",
				    -1, false};

	assert_int_equal(db_secondary_add(f->db, "gw-p", "nothex", NOW), INSEL_E_BAD_FIELD);
	assert_int_equal(db_secondary_add(f->db, "gw-p", fp, NOW), 0);
	assert_int_equal(db_secondary_add(f->db, "gw-p", NULL, NOW), INSEL_E_EXISTS);
	assert_int_equal(db_lan_add(f->db, "lan-p", &p, 1, "gw-p", NOW), 0);
	assert_int_equal(db_register(f->db, &r, NOW), INSEL_E_CONFLICT);
	assert_non_null(strstr(db_errmsg(f->db), "pinned"));
	r.fingerprint = fp;
	assert_int_equal(db_register(f->db, &r, NOW), 0);
}

static void heartbeat_and_down_marking(void **state)
{
	struct fixture *f = *state;
	json_t *res;

	db_set_down_after(f->db, 10);
	assert_int_equal(db_heartbeat(f->db, "gw-a", NOW), INSEL_E_NOT_FOUND);
	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	assert_int_equal(db_heartbeat(f->db, "gw-a", NOW + 5), 0);
	assert_int_equal(db_mark_down(f->db, NOW + 10), 0);
	assert_int_equal(db_lookup(f->db, "10.1.0.7", NOW + 10, &res), 0);
	assert_string_equal(json_string_value(json_object_get(res, "state")), "up");
	json_decref(res);
	/* Not while the principal's own stalls of that time are excused (stall_clock.h). */
	db_excuse_stalls(f->db, 2);
	assert_int_equal(db_lookup(f->db, "10.1.0.7", NOW + 16, &res), 0);
	assert_string_equal(json_string_value(json_object_get(res, "state")), "up");
	json_decref(res);
	assert_int_equal(db_mark_down(f->db, NOW + 17), 0);
	db_excuse_stalls(f->db, 0);
	/* Silent for longer than down_after: look-ups say so even before the sweep. */
	assert_int_equal(db_lookup(f->db, "10.1.0.7", NOW + 16, &res), 0);
	assert_string_equal(json_string_value(json_object_get(res, "state")), "down");
	json_decref(res);
	assert_int_equal(db_mark_down(f->db, NOW + 16), 1);
	assert_int_equal(db_mark_down(f->db, NOW + 17), 0);
	/* A heartbeat brings it back. */
	assert_int_equal(db_heartbeat(f->db, "gw-a", NOW + 20), 0);
	assert_int_equal(db_lookup(f->db, "10.1.0.7", NOW + 20, &res), 0);
	assert_string_equal(json_string_value(json_object_get(res, "state")), "up");
	json_decref(res);
}

static const char *state_at(struct db *db, int64_t now)
{
	static char text[16];
	json_t *res;

	assert_int_equal(db_lookup(db, "10.1.0.7", now, &res), 0);
	snprintf(text, sizeof text, "%s", json_string_value(json_object_get(res, "state")));
	json_decref(res);
	return text;
}

/* A reader of the directory (the operator's CLI) judges gateways as the serving principals
 * do (db_clock.h): with their down_after and their excused stalls, and without counting
 * silence since a principal that stopped running last ticked, which is what it will
 * conclude itself when it runs again. */
static void readers_judge_as_the_principals(void **state)
{
	struct fixture *f = *state;
	struct db_clock p = {"p-1", "198.18.0.2:7443", NOW + 1, 750, 3, 0};
	struct db_clock q = {"p-2", "198.18.9.2:7443", NOW + 64, 750, 3, 0};
	struct db_clock rows[4], two[2];
	size_t n;

	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	/* No principal's clock: the wall clock and the default 30 s, as before. */
	assert_int_equal(db_clock_read(f->db, rows, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(db_clock_choose(rows, n, NOW), -1);
	assert_string_equal(state_at(f->db, NOW + 29), "up");
	assert_string_equal(state_at(f->db, NOW + 60), "down");

	/* The principal ran until NOW + 1 and then stalled: at NOW + 60 gw-a has been silent
	 * for 1 s of its running time. */
	assert_int_equal(db_clock_record(f->db, &p), 0);
	assert_int_equal(db_clock_read(f->db, rows, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].run, "p-1");
	assert_string_equal(rows[0].listen, "198.18.0.2:7443");
	assert_int_equal(rows[0].period_ms, 750);
	assert_true(db_clock_running(&rows[0], NOW + 4));  /* two periods, a second's rounding */
	assert_false(db_clock_running(&rows[0], NOW + 5));
	assert_int_equal(db_clock_choose(rows, n, NOW + 60), 0);
	db_judge_as(f->db, &rows[0], NOW + 60);
	assert_string_equal(state_at(f->db, NOW + 60), "up");
	assert_string_equal(state_at(f->db, NOW + 3), "up");

	/* It runs again and excuses its stall until it has run 3 s: still up. */
	p.ticked_at = NOW + 60;
	p.excused = 59;
	assert_int_equal(db_clock_record(f->db, &p), 0);
	assert_int_equal(db_clock_read(f->db, rows, 4, &n), 0);
	db_judge_as(f->db, &rows[0], NOW + 61);
	assert_string_equal(state_at(f->db, NOW + 61), "up");
	/* Its allowance run off: down after its down_after (3 s), not the reader's 30 s. */
	p.ticked_at = NOW + 64;
	p.excused = 0;
	assert_int_equal(db_clock_record(f->db, &p), 0);
	assert_int_equal(db_clock_read(f->db, rows, 4, &n), 0);
	assert_int_equal(n, 1);
	db_judge_as(f->db, &rows[0], NOW + 64);
	assert_string_equal(state_at(f->db, NOW + 64), "down");

	/* Of two principals the latest cut-off judges: a running one marks a stalled one's
	 * silent gateways down (docs/principals.md). */
	two[0] = (struct db_clock){"p-1", "198.18.0.2:7443", NOW + 1, 750, 3, 0};
	two[1] = q;
	assert_int_equal(db_clock_choose(two, 2, NOW + 64), 1);
	two[1].ticked_at = NOW + 2;  /* both stalled: the one that ran last */
	assert_int_equal(db_clock_choose(two, 2, NOW + 64), 1);
	two[1].excused = 5;          /* it excuses more: the other's verdict comes first */
	assert_int_equal(db_clock_choose(two, 2, NOW + 64), 0);

	/* An orderly stop removes the row; a row not written for a day goes. */
	assert_int_equal(db_clock_record(f->db, &q), 0);
	assert_int_equal(db_clock_forget(f->db, "p-1"), 0);
	assert_int_equal(db_clock_read(f->db, rows, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].run, "p-2");
	p.ticked_at = q.ticked_at + DB_CLOCK_KEEP_S + 1;
	assert_int_equal(db_clock_record(f->db, &p), 0);
	assert_int_equal(db_clock_read(f->db, rows, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].run, "p-1");
}

static void hosts_stay_inside_their_lan(void **state)
{
	struct fixture *f = *state;
	struct ip_addr in = addr("10.1.0.5"), out = addr("10.2.0.5"), other = addr("10.1.0.6");
	struct ip_prefix narrow = pfx("10.1.0.128/25");
	struct db_registration r = {"gw-a", "aa", "01", "lan-a", &narrow, 1, "198.18.0.1:1",
				    -1, false};
	json_t *hosts;

	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	register_lan(f->db, "gw-b", "lan-b", "10.2.0.0/24", "198.18.0.2:7443", NOW);
	assert_int_equal(db_host_add(f->db, "pc1", "lan-a", &in, NOW), 0);
	assert_int_equal(db_host_add(f->db, "pc2", "lan-a", &out, NOW), INSEL_E_CONFLICT);
	assert_non_null(strstr(db_errmsg(f->db), "belongs to LAN lan-b"));
	assert_int_equal(db_host_add(f->db, "pc1", "lan-a", &other, NOW), INSEL_E_EXISTS);
	assert_int_equal(db_host_add(f->db, "pc3", "lan-a", &in, NOW), INSEL_E_EXISTS);
	assert_int_equal(db_host_add(f->db, "pc3", "lan-x", &other, NOW), INSEL_E_NOT_FOUND);
	/* A registration narrower than the LAN leaves the directory's prefixes (and so
	 * pc1) as they are. */
	assert_int_equal(db_register(f->db, &r, NOW), 0);
	assert_int_equal(db_lan_remove_prefix(f->db, "lan-a", &narrow),
			 INSEL_E_NOT_FOUND);
	assert_int_equal(db_host_list(f->db, "lan-a", &hosts), 0);
	assert_int_equal(json_array_size(hosts), 1);
	json_decref(hosts);
	assert_int_equal(db_host_list(f->db, "lan-x", &hosts), INSEL_E_NOT_FOUND);
	assert_int_equal(db_host_remove(f->db, "pc1"), 0);
	assert_int_equal(db_host_remove(f->db, "pc1"), INSEL_E_NOT_FOUND);
}

static void lookups(void **state)
{
	struct fixture *f = *state;
	struct ip_addr h = addr("10.2.0.20");
	struct ip_prefix v6 = pfx("2001:db8:2::/48");
	json_t *res;

	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	register_lan(f->db, "gw-b", "lan-b", "10.2.0.0/24", "198.18.0.2:7443", NOW);
	assert_int_equal(db_lan_add_prefix(f->db, "lan-b", &v6), 0);
	assert_int_equal(db_host_add(f->db, "printer", "lan-b", &h, NOW), 0);
	assert_int_equal(db_user_add(f->db, "bob", "lan-b", "pbkdf2-sha256$1000$00$00", NOW), 0);

	assert_int_equal(db_lookup(f->db, "bob@lan-b", NOW, &res), 0);
	assert_string_equal(json_string_value(json_object_get(res, "kind")), "user");
	assert_string_equal(json_string_value(json_object_get(res, "secondary")), "gw-b");
	assert_string_equal(json_string_value(json_object_get(res, "endpoint")),
			    "198.18.0.2:7443");
	json_decref(res);
	assert_int_equal(db_lookup(f->db, "printer", NOW, &res), 0);
	assert_string_equal(json_string_value(json_object_get(res, "address")), "10.2.0.20");
	assert_string_equal(json_string_value(json_object_get(res, "lan")), "lan-b");
	json_decref(res);
	assert_int_equal(db_lookup(f->db, "10.2.0.20", NOW, &res), 0);
	assert_string_equal(json_string_value(json_object_get(res, "host")), "printer");
	assert_string_equal(json_string_value(json_object_get(res, "prefix")), "10.2.0.0/24");
	json_decref(res);
	assert_int_equal(db_lookup(f->db, "2001:db8:2::99", NOW, &res), 0);
	assert_string_equal(json_string_value(json_object_get(res, "lan")), "lan-b");
	json_decref(res);
	/* Edges of the prefixes: first and last address match, one beyond does not. */
	assert_int_equal(db_lookup(f->db, "10.1.0.0", NOW, &res), 0);
	json_decref(res);
	assert_int_equal(db_lookup(f->db, "10.1.0.255", NOW, &res), 0);
	json_decref(res);
	assert_int_equal(db_lookup(f->db, "10.1.1.0", NOW, &res), INSEL_E_NOT_FOUND);
	assert_int_equal(db_lookup(f->db, "9.255.255.255", NOW, &res), INSEL_E_NOT_FOUND);
	assert_int_equal(db_lookup(f->db, "carol@lan-b", NOW, &res), INSEL_E_NOT_FOUND);
	assert_int_equal(db_lookup(f->db, "nosuchhost", NOW, &res), INSEL_E_NOT_FOUND);
	assert_int_equal(db_lookup(f->db, "bad name!", NOW, &res), INSEL_E_BAD_FIELD);
	assert_int_equal(db_lookup(f->db, "@", NOW, &res), INSEL_E_BAD_FIELD);
	assert_int_equal(db_lookup(f->db, "", NOW, &res), INSEL_E_BAD_FIELD);
	/* A LAN nobody serves. */
	assert_int_equal(db_lan_set_secondary(f->db, "lan-b", NULL), 0);
	assert_int_equal(db_lookup(f->db, "printer", NOW, &res), INSEL_E_UNAVAILABLE);
}

/* A dual-stack secondary's IPv6 peer endpoint: kept beside its endpoint, given by lookups
 * (and LAN lists), replaced by the next registration's. */
static void ipv6_peer_endpoint(void **state)
{
	struct fixture *f = *state;
	json_t *res;

	register_lan(f->db, "gw-b", "lan-b", "10.2.0.0/24", "198.18.0.2:7443", NOW);
	assert_int_equal(db_user_add(f->db, "bob", "lan-b", "pbkdf2-sha256$1000$00$00", NOW), 0);
	assert_int_equal(db_lookup(f->db, "bob@lan-b", NOW, &res), 0);
	assert_null(json_object_get(res, "endpoint6"));  /* one family: none */
	json_decref(res);
	assert_int_equal(db_set_endpoint6(f->db, "gw-b", "[2001:db8:2::2]:7443"), 0);
	assert_int_equal(db_lookup(f->db, "bob@lan-b", NOW, &res), 0);
	assert_string_equal(json_string_value(json_object_get(res, "endpoint")),
			    "198.18.0.2:7443");
	assert_string_equal(json_string_value(json_object_get(res, "endpoint6")),
			    "[2001:db8:2::2]:7443");
	json_decref(res);
	assert_int_equal(db_set_endpoint6(f->db, "gw-b", NULL), 0);
	assert_int_equal(db_lookup(f->db, "bob@lan-b", NOW, &res), 0);
	assert_null(json_object_get(res, "endpoint6"));
	json_decref(res);
}

/* The connect-back check of each family's endpoint lands in its own column. */
static void ipv6_endpoint_reachability(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix p = pfx("10.2.0.0/24");
	struct db_registration r = {"gw-b", "aa", "01", "lan-b", &p, 1, "198.18.0.2:7443", -1,
				    false};
	struct pop_serving reach;
	json_t *sec;

	register_lan(f->db, "gw-b", "lan-b", "10.2.0.0/24", "198.18.0.2:7443", NOW);
	assert_int_equal(db_set_endpoint6(f->db, "gw-b", "[2001:db8:2::2]:7443"), 0);
	assert_int_equal(db_secondary_show(f->db, "gw-b", NOW, &sec), 0);
	assert_string_equal(json_string_value(json_object_get(sec, "endpoint6")),
			    "[2001:db8:2::2]:7443");
	assert_true(json_is_null(json_object_get(sec, "reachable6")));
	json_decref(sec);
	/* IPv6 answers, IPv4 does not: each is kept apart. */
	assert_int_equal(db_set_reachable(f->db, "gw-b", "[2001:db8:2::2]:7443", true), 0);
	assert_int_equal(db_set_reachable(f->db, "gw-b", "198.18.0.2:7443", false), 0);
	assert_int_equal(db_secondary_show(f->db, "gw-b", NOW, &sec), 0);
	assert_true(json_is_true(json_object_get(sec, "reachable6")));
	assert_true(json_is_false(json_object_get(sec, "reachable")));
	json_decref(sec);
	assert_int_equal(db_secondary_reach(f->db, "gw-b", &reach), 0);
	assert_int_equal(reach.reachable, POP_REACH_NO);
	assert_int_equal(reach.reachable6, POP_REACH_YES);
	/* An IPv6 endpoint no longer registered changes nothing. */
	assert_int_equal(db_set_reachable(f->db, "gw-b", "[2001:db8:2::9]:7443", false), 0);
	assert_int_equal(db_secondary_show(f->db, "gw-b", NOW, &sec), 0);
	assert_true(json_is_true(json_object_get(sec, "reachable6")));
	json_decref(sec);
	/* Registering again forgets it until checked; a declared answer counts for both. */
	assert_int_equal(db_register(f->db, &r, NOW), 0);
	assert_int_equal(db_set_endpoint6(f->db, "gw-b", "[2001:db8:2::2]:7443"), 0);
	assert_int_equal(db_secondary_show(f->db, "gw-b", NOW, &sec), 0);
	assert_true(json_is_null(json_object_get(sec, "reachable6")));
	json_decref(sec);
	r.reachable = 0;
	assert_int_equal(db_register(f->db, &r, NOW), 0);
	assert_int_equal(db_set_endpoint6(f->db, "gw-b", "[2001:db8:2::2]:7443"), 0);
	assert_int_equal(db_set_reachable(f->db, "gw-b", "[2001:db8:2::2]:7443", true), 0);
	assert_int_equal(db_secondary_show(f->db, "gw-b", NOW, &sec), 0);
	assert_true(json_is_false(json_object_get(sec, "reachable6")));
	json_decref(sec);
}

static void users_and_passwords(void **state)
{
	struct fixture *f = *state;
	struct ip_prefix p = pfx("10.3.0.0/24");
	char hash[PASSWD_HASH_STRLEN], stored[PASSWD_HASH_STRLEN], name[65], lan[65];
	json_t *users;

	assert_int_equal(db_lan_add(f->db, "lan-c", &p, 1, NULL, NOW), 0);
	assert_int_equal(passwd_hash("s3cret", PASSWD_MIN_ITERATIONS, hash, sizeof hash), 0);
	assert_int_equal(db_user_add(f->db, "alice", "lan-c", hash, NOW), 0);
	assert_int_equal(db_user_add(f->db, "alice", "lan-c", hash, NOW), INSEL_E_EXISTS);
	assert_int_equal(db_user_add(f->db, "alice", "lan-x", hash, NOW), INSEL_E_NOT_FOUND);
	assert_int_equal(db_user_hash(f->db, "alice", "lan-c", stored, sizeof stored), 0);
	assert_int_equal(passwd_verify("s3cret", stored), 0);
	assert_int_equal(passwd_hash("n3w", PASSWD_MIN_ITERATIONS, hash, sizeof hash), 0);
	assert_int_equal(db_user_set_hash(f->db, "alice", "lan-c", hash), 0);
	assert_int_equal(db_user_set_hash(f->db, "eve", "lan-c", hash), INSEL_E_NOT_FOUND);
	assert_int_equal(db_user_hash(f->db, "alice", "lan-c", stored, sizeof stored), 0);
	assert_int_equal(passwd_verify("s3cret", stored), INSEL_E_AUTH);
	assert_int_equal(db_user_list(f->db, "lan-c", &users), 0);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(users, 0),
							    "iterations")),
			 PASSWD_MIN_ITERATIONS);
	json_decref(users);
	assert_int_equal(db_split_user("alice@lan-c", name, lan), 0);
	assert_string_equal(lan, "lan-c");
	assert_int_equal(db_split_user("alice", name, lan), INSEL_E_BAD_FIELD);
	assert_int_equal(db_split_user("a@b@c", name, lan), INSEL_E_BAD_FIELD);
	/* Removing the LAN removes its users. */
	assert_int_equal(db_lan_remove(f->db, "lan-c"), 0);
	assert_int_equal(db_user_hash(f->db, "alice", "lan-c", stored, sizeof stored),
			 INSEL_E_NOT_FOUND);
}

static void call_records(void **state)
{
	struct fixture *f = *state;
	struct db_call_start c = {"00112233aabbccdd", "alice@lan-a", "lan-a", "printer",
				  "lan-b", "[{\"type\":\"udp\"}]", "gw-a", "reversed", "direct",
				  "198.18.2.2:40001"};
	char reporter[65];
	json_t *calls, *call;

	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	assert_int_equal(db_call_start(f->db, &c, NOW), 0);
	assert_int_equal(db_call_start(f->db, &c, NOW), INSEL_E_EXISTS);
	c.id = "xyz";
	assert_int_equal(db_call_start(f->db, &c, NOW), INSEL_E_BAD_FIELD);
	assert_int_equal(db_call_list(f->db, true, 0, NOW + 3, &calls), 0);
	assert_int_equal(json_array_size(calls), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(calls, 0), "seconds")),
			 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0),
							       "signalling")), "reversed");
	assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0),
							       "path")), "direct");
	assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0),
							       "path_remote")), "198.18.2.2:40001");
	json_decref(calls);
	assert_int_equal(db_call_reporter(f->db, "00112233aabbccdd", reporter, sizeof reporter),
			 0);
	assert_string_equal(reporter, "gw-a");
	assert_int_equal(db_call_end(f->db, "00112233aabbccdd", 100, 200, "hangup", NOW + 60), 0);
	assert_int_equal(db_call_end(f->db, "00112233aabbccdd", 1, 2, "hangup", NOW + 61),
			 INSEL_E_CONFLICT);
	assert_int_equal(db_call_end(f->db, "ffffffffffffffff", 1, 2, "hangup", NOW),
			 INSEL_E_NOT_FOUND);
	assert_int_equal(db_call_list(f->db, true, 0, NOW, &calls), 0);
	assert_int_equal(json_array_size(calls), 0);
	json_decref(calls);
	assert_int_equal(db_call_show(f->db, "00112233aabbccdd", NOW, &call), 0);
	assert_int_equal(json_integer_value(json_object_get(call, "bytes_down")), 200);
	assert_int_equal(json_integer_value(json_object_get(call, "seconds")), 60);
	assert_string_equal(json_string_value(json_object_get(call, "end_reason")), "hangup");
	assert_true(json_is_array(json_object_get(call, "channels")));
	json_decref(call);
}

/* The TCP fallback is a path of its own, and the end record says how the path moved. */
static void call_records_path_moves(void **state)
{
	struct fixture *f = *state;
	struct db_call_start c = {"00112233aabbccee", "alice@lan-a", "lan-a", "bob@lan-b",
				  "lan-b", NULL, "gw-a", "direct", "tcp", "198.18.0.2:443"};
	struct db_call_path moved = {"direct", "198.18.2.2:40001", 1,
				     "[{\"at\":0,\"path\":\"tcp\",\"remote\":\"198.18.0.2:443\"},"
				     "{\"at\":9,\"path\":\"direct\",\"remote\":\"198.18.2.2:40001\"}]"};
	json_t *call, *history;

	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	assert_int_equal(db_call_start(f->db, &c, NOW), 0);
	assert_int_equal(db_call_show(f->db, c.id, NOW + 5, &call), 0);
	assert_string_equal(json_string_value(json_object_get(call, "path")), "tcp");
	assert_string_equal(json_string_value(json_object_get(call, "path_summary")), "tcp");
	assert_true(json_is_null(json_object_get(call, "path_final")));
	assert_int_equal(json_integer_value(json_object_get(call, "path_changes")), 0);
	json_decref(call);
	assert_int_equal(db_call_end_path(f->db, c.id, 10, 20, "hangup", &moved, NOW + 30), 0);
	assert_int_equal(db_call_show(f->db, c.id, NOW + 40, &call), 0);
	assert_string_equal(json_string_value(json_object_get(call, "path")), "tcp");
	assert_string_equal(json_string_value(json_object_get(call, "path_final")), "direct");
	assert_string_equal(json_string_value(json_object_get(call, "path_final_remote")),
			    "198.18.2.2:40001");
	assert_int_equal(json_integer_value(json_object_get(call, "path_changes")), 1);
	history = json_object_get(call, "path_history");
	assert_int_equal(json_array_size(history), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(history, 1),
							       "path")), "direct");
	assert_string_equal(json_string_value(json_object_get(call, "path_summary")),
			    "tcp -> direct (1 change)");
	json_decref(call);
	/* A kind the schema does not know is refused by the directory itself. */
	c.id = "00112233aabbccef";
	c.path = "teleported";
	assert_int_equal(db_call_start(f->db, &c, NOW), INSEL_E_DB);
}

/* A directory from before migration 006 keeps its calls' paths; 'tcp' is taken after. */
static void call_path_migrated(void **state)
{
	struct fixture *f = *state;
	char path[128], err[256];
	sqlite3 *raw;
	struct db *old;
	json_t *call;

	snprintf(path, sizeof path, "%s/old.db", f->dir);
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(schema_migrations[i].version, (int)i + 1);
		assert_int_equal(sqlite3_exec(raw, schema_migrations[i].sql, NULL, NULL, NULL), 0);
		assert_int_equal(sqlite3_exec(raw, schema_migrations[i].bump, NULL, NULL, NULL), 0);
	}
	assert_int_equal(sqlite3_exec(raw, "INSERT INTO calls (id, caller, caller_lan, callee, "
				      "started_at, path, path_remote) VALUES ('00000000000000aa', "
				      "'lan-a', 'lan-a', 'lan-b', 1, 'relayed', '198.18.0.2:3479')",
				      NULL, NULL, NULL), 0);
	sqlite3_close(raw);
	assert_int_equal(db_open(path, &old, err, sizeof err), 0);
	assert_int_equal(db_schema_version(old), db_schema_latest());
	assert_int_equal(db_call_show(old, "00000000000000aa", NOW, &call), 0);
	assert_string_equal(json_string_value(json_object_get(call, "path")), "relayed");
	assert_string_equal(json_string_value(json_object_get(call, "path_remote")),
			    "198.18.0.2:3479");
	assert_int_equal(json_integer_value(json_object_get(call, "path_changes")), 0);
	json_decref(call);
	db_close(old);
	unlink(path);
	snprintf(err, sizeof err, "%s-wal", path);
	unlink(err);
	snprintf(err, sizeof err, "%s-shm", path);
	unlink(err);
}

/* A secondary records only its own LAN's side: never a call under another LAN's name. */
static void call_records_only_for_own_lan(void **state)
{
	struct fixture *f = *state;
	struct db_call_start c = {"0000000000000abc", "alice@lan-a", "lan-a", "bob@lan-b",
				  "lan-b", NULL, "gw-b", NULL, NULL, NULL};
	json_t *calls;

	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	register_lan(f->db, "gw-b", "lan-b", "10.2.0.0/24", "198.18.0.2:7443", NOW);
	/* gw-b serves the callee's LAN, not the caller's it would record. */
	assert_int_equal(db_call_start(f->db, &c, NOW), INSEL_E_FORBIDDEN);
	assert_non_null(strstr(db_errmsg(f->db), "does not serve LAN lan-a"));
	/* A caller named in another LAN than the one given. */
	c.reported_by = "gw-a";
	c.caller = "mallory@lan-b";
	assert_int_equal(db_call_start(f->db, &c, NOW), INSEL_E_FORBIDDEN);
	assert_int_equal(db_call_list(f->db, false, 0, NOW, &calls), 0);
	assert_int_equal(json_array_size(calls), 0);
	json_decref(calls);
	/* Its own side: a user of its LAN, or a trunk named after its LAN. */
	c.caller = "alice@lan-a";
	assert_int_equal(db_call_start(f->db, &c, NOW), 0);
	c.id = "0000000000000abd";
	c.caller = "lan-a";
	c.callee = "lan-b";
	assert_int_equal(db_call_start(f->db, &c, NOW), 0);
}

static void revocations(void **state)
{
	struct fixture *f = *state;
	json_t *list, *sec;

	assert_false(db_is_revoked(f->db, "0a1b"));
	assert_int_equal(db_revoke(f->db, "0a1b", "gw-x", "key lost", NOW), 0);
	assert_int_equal(db_revoke(f->db, "0a1b", NULL, NULL, NOW), INSEL_E_EXISTS);
	assert_int_equal(db_revoke(f->db, "XYZ", NULL, NULL, NOW), INSEL_E_BAD_FIELD);
	assert_true(db_is_revoked(f->db, "0a1b"));
	assert_int_equal(db_revoked_list(f->db, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(db_unrevoke(f->db, "0a1b"), 0);
	assert_int_equal(db_unrevoke(f->db, "0a1b"), INSEL_E_NOT_FOUND);
	/* Revoking a secondary revokes the certificate it registered with. */
	assert_int_equal(db_secondary_add(f->db, "gw-new", NULL, NOW), 0);
	assert_int_equal(db_secondary_revoke(f->db, "gw-new", NULL, NOW), INSEL_E_NOT_FOUND);
	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	assert_int_equal(db_secondary_revoke(f->db, "gw-a", "retired", NOW), 0);
	assert_true(db_is_revoked(f->db, "01"));
	assert_int_equal(db_secondary_show(f->db, "gw-a", NOW, &sec), 0);
	assert_string_equal(json_string_value(json_object_get(sec, "state")), "down");
	json_decref(sec);
}

/* The daemon sees an operator command's revocation through data_version, and a revoked
 * secondary's own call records end with it. */
static void revocation_seen_by_another_connection(void **state)
{
	struct fixture *f = *state;
	struct db_call_start own = {"00000000000000a1", "alice@lan-a", "lan-a", "bob@lan-b",
				    "lan-b", NULL, "gw-a", NULL, NULL, NULL};
	struct db_call_start other = {"00000000000000b1", "bob@lan-b", "lan-b", "alice@lan-a",
				      "lan-a", NULL, "gw-b", NULL, NULL, NULL};
	struct db *operator;
	int64_t before, after;
	json_t *call;
	char err[256];

	struct ip_prefix b = pfx("10.2.0.0/24");
	struct db_registration rb = {"gw-b", "bb", "02", "lan-b", &b, 1, "198.18.0.2:7443",
				    -1, false};

	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	bind_lan(f->db, "gw-b", "lan-b", "10.2.0.0/24", NOW);
	assert_int_equal(db_register(f->db, &rb, NOW), 0);
	assert_int_equal(db_call_start(f->db, &own, NOW), 0);
	assert_int_equal(db_call_start(f->db, &other, NOW), 0);
	assert_int_equal(db_data_version(f->db, &before), 0);
	assert_int_equal(db_open(f->path, &operator, err, sizeof err), 0);
	assert_int_equal(db_secondary_revoke(operator, "gw-a", "retired", NOW + 5), 0);
	db_close(operator);
	assert_int_equal(db_data_version(f->db, &after), 0);
	assert_true(after != before);
	/* Its own writes do not count: nothing new to reload. */
	assert_int_equal(db_heartbeat(f->db, "gw-b", NOW + 6), 0);
	assert_int_equal(db_data_version(f->db, &before), 0);
	assert_true(before == after);
	/* gw-a's recorded call ended with the revocation; gw-b's goes on. */
	assert_int_equal(db_call_show(f->db, own.id, NOW + 6, &call), 0);
	assert_string_equal(json_string_value(json_object_get(call, "end_reason")), "revoked");
	assert_int_equal(json_integer_value(json_object_get(call, "ended_at")), NOW + 5);
	json_decref(call);
	assert_int_equal(db_call_show(f->db, other.id, NOW + 6, &call), 0);
	assert_true(json_is_null(json_object_get(call, "end_reason")));
	json_decref(call);
}

static void persists_across_reopen(void **state)
{
	struct fixture *f = *state;
	char err[256];
	json_t *res;

	register_lan(f->db, "gw-a", "lan-a", "10.1.0.0/24", "198.18.0.1:7443", NOW);
	db_close(f->db);
	assert_int_equal(db_open(f->path, &f->db, err, sizeof err), 0);
	assert_int_equal(db_lookup(f->db, "10.1.0.1", NOW, &res), 0);
	assert_string_equal(json_string_value(json_object_get(res, "secondary")), "gw-a");
	json_decref(res);
	assert_int_equal(db_status(f->db, NOW, &res), 0);
	assert_int_equal(json_integer_value(json_object_get(res, "lans")), 1);
	assert_int_equal(json_integer_value(json_object_get(res, "secondaries_up")), 1);
	json_decref(res);
}

/* The daemon's read window: reads inside it share one snapshot (so another connection's
 * write is not seen until the window is released: at most one loop turn later), and a
 * write from this connection ends the window first and is seen at once. PostgreSQL has
 * no window (each query its own snapshot): another's write is seen at once there. */
static void read_window_sees_writes(void **state)
{
	struct fixture *f = *state;
	struct ip_addr h1 = addr("10.2.0.21"), h2 = addr("10.2.0.22");
	struct db *other;
	char err[256];
	json_t *res;

	register_lan(f->db, "gw-b", "lan-b", "10.2.0.0/24", "198.18.0.2:7443", NOW);
	assert_int_equal(db_open(f->path, &other, err, sizeof err), 0);
	db_read_hold(f->db);
	assert_int_equal(db_lookup(f->db, "printer", NOW, &res), INSEL_E_NOT_FOUND);
	/* Our own write inside the window: the window ends first, the write commits. */
	assert_int_equal(db_host_add(f->db, "printer", "lan-b", &h1, NOW), 0);
	assert_int_equal(db_lookup(f->db, "printer", NOW, &res), 0);
	json_decref(res);
	/* Another connection writes while we hold a window: seen after the release. */
	db_read_hold(f->db);
	assert_int_equal(db_lookup(f->db, "scanner", NOW, &res), INSEL_E_NOT_FOUND);
	assert_int_equal(db_host_add(other, "scanner", "lan-b", &h2, NOW), 0);
	if (db_is_postgresql(f->db)) {
		assert_int_equal(db_lookup(f->db, "scanner", NOW, &res), 0);
		json_decref(res);
	} else {
		assert_int_equal(db_lookup(f->db, "scanner", NOW, &res), INSEL_E_NOT_FOUND);
	}
	db_read_release(f->db);
	assert_int_equal(db_lookup(f->db, "scanner", NOW, &res), 0);
	json_decref(res);
	db_close(other);
}

/* A batch commits all its rows at once; a refused row inside it changes nothing and the
 * batch goes on; a batch ended with an error leaves nothing. */
static void batches(void **state)
{
	struct fixture *f = *state;
	struct ip_addr in = addr("10.2.0.30"), out = addr("10.9.0.1"), also = addr("10.2.0.31");
	struct ip_addr gone = addr("10.2.0.40");
	json_t *res;

	register_lan(f->db, "gw-b", "lan-b", "10.2.0.0/24", "198.18.0.2:7443", NOW);
	assert_int_equal(db_batch_begin(f->db), 0);
	assert_int_equal(db_host_add(f->db, "h-in", "lan-b", &in, NOW), 0);
	assert_int_not_equal(db_host_add(f->db, "h-out", "lan-b", &out, NOW), 0);
	assert_int_equal(db_host_add(f->db, "h-also", "lan-b", &also, NOW), 0);
	assert_int_equal(db_batch_end(f->db, 0), 0);
	assert_int_equal(db_lookup(f->db, "h-in", NOW, &res), 0);
	json_decref(res);
	assert_int_equal(db_lookup(f->db, "h-also", NOW, &res), 0);
	json_decref(res);
	assert_int_equal(db_lookup(f->db, "h-out", NOW, &res), INSEL_E_NOT_FOUND);

	assert_int_equal(db_batch_begin(f->db), 0);
	assert_int_equal(db_host_add(f->db, "h-gone", "lan-b", &gone, NOW), 0);
	assert_int_equal(db_batch_end(f->db, INSEL_E_CONFLICT), INSEL_E_CONFLICT);
	assert_int_equal(db_lookup(f->db, "h-gone", NOW, &res), INSEL_E_NOT_FOUND);
}

/* The principals' mailbox (db_mail.h): of two principals (two connections) claiming one
 * message, one wins; a withdrawal finds a claimed message delivered, an unclaimed one
 * withdrawn; caps and the sweep bound the table. */
struct mail_seen {
	int n;
	int64_t id;
	char body[64];
};

static void mail_row(void *ctx, int64_t id, const char *secondary, const char *body)
{
	struct mail_seen *m = ctx;

	m->n += strcmp(secondary, "gw-b") == 0;
	m->id = id;
	snprintf(m->body, sizeof m->body, "%s", body);
}

static void mail_id(void *ctx, int64_t id)
{
	struct mail_seen *m = ctx;

	m->n++;
	m->id = id;
}

static void gateway_mail(void **state)
{
	struct fixture *f = *state;
	struct mail_seen seen = {0};
	struct db *other;
	int64_t a, b, id;
	char err[256];

	assert_int_equal(db_open(f->path, &other, err, sizeof err), 0);
	assert_int_equal(db_mail_post(f->db, "gw-b", "p-1", "{\"op\":\"x\"}", NOW, &a), 0);
	assert_int_equal(db_mail_post(f->db, "gw-b", "p-1", "{\"op\":\"y\"}", NOW, &b), 0);
	assert_true(b > a);
	assert_int_equal(db_mail_waiting(other, NOW - 60, 1, mail_row, &seen), 0);
	assert_int_equal(seen.n, 1);  /* at most max, oldest first */
	assert_true(seen.id == a);
	assert_string_equal(seen.body, "{\"op\":\"x\"}");
	/* Both principals hold the gateway's link: one claim wins. */
	assert_int_equal(db_mail_claim(other, a, "p-2"), 0);
	assert_int_equal(db_mail_claim(f->db, a, "p-1"), INSEL_E_NOT_FOUND);
	memset(&seen, 0, sizeof seen);
	assert_int_equal(db_mail_waiting(f->db, NOW - 60, 8, mail_row, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_true(seen.id == b);
	memset(&seen, 0, sizeof seen);
	assert_int_equal(db_mail_delivered(f->db, "p-1", mail_id, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_true(seen.id == a);
	/* Withdrawing: the claimed one was delivered after all, the other is withdrawn. */
	assert_int_equal(db_mail_withdraw(f->db, a), INSEL_E_EXISTS);
	assert_int_equal(db_mail_withdraw(f->db, b), 0);
	assert_int_equal(db_mail_claim(other, b, "p-2"), INSEL_E_NOT_FOUND);
	/* A claim given back (its send failed) is another's to deliver. */
	assert_int_equal(db_mail_post(f->db, "gw-b", "p-1", "{}", NOW, &id), 0);
	assert_int_equal(db_mail_claim(other, id, "p-2"), 0);
	assert_int_equal(db_mail_unclaim(other, id), 0);
	assert_int_equal(db_mail_claim(f->db, id, "p-1"), 0);
	assert_int_equal(db_mail_remove(f->db, id), 0);
	/* At most DB_MAIL_MAX_PER_SECONDARY wait for one gateway; the sweep empties old rows. */
	for (int i = 0; i < DB_MAIL_MAX_PER_SECONDARY; i++)
		assert_int_equal(db_mail_post(f->db, "gw-b", "p-1", "{}", NOW, &id), 0);
	assert_int_equal(db_mail_post(f->db, "gw-b", "p-1", "{}", NOW, &id), INSEL_E_LIMIT);
	assert_int_equal(db_mail_post(f->db, "gw-c", "p-1", "{}", NOW + 100, &id), 0);
	assert_int_equal(db_mail_sweep(other, NOW + 1), 0);
	memset(&seen, 0, sizeof seen);
	assert_int_equal(db_mail_delivered(f->db, "p-1", mail_id, &seen), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(db_mail_post(f->db, "gw-b", "p-1", "{}", NOW + 100, &id), 0);
	assert_int_equal(db_mail_waiting(f->db, 0, 100, mail_row, &seen), 0);
	assert_int_equal(seen.n, 1);  /* the new one for gw-b: the old 64 were swept */
	db_close(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(schema_is_current, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(lan_overlap_refused_and_named, setup, teardown),
		cmocka_unit_test_setup_teardown(lan_overlap_with_mapped_prefixes, setup, teardown),
		cmocka_unit_test_setup_teardown(reachability, setup, teardown),
		cmocka_unit_test_setup_teardown(registration_and_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(registration_may_narrow_never_widen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(pinned_fingerprint, setup, teardown),
		cmocka_unit_test_setup_teardown(heartbeat_and_down_marking, setup, teardown),
		cmocka_unit_test_setup_teardown(hosts_stay_inside_their_lan, setup, teardown),
		cmocka_unit_test_setup_teardown(lookups, setup, teardown),
		cmocka_unit_test_setup_teardown(ipv6_peer_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(ipv6_endpoint_reachability, setup, teardown),
		cmocka_unit_test_setup_teardown(users_and_passwords, setup, teardown),
		cmocka_unit_test_setup_teardown(call_records, setup, teardown),
		cmocka_unit_test_setup_teardown(call_records_path_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(call_path_migrated, setup, teardown),
		cmocka_unit_test_setup_teardown(call_records_only_for_own_lan, setup, teardown),
		cmocka_unit_test_setup_teardown(revocations, setup, teardown),
		cmocka_unit_test_setup_teardown(revocation_seen_by_another_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(persists_across_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(read_window_sees_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(batches, setup, teardown),
		cmocka_unit_test_setup_teardown(standby_gateways, setup, teardown),
		cmocka_unit_test_setup_teardown(gateway_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(readers_judge_as_the_principals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
