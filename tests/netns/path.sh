#!/usr/bin/env bash
# Integration: a call is up only once authenticated frames crossed both ways (issue 12,
# "with UDP blocked between two sites, insel call says up and the call carries nothing").
# Two sites and a principal as in calls.sh, real processes, real TLS, real probes:
#   (a) UDP between the two gateways dropped by an nftables rule in the wan namespace, and
#       UDP to the principal's relay and TCP to its TLS fallback (port 443) too, so that no
#       path exists (the TLS signalling still passes; tests/netns/relay.sh has the call
#       relayed when only the direct path is blocked): the call is never reported up, it
#       ends with no_path within the probing bound, the caller is told in a sentence that
#       nothing answered the probes, the callee's listener is told it ended, and no
#       auxiliary is left;
#   (b) with the rule gone, calls go up at once and `insel calls` shows the data path
#       (direct, to the other gateway's WAN address, and why) on both sides, and the
#       call carries traffic;
#   (c) NAT keep-alive: UDP blocked mid-call for longer than 3 keep-alive intervals but
#       shorter than dead_after: both auxiliaries re-probe (logged), the call goes on and
#       carries traffic again; blocked for longer than dead_after: the call ends;
#   (d) a trunk comes up the same way and shows its path.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
INSEL_DEAD_AFTER=${INSEL_DEAD_AFTER:-5s}  # keep-alives every 500 ms: room to re-probe
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_deploy || fail "deployment did not come up"

block_udp() {
	in_ns wan nft -f - <<'NFT'
table inet insel_path_test {
	chain between_gateways {
		type filter hook forward priority filter;
		ip saddr { 198.18.1.2, 198.18.2.2 } ip daddr { 198.18.1.2, 198.18.2.2 } meta l4proto udp counter drop
		ip saddr { 198.18.1.2, 198.18.2.2 } ip daddr 198.18.0.2 tcp dport 443 drop
		ip saddr { 198.18.1.2, 198.18.2.2 } ip daddr 198.18.0.2 udp dport 3479 drop
	}
}
NFT
}
dropped_udp() {
	in_ns wan nft list table inet insel_path_test | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"

# ---- (a) UDP between the gateways blocked ----
block_udp || fail "cannot add the nftables rule"
t0=$(date +%s)
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
status=$?
t1=$(date +%s)
echo "$out"
check "the call is not reported up" bash -c "! grep -q ' up ' <<<'$out'"
check "insel call fails (exit $status)" test "$status" -ne 0
check "the caller is told that nothing answered the probes" contains "$out" \
	"nothing answered the probes"
check "the reason is no_path" contains "$out" "no_path"
check "it ends within the probing bound ($((t1 - t0)) s)" test $((t1 - t0)) -le 20
check "probes were sent and dropped by the firewall ($(dropped_udp))" \
	test "$(dropped_udp)" -gt 4
check "bob's listener is told the call ended" grep -q "no_path\|nothing answered" \
	"$NETNS_TMP/listen-bob.log"
check "no auxiliary left on gw-a" wait_aux_count a 0 5
check "no auxiliary left on gw-b" wait_aux_count b 0 5
check "a gateway's log says what was tried" grep -Eq \
	"nothing answered [0-9]+ probes to each candidate in [0-9]+ ms \(tried direct 198.18.[12].2:" \
	"$NETNS_TMP/secondary-a.log" "$NETNS_TMP/secondary-b.log"
check "no call left active in the directory" no_active_call 10

# ---- (b) the rule gone: up at once, direct ----
in_ns wan nft delete table inet insel_path_test
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 1000 --timeout 60
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
echo "$out"
check "with UDP back, the call goes up" contains "$out" " up "
call=$(call_id_of "$out")
check "the call carries datagrams intact both ways" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 1000
calls=$(insel_as a1 alice calls 2>&1)
echo "$calls"
check "insel calls shows the path: direct to gw-b's WAN address" contains "$calls" \
	"path: direct to 198.18.2.2:"
check "and why (a probe answered)" contains "$calls" "was answered in"
json=$(insel_as a1 alice calls --json 2>&1)
check "calls --json has path.data direct" contains "$json" '"data": *"direct"'
json=$(insel_operator b calls --json 2>&1)
check "the callee's side has the path too (to gw-a)" contains "$json" \
	'"remote": *"198.18.1.2:'
check "the principal's call record has the data path" \
	contains "$(pdir call show "$call" 2>&1)" "direct"
check "and where it went" contains "$(pdir call show "$call" --json 2>&1)" \
	'"path_remote": *"198.18.2.2:'

# ---- (c) missed keep-alives: re-probe, then the end ----
block_udp || fail "cannot add the nftables rule again"
sleep 3
in_ns wan nft delete table inet insel_path_test
check "after 3 s of silence both auxiliaries re-probed" both \
	grep -q "keep-alive intervals): probing every candidate again" \
	"$NETNS_TMP/secondary-a.log" -- grep -q "probing every candidate again" \
	"$NETNS_TMP/secondary-b.log"
check "the call survives the silence and carries traffic again" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 500
check "it is the same call, still up" contains "$(insel_as a1 alice calls 2>&1)" "$call"
block_udp || fail "cannot add the nftables rule a third time"
check "silence beyond dead_after ends the call" wait_aux_count a 0 12
in_ns wan nft delete table inet insel_path_test
check "and on the other side" wait_aux_count b 0 5

# ---- (d) a trunk comes up the same way, and shows its path ----
add_trunk a 1 to-b lan-b
add_trunk b 2 to-a lan-a
restart_secondary a 1
restart_secondary b 2
both_registered() { wait_secondary_registered a && wait_secondary_registered b; }
check "secondaries come back with a trunk configured" both_registered
check "the trunk carries pings once up" wait_ping a1 10.2.0.11 20
trunk=$(insel_operator a calls 2>&1)
echo "$trunk"
check "the trunk shows a direct path" contains "$trunk" "path: direct to 198.18.2.2:"

finish_checks
