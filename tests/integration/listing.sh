#!/usr/bin/env bash
# Integration: `insel calls` at scale (docs/protocol.md "Listings"). LISTING_CALLS real
# UDP calls (default 20) from lan-a to lan-b through one gateway, on loopback
# (loopback.sh: real daemons, real TLS, one real auxiliary per call on each side, no
# namespaces), placed by many_calls.py on one logged-in session and each carrying a
# trickle of datagrams to an echo on bob's host; then:
#   - `insel calls --json` as the operator lists every call, as one JSON document whose
#     "calls" holds LISTING_CALLS calls, each once, within a generous bound;
#   - the text listing shows every call, and alice over TLS with small pages (--page 7)
#     gets the same calls: the client assembles the pages;
#   - with one auxiliary stopped (SIGSTOP), the listing still comes back whole, within
#     the bound, with that call marked stale ("counters: not known"); once it runs again
#     its counters are back;
#   - with the principal stopped (SIGSTOP) for 2 heartbeats, both gateways keep their
#     links, and a call placed meanwhile goes up once it runs again.
# Two suites run this script: "listing" (20 calls, in the integration suite, affordable
# under ASan) and "listing-scale" (1,000 calls, 2,000 auxiliaries on this machine: suite
# "scale", which tests/run.sh runs in the gcc build only, because AddressSanitizer's
# shadow memory multiplies each auxiliary's resident size several times over).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
N=${LISTING_CALLS:-20}
BOUND_S=${LISTING_BOUND_S:-30}   # the whole `insel calls`, any size here
for tool in python3 ss; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: this test needs $tool"
		exit 77
	fi
done
# Each call holds a few descriptors in each secondary (its auxiliary's socket, the peer
# connection) and the load tool one socket per port.
fds=$((4 * N + 512))
if [ "$(ulimit -n)" -lt "$fds" ] && ! ulimit -n "$fds" 2>/dev/null; then
	echo "SKIP: $N calls need $fds open files; the limit here is $(ulimit -Hn)"
	exit 77
fi
INSEL_USERS="alice@lan-a bob@lan-b"
INSEL_MAX_CALLS=$((N + 16))
INSEL_AUX_UIDS=200000-$((200000 + 2 * N + 100))
# A stopped auxiliary must not end its call while the test looks at it.
INSEL_KEEPALIVE=2s
INSEL_DEAD_AFTER=120s
INSEL_IDLE=600s
source "$here/../netns/lib.sh"
source "$here/loopback.sh"
source "$here/../netns/insel_env.sh"
MANY=$here/many_calls.py
loopback_begin
insel_pki
insel_directory
for site in "a 1" "b 2"; do
	write_secondary_config $site
	# Each call holds a peer connection between the gateways (256 by default).
	printf '[peers]\nmax_connections = %d\n' $((N + 64)) >>"$NETNS_TMP/secondary-${site% *}.conf"
done
start_principal
start_secondary a 1
start_secondary b 2
wait_registered || fail "deployment did not come up"
gw_a=$(lan_net 1).1
first_port=40000
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo.log" \
	"$first_port-$((first_port + N - 1))" --bind "$(host_addr b1)" --count 100000000 \
	--timeout 1200
# The calls: at most 0.5 s each to set up (one after another, as the callee answers one
# at a time), then a datagram every 5 s on each for the rest of the test.
spawn_in_ns a1 "$NETNS_TMP/many.log" python3 "$MANY" "$NETNS_TMP/secondary-a.sock" \
	alice pw-alice bob@lan-b "$N" --first-port "$first_port" --lan-addr "$gw_a" \
	--ready "$NETNS_TMP/ready" --hold 1200 --rate "$(((N + 4) / 5))" \
	--setup-timeout $((N / 2 + 60))
for _ in $(seq 1 $((N + 240))); do
	[ -f "$NETNS_TMP/ready" ] && break
	sleep 0.5
done
cat "$NETNS_TMP/many.log"
check "$N calls are up" grep -qx "up $N" "$NETNS_TMP/ready"
check "with $N auxiliaries on each gateway" \
	both test "$(aux_count a)" -eq "$N" -- test "$(aux_count b)" -eq "$N"
sleep 6  # every call carries a datagram or more

ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
# json_calls JSON FIELD: the number of calls listed, distinct ids, the stale ones, and
# the calls whose channels counted bytes, or "unreadable".
json_calls() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
calls = d["calls"]
ids = {c["id"] for c in calls}
stale = [c["id"] for c in calls if c.get("stale")]
moving = [c for c in calls if all(ch.get("bytes_in", 0) > 0 for ch in c["channels"])]
print(len(calls), len(ids), len(stale), len(moving), d.get("total", -1), " ".join(stale))' \
		<<<"$1" 2>/dev/null || echo unreadable
}

