/* Directory queries for LANs, their prefixes, secondaries (registration, heartbeats,
 * down-marking) and hosts. The invariant kept here: no two prefixes overlap anywhere, and
 * every host's address lies inside a prefix of its own LAN. */
#include <stdio.h>
#include <string.h>

#include "db_internal.h"
#include "db_renew.h"
#include "err.h"

static int check_name(struct db *db, const char *kind, const char *name)
{
	if (db_name_valid(name))
		return 0;
	return db_set_error(db, INSEL_E_BAD_FIELD,
			    "invalid %s name '%s': use 1-%d of a-z 0-9 . _ -, starting with a "
			    "letter or digit", kind, name ? name : "", DB_NAME_MAX);
}

/* ---- prefixes ---- */

/* Whether the LAN has a mapped prefix (010_overlap.sql): then its IPv4 prefixes may
 * overlap those of other LANs that have one. */
static bool lan_is_mapped(struct db *db, int64_t lan_id)
{
	struct db_st *st = db_stmt(db, ST_MAP_OF_LAN);
	bool mapped;

	st_bind_int64(st, 1, lan_id);
	mapped = st_step(st) == DB_ROW;
	st_reset(st);
	return mapped;
}

/* Names the prefix p of LAN lan_id would overlap, if any overlap is not allowed: within
 * the LAN itself, of IPv6, or with a LAN where either has no mapped prefix. And the
 * mapped prefix it would overlap. */
static int check_overlap(struct db *db, int64_t lan_id, const struct ip_prefix *p,
			 bool allow_overlap)
{
	struct db_st *st = db_stmt(db, ST_PFX_OVERLAP);
	bool mine = allow_overlap && lan_is_mapped(db, lan_id);
	char text[IP_STRLEN];
	int rc = 0, step;

	db_bind_prefix(st, 1, p);
	st_bind_int64(st, 4, lan_id);
	ip_prefix_format(p, text, sizeof text);
	while ((step = st_step(st)) == DB_ROW) {
		int64_t other = st_col_int64(st, 3);
		bool v4_other = other != lan_id && p->addr.family == AF_INET;

		if (v4_other && mine && (int)st_col_int64(st, 2))
			continue;  /* two mapped LANs may overlap */
		if (v4_other && mine)
			rc = db_set_error(db, INSEL_E_CONFLICT,
					  "prefix %s overlaps %s of LAN %s, which has no mapped "
					  "prefix: give it one first ('lan map %s PREFIX')", text,
					  db_col_text(st, 0), db_col_text(st, 1), db_col_text(st, 1));
		else
			rc = db_set_error(db, INSEL_E_CONFLICT, "prefix %s overlaps %s of LAN %s%s",
					  text, db_col_text(st, 0), db_col_text(st, 1),
					  v4_other ? " (--allow-overlap with a mapped prefix allows "
						     "that)" : "");
		break;
	}
	if (!rc && step != DB_DONE)
		rc = db_engine_error(db, "cannot check prefixes");
	st_reset(st);
	if (rc)
		return rc;
	st = db_stmt(db, ST_MAP_OVERLAP);
	db_bind_prefix(st, 1, p);
	st_bind_int64(st, 4, -1);  /* the LAN's own mapped prefix counts too */
	if (st_step(st) == DB_ROW)
		rc = db_set_error(db, INSEL_E_CONFLICT, "prefix %s overlaps the mapped prefix %s "
				  "of LAN %s", text, db_col_text(st, 0), db_col_text(st, 1));
	st_reset(st);
	return rc;
}

static int insert_prefix(struct db *db, int64_t lan_id, const struct ip_prefix *p,
			 bool allow_overlap)
{
	struct db_st *st;
	char text[IP_STRLEN];
	int rc = check_overlap(db, lan_id, p, allow_overlap);

	if (rc)
		return rc;
	st = db_stmt(db, ST_PFX_INSERT);
	st_bind_text(st, 1, ip_prefix_format(p, text, sizeof text));
	st_bind_int64(st, 2, lan_id);
	db_bind_prefix(st, 3, p);
	st_bind_int64(st, 6, (int)p->len);
	return db_exec_stmt(db, st, "cannot add prefix");
}

static int insert_prefixes(struct db *db, int64_t lan_id, const struct ip_prefix *p, size_t n,
			   bool allow_overlap)
{
	if (n > DB_MAX_PREFIXES)
		return db_set_error(db, INSEL_E_LIMIT, "a LAN has at most %d prefixes",
				    DB_MAX_PREFIXES);
	for (size_t i = 0; i < n; i++) {
		int rc = insert_prefix(db, lan_id, &p[i], allow_overlap);

		if (rc)
			return rc;
	}
	return 0;
}

/* The LAN whose prefix contains a, copied into lan (empty if none): LAN prefer's if its
 * prefix holds a, else the longest match. *others, if given, counts the other LANs whose
 * prefixes hold it too (overlapping prefixes, 010_overlap.sql). */
