#!/usr/bin/env bash
# Integration: the rooms' data path (issue 14, docs/rooms.md "The data path"). Three
# sites; a room "games" (172.30.0.0/24) with members a1 (alice), b1 (bob) and c1 (erin),
# placed by the operator's CLI (the principal notices and tells the gateways):
#   - every pair of members pings and moves 1 MiB over TCP through the room addresses,
#     while each keeps its own LAN address (the gateways map it); a1 sends b1 UDP
#     datagrams of every size within the leg's MTU, all arrive intact;
#   - a2 (carol, no member) reaches nobody's room address, and its gateway counts what
#     it dropped (also in `insel rooms --json`, per other site);
#   - one host in two rooms at once: a1 also in "chess" (172.31.0.0/24) with b1, each
#     room with interfaces named after it on the gateways;
#   - each gateway runs one auxiliary per room, with one interface named exactly after
#     the room, whatever the number of other member sites;
#   - IPv6: games has fd30::/64 too; a1 and b1 (placed with their fd0N::11) ping6 each
#     other and move 1 MiB over TCP by IPv6 room address, b1 sees a1's fd30::1; c1,
#     placed without an IPv6 address, is reached over IPv4 as before; a2 reaches no
#     IPv6 room address; b1's mDNS query to ff02::fb from its link-local address is
#     answered on the group by a responder on a1, b2's (no member) is not carried;
#     b1's still is once gateway B's kernel dropped its host's neighbour entries, and
#     in a second room whose auxiliary starts after they were dropped;
#   - a member's datagram to RIPv2's group (224.0.0.9) is not carried, SSDP's is;
#   - gateway B's /metrics counts the same multicast and non-member's datagram as its
#     listing, by room, and each leg's packets and bytes as insel rooms --json, by room
#     and site (and passes promtool check metrics).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
INSEL_USERS="alice@lan-a carol@lan-a bob@lan-b"
INSEL_LAN6_SITES="a b"   # clients join over IPv4 with an IPv6 address on the LAN
INSEL_SECONDARY_EXTRA=$'[metrics]\nlisten = 127.0.0.1:9461'
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/room_lib.sh"
netns_begin
room_deploy

room_add games 172.30.0.0/24 fd30::/64
room_join games alice@lan-a 10.1.0.11 fd01::11   # 172.30.0.1 fd30::1
room_join games bob@lan-b 10.2.0.11 fd02::11     # 172.30.0.2 fd30::2
room_join games erin@lan-c 10.3.0.11             # 172.30.0.3, no IPv6
wait_ping a1 172.30.0.2 30 || fail "a1 cannot reach b1 in the room"
pass "a1 reaches b1's room address"

declare -A room_addr=([a1]=172.30.0.1 [b1]=172.30.0.2 [c1]=172.30.0.3)
for from in a1 b1 c1; do
	for to in a1 b1 c1; do
		[ "$from" = "$to" ] && continue
		check "$from pings $to at ${room_addr[$to]}" wait_ping "$from" "${room_addr[$to]}" 20
	done
done
check "a1 -> b1: 1 MiB over TCP" tcp_transfer a1 172.30.0.2 b1
check "b1 -> c1: 1 MiB over TCP" tcp_transfer b1 172.30.0.3 c1
check "c1 -> a1: 1 MiB over TCP" tcp_transfer c1 172.30.0.1 a1

# ---- IPv6 ----
check "a1 pings b1 at fd30::2" wait_ping a1 fd30::2 10
check "b1 pings a1 at fd30::1" wait_ping b1 fd30::1 10
check "a1 -> b1: 1 MiB over TCP by IPv6 room address" tcp_transfer a1 fd30::2 b1
check "b1 sees a1's datagram come from its IPv6 room address" \
	test "$(udp_source a1 fd30::2 b1)" = fd30::1
check "a2 (no member) does not reach fd30::2" no_ping a2 fd30::2

before=$(room_counter a room_nonmember)
for to in 172.30.0.2 172.30.0.3; do
	check "a2 (no member) does not reach $to" no_ping a2 "$to"
done
check "gateway A counted a2's packets as a non-member's (before: $before)" \
	counter_above a room_nonmember "$before"
before=$(room_counter a unauthorised_from_lan)
check "a1 gets no answer from a room address nobody holds" no_ping a1 172.30.0.200
check "gateway A routes that address into a leg of the room, not out by its default route" \
	bash -c "ip -n '${NS}gw-a' route get 172.30.0.200 | grep -q ' dev games'"
