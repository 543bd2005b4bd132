#!/usr/bin/env bash
# Integration: signalling across NAT (docs/nat.md, issue 12). The gateways that cannot be
# dialled sit behind a NAT router of their own (nftables masquerade, no port forwarding):
#   - site B behind NAT: the principal's connect-back check finds that B's registered
#     peer endpoint cannot be dialled and A's can (listing, lookup); alice@lan-a calls
#     bob@lan-b and the call is set up by connection reversal (B dials A's peer port):
#     `insel calls` on both sides and the principal's call record say "reversed", and
#     UDP crosses both ways;
#   - bob calls alice the other way: direct, as before;
#   - a reversed connection with a wrong token, and bytes that are neither TLS nor a
#     preamble, are refused at A's peer port, which keeps serving;
#   - site A behind NAT too: neither can be dialled, the call is spliced through the
#     principal (both dial its splice port), and says so.
# Layout (lib.sh's, except the NATed sites):
#   ${NS}rt-b 198.18.2.2 on the wan --- 100.64.2.1 | ${NS}gw-b 100.64.2.2, LAN 10.2.0.1/24
#   (and in the last part ${NS}rt-a 198.18.1.2 --- ${NS}gw-a 100.64.1.2)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
command -v nft >/dev/null || { echo "SKIP: nft is not installed" >&2; exit 77; }

# topo_nat_site LETTER N HOST...: like lib.sh's topo_site, but the gateway's wan side is a
# private address behind a router rt-X that masquerades it to 198.18.N.2.
topo_nat_site() {
	local x=$1 n=$2 h i=11 gw="${NS}gw-$1"
	shift 2
	ns_add "rt-$x"
	link_ns wan "198.18.$n.1/24" "rt-$x" "198.18.$n.2/24"
	ip -n "${NS}rt-$x" route add default via "198.18.$n.1"
	enable_forwarding "rt-$x"
	in_ns "rt-$x" nft -f - <<NFT
table ip insel_test_nat {
	chain post {
		type nat hook postrouting priority srcnat;
		ip saddr 100.64.$n.0/24 oifname "v-wan" masquerade
	}
}
NFT
	ns_add "gw-$x"
	link_ns "rt-$x" "100.64.$n.1/24" "gw-$x" "100.64.$n.2/24"
	ip -n "$gw" route add default via "100.64.$n.1"
	enable_forwarding "gw-$x"
	ip -n "$gw" link add lan type bridge
	ip -n "$gw" addr add "10.$n.0.1/24" dev lan
	ip -n "$gw" link set lan up
	for h in "$@"; do
		ns_add "$h"
		ip link add "p-$h" netns "$gw" type veth peer name eth0 netns "${NS}$h"
		ip -n "$gw" link set "p-$h" master lan up
		ip -n "${NS}$h" addr add "10.$n.0.$i/24" dev eth0
		ip -n "${NS}$h" link set eth0 up
		ip -n "${NS}$h" route add default via "10.$n.0.1"
		i=$((i + 1))
	done
}

ns_add wan
enable_forwarding wan
ns_add principal
link_ns wan 198.18.0.1/24 principal 198.18.0.2/24
ip -n "${NS}principal" route add default via 198.18.0.1
topo_site a 1 a1 a2
topo_nat_site b 2 b1 b2

insel_pki
insel_directory
start_principal
start_secondary a 1
# Site B's secondary listens (and registers) on its private address behind the router.
write_secondary_config b 2
sed -i "s/^listen = 198.18.2.2:/listen = 100.64.2.2:/" "$NETNS_TMP/secondary-b.conf"
start_secondary b 2
wait_registered || fail "secondaries did not register"

