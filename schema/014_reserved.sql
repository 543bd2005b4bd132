-- 014_reserved: a placeholder for the migration 014 of this session's relconn work, so that
-- the numbers stay without gaps (embed.py) while the branches land; that migration
-- replaces this file (remove it and its line in meson.build).
SELECT 1;
