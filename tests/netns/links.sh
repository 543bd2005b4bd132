#!/usr/bin/env bash
# Integration: link measurement and routes between three public sites (docs/routing.md).
# Trunks run A-B, A-C and C-B; each secondary measures the gateways it has calls with
# (its auxiliaries' path probes) and reports them to the principal, whose `links` then
# shows every pair measured both ways with plausible round trips, and `routes lan-a lan-b`
# takes the direct link. Then:
#   - loss on the A-B link (an nftables rule in the wan dropping a share of the packets
#     between the two gateways: this kernel has no netem to add a delay) is measured and
#     reported, and the route goes A -> C -> B; with the rule gone, the direct route comes
#     back once the loss has left the measuring window;
#   - an operator's penalty on A-B (`link set lan-a lan-b --penalty 100`, the configured
#     way to make a link slow) does the same, and removing it brings A -> B back at once.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
# The loss below must not end the trunk carrying A-B: a long dead_after.
INSEL_DEAD_AFTER=20s
INSEL_KEEPALIVE=500ms
insel_three_sites
start_principal
add_trunk_mesh a:1 b:2 c:3
start_three_secondaries

wait_ping a1 10.2.0.11 40 || fail "the trunk A-B did not come up"
wait_ping a1 10.3.0.11 40 || fail "the trunk A-C did not come up"
wait_ping c1 10.2.0.11 40 || fail "the trunk C-B did not come up"
pass "trunks A-B, A-C and C-B carry pings"

# links_json: the principal's link table.
links_json() { pdir links --json; }
# fresh_pairs: how many directed links are fresh.
fresh_links() { links_json | python3 -c '
import json, sys
print(sum(1 for l in json.load(sys.stdin) if l["state"] == "fresh" and l["probes"] > 0))'; }
# link_field FROM TO FIELD
link_field() { links_json | python3 -c '
import json, sys
for l in json.load(sys.stdin):
    if l["from"] == sys.argv[1] and l["to"] == sys.argv[2]:
        print(l[sys.argv[3]])' "$1" "$2" "$3"; }
# route_of FROM TO: "lan-a lan-c lan-b"
route_of() { pdir routes "$1" "$2" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(" ".join([r["from"]] + [h["to"] for h in r["hops"]]))'; }
# wait_route FROM TO EXPECTED SECONDS
wait_route() {
	for _ in $(seq 1 "$4"); do
		[ "$(route_of "$1" "$2" 2>/dev/null)" = "$3" ] && return 0
		sleep 1
	done
	echo "route $1 -> $2 is '$(route_of "$1" "$2" 2>&1)', not '$3'" >&2
	pdir links >&2
	return 1
}

for _ in $(seq 1 40); do
	[ "$(fresh_links)" -ge 6 ] && break
	sleep 1
done
pdir links
check "every trunk's link is measured both ways (6 fresh links)" test "$(fresh_links)" -ge 6
for pair in "lan-a lan-b" "lan-b lan-a" "lan-a lan-c" "lan-c lan-a" "lan-b lan-c" \
	"lan-c lan-b"; do
	rtt=$(link_field $pair rtt_ms)
	check "link $pair has a plausible round trip (${rtt:-none} ms, under 50)" \
		test "${rtt:-999}" -lt 50
done
check "the links are direct" test "$(link_field lan-a lan-b kind)" = direct
check "the view link_view shows them with names" \
	test "$(sqlite3 "$DB" "SELECT count(*) FROM link_view WHERE state = 'fresh'")" -ge 6
pdir routes lan-a lan-b
check "routes lan-a lan-b takes the direct link" wait_route lan-a lan-b "lan-a lan-b" 5

# Measured: loss between the two gateways' WAN addresses, both ways.
in_ns wan nft -f - <<'NFT'
table ip insel_links_test {
	chain drop_some {
		type filter hook forward priority 0;
		ip saddr 198.18.1.2 ip daddr 198.18.2.2 numgen random mod 10 < 4 drop
		ip saddr 198.18.2.2 ip daddr 198.18.1.2 numgen random mod 10 < 4 drop
	}
}
NFT
check "with 40% loss each way on A-B, the route goes A -> C -> B" \
	wait_route lan-a lan-b "lan-a lan-c lan-b" 40
pdir routes lan-a lan-b
# loss_above FROM TO PCT: the measured loss exceeds PCT (it grows as the window fills:
# about 64% of the probes' round trips are lost).
loss_above() {
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1] or 0) > float(sys.argv[2]) else 1)' \
		"$(link_field "$1" "$2" loss_pct)" "$3"
}
# Or the call's failover leaves the lossy path for the relay, and the link is measured
# over that (kind relayed): either way the table follows the path the frames take.
measured_or_moved() {
	loss_above "$1" "$2" 30 || [ "$(link_field "$1" "$2" kind)" = relayed ]
}
for _ in $(seq 1 40); do
	measured_or_moved lan-a lan-b && measured_or_moved lan-b lan-a && break
	sleep 1
done
pdir links
check "A-B's loss is measured both ways (over 30%), or its trunk moved to the relay" \
	both measured_or_moved lan-a lan-b -- measured_or_moved lan-b lan-a
in_ns wan nft delete table ip insel_links_test
check "without the loss, A -> B comes back" wait_route lan-a lan-b "lan-a lan-b" 90
pdir routes lan-a lan-b

# Configured: the operator's penalty on A-B.
pdir link set lan-a lan-b --penalty 100 >/dev/null
check "with a 100 ms penalty on A-B, the route goes A -> C -> B" \
	wait_route lan-a lan-b "lan-a lan-c lan-b" 3
pdir routes lan-a lan-b
check "the reverse route goes B -> C -> A" wait_route lan-b lan-a "lan-b lan-c lan-a" 3
pdir link set lan-a lan-b --penalty 0 >/dev/null
check "without the penalty, A -> B comes back" wait_route lan-a lan-b "lan-a lan-b" 3

check "the trunks never stopped carrying pings" pings a1 10.2.0.11 3
stop_pid "${SECONDARY_PID[c]}"
check_tun_teardown
check "no TUN interface left on gw-c" test "$(tun_links c)" -eq 0
finish_checks
