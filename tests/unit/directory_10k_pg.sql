-- directory_10k.sql in PostgreSQL's words (the same rows): 10,000 secondaries, each
-- serving one LAN (lan-00001 ... lan-10000, prefix 10.X.Y.0/25) with a user, a host and
-- a call record (half of them still active), and 10,000 revoked certificates. Applied to
-- a freshly migrated directory by tests/unit/test_api_listings.c on PostgreSQL (suite pg),
-- then ANALYZE, so that the planner knows the tables' sizes as a running directory's
-- statistics would.
BEGIN;
INSERT INTO secondaries (id, name, fingerprint, serial, endpoint, last_heartbeat, state,
			 created_at)
SELECT i, format('gw-%s', lpad(i::text, 5, '0')), lpad(to_hex(i), 64, '0'), to_hex(i),
       format('198.18.%s.%s:7445', i / 256, i % 256), 1700000000, 'up', 1700000000
FROM generate_series(1, 10000) AS i;
INSERT INTO lans (id, name, secondary_id, created_at)
SELECT i, format('lan-%s', lpad(i::text, 5, '0')), i, 1700000000
FROM generate_series(1, 10000) AS i;
INSERT INTO lan_prefixes (prefix, lan_id, family, network, last_addr, len)
SELECT format('10.%s.%s.0/25', i / 100, i % 100), i, 4,
       decode(format('0a%s%s00', lpad(to_hex(i / 100), 2, '0'), lpad(to_hex(i % 100), 2, '0')), 'hex'),
       decode(format('0a%s%s7f', lpad(to_hex(i / 100), 2, '0'), lpad(to_hex(i % 100), 2, '0')), 'hex'),
       25
FROM generate_series(10000, 1, -1) AS i;
INSERT INTO hosts (name, lan_id, address, created_at)
SELECT format('host-%s', lpad(i::text, 5, '0')), i, format('10.%s.%s.7', i / 100, i % 100),
       1700000000
FROM generate_series(1, 10000) AS i;
INSERT INTO users (name, lan_id, password_hash, created_at)
SELECT format('user%s', lpad(i::text, 5, '0')), i, 'pbkdf2-sha256$1000$c2FsdA$aGFzaA', 1700000000
FROM generate_series(1, 10000) AS i;
INSERT INTO calls (id, caller, caller_lan, callee, callee_lan, started_at, ended_at,
		   bytes_up, bytes_down, end_reason, reported_by)
SELECT lpad(to_hex(i), 16, '0'),
       format('user%s@lan-%s', lpad(i::text, 5, '0'), lpad(i::text, 5, '0')),
       format('lan-%s', lpad(i::text, 5, '0')),
       format('user%s@lan-%s', lpad((10001 - i)::text, 5, '0'), lpad((10001 - i)::text, 5, '0')),
       format('lan-%s', lpad((10001 - i)::text, 5, '0')),
       1700000000 + i, CASE WHEN i % 2 = 1 THEN 1700020000 + i END, i, i,
       CASE WHEN i % 2 = 1 THEN 'hangup' END, i
FROM generate_series(1, 10000) AS i;
INSERT INTO revoked_certs (serial, name, reason, revoked_at)
SELECT to_hex(1000000 + i), format('old-%s', lpad(i::text, 5, '0')), 'superseded', 1700000000 + i
FROM generate_series(1, 10000) AS i;
COMMIT;
ANALYZE;
