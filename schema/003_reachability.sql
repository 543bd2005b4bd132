-- Signalling across NAT (docs/nat.md).
-- reachable: whether the secondary's peer endpoint could be dialled when it last
-- registered: 1 yes, 0 no, NULL not known (being checked, or never registered); as the
-- principal's connect-back check found it, or as the secondary declared it
-- ([peers] reachable = yes|no), which reachable_source says ('check' or 'declared').
ALTER TABLE secondaries ADD COLUMN reachable INTEGER CHECK (reachable IN (0, 1));
ALTER TABLE secondaries ADD COLUMN reachable_source TEXT
	CHECK (reachable_source IN ('check', 'declared'));

-- How a call's signalling connection was made: 'direct' (the caller dialled the callee),
-- 'reversed' (the callee dialled back) or 'spliced' (both dialled the principal).
ALTER TABLE calls ADD COLUMN signalling TEXT
	CHECK (signalling IN ('direct', 'reversed', 'spliced'));
