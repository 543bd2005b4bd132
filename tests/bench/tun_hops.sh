#!/usr/bin/env bash
# Where a round trip through a trunk spends its time (not a test; prints figures): pings
# a1 -> b1 through a trunk while tcpdump timestamps each packet at six points (gw-a's LAN
# bridge and TUN, both gateways' wan links, gw-b's TUN and LAN bridge), then prints the
# median time of every hop, each direction. The auxiliaries' hops are "tun > wan" and
# "wan > tun"; the rest is the kernels'.
# Usage (root): bash tests/bench/tun_hops.sh [BUILD-DIR] [PING-INTERVAL-S]
set -uo pipefail
source "$(dirname "$0")/bench_lib.sh"
bench_build_arg "${1:-}" && shift
interval=${1:-0.01}
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_pki
insel_directory
start_principal
start_trunk_pair

tun_of() { ip -n "${NS}$1" -o link show type tun | awk -F': ' '{print $2}' | cut -d@ -f1; }
capture() {  # capture NS IFACE NAME FILTER
	spawn_in_ns "$1" /dev/null timeout 10 tcpdump -n -tt -i "$2" -w "$NETNS_TMP/$3.pcap" $4
	CAPTURES+=("$LAST_PID")
}
CAPTURES=()
capture gw-a lan a_lan icmp
capture gw-a "$(tun_of gw-a)" a_tun icmp
capture gw-a v-wan a_wan "udp and greater 100"
capture gw-b v-wan b_wan "udp and greater 100"
capture gw-b "$(tun_of gw-b)" b_tun icmp
capture gw-b lan b_lan icmp
sleep 1.5
in_ns a1 ping -n -c 40 -i "$interval" 10.2.0.11 | tail -1
for pid in "${CAPTURES[@]}"; do
	wait "$pid" 2>/dev/null
done
for f in a_lan a_tun a_wan b_wan b_tun b_lan; do
	tcpdump -n -tt -r "$NETNS_TMP/$f.pcap" 2>/dev/null | sed "s/^/$f /"
done | python3 -c '
import collections, re, statistics, sys
caps = collections.defaultdict(list)
for line in sys.stdin:
    f, t, rest = line.split(" ", 2)
    caps[f].append((float(t), rest))
def icmp(f):
    return {(m.group(1), int(m.group(2))): t for t, r in caps[f]
            for m in [re.search(r"echo (request|reply).*seq (\d+)", r)] if m}
def wan(f, src):
    return [t for t, r in caps[f] if r.split()[1].startswith(src)]
a, at, bt, b = icmp("a_lan"), icmp("a_tun"), icmp("b_tun"), icmp("b_lan")
aq, bq = wan("a_wan", "198.18.1.2"), wan("b_wan", "198.18.1.2")
ap, bp = wan("a_wan", "198.18.2.2"), wan("b_wan", "198.18.2.2")
names = ["gw-a: lan > tun", "aux A: tun > wan", "wan", "aux B: wan > tun", "gw-b: tun > lan",
         "b1 answers", "gw-b: lan > tun", "aux B: tun > wan", "wan", "aux A: wan > tun",
         "gw-a: tun > lan"]
rows = []
for seq in range(2, 41):
    i = seq - 1
    try:
        t = [a["request", seq], at["request", seq], aq[i], bq[i], bt["request", seq],
             b["request", seq], b["reply", seq], bt["reply", seq], bp[i], ap[i],
             at["reply", seq], a["reply", seq]]
    except (KeyError, IndexError):
        continue
    rows.append([(t[k + 1] - t[k]) * 1e6 for k in range(11)])
if not rows:
    sys.exit("no complete round trip captured")
for k, n in enumerate(names):
    print(f"{n:18s} median {statistics.median(r[k] for r in rows):7.1f} us")
print(f"({len(rows)} round trips; the first packet after a quiet spell wakes each "
      "auxiliary from idle)")
'
