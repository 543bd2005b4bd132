#!/usr/bin/env bash
# Rooms through the real gateways (docs/rooms.md): a principal and two secondaries on
# loopback (loopback.sh, no root needed), and the real `insel` client on hosts of both
# sites asking its own gateway, which passes each request to the directory:
#   - alice on lan-a creates a room (capacity 2) and administers it; alice (a1) and bob
#     (b1, the other site) join with its password, each gets a distinct address inside
#     the room's network; `insel rooms` on either side lists both members;
#   - a wrong room password, a full room (carol, b2), a banned user (bob after a ban),
#     someone not the administrator kicking, hostile names (too long, a control
#     character): each refused with a clear sentence and the directory unchanged;
#   - leave frees the address (carol takes it), unban lets bob back, delete ends it;
#   - the directory stays consistent, checked with sqlite3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
INSEL_BUILD=${INSEL_BUILD:-$(cd "$here/../.." && pwd)/build}
export INSEL_BUILD
for tool in python3 ss sqlite3; do
	command -v "$tool" >/dev/null || { echo "SKIP: this test needs $tool"; exit 77; }
done
INSEL_USERS="alice@lan-a bob@lan-b carol@lan-b"
source "$here/../netns/lib.sh"
source "$here/loopback.sh"
source "$here/../netns/insel_env.sh"
loopback_begin
insel_deploy || fail "deployment did not come up"
failures=0

a1=$(host_addr a1)
b1=$(host_addr b1)
b2=$(host_addr b2)
pwfile=$NETNS_TMP/room-pw
wrongfile=$NETNS_TMP/wrong-pw
echo "sesame" >"$pwfile"
echo "open sesame" >"$wrongfile"
room() {  # room HOST USER ARGS...: `insel room ARGS` as USER on HOST, output and status
	local host=$1 user=$2
	shift 2
	insel_as "$host" "$user" room "$@" 2>&1
}
sql() { sqlite3 "$DB" "$1"; }
snapshot() { sqlite3 "$DB" '.dump rooms' '.dump room_members' '.dump room_bans' | md5sum; }
jget() { python3 -c 'import json, sys; j = json.loads(sys.argv[2]); print(eval(sys.argv[1]))' "$1" "$2"; }
# refused LABEL SENTENCE HOST USER ARGS...: fails, says SENTENCE, changes nothing.
refused() {
	local label=$1 want=$2 before out
	shift 2
	before=$(snapshot)
	if out=$(room "$@"); then
		echo "FAIL - $label: accepted ($out)"
		failures=$((failures + 1))
		return
	fi
	echo "$out" | sed 's/^/    /'
	check "$label: says so" grep -qF -- "$want" <<<"$out"
	check "$label: nothing changed" test "$before" = "$(snapshot)"
}

# ---- create and join from two sites ----
out=$(room a1 alice create games --network 172.30.0.0/24 --capacity 2 \
	--room-password-file "$pwfile")
echo "$out"
check "alice creates room games" contains "$out" "room games created"
check "the directory holds it, administered by alice" \
	test "$(sql "SELECT admin FROM room_view WHERE room = 'games'")" = alice@lan-a
check "its password is a PBKDF2 hash" \
	test "$(sql "SELECT password_hash LIKE 'pbkdf2-sha256\$%' FROM rooms")" = 1
out=$(room a1 alice join games --room-password-file "$pwfile")
echo "$out"
check "alice joins as 172.30.0.1" contains "$out" "joined room games as 172.30.0.1"
out=$(room b1 bob join games --room-password-file "$pwfile")
echo "$out"
check "bob (lan-b) joins as 172.30.0.2" contains "$out" "joined room games as 172.30.0.2"
check "the directory has bob's LAN host" \
	test "$(sql "SELECT host FROM room_member_view WHERE user = 'bob@lan-b'")" = "$b1"
list_a=$(insel_as a1 alice rooms --json)
list_b=$(insel_as b1 bob rooms)
echo "$list_b"
check "alice's list shows both members" test \
	"$(jget '" ".join(m["user"] + "=" + m["address"] for m in j["rooms"][0]["members"])' "$list_a")" \
	= "alice@lan-a=172.30.0.1 bob@lan-b=172.30.0.2"
check "bob's list shows both, bob marked" contains "$list_b" "bob@lan-b.*172.30.0.2 (you)"
check "carol is in no room" contains "$(insel_as b2 carol rooms)" "you are in no room"

# ---- refusals ----
refused "a wrong password" "password of the room is wrong" \
	b2 carol join games --room-password-file "$wrongfile"
refused "a full room" "room games is full (2 members)" \
	b2 carol join games --room-password-file "$pwfile"
refused "a kick by a non-administrator" "bob@lan-b is not the administrator of room games" \
	b1 bob kick games alice@lan-a
refused "a name too long" "invalid room name 'averyveryverylongname'" \
	a1 alice create averyveryverylongname --network 172.31.0.0/24 --room-password-file "$pwfile"
refused "a control character" "invalid room name 'bad\\x01name'" \
	a1 alice join $'bad\001name' --room-password-file "$pwfile"
refused "an unknown room" "no room named nosuch" \
	a1 alice join nosuch --room-password-file "$pwfile"
refused "a network over a LAN" "overlaps $(lan_net 1).0/24 of LAN lan-a" \
	a1 alice create other --network "$(lan_net 1).0/25" --room-password-file "$pwfile"

# ---- leave, ban, unban, delete ----
out=$(room a1 alice ban games bob@lan-b)
check "alice bans bob" contains "$out" "ban bob@lan-b done"
refused "a banned user" "bob@lan-b is banned from room games" \
	b1 bob join games --room-password-file "$pwfile"
out=$(room b2 carol join games --room-password-file "$pwfile")
check "carol takes bob's freed address" contains "$out" "as 172.30.0.2"
out=$(room b2 carol leave games)
check "carol leaves" contains "$out" "leave done"
refused "leaving twice" "carol@lan-b is not in room games" b2 carol leave games
room a1 alice unban games bob@lan-b >/dev/null
out=$(room b1 bob join games --room-password-file "$pwfile")
check "bob, unbanned, joins again at his address" contains "$out" "as 172.30.0.2"
check "no address held twice, none outside the network or on its edges" test "$(sql \
	"SELECT count(*) FROM room_members m JOIN rooms r ON r.id = m.room_id WHERE m.slot < 1 \
	 OR m.slot > (1 << (32 - r.len)) - 2 OR m.slot IN (SELECT slot FROM room_members \
	 GROUP BY room_id, slot HAVING count(*) > 1)")" = 0
check "the record" test "$(sql "SELECT group_concat(kind || ':' || by, ' ') FROM \
	(SELECT kind, by FROM room_events ORDER BY id)")" = \
	"create:alice@lan-a join:alice@lan-a join:bob@lan-b kick:alice@lan-a ban:alice@lan-a join:carol@lan-b leave:carol@lan-b unban:alice@lan-a join:bob@lan-b"
refused "a delete by a non-administrator" "not the administrator" b1 bob delete games
out=$(room a1 alice delete games)
check "alice deletes the room" contains "$out" "delete done"
check "no member is left" test "$(sql "SELECT count(*) FROM room_members")" = 0
check "the operator sees it gone" bash -c "! '$P' room show games --db '$DB' 2>/dev/null"

finish_checks
echo "rooms: all passed"
