#!/usr/bin/env bash
# Integration: the relay's TLS-over-TCP fallback (issue 12, "when UDP is blocked
# altogether"; docs/relay.md, section 6). Two sites and a principal as in calls.sh; an
# nftables rule in the wan namespace drops every UDP datagram to or from site A's gateway
# (a firewall that lets only TCP through: no direct path, no STUN, no UDP to the relay),
# while its TCP (the signalling, and TLS to the relay's port 443) passes:
#   - alice (site A) calls bob (site B): A's auxiliary falls back within seconds to TLS
#     over TCP to the principal's relay, B's reaches the relay over UDP; the call goes up,
#     `insel calls` says "tcp" to the relay's port 443 on A's side and "relayed" on B's,
#     and datagrams (small and fragmented ones) cross intact both ways;
#   - the rule goes: A's auxiliary, still probing UDP, finds a UDP path again; the path
#     notice says "changed", leaving the TCP fallback, and insel calls shows the direct
#     path within 15 s; traffic still crosses, and the TCP connection to the relay closes;
#   - the principal's record of that call says it came up over tcp and ended direct,
#     with the move counted and listed in its history (path changes, path history);
#   - UDP blocked at both sites: both auxiliaries fall back to TCP and the relay forwards
#     between two TCP legs; the call goes up "tcp" on both sides and carries datagrams;
#   - still so, a room (docs/rooms.md) with members a1 and b1: its leg, carried by each
#     gateway's one auxiliary of the room, falls back to TCP the same way (the secondary
#     hands the room's process the leg's TCP sockets): a1 and b1 ping each other by room
#     address and a 1 MiB TCP copy crosses intact, `insel rooms --json` says the site
#     is up over tcp.
# Needs the relay's leg registration and allocation (the relay part of issue 12): SKIP
# without it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if ! [ -f "$top/auxiliary/relay_leg.c" ] || ! [ -f "$top/auxiliary/tcp_leg.c" ]; then
	echo "SKIP: this tree has no relay leg or no TCP leg in the auxiliary" >&2
	exit 77
fi
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/room_lib.sh"
netns_begin
topo_two_sites
insel_deploy || fail "deployment did not come up"

GW_A=198.18.1.2
GW_B=198.18.2.2
RELAY_TCP=198.18.0.2:443

block_udp() {  # block_udp ADDR...: no UDP to or from these gateways, TCP untouched
	local set
	set=$(IFS=,; echo "$*")
	in_ns wan nft -f - <<NFT
table inet insel_tcpfall_test {
	chain no_udp {
		type filter hook forward priority filter;
		ip saddr { $set } meta l4proto udp counter drop
		ip daddr { $set } meta l4proto udp counter drop
	}
}
NFT
}
unblock_udp() { in_ns wan nft delete table inet insel_tcpfall_test; }
dropped_udp() {
	in_ns wan nft list table inet insel_tcpfall_test |
		sed -n 's/.*packets \([0-9]*\).*/\1/p' | paste -sd+ | bc
}
path_line() { insel_as a1 alice calls 2>&1 | grep "path:" | head -n 1; }
b_path_is() {  # b_path_is KIND: B's side reports it within 5 s (each side's own probe
	# answered: B's may come a round trip after A's, which the client already saw up)
	local i
	for i in $(seq 25); do
		contains "$(insel_operator b calls --json 2>&1)" "\"data\": *\"$1\"" && return 0
		sleep 0.2
	done
	return 1
}
wait_path_line() {  # wait_path_line PATTERN SECONDS: insel calls on A shows it in time
	local i
	for i in $(seq $(($2 * 5))); do
		grep -q -- "$1" <<<"$(path_line)" && return 0
		sleep 0.2
	done
	return 1
}

check "the principal runs its relay (UDP 3479)" wait_port principal 3479 udp 10
check "and its TCP fallback (TLS on 443)" wait_port principal 443 tcp 10
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004-5005 --count 10000 \
	--timeout 200

# ---- UDP blocked at site A: the call comes up over TCP ----
block_udp "$GW_A" || fail "cannot add the nftables rule"
t0=$(date +%s.%N)
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
t1=$(date +%s.%N)
echo "$out"
call=$(call_id_of "$out")
check "with no UDP at site A, the call goes up ($(printf '%.1f' "$(bc <<<"$t1 - $t0")") s)" \
	contains "$out" " up "
calls=$(insel_as a1 alice calls 2>&1)
echo "$calls"
check "insel calls on A says the path is tcp, to the relay's TLS port" \
	contains "$calls" "path: tcp to $RELAY_TCP"
