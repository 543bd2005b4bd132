-- 012_reserved: the number the session gave pgstore; a placeholder so that 015 has no gap
-- (embed.py refuses gaps). Replace this file by the real 012_*.sql when it lands.
SELECT 1;
