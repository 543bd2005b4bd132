#!/usr/bin/env bash
# The principal's STUN responder on 127.0.0.1: a Binding request built by hand (Python,
# independent of our codec) and one from stun-query (our codec) are answered with the
# client's own socket address, XORed as RFC 8489 says and fingerprinted; junk, an
# oversize datagram, a wrong cookie, a response and a truncated request get nothing back
# (a bare 20-byte request, as standard clients send, is answered) and leave the responder answering; a flood from one source is cut to
# the rate limit; the counters reach the log. Then, if coturn is installed, our codec
# against coturn's turnserver on loopback.
set -uo pipefail
source "$(dirname "$0")/daemon_test.sh"
daemon_test_begin stun
Q=$build/tests/integration/stun-query

free_udp_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

"$P" pki init --dir "$tmp/ca" --org insel-test >/dev/null || exit 1
"$P" pki issue --dir "$tmp/ca" --role principal --name principal >/dev/null || exit 1
stun_port=$(free_udp_port)
alt_port=$(free_udp_port)
while [ "$alt_port" = "$stun_port" ]; do alt_port=$(free_udp_port); done
"$P" serve --db "$tmp/p.db" --listen 127.0.0.1:0 --ca "$tmp/ca/ca.crt" \
	--cert "$tmp/ca/principal.crt" --key "$tmp/ca/principal.key" \
	--stun-listen "127.0.0.1:$stun_port" --stun-alternate-port "$alt_port" \
	--port-file "$tmp/port" 2>>"$tmp/principal.log" &
pid=$!
for _ in $(seq 100); do
	[ -s "$tmp/port" ] && break
	sleep 0.1
done
[ -s "$tmp/port" ] || { cat "$tmp/principal.log"; echo "principal did not start"; exit 1; }
check "the log says where STUN is answered" \
	grep -q "answering STUN Binding requests on 127.0.0.1:$stun_port" "$tmp/principal.log"

# The hand-built client: every case in one Python run, each printed as ok/FAIL lines.
cat >"$tmp/client.py" <<'PY'
import os, socket, struct, sys, zlib, time
port = int(sys.argv[1])
COOKIE = 0x2112A442
fails = 0

def say(ok, label):
    global fails
    print(("ok: " if ok else "FAIL: ") + label)
    fails += 0 if ok else 1

def request(pad=True, fingerprint=True, cookie=COOKIE, mtype=0x0001):
    txid = os.urandom(12)
    attrs = b""
    if pad:  # SOFTWARE, 24 bytes: the request outgrows any answer
        attrs += struct.pack(">HH", 0x8022, 24) + b"hand-built stun client  "
    length = len(attrs) + (8 if fingerprint else 0)
    msg = struct.pack(">HHI", mtype, length, cookie) + txid + attrs
    if fingerprint:
        msg += struct.pack(">HHI", 0x8028, 4, (zlib.crc32(msg) ^ 0x5354554E) & 0xFFFFFFFF)
    return txid, msg

def ask(sock, msg, wait=1.0):
    sock.sendto(msg, ("127.0.0.1", port))
    sock.settimeout(wait)
    try:
        return sock.recv(2048)
    except socket.timeout:
        return None

def parse(resp, txid):
    mtype, length, cookie = struct.unpack(">HHI", resp[:8])
    assert mtype == 0x0101 and cookie == COOKIE and resp[8:20] == txid
    assert length + 20 == len(resp)
    off, mapped, fp = 20, None, False
    while off < len(resp):
        t, l = struct.unpack(">HH", resp[off:off + 4])
        v = resp[off + 4:off + 4 + l]
        if t == 0x0020:
            fam, xport = struct.unpack(">xBH", v[:4])
            assert fam == 1
            ip = bytes(a ^ b for a, b in zip(v[4:8], struct.pack(">I", COOKIE)))
            mapped = (socket.inet_ntoa(ip), xport ^ (COOKIE >> 16))
        if t == 0x8028:
            assert struct.unpack(">I", v)[0] == (zlib.crc32(resp[:off]) ^ 0x5354554E) & 0xFFFFFFFF
            fp = True
        off += 4 + (l + 3) // 4 * 4
    return mapped, fp

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
me = s.getsockname()
txid, msg = request()
resp = ask(s, msg)
say(resp is not None, "a padded Binding request is answered")
if resp:
    mapped, fp = parse(resp, txid)
    say(mapped == me, "XOR-MAPPED-ADDRESS is the client's socket %s (got %s)" % (me, mapped))
    say(fp, "the answer carries a correct FINGERPRINT")
    say(len(resp) <= 52, "the answer is at most 52 bytes (%d)" % len(resp))

