#!/usr/bin/env bash
# Integration: network calls through TUN (issue 6). A principal, two sites and a wan,
# real processes, real TLS, real TUN interfaces in the gateways' namespaces:
#   - host to host: `insel call 10.2.0.11 --tun` beside a UDP call; ping fails before and
#     works after; its route lives in the call's own table, which an ip rule "from a1 to
#     b1" selects on each gateway; another host of the LAN is not routed into the call
#     (and dropped and counted if a rule sends it there anyway); the gateways' own
#     packets to the remote host ("to b1 iif lo" rules) go into the call too: b1's ping
#     with TTL 2 gets gw-a's "time exceeded" back through it, a1's tracepath shows gw-b,
#     and gw-a's wan sees no ICMP meanwhile; a second host call to b1 from a2 at the
#     same time, each call carrying its own host's pings; hang-up removes the interface,
#     its route and its rules, and the copy of the shared main-table rule the other call
#     no longer needs; kill -9 of a host call's auxiliary on either side: the
#     secondaries remove the rules; kill -9 of a secondary leaves its calls' rules, which
#     its next start removes; an auxiliary that fails after adding its rules (it cannot
#     drop privileges) leaves none behind;
#   - site-to-site trunk configured on both secondaries: comes up by itself; ping,
#     tracepath (both gateways show as hops), an iperf3 TCP transfer between hosts of the
#     two LANs; a DF packet over the tunnel MTU gets "fragmentation needed" and TCP adapts
#     its MSS; a packet with a source outside the trunk's prefixes is dropped and counted;
#   - a host call a1 -> b1 beside the trunk takes a1's traffic only: a2 -> b1 still goes
#     through the trunk (the calls' counters say which carried what), and so do gw-a's
#     own packets to b1; with a second host call a2 -> b1, hanging up the first leaves
#     the second its rules (gw-a's own packets still take the trunk);
#   - kill -9 of the trunk's auxiliary on either side: the trunk comes back;
#   - stopping the secondaries leaves no interface, route, rule, process or active call;
#   - all of it with 510 other LANs in the directory, listed before the two sites.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_deploy || fail "deployment did not come up"
# 510 other LANs whose names sort first: the directory's first page of LANs (500) holds
# neither site, so the gateways must ask for the LAN a call involves by name.
for i in $(seq 0 509); do
	pdir lan add "aa-$i" --prefix "10.$((200 + i / 256)).$((i % 256)).0/24" >/dev/null ||
		fail "cannot add LAN aa-$i"
done

# ---- host to host, beside a UDP call ----
check "no route between the LANs before any call" no_ping a1 10.2.0.11
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer --tun || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 100000 \
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
insel_rules a
check "gw-a sends a1's packets to b1 to the call's table (ip rule)" \
	has_rule a 10.1.0.11 10.2.0.11
check "gw-b sends b1's packets to a1 to the call's table (ip rule)" \
	has_rule b 10.2.0.11 10.1.0.11
table=$(rule_table a 10.1.0.11 10.2.0.11)
check "b1's route is in that table ($table), not in the main one" bash -c \
	"ip -n ${NS}gw-a route show table $table | grep -q '10.2.0.11 dev lan-b' &&
	 ! ip -n ${NS}gw-a route | grep -q 10.2.0.11"
check "ping a1 -> b1 through the network call" pings a1 10.2.0.11 3
check "the UDP call beside it still carries datagrams" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 5 --size 500
check "gw-a routes a1's packets to b1 into the call" \
	bash -c "ip -n ${NS}gw-a route get 10.2.0.11 from 10.1.0.11 iif lan | grep -q 'dev lan-b'"
# The gateways' own packets to the remote host: above all the ICMP errors about the
# call's packets, whose route the kernel looks up with no source.
check "gw-a has the rules for its own packets to b1 (to b1 iif lo)" has_own_rules a 10.2.0.11
check "gw-b has them for its own packets to a1" has_own_rules b 10.1.0.11
own=$(own_route a 10.2.0.11)
check "gw-a's own packets to b1 go into the call, not by the default route ($own)" \
	contains "$own" "dev lan-b table $table "
