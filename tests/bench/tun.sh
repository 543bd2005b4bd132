#!/usr/bin/env bash
# Benchmark (not a test; prints figures): a site-to-site trunk against the raw routed
# path between the same namespaces, in one run of the netns topology of tests/netns.
#   1. raw: temporary routes in the wan namespace join the two LANs directly (gw-a's
#      masquerade still applies); iperf3 single-stream TCP a1 -> b1 and ping RTT;
#   2. the routes go, both secondaries start with a [trunk] to each other; the same
#      iperf3 and ping through the trunk, plus the CPU time both auxiliaries used
#      (utime + stime from /proc/PID/stat) per gigabyte carried.
# Usage (root): bash tests/bench/tun.sh [BUILD-DIR] [SECONDS]
#   (or INSEL_BUILD=/tmp/build bash tests/bench/tun.sh [SECONDS]). INSEL_TUN_OFFLOAD=off
#   runs the auxiliaries without the TUN offloads (docs/tun.md), for comparison.
set -uo pipefail
here=$(cd "$(dirname "$0")/../netns" && pwd)
if [ $# -gt 0 ] && [ -d "$1" ]; then
	export INSEL_BUILD
	INSEL_BUILD=$(cd "$1" && pwd)
	shift
fi
source "$here/lib.sh"
source "$here/insel_env.sh"
secs=${1:-5}
netns_begin
topo_two_sites

iperf_run() {  # iperf_run LABEL: prints Gbit/s and leaves bytes in $IPERF_BYTES
	local out
	spawn_in_ns b1 "$NETNS_TMP/iperf-s.log" iperf3 -s -1 -p 5201
	local pid=$LAST_PID
	wait_port b1 5201 tcp 5 || return 1
	out=$(in_ns a1 timeout $((secs + 15)) iperf3 -c 10.2.0.11 -p 5201 -t "$secs" -J 2>&1)
	stop_pid "$pid"
	read -r IPERF_BPS IPERF_BYTES IPERF_RETR < <(python3 -c '
import json, sys
e = json.load(sys.stdin)["end"]
print(int(e["sum_received"]["bits_per_second"]), int(e["sum_received"]["bytes"]),
      int(e["sum_sent"].get("retransmits", 0)))' <<<"$out" 2>/dev/null || echo "0 0 0")
	printf '%-8s iperf3 TCP single stream a1 -> b1: %6.2f Gbit/s (%d retransmits)\n' \
		"$1" "$(python3 -c "print($IPERF_BPS / 1e9)")" "$IPERF_RETR"
}

# ping_run LABEL: round trips a1 -> b1 at two rates. Back to back (-i 0.005) the
# auxiliaries stay awake; at -i 0.05 every packet wakes both of them (and the raw path's
# softirqs) from idle, which costs more on every path: compare like with like.
ping_run() {
	local out interval
	for interval in 0.005 0.05; do
		out=$(in_ns a1 ping -n -q -c 100 -i "$interval" -W 1 10.2.0.11 2>&1)
		printf '%-8s ping -i %-5s a1 -> b1 RTT min/avg/max/mdev: %s ms\n' "$1" "$interval" \
			"$(sed -n 's/.*= \([0-9.\/]*\) ms/\1/p' <<<"$out")"
		if [ "$interval" = 0.005 ]; then
			PING_AVG=$(sed -n 's/.*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p' <<<"$out")
		else
			PING_AVG_SLOW=$(sed -n 's/.*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p' <<<"$out")
		fi
	done
}

aux_ticks() {  # sum of utime+stime (clock ticks) of both secondaries' children
	local pid total=0
	for pid in $(ps -o pid= --ppid "${SECONDARY_PID[a]}") $(ps -o pid= --ppid "${SECONDARY_PID[b]}"); do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
	done
	echo "$total"
}

# ---- 1. the raw routed path ----
ip -n "${NS}wan" route add 10.1.0.0/24 via 198.18.1.2
ip -n "${NS}wan" route add 10.2.0.0/24 via 198.18.2.2
ping_run raw
raw_rtt=$PING_AVG
raw_rtt_slow=$PING_AVG_SLOW
iperf_run raw
raw_bps=$IPERF_BPS
ip -n "${NS}wan" route del 10.1.0.0/24 via 198.18.1.2
ip -n "${NS}wan" route del 10.2.0.0/24 via 198.18.2.2

# ---- 2. through a trunk ----
insel_pki
insel_directory
start_principal
start_trunk_pair
ping_run trunk
trunk_rtt=$PING_AVG
trunk_rtt_slow=$PING_AVG_SLOW
hz=$(getconf CLK_TCK)
t0=$(aux_ticks)
iperf_run trunk
t1=$(aux_ticks)
trunk_bps=$IPERF_BPS
python3 - "$raw_bps" "$trunk_bps" "$raw_rtt" "$trunk_rtt" "$t0" "$t1" "$hz" "$IPERF_BYTES" \
	"$raw_rtt_slow" "$trunk_rtt_slow" <<'PY'
import sys
raw, trunk, raw_rtt, trunk_rtt, t0, t1, hz, nbytes, raw_slow, trunk_slow = sys.argv[1:]
raw, trunk, t0, t1, hz, nbytes = map(float, (raw, trunk, t0, t1, hz, nbytes))
added = float(trunk_rtt or 0) - float(raw_rtt or 0)
added_slow = float(trunk_slow or 0) - float(raw_slow or 0)
print(f"summary: trunk {trunk/1e9:.2f} Gbit/s = {100*trunk/raw if raw else 0:.1f}% of raw "
      f"{raw/1e9:.2f} Gbit/s; RTT added {added:.3f} ms back to back, "
      f"{added_slow:.3f} ms at one ping per 50 ms")
cpu = (t1 - t0) / hz
if nbytes:
    print(f"auxiliaries' CPU: {cpu:.2f} s for {nbytes/1e9:.2f} GB = {cpu/(nbytes/1e9):.2f} "
          f"CPU-s per GB (both ends together)")
PY
