#!/usr/bin/env bash
# Integration: forward secrecy within calls (docs/frames.md section 4). With a key
# exchange every 2 s between the two secondaries:
#   - a UDP call carries a steady stream (one datagram every 10 ms for 12 s, each echoed
#     and checked) across several ECDHE epochs with no datagram lost or corrupted, and
#     the call's counters (insel calls --json) show the epochs advanced by exchanges on
#     both sides, in the secondaries and in the auxiliaries' channels alike;
#   - a room's leg (docs/rooms.md: a network call inside the room's one auxiliary)
#     renews its keys the same way: a1 pings b1 by room address for 8 s with at most 2
#     lost, and the leg goes through 3 or more ECDHE epochs meanwhile, in the secondary
#     and in its channel;
#   - a site-to-site trunk carries a paced TCP transfer (about 10 s) of a random file
#     across several epochs, byte for byte (sha256);
#   - an auxiliary stopped (SIGSTOP: a stalled or loaded host) across a key exchange,
#     first the caller's (it holds the keys to send with) then the callee's (it holds the
#     keys to answer with), until its secondary has waited more than 5 s for it (the old
#     time-out, which ended the call aux_failed): once they ran again the call is up on
#     both sides, both exchanges and a further one completed, and datagrams cross both
#     ways intact;
#   - then that call's auxiliary killed while its secondary waits for it to install keys
#     ends the call at once, the record saying aux_failed;
#   - both secondaries log each epoch from a fresh key exchange; nothing is left behind.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
INSEL_REKEY_INTERVAL=2s
# The peer of a stopped auxiliary must not take it for dead while the test stops it.
INSEL_DEAD_AFTER=15s
source "$here/insel_env.sh"
source "$here/room_lib.sh"
netns_begin
topo_two_sites
insel_deploy || fail "deployment did not come up"
TCP_TOOL=$here/paced_tcp.py

# json_field JSON CALL FIELD: a field of call CALL (its id, or "trunk") in `calls --json`;
# CHANNEL.FIELD for a field of its first channel.
json_field() {
	python3 -c '
import json, sys
want, field = sys.argv[1], sys.argv[2]
for line in sys.stdin.read().splitlines():
    if not line.strip().startswith("{"):
        continue
    for call in json.loads(line).get("calls", []):
        chans = call.get("channels", [])
        if want == "trunk" and not any("trunk" in ch for ch in chans):
            continue
        if want != "trunk" and call.get("id") != want:
            continue
        obj = chans[0] if field.startswith("channel.") else call
        print(obj.get(field.split(".")[-1], -1))
        sys.exit(0)
print(-1)' "$2" "$3" <<<"$1" 2>/dev/null || echo -1
}

# ---- a UDP call across several key exchanges ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 100000 \
	--timeout 120
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "alice calls bob" contains "$out" " up "
call=$(call_id_of "$out")
stream=$(in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 1200 --size 400 \
	--interval 0.01 --retries 0 --wait 1 --timeout 60 2>&1)
echo "$stream"
check "1200 datagrams over 12 s, every one echoed intact (no loss at any switch)" \
	contains "$stream" "1200 intact, 0 corrupted, 0 lost"
ja=$(insel_operator a calls --json 2>&1)
jb=$(insel_operator b calls --json 2>&1)
ea=$(json_field "$ja" "$call" epoch) eb=$(json_field "$jb" "$call" epoch)
da=$(json_field "$ja" "$call" dh_rekeys)
sa=$(json_field "$ja" "$call" channel.send_epoch) ra=$(json_field "$ja" "$call" channel.recv_epoch)
sb=$(json_field "$jb" "$call" channel.send_epoch)
echo "caller: epoch $ea ($da exchanges), channel send $sa recv $ra; callee: epoch $eb, send $sb"
check "the caller's secondary is at epoch 4 or later by ECDHE ($ea, $da exchanges)" \
	both test "$ea" -ge 4 -- test "$da" -ge 4
check "the callee's secondary too ($eb)" test "$eb" -ge 4
check "the auxiliaries' channels advanced with them (caller send $sa recv $ra, callee $sb)" \
	bash -c "[ $sa -ge 4 ] && [ $ra -ge 4 ] && [ $sb -ge 4 ]"
