#!/usr/bin/env bash
# Benchmark (not a test; prints figures): a site-to-site trunk against the raw routed
# path and two yardstick tunnels between the same namespaces, in one run of the netns
# topology of tests/netns. The same measurements on every path, a1 -> b1:
#   - iperf3 single-stream TCP;
#   - ping (one per 20 ms: iputils ping spins on sched_yield below 10 ms, taking a whole
#     CPU from the tunnel it measures);
#   - UDP request/response round trips (udpperf pingpong against udpperf echo on b1), back
#     to back, 1 ms apart and 10 ms apart: the longer the gap, the colder the CPUs and the
#     dearer every process wake-up on the way; then the same with every process of the
#     path (the tunnel's, the echo and the probe) pinned to CPU 0, where a wake-up is a
#     plain context switch instead of an interrupt to another, halted, virtual CPU: what
#     the tunnel itself costs, apart from where the scheduler puts its processes.
# Paths, one after the other:
#   raw      temporary routes in the wan namespace join the two LANs (gw-a's masquerade
#            still applies);
#   socat    a plain TUN <-> UDP relay in each gateway (unconnected UDP: an early datagram
#            refused by the peer must not end it), no encryption: what any userspace
#            tunnel pays for its wake-ups and copies, the floor for insel's design;
#   openvpn  OpenVPN 2.6, peer to peer with TLS and AES-256-GCM, no kernel offload: an
#            established userspace VPN;
#   insel    both secondaries with a [trunk] to each other; plus the CPU time both
#            auxiliaries used (utime + stime from /proc/PID/stat) per gigabyte carried,
#            and (insel-v6) iperf3 over IPv6 through the same dual-stack trunk.
# socat and openvpn come with `bash deploy/install-deps.sh --bench`; without them their
# rows are skipped.
# Usage (root): bash tests/bench/tun.sh [BUILD-DIR] [SECONDS]
#   (or INSEL_BUILD=/tmp/build bash tests/bench/tun.sh [SECONDS]). INSEL_TUN_OFFLOAD=off
#   runs the auxiliaries without the TUN offloads (docs/tun.md), for comparison.
set -uo pipefail
source "$(dirname "$0")/bench_lib.sh"
bench_build_arg "${1:-}" && shift
source "$here/lib.sh"
# Dual-stack LANs in the directory: the trunk carries IPv6 too (the insel-v6 row).
INSEL_IPV6=1
source "$here/insel_env.sh"
secs=${1:-5}
udpperf=$INSEL_BUILD/tests/bench/udpperf
[ -x "$udpperf" ] || { echo "no $udpperf: build first" >&2; exit 1; }
netns_begin
topo_two_sites
declare -A RESULT  # RESULT[path,measure]

