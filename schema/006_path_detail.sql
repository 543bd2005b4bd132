-- 006_path_detail: the TCP fallback as a data path of its own, how the path changed
-- during the call, and whether an IPv6 peer endpoint can be dialled.
--
-- `path` (004) said 'direct' or 'relayed' at `up`, so a call carried over the relay's
-- TLS-over-TCP fallback read 'relayed'. It now takes 'tcp' too: SQLite cannot change a
-- column's CHECK, so the column is made anew under the same name (its values kept).
--
-- The caller's secondary reports at the call's end where the data went last and how it
-- got there:
--   path_final         'direct', 'relayed' or 'tcp': the path when the call ended
--   path_final_remote  ADDRESS:PORT its frames went to then
--   path_changes       how many times the path moved after `up` (another kind, or another
--                      endpoint: a NAT rebinding, a re-probe, the fallback and back)
--   path_history       JSON array of the latest moves, oldest first, at most 8:
--                      [{"at":SECONDS_AFTER_START,"path":KIND,"remote":"ADDRESS:PORT"}]
-- All NULL (path_changes 0) for a call still active, or recorded by an older secondary.
ALTER TABLE calls ADD COLUMN path_up TEXT CHECK (path_up IN ('direct', 'relayed', 'tcp'));
UPDATE calls SET path_up = path;
ALTER TABLE calls DROP COLUMN path;
ALTER TABLE calls RENAME COLUMN path_up TO path;
ALTER TABLE calls ADD COLUMN path_final TEXT
	CHECK (path_final IN ('direct', 'relayed', 'tcp'));
ALTER TABLE calls ADD COLUMN path_final_remote TEXT;
ALTER TABLE calls ADD COLUMN path_changes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN path_history TEXT;

-- reachable6: whether a dual-stack secondary's IPv6 peer endpoint (endpoint6) could be
-- dialled, as `reachable` says it for `endpoint`: the principal's connect-back check dials
-- each of them; a declared [peers] reachable counts for both. NULL while not known, and
-- for a secondary with no endpoint6 (one with IPv6 only registers it as `endpoint`).
ALTER TABLE secondaries ADD COLUMN reachable6 INTEGER CHECK (reachable6 IN (0, 1));
