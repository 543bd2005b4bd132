-- The data path of a call (docs/auxiliary.md section 4b): how its frames went when it came
-- up, as its caller's auxiliary found by probing: 'direct' (a candidate of the peer
-- answered) or 'relayed' (through a relay), and where to (the endpoint answered).
ALTER TABLE calls ADD COLUMN path TEXT CHECK (path IN ('direct', 'relayed'));
ALTER TABLE calls ADD COLUMN path_remote TEXT;
