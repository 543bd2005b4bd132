#!/usr/bin/env bash
# The operator's commands for LANs with overlapping prefixes (docs/overlap.md) on a real
# directory file, checked with sqlite3: two branch offices both on 192.168.1.0/24 with
# their mapped prefixes (given, and assigned), a host of the same address on each, and
# look-ups by a mapped address (one LAN), by a real address of the overlap (ambiguous,
# said in a sentence) and by host name. Every refusal is a clear sentence and leaves
# the directory unchanged: an overlap without --allow-overlap (names the LAN), with a LAN
# that has no mapped prefix, a mapped prefix taken, one overlapping a real prefix or a
# room, one of the wrong length; a LAN prefix later inside a mapped one; a room over a
# mapped prefix. The schema's triggers refuse the same when the CLI is bypassed.
# Needs no root and no network.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cli_lib.sh" overlap-cli
snapshot() {
	sqlite3 "$db" '.dump lans' '.dump lan_prefixes' '.dump lan_maps' '.dump hosts' \
		'.dump rooms' | md5sum
}

# expect_refusal SENTENCE CMD...: CMD fails, says SENTENCE, and the directory is unchanged.
expect_refusal() {
	local want=$1 before after out
	shift
	before=$(snapshot)
	if out=$("$@" 2>&1); then
		fail "succeeded: $* ($out)"
		return
	fi
	[[ $out == *"$want"* ]] || fail "$*: said '$out', wanted '$want'"
	after=$(snapshot)
	[[ $before == "$after" ]] || fail "$*: changed the directory"
}

p lan add lan-a --prefix 192.168.1.0/24 >/dev/null || fail "lan add lan-a"
p lan add lan-c --prefix 10.3.0.0/24 >/dev/null || fail "lan add lan-c"
echo pw | p room add games --network 172.30.0.0/24 --iterations 1000 >/dev/null ||
	fail "room add"

# ---- refusals before any mapping ----
expect_refusal "prefix 192.168.1.0/24 overlaps 192.168.1.0/24 of LAN lan-a" \
	p lan add lan-b --prefix 192.168.1.0/24
expect_refusal "overlaps 192.168.1.0/24 of LAN lan-a, which has no mapped prefix" \
	p lan add lan-b --prefix 192.168.1.0/24 --allow-overlap --mapped 10.99.2.0/24

# ---- lan-a gets its mapped prefix; refusals of bad ones ----
expect_refusal "mapped prefix 10.99.0.0/16 must be IPv4 and as long as the LAN's prefix" \
	p lan map lan-a 10.99.0.0/16
expect_refusal "mapped prefix 10.3.0.0/24 overlaps prefix 10.3.0.0/24 of LAN lan-c" \
	p lan map lan-a 10.3.0.0/24
expect_refusal "mapped prefix 172.30.0.0/24 overlaps network 172.30.0.0/24 of room games" \
	p lan map lan-a 172.30.0.0/24
p lan map lan-a 10.99.1.0/24 >/dev/null || fail "lan map lan-a"
[[ $(sql "SELECT m.prefix FROM lan_maps m JOIN lans l ON l.id = m.lan_id WHERE l.name = 'lan-a'") == 10.99.1.0/24 ]] ||
	fail "lan-a's mapped prefix not stored"

# ---- lan-b on the same prefix ----
expect_refusal "prefix 192.168.1.0/24 overlaps 192.168.1.0/24 of LAN lan-a" \
	p lan add lan-b --prefix 192.168.1.0/24 --mapped 10.99.2.0/24
expect_refusal "mapped prefix 10.99.1.0/24 is taken by LAN lan-a" \
	p lan add lan-b --prefix 192.168.1.0/24 --allow-overlap --mapped 10.99.1.0/24
expect_refusal "mapped prefix 192.168.1.0/24 overlaps prefix 192.168.1.0/24 of LAN lan-a" \
	p lan add lan-b --prefix 192.168.1.0/24 --allow-overlap --mapped 192.168.1.0/24
out=$(p lan add lan-b --prefix 192.168.1.0/24 --allow-overlap --mapped 10.99.2.0/24) ||
	fail "lan add lan-b --allow-overlap: $out"
[[ $out == *"other LANs reach it as 10.99.2.0/24"* ]] || fail "lan add said: $out"
# A third one, its mapped prefix assigned: the first free /24 of 10.99.0.0/16.
out=$(p lan add lan-d --prefix 192.168.1.0/24 --allow-overlap) || fail "lan add lan-d: $out"
[[ $out == *"as 10.99.0.0/24"* ]] || fail "assigned: $out"
[[ $(sql "SELECT count(*) FROM lan_prefixes WHERE prefix = '192.168.1.0/24'") == 3 ]] ||
	fail "three LANs on 192.168.1.0/24 expected"

