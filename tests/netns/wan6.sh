#!/usr/bin/env bash
# Integration: IPv6 between the gateways. The simulated Internet carries IPv6 too
# (2001:db8::/32, the documentation prefix, inside the namespaces only): the principal is
# dual-stack (198.18.0.2 and 2001:db8::2, listening on [::]), site A's wan is dual-stack
# (198.18.1.2 and 2001:db8:1::2: wan_address6, a peer listener on [::], public and
# public6), and
# site B's wan has IPv6 only (2001:db8:2::2; no IPv4 address, no IPv4 route).
#   - B registers its IPv6 endpoint, A both of its own (endpoint and endpoint6), and B
#     dials A's IPv6 one; the principal's connect-back check dials each endpoint over
#     its family and records it (reachable; reachable6 for A's endpoint6);
#   - UDP calls and network calls A -> B and B -> A carry traffic (datagrams up to 9000
#     bytes intact both ways, ping, TCP); the auxiliaries' WAN sockets and the channels'
#     peers are IPv6 (the call's path shows the IPv6 endpoints);
#   - a room (docs/rooms.md) with members a1 and b1: its leg, carried by each gateway's
#     one auxiliary of the room, goes directly over IPv6 (the secondary hands the room's
#     process A's IPv6 WAN socket beside the IPv4 one): ping both ways and a 1 MiB TCP
#     copy by room address, the frames counted on the wan over IPv6;
#   - a trunk between A and B forms over IPv6 and carries ping and TCP both ways;
#   - with A's IPv4 peer port closed, the principal records A's IPv4 endpoint as not
#     dialable and its IPv6 one as dialable (reachable6, in the look-up too), and a call
#     from B (IPv6 only) to A goes direct over IPv6, not reversed; with B's peer port
#     closed as well, a call from A to B comes up by connection reversal, B dialling A's
#     IPv6 endpoint (the principal's connect chooses it by reachable6), not spliced;
#   - A without public6 registers its wan's IPv6 address at its peer port all the same
#     (wan_address6, listener on [::]), and the checks above use it; with A's IPv6 port
#     closed too and B's open, a call from B (IPv6 only) to A comes up by A dialling B
#     back over IPv6, not spliced at once as when A counted as IPv4-only;
#   - then B is made dual-stack too: both families work, each auxiliary binds a socket
#     per family, the offer carries a host candidate per family, and the call shows
#     which family carries it; with B's IPv4 peer port closed, A (dual-stack) dials B's
#     IPv6 endpoint directly rather than asking the principal to connect them.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/room_lib.sh"
netns_begin

# ---- the topology: lib.sh's, with IPv6 on the wan and B's IPv4 wan taken away ----
v6() {  # v6 NS ADDR/LEN DEV: an IPv6 address usable at once (no DAD)
	ip -n "${NS}$1" addr add "$2" dev "$3" nodad
}
topo_two_sites
v6 wan 2001:db8::1/64 v-principal
v6 principal 2001:db8::2/64 v-wan
ip -n "${NS}principal" -6 route add default via 2001:db8::1
v6 wan 2001:db8:1::1/64 v-gw-a
v6 gw-a 2001:db8:1::2/64 v-wan
ip -n "${NS}gw-a" -6 route add default via 2001:db8:1::1
v6 wan 2001:db8:2::1/64 v-gw-b
v6 gw-b 2001:db8:2::2/64 v-wan
ip -n "${NS}gw-b" -6 route add default via 2001:db8:2::1
ip -n "${NS}gw-b" route del default
ip -n "${NS}gw-b" addr del 198.18.2.2/24 dev v-wan
check "gw-b has no IPv4 on its wan: 198.18.0.2 unreachable" \
	bash -c "! ip netns exec ${NS}gw-b ping -n -c 1 -W 1 198.18.0.2 >/dev/null 2>&1"
