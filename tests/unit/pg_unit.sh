#!/usr/bin/env bash
# Runs a unit test program of the directory on PostgreSQL: one PostgreSQL 15 cluster for
# the whole program (tests/netns/pg_lib.sh, in a temporary folder, removed at exit), and
# INSEL_TEST_PG_DSN naming its database, where db_scratch.h gives each test a schema of
# its own. SKIP (77) without the PostgreSQL server binaries.
#   pg_unit.sh PROGRAM [ARGS...]
set -uo pipefail
source "$(dirname "$0")/../netns/pg_lib.sh"
pg_begin
pg_init unit || exit 1
pg_start unit || exit 1
pg_createdb unit insel || exit 1
INSEL_TEST_PG_DSN=$(pg_dsn unit insel)
export INSEL_TEST_PG_DSN
"$@"
