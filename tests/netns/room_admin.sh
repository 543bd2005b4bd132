#!/usr/bin/env bash
# Integration: a room's administration takes effect on the data path (issue 14,
# docs/rooms.md "The data path"). Three sites; room "games" administered by alice, with
# members a1 (alice), b1 (bob) and c1 (erin):
#   - alice kicks bob (through her gateway): within a second a1 no longer reaches b1,
#     and gateway B, with no member left, keeps no room interface, route or process;
#     a1 still reaches c1 through gateway A's one auxiliary and interface for the room,
#     which keeps them; bob joins again with the password and is reachable again, site B
#     back in that same auxiliary;
#   - while a1 pings c1 (50 a second), bob is kicked and joins again and carol's a2
#     joins (which changes what the leg between A and C carries): at most 2 pings are
#     lost and that leg keeps its call (updated in place, docs/rooms.md "Membership
#     changes"); a2 then reaches c1; carol kicked, within a second a2 no longer does,
#     and a1 still does over the same call;
#   - the operator bans bob (the CLI, another process than the principal's daemon):
#     within a second he is unreachable, and his join is refused; unbanned, he joins;
#   - alice deletes the room: within a second nobody reaches anybody, and no gateway
#     keeps an interface, route, rule or process of the room.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
INSEL_USERS="alice@lan-a carol@lan-a bob@lan-b"
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/room_lib.sh"
netns_begin
room_deploy
pwfile=$NETNS_TMP/room-pw
echo sesame >"$pwfile"

echo sesame | pdir room add games --network 172.30.0.0/24 --admin alice@lan-a \
	--iterations 1000 >/dev/null
room_join games alice@lan-a 10.1.0.11   # 172.30.0.1
room_join games bob@lan-b 10.2.0.11     # 172.30.0.2
room_join games erin@lan-c 10.3.0.11    # 172.30.0.3
wait_ping a1 172.30.0.2 30 || fail "a1 cannot reach b1 in the room"
wait_ping a1 172.30.0.3 30 || fail "a1 cannot reach c1 in the room"
pass "a1 reaches b1 and c1 in the room"

# nothing_left X: gateway X has no room interface, no route to a room address, no
# insel routing rule and no auxiliary.
nothing_left() {
	test -z "$(room_links "$1")" &&
		! ip -n "${NS}gw-$1" route show table all | grep -q '172\.30\.' &&
		only_kernel_rules "$1" && test "$(aux_count "$1")" -eq 0
}
wait_nothing_left() {  # wait_nothing_left X SECONDS
	for _ in $(seq 1 $(($2 * 10))); do
		nothing_left "$1" && return 0
		sleep 0.1
	done
	return 1
}

# ---- kick ----
out=$(insel_as a1 alice room kick games bob@lan-b 2>&1)
check "alice kicks bob ($out)" test $? -eq 0
check "within a second a1 no longer reaches b1" wait_no_ping a1 172.30.0.2 1
check "within a second gateway B keeps no room interface, route, rule or process" \
	wait_nothing_left b 1
check "a1 still reaches c1" wait_ping a1 172.30.0.3 10
check "gateway A keeps its one auxiliary and interface for C ($(room_links a), $(aux_count a))" \
	bash -c "[ '$(room_links a)' = games ] && [ '$(aux_count a)' -eq 1 ]"
out=$(insel_as b1 bob room join games --room-password-file "$pwfile" 2>&1)
check "bob may join again ($out)" contains "$out" 172.30.0.2
check "and a1 reaches him again" wait_ping a1 172.30.0.2 20
check "site B came back into gateway A's one auxiliary and interface ($(room_links a), $(aux_count a))" \
	bash -c "[ '$(room_links a)' = games ] && [ '$(aux_count a)' -eq 1 ]"