ping6_soon() {  # ping6_soon NS ADDR: one answered ping within 10 tries (neighbour discovery)
	for _ in $(seq 1 10); do
		in_ns "$1" ping -6 -n -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
	done
	return 1
}
check "gw-b reaches the principal over IPv6" ping6_soon gw-b 2001:db8::2
check "and gw-a over IPv6" ping6_soon gw-b 2001:db8:1::2

# ---- the deployment: the principal on [::], A dual-stack, B IPv6 only ----
INSEL_PRINCIPAL_ADDR="[::]"
insel_pki
insel_directory
start_principal
write_secondary_config a 1
write_secondary_config b 2
# A: the principal over IPv4; the peer listener takes both families; a socket per family.
sed -i -e "s/^address = .*/address = 198.18.0.2:$INSEL_PRINCIPAL_PORT/" \
	-e "s/^listen = 198.18.1.2:$INSEL_PEER_PORT/listen = [::]:$INSEL_PEER_PORT\n\
public = 198.18.1.2:$INSEL_PEER_PORT\npublic6 = [2001:db8:1::2]:$INSEL_PEER_PORT\n\
wan_address = 198.18.1.2\nwan_address6 = 2001:db8:1::2/" "$NETNS_TMP/secondary-a.conf"
# B: IPv6 only, everywhere.
sed -i -e "s/^address = .*/address = [2001:db8::2]:$INSEL_PRINCIPAL_PORT/" \
	-e "s/^listen = 198.18.2.2:$INSEL_PEER_PORT/listen = [2001:db8:2::2]:$INSEL_PEER_PORT/" \
	"$NETNS_TMP/secondary-b.conf"
start_secondary a 1
start_secondary b 2
wait_registered || fail "the secondaries did not register"
lans=$(pdir lan list --json)
echo "$lans"
check "B registered its IPv6 endpoint" contains "$lans" "\[2001:db8:2::2\]:$INSEL_PEER_PORT"
check "A registered its IPv4 endpoint" contains "$lans" "\"198.18.1.2:$INSEL_PEER_PORT\""
check "and its IPv6 one beside it (endpoint6)" \
	contains "$lans" "\"endpoint6\": *\"\[2001:db8:1::2\]:$INSEL_PEER_PORT\""
check "the principal logged both" \
	grep -q "registered LAN lan-a at 198.18.1.2:$INSEL_PEER_PORT and \[2001:db8:1::2\]:$INSEL_PEER_PORT" \
	"$NETNS_TMP/principal.log"
# The connect-back check dials every registered endpoint, each over its own family.
wait_show() {  # wait_show SECONDARY PATTERN: secondary show --json matches within 5 s
	local i
	for i in $(seq 25); do
		contains "$(pdir secondary show "$1" --json 2>&1)" "$2" && return 0
		sleep 0.2
	done
	return 1
}
check "the principal dials B back over IPv6 and finds it can be dialled" \
	wait_show lan-b '"reachable": *true'
check "and A over both families: its IPv4 endpoint" wait_show lan-a '"reachable": *true'
check "and its IPv6 one (reachable6)" wait_show lan-a '"reachable6": *true'
check "the principal logged the IPv6 checks" \
	both grep -q "secondary lan-a can be dialled at \[2001:db8:1::2\]:$INSEL_PEER_PORT" \
	"$NETNS_TMP/principal.log" -- \
	grep -q "secondary lan-b can be dialled at \[2001:db8:2::2\]:$INSEL_PEER_PORT" \
	"$NETNS_TMP/principal.log"
pdir secondary list
check "secondary list shows A's IPv6 endpoint as reachable (REACHABLE6)" \
	grep -Eq "^lan-a .* yes .* active +yes *$" <<<"$(pdir secondary list 2>&1)"

