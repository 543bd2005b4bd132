#!/usr/bin/env bash
# The principal's relay on 127.0.0.1: `insel-principal serve` starts insel-relay (kept by
# a process of its own); a secondary's `relay` op gets a relay candidate, at most
# [relay] per_secondary at once (then no_relay); two fake legs built from our codecs
# (relay-leg) register, frames pass both ways unchanged, a third party's frames, a bad
# MAC and a replayed REGISTER are refused, a leg moves with a new REGISTER, a burst is cut
# to the allocation's rate; an allocation no leg refreshed expires, which frees the
# secondary's share; the relay runs confined (an unprivileged user when we are root, no
# new privileges, seccomp); killed, it is restarted and the live allocations are handed
# over; the principal's stop ends the keeper and the relay. Loopback only.
set -uo pipefail
source "$(dirname "$0")/daemon_test.sh"
daemon_test_begin relay
A=$build/tests/integration/api-client
L=$build/tests/integration/relay-leg

api() {  # api LINE...: hello, then each request line, as secondary gw-a
	{
		echo '{"op":"hello","id":1,"version":1}'
		printf '%s\n' "$@"
	} | "$A" --ca "$tmp/ca/ca.crt" --cert "$tmp/ca/gw-a.crt" --key "$tmp/ca/gw-a.key" \
		--connect "127.0.0.1:$(cat "$tmp/port")"
}

field() {  # field JSON-LINE KEY: a field of the relay candidate
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])["relay"][sys.argv[2]])' "$1" "$2"
}

relay_pid() {  # the insel-relay child of the principal's keeper
	local keeper
	for keeper in $(pgrep -P "$pid"); do
		pgrep -P "$keeper" -x insel-relay && return 0
	done
	return 1
}

"$P" pki init --dir "$tmp/ca" --org insel-test >/dev/null || exit 1
"$P" pki issue --dir "$tmp/ca" --role principal --name principal >/dev/null || exit 1
"$P" pki issue --dir "$tmp/ca" --role secondary --name gw-a >/dev/null || exit 1
cat >"$tmp/principal.conf" <<CONF
[principal]
database = $tmp/p.db
listen = 127.0.0.1:0
ca = $tmp/ca/ca.crt
cert = $tmp/ca/principal.crt
key = $tmp/ca/principal.key

[stun]
listen = off

[relay]
listen = 127.0.0.1:0
rate = 20000
per_secondary = 3
expiry = 3s
CONF
"$P" -v serve --config "$tmp/principal.conf" --port-file "$tmp/port" 2>>"$tmp/principal.log" &
pid=$!
for _ in $(seq 100); do
	[ -s "$tmp/port" ] && grep -q "relay .* ready" "$tmp/principal.log" && break
	sleep 0.1
done
[ -s "$tmp/port" ] || { cat "$tmp/principal.log"; echo "principal did not start"; exit 1; }
check "the principal's relay is ready" grep -q "relay [0-9]* ready on UDP port" "$tmp/principal.log"

# ---- the relay op, and the cap per secondary ----
out=$(api '{"op":"relay","id":2,"call":"0123456789abcdef"}' \
	  '{"op":"relay","id":3,"call":"0123456789abcde0"}' \
	  '{"op":"relay","id":4,"call":"0123456789abcde1"}' \
	  '{"op":"relay","id":5,"call":"0123456789abcde2"}' \
	  '{"op":"relay","id":6,"call":"nothex"}')
first=$(grep '"id":2,' <<<"$out")
check "relay answers a relay candidate" \
	grep -Eq '"relay":\{"addr":"127.0.0.1:[0-9]+","kind":"relay","relay_id":"[0-9a-f]{16}",("tcp":"127.0.0.1:[0-9]+",)?"token":"[0-9a-f]{32}"\}' <<<"$first"
check "the relay candidate names the relay's TCP fallback" \
	grep -Eq '"tcp":"127.0.0.1:[1-9][0-9]*"' <<<"$first"
check "a fourth live allocation is refused with no_relay" \
	grep -q '"code":"no_relay".*"id":5' <<<"$out"
check "a bad call id is a bad_field" grep -q '"code":"bad_field".*"id":6' <<<"$out"
relay=$(field "$first" addr)
alloc=$(field "$first" relay_id)
token=$(field "$first" token)

# ---- two legs through the relay ----
"$L" scenario "$relay" "$alloc" "$token" | tee "$tmp/scenario.out"
check "every check of the two legs passed" test "${PIPESTATUS[0]}" = 0
check "a REGISTER for an allocation that does not exist is not answered" \
	bash -c "! '$L' register '$relay' 00000000000000ff '$token' 0 1 0x100"

# ---- confinement ----
rp=$(relay_pid)
check "the relay process runs" test -n "$rp"
if [ -n "$rp" ]; then
	check "the relay runs under a syscall filter" grep -q '^Seccomp:[[:space:]]*2' "/proc/$rp/status"
	check "the relay has no new privileges" grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$rp/status"
	if [ "$(id -u)" = 0 ]; then
		check "started by root, the relay runs as nobody" \
			test "$(stat -c %U "/proc/$rp")" = nobody
	fi
fi

# ---- restart: the live allocation is handed over ----
out=$(api '{"op":"relay","id":2,"call":"1123456789abcdef"}')
second=$(grep '"id":2,' <<<"$out")
alloc2=$(field "$second" relay_id)
token2=$(field "$second" token)
kill "$rp"
for _ in $(seq 50); do
	new=$(relay_pid)
	[ -n "$new" ] && [ "$new" != "$rp" ] && grep -q "relay $new ready" "$tmp/principal.log" && break
	sleep 0.1
done
check "a relay that dies is restarted" test -n "$new" -a "$new" != "$rp"
check "the new relay has the live allocations" \
	"$L" register "$relay" "$alloc2" "$token2" 1 1 0x500

# ---- expiry: nothing registered for 3 s ----
sleep 4.5
check "an allocation nobody refreshed expires" \
	bash -c "! '$L' register '$relay' '$alloc2' '$token2' 1 2 0x500"
out=$(api '{"op":"relay","id":2,"call":"2123456789abcdef"}')
check "expired allocations no longer count against the secondary" grep -q '"ok":true' <<<"$out"

# ---- the end ----
keeper=$(pgrep -P "$pid" | head -1)
rp=$(relay_pid)
kill "$pid"
wait "$pid"
check "the principal stopped cleanly" test $? = 0
pid=""
for _ in $(seq 30); do
	kill -0 "$rp" 2>/dev/null || kill -0 "$keeper" 2>/dev/null || break
	sleep 0.1
done
check "the keeper and the relay end with the principal" \
	bash -c "! kill -0 $rp 2>/dev/null && ! kill -0 $keeper 2>/dev/null"
check "the relay counted what it refused" grep -q "relay totals:" "$tmp/principal.log"

echo "$checks checks, $failures failed"
[ "$failures" = 0 ] || { tail -40 "$tmp/principal.log"; exit 1; }