spawn_in_ns gw-a "$NETNS_TMP/wan-a.txt" timeout 20 tcpdump -i v-wan -n -l 'icmp or udp'
dump_pid=$LAST_PID
for _ in $(seq 1 50); do grep -q "listening on" "$NETNS_TMP/wan-a.txt" && break; sleep 0.1; done
ttl=$(in_ns b1 timeout 5 ping -n -c 1 -W 2 -t 2 10.1.0.11 2>&1)
echo "$ttl"
check "b1's ping with TTL 2 gets gw-a's 'time exceeded' back through the call" \
	contains "$ttl" "From 10.1.0.1 .*Time to live exceeded"
tp=$(in_ns a1 timeout 20 tracepath -n -m 6 10.2.0.11 2>&1)
echo "$tp"
check "tracepath a1 -> b1 through the host call shows gw-b (10.2.0.1)" contains "$tp" " 10.2.0.1 "
check "and reaches b1" contains "$tp" "eached"
sleep 0.3
stop_pid "$dump_pid"
check "gw-a's wan carried the call's UDP ($(grep -c ' UDP' "$NETNS_TMP/wan-a.txt") packets) and no ICMP" \
	bash -c "grep -q ' UDP' $NETNS_TMP/wan-a.txt && ! grep -q ICMP $NETNS_TMP/wan-a.txt"
check "a2 is not part of the call: no ping" no_ping a2 10.2.0.11
check "gw-a does not route a2's packets into it" \
	bash -c "! ip -n ${NS}gw-a route get 10.2.0.11 from 10.1.0.12 iif lan 2>&1 | grep -q 'dev lan-'"
# Should a rule send a2's packets into the call anyway, its auxiliary drops them.
refused() { tun_counter "$(insel_as a1 alice calls --json 2>&1)" unauthorised_from_lan; }
before=$(refused)
ip -n "${NS}gw-a" rule add from 10.1.0.12 to 10.2.0.11 lookup "$table" pref 100
check "a2's packets forced into the call get no answer" bash -c \
	"! ip netns exec ${NS}a2 ping -n -c 3 -W 1 -i 0.2 10.2.0.11 >/dev/null 2>&1"
after=$(refused)
check "they were dropped and counted (refused $before -> $after)" \
	test "$after" -ge $((before + 3))
ip -n "${NS}gw-a" rule del from 10.1.0.12 to 10.2.0.11 lookup "$table" pref 100
out=$(insel_as a1 alice calls 2>&1)
echo "$out"
check "insel calls shows the network call" contains "$out" "network (tun lan-b"

# ---- a second host call to b1 at the same time, from a2 ----
out=$(insel_as a2 carol call 10.2.0.11 --tun 2>&1)
echo "$out"
check "carol on a2 places a network call to b1 too" contains "$out" " up "
carol_call=$(call_id_of "$out")
check "gw-a has a second interface for it (lan-b1)" has_link a lan-b1
insel_rules a
check "gw-a has the two calls' rules (three each)" test "$(rule_count a)" -eq 6
check "one from a1 and one from a2" both has_rule a 10.1.0.11 10.2.0.11 -- \
	has_rule a 10.1.0.12 10.2.0.11
check "and a copy each of the main-table rule for gw-a's own packets to b1" \
	test "$(own_main_rules a 10.2.0.11)" -eq 2
check "gw-b has the two calls' rules" test "$(rule_count b)" -eq 6
alice_pkts() { tun_counter "$(insel_as a1 alice calls --json 2>&1)" packets_from_lan; }
carol_pkts() { tun_counter "$(insel_as a2 carol calls --json 2>&1)" packets_from_lan; }
a0=$(alice_pkts) c0=$(carol_pkts)
check "ping a1 -> b1 with both calls up" pings a1 10.2.0.11 3
a1n=$(alice_pkts) c1n=$(carol_pkts)
check "alice's call carried a1's pings, carol's none (alice $a0 -> $a1n, carol $c0 -> $c1n)" \
	test $((a1n - a0)) -ge 3 -a "$c1n" -eq "$c0"
