-- 011_listing_indexes: what the listings need to stay linear at 10,000 rows.
--
-- `lan list` (and the API's list of LANs) counts each LAN's users; users had only the
-- (name, lan_id) index of their UNIQUE constraint, so every LAN scanned every user:
-- 25 s for 10,000 LANs and users, 1 s with this index (EXPLAIN QUERY PLAN of
-- ST_LAN_LIST: "SEARCH u USING COVERING INDEX users_by_lan (lan_id=?)").
CREATE INDEX users_by_lan ON users(lan_id);
