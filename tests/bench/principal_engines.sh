#!/usr/bin/env bash
# bench-principal on both directory engines in one run: first a SQLite file, then a
# PostgreSQL 15 cluster this script starts in a temporary folder (tests/netns/pg_lib.sh,
# unix socket, removed at exit). Same directory (1,000 LANs, 100,000 hosts, 10,000 users),
# same load; prints each run's figures (look-ups/s, p50/p99, the principal's memory).
#   principal_engines.sh BUILD_DIR [BUILD_DIR...] [bench-principal options, e.g. --connections 200 --seconds 5]
# With several build directories (an older build first, to compare), each engine is
# measured with each build in turn, each on a directory of its own (generated alike).
# A benchmark, not a test (not in run.sh).
set -uo pipefail
builds=()
while [ $# -gt 0 ] && [ -d "$1" ]; do
	builds+=("$1")
	shift
done
[ ${#builds[@]} -gt 0 ] || { echo "usage: principal_engines.sh BUILD_DIR [BUILD_DIR...] [OPTIONS]"; exit 2; }
source "$(dirname "$0")/../netns/pg_lib.sh"
pg_begin
pg_init bench && pg_start bench || exit 1

for build in "${builds[@]}"; do
	echo "==== engine: sqlite, build $build"
	"$build/tests/bench/bench-principal" "$build/principal/insel-principal" "$@" || exit 1
	echo
done
n=0
for build in "${builds[@]}"; do
	n=$((n + 1))
	pg_createdb bench "insel$n" || exit 1
	echo "==== engine: postgresql (PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), unix socket), build $build"
	"$build/tests/bench/bench-principal" "$build/principal/insel-principal" \
		--dsn "$(pg_dsn bench "insel$n")" "$@" || exit 1
	echo
done
# The server's share: the postmaster and its children (the principal's backend among them).
pm=$(head -1 "$PG_ROOT/bench/data/postmaster.pid")
echo "postgresql server: peak resident memory (VmHWM) of the postmaster and its children:"
for p in "$pm" $(pgrep -P "$pm"); do
	awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null
done | awk '{s += $1} END {printf "  %.1f MiB summed (shared buffers counted in each)\n", s / 1024}'
