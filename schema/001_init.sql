-- 001_init: the principal's directory, first version.
--
-- Applied by insel-principal inside one transaction together with
-- "PRAGMA user_version = 1". Times are seconds since the Unix epoch (UTC); addresses and
-- prefixes are kept twice: as canonical text for people ("10.1.0.0/24") and as
-- fixed-length big-endian blobs (4 bytes for IPv4, 16 for IPv6) so that SQLite can compare
-- them numerically for overlap checks and longest-prefix match.
--
-- Read it with the plain shell, e.g.
--   sqlite3 /var/lib/insel/principal.db 'SELECT * FROM lan_health'

-- secondaries: one per LAN gateway, named as in its certificate.
--   fingerprint     SHA-256 of the certificate last seen (lowercase hex), NULL until
--                   the secondary first registers
--   serial          serial number of that certificate (lowercase hex)
--   pinned          1 if an operator fixed the fingerprint: registration with another
--                   certificate is then refused
--   endpoint        where other secondaries reach its peer protocol ("ADDR:PORT")
--   last_heartbeat  when it last registered or sent a heartbeat
--   state           'new' (never registered), 'up', 'down' (no heartbeat for the
--                   configured time)
CREATE TABLE secondaries (
	id             INTEGER PRIMARY KEY,
	name           TEXT NOT NULL UNIQUE,
	fingerprint    TEXT,
	serial         TEXT,
	pinned         INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
	endpoint       TEXT,
	last_heartbeat INTEGER,
	state          TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'up', 'down')),
	created_at     INTEGER NOT NULL
);

-- lans: one row per LAN (site); secondary_id is the gateway that serves it (NULL while
-- none does).
CREATE TABLE lans (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	secondary_id INTEGER REFERENCES secondaries(id) ON DELETE SET NULL,
	created_at   INTEGER NOT NULL
);
CREATE INDEX lans_by_secondary ON lans(secondary_id);

-- lan_prefixes: the address prefixes of each LAN. No two prefixes anywhere overlap
-- (the trigger below refuses it), so the prefix with the greatest network address not
-- above an address is the only one that can contain it: longest-prefix match is one
-- indexed query.
--   prefix   canonical text, host bits zero
--   family   4 or 6
--   network  first address (blob), last_addr  last address (blob), len  prefix length
CREATE TABLE lan_prefixes (
	prefix    TEXT PRIMARY KEY,
	lan_id    INTEGER NOT NULL REFERENCES lans(id) ON DELETE CASCADE,
	family    INTEGER NOT NULL CHECK (family IN (4, 6)),
	network   BLOB NOT NULL,
	last_addr BLOB NOT NULL,
	len       INTEGER NOT NULL
);
CREATE INDEX lan_prefixes_by_network ON lan_prefixes(family, network);
CREATE INDEX lan_prefixes_by_lan ON lan_prefixes(lan_id);

CREATE TRIGGER lan_prefixes_no_overlap BEFORE INSERT ON lan_prefixes
WHEN EXISTS (SELECT 1 FROM lan_prefixes p
	     WHERE p.family = NEW.family AND p.network <= NEW.last_addr
	       AND NEW.network <= p.last_addr)
BEGIN
	SELECT RAISE(ABORT, 'prefix overlaps an existing LAN prefix');
END;

-- hosts: named hosts, each with one address inside a prefix of its LAN.
CREATE TABLE hosts (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	lan_id     INTEGER NOT NULL REFERENCES lans(id) ON DELETE CASCADE,
	address    TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);
CREATE INDEX hosts_by_lan ON hosts(lan_id);

-- users: people who place calls, known as name@lan. password_hash is
-- "pbkdf2-sha256$ITERATIONS$SALT_HEX$KEY_HEX" (see principal/passwd.h).
CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL,
	lan_id        INTEGER NOT NULL REFERENCES lans(id) ON DELETE CASCADE,
	password_hash TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	UNIQUE (name, lan_id)
);

-- calls: one record per call, written by the secondaries.
--   id           16 hex digits chosen by the caller's secondary
--   caller/callee  as the users asked ("alice@lan-a", a host name or an address)
--   channels     JSON array describing the channels ('[{"type":"udp",...}]')
--   bytes_up     caller -> callee, bytes_down callee -> caller
--   end_reason   'hangup', 'timeout', 'peer_lost', 'refused', ... (NULL while active)
--   reported_by  the secondary that recorded the start
CREATE TABLE calls (
	id          TEXT PRIMARY KEY,
	caller      TEXT NOT NULL,
	caller_lan  TEXT NOT NULL,
	callee      TEXT NOT NULL,
	callee_lan  TEXT,
	channels    TEXT NOT NULL DEFAULT '[]',
	started_at  INTEGER NOT NULL,
	ended_at    INTEGER,
	bytes_up    INTEGER NOT NULL DEFAULT 0,
	bytes_down  INTEGER NOT NULL DEFAULT 0,
	end_reason  TEXT,
	reported_by INTEGER REFERENCES secondaries(id) ON DELETE SET NULL
);
CREATE INDEX calls_active ON calls(ended_at) WHERE ended_at IS NULL;
CREATE INDEX calls_by_start ON calls(started_at);

-- revoked_certs: certificates no longer accepted, by serial (lowercase hex). Checked at
-- every TLS handshake of the principal and fetched by secondaries.
CREATE TABLE revoked_certs (
	serial     TEXT PRIMARY KEY,
	name       TEXT,
	reason     TEXT,
	revoked_at INTEGER NOT NULL
);

-- active_calls: calls not yet ended, with how long they have lasted.
CREATE VIEW active_calls AS
SELECT id, caller, caller_lan, callee, callee_lan, channels,
       datetime(started_at, 'unixepoch') AS started,
       CAST(strftime('%s', 'now') AS INTEGER) - started_at AS seconds
FROM calls WHERE ended_at IS NULL ORDER BY started_at;

-- lan_health: every LAN with its prefixes, its secondary, and how that secondary is.
CREATE VIEW lan_health AS
SELECT l.name AS lan,
       (SELECT group_concat(p.prefix, ' ') FROM lan_prefixes p WHERE p.lan_id = l.id)
	       AS prefixes,
       s.name AS secondary, s.endpoint, s.state,
       datetime(s.last_heartbeat, 'unixepoch') AS last_heartbeat,
       (SELECT count(*) FROM hosts h WHERE h.lan_id = l.id) AS hosts,
       (SELECT count(*) FROM users u WHERE u.lan_id = l.id) AS users
FROM lans l LEFT JOIN secondaries s ON s.id = l.secondary_id ORDER BY l.name;
