#!/usr/bin/env bash
# Integration: a call through the principal's relay when the two gateways cannot reach
# each other over UDP (issue 12, "relay fallback"). Two sites and a principal as in
# calls.sh; an nftables rule in the wan namespace drops UDP between the two gateways (the
# TLS signalling still passes, and both still reach the principal's relay):
#   - the caller's secondary gets an allocation from the principal and offers it; both
#     auxiliaries register their legs; the call goes up relayed, `insel calls` says so on
#     both sides, and datagrams cross intact both ways through the relay (which holds no
#     key: the frames are the same sealed frames);
#   - direct UDP between the gateways was tried (the rule counted drops) and never taken;
#   - hang-up leaves no auxiliary; with the rule gone the next call goes direct;
#   - with [relay] listen = off at the principal there is no relay to fall back to and
#     the call ends no_path (tested last, the principal restarted).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_deploy || fail "deployment did not come up"

block_udp() {
	in_ns wan nft -f - <<'NFT'
table inet insel_relay_test {
	chain between_gateways {
		type filter hook forward priority filter;
		ip saddr { 198.18.1.2, 198.18.2.2 } ip daddr { 198.18.1.2, 198.18.2.2 } meta l4proto udp counter drop
	}
}
NFT
}
dropped_udp() {
	in_ns wan nft list table inet insel_relay_test | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

check "the principal runs its relay" wait_port principal 3479 udp 10
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 1000 --timeout 90

# ---- UDP between the gateways blocked: relayed ----
block_udp || fail "cannot add the nftables rule"
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
echo "$out"
check "the call goes up through the relay" contains "$out" " up "
call=$(call_id_of "$out")
check "the call carries datagrams intact both ways" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 50 --size 1000
check "and large ones (fragmented by the channel)" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 10 --size 4000
calls=$(insel_as a1 alice calls 2>&1)
echo "$calls"
check "insel calls says the path is relayed, through the principal's relay" \
	contains "$calls" "path: relayed to 198.18.0.2:3479"
json=$(insel_operator b calls --json 2>&1)
check "the callee's side is relayed too" contains "$json" '"data": *"relayed"'
check "direct UDP between the gateways was tried and dropped ($(dropped_udp))" \
	test "$(dropped_udp)" -gt 0
check "the caller's gateway logged its allocation" \
	grep -q "call $call: relay allocation [0-9a-f]* at 198.18.0.2:3479" \
	"$NETNS_TMP/secondary-a.log"
check "both legs registered" bash -c "grep -q 'leg 0 registered on the relay' \
	'$NETNS_TMP/secondary-a.log' && grep -q 'leg 1 registered on the relay' \
	'$NETNS_TMP/secondary-b.log'"
insel_as a1 alice hangup "$call" >/dev/null 2>&1
check "no auxiliary left on gw-a" wait_aux_count a 0 5
check "no auxiliary left on gw-b" wait_aux_count b 0 5

# ---- the rule gone: direct again ----
in_ns wan nft delete table inet insel_relay_test
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "with UDP back, the call goes up" contains "$out" " up "
call=$(call_id_of "$out")
check "it carries datagrams" in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 500
calls=$(insel_as a1 alice calls 2>&1)
check "and goes direct (the relay is offered but not taken)" contains "$calls" \
	"path: direct to 198.18.2.2:"
insel_as a1 alice hangup "$call" >/dev/null 2>&1
check "no auxiliary left" wait_aux_count a 0 5

# ---- no relay at the principal: nothing to fall back to ----
registrations() { cat "$NETNS_TMP"/secondary-[ab].log | grep -c "registered LAN"; }
before=$(registrations)
stop_pid "$PRINCIPAL_PID"
printf '[relay]\nlisten = off\n' >"$NETNS_TMP/principal-norelay.conf"
INSEL_PRINCIPAL_CONF="$NETNS_TMP/principal-norelay.conf" start_principal
for _ in $(seq 150); do
	[ "$(registrations)" -ge $((before + 2)) ] && break
	sleep 0.1
done
check "both secondaries registered again" test "$(registrations)" -ge $((before + 2))
block_udp || fail "cannot add the nftables rule"
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
echo "$out"
check "without a relay the call never goes up" bash -c "! grep -q ' up ' <<<'$out'"
check "it ends no_path" contains "$out" "no_path"
check "the principal told the caller's gateway it has no relay" \
	grep -q "no relay: this principal runs no relay" "$NETNS_TMP/principal.log"
in_ns wan nft delete table inet insel_relay_test
check "no auxiliary left at the end" wait_aux_count a 0 10

finish_checks
