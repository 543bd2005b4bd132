-- A directory of 10,000 rows in each table a listing reads: 10,000 secondaries, each
-- serving one LAN (lan-00001 ... lan-10000, prefix 10.X.Y.0/25: the
-- network's bytes all below 128, so that char() makes its blob; inserted from the highest
-- down, so that the overlap trigger's range scan finds nothing below each new one) with a user, a host and
-- a call record (half of them still active), and 10,000 revoked certificates. Applied
-- to a freshly migrated directory by tests/unit/test_api_listings.c and by
-- tests/bench/listing.sh, so that listings are tried at the size operators reach.
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO secondaries (id, name, fingerprint, serial, endpoint, last_heartbeat, state,
			 created_at)
SELECT i, printf('gw-%05d', i), printf('%064x', i), printf('%x', i),
       printf('198.18.%d.%d:7445', i / 256, i % 256), 1700000000, 'up', 1700000000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO lans (id, name, secondary_id, created_at)
SELECT i, printf('lan-%05d', i), i, 1700000000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO lan_prefixes (prefix, lan_id, family, network, last_addr, len)
SELECT printf('10.%d.%d.0/25', i / 100, i % 100), i, 4,
       CAST(char(10, i / 100, i % 100, 0) AS BLOB),
       CAST(char(10, i / 100, i % 100, 127) AS BLOB), 25 FROM n ORDER BY i DESC;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO hosts (name, lan_id, address, created_at)
SELECT printf('host-%05d', i), i, printf('10.%d.%d.7', i / 100, i % 100), 1700000000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO users (name, lan_id, password_hash, created_at)
SELECT printf('user%05d', i), i, 'pbkdf2-sha256$1000$c2FsdA$aGFzaA', 1700000000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO calls (id, caller, caller_lan, callee, callee_lan, started_at, ended_at,
		   bytes_up, bytes_down, end_reason, reported_by)
SELECT printf('%016x', i), printf('user%05d@lan-%05d', i, i), printf('lan-%05d', i),
       printf('user%05d@lan-%05d', 10001 - i, 10001 - i), printf('lan-%05d', 10001 - i),
       1700000000 + i, CASE WHEN i % 2 THEN 1700020000 + i END, i, i,
       CASE WHEN i % 2 THEN 'hangup' END, i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO revoked_certs (serial, name, reason, revoked_at)
SELECT printf('%x', 1000000 + i), printf('old-%05d', i), 'superseded', 1700000000 + i FROM n;
COMMIT;
