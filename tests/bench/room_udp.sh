#!/usr/bin/env bash
# Diagnosis run (a benchmark, not in run.sh): COUNT sends a1 -> b1 through a room, one
# every 2 ms: UDP datagrams of 4 bytes to 60000 (over the leg's MTU the gateway
# fragments them; the first over it meets path MTU discovery and is lost, as on any
# router), every tenth send a UDP_SEGMENT (GSO) send of eight 1000-byte datagrams; with
# "tcp", beside an iperf3 stream (300 Mbit/s, 20 s) through the same leg. tcpdump on
# gw-a's LAN and leg, gw-b's leg and LAN, and b1 (KEEP=DIR keeps the captures); prints
# which datagrams were lost (by size), the legs' counters, the kernel's counters of each
# leg's interface (TX dropped: the TUN's queue overflowed) and each capture's count.
# Usage (root): bash tests/bench/room_udp.sh [BUILD-DIR] [COUNT] [tcp]
#   INSEL_TUN_OFFLOAD=off: the auxiliaries take no TUN offloads (the comparison);
#   TXCSUM=off: a1's interface completes its checksums itself (no partial ones).
set -uo pipefail
source "$(dirname "$0")/bench_lib.sh"
bench_build_arg "${1:-}" && shift
INSEL_USERS="alice@lan-a carol@lan-a bob@lan-b"
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/room_lib.sh"
count=${1:-2000}
with_tcp=${2:-}
port=9000
netns_begin
room_deploy
room_add games 172.30.0.0/24
room_join games alice@lan-a 10.1.0.11
room_join games bob@lan-b 10.2.0.11
wait_ping a1 172.30.0.2 30 || fail "a1 cannot reach b1 in the room"
echo "offloads: ${INSEL_TUN_OFFLOAD:-on}; legs: $(room_links a | tr '\n' ' ')"

cap() {  # cap NS IFACE NAME
	spawn_in_ns "$1" "$NETNS_TMP/cap-$3.log" timeout 120 tcpdump -n -i "$2" -s 128 -U \
		-w "$NETNS_TMP/cap-$3.pcap" "udp port $port or (ip[6:2] & 0x1fff != 0)"
}
cap gw-a lan gwa-lan
cap gw-a games gwa-tun
cap gw-b games gwb-tun
cap gw-b lan gwb-lan
cap b1 eth0 b1
sleep 2

in_ns b1 timeout 60 python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(5)
got = []
try:
    while True:
        d, a = s.recvfrom(70000)
        seq = int.from_bytes(d[:4], "big") if len(d) >= 4 else -1
        ok = d[4:] == bytes((seq + i) & 0xff for i in range(len(d) - 4))
        got.append("%d %d %s %s" % (seq, len(d), a[0], "ok" if ok else "BAD"))
except socket.timeout:
    pass
print("\n".join(got))' "$port" >"$NETNS_TMP/recv" 2>&1 &
rpid=$!
wait_port b1 "$port" udp 10 || fail "receiver did not start"

if [ -n "$with_tcp" ]; then
	spawn_in_ns b1 "$NETNS_TMP/iperf-s.log" iperf3 -s -1 -p 5201
	wait_port b1 5201 tcp 5 >/dev/null
	spawn_in_ns a1 "$NETNS_TMP/iperf-c.log" iperf3 -c 172.30.0.2 -p 5201 -t 20 -b 300M
	sleep 1
fi

if [ "${TXCSUM:-on}" = off ]; then  # a1's veth completes no checksum: whole ones leave a1
	in_ns a1 python3 -c 'import fcntl, socket, struct, array
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for cmd in (0x17, 0x1d):  # ETHTOOL_STXCSUM, ETHTOOL_SGSO (off)
    val = array.array("B", struct.pack("II", cmd, 0))
    addr, _ = val.buffer_info()
    fcntl.ioctl(s, 0x8946, struct.pack("16sP", b"eth0", addr))