static int lan_of_address_in(struct db *db, const struct ip_addr *a, const char *prefer,
			     char *lan, size_t lanlen, char *prefix, size_t prefixlen,
			     int *others)
{
	struct db_st *st = db_stmt(db, ST_PFX_MATCH);
	int rc, rows = 0;

	db_bind_addr(st, 1, a);
	lan[0] = '\0';
	while ((rc = st_step(st)) == DB_ROW) {
		const char *name = db_col_text(st, 1);
		bool preferred = prefer && strcmp(name, prefer) == 0;

		if (rows > 0 && strcmp(name, lan) == 0)
			continue;  /* the same LAN's shorter prefix */
		if (rows++ == 0 || preferred) {
			snprintf(lan, lanlen, "%s", name);
			if (prefix)
				snprintf(prefix, prefixlen, "%s", db_col_text(st, 0));
		}
	}
	rc = rc == DB_DONE ? 0 : db_engine_error(db, "cannot match prefixes");
	if (others)
		*others = rows > 0 ? rows - 1 : 0;
	st_reset(st);
	return rc;
}

static int lan_of_address(struct db *db, const struct ip_addr *a, char *lan, size_t lanlen,
			  char *prefix, size_t prefixlen)
{
	return lan_of_address_in(db, a, NULL, lan, lanlen, prefix, prefixlen, NULL);
}

/* After the LAN's prefixes changed: every host must still be inside one of them. */
static int check_hosts_inside(struct db *db, int64_t lan_id, const char *lan)
{
	struct db_st *st = db_stmt(db, ST_HOST_ADDRS_OF_LAN);
	int rc = 0;

	st_bind_int64(st, 1, lan_id);
	while (rc == 0 && st_step(st) == DB_ROW) {
		char found[DB_NAME_MAX + 1];
		struct ip_addr a;

		if (ip_addr_parse(db_col_text(st, 1), &a))
			continue;
		rc = lan_of_address_in(db, &a, lan, found, sizeof found, NULL, 0, NULL);
		if (rc == 0 && strcmp(found, lan) != 0)
			rc = db_set_error(db, INSEL_E_CONFLICT,
					  "host %s (%s) of LAN %s would fall outside its prefixes; "
					  "remove or move it first", db_col_text(st, 0),
					  db_col_text(st, 1), lan);
	}
	st_reset(st);
	return rc;
}

/* ---- LANs ---- */

struct lan_row {
	int64_t id;
	bool has_secondary;
	int64_t secondary_id;
	char secondary[DB_NAME_MAX + 1];
};

/* 0 and *row, INSEL_E_NOT_FOUND, or an error. */
static int lan_get(struct db *db, const char *name, struct lan_row *row)
{
	struct db_st *st = db_stmt(db, ST_LAN_GET);
	int rc;

	st_bind_text(st, 1, name);
	rc = st_step(st);
	if (rc == DB_ROW) {
		row->id = st_col_int64(st, 0);
		row->has_secondary = !st_col_null(st, 1);
		row->secondary_id = st_col_int64(st, 1);
		snprintf(row->secondary, sizeof row->secondary, "%s",
			 row->has_secondary ? db_col_text(st, 2) : "");
		rc = 0;
	} else if (rc == DB_DONE) {
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no LAN named '%s'", name);
	} else {
		rc = db_engine_error(db, "cannot read LAN");
	}
	st_reset(st);
	return rc;
}

static int lan_insert(struct db *db, const char *name, const int64_t *secondary_id,
		      int64_t now, int64_t *id)
{
	struct db_st *st = db_stmt(db, ST_LAN_INSERT);
	int rc;

	st_bind_text(st, 1, name);
	if (secondary_id)
		st_bind_int64(st, 2, *secondary_id);
	st_bind_int64(st, 3, now);
	rc = db_insert_id(db, st, "cannot add LAN", id);
	if (rc == INSEL_E_EXISTS)
		return db_set_error(db, rc, "LAN '%s' already exists", name);
	return rc;
}

/* The secondary a LAN is to be bound to: it must have been added first. */
static int binding_secondary(struct db *db, const char *secondary, int64_t *id)
{
	int rc = db_secondary_id(db, secondary, id);

	if (rc == INSEL_E_NOT_FOUND)
		return db_set_error(db, rc, "no secondary named '%s'; add it first with "
				    "'secondary add %s [--fingerprint SHA256]'", secondary, secondary);
	return rc;
}

/* The one IPv4 prefix of a LAN that is to have a mapped prefix. */
static int one_v4_prefix(struct db *db, const char *name, const struct ip_prefix *p, size_t n,
			 const struct ip_prefix **out)
{
	size_t v4 = 0;

	for (size_t i = 0; i < n; i++)
		if (p[i].addr.family == AF_INET && v4++ == 0)
			*out = &p[i];
	if (v4 == 1)
		return 0;
	return db_set_error(db, INSEL_E_BAD_FIELD,
			    "LAN %s needs exactly one IPv4 prefix for a mapped prefix (it has %zu)",
			    name, v4);
}