iperf_run() {  # iperf_run PATH [DST -6]: Gbit/s into RESULT, bytes left in $IPERF_BYTES
	local out pid bps retr
	spawn_in_ns b1 "$NETNS_TMP/iperf-s.log" iperf3 -s -1 -p 5201
	pid=$LAST_PID
	wait_port b1 5201 tcp 5 || return 1
	out=$(in_ns a1 timeout $((secs + 15)) iperf3 ${3:-} -c "${2:-10.2.0.11}" -p 5201 \
		-t "$secs" -J 2>&1)
	stop_pid "$pid"
	read -r bps IPERF_BYTES retr < <(python3 -c '
import json, sys
e = json.load(sys.stdin)["end"]
print(int(e["sum_received"]["bits_per_second"]), int(e["sum_received"]["bytes"]),
      int(e["sum_sent"].get("retransmits", 0)))' <<<"$out" 2>/dev/null || echo "0 0 0")
	RESULT[$1,gbps]=$(python3 -c "print(f'{$bps / 1e9:.2f}')")
	printf '%-8s iperf3 TCP single stream: %s Gbit/s (%d retransmits)\n' "$1" \
		"${RESULT[$1,gbps]}" "$retr"
}

udp_round_trips() {  # udp_round_trips PATH KEY GAP-US [taskset CPU]: median into RESULT
	local count=$(($3 == 10000 ? 200 : 2000)) out
	out=$(in_ns a1 ${4:+taskset -c "$4"} "$udpperf" pingpong 10.2.0.11 7000 64 "$count" "$3" 2>&1)
	RESULT[$1,$2]=$(sed -n 's/.*median \([0-9.]*\).*/\1/p' <<<"$out" | awk '{printf "%.0f", $1}')
	printf '%-8s UDP round trips, %5d us apart%s: %s\n' "$1" "$3" "${4:+, on CPU $4}" "$out"
}

latency_run() {  # latency_run PATH [PID...]: ping and UDP round trips into RESULT (us)
	local out gap pid path=$1
	shift
	out=$(in_ns a1 ping -n -q -c 50 -i 0.02 -W 1 10.2.0.11 2>&1)
	RESULT[$path,ping]=$(sed -n 's/.*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p' <<<"$out" |
		awk '{printf "%.0f", $1 * 1000}')
	printf '%-8s ping -i 0.02 RTT min/avg/max/mdev: %s ms\n' "$path" \
		"$(sed -n 's/.*= \([0-9.\/]*\) ms/\1/p' <<<"$out")"
	for gap in 0 1000 10000; do
		udp_round_trips "$path" "udp$gap" "$gap"
	done
	for pid in "$ECHO_PID" "$@"; do
		taskset -pc 0 "$pid" >/dev/null
	done
	for gap in 0 1000; do
		udp_round_trips "$path" "cpu0_$gap" "$gap" 0
	done
	for pid in "$ECHO_PID" "$@"; do
		taskset -pc 0-$(($(nproc) - 1)) "$pid" >/dev/null
	done
}

measure() {  # measure PATH [PID...]: the PIDs are the tunnel's processes
	latency_run "$@"
	iperf_run "$1"
	PATHS+=("$1")
}

# ---- yardsticks ----
socat_up() {
	local x n peer
	for x in a b; do
		n=$([ $x = a ] && echo 1 || echo 2)
		peer=$([ $x = a ] && echo 2 || echo 1)
		spawn_in_ns "gw-$x" "$NETNS_TMP/socat-$x.log" socat \
			"UDP-DATAGRAM:198.18.$peer.2:9000,bind=198.18.$n.2:9000" \
			"TUN:10.99.0.$n/30,tun-name=st0,iff-no-pi,up"
		YARDSTICK_PIDS+=("$LAST_PID")
	done
	for x in a b; do
		for _ in $(seq 50); do
			ip -n "${NS}gw-$x" link show st0 >/dev/null 2>&1 && break
			sleep 0.1
		done
	done
	if ! ip -n "${NS}gw-a" route add 10.2.0.0/24 dev st0 ||
		! ip -n "${NS}gw-b" route add 10.1.0.0/24 dev st0; then
		echo "socat did not come up:" >&2
		tail -n 3 "$NETNS_TMP"/socat-*.log >&2
		return 1
	fi
}

openvpn_up() {  # peer to peer with TLS; certificates from insel's own PKI
	local x n peer role
	for x in a b; do
		n=$([ $x = a ] && echo 1 || echo 2)
		peer=$([ $x = a ] && echo 2 || echo 1)
		role=$([ $x = a ] && echo --tls-client || echo --tls-server)
		spawn_in_ns "gw-$x" "$NETNS_TMP/openvpn-$x.log" openvpn --dev ov0 --dev-type tun \
			--ifconfig "10.98.0.$n" "10.98.0.$peer" --local "198.18.$n.2" --lport 1194 \
			--remote "198.18.$peer.2" --rport 1194 $role --dh none --ca "$PKI/ca.crt" \
			--cert "$PKI/lan-$x.crt" --key "$PKI/lan-$x.key" --data-ciphers AES-256-GCM \
			--route "10.$peer.0.0" 255.255.255.0 --verb 3
		YARDSTICK_PIDS+=("$LAST_PID")
	done
	for _ in $(seq 100); do
		grep -q "Initialization Sequence Completed" "$NETNS_TMP/openvpn-a.log" &&
			grep -q "Initialization Sequence Completed" "$NETNS_TMP/openvpn-b.log" &&
			return 0
		sleep 0.1
	done
	echo "openvpn did not come up:" >&2
	tail -5 "$NETNS_TMP/openvpn-a.log" >&2
	return 1
}

yardstick() {  # yardstick NAME: brings NAME's tunnel up (NAME_up), measures, stops it
	local pid
	if ! command -v "$1" >/dev/null; then
		echo "$1 skipped: not installed (bash deploy/install-deps.sh --bench)"
		return
	fi
	YARDSTICK_PIDS=()
	"$1_up" && measure "$1" "${YARDSTICK_PIDS[@]}"
	for pid in "${YARDSTICK_PIDS[@]}"; do
		stop_pid "$pid"
	done
}

auxiliaries() {  # both secondaries' children
	ps -o pid= --ppid "${SECONDARY_PID[a]}"
	ps -o pid= --ppid "${SECONDARY_PID[b]}"
}

aux_ticks() {  # sum of utime+stime (clock ticks) of the auxiliaries
	local pid total=0
	for pid in $(auxiliaries); do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
	done
	echo "$total"
}

PATHS=()
spawn_in_ns b1 "$NETNS_TMP/echo.log" "$udpperf" echo 7000 3600
ECHO_PID=$LAST_PID
wait_port b1 7000 udp 5

# ---- 1. the raw routed path ----
ip -n "${NS}wan" route add 10.1.0.0/24 via 198.18.1.2
ip -n "${NS}wan" route add 10.2.0.0/24 via 198.18.2.2
measure raw
ip -n "${NS}wan" route del 10.1.0.0/24 via 198.18.1.2
ip -n "${NS}wan" route del 10.2.0.0/24 via 198.18.2.2

insel_pki
# ---- 2. yardsticks ----
yardstick socat
yardstick openvpn

# ---- 3. through an insel trunk ----
insel_directory
start_principal
start_trunk_pair
hz=$(getconf CLK_TCK)
latency_run insel $(auxiliaries)
t0=$(aux_ticks)
iperf_run insel
t1=$(aux_ticks)
PATHS+=(insel)
if wait_ping a1 fd02::11 10; then
	iperf_run insel-v6 fd02::11 -6
	PATHS+=(insel-v6)
fi
stop_pid "$ECHO_PID"

echo
row='%-8s %7s %8s %9s %9s %9s %10s %10s\n'
printf "$row" path Gbit/s "ping us" "udp b2b" "udp 1ms" "udp 10ms" "cpu0 b2b" "cpu0 1ms"
for p in "${PATHS[@]}"; do
	printf "$row" "$p" "${RESULT[$p,gbps]:--}" "${RESULT[$p,ping]:--}" "${RESULT[$p,udp0]:--}" \
		"${RESULT[$p,udp1000]:--}" "${RESULT[$p,udp10000]:--}" "${RESULT[$p,cpu0_0]:--}" \
		"${RESULT[$p,cpu0_1000]:--}"
done
echo "(latency in us: ping average, UDP round-trip medians; cpu0: every process of the path"
echo " on CPU 0; each tunnel's \"added\" is its row minus raw's)"
python3 - "$t0" "$t1" "$hz" "$IPERF_BYTES" <<'PY'
import sys
t0, t1, hz, nbytes = map(float, sys.argv[1:])
cpu = (t1 - t0) / hz
if nbytes:
    print(f"insel auxiliaries' CPU: {cpu:.2f} s for {nbytes/1e9:.2f} GB = "
          f"{cpu/(nbytes/1e9):.2f} CPU-s per GB (both ends together)")
PY
for p in socat openvpn insel; do
	[ -n "${RESULT[$p,udp0]:-}" ] || continue
	printf 'added by %-8s ping %4s us; UDP round trip %4s us back to back, %4s at 1 ms, %4s at 10 ms; on CPU 0: %4s back to back, %4s at 1 ms\n' \
		"$p" $((${RESULT[$p,ping]:-0} - ${RESULT[raw,ping]:-0})) \
		$((${RESULT[$p,udp0]:-0} - ${RESULT[raw,udp0]:-0})) \
		$((${RESULT[$p,udp1000]:-0} - ${RESULT[raw,udp1000]:-0})) \
		$((${RESULT[$p,udp10000]:-0} - ${RESULT[raw,udp10000]:-0})) \
		$((${RESULT[$p,cpu0_0]:-0} - ${RESULT[raw,cpu0_0]:-0})) \
		$((${RESULT[$p,cpu0_1000]:-0} - ${RESULT[raw,cpu0_1000]:-0}))
done