print("a1 eth0: tx checksum offload off")' || fail "cannot turn a1's tx checksum offload off"
fi
# Datagrams of the sizes below, one every 2 ms; every 10th send is one UDP_SEGMENT (GSO)
# send of 8 datagrams of 1000 bytes. Each datagram: sequence number, then a pattern.
in_ns a1 python3 -c 'import socket, sys, time
sizes = [4, 5, 7, 8, 9, 64, 100, 511, 512, 1000, 1200, 1300, 1350, 1372, 1380, 1400, 1420,
         1440, 1472, 1473, 1500, 2000, 2960, 3000, 4000, 8000, 16000, 30000, 60000]
def dgram(seq, size):
    return seq.to_bytes(4, "big") + bytes((seq + i) & 0xff for i in range(size - 4))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n, seq, log = int(sys.argv[2]), 0, open(sys.argv[3], "w")
for i in range(n):
    try:
        if i % 10 == 9:
            s.setsockopt(socket.IPPROTO_UDP, 103, 1000)  # UDP_SEGMENT
            s.sendto(b"".join(dgram(seq + k, 1000) for k in range(8)), (sys.argv[1], 9000))
            s.setsockopt(socket.IPPROTO_UDP, 103, 0)
            for k in range(8):
                print(seq + k, 1000, "gso", file=log)
            seq += 8
        else:
            size = sizes[i % len(sizes)]
            s.sendto(dgram(seq, size), (sys.argv[1], 9000))
            print(seq, size, "plain", file=log)
            seq += 1
    except OSError as e:
        print("send", i, e)
    time.sleep(0.002)
print("sent", seq, "datagrams in", n, "sends")' 172.30.0.2 "$count" "$NETNS_TMP/sent"
wait "$rpid"
sleep 1

got=$(grep -c " ok$" "$NETNS_TMP/recv")
bad=$(grep -c " BAD$" "$NETNS_TMP/recv")
echo "received $got intact, $bad corrupt, of $(grep -c . "$NETNS_TMP/sent")"
python3 - "$NETNS_TMP/sent" "$NETNS_TMP/recv" <<'PY'
import sys, collections
sent = {}
for line in open(sys.argv[1]):
    seq, size, kind = line.split()
    sent[int(seq)] = (int(size), kind)
got = set()
for line in open(sys.argv[2]):
    p = line.split()
    if len(p) == 4 and p[3] == "ok":
        got.add(int(p[0]))
lost = [s for s in sorted(sent) if s not in got]
print("lost by size/kind:", dict(collections.Counter(sent[s] for s in lost)))
print("first lost:", lost[:20])
PY
for c in room_nonmember room_no_member unauthorised_from_lan unauthorised_from_peer malformed errors too_big; do
	printf '%s: gw-a %s gw-b %s\n' "$c" "$(room_counter a "$c")" "$(room_counter b "$c")"
done
echo "a1 route to b1: $(ip -n "${NS}a1" route get 172.30.0.2 | tr "\n" " ")"
for x in a b; do
	user=alice; [ $x = b ] && user=bob
	echo "== gw-$x calls"
	in_ns "gw-$x" env INSEL_PASSWORD="pw-$user" "$C" calls --json \
		--secondary "$NETNS_TMP/secondary-$x.sock" --user "$user" 2>/dev/null |
		python3 -c 'import json, sys
for line in sys.stdin:
    if line.startswith("{"):
        print(json.dumps(json.loads(line), indent=1))' | grep -v '": 0,\?$'
	echo "== gw-$x links"
	ip -n "${NS}gw-$x" -s link show games
	in_ns "gw-$x" netstat -su 2>/dev/null | grep -i -A8 "^Udp:"
done
sleep 1
for n in gwa-lan gwa-tun gwb-tun gwb-lan b1; do
	printf '%-8s %s packets\n' "$n" "$(tcpdump -n -r "$NETNS_TMP/cap-$n.pcap" 2>/dev/null | grep -c .)"
done
if [ -n "${KEEP:-}" ]; then
	mkdir -p "$KEEP" && cp "$NETNS_TMP"/cap-*.pcap "$NETNS_TMP/recv" "$KEEP/"
fi