check "and the leg drops and counts a1's packets to it (before: $before)" \
	counter_above a unauthorised_from_lan "$before"
check "b1 sees a1's datagram come from its room address, not its LAN one" \
	test "$(udp_source a1 172.30.0.2 b1)" = 172.30.0.1
# The legs take the TUN offloads: datagrams the kernel hands over with a partial checksum
# (and UDP GSO sends, cut by the kernel) are completed before the mapping.
burst=$(udp_burst a1 172.30.0.2 b1 172.30.0.1)
check "a1 -> b1: UDP datagrams of 2..1400 bytes and GSO sends all arrive intact from a1's room address (got/sent: $burst)" \
	test "${burst%% *}" = "${burst##* }"

links=$(room_links a | sort | tr '\n' ' ')
check "gateway A has one interface for the room, named exactly after it ($links)" \
	test "$links" = "games "
check "gateway A runs one auxiliary for the room, carrying both other sites ($(aux_count a))" \
	test "$(aux_count a)" -eq 1
check "and so do B and C ($(room_links b) $(aux_count b), $(room_links c) $(aux_count c))" \
	bash -c "[ '$(room_links b)' = games ] && [ '$(room_links c)' = games ] &&
		 [ '$(aux_count b)' -eq 1 ] && [ '$(aux_count c)' -eq 1 ]"

list=$(insel_as a1 alice rooms 2>&1)
echo "$list" | sed 's/^/    /'
check "insel rooms on a1 shows b1 and c1 reachable (a1 and b1 with IPv6 room addresses), a1 itself on this site" bash -c \
	"grep -q 'bob@lan-b .*172.30.0.2 fd30::2  up direct' <<<'$list' &&
	 grep -q 'erin@lan-c .*172.30.0.3  up direct' <<<'$list' &&
	 grep -q 'alice@lan-a .*172.30.0.1 fd30::1 (you)  this site' <<<'$list'"
