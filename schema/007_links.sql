-- Overlay links between gateways (docs/routing.md).
--
-- links: what one secondary measured to another gateway it talks to, as its last `links`
-- report said (one row per direction: from_id measured, to_id was measured).
--   kind         how the measured path went: 'direct', 'relayed' (through a relay) or
--                'tcp' (the relay's TLS-over-TCP fallback)
--   rtt_ms       smoothed round trip of the calls' path probes
--   loss_ppm     probes unanswered over the secondary's window, per million
--   probes       probes sent over that window
--   last_seen    when a probe was last answered (s)
--   measured_at  when the report arrived (s); a row older than 90 s is stale (left out of
--                routes), one older than an hour is deleted
CREATE TABLE links (
	from_id     INTEGER NOT NULL REFERENCES secondaries(id) ON DELETE CASCADE,
	to_id       INTEGER NOT NULL REFERENCES secondaries(id) ON DELETE CASCADE,
	kind        TEXT NOT NULL CHECK (kind IN ('direct', 'relayed', 'tcp')),
	rtt_ms      INTEGER NOT NULL CHECK (rtt_ms >= 0),
	loss_ppm    INTEGER NOT NULL CHECK (loss_ppm BETWEEN 0 AND 1000000),
	probes      INTEGER NOT NULL CHECK (probes >= 0),
	last_seen   INTEGER,
	measured_at INTEGER NOT NULL,
	PRIMARY KEY (from_id, to_id),
	CHECK (from_id <> to_id)
) WITHOUT ROWID;

-- link_settings: the operator's say on a link, both directions at once (a_id < b_id):
-- its cost is multiplied by weight and penalty_ms is added to its round trip
-- (`insel-principal link set A B --weight W --penalty MS`).
CREATE TABLE link_settings (
	a_id       INTEGER NOT NULL REFERENCES secondaries(id) ON DELETE CASCADE,
	b_id       INTEGER NOT NULL REFERENCES secondaries(id) ON DELETE CASCADE,
	weight     REAL NOT NULL DEFAULT 1 CHECK (weight BETWEEN 0.01 AND 1000),
	penalty_ms INTEGER NOT NULL DEFAULT 0 CHECK (penalty_ms BETWEEN 0 AND 600000),
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (a_id, b_id),
	CHECK (a_id < b_id)
) WITHOUT ROWID;

-- link_view: the link table with names, the operator's settings and whether the
-- measurement is fresh, e.g. sqlite3 principal.db 'SELECT * FROM link_view'.
CREATE VIEW link_view AS
SELECT f.name AS from_gateway, t.name AS to_gateway, l.kind, l.rtt_ms,
	round(l.loss_ppm / 10000.0, 2) AS loss_pct, l.probes, l.last_seen, l.measured_at,
	coalesce(s.weight, 1) AS weight, coalesce(s.penalty_ms, 0) AS penalty_ms,
	CASE WHEN l.measured_at < CAST(strftime('%s', 'now') AS INTEGER) - 90 THEN 'stale'
	     ELSE 'fresh' END AS state
FROM links l
JOIN secondaries f ON f.id = l.from_id
JOIN secondaries t ON t.id = l.to_id
LEFT JOIN link_settings s ON s.a_id = min(l.from_id, l.to_id)
	AND s.b_id = max(l.from_id, l.to_id);
