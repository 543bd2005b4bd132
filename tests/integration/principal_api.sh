#!/usr/bin/env bash
# Integration test of `insel-principal serve` on 127.0.0.1 with real TLS clients:
# registration, overlap refusal, look-ups, roles, verify_user, call records, heartbeats
# and down-marking, a revoked certificate refused at the handshake, malformed and
# oversized frames (raw TLS from Python), and persistence across a restart.
# The operator CLI runs against the same database while the daemon serves.
set -uo pipefail
source "$(dirname "$0")/daemon_test.sh"
daemon_test_begin principal-api
# The directory: a SQLite file, or with INSEL_TEST_ENGINE=postgresql a database in a
# PostgreSQL cluster this run starts (tests/netns/pg_lib.sh).
DB=(--db "$tmp/p.db")
if [ "${INSEL_TEST_ENGINE:-sqlite}" = postgresql ]; then
	source "$(dirname "$0")/../netns/pg_lib.sh"
	pg_begin
	pg_init api && pg_start api && pg_createdb api insel || exit 1
	DB=(--dsn "$(pg_dsn api insel)" --events "$tmp/p.db.events")
fi
C=$build/tests/integration/api-client

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# expect LABEL OUTPUT PATTERN: the output must contain the (extended regex) pattern.
expect() {
	checks=$((checks + 1))
	if grep -Eq -- "$3" <<<"$2"; then
		echo "ok: $1"
	else
		fail "$1: expected /$3/ in:"
		echo "$2" | sed 's/^/    /'
	fi
}

# refuse LABEL OUTPUT PATTERN: the output must not contain the pattern.
refuse() {
	checks=$((checks + 1))
	if grep -Eq -- "$3" <<<"$2"; then
		fail "$1: unexpected /$3/ in:"
		echo "$2" | sed 's/^/    /'
	else
		echo "ok: $1"
	fi
}

start_principal() {
	rm -f "$tmp/port"
	"$P" serve "${DB[@]}" --listen 127.0.0.1:0 --ca "$tmp/ca/ca.crt" \
		--cert "$tmp/ca/principal.crt" --key "$tmp/ca/principal.key" --down-after 2s \
		--heartbeat 1s --port-file "$tmp/port" 2>>"$tmp/principal.log" &
	pid=$!
	for _ in $(seq 100); do
		[ -s "$tmp/port" ] && break
		sleep 0.1
	done
	[ -s "$tmp/port" ] || { cat "$tmp/principal.log"; echo "principal did not start"; exit 1; }
	port=$(cat "$tmp/port")
}

stop_principal() {
	kill -TERM "$pid"
	wait "$pid"
	local rc=$?
	pid=""
	return $rc
}

# client NAME < script: one TLS session with the certificate NAME.
client() {
	"$C" --ca "$tmp/ca/ca.crt" --cert "$tmp/ca/$1.crt" --key "$tmp/ca/$1.key" \
		--connect "127.0.0.1:$port" 2>>"$tmp/client.log"
}

cli() {
	"$P" "$@" "${DB[@]}"
}

hello='{"op":"hello","id":1,"version":1}'

# ---- PKI: a CA, the principal, three secondaries and a read-only tool ----
"$P" pki init --dir "$tmp/ca" --org insel-test >/dev/null || exit 1
for n in gw-a gw-b gw-evil; do
	"$P" pki issue --dir "$tmp/ca" --role secondary --name "$n" >/dev/null || exit 1
done
"$P" pki issue --dir "$tmp/ca" --role principal --name principal >/dev/null || exit 1
"$P" pki issue --dir "$tmp/ca" --role operator --name ops >/dev/null || exit 1

# ---- the operator binds each LAN to its secondary; registrations only confirm ----
cli secondary add gw-a >/dev/null
cli secondary add gw-b >/dev/null
cli lan add lan-a --prefix 10.1.0.0/24 --secondary gw-a >/dev/null
cli lan add lan-b --prefix 10.2.0.0/24 --prefix 2001:db8:2::/48 --secondary gw-b >/dev/null
cli lan add lan-e --prefix 10.8.0.0/24 >/dev/null

