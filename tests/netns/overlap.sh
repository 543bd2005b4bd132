#!/usr/bin/env bash
# Integration: two branch offices on the same prefix (issue 14, docs/overlap.md). Sites a
# and b are both 192.168.1.0/24 (gateways .1, hosts .11 and .12 on each); the directory
# holds them with --allow-overlap, lan-a mapped as 10.99.1.0/24, lan-b as 10.99.2.0/24:
#   - host call a1 -> b1 by name (`insel call b1 --tun`): ping and a bounded TCP transfer;
#     b1's server sees a1 as 10.99.1.11; tcpdump on each LAN shows only that LAN's real
#     addresses and the other side's mapped ones (never a packet of the other LAN's real
#     addresses, which here are the LAN's own);
#   - host call a1 -> b1 by its mapped address (`insel call 10.99.2.11 --tun`): the same;
#     a call to the shared real address 192.168.1.11 is refused as ambiguous;
#   - a room with a1 and b1 (both 192.168.1.11): ping and TCP by room address, b1 sees
#     a1's room address, tcpdump on each LAN shows only its own and room addresses;
#   - a trunk with remote_map = 10.99.2.0/24 on gw-a and 10.99.1.0/24 on gw-b: a2 pings
#     b2 at 10.99.2.12 and sends it TCP; b2 sees 10.99.1.12.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
INSEL_LAN_FORMAT=192.168.1   # every site's LAN: 192.168.1.0/24
INSEL_USERS="alice@lan-a carol@lan-a bob@lan-b dave@lan-b"
source "$here/insel_env.sh"
command -v tcpdump >/dev/null || { echo "SKIP: no tcpdump"; exit 77; }
netns_begin

# A site on 192.168.1.0/24 (lib.sh's site_lan numbers LANs 10.N.0.0/24).
overlap_site() {  # overlap_site LETTER N HOST...
	local x=$1 n=$2 h i=11 gw="${NS}gw-$1"
	shift 2
	ns_add "gw-$x"
	link_ns wan "198.18.$n.1/24" "gw-$x" "198.18.$n.2/24"
	ip -n "$gw" route add default via "198.18.$n.1"
	enable_forwarding "gw-$x"
	ip -n "$gw" link add lan type bridge
	ip -n "$gw" addr add 192.168.1.1/24 dev lan
	ip -n "$gw" link set lan up
	for h in "$@"; do
		ns_add "$h"
		ip link add "p-$h" netns "$gw" type veth peer name eth0 netns "${NS}$h"
		ip -n "$gw" link set "p-$h" master lan up
		ip -n "${NS}$h" addr add "192.168.1.$i/24" dev eth0
		ip -n "${NS}$h" link set eth0 up
		ip -n "${NS}$h" route add default via 192.168.1.1
		i=$((i + 1))
	done
}

ns_add wan
enable_forwarding wan
ns_add principal
link_ns wan 198.18.0.1/24 principal 198.18.0.2/24
ip -n "${NS}principal" route add default via 198.18.0.1
overlap_site a 1 a1 a2
overlap_site b 2 b1 b2

# The directory: the same prefix twice, each LAN with its mapped prefix.
insel_pki
DB=$NETNS_TMP/directory.db
pdir secondary add lan-a >/dev/null
pdir secondary add lan-b >/dev/null
pdir lan add lan-a --prefix 192.168.1.0/24 --mapped 10.99.1.0/24 --secondary lan-a >/dev/null ||
	fail "lan add lan-a --mapped"
pdir lan add lan-b --prefix 192.168.1.0/24 --allow-overlap --mapped 10.99.2.0/24 \
	--secondary lan-b >/dev/null || fail "lan add lan-b --allow-overlap"
for u in $INSEL_USERS; do
	echo "pw-${u%@*}" | pdir user add "$u" --iterations 1000 >/dev/null
done
pdir host add b1 --lan lan-b --address 192.168.1.11 >/dev/null || fail "host add b1"
start_principal
start_secondary a 1
start_secondary b 2
wait_registered || fail "the secondaries did not register"

# A TCP sink on HOST:PORT that writes "PEER BYTES" to FILE once a connection closes
# (one connection, 15 s at most).
tcp_sink() {  # tcp_sink HOST PORT FILE
	spawn_in_ns "$1" "$3.log" timeout 15 python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1); s.settimeout(14)