# ---- later changes keep the rules ----
expect_refusal "prefix 10.99.2.128/25 overlaps the mapped prefix 10.99.2.0/24 of LAN lan-b" \
	p lan add-prefix lan-c 10.99.2.128/25
expect_refusal "LAN lan-a has a mapped prefix, which maps its one IPv4 prefix" \
	p lan add-prefix lan-a 192.168.7.0/24
expect_refusal "network 10.99.2.0/24 overlaps the mapped prefix 10.99.2.0/24 of LAN lan-b" \
	bash -c "echo pw | '$P' room add other --network 10.99.2.0/24 --iterations 1000 --db '$db'"
expect_refusal "mapped prefix 10.99.1.0/24 is taken by LAN lan-a" p lan map lan-b 10.99.1.0/24

# ---- hosts: the same address on both LANs ----
p host add a1 --lan lan-a --address 192.168.1.11 >/dev/null || fail "host add a1"
p host add b1 --lan lan-b --address 192.168.1.11 >/dev/null || fail "host add b1 (same address)"
expect_refusal "with address 192.168.1.11 already exists" p host add a1bis --lan lan-a --address 192.168.1.11

# ---- look-ups ----
j=$(p lan lookup 10.99.2.11 --json) || fail "lookup of a mapped address: $j"
[[ $(jget 'j["lan"], j["address"], j["mapped_address"], j.get("host")' "$j") == "('lan-b', '192.168.1.11', '10.99.2.11', 'b1')" ]] ||
	fail "lookup 10.99.2.11: $j"
j=$(p lan lookup a1 --json) || fail "lookup a1: $j"
[[ $(jget 'j["lan"], j["address"], j["mapped_address"], j["mapped_prefix"]' "$j") == "('lan-a', '192.168.1.11', '10.99.1.11', '10.99.1.0/24')" ]] ||
	fail "lookup a1: $j"
expect_refusal "192.168.1.11 is ambiguous: it lies in overlapping prefixes of LANs" \
	p lan lookup 192.168.1.11
out=$(p lan lookup 192.168.1.11 2>&1)
[[ $out == *"lan-a (192.168.1.0/24, mapped: 10.99.1.11)"* && $out == *"lan-b (192.168.1.0/24, mapped: 10.99.2.11)"* ]] ||
	fail "the ambiguity names each LAN with its mapped address: $out"
j=$(p lan lookup 10.3.0.5 --json) || fail "lookup in lan-c: $j"
[[ $(jget 'j["lan"], "mapped_address" in j' "$j") == "('lan-c', False)" ]] || fail "lookup 10.3.0.5: $j"
[[ $(p lan show lan-b --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mapped"])') == 10.99.2.0/24 ]] ||
	fail "lan show has no mapped prefix"

# ---- the schema's own rules, with the CLI bypassed ----
before=$(snapshot)
lan_c=$(sql "SELECT id FROM lans WHERE name = 'lan-c'")
sqlite3 "$db" "INSERT INTO lan_prefixes VALUES ('10.3.0.0/25', $lan_c, 4, x'0a030000', x'0a03007f', 25)" 2>/dev/null &&
	fail "trigger let a prefix overlap within unmapped LANs"
sqlite3 "$db" "INSERT INTO lan_maps VALUES ($lan_c, '10.99.2.0/24', x'0a630200', x'0a6302ff', 24)" 2>/dev/null &&
	fail "trigger let a mapped prefix be taken twice"
sqlite3 "$db" "INSERT INTO lan_maps VALUES ($lan_c, '192.168.1.0/24', x'c0a80100', x'c0a801ff', 24)" 2>/dev/null &&
	fail "trigger let a mapped prefix cover a LAN prefix"
[[ $before == "$(snapshot)" ]] || fail "a refused insert changed the directory"

# ---- removal takes the mapping with the LAN ----
p lan remove lan-d >/dev/null || fail "lan remove lan-d"
[[ $(sql "SELECT count(*) FROM lan_maps WHERE prefix = '10.99.0.0/24'") == 0 ]] ||
	fail "lan-d's mapped prefix outlived it"

if ((failures)); then
	echo "$failures failure(s)"
	exit 1
fi
echo "overlap-cli: all checks passed"