start_principal

out=$(client gw-a <<EOF
$hello
{"op":"register","id":2,"lan":"lan-a","prefixes":["10.1.0.0/24"],"endpoint":"198.18.0.1:7443"}
EOF
)
expect "hello answered with the version" "$out" '"id":1,"name":"principal","ok":true.*"version":1'
expect "gw-a registers lan-a" "$out" '"id":2,"lan":"lan-a","ok":true'

out=$(client gw-b <<EOF
$hello
{"op":"register","id":2,"lan":"lan-b","prefixes":["10.2.0.0/24","2001:db8:2::/48"],"endpoint":"198.18.0.2:7443"}
{"op":"register","id":3,"lan":"lan-c","prefixes":["10.1.0.0/16"],"endpoint":"198.18.0.2:7443"}
{"op":"register","id":4,"lan":"lan-a","prefixes":["10.1.0.0/24"],"endpoint":"198.18.0.2:7443"}
{"op":"register","id":5,"lan":"lan-d","prefixes":["10.6.0.1/24"],"endpoint":"198.18.0.2:7443"}
{"op":"register","id":6,"lan":"lan-d","prefixes":"10.6.0.0/24","endpoint":"198.18.0.2:7443"}
{"op":"register","id":7,"lan":"lan-b","prefixes":["10.2.0.0/16"],"endpoint":"198.18.0.2:7443"}
{"op":"register","id":8,"lan":"lan-e","prefixes":["10.8.0.0/24"],"endpoint":"198.18.0.2:7443"}
{"op":"register","id":9,"lan":"lan-b","prefixes":["10.2.0.128/25"],"endpoint":"198.18.0.2:7443"}
EOF
)
expect "gw-b registers lan-b" "$out" '"id":2,"lan":"lan-b","ok":true'
expect "a registration cannot create a LAN" "$out" \
	'"code":"forbidden","message":"LAN lan-c is not in the directory.*"id":3'
expect "a served LAN cannot be taken over" "$out" 'served by secondary gw-a, not gw-b.*"id":4'
expect "host bits refused" "$out" '"code":"host_bits".*"id":5'
expect "wrong field type refused" "$out" '"code":"bad_field".*"id":6'
expect "prefixes cannot be widened" "$out" \
	'"code":"forbidden","message":"prefix 10.2.0.0/16 is not inside a prefix of LAN lan-b.*never widen.*"id":7'
expect "nor a second LAN claimed" "$out" \
	'"message":"secondary gw-b serves LAN lan-b and may not claim a second LAN \(lan-e\).*"id":8'
expect "narrowing is accepted" "$out" '"id":9,"lan":"lan-b","ok":true,"prefixes":\["10.2.0.128/25"\]'
out=$(client gw-evil <<EOF
$hello
{"op":"register","id":2,"lan":"lan-e","prefixes":["10.8.0.0/24"],"endpoint":"198.18.0.9:7443"}
EOF
)
expect "a secondary the operator never added cannot register" "$out" \
	'"message":"secondary gw-evil is not in the directory.*"id":2'

# gw-a and gw-b heartbeat every 500 ms until the down-marking checks: the checks in
# between read their state ("up"), however long the CLI's runs take on a loaded machine
# (each opens the directory; --down-after is 2 s).
keepalives=()
keepalive() {
	{ echo "$hello"; for _ in $(seq 240); do echo '{"op":"heartbeat","id":2}'; echo '#sleep 500'; done; } |
		"$C" --ca "$tmp/ca/ca.crt" --cert "$tmp/ca/$1.crt" --key "$tmp/ca/$1.key" \
			--connect "127.0.0.1:$port" >/dev/null 2>>"$tmp/client.log" &
	keepalives+=($!)
	DAEMON_PIDS+=($!)
}
keepalive gw-a
keepalive gw-b
out=$(cli lan list)
expect "the directory keeps the operator's prefixes" "$out" 'lan-b +10.2.0.0/24,2001:db8:2::/48 +gw-b'
refuse "and no LAN was created by a registration" "$out" 'lan-c|lan-d'

