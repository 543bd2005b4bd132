#!/usr/bin/env bash
# Integration: IPv6 inside network calls (the encrypted UDP between the gateways stays
# IPv4 on the wan). The LANs have IPv6 ULA prefixes beside their IPv4 ones (lib.sh:
# fd01::/64 and fd02::/64, gateways at fd0N::1); with INSEL_IPV6=1 the directory and the
# secondaries know them and clients reach their gateway over IPv6.
#   - host to host by IPv6 address: `insel call fd02::11 --tun`; its routes live in the
#     call's own table, which an ip -6 rule "from a1 to b1" selects on each gateway;
#     ping -6 works, another host of the LAN is not routed into the call; the gateway's
#     own IPv6 packets to b1 ("to b1 iif lo" rules) go into the call too, so b1's ping -6
#     with hop limit 2 gets gw-a's "time exceeded" back through it; hang-up removes
#     interface, routes and rules;
#   - a trunk carrying both families: ping and ping -6 both ways; a ping -6 over the
#     tunnel MTU gets "packet too big" and the sender's route MTU adapts; 16 MiB over
#     TCP/IPv6 arrive intact and iperf3 -6 runs (the TSO6 offloads); an IPv6 source
#     outside the trunk's prefixes is dropped and counted;
#   - a room joined by clients connected over IPv6: the gateway finds each member's IPv4
#     host in its neighbour table (a join it cannot is refused, saying why), the notice
#     decodes, a1 reaches b1's room addresses; a host6 that is another host's is refused;
#   - stopping the secondaries leaves no interface, route, rule, process.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
INSEL_IPV6=1
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_deploy || fail "deployment did not come up"

# ---- host to host by IPv6 address ----
check "no IPv6 route between the LANs before any call" no_ping a1 fd02::11
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer --tun || fail "bob cannot listen"
out=$(insel_as a1 alice call fd02::11 --tun 2>&1)
echo "$out"
check "alice places a network call to fd02::11" contains "$out" " up "
tun_call=$(call_id_of "$out")
insel_rules a -6
check "gw-a sends a1's IPv6 packets to b1 to the call's table (ip -6 rule)" \
	has_rule a fd01::11 fd02::11 -6
check "gw-b sends b1's IPv6 packets to a1 to the call's table (ip -6 rule)" \
	has_rule b fd02::11 fd01::11 -6
check "and no IPv4 rule: the call has no IPv4 prefix" test "$(rule_count a)" -eq 0
table=$(rule_table a fd01::11 fd02::11 -6)
check "the caller's gateway routes fd02::11 through lan-b in that table ($table)" \
	bash -c "ip -n ${NS}gw-a -6 route show table $table dev lan-b | grep -q 'fd02::11' &&
		 ! ip -n ${NS}gw-a -6 route | grep -q fd02::11"
check "ping -6 a1 -> b1 through the network call" pings a1 fd02::11 3
check "nothing counted as unauthorised (the kernel's MLD reports from :: are link_local)" \
	test "$(tun_counter "$(insel_as a1 alice calls --json 2>&1)" unauthorised_from_lan)" -eq 0
check "gw-a routes a1's IPv6 packets to b1 into the call" \
	bash -c "ip -n ${NS}gw-a -6 route get fd02::11 from fd01::11 iif lan | grep -q 'dev lan-b'"
check "gw-a has the rules for its own IPv6 packets to b1 (to b1 iif lo)" \
	has_own_rules a fd02::11 -6
check "gw-b has them for its own IPv6 packets to a1" has_own_rules b fd01::11 -6
own=$(own_route a fd02::11 -6)
check "gw-a's own IPv6 packets to b1 go into the call ($own)" \
	contains "$own" "dev lan-b table $table "
ttl=$(in_ns b1 timeout 5 ping -6 -n -c 1 -W 2 -t 2 fd01::11 2>&1)
echo "$ttl"
check "b1's ping -6 with hop limit 2 gets gw-a's 'time exceeded' back through the call" \
	contains "$ttl" "From fd01::1 .*Time exceeded"
check "a2 is not part of the call: no ping -6" no_ping a2 fd02::11
check "gw-a does not route a2's IPv6 packets into it" \
	bash -c "! ip -n ${NS}gw-a -6 route get fd02::11 from fd01::12 iif lan 2>&1 | grep -q 'dev lan-'"
