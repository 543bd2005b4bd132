#!/usr/bin/env bash
# Integration: the secondary's private key lives only in its key holder (issue "The
# confined auxiliary": the long-term key leaves the process that parses network input).
#   - each running secondary has one key holder child, confined (no new privileges, a
#     seccomp filter), which holds no socket but its socket pair;
#   - the key's material (the file's base64, its DER, the private scalar in either byte
#     order) is nowhere in the secondary's memory, and no descriptor of the secondary
#     points at the key file; the same scan finds it in the holder (the scan works);
#   - calls work through secondaries that sign this way, both directions;
#   - kill -9 of site A's key holder: the secondary says so in its log, keeps running and
#     keeps the call it has carrying traffic, and refuses new handshakes (a new login
#     fails) instead of hanging; site B is untouched;
#   - stopping a secondary takes its key holder with it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_deploy || fail "deployment did not come up"

KEY_SCAN=$here/key_scan.py
holder_a=$(keyholder_pid a)
holder_b=$(keyholder_pid b)
check "site A's secondary has one key holder" test -n "$holder_a" -a "$(wc -w <<<"$holder_a")" -eq 1
check "site B's secondary has one key holder" test -n "$holder_b"
status_of() { cat "/proc/$1/status" 2>/dev/null; }
check "the key holder runs with no new privileges" contains "$(status_of "$holder_a")" \
	$'NoNewPrivs:\t1'
check "the key holder runs under a seccomp filter" contains "$(status_of "$holder_a")" \
	$'Seccomp:\t2'
sockets_of() { find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l; }
check "the key holder has one socket: its pair with the secondary" \
	test "$(sockets_of "$holder_a")" -eq 1
check "the key holder has no TCP or UDP socket" \
	bash -c "! ip netns exec ${NS}gw-a ss -atupn | grep -q 'pid=$holder_a,'"

for x in a b; do
	spid=${SECONDARY_PID[$x]}
	check "no descriptor of secondary $x points at its key file" \
		bash -c "! ls -l /proc/$spid/fd 2>/dev/null | grep -q 'lan-$x.key'"
	check "the key of lan-$x is nowhere in its secondary's memory" \
		test "$(python3 "$KEY_SCAN" "$spid" "$PKI/lan-$x.key")" = absent
done
check "the same scan finds the key in the key holder (the scan sees keys)" \
	test "$(python3 "$KEY_SCAN" "$holder_a" "$PKI/lan-a.key")" = found

# ---- calls sign through the holders, both ways ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 100000 \
	--timeout 120
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "alice calls bob (every handshake signed by a key holder)" contains "$out" " up "
call1=$(call_id_of "$out")
check "the call carries traffic" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 10 --size 500
listen_as a2 carol "$NETNS_TMP/listen-carol.log" --auto-answer || fail "carol cannot listen"
spawn_echo a2 "$NETNS_TMP/echo-a2.log" 6100 --count 100 --timeout 60
out=$(insel_as b2 dave call carol@lan-a --udp 6100 2>&1)
check "dave calls carol the other way" contains "$out" " up "
check "that call carries traffic" \
	in_ns b2 python3 "$UDP_TOOL" send 10.2.0.1 6100 --count 10 --size 500
insel_as b2 dave hangup "$(call_id_of "$out")" >/dev/null 2>&1

# ---- site A's key holder dies ----
kill -9 "$holder_a"
logged() { grep -q "key holder (pid $holder_a) was killed by signal 9" "$NETNS_TMP/secondary-a.log"; }
wait_logged() {
	for _ in $(seq 1 30); do logged && return 0; sleep 0.1; done
	return 1
}
check "the secondary says its key holder died, and what that means" wait_logged
check "and that new handshakes are refused" \
	grep -q "new TLS handshakes are refused" "$NETNS_TMP/secondary-a.log"
check "the secondary keeps running" kill -0 "${SECONDARY_PID[a]}"
check "the call already up keeps carrying traffic" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 10 --size 500
start=$(date +%s)
out=$(in_ns a2 timeout 20 env INSEL_PASSWORD=pw-carol "$C" calls --secondary 10.1.0.1:7444 \
	--ca "$PKI/ca.crt" --user carol 2>&1)
rc=$?
took=$(($(date +%s) - start))
echo "a new client of site A is told: $out"
check "a new client connection to site A fails (no signature, no session)" test "$rc" -ne 0
check "and fails fast, not after a hang (${took} s)" test "$took" -lt 10
check "site B still serves its clients" contains "$(insel_as b1 bob calls 2>&1)" "$call1"
check "the secondary is still running after refusing" kill -0 "${SECONDARY_PID[a]}"
insel_as b1 bob hangup "$call1" >/dev/null 2>&1

# ---- a secondary's key holder stops with it ----
stop_pid "${SECONDARY_PID[b]}"
gone() {
	for _ in $(seq 1 30); do kill -0 "$holder_b" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
check "site B's key holder ends with its secondary" gone
stop_pid "${SECONDARY_PID[a]}"
# Counted in this run's namespaces only: another netns test may run beside this one.
check "no auxiliary left" test "$(aux_left)" -eq 0
check "no key holder of this run left" \
	bash -c "! kill -0 $holder_a 2>/dev/null && ! kill -0 $holder_b 2>/dev/null"
finish_checks