# ---- the operator CLI works while the daemon runs ----
cli host add printer --lan lan-b --address 10.2.0.20 >/dev/null
echo "pw-alice" | cli user add alice@lan-a >/dev/null
echo "pw-bob" | cli user add bob@lan-b >/dev/null
out=$(cli lan list)
expect "CLI lists both LANs up" "$out" 'lan-b +10.2.0.0/24,2001:db8:2::/48 +gw-b +up'
out=$(cli host list --lan lan-b)
expect "CLI lists lan-b's hosts" "$out" 'printer.*10.2.0.20'
out=$(cli user list --lan lan-a --json)
expect "CLI lists lan-a's users only" "$out" '"alice@lan-a"'
refuse "and not lan-b's" "$out" 'bob@lan-b'
out=$(cli host add pc9 --lan lan-a --address 10.2.0.9 2>&1; echo "rc=$?")
expect "CLI refuses a host outside its LAN" "$out" 'belongs to LAN lan-b.*|rc=1'

# ---- look-ups, roles, protocol errors ----
out=$(client gw-a <<EOF
{"op":"lookup","id":1,"callee":"bob@lan-b"}
$hello
{"op":"lookup","id":2,"callee":"bob@lan-b"}
{"op":"lookup","id":3,"callee":"printer"}
{"op":"lookup","id":4,"callee":"2001:db8:2::7"}
{"op":"lookup","id":5,"callee":"10.9.9.9"}
{"op":"lookup","id":6,"callee":"carol@lan-b"}
{"op":"frobnicate","id":7}
{"op":"lookup","id":8}
{"op":"hello","id":9,"version":1}
{"op":"list","id":10,"what":"lans"}
{"op":"revocations","id":11}
{"op":"list","id":12,"what":"lans","name":"lan-b"}
{"op":"list","id":13,"what":"lans","name":"lan-nowhere"}
{"op":"list","id":14,"what":"secondaries","name":"gw-b"}
EOF
)
expect "hello comes first" "$out" '"message":"say hello first".*"id":1'
expect "user look-up gives gw-b's endpoint" "$out" \
	'"callee":"bob@lan-b","endpoint":"198.18.0.2:7443","fingerprint":"[0-9a-f]{64}","id":2,"kind":"user","lan":"lan-b".*"secondary":"gw-b","state":"up"'
expect "host look-up" "$out" '"address":"10.2.0.20".*"host":"printer","id":3'
expect "IPv6 address look-up (longest-prefix match)" "$out" '"id":4,"kind":"address","lan":"lan-b".*"prefix":"2001:db8:2::/48"'
expect "unknown address" "$out" '"code":"not_found","message":"no LAN has a prefix containing 10.9.9.9".*"id":5'
expect "unknown user" "$out" '"code":"not_found".*"id":6'
expect "unknown op" "$out" '"code":"unknown_op".*"id":7'
expect "missing field" "$out" '"code":"bad_field","message":"field .callee. is missing".*"id":8'
expect "second hello refused" "$out" '"code":"protocol".*"id":9'
expect "list of LANs" "$out" '"id":10,"items":\[.*"ok":true.*"total":3'
expect "revocation list" "$out" '"id":11,.*"serials":\[\]'
expect "one LAN by name" "$out" '"id":12,"items":\[\{"[^{}]*"name":"lan-b"[^{}]*\}\],"offset":0,"ok":true,"total":1'
expect "an unknown LAN by name: no item" "$out" '"id":13,"items":\[\],"offset":0,"ok":true,"total":0'
expect "a name applies to LANs only" "$out" '"code":"bad_field","message":"field .name. applies to LANs only".*"id":14'

