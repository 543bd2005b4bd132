/* Look-ups: where is a callee ("user@lan", a host name, or an address), and which
 * secondary serves it, at which endpoint, with which certificate, in which state. This is
 * the principal's hot path: each form costs two to four indexed queries (a user one: its
 * password hash, then its LAN's serving secondary with the LAN's mapped prefix). On
 * SQLite they run in one read transaction, so that they see one snapshot and take the
 * file's locks once, not once per query. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db_internal.h"
#include "err.h"
#include "principal_ops.h"

static void copy_text(char *out, size_t outlen, const char *text)
{
	snprintf(out, outlen, "%s", text ? text : "");
}

/* A reachable column: null while the check has not answered. */
static enum pop_reach reach_col(struct db_st *st, int col)
{
	return st_col_null(st, col) ? POP_REACH_UNKNOWN
	       : (int)st_col_int64(st, col) ? POP_REACH_YES : POP_REACH_NO;
}

/* The serving secondary of `lan`, into r->serving, and the LAN's mapped prefix (if any)
 * into r->mapped_prefix. */
static int add_serving(struct db *db, const char *lan, int64_t now, struct pop_lookup_reply *r)
{
	struct db_st *st = db_stmt(db, ST_LAN_SERVING);
	struct pop_serving *s = &r->serving;
	int rc;

	st_bind_text(st, 1, lan);
	st_bind_int64(st, 2, db_cutoff(db, now));
	rc = st_step(st);
	if (rc == DB_ROW)
		copy_text(r->mapped_prefix, sizeof r->mapped_prefix, db_col_text(st, 8));
	if (rc == DB_ROW && !st_col_null(st, 0)) {
		copy_text(s->secondary, sizeof s->secondary, db_col_text(st, 0));
		copy_text(s->endpoint, sizeof s->endpoint, db_col_text(st, 1));
		copy_text(s->fingerprint, sizeof s->fingerprint, db_col_text(st, 2));
		copy_text(s->state, sizeof s->state, db_col_text(st, 3));
		s->has_last_heartbeat = !st_col_null(st, 4);
		s->last_heartbeat = st_col_int64(st, 4);
		/* A secondary switching to a renewed certificate: both are its own. */
		copy_text(s->previous_fingerprint, sizeof s->previous_fingerprint,
			  db_col_text(st, 5));
		s->reachable = reach_col(st, 6);
		copy_text(s->endpoint6, sizeof s->endpoint6, db_col_text(st, 7));
		s->reachable6 = reach_col(st, 9);
		rc = 0;
	} else if (rc == DB_ROW || rc == DB_DONE) {
		rc = db_set_error(db, INSEL_E_UNAVAILABLE, "no secondary serves LAN %s", lan);
	} else {
		rc = db_engine_error(db, "cannot look up the LAN's secondary");
	}
	st_reset(st);
	return rc;
}

static int lookup_user(struct db *db, const char *callee, struct pop_lookup_reply *r)
{
	char name[DB_NAME_MAX + 1], hash[8];
	int rc;

	if (db_split_user(callee, name, r->lan))
		return db_set_error(db, INSEL_E_BAD_FIELD, "'%s' is not a valid user@lan", callee);
	rc = db_user_hash(db, name, r->lan, hash, sizeof hash);
	if (rc)
		return rc;
	r->kind = POP_LOOKUP_USER;
	copy_text(r->user, sizeof r->user, name);
	return 0;  /* the LAN's mapped prefix comes with its serving secondary */
}

/* The host's name for an address of LAN lan, if the directory knows one. */
static void add_host_name(struct db *db, const char *address, const char *lan,
			  struct pop_lookup_reply *r)
{
	struct db_st *st = db_stmt(db, ST_HOST_BY_ADDR);

	st_bind_text(st, 1, address);
	st_bind_text(st, 2, lan);
	if (st_step(st) == DB_ROW)
		copy_text(r->host, sizeof r->host, db_col_text(st, 0));
	st_reset(st);
}

/* a moved from prefix from onto prefix to (same length), host bits kept. */
static void move_address(const struct ip_addr *a, const struct ip_prefix *from,
			 const struct ip_prefix *to, struct ip_addr *out)
{
	*out = *a;
	for (unsigned i = 0; i < to->len && i < 32; i++) {
		uint8_t bit = (uint8_t)(0x80u >> (i % 8));

		out->bytes[i / 8] = (uint8_t)((out->bytes[i / 8] & ~bit) |
					      (to->addr.bytes[i / 8] & bit));
	}
	(void)from;
}

