#!/usr/bin/env bash
# Integration: a call belongs to its parties. A principal, two sites and a wan:
#   - alice (a1) calls bob@lan-b with --udp 5006 and b1 streams to a1 while a2, no party
#     to the call, sends datagrams to the caller's auxiliary (10.1.0.1:5006, the port
#     that is easy to guess): a1 gets the whole stream, a2 gets nothing, and the refused
#     datagrams are counted (foreign_lan_sender in `insel calls --json`);
#   - the same on the callee's side: a1 streams to b1 while b2 sends to the callee's
#     auxiliary;
#   - a local user named like the remote callee (bob@lan-a) and another local user
#     (carol) can neither list nor hang up alice's call;
#   - on the gateway's unix socket only root and the operator group (operator_group,
#     SO_PEERCRED/SO_PEERGROUPS) see every call: a client run as nobody in another group
#     sees none of alice's, one in the operator group sees it; nobody may hang it up but
#     its party and the operator.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
command -v setpriv >/dev/null || { echo "SKIP: setpriv is not installed" >&2; exit 77; }

# The deployment of insel_env.sh, with an operator group on site A's gateway.
insel_pki
insel_directory
echo "pw-bob" | pdir user add bob@lan-a --iterations 1000 >/dev/null
start_principal
write_secondary_config a 1
sed -i 's/^\[clients\]$/[clients]\noperator_group = nogroup/' "$NETNS_TMP/secondary-a.conf"
start_secondary a 1
start_secondary b 2
wait_registered || fail "deployment did not come up"

stream() {  # stream HOST ARGS...: udp_tool.py stream inside HOST
	local host=$1
	shift
	in_ns "$host" python3 "$UDP_TOOL" stream "$@"
}
received() { sed -n 's/^sent [0-9]* received \([0-9]*\)$/\1/p' "$1"; }
foreign() {  # foreign JSON: foreign_lan_sender of channel 0 of the listed calls
	python3 -c '
import json, sys
total = 0
for line in sys.stdin.read().splitlines():
    if line.strip().startswith("{"):
        for call in json.loads(line).get("calls", []):
            total += int(call["channels"][0].get("foreign_lan_sender", 0))
print(total)' <<<"$1" 2>/dev/null || echo 0
}