# What crosses the wan between the two gateways, by family: nftables counters in the
# wan namespace (UDP only: the encrypted frames; the TLS peer connection is TCP).
in_ns wan nft -f - <<'NFT'
table inet wan6 {
	counter a_b_v4 {}
	counter b_a_v4 {}
	counter a_b_v6 {}
	counter b_a_v6 {}
	chain count_forward {
		type filter hook forward priority 0;
		ip saddr 198.18.1.2 ip daddr 198.18.2.2 meta l4proto udp counter name a_b_v4
		ip saddr 198.18.2.2 ip daddr 198.18.1.2 meta l4proto udp counter name b_a_v4
		ip6 saddr 2001:db8:1::2 ip6 daddr 2001:db8:2::2 meta l4proto udp counter name a_b_v6
		ip6 saddr 2001:db8:2::2 ip6 daddr 2001:db8:1::2 meta l4proto udp counter name b_a_v6
	}
}
NFT
udp_packets() {  # udp_packets a_b_v6: packets counted so far
	in_ns wan nft list counter inet wan6 "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
reset_counters() { in_ns wan nft reset counters table inet wan6 >/dev/null; }
# carried FAMILY: frames crossed both ways in that family since the last reset
carried() { [ "$(udp_packets "a_b_$1")" -gt 0 ] && [ "$(udp_packets "b_a_$1")" -gt 0 ]; }
not_carried() { [ "$(udp_packets "a_b_$1")" -eq 0 ] && [ "$(udp_packets "b_a_$1")" -eq 0 ]; }
wire() { echo "wan UDP A->B v4 $(udp_packets a_b_v4) v6 $(udp_packets a_b_v6), B->A v4 $(udp_packets b_a_v4) v6 $(udp_packets b_a_v6)"; }
# aux_wan SITE: the UDP sockets of site X's auxiliaries on the wan.
aux_wan() { in_ns "gw-$1" ss -uanp | awk '/insel-auxiliary/ {print $4}' | grep -v '^10\.' | sort -u; }

# ---- UDP calls to and from the IPv6-only site ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
reset_counters
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004,5005 --count 100000 \
	--timeout 200
out=$(insel_as a1 alice call bob@lan-b --udp 5004,5005 2>&1)
echo "$out"
check "alice (dual-stack site) calls bob (IPv6-only site)" contains "$out" " up "
call1=$(call_id_of "$out")
check "the call carries 1000-byte datagrams intact both ways" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 1000
check "and 9000-byte ones on the other channel" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5005 --count 3 --size 9000
echo "A's auxiliary sockets: $(aux_wan a | tr '\n' ' ')"
echo "B's auxiliary sockets: $(aux_wan b | tr '\n' ' ')"
check "A's auxiliary has a WAN socket per family" \
	bash -c "grep -q '^198.18.1.2:' <<<'$(aux_wan a)' && grep -q '^\[2001:db8:1::2\]:' <<<'$(aux_wan a)'"
check "B's auxiliary has only an IPv6 one" \
	bash -c "grep -q '^\[2001:db8:2::2\]:' <<<'$(aux_wan b)' && ! grep -q '^198' <<<'$(aux_wan b)'"
wire
check "the call's frames crossed the wan over IPv6 both ways (A's IPv6 to B's)" carried v6
path_remote() {  # path_remote HOST USER: the remote endpoints of the user's calls' paths
	insel_as "$1" "$2" calls --json 2>/dev/null | grep -o '"remote": *"[^"]*"' | sort -u
}
remote=$(path_remote a1 alice)
echo "the call's path at A: $remote"
check "the call's path (insel calls) shows B's IPv6 endpoint" \
	contains "$remote" '"\[2001:db8:2::2\]:'
grep -h "candidates" "$NETNS_TMP"/secondary-[ab].log | head -n 4
check "A offered a host candidate per family (and asked the principal's STUN responder)" \
	grep -Eq "candidates host 198.18.1.2:[0-9]+, host \[2001:db8:1::2\]:[0-9]+; NAT mapping" \
	"$NETNS_TMP/secondary-a.log"
check "B, asking the principal's responder over IPv6, offered its IPv6 host candidate" \
	grep -Eq "candidates host \[2001:db8:2::2\]:[0-9]+; NAT mapping none" \
	"$NETNS_TMP/secondary-b.log"
insel_as a1 alice hangup "$call1" >/dev/null 2>&1

listen_as a2 carol "$NETNS_TMP/listen-carol.log" --auto-answer || fail "carol cannot listen"
spawn_echo a2 "$NETNS_TMP/echo-a2.log" 6100 --count 1000 --timeout 120
reset_counters
out=$(insel_as b2 dave call carol@lan-a --udp 6100 2>&1)
echo "$out"
check "dave (IPv6-only site) calls carol (dual-stack site): B dials A's endpoint6" \
	contains "$out" " up "
call2=$(call_id_of "$out")
check "the call carries datagrams intact both ways" \
	in_ns b2 python3 "$UDP_TOOL" send 10.2.0.1 6100 --count 20 --size 800
wire
check "over IPv6" carried v6
insel_as b2 dave hangup "$call2" >/dev/null 2>&1

# ---- network calls both ways ----
listen_as b2 dave "$NETNS_TMP/listen-dave-tun.log" --auto-answer --tun || fail "dave cannot listen"
out=$(insel_as a1 alice call 10.2.0.12 --tun 2>&1)
echo "$out"
check "a network call A -> B goes up" contains "$out" " up "
tun1=$(call_id_of "$out")
check "ping a1 -> b2 through it" wait_ping a1 10.2.0.12 10
check "ping b2 -> a1 back" pings b2 10.1.0.11 3
insel_as a1 alice hangup "$tun1" >/dev/null 2>&1
listen_as a1 alice "$NETNS_TMP/listen-alice-tun.log" --auto-answer --tun || fail "alice cannot listen"
out=$(insel_as b1 bob call 10.1.0.11 --tun 2>&1)
echo "$out"
check "a network call B -> A goes up" contains "$out" " up "
tun2=$(call_id_of "$out")
check "ping b1 -> a1 through it" wait_ping b1 10.1.0.11 10
check "ping a1 -> b1 back" pings a1 10.2.0.11 3
insel_as b1 bob hangup "$tun2" >/dev/null 2>&1
check "all calls torn down" wait_aux_count a 0 10

# ---- a room between the dual-stack site and the IPv6-only one ----
room_add games 172.30.0.0/24
room_join games alice@lan-a 10.1.0.11   # 172.30.0.1
room_join games bob@lan-b 10.2.0.11     # 172.30.0.2
reset_counters
check "a1 reaches b1 in the room (A dual-stack, B IPv6 only)" wait_ping a1 172.30.0.2 30
check "and b1 reaches a1" wait_ping b1 172.30.0.1 10
check "a 1 MiB TCP copy from a1 to b1 by room address crosses intact" \
	tcp_transfer a1 172.30.0.2 b1
echo "A's room auxiliary sockets: $(aux_wan a | tr '\n' ' ')"
check "A's room auxiliary has a WAN socket per family" \
	bash -c "grep -q '^198.18.1.2:' <<<'$(aux_wan a)' && grep -q '^\[2001:db8:1::2\]:' <<<'$(aux_wan a)'"
wire
check "the room's frames crossed the wan directly over IPv6 both ways" carried v6
pdir room remove games >/dev/null
check "no room auxiliary left once the room is removed" \
	both wait_aux_count a 0 10 -- wait_aux_count b 0 10

# ---- a trunk over IPv6 ----
stop_pid "${SECONDARY_PID[a]}"
stop_pid "${SECONDARY_PID[b]}"
add_trunk a 1 to-b lan-b
add_trunk b 2 to-a lan-a
# From here until B is dual-stack, A's IPv4 peer port is closed on the wan (refused): the
# principal finds A's IPv4 endpoint cannot be dialled and its IPv6 one can. B, with IPv6
# only, dials A's endpoint6: the look-up's reachable6 says it can, so B dials it directly
# rather than asking for a reversal on the word of A's IPv4 endpoint. B's own peer port
# is closed too: A cannot dial B, so A's calls (and the trunk, which A places) ask the
# principal to connect them, and it has B dial A back at A's IPv6 endpoint (reachable6)
# rather than splice them on the word of A's IPv4 one (docs/nat.md).
in_ns wan nft -f - <<NFT
table inet wan6_ports_closed {
	chain forward {
		type filter hook forward priority 0;
		ip daddr 198.18.1.2 tcp dport $INSEL_PEER_PORT counter reject with tcp reset
		ip6 daddr 2001:db8:2::2 tcp dport $INSEL_PEER_PORT counter reject with tcp reset
	}
}
NFT
# From here on A has no public6: its wan's IPv6 address at its peer port is registered
# all the same (config.c, derive_public6), and is what the checks below dial.
sed -i "/^public6 = /d" "$NETNS_TMP/secondary-a.conf"
start_secondary a 1
start_secondary b 2
wait_registered || fail "the secondaries did not register again"
check "A, without public6, registers its wan's IPv6 address at its peer port" \
	both wait_secondary_registered a -- \
	grep -q "public6 is not set: registering \[2001:db8:1::2\]:$INSEL_PEER_PORT" \
	"$NETNS_TMP/secondary-a.log"
check "A's IPv4 endpoint cannot be dialled now (reachable false)" \
	wait_show lan-a '"reachable": *false'
check "its IPv6 one still can (reachable6 true)" wait_show lan-a '"reachable6": *true'
check "nor can B's (IPv6) endpoint" wait_show lan-b '"reachable": *false'
check "the LAN's entry (as list and look-up give it) carries both" \
	bash -c "grep -q '\"reachable\": *false' <<<'$(pdir lan show lan-a --json 2>&1)' &&
		 grep -q '\"reachable6\": *true' <<<'$(pdir lan show lan-a --json 2>&1)'"
listen_as b1 bob "$NETNS_TMP/listen-bob-rev.log" --auto-answer || fail "bob cannot listen again"
spawn_echo b1 "$NETNS_TMP/echo-b1-rev.log" 5006 --count 1000 \
	--timeout 60
out=$(insel_as a1 alice call bob@lan-b --udp 5006 2>&1)
echo "$out"
rcall=$(call_id_of "$out")
grep -h "call $rcall: .*dial" "$NETNS_TMP/principal.log" "$NETNS_TMP"/secondary-[ab].log
check "alice (A: IPv4 port closed, IPv6 open) calls bob (B cannot be dialled): up" \
	contains "$out" " up "
check "the principal had B dial A back over IPv6, not splice them" \
	grep -q "call $rcall: lan-a cannot dial lan-b.*; it dials back at \[2001:db8:1::2\]:$INSEL_PEER_PORT (IPv6)" \
	"$NETNS_TMP/principal.log"
check "B dialled A's IPv6 endpoint, and A took the reversed connection" \
	both grep -q "call $rcall: secondary lan-a cannot dial us; dialling it back at \[2001:db8:1::2\]:$INSEL_PEER_PORT" \
	"$NETNS_TMP/secondary-b.log" -- \
	grep -q "call $rcall: secondary lan-b dialled back" "$NETNS_TMP/secondary-a.log"
check "the call is reversed at A (insel calls) and in the call record" \
	both contains "$(insel_as a1 alice calls --json 2>&1)" '"signalling": *"reversed"' -- \
	contains "$(pdir call show "$rcall" 2>&1)" "reversed"
check "the reversed call carries datagrams both ways" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5006 --count 10 --size 1000
insel_as a1 alice hangup "$rcall" >/dev/null 2>&1
listen_as a2 carol "$NETNS_TMP/listen-carol-2.log" --auto-answer || fail "carol cannot listen again"
out=$(insel_as b2 dave call carol@lan-a --udp 6101 2>&1)
echo "$out"
call6=$(call_id_of "$out")
check "dave (IPv6 only) calls carol: up" contains "$out" " up "
check "B dialled A's IPv6 endpoint directly (reachable6), no reversal" \
	contains "$(insel_as b2 dave calls --json 2>&1)" '"signalling": *"direct"'
check "and B's log has no connect request for it" \
	bash -c "! grep -q 'call $call6: secondary lan-a cannot be dialled' '$NETNS_TMP/secondary-b.log'"
insel_as b2 dave hangup "$call6" >/dev/null 2>&1
check "the trunk comes up: ping a1 -> b1" wait_ping a1 10.2.0.11 40
check "ping b1 -> a1 through the trunk" pings b1 10.1.0.11 3
# The trunk is placed as soon as A registers, maybe before B's link is up again: its
# notice then waits in the mailbox, and the line says so ("lan-a cannot dial lan-b
# (linked to another principal; told in N ms); it dials back at ...").
check "the trunk (placed by A) was dialled back by B over IPv6 too" \
	test "$(grep -c "lan-a cannot dial lan-b.*; it dials back at \[2001:db8:1::2\]" \
		"$NETNS_TMP/principal.log")" -ge 2
spawn_in_ns b1 "$NETNS_TMP/iperf-b1.log" timeout 30 iperf3 -s -1 -p 5201
wait_port b1 5201 tcp 10
reset_counters
check "TCP through the trunk over IPv6 (iperf3 3 s)" \
	in_ns a1 timeout 20 iperf3 -c 10.2.0.11 -p 5201 -t 3
wire
check "the trunk's frames cross the wan over IPv6" carried v6

# ---- an IPv6-only caller to a callee it cannot dial, with no public6 ----
# A's IPv6 peer port is closed now too, B's open, and B registers again (reachable). dave
# (B, IPv6 only) calls carol: B's dial of A's endpoint6 is refused, so B asks the principal
# to connect them, and A dials B back over IPv6: A's derived endpoint6 tells the principal
# that A has IPv6. Without it A counted as IPv4-only and the call was spliced at once.
in_ns wan nft flush chain inet wan6_ports_closed forward
in_ns wan nft add rule inet wan6_ports_closed forward \
	ip daddr 198.18.1.2 tcp dport "$INSEL_PEER_PORT" counter reject with tcp reset
in_ns wan nft add rule inet wan6_ports_closed forward \
	ip6 daddr 2001:db8:1::2 tcp dport "$INSEL_PEER_PORT" counter reject with tcp reset
stop_pid "${SECONDARY_PID[b]}"
start_secondary b 2
wait_secondary_registered b || fail "B did not register again"
check "B's endpoint can be dialled now" wait_show lan-b '"reachable": *true'
out=$(insel_as b2 dave call carol@lan-a --udp 6102 2>&1)
echo "$out"
rcall6=$(call_id_of "$out")
grep -h "call $rcall6: .*\(dial\|splice\)" "$NETNS_TMP/principal.log" "$NETNS_TMP"/secondary-[ab].log
check "dave (IPv6 only) calls carol (A: no public6, not dialable): up" contains "$out" " up "
check "the principal had A dial B back over IPv6, not splice them" \
	grep -q "call $rcall6: lan-b cannot dial lan-a.*; it dials back at \[2001:db8:2::2\]:$INSEL_PEER_PORT (IPv6)" \
	"$NETNS_TMP/principal.log"
check "the call is reversed (insel calls at B)" \
	contains "$(insel_as b2 dave calls --json 2>&1)" '"signalling": *"reversed"'
insel_as b2 dave hangup "$rcall6" >/dev/null 2>&1

# ---- both dual-stack: both families work, one is chosen ----
# B's IPv4 peer port is closed now, its IPv6 one open: a dual-stack caller dials B's
# endpoint6 directly (reachable6) rather than asking the principal to connect it.
in_ns wan nft flush chain inet wan6_ports_closed forward
in_ns wan nft add rule inet wan6_ports_closed forward \
	ip daddr 198.18.2.2 tcp dport "$INSEL_PEER_PORT" counter reject with tcp reset
stop_pid "${SECONDARY_PID[a]}"
stop_pid "${SECONDARY_PID[b]}"
start_secondary a 1
ip -n "${NS}gw-b" addr add 198.18.2.2/24 dev v-wan
ip -n "${NS}gw-b" route add default via 198.18.2.1
sed -i -e "s/^address = .*/address = 198.18.0.2:$INSEL_PRINCIPAL_PORT/" \
	-e "s/^listen = \[2001:db8:2::2\]:$INSEL_PEER_PORT/listen = [::]:$INSEL_PEER_PORT\n\
public = 198.18.2.2:$INSEL_PEER_PORT\npublic6 = [2001:db8:2::2]:$INSEL_PEER_PORT\n\
wan_address = 198.18.2.2\nwan_address6 = 2001:db8:2::2/" "$NETNS_TMP/secondary-b.conf"
start_secondary b 2
wait_secondary_registered a || fail "A did not register again"
wait_secondary_registered b || fail "B did not register dual-stack"
check "A's IPv4 endpoint can be dialled again" wait_show lan-a '"reachable": *true' 
check "B's IPv4 endpoint cannot, its IPv6 one can" \
	both wait_show lan-b '"reachable": *false' -- wait_show lan-b '"reachable6": *true'
check "the trunk comes back with B dual-stack: ping a1 -> b1" wait_ping a1 10.2.0.11 40
listen_as b1 bob "$NETNS_TMP/listen-bob2.log" --auto-answer || fail "bob cannot listen again"
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
echo "$out"
check "a UDP call between two dual-stack sites goes up" contains "$out" " up "
dcall=$(call_id_of "$out")
check "A dialled B's IPv6 endpoint directly (B's IPv4 port closed, reachable6), no connect" \
	both contains "$(insel_as a1 alice calls --json 2>&1)" '"signalling": *"direct"' -- \
	bash -c "! grep -q 'call $dcall: .*asking the principal' '$NETNS_TMP/secondary-a.log'"
reset_counters
check "and carries datagrams intact both ways" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 1000
check "B's auxiliary has a WAN socket per family" \
	bash -c "grep -q '^198.18.2.2:' <<<'$(aux_wan b)' && grep -q '^\[2001:db8:2::2\]:' <<<'$(aux_wan b)'"
wire
remote=$(path_remote a1 alice)
echo "with both families, the call's path at A: $remote"
check "the call's path names one of B's host candidates" \
	bash -c "grep -Eq '\"(198.18.2.2|\[2001:db8:2::2\]):[0-9]+\"' <<<'$remote'"
# The other family is the warm standby of the call and of the trunk (docs/auxiliary.md,
# "Failover mid-call"): from each auxiliary a probe and its reply every 5 s, no data.
carried_data() { [ "$(udp_packets "a_b_$1")" -ge 20 ] && [ "$(udp_packets "b_a_$1")" -ge 20 ]; }
standby_only() { [ "$(udp_packets "a_b_$1")" -le 8 ] && [ "$(udp_packets "b_a_$1")" -le 8 ]; }
if carried_data v4 && standby_only v6; then
	echo "with both families working, the call is carried over IPv4"
elif carried_data v6 && standby_only v4; then
	echo "with both families working, the call is carried over IPv6"
fi
one_family() { (carried_data v4 && standby_only v6) || (carried_data v6 && standby_only v4); }
check "with both families working, exactly one family carries the call (the other sees the standby's probes only)" one_family

finish_checks
