#!/usr/bin/env bash
# Integration: path MTU discovery by probing (docs/nat.md "Path MTU"). Site B's gateway
# sits behind a router (${NS}mid) whose link to the wan has a small MTU, and both routers
# on that link drop the ICMP "fragmentation needed" they would send (a black hole; only
# TCP gets through, as many such routers do it, by clamping the MSS of SYNs):
#   - MTU 1280 from the start: a trunk and a UDP call come up; each auxiliary finds the
#     path's 1252 bytes of UDP payload (1280 - 28) by probing; the trunk's tunnel MTU
#     follows (1220), DF pings over it get "fragmentation needed" from the gateway, and
#     16 MiB of TCP through the trunk and 9000-byte datagrams through the UDP call arrive
#     intact; `insel calls` shows the path MTU of both (and the trunk's tunnel MTU); a
#     host flooding oversized DF packets gets ICMP "too big" only within the auxiliary's
#     rate limit, the rest counted (icmp_rate_limited);
#   - the link becomes a hotel's 1124 mid-call: the auxiliaries notice the black hole
#     while traffic flows, fall back, and find 1096, below the base size 1200; the same
#     transfers arrive intact again.
# Prints the figures: how long each search took, the PLPMTU each side reports, and the
# transfers' throughput.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
PACED=$here/paced_tcp.py

# The link wan <-> mid carries at most MTU bytes, silently: both routers drop the ICMP
# errors about it, and clamp the MSS of TCP SYNs crossing it so that the TLS connections
# of the secondaries keep working.
blackhole_rules() {  # blackhole_rules ROUTER MTU
	in_ns "$1" nft -f - <<NFT
table inet pmtu_blackhole
delete table inet pmtu_blackhole
table inet pmtu_blackhole {
	chain output {
		type filter hook output priority 0;
		icmp type destination-unreachable icmp code frag-needed counter drop
		icmpv6 type packet-too-big counter drop
	}
	chain forward {
		type filter hook forward priority 0;
		tcp flags syn tcp option maxseg size > $(($2 - 40)) \
			tcp option maxseg size set $(($2 - 40))
	}
}
NFT
}

set_link_mtu() {  # set_link_mtu MTU
	ip -n "${NS}wan" link set v-mid mtu "$1"
	ip -n "${NS}mid" link set v-wan mtu "$1"
	blackhole_rules wan "$1"
	blackhole_rules mid "$1"
}

# gw-b behind mid: the topology of lib.sh with the wan <-> gw-b link replaced by
# wan <-> mid <-> gw-b (gw-b keeps 198.18.2.2).
topo_behind_mid() {
	ip -n "${NS}wan" link del v-gw-b
	ns_add mid
	enable_forwarding mid
	link_ns wan 198.18.20.1/24 mid 198.18.20.2/24
	link_ns mid 198.18.2.1/24 gw-b 198.18.2.2/24
	ip -n "${NS}wan" route add 198.18.2.0/24 via 198.18.20.2
	ip -n "${NS}mid" route add default via 198.18.20.1
	ip -n "${NS}gw-b" route add default via 198.18.2.1
}

# The trunk's counters on gateway X (the auxiliary's tun stats, as `insel calls` shows).
trunk_counter() {  # trunk_counter X NAME
	insel_operator "$1" calls --json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin.read().splitlines():
    if line.strip().startswith("{"):
        for call in json.loads(line).get("calls", []):
            for ch in call.get("channels", []):
                if "trunk" in ch:
                    print(ch.get("counters", {}).get(sys.argv[1], ""))
                    sys.exit(0)' "$2"
}

# Waits (bounded) until the trunk's auxiliary on X reports PLPMTU WANT, search complete.
wait_plpmtu() {  # wait_plpmtu X WANT SECONDS
	for _ in $(seq 1 $(($3 * 2))); do
		[ "$(trunk_counter "$1" plpmtu)" = "$2" ] &&
			[ "$(trunk_counter "$1" pmtu_state)" = complete ] && return 0
		sleep 0.5
	done
	echo "gw-$1: plpmtu $(trunk_counter "$1" plpmtu) ($(trunk_counter "$1" pmtu_state))" >&2
	return 1
}

