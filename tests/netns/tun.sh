#!/usr/bin/env bash
# Integration: network calls through TUN (issue 6). A principal, two sites and a wan,
# real processes, real TLS, real TUN interfaces in the gateways' namespaces:
#   - host to host: `insel call 10.2.0.11 --tun` beside a UDP call; ping fails before and
#     works after; another host of the LAN is refused (dropped and counted); hang-up
#     removes the interface and its route;
#   - site-to-site trunk configured on both secondaries: comes up by itself; ping,
#     tracepath (both gateways show as hops), an iperf3 TCP transfer between hosts of the
#     two LANs; a DF packet over the tunnel MTU gets "fragmentation needed" and TCP adapts
#     its MSS; a packet with a source outside the trunk's prefixes is dropped and counted;
#   - kill -9 of the trunk's auxiliary on either side: the trunk comes back;
#   - stopping the secondaries leaves no interface, route, process or active call.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_deploy || fail "deployment did not come up"

# ---- host to host, beside a UDP call ----
check "no route between the LANs before any call" no_ping a1 10.2.0.11
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer --tun || fail "bob cannot listen"
spawn_in_ns b1 "$NETNS_TMP/echo-b1.log" python3 "$UDP_TOOL" echo 5004 --count 100000 \
	--timeout 120
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "a UDP call goes up" contains "$out" " up "
udp_call=$(call_id_of "$out")
out=$(insel_as a1 alice call 10.2.0.11 --tun 2>&1)
echo "$out"
check "alice places a network call to 10.2.0.11" contains "$out" " up "
tun_call=$(call_id_of "$out")
check "the caller's gateway has interface lan-b" has_link a lan-b
check "the callee's gateway has interface lan-a" has_link b lan-a
check "lan-b's MTU is the path MTU minus the overhead (1440)" \
	bash -c "ip -n ${NS}gw-a link show lan-b | grep -q 'mtu 1440'"
check "ping a1 -> b1 through the network call" pings a1 10.2.0.11 3
check "the UDP call beside it still carries datagrams" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 5 --size 500
check "a2 is not part of the call: no ping" no_ping a2 10.2.0.11
json=$(insel_as a1 alice calls --json 2>&1)
refused=$(tun_counter "$json" unauthorised_from_lan)
check "a2's packets were dropped and counted ($refused)" test "$refused" -ge 1
out=$(insel_as a1 alice calls 2>&1)
echo "$out"
check "insel calls shows the network call" contains "$out" "network (tun lan-b"
out=$(insel_as a1 alice hangup "$tun_call" 2>&1)
check "hang-up of the network call" contains "$out" "hung up"
for _ in $(seq 1 30); do no_link a lan-b && no_link b lan-a && break; sleep 0.1; done
check "hang-up removes the caller's interface" no_link a lan-b
check "hang-up removes the callee's interface" no_link b lan-a
check "and the route through it" bash -c "! ip -n ${NS}gw-a route | grep -q 10.2.0.11"
check "no ping after hang-up" no_ping a1 10.2.0.11
check "the UDP call survives the network call's end" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 3 --size 300
insel_as a1 alice hangup "$udp_call" >/dev/null 2>&1
out=$(insel_as a2 carol call bob@lan-b --tun 2>&1)
echo "$out"
check "a network call to a user name is refused clearly" contains "$out" "host name"
check "all host calls torn down" wait_aux_count a 0 5

# ---- a site-to-site trunk, configured on both secondaries ----
add_trunk a 1 to-b lan-b
add_trunk b 2 to-a lan-a remote=10.1.0.0/24
restart_secondary b 2
restart_secondary a 1
check "the trunk comes up by itself" wait_ping a1 10.2.0.11 40
check "lan-a's gateway has interface lan-b" has_link a lan-b
check "lan-b's gateway has interface lan-a" has_link b lan-a
check "the trunk routes LAN B through lan-b" route_via a lan-b
check "ping a2 -> b2 across the trunk" pings a2 10.2.0.12 3
check "ping b1 -> a1 the other way" pings b1 10.1.0.11 3
tp=$(in_ns a1 timeout 20 tracepath -n -m 6 10.2.0.11 2>&1)
echo "$tp"
check "tracepath shows gw-a as the first hop" contains "$tp" "10.1.0.1"
check "tracepath shows gw-b as the second hop" contains "$tp" "10.2.0.1"
check "tracepath reaches b1" contains "$tp" "eached"
check "tracepath finds the tunnel's path MTU (1440)" contains "$tp" "pmtu 1440"
pmtu=$(in_ns a2 ping -n -c 2 -W 1 -M do -s 1472 10.2.0.11 2>&1)
echo "$pmtu"
check "a 1500-byte DF ping gets 'fragmentation needed' back" \
	bash -c "grep -Eq 'Frag needed|mtu = 1440|too long' <<<'$pmtu'"
