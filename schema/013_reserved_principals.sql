-- 013_reserved: the number the session gave principals; a placeholder so that 015 has no gap
-- (embed.py refuses gaps). Replace this file by the real 013_*.sql when it lands.
SELECT 1;