# The last PLPMTU an auxiliary of site X logged for a call (UDP calls: their log line).
logged_plpmtu() {  # logged_plpmtu X CALL_ID
	sed -n "s/.*call $2: path MTU \([0-9]*\) bytes.*(complete.*/\1/p" \
		"$NETNS_TMP/secondary-$1.log" | tail -n 1
}
wait_logged_plpmtu() {  # wait_logged_plpmtu X CALL_ID WANT SECONDS
	for _ in $(seq 1 $(($4 * 2))); do
		[ "$(logged_plpmtu "$1" "$2")" = "$3" ] && return 0
		sleep 0.5
	done
	return 1
}

# 16 MiB from a1 to b1 through the trunk, compared byte for byte.
tcp_transfer() {  # tcp_transfer LABEL PORT
	local label=$1 port=$2 out="$NETNS_TMP/received-$2" t0 t1
	spawn_in_ns b1 "$NETNS_TMP/recv-$port.log" python3 "$PACED" recv "$port" "$out" \
		--timeout 90
	wait_port b1 "$port" tcp 10
	t0=$(date +%s.%N)
	in_ns a1 python3 "$PACED" send 10.2.0.11 "$port" "$NETNS_TMP/16MiB" \
		--rate 1e12 --timeout 90
	t1=$(date +%s.%N)
	for _ in $(seq 1 50); do grep -q received "$NETNS_TMP/recv-$port.log" && break; sleep 0.1; done
	echo "$label: 16 MiB a1 -> b1 in $(python3 -c "print(f'{$t1 - $t0:.1f} s, \
{16 * 8 / ($t1 - $t0):.1f} Mbit/s')")"
	check "$label: 16 MiB of TCP through the trunk arrive intact" \
		cmp -s "$NETNS_TMP/16MiB" "$out"
	rm -f "$out"
}

udp_transfer() {  # udp_transfer LABEL
	check "$1: 9000-byte datagrams through the UDP call come back intact" \
		in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 9000 --timeout 20
}

netns_begin
topo_two_sites
topo_behind_mid
set_link_mtu 1280
head -c 16777216 /dev/urandom >"$NETNS_TMP/16MiB"
insel_pki
insel_directory
start_principal
start=$(date +%s.%N)
start_trunk_pair
echo "trunk up after $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')") s"

# ---- a 1280-byte link from the start ----
check "gw-a's auxiliary finds 1252 bytes of UDP payload (a 1280 link less 28)" \
	wait_plpmtu a 1252 40
check "gw-b's auxiliary finds it too" wait_plpmtu b 1252 20
echo "search complete after $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')") s"
for x in a b; do
	echo "gw-$x: plpmtu $(trunk_counter $x plpmtu), tunnel MTU $(trunk_counter $x path_mtu)"
done
check "the trunk's tunnel MTU follows the path (1252 - 32 = 1220)" \
	test "$(trunk_counter a path_mtu)" = 1220
ping_out=$(in_ns a1 ping -n -c 1 -W 2 -M do -s 1300 10.2.0.11 2>&1)
echo "$ping_out" | grep -i frag
check "a DF ping over it gets 'fragmentation needed' with mtu 1220 back" \
	contains "$ping_out" "mtu = 1220"
check "a DF ping that fits (1220 bytes) goes through" \
	in_ns a1 ping -n -c 2 -W 2 -i 0.2 -M do -s 1192 10.2.0.11
# A host flooding oversized DF packets (its kernel's PMTU cache bypassed, as a broken or
# hostile one would) gets ICMP "too big" within the auxiliary's rate limit: the first
# burst (50) and then about 1000 a second, the rest counted as rate-limited.
sent_before=$(trunk_counter a icmp_sent)
in_ns a1 python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 3)   # IP_MTU_DISCOVER = IP_PMTUDISC_PROBE: DF, no cache
t0 = time.monotonic()
for _ in range(400):
    s.sendto(b"x" * 1300, ("10.2.0.11", 9))