# The legs' counters, per other member site, as gateway A's legs count them.
json=$(insel_as a1 alice rooms --json 2>&1)
sites=$(python3 -c 'import json, sys
room = [r for r in json.loads(sys.stdin.read())["rooms"] if r["name"] == "games"][0]
for s in sorted(room["sites"], key=lambda s: s["lan"]):
    print(s["lan"], s["state"], s.get("interface", "-"), int(s.get("packets_out", 0) > 0),
          int(s.get("packets_in", 0) > 0), s.get("drops", {}).get("nonmember", 0))' <<<"$json" 2>&1)
echo "$sites" | sed 's/^/    /'
check "insel rooms --json: a site per leg, up, with packets carried each way" bash -c \
	"grep -q '^lan-b up games[0-9]* 1 1 ' <<<'$sites' && grep -q '^lan-c up games[0-9]* 1 1 ' <<<'$sites'"
check "and a2's packets among the drops (nonmember) of gateway A's legs" \
	test "$(awk '{n += $6} END {print n + 0}' <<<"$sites")" -gt 0

# ---- broadcast and multicast ----
recv_one b1 7000 "$NETNS_TMP/bcast-b1"
pid_b=$RECV_PID
recv_one c1 7000 "$NETNS_TMP/bcast-c1"
pid_c=$RECV_PID
send_one a1 172.30.0.255 7000 hello-room
wait "$pid_b" "$pid_c"
check "a1's broadcast to 172.30.0.255 reaches b1, from a1's room address ($(cat "$NETNS_TMP/bcast-b1"))" \
	grep -q "^172.30.0.1 hello-room" "$NETNS_TMP/bcast-b1"
check "and c1 ($(cat "$NETNS_TMP/bcast-c1"))" grep -q "^172.30.0.1 hello-room" "$NETNS_TMP/bcast-c1"
mdns_responder c1 10.3.0.11 "$NETNS_TMP/mdns-c1"
answer=$(mdns_query b1 10.2.0.11)
check "b1's mDNS query is answered by c1's responder ($answer)" test "$answer" = "172.30.0.3 answer:"
check "c1 saw the query come from b1's room address" grep -q "query from 172.30.0.2" \
	"$NETNS_TMP/mdns-c1"
check "gateway B counted the multicast it carried" counter_above b room_multicast_out 0
# RIPv2's group (a gateway's routing protocol) stays on its site; SSDP's, sent after it,
# crosses to both other sites: once that one is counted, the first was judged too.
before=$(room_counters b 2 room_multicast_out)
send_one b1 224.0.0.9 520 rip-request
send_one b1 239.255.255.250 1900 ssdp-search
after=$before
for _ in $(seq 1 20); do
	after=$(room_counters b 2 room_multicast_out)
	[[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] && [ "$after" -ge $((before + 2)) ] && break
	sleep 0.5
done
sleep 0.5
after=$(room_counters b 2 room_multicast_out)
check "b1's datagram to RIPv2's 224.0.0.9 is not carried, its SSDP search is, to both sites (multicast_out: $before -> $after)" \
	test "$after" = "$((before + 2))"
before=$(room_counter a room_cast_nonmember)
send_one a2 172.30.0.255 7000 not-a-member
check "a2's broadcast (no member) is dropped and counted at its gateway" \
	counter_above a room_cast_nonmember "$before"

# ---- IPv6 multicast: mDNS on ff02::fb from link-local addresses ----
# b2 (no member) asks first, then b1; a1's responder answers each to the group. Each
# gateway tells the member by the frame's link-layer address, carries it from the
# member's IPv6 room address and puts it on its LAN; what it put there it does not carry
# back (a loop would show as one more multicast_out, or a non-member's, at A).
# Gateway A's counters (multicast_out, cast_nonmember) and B's (multicast_in,
# cast_nonmember), over both legs of each.
before_a=$(room_counters a 2 room_multicast_out room_cast_nonmember)
before_b=$(room_counters b 2 room_multicast_in room_cast_nonmember)
# The same two of gateway B on its /metrics page (docs/metrics.md), read until they agree
# with the listing: a scrape shows the stats the previous one asked for.
metrics_b() {
	in_ns gw-b curl -s --max-time 5 http://127.0.0.1:9461/metrics
}
room_metrics_b() {
	metrics_b | awk '
	$1 == "insel_secondary_room_casts_total{room=\"games\",kind=\"multicast\",direction=\"in\"}" { m = $2 }
	$1 == "insel_secondary_room_cast_drops_total{room=\"games\",reason=\"nonmember\"}" { n = $2 }
	END { print (m == "" ? "-" : m), (n == "" ? "-" : n) }'
}
metrics_b_until() {  # metrics_b_until VALUES: the page's values once they are VALUES (10 s at most)
	local got
	for _ in $(seq 1 20); do
		got=$(room_metrics_b)
		[ "$got" = "$1" ] && break
		sleep 0.5
	done
	echo "$got"
}
metrics_before=$(metrics_b_until "$before_b")
mdns6_responder a1 "$NETNS_TMP/mdns6-a1" fd30::2
mdns6_send b2
answer=$(mdns6_query b1)
wait "$MDNS6_PID"
after_a=$(room_counters a 2 room_multicast_out room_cast_nonmember)
after_b=$(room_counters b 2 room_multicast_in room_cast_nonmember)
check "b1's mDNS query to ff02::fb from its link-local address is answered on the group by a1's responder, from a1's IPv6 room address ($answer)" \
	test "$answer" = "fd30::1 answer:"
check "a1 heard only b1's query, from b1's IPv6 room address ($(tr '\n' ' ' <"$NETNS_TMP/mdns6-a1"))" \
	test "$(cat "$NETNS_TMP/mdns6-a1")" = "query from fd30::2"
expect_a=- expect_b=-
[[ $before_a =~ ^([0-9]+)\ ([0-9]+)$ ]] &&
	expect_a="$((BASH_REMATCH[1] + 1)) ${BASH_REMATCH[2]}"
[[ $before_b =~ ^([0-9]+)\ ([0-9]+)$ ]] &&
	expect_b="$((BASH_REMATCH[1] + 1)) $((BASH_REMATCH[2] + 1))"
check "gateway B put the answer on its LAN and dropped b2's query (no member) as a non-member's (multicast_in, non-members': $before_b -> $after_b)" \
	test "$after_b" = "$expect_b"
check "gateway A carried the answer and nothing more: no frame it put on its LAN came back (multicast_out, non-members': $before_a -> $after_a)" \
	test "$after_a" = "$expect_a"
metrics_after=$(metrics_b_until "$expect_b")
check "gateway B's /metrics counts them too, by room: multicast in +1, non-members' +1 ($metrics_before -> $metrics_after, listing $before_b -> $expect_b)" \
	test "$metrics_before" = "$before_b" -a "$metrics_after" = "$expect_b"
# Each leg's packets and bytes each way (insel rooms --json's sites) on the same page,
# by room and site, read until the two agree (the page lags one scrape).
legs_json_b() {
	insel_as b1 bob rooms --json 2>/dev/null | python3 -c 'import json, sys
room = [r for r in json.load(sys.stdin)["rooms"] if r["name"] == "games"][0]
for s in sorted(room["sites"], key=lambda s: s["lan"]):
    for d in ("out", "in"):
        print(s["lan"], d, s.get("packets_" + d, "-"), s.get("bytes_" + d, "-"))' 2>&1
}
legs_metrics_b() {
	metrics_b | python3 -c 'import re, sys
v = {}
for line in sys.stdin:
    m = re.match(r"insel_secondary_room_(packets|bytes)_total\{room=\"games\",site=\"([^\"]+)\",direction=\"(out|in)\"\} (\d+)$", line.strip())
    if m:
        v.setdefault((m[2], m[3]), {})[m[1]] = m[4]
for site, d in sorted(v, key=lambda k: (k[0], k[1] != "out")):
    print(site, d, v[(site, d)].get("packets", "-"), v[(site, d)].get("bytes", "-"))' 2>&1
}
for _ in $(seq 1 20); do
	legs_json=$(legs_json_b)
	legs_page=$(legs_metrics_b)
	[ -n "$legs_json" ] && [ "$legs_json" = "$legs_page" ] && break
	sleep 0.5
done
echo "$legs_page" | sed 's/^/    /'
check "gateway B's /metrics has each leg's packets and bytes each way, by room and site, as insel rooms --json ($(tr '\n' ';' <<<"$legs_json"))" \
	test "$legs_json" = "$legs_page"
check "both of B's legs carried packets each way (lan-a, lan-c)" bash -c \
	"grep -Eq '^lan-a out [1-9]' <<<'$legs_page' && grep -Eq '^lan-a in [1-9]' <<<'$legs_page' &&
	 grep -Eq '^lan-c out [1-9]' <<<'$legs_page' && grep -Eq '^lan-c in [1-9]' <<<'$legs_page'"
if command -v promtool >/dev/null; then
	page=$(metrics_b)
	out=$(promtool check metrics <<<"$page" 2>&1)
	check "gateway B's page with the room's counters passes promtool check metrics" test -z "$out"
	[ -z "$out" ] || echo "$out" | head -n 20
else
	echo "SKIP - promtool check metrics: promtool is not installed (Debian package prometheus)"
fi
# An idle member: gateway B's kernel dropped its host's neighbour entries (as it does to
# an idle host's on a LAN of more than 128 neighbours), and b1's query still crosses, from
# what the room's auxiliary kept of them. b2's query, a second after the deletion, makes
# B read its table again first (a frame of no member's, at most once a second); it is
# still refused and counted.
ip -n "${NS}gw-b" neigh del 10.2.0.11 dev lan 2>/dev/null
ip -n "${NS}gw-b" -6 neigh del fd02::11 dev lan 2>/dev/null
sleep 1.1
before_b=$(room_counters b 2 room_multicast_in room_cast_nonmember)
mdns6_responder a1 "$NETNS_TMP/mdns6-a1-idle" fd30::2
mdns6_send b2
answer=$(mdns6_query b1)
wait "$MDNS6_PID"
after_b=$(room_counters b 2 room_multicast_in room_cast_nonmember)
left=$(ip -n "${NS}gw-b" neigh show 10.2.0.11 dev lan; ip -n "${NS}gw-b" -6 neigh show fd02::11 dev lan)
check "b1's mDNS query still crosses once gateway B dropped its host's neighbour entries ($answer; entries now: ${left:-none})" \
	test "$answer" = "fd30::1 answer:"
expect_b=-
[[ $before_b =~ ^([0-9]+)\ ([0-9]+)$ ]] &&
	expect_b="$((BASH_REMATCH[1] + 1)) $((BASH_REMATCH[2] + 1))"
check "and b2's query (no member) is still dropped and counted (multicast_in, non-members': $before_b -> $after_b)" \
	test "$after_b" = "$expect_b"
# A member's IPv6 multicast has its allowance too (100 a second, burst 50): of 150 sent at
# once, about 100 are refused (40 at least, should the sender be slowed down).
before=$(room_counters b 2 room_cast_limited)
mdns6_flood b1 150
after=$(room_counters b 2 room_cast_limited)
grew_by() { [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]] && [ "$2" -ge $(($1 + $3)) ]; }
check "b1's burst of 150 datagrams to ff02::c is cut to its allowance at gateway B (limited: $before -> $after)" \
	grew_by "$before" "$after" 40

# ---- one host in two rooms ----
# chess has an IPv6 network too. b1 is placed in it by the operator (its host does not
# speak to gateway B) once B's kernel dropped its entries: chess's auxiliary on B, new,
# keeps nothing of b1's host, so it makes the kernel resolve it (a probe), and b1's mDNS
# query then crosses in chess too (and in games, as before), before any ping of b1.
room_add chess 172.31.0.0/24 fd31::/64
room_join chess alice@lan-a 10.1.0.11 fd01::11   # 172.31.0.1 fd31::1
ip -n "${NS}gw-b" neigh del 10.2.0.11 dev lan 2>/dev/null
ip -n "${NS}gw-b" -6 neigh del fd02::11 dev lan 2>/dev/null
room_join chess bob@lan-b 10.2.0.11 fd02::11     # 172.31.0.2 fd31::2
for _ in $(seq 1 40); do  # the leg up on B: a1's room address routed into chess
	ip -n "${NS}gw-b" route get 172.31.0.1 2>/dev/null | grep -q ' dev chess' && break
	sleep 0.25
done
mdns6_responder a1 "$NETNS_TMP/mdns6-chess" fd31::2
for _ in $(seq 1 20); do
	grep -q "query from fd31::2" "$NETNS_TMP/mdns6-chess" && break
	mdns6_send b1
	sleep 0.5
done
wait "$MDNS6_PID"
check "b1's mDNS query crosses in chess too, whose auxiliary on B started with b1's host unknown ($(tr '\n' ' ' <"$NETNS_TMP/mdns6-chess"))" \
	grep -q "query from fd31::2" "$NETNS_TMP/mdns6-chess"
check "a1 reaches b1 in the second room too" wait_ping a1 172.31.0.2 20
check "and still in the first" pings a1 172.30.0.2
links=$(room_links b | sort | tr '\n' ' ')
check "gateway B has an interface per room, named after it ($links)" \
	test "$links" = "chess games "
check "and one auxiliary per room ($(aux_count b))" test "$(aux_count b)" -eq 2

# ---- the room interface's queue (docs/tun.md, "The interface's queue") ----
check "gateway B's room interface queues 2000 packets" \
	bash -c "ip -n '${NS}gw-b' link show games | grep -q 'qlen 2000'"
# B's auxiliaries stopped for the time b1 sends 2500 datagrams into the room: 2000 wait
# in the queue, the kernel drops the rest, and the room's auxiliary counts them.
before=$(room_counter b queue_dropped)
rm -f "$NETNS_TMP/blast.ready" "$NETNS_TMP/blast.go"
in_ns b1 timeout 20 python3 -c 'import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
open(sys.argv[1], "w").close()
for _ in range(1000):
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.01)
for _ in range(2500):
    s.sendto(b"x" * 64, ("172.30.0.1", 9))' "$NETNS_TMP/blast.ready" "$NETNS_TMP/blast.go" &
