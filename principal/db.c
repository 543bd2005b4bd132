/* The directory database: opening, migrations, the prepared-statement table and the
 * helpers shared by the query families (db_lan.c, db_records.c, db_lookup.c). */
#include "db_internal.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_engine_priv.h"
#include "err.h"
#include "schema.h"

/* A secondary's state as look-ups should report it: 'up' turns 'down' once it has been
 * silent since before the cut-off, even if the daemon's sweep has not run yet. */
#define STATE_EXPR(cutoff) \
	"CASE WHEN s.state = 'up' AND s.last_heartbeat < " cutoff " THEN 'down' " \
	"ELSE s.state END"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_BEGIN_READ] = "BEGIN DEFERRED",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT write",
	[ST_RELEASE] = "RELEASE write",
	[ST_ROLLBACK_TO] = "ROLLBACK TO write",

	[ST_SEC_INSERT] = "INSERT INTO secondaries (name, fingerprint, pinned, created_at) "
			  "VALUES (?1, ?2, ?3, ?4)",
	[ST_SEC_DELETE] = "DELETE FROM secondaries WHERE name = ?1",
	[ST_SEC_GET] = "SELECT id, fingerprint, pinned, serial FROM secondaries WHERE name = ?1",
	/* Its LANs: those it is the active gateway of, and the one it stands by for. */
	[ST_SEC_LIST] = "SELECT s.name, "
			"(SELECT group_concat(name, ' ') FROM "
			" (SELECT l.name FROM lans l WHERE l.secondary_id = s.id UNION "
			"  SELECT l.name FROM lan_gateways g JOIN lans l ON l.id = g.lan_id "
			"  WHERE g.secondary_id = s.id)), "
			"s.fingerprint, s.serial, s.pinned, s.endpoint, " STATE_EXPR("?2") ", "
			"s.last_heartbeat, s.reachable, s.reachable_source, "
			"CASE WHEN EXISTS (SELECT 1 FROM lans l WHERE l.secondary_id = s.id) "
			"THEN 'active' WHEN EXISTS (SELECT 1 FROM lan_gateways g "
			"WHERE g.secondary_id = s.id) THEN 'standby' END, "
			"(SELECT g.priority FROM lan_gateways g WHERE g.secondary_id = s.id), "
			"s.endpoint6, s.reachable6 "
			"FROM secondaries s WHERE ?1 IS NULL OR s.name = ?1 ORDER BY s.name "
			"LIMIT ?3 OFFSET ?4",
	[ST_SEC_COUNT] = "SELECT count(*) FROM secondaries",
	[ST_SEC_REGISTER] = "UPDATE secondaries SET fingerprint = ?2, serial = ?3, endpoint = ?4, "
			    "last_heartbeat = ?5, state = 'up', reachable = ?6, "
			    "reachable_source = ?7 WHERE id = ?1",
	/* A connect-back check's answer counts only for the endpoint it dialled. */
	[ST_SEC_REACHABLE] = "UPDATE secondaries SET "
			     "reachable = CASE WHEN endpoint = ?2 THEN ?3 ELSE reachable END, "
			     "reachable6 = CASE WHEN endpoint6 = ?2 THEN ?3 ELSE reachable6 END, "
			     "reachable_source = 'check' "
			     "WHERE name = ?1 AND (endpoint = ?2 OR endpoint6 = ?2) AND "
			     "coalesce(reachable_source, 'check') = 'check'",
	[ST_SEC_REACH_GET] = "SELECT s.endpoint, s.reachable, s.endpoint6, s.reachable6 "
			    "FROM secondaries s WHERE s.name = ?1",
	/* After a registration: a dual-stack secondary's IPv6 endpoint, else NULL. */
	[ST_SEC_SET_ENDPOINT6] = "UPDATE secondaries SET endpoint6 = ?2, reachable6 = CASE "
				 "WHEN ?2 IS NOT NULL AND reachable_source = 'declared' "
				 "THEN reachable END WHERE name = ?1",
	[ST_SEC_HEARTBEAT] = "UPDATE secondaries SET last_heartbeat = ?2, state = 'up' "
			     "WHERE name = ?1 AND endpoint IS NOT NULL",
	[ST_SEC_MARK_DOWN] = "UPDATE secondaries SET state = 'down' "
			     "WHERE state = 'up' AND last_heartbeat < ?1 RETURNING name",
	[ST_SEC_MARK_ONE_DOWN] = "UPDATE secondaries SET state = 'down' WHERE id = ?1",
	[ST_SEC_SERVES] = "SELECT 1 FROM lans l JOIN secondaries s ON s.id = l.secondary_id "
			  "WHERE s.name = ?1 AND l.name = ?2",

	[ST_LAN_INSERT] = "INSERT INTO lans (name, secondary_id, created_at) VALUES (?1, ?2, ?3) "
			  "RETURNING id",
	[ST_LAN_GET] = "SELECT l.id, l.secondary_id, s.name FROM lans l "
		       "LEFT JOIN secondaries s ON s.id = l.secondary_id WHERE l.name = ?1",
	[ST_LAN_DELETE] = "DELETE FROM lans WHERE name = ?1",
	[ST_LAN_SET_SECONDARY] = "UPDATE lans SET secondary_id = ?2 WHERE id = ?1",
	/* A gateway of the LAN registered as active: it serves the LAN from now on. */
	[ST_LAN_SET_ACTIVE] = "UPDATE lans SET secondary_id = ?2, active_since = ?3 "
			      "WHERE id = ?1 AND secondary_id IS NOT ?2",
	[ST_GW_SET] = "INSERT INTO lan_gateways (secondary_id, lan_id, priority) "
		      "VALUES (?1, ?2, ?3) ON CONFLICT (secondary_id) DO UPDATE SET "
		      "lan_id = excluded.lan_id, priority = excluded.priority",
	[ST_GW_OF_LAN] = "SELECT g.priority FROM lan_gateways g JOIN lans l ON l.id = g.lan_id "
			 "WHERE g.secondary_id = ?1 AND l.name = ?2",
	[ST_LAN_LIST] = "SELECT l.name, "
			"(SELECT group_concat(p.prefix, ' ') FROM lan_prefixes p "
			" WHERE p.lan_id = l.id), "
			"s.name, s.endpoint, " STATE_EXPR("?2") ", s.last_heartbeat, s.fingerprint, "
			"(SELECT count(*) FROM hosts h WHERE h.lan_id = l.id), "
			"(SELECT count(*) FROM users u WHERE u.lan_id = l.id), "
			"s.previous_fingerprint, s.reachable, s.endpoint6, "
			"(SELECT group_concat(gs.name, ' ') FROM lan_gateways g "
			" JOIN secondaries gs ON gs.id = g.secondary_id "
			" WHERE g.lan_id = l.id AND gs.id IS NOT l.secondary_id), l.active_since, "
			"(SELECT m.prefix FROM lan_maps m WHERE m.lan_id = l.id), s.reachable6 "
			"FROM lans l LEFT JOIN secondaries s ON s.id = l.secondary_id "
			"WHERE ?1 IS NULL OR l.name = ?1 ORDER BY l.name LIMIT ?3 OFFSET ?4",
	[ST_LAN_COUNT] = "SELECT count(*) FROM lans",
	/* With the LAN's mapped prefix: a look-up's last query gives both (one round trip
	 * to PostgreSQL fewer). */
	[ST_LAN_SERVING] = "SELECT s.name, s.endpoint, s.fingerprint, " STATE_EXPR("?2") ", "
			   "s.last_heartbeat, s.previous_fingerprint, s.reachable, s.endpoint6, "
			   "(SELECT m.prefix FROM lan_maps m WHERE m.lan_id = l.id), s.reachable6 "
			   "FROM lans l "
			   "LEFT JOIN secondaries s ON s.id = l.secondary_id WHERE l.name = ?1",

	[ST_PFX_INSERT] = "INSERT INTO lan_prefixes (prefix, lan_id, family, network, last_addr, "
			  "len) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_PFX_DELETE_ONE] = "DELETE FROM lan_prefixes WHERE lan_id = ?1 AND prefix = ?2",
	/* Every prefix the new one overlaps (overlaps exist between LANs with a mapped
	 * prefix, 010_overlap.sql), with whether its LAN has a mapped prefix. */
	[ST_PFX_OVERLAP] = "SELECT p.prefix, l.name, "
			   "EXISTS (SELECT 1 FROM lan_maps m WHERE m.lan_id = p.lan_id), p.lan_id "
			   "FROM lan_prefixes p JOIN lans l ON l.id = p.lan_id "
			   "WHERE p.family = ?1 AND p.network <= ?3 AND p.last_addr >= ?2 "
			   "ORDER BY p.lan_id != ?4, l.name",
	/* The prefixes holding an address, longest first: two LANs' when their prefixes
	 * overlap. */
	[ST_PFX_MATCH] = "SELECT p.prefix, l.name FROM lan_prefixes p "
			 "JOIN lans l ON l.id = p.lan_id WHERE p.family = ?1 AND p.network <= ?2 "
			 "AND p.last_addr >= ?2 ORDER BY p.len DESC, l.name",
	[ST_PFX_V4_OF_LAN] = "SELECT prefix, len FROM lan_prefixes WHERE lan_id = ?1 AND family = 4",
	[ST_MAP_INSERT] = "INSERT INTO lan_maps (lan_id, prefix, network, last_addr, len) "
			  "VALUES (?1, ?2, ?4, ?5, ?6)",
	[ST_MAP_UPDATE] = "UPDATE lan_maps SET prefix = ?2, network = ?4, last_addr = ?5, len = ?6 "
			  "WHERE lan_id = ?1",
	[ST_MAP_OF_LAN] = "SELECT prefix FROM lan_maps WHERE lan_id = ?1",
	/* The mapped prefix (its LAN's, or another's) that a prefix overlaps, if any. */
	[ST_MAP_OVERLAP] = "SELECT m.prefix, l.name, m.lan_id FROM lan_maps m "
			   "JOIN lans l ON l.id = m.lan_id "
			   "WHERE ?1 = 4 AND m.network <= ?3 AND m.last_addr >= ?2 AND m.lan_id != ?4 "
			   "LIMIT 1",
	/* The LAN whose mapped prefix holds an address, with its IPv4 prefix. */
	[ST_MAP_MATCH] = "SELECT m.prefix, l.name, p.prefix FROM lan_maps m "
			 "JOIN lans l ON l.id = m.lan_id "
			 "LEFT JOIN lan_prefixes p ON p.lan_id = m.lan_id AND p.family = 4 "
			 "WHERE ?1 = 4 AND m.network <= ?2 AND m.last_addr >= ?2 LIMIT 1",
	[ST_MAP_OF_LAN_NAME] = "SELECT m.prefix FROM lan_maps m JOIN lans l ON l.id = m.lan_id "
			       "WHERE l.name = ?1",
	[ST_PFX_COUNT_LAN] = "SELECT count(*) FROM lan_prefixes WHERE lan_id = ?1",

	[ST_HOST_INSERT] = "INSERT INTO hosts (name, lan_id, address, created_at) "
			   "VALUES (?1, ?2, ?3, ?4)",
	[ST_HOST_DELETE] = "DELETE FROM hosts WHERE name = ?1",
	[ST_HOST_LIST] = "SELECT h.name, l.name, h.address FROM hosts h "
			 "JOIN lans l ON l.id = h.lan_id WHERE (?1 IS NULL OR l.name = ?1) "
			 "AND (?2 IS NULL OR h.name = ?2) ORDER BY l.name, h.name",
	[ST_HOST_ADDRS_OF_LAN] = "SELECT name, address FROM hosts WHERE lan_id = ?1",
	[ST_HOST_BY_NAME] = "SELECT h.address, l.name FROM hosts h JOIN lans l ON l.id = h.lan_id "
			    "WHERE h.name = ?1",
	[ST_HOST_BY_ADDR] = "SELECT h.name FROM hosts h JOIN lans l ON l.id = h.lan_id "
			    "WHERE h.address = ?1 AND l.name = ?2",

	[ST_USER_INSERT] = "INSERT INTO users (name, lan_id, password_hash, created_at) "
			   "VALUES (?1, ?2, ?3, ?4)",
	[ST_USER_SET_HASH] = "UPDATE users SET password_hash = ?3 WHERE name = ?1 AND "
			     "lan_id = (SELECT id FROM lans WHERE name = ?2)",
	[ST_USER_DELETE] = "DELETE FROM users WHERE name = ?1 AND "
			   "lan_id = (SELECT id FROM lans WHERE name = ?2)",
	[ST_USER_HASH] = "SELECT u.password_hash FROM users u JOIN lans l ON l.id = u.lan_id "
			 "WHERE u.name = ?1 AND l.name = ?2",
	[ST_USER_LIST] = "SELECT u.name, l.name, u.password_hash, u.created_at FROM users u "
			 "JOIN lans l ON l.id = u.lan_id WHERE (?1 IS NULL OR l.name = ?1) "
			 "AND (?2 IS NULL OR u.name = ?2) ORDER BY l.name, u.name",

	[ST_CALL_INSERT] = "INSERT INTO calls (id, caller, caller_lan, callee, callee_lan, "
			   "channels, started_at, reported_by, signalling, path, path_remote) "
			   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
			   "(SELECT id FROM secondaries WHERE name = ?8), ?9, ?10, ?11)",
	[ST_CALL_END] = "UPDATE calls SET ended_at = ?2, bytes_up = ?3, bytes_down = ?4, "
			"end_reason = ?5, path_final = ?6, path_final_remote = ?7, "
			"path_changes = coalesce(?8, 0), path_history = ?9 "
			"WHERE id = ?1 AND ended_at IS NULL",
	[ST_CALL_GET] = "SELECT c.ended_at, s.name FROM calls c "
			"LEFT JOIN secondaries s ON s.id = c.reported_by WHERE c.id = ?1",
	[ST_CALL_LIST] = "SELECT c.id, c.caller, c.caller_lan, c.callee, c.callee_lan, "
			 "c.channels, c.started_at, c.ended_at, "
			 "coalesce(c.ended_at, ?4) - c.started_at, c.bytes_up, c.bytes_down, "
			 "c.end_reason, s.name, c.signalling, c.path, c.path_remote, "
			 "c.path_final, c.path_final_remote, c.path_changes, c.path_history "
			 "FROM calls c "
			 "LEFT JOIN secondaries s ON s.id = c.reported_by "
			 "WHERE (?1 = 0 OR c.ended_at IS NULL) AND (?2 IS NULL OR c.id = ?2) "
			 "ORDER BY c.started_at DESC, c.rowid DESC LIMIT ?3",
	/* The newest ended calls, by start (the calls_by_start index, read backwards). */
	[ST_CALL_ENDED] = "SELECT c.id, c.caller, c.caller_lan, c.callee, c.callee_lan, "
			  "c.channels, c.started_at, c.ended_at, c.ended_at - c.started_at, "
			  "c.bytes_up, c.bytes_down, "
			  "c.end_reason, s.name, c.signalling, c.path, c.path_remote, "
			  "c.path_final, c.path_final_remote, c.path_changes, c.path_history "
			  "FROM calls c "
			  "LEFT JOIN secondaries s ON s.id = c.reported_by "
			  "WHERE c.ended_at IS NOT NULL "
			  "ORDER BY c.started_at DESC, c.rowid DESC LIMIT ?1",

	[ST_REV_INSERT] = "INSERT INTO revoked_certs (serial, name, reason, revoked_at) "
			  "VALUES (?1, ?2, ?3, ?4)",
	[ST_REV_DELETE] = "DELETE FROM revoked_certs WHERE serial = ?1",
	[ST_REV_EXISTS] = "SELECT 1 FROM revoked_certs WHERE serial = ?1",
	[ST_REV_LIST] = "SELECT serial, name, reason, revoked_at FROM revoked_certs "
			"ORDER BY revoked_at, serial LIMIT ?1 OFFSET ?2",
	[ST_REV_COUNT] = "SELECT count(*) FROM revoked_certs",
	/* Calls recorded by the secondary whose certificate is being revoked: it can never
	 * record their end now, and its peers end them within seconds. */
	[ST_CALL_END_REVOKED] = "UPDATE calls SET ended_at = ?2, end_reason = 'revoked' "
				"WHERE ended_at IS NULL AND reported_by IN "
				"(SELECT id FROM secondaries WHERE serial = ?1)",
	[ST_DATA_VERSION] = "PRAGMA data_version",

	[ST_STATUS] = "SELECT (SELECT count(*) FROM lans), (SELECT count(*) FROM secondaries), "
		      "(SELECT count(*) FROM secondaries WHERE state = 'up' AND "
		      " last_heartbeat >= ?1), "
		      "(SELECT count(*) FROM hosts), (SELECT count(*) FROM users), "
		      "(SELECT count(*) FROM calls WHERE ended_at IS NULL), "
		      "(SELECT count(*) FROM calls), (SELECT count(*) FROM revoked_certs)",

	[ST_COUNTS] = "SELECT (SELECT count(*) FROM lans), "
		      "(SELECT count(*) FROM lans l JOIN secondaries s ON s.id = l.secondary_id "
		      " WHERE s.state = 'up' AND s.last_heartbeat >= ?1), "
		      "(SELECT count(*) FROM secondaries), "
		      "(SELECT count(*) FROM secondaries WHERE state = 'up' AND "
		      " last_heartbeat >= ?1), "
		      "(SELECT count(*) FROM calls WHERE ended_at IS NULL)",

	[ST_RENEW_SECONDARY] = "SELECT id, fingerprint, serial, not_after, previous_serial "
			       "FROM secondaries WHERE name = ?1",
	[ST_RENEW_FIND] = "SELECT id, state FROM cert_requests "
			  "WHERE secondary_id = ?1 AND key_id = ?2",
	[ST_RENEW_RECENT] = "SELECT count(*) FROM cert_requests "
			    "WHERE secondary_id = ?1 AND created_at > ?2",
	[ST_RENEW_SUPERSEDE] = "UPDATE cert_requests SET state = 'superseded', decided_at = ?2 "
			       "WHERE secondary_id = ?1 AND state = 'pending'",
	[ST_RENEW_INSERT] = "INSERT INTO cert_requests (secondary_id, key_id, csr, requested_with, "
			    "requested_with_serial, requested_with_not_after, created_at) "
			    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
	[ST_RENEW_GET] = "SELECT r.id, s.name, r.state, r.key_id, r.requested_with, "
			 "r.requested_with_serial, r.requested_with_not_after, r.created_at, "
			 "r.decided_at, r.serial, r.fingerprint, r.not_after, r.issued_by, "
			 "r.certificate, r.csr, s.id FROM cert_requests r "
			 "JOIN secondaries s ON s.id = r.secondary_id WHERE r.id = ?1",
	[ST_RENEW_LIST] = "SELECT r.id, s.name, r.state, r.key_id, r.requested_with, "
			  "r.requested_with_serial, r.requested_with_not_after, r.created_at, "
			  "r.decided_at, r.serial, r.fingerprint, r.not_after, r.issued_by "
			  "FROM cert_requests r JOIN secondaries s ON s.id = r.secondary_id "
			  "WHERE ?1 = 0 OR r.state = 'pending' ORDER BY r.id",
	[ST_RENEW_DECIDE] = "UPDATE cert_requests SET state = ?2, certificate = ?3, serial = ?4, "
			    "fingerprint = ?5, not_after = ?6, issued_by = ?7, decided_at = ?8 "
			    "WHERE id = ?1 AND state = 'pending'",
	[ST_RENEW_SET_CERT] = "UPDATE secondaries SET previous_fingerprint = ?2, "
			      "previous_serial = ?3, previous_not_after = ?4, fingerprint = ?5, "
			      "serial = ?6, not_after = ?7 WHERE id = ?1",
	[ST_RENEW_SEEN] = "UPDATE secondaries SET not_after = ?3, previous_fingerprint = NULL, "
			  "previous_serial = NULL, previous_not_after = NULL "
			  "WHERE name = ?1 AND fingerprint = ?2",
	[ST_RENEW_PREVIOUS] = "SELECT fingerprint, serial FROM secondaries "
			      "WHERE name = ?1 AND previous_fingerprint = ?2 "
			      "AND previous_not_after > ?3",
	[ST_PCERT_PUT] = "INSERT OR REPLACE INTO principal_certs (kind, name, serial, fingerprint, "
			 "not_before, not_after, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_EXPIRY_LIST] = "SELECT kind, name, serial, not_after, NULL FROM principal_certs "
			   "UNION ALL SELECT 'secondary', s.name, s.serial, s.not_after, "
			   "(SELECT max(r.id) FROM cert_requests r WHERE r.secondary_id = s.id "
			   " AND r.state = 'pending') FROM secondaries s "
			   "WHERE s.not_after IS NOT NULL ORDER BY 4",
	[ST_LINK_UPSERT] = "INSERT INTO links (from_id, to_id, kind, rtt_ms, loss_ppm, probes, "
			   "last_seen, measured_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
			   "ON CONFLICT (from_id, to_id) DO UPDATE SET kind = excluded.kind, "
			   "rtt_ms = excluded.rtt_ms, loss_ppm = excluded.loss_ppm, "
			   "probes = excluded.probes, last_seen = excluded.last_seen, "
			   "measured_at = excluded.measured_at",
	[ST_LINK_EXPIRE] = "DELETE FROM links WHERE measured_at < ?1",
	[ST_LINK_SET] = "INSERT INTO link_settings (a_id, b_id, weight, penalty_ms, updated_at) "
			"VALUES (?1, ?2, coalesce(?3, 1), coalesce(?4, 0), ?5) "
			"ON CONFLICT (a_id, b_id) DO UPDATE SET weight = coalesce(?3, weight), "
			"penalty_ms = coalesce(?4, penalty_ms), updated_at = ?5",
	[ST_LINK_LIST] = "SELECT f.name, t.name, l.kind, l.rtt_ms, l.loss_ppm, l.probes, "
			 "l.last_seen, l.measured_at, coalesce(s.weight, 1), "
			 "coalesce(s.penalty_ms, 0) FROM links l "
			 "JOIN secondaries f ON f.id = l.from_id "
			 "JOIN secondaries t ON t.id = l.to_id "
			 "LEFT JOIN link_settings s ON s.a_id = min(l.from_id, l.to_id) "
			 "AND s.b_id = max(l.from_id, l.to_id) ORDER BY f.name, t.name",
	/* Each pair of gateways once, from its fresh measurements: the worse of the two
	 * directions' round trips and losses (and kinds: 'tcp' > 'relayed' > 'direct'). */
	[ST_LINK_PAIRS] = "SELECT a.name, b.name, max(p.kind), max(p.rtt_ms), max(p.loss_ppm), "
			  "coalesce(s.weight, 1), coalesce(s.penalty_ms, 0) FROM "
			  "(SELECT min(from_id, to_id) AS a_id, max(from_id, to_id) AS b_id, kind, "
			  " rtt_ms, loss_ppm FROM links WHERE measured_at >= ?1) p "
			  "JOIN secondaries a ON a.id = p.a_id JOIN secondaries b ON b.id = p.b_id "
			  "LEFT JOIN link_settings s ON s.a_id = p.a_id AND s.b_id = p.b_id "
			  "GROUP BY p.a_id, p.b_id ORDER BY a.name, b.name",
};