# Should a rule send a2's packets into the call anyway, its auxiliary drops them.
refused() { tun_counter "$(insel_as a1 alice calls --json 2>&1)" unauthorised_from_lan; }
before=$(refused)
ip -n "${NS}gw-a" -6 rule add from fd01::12 to fd02::11 lookup "$table" pref 100
check "a2's IPv6 packets forced into the call get no answer" bash -c \
	"! ip netns exec ${NS}a2 ping -6 -n -c 3 -W 1 -i 0.2 fd02::11 >/dev/null 2>&1"
after=$(refused)
check "they were dropped and counted (refused $before -> $after)" \
	test "$after" -ge $((before + 3))
ip -n "${NS}gw-a" -6 rule del from fd01::12 to fd02::11 lookup "$table" pref 100
out=$(insel_as a1 alice hangup "$tun_call" 2>&1)
check "hang-up of the IPv6 network call" contains "$out" "hung up"
for _ in $(seq 1 30); do no_link a lan-b && no_link b lan-a && break; sleep 0.1; done
check "hang-up removes both interfaces" bash -c "! ip -n ${NS}gw-a link show lan-b \
	>/dev/null 2>&1 && ! ip -n ${NS}gw-b link show lan-a >/dev/null 2>&1"
check "and the IPv6 route" bash -c "! ip -n ${NS}gw-a -6 route show table all | grep -q fd02::11"
check "and the IPv6 rule on gw-a" wait_rule_count a 0 5 -6
check "and on gw-b" wait_rule_count b 0 5 -6
check "no ping -6 after hang-up" no_ping a1 fd02::11
check "all host calls torn down" wait_aux_count a 0 5

# ---- a trunk carrying both families ----
add_trunk a 1 to-b lan-b
add_trunk b 2 to-a lan-a
restart_secondary b 2
restart_secondary a 1
check "the trunk comes up by itself (IPv4)" wait_ping a1 10.2.0.11 40
check "and carries IPv6: ping -6 a1 -> b1" wait_ping a1 fd02::11 10
check "ping -6 b2 -> a2 the other way" pings b2 fd01::12 3
check "ping a2 -> b2 over IPv4 still" pings a2 10.2.0.12 3
json=$(insel_operator a calls --json 2>&1)
link_local=$(tun_counter "$json" link_local trunk)
check "gw-a's trunk counted nothing as unauthorised (its kernel's MLD reports from :: are link_local: $link_local)" \
	test "$(tun_counter "$json" unauthorised_from_lan trunk)" -eq 0
check "nor gw-b's" \
	test "$(tun_counter "$(insel_operator b calls --json 2>&1)" unauthorised_from_lan trunk)" -eq 0
check "the trunk routes LAN B's IPv6 prefix through lan-b" \
	bash -c "ip -n ${NS}gw-a -6 route show dev lan-b | grep -q 'fd02::/64'"
pmtu=$(in_ns a1 ping -6 -n -c 2 -W 1 -M do -s 1452 fd02::11 2>&1)
echo "$pmtu"
check "a 1500-byte ping -6 gets 'packet too big' back" \
	bash -c "grep -Eiq 'too big|mtu' <<<'$pmtu'"
check "the sender's IPv6 route MTU adapted to the tunnel (1440)" \
	bash -c "ip -n ${NS}a1 -6 route get fd02::11 | grep -q 'mtu 1440'"
check "a ping -6 that fits still passes" \
	bash -c "ip netns exec ${NS}a1 ping -6 -n -c 1 -W 1 -s 1300 fd02::11 >/dev/null 2>&1"
# TCP over IPv6 uses the TUN offloads (TSO6 out of the interface, coalescing into it):
# 16 MiB cross intact, then a timed transfer, with nothing counted as malformed.
head -c 16777216 /dev/urandom >"$NETNS_TMP/blob6"
spawn_in_ns b1 "$NETNS_TMP/nc6.log" bash -c "timeout 20 nc -6 -l 5301 >$NETNS_TMP/blob6.got"
nc_pid=$LAST_PID
wait_port b1 5301 tcp 5
in_ns a1 timeout 20 nc -6 -N fd02::11 5301 <"$NETNS_TMP/blob6"
wait "$nc_pid" 2>/dev/null
check "16 MiB over TCP/IPv6 through the trunk arrive intact" \
	cmp -s "$NETNS_TMP/blob6" "$NETNS_TMP/blob6.got"
