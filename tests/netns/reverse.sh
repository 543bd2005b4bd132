#!/usr/bin/env bash
# Integration: signalling across NAT (docs/nat.md, issue 12), on the NAT test bed
# (nat_lib.sh): site A has a public address, site B's gateway sits behind a
# port-preserving masquerade (no port forwarding):
#   - the principal's connect-back check finds that B's registered peer endpoint cannot
#     be dialled and A's can (listing, lookup);
#   - alice@lan-a calls bob@lan-b and the call is set up by connection reversal (B dials
#     A's peer port): `insel calls` on both sides and the principal's call record say
#     "reversed", and UDP crosses both ways;
#   - bob calls alice the other way: direct, as before;
#   - a reversed connection naming no waiting call, and bytes that are neither TLS nor a
#     preamble, are refused at A's peer port, which keeps serving;
#   - a trunk between the two sites (lan-a places it): reversed as well, ping both ways.
# Both sites behind NAT (spliced) is tests/netns/splice.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/nat_lib.sh"
netns_begin
nat_require_nft

nat_internet
nat_site a 1 none a1 a2
nat_site b 2 preserve b1 b2
insel_deploy || fail "deployment did not come up"

check "the principal finds that site A's gateway can be dialled" nat_wait_reachable lan-a true
check "and that site B's, behind NAT, cannot" nat_wait_reachable lan-b false
listing=$(pdir secondary list 2>&1)
echo "$listing"
check "insel-principal secondary list shows it" \
	bash -c "grep -E '^lan-b .* no ' <<<'$listing' >/dev/null && grep -E '^lan-a .* yes ' <<<'$listing' >/dev/null"
check "secondary show says the check found it" \
	contains "$(pdir secondary show lan-b 2>&1)" "check"

# ---- alice calls bob, who is behind NAT: connection reversal ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 100000 \
	--timeout 120
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
echo "$out"
check "alice calls bob behind NAT: the call comes up" contains "$out" " up "
check "insel call says the signalling was reversed" contains "$out" "signalling reversed"
call1=$(call_id_of "$out")
check "bob's secondary dialled back on the principal's notice" \
	grep -q "call $call1: secondary lan-a cannot dial us; dialling it back" \
	"$NETNS_TMP/secondary-b.log"
check "alice's secondary took the reversed connection" \
	grep -q "call $call1: secondary lan-b dialled back" "$NETNS_TMP/secondary-a.log"
calls_a=$(insel_as a1 alice calls --json 2>&1)
calls_b=$(insel_operator b calls --json 2>&1)
check "alice's side lists the call's path as reversed" \
	contains "$calls_a" '"signalling": *"reversed"'
check "bob's side lists it as reversed too" contains "$calls_b" '"signalling": *"reversed"'
# Bob's auxiliary sends first through its NAT; its authenticated frames move alice's view
# of its endpoint (there is no hole punching yet), so traffic crosses both ways.
check "UDP crosses the reversed call both ways" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 1000
insel_as a1 alice hangup "$call1" >/dev/null 2>&1
sleep 0.5
check "the principal's call record says reversed" \
	contains "$(pdir call show "$call1" 2>&1)" "reversed"

# ---- bob calls alice: A can be dialled, so it is direct ----
listen_as a2 carol "$NETNS_TMP/listen-carol.log" --auto-answer || fail "carol cannot listen"
spawn_echo a2 "$NETNS_TMP/echo-a2.log" 6100 --count 1000 --timeout 60
out=$(insel_as b1 bob call carol@lan-a --udp 6100 2>&1)
check "bob behind NAT calls carol: direct" contains "$out" "signalling direct"
check "the direct call carries traffic" \
	in_ns b1 python3 "$UDP_TOOL" send 10.2.0.1 6100 --count 10 --size 800
insel_as b1 bob hangup "$(call_id_of "$out")" >/dev/null 2>&1

# ---- A's peer port refuses what is neither TLS nor a preamble it waits for ----
preamble() {  # preamble END TOKEN_HEX: 32 bytes for call 0102030405060708
	python3 -c 'import sys
sys.stdout.buffer.write(b"INSL\x01" + bytes([int(sys.argv[1])]) + b"\0\0" +
    bytes.fromhex("0102030405060708") + bytes.fromhex(sys.argv[2]))' "$1" "$2"
}
refused_before=$(grep -c "refused a reversed peer connection" "$NETNS_TMP/secondary-a.log")
junk_before=$(grep -c "neither TLS nor a valid preamble" "$NETNS_TMP/secondary-a.log")
a_wan=$(nat_gateway_addr a)
in_ns principal bash -c "$(declare -f preamble); preamble 2 00112233445566778899aabbccddeeff |
	timeout 3 nc -q 2 $a_wan 7445" >/dev/null 2>&1
in_ns principal bash -c "printf 'GET / HTTP/1.0\r\n\r\n' | timeout 3 nc -q 2 $a_wan 7445" \
	>/dev/null 2>&1
check "a preamble naming no waiting call is refused" test \
	"$(grep -c "refused a reversed peer connection" "$NETNS_TMP/secondary-a.log")" -gt \
	"$refused_before"
check "bytes that are neither TLS nor a preamble are refused" test \
	"$(grep -c "neither TLS nor a valid preamble" "$NETNS_TMP/secondary-a.log")" -gt \
	"$junk_before"
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "and the next reversed call still comes up" contains "$out" "signalling reversed"
insel_as a1 alice hangup "$(call_id_of "$out")" >/dev/null 2>&1

# ---- a trunk: lan-a's gateway places it, so it too is set up by reversal ----
stop_pid "${SECONDARY_PID[a]}"
stop_pid "${SECONDARY_PID[b]}"
start_trunk_pair
check "the trunk to the site behind NAT carries ping a1 -> b1" pings a1 10.2.0.11 3
check "and b1 -> a1" pings b1 10.1.0.11 3
check "the trunk's signalling was reversed" \
	contains "$(insel_operator a calls --json 2>&1)" '"signalling": *"reversed"'

finish_checks
echo "all connection-reversal checks passed"