static int lan_add_tx(struct db *db, const char *name, const struct ip_prefix *prefixes,
		      size_t n, const char *secondary, const struct db_lan_overlap *ov,
		      int64_t now)
{
	int64_t sec_id = 0, lan_id = 0;
	const struct ip_prefix *real = NULL;
	struct ip_prefix chosen;
	bool mapped = ov && (ov->allow || ov->mapped);
	int rc = 0;

	if (mapped)
		rc = one_v4_prefix(db, name, prefixes, n, &real);
	if (!rc && secondary)
		rc = binding_secondary(db, secondary, &sec_id);
	if (!rc)
		rc = lan_insert(db, name, secondary ? &sec_id : NULL, now, &lan_id);
	if (!rc && mapped)
		rc = db_lan_map_insert(db, lan_id, real, ov->mapped, &chosen);
	if (!rc)
		rc = insert_prefixes(db, lan_id, prefixes, n, ov && ov->allow);
	if (!rc && mapped && ov->chosen)
		*ov->chosen = chosen;
	return rc;
}

int db_lan_add(struct db *db, const char *name, const struct ip_prefix *prefixes, size_t n,
	       const char *secondary, int64_t now)
{
	return db_lan_add_overlap(db, name, prefixes, n, secondary, NULL, now);
}

int db_lan_add_overlap(struct db *db, const char *name, const struct ip_prefix *prefixes,
		       size_t n, const char *secondary, const struct db_lan_overlap *ov,
		       int64_t now)
{
	int rc = check_name(db, "LAN", name);

	if (!rc)
		rc = db_tx_begin(db);
	if (rc)
		return rc;
	return db_tx_end(db, lan_add_tx(db, name, prefixes, n, secondary, ov, now));
}

static int delete_by_name(struct db *db, enum db_stmt_id id, const char *name,
			  const char *what)
{
	struct db_st *st = db_stmt(db, id);
	int rc;

	db->err[0] = '\0';
	st_bind_text(st, 1, name);
	rc = db_exec_stmt(db, st, "cannot remove");
	if (!rc && db_changes(db) == 0)
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no %s named '%s'", what, name);
	return rc;
}

int db_lan_remove(struct db *db, const char *name)
{
	/* Hosts, users and prefixes go with it (ON DELETE CASCADE); call records stay. */
	return delete_by_name(db, ST_LAN_DELETE, name, "LAN");
}

static int lan_set_secondary_tx(struct db *db, const char *lan, const char *secondary)
{
	struct lan_row row;
	int64_t sec_id;
	struct db_st *st;
	int rc = lan_get(db, lan, &row);

	if (!rc && secondary)
		rc = binding_secondary(db, secondary, &sec_id);
	if (rc)
		return rc;
	st = db_stmt(db, ST_LAN_SET_SECONDARY);
	st_bind_int64(st, 1, row.id);
	if (secondary)
		st_bind_int64(st, 2, sec_id);
	return db_exec_stmt(db, st, "cannot set the LAN's secondary");
}

int db_lan_set_secondary(struct db *db, const char *lan, const char *secondary)
{
	int rc = db_tx_begin(db);

	return rc ? rc : db_tx_end(db, lan_set_secondary_tx(db, lan, secondary));
}

static int lan_add_prefix_tx(struct db *db, const char *lan, const struct ip_prefix *p)
{
	struct lan_row row;
	struct db_st *st;
	int rc = lan_get(db, lan, &row);

	if (rc)
		return rc;
	st = db_stmt(db, ST_PFX_COUNT_LAN);
	st_bind_int64(st, 1, row.id);
	rc = st_step(st) == DB_ROW && (int)st_col_int64(st, 0) >= DB_MAX_PREFIXES;
	st_reset(st);
	if (rc)
		return db_set_error(db, INSEL_E_LIMIT, "a LAN has at most %d prefixes",
				    DB_MAX_PREFIXES);
	if (p->addr.family == AF_INET && lan_is_mapped(db, row.id))
		return db_set_error(db, INSEL_E_CONFLICT, "LAN %s has a mapped prefix, which maps "
				    "its one IPv4 prefix: it takes no other", lan);
	return insert_prefix(db, row.id, p, false);
}

int db_lan_add_prefix(struct db *db, const char *lan, const struct ip_prefix *p)
{
	int rc = db_tx_begin(db);

	return rc ? rc : db_tx_end(db, lan_add_prefix_tx(db, lan, p));
}

static int lan_remove_prefix_tx(struct db *db, const char *lan, const struct ip_prefix *p)
{
	struct lan_row row;
	char text[IP_STRLEN];
	struct db_st *st;
	int rc = lan_get(db, lan, &row);

	if (rc)
		return rc;
	st = db_stmt(db, ST_PFX_DELETE_ONE);
	st_bind_int64(st, 1, row.id);
	st_bind_text(st, 2, ip_prefix_format(p, text, sizeof text));
	rc = db_exec_stmt(db, st, "cannot remove prefix");
	if (!rc && db_changes(db) == 0)
		return db_set_error(db, INSEL_E_NOT_FOUND, "LAN %s has no prefix %s", lan, text);
	return rc ? rc : check_hosts_inside(db, row.id, lan);
}

