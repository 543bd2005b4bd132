#!/usr/bin/env bash
# Integration: a relay run by a secondary (issue 12, "any secondary with a public address
# may be designated as a relay too, and the principal picks the relay for each call"), on
# the NAT test bed of nat_lib.sh. Sites A and B sit behind NATs that give every mapping a
# random port (`masquerade fully-random`): no direct path can exist between them. A third
# site C has a public address and runs a relay ([relay] listen):
#   - C's secondary announces its relay when it registers; the principal picks it for a
#     call from A to B (a designated relay before its own), has it allocate over C's link,
#     and the call goes up relayed through C: the path names C's relay on both sides, and
#     datagrams cross intact both ways; the listing shows C's relay forwarding;
#   - C's relay killed mid-call: its keeper starts another, which C's secondary gives the
#     call's allocation again; the call carries datagrams through it again;
#   - C's relay holds one allocation at most ([relay] max_allocations = 1): a second call
#     while the first is up is refused there, and the principal falls back to its own
#     relay for it;
#   - hanging up frees the allocation on C's relay at once (the listing's live count);
#   - C's secondary frozen (SIGSTOP): the principal's own relay answers after the budget
#     it gives designated ones, and the caller's offer waits for it;
#   - with C's secondary stopped (killed by PID), its relay goes with it and the principal
#     no longer offers it: the next call is relayed through the principal's own relay.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/nat_lib.sh"

nat_needs "calls relayed through a secondary's relay" reverse punch relay || exit 77
netns_begin
nat_internet
nat_site a 1 fully-random a1 a2
nat_site b 2 fully-random b1 b2
nat_site c 3 none
insel_deploy || fail "deployment did not come up"
C_RELAY=$(nat_gateway_addr c):3479

# ---- site C: a LAN of its own, and a relay for the others ----
insel_site_c
write_secondary_config c 3
printf '[relay]\nlisten = %s\nmax_allocations = 1\n' "$C_RELAY" >>"$NETNS_TMP/secondary-c.conf"
start_secondary c 3 || fail "secondary c did not start"
for _ in $(seq 100); do
	grep -q "secondary lan-c runs a relay at $C_RELAY" "$NETNS_TMP/principal.log" && break
	sleep 0.1
done
check "C's secondary announces its relay and the principal takes it" \
	grep -q "secondary lan-c runs a relay at $C_RELAY" "$NETNS_TMP/principal.log"
check "C's relay listens" wait_port gw-c 3479 udp 10

relays_json() { pdir relays --json 2>/dev/null; }
relay_field() {  # relay_field SECONDARY FIELD: from the principal's listing
	relays_json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
for r in rows if isinstance(rows, list) else rows.get("relays", []):
    if (r.get("secondary") or "") == sys.argv[1]:
        print(r.get(sys.argv[2], ""))' "$1" "$2"
}
wait_relay_field() {  # wait_relay_field SECONDARY FIELD OP VALUE SECONDS
	for _ in $(seq $(($5 * 5))); do
		v=$(relay_field "$1" "$2")
		[ -n "$v" ] && [ "$v" "$3" "$4" ] && return 0
		sleep 0.2
	done
	echo "relay $1: $2 = '$(relay_field "$1" "$2")', wanted $3 $4" >&2
	relays_json >&2
	return 1
}

listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
listen_as b2 dave "$NETNS_TMP/listen-dave.log" --auto-answer || fail "dave cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004,5005 --count 1000 \
	--timeout 200
spawn_echo b2 "$NETNS_TMP/echo-b2.log" 5006 --count 1000 --timeout 200

# ---- relayed through C ----
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
echo "$out"
call=$(call_id_of "$out")
check "alice calls bob, both behind fully-random NATs" contains "$out" " up "
check "the principal picked C's relay" \
	grep -q "call $call of secondary lan-a: relayed by secondary lan-c" "$NETNS_TMP/principal.log"
check "the caller's path is relayed through C's relay" \
	test "$(path_of a "$call" data):$(path_of a "$call" remote)" = "relayed:$C_RELAY"
check "so is the callee's" \
	test "$(path_of b "$call" data):$(path_of b "$call" remote)" = "relayed:$C_RELAY"
check "the call carries datagrams intact both ways" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 50 --size 1000
check "and large ones (fragmented by the channel)" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 10 --size 4000
calls=$(insel_as a1 alice calls 2>&1)
echo "$calls"
check "insel calls names C's relay" contains "$calls" "path: relayed to $C_RELAY"
check "the listing shows C's relay forwarding" wait_relay_field lan-c forwarded -gt 50 10
check "with the call's allocation live" test "$(relay_field lan-c allocations)" -ge 1
relays_json
pdir relays

