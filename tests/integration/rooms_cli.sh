#!/usr/bin/env bash
# The operator's commands for rooms (insel-principal room ..., docs/rooms.md) on a real
# directory file, checked with sqlite3 as an operator would: a room made with its join
# password hashed, members from two sites with distinct addresses inside the network,
# --json for scripts, and every refusal a clear sentence with nothing changed: hostile
# names (too long, control characters, a slash), a network overlapping a LAN or another
# room, a full room, a banned user; then leave freeing an address, kick, unban, password
# change and delete, each in the record of events. Needs no root and no network.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cli_lib.sh" rooms-cli

# expect_refusal SENTENCE CMD...: CMD fails, says SENTENCE, and the directory is unchanged.
expect_refusal() {
	local want=$1 before after out
	shift
	before=$(sqlite3 "$db" '.dump rooms' '.dump room_members' '.dump room_bans' \
		'.dump room_events' | md5sum)
	if out=$("$@" 2>&1); then
		fail "succeeded: $* ($out)"
		return
	fi
	[[ $out == *"$want"* ]] || fail "$*: said '$out', wanted '$want'"
	[[ $out != *$'\001'* ]] || fail "$*: echoed a control character"
	after=$(sqlite3 "$db" '.dump rooms' '.dump room_members' '.dump room_bans' \
		'.dump room_events' | md5sum)
	[[ $before == "$after" ]] || fail "$*: changed the directory"
}

# ---- the directory: three sites, a user or two on each ----
p lan add lan-a --prefix 10.1.0.0/24 >/dev/null
p lan add lan-b --prefix 10.2.0.0/24 >/dev/null
p lan add lan-c --prefix 10.3.0.0/24 >/dev/null
for u in alice@lan-a bob@lan-b carol@lan-c; do
	echo "pw-$u" | p user add "$u" --iterations 1000 >/dev/null
done

# ---- create ----
echo "sesame" | p room add games --network 172.30.0.0/24 --network6 fd30::/64 \
	--admin alice@lan-a --capacity 2 --iterations 1000 >/dev/null || fail "room add"
hash=$(sql "SELECT password_hash FROM rooms WHERE name = 'games'")
[[ $hash == pbkdf2-sha256\$1000\$* ]] || fail "join password not hashed: $hash"
[[ $(sql "SELECT count(*) FROM rooms WHERE password_hash LIKE '%sesame%'") == 0 ]] ||
	fail "password stored in clear"

expect_refusal "invalid room name 'averylongroomname'" \
	bash -c "echo x | '$P' room add averylongroomname --network 172.31.0.0/24 --db '$db'"
expect_refusal "invalid room name 'bad\\x01name'" \
	bash -c "echo x | '$P' room add \$'bad\\001name' --network 172.31.0.0/24 --db '$db'"
expect_refusal "invalid room name 'a/b'" \
	bash -c "echo x | '$P' room add a/b --network 172.31.0.0/24 --db '$db'"
expect_refusal "overlaps 10.1.0.0/24 of LAN lan-a" \
	bash -c "echo x | '$P' room add lanlike --network 10.1.0.0/16 --iterations 1000 --db '$db'"
expect_refusal "overlaps 172.30.0.0/24 of room games" \
	bash -c "echo x | '$P' room add twin --network 172.30.0.0/25 --iterations 1000 --db '$db'"
expect_refusal "room games exists already" \
	bash -c "echo x | '$P' room add games --network 172.31.0.0/24 --iterations 1000 --db '$db'"
expect_refusal "no user nobody@lan-a" \
	bash -c "echo x | '$P' room add other --network 172.31.0.0/24 --admin nobody@lan-a --iterations 1000 --db '$db'"

# ---- members from two sites ----
out=$(p room join games alice@lan-a --host 10.1.0.5 --json) || fail "alice joins"
[[ $(jget 'j["address"]' "$out") == 172.30.0.1 ]] || fail "alice's address: $out"
[[ $(jget 'j["address6"]' "$out") == fd30::1 ]] || fail "alice's IPv6 address: $out"
p room join games bob@lan-b --host 10.2.0.7 >/dev/null || fail "bob joins"
expect_refusal "room games is full (2 members)" p room join games carol@lan-c --host 10.3.0.9
expect_refusal "host 10.1.0.9 is not on the LAN of carol@lan-c" \
	p room join games carol@lan-c --host 10.1.0.9
list=$(p room show games --json)
[[ $(jget '" ".join(m["address"] for m in j["members"])' "$list") == "172.30.0.1 172.30.0.2" ]] ||
	fail "members: $list"
[[ $(jget 'j["admin"]' "$list") == alice@lan-a ]] || fail "admin: $list"
[[ $(jget 'j[0]["members"]' "$(p room list --json)") == 2 ]] || fail "room list"
[[ $(jget 'len(j)' "$(p room list --user carol@lan-c --json)") == 0 ]] || fail "carol's rooms"
p room show games | grep -q "bob@lan-b  *10.2.0.7  *172.30.0.2" || fail "show's table"

# ---- ban, leave, kick, unban ----
p room ban games bob@lan-b >/dev/null || fail "ban"
expect_refusal "bob@lan-b is banned from room games" p room join games bob@lan-b --host 10.2.0.7
p room join games carol@lan-c --host 10.3.0.9 >/dev/null || fail "carol takes bob's place"
[[ $(sql "SELECT address FROM room_members m JOIN users u ON u.id = m.user_id WHERE u.name = 'carol'") == 172.30.0.2 ]] ||
	fail "carol's address"
p room unban games bob@lan-b >/dev/null || fail "unban"
expect_refusal "is not banned" p room unban games bob@lan-b
p room leave games carol@lan-c >/dev/null || fail "carol leaves"
expect_refusal "carol@lan-c is not in room games" p room leave games carol@lan-c
p room join games bob@lan-b --host 10.2.0.7 >/dev/null || fail "bob rejoins after unban"
[[ $(sql "SELECT address FROM room_member_view WHERE user = 'bob@lan-b'") == 172.30.0.2 ]] ||
	fail "bob's address after rejoining"
p room kick games bob@lan-b >/dev/null || fail "kick"
echo "open" | p room passwd games --iterations 1000 >/dev/null || fail "passwd"
[[ $(sql "SELECT password_hash FROM rooms WHERE name = 'games'") != "$hash" ]] ||
	fail "password unchanged"

# ---- consistency, then delete ----
[[ $(sql "SELECT count(*) FROM (SELECT 1 FROM room_members GROUP BY room_id, slot HAVING count(*) > 1)") == 0 ]] ||
	fail "an address held twice"
[[ $(sql "SELECT count(*) FROM room_members m JOIN rooms r ON r.id = m.room_id WHERE m.slot < 1 OR m.slot > (1 << (32 - r.len)) - 2") == 0 ]] ||
	fail "an address outside the network or on its edges"
kinds=$(sql "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM room_events WHERE room = 'games' ORDER BY id)")
[[ $kinds == "create join join kick ban join unban leave join kick password" ]] ||
	fail "events: $kinds"
p room remove games >/dev/null || fail "remove"
expect_refusal "no room named games" p room show games
[[ $(sql "SELECT count(*) FROM room_members") == 0 ]] || fail "members outlived the room"
[[ $(sql "SELECT kind FROM room_events ORDER BY id DESC LIMIT 1") == delete ]] ||
	fail "no delete event"

if ((failures)); then
	echo "$failures failure(s)"
	exit 1
fi
echo "rooms-cli: all passed"