print("flood: 400 DF datagrams of 1328 bytes in %.0f ms" % ((time.monotonic() - t0) * 1000))'
answered=$(( $(trunk_counter a icmp_sent) - sent_before ))
limited=$(trunk_counter a icmp_rate_limited)
echo "ICMP too big: $answered answered, $limited rate-limited"
check "the flood got ICMP too big for its first burst at least (50)" test "$answered" -ge 50
check "and no more than the rate allows: the rest were rate-limited, and counted" \
	both test "$limited" -ge 100 -- test $((answered + limited)) -ge 400
tcp_transfer "MTU 1280" 5301
check "b1's SYN-ACK had its MSS clamped to the tunnel by gw-b ($(trunk_counter b mss_clamped))" \
	test "$(trunk_counter b mss_clamped)" -ge 1
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 100000 \
	--timeout 280
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "a UDP call goes up" contains "$out" " up "
udp_call=$(call_id_of "$out")
check "its auxiliaries find 1252 too (gw-a)" wait_logged_plpmtu a "$udp_call" 1252 20
check "its auxiliaries find 1252 too (gw-b)" wait_logged_plpmtu b "$udp_call" 1252 20
calls=$(insel_operator a calls 2>&1)
echo "$calls"
check "insel calls shows the UDP call's path MTU" \
	contains "$(insel_as a1 alice calls 2>&1)" "path MTU: 1252 bytes of UDP payload (search complete)"
check "and the trunk's, with its tunnel MTU in force (1220)" both \
	test "$(grep -c "path MTU: 1252 bytes of UDP payload (search complete)" <<<"$calls")" = 2 -- \
	contains "$calls" "MTU [0-9]*, 1220 on this path"
udp_transfer "MTU 1280"

# ---- the link becomes a hotel's 1124 mid-call ----
set_link_mtu 1124
changed=$(date +%s.%N)
# Traffic keeps flowing (black holes are looked for only then).
spawn_in_ns a1 "$NETNS_TMP/ping-bg.log" ping -n -c 150 -i 0.2 -s 1000 10.2.0.11
check "gw-a's auxiliary notices the black hole and finds 1096 (1124 - 28, below the base)" \
	wait_plpmtu a 1096 60
check "gw-b's auxiliary too" wait_plpmtu b 1096 30
echo "1124: found after $(python3 -c "print(f'{$(date +%s.%N) - $changed:.1f}')") s"
for x in a b; do
	echo "gw-$x: plpmtu $(trunk_counter $x plpmtu), tunnel MTU $(trunk_counter $x path_mtu)"
done
check "the tunnel MTU follows (1096 - 32 = 1064)" test "$(trunk_counter a path_mtu)" = 1064
tcp_transfer "MTU 1124" 5302
check "the UDP call's auxiliaries find 1096 (gw-a)" wait_logged_plpmtu a "$udp_call" 1096 40
check "insel calls follows: the UDP call's path MTU is 1096 now" \
	contains "$(insel_as a1 alice calls 2>&1)" "path MTU: 1096 bytes of UDP payload (search complete)"
udp_transfer "MTU 1124"
stats=$(insel_operator a calls --json 2>&1 | python3 -c '
import json, sys
for line in sys.stdin.read().splitlines():
    if line.strip().startswith("{"):
        for call in json.loads(line).get("calls", []):
            for ch in call.get("channels", []):
                if "trunk" in ch:
                    c = ch.get("counters", {})
                    print({k: c.get(k) for k in ("plpmtu", "pmtu_state", "path_mtu",
                                                 "mss_clamped", "too_big", "icmp_sent")})')
echo "gw-a trunk: $stats"
for r in wan mid; do
	echo "$r dropped ICMP: $(in_ns $r nft list chain inet pmtu_blackhole output | grep -o 'counter packets [0-9]*' | tr '\n' ' ')"
done
finish_checks
