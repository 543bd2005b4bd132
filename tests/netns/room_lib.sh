#!/usr/bin/env bash
# Three sites for the rooms' tests (room_path.sh, room_admin.sh, tests/bench/room.sh):
# lan-a (a1, a2), lan-b (b1, b2), lan-c (c1) with their secondaries and a principal;
# users alice and carol on lan-a, bob on lan-b, erin on lan-c (password "pw-<name>").
# Source lib.sh and insel_env.sh first (with INSEL_USERS="alice@lan-a carol@lan-a
# bob@lan-b"), then room_deploy.

room_deploy() {
	insel_three_sites
	add_user erin@lan-c
	start_principal
	start_three_secondaries
}

# room_add NAME NETWORK [NETWORK6]: the operator creates a room (join password "sesame").
room_add() { echo sesame | pdir room add "$1" --network "$2" ${3:+--network6 "$3"} >/dev/null; }
# room_join NAME USER@LAN HOST_ADDRESS [HOST_ADDRESS6]: the operator places a member.
room_join() { pdir room join "$1" "$2" --host "$3" ${4:+--host6 "$4"} >/dev/null; }

# The interfaces of rooms on gateway X (TUN devices), one name a line.
room_links() { ip -n "${NS}gw-$1" -o link show type tun 2>/dev/null | awk -F': ' '{print $2}'; }
# The counter NAME of every room leg on gateway X, summed (the operator's `insel calls`).
room_counter() {
	local json user=alice
	case $1 in b) user=bob ;; c) user=erin ;; esac
	json=$(in_ns "gw-$1" env INSEL_PASSWORD="pw-$user" "$C" calls --json \
		--secondary "$NETNS_TMP/secondary-$1.sock" --user "$user" 2>/dev/null)
	tun_counter "$json" "$2" trunk
}
# room_counters X LEGS NAME...: the room counters NAME... of gateway X's legs, each summed,
# on one line, from one listing that has the counters of LEGS legs at least (read again,
# 0.3 s apart, 10 times at most: under load an auxiliary may answer a listing late, and a
# sum without its leg would be wrong both ways).
room_counters() {
	local json user=alice x=$1 legs=$2 out
	shift 2
	case $x in b) user=bob ;; c) user=erin ;; esac
	for _ in $(seq 1 10); do
		json=$(in_ns "gw-$x" env INSEL_PASSWORD="pw-$user" "$C" calls --json \
			--secondary "$NETNS_TMP/secondary-$x.sock" --user "$user" 2>/dev/null)
		out=$(python3 -c '
import json, sys
legs, sums = 0, [0] * (len(sys.argv) - 2)
for line in sys.stdin.read().splitlines():
    if line.strip().startswith("{"):
        for call in json.loads(line).get("calls", []):
            for ch in call.get("channels", []):
                counters = ch.get("counters", {})
                if "trunk" in ch and "room_multicast_out" in counters:
                    legs += 1
                    for i, name in enumerate(sys.argv[2:]):
                        sums[i] += int(counters.get(name, 0))
if legs >= int(sys.argv[1]):
    print(*sums)' "$legs" "$@" <<<"$json" 2>/dev/null)
		[ -n "$out" ] && { echo "$out"; return 0; }
		sleep 0.3
	done
	echo "(gateway $x listed fewer than $legs legs with counters)"
}
# counter_above X NAME BEFORE: until gateway X's room counter NAME exceeds BEFORE, 10 s at
# most (under load an auxiliary may answer the listing late, its counters then missing).
counter_above() {
	for _ in $(seq 1 20); do
		[ "$(room_counter "$1" "$2")" -gt "$3" ] && return 0
		sleep 0.5
	done
	return 1
}
# wait_no_ping HOST ADDR SECONDS: until a ping gets no answer (bounded).
wait_no_ping() {
	local end=$((SECONDS + $3))
	while [ "$SECONDS" -le "$end" ]; do
		in_ns "$1" ping -n -c 1 -W 0.3 "$2" >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	return 1
}
# tcp_transfer FROM TO_ADDR TO_HOST: 1 MiB over TCP from host FROM to TO_ADDR (a room
# address of host TO_HOST, IPv4 or IPv6), checked byte for byte (bounded: 15 s).
tcp_transfer() {
	local from=$1 addr=$2 to=$3 port=$((5000 + RANDOM % 1000)) src=$NETNS_TMP/tcp-src fam=-4
	case $addr in *:*) fam=-6 ;; esac
	head -c 1048576 /dev/urandom >"$src"
	in_ns "$to" timeout 15 nc "$fam" -l -p "$port" >"$NETNS_TMP/tcp-dst" 2>/dev/null &
	local pid=$!
	wait_port "$to" "$port" tcp 5 || return 1
	in_ns "$from" timeout 15 nc -N "$addr" "$port" <"$src" >/dev/null 2>&1
	wait "$pid"
	cmp -s "$src" "$NETNS_TMP/tcp-dst"
}
# wait_ready FILE PID: until the receiver PID has bound its port and made FILE (15 s at
# most; a loaded machine can take seconds to start python). A datagram sent before the
# bind is lost however well the path works.
wait_ready() {
	for _ in $(seq 1 150); do
		[ -e "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# udp_source FROM ADDR TO: one datagram from host FROM to ADDR (a room address of host TO,
# IPv4 or IPv6), sent once TO's receiver is bound; prints the source address TO saw
# (bounded: 20 s).
udp_source() {
	local out=$NETNS_TMP/udp-source port=$((6000 + RANDOM % 1000)) fam=AF_INET any=0.0.0.0
	case $2 in *:*) fam=AF_INET6 any=:: ;; esac
	rm -f "$out" "$out.ready"
	in_ns "$3" timeout 20 python3 -c 'import socket, sys
s = socket.socket(getattr(socket, sys.argv[3]), socket.SOCK_DGRAM)
s.bind((sys.argv[4], int(sys.argv[1])))
open(sys.argv[2], "w").close()
print(s.recvfrom(100)[1][0], flush=True)' "$port" "$out.ready" "$fam" "$any" >"$out" 2>/dev/null &
	local pid=$!
	if ! wait_ready "$out.ready" "$pid"; then
		echo "(receiver on $3 not ready)"
		return
	fi
	in_ns "$1" python3 -c 'import socket, sys
socket.socket(getattr(socket, sys.argv[3]), socket.SOCK_DGRAM).sendto(b"hi", (sys.argv[1], int(sys.argv[2])))' \
		"$2" "$port" "$fam"
	wait "$pid"
	cat "$out"
}
# udp_burst FROM ADDR TO SOURCE: COUNT (300) datagrams from host FROM to ADDR (a room
# address of host TO), 2 ms apart, of every size from 2 to 1400 bytes in turn (within a
# leg's MTU: over it the first one would meet path MTU discovery) and every tenth send a
# UDP_SEGMENT (GSO) send of four 1000-byte datagrams; prints "N M" where N arrived
# intact from SOURCE (the sender's room address) out of M (bounded: 30 s).
udp_burst() {
	local out=$NETNS_TMP/udp-burst port=$((6000 + RANDOM % 1000))
	rm -f "$out" "$out.ready"
	in_ns "$3" timeout 30 python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("0.0.0.0", int(sys.argv[1])))
open(sys.argv[2], "w").close()
s.settimeout(5)
good = set()
try:
    while True:
        d, a = s.recvfrom(2048)
        seq = int.from_bytes(d[:2], "big")
        if a[0] == sys.argv[3] and d[2:] == bytes((seq + i) & 0xff for i in range(len(d) - 2)):
            good.add(seq)
except socket.timeout:
    pass
print(len(good), flush=True)' "$port" "$out.ready" "$4" >"$out" 2>/dev/null &
	local pid=$!
	if ! wait_ready "$out.ready" "$pid"; then
		echo "0 (receiver on $3 not ready)"
		return
	fi
	in_ns "$1" python3 -c 'import socket, sys, time
def dgram(seq, size):
    return seq.to_bytes(2, "big") + bytes((seq + i) & 0xff for i in range(size - 2))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
seq = 0
for i in range(300):
    if i % 10 == 9:
        s.setsockopt(socket.IPPROTO_UDP, 103, 1000)  # UDP_SEGMENT
        s.sendto(b"".join(dgram(seq + k, 1000) for k in range(4)), (sys.argv[1], int(sys.argv[2])))
        s.setsockopt(socket.IPPROTO_UDP, 103, 0)
        seq += 4
    else:
        s.sendto(dgram(seq, 2 + (i * 137) % 1399), (sys.argv[1], int(sys.argv[2])))
        seq += 1
    time.sleep(0.002)
print(seq)' "$2" "$port" >"$out.sent" 2>/dev/null
	wait "$pid"
	echo "$(cat "$out") $(cat "$out.sent")"
}
# recv_one HOST PORT OUT: in the background on HOST, waits (20 s at most) for one UDP
# datagram on PORT (any address) and writes "SOURCE PAYLOAD" to OUT; sets RECV_PID; returns
# once the receiver is bound.
recv_one() {
	rm -f "$3.ready"
	in_ns "$1" timeout 20 python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
open(sys.argv[2], "w").close()
d, a = s.recvfrom(1500)
print(a[0], d.decode(errors="replace"), flush=True)' "$2" "$3.ready" >"$3" 2>/dev/null &
	RECV_PID=$!
	wait_ready "$3.ready" "$RECV_PID"
}
# send_one HOST ADDR PORT PAYLOAD: one UDP datagram.
send_one() {
	in_ns "$1" python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))' "$2" "$3" "$4"
}
# mdns_responder HOST LOG: a scripted mDNS responder (bound to 224.0.0.251:5353, the
# group joined on the host's LAN address) that answers one query to its sender, 20 s at
# most; its pid in MDNS_PID; returns once it has joined the group (wait_ready).
mdns_responder() {
	rm -f "$3.ready"
	in_ns "$1" timeout 20 python3 -c 'import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("224.0.0.251", 5353))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             socket.inet_aton("224.0.0.251") + socket.inet_aton(sys.argv[1]))
open(sys.argv[2], "w").close()
d, a = s.recvfrom(1500)
print("query from", a[0], flush=True)
s.sendto(b"answer:" + d, a)' "$2" "$3.ready" >"$3" 2>&1 &
	MDNS_PID=$!
	wait_ready "$3.ready" "$MDNS_PID"
}
# mdns_query HOST ADDR: sends an mDNS query to 224.0.0.251:5353 from the host's address
# ADDR, port 5353, and prints the first answer (3 s at most).
mdns_query() {
	in_ns "$1" timeout 4 python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5353))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