/* PostgreSQL's text where SQLite's differs by more than db_pg.c's spelling changes. */
static const char *const stmt_sql_pg[ST_COUNT] = {
	/* BEGIN IMMEDIATE: one writer at a time, every principal on the database alike */
	[ST_BEGIN] = "BEGIN; SELECT pg_advisory_xact_lock(7419201717)",
	/* a read: one snapshot for its few queries, as SQLite's read transaction */
	[ST_BEGIN_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ",
	[ST_SEC_LIST] = "SELECT s.name, "
			"(SELECT string_agg(name, ' ') FROM "
			" (SELECT l.name FROM lans l WHERE l.secondary_id = s.id UNION "
			"  SELECT l.name FROM lan_gateways g JOIN lans l ON l.id = g.lan_id "
			"  WHERE g.secondary_id = s.id) AS served), "
			"s.fingerprint, s.serial, s.pinned, s.endpoint, " STATE_EXPR("?2") ", "
			"s.last_heartbeat, s.reachable, s.reachable_source, "
			"CASE WHEN EXISTS (SELECT 1 FROM lans l WHERE l.secondary_id = s.id) "
			"THEN 'active' WHEN EXISTS (SELECT 1 FROM lan_gateways g "
			"WHERE g.secondary_id = s.id) THEN 'standby' END, "
			"(SELECT g.priority FROM lan_gateways g WHERE g.secondary_id = s.id), "
			"s.endpoint6, s.reachable6 "
			"FROM secondaries s WHERE ?1 IS NULL OR s.name = ?1 ORDER BY s.name "
			"LIMIT ?3 OFFSET ?4",
	[ST_DATA_VERSION] = "SELECT v FROM insel_data_version",
	[ST_PCERT_PUT] = "INSERT INTO principal_certs (kind, name, serial, fingerprint, "
			 "not_before, not_after, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
			 "ON CONFLICT (kind) DO UPDATE SET name = excluded.name, "
			 "serial = excluded.serial, fingerprint = excluded.fingerprint, "
			 "not_before = excluded.not_before, not_after = excluded.not_after, "
			 "recorded_at = excluded.recorded_at",
	[ST_LINK_SET] = "INSERT INTO link_settings (a_id, b_id, weight, penalty_ms, updated_at) "
			"VALUES (?1, ?2, coalesce(?3::float8, 1), coalesce(?4::bigint, 0), ?5) "
			"ON CONFLICT (a_id, b_id) DO UPDATE SET "
			"weight = coalesce(?3::float8, link_settings.weight), "
			"penalty_ms = coalesce(?4::bigint, link_settings.penalty_ms), updated_at = ?5",
	[ST_LINK_LIST] = "SELECT f.name, t.name, l.kind, l.rtt_ms, l.loss_ppm, l.probes, "
			 "l.last_seen, l.measured_at, coalesce(s.weight, 1), "
			 "coalesce(s.penalty_ms, 0) FROM links l "
			 "JOIN secondaries f ON f.id = l.from_id "
			 "JOIN secondaries t ON t.id = l.to_id "
			 "LEFT JOIN link_settings s ON s.a_id = least(l.from_id, l.to_id) "
			 "AND s.b_id = greatest(l.from_id, l.to_id) ORDER BY f.name, t.name",
	[ST_LINK_PAIRS] = "SELECT a.name, b.name, max(p.kind), max(p.rtt_ms), max(p.loss_ppm), "
			  "coalesce(max(s.weight), 1), coalesce(max(s.penalty_ms), 0) FROM "
			  "(SELECT least(from_id, to_id) AS a_id, greatest(from_id, to_id) AS b_id, "
			  " kind, rtt_ms, loss_ppm FROM links WHERE measured_at >= ?1) p "
			  "JOIN secondaries a ON a.id = p.a_id JOIN secondaries b ON b.id = p.b_id "
			  "LEFT JOIN link_settings s ON s.a_id = p.a_id AND s.b_id = p.b_id "
			  "GROUP BY p.a_id, p.b_id, a.name, b.name ORDER BY a.name, b.name",
};

/* ---- errors ---- */

int db_set_error(struct db *db, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(db->err, sizeof db->err, fmt, ap);
	va_end(ap);
	return err;
}

const char *db_errmsg(const struct db *db)
{
	return db->err[0] ? db->err : "no error";
}

/* ---- statements and transactions ---- */

struct db_st *db_stmt(struct db *db, enum db_stmt_id id)
{
	struct db_st *st = db->stmt[id];

	st_reset(st);
	st_clear_bindings(st);
	return st;
}

int db_exec_stmt(struct db *db, struct db_st *st, const char *what)
{
	int rc;

	/* A write never runs inside the read window's old snapshot. (BEGIN, COMMIT and the
	 * like count as read-only here; db_tx_begin ends the window itself.) */
	if (db->held && !st_readonly(st))
		db_read_release(db);
	rc = st_step(st);

	if (rc != DB_DONE && rc != DB_ROW) {
		rc = db_engine_error(db, what);
		st_reset(st);
		return rc;
	}
	st_reset(st);
	return 0;
}

int db_tx_begin(struct db *db)
{
	db_read_release(db);
	db->err[0] = '\0';
	if (db->batch)
		return db_exec_stmt(db, db_stmt(db, ST_SAVEPOINT), "cannot start a savepoint");
	return db_exec_stmt(db, db_stmt(db, ST_BEGIN), "cannot start a transaction");
}

/* Ends a write inside a batch: its changes join the batch, or are undone alone. */
static int savepoint_end(struct db *db, int rc)
{
	char keep[sizeof db->err];

	if (rc == 0)
		return db_exec_stmt(db, db_stmt(db, ST_RELEASE), "cannot release a savepoint");
	memcpy(keep, db->err, sizeof keep);
	db_exec_stmt(db, db_stmt(db, ST_ROLLBACK_TO), "cannot roll back a savepoint");
	db_exec_stmt(db, db_stmt(db, ST_RELEASE), "cannot release a savepoint");
	memcpy(db->err, keep, sizeof keep);
	return rc;
}

int db_tx_end(struct db *db, int rc)
{
	if (db->batch)
		return savepoint_end(db, rc);
	if (rc == 0) {
		rc = db_exec_stmt(db, db_stmt(db, ST_COMMIT), "cannot commit");
		if (rc == 0)
			return 0;
	}
	if (!!db_in_tx(db)) {
		char keep[sizeof db->err];

		/* Keep the first error's sentence; the rollback's is not the interesting one. */
		memcpy(keep, db->err, sizeof keep);
		db_exec_stmt(db, db_stmt(db, ST_ROLLBACK), "cannot roll back");
		memcpy(db->err, keep, sizeof keep);
	}
	return rc;
}

int db_batch_begin(struct db *db)
{
	int rc;

	if (db->batch)
		return db_set_error(db, INSEL_E_CONFLICT, "a batch is already open");
	rc = db_tx_begin(db);
	if (!rc)
		db->batch = true;
	return rc;
}

int db_batch_end(struct db *db, int rc)
{
	if (!db->batch)
		return rc ? rc : db_set_error(db, INSEL_E_CONFLICT, "no batch is open");
	db->batch = false;
	return db_tx_end(db, rc);
}

bool db_read_begin(struct db *db)
{
	if (!!db_in_tx(db))
		return false;
	return db_exec_stmt(db, db_stmt(db, ST_BEGIN_READ), "cannot start reading") == 0;
}

void db_read_end(struct db *db, bool began)
{
	char keep[sizeof db->err];

	if (!began || !db_in_tx(db))
		return;
	/* Nothing was written: COMMIT only ends the snapshot and drops the locks. The
	 * sentence of an earlier failure is the one worth keeping. */
	memcpy(keep, db->err, sizeof keep);
	if (db_exec_stmt(db, db_stmt(db, ST_COMMIT), "cannot end reading"))
		db_exec_stmt(db, db_stmt(db, ST_ROLLBACK), "cannot end reading");
	memcpy(db->err, keep, sizeof keep);
}

/* On SQLite the window saves taking the file's locks once per query, in the process. On
 * PostgreSQL it would cost two round trips to the server (BEGIN, COMMIT) for every turn
 * of the daemon's loop, and each query there reads a consistent snapshot of its own. */
void db_read_hold(struct db *db)
{
	if (!db->held && !db->batch && db->engine != DB_ENGINE_POSTGRESQL)
		db->held = db_read_begin(db);
}

void db_read_release(struct db *db)
{
	if (!db->held)
		return;
	db->held = false;
	db_read_end(db, true);
}

/* ---- binding and reading ---- */

void db_prefix_last(const struct ip_prefix *p, struct ip_addr *last)
{
	unsigned bits = ip_family_bits(p->addr.family);

	*last = p->addr;
	for (unsigned i = p->len; i < bits; i++)
		last->bytes[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}

static int family_number(int family)
{
	return family == AF_INET ? 4 : 6;
}

void db_bind_prefix(struct db_st *st, int i, const struct ip_prefix *p)
{
	struct ip_addr last;
	int n = (int)ip_family_bits(p->addr.family) / 8;

	db_prefix_last(p, &last);
	st_bind_int64(st, i, family_number(p->addr.family));
	st_bind_blob(st, i + 1, p->addr.bytes, n);
	st_bind_blob(st, i + 2, last.bytes, n);
}

void db_bind_addr(struct db_st *st, int i, const struct ip_addr *a)
{
	st_bind_int64(st, i, family_number(a->family));
	st_bind_blob(st, i + 1, a->bytes, (int)ip_family_bits(a->family) / 8);
}

void db_bind_text_or_null(struct db_st *st, int i, const char *text)
{
	if (text)
		st_bind_text(st, i, text);
	else
		st_bind_null(st, i);
}

const char *db_col_text(struct db_st *st, int i)
{
	return (const char *)st_col_text(st, i);
}

json_t *db_col_json_str(struct db_st *st, int i)
{
	const char *t = db_col_text(st, i);

	return t ? json_string(t) : json_null();
}

json_t *db_col_json_int(struct db_st *st, int i)
{
	if (st_col_null(st, i))
		return json_null();
	return json_integer(st_col_int64(st, i));
}

json_t *db_col_json_words(struct db_st *st, int i)
{
	const char *t = db_col_text(st, i);
	json_t *a = json_array();

	while (t && *t) {
		size_t n = strcspn(t, " ");

		if (n)
			json_array_append_new(a, json_stringn(t, n));
		t += n;
		t += strspn(t, " ");
	}
	return a;
}

int db_count(struct db *db, enum db_stmt_id id, int64_t *out)
{
	struct db_st *st = db_stmt(db, id);
	int rc = st_step(st);

	if (rc == DB_ROW) {
		*out = st_col_int64(st, 0);
		rc = 0;
	} else {
		rc = db_engine_error(db, "cannot count rows");
	}
	st_reset(st);
	return rc;
}

int db_list_rows(struct db *db, struct db_st *st, db_row_json_fn row, const void *ctx,
		 const char *what, json_t **out)
{
	bool began = db_read_begin(db);
	json_t *list = json_array();
	int rc;

	while ((rc = st_step(st)) == DB_ROW)
		json_array_append_new(list, row(st, ctx));
	if (rc != DB_DONE) {
		rc = db_engine_error(db, what);
		json_decref(list);
	} else {
		rc = 0;
		*out = list;
	}
	st_reset(st);
	db_read_end(db, began);
	return rc;
}

int db_list_in_lan(struct db *db, enum db_stmt_id id, const char *lan, const char *name,
		   db_row_json_fn row, const char *what, json_t **out)
{
	struct db_st *st;
	int64_t lan_id;
	int rc = lan && !name ? db_lan_id(db, lan, &lan_id) : 0;

	if (rc)
		return rc;
	st = db_stmt(db, id);
	db_bind_text_or_null(st, 1, lan);
	db_bind_text_or_null(st, 2, name);
	return db_list_rows(db, st, row, NULL, what, out);
}

int db_one_or_not_found(struct db *db, json_t *list, const char *what, const char *name,
			json_t **out)
{
	if (json_array_size(list) == 0) {
		json_decref(list);
		return db_set_error(db, INSEL_E_NOT_FOUND, "no %s named '%s'", what, name);
	}
	*out = json_incref(json_array_get(list, 0));
	json_decref(list);
	return 0;
}

static int id_by_name(struct db *db, enum db_stmt_id id, const char *name, const char *what,
		      int64_t *out)
{
	struct db_st *st = db_stmt(db, id);
	int rc;

	st_bind_text(st, 1, name);
	rc = st_step(st);
	if (rc == DB_ROW)
		*out = st_col_int64(st, 0);
	else if (rc == DB_DONE)
		rc = db_set_error(db, INSEL_E_NOT_FOUND, "no %s named '%s'", what, name);
	else
		rc = db_engine_error(db, what);
	st_reset(st);
	return rc == DB_ROW ? 0 : rc;
}

int db_lan_id(struct db *db, const char *lan, int64_t *id)
{
	return id_by_name(db, ST_LAN_GET, lan, "LAN", id);
}

int db_secondary_id(struct db *db, const char *name, int64_t *id)
{
	return id_by_name(db, ST_SEC_GET, name, "secondary", id);
}

bool db_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > DB_NAME_MAX)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

bool db_serial_valid(const char *serial)
{
	size_t n = serial ? strlen(serial) : 0;

	return n > 0 && n <= 40 && strspn(serial, "0123456789abcdef") == n;
}

/* ---- opening and migrating ---- */

static int read_user_version(struct db *db, int *version)
{
	struct db_st *st;
	int rc;

	if (db->engine == DB_ENGINE_POSTGRESQL)
		return pg_schema_version(db, version);
	if (db_prepare(db, "PRAGMA user_version", &st))
		return db_engine_error(db, "cannot read the schema version");
	rc = st_step(st);
	*version = rc == DB_ROW ? (int)st_col_int64(st, 0) : -1;
	st_finalize(st);
	return *version < 0 ? db_engine_error(db, "cannot read the schema version") : 0;
}

/* One step, in its own transaction; re-reads the version inside it so that two
 * processes opening an old database at once do not both apply the same step. */
static int apply_migration(struct db *db, const struct schema_migration *m)
{
	int version, rc = db_exec(db, "BEGIN IMMEDIATE", "cannot start a migration");

	if (rc)
		return rc;
	rc = read_user_version(db, &version);
	if (!rc && version == m->version - 1) {
		rc = db_exec(db, m->sql, m->name);
		if (!rc)
			rc = db_exec(db, m->bump, m->name);
	}
	if (!rc)
		return db_exec(db, "COMMIT", "cannot commit a migration");
	db_exec(db, "ROLLBACK", "cannot roll back a migration");
	return rc;
}

static int migrate(struct db *db, const char *path)
{
	int version, rc;

	if (db->engine == DB_ENGINE_POSTGRESQL)
		return pg_migrate(db, path);
	rc = read_user_version(db, &version);
	if (rc)
		return rc;
	if (version > (int)schema_migration_count)
		return db_set_error(db, INSEL_E_VERSION,
				    "%s has schema version %d, newer than this insel-principal "
				    "knows (%u); use a newer insel-principal",
				    path, version, schema_migration_count);
	for (unsigned i = (unsigned)version; i < schema_migration_count; i++) {
		rc = apply_migration(db, &schema_migrations[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static int configure_sqlite(struct db *db)
{
	int rc;

	sqlite3_busy_timeout(db->sql, DB_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db->sql, 1);
	rc = db_exec(db, "PRAGMA foreign_keys = ON", "cannot enable foreign keys");
	if (!rc)
		rc = db_exec(db, "PRAGMA journal_mode = WAL", "cannot enable WAL");
	/* Every commit reaches the disk: call records and registrations survive a crash. */
	if (!rc)
		rc = db_exec(db, "PRAGMA synchronous = FULL", "cannot set synchronous");
	return rc;
}

static int prepare_all(struct db *db)
{
	bool pg = db->engine == DB_ENGINE_POSTGRESQL;

	for (int i = 0; i < ST_COUNT; i++) {
		const char *sql = pg && stmt_sql_pg[i] ? stmt_sql_pg[i] : stmt_sql[i];
		int rc = db_prepare_table(db, i, sql, &db->stmt[i]);

		if (rc)
			return rc;
	}
	return 0;
}

/* Creates the file with mode 0600 first: it holds password hashes. */
static void create_private_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
}

static int open_sqlite(struct db *db, const char *path)
{
	create_private_file(path);
	if (sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return db_set_error(db, INSEL_E_DB, "cannot open database %s: %s", path,
				    db->sql ? sqlite3_errmsg(db->sql) : "out of memory");
	return configure_sqlite(db);
}

int db_open(const char *target, struct db **out, char *err, size_t errlen)
{
	struct db *db = calloc(1, sizeof *db);
	int rc;

	*out = NULL;
	if (!db) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	db->down_after = DB_DEFAULT_DOWN_AFTER_S;
	if (db_target_is_dsn(target)) {
		db->engine = DB_ENGINE_POSTGRESQL;
		rc = pg_connect(db, target);
	} else {
		db->engine = DB_ENGINE_SQLITE;
		rc = open_sqlite(db, target);
	}
	if (!rc)
		rc = migrate(db, db->engine == DB_ENGINE_POSTGRESQL ? "the PostgreSQL database"
			     : target);
	if (!rc)
		rc = prepare_all(db);
	if (rc) {
		snprintf(err, errlen, "%s", db->err);
		db_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->stmt[ST_COMMIT])
		db_read_release(db);
	for (int i = 0; i < ST_COUNT; i++)
		st_finalize(db->stmt[i]);
	if (db->engine == DB_ENGINE_POSTGRESQL)
		pg_disconnect(db);
	else
		sqlite3_close(db->sql);
	free(db);
}

const char *db_stmt_sql_sqlite(enum db_stmt_id id)
{
	return stmt_sql[id];
}

void db_resolve_on_loop(struct db *db, struct uv_loop_s *loop)
{
	if (db->engine == DB_ENGINE_POSTGRESQL)
		pg_resolve_on_loop(db, loop);
}

bool db_is_postgresql(const struct db *db)
{
	return db->engine == DB_ENGINE_POSTGRESQL;
}

bool db_unreachable(const struct db *db)
{
	return db->engine == DB_ENGINE_POSTGRESQL && pg_connection_down(db);
}

int db_data_version(struct db *db, int64_t *out)
{
	struct db_st *st;
	int rc;

	st = db_stmt(db, ST_DATA_VERSION);
	rc = st_step(st);
	if (rc == DB_ROW)
		*out = st_col_int64(st, 0);
	else
		rc = db_engine_error(db, "cannot read the data version");
	st_reset(st);
	return rc == DB_ROW ? 0 : rc;
}

int db_schema_version(struct db *db)
{
	int v = -1;

	return read_user_version(db, &v) ? -1 : v;
}

int db_schema_latest(void)
{
	return (int)schema_migration_count;
}

int db_insert_id(struct db *db, struct db_st *st, const char *what, int64_t *id)
{
	int rc;

	if (db->held)
		db_read_release(db);
	rc = st_step(st);
	if (rc == DB_ROW) {
		*id = st_col_int64(st, 0);
		rc = 0;
	} else {
		rc = db_engine_error(db, what);
	}
	st_reset(st);
	return rc;
}

void db_set_down_after(struct db *db, int64_t seconds)
{
	db->down_after = seconds > 0 ? seconds : 1;
}

int64_t db_down_after(const struct db *db)
{
	return db->down_after;
}

void db_excuse_stalls(struct db *db, int64_t seconds)
{
	db->excused = seconds > 0 ? seconds : 0;
}

int db_counts(struct db *db, int64_t now, struct db_counts *out)
{
	struct db_st *st = db_stmt(db, ST_COUNTS);
	int rc;

	st_bind_int64(st, 1, db_cutoff(db, now));
	rc = st_step(st);
	if (rc != DB_ROW) {
		rc = db_engine_error(db, "cannot count");
		st_reset(st);
		return rc;
	}
	out->lans = st_col_int64(st, 0);
	out->lans_up = st_col_int64(st, 1);
	out->secondaries = st_col_int64(st, 2);
	out->secondaries_up = st_col_int64(st, 3);
	out->active_calls = st_col_int64(st, 4);
	st_reset(st);
	return 0;
}

int db_status(struct db *db, int64_t now, json_t **out)
{
	struct db_st *st = db_stmt(db, ST_STATUS);
	static const char *const keys[] = {"lans", "secondaries", "secondaries_up", "hosts",
					   "users", "active_calls", "calls", "revoked"};
	int rc;

	st_bind_int64(st, 1, db_cutoff(db, now));
	rc = st_step(st);
	if (rc != DB_ROW) {
		rc = db_engine_error(db, "cannot count");
		st_reset(st);
		return rc;
	}
	*out = json_pack("{s:i, s:i}", "schema_version", db_schema_version(db),
			 "schema_latest", db_schema_latest());
	for (int i = 0; i < (int)(sizeof keys / sizeof keys[0]); i++)
		json_object_set_new(*out, keys[i], json_integer(st_col_int64(st, i)));
	st_reset(st);
	return 0;
}
