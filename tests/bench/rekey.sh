#!/usr/bin/env bash
# Benchmark (not a test; prints figures): what the key exchanges within a call cost a
# busy trunk. iperf3 single-stream TCP a1 -> b1 through a site-to-site trunk, once with
# the default rekey_interval (120 s: no exchange during the run) and once with an
# exchange every second; for each, throughput, TCP retransmissions, and the epochs the
# trunk went through (insel calls --json on gw-a), so that a gap at a switch-over would
# show as retransmissions or a throughput dip.
# Usage (root): bash tests/bench/rekey.sh [BUILD-DIR] [SECONDS]
set -uo pipefail
source "$(dirname "$0")/bench_lib.sh"
bench_build_arg "${1:-}" && shift
secs=${1:-10}
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_pki
insel_directory
start_principal

trunk_epoch() {
	insel_operator a calls --json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin.read().splitlines():
    if line.strip().startswith("{"):
        for call in json.loads(line).get("calls", []):
            if any("trunk" in ch for ch in call.get("channels", [])):
                print(call.get("epoch", 0)); sys.exit(0)
print(0)'
}

measure() {  # measure INTERVAL
	local out pid e0 e1
	for x in a b; do
		rm -f "$NETNS_TMP/secondary-$x.conf"
	done
	INSEL_REKEY_INTERVAL=$1
	add_trunk a 1 to-b lan-b
	add_trunk b 2 to-a lan-a
	start_secondary a 1
	start_secondary b 2
	wait_ping a1 10.2.0.11 40 || { echo "the trunk did not come up" >&2; return 1; }
	spawn_in_ns b1 "$NETNS_TMP/iperf-s.log" iperf3 -s -1 -p 5201
	pid=$LAST_PID
	wait_port b1 5201 tcp 5
	e0=$(trunk_epoch)
	out=$(in_ns a1 timeout $((secs + 15)) iperf3 -c 10.2.0.11 -p 5201 -t "$secs" -J 2>&1)
	e1=$(trunk_epoch)
	stop_pid "$pid"
	python3 -c '
import json, sys
e = json.load(sys.stdin)["end"]
print("rekey_interval %-5s  %6.2f Gbit/s  %5d retransmits  epochs %s -> %s" % (
    sys.argv[1], e["sum_received"]["bits_per_second"] / 1e9,
    e["sum_sent"].get("retransmits", 0), sys.argv[2], sys.argv[3]))' "$1" "$e0" "$e1" <<<"$out"
	stop_pid "${SECONDARY_PID[a]}"
	stop_pid "${SECONDARY_PID[b]}"
}

echo "iperf3 a1 -> b1 through a trunk, $secs s each"
measure 120s
measure 1s
