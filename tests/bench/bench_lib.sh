#!/usr/bin/env bash
# Sourced first by the benchmarks that run in the netns topology: $here is tests/netns
# (lib.sh, insel_env.sh and the rest), and bench_build_arg takes the optional BUILD-DIR
# that each takes as its first argument:
#   source "$(dirname "$0")/bench_lib.sh"
#   bench_build_arg "${1:-}" && shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../netns" && pwd)

# Status 0, with INSEL_BUILD exported as that build, if ARG is a directory (the caller then
# shifts it off); 1 otherwise (INSEL_BUILD, if set, or the default build is used).
bench_build_arg() {  # bench_build_arg ARG
	[ -n "$1" ] && [ -d "$1" ] || return 1
	export INSEL_BUILD
	INSEL_BUILD=$(cd "$1" && pwd)
}