# ---- membership changes while a1 talks to c1: the leg A-C stays ----
# leg_call X ROOM_ADDRESS: the id of gateway X's room leg whose far side carries it
# (asked again for 5 s at most: under load a listing may come back without it).
leg_call_once() {
	in_ns "gw-$1" env INSEL_PASSWORD=pw-alice "$C" calls --json \
		--secondary "$NETNS_TMP/secondary-$1.sock" --user alice 2>/dev/null |
		python3 -c 'import json,sys
for c in json.load(sys.stdin).get("calls",[]):
    if "room games" in json.dumps(c) and sys.argv[1] in json.dumps(c): print(c.get("id",""))' "$2"
}
leg_call() {
	local id
	for _ in $(seq 1 20); do
		id=$(leg_call_once "$1" "$2")
		[ -n "$id" ] && { echo "$id"; return 0; }
		sleep 0.25
	done
}
leg_before=$(leg_call a 172.30.0.3/32)
check "gateway A has a leg to C ($leg_before)" test -n "$leg_before"
in_ns a1 ping -n -i 0.02 -c 200 -W 1 172.30.0.3 >"$NETNS_TMP/flow.txt" 2>&1 &
flow=$!
sleep 0.5
insel_as a1 alice room kick games bob@lan-b >/dev/null 2>&1
sleep 0.5
insel_as b1 bob room join games --room-password-file "$pwfile" >/dev/null 2>&1
room_join games carol@lan-a 10.1.0.12   # 172.30.0.4: the leg A-C carries one more
wait "$flow"
lost=$(awk '/packets transmitted/ {print $1 - $4}' "$NETNS_TMP/flow.txt")
check "a1 -> c1 lost at most 2 of 200 pings across a kick and two joins (lost: $lost)" \
	test "${lost:-99}" -le 2
check "a2, joined meanwhile, reaches c1 in the room" wait_ping a2 172.30.0.3 10
leg_after=$(leg_call a 172.30.0.3/32)
check "the leg A-C kept its call across the join ($leg_before -> $leg_after)" \
	test -n "$leg_before" -a "$leg_before" = "$leg_after"
out=$(insel_as a1 alice room kick games carol@lan-a 2>&1)
check "alice kicks carol ($out)" test $? -eq 0
check "within a second a2 no longer reaches c1" wait_no_ping a2 172.30.0.3 1
check "a1 still reaches c1" wait_ping a1 172.30.0.3 10
check "over the same call" test "$(leg_call a 172.30.0.3/32)" = "$leg_before"
check "and a1 reaches b1 again" wait_ping a1 172.30.0.2 20

# ---- ban (the operator's CLI), join refused, unban ----
pdir room ban games bob@lan-b >/dev/null
check "the operator bans bob: within a second a1 no longer reaches b1" \
	wait_no_ping a1 172.30.0.2 1
check "and gateway B keeps nothing of the room" wait_nothing_left b 1
out=$(insel_as b1 bob room join games --room-password-file "$pwfile" 2>&1)
check "bob's join is refused while banned ($out)" contains "$out" banned
check "and b1 stays unreachable" no_ping a1 172.30.0.2
out=$(insel_as a1 alice room unban games bob@lan-b 2>&1)
check "alice unbans bob" test $? -eq 0
out=$(insel_as b1 bob room join games --room-password-file "$pwfile" 2>&1)
check "bob joins again ($out)" contains "$out" 172.30.0.
check "and is reachable again" wait_ping a1 172.30.0.2 20

# ---- delete ----
out=$(insel_as a1 alice room delete games 2>&1)
check "alice deletes the room ($out)" test $? -eq 0
check "within a second a1 no longer reaches c1" wait_no_ping a1 172.30.0.3 1
for x in a b c; do
	check "gateway ${x^^} keeps no interface, route, rule or process of the room" \
		wait_nothing_left "$x" 1
done
# (The topology's own masquerade, table insel_nat, is the site router's, not insel's.)
check "no nft rule about the room on any gateway" bash -c \
	"! (ip netns exec ${NS}gw-a nft list ruleset; ip netns exec ${NS}gw-b nft list ruleset;
	    ip netns exec ${NS}gw-c nft list ruleset) 2>/dev/null | grep -q '172\.30\.\|games'"
finish_checks