check "ping a2 -> b1 through carol's call" pings a2 10.2.0.11 3
a2n=$(alice_pkts) c2n=$(carol_pkts)
check "carol's call carried a2's pings, alice's none (alice $a1n -> $a2n, carol $c1n -> $c2n)" \
	test $((c2n - c1n)) -ge 3 -a "$a2n" -eq "$a1n"
out=$(insel_as a2 carol hangup "$carol_call" 2>&1)
check "hang-up of carol's call" contains "$out" "hung up"
check "removes its rules on gw-a" wait_rule_count a 3 5
check "and on gw-b" wait_rule_count b 3 5
check "alice's rules stay" both has_rule a 10.1.0.11 10.2.0.11 -- has_own_rules a 10.2.0.11
check "with one copy of the main-table one" test "$(own_main_rules a 10.2.0.11)" -eq 1
check "and her call still carries a1's pings" pings a1 10.2.0.11 2
own=$(own_route a 10.2.0.11)
check "and gw-a's own packets to b1 ($own)" contains "$own" "dev lan-b table $table "
ttl=$(in_ns b1 timeout 5 ping -n -c 1 -W 2 -t 2 10.1.0.11 2>&1)
check "b1's ping with TTL 2 still gets gw-a's 'time exceeded' back" \
	contains "$ttl" "From 10.1.0.1 .*Time to live exceeded"
check "while a2 has no way to b1 again" no_ping a2 10.2.0.11

out=$(insel_as a1 alice hangup "$tun_call" 2>&1)
check "hang-up of the network call" contains "$out" "hung up"
for _ in $(seq 1 30); do no_link a lan-b && no_link b lan-a && break; sleep 0.1; done
check "hang-up removes the caller's interface" no_link a lan-b
check "hang-up removes the callee's interface" no_link b lan-a
check "and the route through it" \
	bash -c "! ip -n ${NS}gw-a route show table all | grep -q 10.2.0.11"
check "and the rules on gw-a" wait_rule_count a 0 5
check "and the rules on gw-b" wait_rule_count b 0 5
own=$(own_route a 10.2.0.11)
check "gw-a's own packets to b1 follow the main table again ($own)" \
	contains "$own" "dev v-wan"
check "no ping after hang-up" no_ping a1 10.2.0.11
check "the UDP call survives the network call's end" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 3 --size 300
insel_as a1 alice hangup "$udp_call" >/dev/null 2>&1
out=$(insel_as a2 carol call bob@lan-b --tun 2>&1)
echo "$out"
check "a network call to a user name is refused clearly" contains "$out" "host name"
check "all host calls torn down" wait_aux_count a 0 5
check "on both sides" wait_aux_count b 0 5

# ---- kill -9 of a host call's auxiliary: the secondaries remove the rules ----
for side in a b; do
	out=$(insel_as a1 alice call 10.2.0.11 --tun 2>&1)
	check "a host call for the kill -9 of gw-$side's auxiliary" contains "$out" " up "
	check "with its rules" both test "$(rule_count a)" -eq 3 -- test "$(rule_count b)" -eq 3
	kill -9 "$(aux_pids $side | head -n 1)"
	check "kill -9 of gw-$side's auxiliary: its secondary removes its rules" \
		wait_rule_count $side 0 5
	check "the call ends on both sides, and no rule stays" both wait_rule_count a 0 10 -- \
		wait_rule_count b 0 10
	check "no auxiliary stays on either side" both wait_aux_count a 0 5 -- \
		wait_aux_count b 0 5
done

# ---- a secondary killed with its calls leaves their rules; its next start removes them ----
out=$(insel_as a1 alice call 10.2.0.11 --tun 2>&1)
check "a host call before gw-a's secondary is killed" contains "$out" " up "
kill -9 "${SECONDARY_PID[a]}"
reap_pid "${SECONDARY_PID[a]}"
for _ in $(seq 1 30); do no_link a lan-b && break; sleep 0.1; done
check "kill -9 of gw-a's secondary: its auxiliary goes with it" no_link a lan-b
check "but the call's rule stays behind" has_rule a 10.1.0.11 10.2.0.11
# Started again with auxiliaries that cannot drop privileges (no such user): they fail
# after adding their rules, and no bind reply tells the secondary their table.
sed -i 's/^\[auxiliary\]$/[auxiliary]\nuser = insel-no-such-user/' "$NETNS_TMP/secondary-a.conf"
start_secondary a 1
check "the secondary's next start removes it" wait_rule_count a 0 5
check "gw-b's side of the call ended, and its rule with it" wait_rule_count b 0 10
wait_secondary_registered a || fail "gw-a's secondary did not register again"
out=$(insel_as a1 alice call 10.2.0.11 --tun 2>&1)
echo "$out"
check "a host call whose auxiliary cannot drop privileges fails clearly" \
	contains "$out" "cannot drop privileges"