/* An address inside a mapped prefix: its LAN, and the real address it stands for. */
static int match_mapped(struct db *db, const struct ip_addr *a, struct pop_lookup_reply *r,
			bool *found)
{
	struct db_st *st = db_stmt(db, ST_MAP_MATCH);
	struct ip_prefix mapped, real;
	int rc = 0;

	*found = false;
	db_bind_addr(st, 1, a);
	if (st_step(st) == DB_ROW) {
		if (ip_prefix_parse(db_col_text(st, 0), true, &mapped) ||
		    ip_prefix_parse(db_col_text(st, 2), true, &real)) {
			rc = db_set_error(db, INSEL_E_DB, "LAN %s has no IPv4 prefix for its "
					  "mapped prefix %s", db_col_text(st, 1), db_col_text(st, 0));
		} else {
			copy_text(r->lan, sizeof r->lan, db_col_text(st, 1));
			copy_text(r->mapped_prefix, sizeof r->mapped_prefix, db_col_text(st, 0));
			copy_text(r->prefix, sizeof r->prefix, db_col_text(st, 2));
			r->has_mapped_address = true;
			r->mapped_address = *a;
			move_address(a, &mapped, &real, &r->address);
			*found = true;
		}
	}
	st_reset(st);
	return rc;
}

/* A real address inside the prefixes of several LANs: which ones, and how to reach
 * each host instead. */
static int ambiguous(struct db *db, const struct ip_addr *a, const char *text)
{
	struct db_st *st = db_stmt(db, ST_PFX_MATCH);
	char lans[256] = "", mapped[IP_STRLEN];
	size_t used = 0;

	db_bind_addr(st, 1, a);
	while (st_step(st) == DB_ROW && used < sizeof lans - 1) {
		const char *lan = db_col_text(st, 1);
		struct ip_prefix m, real;
		struct ip_addr via;
		char via_text[IP_STRLEN] = "";

		db_lan_mapped(db, lan, mapped);
		if (mapped[0] && ip_prefix_parse(mapped, true, &m) == 0 &&
		    ip_prefix_parse(db_col_text(st, 0), true, &real) == 0) {
			move_address(a, &real, &m, &via);
			ip_addr_format(&via, via_text, sizeof via_text);
		}
		used += (size_t)snprintf(lans + used, sizeof lans - used, "%s%s (%s%s%s)",
					 used ? ", " : "", lan, db_col_text(st, 0),
					 via_text[0] ? ", mapped: " : "", via_text);
	}
	st_reset(st);
	return db_set_error(db, INSEL_E_CONFLICT,
			    "%s is ambiguous: it lies in overlapping prefixes of LANs %s; name "
			    "the host, or use its mapped address", text, lans);
}

/* The address a: a mapped address means one LAN; a real one the LAN prefer (the host's)
 * or the one LAN holding it, never one of several. */
static int lookup_address(struct db *db, const struct ip_addr *a, const char *prefer,
			  struct pop_lookup_reply *r)
{
	char text[IP_STRLEN], real_text[IP_STRLEN];
	bool found;
	int others = 0;
	int rc = match_mapped(db, a, r, &found);

	ip_addr_format(a, text, sizeof text);
	if (!rc && !found)
		rc = db_match_address_in(db, a, prefer, r->lan, sizeof r->lan, r->prefix,
					 sizeof r->prefix, &others);
	if (rc)
		return rc;
	if (!found && !r->lan[0])
		return db_set_error(db, INSEL_E_NOT_FOUND, "no LAN has a prefix containing %s",
				    text);
	if (!found && others > 0 && !prefer)
		return ambiguous(db, a, text);
	if (!found)
		r->address = *a;
	r->has_address = true;
	if (!r->host[0])
		add_host_name(db, ip_addr_format(&r->address, real_text, sizeof real_text),
			      r->lan, r);
	return 0;
}

/* A real address of a LAN with a mapped prefix: the address it has in the mapped one. */
static void add_mapped_address(struct pop_lookup_reply *r)
{
	struct ip_prefix mapped, real;

	if (!r->has_address || r->has_mapped_address || !r->mapped_prefix[0] ||
	    r->address.family != AF_INET || ip_prefix_parse(r->mapped_prefix, true, &mapped) ||
	    ip_prefix_parse(r->prefix, true, &real))
		return;
	move_address(&r->address, &real, &mapped, &r->mapped_address);
	r->has_mapped_address = true;
}