spawn_in_ns b1 "$NETNS_TMP/iperf-b1.log" iperf3 -s -1 -p 5201
iperf_pid=$LAST_PID
wait_port b1 5201 tcp 5
ip=$(in_ns a1 timeout 20 iperf3 -c 10.2.0.11 -p 5201 -t 3 -J 2>&1)
bps=$(python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))' <<<"$ip" 2>/dev/null || echo 0)
echo "iperf3 a1 -> b1 through the trunk: $((bps / 1000000)) Mbit/s"
check "iperf3 TCP transfer through the trunk" test "$bps" -gt 0
stop_pid "$iperf_pid"
check "TCP's path MTU adapted to the tunnel (route cache mtu 1440)" \
	bash -c "ip -n ${NS}a1 route get 10.2.0.11 | grep -q 'mtu 1440'"
# A source outside the trunk's prefixes (10.9.9.9 on a2, routed by gw-a onto the LAN).
before=$(tun_counter "$(insel_operator a calls --json 2>&1)" unauthorised_from_lan)
ip -n "${NS}a2" addr add 10.9.9.9/32 dev eth0
ip -n "${NS}gw-a" route add 10.9.9.9/32 dev lan
in_ns a2 ping -n -c 3 -W 1 -i 0.2 -I 10.9.9.9 10.2.0.11 >/dev/null 2>&1
after=$(tun_counter "$(insel_operator a calls --json 2>&1)" unauthorised_from_lan)
check "a packet from outside the trunk's prefixes is dropped and counted ($before -> $after)" \
	test "$after" -ge $((before + 3))
check "b1 never saw it: b1 still answers a1" pings a1 10.2.0.11
ip -n "${NS}gw-a" route del 10.9.9.9/32 dev lan
ip -n "${NS}a2" addr del 10.9.9.9/32 dev eth0

# ---- the trunk comes back after its auxiliary is killed ----
victim=$(aux_pids a | head -n 1)
kill -9 "$victim"
for _ in $(seq 1 20); do no_link a lan-b && break; sleep 0.1; done
check "kill -9 of gw-a's trunk auxiliary takes its interface with it" no_link a lan-b
check "the trunk is re-established (gw-a's auxiliary killed)" wait_ping a1 10.2.0.11 40
victim=$(aux_pids b | head -n 1)
kill -9 "$victim"
sleep 0.5
check "the trunk is re-established (gw-b's auxiliary killed)" wait_ping a1 10.2.0.11 40
check "one trunk interface on each side, no leftovers" \
	bash -c "[ $(tun_links a) -eq 1 ] && [ $(tun_links b) -eq 1 ]"
rec=$(pdir call list --json 2>&1)
check "the principal records the trunk's calls" contains "$rec" '"caller": *"lan-a"'

# ---- nothing remains ----
stop_pid "${SECONDARY_PID[a]}"
stop_pid "${SECONDARY_PID[b]}"
sleep 0.5
check "no TUN interface left on gw-a" test "$(tun_links a)" -eq 0
check "no TUN interface left on gw-b" test "$(tun_links b)" -eq 0
check "no route left through a tunnel" \
	bash -c "! ip -n ${NS}gw-a route | grep -q 'dev lan-' && ! ip -n ${NS}gw-b route | grep -q 'dev lan-'"
check "no auxiliary left" test "$(ps -eo args | grep -c "^$INSEL_BUILD/auxiliary/insel-auxiliary")" -eq 0
check "no sanitizer report in the daemons' logs" bash -c \
	"! grep -l 'Sanitizer' $NETNS_TMP/*.log"
if [ "$failures" -ne 0 ]; then
	echo "---- logs"
	tail -n 40 "$NETNS_TMP"/secondary-*.log "$NETNS_TMP/principal.log"
	exit 1
fi
