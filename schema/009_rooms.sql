-- 009_rooms: virtual LANs ("rooms") across sites (docs/rooms.md): the rooms, their
-- members with the room address the principal gave each, the users banned from each, and
-- a record of what happened to them.
--
-- A room's name becomes the name of a network interface on the gateways of its members'
-- sites, so it is held to what Linux accepts there and a shell does not mangle: 1 to 15
-- of a-z 0-9 _ -, starting with a letter or a digit. Room addresses are kept as a slot,
-- the host number inside the room's network (1 .. 2^(32-len) - 2: never the network or
-- the broadcast address); the IPv4 address is the network plus the slot, and so is the
-- IPv6 one when the room has an IPv6 network, so that one member has one number in both.

-- rooms
--   network, len     the IPv4 network as text ("172.30.0.0/24") and its length (8..30)
--   net              the network address as a 4-byte big-endian blob
--   network6, len6   the optional IPv6 network (length 64..120), NULL when none
--   password_hash    the join password, "pbkdf2-sha256$ITER$SALT$KEY" (principal/passwd.h)
--   admin_user_id    the user who administers it (NULL: only the operator does)
--   capacity         how many members it takes at most
CREATE TABLE rooms (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE
			CHECK (length(name) BETWEEN 1 AND 15
			       AND name NOT GLOB '*[^a-z0-9_-]*'
			       AND substr(name, 1, 1) GLOB '[a-z0-9]'),
	network       TEXT NOT NULL,
	net           BLOB NOT NULL CHECK (length(net) = 4),
	len           INTEGER NOT NULL CHECK (len BETWEEN 8 AND 30),
	network6      TEXT,
	len6          INTEGER CHECK (len6 IS NULL OR len6 BETWEEN 64 AND 120),
	password_hash TEXT NOT NULL CHECK (password_hash LIKE 'pbkdf2-sha256$%'),
	admin_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
	capacity      INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	CHECK ((network6 IS NULL) = (len6 IS NULL)),
	CHECK (capacity BETWEEN 1 AND (1 << (32 - len)) - 2)
);

-- room_members: who is in a room, from which host, at which room address.
--   host      the member host's address on its own LAN, as its gateway saw it
--   slot      the room address's host number (see above); address is its text form and
--             address6 the IPv6 one (NULL when the room has no IPv6 network)
-- One user joins a room once per host; a slot is held by one member at a time (UNIQUE),
-- and is free again once that member leaves.
CREATE TABLE room_members (
	room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	host      TEXT NOT NULL CHECK (length(host) BETWEEN 2 AND 45),
	slot      INTEGER NOT NULL CHECK (slot >= 1),
	address   TEXT NOT NULL,
	address6  TEXT,
	joined_at INTEGER NOT NULL,
	PRIMARY KEY (room_id, user_id, host),
	UNIQUE (room_id, slot)
);
CREATE INDEX room_members_by_user ON room_members(user_id);

-- room_bans: users who may not join a room until unbanned.
CREATE TABLE room_bans (
	room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	banned_by TEXT NOT NULL,
	banned_at INTEGER NOT NULL,
	PRIMARY KEY (room_id, user_id)
);

-- The rules a member row must keep, whoever writes it: inside the room's network and
-- neither its network nor its broadcast address, not banned, not past the capacity.
CREATE TRIGGER room_members_in_network BEFORE INSERT ON room_members
WHEN NEW.slot > (SELECT (1 << (32 - r.len)) - 2 FROM rooms r WHERE r.id = NEW.room_id)
BEGIN
	SELECT RAISE(ABORT, 'room address outside the room''s network');
END;

CREATE TRIGGER room_members_not_banned BEFORE INSERT ON room_members
WHEN EXISTS (SELECT 1 FROM room_bans b
	     WHERE b.room_id = NEW.room_id AND b.user_id = NEW.user_id)
BEGIN
	SELECT RAISE(ABORT, 'user banned from the room');
END;

CREATE TRIGGER room_members_capacity BEFORE INSERT ON room_members
WHEN (SELECT count(*) FROM room_members m WHERE m.room_id = NEW.room_id)
     >= (SELECT r.capacity FROM rooms r WHERE r.id = NEW.room_id)
BEGIN
	SELECT RAISE(ABORT, 'room full');
END;

-- A ban takes the user out of the room at once.
CREATE TRIGGER room_bans_evict AFTER INSERT ON room_bans
BEGIN
	DELETE FROM room_members WHERE room_id = NEW.room_id AND user_id = NEW.user_id;
END;

-- room_events: what happened to rooms, newest last. Names are kept as text so that the
-- record outlives the room and the users it names.
--   kind     create, join, leave, kick, ban, unban, password, delete
--   user     the user it concerns ("alice@lan-a"), NULL for create, password, delete
--   host, address  for join, leave and kick: the member host and its room address
--   by       who did it: a user ("bob@lan-b") or 'operator'
CREATE TABLE room_events (
	id      INTEGER PRIMARY KEY,
	room    TEXT NOT NULL,
	kind    TEXT NOT NULL CHECK (kind IN ('create', 'join', 'leave', 'kick', 'ban',
					   'unban', 'password', 'delete')),
	user    TEXT,
	host    TEXT,
	address TEXT,
	by      TEXT NOT NULL,
	at      INTEGER NOT NULL
);
CREATE INDEX room_events_by_room ON room_events(room, id);

-- room_view: every room with its administrator and how full it is.
CREATE VIEW room_view AS
SELECT r.name AS room, r.network, r.network6,
       (SELECT u.name || '@' || l.name FROM users u JOIN lans l ON l.id = u.lan_id
	WHERE u.id = r.admin_user_id) AS admin,
       r.capacity,
       (SELECT count(*) FROM room_members m WHERE m.room_id = r.id) AS members,
       (SELECT count(*) FROM room_bans b WHERE b.room_id = r.id) AS banned,
       datetime(r.created_at, 'unixepoch') AS created
FROM rooms r ORDER BY r.name;

-- room_member_view: every member of every room with its room address.
CREATE VIEW room_member_view AS
SELECT r.name AS room, u.name || '@' || l.name AS user, l.name AS lan, m.host,
       m.address, m.address6, datetime(m.joined_at, 'unixepoch') AS joined
FROM room_members m JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.user_id
JOIN lans l ON l.id = u.lan_id ORDER BY r.name, m.slot;
