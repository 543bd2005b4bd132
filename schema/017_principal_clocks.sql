-- 017_principal_clocks: each serving principal's clock (docs/principals.md, "Judging
-- silence"). A principal judges its gateways' silence on its own running time: a stall of
-- its loop (its process stopped, its host or disk overloaded) is no gateway's silence, and
-- is excused until it has run down_after again (principal/stall_clock.h). It writes here,
-- at each sweep, when it last ran and the cut-off it judges with, so that whoever reads
-- the directory directly (`insel-principal lan list`, `secondary list`, `status`) judges
-- with the same one: silence only up to the principal's last run, its down_after, its
-- excused seconds. One row per run of `insel-principal serve` (run: the name its mailbox
-- uses, unique per run), removed when it stops; any principal deletes rows not written
-- for a day (those of one killed). BIGINT: epoch seconds outlive PostgreSQL's integer.
CREATE TABLE principal_clocks (
	run        TEXT PRIMARY KEY,
	listen     TEXT NOT NULL,
	ticked_at  BIGINT NOT NULL,
	period_ms  BIGINT NOT NULL CHECK (period_ms > 0),
	down_after BIGINT NOT NULL CHECK (down_after > 0),
	excused    BIGINT NOT NULL CHECK (excused >= 0)
);