check "B's side goes through the relay over UDP" b_path_is relayed
check "the call carries datagrams intact both ways (through UDP <-> TCP)" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 50 --size 1000
check "and large ones, fragmented by the channel" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 10 --size 6000
check "UDP from site A was tried and dropped ($(dropped_udp) datagrams)" \
	test "$(dropped_udp)" -gt 0
check "A's auxiliary logged its TCP leg's registration" \
	grep -q "TCP leg: registered with the relay at $RELAY_TCP" "$NETNS_TMP/secondary-a.log"
check "the secondary logged the path as tcp" \
	grep -Eq "call $call: path (up|changed), tcp to $RELAY_TCP" "$NETNS_TMP/secondary-a.log"

# ---- the rule goes: back to UDP ----
unblock_udp
check "with UDP back, the path returns to UDP: direct (within 15 s)" \
	wait_path_line "path: direct to $GW_B:" 15
echo "$(path_line)"
grep "call $call: path" "$NETNS_TMP/secondary-a.log"
check "the path notice said so (changed, back to UDP, leaving the TCP fallback)" \
	grep -Eq "call $call: path changed, (direct|relayed) to [0-9.]+:[0-9]+: .*leaving the TCP fallback" \
	"$NETNS_TMP/secondary-a.log"
check "traffic still crosses, now direct" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 50 --size 1000
for _ in $(seq 50); do
	grep -q "TCP leg: the call has been on UDP" "$NETNS_TMP/secondary-a.log" && break
	sleep 0.2
done
check "the TCP connection to the relay is closed once the call is back on UDP" \
	grep -q "TCP leg: the call has been on UDP" "$NETNS_TMP/secondary-a.log"
insel_as a1 alice hangup "$call" >/dev/null 2>&1
check "no auxiliary left on either side" both wait_aux_count a 0 5 -- wait_aux_count b 0 5

# ---- the record: up over tcp, ended direct, the move counted ----
rec=$(ended_record "$call")
echo "$rec"
check "the record keeps the path at up as tcp, not relayed" \
	contains "$rec" '"path": *"tcp"'
check "and the path at the end: direct, to B's gateway" \
	both contains "$rec" '"path_final": *"direct"' -- \
	contains "$rec" "\"path_final_remote\": *\"$GW_B:[0-9]*\""
check "with the moves counted (at least one)" contains "$rec" '"path_changes": *[1-9]'
check "and listed: the history begins with tcp and ends direct" \
	python3 -c 'import json,sys; h=json.load(sys.stdin)["path_history"]; sys.exit(not (h[0]["path"] == "tcp" and h[-1]["path"] == "direct"))' <<<"$rec"
list=$(pdir call list 2>&1)
echo "$list"
check "call list shows the move in one line (tcp -> direct)" \
	grep -Eq "^$call .*tcp -> direct \([0-9]+ changes?\)" <<<"$list"

# ---- UDP blocked at both sites: two TCP legs ----
block_udp "$GW_A" "$GW_B" || fail "cannot add the nftables rule"
out=$(insel_as a1 alice call bob@lan-b --udp 5005 2>&1)
echo "$out"
call=$(call_id_of "$out")
check "with no UDP at either site, the call goes up" contains "$out" " up "
check "over TCP on A's side" contains "$(insel_as a1 alice calls 2>&1)" "path: tcp to $RELAY_TCP"
check "and on B's" b_path_is tcp
check "the relay forwards between two TCP legs: datagrams cross intact" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5005 --count 50 --size 1200
insel_as a1 alice hangup "$call" >/dev/null 2>&1

# ---- still no UDP at either site: a room's leg falls back to TCP too ----
room_add games 172.30.0.0/24
room_join games alice@lan-a 10.1.0.11   # 172.30.0.1
room_join games bob@lan-b 10.2.0.11     # 172.30.0.2
check "a1 reaches b1 in the room with no UDP at either site" wait_ping a1 172.30.0.2 30
check "and b1 reaches a1" wait_ping b1 172.30.0.1 10
check "a 1 MiB TCP copy from a1 to b1 by room address crosses intact" \
	tcp_transfer a1 172.30.0.2 b1
site_path() {  # site_path: how A's gateway reaches lan-b in the room, per insel rooms --json
	insel_as a1 alice rooms --json 2>/dev/null | python3 -c 'import json, sys
for r in json.load(sys.stdin).get("rooms", []):
    for s in r.get("sites", []):
        if s.get("lan") == "lan-b": print(s.get("state", ""), s.get("path", ""))'
}
check "insel rooms: lan-b is up over tcp ($(site_path))" test "$(site_path)" = "up tcp"
pdir room remove games >/dev/null
unblock_udp
check "no auxiliary left at the end" both wait_aux_count a 0 5 -- wait_aux_count b 0 5

finish_checks
