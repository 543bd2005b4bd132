-- 008_standby: a LAN may have more than one gateway (docs/standby.md).
--
-- lans.secondary_id stays the LAN's *active* gateway: the one that holds the LAN address,
-- the one every look-up names and the only one that may record calls. lan_gateways lists
-- every secondary the operator allowed to serve a LAN, with its priority (higher wins
-- when two start at once): `insel-principal secondary add NAME --lan LAN --priority N`.
-- A gateway registers as "standby" (it keeps its link, so the principal sees it alive)
-- and as "active" once it took the LAN address over; an active registration moves
-- lans.secondary_id to it and stamps active_since.
--
--   sqlite3 /var/lib/insel/principal.db 'SELECT * FROM lan_gateway_roles'
CREATE TABLE lan_gateways (
	secondary_id INTEGER PRIMARY KEY REFERENCES secondaries(id) ON DELETE CASCADE,
	lan_id       INTEGER NOT NULL REFERENCES lans(id) ON DELETE CASCADE,
	priority     INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 254)
);
CREATE INDEX lan_gateways_by_lan ON lan_gateways(lan_id);

-- When the LAN's active gateway last changed by a registration (NULL: never since the
-- operator bound it).
ALTER TABLE lans ADD COLUMN active_since INTEGER;

-- lan_gateway_roles: each LAN's gateways, active first, then by priority.
CREATE VIEW lan_gateway_roles AS
SELECT l.name AS lan, s.name AS secondary, g.priority,
       CASE WHEN l.secondary_id = s.id THEN 'active' ELSE 'standby' END AS role,
       s.state, s.endpoint, datetime(s.last_heartbeat, 'unixepoch') AS last_heartbeat
FROM lan_gateways g JOIN lans l ON l.id = g.lan_id JOIN secondaries s ON s.id = g.secondary_id
ORDER BY l.name, role, g.priority DESC;
