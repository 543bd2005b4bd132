#!/usr/bin/env bash
# Benchmark (not a test; prints figures): what the relay costs a trunk. One topology (the
# two sites and the principal of tests/netns, no NAT), one run, the same measurements
# a1 -> b1 twice:
#   direct   both secondaries with a [trunk] to each other, UDP between the gateways open;
#   relayed  the same trunk after an nftables rule in the wan namespace drops UDP between
#            the two gateways (as tests/netns/relay.sh): its frames go through the
#            principal's relay (insel-relay), the only path left.
# Each: iperf3 single-stream TCP (Gbit/s, retransmits), ping RTT (50 pings 20 ms apart),
# and the CPU time (utime + stime, /proc/PID/stat) the two auxiliaries and, relayed, the
# relay process used during the iperf3 run; plus the UDP receive-buffer and send-buffer
# drops the kernel counted in the principal's and the gateways' namespaces (nstat) over
# that run, the first place to look when the relayed figure falls short.
# Usage (root): bash tests/bench/relay.sh [BUILD-DIR] [SECONDS]
#   Build without sanitizers for figures that mean anything, e.g.
#   meson setup build-rel --buildtype=release -Doptimization=2 && ninja -C build-rel.
#   RELAY_RATE=BYTES_PER_S sets the principal's [relay] rate for the run.
set -uo pipefail
source "$(dirname "$0")/bench_lib.sh"
bench_build_arg "${1:-}" && shift
secs=${1:-5}
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
if [ -n "${RELAY_RATE:-}" ]; then
	INSEL_PRINCIPAL_CONF=$NETNS_TMP/principal.conf
	printf '[relay]\nrate = %s\n' "$RELAY_RATE" >"$INSEL_PRINCIPAL_CONF"
fi
insel_deploy || { echo "the deployment did not come up" >&2; exit 1; }
declare -A RESULT  # RESULT[path,measure]
# Which build: a sanitized or unoptimized one measures the sanitizer, not the relay.
python3 - "$INSEL_BUILD/meson-info/intro-buildoptions.json" <<'PY'
import json, sys
try:
    o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}
    print(f"build: {o['buildtype']}, -O{o['optimization']}, sanitizers: {o['b_sanitize']}")
    if o["b_sanitize"] not in ("none", []) or o["optimization"] in ("0", "g"):
        print("WARNING: not a release build; the figures say little")
except (OSError, KeyError, ValueError):
    print("build: unknown")
PY

cpu_ticks() {  # cpu_ticks PID...: utime + stime of those processes, in clock ticks
	local pid total=0
	for pid in "$@"; do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
	done
	echo "$total"
}
aux_pids() { ps -o pid= --ppid "${SECONDARY_PID[a]}"; ps -o pid= --ppid "${SECONDARY_PID[b]}"; }
# The relay: the principal's keeper's child (docs/relay.md, section 5).
relay_pid() {
	local keeper
	for keeper in $(ps -o pid= --ppid "$PRINCIPAL_PID"); do
		ps -o pid=,args= --ppid "$keeper" | awk '$2 ~ /insel-relay$/ {print $1}'
	done
}
udp_drops() {  # udp_drops NS: "rcvbuf N sndbuf N" since the last call in that namespace
	in_ns "$1" nstat -z 2>/dev/null | awk '
		$1 == "UdpRcvbufErrors" {r = $2} $1 == "UdpSndbufErrors" {s = $2}
		END {printf "rcvbuf %d sndbuf %d", r, s}'
}