# ---- the call, and where the callee's auxiliary listens ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
out=$(insel_as a1 alice call bob@lan-b --udp 5006 2>&1)
echo "$out"
call=$(call_id_of "$out")
check "alice calls bob with --udp 5006" contains "$out" " up "
callee_port=$(insel_as b1 bob calls --json 2>&1 | python3 -c '
import json, sys
for line in sys.stdin.read().splitlines():
    if line.strip().startswith("{"):
        for call in json.loads(line)["calls"]:
            print(call["channels"][0]["local"].rsplit(":", 1)[1])' 2>/dev/null | head -n 1)
[ -n "$callee_port" ] || fail "no LAN port for the callee's auxiliary"

# ---- the caller's side: b1 streams to a1, a2 injects ----
stream a1 - 0 --src-port 5006 --linger 7 >"$NETNS_TMP/a1.txt" 2>&1 &
sink=$!
NETNS_PIDS+=("$sink")
stream a2 10.1.0.1 5006 --src-port 5006 --count 20 --interval 0.05 --delay 1.5 \
	--linger 4 >"$NETNS_TMP/a2.txt" 2>&1 &
intruder=$!
NETNS_PIDS+=("$intruder")
sleep 0.5
stream b1 10.2.0.1 "$callee_port" --src-port 5006 --count 40 --interval 0.1 --linger 0.5 \
	>"$NETNS_TMP/b1.txt" 2>&1
wait "$sink" "$intruder" 2>/dev/null
cat "$NETNS_TMP/a1.txt" "$NETNS_TMP/a2.txt"
check "a1 receives all 40 datagrams of bob's stream" test "$(received "$NETNS_TMP/a1.txt")" = 40
check "a2, no party to the call, receives nothing" test "$(received "$NETNS_TMP/a2.txt")" = 0
json=$(insel_as a1 alice calls --json 2>&1)
check "the caller's auxiliary counted a2's 20 datagrams (foreign_lan_sender)" \
	test "$(foreign "$json")" -ge 20

# ---- the callee's side: a1 streams to b1, b2 injects ----
stream b1 - 0 --src-port 5006 --linger 7 >"$NETNS_TMP/b1-sink.txt" 2>&1 &
sink=$!
NETNS_PIDS+=("$sink")
stream b2 10.2.0.1 "$callee_port" --src-port 5006 --count 20 --interval 0.05 --delay 1.5 \
	--linger 4 >"$NETNS_TMP/b2.txt" 2>&1 &
intruder=$!
NETNS_PIDS+=("$intruder")
sleep 0.5
stream a1 10.1.0.1 5006 --src-port 5006 --count 40 --interval 0.1 --linger 0.5 \
	>"$NETNS_TMP/a1-stream.txt" 2>&1
wait "$sink" "$intruder" 2>/dev/null
cat "$NETNS_TMP/b1-sink.txt" "$NETNS_TMP/b2.txt"
check "b1 receives all 40 datagrams of alice's stream" \
	test "$(received "$NETNS_TMP/b1-sink.txt")" = 40
check "b2, no party to the call, receives nothing" test "$(received "$NETNS_TMP/b2.txt")" = 0
json=$(insel_as b1 bob calls --json 2>&1)
check "the callee's auxiliary counted b2's 20 datagrams (foreign_lan_sender)" \
	test "$(foreign "$json")" -ge 20

# ---- other local users: bob@lan-a (named like the callee) and carol ----
for user in bob carol; do
	out=$(insel_as a2 "$user" calls --json 2>&1)
	check "$user@lan-a does not see alice's call" bash -c "! grep -q '$call' <<<'$out'"
	out=$(insel_as a2 "$user" hangup "$call" 2>&1)
	check "$user@lan-a cannot hang it up (no such call)" contains "$out" "no such call"
done
check "alice still sees her call" contains "$(insel_as a1 alice calls 2>&1)" "$call"

# ---- the unix socket: root and the operator group see every call, others do not ----
chmod 711 "$NETNS_TMP"  # let an unprivileged client reach the socket
as_nobody() {  # as_nobody GID-OPTIONS... -- ARGS...: the client on gw-a as uid nobody
	local opts=()
	while [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	in_ns gw-a setpriv --reuid=65534 "${opts[@]}" env INSEL_PASSWORD=pw-carol "$C" "$@" \
		--secondary "$NETNS_TMP/secondary-a.sock" --user carol
}
out=$(as_nobody --regid=4242 --clear-groups -- calls --json 2>&1)
echo "$out"
check "a non-root client outside the operator group is served on the unix socket" \
	contains "$out" '"calls"'
check "... and does not see alice's call" bash -c "! grep -q '$call' <<<'$out'"
out=$(as_nobody --regid=4242 --clear-groups -- hangup "$call" 2>&1)
check "... nor hang it up" contains "$out" "no such call"
out=$(as_nobody --regid=4242 --groups=65534 -- calls --json 2>&1)
check "a client in the operator group (supplementary) sees alice's call" contains "$out" "$call"
out=$(as_nobody --regid=65534 --clear-groups -- calls --json 2>&1)
check "a client in the operator group (primary) sees alice's call" contains "$out" "$call"
check "root on the gateway sees alice's call" contains "$(insel_operator a calls 2>&1)" "$call"
check "the call is still up after all these attempts" \
	contains "$(insel_as a1 alice calls 2>&1)" "$call"
out=$(as_nobody --regid=65534 --clear-groups -- hangup "$call" 2>&1)
check "the operator hangs it up" contains "$out" "hung up"
check "both auxiliaries exit" both wait_aux_count a 0 5 -- wait_aux_count b 0 5

finish_checks
