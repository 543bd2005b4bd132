-- 015_room_host6: IPv6 rooms (docs/rooms.md). A member host's IPv6 address on its own LAN
-- (host6), which its gateway maps 1:1 to the member's IPv6 room address (address6), as it
-- maps host to address. NULL when the host said none or the room has no IPv6 network.
ALTER TABLE room_members ADD COLUMN host6 TEXT
	CHECK (host6 IS NULL OR length(host6) BETWEEN 2 AND 45);

-- An IPv6 network must hold every slot the IPv4 one has (a member has one number in both):
-- len6 - len <= 96. Checked when a room is made; rooms made earlier all keep it (the
-- operator's and the API's checks refused nothing of the kind, but did not check it).
CREATE TRIGGER rooms_network6_holds_slots BEFORE INSERT ON rooms
WHEN NEW.len6 IS NOT NULL AND NEW.len6 - NEW.len > 96
BEGIN
	SELECT RAISE(ABORT, 'the room''s IPv6 network is too small for its IPv4 network');
END;

DROP VIEW room_member_view;
CREATE VIEW room_member_view AS
SELECT r.name AS room, u.name || '@' || l.name AS user, l.name AS lan, m.host, m.host6,
       m.address, m.address6, datetime(m.joined_at, 'unixepoch') AS joined
FROM room_members m JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.user_id
JOIN lans l ON l.id = u.lan_id ORDER BY r.name, m.slot;
