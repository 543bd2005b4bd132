#!/usr/bin/env bash
# The start the loopback tests of the principal's daemons share (principal_api.sh,
# relay.sh, stun.sh): where the build is, a temp dir for this run, the daemons the test
# started stopped and the dir removed on every exit path, and the count of checks. Loopback
# only; no namespaces, no root needed.
#
# Use:  source "$(dirname "$0")/daemon_test.sh"; daemon_test_begin NAME
# Then: $build, $P (insel-principal), $tmp (/tmp/insel-NAME.XXXXXX); the daemon whose PID
# the test keeps in $pid, and those it adds to DAEMON_PIDS, are killed and waited for at
# exit; check LABEL COMMAND... counts a check that passes if the command succeeds
# ($checks, $failures).

daemon_test_cleanup() {
	local p
	for p in $pid "${DAEMON_PIDS[@]}"; do
		[ -n "$p" ] || continue
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}

daemon_test_begin() {  # daemon_test_begin NAME
	build=${INSEL_BUILD:-$(dirname "$0")/../../build}
	P=$build/principal/insel-principal
	tmp=$(mktemp -d "/tmp/insel-$1.XXXXXX")
	pid=""
	DAEMON_PIDS=()
	failures=0
	checks=0
	trap daemon_test_cleanup EXIT
}

check() {  # check LABEL COMMAND...: the command must succeed
	checks=$((checks + 1))
	if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1"; failures=$((failures + 1)); fi
}
