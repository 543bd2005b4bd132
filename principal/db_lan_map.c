/* Mapped prefixes of LANs whose prefixes overlap (docs/overlap.md, 010_overlap.sql): the
 * prefix, of the same length as the LAN's one IPv4 prefix, by which every other LAN
 * reaches the LAN's hosts. Checked here first, to name what clashes: another LAN's
 * mapped prefix, a LAN prefix, a room's network; the triggers refuse the same. */
#include <stdio.h>
#include <string.h>

#include "db_internal.h"
#include "err.h"

/* Mapped prefixes are assigned from here when the operator gives none. */
#define MAP_POOL_TEXT "10.99.0.0/16"

/* The LAN's one IPv4 prefix, which a mapped prefix maps. */
static int lan_v4_prefix(struct db *db, int64_t lan_id, const char *lan, struct ip_prefix *out)
{
	struct db_st *st = db_stmt(db, ST_PFX_V4_OF_LAN);
	int n = 0, rc = 0;

	st_bind_int64(st, 1, lan_id);
	while (st_step(st) == DB_ROW)
		if (n++ == 0 && ip_prefix_parse(db_col_text(st, 0), true, out))
			rc = db_set_error(db, INSEL_E_DB, "LAN %s has a prefix that does not parse",
					  lan);
	st_reset(st);
	if (!rc && n != 1)
		rc = db_set_error(db, INSEL_E_CONFLICT,
				  "LAN %s has %d IPv4 prefixes: a mapped prefix maps exactly one", lan,
				  n);
	return rc;
}

/* A room whose network overlaps p, named in the refusal. */
static int check_rooms(struct db *db, const struct ip_prefix *p, const char *text)
{
	struct db_st *st;
	int rc = 0;

	if (db_prepare(db, "SELECT name, network FROM rooms", &st))
		return db_engine_error(db, "cannot read the rooms");
	while (!rc && st_step(st) == DB_ROW) {
		struct ip_prefix net;

		if (ip_prefix_parse(db_col_text(st, 1), true, &net) == 0 &&
		    ip_prefix_overlap(p, &net))
			rc = db_set_error(db, INSEL_E_CONFLICT,
					  "mapped prefix %s overlaps network %s of room %s", text,
					  db_col_text(st, 1), db_col_text(st, 0));
	}
	st_finalize(st);
	return rc;
}

/* Whether mapped may be LAN lan_id's mapped prefix: IPv4, the length of real, taken by
 * no other LAN, overlapping no mapped prefix, LAN prefix or room network. */
static int check_mapped(struct db *db, int64_t lan_id, const struct ip_prefix *real,
			const struct ip_prefix *mapped)
{
	char text[IP_STRLEN], rtext[IP_STRLEN];
	struct db_st *st;
	int rc = 0;

	ip_prefix_format(mapped, text, sizeof text);
	ip_prefix_format(real, rtext, sizeof rtext);
	if (mapped->addr.family != AF_INET || mapped->len != real->len)
		return db_set_error(db, INSEL_E_BAD_FIELD,
				    "mapped prefix %s must be IPv4 and as long as the LAN's prefix %s",
				    text, rtext);
	st = db_stmt(db, ST_MAP_OVERLAP);
	db_bind_prefix(st, 1, mapped);
	st_bind_int64(st, 4, lan_id);
	if (st_step(st) == DB_ROW)
		rc = db_set_error(db, INSEL_E_CONFLICT, strcmp(db_col_text(st, 0), text) == 0
				  ? "mapped prefix %s is taken by LAN %s"
				  : "mapped prefix %s overlaps the mapped prefix of LAN %s", text,
				  db_col_text(st, 1));
	st_reset(st);
	if (rc)
		return rc;
	st = db_stmt(db, ST_PFX_OVERLAP);
	db_bind_prefix(st, 1, mapped);
	st_bind_int64(st, 4, lan_id);
	if (st_step(st) == DB_ROW)
		rc = db_set_error(db, INSEL_E_CONFLICT,
				  "mapped prefix %s overlaps prefix %s of LAN %s: a mapped prefix "
				  "must be free of real addresses", text, db_col_text(st, 0),
				  db_col_text(st, 1));
	st_reset(st);
	return rc ? rc : check_rooms(db, mapped, text);
}