out=$(client ops <<EOF
$hello
{"op":"lookup","id":2,"callee":"printer"}
{"op":"register","id":3,"lan":"lan-x","prefixes":["10.7.0.0/24"],"endpoint":"198.18.0.7:1"}
{"op":"verify_user","id":4,"user":"alice@lan-a","password":"pw-alice"}
EOF
)
expect "an operator-role tool may look up" "$out" '"host":"printer","id":2'
expect "but may not register" "$out" '"code":"forbidden".*"id":3'
expect "nor check passwords" "$out" '"code":"forbidden".*"id":4'
out=$(printf '%s\n' "$hello" | client principal; echo "rc=$?")
expect "a principal-role certificate is no client of the principal" "$out" \
	'handshake failed|Certificate is bad|role'
refuse "and gets no reply" "$out" '"ok":true'

# ---- verify_user: only for the caller's own LAN ----
out=$(client gw-a <<EOF
$hello
{"op":"verify_user","id":2,"user":"alice@lan-a","password":"pw-alice"}
{"op":"verify_user","id":3,"user":"alice@lan-a","password":"wrong"}
{"op":"verify_user","id":4,"user":"nobody@lan-a","password":"pw-alice"}
{"op":"verify_user","id":5,"user":"bob@lan-b","password":"pw-bob"}
EOF
)
expect "right password accepted" "$out" '"id":2,"lan":"lan-a","ok":true,"user":"alice@lan-a"'
expect "wrong password refused" "$out" '"code":"auth_failed".*"id":3'
expect "unknown user refused alike" "$out" '"code":"auth_failed","message":"wrong user name or password".*"id":4'
expect "another LAN's user is not ours to check" "$out" '"code":"forbidden".*"id":5'

# ---- call records ----
out=$(client gw-a <<EOF
$hello
{"op":"call_start","id":2,"call_id":"00112233aabbccdd","caller":"alice@lan-a","caller_lan":"lan-a","callee":"bob@lan-b","callee_lan":"lan-b","channels":[{"type":"udp","local":5004,"remote":5004}]}
{"op":"call_start","id":3,"call_id":"00112233aabbccdd","caller":"alice@lan-a","caller_lan":"lan-a","callee":"bob@lan-b"}
{"op":"call_start","id":4,"call_id":"0000000000000001","caller":"x","caller_lan":"lan-b","callee":"y"}
{"op":"call_end","id":5,"call_id":"00112233aabbccdd","bytes_up":1000,"bytes_down":2000,"reason":"hangup"}
{"op":"call_end","id":6,"call_id":"00112233aabbccdd"}
{"op":"call_start","id":7,"call_id":"0000000000000002","caller":"alice@lan-a","caller_lan":"lan-a","callee":"printer"}
{"op":"call_start","id":8,"call_id":"0000000000000003","caller":"mallory@lan-b","caller_lan":"lan-a","callee":"printer"}
EOF
)
expect "call start recorded" "$out" '"call_id":"00112233aabbccdd","id":2,"ok":true'
expect "duplicate call id refused" "$out" '"code":"exists".*"id":3'
expect "a call of foreign LANs refused" "$out" '"code":"forbidden".*"id":4'
expect "a caller of another LAN than caller_lan refused" "$out" \
	'"code":"forbidden","message":"caller mallory@lan-b is not of LAN lan-a".*"id":8'
expect "call end recorded" "$out" '"call_id":"00112233aabbccdd","id":5,"ok":true'
expect "second end refused" "$out" '"code":"conflict".*"id":6'
# The callee's secondary may not record a call under the caller's LAN's name.
out=$(client gw-b <<EOF
$hello
{"op":"call_start","id":2,"call_id":"0000000000000004","caller":"alice@lan-a","caller_lan":"lan-a","callee":"bob@lan-b","callee_lan":"lan-b"}
{"op":"call_start","id":3,"call_id":"0000000000000005","caller":"bob@lan-b","caller_lan":"lan-b","callee":"alice@lan-a","callee_lan":"lan-a"}
EOF
)
expect "the callee's secondary cannot record the caller's LAN's side" "$out" \
	'"code":"forbidden","message":"secondary gw-b does not serve LAN lan-a.*"id":2'
