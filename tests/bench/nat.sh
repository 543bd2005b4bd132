#!/usr/bin/env bash
# Benchmark (not a test; prints figures): calls and trunks across NAT, on the NAT test bed
# of tests/netns/nat_lib.sh, one topology after another:
#   direct    the caller behind a port-preserving NAT, the callee public (the caller
#             dials, the data path is direct);
#   reversed  the caller public, the callee behind a port-preserving NAT (the callee's
#             gateway cannot be dialled: connection reversal, then punching);
#   punched   both behind full-cone NATs (eim; neither can be dialled: the principal
#             splices the signalling, the data path is punched);
#   masquerade  both behind port-preserving NATs (Linux masquerade, the common home
#             router): punched after the callee primed its NAT with low-TTL probes;
#   masquerade-unprimed  the same with [nat] prime_ttl = 0 on both sides (what it was
#             before priming: the callee's probes make the caller's router remap, the
#             call goes through the relay);
#   relayed   both behind NATs with a port per destination (masquerade random): the data
#             goes through the principal's relay.
# For each: call set-up time over CALLS calls placed one after the other (median, p99,
# max), measured twice: by the caller's secondary (from the call's first state to "up",
# its log's timestamps) and by the client (`insel call` until it prints "up", login
# included); the path the calls took as `insel calls` shows it. Then a trunk between the
# two sites of each topology: iperf3 single-stream TCP and ping RTT, and what the relayed
# trunk adds against the direct one. A topology whose feature is missing from this build
# says so in its row (the calls do not come up) instead of a figure. tests/bench/relay.sh
# measures the relay's cost alone: one topology, the same trunk direct and then relayed,
# with the relay's CPU time.
# Usage (root): bash tests/bench/nat.sh [BUILD-DIR] [CALLS] [SECONDS]
set -uo pipefail
source "$(dirname "$0")/bench_lib.sh"
bench_build_arg "${1:-}" && shift
calls=${1:-30}
secs=${2:-5}
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/nat_lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root" >&2; exit 77; }
RESULTS=$(mktemp /tmp/insel-bench-nat.XXXXXX)
trap 'rm -f "$RESULTS"' EXIT

# ms_of TIMESTAMP: milliseconds since the epoch of a log line's "2026-...T..:..:..sssZ".
ms_of() { date -d "$1" +%s%3N; }