static int lookup_host(struct db *db, const char *name, struct pop_lookup_reply *r)
{
	struct db_st *st = db_stmt(db, ST_HOST_BY_NAME);
	char lan[DB_NAME_MAX + 1] = "";
	struct ip_addr a;
	int rc, parsed = -1;

	st_bind_text(st, 1, name);
	rc = st_step(st);
	if (rc == DB_ROW) {
		parsed = ip_addr_parse(db_col_text(st, 0), &a);
		copy_text(lan, sizeof lan, db_col_text(st, 1));
	}
	st_reset(st);
	if (rc == DB_DONE)
		return db_set_error(db, INSEL_E_NOT_FOUND, "no user, host or address '%s'", name);
	if (rc != DB_ROW || parsed)
		return db_engine_error(db, "cannot look up the host");
	r->kind = POP_LOOKUP_HOST;
	copy_text(r->host, sizeof r->host, name);
	return lookup_address(db, &a, lan, r);
}

static int lookup_in(struct db *db, const char *callee, int64_t now,
		     struct pop_lookup_reply *r)
{
	struct ip_addr a;
	int rc;

	if (!callee || !*callee) {
		rc = db_set_error(db, INSEL_E_BAD_FIELD, "empty callee");
	} else if (strchr(callee, '@')) {
		rc = lookup_user(db, callee, r);
	} else if (ip_addr_parse(callee, &a) == 0) {
		r->kind = POP_LOOKUP_ADDRESS;
		rc = lookup_address(db, &a, NULL, r);
	} else if (db_name_valid(callee)) {
		rc = lookup_host(db, callee, r);
	} else {
		rc = db_set_error(db, INSEL_E_BAD_FIELD,
				  "callee '%.80s' is neither user@lan, a host name nor an address",
				  callee);
	}
	if (rc)
		return rc;
	/* Where the callee is holds even when nobody serves its LAN now. */
	rc = add_serving(db, r->lan, now, r);
	add_mapped_address(r);
	return rc;
}

int db_lookup_find(struct db *db, const char *callee, int64_t now, struct pop_lookup_reply *out)
{
	bool began;
	int rc;

	db->err[0] = '\0';
	memset(out, 0, sizeof *out);
	copy_text(out->callee, sizeof out->callee, callee);
	/* On PostgreSQL each query reads a snapshot of its own, without BEGIN and COMMIT
	 * (two round trips): the LAN comes from one query and what the later ones read is
	 * that LAN's, never another's. */
	began = !db_is_postgresql(db) && db_read_begin(db);
	rc = lookup_in(db, callee, now, out);
	db_read_end(db, began);
	return rc;
}

int db_lookup(struct db *db, const char *callee, int64_t now, json_t **out)
{
	struct pop_lookup_reply r;
	int rc = db_lookup_find(db, callee, now, &r);

	if (rc)
		return rc;
	*out = pop_lookup_reply_encode(&r);
	return *out ? 0 : db_set_error(db, -ENOMEM, "out of memory");
}

int db_lan_serving(struct db *db, const char *lan, int64_t now, struct pop_serving *out)
{
	struct pop_lookup_reply r;
	int rc;

	memset(&r, 0, sizeof r);
	db->err[0] = '\0';
	rc = add_serving(db, lan, now, &r);
	*out = r.serving;
	return rc;
}

int db_secondary_reach(struct db *db, const char *secondary, struct pop_serving *out)
{
	struct db_st *st = db_stmt(db, ST_SEC_REACH_GET);
	int rc;

	db->err[0] = '\0';
	memset(out, 0, sizeof *out);
	st_bind_text(st, 1, secondary);
	rc = st_step(st);
	if (rc == DB_ROW) {
		copy_text(out->secondary, sizeof out->secondary, secondary);
		copy_text(out->endpoint, sizeof out->endpoint, db_col_text(st, 0));
		out->reachable = reach_col(st, 1);
		copy_text(out->endpoint6, sizeof out->endpoint6, db_col_text(st, 2));
		out->reachable6 = out->endpoint6[0] ? reach_col(st, 3) : POP_REACH_UNKNOWN;
		rc = 0;
	} else if (rc == DB_DONE) {
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "secondary '%s' is not in the directory",
				  secondary);
	} else {
		rc = db_engine_error(db, "cannot read the secondary's endpoint");
	}
	st_reset(st);
	return rc;
}
