#!/usr/bin/env bash
# insel-principal migrate-to-postgresql: a SQLite directory made with the operator's
# commands (LANs with prefixes and a mapped prefix, a secondary and a standby, hosts,
# users, a room with members and a ban, a revocation) copied into a PostgreSQL cluster
# this test starts (tests/netns/pg_lib.sh). Every listing reads the same from both; the
# copy refuses a non-empty target unless --replace; the copy goes on numbering (a LAN
# added afterwards on PostgreSQL works) and a second copy with --replace gives the same.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cli_lib.sh" migrate-pg
source "$here/../netns/pg_lib.sh"
pg_begin
pg_init m && pg_start m && pg_createdb m insel || exit 1
dsn=$(pg_dsn m insel)
q() { "$P" "$@" --dsn "$dsn"; }

# ---- a directory on SQLite ----
p secondary add gw-a >/dev/null || fail "secondary add"
p secondary add gw-a2 >/dev/null || fail "secondary add gw-a2"
p lan add lan-a --prefix 10.1.0.0/24 --prefix fd01::/64 --secondary gw-a >/dev/null ||
	fail "lan add lan-a"
p secondary gateway gw-a2 --lan lan-a --priority 50 >/dev/null || fail "standby"
p lan add lan-b --prefix 10.2.0.0/24 >/dev/null || fail "lan add lan-b"
p lan map lan-b 10.102.0.0/24 >/dev/null || fail "lan map lan-b"
p lan add lan-c --prefix 10.2.0.0/24 --allow-overlap --mapped 10.202.0.0/24 >/dev/null ||
	fail "lan add lan-c (overlapping, mapped)"
p host add printer --lan lan-a --address 10.1.0.9 >/dev/null || fail "host add"
for u in alice@lan-a bob@lan-b carol@lan-c; do
	echo "pw-$u" | p user add "$u" --iterations 1000 >/dev/null || fail "user add $u"
done
echo sesame | p room add games --network 172.30.0.0/24 --admin alice@lan-a \
	--iterations 1000 >/dev/null || fail "room add"
p room join games alice@lan-a --host 10.1.0.5 >/dev/null || fail "alice joins"
p room join games bob@lan-b --host 10.2.0.7 >/dev/null || fail "bob joins"
p room ban games carol@lan-c >/dev/null || fail "ban"
p revoke add 0abc --name old-gw --reason test >/dev/null || fail "revoke add"

listings=("lan list" "secondary list" "host list" "user list" "room list" "room show games"
	"revoke list" "call list")

# ---- the copy ----
out=$("$P" migrate-to-postgresql --db "$db" --dsn "$dsn" 2>&1) || fail "migrate: $out"
echo "$out"
[[ $out == *"lans"*3* ]] || fail "counts not printed: $out"
for l in "${listings[@]}"; do
	# shellcheck disable=SC2086
	a=$(p $l --json 2>&1) b=$(q $l --json 2>&1)
	[[ $a == "$b" ]] || fail "$l differs:"$'\n'"  sqlite: $a"$'\n'"  postgresql: $b"
done
a=$(p lan lookup 10.202.0.9 --json) b=$(q lan lookup 10.202.0.9 --json)
[[ -n $a && $a == "$b" ]] || fail "look-up of a mapped address differs: $a / $b"

# ---- a non-empty target is refused, unless --replace ----
if out=$("$P" migrate-to-postgresql --db "$db" --dsn "$dsn" 2>&1); then
	fail "copied into a non-empty directory"
fi
[[ $out == *"not empty"*"--replace"* ]] || fail "refusal said: $out"
a=$(p lan list --json) b=$(q lan list --json)
[[ $a == "$b" ]] || fail "the refused copy changed it:"$'\n'"  $a"$'\n'"  $b"

# ---- the copy keeps numbering: a LAN added on PostgreSQL, then --replace undoes it ----
q lan add lan-d --prefix 10.4.0.0/24 >/dev/null || fail "lan add on PostgreSQL"
[[ $(q lan show lan-d --json) == *10.4.0.0/24* ]] || fail "lan-d not on PostgreSQL"
q lan add lan-e --prefix 10.1.0.0/25 >/dev/null 2>&1 && fail "overlap accepted on PostgreSQL"
"$P" migrate-to-postgresql --db "$db" --dsn "$dsn" --replace >/dev/null || fail "--replace"
a=$(p lan list --json) b=$(q lan list --json)
[[ $a == "$b" ]] || fail "--replace copy differs: $(diff <(echo "$a") <(echo "$b"))"

if [ "$failures" -ne 0 ]; then
	echo "FAIL: $failures"
	exit 1
fi
echo "PASS"
