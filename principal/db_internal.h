/* Private to principal/db*.c: the prepared-statement table and the helpers every query
 * family uses (errors, transactions, binding prefixes, reading columns). */
#ifndef INSEL_PRINCIPAL_DB_INTERNAL_H
#define INSEL_PRINCIPAL_DB_INTERNAL_H

#include "db.h"
#include "db_engine.h"

/* Every statement the directory runs, prepared once at open. */
enum db_stmt_id {
	ST_BEGIN,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_SEC_INSERT,
	ST_SEC_DELETE,
	ST_SEC_GET,
	ST_SEC_LIST,
	ST_SEC_COUNT,
	ST_SEC_REGISTER,
	ST_SEC_SET_ENDPOINT6,
	ST_SEC_HEARTBEAT,
	ST_SEC_MARK_DOWN,
	ST_SEC_MARK_ONE_DOWN,
	ST_SEC_SERVES,
	ST_SEC_REACHABLE,
	ST_SEC_REACH_GET,
	ST_LAN_INSERT,
	ST_LAN_GET,
	ST_LAN_DELETE,
	ST_LAN_SET_SECONDARY,
	ST_LAN_SET_ACTIVE,
	ST_GW_SET,
	ST_GW_OF_LAN,
	ST_LAN_LIST,
	ST_LAN_COUNT,
	ST_LAN_SERVING,
	ST_PFX_INSERT,
	ST_PFX_DELETE_ONE,
	ST_PFX_OVERLAP,
	ST_PFX_MATCH,
	ST_PFX_COUNT_LAN,
	ST_PFX_V4_OF_LAN,
	ST_MAP_INSERT,
	ST_MAP_UPDATE,
	ST_MAP_OF_LAN,
	ST_MAP_OVERLAP,
	ST_MAP_MATCH,
	ST_MAP_OF_LAN_NAME,
	ST_HOST_INSERT,
	ST_HOST_DELETE,
	ST_HOST_LIST,
	ST_HOST_ADDRS_OF_LAN,
	ST_HOST_BY_NAME,
	ST_HOST_BY_ADDR,
	ST_USER_INSERT,
	ST_USER_SET_HASH,
	ST_USER_DELETE,
	ST_USER_HASH,
	ST_USER_LIST,
	ST_CALL_INSERT,
	ST_CALL_END,
	ST_CALL_GET,
	ST_CALL_LIST,
	ST_CALL_ENDED,
	ST_REV_INSERT,
	ST_REV_DELETE,
	ST_REV_EXISTS,
	ST_REV_LIST,
	ST_REV_COUNT,
	ST_CALL_END_REVOKED,
	ST_DATA_VERSION,
	ST_STATUS,
	/* certificate lifecycle (db_renew.c) */
	ST_RENEW_SECONDARY,
	ST_RENEW_FIND,
	ST_RENEW_RECENT,
	ST_RENEW_SUPERSEDE,
	ST_RENEW_INSERT,
	ST_RENEW_GET,
	ST_RENEW_LIST,
	ST_RENEW_DECIDE,
	ST_RENEW_SET_CERT,
	ST_RENEW_SEEN,
	ST_RENEW_PREVIOUS,
	ST_PCERT_PUT,
	ST_EXPIRY_LIST,
	/* overlay links (db_links.c) */
	ST_LINK_UPSERT,
	ST_LINK_EXPIRE,
	ST_LINK_SET,
	ST_LINK_LIST,
	ST_LINK_PAIRS,
	/* what /metrics shows of the directory (metrics.c) */
	ST_COUNTS,
	ST_COUNT
};

struct db {
	enum db_engine engine;
	struct sqlite3 *sql;       /* SQLite */
	struct pg_conn *pg;        /* PostgreSQL (db_pg.c) */
	int64_t pg_changes;        /* rows the last write changed, on PostgreSQL */
	unsigned pg_adhoc;         /* ad hoc statements named so far */
	bool pg_lost_tx;           /* the connection went inside a transaction: until its
				    * ROLLBACK, every statement fails */
	/* A lost connection made again without blocking (db_pg_conn.c). */
	char *pg_dsn;
	struct uv_loop_s *pg_loop; /* the daemon's: host names are looked up on its pool */
	struct pg_names *pg_names; /* and these are they (db_pg_names.c); NULL: none */
	struct pg_conn *pg_next;   /* the attempt under way, if any */
	int pg_poll;               /* what PQconnectPoll last asked for */
	int64_t pg_next_deadline;  /* monotonic ms: the attempt is given up then */
	int64_t pg_retry_at;       /* monotonic ms: no new attempt before */
	int64_t pg_backoff_ms;     /* the wait after the last failed attempt */
	uint64_t pg_reconnects;    /* connections made again so far */
	char pg_state[6];          /* SQLSTATE of the last failure */
	char pg_msg[400];          /* and its sentence */
	struct db_st *stmt[ST_COUNT];
	int64_t down_after;  /* seconds */
	int64_t excused;     /* seconds: the serving principal's recent stalls (stall_clock.h) */
	int64_t judged_at;   /* epoch s, 0: none; a reader judging as a principal that has not
			      * run since then (db_clock.h): later silence is not counted */
	bool batch;          /* inside db_batch_begin: writes are savepoints */
	bool held;           /* inside db_read_hold: a read transaction is open */
	char err[512];
};