# stats LABEL VALUES...: "LABEL median M p99 P max X (n N)" in ms.
stats() {
	local label=$1
	shift
	python3 - "$label" "$@" <<'PY'
import sys
label, vals = sys.argv[1], sorted(float(v) for v in sys.argv[2:])
if not vals:
    print(f"{label}: no call came up")
else:
    p99 = vals[min(len(vals) - 1, int(round(0.99 * (len(vals) - 1))))]
    med = vals[len(vals) // 2] if len(vals) % 2 else (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]) / 2
    print(f"{label}: median {med:.0f} ms, p99 {p99:.0f} ms, max {vals[-1]:.0f} ms (n {len(vals)})")
PY
}

# setup_times NAME: CALLS calls alice (a1) -> bob (b1), one after the other, each hung up
# once up; prints the two set-up times and the paths seen, and records them in RESULTS.
setup_times() {
	local name=$1 i out id t0 t1 secondary=() client=() failed=0 path first up why=""
	listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || return 1
	for i in $(seq 1 "$calls"); do
		t0=$(date +%s%3N)
		out=$(insel_as a1 alice call bob@lan-b --udp $((6000 + i)) 2>&1)
		t1=$(date +%s%3N)
		id=$(call_id_of "$out")
		if [ -z "$id" ] || ! contains "$out" " up "; then
			failed=$((failed + 1))
			why=$(head -n 1 <<<"$out")
			[ "$failed" -ge 3 ] && [ "${#client[@]}" -eq 0 ] && break
			continue
		fi
		client+=($((t1 - t0)))
		path=$(sed -n 's/^ *path: //p' <<<"$out" | head -n 1)
		echo "${path:-no path shown}" >>"$NETNS_TMP/paths"
		first=$(grep -m 1 "call $id: " "$NETNS_TMP/secondary-a.log" | cut -d' ' -f1)
		up=$(grep -m 1 "call $id from .* is up" "$NETNS_TMP/secondary-a.log" | cut -d' ' -f1)
		if [ -n "$first" ] && [ -n "$up" ]; then
			secondary+=($(($(ms_of "$up") - $(ms_of "$first"))))
		fi
		insel_as a1 alice hangup "$id" >/dev/null 2>&1
		wait_aux_count a 0 5
	done
	{
		echo "== $name: $calls calls, $failed did not come up${why:+ ($why)}"
		stats "$name set-up, caller's secondary" "${secondary[@]}"
		stats "$name set-up, client (login included)" "${client[@]}"
		if [ -s "$NETNS_TMP/paths" ]; then
			echo "$name paths:"
			sed -E 's/[0-9]+ ms/N ms/g; s/:[0-9]+/:P/g' "$NETNS_TMP/paths" | sort | uniq -c
		fi
	} | tee -a "$RESULTS"
	[ "${#client[@]}" -gt 0 ]
}

# trunk_figures NAME: a trunk between the two sites; iperf3 and ping a1 -> b1.
trunk_figures() {
	local name=$1 out pid rtt rate
	stop_pid "${SECONDARY_PID[a]}"
	stop_pid "${SECONDARY_PID[b]}"
	add_trunk a 1 to-b lan-b
	add_trunk b 2 to-a lan-a
	start_secondary a 1 && start_secondary b 2
	if ! wait_ping a1 10.2.0.11 40; then
		echo "== $name trunk: did not come up" | tee -a "$RESULTS"
		return
	fi
	out=$(insel_operator a calls 2>&1)
	echo "$out" | sed -n 's/^ *path: /trunk path: /p'
	out=$(in_ns a1 ping -n -q -c 50 -i 0.02 -W 1 10.2.0.11 2>&1)
	rtt=$(sed -n 's/.*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p' <<<"$out")
	spawn_in_ns b1 "$NETNS_TMP/iperf-s.log" iperf3 -s -1 -p 5201
	pid=$LAST_PID
	wait_port b1 5201 tcp 5
	out=$(in_ns a1 timeout $((secs + 15)) iperf3 -c 10.2.0.11 -p 5201 -t "$secs" -J 2>&1)
	stop_pid "$pid"
	rate=$(python3 -c '
import json, sys
print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' \
		<<<"$out" 2>/dev/null || echo "-")
	echo "== $name trunk: iperf3 TCP $rate Gbit/s, ping RTT avg ${rtt:--} ms" | tee -a "$RESULTS"
	echo "trunk $name $rate ${rtt:-}" >>"$RESULTS"
}

# topology NAME KIND-A KIND-B [PRIME-TTL]: one topology from scratch, in a subshell of its
# own (its namespaces and processes go when it ends); with PRIME-TTL, both secondaries'
# [nat] prime_ttl.
topology() {
	(
		netns_begin
		nat_two_sites "$2" "$3"
		if [ -n "${4:-}" ]; then
			PKI=$NETNS_TMP/pki  # where insel_deploy will put it
			write_secondary_config a 1
			write_secondary_config b 2
			printf '[nat]\nprime_ttl = %s\n' "$4" | tee -a "$NETNS_TMP/secondary-a.conf" \
				>>"$NETNS_TMP/secondary-b.conf"
		fi
		insel_deploy || { echo "== $1: the deployment did not come up" | tee -a "$RESULTS"; exit 0; }
		# A topology none of whose calls came up (its feature is missing) has no trunk.
		setup_times "$1" && trunk_figures "$1"
	)
}

topology direct preserve none
topology reversed none preserve
topology punched eim eim
topology masquerade preserve preserve
topology masquerade-unprimed preserve preserve 0
topology relayed random random

echo
echo "---- summary ($calls calls each; trunks: iperf3 $secs s, 50 pings 20 ms apart)"
grep -v '^trunk ' "$RESULTS" | grep -E '^==|set-up'
python3 - "$RESULTS" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "trunk" and len(f) == 4:
        rows[f[1]] = (f[2], f[3])
d, r = rows.get("direct"), rows.get("relayed")
try:
    print(f"relayed trunk against direct: {float(r[0]):.2f} vs {float(d[0]):.2f} Gbit/s, "
          f"round trip +{(float(r[1]) - float(d[1])) * 1000:.0f} us")
except (TypeError, ValueError, IndexError):
    print("relayed trunk against direct: no figure (one of the two trunks did not come up)")
PY
