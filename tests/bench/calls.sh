#!/usr/bin/env bash
# Benchmark of UDP calls in the namespace topology (not a test: it prints figures).
#   - call set-up time, from the caller's secondary taking the request to the call being
#     up (its log), and as the user sees it (the whole `insel call` command, including
#     the TLS connection and the login), median and p99 over repeated calls;
#   - round trip of a small datagram through a call, against the same hosts over a direct
#     routed path across the same wan (routes added for the comparison only), and the
#     latency insel adds per direction;
#   - one-way UDP throughput through one call, against the direct path.
# Usage: tests/bench/calls.sh [BUILD-DIR]  (as root; default build/)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
export INSEL_BUILD
INSEL_BUILD=$(cd "${1:-$top/build}" && pwd)
CALLS=${CALLS:-50}
SECONDS_LOAD=${SECONDS_LOAD:-5}
source "$top/tests/netns/lib.sh"
source "$top/tests/netns/insel_env.sh"
UDPPERF=$INSEL_BUILD/tests/bench/udpperf
INSEL_IDLE=300s

netns_begin
topo_two_sites
insel_deploy
listen_as b1 bob "$NETNS_TMP/listen.log" --auto-answer
spawn_in_ns b1 "$NETNS_TMP/echo.log" python3 "$UDP_TOOL" echo 5004,5005 --count 100000 \
	--timeout 600

ms_now() { date +%s%N; }

echo "== call set-up, $CALLS calls one after another"
: >"$NETNS_TMP/client_ms"
for i in $(seq 1 "$CALLS"); do
	t0=$(ms_now)
	out=$(insel_as a1 alice call bob@lan-b --udp $((6000 + i)))
	t1=$(ms_now)
	echo $(((t1 - t0) / 1000)) >>"$NETNS_TMP/client_ms"
	insel_as a1 alice hangup "$(call_id_of "$out")" >/dev/null
done
python3 - "$NETNS_TMP/secondary-a.log" "$NETNS_TMP/client_ms" <<'PY'
import re, sys, statistics
from datetime import datetime
def ts(line):
    return datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
start, up = {}, {}
for line in open(sys.argv[1]):
    m = re.search(r"call ([0-9a-f]{16}): \S+ calls ", line)
    if m: start[m.group(1)] = ts(line)
    m = re.search(r"call ([0-9a-f]{16}) from .* is up", line)
    if m: up[m.group(1)] = ts(line)
server = sorted((up[c] - start[c]) * 1000 for c in up if c in start)
client = sorted(int(x) / 1000 for x in open(sys.argv[2]))
def pct(v, p): return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
print(f"secondary: request to call up  median {statistics.median(server):6.1f} ms  "
      f"p99 {pct(server, 99):6.1f} ms  ({len(server)} calls)")
print(f"user: whole `insel call`       median {statistics.median(client):6.1f} ms  "
      f"p99 {pct(client, 99):6.1f} ms  (TLS connect + login + call)")
PY

echo "== round trip of 64-byte datagrams (1000 each way, python client on a1, echo on b1)"
out=$(insel_as a1 alice call bob@lan-b --udp 5004)
call=$(call_id_of "$out")
via=$(in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 1000 --size 64 --timeout 60)
# A direct path for comparison: the wan learns the LANs (the gateways masquerade).
ip -n "${NS}wan" route add 10.1.0.0/24 via 198.18.1.2
ip -n "${NS}wan" route add 10.2.0.0/24 via 198.18.2.2
direct=$(in_ns a1 python3 "$UDP_TOOL" send 10.2.0.11 5004 --count 1000 --size 64 --timeout 60)
echo "through insel: $via"
echo "direct path:   $direct"
python3 - "$via" "$direct" <<'PY'
import re, sys
via = float(re.search(r"median rtt (\d+)", sys.argv[1]).group(1))
direct = float(re.search(r"median rtt (\d+)", sys.argv[2]).group(1))
print(f"insel adds {(via - direct) / 2:.0f} us per direction (median round trip "
      f"{via:.0f} us vs {direct:.0f} us)")
PY

echo "== one-way UDP throughput, 1200-byte datagrams for ${SECONDS_LOAD}s (udpperf, sendmmsg)"
spawn_in_ns b1 "$NETNS_TMP/sink-direct.log" "$UDPPERF" sink 5007 "$SECONDS_LOAD"
sleep 0.3
in_ns a1 "$UDPPERF" send 10.2.0.11 5007 1200 "$SECONDS_LOAD" >"$NETNS_TMP/send-direct.log"
wait "$LAST_PID" || true
ip -n "${NS}wan" route del 10.1.0.0/24
ip -n "${NS}wan" route del 10.2.0.0/24
out=$(insel_as a1 alice call bob@lan-b --udp 5006)
spawn_in_ns b1 "$NETNS_TMP/sink-insel.log" "$UDPPERF" sink 5006 "$SECONDS_LOAD"
sink_pid=$LAST_PID
sleep 0.3
in_ns a1 "$UDPPERF" send 10.1.0.1 5006 1200 "$SECONDS_LOAD" >"$NETNS_TMP/send-insel.log"
wait "$sink_pid" || true
echo "direct path:   $(cat "$NETNS_TMP/send-direct.log")"
echo "               $(cat "$NETNS_TMP/sink-direct.log")"
echo "through insel: $(cat "$NETNS_TMP/send-insel.log")"
echo "               $(cat "$NETNS_TMP/sink-insel.log")"
insel_as a1 alice calls --json | python3 -c '
import json, sys
for c in json.load(sys.stdin).get("calls", []):
    print("call", c["id"], "state", c["state"])' || true
echo "(2 cores shared by sender, both auxiliaries, sink and the kernel's forwarding)"
