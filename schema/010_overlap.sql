-- 010_overlap: LANs with overlapping prefixes (docs/overlap.md). Two branch offices may
-- both be 192.168.1.0/24 when the operator says so: each such LAN gets a mapped prefix,
-- the same length as its IPv4 prefix, by which every other LAN reaches its hosts
-- (lan-a 192.168.1.0/24 as 10.99.1.0/24, lan-b 192.168.1.0/24 as 10.99.2.0/24).
--
-- The rules the schema keeps (the C code checks first, to name what clashes):
--   * two LAN prefixes overlap only if they are IPv4, of different LANs, and both LANs
--     have a mapped prefix (before: never);
--   * a mapped prefix overlaps no other mapped prefix and no LAN's IPv4 prefix, and a
--     LAN prefix added later overlaps no mapped prefix;
--   * hosts of two LANs may share an address; within a LAN an address is one host's.
-- lan_prefixes and hosts are rebuilt for the last two keys (a prefix, an address, was
-- unique across the directory); lan_health, the one view over them, is made again as it
-- was.

DROP VIEW lan_health;

-- lan_maps: a LAN's mapped prefix (IPv4). network and last_addr as in lan_prefixes.
CREATE TABLE lan_maps (
	lan_id    INTEGER PRIMARY KEY REFERENCES lans(id) ON DELETE CASCADE,
	prefix    TEXT NOT NULL UNIQUE,
	network   BLOB NOT NULL CHECK (length(network) = 4),
	last_addr BLOB NOT NULL CHECK (length(last_addr) = 4),
	len       INTEGER NOT NULL CHECK (len BETWEEN 8 AND 32)
);
CREATE INDEX lan_maps_by_network ON lan_maps(network);

CREATE TABLE lan_prefixes_new (
	prefix    TEXT NOT NULL,
	lan_id    INTEGER NOT NULL REFERENCES lans(id) ON DELETE CASCADE,
	family    INTEGER NOT NULL CHECK (family IN (4, 6)),
	network   BLOB NOT NULL,
	last_addr BLOB NOT NULL,
	len       INTEGER NOT NULL,
	PRIMARY KEY (prefix, lan_id)
);
INSERT INTO lan_prefixes_new (prefix, lan_id, family, network, last_addr, len)
	SELECT prefix, lan_id, family, network, last_addr, len FROM lan_prefixes;
DROP TABLE lan_prefixes;
ALTER TABLE lan_prefixes_new RENAME TO lan_prefixes;
CREATE INDEX lan_prefixes_by_network ON lan_prefixes(family, network);
CREATE INDEX lan_prefixes_by_lan ON lan_prefixes(lan_id);

CREATE TRIGGER lan_prefixes_no_overlap BEFORE INSERT ON lan_prefixes
WHEN EXISTS (SELECT 1 FROM lan_prefixes p
	     WHERE p.family = NEW.family AND p.network <= NEW.last_addr
	       AND NEW.network <= p.last_addr
	       AND NOT (NEW.family = 4 AND p.lan_id != NEW.lan_id
			AND EXISTS (SELECT 1 FROM lan_maps m WHERE m.lan_id = NEW.lan_id)
			AND EXISTS (SELECT 1 FROM lan_maps m WHERE m.lan_id = p.lan_id)))
BEGIN
	SELECT RAISE(ABORT, 'prefix overlaps an existing LAN prefix');
END;

CREATE TRIGGER lan_prefixes_not_mapped BEFORE INSERT ON lan_prefixes
WHEN NEW.family = 4 AND EXISTS (SELECT 1 FROM lan_maps m
				WHERE m.network <= NEW.last_addr AND NEW.network <= m.last_addr)
BEGIN
	SELECT RAISE(ABORT, 'prefix overlaps a mapped prefix');
END;

CREATE TRIGGER lan_maps_no_overlap BEFORE INSERT ON lan_maps
WHEN EXISTS (SELECT 1 FROM lan_maps m
	     WHERE m.network <= NEW.last_addr AND NEW.network <= m.last_addr)
  OR EXISTS (SELECT 1 FROM lan_prefixes p
	     WHERE p.family = 4 AND p.network <= NEW.last_addr AND NEW.network <= p.last_addr)
BEGIN
	SELECT RAISE(ABORT, 'mapped prefix overlaps a mapped or a LAN prefix');
END;

CREATE TRIGGER lan_maps_no_overlap_update BEFORE UPDATE OF network, last_addr ON lan_maps
WHEN EXISTS (SELECT 1 FROM lan_maps m
	     WHERE m.lan_id != NEW.lan_id
	       AND m.network <= NEW.last_addr AND NEW.network <= m.last_addr)
  OR EXISTS (SELECT 1 FROM lan_prefixes p
	     WHERE p.family = 4 AND p.network <= NEW.last_addr AND NEW.network <= p.last_addr)
BEGIN
	SELECT RAISE(ABORT, 'mapped prefix overlaps a mapped or a LAN prefix');
END;

CREATE TABLE hosts_new (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	lan_id     INTEGER NOT NULL REFERENCES lans(id) ON DELETE CASCADE,
	address    TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (lan_id, address)
);
INSERT INTO hosts_new (id, name, lan_id, address, created_at)
	SELECT id, name, lan_id, address, created_at FROM hosts;
DROP TABLE hosts;
ALTER TABLE hosts_new RENAME TO hosts;
CREATE INDEX hosts_by_address ON hosts(address);

CREATE VIEW lan_health AS
SELECT l.name AS lan,
       (SELECT group_concat(p.prefix, ' ') FROM lan_prefixes p WHERE p.lan_id = l.id)
	       AS prefixes,
       s.name AS secondary, s.endpoint, s.state,
       datetime(s.last_heartbeat, 'unixepoch') AS last_heartbeat,
       (SELECT count(*) FROM hosts h WHERE h.lan_id = l.id) AS hosts,
       (SELECT count(*) FROM users u WHERE u.lan_id = l.id) AS users
FROM lans l LEFT JOIN secondaries s ON s.id = l.secondary_id ORDER BY l.name;