t0=$(date +%s%N)
out=$(insel_operator a calls --json 2>&1)
rc=$?
took=$(ms "$t0")
read -r listed distinct stale moving total _ <<<"$(json_calls "$out")"
echo "insel calls --json (operator): exit $rc, $took ms, listed $listed ($distinct distinct," \
	"$stale stale, $moving carrying bytes), total $total"
check "insel calls --json lists all $N calls as one document" \
	test "$rc" = 0 -a "$listed" = "$N" -a "$distinct" = "$N" -a "$total" = "$N"
check "within ${BOUND_S} s (took $took ms)" test "$took" -lt $((BOUND_S * 1000))
check "every call carries traffic: its counters show bytes in ($moving of $N)" \
	test "$moving" = "$N"

t0=$(date +%s%N)
out=$(insel_operator a calls 2>&1)
rc=$?
took=$(ms "$t0")
lines=$(grep -c '^call [0-9a-f]\{16\} ' <<<"$out")
echo "insel calls (text): exit $rc, $took ms, $lines calls"
check "the text listing shows all $N calls" test "$rc" = 0 -a "$lines" = "$N"

t0=$(date +%s%N)
out=$(insel_as a1 alice calls --json --page 7 2>&1)
rc=$?
took=$(ms "$t0")
read -r listed distinct _ _ _ _ <<<"$(json_calls "$out")"
echo "insel calls --json --page 7 (alice over TLS): exit $rc, $took ms, listed $listed"
check "alice over TLS, in pages of 7, gets all $N calls once" \
	test "$rc" = 0 -a "$listed" = "$N" -a "$distinct" = "$N"

# ---- an auxiliary that does not answer ----
stopped=$(aux_pids a | head -n 1)
stopped_call=$(sed -n "s/.*auxiliary $stopped started for call \([0-9a-f]\{16\}\).*/\1/p" \
	"$NETNS_TMP/secondary-a.log" | head -n 1)
kill -STOP "$stopped"
t0=$(date +%s%N)
out=$(insel_operator a calls --json 2>&1)
rc=$?
took=$(ms "$t0")
read -r listed distinct stale _ _ stale_ids <<<"$(json_calls "$out")"
echo "with auxiliary $stopped stopped: exit $rc, $took ms, listed $listed, stale: $stale_ids"
check "with one auxiliary stopped the listing still holds all $N calls" \
	test "$rc" = 0 -a "$listed" = "$N"
check "within ${BOUND_S} s (took $took ms)" test "$took" -lt $((BOUND_S * 1000))
check "and marks that call ($stopped_call) stale" \
	contains " $stale_ids " " $stopped_call "
text=$(insel_operator a calls 2>&1)
check "the text listing says its counters are not known" \
	contains "$text" "counters: not known"
kill -CONT "$stopped"
fresh=1
for _ in 1 2 3 4 5; do
	read -r listed _ stale _ _ stale_ids <<<"$(json_calls "$(insel_operator a calls --json 2>&1)")"
	echo "after SIGCONT: listed $listed, $stale stale"
	[ "$listed" = "$N" ] && ! contains " $stale_ids " " $stopped_call " && { fresh=0; break; }
	sleep 1
done
check "once it runs again, its call has counters again" test "$fresh" = 0

# ---- a principal that stalls ----
# Its loop stopped for 2 heartbeats (a busy host, a slow disk): the gateways keep their
# links, and a call placed meanwhile (by a client logged in before) waits for its look-up
# and goes up once the principal runs again. It used to fail principal_unreachable: the
# link dropped after one heartbeat without an answer, with every request on it.
stall_port=$((first_port + N))
spawn_in_ns a1 "$NETNS_TMP/stalled.log" python3 "$MANY" "$NETNS_TMP/secondary-a.sock" \
	alice pw-alice bob@lan-b 1 --first-port "$stall_port" --lan-addr "$gw_a" \
	--ready "$NETNS_TMP/stalled-ready" --hold 0 --rate 0 --setup-timeout 60 \
	--logged-in "$NETNS_TMP/stalled-login" --go "$NETNS_TMP/stalled-go"
for _ in $(seq 1 300); do
	[ -f "$NETNS_TMP/stalled-login" ] && break
	sleep 0.1
done
kill -STOP "$PRINCIPAL_PID"
stalled_at=$(date +%s%N)
touch "$NETNS_TMP/stalled-go"
sleep 2
kill -CONT "$PRINCIPAL_PID"
for _ in $(seq 1 300); do
	[ -f "$NETNS_TMP/stalled-ready" ] && break
	sleep 0.1
done
echo "placed while the principal stalled: $(cat "$NETNS_TMP/stalled.log")" \
	"(answered after $(ms "$stalled_at") ms)"
check "a call placed while the principal stalls goes up once it runs again" \
	grep -qx "up 1" "$NETNS_TMP/stalled-ready"
check "neither gateway dropped its link to the stalled principal" bash -c \
	"! grep -h 'did not answer a heartbeat' $NETNS_TMP/secondary-a.log $NETNS_TMP/secondary-b.log"
finish_checks