/* The first prefix of real's length in the pool that check_mapped accepts. */
static int assign_mapped(struct db *db, int64_t lan_id, const struct ip_prefix *real,
			 struct ip_prefix *out)
{
	struct ip_prefix pool;
	uint32_t base, step, count;

	ip_prefix_parse(MAP_POOL_TEXT, true, &pool);
	if (real->len < pool.len)
		return db_set_error(db, INSEL_E_BAD_FIELD,
				    "no mapped prefix of length /%u fits in %s: give one with "
				    "--mapped", real->len, MAP_POOL_TEXT);
	base = (uint32_t)pool.addr.bytes[0] << 24 | (uint32_t)pool.addr.bytes[1] << 16;
	step = real->len == 32 ? 1 : 1u << (32 - real->len);
	count = 1u << (real->len - pool.len);
	for (uint32_t i = 0; i < count; i++) {
		uint32_t a = base + i * step;

		*out = pool;
		out->len = real->len;
		out->addr.bytes[0] = (uint8_t)(a >> 24);
		out->addr.bytes[1] = (uint8_t)(a >> 16);
		out->addr.bytes[2] = (uint8_t)(a >> 8);
		out->addr.bytes[3] = (uint8_t)a;
		if (check_mapped(db, lan_id, real, out) == 0)
			return 0;
	}
	db->err[0] = '\0';
	return db_set_error(db, INSEL_E_LIMIT, "no free /%u left in %s: give one with --mapped",
			    real->len, MAP_POOL_TEXT);
}

static int write_map(struct db *db, enum db_stmt_id id, int64_t lan_id,
		     const struct ip_prefix *mapped)
{
	struct db_st *st = db_stmt(db, id);
	char text[IP_STRLEN];

	st_bind_int64(st, 1, lan_id);
	st_bind_text(st, 2, ip_prefix_format(mapped, text, sizeof text));
	db_bind_prefix(st, 3, mapped);  /* ?3 family (unused), ?4 network, ?5 last */
	st_bind_int64(st, 6, (int)mapped->len);
	return db_exec_stmt(db, st, "cannot set the mapped prefix");
}

int db_lan_map_insert(struct db *db, int64_t lan_id, const struct ip_prefix *real,
		      const struct ip_prefix *mapped, struct ip_prefix *chosen)
{
	int rc = mapped ? check_mapped(db, lan_id, real, mapped)
			: assign_mapped(db, lan_id, real, chosen);

	if (mapped && !rc)
		*chosen = *mapped;
	return rc ? rc : write_map(db, ST_MAP_INSERT, lan_id, chosen);
}

static int lan_map_tx(struct db *db, const char *lan, const struct ip_prefix *mapped)
{
	struct ip_prefix real;
	int64_t lan_id;
	struct db_st *st;
	bool has;
	int rc = db_lan_id(db, lan, &lan_id);

	if (!rc)
		rc = lan_v4_prefix(db, lan_id, lan, &real);
	if (!rc)
		rc = check_mapped(db, lan_id, &real, mapped);
	if (rc)
		return rc;
	st = db_stmt(db, ST_MAP_OF_LAN);
	st_bind_int64(st, 1, lan_id);
	has = st_step(st) == DB_ROW;
	st_reset(st);
	return write_map(db, has ? ST_MAP_UPDATE : ST_MAP_INSERT, lan_id, mapped);
}

int db_lan_map(struct db *db, const char *lan, const struct ip_prefix *mapped)
{
	int rc;

	db->err[0] = '\0';
	rc = db_tx_begin(db);
	return rc ? rc : db_tx_end(db, lan_map_tx(db, lan, mapped));
}

int db_lan_mapped(struct db *db, const char *lan, char out[IP_STRLEN])
{
	struct db_st *st = db_stmt(db, ST_MAP_OF_LAN_NAME);

	out[0] = '\0';
	st_bind_text(st, 1, lan);
	if (st_step(st) == DB_ROW)
		snprintf(out, IP_STRLEN, "%s", db_col_text(st, 0));
	st_reset(st);
	return 0;
}