check "and leaves no rule behind" wait_rule_count a 0 5
check "the secondary removed them (the rules of an interface that is gone)" \
	grep -q "routing rule(s) of ended network calls removed" "$NETNS_TMP/secondary-a.log"
check "nor an auxiliary" wait_aux_count a 0 5
sed -i '/^user = insel-no-such-user$/d' "$NETNS_TMP/secondary-a.conf"

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

# ---- a host call beside the trunk carries its own host's traffic only ----
listen_as b1 bob "$NETNS_TMP/listen-bob-2.log" --auto-answer --tun || fail "bob cannot listen"
out=$(insel_as a1 alice call 10.2.0.11 --tun 2>&1)
echo "$out"
check "a host call a1 -> b1 goes up beside the trunk" contains "$out" " up "
host_call=$(call_id_of "$out")
check "with its rule on gw-a" has_rule a 10.1.0.11 10.2.0.11
pkts() { tun_counter "$(insel_operator a calls --json 2>&1)" packets_from_lan "$1"; }
h0=$(pkts "$host_call") t0=$(pkts trunk)
check "ping a2 -> b1 still goes through" pings a2 10.2.0.11 3
h1=$(pkts "$host_call") t1=$(pkts trunk)
check "through the trunk, not the host call (trunk $t0 -> $t1, host call $h0 -> $h1)" \
	test $((t1 - t0)) -ge 3 -a "$h1" -eq "$h0"
check "ping a1 -> b1" pings a1 10.2.0.11 3
h2=$(pkts "$host_call") t2=$(pkts trunk)
check "through the host call, not the trunk (trunk $t1 -> $t2, host call $h1 -> $h2)" \
	test $((h2 - h1)) -ge 3 -a "$t2" -eq "$t1"
own=$(own_route a 10.2.0.11)
check "gw-a's own packets to b1 take the trunk (main table: $own)" \
	contains "$own" "dev lan-b src "
out=$(insel_as a2 carol call 10.2.0.11 --tun 2>&1)
echo "$out"
check "a second host call a2 -> b1 beside them" contains "$out" " up "
carol_call=$(call_id_of "$out")
check "with its own copy of the main-table rule" test "$(own_main_rules a 10.2.0.11)" -eq 2
out=$(insel_as a1 alice hangup "$host_call" 2>&1)
check "hang-up of the first host call" contains "$out" "hung up"
check "removes its rules (and one copy of the main-table rule)" \
	both wait_rule_count a 3 5 -- wait_rule_count b 3 5
check "the second call keeps what it needs" both has_rule a 10.1.0.12 10.2.0.11 -- \
	has_own_rules a 10.2.0.11
own=$(own_route a 10.2.0.11)
check "gw-a's own packets to b1 still take the trunk ($own)" contains "$own" "dev lan-b src "
c0=$(pkts "$carol_call")
check "ping a2 -> b1" pings a2 10.2.0.11 3
c1=$(pkts "$carol_call")
check "through the second host call ($c0 -> $c1)" test $((c1 - c0)) -ge 3
out=$(insel_as a2 carol hangup "$carol_call" 2>&1)
check "hang-up of the second host call" contains "$out" "hung up"
check "removes all the host calls' rules" both wait_rule_count a 0 5 -- wait_rule_count b 0 5
check "a1 -> b1 goes through the trunk again" pings a1 10.2.0.11 2
check "only the trunk's auxiliaries are left" both wait_aux_count a 1 5 -- \
	wait_aux_count b 1 5

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
check_tun_teardown
finish_checks
