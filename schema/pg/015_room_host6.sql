-- 015_room_host6 on PostgreSQL (the common step's trigger and view in PostgreSQL's words):
-- a member host's IPv6 address on its own LAN, and an IPv6 network that holds every slot
-- of the IPv4 one.
ALTER TABLE room_members ADD COLUMN host6 text
	CHECK (host6 IS NULL OR length(host6) BETWEEN 2 AND 45);

CREATE FUNCTION rooms_network6_holds_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.len6 IS NOT NULL AND NEW.len6 - NEW.len > 96 THEN
		RAISE EXCEPTION 'the room''s IPv6 network is too small for its IPv4 network';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER rooms_network6_holds_slots BEFORE INSERT ON rooms
FOR EACH ROW EXECUTE FUNCTION rooms_network6_holds_slots();

DROP VIEW room_member_view;
CREATE VIEW room_member_view AS
SELECT r.name AS room, u.name || '@' || l.name AS "user", l.name AS lan, m.host, m.host6,
       m.address, m.address6, insel_datetime(m.joined_at) AS joined
FROM room_members m JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.user_id
JOIN lans l ON l.id = u.lan_id ORDER BY r.name, m.slot;
