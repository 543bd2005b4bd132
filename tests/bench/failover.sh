#!/usr/bin/env bash
# Benchmark (not a test; prints figures): failover gap mid-call (issue 13). A trunk
# between two public gateways (direct path, the principal's relay as warm standby) carries
# a ping stream every 10 ms; CUTS times, the direct path is cut (an nftables rule in the
# wan router drops UDP between the two gateways' wan addresses), the gap from the cut to
# the first reply through the relay is measured from the ping timestamps, the rule is
# removed and the trunk waits to be back on direct (after the hold) before the next cut.
# Prints each gap, then median and max, and the time back to direct (hysteresis) median
# and max. With LOAD=1 an iperf3 TCP transfer runs through the trunk during each cut.
# Usage (root): bash tests/bench/failover.sh [BUILD-DIR] [CUTS]
set -uo pipefail
source "$(dirname "$0")/bench_lib.sh"
bench_build_arg "${1:-}" && shift
cuts=${1:-20}
load=${LOAD:-0}
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/failover_lib.sh"
netns_begin
topo_two_sites
insel_pki
insel_directory
start_principal
start_trunk_pair
wait_trunk_path a "direct to $GW_B:" 10 || fail "the trunk is not direct"
sleep 1

gaps=() backs=()
for i in $(seq "$cuts"); do
	if [ "$load" = 1 ]; then
		spawn_in_ns b1 "$NETNS_TMP/iperf-s.log" iperf3 -s -1 -p 5201
		srv=$LAST_PID
		wait_port b1 5201 tcp 5 >/dev/null
		spawn_in_ns a1 "$NETNS_TMP/iperf-c.log" timeout 20 iperf3 -c 10.2.0.11 -p 5201 -t 4
		cli=$LAST_PID
	fi
	spawn_in_ns a2 "$NETNS_TMP/ping-$i.log" ping -D -n -i 0.01 -c 400 -w 5 10.2.0.12
	ping_pid=$LAST_PID
	sleep 1
	cut_direct || fail "cannot cut"
	cut=$(now_s)
	wait_trunk_path a "relayed to $RELAY" 5 || echo "cut $i: A did not show the relay" >&2
	reap_pid "$ping_pid"
	read -r gap lost <<<"$(ping_gap "$NETNS_TMP/ping-$i.log" "$cut")"
	if [ "$load" = 1 ]; then
		wait "$cli" || echo "cut $i: iperf3 failed" >&2
		stop_pid "$srv"
	fi
	restore_direct
	back=$(now_s)
	if wait_trunk_path a "direct to $GW_B:" 20 && wait_trunk_path b "direct to $GW_A:" 10; then
		took=$(python3 -c "import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" \
			"$back" "$(now_s)")
	else
		took=-1
	fi
	echo "cut $i: gap ${gap} ms ($lost pings lost), back to direct after ${took} ms"
	gaps+=("$gap")
	backs+=("$took")
	sleep 1
done
ids=$(call_ids a)
python3 - "${gaps[*]}" "${backs[*]}" "$ids" <<'PY'
import statistics, sys
gaps = [int(x) for x in sys.argv[1].split() if int(x) >= 0]
backs = [int(x) for x in sys.argv[2].split() if int(x) >= 0]
print("failover gap over %d cuts: median %d ms, max %d ms, min %d ms" %
      (len(gaps), statistics.median(gaps), max(gaps), min(gaps)))
print("back to direct after the rule went: median %d ms, max %d ms" %
      (statistics.median(backs), max(backs)))
print("trunk call(s) at the end: %s" % sys.argv[3])
PY
grep -h "take_path: .*path changed" "$NETNS_TMP/secondary-a.log" | grep -c . |
	sed 's/^/path notices on A (failovers and switches back): /'