s.settimeout(3)
q = b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04game\x05local\x00\x00\x01\x00\x01"
s.sendto(q, ("224.0.0.251", 5353))
d, a = s.recvfrom(1500)
print(a[0], d[:7].decode(), flush=True)' "$2" 2>/dev/null
}
# The IPv6 mDNS of a host, as real responders and browsers do it: a socket bound to
# [::]:5353 that joined ff02::fb on eth0, sending to the group from the host's link-local
# address (bound explicitly, so that no other source is taken), not looped back to itself.
MDNS6_COMMON='import socket, struct, sys
IF = socket.if_nametoindex("eth0")
def link_local():
    for line in open("/proc/net/if_inet6"):
        f = line.split()
        if f[5] == "eth0" and f[3] == "20":
            return ":".join(f[0][i:i + 4] for i in range(0, 32, 4))
def listener():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", 5353))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                 socket.inet_pton(socket.AF_INET6, "ff02::fb") + struct.pack("@I", IF))
    return s
def sender():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, IF)
    s.bind((link_local(), 5353, 0, IF))
    return s
GROUP = ("ff02::fb", 5353, 0, IF)
QUERY = b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04game\x05local\x00\x00\x01\x00\x01"
'
# mdns6_responder HOST LOG FROM: a scripted IPv6 mDNS responder that writes "query from
# SOURCE" to LOG for every query it hears and answers each to the group, as mDNS does,
# until it has answered one from FROM (20 s at most); its pid in MDNS6_PID; returns once
# it has joined the group.
mdns6_responder() {
	rm -f "$2.ready"
	in_ns "$1" timeout 20 python3 -c "$MDNS6_COMMON"'
l, s = listener(), sender()
open(sys.argv[1], "w").close()
while True:
    d, a = l.recvfrom(1500)
    print("query from", a[0], flush=True)
    s.sendto(b"answer:" + d, GROUP)
    if a[0] == sys.argv[2]:
        break' "$2.ready" "$3" >"$2" 2>&1 &
	MDNS6_PID=$!
	wait_ready "$2.ready" "$MDNS6_PID"
}
# mdns6_query HOST: sends an mDNS query to ff02::fb from the host's link-local address
# and prints the source and first 7 bytes of the first answer heard on the group (5 s at
# most: the answer crosses the room twice, each way judged by a gateway).
mdns6_query() {
	in_ns "$1" timeout 6 python3 -c "$MDNS6_COMMON"'
l, s = listener(), sender()
l.settimeout(5)
s.sendto(QUERY, GROUP)
while True:
    d, a = l.recvfrom(1500)
    if d.startswith(b"answer:"):
        print(a[0], d[:7].decode(), flush=True)
        break' 2>/dev/null
}
# mdns6_send HOST: one mDNS query to ff02::fb from the host's link-local address.
mdns6_send() {
	in_ns "$1" python3 -c "$MDNS6_COMMON"'
sender().sendto(QUERY, GROUP)' 2>/dev/null
}
# mdns6_flood HOST COUNT: COUNT datagrams at once to SSDP's group ff02::c:1900 from the
# host's link-local address.
mdns6_flood() {
	in_ns "$1" python3 -c "$MDNS6_COMMON"'
s = sender()
for _ in range(int(sys.argv[1])):
    s.sendto(b"M-SEARCH * HTTP/1.1\r\n\r\n", ("ff02::c", 1900, 0, IF))' "$2" 2>/dev/null
}