int db_lan_remove_prefix(struct db *db, const char *lan, const struct ip_prefix *p)
{
	int rc = db_tx_begin(db);

	return rc ? rc : db_tx_end(db, lan_remove_prefix_tx(db, lan, p));
}

/* true, false, or null while not known. */
static json_t *reachable_json(struct db_st *st, int col)
{
	return st_col_null(st, col) ? json_null()
		: json_boolean((int)st_col_int64(st, col) != 0);
}

static json_t *lan_row_json(struct db_st *st, const void *ctx)
{
	json_t *row = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I}",
			 "name", db_col_json_str(st, 0), "prefixes", db_col_json_words(st, 1),
			 "secondary", db_col_json_str(st, 2), "endpoint", db_col_json_str(st, 3),
			 "state", db_col_json_str(st, 4), "last_heartbeat", db_col_json_int(st, 5),
			 "fingerprint", db_col_json_str(st, 6),
			 "hosts", (json_int_t)st_col_int64(st, 7),
			 "users", (json_int_t)st_col_int64(st, 8));

	(void)ctx;
	/* A secondary switching to a renewed certificate: both are its own. */
	if (row && !st_col_null(st, 9))
		json_object_set_new(row, "previous_fingerprint", db_col_json_str(st, 9));
	if (row && !st_col_null(st, 2))
		json_object_set_new(row, "reachable", reachable_json(st, 10));
	/* A dual-stack secondary's IPv6 peer endpoint, and whether it can be dialled. */
	if (row && !st_col_null(st, 11)) {
		json_object_set_new(row, "endpoint6", db_col_json_str(st, 11));
		json_object_set_new(row, "reachable6", reachable_json(st, 15));
	}
	/* Its standby gateways (docs/standby.md), and when the active one last changed. */
	if (row)
		json_object_set_new(row, "standbys", db_col_json_words(st, 12));
	if (row && !st_col_null(st, 13))
		json_object_set_new(row, "active_since", db_col_json_int(st, 13));
	/* The prefix other LANs reach its hosts by, when its prefix may overlap others'. */
	if (row && !st_col_null(st, 14))
		json_object_set_new(row, "mapped", db_col_json_str(st, 14));
	return row;
}

static const struct db_page whole = {0, -1};

/* LANs or secondaries, with the state of their secondary as of now: a page of all, or
 * the one named. */
static int query_with_state(struct db *db, enum db_stmt_id id, const char *name, int64_t now,
			    const struct db_page *page, db_row_json_fn row, const char *what,
			    json_t **out)
{
	struct db_st *st = db_stmt(db, id);

	db_bind_text_or_null(st, 1, name);
	st_bind_int64(st, 2, db_cutoff(db, now));
	st_bind_int64(st, 3, page->limit);
	st_bind_int64(st, 4, page->offset);
	return db_list_rows(db, st, row, NULL, what, out);
}

static int lan_query(struct db *db, const char *name, int64_t now, json_t **out)
{
	return query_with_state(db, ST_LAN_LIST, name, now, &whole, lan_row_json,
				"cannot list LANs", out);
}

int db_lan_list(struct db *db, int64_t now, json_t **out)
{
	return lan_query(db, NULL, now, out);
}

/* A page of a listing and the count of its rows, in one read transaction. */
static int page_with_total(struct db *db, enum db_stmt_id count, enum db_stmt_id list,
			   int64_t now, const struct db_page *page, db_row_json_fn row,
			   const char *what, json_t **out, int64_t *total)
{
	bool began = db_read_begin(db);
	int rc = db_count(db, count, total);

	if (rc == 0)
		rc = query_with_state(db, list, NULL, now, page, row, what, out);
	db_read_end(db, began);
	return rc;
}

int db_lan_page(struct db *db, int64_t now, const struct db_page *page, json_t **out,
		int64_t *total)
{
	return page_with_total(db, ST_LAN_COUNT, ST_LAN_LIST, now, page, lan_row_json,
			       "cannot list LANs", out, total);
}

int db_lan_show(struct db *db, const char *name, int64_t now, json_t **out)
{
	json_t *list;
	int rc = lan_query(db, name, now, &list);

	return rc ? rc : db_one_or_not_found(db, list, "LAN", name, out);
}

/* ---- secondaries ---- */

int db_secondary_add(struct db *db, const char *name, const char *fingerprint, int64_t now)
{
	struct db_st *st;
	int rc = check_name(db, "secondary", name);

	if (rc)
		return rc;
	if (fingerprint && (strlen(fingerprint) != 64 ||
			    strspn(fingerprint, "0123456789abcdef") != 64))
		return db_set_error(db, INSEL_E_BAD_FIELD,
				    "fingerprint must be 64 lowercase hex digits (SHA-256)");
	db->err[0] = '\0';
	st = db_stmt(db, ST_SEC_INSERT);
	st_bind_text(st, 1, name);
	db_bind_text_or_null(st, 2, fingerprint);
	st_bind_int64(st, 3, fingerprint != NULL);
	st_bind_int64(st, 4, now);
	rc = db_exec_stmt(db, st, "cannot add secondary");
	if (rc == INSEL_E_EXISTS)
		return db_set_error(db, rc, "secondary '%s' already exists", name);
	return rc;
}

