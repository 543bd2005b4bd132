-- 014_reserved: the number the session gave roomaux; a placeholder so that 015 has no gap
-- (embed.py refuses gaps). Replace this file by the real 014_*.sql when it lands.
SELECT 1;