measure() {  # measure PATH PID...: the PIDs whose CPU time counts
	local path=$1 out pid t0 t1 ns hz
	shift
	out=$(in_ns a1 ping -n -q -c 50 -i 0.02 -W 1 10.2.0.11 2>&1)
	RESULT[$path,ping]=$(sed -n 's/.*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p' <<<"$out")
	spawn_in_ns b1 "$NETNS_TMP/iperf-s.log" iperf3 -s -1 -p 5201
	pid=$LAST_PID
	wait_port b1 5201 tcp 5
	for ns in principal gw-a gw-b; do udp_drops "$ns" >/dev/null; done
	t0=$(cpu_ticks "$@")
	r0=$(cpu_ticks ${RELAY_PID:-})
	out=$(in_ns a1 timeout $((secs + 15)) iperf3 -c 10.2.0.11 -p 5201 -t "$secs" -J 2>&1)
	t1=$(cpu_ticks "$@")
	r1=$(cpu_ticks ${RELAY_PID:-})
	stop_pid "$pid"
	read -r RESULT[$path,gbps] RESULT[$path,retr] < <(python3 -c '
import json, sys
e = json.load(sys.stdin)["end"]
print("%.2f" % (e["sum_received"]["bits_per_second"] / 1e9),
      int(e["sum_sent"].get("retransmits", 0)))' <<<"$out" 2>/dev/null || echo "- -")
	hz=$(getconf CLK_TCK)
	RESULT[$path,cpu]=$(python3 -c "print(f'{($t1 - $t0) / $hz:.2f}')")
	RESULT[$path,relay_cpu]=$(python3 -c "print(f'{($r1 - $r0) / $hz:.2f}')")
	RESULT[$path,drops]=""
	for ns in principal gw-a gw-b; do
		RESULT[$path,drops]+="$ns: $(udp_drops "$ns"); "
	done
	printf '%-8s iperf3 TCP %s Gbit/s (%s retransmits), ping avg %s ms, CPU: auxiliaries %s s, relay %s s\n' \
		"$path" "${RESULT[$path,gbps]}" "${RESULT[$path,retr]}" "${RESULT[$path,ping]:--}" \
		"${RESULT[$path,cpu]}" "${RESULT[$path,relay_cpu]}"
	printf '%-8s UDP buffer drops during iperf3: %s\n' "$path" "${RESULT[$path,drops]}"
}

trunk_up() {  # trunk_up: both secondaries (re)started with a trunk; until ping passes
	local x
	for x in a b; do
		[ -n "${SECONDARY_PID[$x]:-}" ] && stop_pid "${SECONDARY_PID[$x]}"
	done
	start_secondary a 1 && start_secondary b 2 && wait_registered >/dev/null &&
		wait_ping a1 10.2.0.11 40
}

path_of() { insel_operator a calls 2>&1 | sed -n 's/^ *path: //p' | head -n 1; }

add_trunk a 1 to-b lan-b
add_trunk b 2 to-a lan-a
if trunk_up; then
	echo "direct   trunk path: $(path_of)"
	read -r -a pids < <(aux_pids | tr '\n' ' ')
	measure direct "${pids[@]}"
else
	echo "direct: the trunk did not come up"
fi

in_ns wan nft -f - <<'NFT'
table inet insel_relay_bench {
	chain between_gateways {
		type filter hook forward priority filter;
		ip saddr { 198.18.1.2, 198.18.2.2 } ip daddr { 198.18.1.2, 198.18.2.2 } meta l4proto udp drop
	}
}
NFT
if trunk_up; then
	path=$(path_of)
	echo "relayed  trunk path: $path"
	grep -q relayed <<<"$path" || echo "relayed: WARNING, the trunk is not relayed"
	read -r -a pids < <(aux_pids | tr '\n' ' ')
	RELAY_PID=$(relay_pid)
	measure relayed "${pids[@]}"
else
	echo "relayed: the trunk did not come up"
fi

echo
echo "---- summary (iperf3 $secs s single stream, a1 -> b1; ping: 50, 20 ms apart)"
printf '%-8s %7s %8s %8s %10s %12s\n' path Gbit/s retrans "ping ms" "aux CPU s" "relay CPU s"
for p in direct relayed; do
	printf '%-8s %7s %8s %8s %10s %12s\n' "$p" "${RESULT[$p,gbps]:--}" "${RESULT[$p,retr]:--}" \
		"${RESULT[$p,ping]:--}" "${RESULT[$p,cpu]:--}" "${RESULT[$p,relay_cpu]:--}"
done
python3 - "${RESULT[direct,gbps]:-}" "${RESULT[relayed,gbps]:-}" \
	"${RESULT[direct,ping]:-}" "${RESULT[relayed,ping]:-}" <<'PY'
import sys
try:
    d, r, dp, rp = map(float, sys.argv[1:])
    print(f"relayed against direct: {r / d * 100:.0f}% of the throughput, "
          f"round trip +{(rp - dp) * 1000:.0f} us")
except ValueError:
    print("relayed against direct: no figure (a trunk did not come up)")
PY