# The connect-back check answers within its 3 s time-out.
reach_of() {  # reach_of LAN: the lookup's "reachable" for that LAN's secondary
	pdir lan list --json | python3 -c '
import json, sys
for lan in json.load(sys.stdin):
    if lan["name"] == sys.argv[1]:
        print(json.dumps(lan.get("reachable")))' "$1"
}
wait_reach() {  # wait_reach LAN VALUE
	for _ in $(seq 1 60); do
		[ "$(reach_of "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
check "the principal finds that site A's gateway can be dialled" wait_reach lan-a true
check "and that site B's, behind NAT, cannot" wait_reach lan-b false
listing=$(pdir secondary list 2>&1)
echo "$listing"
check "insel-principal secondary list shows it" \
	bash -c "grep -E '^lan-b .* no ' <<<'$listing' >/dev/null && grep -E '^lan-a .* yes ' <<<'$listing' >/dev/null"
check "secondary show says the check found it" \
	contains "$(pdir secondary show lan-b 2>&1)" "check"

# ---- alice calls bob, who is behind NAT: connection reversal ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_in_ns b1 "$NETNS_TMP/echo-b1.log" python3 "$UDP_TOOL" echo 5004 --count 100000 \
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
spawn_in_ns a2 "$NETNS_TMP/echo-a2.log" python3 "$UDP_TOOL" echo 6100 --count 1000 --timeout 60
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
in_ns principal bash -c "$(declare -f preamble); preamble 2 00112233445566778899aabbccddeeff |
	timeout 3 nc -q 2 198.18.1.2 7445" >/dev/null 2>&1
in_ns principal bash -c 'printf "GET / HTTP/1.0\r\n\r\n" | timeout 3 nc -q 2 198.18.1.2 7445' \
	>/dev/null 2>&1
check "a preamble naming no waiting call is refused" test \
	"$(grep -c "refused a reversed peer connection" "$NETNS_TMP/secondary-a.log")" -gt \
	"$refused_before"
check "bytes that are neither TLS nor a preamble are refused" \
	grep -q "neither TLS nor a valid preamble" "$NETNS_TMP/secondary-a.log"
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "and the next reversed call still comes up" contains "$out" "signalling reversed"
insel_as a1 alice hangup "$(call_id_of "$out")" >/dev/null 2>&1

# ---- both behind NAT: the principal splices ----
stop_pid "${SECONDARY_PID[a]}"
ip netns delete "${NS}gw-a"
for h in a1 a2; do ip netns delete "${NS}$h"; done
ip -n "${NS}wan" link del v-gw-a 2>/dev/null || true
topo_nat_site a 1 a1 a2
rm -f "$NETNS_TMP/secondary-a.conf"
write_secondary_config a 1
sed -i "s/^listen = 198.18.1.2:/listen = 100.64.1.2:/" "$NETNS_TMP/secondary-a.conf"
start_secondary a 1
wait_secondary_registered a || fail "site A did not register again"
check "the principal finds that site A's gateway, now behind NAT, cannot be dialled" \
	wait_reach lan-a false
spliced_before=$(grep -c "splice: call " "$NETNS_TMP/principal.log")
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
echo "$out"
check "alice calls bob, both behind NAT: the call comes up" contains "$out" " up "
check "insel call says the signalling was spliced" contains "$out" "signalling spliced"
call2=$(call_id_of "$out")
check "the principal spliced it" grep -q "splice: call $call2 between lan-a and lan-b" \
	"$NETNS_TMP/principal.log"
check "bob's side lists it as spliced" \
	contains "$(insel_operator b calls --json 2>&1)" '"signalling": *"spliced"'
# No hole punching or relay yet: with both auxiliaries behind NAT, no frame can reach
# either side, so the spliced call's UDP carries nothing (until issue 12's punching and
# relay land, after which this check should pass instead of fail).
if in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 3 --size 200 --timeout 2 \
	>/dev/null 2>&1; then
	echo "note - UDP crossed the spliced call (the data path reaches through NAT now)"
else
	echo "note - UDP does not cross the spliced call yet (no punching or relay)"
fi
insel_as a1 alice hangup "$call2" >/dev/null 2>&1
sleep 0.5
check "the principal's call record says spliced" \
	contains "$(pdir call show "$call2" 2>&1)" "spliced"

finish_checks
echo "all signalling-across-NAT checks passed"
