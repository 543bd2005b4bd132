-- 005_endpoint6: a dual-stack secondary's IPv6 peer endpoint.
--
-- A secondary whose wan has both families registers two peer endpoints: `endpoint` (its
-- IPv4 one, which every secondary with IPv4 dials) and `endpoint6` (its IPv6 one, which
-- secondaries whose wan has IPv6 only dial instead). NULL for a secondary with one
-- family, or one that never said.
ALTER TABLE secondaries ADD COLUMN endpoint6 TEXT;