/* The statement, reset and with its bindings cleared, ready to bind and step. Callers
 * reset it again when done so that no read snapshot stays open. */
struct db_st *db_stmt(struct db *db, enum db_stmt_id id);
/* Statement id's SQL as SQLite reads it (for tests of its query plans). */
const char *db_stmt_sql_sqlite(enum db_stmt_id id);
/* Prepares statement id of the table (db.c) on db's engine. */
int db_prepare_table(struct db *db, int id, const char *sql, struct db_st **out);
/* Runs an INSERT ... RETURNING id and gives the new row's id. */
int db_insert_id(struct db *db, struct db_st *st, const char *what, int64_t *id);
/* Sets db->err and returns err. */
int db_set_error(struct db *db, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Steps a write statement to completion and resets it: 0 or an error. */
int db_exec_stmt(struct db *db, struct db_st *st, const char *what);

/* BEGIN IMMEDIATE ... then db_tx_end(db, rc): COMMIT if rc is 0, else ROLLBACK; returns
 * rc, or the COMMIT failure. Inside a batch, a savepoint released or rolled back to. */
int db_tx_begin(struct db *db);
int db_tx_end(struct db *db, int rc);

/* A read transaction for a few queries, unless one is open already (a batch, a held
 * window, a caller's transaction): returns whether it began one, for db_read_end. */
bool db_read_begin(struct db *db);
/* The one number a count statement (no parameters) gives. */
int db_count(struct db *db, enum db_stmt_id id, int64_t *out);
void db_read_end(struct db *db, bool began);

/* Binds a prefix as (family, network, last address) at positions i, i+1, i+2. */
void db_bind_prefix(struct db_st *st, int i, const struct ip_prefix *p);
/* The last address of p (every host bit set). */
void db_prefix_last(const struct ip_prefix *p, struct ip_addr *last);
/* Binds an address as (family, bytes) at positions i, i+1. */
void db_bind_addr(struct db_st *st, int i, const struct ip_addr *a);
void db_bind_text_or_null(struct db_st *st, int i, const char *text);

/* Column as a JSON string, or JSON null for SQL NULL. */
json_t *db_col_json_str(struct db_st *st, int i);
/* Column as a JSON integer, or JSON null for SQL NULL. */
json_t *db_col_json_int(struct db_st *st, int i);
/* A space-separated column (group_concat) as a JSON array of strings. */
json_t *db_col_json_words(struct db_st *st, int i);
const char *db_col_text(struct db_st *st, int i);

/* Turns one row of a listing statement into its JSON object; ctx is the caller's. */
typedef json_t *(*db_row_json_fn)(struct db_st *st, const void *ctx);
/* Steps a bound listing statement to the end in one read and makes *out the JSON array of
 * row() of each row: every listing of the directory goes through here. 0, or the SQLite
 * failure reported as "what: ...". */
int db_list_rows(struct db *db, struct db_st *st, db_row_json_fn row, const void *ctx,
		 const char *what, json_t **out);

/* A listing whose statement binds (1) a LAN and (2) a name, each NULL for any: hosts and
 * users. Listing a LAN (lan and no name) first checks that the LAN exists. */
int db_list_in_lan(struct db *db, enum db_stmt_id id, const char *lan, const char *name,
		   db_row_json_fn row, const char *what, json_t **out);

/* Reports "no such X" for an empty listing asked for by name. */
int db_one_or_not_found(struct db *db, json_t *list, const char *what, const char *name,
			json_t **out);

/* db_revoke inside the caller's transaction. */
int db_revoke_tx(struct db *db, const char *serial, const char *name, const char *reason,
		 int64_t now);

/* Row ids by name; INSEL_E_NOT_FOUND with a message naming the kind. */
int db_lan_id(struct db *db, const char *lan, int64_t *id);
/* Inserts LAN lan_id's mapped prefix for its IPv4 prefix real: mapped, or (NULL) one
 * assigned; the prefix used in *chosen (db_lan_map.c). */
int db_lan_map_insert(struct db *db, int64_t lan_id, const struct ip_prefix *real,
		      const struct ip_prefix *mapped, struct ip_prefix *chosen);
int db_secondary_id(struct db *db, const char *name, int64_t *id);

/* The LAN (and its prefix) whose prefix contains a; lan is "" when none does. */
int db_match_address(struct db *db, const struct ip_addr *a, char *lan, size_t lanlen,
		     char *prefix, size_t prefixlen);

/* The effective state cut-off: secondaries silent since before it are down. */
static inline int64_t db_cutoff(const struct db *db, int64_t now)
{
	int64_t at = db->judged_at && db->judged_at < now ? db->judged_at : now;

	return at - db->down_after - db->excused;
}

#endif