expect "but records its own LAN's calls" "$out" '"call_id":"0000000000000005","id":3,"ok":true'
out=$(cli call list --json)
expect "CLI shows the ended call with bytes" "$out" '"bytes_down": 2000'
out=$(cli call list --active)
expect "CLI shows the active call" "$out" '0000000000000002 +alice@lan-a +printer'

# ---- heartbeats and down-marking (down after 2s) ----
for k in "${keepalives[@]}"; do
	kill "$k" 2>/dev/null
	wait "$k" 2>/dev/null
done
for i in 1 2 3 4; do
	out=$(printf '%s\n{"op":"heartbeat","id":2}\n' "$hello" | client gw-a)
	sleep 1
done
expect "heartbeat acknowledged" "$out" '"down_after_ms":2000,"heartbeat_ms":1000,"id":2,"ok":true'
out=$(printf '%s\n{"op":"lookup","id":2,"callee":"bob@lan-b"}\n{"op":"lookup","id":3,"callee":"alice@lan-a"}\n' "$hello" | client gw-a)
expect "silent gw-b is reported down" "$out" '"secondary":"gw-b","state":"down"'
expect "heartbeating gw-a stays up" "$out" '"id":3.*"secondary":"gw-a","state":"up"'
out=$(cli secondary list)
expect "CLI shows gw-b down (swept)" "$out" 'gw-b +lan-b +down'
out=$(printf '%s\n{"op":"heartbeat","id":2}\n{"op":"lookup","id":3,"callee":"bob@lan-b"}\n' "$hello" | client gw-b)
expect "a heartbeat brings gw-b back up" "$out" '"id":3.*"state":"up"'

# ---- revocation reaches open connections: closed at once, and secondaries are told ----
printf '%s\n#sleep 4000\n{"op":"lookup","id":2,"callee":"printer"}\n' "$hello" |
	client gw-evil >"$tmp/evil.out" &
evil=$!
printf '%s\n#sleep 4000\n{"op":"heartbeat","id":2}\n' "$hello" | client gw-a >"$tmp/watch.out" &
watch=$!
sleep 1
evil_serial=$("$P" pki show "$tmp/ca/gw-evil.crt" --json | sed -n 's/.*"serial": *"\([0-9a-f]*\)".*/\1/p')
t0=$(date +%s%N)
cli revoke add --cert "$tmp/ca/gw-evil.crt" --reason test >/dev/null
wait "$evil"
t1=$(date +%s%N)
wait "$watch"
out=$(cat "$tmp/evil.out")
expect "gw-evil accepted before revocation" "$out" '"id":1.*"ok":true'
expect "its open connection is closed when it is revoked" "$out" 'closed by the principal'
refuse "and its next request is never served" "$out" '"host":"printer"'
ms=$(((t1 - t0) / 1000000))
echo "revoked connection closed ${ms} ms after 'revoke add'"
checks=$((checks + 1))
[ "$ms" -lt 2500 ] && echo "ok: closed within 2.5 s" || fail "closed only after $ms ms"
out=$(cat "$tmp/watch.out")
expect "a connected secondary is told the new serial at once" "$out" \
	"\"op\":\"revoked\",\"serials\":\[\"$evil_serial\"\]"
# Under TLS 1.3 the client may finish its half of the handshake before the principal
# checks its certificate; it then hears a bad_certificate alert instead of a reply.
out=$(printf '%s\n' "$hello" | client gw-evil; echo "rc=$?")
expect "revoked certificate refused" "$out" 'handshake failed|Certificate is bad'
refuse "no reply for a revoked certificate" "$out" '"ok":true'