static int secondary_set_gateway_tx(struct db *db, const char *name, const char *lan,
				    int priority)
{
	int64_t sec_id, lan_id;
	struct db_st *st;
	int rc = db_secondary_id(db, name, &sec_id);

	if (rc == INSEL_E_NOT_FOUND)
		return db_set_error(db, rc, "no secondary named '%s'", name);
	if (!rc && (rc = db_lan_id(db, lan, &lan_id)) == INSEL_E_NOT_FOUND)
		return db_set_error(db, rc, "no LAN named '%s'; add it first with 'lan add'", lan);
	if (rc)
		return rc;
	st = db_stmt(db, ST_GW_SET);
	st_bind_int64(st, 1, sec_id);
	st_bind_int64(st, 2, lan_id);
	st_bind_int64(st, 3, priority);
	return db_exec_stmt(db, st, "cannot make the secondary a gateway of the LAN");
}

int db_secondary_set_gateway(struct db *db, const char *name, const char *lan, int priority)
{
	int rc = 0;

	db->err[0] = '\0';
	if (priority < DB_PRIORITY_MIN || priority > DB_PRIORITY_MAX)
		return db_set_error(db, INSEL_E_BAD_FIELD, "priority must be %d..%d",
				    DB_PRIORITY_MIN, DB_PRIORITY_MAX);
	if ((rc = db_tx_begin(db)))
		return rc;
	return db_tx_end(db, secondary_set_gateway_tx(db, name, lan, priority));
}

int db_secondary_remove(struct db *db, const char *name)
{
	/* Its LANs stay, served by nobody (ON DELETE SET NULL). */
	return delete_by_name(db, ST_SEC_DELETE, name, "secondary");
}

static json_t *secondary_row_json(struct db_st *st, const void *ctx)
{
	json_t *row;

	(void)ctx;
	row = json_pack("{s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o}",
			 "name", db_col_json_str(st, 0), "lans", db_col_json_words(st, 1),
			 "fingerprint", db_col_json_str(st, 2), "serial", db_col_json_str(st, 3),
			 "pinned", (int)st_col_int64(st, 4), "endpoint", db_col_json_str(st, 5),
			 "state", db_col_json_str(st, 6),
			 "last_heartbeat", db_col_json_int(st, 7));
	if (row) {
		json_object_set_new(row, "reachable", reachable_json(st, 8));
		json_object_set_new(row, "reachable_source", db_col_json_str(st, 9));
		/* "active", "standby" (docs/standby.md), or null: serves no LAN */
		json_object_set_new(row, "role", db_col_json_str(st, 10));
		json_object_set_new(row, "priority", db_col_json_int(st, 11));
		json_object_set_new(row, "endpoint6", db_col_json_str(st, 12));
		json_object_set_new(row, "reachable6", reachable_json(st, 13));
	}
	return row;
}

static int secondary_query(struct db *db, const char *name, int64_t now, json_t **out)
{
	return query_with_state(db, ST_SEC_LIST, name, now, &whole, secondary_row_json,
				"cannot list secondaries", out);
}

int db_secondary_page(struct db *db, int64_t now, const struct db_page *page, json_t **out,
		      int64_t *total)
{
	return page_with_total(db, ST_SEC_COUNT, ST_SEC_LIST, now, page, secondary_row_json,
			       "cannot list secondaries", out, total);
}

int db_secondary_list(struct db *db, int64_t now, json_t **out)
{
	return secondary_query(db, NULL, now, out);
}

int db_secondary_show(struct db *db, const char *name, int64_t now, json_t **out)
{
	json_t *list;
	int rc = secondary_query(db, name, now, &list);

	return rc ? rc : db_one_or_not_found(db, list, "secondary", name, out);
}

struct secondary_row {
	int64_t id;
	char fingerprint[65];
	bool pinned;
	char serial[41];
};

static int secondary_get(struct db *db, const char *name, struct secondary_row *row)
{
	struct db_st *st = db_stmt(db, ST_SEC_GET);
	int rc;

	st_bind_text(st, 1, name);
	rc = st_step(st);
	if (rc == DB_ROW) {
		const char *fp = db_col_text(st, 1), *serial = db_col_text(st, 3);

		row->id = st_col_int64(st, 0);
		snprintf(row->fingerprint, sizeof row->fingerprint, "%s", fp ? fp : "");
		row->pinned = (int)st_col_int64(st, 2) != 0;
		snprintf(row->serial, sizeof row->serial, "%s", serial ? serial : "");
		rc = 0;
	} else if (rc == DB_DONE) {
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no secondary named '%s'", name);
	} else {
		rc = db_engine_error(db, "cannot read secondary");
	}
	st_reset(st);
	return rc;
}