txid, msg = request(fingerprint=False)
resp = ask(s, msg)
say(resp is not None and parse(resp, txid)[0] == me, "a request without FINGERPRINT is answered")

txid, msg = request(pad=False, fingerprint=False)
resp = ask(s, msg)
say(resp is not None and parse(resp, txid)[0] == me,
    "a bare 20-byte request, as standard clients send, is answered")

silent = {
    "junk": os.urandom(64),
    "an oversize datagram": request()[1] + b"\0" * 4000,
    "a wrong magic cookie": request(cookie=0x2112A443)[1],
    "a Binding success response": request(mtype=0x0101)[1],
    "a truncated request": request()[1][:30],
}
for label, junk in silent.items():
    say(ask(s, junk, 0.3) is None, "no answer to " + label)

txid, msg = request()
resp = ask(s, msg)
say(resp is not None and parse(resp, txid)[0] == me, "still answering after the junk")

# A flood from another source: the burst is answered, then the rate limit holds.
f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
f.bind(("127.0.0.2", 0))
f.settimeout(0.05)
sent = 200
for _ in range(sent):
    f.sendto(request()[1], ("127.0.0.1", port))
time.sleep(0.5)
answers = 0
try:
    while True:
        f.recv(2048)
        answers += 1
except socket.timeout:
    pass
say(0 < answers <= 30, "a 200-request flood from one source gets %d answers (burst 20 + 10/s)" % answers)
txid, msg = request()
resp = ask(s, msg)
say(resp is not None, "another source is still answered during the flood")
sys.exit(1 if fails else 0)
PY
out=$(python3 "$tmp/client.py" "$stun_port")
rc=$?
echo "$out"
checks=$((checks + $(grep -c '^ok:\|^FAIL:' <<<"$out")))
failures=$((failures + $(grep -c '^FAIL:' <<<"$out")))
[ $rc -eq 0 ] || [ "$(grep -c '^FAIL:' <<<"$out")" -gt 0 ] || { echo "FAIL: the Python client failed"; failures=$((failures + 1)); }

# Our own codec against our responder.
out=$("$Q" "127.0.0.1:$stun_port" 2>&1)
local_ep=$(sed -n 's/.* local \([^ ]*\).*/\1/p' <<<"$out")
check "stun-query is answered with its own address ($out)" \
	grep -q "^mapped $local_ep local $local_ep fingerprint$" <<<"$out"
# The alternate port answers the same way (a gateway compares the two mappings).
check "the log names the alternate port" \
	grep -q "answering STUN on the alternate UDP port $alt_port" "$tmp/principal.log"
out=$("$Q" "127.0.0.1:$alt_port" 2>&1)
local_ep=$(sed -n 's/.* local \([^ ]*\).*/\1/p' <<<"$out")
check "the alternate port answers with the asker's address ($out)" \
	grep -q "^mapped $local_ep local $local_ep fingerprint$" <<<"$out"

kill -TERM "$pid"
wait "$pid" || { echo "FAIL: principal did not stop cleanly"; failures=$((failures + 1)); }
pid=""
check "the counters reach the log" \
	grep -Eq "STUN: [0-9]+ answered, [1-9][0-9]* malformed, [1-9][0-9]* over the rate limit" "$tmp/principal.log"
if grep -qiE "AddressSanitizer|runtime error|LeakSanitizer" "$tmp/principal.log"; then
	echo "FAIL: sanitizer report in the principal's log"
	failures=$((failures + 1))
	cat "$tmp/principal.log"
fi

# Interoperability: our codec against coturn (deploy/install-deps.sh installs it).
if command -v turnserver >/dev/null; then
	turn_port=$(free_udp_port)
	cat >"$tmp/turnserver.conf" <<EOF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=$turn_port
stun-only
no-tcp
no-tls
no-dtls
no-cli
log-file=$tmp/turnserver.log
pidfile=$tmp/turnserver.pid
userdb=$tmp/turndb
EOF
	turnserver -c "$tmp/turnserver.conf" >"$tmp/turnserver.out" 2>&1 &
	DAEMON_PIDS+=($!)
	out=""
	for _ in $(seq 20); do
		out=$("$Q" "127.0.0.1:$turn_port" 2>/dev/null) && break
		sleep 0.25
	done
	local_ep=$(sed -n 's/.* local \([^ ]*\).*/\1/p' <<<"$out")
	check "coturn answers our codec's request with our address ($out)" \
		grep -q "^mapped $local_ep local $local_ep" <<<"$out"
	[ -n "$local_ep" ] || tail -20 "$tmp/turnserver.out" "$tmp/turnserver.log" 2>/dev/null
else
	echo "SKIP: coturn interop (turnserver not installed; deploy/install-deps.sh installs it)"
fi

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
