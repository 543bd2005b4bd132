#!/usr/bin/env bash
# Integration: calls that follow the overlay's routes through another gateway (issue 13,
# docs/routing.md). Three public sites; C runs a relay ([relay] listen), and trunks A-B,
# A-C and C-B keep every link measured. Then:
#   - with the operator's penalty on A-B (the configured way to make a link slow), the
#     route goes A -> C -> B, and a call from A to B goes through C's relay, not direct:
#     the principal marks the relay candidate preferred, both auxiliaries carry the call
#     through it (direct stays their standby), the path says why, datagrams cross intact;
#   - without the penalty, the next call goes direct again;
#   - with the A-B link cut altogether (every packet between the two gateways dropped,
#     signalling too) before the call, the call still goes up: the principal connects the
#     two gateways' signalling, and the data goes A -> C -> B through C's relay.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/nat_lib.sh"
netns_begin
insel_three_sites
start_principal
C_RELAY=$(wan_addr 3):3479
write_secondary_config c 3
printf '[relay]\nlisten = %s\n' "$C_RELAY" >>"$NETNS_TMP/secondary-c.conf"
add_trunk_mesh a:1 b:2 c:3
start_three_secondaries
check "C's relay listens" wait_port gw-c 3479 udp 10
wait_ping a1 10.2.0.11 40 || fail "the trunk A-B did not come up"
wait_ping a1 10.3.0.11 40 || fail "the trunk A-C did not come up"
wait_ping c1 10.2.0.11 40 || fail "the trunk C-B did not come up"
pass "trunks A-B, A-C and C-B carry pings"

fresh_links() { pdir links --json | python3 -c '
import json, sys
print(sum(1 for l in json.load(sys.stdin) if l["state"] == "fresh" and l["probes"] > 0))'; }
for _ in $(seq 1 40); do
	[ "$(fresh_links)" -ge 6 ] && break
	sleep 1
done
check "every trunk's link is measured both ways" test "$(fresh_links)" -ge 6

listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 1000 --timeout 200

# wait_path LETTER CALL DATA REMOTE SECONDS: the call's path on that side becomes it
# (REMOTE "-": any).
wait_path() {
	local remote
	for _ in $(seq 1 $(($5 * 5))); do
		remote=$(path_of "$1" "$2" remote)
		[ "$4" = - ] && remote=-
		[ "$(path_of "$1" "$2" data):$remote" = "$3:$4" ] && return 0
		sleep 0.2
	done
	echo "call $2 on $1: path $(path_of "$1" "$2" data) to $(path_of "$1" "$2" remote)," \
		"reason: $(path_of "$1" "$2" reason)" >&2
	return 1
}
call_alice_bob() {
	local out
	out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
	echo "$out" >&2
	grep -q " up " <<<"$out" && call_id_of "$out"
}

# ---- a slow A-B link: through C ----
pdir link set lan-a lan-b --penalty 100 >/dev/null
pdir routes lan-a lan-b
call=$(call_alice_bob)
check "with a 100 ms penalty on A-B, alice's call to bob goes up" test -n "$call"
check "the principal says the route goes through C and prefers its relay" \
	grep -q "call $call: the route from lan-a to lan-b goes through lan-c" \
	"$NETNS_TMP/principal.log"
check "the caller carries the call through C's relay" wait_path a "$call" relayed "$C_RELAY" 5
check "so does the callee" wait_path b "$call" relayed "$C_RELAY" 5
reason=$(path_of a "$call" reason)
check "the path says why ($reason)" contains "$reason" "route goes through"
check "datagrams cross intact both ways through C" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 50 --size 1000
check "the call stays on C's relay" wait_path a "$call" relayed "$C_RELAY" 1
insel_as a1 alice hangup "$call" >/dev/null 2>&1

# ---- the penalty gone: direct again ----
pdir link set lan-a lan-b --penalty 0 >/dev/null
call=$(call_alice_bob)
check "without the penalty, the next call goes up" test -n "$call"
check "and goes direct" wait_path a "$call" direct - 5
check "on both sides" wait_path b "$call" direct - 5
check "datagrams cross intact" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 1000
insel_as a1 alice hangup "$call" >/dev/null 2>&1

# ---- A-B cut before the call: A -> C -> B ----
in_ns wan nft -f - <<NFT
table ip insel_overlay_test {
	chain cut {
		type filter hook forward priority 0;
		ip saddr $(wan_addr 1) ip daddr $(wan_addr 2) counter drop
		ip saddr $(wan_addr 2) ip daddr $(wan_addr 1) counter drop
	}
}
NFT
call=$(call_alice_bob)
check "with every packet between A and B dropped, the call still goes up" test -n "$call"
signalling=$(path_of a "$call" signalling)
check "its signalling went through the principal ($signalling)" \
	test "$signalling" = spliced -o "$signalling" = reversed
check "its data goes A -> C -> B through C's relay" wait_path a "$call" relayed "$C_RELAY" 5
check "datagrams cross intact both ways" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 50 --size 1000
insel_as a1 alice hangup "$call" >/dev/null 2>&1
in_ns wan nft delete table ip insel_overlay_test
finish_checks