static int secondary_revoke_tx(struct db *db, const char *name, const char *reason,
			       int64_t now)
{
	struct secondary_row row;
	struct db_st *st;
	int rc = secondary_get(db, name, &row);

	if (rc)
		return rc;
	if (!row.serial[0])
		return db_set_error(db, INSEL_E_NOT_FOUND,
				    "secondary '%s' never registered, so its certificate is not "
				    "known; revoke it by serial with 'revoke add'", name);
	rc = db_revoke_tx(db, row.serial, name, reason, now);
	if (!rc)
		rc = db_renew_revoke_previous(db, name, reason, now);
	if (rc)
		return rc;
	st = db_stmt(db, ST_SEC_MARK_ONE_DOWN);
	st_bind_int64(st, 1, row.id);
	return db_exec_stmt(db, st, "cannot mark the secondary down");
}

int db_secondary_revoke(struct db *db, const char *name, const char *reason, int64_t now)
{
	int rc = db_tx_begin(db);

	return rc ? rc : db_tx_end(db, secondary_revoke_tx(db, name, reason, now));
}

bool db_secondary_serves(struct db *db, const char *name, const char *lan)
{
	struct db_st *st = db_stmt(db, ST_SEC_SERVES);
	bool yes;

	st_bind_text(st, 1, name);
	st_bind_text(st, 2, lan);
	yes = st_step(st) == DB_ROW;
	st_reset(st);
	return yes;
}

/* ---- registration and heartbeats ---- */

/* The operator's word on the registering secondary: it must be in the directory (added
 * with `secondary add`), and pinned to the certificate it presents if pinned at all. */
static int registering_secondary(struct db *db, const struct db_registration *r,
				 struct secondary_row *row)
{
	int rc = secondary_get(db, r->secondary, row);

	if (rc == INSEL_E_NOT_FOUND)
		return db_set_error(db, INSEL_E_FORBIDDEN,
				    "secondary %s is not in the directory: a registration cannot "
				    "create one; the operator adds it ('secondary add %s') and "
				    "binds its LAN ('lan add LAN --secondary %s')",
				    r->secondary, r->secondary, r->secondary);
	if (!rc && row->pinned && strcmp(row->fingerprint, r->fingerprint) != 0)
		rc = db_set_error(db, INSEL_E_CONFLICT,
				  "secondary %s is pinned to certificate %.16s..., not %.16s...",
				  r->secondary, row->fingerprint, r->fingerprint);
	return rc;
}

/* The LAN the secondary already serves, other than lan (into out; "" if none). */
static int other_lan_served(struct db *db, const char *secondary, const char *lan,
			    char *out, size_t outlen)
{
	json_t *sec;
	const json_t *name;
	size_t i;
	int rc = db_secondary_show(db, secondary, 0, &sec);

	out[0] = '\0';
	if (rc)
		return rc;
	json_array_foreach(json_object_get(sec, "lans"), i, name)
		if (strcmp(json_string_value(name), lan) != 0 && !out[0])
			snprintf(out, outlen, "%s", json_string_value(name));
	json_decref(sec);
	return 0;
}

/* The operator's binding of the LAN: it must exist and be bound to this secondary. A
 * registration never creates a LAN, takes one over, or claims an unbound one. */
/* Whether the operator made the secondary one of the LAN's gateways (lan_gateways). */
static bool is_gateway_of(struct db *db, int64_t sec_id, const char *lan)
{
	struct db_st *st = db_stmt(db, ST_GW_OF_LAN);
	bool yes;

	st_bind_int64(st, 1, sec_id);
	st_bind_text(st, 2, lan);
	yes = st_step(st) == DB_ROW;
	st_reset(st);
	return yes;
}

/* One of the LAN's gateways registers: as active it serves the LAN from now on (it holds
 * the LAN address: the gateways settle that among themselves, docs/standby.md); as a
 * standby it changes nothing but its own row. */
static int registering_gateway(struct db *db, const struct db_registration *r,
			       const struct lan_row *lan, int64_t sec_id, int64_t now)
{
	struct db_st *st;

	if (r->standby || (lan->has_secondary && lan->secondary_id == sec_id))
		return 0;
	st = db_stmt(db, ST_LAN_SET_ACTIVE);
	st_bind_int64(st, 1, lan->id);
	st_bind_int64(st, 2, sec_id);
	st_bind_int64(st, 3, now);
	return db_exec_stmt(db, st, "cannot make the secondary the LAN's active gateway");
}

