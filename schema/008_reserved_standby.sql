-- 008: a placeholder, empty, so that the migrations stay numbered without a gap until
-- the real 008 of branch standby lands; that branch deletes this file (embed.py refuses two
-- migrations of one number). A directory migrated through this placeholder never gets
-- the real one: only development copies should ever run it.
SELECT 1;