# ---- C's relay killed mid-call: its keeper starts another, given the allocation again ----
keeper=$(ps -o pid= --ppid "${SECONDARY_PID[c]}" -o comm= | awk '$2 == "insel-keeper" {print $1}')
relay_pid=$(ps -o pid= --ppid "${keeper:-0}" | head -n 1 | tr -d ' ')
check "C's relay runs under its keeper (keeper ${keeper:-none}, relay ${relay_pid:-none})" \
	test -n "$relay_pid"
kill -9 "$relay_pid" 2>/dev/null
for _ in $(seq 50); do
	grep -q "relay allocations handed over again: 1" "$NETNS_TMP/secondary-c.log" && break
	sleep 0.1
done
check "a new relay on C was given the call's allocation again" \
	grep -q "relay allocations handed over again: 1" "$NETNS_TMP/secondary-c.log"
recovered() {  # the call carries datagrams again, through C (a few tries while legs move)
	for _ in 1 2 3 4 5; do
		in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 500 >/dev/null 2>&1 &&
			return 0
		sleep 0.5
	done
	return 1
}
check "the call carries datagrams again through C's new relay" recovered
check "still relayed through C" \
	test "$(path_of a "$call" data):$(path_of a "$call" remote)" = "relayed:$C_RELAY"

# ---- C's relay full: the principal's for the next call ----
out=$(insel_as a2 carol call dave@lan-b --udp 5006 2>&1)
echo "$out"
call2=$(call_id_of "$out")
check "a second call while C's relay is full goes up" contains "$out" " up "
check "C's relay refused it" \
	grep -q "call $call2: the relay of secondary lan-c refused" "$NETNS_TMP/principal.log"
check "and it is relayed through the principal's relay instead" \
	test "$(path_of a "$call2" data):$(path_of a "$call2" remote)" = "relayed:198.18.0.2:3479"
check "it carries datagrams intact both ways" \
	in_ns a2 python3 "$UDP_TOOL" send 10.1.0.1 5006 --count 20 --size 1000
insel_as a2 carol hangup "$call2" >/dev/null 2>&1
insel_as a1 alice hangup "$call" >/dev/null 2>&1
check "no auxiliary left on gw-a" wait_aux_count a 0 5
check "hanging up freed the allocation on C's relay" wait_relay_field lan-c live -eq 0 10
check "and C's relay says so" wait_relay_field lan-c allocations -eq 0 10

# ---- C frozen: the offer waits for the principal's own relay ----
# C's secondary stopped (SIGSTOP) keeps its link open but answers nothing: the principal
# gives the designated relay its budget, then its own relay answers; the caller's offer
# waits for that answer, without which two fully-random NATs have no path at all.
kill -STOP "${SECONDARY_PID[c]}"
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
kill -CONT "${SECONDARY_PID[c]}"
echo "$out"
call=$(call_id_of "$out")
check "with C's secondary frozen, the call still goes up" contains "$out" " up "
check "the caller's offer waited for the relay" \
	grep -q "call $call: bound; the offer waits for the principal's relay" \
	"$NETNS_TMP/secondary-a.log"
check "relayed through the principal's relay" \
	test "$(path_of a "$call" data):$(path_of a "$call" remote)" = "relayed:198.18.0.2:3479"
check "it carries datagrams intact both ways" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 1000
insel_as a1 alice hangup "$call" >/dev/null 2>&1
check "no auxiliary left on gw-a" wait_aux_count a 0 5

# ---- C gone: through the principal's relay ----
stop_pid "${SECONDARY_PID[c]}"
for _ in $(seq 100); do
	grep -q "secondary lan-c is offline" "$NETNS_TMP/principal.log" && break
	sleep 0.1
done
check "the principal saw C go" grep -q "secondary lan-c is offline" "$NETNS_TMP/principal.log"
check "C's relay went with its secondary" \
	bash -c "! ip netns exec ${NS}gw-c ss -Hlun 'sport = :3479' | grep -q ."
check "the listing shows C's relay offline" wait_relay_field lan-c online = False 10
base=$(relay_field "" forwarded)
out=$(insel_as a1 alice call bob@lan-b --udp 5005 2>&1)
echo "$out"
call=$(call_id_of "$out")
check "the next call goes up" contains "$out" " up "
check "relayed through the principal's relay" \
	test "$(path_of a "$call" data):$(path_of a "$call" remote)" = "relayed:198.18.0.2:3479"
check "it carries datagrams intact both ways" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5005 --count 50 --size 1000
check "the listing shows the principal's relay forwarding" \
	wait_relay_field "" forwarded -gt $((${base:-0} + 50)) 10
insel_as a1 alice hangup "$call" >/dev/null 2>&1
check "no auxiliary left at the end" wait_aux_count a 0 5

finish_checks