static int registering_lan(struct db *db, const struct db_registration *r, int64_t sec_id,
			   int64_t now, int64_t *lan_id)
{
	char other[DB_NAME_MAX + 1];
	struct lan_row lan;
	int rc = lan_get(db, r->lan, &lan);

	if (rc == 0 && is_gateway_of(db, sec_id, r->lan)) {
		*lan_id = lan.id;
		return registering_gateway(db, r, &lan, sec_id, now);
	}

	if (rc == INSEL_E_NOT_FOUND)
		return db_set_error(db, INSEL_E_FORBIDDEN,
				    "LAN %s is not in the directory: a registration cannot create "
				    "a LAN; the operator adds it ('lan add %s --prefix PREFIX "
				    "--secondary %s')", r->lan, r->lan, r->secondary);
	if (rc)
		return rc;
	if (lan.has_secondary && lan.secondary_id != sec_id)
		return db_set_error(db, INSEL_E_FORBIDDEN,
				    "LAN %s is served by secondary %s, not %s: only the operator "
				    "moves a LAN ('lan set-secondary') or makes a secondary one of "
				    "its gateways ('secondary add %s --lan %s --priority N')",
				    r->lan, lan.secondary, r->secondary, r->secondary, r->lan);
	if (lan.has_secondary) {
		*lan_id = lan.id;
		return 0;
	}
	rc = other_lan_served(db, r->secondary, r->lan, other, sizeof other);
	if (!rc && other[0])
		return db_set_error(db, INSEL_E_FORBIDDEN,
				    "secondary %s serves LAN %s and may not claim a second LAN "
				    "(%s)", r->secondary, other, r->lan);
	return rc ? rc : db_set_error(db, INSEL_E_FORBIDDEN,
				      "LAN %s is bound to no secondary: a registration cannot "
				      "claim it; the operator binds it ('lan set-secondary %s %s')",
				      r->lan, r->lan, r->secondary);
}

/* A stated prefix must lie inside one of the LAN's prefixes (the same one holds its first
 * and its last address, as no two prefixes overlap): confirming or narrowing, never
 * widening or reaching into another LAN. */
static int check_prefix_inside(struct db *db, const char *lan, const struct ip_prefix *p)
{
	char first_lan[DB_NAME_MAX + 1], last_lan[DB_NAME_MAX + 1];
	char first_pfx[IP_STRLEN], last_pfx[IP_STRLEN], text[IP_STRLEN];
	struct ip_addr last;
	int rc;

	db_prefix_last(p, &last);
	rc = lan_of_address_in(db, &p->addr, lan, first_lan, sizeof first_lan, first_pfx,
			       sizeof first_pfx, NULL);
	if (!rc)
		rc = lan_of_address_in(db, &last, lan, last_lan, sizeof last_lan, last_pfx,
				       sizeof last_pfx, NULL);
	if (rc)
		return rc;
	if (strcmp(first_lan, lan) == 0 && strcmp(last_lan, lan) == 0 &&
	    strcmp(first_pfx, last_pfx) == 0)
		return 0;
	return db_set_error(db, INSEL_E_FORBIDDEN,
			    "prefix %s is not inside a prefix of LAN %s in the directory: a "
			    "registration may confirm or narrow the LAN's prefixes, never widen "
			    "them; the operator changes them ('lan add-prefix')",
			    ip_prefix_format(p, text, sizeof text), lan);
}

static int register_tx(struct db *db, const struct db_registration *r, int64_t now)
{
	struct secondary_row sec;
	int64_t lan_id = 0;
	struct db_st *st;
	int rc = registering_secondary(db, r, &sec);

	if (!rc)
		rc = registering_lan(db, r, sec.id, now, &lan_id);
	for (size_t i = 0; !rc && i < r->nprefixes; i++)
		rc = check_prefix_inside(db, r->lan, &r->prefixes[i]);
	if (rc)
		return rc;
	st = db_stmt(db, ST_SEC_REGISTER);
	st_bind_int64(st, 1, sec.id);
	st_bind_text(st, 2, r->fingerprint);
	db_bind_text_or_null(st, 3, r->serial);
	st_bind_text(st, 4, r->endpoint);
	st_bind_int64(st, 5, now);
	if (r->reachable < 0) {
		st_bind_null(st, 6);  /* the connect-back check will say */
		st_bind_null(st, 7);
	} else {
		st_bind_int64(st, 6, r->reachable);
		st_bind_text(st, 7, "declared");
	}
	return db_exec_stmt(db, st, "cannot record the registration");
}

int db_set_reachable(struct db *db, const char *secondary, const char *endpoint,
		     bool reachable)
{
	struct db_st *st = db_stmt(db, ST_SEC_REACHABLE);

	db->err[0] = '\0';
	st_bind_text(st, 1, secondary);
	st_bind_text(st, 2, endpoint);
	st_bind_int64(st, 3, reachable);
	return db_exec_stmt(db, st, "cannot record whether the secondary can be dialled");
}

int db_register(struct db *db, const struct db_registration *r, int64_t now)
{
	int rc = check_name(db, "secondary", r->secondary);

	if (!rc)
		rc = check_name(db, "LAN", r->lan);
	if (!rc && r->nprefixes == 0)
		rc = db_set_error(db, INSEL_E_BAD_FIELD, "a registration needs at least one prefix");
	if (!rc)
		rc = db_tx_begin(db);
	if (rc)
		return rc;
	return db_tx_end(db, register_tx(db, r, now));
}

int db_set_endpoint6(struct db *db, const char *secondary, const char *endpoint6)
{
	struct db_st *st = db_stmt(db, ST_SEC_SET_ENDPOINT6);

	st_bind_text(st, 1, secondary);
	db_bind_text_or_null(st, 2, endpoint6);
	return db_exec_stmt(db, st, "cannot record the IPv6 peer endpoint");
}