c, peer = s.accept(); c.settimeout(10); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
open(sys.argv[2], "w").write("%s %d\n" % (peer[0], n))
' "$2" "$3"
	# Listening before anyone connects (a fixed 0.3 s was not always enough: refused).
	wait_port "$1" "$2" tcp 10
}
# tcp_send HOST ADDR PORT BYTES: sends BYTES bytes to ADDR:PORT (10 s at most).
tcp_send() {
	in_ns "$1" timeout 10 python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
c.sendall(b"x" * int(sys.argv[3])); c.close()
' "$2" "$3" "$4"
}
# dump LETTER FILE: tcpdump of IP on site X's LAN bridge into FILE; its PID in DUMP_PID.
dump() {
	spawn_in_ns "gw-$1" "$2" timeout 30 tcpdump -i lan -n -l ip
	DUMP_PID=$LAST_PID
	for _ in $(seq 1 50); do grep -q "listening on" "$2" && break; sleep 0.1; done
}
# only_addresses FILE PREFIX...: every address tcpdump printed lies in one of the prefixes.
only_addresses() {
	local file=$1
	shift
	python3 - "$file" "$@" <<'PY'
import ipaddress, re, sys
nets = [ipaddress.ip_network(p) for p in sys.argv[2:]]
seen = set()
for line in open(sys.argv[1]):
    m = re.search(r" IP (\d+\.\d+\.\d+\.\d+)(?:\.\d+)? > (\d+\.\d+\.\d+\.\d+)(?:\.\d+)?:", line)
    if m:
        seen.update(m.groups())
bad = [a for a in seen if not any(ipaddress.ip_address(a) in n for n in nets)]
print("addresses:", " ".join(sorted(seen)), "outside:", " ".join(bad))
sys.exit(1 if bad or not seen else 0)
PY
}

# call_case LABEL CALLEE: a host call a1 -> b1 placed as CALLEE, checked, hung up.
call_case() {
	local label=$1 callee=$2 out id got
	out=$(insel_as a1 alice call "$callee" --tun 2>&1)
	echo "$out"
	check "$label: alice's network call to $callee goes up" contains "$out" " up "
	id=$(call_id_of "$out")
	check "$label: gw-a routes a1's packets to 10.99.2.11 into the call" \
		has_rule a 192.168.1.11 10.99.2.11
	check "$label: gw-b routes b1's packets to 10.99.1.11 into the call" \
		has_rule b 192.168.1.11 10.99.1.11
	dump a "$NETNS_TMP/lan-a-$label.txt"
	local dump_a=$DUMP_PID
	dump b "$NETNS_TMP/lan-b-$label.txt"
	local dump_b=$DUMP_PID
	check "$label: ping a1 -> b1 at 10.99.2.11" pings a1 10.99.2.11 3
	tcp_sink b1 5001 "$NETNS_TMP/sink-$label"
	check "$label: 1 MiB over TCP from a1 to b1" tcp_send a1 10.99.2.11 5001 1048576
	for _ in $(seq 1 30); do [ -s "$NETNS_TMP/sink-$label" ] && break; sleep 0.1; done
	got=$(cat "$NETNS_TMP/sink-$label" 2>/dev/null)
	check "$label: b1 received it all from a1's mapped address 10.99.1.11 ($got)" \
		test "$got" = "10.99.1.11 1048576"
	sleep 0.3
	stop_pid "$dump_a"
	stop_pid "$dump_b"
	check "$label: LAN a shows only its own addresses and lan-b's mapped ones" \
		only_addresses "$NETNS_TMP/lan-a-$label.txt" 192.168.1.0/24 10.99.2.0/24
	check "$label: LAN a saw a1 talk to 10.99.2.11" \
		grep -q "IP 10.99.2.11 > 192.168.1.11: ICMP echo reply" "$NETNS_TMP/lan-a-$label.txt"
	check "$label: LAN b shows only its own addresses and lan-a's mapped ones" \
		only_addresses "$NETNS_TMP/lan-b-$label.txt" 192.168.1.0/24 10.99.1.0/24
	check "$label: LAN b saw 10.99.1.11 talk to b1" \
		grep -q "IP 10.99.1.11 > 192.168.1.11: ICMP echo request" "$NETNS_TMP/lan-b-$label.txt"
	check "$label: a2 (192.168.1.12) gets nothing from the call" no_ping a2 10.99.2.11
	insel_as a1 alice hangup "$id" >/dev/null 2>&1 || fail "$label: hang-up"
	wait_rule_count a 0 5
}

listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer --tun || fail "bob cannot listen"
call_case by-name b1
call_case by-mapped-address 10.99.2.11
out=$(insel_as a1 alice call 192.168.1.11 --tun 2>&1)
echo "$out"
check "a call to the shared real address is refused as ambiguous" contains "$out" "ambiguous"

# ---- a room with a member on each site: room addresses, no mapped prefix needed ----
echo sesame | pdir room add games --network 172.30.0.0/24 --iterations 1000 >/dev/null ||
	fail "room add"
pdir room join games alice@lan-a --host 192.168.1.11 >/dev/null || fail "a1 joins"
pdir room join games bob@lan-b --host 192.168.1.11 >/dev/null || fail "b1 joins (same address)"
room_addr() {  # room_addr USER@LAN: its room address in games
	pdir room show games --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
print([m["address"] for m in j["members"] if m["user"] == sys.argv[1]][0])' "$1"
}
ra=$(room_addr alice@lan-a)
rb=$(room_addr bob@lan-b)
check "a1 reaches b1's room address $rb" wait_ping a1 "$rb" 20
dump a "$NETNS_TMP/lan-a-room.txt"
dump_a=$DUMP_PID
dump b "$NETNS_TMP/lan-b-room.txt"
dump_b=$DUMP_PID
check "room: ping a1 -> b1 at $rb" pings a1 "$rb" 3
tcp_sink b1 5003 "$NETNS_TMP/sink-room"
check "room: 256 KiB over TCP from a1 to b1" tcp_send a1 "$rb" 5003 262144
for _ in $(seq 1 30); do [ -s "$NETNS_TMP/sink-room" ] && break; sleep 0.1; done
got=$(cat "$NETNS_TMP/sink-room" 2>/dev/null)
check "room: b1 received it all from a1's room address $ra ($got)" test "$got" = "$ra 262144"
sleep 0.3
stop_pid "$dump_a"
stop_pid "$dump_b"
check "room: LAN a shows only its own addresses and room addresses" \
	only_addresses "$NETNS_TMP/lan-a-room.txt" 192.168.1.0/24 172.30.0.0/24
check "room: LAN b shows only its own addresses and room addresses" \
	only_addresses "$NETNS_TMP/lan-b-room.txt" 192.168.1.0/24 172.30.0.0/24
check "room: LAN b saw a1's room address talk to b1" \
	grep -q "IP $ra > 192.168.1.11: ICMP echo request" "$NETNS_TMP/lan-b-room.txt"
pdir room remove games >/dev/null 2>&1 || true

# ---- a trunk with remote_map on both gateways ----
add_trunk a 1 to-b lan-b remote_map=10.99.2.0/24
add_trunk b 2 to-a lan-a remote_map=10.99.1.0/24
restart_secondary a 1
restart_secondary b 2
check "the trunk comes up (a2 pings b2 at 10.99.2.12)" wait_ping a2 10.99.2.12 20
check "gw-a routes lan-b's mapped prefix through the trunk" \
	bash -c "ip -n ${NS}gw-a route | grep -q '^10.99.2.0/24 dev lan-b'"
dump b "$NETNS_TMP/lan-b-trunk.txt"
tcp_sink b2 5002 "$NETNS_TMP/sink-trunk"
check "trunk: 256 KiB over TCP from a2 to b2" tcp_send a2 10.99.2.12 5002 262144
for _ in $(seq 1 30); do [ -s "$NETNS_TMP/sink-trunk" ] && break; sleep 0.1; done
got=$(cat "$NETNS_TMP/sink-trunk" 2>/dev/null)
check "trunk: b2 received it all from a2's mapped address 10.99.1.12 ($got)" \
	test "$got" = "10.99.1.12 262144"
sleep 0.3
stop_pid "$DUMP_PID"
check "trunk: LAN b shows only its own addresses and lan-a's mapped ones" \
	only_addresses "$NETNS_TMP/lan-b-trunk.txt" 192.168.1.0/24 10.99.1.0/24

finish_checks