check "the secondaries log epochs from key exchanges" both \
	grep -q "call $call: epoch 3 from a fresh key exchange (ECDHE)" \
	"$NETNS_TMP/secondary-a.log" -- \
	grep -q "call $call: epoch 3 from a fresh key exchange (ECDHE)" "$NETNS_TMP/secondary-b.log"
check "no exchange failed for good" bash -c \
	"! grep -q 'rekey_failed' $NETNS_TMP/secondary-a.log $NETNS_TMP/secondary-b.log"
human=$(insel_as a1 alice calls 2>&1)
echo "$human"
check "insel calls tells the user how often the keys were renewed" \
	contains "$human" "keys renewed [0-9]* times"

# ---- an auxiliary stopped across a key exchange, on each side in turn ----
aux_of_call() {  # aux_of_call SITE CALL: the PID of the call's auxiliary there
	sed -n "s/.*auxiliary \([0-9]*\) started for call $2.*/\1/p" \
		"$NETNS_TMP/secondary-$1.log" | tail -n 1
}
handed() {  # handed SITE CALL: how many times that secondary gave the call's auxiliary keys
	grep -c "call $2: epoch [0-9]*'s keys to our auxiliary" "$NETNS_TMP/secondary-$1.log"
}
wait_handed() {  # wait_handed SITE CALL COUNT SECONDS: until more than COUNT
	for _ in $(seq 1 $(($4 * 10))); do
		[ "$(handed "$1" "$2")" -gt "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_epoch() {  # wait_epoch SITE CALL EPOCH SECONDS: until the secondary is at EPOCH or later
	for _ in $(seq 1 $(($4 * 5))); do
		[ "$(json_field "$(insel_operator "$1" calls --json 2>&1)" "$2" epoch)" -ge "$3" ] &&
			return 0
		sleep 0.2
	done
	return 1
}
# stall_once SITE WHAT: stops the call's auxiliary on SITE, waits for the next exchange to
# hand it keys and 5.5 s more, lets it run; sets waited to how long its secondary waited.
stall_once() {
	local site=$1 what=$2 pid before
	pid=$(aux_of_call "$site" "$call")
	before=$(handed "$site" "$call")
	kill -STOP "$pid"
	check "site $site: a key exchange hands the stopped auxiliary keys $what" \
		wait_handed "$site" "$call" "$before" 10
	sleep 5.5
	kill -CONT "$pid"
	waited=0
	for _ in $(seq 1 50); do
		waited=$(sed -n "s/.*call $call: the auxiliary took \([0-9]*\) ms to install.*/\1/p" \
			"$NETNS_TMP/secondary-$site.log" | tail -n 1)
		[ "${waited:-0}" -gt 5000 ] && break
		sleep 0.1
	done
}
# stall SITE WHAT: stall_once, once more in the rare case that the keys counted were
# installed just before the stop (so that the wait began with the next exchange).
stall() {
	local site=$1
	stall_once "$@"
	[ "${waited:-0}" -gt 5000 ] || stall_once "$@"
	check "site $site's secondary waited for it longer than 5 s (${waited:-?} ms)" \
		test "${waited:-0}" -gt 5000
}
e0=$(json_field "$(insel_operator a calls --json 2>&1)" "$call" epoch)
stall a "to send with"
stall b "to answer with"
check "both stalled exchanges completed, and a further one" \
	both wait_epoch a "$call" $((e0 + 3)) 15 -- wait_epoch b "$call" $((e0 + 3)) 5
out=$(in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 50 --size 400 \
	--interval 0.01 --wait 1 --timeout 30 2>&1)
echo "$out"
check "the call carries datagrams both ways again, all intact" \
	contains "$out" "50 intact, 0 corrupted, 0 lost"
check "the call is still up on both sites" both \
	contains "$(insel_operator a calls 2>&1)" "call $call " -- \
	contains "$(insel_operator b calls 2>&1)" "call $call "
check "no call ended meanwhile" bash -c \
	"! grep -q 'ends: ' $NETNS_TMP/secondary-a.log $NETNS_TMP/secondary-b.log"

# ---- its auxiliary killed while its secondary waits for it to install keys ----
pid=$(aux_of_call a "$call")
before=$(handed a "$call")
kill -STOP "$pid"
check "a key exchange hands the stopped auxiliary keys" wait_handed a "$call" "$before" 10
kill -KILL "$pid"
rec=$(ended_record "$call")
check "killed mid-exchange, the call ends at once, its record saying aux_failed" \
	contains "$rec" '"end_reason": *"aux_failed"'
check "and why, in the gateway's log" \
	grep -q "call $call ends: .*auxiliary.*exited" "$NETNS_TMP/secondary-a.log"
check "both auxiliaries are gone" both wait_aux_count a 0 5 -- wait_aux_count b 0 5

# ---- a room's leg across several key exchanges ----
room_add games 172.30.0.0/24
room_join games alice@lan-a 10.1.0.11   # 172.30.0.1
room_join games bob@lan-b 10.2.0.11     # 172.30.0.2
check "a1 reaches b1 in the room" wait_ping a1 172.30.0.2 30
pings=$(in_ns a1 ping -n -i 0.1 -c 80 -W 1 172.30.0.2 2>&1 | grep "packets transmitted")
lost=$(awk '{print $1 - $4}' <<<"$pings")
check "a1 pings b1 by room address for 8 s across key exchanges, at most 2 lost ($pings)" \
	test "${lost:-99}" -le 2
leg_epochs() {  # the room leg's epoch in gateway A's secondary and its channel's send epoch
	insel_operator a calls --json 2>/dev/null | python3 -c 'import json, sys
for line in sys.stdin.read().splitlines():
    if not line.strip().startswith("{"):
        continue
    for c in json.loads(line).get("calls", []):
        if "room games" in json.dumps(c):
            ch = (c.get("channels") or [{}])[0]
            print(c.get("epoch", -1), ch.get("send_epoch", -1))
            sys.exit(0)
print(-1, -1)'
}
read -r le lse <<<"$(leg_epochs)"
check "the room's leg went through 3 or more ECDHE epochs (secondary $le, channel $lse)" \
	both test "${le:--1}" -ge 3 -- test "${lse:--1}" -ge 3
pdir room remove games >/dev/null
check "no room auxiliary left once the room is removed" both wait_aux_count a 0 10 -- \
	wait_aux_count b 0 10

# ---- a trunk carrying a TCP transfer across several key exchanges ----
add_trunk a 1 to-b lan-b
add_trunk b 2 to-a lan-a
restart_secondary b 2
restart_secondary a 1
check "the trunk comes up" wait_ping a1 10.2.0.11 40
head -c 6000000 /dev/urandom >"$NETNS_TMP/payload"
spawn_in_ns b1 "$NETNS_TMP/tcp-b1.log" python3 "$TCP_TOOL" recv 9000 \
	"$NETNS_TMP/received" --timeout 60
tcp_pid=$LAST_PID
wait_port b1 9000 tcp 5
sent=$(in_ns a1 python3 "$TCP_TOOL" send 10.2.0.11 9000 "$NETNS_TMP/payload" \
	--rate 600000 --timeout 60 2>&1)
echo "$sent"
reap_pid "$tcp_pid"
cat "$NETNS_TMP/tcp-b1.log"
check "6 MB through the trunk over about 10 s, sha256 equal" test \
	"$(sha256sum <"$NETNS_TMP/payload" | cut -d' ' -f1)" = \
	"$(sha256sum <"$NETNS_TMP/received" | cut -d' ' -f1)"
ja=$(insel_operator a calls --json 2>&1)
et=$(json_field "$ja" trunk epoch) st=$(json_field "$ja" trunk channel.send_epoch)
echo "trunk: epoch $et, channel send epoch $st"
check "the trunk went through 4 or more ECDHE epochs meanwhile ($et, channel $st)" \
	both test "$et" -ge 4 -- test "$st" -ge 4

check_tun_teardown
finish_checks
pass