# ---- malformed and oversized frames, over raw TLS ----
out=$(python3 - "$tmp/ca" "$port" <<'PY'
import json, socket, ssl, struct, sys
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.check_hostname = False
ctx.load_verify_locations(d + "/ca.crt")
ctx.load_cert_chain(d + "/gw-a.crt", d + "/gw-a.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
def frame(body):
    s.sendall(struct.pack(">I", len(body)) + body)
def message():
    hdr = b""
    while len(hdr) < 4:
        hdr += s.recv(4 - len(hdr))
    n = struct.unpack(">I", hdr)[0]
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return json.loads(body)
# A notice (no id: "rooms" once gw-a's LAN is told its rooms) is no reply.
def reply():
    while True:
        m = message()
        if "id" in m:
            return m
frame(b"this is not json")
print("notjson", json.dumps(reply(), sort_keys=True))
frame(b"[1,2,3]")
print("array", json.dumps(reply(), sort_keys=True))
frame(b'{"op":"hello","id":-5}')
print("negid", json.dumps(reply(), sort_keys=True))
frame(b'{"op":"hello","id":1,"id":2}')
print("dupkey", json.dumps(reply(), sort_keys=True))
frame(b"x" * (200 * 1024))
print("oversized", json.dumps(reply(), sort_keys=True))
frame(b'{"op":"hello","id":3,"version":"1"}')
print("badtype", json.dumps(reply(), sort_keys=True))
frame(b'{"op":"hello","id":4,"version":1}')
print("hello", json.dumps(reply(), sort_keys=True))
frame(json.dumps({"op": "lookup", "id": 5, "callee": "\u00e9" * 300}).encode())
print("longcallee", json.dumps(reply(), sort_keys=True))
frame(b'{"op":"register","id":6,"lan":"lan-a","prefixes":[1],"endpoint":"x"}')
print("badprefix", json.dumps(reply(), sort_keys=True))
s.close()
PY
)
expect "non-JSON frame answered" "$out" 'notjson .*"code": "bad_json"'
expect "non-object frame answered" "$out" 'array .*"code": "not_object"'
expect "negative id answered with id 0" "$out" 'negid .*"id": 0'
expect "duplicate keys refused" "$out" 'dupkey .*"code": "bad_json"'
expect "oversized frame skipped and answered" "$out" 'oversized .*"code": "too_big"'
expect "wrong type answered" "$out" 'badtype .*"code": "bad_field"'
expect "the stream stays in sync after all that" "$out" 'hello .*"ok": true'
expect "over-long text refused" "$out" 'longcallee .*"code": "bad_field"'
expect "non-string prefix refused" "$out" 'badprefix .*"code": "bad_field"'
out=$(printf '%s\n{"op":"lookup","id":2,"callee":"printer"}\n' "$hello" | client gw-a)
expect "the daemon still serves" "$out" '"host":"printer","id":2'

# ---- restart: nothing lost ----
stop_principal || fail "principal did not stop cleanly on SIGTERM"
out=$(cli status)
expect "status after stop" "$out" 'LANs +3'
start_principal
out=$(client gw-a <<EOF
$hello
{"op":"lookup","id":2,"callee":"printer"}
{"op":"verify_user","id":3,"user":"alice@lan-a","password":"pw-alice"}
{"op":"revocations","id":4}
EOF
)
expect "host survives a restart" "$out" '"host":"printer","id":2'
expect "user survives a restart" "$out" '"id":3,"lan":"lan-a","ok":true'
expect "revocation survives a restart" "$out" '"id":4.*"serials":\["[0-9a-f]+"\]'
out=$(cli call show 00112233aabbccdd)
expect "call record survives a restart" "$out" 'end reason +hangup'
out=$(printf '%s\n' "$hello" | client gw-evil; echo "rc=$?")
expect "revoked certificate still refused after restart" "$out" \
	'handshake failed|Certificate is bad'
refuse "still no reply for it" "$out" '"ok":true'

# ---- PostgreSQL down for a few seconds under the running daemon ----
# Meanwhile the principal answers at once (directory_unavailable), its gateways keep their
# links, a gateway may connect but nobody revoked gets in (the daemon's copy of the
# list), and once the server is back it connects again by itself.
if [ "${INSEL_TEST_ENGINE:-sqlite}" = postgresql ]; then
	python3 "$(dirname "$0")/api_outage.py" "$tmp/ca" gw-a "$port" printer "$tmp/pg-back" \
		>"$tmp/outage.out" 2>&1 &
	outage=$!
	DAEMON_PIDS+=("$outage")
	sleep 1
	pg_stop api fast || fail "PostgreSQL did not stop"
	sleep 1  # the daemon notices on its own: it polls the revocation list every 500 ms
	out=$(printf '%s\n' "$hello" | client gw-evil; echo "rc=$?")
	expect "database down: a revoked certificate is still refused" "$out" \
		'handshake failed|Certificate is bad'
	refuse "database down: no reply for it" "$out" '"ok":true'
	out=$(printf '%s\n{"op":"lookup","id":2,"callee":"printer"}\n' "$hello" | client gw-b)
	expect "database down: a gateway connects and says hello" "$out" '"id":1.*"ok":true'
	expect "database down: a look-up is answered directory_unavailable" "$out" \
		'"code":"directory_unavailable".*"id":2'
	sleep 2
	pg_start api || fail "PostgreSQL did not start again"
	date +%s.%N >"$tmp/pg-back"
	wait "$outage"
	out=$(cat "$tmp/outage.out")
	summary=$(grep '^summary' <<<"$out")
	echo "outage: $summary (PostgreSQL back at $(cat "$tmp/pg-back"))"
	expect "database down: gw-a's requests were answered directory_unavailable" "$summary" \
		'unavailable=[1-9]'
	expect "database down: gw-a's link stayed up throughout" "$summary" 'closed=0'
	max_ms=$(sed -n 's/.* max_ms=\([0-9]*\).*/\1/p' <<<"$summary")
	checks=$((checks + 1))
	# Answers come in milliseconds; the bound leaves room for a loaded machine.
	[ "${max_ms:-99999}" -lt 1500 ] && echo "ok: every answer within 1.5 s (slowest ${max_ms} ms)" ||
		fail "an answer took ${max_ms:-?} ms"
	back=$(sed -n 's/.*first_ok_after_outage=\([0-9.]*\).*/\1/p' <<<"$summary")
	resumed=$(awk -v a="${back:-0}" -v b="$(cat "$tmp/pg-back")" 'BEGIN {printf "%d", (a - b) * 1000}')
	echo "look-ups answered again ${resumed} ms after PostgreSQL was back"
	checks=$((checks + 1))
	# Attempts to connect are at most 2 s apart while the server is away.
	[ -n "$back" ] && [ "$resumed" -lt 5000 ] && echo "ok: service resumed on its own" ||
		fail "service did not resume within 5 s (${back:+$resumed ms})"
	expect "database back: gw-a's heartbeats are recorded again" \
		"$(sed -n '/directory_unavailable/,$p' <<<"$out")" 'heartbeat ok'
	out=$(client gw-a <<EOF
$hello
{"op":"lookup","id":2,"callee":"printer"}
{"op":"verify_user","id":3,"user":"alice@lan-a","password":"pw-alice"}
EOF
)
	expect "look-up after PostgreSQL restarted" "$out" '"host":"printer","id":2'
	expect "user check after PostgreSQL restarted" "$out" '"id":3,"lan":"lan-a","ok":true'
	log=$(cat "$tmp/principal.log")
	expect "the principal logged the outage" "$log" "database is unreachable.*directory_unavailable"
	expect "and the database's return" "$log" "database is reachable again"
fi
stop_principal || fail "principal did not stop cleanly"
if grep -qiE "AddressSanitizer|runtime error|LeakSanitizer" "$tmp/principal.log"; then
	fail "sanitizer report in the principal's log"
	cat "$tmp/principal.log"
fi

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