int db_heartbeat(struct db *db, const char *secondary, int64_t now)
{
	struct db_st *st = db_stmt(db, ST_SEC_HEARTBEAT);
	int rc;

	db->err[0] = '\0';
	st_bind_text(st, 1, secondary);
	st_bind_int64(st, 2, now);
	rc = db_exec_stmt(db, st, "cannot record the heartbeat");
	if (!rc && db_changes(db) == 0)
		rc = db_set_error(db, INSEL_E_NOT_FOUND,
				  "secondary '%s' has not registered yet", secondary);
	return rc;
}

int db_mark_down_each(struct db *db, int64_t now, void (*each)(void *ctx, const char *name),
		      void *ctx)
{
	struct db_st *st = db_stmt(db, ST_SEC_MARK_DOWN);
	int rc, n = 0;

	db->err[0] = '\0';
	if (db->held)  /* a write never runs inside the read window's old snapshot */
		db_read_release(db);
	st_bind_int64(st, 1, db_cutoff(db, now));
	while ((rc = st_step(st)) == DB_ROW) {
		n++;
		if (each)
			each(ctx, (const char *)st_col_text(st, 0));
	}
	if (rc != DB_DONE)
		n = db_engine_error(db, "cannot mark secondaries down");
	st_reset(st);
	return n;
}

int db_mark_down(struct db *db, int64_t now)
{
	return db_mark_down_each(db, now, NULL, NULL);
}

int db_active_gateways(struct db *db, void (*each)(void *ctx, const char *lan,
						   const char *secondary), void *ctx)
{
	struct db_st *st;
	int rc;

	db->err[0] = '\0';
	if ((rc = db_prepare(db, "SELECT l.name, s.name FROM lans l JOIN secondaries s "
			     "ON s.id = l.secondary_id WHERE l.active_since IS NOT NULL", &st)))
		return rc;
	while ((rc = st_step(st)) == DB_ROW)
		each(ctx, st_col_text(st, 0), st_col_text(st, 1));
	rc = rc == DB_DONE ? 0 : db_engine_error(db, "cannot read the LANs' gateways");
	st_finalize(st);
	return rc;
}

/* ---- hosts ---- */

static int host_add_tx(struct db *db, const char *name, const char *lan,
		       const struct ip_addr *a, int64_t now)
{
	char found[DB_NAME_MAX + 1], text[IP_STRLEN];
	int64_t lan_id;
	struct db_st *st;
	int rc = db_lan_id(db, lan, &lan_id);

	if (!rc)
		rc = lan_of_address_in(db, a, lan, found, sizeof found, NULL, 0, NULL);
	if (rc)
		return rc;
	ip_addr_format(a, text, sizeof text);
	if (strcmp(found, lan) != 0)
		return db_set_error(db, INSEL_E_CONFLICT,
				    "address %s is not inside any prefix of LAN %s%s%s", text, lan,
				    found[0] ? "; it belongs to LAN " : "", found);
	st = db_stmt(db, ST_HOST_INSERT);
	st_bind_text(st, 1, name);
	st_bind_int64(st, 2, lan_id);
	st_bind_text(st, 3, text);
	st_bind_int64(st, 4, now);
	rc = db_exec_stmt(db, st, "cannot add host");
	if (rc == INSEL_E_EXISTS)
		rc = db_set_error(db, rc, "a host named '%s' or with address %s already exists",
				  name, text);
	return rc;
}

int db_host_add(struct db *db, const char *name, const char *lan, const struct ip_addr *a,
		int64_t now)
{
	int rc = check_name(db, "host", name);

	if (!rc)
		rc = db_tx_begin(db);
	return rc ? rc : db_tx_end(db, host_add_tx(db, name, lan, a, now));
}

int db_host_remove(struct db *db, const char *name)
{
	return delete_by_name(db, ST_HOST_DELETE, name, "host");
}

static json_t *host_row_json(struct db_st *st, const void *ctx)
{
	(void)ctx;
	return json_pack("{s:o, s:o, s:o}", "name", db_col_json_str(st, 0), "lan",
			 db_col_json_str(st, 1), "address", db_col_json_str(st, 2));
}

static int host_query(struct db *db, const char *lan, const char *name, json_t **out)
{
	return db_list_in_lan(db, ST_HOST_LIST, lan, name, host_row_json, "cannot list hosts",
			      out);
}

int db_host_list(struct db *db, const char *lan, json_t **out)
{
	return host_query(db, lan, NULL, out);
}

int db_host_show(struct db *db, const char *name, json_t **out)
{
	json_t *list;
	int rc = host_query(db, NULL, name, &list);

	return rc ? rc : db_one_or_not_found(db, list, "host", name, out);
}

int db_match_address(struct db *db, const struct ip_addr *a, char *lan, size_t lanlen,
		     char *prefix, size_t prefixlen)
{
	return lan_of_address(db, a, lan, lanlen, prefix, prefixlen);
}

int db_match_address_in(struct db *db, const struct ip_addr *a, const char *prefer,
			char *lan, size_t lanlen, char *prefix, size_t prefixlen, int *others)
{
	return lan_of_address_in(db, a, prefer, lan, lanlen, prefix, prefixlen, others);
}