spawn_in_ns b1 "$NETNS_TMP/iperf6-b1.log" iperf3 -s -1 -p 5201
iperf_pid=$LAST_PID
wait_port b1 5201 tcp 5
ip=$(in_ns a1 timeout 20 iperf3 -6 -c fd02::11 -p 5201 -t 2 -J 2>&1)
bps=$(python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))' <<<"$ip" 2>/dev/null || echo 0)
echo "iperf3 -6 a1 -> b1 through the trunk: $((bps / 1000000)) Mbit/s"
check "iperf3 TCP/IPv6 transfer through the trunk" test "$bps" -gt 0
stop_pid "$iperf_pid"
json=$(insel_operator a calls --json 2>&1)
check "no packet counted as malformed on gw-a" test "$(tun_counter "$json" malformed trunk)" -eq 0
json=$(insel_operator b calls --json 2>&1)
check "nor on gw-b" test "$(tun_counter "$json" malformed trunk)" -eq 0
# An IPv6 source outside the trunk's prefixes (fd09::9 on a2, routed by gw-a to the LAN).
before=$(tun_counter "$(insel_operator a calls --json 2>&1)" unauthorised_from_lan)
ip -n "${NS}a2" addr add fd09::9/128 dev eth0 nodad
ip -n "${NS}gw-a" -6 route add fd09::9/128 dev lan
in_ns a2 ping -6 -n -c 3 -W 1 -i 0.2 -I fd09::9 fd02::11 >/dev/null 2>&1
after=$(tun_counter "$(insel_operator a calls --json 2>&1)" unauthorised_from_lan)
check "an IPv6 packet from outside the trunk's prefixes is dropped and counted ($before -> $after)" \
	test "$after" -ge $((before + 3))
check "b1 still answers a1 over IPv6" pings a1 fd02::11
ip -n "${NS}gw-a" -6 route del fd09::9/128 dev lan
ip -n "${NS}a2" addr del fd09::9/128 dev eth0

# ---- a room joined by clients that reach their gateway over IPv6 (docs/rooms.md) ----
# The connection gives the member's host6; its IPv4 host, which the room maps first, is
# the gateway's IPv4 neighbour with the same link-layer address.
echo sesame | pdir room add games --network 172.30.0.0/24 --network6 fd30::/64 >/dev/null
echo sesame >"$NETNS_TMP/room-pw"
room_join_as() {  # room_join_as HOST USER [ARGS...]
	local host=$1 user=$2
	shift 2
	insel_as "$host" "$user" room join games --room-password-file "$NETNS_TMP/room-pw" "$@" 2>&1
}
ip -n "${NS}gw-a" neigh del 10.1.0.11 dev lan 2>/dev/null
out=$(room_join_as a1 alice)
check "a join over IPv6 from a host gw-a knows no IPv4 address of is refused, saying why ($out)" \
	contains "$out" "does not know the IPv4 address on this LAN of fd01::11"
in_ns a1 ping -n -c 1 -W 2 10.1.0.1 >/dev/null 2>&1
out=$(room_join_as a1 alice)
check "once a1 has spoken IPv4 to its gateway, alice joins over IPv6 ($out)" \
	contains "$out" "172.30.0.1"
in_ns b1 ping -n -c 1 -W 2 10.2.0.1 >/dev/null 2>&1
out=$(room_join_as b1 bob)
check "and so does bob on b1 ($out)" contains "$out" "172.30.0.2"
show=$(pdir room show games 2>&1)
check "the directory has a1's IPv4 host and its IPv6 one" \
	bash -c "grep -q 'alice@lan-a .*10\.1\.0\.11' <<<'$show' && grep -q 'fd01::11' <<<'$show'"
check "both gateways take the notice: a1 reaches b1 in the room by IPv4" wait_ping a1 172.30.0.2 20
check "and by IPv6" wait_ping a1 fd30::2 10
# host6 is checked against the gateway's neighbour table: another host's is refused.
in_ns a2 ping -6 -n -c 1 -W 2 fd01::1 >/dev/null 2>&1
out=$(room_join_as a1 alice --host6 fd01::12)
check "a join naming a2's IPv6 address (fd01::12) as a1's is refused ($out)" \
	contains "$out" "host6 fd01::12 is another host's on this LAN than fd01::11"
pdir room remove games >/dev/null

# ---- nothing remains ----
check_tun_teardown
finish_checks