blast=$!
if wait_ready "$NETNS_TMP/blast.ready" "$blast"; then
	pids=$(aux_pids b)
	kill -STOP $pids
	touch "$NETNS_TMP/blast.go"
	wait "$blast"
	kill -CONT $pids
fi
check "and counts what the kernel dropped from it while full (before: $before, now: $(room_counter b queue_dropped))" \
	counter_above b queue_dropped $((before + 400))
json=$(insel_as b1 bob rooms --json 2>&1)
check "insel rooms --json shows those drops as queue_full" python3 -c 'import json, sys
room = [r for r in json.loads(sys.stdin.read())["rooms"] if r["name"] == "games"][0]
sys.exit(0 if sum(s.get("drops", {}).get("queue_full", 0) for s in room["sites"]) >= 400 else 1)' <<<"$json"

# ---- a client's host6 and the gateway's neighbour table (docs/rooms.md) ----
echo sesame >"$NETNS_TMP/room-pw"
out=$(insel_as a2 carol room join games --room-password-file "$NETNS_TMP/room-pw" \
	--host6 fd01::11 2>&1)
check "carol on a2 naming a1's IPv6 address as her host's is refused ($out)" \
	contains "$out" "host6 fd01::11 is another host's on this LAN than 10.1.0.12"
ip -n "${NS}gw-a" -6 neigh del fd01::12 dev lan 2>/dev/null
out=$(insel_as a2 carol room join games --room-password-file "$NETNS_TMP/room-pw" 2>&1)
check "her own (fd01::12), which gw-a did not know, it asks for and takes ($out)" \
	contains "$out" "joined room games as 172.30.0.4 and fd30::4"
insel_as a2 carol room leave games >/dev/null 2>&1
finish_checks
